package guard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/docker-liverestore/dlr/daemonjson"
)

// Change is one top-level key whose value differs between two
// configurations.
type Change struct {
	Key   string
	Class Class
	Why   string
	// Old and New are the JSON values as written, nil when absent.
	Old, New json.RawMessage
}

func (c Change) String() string {
	return fmt.Sprintf("%s: %s -> %s (%s)", c.Key, show(c.Old), show(c.New), c.Class)
}

func show(v json.RawMessage) string {
	if v == nil {
		return "(absent)"
	}
	return string(v)
}

// Diff compares two parsed daemon.json files key by key. Values are compared
// as JSON values (whitespace and key order inside objects do not count). An
// exec-opts change counts as Breaks only when it changes the cgroup driver.
// Changes come back sorted by key.
func Diff(old, new *daemonjson.Doc) []Change {
	names := map[string]bool{}
	for _, k := range old.Keys() {
		names[k] = true
	}
	for _, k := range new.Keys() {
		names[k] = true
	}
	var out []Change
	for name := range names {
		ov, _ := old.Lookup(name)
		nv, _ := new.Lookup(name)
		if sameJSON(ov, nv) {
			continue
		}
		k, _ := Lookup(name)
		c := Change{Key: name, Class: k.Class, Why: k.Why, Old: ov, New: nv}
		if name == "exec-opts" {
			var a, b []string
			json.Unmarshal(ov, &a)
			json.Unmarshal(nv, &b)
			if cgroupDriver(a) != cgroupDriver(b) {
				c.Class, c.Why = Breaks, whyCgroup
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Breaking returns the changes of class Breaks.
func Breaking(cs []Change) []Change {
	var out []Change
	for _, c := range cs {
		if c.Class == Breaks {
			out = append(out, c)
		}
	}
	return out
}

// Worst returns the highest class among the changes (0 if none).
func Worst(cs []Change) Class {
	var w Class
	for _, c := range cs {
		if c.Class > w {
			w = c.Class
		}
	}
	return w
}

// sameJSON reports whether two JSON texts hold the same value (numbers
// compared as written, so 1 and 1.0 differ; nil is absent).
func sameJSON(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return bytes.Equal(canonical(a), canonical(b))
}

func canonical(v json.RawMessage) []byte {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return v
	}
	b, err := json.Marshal(x) // maps come out with sorted keys
	if err != nil {
		return v
	}
	return b
}
