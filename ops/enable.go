package ops

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/plan"
	"github.com/docker-liverestore/dlr/state"
	"github.com/docker-liverestore/dlr/sysctl"
)

// Enable turns live restore on (docs/commands.md, "dlr enable"): every
// check before anything is written; then the plan (the sysctl drop-in and
// value, dlr's docker.service drop-in, daemon.json, the reload verified in
// the running dockerd, the log buffers and the watcher); a failure puts
// back every step that ran.
func Enable(ctx context.Context, e *Env, o Options, r *Report) error {
	want, err := sysctl.ParseSize(o.PipeMaxSize)
	if err == nil {
		err = sysctl.ValidatePipeMaxSize(want)
	}
	if err != nil {
		return usage("--pipe-max-size: %v", err)
	}
	if e.fastEnable(o, want, r) {
		return nil
	}
	e.CatchSignals()
	unlock, err := e.mutate(ctx, o, "enable")
	if err != nil {
		return err
	}
	defer unlock()
	prefetched := e.prefetchInfo(ctx)
	st, err := e.loadState(o, r)
	if err != nil {
		return err
	}
	f, live, err := e.begin(ctx, o, o.Config, "", &st, r)
	if err != nil {
		return err
	}
	defer f.Close()
	// Where live restore cannot protect the containers (rootless Docker,
	// Snap's), enable says so rather than claim protection.
	if fd := guard.Protectable(e.unprotectable(f, nil)); fd.Severity == guard.Fail {
		r.Warn("%s", fd.Sentence())
	}
	if p := st.Pending; p != nil {
		r.Warn("an earlier dlr %s (PID %d, started %s) was interrupted at step %q; this run finishes the job",
			p.Op, p.PID, p.Started.Format(time.RFC3339), p.Step)
	}
	if rec := st.DaemonJSON; rec != nil && rec.Path != f.Config {
		return refused("dlr already manages %s (it turned live restore on there); turning it on in %s too would leave dlr unable to undo the first. Run 'dlr disable' first (it puts %s back), then enable --config %s", rec.Path, f.Config, rec.Path, f.Config)
	}
	if err := e.neverLower(want, st); err != nil {
		return err
	}
	cfg, err := readConfig(f.Config)
	if err != nil {
		return err
	}
	plan.AdoptInterruptedWrite(&st, cfg)
	for _, w := range cfg.Doc.Warnings {
		r.Warn("%s: %s", f.Config, w)
	}
	// What no dockerd would read: a reload would fail and be rolled back;
	// say so now, with nothing changed.
	if bad := guard.Shape(cfg.Doc); len(bad) > 0 {
		return invalid(fmt.Errorf("%s: %s", f.Config, bad[0].Sentence()))
	}
	lr := &LiveRestoreReport{FileBefore: cfg.LiveRestoreWord()}
	r.LiveRestore = lr

	if src, on, raw := liveRestoreFlag(f); src != "" {
		lr.Flag, lr.FileAfter = raw, lr.FileBefore
		_, inFile := cfg.Doc.LiveRestore()
		if fd := guard.LiveRestoreFlag(src, raw, on, inFile, f.Config); fd.Severity == guard.Fail {
			return refused("%s", fd.Sentence())
		} else {
			r.Note("%s", fd.Message)
		}
		return nil
	}
	info, err := e.enableInfo(ctx, o, f, cfg, live, prefetched)
	if err != nil {
		return err
	}

	// A restore-breaking edit already in the file but not in the running
	// daemon: with live restore on, the next restart would apply it under
	// restored containers (and silently not apply it).
	if drift := e.pendingDrift(ctx, f, cfg, info); len(drift) > 0 {
		msgs := strings.Join(guard.Messages(drift), "; ")
		if !o.Force {
			return refused("%s holds restore-breaking edit(s) the running dockerd does not use: %s. With live restore on, the next restart would restore the containers under settings that do not match. Revert the edit, or restart docker once while no container runs; --force enables live restore anyway", f.Config, msgs)
		}
		r.Warn("--force: %s holds restore-breaking edit(s) the running dockerd does not use: %s", f.Config, msgs)
	}

	steps, err := e.enablePlan(ctx, o, f, cfg, want, live, info, lr, r)
	if err != nil {
		return err
	}
	return e.apply(ctx, o, f, cfg, st, live, "enable", steps, r)
}

// enableInfo asks the running dockerd (or, when it certainly runs with
// the file as it is, answers without the API) and applies the swarm rule.
func (e *Env) enableInfo(ctx context.Context, o Options, f *host.Facts, cfg *host.Config, live bool, prefetched func(*host.Facts) (host.Info, error)) (*host.Info, error) {
	// Where there is no record for the fast path but the file already says
	// true and dockerd started after it was last changed, dockerd runs
	// with live restore on: the Docker API is not needed (it is the
	// slowest part of a run); the swarm rule uses dockerd's state file.
	if lrNow, _ := cfg.Doc.LiveRestore(); lrNow && f.Active && e.StartedWithFile(f.PID, cfg.Target) {
		if fd := guard.SwarmFile(e.SwarmStateFile(f, cfg)); fd.Severity == guard.Fail {
			return nil, refused("%s", fd.Sentence())
		}
		return &host.Info{LiveRestore: true}, nil
	}
	if f.Active && (live || o.DryRun) {
		i, err := prefetched(f)
		if err != nil {
			return nil, failed("%s is active but its API at %s does not answer: %v; nothing was changed", f.Name(), f.Socket, err)
		}
		if fd := guard.Swarm(i.SwarmState, true); fd.Severity == guard.Fail {
			return nil, refused("%s", fd.Sentence())
		}
		return &i, nil
	}
	if fd := guard.SwarmFile(e.SwarmStateFile(f, cfg)); fd.Severity == guard.Fail {
		return nil, refused("%s", fd.Sentence())
	}
	return nil, nil
}

// enablePlan is the list of steps that turns live restore on; notes for
// what needs no step go to r.
func (e *Env) enablePlan(ctx context.Context, o Options, f *host.Facts, cfg *host.Config, want uint64, live bool, info *host.Info, lr *LiveRestoreReport, r *Report) ([]plan.Step, error) {
	newData, changed, err := cfg.Doc.Set(daemonjson.LiveRestoreKey, []byte("true"))
	if err != nil {
		return nil, failed("%v", err)
	}
	if len(newData) > daemonjson.MaxSize {
		return nil, invalid(fmt.Errorf("%s: adding \"live-restore\": true would make it %d bytes, more than the %d dlr reads; nothing was changed (make the file smaller)", f.Config, len(newData), daemonjson.MaxSize))
	}
	lr.FileAfter = "true"
	sc, err := plan.PlanSysctl(e.Env, want)
	if err != nil {
		return nil, failed("%v", err)
	}
	steps := []plan.Step{sc}
	// dlr's docker.service drop-in: wherever systemd manages (or, in an
	// image build, will manage) docker.service.
	var dropIn *plan.DropIn
	if f.Systemd || f.Chroot {
		if dropIn, err = plan.PlanDropIn(e.Env, f); err != nil {
			return nil, planError(err)
		}
		steps = append(steps, dropIn)
	}
	bare, watched, err := e.bareEnable(ctx, o, f, live, dropIn, r)
	if err != nil {
		return nil, err
	}
	steps = append(steps, bare...)
	if changed {
		w := plan.NewWriteConfig(cfg, newData, false, "live-restore: "+lr.FileBefore+" -> true")
		steps = append(steps, plan.Func{Do: func(ctx context.Context, x *plan.Exec) error {
			if x.State.DaemonJSON == nil || x.State.DaemonJSON.Path != f.Config {
				// The first change dlr makes: remember what was there, so
				// that disable puts exactly that back. Later runs keep it.
				prior := lr.FileBefore
				if cfg.Exists && cfg.Doc.Empty() {
					prior = state.PriorEmpty // disable puts back the exact bytes
				}
				x.State.DaemonJSON = &state.DaemonJSON{Path: f.Config, Prior: prior}
			}
			return nil
		}}, w)
	} else {
		r.Note("%s already has \"live-restore\": true; not written", f.Config)
	}
	needReload := live && f.Active && (changed || (info != nil && !info.LiveRestore))
	switch {
	case !live && o.NoReload:
		r.Note("--no-reload: no daemon was touched; live restore applies when dockerd next (re)loads its configuration")
	case !live:
	case f.Unit == nil && f.Systemd:
		r.Note("docker.service is not installed; live restore applies when Docker starts")
	case !f.Active:
		r.Note("dockerd is not running; live restore applies when it starts")
	case needReload:
		if !changed {
			r.Note("%s says true but the running dockerd does not: reloading to apply it", f.Config)
		}
		steps = append(steps, plan.Func{Do: func(ctx context.Context, x *plan.Exec) error {
			// What starting the watcher and the record need from systemd,
			// read while dockerd reloads.
			x.ReadWatcher(ctx, watched)
			return nil
		}}, plan.Reload{How: f.ReloadHow(), V: plan.LiveRestore(true)},
			plan.Func{Do: func(context.Context, *plan.Exec) error { lr.Daemon = "true"; return nil }})
	default:
		lr.Daemon = "true"
		r.Note("live restore is already enabled in the running daemon; nothing reloaded")
		steps = append(steps, plan.Func{Do: func(ctx context.Context, x *plan.Exec) error {
			x.ReadWatcher(ctx, watched)
			return nil
		}})
	}
	steps = append(steps, plan.DaemonReload{})
	if live && f.Active {
		// Live restore is on: make the containers' log buffers real, now
		// and for containers started later (the watcher).
		start := &plan.StartWatcher{W: watched}
		steps = append(steps, plan.GrowBuffers{ConfigFlag: o.Config}, start,
			plan.Func{Do: func(ctx context.Context, x *plan.Exec) error {
				e.recordVerified(ctx, x, want, lr.Daemon == "true", dropIn, start, watched)
				return nil
			}})
	}
	return steps, nil
}

// pendingDrift lists restore-breaking differences between daemon.json and
// what the running daemon uses: against the file dockerd started with (when
// dlr's drop-in recorded it) and the bridge's real address against "bip".
func (e *Env) pendingDrift(ctx context.Context, f *host.Facts, cfg *host.Config, info *host.Info) []guard.Finding {
	var out []guard.Finding
	if base, recorded, _ := e.startedWith(); recorded {
		out = append(out, guard.Drift(base, cfg.Doc)...)
	}
	return append(out, e.bridgeDrift(ctx, f, cfg, info)...)
}

// bridgeDrift is guard.BridgeDrift against the running daemon's bridge.
func (e *Env) bridgeDrift(ctx context.Context, f *host.Facts, cfg *host.Config, info *host.Info) []guard.Finding {
	if info == nil || e.Bridge == nil {
		return nil
	}
	if _, ok := cfg.Doc.Lookup("bip"); !ok {
		return nil
	}
	gws, err := e.Bridge(ctx, f.Socket)
	return guard.BridgeDrift(cfg.Doc, gws, err)
}

// liveRestoreFlag returns where --live-restore is set among dockerd's
// command lines ("" if nowhere), its value and how it was written.
func liveRestoreFlag(f *host.Facts) (source string, value bool, raw string) {
	for _, c := range f.FlagSources() {
		if set, v, raw := c.LiveRestore(); set {
			return c.Source, v, raw
		}
	}
	return "", false, ""
}

// flags are dockerd's command lines as the guard's rules take them.
func flags(f *host.Facts) []guard.Flags {
	var out []guard.Flags
	for _, c := range f.FlagSources() {
		out = append(out, guard.Flags{Args: c.Args, Source: c.Source})
	}
	return out
}

// prefetchInfo starts asking /info while systemd is asked about
// docker.service (Observe), when it can tell without systemd that dockerd
// runs: its pid file names a live dockerd, so connecting to its socket
// cannot start it (socket activation). The returned function gives the
// answer for f: the prefetched one when f found that same dockerd and
// socket, else a fresh call.
func (e *Env) prefetchInfo(ctx context.Context) func(f *host.Facts) (host.Info, error) {
	fresh := func(f *host.Facts) (host.Info, error) { return e.Info(ctx, f.Socket) }
	pid, socket, ok := e.QuickDockerd()
	if !ok {
		return fresh
	}
	type answer struct {
		i   host.Info
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		i, err := e.Info(ctx, socket)
		ch <- answer{i, err}
	}()
	return func(f *host.Facts) (host.Info, error) {
		if f.PID != pid || f.Socket != socket {
			return fresh(f)
		}
		a := <-ch
		return a.i, a.err
	}
}

// neverLower refuses a --pipe-max-size below the running fs.pipe-max-size:
// writing it to sysctl.d would lower the value at the next boot. Where the
// running value is dlr's own doing (it raised it, and its record says so),
// asking for less is allowed: the value at the next boot is then the one
// asked for.
func (e *Env) neverLower(want uint64, st state.State) error {
	running, err := sysctl.Running(e.Path(host.ProcSysDir), sysctl.Key)
	if err != nil || want >= running || (st.Sysctl != nil && st.Sysctl.Applied == running) {
		return nil
	}
	return usage("--pipe-max-size %d is below the running fs.pipe-max-size (%d): dlr never lowers it, now or at the next boot; ask for %d or more", want, running, running)
}

// unprotectable is what makes live restore unable to protect containers
// here: Snap's Docker, rootless dockerds (the one dlr talks to, when info
// says so, and any /run/user/UID/docker.pid naming a live dockerd).
func (e *Env) unprotectable(f *host.Facts, info *host.Info) guard.Unprotectable {
	u := guard.Unprotectable{Snap: f.Service == host.SnapDockerService}
	for _, c := range f.FlagSources() {
		u.Snap = u.Snap || c.Snap()
	}
	if info != nil && info.Rootless {
		u.Rootless = append(u.Rootless, "the dockerd at "+f.Socket)
	}
	u.Rootless = append(u.Rootless, e.RootlessDockerds()...)
	return u
}
