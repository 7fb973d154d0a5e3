package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/state"
	"github.com/docker-liverestore/dlr/sysctl"
)

// swarmReason is dockerd's own words for refusing live restore on a swarm
// node (daemon/cluster, "incompatible with swarm mode").
const swarmReason = "--live-restore daemon configuration is incompatible with swarm mode"

// enable turns live restore on: the steps are in README "dlr enable".
// Everything is checked before anything is written; after a write, a failure
// puts every file back and reloads again.
func enable(ctx context.Context, h *host, o options, r *report) error {
	want, err := sysctl.ParseSize(o.pipeMaxSize)
	if err == nil {
		err = sysctl.ValidatePipeMaxSize(want)
	}
	if err != nil {
		return usage("--pipe-max-size: %v", err)
	}
	if h.fastEnable(o, want, r) {
		return nil
	}
	h.catchSignals()
	unlock, err := h.mutate(ctx, o, "enable")
	if err != nil {
		return err
	}
	defer unlock()
	prefetched := h.prefetchInfo(ctx)
	obs, touch, err := h.observeForChange(ctx, o, o.config, "", r)
	if err != nil {
		return err
	}
	defer obs.close()

	st, err := state.Store{Dir: h.stateDir}.Load()
	if err != nil {
		return failed("%v", err)
	}
	if p := st.Pending; p != nil {
		r.warn("an earlier dlr %s (PID %d, started %s) was interrupted at step %q; this run finishes the job",
			p.Op, p.PID, p.Started.Format(time.RFC3339), p.Step)
	}

	cfg, err := readConfig(obs.config)
	if err != nil {
		return err
	}
	adoptInterruptedWrite(&st, cfg)
	for _, w := range cfg.doc.Warnings {
		r.warn("%s: %s", obs.config, w)
	}
	lr := &liveRestoreReport{FileBefore: cfg.liveRestoreWord()}
	r.LiveRestore = lr

	// A --live-restore flag: dockerd refuses to start when a key is set
	// both as a flag and in the file.
	if src, on, raw := flagLiveRestore(obs); src != "" {
		lr.Flag, lr.FileAfter = raw, lr.FileBefore
		if _, inFile := cfg.doc.LiveRestore(); inFile {
			return refused("live-restore is set both by a flag (--live-restore=%s in %s) and in %s; dockerd's next start will fail with \"specified both as a flag and in the configuration file\". Remove one of them", raw, src, obs.config)
		}
		if !on {
			return refused("dockerd runs with --live-restore=%s (%s); setting live-restore in %s would make its next start fail (\"specified both as a flag and in the configuration file\"). Remove the flag first, then run dlr enable", raw, src, obs.config)
		}
		r.note("live restore is already enabled by a flag (--live-restore in %s); nothing written", src)
		return nil
	}

	var info *daemonInfo
	// Where there is no record for the fast path (fastpath.go) but the file
	// already says true and dockerd started after it was last changed,
	// dockerd runs with live restore on: the Docker API is not needed (it
	// is the slowest part of a run); the swarm check uses dockerd's state
	// file.
	if lrNow, _ := cfg.doc.LiveRestore(); lrNow && obs.active && h.startedWithFile(obs.pid, cfg.target) {
		i := daemonInfo{LiveRestore: true}
		info = &i
		if p := h.swarmStateFile(cfg, obs); p != "" {
			return refused("%s exists: this node is in swarm mode, where dockerd refuses to start with live restore (%q). Leave the swarm ('docker swarm leave') or turn live restore off", p, swarmReason)
		}
	} else if obs.active && (touch || o.dryRun) {
		i, err := prefetched(obs)
		if err != nil {
			return failed("%s is active but its API at %s does not answer: %v; nothing was changed", obs.svcName, obs.socket, err)
		}
		info = &i
		if swarmActive(i.SwarmState) {
			return refused("this node is in swarm mode (state %q). dockerd refuses to start with live restore on a swarm node (%q), so its next start would fail. Leave the swarm first ('docker swarm leave') or keep live restore off", i.SwarmState, swarmReason)
		}
	} else if p := h.swarmStateFile(cfg, obs); p != "" {
		return refused("%s exists: this node was in swarm mode when dockerd last ran. dockerd refuses to start with live restore on a swarm node (%q). Leave the swarm first ('docker swarm leave') or keep live restore off", p, swarmReason)
	}

	// A restore-breaking edit already in the file but not in the running
	// daemon: with live restore on, the next restart would apply it under
	// restored containers (and silently not apply it).
	if drift := h.pendingDrift(ctx, obs, cfg, info); len(drift) > 0 {
		if !o.force {
			return refused("%s holds restore-breaking edit(s) the running dockerd does not use: %s. With live restore on, the next restart would restore the containers under settings that do not match. Revert the edit, or restart docker once while no container runs; --force enables live restore anyway", obs.config, strings.Join(drift, "; "))
		}
		r.warn("--force: %s holds restore-breaking edit(s) the running dockerd does not use: %s", obs.config, strings.Join(drift, "; "))
	}

	newData, changed, err := cfg.doc.Set(daemonjson.LiveRestoreKey, []byte("true"))
	if err != nil {
		return failed("%v", err)
	}
	lr.FileAfter = "true"

	sc, err := h.planSysctl(want)
	if err != nil {
		return failed("%v", err)
	}
	needReload := touch && obs.active && (changed || (info != nil && !info.LiveRestore))
	// dlr's docker.service drop-in: wherever systemd manages (or, in an image
	// build, will manage) docker.service.
	var dropIn *dropInPlan
	if obs.systemd || obs.chroot {
		if dropIn, err = h.planDropIn(obs); err != nil {
			return failed("%v", err)
		}
	}

	if o.dryRun {
		if changed {
			r.diff(obs.config, unifiedDiff(obs.config, cfg.data, newData, cfg.exists, true))
			r.action("write %s (live-restore: %s -> true)", obs.config, lr.FileBefore)
		} else {
			r.note("%s already has \"live-restore\": true", obs.config)
		}
		sc.describe(r, true)
		switch {
		case dropIn == nil:
		case dropIn.write:
			r.diff(dropIn.path, unifiedDiff(dropIn.path, dropIn.cur, dropIn.want, dropIn.exists, true))
			r.action("write %s and reload systemd's units (daemon-reload)", dropIn.path)
		case dropIn.unread:
			r.action("reload systemd's units (daemon-reload): it has not read %s yet", dropIn.vendor)
		}
		if needReload {
			r.action("reload %s over D-Bus (not restart) and wait until dockerd reports live restore enabled", obs.svcName)
		}
		return nil
	}

	tx := newTxn(h, obs, cfg, st, r, "enable")
	tx.live = !obs.chroot && !o.noReload
	if err := tx.applySysctl(sc, tx.live); err != nil {
		return tx.undo(ctx, err)
	}
	if dropIn != nil {
		if err := tx.applyDropIn(ctx, dropIn, tx.live); err != nil {
			return tx.undo(ctx, err)
		}
	}
	if changed {
		if tx.st.DaemonJSON == nil || tx.st.DaemonJSON.Path != obs.config {
			// The first change dlr makes: remember what was there, so that
			// disable puts exactly that back. Later runs keep it.
			prior := lr.FileBefore
			if cfg.exists && cfg.doc.Empty() {
				prior = state.PriorEmpty // disable puts back the exact bytes
			}
			tx.st.DaemonJSON = &state.DaemonJSON{Path: obs.config, Prior: prior}
		}
		if err := tx.writeConfig(newData, false); err != nil {
			return tx.undo(ctx, err)
		}
	} else {
		r.note("%s already has \"live-restore\": true; not written", obs.config)
	}
	if tx.live && obs.active && touch {
		// What starting the watcher and the record need from systemd, read
		// while dockerd reloads.
		tx.readWatcherAsync(ctx)
	}
	switch {
	case !touch && o.noReload:
		r.note("--no-reload: no daemon was touched; live restore applies when dockerd next (re)loads its configuration")
	case !touch:
	case obs.svc == nil && obs.systemd:
		r.note("docker.service is not installed; live restore applies when Docker starts")
	case !obs.active:
		r.note("dockerd is not running; live restore applies when it starts")
	case needReload:
		if !changed {
			r.note("%s says true but the running dockerd does not: reloading to apply it", obs.config)
		}
		if err := tx.reloadVerifyWithDaemonReload(ctx, true); err != nil {
			return tx.undo(ctx, err)
		}
		lr.Daemon = "true"
	default:
		lr.Daemon = "true"
		r.note("live restore is already enabled in the running daemon; nothing reloaded")
	}
	if err := tx.finishDaemonReload(ctx); err != nil {
		return tx.undo(ctx, err)
	}
	if tx.live && obs.active {
		// Live restore is on: make the containers' log buffers real, now
		// and for containers started later (the watcher).
		tx.growBuffers(ctx, o)
		if err := tx.startWatcher(ctx); err != nil {
			return tx.undo(ctx, err)
		}
		tx.recordVerified(ctx, want, lr.Daemon == "true")
	}
	if err := tx.commit(); err != nil {
		return failed("%v", err)
	}
	r.Changed = tx.changed
	return nil
}

// pendingDrift lists restore-breaking differences between daemon.json and
// what the running daemon uses: against the file dockerd started with (when
// dlr's drop-in recorded it) and the bridge's real address against "bip".
func (h *host) pendingDrift(ctx context.Context, obs *observed, cfg *configFile, info *daemonInfo) []string {
	var out []string
	if base, name := h.baseline(cfg); name != "the current "+cfg.path {
		for _, c := range guard.Breaking(guard.Diff(base, cfg.doc)) {
			out = append(out, fmt.Sprintf("%s: %s -> %s", c.Key, show(c.Old), show(c.New)))
		}
	}
	return append(out, h.liveDrift(ctx, obs, cfg, info)...)
}

// flagLiveRestore returns where --live-restore is set among dockerd's
// command lines ("" if nowhere), its value and how it was written.
func flagLiveRestore(obs *observed) (source string, value bool, raw string) {
	for _, c := range obs.flagSources() {
		if set, v, raw := c.liveRestore(); set {
			return c.source, v, raw
		}
	}
	return "", false, ""
}

func swarmActive(s string) bool {
	return s != "" && s != "inactive"
}

// swarmStateFile returns the path of dockerd's swarm state when it exists,
// for a daemon that is not running: <data-root>/swarm/docker-state.json.
func (h *host) swarmStateFile(cfg *configFile, obs *observed) string {
	root := h.dataRoot
	if root == "" {
		for _, c := range obs.flagSources() {
			if v, ok := c.flag("data-root", false); ok {
				root = v
				break
			}
		}
	}
	if root == "" {
		for _, k := range []string{"data-root", "graph"} {
			if raw, ok := cfg.doc.Lookup(k); ok {
				var s string
				if json.Unmarshal(raw, &s) == nil && s != "" {
					root = s
					break
				}
			}
		}
	}
	if root == "" {
		root = defaultDataRoot
	}
	p := filepath.Join(h.root, root, "swarm", "docker-state.json")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// prefetchInfo starts asking /info while systemd is asked about
// docker.service (observe), when it can tell without systemd that dockerd
// runs: its pid file names a live dockerd, so connecting to its socket
// cannot start it (socket activation). The returned function gives the
// answer for obs: the prefetched one when obs found that same dockerd and
// socket, else a fresh call.
func (h *host) prefetchInfo(ctx context.Context) func(obs *observed) (daemonInfo, error) {
	fresh := func(obs *observed) (daemonInfo, error) { return h.info(ctx, obs) }
	if chroot, _ := h.inChroot(); chroot {
		return fresh
	}
	probe := &observed{}
	h.readPidFile(probe)
	if !probe.active {
		return fresh
	}
	probe.liveCmd = h.procCmdline(probe.pid)
	probe.socket = h.socketOf(probe.flagSources())
	type answer struct {
		i   daemonInfo
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		i, err := h.info(ctx, probe)
		ch <- answer{i, err}
	}()
	return func(obs *observed) (daemonInfo, error) {
		if obs.pid != probe.pid || obs.socket != probe.socket {
			return fresh(obs)
		}
		a := <-ch
		return a.i, a.err
	}
}

// info calls /info with the call timeout.
func (h *host) info(ctx context.Context, obs *observed) (daemonInfo, error) {
	cctx, cancel := context.WithTimeout(ctx, h.callTimeout)
	defer cancel()
	return h.docker(obs.socket).Info(cctx)
}

// mutate is the start of every command that changes the host: it needs
// root, and takes dlr's lock so that runs do not interleave. A dry run needs
// neither.
func (h *host) mutate(ctx context.Context, o options, cmd string) (unlock func(), err error) {
	if o.dryRun {
		return func() {}, nil
	}
	if h.euid() != 0 {
		return nil, refused("dlr %s changes system files and needs root: run it with sudo (or use --dry-run to see what it would do)", cmd)
	}
	return h.lock(ctx)
}

func (h *host) lock(ctx context.Context) (func(), error) {
	lctx, cancel := context.WithTimeout(ctx, h.lockTimeout)
	defer cancel()
	unlock, err := state.Lock(lctx, h.lockPath)
	if errors.Is(err, state.ErrLockTimeout) {
		return nil, busy(err)
	}
	if err != nil {
		return nil, failed("%v", err)
	}
	return unlock, nil
}

// sysctlPlan is the decision about fs.pipe-max-size and what it needs.
type sysctlPlan struct {
	dec     sysctl.Decision
	dropIn  string
	current []byte // the drop-in's bytes now, nil if absent
	running uint64
}

func (h *host) planSysctl(want uint64) (*sysctlPlan, error) {
	d := sysctl.Dirs{Root: h.sysctlRoot}
	running, err := sysctl.Running(h.procSys, sysctl.Key)
	if errors.Is(err, os.ErrNotExist) {
		// No /proc (a chroot for an image build): nothing runs here to
		// raise; plan the drop-in for the system that will boot from it.
		running, err = 0, nil
	}
	if err != nil {
		return nil, err
	}
	_, all, err := sysctl.Configured(d, sysctl.Key)
	if err != nil {
		return nil, err
	}
	dec, err := sysctl.Plan(want, running, all, d.DropInPath())
	if err != nil {
		return nil, err
	}
	p := &sysctlPlan{dec: dec, dropIn: d.DropInPath(), running: running}
	if b, err := os.ReadFile(p.dropIn); err == nil {
		p.current = b
	}
	return p, nil
}

// describe adds the sysctl plan to a report.
func (p *sysctlPlan) describe(r *report, dry bool) {
	if p.dec.Conflict {
		r.warn("fs.pipe-max-size: %s", p.dec.Reason)
		return
	}
	switch p.dec.DropIn {
	case sysctl.DropInWrite:
		want := sysctl.Render(p.dec.Want)
		if string(want) != string(p.current) && dry {
			r.diff(p.dropIn, unifiedDiff(p.dropIn, p.current, want, p.current != nil, true))
			r.action("write %s (fs.pipe-max-size = %d)", p.dropIn, p.dec.Want)
		}
	case sysctl.DropInRemove:
		if dry {
			r.diff(p.dropIn, unifiedDiff(p.dropIn, p.current, nil, true, false))
			r.action("remove %s: %s", p.dropIn, p.dec.Reason)
		}
	default:
		r.note("fs.pipe-max-size: %s", p.dec.Reason)
	}
	if p.dec.Apply && dry {
		r.action("set fs.pipe-max-size to %d now (running value %d)", p.dec.ApplyValue, p.running)
	}
}
