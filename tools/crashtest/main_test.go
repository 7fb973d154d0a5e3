package main

import (
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/state"
)

// The harness's own judgement: each invariant it checks after a kill must
// catch a broken leftover, and pass a good one.
func TestJudgeLeft(t *testing.T) {
	sh := shapes[2] // absent-key
	ref := &reference{after: []byte("{\"live-restore\": true}\n"), setAfter: []byte("{\"max-concurrent-downloads\": 7}\n"), dropIn: []byte("fs.pipe-max-size = 16777216\n")}
	good := leftover{file: sh.before, exists: true}
	for _, tc := range []struct {
		name string
		l    func(l *leftover)
		want string // "" = no violation
	}{
		{"untouched", func(l *leftover) {}, ""},
		{"the new file", func(l *leftover) { l.file = ref.after }, ""},
		{"whole drop-in and a true backup", func(l *leftover) {
			l.dropIn, l.dropInExists = ref.dropIn, true
			l.backups = map[string][]byte{"daemon.json.1": sh.before}
		}, ""},
		{"torn file", func(l *leftover) { l.file = ref.after[:5] }, "neither the before nor the after version"},
		{"unparseable", func(l *leftover) { l.file = []byte("{") }, "does not parse"},
		{"removed", func(l *leftover) { l.file, l.exists = nil, false }, "neither the before nor the after version"},
		{"partial drop-in", func(l *leftover) { l.dropIn, l.dropInExists = ref.dropIn[:3], true }, "drop-in is partial"},
		{"bad state", func(l *leftover) { l.state, l.stateExists = []byte("{\"version\":"), true }, "state.json does not parse"},
		{"foreign backup", func(l *leftover) { l.backups = map[string][]byte{"daemon.json.2": []byte("{}")} }, "holds bytes daemon.json never had"},
		{"symlink replaced", func(l *leftover) { l.linkReplaced = true }, "symlink daemon.json was replaced"},
	} {
		l := good
		tc.l(&l)
		probs, _, _, _ := judgeLeft(sh, ref, sh.before, ref.after, nil, l)
		got := strings.Join(probs, "\n")
		switch {
		case tc.want == "" && got != "":
			t.Errorf("%s: a good leftover judged bad: %s", tc.name, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%s: want %q, got %q", tc.name, tc.want, got)
		}
	}
}

func TestLandedAt(t *testing.T) {
	pending := state.State{Pending: &state.Pending{Step: "reload"}}
	for _, tc := range []struct {
		killed            bool
		st                state.State
		isBefore, isAfter bool
		want              string
	}{
		{false, state.State{}, false, true, "exited before the kill"},
		{true, state.State{}, true, false, "before the write (no pending step)"},
		{true, pending, true, false, `pending step "reload", daemon.json not yet replaced`},
		{true, pending, false, true, `pending step "reload", daemon.json replaced (before commit)`},
		{true, state.State{}, false, true, "after the commit"},
	} {
		if got := landedAt(tc.killed, tc.st, tc.isBefore, tc.isAfter); got != tc.want {
			t.Errorf("landedAt(%v, %+v, %v, %v) = %q, want %q", tc.killed, tc.st.Pending, tc.isBefore, tc.isAfter, got, tc.want)
		}
	}
}
