package ops

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/plan"
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
	// QuitOnSignal is for commands that change nothing: from now on
	// SIGINT and SIGTERM end the process at once, saying so (a read that
	// blocks cannot hold it).
	QuitOnSignal func(cmd string)
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
	return &Env{Env: h, CatchSignals: func() {}, QuitOnSignal: func(string) {}, Progress: noProgress{}, Wait: sleepTicking}
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
	// preflight: read apt's hook protocol on stdin
	AptHook bool
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
	if e.T.Lock <= 0 {
		return nil, usage("--lock-timeout %v: want a positive duration, such as 30s", e.T.Lock)
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

// CheckConfigFlag is the rule for a daemon.json path given with --config
// (given says the flag was on the command line): absolute, naming a file
// (no trailing slash), in a directory that exists (dlr creates only
// /etc/docker, for Docker installed after dlr). The path may hold blanks:
// dlr's drop-in quotes it.
func CheckConfigFlag(path string, given bool) error {
	switch {
	case !given:
		return nil
	case path == "":
		return usage("--config \"\": name daemon.json's path, or leave --config out for dockerd's own")
	case !filepath.IsAbs(path):
		return usage("--config %q: give an absolute path (dockerd and dlr's hooks do not run in this directory)", path)
	case strings.HasSuffix(path, "/"):
		return usage("--config %q: name a file, not a directory", path)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return usage("--config %q: the directory %s does not exist", path, filepath.Dir(path))
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return usage("--config %q: a directory, not a file", path)
	}
	return nil
}

// loadState loads dlr's state. A dry run that may not read it (it is
// root's, mode 0700) plans as if there were none, and says so: --dry-run
// needs no root.
func (e *Env) loadState(o Options, r *Report) (state.State, error) {
	st, err := state.Store{Dir: e.Path(host.StateDir)}.Load()
	switch {
	case err == nil:
		return st, nil
	case o.DryRun && errors.Is(err, fs.ErrPermission):
		r.Warn("cannot read dlr's state as this user (%v): this plan assumes dlr has changed nothing; run as root for the exact plan", err)
		return state.State{Version: 1}, nil
	}
	return st, failed("%v", err)
}

// apply runs the steps of a change (or, with --dry-run, describes them):
// the one way enable, disable, set and unset carry out their plans.
func (e *Env) apply(ctx context.Context, o Options, f *host.Facts, cfg *host.Config, st state.State, live bool, op string, steps []plan.Step, r *Report) error {
	if o.DryRun {
		plan.Describe(r, steps)
		return nil
	}
	x := plan.NewExec(e.Env, f, cfg, st, r, op, live)
	if err := x.Run(ctx, steps); err != nil {
		return err
	}
	if err := x.Commit(); err != nil {
		return failed("%v", err)
	}
	r.Changed = x.Changed
	return nil
}

// begin is the start of every command that changes daemon.json, after the
// lock: dlr's state (an earlier run's cut-short rollback finished first),
// then the host. config is the daemon.json to use ("" = found as dockerd
// finds it) and source how it was chosen ("" = by that finding).
func (e *Env) begin(ctx context.Context, o Options, config, source string, st *state.State, r *Report) (*host.Facts, bool, error) {
	if err := e.finishRollback(o, st, r); err != nil {
		return nil, false, err
	}
	return e.observeForChange(ctx, o, config, source, r)
}

// finishRollback finishes an earlier run's rollback that a kill cut short
// (plan.FinishRollback); a dry run only says it would.
func (e *Env) finishRollback(o Options, st *state.State, r *Report) error {
	if p := st.Pending; p != nil && p.Step == "rollback" && o.DryRun {
		r.Warn("an earlier dlr %s (PID %d) was killed while it put %s back; a run without --dry-run finishes that first", p.Op, p.PID, p.Path)
		return nil
	}
	if err := plan.FinishRollback(state.Store{Dir: e.Path(host.StateDir)}, st, r); err != nil {
		return failed("%v", err)
	}
	return nil
}

// readConfig reads daemon.json; what makes an edit unsafe is an
// invalid-config error naming the file. A file with hard links is refused
// before anything is changed: replacing it (by rename, the one atomic way)
// would split them.
func readConfig(path string) (*host.Config, error) {
	c, err := host.ReadConfig(path)
	if err != nil {
		return nil, invalid(err)
	}
	if c.Links > 1 {
		return nil, refused("%s has %d hard links: dlr replaces the file atomically (a new inode), which would leave its other names with the old content; make it a single file, or a symlink (which dlr follows)", c.Target, c.Links)
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
