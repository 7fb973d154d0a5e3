package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker-liverestore/dlr/engine"
	"github.com/spf13/pflag"
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

// drillContainer is one container as the drill sees it.
type drillContainer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Pid  int    `json:"pid"`
}

// drillResult is one container's fate.
type drillResult struct {
	drillContainer
	// Survived: running after the drill with the same PID.
	Survived bool `json:"survived"`
	// PidAfter is its PID after the drill, 0 when it is not running.
	PidAfter int    `json:"pid_after"`
	Outcome  string `json:"outcome"` // "same PID", "restarted (new PID)", "not running", "gone"
}

// drillReport is the "drill" member of --json output.
type drillReport struct {
	Seconds     int           `json:"seconds"`
	Interrupted bool          `json:"interrupted"`
	StoppedAt   time.Time     `json:"stopped_at"`
	Downtime    float64       `json:"downtime_seconds"` // stop job begun to /info answering again
	Containers  []drillResult `json:"containers"`
	Survived    int           `json:"survived"`
}

func (d *drillReport) writeText(w io.Writer) {
	paint := colourFor(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range d.Containers {
		after := "-"
		if c.PidAfter != 0 {
			after = fmt.Sprint(c.PidAfter)
		}
		fmt.Fprintf(tw, "%s\t%s\tPID %d -> %s\t%s\n", colourWord(paint, c.Survived, "SURVIVED", "LOST"), c.Name, c.Pid, after, c.Outcome)
	}
	tw.Flush()
	how := fmt.Sprintf("stopped for %d s", d.Seconds)
	if d.Interrupted {
		how = "interrupted, started again at once"
	}
	fmt.Fprintf(w, "daemon downtime: %.2f s (%s); %d of %d containers kept running with the same PID\n",
		d.Downtime, how, d.Survived, len(d.Containers))
}

// colourWord picks good or bad, coloured with paint (colour.go: plain off a
// terminal).
func colourWord(paint func(code, s string) string, ok bool, good, bad string) string {
	if ok {
		return paint(green, good)
	}
	return paint(red, bad)
}

// unitStarter is what the drill asks of systemd beyond systemdAPI;
// *unit.Conn has both.
type unitStarter interface {
	Start(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
}

// drillHost is a host plus what only the drill needs, so that its tests can
// replace the container listing, the clock's sleep and the terminal.
type drillHost struct {
	*host
	// list returns the running containers with their PIDs. Call it only
	// while docker.service is active.
	list func(ctx context.Context, socket string) ([]drillContainer, error)
	// wait sleeps d or until ctx ends, calling tick about once a second.
	wait func(ctx context.Context, d time.Duration, tick func(left time.Duration)) error
	// stdin is where the confirmation is read; terminal says whether it
	// is a terminal (and progress lines go to stderr).
	stdin    io.Reader
	terminal bool
	// resetFailed clears the units' failed state and start counter
	// (systemctl reset-failed), when a start was refused.
	resetFailed func(ctx context.Context, units ...string) error
	// startTimeout bounds starting docker again.
	startTimeout time.Duration
}

func newDrillHost(h *host, stdin *os.File, stderr io.Writer) *drillHost {
	return &drillHost{
		host:         h,
		list:         listRunning,
		wait:         sleepTicking,
		stdin:        stdin,
		terminal:     isTerminal(stdin) && isTerminalWriter(stderr),
		resetFailed:  systemctlResetFailed,
		startTimeout: 90 * time.Second,
	}
}

// systemctlResetFailed runs `systemctl reset-failed UNIT...` (fixed
// arguments, no shell): the unit package has no ResetFailedUnit call.
func systemctlResetFailed(ctx context.Context, units ...string) error {
	out, err := exec.CommandContext(ctx, "systemctl", append([]string{"reset-failed"}, units...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl reset-failed: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// listRunning lists the running containers and their PIDs over the Engine
// API.
func listRunning(ctx context.Context, socket string) ([]drillContainer, error) {
	c := engine.New(socket)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	list, err := c.Containers(ctx)
	if err != nil {
		return nil, err
	}
	var out []drillContainer
	for _, ct := range list {
		d, err := c.Inspect(ctx, ct.ID)
		if err != nil {
			var se *engine.StatusError
			if errors.As(err, &se) {
				continue // removed since the listing
			}
			return nil, err
		}
		if !d.State.Running || d.State.Pid == 0 {
			continue
		}
		out = append(out, drillContainer{ID: ct.ID, Name: strings.TrimPrefix(firstOr(ct.Names, ct.ID), "/"), Pid: d.State.Pid})
	}
	return out, nil
}

func sleepTicking(ctx context.Context, d time.Duration, tick func(left time.Duration)) error {
	end := time.Now().Add(d)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return nil
		case <-t.C:
			tick(time.Until(end))
		}
	}
}

// drill is `dlr drill`.
func drill(ctx context.Context, h *host, o options, r *report, stdin *os.File, stderr io.Writer) error {
	return runDrill(ctx, newDrillHost(h, stdin, stderr), o, r, stderr)
}

func runDrill(ctx context.Context, h *drillHost, o options, r *report, stderr io.Writer) error {
	if o.drillSeconds < 1 || o.drillSeconds > 600 {
		return usage("--seconds %d: want 1 to 600", o.drillSeconds)
	}
	if h.euid() != 0 {
		return refused("dlr drill stops docker.service: run it as root")
	}
	obs, err := h.observe(ctx, o.config, true)
	if err != nil {
		return err
	}
	defer obs.close()
	if obs.chroot {
		return refused("%s: the drill needs the host's own systemd and dockerd", obs.chrootWhy)
	}
	if !obs.systemd || obs.sd == nil {
		return refused("systemd is not running as PID 1 (%s missing): the drill stops docker.service through systemd", h.runSystemd)
	}
	sd, ok := obs.sd.(unitStarter)
	if !ok {
		return failed("this systemd connection cannot start and stop units")
	}
	if obs.svc == nil || obs.svc.LoadState == "not-found" {
		return refused("docker.service is not installed: nothing to drill")
	}
	svc := obs.svc.Name
	if !obs.active {
		return refused("%s is %s, not active: start it first (systemctl start %s)", svc, obs.svc.ActiveState, svc)
	}
	if obs.svc.KillMode != "process" {
		return refused("%s has KillMode=%s: stopping it kills every container whatever live restore says (set KillMode=process in a drop-in, then systemctl daemon-reload)", svc, obs.svc.KillMode)
	}
	info, err := h.info(ctx, obs)
	if err != nil {
		return failed("asking dockerd whether live restore is on: %v; nothing was stopped", err)
	}
	if !info.LiveRestore {
		return refused("live restore is not active in the running dockerd (LiveRestoreEnabled false): the containers would stop with it; run `dlr enable` first (see `dlr status`)")
	}
	before, err := h.list(ctx, obs.socket)
	if err != nil {
		return failed("listing the running containers: %v; nothing was stopped", err)
	}
	// docker.socket, where it exists (Snap's dockerd and some packagings
	// have none).
	socketUnit := ""
	if svc != snapDockerService {
		cctx, cancel := context.WithTimeout(ctx, h.callTimeout)
		u, err := obs.sd.Unit(cctx, "docker.socket")
		cancel()
		if err != nil {
			return failed("reading docker.socket from systemd: %v; nothing was stopped", err)
		}
		if u.LoadState != "" && u.LoadState != "not-found" {
			socketUnit = "docker.socket"
		}
	}

	if !o.yes {
		if !h.terminal {
			return refused("the drill stops Docker for %d s and needs a yes: stdin is not a terminal, so give --yes to run it from a script", o.drillSeconds)
		}
		fmt.Fprintf(stderr, "This stops %s%s for %d s; %d running containers should keep running. Continue? [y/N] ",
			svc, map[bool]string{true: " and " + socketUnit, false: ""}[socketUnit != ""], o.drillSeconds, len(before))
		// Read in the background: Ctrl-C (which cancels ctx, since main
		// catches it) must end the wait for an answer too.
		answer := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(h.stdin).ReadString('\n')
			answer <- line
		}()
		select {
		case <-ctx.Done():
			fmt.Fprintln(stderr)
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
	sub := newReport("buffers")
	if err := runBuffers(ctx, h.host, o, sub); err != nil {
		r.warn("log FIFOs not (all) grown: %v; a container that logs a lot may block while dockerd is away", err)
	}
	r.Actions = append(r.Actions, sub.Actions...)
	r.Warnings = append(r.Warnings, sub.Warnings...)
	r.Notes = append(r.Notes, sub.Notes...)
	r.Buffers = sub.Buffers

	d := &drillReport{Seconds: o.drillSeconds, Containers: []drillResult{}}
	r.Drill = d
	progress := newProgress(stderr, h.terminal)
	defer progress.done()

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
		sctx, cancel := context.WithTimeout(restart, h.startTimeout)
		defer cancel()
		err := startAll(sctx)
		if err != nil && h.resetFailed != nil {
			// docker.service allows 3 starts in 60 s (StartLimitBurst):
			// a drill soon after a restart hits it, and systemd then
			// refuses the start. Clear the counter and try once more.
			if rerr := h.resetFailed(sctx, units...); rerr == nil {
				if err = startAll(sctx); err == nil {
					r.note("systemd refused the first start (start limit of %s hit); dlr ran systemctl reset-failed and started it again", svc)
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

	d.StoppedAt = h.now()
	stopped = true
	progress.show("stopping %s ...", svc)
	stopCtx, cancel := context.WithTimeout(ctx, h.reloadTimeout)
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
	r.action("stopped %s%s", map[bool]string{true: socketUnit + " and ", false: ""}[socketUnit != ""], svc)

	werr := h.wait(ctx, time.Duration(o.drillSeconds)*time.Second, func(left time.Duration) {
		progress.show("docker is stopped: %d s left (Ctrl-C starts it now)", int(left.Round(time.Second)/time.Second))
	})
	if werr != nil {
		d.Interrupted = true
	}
	progress.show("starting %s ...", svc)
	if err := start(); err != nil {
		return failed("starting %s again: %v; run: systemctl start %s %s", svc, err, socketUnit, svc)
	}
	r.action("started %s again", svc)

	// Wait until dockerd answers, then compare.
	obs.active = true
	vctx, vcancel := context.WithTimeout(restart, h.verifyTimeout)
	defer vcancel()
	for {
		_, err := h.info(vctx, obs)
		if err == nil {
			break
		}
		if vctx.Err() != nil {
			return failed("dockerd did not answer within %v after the start: %v", h.verifyTimeout, err)
		}
		select {
		case <-vctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	d.Downtime = h.now().Sub(d.StoppedAt).Seconds()
	progress.done()
	after, err := h.list(restart, obs.socket)
	if err != nil {
		return failed("listing the containers after the drill: %v", err)
	}
	now := map[string]int{}
	for _, c := range after {
		now[c.ID] = c.Pid
	}
	for _, c := range before {
		res := drillResult{drillContainer: c, PidAfter: now[c.ID]}
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

// addDrillFlags adds the options of `dlr drill`.
func (o *options) addDrillFlags(fs *pflag.FlagSet, cmd string) {
	if cmd != "drill" {
		return
	}
	fs.IntVar(&o.drillSeconds, "seconds", 10, "how long docker.service and docker.socket stay stopped (1 to 600)")
	fs.BoolVar(&o.yes, "yes", false, "do not ask for confirmation (needed when stdin is not a terminal)")
}
