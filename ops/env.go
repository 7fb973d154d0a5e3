package ops

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/state"
)

// Env is the host plus what the commands need of the process: the signal
// handler, the terminal (the drill's question and progress line).
type Env struct {
	*host.Env
	// CatchSignals makes SIGINT and SIGTERM cancel the command's context
	// from now on. Commands call it before they change anything: until
	// then a signal just ends the process, which has done nothing.
	// Installing the handler costs a thread, a measurable part of a run
	// that has nothing to do (enable on an enabled host).
	CatchSignals func()
	// Stdin, Terminal: where the drill reads its confirmation, and
	// whether that is a person at a terminal.
	Stdin    io.Reader
	Terminal bool
	Prompt   io.Writer // where the question goes (stderr)
	Progress Progress
	// Wait sleeps d or until ctx ends, calling tick about once a second
	// (the drill's outage).
	Wait func(ctx context.Context, d time.Duration, tick func(left time.Duration)) error
}

// Progress is a line on a terminal, rewritten while dlr waits.
type Progress interface {
	Show(format string, args ...any)
	Done()
}

type noProgress struct{}

func (noProgress) Show(string, ...any) {}
func (noProgress) Done()               {}

// NewEnv wraps a host with no-op process hooks.
func NewEnv(h *host.Env) *Env {
	return &Env{Env: h, CatchSignals: func() {}, Progress: noProgress{}, Wait: sleepTicking}
}

// Options are the command-line options of every command (each uses its
// own).
type Options struct {
	Config      string
	DryRun      bool
	NoReload    bool
	Quiet       bool
	Force       bool
	PipeMaxSize string
	IfUnknown   string
	// buffers and watch
	Size, Budget, ExecRoot string
	// drill
	Seconds int
	Yes     bool
	// watch, drill: do not re-arm frozen health checks (pause/unpause)
	NoRearm bool
}

// mutate is the start of every command that changes the host: it needs
// root, and takes dlr's lock so that runs do not interleave. A dry run needs
// neither.
func (e *Env) mutate(ctx context.Context, o Options, cmd string) (unlock func(), err error) {
	if o.DryRun {
		return func() {}, nil
	}
	if e.Euid() != 0 {
		return nil, refused("dlr %s changes system files and needs root: run it with sudo (or use --dry-run to see what it would do)", cmd)
	}
	lctx, cancel := context.WithTimeout(ctx, e.T.Lock)
	defer cancel()
	unlock, err = state.Lock(lctx, e.Path(host.LockFile))
	if errors.Is(err, state.ErrLockTimeout) {
		return nil, busy(err)
	}
	if err != nil {
		return nil, failed("%v", err)
	}
	return unlock, nil
}

// observeForChange is Observe for a command that changes the host: it
// needs systemd's D-Bus unless no daemon is to be touched, and puts what it
// found in the report (the daemon.json path and where it came from, or
// source when given; warnings; a chroot). live says whether the running
// system may be touched: not with --no-reload, and not where
// host.ServicesBlocked says so (an image build, policy-rc.d, a chroot).
func (e *Env) observeForChange(ctx context.Context, o Options, config, source string, r *Report) (f *host.Facts, live bool, err error) {
	live = !o.NoReload
	blocked := ""
	if live {
		blocked = e.ServicesBlocked(ctx, false)
		live = blocked == ""
	}
	f, err = e.Observe(ctx, config, live && !o.DryRun)
	if err != nil {
		return nil, false, &Error{Failed, err}
	}
	if source != "" {
		f.ConfigSource = source
	}
	r.Config, r.ConfigSource = f.Config, f.ConfigSource
	r.Warnings = append(r.Warnings, f.Warnings...)
	switch {
	case f.Chroot:
		r.Note("%s: writing files only, no daemon is touched", f.ChrootWhy)
		live = false
	case blocked != "":
		r.Note("%s: writing files only, no daemon is touched", blocked)
	}
	return f, live, nil
}

// readConfig reads daemon.json; what makes an edit unsafe is an
// invalid-config error naming the file.
func readConfig(path string) (*host.Config, error) {
	c, err := host.ReadConfig(path)
	if err != nil {
		return nil, invalid(err)
	}
	return c, nil
}

// sleepTicking sleeps d or until ctx ends, calling tick every second.
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

func boolWord(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func itoa(n int) string { return strconv.Itoa(n) }
