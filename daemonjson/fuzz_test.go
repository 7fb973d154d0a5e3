package daemonjson

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzSet feeds arbitrary bytes to Parse and, for what it accepts, checks
// every property of a merge (see checkMerged) and that Remove undoes Set.
// Seeds come from the unit-test tables. Run it longer with
//
//	go test -run '^$' -fuzz FuzzSet -fuzztime 10m ./daemonjson/
func FuzzSet(f *testing.F) {
	for _, tc := range merges {
		f.Add([]byte(tc.in))
	}
	for _, tc := range accepted {
		if len(tc.in) < 1<<12 {
			f.Add([]byte(tc.in))
		}
	}
	for _, tc := range refusals {
		if len(tc.in) < 1<<12 {
			f.Add([]byte(tc.in))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Parse(in)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse returned %T, not *Error: %v", err, err)
			}
			return
		}
		if !d.Empty() && !json.Valid(in[len(in)-len(in[d.body:]):]) {
			t.Fatalf("Parse accepted invalid JSON: %q", in)
		}
		out, _, err := d.Set(LiveRestoreKey, []byte("true"))
		if err != nil {
			t.Fatal(err)
		}
		checkMerged(t, in, out)
		if _, had := d.LiveRestore(); had || d.Empty() {
			return
		}
		d2, err := Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		back, _ := d2.Remove(LiveRestoreKey)
		if string(back) != string(in) {
			t.Fatalf("Remove(Set(x)) != x:\n x = %q\n got %q", in, back)
		}
	})
}
