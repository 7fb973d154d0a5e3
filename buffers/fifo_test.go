package buffers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// mkfifo makes a FIFO at path and keeps it open (read-write, which Linux
// allows for a FIFO) for the test, as the containerd shim does: a pipe whose
// last opener closes it loses its size. It returns the open descriptor.
func mkfifo(t *testing.T, path string) int {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func fdSize(t *testing.T, fd int) int64 {
	t.Helper()
	n, err := pipeSize(fd)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSetSizeGrowsNeverShrinks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "init-stdout")
	fd := mkfifo(t, p)
	if got := fdSize(t, fd); got != 64*k {
		t.Fatalf("new FIFO size %d", got)
	}
	old, now, err := SetSize(p, 1*m)
	if err != nil || old != 64*k || now != 1*m {
		t.Fatalf("SetSize = %d, %d, %v", old, now, err)
	}
	if got := fdSize(t, fd); got != 1*m {
		t.Errorf("F_GETPIPE_SZ after growth = %d", got)
	}
	old, now, err = SetSize(p, 256*k)
	if err != nil || old != 1*m || now != 1*m {
		t.Errorf("smaller SetSize = %d, %d, %v", old, now, err)
	}
	if got := fdSize(t, fd); got != 1*m {
		t.Errorf("shrunk to %d", got)
	}
	if n, err := Size(p); err != nil || n != 1*m {
		t.Errorf("Size = %d, %v", n, err)
	}
	// Nothing was read: bytes written before are still there.
	unix.Write(fd, []byte("hello\n"))
	SetSize(p, 2*m)
	buf := make([]byte, 16)
	if n, _ := unix.Read(fd, buf); string(buf[:n]) != "hello\n" {
		t.Errorf("FIFO content %q", buf[:n])
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "real-stdout")
	mkfifo(t, fifo)
	link := filepath.Join(dir, "link-stdout")
	os.Symlink(fifo, link)
	reg := filepath.Join(dir, "file-stdout")
	os.WriteFile(reg, nil, 0o600)
	for _, tc := range []struct {
		path string
		want error
	}{{link, ErrSymlink}, {reg, ErrNotFIFO}, {dir, ErrNotFIFO}, {"/dev/null", ErrNotFIFO}} {
		if _, err := Size(tc.path); !errors.Is(err, tc.want) {
			t.Errorf("Size(%s) = %v, want %v", tc.path, err, tc.want)
		}
		if _, _, err := SetSize(tc.path, 1*m); !errors.Is(err, tc.want) {
			t.Errorf("SetSize(%s) = %v, want %v", tc.path, err, tc.want)
		}
	}
	if n, _ := Size(fifo); n != 64*k {
		t.Errorf("the FIFO behind the link was changed: %d", n)
	}
}

// layout makes an exec root with the FIFO names of both Docker versions
// and returns it with the FIFOs' descriptors by path.
func layout(t *testing.T) (string, map[string]int) {
	t.Helper()
	root := t.TempDir()
	fds := map[string]int{}
	a := "aaaa"
	b := "bbbb"
	for _, p := range []string{
		a + "/init-stdout", a + "/init-stderr", // Docker 20.10
		b + "/" + b + "-stdout", b + "/" + b + "-stderr", // Docker 26.1
		b + "/e1e1-stdout", // an exec session
	} {
		full := filepath.Join(root, "containerd", p)
		fds[full] = mkfifo(t, full)
	}
	// Things that are not log FIFOs and must not be opened or listed.
	os.WriteFile(filepath.Join(root, "containerd", a, "config.json"), nil, 0o600)
	mkfifo(t, filepath.Join(root, "containerd", a, "init-stdin"))
	return root, fds
}

func TestScan(t *testing.T) {
	root, _ := layout(t)
	evil := filepath.Join(root, "containerd", "cccc")
	os.Symlink(filepath.Join(root, "containerd", "aaaa"), evil)
	dev := filepath.Join(root, "containerd", "dddd")
	os.MkdirAll(dev, 0o700)
	os.WriteFile(filepath.Join(dev, "x-stdout"), nil, 0o600)

	got, err := Scan(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		n := s.Container + "/" + s.Name
		if s.Exec {
			n += " exec"
		}
		if s.Err != nil {
			n += " error"
		}
		names = append(names, n)
	}
	want := []string{"aaaa/init-stderr", "aaaa/init-stdout", "bbbb/bbbb-stderr", "bbbb/bbbb-stdout",
		"bbbb/e1e1-stdout exec", "cccc/ error", "dddd/x-stdout exec error"}
	if !slices.Equal(names, want) {
		t.Errorf("Scan = %q\nwant %q", names, want)
	}
	for _, s := range got {
		if s.Err == nil && s.Size != 64*k {
			t.Errorf("%s size %d", s.Path, s.Size)
		}
	}
	if got, err := Scan(context.Background(), filepath.Join(root, "nope")); err != nil || got != nil {
		t.Errorf("Scan of a missing exec root = %v, %v", got, err)
	}
}

func TestGrow(t *testing.T) {
	root, fds := layout(t)
	ctx := context.Background()

	// Budget for 5 streams at 256 KiB, not 512 KiB.
	r, err := Grow(ctx, Options{ExecRoot: root, Target: 1 * m, Budget: 5*256*k + 100*k})
	if err != nil || r.Failed != 0 {
		t.Fatalf("Grow: %v %+v", err, r)
	}
	if r.Level != 256*k || r.Grown() != 5 || r.Total != 5*256*k {
		t.Errorf("level %d grown %d total %d", r.Level, r.Grown(), r.Total)
	}
	for p, fd := range fds {
		if got := fdSize(t, fd); got != 256*k {
			t.Errorf("%s: %d", p, got)
		}
	}
	// Again with a bigger budget but only for container aaaa.
	r, err = Grow(ctx, Options{ExecRoot: root, Target: 1 * m, Budget: 100 * m, Containers: []string{"aaaa"}})
	if err != nil || r.Grown() != 2 || r.Level != 1*m {
		t.Fatalf("Grow aaaa: %v %+v", err, r)
	}
	for p, fd := range fds {
		want := 256 * k
		if filepath.Base(filepath.Dir(p)) == "aaaa" {
			want = 1 * m
		}
		if got := fdSize(t, fd); got != want {
			t.Errorf("%s: %d, want %d", p, got, want)
		}
	}
	// Idempotent.
	r, _ = Grow(ctx, Options{ExecRoot: root, Target: 1 * m, Budget: 100 * m, Containers: []string{"aaaa"}})
	if r.Grown() != 0 {
		t.Errorf("second run grew %d", r.Grown())
	}
	if _, err := Grow(ctx, Options{ExecRoot: root, Target: 3 * m, Budget: m}); err == nil {
		t.Error("target 3M accepted")
	}
}
