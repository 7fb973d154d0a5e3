package plan

import (
	"context"
	"errors"
	"strings"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/state"
)

// Recorder is where steps say what they did, or would do (ops.Report is
// one).
type Recorder interface {
	Action(format string, args ...any)
	Note(format string, args ...any)
	Warn(format string, args ...any)
	Diff(path, diff string)
}

// Step is one change to the host.
type Step interface {
	// Describe tells r what Apply would do: diffs and actions.
	Describe(r Recorder)
	// Apply makes the change.
	Apply(ctx context.Context, x *Exec) error
	// Undo puts back what Apply changed. It is called, newest first, for
	// every step whose Apply was called, the failed one included (which
	// must cope with a half-done Apply), and returns what it put back.
	Undo(ctx context.Context, x *Exec) (put []string, err error)
}

// Exec carries out one command's steps: what they share (the host, the
// daemon.json read before the change, dlr's state), what they did, and the
// undo stack.
type Exec struct {
	Env    *host.Env
	Facts  *host.Facts
	Config *host.Config // daemon.json as it was before the change
	Store  state.Store
	State  state.State // the state as the steps update it
	Prior  state.State // the state as loaded, put back by an undo
	R      Recorder
	Op     string // "enable", "disable", "set", "unset"
	// Live: the steps may touch the running system (/proc/sys, systemd,
	// the daemon): not in a chroot and not with --no-reload.
	Live bool

	// Changed: a file or the running system was changed.
	Changed bool
	// StateChanged: dlr's state was changed (Commit saves it).
	StateChanged bool
	// Reloaded: dockerd was reloaded (an undo reloads it again).
	Reloaded bool
	// Verified is a record of a full check, saved by Commit.
	Verified *state.Verified

	configWritten   bool     // daemon.json was written (its undo restores it)
	backup          string   // the backup of daemon.json the run took
	rolledBack      bool     // the undo put daemon.json back
	written         []string // SHA-256s of what the run wrote to daemon.json
	configRestored  bool
	daemonReloadDue bool // a drop-in changed and systemd has not re-read it
	// HoldDaemonReload, when set, says why systemd must not re-read its
	// units in this run (GPU containers under the systemd cgroup driver):
	// a daemon-reload due is then only reported.
	HoldDaemonReload string
	DaemonReloaded   bool // a daemon-reload was asked for
	applied          []Step
	waits            []func()
}

// NewExec starts an operation on the state st (as loaded).
func NewExec(env *host.Env, f *host.Facts, cfg *host.Config, st state.State, r Recorder, op string, live bool) *Exec {
	return &Exec{Env: env, Facts: f, Config: cfg, Store: state.Store{Dir: env.Path(host.StateDir)},
		State: st, Prior: st.Clone(), R: r, Op: op, Live: live}
}

// Describe tells r what the steps would do, in the order they would do it.
func Describe(r Recorder, steps []Step) {
	for _, s := range steps {
		s.Describe(r)
	}
}

// Run applies the steps in order. When one fails, every step applied so far
// is undone (newest first) and dlr's state is put back; the error then
// wraps the failure and says what was put back and what could not be.
func (x *Exec) Run(ctx context.Context, steps []Step) error {
	for _, s := range steps {
		x.applied = append(x.applied, s)
		if err := s.Apply(ctx, x); err != nil {
			return x.unwind(ctx, err)
		}
	}
	return nil
}

// Later runs f in the background; the next undo or Commit waits for it.
// Steps use it for what they read from systemd while dockerd reloads.
func (x *Exec) Later(f func()) {
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	x.waits = append(x.waits, func() { <-done })
}

// Wait waits for what Later started.
func (x *Exec) Wait() {
	for _, w := range x.waits {
		w()
	}
	x.waits = nil
}

// UnwindError is a failed change that was undone: Error says what failed,
// what was put back and what could not be; Unwrap gives the failure.
type UnwindError struct {
	Cause error
	msg   string
}

func (e *UnwindError) Error() string { return e.msg }
func (e *UnwindError) Unwrap() error { return e.Cause }

// unwind undoes the applied steps, newest first, even if ctx was cancelled
// (an interrupt must not leave a half-done change).
func (x *Exec) unwind(ctx context.Context, cause error) error {
	ctx = context.WithoutCancel(ctx)
	x.Wait()
	var put, problems []string
	for i := len(x.applied) - 1; i >= 0; i-- {
		p, err := x.applied[i].Undo(ctx, x)
		put = append(put, p...)
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	x.applied = nil
	// An undo of a run that changed nothing writes nothing (and so cannot
	// fail writing).
	if x.Changed || x.StateChanged || !x.State.Equal(x.Prior) {
		prior := x.Prior
		if p := x.State.Pending; p != nil && p.Step == "rollback" && !x.rolledBack {
			// daemon.json could not be put back: keep the mark, so that
			// the next run tries again (FinishRollback).
			prior = prior.Clone()
			prior.Pending = p
		}
		if err := x.Store.Save(prior); err != nil {
			problems = append(problems, "restoring dlr's state: "+err.Error())
		}
	}
	msg := cause.Error()
	if len(put) > 0 {
		msg += ". Put back: " + strings.Join(put, "; ")
	}
	if len(problems) > 0 {
		msg += ". COULD NOT put back: " + strings.Join(problems, "; ")
	}
	if x.Reloaded {
		msg += ". dockerd was reloaded, never restarted; containers were not touched"
	}
	x.Changed = false
	return &UnwindError{Cause: cause, msg: msg}
}

// Commit ends the operation: it clears the pending mark and saves the state
// if anything was changed (or an earlier run's pending mark is to be
// cleared), and saves a new record of a full check. A run that changes
// nothing writes nothing.
func (x *Exec) Commit() error {
	x.Wait()
	if x.Changed || x.StateChanged || x.Prior.Pending != nil {
		x.State.Pending = nil
		// Unsynced: what the operation changed was recorded durably before
		// each step; lost to a power cut, this save leaves the last pending
		// mark, and the next run finishes the job.
		if err := x.Store.SaveUnsynced(x.State); err != nil {
			return err
		}
	}
	if x.Verified != nil {
		// Best effort: without the record the next run takes the full path.
		if err := x.Store.SaveVerified(*x.Verified); err != nil {
			x.R.Warn("dlr's record of this check was not saved: %v", err)
		}
	}
	return nil
}

// Func is a step made of functions, for steps that only one command has.
// A nil field does nothing.
type Func struct {
	Desc func(r Recorder)
	Do   func(ctx context.Context, x *Exec) error
	Back func(ctx context.Context, x *Exec) ([]string, error)
}

func (f Func) Describe(r Recorder) {
	if f.Desc != nil {
		f.Desc(r)
	}
}

func (f Func) Apply(ctx context.Context, x *Exec) error {
	if f.Do == nil {
		return nil
	}
	return f.Do(ctx, x)
}

func (f Func) Undo(ctx context.Context, x *Exec) ([]string, error) {
	if f.Back == nil {
		return nil, nil
	}
	return f.Back(ctx, x)
}

// errNoReload: neither systemd nor a pid file.
var errNoReload = errors.New("no way to reload dockerd: neither systemd nor a pid file")
