package plan

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker-liverestore/dlr/engine"
	"github.com/docker-liverestore/dlr/host"
)

// Verify says when dockerd runs with a change: the one reload-and-verify
// of every command (enable, disable, set, unset, and the undo of each).
type Verify struct {
	// What names the change in messages ("live restore enabled").
	What string
	// Done reports whether /info shows the change.
	Done func(host.Info) bool
	// Event, if set, recognises a "reload" event of dockerd's that shows
	// the change (it carries the configuration it now runs with): seen
	// before /info is polled again.
	Event func(engine.Event) bool
	// Settle: accept no earlier than this after the reload, and only once
	// dockerd's log holds no configuration error since (for keys /info
	// cannot show).
	Settle time.Duration
	// Timeout bounds the wait (the verify timeout if 0).
	Timeout time.Duration
	// Quiet: say nothing in the report (an undo's reload, which its
	// "Put back" list reports).
	Quiet bool
}

// LiveRestore is the Verify for live restore on (or off), within the verify
// timeout.
func LiveRestore(on bool) Verify { return liveRestoreIs(on, 0) }

func liveRestoreIs(on bool, timeout time.Duration) Verify {
	return Verify{
		Quiet:   timeout != 0,
		What:    "live restore " + onOff(on),
		Done:    func(i host.Info) bool { return i.LiveRestore == on },
		Event:   func(e engine.Event) bool { return e.Actor.Attributes["live-restore"] == strconv.FormatBool(on) },
		Timeout: timeout,
	}
}

// NotAppliedError: the reload was sent but dockerd did not show the change
// in time.
type NotAppliedError struct{ msg string }

func (e *NotAppliedError) Error() string { return e.msg }

// Reload is the step that reloads dockerd and waits until Verify holds.
// Systemd's daemon-reload for a drop-in changed by an earlier step runs
// alongside (they are independent, and one after the other doubled the
// time of turning live restore on). Its undo is the undo of the file
// writes (which reload again).
type Reload struct {
	// How says how dockerd is reloaded here (host.Facts.ReloadHow).
	How string
	V   Verify
}

func (s Reload) Describe(r Recorder) {
	r.Action("%s and wait until dockerd reports %s", s.How, s.V.What)
}

func (s Reload) Apply(ctx context.Context, x *Exec) error {
	if !x.daemonReloadDue {
		return x.ReloadVerify(ctx, s.V)
	}
	x.daemonReloadDue = false
	done := make(chan error, 1)
	go func() { done <- x.daemonReload(ctx) }()
	err := x.ReloadVerify(ctx, s.V)
	if drErr := <-done; drErr != nil {
		return drErr
	}
	if x.HoldDaemonReload != "" {
		return err
	}
	x.R.Action("systemctl daemon-reload (over D-Bus, alongside): systemd read the drop-in; dockerd was not touched")
	return err
}

func (s Reload) Undo(ctx context.Context, x *Exec) ([]string, error) { return nil, nil }

// ReloadVerify asks systemd to reload the Docker unit (SIGHUP to dockerd's
// PID without systemd), then waits until dockerd shows the change: its
// reload event, or /info polled (5 ms, doubling to every 100 ms). A reload
// job that is "done" only means the signal was sent. Every second (and at
// Settle) dockerd's log is read: an error about the configuration ends the
// wait at once.
func (x *Exec) ReloadVerify(ctx context.Context, v Verify) error {
	env, f := x.Env, x.Facts
	since := env.Now()
	timeout := v.Timeout
	if timeout == 0 {
		timeout = env.T.Verify
	}
	vctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var seen <-chan struct{}
	if v.Event != nil {
		seen = x.watchReloadEvent(vctx, v.Event)
	}
	if err := x.reload(ctx); err != nil {
		return err
	}
	say := x.R.Action
	if v.Quiet {
		say = func(string, ...any) {}
	}
	say("reloaded %s (dockerd re-read its configuration; nothing was restarted)", f.Name())
	start := time.Now()
	nextLog := start.Add(time.Second)
	if v.Settle > 0 {
		nextLog = start.Add(v.Settle)
	}
	configErr := func(ctx context.Context) error {
		for _, l := range env.Journal(ctx, f.Service, since) {
			// Only an error about the configuration ("unable to configure
			// the Docker daemon with file ..."): an unrelated error logged
			// meanwhile must not undo a good change.
			if strings.Contains(strings.ToLower(l), "configur") {
				return fmt.Errorf("dockerd rejected the new configuration: %s", l)
			}
		}
		return nil
	}
	var last error
	var poll backoff
	next := time.After(0)
	if seen != nil {
		poll.d = 100 * time.Millisecond
		next = time.After(poll.d)
	}
	for {
		select {
		case <-vctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted while waiting for dockerd to report %s: %w", v.What, ctx.Err())
			}
			msg := fmt.Sprintf("dockerd did not report %s within %s after the reload", v.What, timeout)
			if lines := env.Journal(context.WithoutCancel(ctx), f.Service, since); len(lines) > 0 {
				msg += "; its log says: " + strings.Join(lines, " | ")
			} else if last != nil {
				msg += "; last error: " + last.Error()
			}
			return &NotAppliedError{msg}
		case <-seen:
			if v.Settle == 0 {
				say("verified: dockerd's reload event reports %s", v.What)
				return nil
			}
			seen = nil
		case <-next:
			next = time.After(poll.next())
			i, err := env.Info(vctx, f.Socket)
			if err != nil {
				last = err
			}
			due := time.Now().After(nextLog)
			if err == nil && v.Done(i) && (v.Settle == 0 || due) {
				if v.Settle > 0 {
					if err := configErr(vctx); err != nil {
						return err
					}
				}
				say("verified: dockerd reports %s", v.What)
				return nil
			}
			if due && v.Settle == 0 {
				nextLog = time.Now().Add(time.Second)
				if err := configErr(vctx); err != nil {
					return err
				}
			}
		}
	}
}

// watchReloadEvent opens dockerd's event stream for its "reload" events and
// returns a channel that is closed once one matches; nil when the stream
// cannot be opened. The stream ends with ctx.
func (x *Exec) watchReloadEvent(ctx context.Context, match func(engine.Event) bool) <-chan struct{} {
	if x.Env.Events == nil {
		return nil
	}
	stream, err := x.Env.Events(x.Facts.Socket).Events(ctx, map[string][]string{"type": {"daemon"}, "event": {"reload"}})
	if err != nil {
		return nil
	}
	seen := make(chan struct{})
	go func() {
		defer stream.Close()
		for {
			ev, err := stream.Next()
			if err != nil {
				return
			}
			if ev.Verb() == "reload" && match(ev) {
				close(seen)
				return
			}
		}
	}()
	return seen
}

// reload asks systemd to reload the Docker unit, or sends SIGHUP to
// dockerd without systemd.
func (x *Exec) reload(ctx context.Context) error {
	env, f := x.Env, x.Facts
	x.Reloaded = true
	if f.Systemd && f.SD != nil {
		rctx, cancel := context.WithTimeout(ctx, env.T.Reload)
		defer cancel()
		if err := f.SD.Reload(rctx, f.Service); err != nil {
			return fmt.Errorf("reloading %s: %w", f.Service, err)
		}
		return nil
	}
	if f.PID > 0 {
		if err := env.Signal(f.PID, syscall.SIGHUP); err != nil {
			return fmt.Errorf("sending SIGHUP to dockerd (PID %d): %w", f.PID, err)
		}
		return nil
	}
	return errNoReload
}

// daemonReload asks systemd to re-read its units, unless HoldDaemonReload
// says why not (GPU containers would lose their devices): then it only says
// so.
func (x *Exec) daemonReload(ctx context.Context) error {
	if x.HoldDaemonReload != "" {
		x.R.Note("not running systemctl daemon-reload: %s; the change takes effect at the next daemon-reload or boot", x.HoldDaemonReload)
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, x.Env.T.Reload)
	defer cancel()
	x.DaemonReloaded = true // systemd may have re-read the units
	if err := x.Facts.SD.DaemonReload(cctx); err != nil {
		return fmt.Errorf("systemd daemon-reload: %w", err)
	}
	return nil
}

// dueDaemonReload marks a daemon-reload as needed for the drop-in at path:
// done by the Reload step alongside docker's reload, or by DaemonReload.
func (x *Exec) dueDaemonReload(path string) {
	if x.Live && x.Facts.SD != nil {
		x.daemonReloadDue = true
	} else if x.Live {
		x.R.Note("systemd is not reachable: run 'systemctl daemon-reload' for %s to take effect", path)
	}
}

// DaemonReload is the step that asks systemd to re-read its units if a
// drop-in change is waiting for it (a Reload step does it alongside).
type DaemonReload struct{}

func (DaemonReload) Describe(Recorder) {}

func (DaemonReload) Apply(ctx context.Context, x *Exec) error {
	if !x.daemonReloadDue {
		return nil
	}
	x.daemonReloadDue = false
	if err := x.daemonReload(ctx); err != nil || x.HoldDaemonReload != "" {
		return err
	}
	x.R.Action("systemctl daemon-reload (over D-Bus): systemd read the drop-in; dockerd was not touched")
	return nil
}

func (DaemonReload) Undo(context.Context, *Exec) ([]string, error) { return nil, nil }

func onOff(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

// backoff paces the polling of /info after a reload: dockerd applies a
// reload within milliseconds, so the first checks come quickly (5 ms,
// doubling) and later ones every 100 ms.
type backoff struct{ d time.Duration }

func (b *backoff) next() time.Duration {
	switch {
	case b.d == 0:
		b.d = 5 * time.Millisecond
	case b.d < 100*time.Millisecond:
		b.d = min(2*b.d, 100*time.Millisecond)
	}
	return b.d
}
