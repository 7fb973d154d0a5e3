package ops

import (
	"errors"
	"fmt"

	"github.com/docker-liverestore/dlr/plan"
)

// Kind is what kind of failure an error is: a stable word for --json, which
// cmd/dlr maps to an exit code.
type Kind string

const (
	Failed  Kind = "failed"         // something failed; what was changed has been put back
	Usage   Kind = "usage"          // bad command line
	Refused Kind = "refused"        // a precondition or safety check refused the change
	Invalid Kind = "invalid-config" // daemon.json cannot be read the way dockerd reads it
	Busy    Kind = "busy"           // another dlr run holds the lock
)

// Error is an error of a kind.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func refused(format string, args ...any) error {
	return &Error{Refused, fmt.Errorf(format, args...)}
}

func failed(format string, args ...any) error {
	return &Error{Failed, fmt.Errorf(format, args...)}
}

func usage(format string, args ...any) error {
	return &Error{Usage, fmt.Errorf(format, args...)}
}

func invalid(err error) error { return &Error{Invalid, err} }

func busy(err error) error { return &Error{Busy, err} }

// KindOf returns an error's kind (Failed for an error of no kind). A change
// that was undone is never a usage error.
func KindOf(err error) Kind {
	var e *Error
	if !errors.As(err, &e) {
		return Failed
	}
	var u *plan.UnwindError
	if e.Kind == Usage && errors.As(err, &u) {
		return Failed
	}
	return e.Kind
}
