package host

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRuns: a process runs the installed program when /proc/PID/exe is
// that file; not when a package replaced it (a new inode at the path).
func TestRuns(t *testing.T) {
	root := t.TempDir()
	e := &Env{Root: root}
	bin := filepath.Join(root, "usr/sbin/dockerd")
	for _, d := range []string{"usr/sbin", "proc/42"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(bin, []byte("old"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(root, "old-dockerd")
	if err := os.Link(bin, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(old, filepath.Join(root, "proc/42/exe")); err != nil {
		t.Fatal(err)
	}
	if !e.Runs(42, "/usr/sbin/dockerd") {
		t.Error("the running file is the installed one: Runs false")
	}
	for _, c := range []struct {
		pid  int
		path string
	}{{42, "dockerd"}, {43, "/usr/sbin/dockerd"}, {42, "/usr/bin/dockerd"}, {0, "/usr/sbin/dockerd"}} {
		if e.Runs(c.pid, c.path) {
			t.Errorf("Runs(%d, %q) true", c.pid, c.path)
		}
	}
	// An upgrade: a new file renamed over the path.
	if err := os.WriteFile(bin+".new", []byte("new"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	if e.Runs(42, "/usr/sbin/dockerd") {
		t.Error("the installed file was replaced: Runs true")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !(&Env{Root: "/"}).Runs(os.Getpid(), self) {
		t.Errorf("this test binary does not run %s", self)
	}
}
