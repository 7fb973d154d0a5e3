package main

import (
	"errors"
	"fmt"
)

// Exit codes. They are part of dlr's interface (README "Exit codes").
const (
	exitOK      = 0 // done, whether or not anything changed
	exitFailed  = 1 // something failed; what was changed has been put back
	exitUsage   = 2 // bad command line
	exitRefused = 3 // a precondition or safety check refused the change
	exitInvalid = 4 // daemon.json cannot be read the way dockerd reads it
	exitBusy    = 5 // another dlr run holds the lock
)

// exitError carries an exit code and a kind (a stable word for --json) with
// the error that caused it.
type exitError struct {
	code int
	kind string
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func refused(format string, args ...any) error {
	return &exitError{exitRefused, "refused", fmt.Errorf(format, args...)}
}

func failed(format string, args ...any) error {
	return &exitError{exitFailed, "failed", fmt.Errorf(format, args...)}
}

func usage(format string, args ...any) error {
	return &exitError{exitUsage, "usage", fmt.Errorf(format, args...)}
}

func invalid(err error) error {
	return &exitError{exitInvalid, "invalid-config", err}
}

func busy(err error) error {
	return &exitError{exitBusy, "busy", err}
}

// codeOf maps an error to the process exit code and its kind.
func codeOf(err error) (int, string) {
	if err == nil {
		return exitOK, ""
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code, e.kind
	}
	return exitFailed, "failed"
}
