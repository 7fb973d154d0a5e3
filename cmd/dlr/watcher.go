package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker-liverestore/dlr/buffers"
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

// readWatcherAsync reads the watcher's unit and systemd's unit path in the
// background, alongside docker's reload (startWatcher and recordVerified
// use them); joinWatcher waits for it.
func (t *txn) readWatcherAsync(ctx context.Context) {
	if t.obs.sd == nil {
		return
	}
	done := make(chan struct{})
	t.watcherWait = func() { <-done }
	go func() {
		defer close(done) // the fields below are read only after this
		cctx, cancel := context.WithTimeout(ctx, t.h.callTimeout)
		defer cancel()
		if u, err := t.obs.sd.Unit(cctx, watcherService); err == nil {
			t.watcherUnit = &u
		}
		t.unitPath, _ = t.obs.sd.UnitPath(cctx)
	}()
}

// joinWatcher waits for readWatcherAsync, if it ran.
func (t *txn) joinWatcher() {
	if t.watcherWait != nil {
		t.watcherWait()
		t.watcherWait = nil
	}
}

// startWatcher has systemd start the log-buffer watcher if its unit is
// installed and not running, so that containers started from now on get
// large buffers too. It runs once live restore is verified, and records
// whether it queued the start (for undo).
//
// It does not wait for the start job to end: starting the sandboxed unit
// takes systemd longer than docker's whole reload (and would compete with
// it for the CPU if it ran alongside), and the watcher is not part of live
// restore itself. A watcher that fails to start shows in `dlr check`, and
// the next `dlr enable` finds it not running and starts it again.
func (t *txn) startWatcher(ctx context.Context) error {
	if t.obs.sd == nil {
		return nil
	}
	t.joinWatcher()
	u := t.watcherUnit
	if u == nil {
		u = t.h.unitNamed(ctx, t.obs, watcherService)
		t.watcherUnit = u
	}
	if u == nil || u.LoadState != "loaded" || u.ActiveState == "active" {
		return nil
	}
	if u.UnitFileState == "disabled" || strings.HasPrefix(u.UnitFileState, "masked") {
		// The admin turned it off (systemctl disable or mask): respect it.
		t.r.note("%s is %s: not starting it (systemctl enable --now %s turns it on)", watcherService, u.UnitFileState, watcherService)
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, t.h.callTimeout)
	defer cancel()
	if err := t.obs.sd.StartQueued(cctx, watcherService); err != nil {
		return fmt.Errorf("starting %s: %w", watcherService, err)
	}
	t.startedWatch, t.changed = true, true
	t.r.action("started %s (systemd runs the start job; it grows the log buffers of containers started from now on)", watcherService)
	return nil
}

// stopWatcher stops the watcher if it runs. Stopping it never touches
// dockerd: the unit has no Requires=, BindsTo= or PartOf= on docker.service.
func (t *txn) stopWatcher(ctx context.Context) error {
	if t.obs.sd == nil {
		return nil
	}
	u := t.h.unitNamed(ctx, t.obs, watcherService)
	if u == nil || u.LoadState != "loaded" || (u.ActiveState != "active" && u.ActiveState != "activating") {
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
