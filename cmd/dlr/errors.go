package main

import "github.com/docker-liverestore/dlr/ops"

// Exit codes. They are part of dlr's interface (README "Exit codes").
const (
	exitOK      = 0 // done, whether or not anything changed
	exitFailed  = 1 // something failed; what was changed has been put back
	exitUsage   = 2 // bad command line
	exitRefused = 3 // a precondition or safety check refused the change
	exitInvalid = 4 // daemon.json cannot be read the way dockerd reads it
	exitBusy    = 5 // another dlr run holds the lock
)

// codes maps each kind of failure to its exit code.
var codes = map[ops.Kind]int{
	ops.Failed:  exitFailed,
	ops.Usage:   exitUsage,
	ops.Refused: exitRefused,
	ops.Invalid: exitInvalid,
	ops.Busy:    exitBusy,
}

// codeOf maps an error to the process exit code and its kind.
func codeOf(err error) (int, string) {
	if err == nil {
		return exitOK, ""
	}
	k := ops.KindOf(err)
	return codes[k], string(k)
}
