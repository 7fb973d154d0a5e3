//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
	"github.com/docker-liverestore/dlr/unit"
)

var (
	pipeszOnce sync.Once
	pipeszPath string
	pipeszErr  error
)

// pipeszBinary builds e2e/testimage/pipesz, the independent F_GETPIPE_SZ
// reader, as a static binary.
func pipeszBinary(t testing.TB) string {
	t.Helper()
	pipeszOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dlr-e2e-pipesz-")
		if err != nil {
			pipeszErr = err
			return
		}
		pipeszPath = filepath.Join(dir, "pipesz")
		cmd := exec.Command("go", "build", "-trimpath", "-o", pipeszPath, "./testimage/pipesz")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			pipeszErr = &buildError{string(out), err}
		}
	})
	if pipeszErr != nil {
		t.Fatalf("building pipesz: %v", pipeszErr)
	}
	return pipeszPath
}

const (
	kib = 1 << 10
	mib = 1 << 20
)

// bufGuest boots a suite with dlr, pipesz, the logger image, live restore
// on (daemon.json, restart) and fs.pipe-max-size at 16 MiB (the host's
// value is restored after the test).
func bufGuest(t *testing.T, suite string) *rig.Guest {
	t.Helper()
	g := guest(t, suite)
	g.CopyIn(t, pipeszBinary(t), "/usr/local/bin/pipesz", 0o755)
	writeGuest(t, g, "/etc/docker/daemon.json", "{\"live-restore\": true}\n")
	g.MustExec(t, "systemctl", "restart", "docker")
	pin16M(t, g)
	return g
}

// pin16M sets fs.pipe-max-size to 16 MiB again. It is the host's (not
// namespaced), and other tests running on the same host at the same time
// set it too; the steps that depend on it call this right before.
func pin16M(t *testing.T, g *rig.Guest) {
	g.MustExec(t, "sysctl", "-q", "-w", "fs.pipe-max-size=16777216")
}

func containerID(t *testing.T, g *rig.Guest, name string) string {
	return trimmed(t, g, "docker", "inspect", "-f", "{{.Id}}", name)
}

// fifoSizes reads the sizes of a container's log FIFOs with pipesz, by
// file name.
func fifoSizes(t *testing.T, g *rig.Guest, name string) map[string]int {
	t.Helper()
	out := g.MustExec(t, "pipesz", "/run/docker/containerd/"+containerID(t, g, name))
	m := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		n, _ := strconv.Atoi(f[0])
		m[f[1]] = n
	}
	return m
}

// wantSizes checks that a container has its two log FIFOs, both of size.
func wantSizes(t *testing.T, g *rig.Guest, name string, size int) {
	t.Helper()
	got := fifoSizes(t, g, name)
	if len(got) < 2 {
		t.Errorf("%s: log FIFOs %v, want stdout and stderr", name, got)
	}
	for f, n := range got {
		if n != size {
			t.Errorf("%s/%s: F_GETPIPE_SZ %d, want %d", name, f, n, size)
		}
	}
}

// waitSizes polls until every log FIFO of the container is size and
// returns how long that took, or fails after limit.
func waitSizes(t *testing.T, g *rig.Guest, name string, size int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := fifoSizes(t, g, name)
		ok := len(got) >= 2
		for _, n := range got {
			ok = ok && n == size
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: log FIFOs %v after %v, want all %d", name, got, limit, size)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type buffersJSON struct {
	OK      bool `json:"ok"`
	Buffers struct {
		Level, Total, Budget, Target int64
		Streams                      []struct {
			Container, Name string
			Old, New        int64
			Grown           bool
		}
	} `json:"buffers"`
}

func parseBuffers(t *testing.T, out string) buffersJSON {
	t.Helper()
	var r buffersJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("dlr buffers --json: %v\n%s", err, out)
	}
	return r
}

// TestBuffers: dlr buffers grows running containers' FIFOs within the
// budget; the ExecStop drop-in grows them on `systemctl restart docker`;
// docker stops and restarts still work with it, even when dlr is missing.
func TestBuffers(t *testing.T) {
	forSuites(t, func(t *testing.T, suite string) {
		g := bufGuest(t, suite)
		const n = 8
		for i := 1; i <= n; i++ {
			g.MustExec(t, "docker", "run", "-d", "--name", fmt.Sprintf("b%d", i), "logger", "/app")
		}
		wantSizes(t, g, "b1", 64*kib)

		// Budget: 16 streams in 4 MiB get 256 KiB each.
		code, out, _ := dlr(t, g, "buffers", "--budget", "4M", "--json")
		r := parseBuffers(t, out)
		if code != 0 || !r.OK || r.Buffers.Level != 256*kib || len(r.Buffers.Streams) != 2*n || r.Buffers.Total > 4*mib {
			t.Fatalf("dlr buffers --budget 4M: exit %d, %+v", code, r.Buffers)
		}
		total := 0
		for i := 1; i <= n; i++ {
			name := fmt.Sprintf("b%d", i)
			wantSizes(t, g, name, 256*kib)
			for _, s := range fifoSizes(t, g, name) {
				total += s
			}
		}
		if total > 4*mib {
			t.Errorf("total %d over the 4 MiB budget", total)
		}

		// Default budget (1/64 of RAM) and size (fs.pipe-max-size).
		pin16M(t, g)
		code, out, _ = dlr(t, g, "buffers", "--json")
		r = parseBuffers(t, out)
		if code != 0 || r.Buffers.Level != 16*mib {
			t.Fatalf("dlr buffers: exit %d, %+v", code, r.Buffers)
		}
		for i := 1; i <= n; i++ {
			wantSizes(t, g, fmt.Sprintf("b%d", i), 16*mib)
		}

		// The stop hook: a container with stock FIFOs, a restart.
		g.MustExec(t, "docker", "run", "-d", "--name", "hook", "logger", "/app")
		wantSizes(t, g, "hook", 64*kib)
		hook, err := unit.RenderStopHook("/usr/bin/dlr")
		if err != nil {
			t.Fatal(err)
		}
		writeGuest(t, g, "/etc/systemd/system/docker.service.d/"+unit.StopHookDropIn, string(hook))
		g.MustExec(t, "systemctl", "daemon-reload")
		if got := trimmed(t, g, "systemctl", "show", "-p", "ExecStop", "docker.service"); !strings.Contains(got, "/usr/bin/dlr") || !strings.Contains(got, "ignore_errors=yes") {
			t.Errorf("ExecStop after daemon-reload: %s", got)
		}
		cpid := containerPID(t, g, "hook")
		start := time.Now()
		g.MustExec(t, "systemctl", "reset-failed", "docker.service")
		pin16M(t, g)
		g.MustExec(t, "systemctl", "restart", "docker")
		t.Logf("systemctl restart docker with the hook: %v", time.Since(start).Round(time.Millisecond))
		wantSizes(t, g, "hook", 16*mib)
		if got := containerPID(t, g, "hook"); got != cpid {
			t.Errorf("container PID %s -> %s across the restart", cpid, got)
		}

		// Stops still work with the drop-in: a container, the daemon, and
		// the daemon with dlr gone (a removed package's leftover drop-in).
		g.MustExec(t, "docker", "stop", "-t", "1", "b8")
		start = time.Now()
		g.MustExec(t, "systemctl", "stop", "docker", "docker.socket")
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("systemctl stop docker took %v", d)
		}
		if got := unitState(g, "docker.service"); got != "inactive" {
			t.Errorf("docker.service %s after stop", got)
		}
		startDocker(t, g)
		g.MustExec(t, "mv", "/usr/bin/dlr", "/usr/bin/dlr.away")
		g.MustExec(t, "systemctl", "reset-failed", "docker.service")
		g.MustExec(t, "systemctl", "restart", "docker")
		if got := unitState(g, "docker.service"); got != "active" {
			t.Errorf("docker.service %s after a restart with dlr missing", got)
		}
		g.MustExec(t, "mv", "/usr/bin/dlr.away", "/usr/bin/dlr")
		if got := containerPID(t, g, "hook"); got != cpid {
			t.Errorf("container PID %s -> %s", cpid, got)
		}
	})
}

// startDocker starts docker.service, forgetting its start rate limit
// (Debian's unit allows 3 starts a minute; the tests restart it more).
func startDocker(t *testing.T, g *rig.Guest) {
	t.Helper()
	g.MustExec(t, "systemctl", "reset-failed", "docker.service")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, errOut, code, err := g.Exec(ctx, "systemctl", "start", "docker"); err != nil || code != 0 {
		out, _, _, _ := g.Exec(context.Background(), "sh", "-c", "systemctl status docker.service docker.socket --no-pager; journalctl -q -o short-monotonic -n 40 -u docker.service -u docker.socket")
		t.Fatalf("systemctl start docker: exit %d %v %s\n%s", code, err, errOut, out)
	}
}

// installWatcher installs buffers/docker-liverestore.service and starts it.
func installWatcher(t *testing.T, g *rig.Guest) {
	t.Helper()
	g.CopyIn(t, "../buffers/docker-liverestore.service", "/etc/systemd/system/docker-liverestore.service", 0o644)
	g.MustExec(t, "systemctl", "daemon-reload")
	g.MustExec(t, "systemctl", "enable", "--now", "docker-liverestore.service")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(g.Sh(t, "journalctl -q -o cat -u docker-liverestore.service"), "following events") {
		if time.Now().After(deadline) {
			t.Fatalf("watcher never connected:\n%s", g.Sh(t, "journalctl -q -o cat -u docker-liverestore.service"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestWatcher: the watcher unit grows each new container's and exec
// session's FIFOs within a second, never socket-activates dockerd,
// reconnects after a restart and a SIGKILL, and stays small.
func TestWatcher(t *testing.T) {
	forSuites(t, func(t *testing.T, suite string) {
		g := bufGuest(t, suite)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("fs.pipe-max-size %s; watcher log:\n%s", g.Sh(t, "cat /proc/sys/fs/pipe-max-size"), g.Sh(t, "journalctl -q -o cat -u docker-liverestore.service"))
			}
		})
		installWatcher(t, g)

		pin16M(t, g)
		g.MustExec(t, "docker", "run", "-d", "--name", "w1", "logger", "/app")
		d := waitSizes(t, g, "w1", 16*mib, 3*time.Second)
		t.Logf("w1 grown %v after docker run returned", d.Round(time.Millisecond))
		if d > time.Second {
			t.Errorf("w1 grown after %v, want within 1s", d)
		}

		// An exec session's FIFOs.
		id := containerID(t, g, "w1")
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		done := make(chan struct{})
		go func() {
			g.Exec(ctx, "docker", "exec", "w1", "/app", "-rate", "100")
			close(done)
		}()
		var execSize string
		for i := 0; i < 60 && execSize == ""; i++ {
			time.Sleep(50 * time.Millisecond)
			for _, l := range strings.Split(g.MustExec(t, "pipesz", "/run/docker/containerd/"+id), "\n") {
				f := strings.Fields(l)
				if len(f) == 2 && !strings.HasPrefix(f[1], "init-") && !strings.HasPrefix(f[1], id) && f[0] == "16777216" {
					execSize = l
				}
			}
		}
		cancel()
		<-done
		if execSize == "" {
			t.Errorf("no exec session FIFO grew to 16M: %s", g.MustExec(t, "pipesz", "/run/docker/containerd/"+id))
		} else {
			t.Logf("exec session FIFO: %s", execSize)
		}

		// docker.socket stays listening while docker.service is stopped:
		// the watcher must not start dockerd through it.
		g.MustExec(t, "systemctl", "stop", "docker")
		time.Sleep(4 * time.Second)
		if got := unitState(g, "docker.service"); got != "inactive" {
			t.Fatalf("docker.service %s while stopped with the watcher running (socket activation?)", got)
		}
		startDocker(t, g)
		pin16M(t, g)
		g.MustExec(t, "docker", "run", "-d", "--name", "w2", "logger", "/app")
		d = waitSizes(t, g, "w2", 16*mib, 5*time.Second)
		t.Logf("w2 (after a docker restart) grown %v after docker run returned", d.Round(time.Millisecond))

		// A crash: dockerd SIGKILLed, systemd restarts it (Restart=always).
		g.Sh(t, "kill -9 $(systemctl show -p MainPID --value docker.service)")
		deadline := time.Now().Add(30 * time.Second)
		for unitState(g, "docker.service") != "active" || func() bool { _, _, c, _ := g.Exec(context.Background(), "docker", "info"); return c != 0 }() {
			if time.Now().After(deadline) {
				t.Fatal("docker did not come back after SIGKILL")
			}
			time.Sleep(200 * time.Millisecond)
		}
		pin16M(t, g)
		g.MustExec(t, "docker", "run", "-d", "--name", "w3", "logger", "/app")
		d = waitSizes(t, g, "w3", 16*mib, 5*time.Second)
		t.Logf("w3 (after SIGKILL) grown %v after docker run returned", d.Round(time.Millisecond))

		pid := trimmed(t, g, "systemctl", "show", "-p", "MainPID", "--value", "docker-liverestore.service")
		hwm := g.Sh(t, "grep VmHWM /proc/"+pid+"/status")
		f := strings.Fields(hwm)
		kb, _ := strconv.Atoi(f[1])
		t.Logf("watcher peak RSS: %d kB; restarts: %s", kb, trimmed(t, g, "systemctl", "show", "-p", "NRestarts", "--value", "docker-liverestore.service"))
		if kb > 15*1000 {
			t.Errorf("watcher peak RSS %d kB, want at most 15 MB", kb)
		}
		t.Logf("watcher log:\n%s", g.Sh(t, "journalctl -q -o cat -u docker-liverestore.service"))

		dpid := mainPID(t, g)
		g.MustExec(t, "systemctl", "stop", "docker-liverestore.service")
		if got := mainPID(t, g); got != dpid || unitState(g, "docker.service") != "active" {
			t.Errorf("stopping the watcher touched docker: MainPID %s -> %s", dpid, got)
		}
	})
}
