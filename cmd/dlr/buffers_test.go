package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/docker-liverestore/dlr/host"
	"golang.org/x/sys/unix"
)

// fifo makes a FIFO under the test's root and holds it open (read-write,
// as the containerd shim holds the FIFOs of a running container) until the
// test ends. It returns the open descriptor.
func (e *testEnv) fifo(rel string) int {
	e.t.Helper()
	p := filepath.Join(e.dir, rel)
	os.MkdirAll(filepath.Dir(p), 0o700)
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		e.t.Fatal(err)
	}
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// needPipeSize skips a test that grows a real pipe to n bytes where the
// kernel would refuse it: above the host's fs.pipe-max-size without
// CAP_SYS_RESOURCE (the nspawn guests and some sandboxes lack it).
func needPipeSize(t *testing.T, n int) {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/fs/pipe-max-size")
	if err != nil {
		t.Skipf("cannot read the host's fs.pipe-max-size: %v", err)
	}
	max, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if max >= n {
		return
	}
	st, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			if caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil && caps&(1<<unix.CAP_SYS_RESOURCE) != 0 {
				return
			}
		}
	}
	t.Skipf("SKIPPED, not proven here: growing a pipe to %d bytes needs fs.pipe-max-size >= %d (the host has %d) or CAP_SYS_RESOURCE (this process lacks it)", n, n, max)
}

func pipeSz(t *testing.T, fd int) int {
	t.Helper()
	n, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

const (
	idA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	idB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// bufferEnv is a test host with 1 GiB of RAM, fs.pipe-max-size 1 MiB and
// two containers (Docker 20.10 and 26.1 names) under run/docker.
func bufferEnv(t *testing.T) (*testEnv, map[string]int) {
	needPipeSize(t, 1<<20)
	e := newTestEnv(t)
	e.write("proc/meminfo", "MemTotal:        1048576 kB\n")
	fds := map[string]int{}
	for _, p := range []string{idA + "/init-stdout", idA + "/init-stderr", idB + "/" + idB + "-stdout", idB + "/" + idB + "-stderr"} {
		fds[p] = e.fifo("var/run/docker/containerd/" + p)
	}
	e.h.Getenv = func(string) string { return "" }
	return e, fds
}

func TestBuffersGrows(t *testing.T) {
	e, fds := bufferEnv(t)
	// exec-root from daemon.json.
	e.write("etc/docker/daemon.json", `{"exec-root": "`+filepath.Join(e.dir, "var/run/docker")+`"}`)
	code, out, errOut := e.run("buffers")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for p, fd := range fds {
		if got := pipeSz(t, fd); got != 1<<20 {
			t.Errorf("%s: %d", p, got)
		}
	}
	if !strings.Contains(out, "grew aaaaaaaaaaaa/init-stdout from 64K to 1M") || !strings.Contains(out, "4 log FIFOs at 1M or more, 4M in all (budget 16M)") {
		t.Errorf("output:\n%s", out)
	}
	// Again: nothing to do, exit 0, no output with --quiet.
	code, out, errOut = e.run("buffers", "--quiet")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("second run: exit %d %q %q", code, out, errOut)
	}
}

func TestBuffersJSONAndBudget(t *testing.T) {
	e, fds := bufferEnv(t)
	code, out, errOut := e.run("buffers", "--json", "--exec-root", filepath.Join(e.dir, "var/run/docker"), "--budget", "1M", "--size", "1M")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var r struct {
		OK      bool `json:"ok"`
		Changed bool `json:"changed"`
		Buffers struct {
			Level, Total, Budget int64
			Streams              []struct {
				Container, Name string
				Old, New        int64
				Grown           bool
			}
		} `json:"buffers"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !r.OK || !r.Changed || r.Buffers.Level != 256<<10 || r.Buffers.Total != 1<<20 || len(r.Buffers.Streams) != 4 {
		t.Errorf("report %+v", r)
	}
	for p, fd := range fds {
		if got := pipeSz(t, fd); got != 256<<10 {
			t.Errorf("%s: %d", p, got)
		}
	}
}

func TestBuffersRefusals(t *testing.T) {
	e, _ := bufferEnv(t)
	root := filepath.Join(e.dir, "var/run/docker")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--size", "2M"}, exitRefused, "above fs.pipe-max-size"},
		{[]string{"--size", "3K"}, exitUsage, "power of two"},
		{[]string{"--size", "lots"}, exitUsage, "--size"},
		{[]string{"--budget", "1K"}, exitUsage, "at least 64K"},
		{[]string{"extra"}, exitUsage, "unexpected argument"},
	} {
		code, _, errOut := e.run(append([]string{"buffers", "--exec-root", root}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, %q", tc.args, code, errOut)
		}
	}
	// A symlink in place of a FIFO is refused and reported; the rest grows.
	os.Symlink("/dev/null", filepath.Join(root, "containerd", idA, "evil-stdout"))
	code, _, errOut := e.run("buffers", "--exec-root", root)
	if code != exitFailed || !strings.Contains(errOut, "evil-stdout: a symbolic link") {
		t.Errorf("symlink: exit %d %q", code, errOut)
	}
}

func TestBuffersNoContainers(t *testing.T) {
	e := newTestEnv(t)
	e.write("proc/meminfo", "MemTotal:        1048576 kB\n")
	code, out, _ := e.run("buffers", "--exec-root", filepath.Join(e.dir, "nothing"))
	if code != 0 || !strings.Contains(out, "no container is running") {
		t.Errorf("exit %d %q", code, out)
	}
}

func TestExecRootSources(t *testing.T) {
	e := newTestEnv(t)
	e.h.Getenv = func(k string) string {
		if k == "MAINPID" {
			return "4242"
		}
		return ""
	}
	e.write("proc/4242/stat", "4242 (dockerd) S 1 4242\n")
	e.write("proc/4242/cmdline", "/usr/sbin/dockerd\x00-H\x00fd://\x00--exec-root=/srv/exec\x00")
	c := e.h.DockerdCmdline(0)
	if dir, src, _ := e.h.ExecRoot("", "", c); dir != "/srv/exec" || !strings.Contains(src, "PID 4242") {
		t.Errorf("from flags: %s (%s)", dir, src)
	}
	e.write("proc/4242/stat", "4242 (dockerd) Z 1 4242\n") // a zombie is no dockerd
	if c := e.h.DockerdCmdline(0); len(c.Args) != 0 {
		t.Errorf("zombie's cmdline used: %v", c.Args)
	}
	if dir, src, _ := e.h.ExecRoot("", "", host.Cmdline{}); dir != e.h.Path(host.DefaultExecRoot) || src != "default" {
		t.Errorf("default: %s (%s)", dir, src)
	}
	e.write("etc/docker/daemon.json", `{"exec-root": "/x"`)
	if dir, _, w := e.h.ExecRoot("", "", host.Cmdline{}); dir != e.h.Path(host.DefaultExecRoot) || len(w) != 1 {
		t.Errorf("broken daemon.json: %s %v", dir, w)
	}
}

// TestExecRootSnap: Snap's dockerd (under /snap/) reads Snap's daemon.json,
// which is where `dlr buffers` must look for "exec-root" too (it used to
// read /etc/docker/daemon.json).
func TestExecRootSnap(t *testing.T) {
	e := newTestEnv(t)
	e.write("etc/docker/daemon.json", `{"exec-root": "/wrong"}`)
	e.write("var/snap/docker/current/config/daemon.json", `{"exec-root": "/snap-exec"}`)
	snap := host.Cmdline{Args: []string{"/snap/docker/2976/bin/dockerd", "-G", "docker"}, Source: "the running dockerd (PID 7)"}
	dir, src, w := e.h.ExecRoot("", "", snap)
	if dir != "/snap-exec" || !strings.Contains(src, "var/snap/docker/current/config/daemon.json") || len(w) != 0 {
		t.Errorf("Snap's dockerd: %s (%s) %v", dir, src, w)
	}
	// The same discovery as every other command's.
	if p, how := e.h.ConfigLocation("", []host.Cmdline{snap}, false); p != e.h.Path(host.SnapConfig) || how != "Snap's Docker" {
		t.Errorf("ConfigLocation: %s (%s)", p, how)
	}
}
