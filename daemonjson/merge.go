package daemonjson

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/tailscale/hujson"
)

// Bytes returns the input the Doc was parsed from, unchanged.
func (d *Doc) Bytes() []byte { return d.src }

// Empty reports whether the input was empty or whitespace only, which dockerd
// reads as an empty configuration.
func (d *Doc) Empty() bool { return d.empty }

// HasBOM reports whether the input starts with a UTF-8 byte order mark. Edits
// keep it.
func (d *Doc) HasBOM() bool { return d.body > 0 }

// Keys returns the top-level keys in file order.
func (d *Doc) Keys() []string {
	if d.obj == nil {
		return nil
	}
	keys := make([]string, len(d.obj.Members))
	for i, m := range d.obj.Members {
		keys[i] = m.Name.Value.(hujson.Literal).String()
	}
	return keys
}

// Lookup returns the JSON text of the top-level member key, as written in the
// file, and whether it is present.
func (d *Doc) Lookup(key string) (json.RawMessage, bool) {
	m := d.member(key)
	if m == nil {
		return nil, false
	}
	return json.RawMessage(d.src[d.body+m.Value.StartOffset : d.body+m.Value.EndOffset]), true
}

// Position returns the line and column of the top-level member key's value,
// or 0, 0 if it is absent.
func (d *Doc) Position(key string) (line, col int) {
	m := d.member(key)
	if m == nil {
		return 0, 0
	}
	return position(d.src[d.body:], m.Value.StartOffset)
}

// LiveRestore returns the value of "live-restore" and whether it is present.
// Parse has checked that a present value is a boolean.
func (d *Doc) LiveRestore() (value, present bool) {
	raw, ok := d.Lookup(LiveRestoreKey)
	return ok && string(raw) == "true", ok
}

// member finds a top-level member in constant time (Parse indexed them): a
// comparison of two files looks every key up, and a linear search made
// that quadratic (a 200,000-key file took over 11 minutes).
func (d *Doc) member(key string) *hujson.ObjectMember {
	i, ok := d.index[key]
	if d.obj == nil || !ok {
		return nil
	}
	return &d.obj.Members[i]
}

// Set returns the file with the top-level member key set to value, a JSON
// text such as `true` or `["a"]`, and whether that changed anything.
//
// A present member has only its value's bytes replaced. A missing member is
// appended after the last member, separated by a comma and the same line
// ending and indentation that precede the last member, with the same spacing
// around the colon; in an empty object it goes between the braces. An empty
// input becomes a new object holding just the member (after a byte order mark,
// if there was one). Bytes outside the edited span are never touched.
func (d *Doc) Set(key string, value []byte) ([]byte, bool, error) {
	if !json.Valid(value) {
		return nil, false, fmt.Errorf("daemonjson: value for %q is not valid JSON: %s", key, value)
	}
	member := quote(key)
	if d.empty {
		out := append([]byte(nil), d.src[:d.body]...)
		out = append(out, "{\n  "...)
		out = append(out, member...)
		out = append(out, ": "...)
		out = append(out, value...)
		out = append(out, "\n}\n"...)
		return out, true, nil
	}
	if m := d.member(key); m != nil {
		start, end := d.body+m.Value.StartOffset, d.body+m.Value.EndOffset
		if bytes.Equal(d.src[start:end], value) {
			return d.src, false, nil
		}
		return splice(d.src, start, end, value), true, nil
	}

	body := d.src[d.body:]
	var insert []byte
	var at int
	if n := len(d.obj.Members); n > 0 {
		last := d.obj.Members[n-1]
		// The whitespace before the last member's name says how members are
		// separated: a line ending plus indentation, a space, or nothing.
		gap := lineGap(last.Name.BeforeExtra)
		colon := body[last.Name.EndOffset:last.Value.StartOffset]
		if bytes.ContainsAny(colon, "\r\n") {
			colon = []byte(": ")
		}
		if n == 1 && !bytes.ContainsAny(gap, "\r\n") && bytes.ContainsAny(colon, " \t") {
			// {"a": 1}: the only member sits right after the brace, which
			// says nothing about how members are separated; follow the
			// spacing around the colon instead.
			gap = []byte(" ")
		}
		insert = concat([]byte(","), gap, member, colon, value)
		at = d.body + last.Value.EndOffset
	} else {
		// An empty object: the member goes right after the opening brace.
		ws := d.obj.AfterExtra
		if i := bytes.IndexAny(ws, "\r\n"); i >= 0 {
			insert = concat(lineEnding(ws), []byte("  "), member, []byte(": "), value)
		} else {
			insert = concat(ws, member, []byte(": "), value)
		}
		at = d.body + d.root.EndOffset - 1 - len(ws)
	}
	return splice(d.src, at, at, insert), true, nil
}

// Remove returns the file without the top-level member key and whether it was
// there. It removes the member together with one separating comma and the
// whitespace an append by Set would have added, so that removing a member Set
// appended gives back the original bytes exactly.
func (d *Doc) Remove(key string) ([]byte, bool) {
	m := d.member(key)
	if m == nil {
		return d.src, false
	}
	ms := d.obj.Members
	i := 0
	for &ms[i] != m {
		i++
	}
	var start, end int
	switch {
	case len(ms) == 1:
		start = m.Name.StartOffset - len(m.Name.BeforeExtra)
		end = m.Value.EndOffset
	case i == len(ms)-1:
		start = ms[i-1].Value.EndOffset
		end = m.Value.EndOffset
	default:
		start = m.Name.StartOffset
		end = ms[i+1].Name.StartOffset
	}
	return splice(d.src, d.body+start, d.body+end, nil), true
}

// lineGap reduces the whitespace before a member to what a new member should
// get: a line ending and the last line's indentation, or the whitespace as is
// when the members share a line.
func lineGap(ws []byte) []byte {
	i := bytes.LastIndexAny(ws, "\r\n")
	if i < 0 {
		return ws
	}
	return concat(lineEnding(ws), ws[i+1:])
}

// lineEnding returns the first line break in ws: "\r\n", "\n", or a lone
// "\r" (old Mac files); "\n" when there is none.
func lineEnding(ws []byte) []byte {
	i := bytes.IndexAny(ws, "\r\n")
	switch {
	case i < 0 || ws[i] == '\n':
		return []byte("\n")
	case i+1 < len(ws) && ws[i+1] == '\n':
		return []byte("\r\n")
	}
	return []byte("\r")
}

func quote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// splice returns a new slice: b with b[start:end] replaced by repl.
func splice(b []byte, start, end int, repl []byte) []byte {
	out := make([]byte, 0, len(b)-(end-start)+len(repl))
	out = append(out, b[:start]...)
	out = append(out, repl...)
	return append(out, b[end:]...)
}
