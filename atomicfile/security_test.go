package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The temp file has its final mode from the moment it exists (umask or
// not), so a 0600 file's new content is never readable by others, not even
// between create and rename; and it is created exclusively: an existing
// file or a planted symlink at its name is never opened.
func TestTempFileExclusiveWithFinalMode(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tmp, f, err := d.createTemp("state.json", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	tmp = filepath.Join(dir, tmp)
	fi, _ := f.Stat()
	f.Close()
	os.Remove(tmp)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("temp file created with mode %v, want 0600 from the start", fi.Mode().Perm())
	}
	if filepath.Dir(tmp) != dir {
		t.Errorf("temp file %s not in the target's directory", tmp)
	}

	// The open flags themselves: a planted symlink and an existing file at
	// the name are refused (the name is random, so plant at a fixed one).
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	planted := filepath.Join(dir, ".x"+tmpInfix+"planted")
	os.Symlink(victim, planted)
	if _, err := os.OpenFile(planted, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600); err == nil {
		t.Error("the flags createTemp uses opened a planted symlink")
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Error("the symlink's target was changed")
	}
}

// Replace of an existing 0600 file keeps it 0600 even when the caller's
// Mode for new files is wider.
func TestReplaceNeverWidensMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	os.WriteFile(p, []byte("{}"), 0o600)
	if _, err := Replace(p, []byte("{\"secret\": 1}"), Options{Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after Replace, want 0600", fi.Mode().Perm())
	}
}
