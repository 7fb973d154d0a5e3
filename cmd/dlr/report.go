package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// schemaVersion is the version of dlr's --json output. Fields are only ever
// added within a version; a change to an existing field's meaning bumps it.
const schemaVersion = 1

// report is the outcome of one command, printed as text or as JSON
// (README "JSON output").
type report struct {
	Schema  int    `json:"schema"`
	Command string `json:"command"`
	// OK is true when the command did what was asked (exit code 0).
	OK bool `json:"ok"`
	// Changed is true when a file or the running daemon was changed.
	Changed bool `json:"changed"`
	DryRun  bool `json:"dry_run,omitempty"`
	// Config is the daemon.json path and how it was found.
	Config       string `json:"config,omitempty"`
	ConfigSource string `json:"config_source,omitempty"`
	// LiveRestore: the value in the file before and after, and in the
	// running daemon after ("" when unknown).
	LiveRestore *liveRestoreReport `json:"live_restore,omitempty"`
	// Actions lists what was done (or, with --dry-run, would be done).
	Actions []string `json:"actions"`
	// Diffs maps a path to the unified diff of the change (--dry-run).
	Diffs    map[string]string `json:"diffs,omitempty"`
	Notes    []string          `json:"notes,omitempty"`
	Warnings []string          `json:"warnings,omitempty"`
	Error    *errorReport      `json:"error,omitempty"`
	Status   *statusReport     `json:"status,omitempty"`
	Buffers  *buffersReport    `json:"buffers,omitempty"` // dlr buffers (buffers.go)
	Validate *validateReport   `json:"validate,omitempty"`
	Check    *checkReport      `json:"check,omitempty"`
	Drill    *drillReport      `json:"drill,omitempty"` // dlr drill (drill.go)

	diffOrder []string
}

type liveRestoreReport struct {
	FileBefore string `json:"file_before"` // "true", "false", "absent", "no-file"
	FileAfter  string `json:"file_after"`
	Daemon     string `json:"daemon"` // "true", "false", "" (not checked)
	Flag       string `json:"flag,omitempty"`
}

type errorReport struct {
	ExitCode int    `json:"exit_code"`
	Kind     string `json:"kind"`
	Message  string `json:"message"`
}

func newReport(cmd string) *report {
	return &report{Schema: schemaVersion, Command: cmd, Actions: []string{}}
}

func (r *report) action(format string, args ...any) {
	r.Actions = append(r.Actions, fmt.Sprintf(format, args...))
}

func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *report) warn(format string, args ...any) {
	r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...))
}

func (r *report) diff(path, d string) {
	if d == "" {
		return
	}
	if r.Diffs == nil {
		r.Diffs = map[string]string{}
	}
	if _, ok := r.Diffs[path]; !ok {
		r.diffOrder = append(r.diffOrder, path)
	}
	r.Diffs[path] = d
}

func (r *report) writeJSON(w io.Writer) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(r)
}

// writeText prints the report for a person: what was done, then notes and
// warnings, then the error with what to do next.
func (r *report) writeText(stdout, stderr io.Writer) {
	for _, p := range r.diffOrder {
		fmt.Fprint(stdout, r.Diffs[p])
	}
	prefix := ""
	if r.DryRun {
		prefix = "would: "
	}
	for _, a := range r.Actions {
		fmt.Fprintf(stdout, "%s%s\n", prefix, a)
	}
	if r.Status != nil {
		r.Status.writeText(stdout)
	}
	if r.Validate != nil {
		r.Validate.writeText(stdout)
	}
	if r.Check != nil {
		r.Check.writeText(colourLines(stdout)) // PASS/WARN/FAIL coloured on a terminal (colour.go)
	}
	if r.Drill != nil {
		r.Drill.writeText(stdout)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(stdout, "%s\n", n)
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(stderr, colourFor(stderr)(yellow, "dlr: warning: "+w))
	}
	if r.Error != nil {
		msg := r.Error.Message
		if r.Error.Kind == "refused" {
			msg = "refused: " + msg
		}
		fmt.Fprintln(stderr, errorLine(stderr, fmt.Sprintf("dlr %s: %s", r.Command, strings.TrimSpace(msg))))
	}
}
