package ops

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/host"
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
	if f.Chroot {
		return refused("%s: the drill needs the host's own systemd and dockerd", f.ChrootWhy)
	}
	if !f.Systemd || f.SD == nil {
		return refused("systemd is not running as PID 1 (%s missing): the drill stops docker.service through systemd", e.Path(host.RunSystemd))
	}
	sd := f.SD
	if f.Unit == nil || f.Unit.LoadState == "not-found" {
		return refused("docker.service is not installed: nothing to drill")
	}
	svc := f.Unit.Name
	if !f.Active {
		return refused("%s is %s, not active: start it first (systemctl start %s)", svc, f.Unit.ActiveState, svc)
	}
	if f.Unit.KillMode != "process" {
		return refused("%s has KillMode=%s: stopping it kills every container whatever live restore says (set KillMode=process in a drop-in, then systemctl daemon-reload)", svc, f.Unit.KillMode)
	}
	info, err := e.Info(ctx, f.Socket)
	if err != nil {
		return failed("asking dockerd whether live restore is on: %v; nothing was stopped", err)
	}
	if !info.LiveRestore {
		return refused("live restore is not active in the running dockerd (LiveRestoreEnabled false): the containers would stop with it; run `dlr enable` first (see `dlr status`)")
	}
	before, err := e.listRunning(ctx, f.Socket)
	if err != nil {
		return failed("listing the running containers: %v; nothing was stopped", err)
	}
	// docker.socket, where it exists (Snap's dockerd and some packagings
	// have none).
	socketUnit := ""
	if svc != host.SnapDockerService {
		cctx, cancel := context.WithTimeout(ctx, e.T.Call)
		u, err := sd.Unit(cctx, "docker.socket")
		cancel()
		if err != nil {
			return failed("reading docker.socket from systemd: %v; nothing was stopped", err)
		}
		if u.LoadState != "" && u.LoadState != "not-found" {
			socketUnit = "docker.socket"
		}
	}

	if !o.Yes {
		if !e.Terminal {
			return refused("the drill stops Docker for %d s and needs a yes: stdin is not a terminal, so give --yes to run it from a script", o.Seconds)
		}
		fmt.Fprintf(e.Prompt, "This stops %s%s for %d s; %d running containers should keep running. Continue? [y/N] ",
			svc, map[bool]string{true: " and " + socketUnit, false: ""}[socketUnit != ""], o.Seconds, len(before))
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

	// Grow the log FIFOs; a failure is a warning, not a reason to refuse.
	sub := NewReport("buffers")
	if err := Buffers(ctx, e, o, sub); err != nil {
		r.Warn("log FIFOs not (all) grown: %v; a container that logs a lot may block while dockerd is away", err)
	}
	r.Actions = append(r.Actions, sub.Actions...)
	r.Warnings = append(r.Warnings, sub.Warnings...)
	r.Notes = append(r.Notes, sub.Notes...)
	r.Buffers = sub.Buffers

	d := &DrillReport{Seconds: o.Seconds, Containers: []DrillResult{}}
	r.Drill = d
	progress := e.Progress
	defer progress.Done()

	// From here, docker is started again whatever happens.
	restart := context.WithoutCancel(ctx)
	stopped := false
	units := []string{svc}
	if socketUnit != "" {
		units = []string{socketUnit, svc}
	}
	startAll := func(ctx context.Context) error {
		var errs []error
		for _, u := range units {
			if err := sd.Start(ctx, u); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	start := func() error {
		sctx, cancel := context.WithTimeout(restart, e.T.Start)
		defer cancel()
		err := startAll(sctx)
		if err != nil && e.ResetFailed != nil {
			// docker.service allows 3 starts in 60 s (StartLimitBurst):
			// a drill soon after a restart hits it, and systemd then
			// refuses the start. Clear the counter and try once more.
			if rerr := e.ResetFailed(sctx, units...); rerr == nil {
				if err = startAll(sctx); err == nil {
					r.Note("systemd refused the first start (start limit of %s hit); dlr ran systemctl reset-failed and started it again", svc)
				}
			}
		}
		stopped = false
		return err
	}
	defer func() {
		if stopped {
			start()
		}
	}()

	d.StoppedAt = e.Now()
	stopped = true
	progress.Show("stopping %s ...", svc)
	stopCtx, cancel := context.WithTimeout(ctx, e.T.Reload)
	// The socket first: once it is closed no client can start dockerd
	// again through socket activation in the moment between the two
	// stops (dockerd keeps its own copy of the listening socket until it
	// exits).
	for _, u := range []string{socketUnit, svc} {
		if u == "" {
			continue
		}
		if err = sd.Stop(stopCtx, u); err != nil {
			break
		}
	}
	cancel()
	if err != nil {
		serr := start()
		if serr != nil {
			return failed("stopping %s: %v; starting it again failed too: %v (run: systemctl start %s %s)", svc, err, serr, socketUnit, svc)
		}
		return failed("stopping %s: %v; it was started again", svc, err)
	}
	r.Changed = true
	r.Action("stopped %s%s", map[bool]string{true: socketUnit + " and ", false: ""}[socketUnit != ""], svc)

	werr := e.Wait(ctx, time.Duration(o.Seconds)*time.Second, func(left time.Duration) {
		progress.Show("docker is stopped: %d s left (Ctrl-C starts it now)", int(left.Round(time.Second)/time.Second))
	})
	if werr != nil {
		d.Interrupted = true
	}
	progress.Show("starting %s ...", svc)
	if err := start(); err != nil {
		return failed("starting %s again: %v; run: systemctl start %s %s", svc, err, socketUnit, svc)
	}
	r.Action("started %s again", svc)

	// Wait until dockerd answers, then compare.
	vctx, vcancel := context.WithTimeout(restart, e.T.Verify)
	defer vcancel()
	for {
		_, err := e.Info(vctx, f.Socket)
		if err == nil {
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
	d.Downtime = e.Now().Sub(d.StoppedAt).Seconds()
	progress.Done()
	after, err := e.listRunning(restart, f.Socket)
	if err != nil {
		return failed("listing the containers after the drill: %v", err)
	}
	now := map[string]int{}
	for _, c := range after {
		now[c.ID] = c.Pid
	}
	for _, c := range before {
		res := DrillResult{DrillContainer: c, PidAfter: now[c.ID]}
		switch pid, ok := now[c.ID]; {
		case ok && pid == c.Pid:
			res.Survived, res.Outcome = true, "same PID"
			d.Survived++
		case ok:
			res.Outcome = "restarted (new PID): it was killed and its restart policy started it again"
		default:
			res.Outcome = "not running"
		}
		d.Containers = append(d.Containers, res)
	}
	if d.Interrupted {
		return failed("interrupted: %s was started again at once after %.2f s", svc, d.Downtime)
	}
	if lost := len(before) - d.Survived; lost > 0 {
		return failed("%d of %d containers did not keep running through the outage (see above); `dlr check` lists what can cause this", lost, len(before))
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
	var out []DrillContainer
	for _, c := range cs {
		out = append(out, DrillContainer{ID: c.ID, Name: c.Name, Pid: c.PID})
	}
	return out, nil
}
