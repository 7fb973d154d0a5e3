package sysctl

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeProcSys makes a /proc/sys under a temporary directory holding
// fs/pipe-max-size = content.
func fakeProcSys(t *testing.T, content string) (procSys, file string) {
	t.Helper()
	procSys = filepath.Join(t.TempDir(), "proc", "sys")
	file = filepath.Join(procSys, "fs", "pipe-max-size")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return procSys, file
}

func TestRunning(t *testing.T) {
	tests := []struct {
		content string
		key     string
		want    uint64
		wantErr string
	}{
		{"1048576\n", Key, 1048576, ""},
		{"1048576\n", "fs/pipe-max-size", 1048576, ""},
		{"  16777216  \n", Key, 16777216, ""},
		{"lots\n", Key, 0, `holds "lots", not a number`},
		{"1048576\n", "fs.nope", 0, "no such file or directory"},
		{"1048576\n", "fs.*", 0, "is not a sysctl key"},
		{"1048576\n", "fs/../../etc/passwd", 0, "is not a sysctl key"},
	}
	for _, tt := range tests {
		procSys, _ := fakeProcSys(t, tt.content)
		got, err := Running(procSys, tt.key)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "reading "+tt.key+": ") {
				t.Errorf("Running(%q) with %q = %d, %v; want error starting %q containing %q", tt.key, tt.content, got, err, "reading "+tt.key, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Running(%q) with %q = %d, %v; want %d", tt.key, tt.content, got, err, tt.want)
		}
	}
}

func TestApply(t *testing.T) {
	procSys, file := fakeProcSys(t, "1048576\n")
	if err := Apply(procSys, Key, 16<<20); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "16777216\n" {
		t.Errorf("after Apply the file holds %q; want %q", data, "16777216\n")
	}
	if got, err := Running(procSys, Key); err != nil || got != 16<<20 {
		t.Errorf("Running after Apply = %d, %v", got, err)
	}
}

func TestApplyDoesNotCreate(t *testing.T) {
	procSys := filepath.Join(t.TempDir(), "proc", "sys")
	err := Apply(procSys, Key, 16<<20)
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "setting fs.pipe-max-size to 16777216: ") {
		t.Errorf("Apply on a missing file = %v; want a not-exist error saying what was being set", err)
	}
	if _, err := os.Stat(filepath.Join(procSys, "fs", "pipe-max-size")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Apply created the file: %v", err)
	}
}

func TestApplyErrors(t *testing.T) {
	// The key's file is a directory: opening it for writing fails.
	procSys, file := fakeProcSys(t, "1048576\n")
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(file, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Apply(procSys, Key, 16<<20); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("Apply to a directory = %v; want an error naming %s", err, file)
	}

	// The write is swallowed (as by /dev/null): the read-back catches it.
	procSys, file = fakeProcSys(t, "1048576\n")
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", file); err != nil {
		t.Fatal(err)
	}
	if err := Apply(procSys, Key, 16<<20); err == nil || !strings.Contains(err.Error(), "not a regular file (a character device)") {
		t.Errorf("Apply whose write does not stick = %v; want a read-back error", err)
	}

	if err := Apply(procSys, "fs.*", 16<<20); err == nil || !strings.Contains(err.Error(), "is not a sysctl key") {
		t.Errorf("Apply to a glob = %v; want a key error", err)
	}
}
