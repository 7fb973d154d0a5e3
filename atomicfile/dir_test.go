package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nobody is the uid the attacks below run as.
const nobody = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the attack is a non-root user changing a directory root writes in (chown)")
	}
}

// asNobody runs a shell command as uid 65534, as the owner of a directory
// (the prometheus user) could.
func asNobody(t *testing.T, script string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as uid %d: %s: %v\n%s", nobody, script, err, out)
	}
}

// Issue 21, item 1, exactly: prometheus-node-exporter makes
// /var/lib/prometheus the prometheus user's; that user renames
// node-exporter away and puts a symlink to another directory in its place.
// dlr, as root, must neither write the textfile there, replace a root file
// of that name, nor delete root's temp-named files there: it refuses the
// directory, naming the one another user owns.
func TestDirRefusesSymlinkSwapByOwner(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	os.Chmod(filepath.Dir(base), 0o755)
	os.Chmod(base, 0o755)
	prom := filepath.Join(base, "var/lib/prometheus")
	textfile := filepath.Join(prom, "node-exporter")
	victim := filepath.Join(base, "etc/secret")
	for _, d := range []string{textfile, victim} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(victim, "docker-liverestore.prom"), []byte("root's own\n"), 0o600)
	stale := filepath.Join(victim, ".docker-liverestore.prom"+tmpInfix+"000000000000")
	os.WriteFile(stale, []byte("root's own\n"), 0o600)
	if err := os.Chown(prom, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	// Before the swap: refused already, since prometheus could swap at any
	// moment between a check and a write.
	_, err := Replace(filepath.Join(textfile, "docker-liverestore.prom"), []byte("x 1\n"), Options{Mode: 0o644})
	if err == nil || !strings.Contains(err.Error(), prom+" is owned by uid 65534") {
		t.Fatalf("Replace under a prometheus-owned directory = %v; want a refusal naming %s and its owner", err, prom)
	}
	asNobody(t, "mv "+textfile+" "+textfile+".away && ln -s "+victim+" "+textfile)
	_, err = Replace(filepath.Join(textfile, "docker-liverestore.prom"), []byte("x 1\n"), Options{Mode: 0o644})
	if err == nil || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("Replace after the swap = %v; want a refusal", err)
	}
	if n := CleanStale(textfile, "docker-liverestore.prom"); n != 0 {
		t.Errorf("CleanStale removed %d files through the swapped directory", n)
	}
	if err := Remove(filepath.Join(textfile, "docker-liverestore.prom")); err == nil {
		t.Errorf("Remove through the swapped directory succeeded")
	}
	if b, _ := os.ReadFile(filepath.Join(victim, "docker-liverestore.prom")); string(b) != "root's own\n" {
		t.Errorf("the victim directory's file was changed: %q", b)
	}
	if _, err := os.Lstat(stale); err != nil {
		t.Errorf("root's temp-named file in the victim directory was removed: %v", err)
	}
}

// A handle, once open, keeps writing into the directory it opened: a swap
// made after it (by root's own tools, say) does not redirect the write.
func TestDirHandleSurvivesSwap(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "textfile")
	victim := filepath.Join(base, "victim")
	os.Mkdir(dir, 0o755)
	os.Mkdir(victim, 0o755)
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Replace("m.prom", []byte("x 1\n"), Options{Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(victim, "m.prom")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the write followed the swapped-in symlink: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir+".away", "m.prom")); string(b) != "x 1\n" {
		t.Errorf("the file is not in the directory the handle opened: %q", b)
	}
}

// The sudo / systemd-tmpfiles rule, case by case.
func TestDirRefusesOtherUsers(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	os.Chmod(filepath.Dir(base), 0o755)
	os.Chmod(base, 0o755)
	mk := func(name string, mode fs.FileMode, uid int) string {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		os.Chown(p, uid, 0)
		return p
	}
	cases := []struct {
		dir, want string
	}{
		{mk("groupw", 0o775, 0), "is writable by group 0 (mode 0775)"},
		{mk("otherw", 0o757, 0), "is writable by others (mode 0757)"},
		{mk("owned", 0o755, nobody) + "/below", "owned is owned by uid 65534"},
		{mk("sticky", 0o777|fs.ModeSticky, 0), ""}, // /tmp's mode: others cannot rename or remove root's files
		{mk("fine", 0o755, 0), ""},
	}
	os.MkdirAll(filepath.Join(base, "owned/below"), 0o755)
	os.Chown(filepath.Join(base, "owned/below"), 0, 0)
	for _, c := range cases {
		_, err := Replace(filepath.Join(c.dir, "f"), []byte("x"), Options{Mode: 0o644})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.dir, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v; want %q", c.dir, err, c.want)
		}
	}
	// A symlink on the way owned by another user is not followed; one
	// owned by root in a root directory is (/var/run -> /run).
	os.Symlink(filepath.Join(base, "fine"), filepath.Join(base, "rootlink"))
	if _, err := Replace(filepath.Join(base, "rootlink", "g"), []byte("x"), Options{Mode: 0o644}); err != nil {
		t.Errorf("through root's symlink: %v", err)
	}
	os.Symlink(filepath.Join(base, "fine"), filepath.Join(base, "theirlink"))
	os.Lchown(filepath.Join(base, "theirlink"), nobody, nobody)
	if _, err := Replace(filepath.Join(base, "theirlink", "g"), []byte("x"), Options{Mode: 0o644}); err == nil || !strings.Contains(err.Error(), "a symlink owned by uid 65534") {
		t.Errorf("through another user's symlink: %v", err)
	}
}

// The guarded reader refuses a FIFO and a device at once, and bounds what
// it reads (issue 21, item 3: a FIFO state file hung status, a symlink to
// /dev/zero ran out of memory).
func TestReadFileGuards(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "restores.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "state.json")
	os.Symlink("/dev/zero", zero)
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, 100), 0o600)
	start := time.Now()
	for _, p := range []string{fifo, zero} {
		if _, err := ReadFile(p, MaxRead); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("ReadFile(%s) = %v; want a refusal", p, err)
		}
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("refusals took %v: something waited", time.Since(start))
	}
	b, err := ReadFile(big, 10)
	if !errors.Is(err, ErrTooLarge) || len(b) != 11 {
		t.Errorf("ReadFile(100 bytes, limit 10) = %d bytes, %v; want 11 bytes and ErrTooLarge", len(b), err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v; want fs.ErrNotExist", err)
	}
}
