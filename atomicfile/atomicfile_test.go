package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReplaceNewFileGetsMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "daemon.json")
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	res, err := Replace(p, []byte("{}\n"), Options{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Target != p {
		t.Errorf("result = %+v", res)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644 despite umask 077", fi.Mode())
	}
	assertNoTemps(t, dir)
}

func TestReplaceKeepsModeAndOwner(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "daemon.json")
	os.WriteFile(p, []byte("old"), 0o600)
	os.Chmod(p, 0o640)
	if os.Geteuid() == 0 {
		os.Chown(p, 123, 456)
	}
	before, _ := os.Stat(p)
	if _, err := Replace(p, []byte("new"), Options{Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(p)
	if after.Mode() != before.Mode() {
		t.Errorf("mode %v -> %v", before.Mode(), after.Mode())
	}
	bs, as := before.Sys().(*syscall.Stat_t), after.Sys().(*syscall.Stat_t)
	if bs.Uid != as.Uid || bs.Gid != as.Gid {
		t.Errorf("owner %d:%d -> %d:%d", bs.Uid, bs.Gid, as.Uid, as.Gid)
	}
	if bs.Ino == as.Ino {
		t.Errorf("inode unchanged: the file was written in place, not replaced")
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("content = %q", b)
	}
}

func TestReplaceThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real", "daemon.json")
	os.MkdirAll(filepath.Dir(real), 0o755)
	os.WriteFile(real, []byte("old"), 0o644)
	link := filepath.Join(dir, "daemon.json")
	os.Symlink("real/daemon.json", link)

	res, err := Replace(link, []byte("new"), Options{FollowSymlink: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Target != real {
		t.Errorf("target = %s, want %s", res.Target, real)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced by a file")
	}
	if b, _ := os.ReadFile(real); string(b) != "new" {
		t.Errorf("target content = %q", b)
	}
	assertNoTemps(t, filepath.Dir(real))
}

func TestReplaceRefuses(t *testing.T) {
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop")
	os.Symlink("loop", loop)
	dangling := filepath.Join(dir, "dangling")
	os.Symlink("nowhere", dangling)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	fifo := filepath.Join(dir, "fifo")
	syscall.Mkfifo(fifo, 0o644)
	own := filepath.Join(dir, "own")
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
	os.Symlink("x", own)

	for _, tc := range []struct {
		path   string
		follow bool
		want   string
	}{
		{loop, true, "symlink loop"},
		{dangling, true, "does not exist"},
		{sub, true, "not a regular file (a directory)"},
		{fifo, true, "not a regular file (a named pipe)"},
		{own, false, "it is a symlink"},
	} {
		_, err := Replace(tc.path, []byte("x"), Options{Mode: 0o644, FollowSymlink: tc.follow})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Replace(%s) = %v; want error containing %q", filepath.Base(tc.path), err, tc.want)
		}
	}
	if fi, _ := os.Lstat(own); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("refused symlink was changed")
	}
	assertNoTemps(t, dir)
}

func TestReplaceCleansStaleTemps(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "daemon.json")
	stale := filepath.Join(dir, ".daemon.json"+tmpInfix+"abc")
	os.WriteFile(stale, []byte("half"), 0o644)
	other := filepath.Join(dir, ".other"+tmpInfix+"abc")
	os.WriteFile(other, []byte("keep"), 0o644)
	if _, err := Replace(p, []byte("x"), Options{Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale temp file of daemon.json was not removed")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("another file's temp was removed")
	}
}

func TestReplaceReadOnlyDirLeavesOldFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions; the full-disk and read-only cases run in the rig")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "daemon.json")
	os.WriteFile(p, []byte("old"), 0o644)
	os.Chmod(dir, 0o555)
	defer os.Chmod(dir, 0o755)
	if _, err := Replace(p, []byte("new"), Options{}); err == nil {
		t.Fatal("Replace in a read-only directory succeeded")
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("old file changed: %q", b)
	}
}

func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".*"+tmpInfix+"*"))
	if len(m) > 0 {
		t.Errorf("temp files left: %v", m)
	}
}

// NoSync skips only the fsyncs: the file is replaced the same way.
func TestReplaceNoSync(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cache")
	if err := os.WriteFile(p, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Replace(p, []byte("new"), Options{Mode: 0o600, NoSync: true}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != "new" || fi.Mode().Perm() != 0o640 {
		t.Errorf("got %q mode %v, want \"new\" mode 0640 (kept)", b, fi.Mode().Perm())
	}
	if n := CleanStale(filepath.Dir(p), "cache"); n != 0 {
		t.Errorf("%d temp files left", n)
	}
}

// Issue 14: the special mode bits stay, and a file with hard links is not
// split silently.
func TestReplaceKeepsSpecialBitsAndRefusesHardLinks(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "daemon.json")
	os.WriteFile(p, []byte("{}"), 0o644)
	os.Chmod(p, 0o777|os.ModeSetuid|os.ModeSetgid)
	if _, err := Replace(p, []byte(`{"a": 1}`), Options{Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if want := fs.FileMode(0o777) | fs.ModeSetuid | fs.ModeSetgid; fi.Mode() != want {
		t.Errorf("mode %v, want %v", fi.Mode(), want)
	}
	link := filepath.Join(dir, "other-name.json")
	os.Link(p, link)
	_, err := Replace(p, []byte(`{"b": 2}`), Options{Mode: 0o644})
	if err == nil || !strings.Contains(err.Error(), "2 hard links") {
		t.Errorf("Replace of a hard-linked file: %v", err)
	}
	if b, _ := os.ReadFile(link); string(b) != `{"a": 1}` {
		t.Errorf("the other name now holds %q", b)
	}
}
