//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

var (
	dlrOnce sync.Once
	dlrPath string
	dlrErr  error
)

// dlrBinary returns a static dlr: $DLR_BIN if set (make e2e passes bin/dlr),
// else one built from this checkout.
func dlrBinary(t testing.TB) string {
	t.Helper()
	dlrOnce.Do(func() {
		if p := os.Getenv("DLR_BIN"); p != "" {
			dlrPath, dlrErr = filepath.Abs(p)
			return
		}
		dir, err := os.MkdirTemp("", "dlr-e2e-bin-")
		if err != nil {
			dlrErr = err
			return
		}
		dlrPath = filepath.Join(dir, "dlr")
		cmd := exec.Command("go", "build", "-trimpath", "-o", dlrPath, "../cmd/dlr")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			dlrErr = &buildError{string(out), err}
		}
	})
	if dlrErr != nil {
		t.Fatalf("building dlr: %v", dlrErr)
	}
	return dlrPath
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// guest boots a suite with dlr at /usr/bin/dlr and the logger image.
func guest(t *testing.T, suite string) *rig.Guest {
	t.Helper()
	keepHostPipeMaxSize(t)
	g := rig.Boot(t, suite)
	g.CopyIn(t, dlrBinary(t), "/usr/bin/dlr", 0o755)
	g.ImportImage(t, "logger", rig.BuildLogger(t))
	return g
}

// keepHostPipeMaxSize restores fs.pipe-max-size after the test: it is not
// namespaced, so a guest that sets it sets the host's.
func keepHostPipeMaxSize(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/fs/pipe-max-size")
	if err != nil {
		return
	}
	t.Cleanup(func() { os.WriteFile("/proc/sys/fs/pipe-max-size", b, 0o644) })
}

// dlr runs dlr in the guest and returns its exit code and output.
func dlr(t *testing.T, g *rig.Guest, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code, err := g.Exec(ctx, append([]string{"dlr"}, args...)...)
	if err != nil {
		t.Fatalf("dlr %v: %v\n%s", args, err, errOut)
	}
	t.Logf("$ dlr %s  (exit %d)\n%s%s", strings.Join(args, " "), code, out, errOut)
	return code, out, errOut
}

// dlrAs runs dlr in the guest as another user.
func dlrAs(t *testing.T, g *rig.Guest, user string, args ...string) (int, string, string) {
	t.Helper()
	out, errOut, code, err := g.Exec(context.Background(), append([]string{"runuser", "-u", user, "--", "dlr"}, args...)...)
	if err != nil {
		t.Fatalf("dlr %v as %s: %v", args, user, err)
	}
	return code, out, errOut
}

type jsonReport struct {
	OK          bool `json:"ok"`
	Changed     bool `json:"changed"`
	LiveRestore struct {
		FileBefore, FileAfter, Daemon string
	} `json:"live_restore"`
	Error *struct {
		ExitCode int    `json:"exit_code"`
		Message  string `json:"message"`
	} `json:"error"`
	Status *struct {
		Effective         bool   `json:"effective"`
		DaemonLiveRestore string `json:"daemon_live_restore"`
		KillMode          string `json:"kill_mode"`
		Managed           bool   `json:"managed"`
	} `json:"status"`
}

func parseReport(t *testing.T, out string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("dlr --json output does not parse: %v\n%s", err, out)
	}
	return r
}

func trimmed(t *testing.T, g *rig.Guest, args ...string) string {
	t.Helper()
	return strings.TrimSpace(g.MustExec(t, args...))
}

func mainPID(t *testing.T, g *rig.Guest) string {
	return strings.TrimPrefix(trimmed(t, g, "systemctl", "show", "-p", "MainPID", "docker.service"), "MainPID=")
}

func containerPID(t *testing.T, g *rig.Guest, name string) string {
	return trimmed(t, g, "docker", "inspect", "-f", "{{.State.Pid}}", name)
}

func liveRestoreEnabled(t *testing.T, g *rig.Guest) string {
	return trimmed(t, g, "docker", "info", "-f", "{{.LiveRestoreEnabled}}")
}

// fileID is a file's inode and mtime, to prove a file was not rewritten.
func fileID(t *testing.T, g *rig.Guest, path string) string {
	return trimmed(t, g, "stat", "-c", "%i %Y.%y", path)
}

// writeGuest writes a file into the guest's root filesystem from the host.
func writeGuest(t *testing.T, g *rig.Guest, path, content string) {
	t.Helper()
	p := g.Path(path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// unitState is `systemctl is-active UNIT`, which exits non-zero for any state
// but active.
func unitState(g *rig.Guest, name string) string {
	out, _, _, _ := g.Exec(context.Background(), "systemctl", "is-active", name)
	return strings.TrimSpace(out)
}

// suites are the rig's suites the suite-looping tests run on: all of
// rig.Suites(), or those $DLR_SUITES names (comma-separated), e.g.
// DLR_SUITES=upstream to time one suite's share of make e2e.
func suites() []string {
	only := os.Getenv("DLR_SUITES")
	if only == "" {
		return rig.Suites()
	}
	var out []string
	for _, s := range rig.Suites() {
		if slices.Contains(strings.Split(only, ","), s) {
			out = append(out, s)
		}
	}
	return out
}

// forSuites runs f as a subtest for every suite, one after the other
// (fs.pipe-max-size is the host's: suites must not run at the same time).
func forSuites(t *testing.T, f func(t *testing.T, suite string)) {
	for _, suite := range suites() {
		t.Run(suite, func(t *testing.T) { f(t, suite) })
	}
}

// TestEnableLifecycle is issue #2's main proof on a real systemd and dockerd:
// a running container, dlr enable (reload, never restart), a docker stop that
// the container survives, an idempotent second run, and dlr disable.
func TestEnableLifecycle(t *testing.T) {
	forSuites(t, func(t *testing.T, suite string) {
		g := guest(t, suite)
		const cfg = "/etc/docker/daemon.json"
		orig := "{\n  \"log-level\": \"info\"\n}\n"
		writeGuest(t, g, cfg, orig)
		g.MustExec(t, "systemctl", "restart", "docker") // start from a daemon that read this file

		g.MustExec(t, "docker", "run", "-d", "--name", "c1", "logger", "/app")
		cpid, dpid := containerPID(t, g, "c1"), mainPID(t, g)
		if got := liveRestoreEnabled(t, g); got != "false" {
			t.Fatalf("stock LiveRestoreEnabled = %s", got)
		}

		code, out, _ := dlr(t, g, "enable", "--json")
		r := parseReport(t, out)
		if code != 0 || !r.OK || !r.Changed || r.LiveRestore.Daemon != "true" {
			t.Fatalf("dlr enable: exit %d, report %+v", code, r)
		}
		if got := liveRestoreEnabled(t, g); got != "true" {
			t.Errorf("LiveRestoreEnabled after enable = %s", got)
		}
		if got := mainPID(t, g); got != dpid {
			t.Errorf("docker.service MainPID %s -> %s: dockerd was restarted", dpid, got)
		}
		if got := containerPID(t, g, "c1"); got != cpid {
			t.Errorf("container PID %s -> %s", cpid, got)
		}
		want := "{\n  \"log-level\": \"info\",\n  \"live-restore\": true\n}\n"
		if got, _ := os.ReadFile(g.Path(cfg)); string(got) != want {
			t.Errorf("daemon.json = %q, want %q", got, want)
		}
		if got := trimmed(t, g, "cat", "/proc/sys/fs/pipe-max-size"); got != "16777216" {
			t.Errorf("fs.pipe-max-size = %s", got)
		}
		if !strings.Contains(trimmed(t, g, "cat", "/etc/sysctl.d/60-docker-liverestore.conf"), "fs.pipe-max-size = 16777216") {
			t.Error("sysctl drop-in missing")
		}
		// The log buffers are real: c1's FIFOs were grown by enable.
		g.CopyIn(t, pipeszBinary(t), "/usr/local/bin/pipesz", 0o755)
		wantSizes(t, g, "c1", 16<<20)
		if got := trimmed(t, g, "systemctl", "show", "-p", "ExecStop", "docker.service"); !strings.Contains(got, "buffers") {
			t.Errorf("the stop hook is not in docker.service: %s", got)
		}

		// Again: nothing written, nothing reloaded.
		id := fileID(t, g, cfg)
		code, out, _ = dlr(t, g, "enable", "--json")
		if r := parseReport(t, out); code != 0 || r.Changed {
			t.Errorf("second enable: exit %d changed %v", code, r.Changed)
		}
		if got := fileID(t, g, cfg); got != id {
			t.Errorf("second enable rewrote daemon.json: %s -> %s", id, got)
		}
		if got := mainPID(t, g); got != dpid {
			t.Errorf("MainPID changed on the second run")
		}

		code, out, _ = dlr(t, g, "status", "--json")
		if r := parseReport(t, out); code != 0 || r.Status == nil || !r.Status.Effective || !r.Status.Managed || r.Status.KillMode != "process" {
			t.Errorf("status: exit %d %+v", code, r.Status)
		}
		if code, _, _ := dlr(t, g, "status", "--quiet"); code != 0 {
			t.Errorf("status --quiet exit %d, want 0", code)
		}
		// Without root: what it can read, and what it could not.
		out, errOut, code, _ := g.Exec(context.Background(), "runuser", "-u", "nobody", "--", "dlr", "status")
		t.Logf("$ runuser -u nobody -- dlr status  (exit %d)\n%s%s", code, out, errOut)
		if code != 0 || !strings.Contains(out, "daemon.json:") || !strings.Contains(out, "unknown:") {
			t.Errorf("status as nobody: exit %d", code)
		}
		if code, _, errOut := dlrAs(t, g, "nobody", "enable"); code != 3 || !strings.Contains(errOut, "needs root") {
			t.Errorf("enable as nobody: exit %d %s", code, errOut)
		}

		// The point of it all: the container outlives dockerd.
		g.MustExec(t, "systemctl", "stop", "docker", "docker.socket")
		if _, _, code, _ := g.Exec(context.Background(), "kill", "-0", cpid); code != 0 {
			t.Fatalf("container process %s died with dockerd", cpid)
		}
		if code, _, _ := dlr(t, g, "status", "--quiet"); code == 0 {
			t.Errorf("status --quiet exit 0 while docker is stopped")
		}
		if got := unitState(g, "docker.service"); got != "inactive" {
			t.Errorf("dlr status started docker (socket activation?): %s", got)
		}
		g.MustExec(t, "systemctl", "start", "docker")
		if got := trimmed(t, g, "docker", "inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "c1"); got != "running "+cpid {
			t.Errorf("after docker start, c1 is %q, want running %s", got, cpid)
		}

		dpid = mainPID(t, g)
		code, out, _ = dlr(t, g, "disable", "--json")
		if r := parseReport(t, out); code != 0 || r.LiveRestore.Daemon != "false" {
			t.Errorf("disable: exit %d %+v", code, r)
		}
		if got := liveRestoreEnabled(t, g); got != "false" {
			t.Errorf("LiveRestoreEnabled after disable = %s", got)
		}
		if got, _ := os.ReadFile(g.Path(cfg)); string(got) != orig {
			t.Errorf("disable left %q, want the original %q", got, orig)
		}
		if _, err := os.Stat(g.Path("/etc/sysctl.d/60-docker-liverestore.conf")); err == nil {
			t.Error("disable left the sysctl drop-in")
		}
		if _, err := os.Stat(g.Path("/etc/systemd/system/docker.service.d/zz-docker-liverestore.conf")); err == nil {
			t.Error("disable left the docker.service drop-in")
		}
		if got := mainPID(t, g); got != dpid {
			t.Errorf("disable restarted dockerd")
		}
		if got := containerPID(t, g, "c1"); got != cpid {
			t.Errorf("container PID changed on disable")
		}
		// docker still stops and starts with dlr's drop-in gone
		// (reset-failed: docker.service allows 3 starts a minute).
		g.Sh(t, "systemctl reset-failed docker.service; systemctl stop docker docker.socket && systemctl start docker")
		if got := unitState(g, "docker.service"); got != "active" {
			t.Errorf("docker after a stop and start: %s", got)
		}
	})
}

// TestRefusals: a malformed daemon.json, a --live-restore flag in ExecStart
// and a swarm node are refused with the file untouched and docker running.
func TestRefusals(t *testing.T) {
	forSuites(t, func(t *testing.T, suite string) {
		g := guest(t, suite)
		const cfg = "/etc/docker/daemon.json"
		dpid := mainPID(t, g)

		bad := "{\n  // mirrors\n  \"debug\": true\n}\n"
		writeGuest(t, g, cfg, bad)
		id := fileID(t, g, cfg)
		code, _, errOut := dlr(t, g, "enable")
		if code != 4 || !strings.Contains(errOut, "line 2, column 3") {
			t.Errorf("malformed: exit %d %s", code, errOut)
		}
		if got := fileID(t, g, cfg); got != id {
			t.Error("malformed daemon.json was rewritten")
		}
		if got := unitState(g, "docker.service"); got != "active" || mainPID(t, g) != dpid {
			t.Errorf("docker after a refusal: %s", got)
		}
		os.Remove(g.Path(cfg))

		// --live-restore in ExecStart, through a drop-in.
		execStart := g.Sh(t, "grep -h '^ExecStart=' $(systemctl show -p FragmentPath --value docker.service) | tail -n1")
		g.Sh(t, "mkdir -p /etc/systemd/system/docker.service.d && printf '[Service]\\nExecStart=\\n%s --live-restore\\n' '"+strings.TrimSpace(execStart)+"' > /etc/systemd/system/docker.service.d/flag.conf && systemctl daemon-reload && systemctl restart docker")
		if got := liveRestoreEnabled(t, g); got != "true" {
			t.Fatalf("the flag drop-in did not enable live restore: %s", got)
		}
		code, out, _ := dlr(t, g, "enable")
		if code != 0 || !strings.Contains(out, "already enabled by a flag") {
			t.Errorf("flag: exit %d %s", code, out)
		}
		if _, err := os.Stat(g.Path(cfg)); err == nil {
			t.Error("dlr wrote daemon.json although the flag is set")
		}
		g.Sh(t, "rm /etc/systemd/system/docker.service.d/flag.conf && systemctl daemon-reload && systemctl restart docker")

		// Swarm.
		g.MustExec(t, "docker", "swarm", "init", "--advertise-addr", "127.0.0.1")
		dpid = mainPID(t, g)
		code, _, errOut = dlr(t, g, "enable")
		if code != 3 || !strings.Contains(errOut, "incompatible with swarm mode") {
			t.Errorf("swarm: exit %d %s", code, errOut)
		}
		if _, err := os.Stat(g.Path(cfg)); err == nil {
			t.Error("dlr wrote daemon.json on a swarm node")
		}
		if mainPID(t, g) != dpid {
			t.Error("docker restarted on the swarm refusal")
		}
	})
}

// TestRollback: dockerd rejects the reloaded file (a key it does not know,
// added by "someone else"), so dlr puts the file back, reloads again and says
// why, without restarting dockerd or touching the container.
func TestRollback(t *testing.T) {
	forSuites(t, func(t *testing.T, suite string) {
		g := guest(t, suite)
		const cfg = "/etc/docker/daemon.json"
		orig := "{\n  \"no-such-option\": true\n}\n"
		writeGuest(t, g, cfg, orig)
		g.MustExec(t, "docker", "run", "-d", "--name", "c1", "logger", "/app")
		cpid, dpid := containerPID(t, g, "c1"), mainPID(t, g)
		code, _, errOut := dlr(t, g, "enable", "--timeout", "5s")
		if code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		// dockerd's reason must be quoted. Docker 28 (forky) logs it in a
		// field of its own: level=error msg="Error reloading configuration"
		// error="unable to configure ... no-such-option"; 20.10 and 26.1
		// put it in msg.
		for _, want := range []string{"dockerd rejected the new configuration", "no-such-option", "Put back", "never restarted"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("error lacks %q:\n%s", want, errOut)
			}
		}
		if got, _ := os.ReadFile(g.Path(cfg)); string(got) != orig {
			t.Errorf("daemon.json not restored: %q", got)
		}
		if mainPID(t, g) != dpid || containerPID(t, g, "c1") != cpid {
			t.Error("dockerd restarted or container changed")
		}
		if _, err := os.Stat(g.Path("/etc/sysctl.d/60-docker-liverestore.conf")); err == nil {
			t.Error("sysctl drop-in left after rollback")
		}
	})
}
