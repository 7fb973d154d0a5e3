package ops

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/restore"
)

// The drill: `dlr drill [--seconds N] [--yes]` stops docker.service and
// docker.socket for N seconds and shows which containers lived through it.
//
// Order of work, and why:
//  1. Every check before anything is stopped: root, systemd reachable,
//     docker.service active with KillMode=process (any other KillMode kills
//     the containers with dockerd), live restore on in the *running* daemon
//     (the file alone is not enough: a reload may not have happened).
//  2. Confirmation: on a terminal a question, else --yes; a script without
//     --yes is refused, never left waiting on a read.
//  3. The log FIFOs are grown (as `dlr buffers`): a container that logs
//     while dockerd is away blocks in write() once its 64K pipe is full.
//  4. The running containers and their PIDs are read; then docker.socket
//     and docker.service are stopped over D-Bus. From here until both are
//     started again the Docker socket is never used: a connection to
//     docker.socket would start dockerd (and end the drill early).
//  5. The outage lasts N seconds, or until ctx is cancelled (SIGINT,
//     SIGTERM): either way docker.socket and docker.service are started
//     again at once with a context that the interrupt does not cancel.
//  6. Once dockerd answers /info again, every container is looked up.

// Drill is `dlr drill`.
func Drill(ctx context.Context, e *Env, o Options, r *Report) error {
	if o.Seconds < 1 || o.Seconds > 600 {
		return usage("--seconds %d: want 1 to 600", o.Seconds)
	}
	if e.Euid() != 0 {
		return refused("dlr drill stops docker.service: run it as root")
	}
	f, err := e.Observe(ctx, o.Config, true)
	if err != nil {
		return failed("%v", err)
	}
	defer f.Close()
	d, err := e.drillPreflight(ctx, f)
	if err != nil {
		return err
	}
	if err := d.hazards(o, r); err != nil {
		return err
	}
	if err := d.confirm(ctx, o); err != nil {
		return err
	}
	// Held until the checks are done: the watcher, which sees the same
	// restore, waits and then leaves it to the drill.
	unlock, err := e.lockRestore(ctx, e.T.Lock)
	if err != nil {
		return failed("%v; nothing was stopped", err)
	}
	defer unlock()
	// Grow the log FIFOs; a failure is a warning, not a reason to refuse.
	sub := NewReport("buffers")
	if err := Buffers(ctx, e, o, sub); err != nil {
		r.Warn("log FIFOs not (all) grown: %v; a container that logs a lot may block while dockerd is away", err)
	}
	r.Actions = append(r.Actions, sub.Actions...)
	r.Warnings = append(r.Warnings, sub.Warnings...)
	r.Notes = append(r.Notes, sub.Notes...)
	r.Buffers = sub.Buffers
	d.rep = &DrillReport{Seconds: o.Seconds, Containers: []DrillResult{}}
	r.Drill = d.rep
	defer e.Progress.Done()
	if err := d.outage(ctx, r); err != nil {
		return err
	}
	cerr := d.compare(context.WithoutCancel(ctx))
	if rep := d.rep; rep.Interrupted || rep.back.IsZero() {
		return cerr
	}
	return d.checkRestore(context.WithoutCancel(ctx), o, r, cerr)
}

// checkRestore runs the restore checks of package restore on the drill's
// own outage, records them, and fails on a problem (after compare's own
// failure, if any).
func (d *drill) checkRestore(ctx context.Context, o Options, r *Report, cerr error) error {
	e := d.e
	e.Progress.Show("checking the restored containers ...")
	defer e.Progress.Done()
	pid := 0
	cctx, cancel := context.WithTimeout(ctx, e.T.Call)
	if u, err := d.f.SD.Unit(cctx, d.svc); err == nil {
		pid = int(u.MainPID)
	}
	cancel()
	opts := e.restoreOptions("drill", d.f.Config, !o.NoRearm, d.rep.version, d.rep.firewall, d.rep.StoppedAt)
	rec, err := e.checkRestore(ctx, d.view, d.f.Socket, pid, d.rep.back, opts)
	if rec.Containers > 0 || err == nil {
		r.Restore = &rec
	}
	switch {
	case cerr != nil && lostNames(rec) != "":
		return failed("%v%s", cerr, lostNames(rec))
	case cerr != nil:
		return cerr
	case err != nil:
		return failed("%v", err)
	case rec.ProblemCount() > 0:
		return failed("the restore check found problems: %s (see above; docs/restore-checks.md)", RestoreSummary(rec))
	}
	return nil
}

// drill is one drill under way.
type drill struct {
	e          *Env
	f          *host.Facts
	svc        string
	socketUnit string // docker.socket where it exists, else ""
	before     []DrillContainer
	view       restore.View // before, for the restore checks
	rep        *DrillReport
	release    string          // the running dockerd's version: the one that restores
	host       guard.HostProps // for the hazard table
}

// hazards asks the hazard table about each running container before
// anything is stopped: the drill forces a restore by the running release,
// so a container it would remove, lose data of, or crash dockerd on is a
// refusal (exit 3) naming the containers and the bug, unless --force. A
// degraded one is a warning (the health re-arm mends a frozen monitor
// after the restore).
func (d *drill) hazards(o Options, r *Report) error {
	var fails []string
	for _, fd := range restartHazards(d.view.Containers, d.release, d.host, "the drill's restart") {
		switch fd.Severity {
		case guard.Fail:
			fails = append(fails, fd.Subject+" ("+fd.Message+")")
		case guard.Warn:
			r.Warn("%s: %s", fd.Subject, fd.Message)
		}
	}
	switch {
	case len(fails) == 0:
		return nil
	case o.Force:
		r.Warn("--force: the drill goes on although its restore will cost %s", strings.Join(fails, "; "))
		return nil
	}
	return refused("the drill's restore by dockerd %s would cost %d running container(s): %s; nothing was stopped (let them finish, or upgrade to the fixed release first; --force drills anyway)",
		guard.Version(d.release), len(fails), strings.Join(fails, "; "))
}

// drillPreflight makes every check before anything is stopped: the host's
// own systemd, docker.service active with KillMode=process (any other
// KillMode kills the containers with dockerd), live restore on in the
// running daemon (the file alone is not enough: a reload may not have
// happened); then it lists the running containers.
func (e *Env) drillPreflight(ctx context.Context, f *host.Facts) (*drill, error) {
	switch {
	case f.Chroot:
		return nil, refused("%s: the drill needs the host's own systemd and dockerd", f.ChrootWhy)
	case !f.Systemd || f.SD == nil:
		return nil, refused("systemd is not running as PID 1 (%s missing): the drill stops docker.service through systemd", e.Path(host.RunSystemd))
	case f.Unit == nil || f.Unit.LoadState == "not-found":
		return nil, refused("docker.service is not installed: nothing to drill")
	}
	d := &drill{e: e, f: f, svc: f.Unit.Name}
	switch {
	case !f.Active:
		return nil, refused("%s is %s, not active: start it first (systemctl start %s)", d.svc, f.Unit.ActiveState, d.svc)
	case f.Unit.KillMode != "process":
		return nil, refused("%s has KillMode=%s: stopping it kills every container whatever live restore says (set KillMode=process in a drop-in, then systemctl daemon-reload)", d.svc, f.Unit.KillMode)
	}
	info, err := e.Info(ctx, f.Socket)
	if err != nil {
		return nil, failed("asking dockerd whether live restore is on: %v; nothing was stopped", err)
	}
	if !info.LiveRestore {
		return nil, refused("live restore is not active in the running dockerd (LiveRestoreEnabled false): the containers would stop with it; run `dlr enable` first (see `dlr status`)")
	}
	d.release = info.Version
	if cfg, err := host.ReadConfig(f.Config); err == nil {
		d.host = hostProps(cfg)
	}
	if d.view, err = e.view(ctx, f.Socket, f.PID, info.Version); err != nil {
		return nil, failed("listing the running containers: %v; nothing was stopped", err)
	}
	d.before = drillContainers(d.view.Containers)
	// docker.socket, where it exists (Snap's dockerd and some packagings
	// have none).
	if d.svc != host.SnapDockerService {
		cctx, cancel := context.WithTimeout(ctx, e.T.Call)
		u, err := f.SD.Unit(cctx, "docker.socket")
		cancel()
		if err != nil {
			return nil, failed("reading docker.socket from systemd: %v; nothing was stopped", err)
		}
		if u.LoadState != "" && u.LoadState != "not-found" {
			d.socketUnit = "docker.socket"
		}
	}
	return d, nil
}

// confirm asks on a terminal, else wants --yes: a script without --yes is
// refused, never left waiting on a read.
func (d *drill) confirm(ctx context.Context, o Options) error {
	e := d.e
	if !o.Yes {
		if !e.Terminal {
			return refused("the drill stops Docker for %d s and needs a yes: stdin is not a terminal, so give --yes to run it from a script", o.Seconds)
		}
		also := ""
		if d.socketUnit != "" {
			also = " and " + d.socketUnit
		}
		fmt.Fprintf(e.Prompt, "This stops %s%s for %d s; %d running containers should keep running. Continue? [y/N] ",
			d.svc, also, o.Seconds, len(d.before))
		// Read in the background: Ctrl-C (which cancels ctx, since main
		// catches it) must end the wait for an answer too.
		answer := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(e.Stdin).ReadString('\n')
			answer <- line
		}()
		select {
		case <-ctx.Done():
			fmt.Fprintln(e.Prompt)
			return refused("interrupted at the question; nothing was stopped")
		case line := <-answer:
			if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
				return refused("not confirmed; nothing was stopped")
			}
		}
	}
	if ctx.Err() != nil {
		return failed("interrupted before the drill began; nothing was stopped")
	}
	return nil
}

func (d *drill) units() []string {
	if d.socketUnit != "" {
		return []string{d.socketUnit, d.svc}
	}
	return []string{d.svc}
}

// start starts docker again, with a context an interrupt does not cancel.
// docker.service allows 3 starts in 60 s (StartLimitBurst): a drill soon
// after a restart hits it, and systemd then refuses the start; the counter
// is cleared and the start tried once more.
func (d *drill) start(ctx context.Context, r *Report) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.e.T.Start)
	defer cancel()
	startAll := func() error {
		var errs []error
		for _, u := range d.units() {
			if err := d.f.SD.Start(sctx, u); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	err := startAll()
	if err != nil && d.e.ResetFailed != nil {
		if rerr := d.e.ResetFailed(sctx, d.units()...); rerr == nil {
			if err = startAll(); err == nil {
				r.Note("systemd refused the first start (start limit of %s hit); dlr ran systemctl reset-failed and started it again", d.svc)
			}
		}
	}
	return err
}

// outage stops docker.socket and docker.service over D-Bus, waits, and
// starts them again: after the wait, or at once on an interrupt (SIGINT,
// SIGTERM). From the stop until the start the Docker socket is never used:
// a connection to docker.socket would start dockerd.
func (d *drill) outage(ctx context.Context, r *Report) error {
	e, rep := d.e, d.rep
	rep.StoppedAt = e.Now()
	e.Progress.Show("stopping %s ...", d.svc)
	stopCtx, cancel := context.WithTimeout(ctx, e.T.Reload)
	var err error
	// The socket first: once it is closed no client can start dockerd
	// again through socket activation in the moment between the two stops
	// (dockerd keeps its own copy of the listening socket until it exits).
	for _, u := range d.units() {
		if err = d.f.SD.Stop(stopCtx, u); err != nil {
			break
		}
	}
	cancel()
	if err != nil {
		if serr := d.start(ctx, r); serr != nil {
			return failed("stopping %s: %v; starting it again failed too: %v (run: systemctl start %s %s)", d.svc, err, serr, d.socketUnit, d.svc)
		}
		return failed("stopping %s: %v; it was started again", d.svc, err)
	}
	r.Changed = true
	if d.socketUnit != "" {
		r.Action("stopped %s and %s", d.socketUnit, d.svc)
	} else {
		r.Action("stopped %s", d.svc)
	}
	werr := e.Wait(ctx, time.Duration(rep.Seconds)*time.Second, func(left time.Duration) {
		e.Progress.Show("docker is stopped: %d s left (Ctrl-C starts it now)", int(left.Round(time.Second)/time.Second))
	})
	rep.Interrupted = werr != nil
	e.Progress.Show("starting %s ...", d.svc)
	if err := d.start(ctx, r); err != nil {
		return failed("starting %s again: %v; run: systemctl start %s %s", d.svc, err, d.socketUnit, d.svc)
	}
	r.Action("started %s again", d.svc)
	return nil
}

// compare waits until dockerd answers, then looks up every container that
// ran before.
func (d *drill) compare(ctx context.Context) error {
	e, rep := d.e, d.rep
	vctx, cancel := context.WithTimeout(ctx, e.T.Verify)
	defer cancel()
	for {
		info, err := e.Info(vctx, d.f.Socket)
		if err == nil {
			rep.back, rep.version, rep.firewall = e.Now(), info.Version, info.Firewall
			break
		}
		if vctx.Err() != nil {
			return failed("dockerd did not answer within %v after the start: %v", e.T.Verify, err)
		}
		select {
		case <-vctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	rep.Downtime = e.Now().Sub(rep.StoppedAt).Seconds()
	e.Progress.Done()
	after, err := e.listRunning(ctx, d.f.Socket)
	if err != nil {
		return failed("listing the containers after the drill: %v", err)
	}
	now := map[string]int{}
	for _, c := range after {
		now[c.ID] = c.Pid
	}
	for _, c := range d.before {
		res := DrillResult{DrillContainer: c, PidAfter: now[c.ID]}
		switch pid, ok := now[c.ID]; {
		case ok && pid == c.Pid:
			res.Survived, res.Outcome = true, "same PID"
			rep.Survived++
		case ok:
			res.Outcome = "restarted (new PID): it was killed and its restart policy started it again"
		default:
			res.Outcome = "not running"
		}
		rep.Containers = append(rep.Containers, res)
	}
	if rep.Interrupted {
		return failed("interrupted: %s was started again at once after %.2f s", d.svc, rep.Downtime)
	}
	if lost := len(d.before) - rep.Survived; lost > 0 {
		return failed("%d of %d containers did not keep running through the outage (see above); `dlr check` lists what can cause this", lost, len(d.before))
	}
	return nil
}

// listRunning lists the running containers and their PIDs (call only
// while docker.service is active).
func (e *Env) listRunning(ctx context.Context, socket string) ([]DrillContainer, error) {
	cs, err := e.Containers(ctx, socket)
	if err != nil {
		return nil, err
	}
	return drillContainers(cs), nil
}

func drillContainers(cs []host.Container) []DrillContainer {
	var out []DrillContainer
	for _, c := range cs {
		out = append(out, DrillContainer{ID: c.ID, Name: c.Name, Pid: c.PID})
	}
	return out
}
