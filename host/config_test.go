package host

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ReadFile refuses what is not a regular file at once (a FIFO would block
// a plain open for ever; a device would be read for ever), follows
// symlinks, and reads at most one byte more than daemonjson accepts.
func TestReadFileGuards(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink("/dev/zero", link)
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, 5<<20), 0o644)
	ok := filepath.Join(dir, "ok.json")
	os.WriteFile(ok, []byte("{}"), 0o644)
	for _, tc := range []struct {
		path, want string
	}{
		{fifo, "not a regular file (a FIFO)"},
		{"/dev/zero", "not a regular file (a character device)"},
		{link, "not a regular file (a character device)"},
		{dir, "not a regular file (a directory)"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		done := make(chan error, 1)
		go func() { _, err := ReadFile(tc.path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", tc.path, err, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: ReadFile blocked", tc.path)
		}
	}
	if b, err := ReadFile(big); err != nil || len(b) != 4<<20+1 {
		t.Errorf("big: %d bytes, %v; want 4 MiB + 1", len(b), err)
	}
	if b, err := ReadFile(ok); err != nil || string(b) != "{}" {
		t.Errorf("ok: %q %v", b, err)
	}
}
