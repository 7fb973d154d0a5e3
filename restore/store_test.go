package restore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/state"
)

// The files as dlr wrote them before they carried a format version (the
// packages of commit bc87f68, docker-liverestore 0.0.0+git254): a view
// and a bare array of records.
const (
	viewFormat1    = `{"at":"2026-12-06T10:00:00Z","boot_id":"b1","dockerd_pid":41,"containers":[{"ID":"c1","Name":"web","PID":77,"RestartPolicy":"","Published":false,"RestartCount":0,"StartedAt":"2026-12-06T09:00:00Z","Paused":false,"Health":null,"Ports":null,"Networks":null,"LogPath":""}]}`
	recordsFormat1 = `[
  {
    "trigger": "watcher",
    "down_at": "2026-12-06T10:00:00Z",
    "back_at": "2026-12-06T10:00:03Z",
    "dockerd_pid_before": 41,
    "dockerd_pid_after": 52,
    "daemon_version": "26.1.5+dfsg1",
    "containers": 1,
    "kept": 1,
    "problems": {},
    "mended": 0,
    "check_seconds": 0.2,
    "results": [{"id": "c1", "name": "web", "pid_before": 77, "pid_after": 77, "kept": true, "checks": [], "problems": []}]
  }
]
`
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReadsFormat1 reads the files of a dlr before format versions, and
// adds a record to them: the old records are kept, the file is then
// format 2.
func TestReadsFormat1(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, ViewFile, viewFormat1)
	p := writeFile(t, dir, RecordsFile, recordsFormat1)
	s := Store{Dir: dir}
	v, err := s.LoadView()
	if err != nil || v == nil || v.Version != 1 || v.DockerdPID != 41 || len(v.Containers) != 1 || v.Containers[0].PID != 77 {
		t.Fatalf("format-1 view: %+v, %v", v, err)
	}
	last, err := s.Last()
	if err != nil || last == nil || last.DockerdPIDAfter != 52 || last.Kept != 1 || last.DaemonVersion != "26.1.5+dfsg1" {
		t.Fatalf("format-1 records: %+v, %v", last, err)
	}
	if err := s.Add(Record{Trigger: "drill", DockerdPIDAfter: 60}); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Records()
	if err != nil || len(rs) != 2 || rs[0].DockerdPIDAfter != 52 || rs[1].DockerdPIDAfter != 60 {
		t.Fatalf("after Add: %+v, %v", rs, err)
	}
	b, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(b), "{\n  \"version\": 2,\n  \"restores\": [") {
		t.Errorf("restores.json after Add does not start with its format:\n%s", b)
	}
	if err := s.SaveView(*v); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ViewFile)); !strings.HasPrefix(string(b), `{"version":1,`) {
		t.Errorf("restore-view.json as written: %s", b)
	}
}

// TestRefusesNewerFormat: files of a later dlr are refused with a
// *state.FormatError naming the file, and Add leaves such a file alone.
func TestRefusesNewerFormat(t *testing.T) {
	dir := t.TempDir()
	view := writeFile(t, dir, ViewFile, `{"version": 2, "at": "not a time in format 1", "containers": {}}`)
	records := `{"version": 3, "restores": {"changed": "shape"}}`
	rec := writeFile(t, dir, RecordsFile, records)
	s := Store{Dir: dir}
	for name, err := range map[string]error{
		"LoadView": func() error { _, err := s.LoadView(); return err }(),
		"Records":  func() error { _, err := s.Records(); return err }(),
		"Last":     func() error { _, err := s.Last(); return err }(),
		"Add":      s.Add(Record{Trigger: "drill"}),
	} {
		var fe *state.FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a FormatError", name, err)
			continue
		}
		want, format := rec, 3
		if name == "LoadView" {
			want, format = view, 2
		}
		if fe.Path != want || fe.Format != format || !strings.Contains(err.Error(), "upgrade dlr") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if b, _ := os.ReadFile(rec); string(b) != records {
		t.Errorf("Add rewrote a newer restores.json: %s", b)
	}
}
