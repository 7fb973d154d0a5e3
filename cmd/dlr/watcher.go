package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/unit"
)

// watcherService is the unit the packages ship to run `dlr watch`.
const watcherService = "docker-liverestore.service"

// growBuffers grows the running containers' log FIFOs to fs.pipe-max-size
// (as raised a moment ago) within the default budget, as `dlr buffers`
// does. It is best effort for enable: a FIFO that cannot be grown is a
// warning, never a reason to undo live restore.
func (t *txn) growBuffers(ctx context.Context, o options) {
	h, r := t.h, t.r
	sizes, err := h.bufferSizes(o)
	if err != nil {
		r.warn("log buffers not grown: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, h.bufs.growTimeout)
	defer cancel()
	dir, source, warnings := h.execRoot(o, h.dockerdCmdline(t.obs.pid))
	for _, w := range warnings {
		r.warn("%s", w)
	}
	rep, err := buffers.Grow(ctx, buffers.Options{ExecRoot: dir, Target: sizes.target, Budget: sizes.budget})
	if err != nil {
		r.warn("log buffers not grown: %v", err)
		return
	}
	changed := r.Changed
	describeGrowth(r, rep, source)
	if r.Changed {
		t.changed = true
	}
	r.Changed = changed
}

// startWatcherAsync queues the start of the log-buffer watcher (as
// startWatcher) in the background, alongside docker's reload; joinWatcher
// waits until systemd has queued the job (not for the job's end). It also
// reads systemd's unit path there, for recordVerified.
func (t *txn) startWatcherAsync(ctx context.Context) {
	wr := &report{}
	done := make(chan error, 1)
	t.watcherWait = func() error {
		err := <-done
		t.r.Actions = append(t.r.Actions, wr.Actions...)
		t.r.Notes = append(t.r.Notes, wr.Notes...)
		t.r.Warnings = append(t.r.Warnings, wr.Warnings...)
		return err
	}
	go func() {
		var err error
		t.startedWatch, t.watcherUnit, err = t.startWatcher(ctx, wr)
		if err == nil && t.obs.sd != nil {
			cctx, cancel := context.WithTimeout(ctx, t.h.callTimeout)
			t.unitPath, _ = t.obs.sd.UnitPath(cctx)
			cancel()
		}
		done <- err // the fields above are read only after this
	}()
}

// joinWatcher waits for startWatcherAsync, if it ran, and returns its error.
func (t *txn) joinWatcher() error {
	if t.watcherWait == nil {
		return nil
	}
	wait := t.watcherWait
	t.watcherWait = nil
	err := wait()
	t.changed = t.changed || t.startedWatch
	return err
}

// startWatcher has systemd start the log-buffer watcher if its unit is
// installed and not running, so that containers started from now on get
// large buffers too; it reports to r. It returns whether it queued the
// start (for undo) and the unit as read before.
//
// It does not wait for the start job to end: starting the sandboxed unit
// takes systemd longer than docker's whole reload, and the watcher is not
// part of live restore itself. A watcher that fails to start shows in
// `dlr check`, and the next `dlr enable` finds it not running and starts it
// again.
func (t *txn) startWatcher(ctx context.Context, r *report) (bool, *unit.Unit, error) {
	if t.obs.sd == nil {
		return false, nil, nil
	}
	u := t.h.unitNamed(ctx, t.obs, watcherService)
	if u == nil || u.LoadState != "loaded" || u.ActiveState == "active" {
		return false, u, nil
	}
	if u.UnitFileState == "disabled" || strings.HasPrefix(u.UnitFileState, "masked") {
		// The admin turned it off (systemctl disable or mask): respect it.
		r.note("%s is %s: not starting it (systemctl enable --now %s turns it on)", watcherService, u.UnitFileState, watcherService)
		return false, u, nil
	}
	cctx, cancel := context.WithTimeout(ctx, t.h.callTimeout)
	defer cancel()
	if err := t.obs.sd.StartQueued(cctx, watcherService); err != nil {
		return false, u, fmt.Errorf("starting %s: %w", watcherService, err)
	}
	r.action("started %s (systemd runs the start job; it grows the log buffers of containers started from now on)", watcherService)
	return true, u, nil
}

// stopWatcher stops the watcher if it runs, or (queued) if this run queued
// its start, which may still be under way. Stopping it never touches
// dockerd: the unit has no Requires=, BindsTo= or PartOf= on docker.service.
func (t *txn) stopWatcher(ctx context.Context, queued bool) error {
	if t.obs.sd == nil {
		return nil
	}
	u := t.h.unitNamed(ctx, t.obs, watcherService)
	if !queued && (u == nil || u.LoadState != "loaded" || (u.ActiveState != "active" && u.ActiveState != "activating")) {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, t.h.reloadTimeout)
	defer cancel()
	if err := t.obs.sd.Stop(cctx, watcherService); err != nil {
		return fmt.Errorf("stopping %s: %w", watcherService, err)
	}
	t.r.action("stopped %s", watcherService)
	return nil
}
