package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker-liverestore/dlr/state"
	"github.com/docker-liverestore/dlr/sysctl"
	"github.com/docker-liverestore/dlr/unit"
)

// The path config management takes on every run of an enabled host: an
// earlier enable checked everything (daemon.json, docker.service and the
// watcher over D-Bus, the running dockerd through the Engine API) and
// recorded what it saw (state.Verified, in the state directory's
// "verified" file). While the same
// dockerd and watcher processes run and none of the files it stamped has
// changed, nothing it checked can have changed either, and enable answers
// from files alone: no D-Bus connection, no Docker API call, nothing
// written. Anything else takes the full path, which records again.
//
// What the stamps cover (state.Stamps: lstat of each path, no reads):
// daemon.json (and its target if it is a symlink); docker.service's unit
// file, its drop-ins and EnvironmentFiles; in every directory of systemd's
// unit path, docker.service, docker.service.d/ and service.d/ (a new
// drop-in changes its directory), or the directory itself where it does
// not exist; the sysctl.d directories and files. The record is only made
// when systemd had read the unit files as they are (NeedDaemonReload
// false), so a later daemon-reload of unchanged files changes nothing.
// Read on every run: dlr's state and lock, fs.pipe-max-size, daemon.json
// (parsed: live-restore must be true), /proc/PID/stat of dockerd and the
// watcher, dockerd's command line and the swarm state file.

// fastEnable answers an enable from the record when it still holds, and
// reports whether it did. It never changes anything.
func (h *host) fastEnable(o options, want uint64, r *report) bool {
	if o.dryRun || o.noReload || h.euid() != 0 {
		return false
	}
	// No lock: this only reads, and the record covers state.json, which
	// every change writes (its pending mark) before anything else.
	v := state.Store{Dir: h.stateDir}.LoadVerified()
	if v == nil {
		return false
	}
	if (o.config != "" && o.config != v.Config) || v.PipeMaxSize != want {
		return false
	}
	if !h.sameProcess(v.Dockerd) || v.WatcherProcs == "" || !h.watcherRuns(v.WatcherProcs) {
		return false
	}
	if running, err := sysctl.Running(h.procSys, sysctl.Key); err != nil || running != v.PipeRunning {
		return false
	}
	if state.Stamps(v.Files) != v.Stamps {
		return false
	}
	cfg, err := readConfig(v.Config)
	if err != nil || len(cfg.doc.Warnings) > 0 {
		return false
	}
	if on, _ := cfg.doc.LiveRestore(); !on {
		return false
	}
	obs := &observed{pid: v.Dockerd.PID, active: true, liveCmd: h.procCmdline(v.Dockerd.PID)}
	if h.swarmStateFile(cfg, obs) != "" {
		return false
	}
	r.Config, r.ConfigSource = v.Config, v.ConfigSource
	r.LiveRestore = &liveRestoreReport{FileBefore: "true", FileAfter: "true", Daemon: "true"}
	r.note("live restore is already enabled: checked in full at %s (dockerd PID %d) and nothing has changed since; nothing to do",
		v.At.Format("2006-01-02 15:04:05 MST"), v.Dockerd.PID)
	return true
}

// sameProcess reports whether p still runs: the same PID with the same
// start time.
func (h *host) sameProcess(p state.Process) bool {
	if p.PID <= 0 {
		return false
	}
	t, ok := h.startTicks(p.PID)
	return ok && t == p.Start
}

// recordVerified ends a full enable that left everything in place, and
// records what a later run needs to skip the checks. It records nothing
// unless dockerd runs with live restore on as verified, systemd had read
// docker.service's files as they are, the watcher runs (or this run had
// systemd start it) and nothing was worth a warning (a later run must say
// it again). It asks systemd only for what this run did not read already.
func (t *txn) recordVerified(ctx context.Context, want uint64, daemonOn bool) {
	h, obs, r := t.h, t.obs, t.r
	if !daemonOn || !t.live || obs.sd == nil || !obs.active || len(r.Warnings) > 0 {
		return
	}
	t.joinWatcher()
	cctx, cancel := context.WithTimeout(ctx, h.callTimeout)
	defer cancel()
	u := obs.svc
	if u == nil || t.dropIn != nil || t.daemonReloaded {
		// This run changed docker.service's files: read it again.
		fresh, err := obs.sd.Unit(cctx, obs.svcName)
		if err != nil {
			return
		}
		u = &fresh
	}
	if u.ActiveState != "active" || int(u.MainPID) != obs.pid || u.NeedDaemonReload {
		return
	}
	w := t.watcherUnit
	if w == nil {
		fresh, err := obs.sd.Unit(cctx, watcherService)
		if err != nil {
			return
		}
		w = &fresh
	}
	if w.LoadState != "loaded" || (w.ActiveState != "active" && !t.startedWatch) {
		return
	}
	dirs := t.unitPath
	if len(dirs) == 0 {
		var err error
		if dirs, err = obs.sd.UnitPath(cctx); err != nil || len(dirs) == 0 {
			return
		}
	}
	running, err := sysctl.Running(h.procSys, sysctl.Key)
	if err != nil {
		return
	}
	sources, err := sysctl.Dirs{Root: h.sysctlRoot}.Sources()
	if err != nil {
		return
	}
	ticks, ok := h.startTicks(obs.pid)
	if !ok {
		return
	}
	v := state.Verified{At: h.now(), Config: obs.config, ConfigSource: obs.configSource,
		PipeMaxSize: want, PipeRunning: running,
		Dockerd:      state.Process{PID: obs.pid, Start: ticks},
		WatcherProcs: h.cgroupProcs(unit.CgroupPath(w.Slice, watcherService)),
	}
	v.Files = append(v.Files, obs.config)
	if t.cfg != nil && t.cfg.target != obs.config {
		v.Files = append(v.Files, t.cfg.target)
	}
	if u.FragmentPath != "" {
		v.Files = append(v.Files, u.FragmentPath)
	}
	v.Files = append(v.Files, u.DropInPaths...)
	for _, ef := range u.EnvironmentFiles {
		v.Files = append(v.Files, filepath.Join(h.root, ef.Path))
	}
	for _, d := range dirs {
		if _, err := os.Lstat(d); err != nil {
			v.Files = append(v.Files, d) // creating it changes its stamp
			continue
		}
		v.Files = append(v.Files, filepath.Join(d, obs.svcName), filepath.Join(d, obs.svcName+".d"), filepath.Join(d, "service.d"))
	}
	v.Files = append(v.Files, sources...)
	store := state.Store{Dir: h.stateDir}
	if !t.changed && t.prior.Pending == nil && store.Recorded(store.LoadVerified(), v) {
		return // recorded already: write nothing
	}
	t.verified = &v
}

// cgroupProcs returns the cgroup.procs file of cgroup cg (as in
// /proc/PID/cgroup): under /sys/fs/cgroup with the unified hierarchy
// (cgroup v2), else under systemd's own hierarchy (v1).
func (h *host) cgroupProcs(cg string) string {
	if _, err := os.Stat(filepath.Join(h.cgroupRoot, "cgroup.controllers")); err == nil {
		return filepath.Join(h.cgroupRoot, cg, "cgroup.procs")
	}
	return filepath.Join(h.cgroupRoot, "systemd", cg, "cgroup.procs")
}

// watcherRuns reports whether the watcher runs: a dlr process in its
// cgroup (systemd's own record of the unit's processes).
func (h *host) watcherRuns(procs string) bool {
	b, err := os.ReadFile(procs)
	if err != nil {
		return false
	}
	for _, f := range strings.Fields(string(b)) {
		comm, err := os.ReadFile(filepath.Join(h.proc, f, "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == "dlr" {
			return true
		}
	}
	return false
}
