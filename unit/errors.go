package unit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	godbus "github.com/godbus/dbus/v5"
)

// The kinds of failure. Every error returned by a [Conn] method matches at
// most one of them with errors.Is; an error that matches none (for example
// systemd refusing to reload a unit that cannot be reloaded) is still an
// [*Error] carrying the D-Bus error name.
var (
	// ErrNoBus means systemd could not be reached over D-Bus: the system bus
	// socket is missing or refuses the connection, the bus does not answer,
	// systemd is not connected to it, or the connection was lost.
	ErrNoBus = errors.New("systemd's D-Bus API is not reachable " +
		"(check that systemd is PID 1, that dbus is running: systemctl status dbus, " +
		"and that $DBUS_SYSTEM_BUS_ADDRESS, if set, is right)")

	// ErrAccessDenied means the bus or systemd refused the call
	// (org.freedesktop.DBus.Error.AccessDenied, or
	// org.freedesktop.DBus.Error.InteractiveAuthorizationRequired when
	// polkit would have asked for a password).
	ErrAccessDenied = errors.New("access denied (only root may manage units: run dlr as root)")

	// ErrNoSuchUnit means systemd has no unit by that name
	// (org.freedesktop.systemd1.NoSuchUnit) or, for [Conn.Unit], that
	// systemd rejected the name as invalid.
	ErrNoSuchUnit = errors.New("no such unit")

	// ErrTimeout means the context's deadline passed before systemd answered
	// the call or reported the job's result, or the bus gave up waiting for
	// systemd (org.freedesktop.DBus.Error.NoReply, .Timeout, .TimedOut).
	ErrTimeout = errors.New("timed out")

	// ErrJobFailed is matched by a [*JobError]: systemd ran the job and it
	// finished with a result other than "done".
	ErrJobFailed = errors.New("job did not finish with result \"done\"")
)

// D-Bus error names that decide an error's kind.
const (
	nameAccessDenied     = "org.freedesktop.DBus.Error.AccessDenied"
	nameInteractiveAuth  = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
	nameNoSuchUnit       = "org.freedesktop.systemd1.NoSuchUnit"
	nameUnknownObject    = "org.freedesktop.DBus.Error.UnknownObject"
	nameInvalidArgs      = "org.freedesktop.DBus.Error.InvalidArgs"
	nameServiceUnknown   = "org.freedesktop.DBus.Error.ServiceUnknown"
	nameNameHasNoOwner   = "org.freedesktop.DBus.Error.NameHasNoOwner"
	nameDisconnected     = "org.freedesktop.DBus.Error.Disconnected"
	nameSpawnPrefix      = "org.freedesktop.DBus.Error.Spawn."
	nameNoReply          = "org.freedesktop.DBus.Error.NoReply"
	nameTimeout          = "org.freedesktop.DBus.Error.Timeout"
	nameTimedOut         = "org.freedesktop.DBus.Error.TimedOut"
	nameNoServer         = "org.freedesktop.DBus.Error.NoServer"
	nameAuthFailed       = "org.freedesktop.DBus.Error.AuthFailed"
	systemdBusName       = "org.freedesktop.systemd1"
	systemdManagerIface  = "org.freedesktop.systemd1.Manager"
	systemdUnitIface     = "org.freedesktop.systemd1.Unit"
	systemdServiceSuffix = ".service"
)

// Error is a failed call to systemd or to the bus.
type Error struct {
	// Op names the call and its argument, e.g. "ReloadUnit docker.service".
	Op string
	// Name is the D-Bus error name of the reply, e.g.
	// "org.freedesktop.systemd1.NoSuchUnit"; empty when the call failed
	// without one (no connection, deadline passed).
	Name string
	// Kind is ErrNoBus, ErrAccessDenied, ErrNoSuchUnit, ErrTimeout, or nil.
	Kind error
	// Err is the cause: a godbus.Error, a context error, a network error.
	Err error
}

// Error reads "systemd: OP: KIND: CAUSE (NAME)", leaving out what is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("systemd: ")
	b.WriteString(e.Op)
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(e.Kind.Error())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Name != "" && (e.Err == nil || !strings.Contains(e.Err.Error(), e.Name)) {
		fmt.Fprintf(&b, " (%s)", e.Name)
	}
	return b.String()
}

// Unwrap returns Kind and Err, so that errors.Is matches both the kind
// (ErrTimeout) and the cause (context.DeadlineExceeded).
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// JobError reports a job that systemd ran and finished with a result other
// than "done". It matches [ErrJobFailed].
type JobError struct {
	// Op names the call that queued the job, e.g. "ReloadUnit docker.service".
	Op string
	// Unit is the unit the job was for.
	Unit string
	// JobID is systemd's job number (0 if systemd's job path was unusual).
	JobID int
	// Result is systemd's job result: "canceled", "timeout", "failed",
	// "dependency", "skipped", "invalid", "assert", "unsupported",
	// "collected", "once", "frozen", or whatever a newer systemd reports.
	Result string
}

// Error says which job ended how, and where to look next.
func (e *JobError) Error() string {
	return fmt.Sprintf("systemd: %s: job %d finished with result %q, not \"done\" (see: systemctl status %s; journalctl -u %s)",
		e.Op, e.JobID, e.Result, e.Unit, e.Unit)
}

// Is reports whether target is ErrJobFailed.
func (e *JobError) Is(target error) bool { return target == ErrJobFailed }

// dbusErrorName returns the D-Bus error name carried by err, or "".
func dbusErrorName(err error) string {
	var v godbus.Error
	if errors.As(err, &v) {
		return v.Name
	}
	var p *godbus.Error
	if errors.As(err, &p) && p != nil {
		return p.Name
	}
	return ""
}

// kindOf classifies a failed call by its D-Bus error name, then by its cause.
func kindOf(name string, err error) error {
	switch {
	case name == nameAccessDenied, name == nameInteractiveAuth, name == nameAuthFailed:
		return ErrAccessDenied
	case name == nameNoSuchUnit:
		return ErrNoSuchUnit
	case name == nameServiceUnknown, name == nameNameHasNoOwner, name == nameDisconnected,
		name == nameNoServer, strings.HasPrefix(name, nameSpawnPrefix):
		return ErrNoBus
	case name == nameNoReply, name == nameTimeout, name == nameTimedOut:
		return ErrTimeout
	case name != "":
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return ErrTimeout
	case errors.Is(err, godbus.ErrClosed):
		return ErrNoBus
	}
	return nil
}

// callError wraps the failure of call op.
func callError(op string, err error) *Error {
	name := dbusErrorName(err)
	return &Error{Op: op, Name: name, Kind: kindOf(name, err), Err: err}
}
