package daemonjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"testing"
)

// merges is shared by TestSetLiveRestore, TestRemoveUndoesSet and the fuzz
// seeds: input, and the exact bytes Set("live-restore", true) must produce.
var merges = []struct {
	name, in, want string
}{
	{"empty file", "", "{\n  \"live-restore\": true\n}\n"},
	{"whitespace file", "\n \n", "{\n  \"live-restore\": true\n}\n"},
	{"bom only", "\xef\xbb\xbf", "\xef\xbb\xbf{\n  \"live-restore\": true\n}\n"},
	{"empty object", "{}", "{\"live-restore\": true}"},
	{"empty object spaced", "{ }\n", "{ \"live-restore\": true }\n"},
	{"empty object lines", "{\n}\n", "{\n  \"live-restore\": true\n}\n"},
	{"empty object crlf", "{\r\n}\r\n", "{\r\n  \"live-restore\": true\r\n}\r\n"},
	// Old Mac line endings (issue 14): the new member goes on a line of its own.
	{"cr only", "{\r  \"debug\": true\r}\r", "{\r  \"debug\": true,\r  \"live-restore\": true\r}\r"},
	{"empty object cr only", "{\r}\r", "{\r  \"live-restore\": true\r}\r"},
	{"two spaces", "{\n  \"debug\": true\n}\n", "{\n  \"debug\": true,\n  \"live-restore\": true\n}\n"},
	{"tabs no newline", "{\n\t\"a\": 1\n}", "{\n\t\"a\": 1,\n\t\"live-restore\": true\n}"},
	{"crlf", "{\r\n    \"a\": 1,\r\n    \"b\": [\r\n        \"x\"\r\n    ]\r\n}\r\n", "{\r\n    \"a\": 1,\r\n    \"b\": [\r\n        \"x\"\r\n    ],\r\n    \"live-restore\": true\r\n}\r\n"},
	{"one line", "{\"a\":1,\"b\":2}", "{\"a\":1,\"b\":2,\"live-restore\":true}"},
	{"one line spaced", "{ \"a\": 1, \"b\": 2 }\n", "{ \"a\": 1, \"b\": 2, \"live-restore\": true }\n"},
	{"space before colon", "{\n  \"a\" : 1\n}\n", "{\n  \"a\" : 1,\n  \"live-restore\" : true\n}\n"},
	{"trailing space after value", "{ \n    \"a\": true \n}", "{ \n    \"a\": true,\n    \"live-restore\": true \n}"},
	{"trailing space after comma", "{\n  \"a\": 1, \n  \"b\": 2\n}\n", "{\n  \"a\": 1, \n  \"b\": 2,\n  \"live-restore\": true\n}\n"},
	{"blank line between", "{\n  \"a\": 1,\n\n  \"b\": 2\n}\n", "{\n  \"a\": 1,\n\n  \"b\": 2,\n  \"live-restore\": true\n}\n"},
	{"nested last", "{\n  \"log-opts\": {\n    \"max-size\": \"10m\"\n  }\n}\n", "{\n  \"log-opts\": {\n    \"max-size\": \"10m\"\n  },\n  \"live-restore\": true\n}\n"},
	{"false", "{\n  \"live-restore\": false,\n  \"a\": 1\n}\n", "{\n  \"live-restore\": true,\n  \"a\": 1\n}\n"},
	{"already true", "{\"live-restore\":true}", "{\"live-restore\":true}"},
	{"nested key elsewhere", "{\"x\": {\"live-restore\": false}}", "{\"x\": {\"live-restore\": false}, \"live-restore\": true}"},
	{"bom kept", "\xef\xbb\xbf{\n  \"a\": 1\n}\n", "\xef\xbb\xbf{\n  \"a\": 1,\n  \"live-restore\": true\n}\n"},
	{"big numbers kept", "{\"n\": 12345678901234567890123}", "{\"n\": 12345678901234567890123, \"live-restore\": true}"},
	{"first member on brace line", "{ \"a\": 1,\n \"b\": 2\n }", "{ \"a\": 1,\n \"b\": 2,\n \"live-restore\": true\n }"},
}

func TestSetLiveRestore(t *testing.T) {
	for _, tc := range merges {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			out, changed, err := d.Set(LiveRestoreKey, []byte("true"))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("Set:\n got %q\nwant %q", out, tc.want)
			}
			if changed != (tc.in != tc.want) {
				t.Errorf("changed = %v", changed)
			}
			checkMerged(t, []byte(tc.in), out)
		})
	}
}

func TestRemoveUndoesSet(t *testing.T) {
	for _, tc := range merges {
		d, err := Parse([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		if _, has := d.LiveRestore(); has || d.Empty() {
			continue
		}
		out, _, _ := d.Set(LiveRestoreKey, []byte("true"))
		d2, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		back, removed := d2.Remove(LiveRestoreKey)
		if !removed || string(back) != tc.in {
			t.Errorf("%s: Remove(Set(x)) = %q; want %q", tc.name, back, tc.in)
		}
	}
}

func TestRemove(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"{\n  \"live-restore\": true,\n  \"a\": 1\n}\n", "{\n  \"a\": 1\n}\n"},
		{"{\n  \"a\": 1,\n  \"live-restore\": true,\n  \"b\": 2\n}\n", "{\n  \"a\": 1,\n  \"b\": 2\n}\n"},
		{"{\"live-restore\": true}", "{}"},
		{"{\n    \"live-restore\": true\n}\n", "{\n}\n"},
		{"{\"a\": 1}", "{\"a\": 1}"},
	} {
		d, err := Parse([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := d.Remove(LiveRestoreKey)
		if string(out) != tc.want {
			t.Errorf("Remove(%q) = %q; want %q", tc.in, out, tc.want)
		}
		if _, err := Parse(out); err != nil {
			t.Errorf("Remove(%q) gives an unparseable file: %v", tc.in, err)
		}
	}
}

var memberRE = regexp.MustCompile(`^(,\s*"live-restore"\s*:\s*true|\s*"live-restore"\s*:\s*true\s*)$`)

// checkMerged proves the properties every merge must have: the output
// parses, says live-restore is true, equals the input plus the key, and
// differs from the input only in one contiguous span that is the new member
// (or the new value).
func checkMerged(t *testing.T, in, out []byte) {
	t.Helper()
	d, err := Parse(out)
	if err != nil {
		t.Fatalf("merged output does not parse: %v\n%s", err, out)
	}
	if lr, _ := d.LiveRestore(); !lr {
		t.Fatalf("merged output has no live-restore true:\n%s", out)
	}
	var want, got map[string]any
	if len(bytes.TrimSpace(bytes.TrimPrefix(in, bom))) > 0 {
		want = decode(t, in)
	} else {
		want = map[string]any{}
	}
	want[LiveRestoreKey] = true
	got = decode(t, out)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged output is not the input plus the key:\n got %v\nwant %v", got, want)
	}
	if len(bytes.TrimSpace(bytes.TrimPrefix(in, bom))) == 0 {
		return // a new file: nothing to keep but the BOM
	}
	if bytes.Equal(in, out) {
		return // already set: nothing may change
	}
	p := 0
	for p < len(in) && p < len(out) && in[p] == out[p] {
		p++
	}
	s := 0
	for s < len(in)-p && s < len(out)-p && in[len(in)-1-s] == out[len(out)-1-s] {
		s++
	}
	removed, added := string(in[p:len(in)-s]), string(out[p:len(out)-s])
	switch {
	case removed == "" && memberRE.MatchString(added):
	case removed == "fals" && added == "tru", removed == "false" && added == "true":
	default:
		t.Fatalf("merge changed more than the member: removed %q, added %q", removed, added)
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(b, bom)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return m
}
