package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// The formats of dlr's files, each the newest this dlr reads and the one
// it writes. A file without a version is format 1: what dlr wrote before
// its files carried one (the packages before 0.1.0). A later dlr reads
// every older format; this one refuses a newer format with a
// [FormatError] instead of misreading it. Raise a number only for a change
// an older dlr would misread (a member renamed or given another meaning);
// a new member that older versions may ignore keeps the format.
const (
	// StateFormat is state.json's: {"version": 1, ...}.
	StateFormat = 1
	// ViewFormat is restore-view.json's: {"version": 1, "at": ...}.
	ViewFormat = 1
	// RecordsFormat is restores.json's: {"version": 2, "restores": [...]}.
	// Format 1 was the bare array of records.
	RecordsFormat = 2
	// StartedWithFormat is started-with.json's: the line
	// StartedWithHeader with the number, then daemon.json's bytes as
	// dockerd started with them. Format 1 was the bytes alone.
	StartedWithFormat = 2
)

// StartedWithHeader starts the first line of started-with.json from
// format 2 on; the format's number and a newline follow it. No daemon.json
// dockerd reads starts with '#'.
const StartedWithHeader = "#dlr started-with.json version "

// FormatError is a file of dlr's in a format newer than this dlr reads:
// written by a later dlr (installed, then downgraded, or run from another
// path).
type FormatError struct {
	Path   string
	Format int // the file's
	Max    int // the newest this dlr reads
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s is in format %d, written by a newer dlr; this dlr reads formats up to %d and leaves the file as it is: upgrade dlr (the docker-liverestore package) to the release that wrote it",
		e.Path, e.Format, e.Max)
}

// CheckFormat returns a *FormatError when format is newer than max.
func CheckFormat(path string, format, max int) error {
	if format > max {
		return &FormatError{Path: path, Format: format, Max: max}
	}
	return nil
}

// JSONVersion returns the "version" member of the JSON object b, 1 when
// it has none (or b is not an object: the caller's decoding says what is
// wrong with it), and an error naming path when the member is not a
// positive integer. It is read on its own, before the rest: a newer format
// may not decode into this dlr's types at all.
func JSONVersion(path string, b []byte) (int, error) {
	var head struct {
		Version *json.RawMessage `json:"version"`
	}
	if json.Unmarshal(b, &head) != nil || head.Version == nil {
		return 1, nil
	}
	n, err := strconv.Atoi(string(*head.Version))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: \"version\" is %s, not a format number (move the file aside to start afresh)", path, *head.Version)
	}
	return n, nil
}

// EncodeStartedWith returns started-with.json's bytes for daemon.json's
// bytes b.
func EncodeStartedWith(b []byte) []byte {
	out := make([]byte, 0, len(StartedWithHeader)+3+len(b))
	out = append(out, StartedWithHeader...)
	out = strconv.AppendInt(out, StartedWithFormat, 10)
	out = append(out, '\n')
	return append(out, b...)
}

// DecodeStartedWith returns daemon.json's bytes from started-with.json's
// (format 1: the bytes themselves), or a *FormatError for a newer format.
func DecodeStartedWith(path string, b []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(b, []byte(StartedWithHeader))
	if !ok {
		return b, nil
	}
	num, body, ok := bytes.Cut(rest, []byte("\n"))
	n, err := strconv.Atoi(string(num))
	if !ok || err != nil || n < 2 {
		return nil, fmt.Errorf("%s: its first line is not %q and a format number (move the file aside: dlr's drop-in writes it again when dockerd next starts)", path, StartedWithHeader)
	}
	if err := CheckFormat(path, n, StartedWithFormat); err != nil {
		return nil, err
	}
	return body, nil
}
