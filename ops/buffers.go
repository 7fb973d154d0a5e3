package ops

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/plan"
	"github.com/docker-liverestore/dlr/sysctl"
)

// bufferSizes works out the size of each stream and the budget from the
// options, fs.pipe-max-size and MemTotal.
func (e *Env) bufferSizes(o Options) (target, budget int64, err error) {
	pipeMax, err := sysctl.Running(e.Path(host.ProcSysDir), sysctl.Key)
	if err != nil {
		return 0, 0, failed("reading fs.pipe-max-size: %v", err)
	}
	var size, total uint64
	if o.Size != "" {
		if size, err = sysctl.ParseSize(o.Size); err != nil {
			return 0, 0, usage("--size: %v", err)
		}
	}
	if o.Budget != "" {
		if total, err = sysctl.ParseSize(o.Budget); err != nil {
			return 0, 0, usage("--budget: %v", err)
		}
	}
	target, budget, err = buffers.Sizes(size, total, o.Size, o.Budget, pipeMax, func() (int64, error) { return buffers.MemTotal(e.Path(host.ProcDir)) })
	switch {
	case errors.Is(err, buffers.ErrBadSize):
		return 0, 0, &Error{Usage, err}
	case errors.Is(err, buffers.ErrAbovePipeMax):
		return 0, 0, &Error{Refused, err}
	case err != nil:
		return 0, 0, &Error{Failed, err}
	}
	return target, budget, nil
}

// Buffers is `dlr buffers`: grow the log FIFOs of every running container
// and exec session to the target size within the budget. It changes no
// file and talks to no daemon (it runs as docker.service's ExecStop, where
// it must never hold up a stop). Streams that could not be grown make it
// fail (exit 1) after the others were grown.
func Buffers(ctx context.Context, e *Env, o Options, r *Report) error {
	target, budget, err := e.bufferSizes(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.T.Grow)
	defer cancel()
	dir, source, warnings := e.ExecRoot(o.ExecRoot, o.Config, e.DockerdCmdline(0))
	for _, w := range warnings {
		r.Warn("%s", w)
	}
	rep, err := buffers.Grow(ctx, buffers.Options{ExecRoot: dir, Target: target, Budget: budget})
	r.Buffers = rep
	if plan.DescribeGrowth(r, rep, source) {
		r.Changed = true
	}
	if err != nil {
		return failed("growing the log FIFOs under %s: %v", buffers.Dir(dir), err)
	}
	if rep.Failed > 0 {
		return failed("%d of %d log FIFOs could not be grown (see above)", rep.Failed, len(rep.Streams))
	}
	return nil
}

// Watch is `dlr watch` (docker-liverestore.service): the watcher of
// package buffers, told by systemd whether dockerd runs. It logs to log and
// runs until ctx ends (SIGTERM), which is no error.
func Watch(ctx context.Context, e *Env, o Options, log io.Writer) error {
	target, budget, err := e.bufferSizes(o)
	if err != nil {
		return err
	}
	// No chroot check here (enable's reads /proc/1/root, which needs
	// CAP_SYS_PTRACE, and the unit does not grant it): a watcher started by
	// systemd runs on the host.
	_, err = os.Stat(e.Path(host.RunSystemd))
	r := &running{e: e, systemd: err == nil}
	defer r.close()
	w := &buffers.Watcher{
		Target: target, Budget: budget, Log: log,
		Running: r.dockerd,
		Locate: func(pid int) (string, string, string, []string) {
			c := e.DockerdCmdline(pid)
			var sources []host.Cmdline
			if len(c.Args) > 0 {
				sources = append(sources, c)
			}
			dir, source, warnings := e.ExecRoot(o.ExecRoot, o.Config, c)
			return e.SocketOf(sources), dir, source, warnings
		},
		Events:      e.Events,
		PipeMax:     func() (uint64, error) { return sysctl.Running(e.Path(host.ProcSysDir), sysctl.Key) },
		Poll:        e.T.Poll,
		BackoffMin:  e.T.Poll,
		BackoffMax:  e.T.Backoff,
		GrowTimeout: e.T.Grow,
	}
	rw := newRestoreWatch(e, o, log)
	w.Connected, w.Changed, w.Lost = rw.connected, rw.changed, rw.lost
	done := make(chan struct{})
	go func() { rw.run(ctx); close(done) }()
	err = w.Run(ctx)
	<-done
	return err
}

// running tells the watcher whether dockerd runs, so that connecting to
// its socket cannot start it: with systemd, docker.service is active (or
// reloading) and its main process is a live dockerd. Without systemd there
// is no socket activation: yes. It keeps one D-Bus connection, and reads
// docker.service's state only: it never starts, stops or restarts anything.
type running struct {
	e       *Env
	systemd bool
	sd      host.Systemd
}

func (r *running) close() {
	if r.sd != nil {
		r.sd.Close()
		r.sd = nil
	}
}

func (r *running) dockerd(ctx context.Context) (int, bool, string) {
	e := r.e
	if !r.systemd {
		return 0, true, ""
	}
	if r.sd == nil {
		cctx, cancel := context.WithTimeout(ctx, e.T.Call)
		sd, err := e.DialSystemd(cctx)
		cancel()
		if err != nil {
			return 0, false, "cannot reach systemd over D-Bus: " + err.Error()
		}
		r.sd = sd
	}
	cctx, cancel := context.WithTimeout(ctx, e.T.Call)
	u, err := r.sd.Unit(cctx, host.DockerService)
	cancel()
	if err != nil {
		r.close()
		return 0, false, "reading " + host.DockerService + ": " + err.Error()
	}
	if u.ActiveState != "active" && u.ActiveState != "reloading" {
		return 0, false, host.DockerService + " is " + u.ActiveState + "; waiting"
	}
	if u.MainPID == 0 || !e.IsDockerd(int(u.MainPID)) {
		return 0, false, host.DockerService + " is " + u.ActiveState + " but its main process " + itoa(int(u.MainPID)) + " is not a live dockerd; waiting"
	}
	return int(u.MainPID), true, host.DockerService + " is " + u.ActiveState + " (PID " + itoa(int(u.MainPID)) + ")"
}
