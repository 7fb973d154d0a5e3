package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stateFormat1 is state.json as the packages of commit bc87f68 wrote it.
const stateFormat1 = `{
  "version": 1,
  "daemon_json": {
    "path": "/etc/docker/daemon.json",
    "prior": "absent",
    "written_sha256": "5f1a0c1c0d3a1e0a9c0a3b2f4e5d6c7b8a9f0e1d2c3b4a5968778695a4b3c2d1",
    "changed": "2026-12-06T10:00:00Z"
  },
  "sysctl": {
    "drop_in": "/etc/sysctl.d/60-docker-liverestore.conf",
    "prior_running": 1048576,
    "applied": 16777216
  }
}
`

func TestLoadFormats(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		format     int // 0: refused
		newer      bool
	}{
		{"format 1 (bc87f68)", stateFormat1, 1, false},
		{"no version: format 1", strings.Replace(stateFormat1, `"version": 1,`, "", 1), 1, false},
		{"format 2: a later dlr", `{"version": 2, "daemon_json": "a shape format 1 cannot decode"}`, 0, true},
		{"a version that is no format", `{"version": "one"}`, 0, false},
		{"version 0", `{"version": 0}`, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, fileName)
			if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			st, err := Store{Dir: dir}.Load()
			var fe *FormatError
			switch {
			case tc.format != 0:
				if err != nil || st.Version != tc.format || st.DaemonJSON == nil || st.DaemonJSON.Prior != PriorAbsent || st.Sysctl.Applied != 16<<20 {
					t.Fatalf("Load: %+v, %v", st, err)
				}
			case tc.newer:
				if !errors.As(err, &fe) || fe.Path != p || fe.Format != 2 || fe.Max != StateFormat ||
					!strings.Contains(err.Error(), p+" is in format 2, written by a newer dlr") || !strings.Contains(err.Error(), "upgrade dlr") {
					t.Fatalf("Load of a newer format: %v", err)
				}
			default:
				if err == nil || errors.As(err, &fe) || !strings.Contains(err.Error(), p) {
					t.Fatalf("Load: %+v, %v; want an error naming the file", st, err)
				}
			}
		})
	}
}

// TestSaveWritesFormat: what Save writes is StateFormat, and reads back.
func TestSaveWritesFormat(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if err := s.Save(State{Version: 7, Sysctl: &Sysctl{DropIn: "x"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(s.Dir, fileName))
	if !strings.HasPrefix(string(b), "{\n  \"version\": 1,\n") {
		t.Errorf("state.json: %s", b)
	}
	if st, err := s.Load(); err != nil || st.Version != StateFormat || st.Sysctl.DropIn != "x" {
		t.Errorf("Load: %+v, %v", st, err)
	}
}

func TestStartedWith(t *testing.T) {
	const p = "/var/lib/docker-liverestore/started-with.json"
	daemon := []byte("{\n  \"live-restore\": true\n}\n")
	enc := EncodeStartedWith(daemon)
	if want := "#dlr started-with.json version 2\n{\n"; !strings.HasPrefix(string(enc), want) {
		t.Fatalf("EncodeStartedWith: %q", enc)
	}
	for _, tc := range []struct {
		name, in, want string
		newer          bool
	}{
		{"format 2", string(enc), string(daemon), false},
		{"format 2, daemon.json empty", string(EncodeStartedWith(nil)), "", false},
		{"format 1: daemon.json's bytes (bc87f68)", string(daemon), string(daemon), false},
		{"format 1: an empty daemon.json", "", "", false},
		{"format 3", "#dlr started-with.json version 3\n{\"config\": {}}", "", true},
		{"broken header", "#dlr started-with.json version x\n{}", "", false},
		{"header without newline", "#dlr started-with.json version 2", "", false},
	} {
		got, err := DecodeStartedWith(p, []byte(tc.in))
		var fe *FormatError
		switch {
		case tc.newer:
			if !errors.As(err, &fe) || fe.Format != 3 || fe.Path != p {
				t.Errorf("%s: %q, %v; want a FormatError", tc.name, got, err)
			}
		case strings.HasPrefix(tc.name, "broken") || strings.HasPrefix(tc.name, "header"):
			if err == nil || errors.As(err, &fe) || !strings.Contains(err.Error(), p) {
				t.Errorf("%s: %q, %v; want an error naming the file", tc.name, got, err)
			}
		default:
			if err != nil || string(got) != tc.want {
				t.Errorf("%s: %q, %v", tc.name, got, err)
			}
		}
	}
}
