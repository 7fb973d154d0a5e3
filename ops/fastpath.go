package ops

import (
	"context"
	"path/filepath"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/plan"
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
// drop-in changes its directory; a path that does not exist is stamped as
// missing); the sysctl.d directories and files. The record is only made
// when systemd had read the unit files as they are (NeedDaemonReload
// false), so a later daemon-reload of unchanged files changes nothing.
// Read on every run: dlr's state and lock, fs.pipe-max-size, daemon.json
// (parsed: live-restore must be true), /proc/PID/stat of dockerd and the
// watcher, dockerd's command line and the swarm state file.

// fastEnable answers an enable from the record when it still holds, and
// reports whether it did. It never changes anything.
func (e *Env) fastEnable(o Options, want uint64, r *Report) bool {
	if o.DryRun || o.NoReload || e.Euid() != 0 {
		return false
	}
	// No lock: this only reads, and the record covers state.json, which
	// every change writes (its pending mark) before anything else.
	v := state.Store{Dir: e.Path(host.StateDir)}.LoadVerified()
	if v == nil {
		return false
	}
	if (o.Config != "" && o.Config != v.Config) || v.PipeMaxSize != want {
		return false
	}
	if !e.sameProcess(v.Dockerd) || v.WatcherProcs == "" || !e.RunsDLR(v.WatcherProcs) {
		return false
	}
	if running, err := sysctl.Running(e.Path(host.ProcSysDir), sysctl.Key); err != nil || running != v.PipeRunning {
		return false
	}
	if state.Stamps(v.Files) != v.Stamps {
		return false
	}
	cfg, err := host.ReadConfig(v.Config)
	if err != nil || len(cfg.Doc.Warnings) > 0 {
		return false
	}
	if on, _ := cfg.Doc.LiveRestore(); !on {
		return false
	}
	f := &host.Facts{PID: v.Dockerd.PID, Active: true, LiveCmd: e.ProcCmdline(v.Dockerd.PID)}
	if e.SwarmStateFile(f, cfg) != "" {
		return false
	}
	r.Config, r.ConfigSource = v.Config, v.ConfigSource
	r.LiveRestore = &LiveRestoreReport{FileBefore: "true", FileAfter: "true", Daemon: "true"}
	r.Note("live restore is already enabled: checked in full at %s (dockerd PID %d) and nothing has changed since; nothing to do",
		v.At.Format("2006-01-02 15:04:05 MST"), v.Dockerd.PID)
	return true
}

// sameProcess reports whether p still runs: the same PID with the same
// start time.
func (e *Env) sameProcess(p state.Process) bool {
	if p.PID <= 0 {
		return false
	}
	t, ok := e.StartTicks(p.PID)
	return ok && t == p.Start
}

// recordVerified ends a full enable that left everything in place, and
// records what a later run needs to skip the checks. It records nothing
// unless dockerd runs with live restore on as verified, systemd had read
// docker.service's files as they are, the watcher runs (or this run had
// systemd start it) and nothing was worth a warning (a later run must say
// it again). It asks systemd only for what this run did not read already.
func (e *Env) recordVerified(ctx context.Context, x *plan.Exec, want uint64, daemonOn bool, dropIn *plan.DropIn, start *plan.StartWatcher, w *plan.Watched) {
	f, r := x.Facts, x.R.(*Report)
	if !daemonOn || !x.Live || f.SD == nil || !f.Active || len(r.Warnings) > 0 {
		return
	}
	x.Wait()
	cctx, cancel := context.WithTimeout(ctx, e.T.Call)
	defer cancel()
	u := f.Unit
	if u == nil || dropIn.Wrote() || x.DaemonReloaded {
		// This run changed docker.service's files: read it again.
		fresh, err := f.SD.Unit(cctx, f.Service)
		if err != nil {
			return
		}
		u = &fresh
	}
	if u.ActiveState != "active" || int(u.MainPID) != f.PID || u.NeedDaemonReload {
		return
	}
	wu := w.Unit
	if wu == nil {
		fresh, err := f.SD.Unit(cctx, host.WatcherService)
		if err != nil {
			return
		}
		wu = &fresh
	}
	if wu.LoadState != "loaded" || (wu.ActiveState != "active" && !start.Started) {
		return
	}
	dirs := w.UnitPath
	if len(dirs) == 0 {
		var err error
		if dirs, err = f.SD.UnitPath(cctx); err != nil || len(dirs) == 0 {
			return
		}
	}
	running, err := sysctl.Running(e.Path(host.ProcSysDir), sysctl.Key)
	if err != nil {
		return
	}
	sources, err := sysctl.Dirs{Root: e.Root}.Sources()
	if err != nil {
		return
	}
	ticks, ok := e.StartTicks(f.PID)
	if !ok {
		return
	}
	v := state.Verified{At: e.Now(), Config: f.Config, ConfigSource: f.ConfigSource,
		PipeMaxSize: want, PipeRunning: running,
		Dockerd:      state.Process{PID: f.PID, Start: ticks},
		WatcherProcs: e.CgroupProcs(unit.CgroupPath(wu.Slice, host.WatcherService)),
	}
	v.Files = append(v.Files, f.Config)
	if x.Config != nil && x.Config.Target != f.Config {
		v.Files = append(v.Files, x.Config.Target)
	}
	if u.FragmentPath != "" {
		v.Files = append(v.Files, u.FragmentPath)
	}
	v.Files = append(v.Files, u.DropInPaths...)
	for _, ef := range u.EnvironmentFiles {
		v.Files = append(v.Files, e.Path(ef.Path))
	}
	for _, d := range dirs {
		// The three paths, even where d does not exist: creating one
		// changes its stamp, while a new d for other units does not (runc's
		// systemd cgroup driver creates /run/systemd/system.control with the
		// first container, which must not end the record).
		v.Files = append(v.Files, filepath.Join(d, f.Service), filepath.Join(d, f.Service+".d"), filepath.Join(d, "service.d"))
	}
	v.Files = append(v.Files, sources...)
	if !x.Changed && x.Prior.Pending == nil && x.Store.Recorded(x.Store.LoadVerified(), v) {
		return // recorded already: write nothing
	}
	x.Verified = &v
}
