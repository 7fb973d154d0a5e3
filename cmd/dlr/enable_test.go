package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/ops"
	"github.com/docker-liverestore/dlr/unit"
)

const daemonJSON = "etc/docker/daemon.json"
const dropIn = "etc/sysctl.d/60-docker-liverestore.conf"
const orig = "{\n    \"log-driver\": \"journald\",\n    \"data-root\": \"/srv/docker\"\n}\n"

func TestEnableThenDisableRestoresEveryByte(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)

	code, out, errOut := e.run("enable")
	if code != 0 {
		t.Fatalf("enable: exit %d\n%s%s", code, out, errOut)
	}
	want := "{\n    \"log-driver\": \"journald\",\n    \"data-root\": \"/srv/docker\",\n    \"live-restore\": true\n}\n"
	if got := e.read(daemonJSON); got != want {
		t.Errorf("daemon.json =\n%s\nwant\n%s", got, want)
	}
	if e.d.reloads != 1 || !e.d.liveRestore {
		t.Errorf("reloads = %d, daemon live restore = %v", e.d.reloads, e.d.liveRestore)
	}
	if got := e.read("proc/sys/fs/pipe-max-size"); strings.TrimSpace(got) != "16777216" {
		t.Errorf("pipe-max-size = %q", got)
	}
	if !strings.Contains(e.read(dropIn), "fs.pipe-max-size = 16777216") {
		t.Errorf("drop-in = %q", e.read(dropIn))
	}
	if !strings.Contains(out, "verified: dockerd reports live restore enabled") {
		t.Errorf("output does not report the verification:\n%s", out)
	}

	// A second run: nothing written, nothing reloaded, "changed": false.
	before, _ := os.Stat(filepath.Join(e.dir, daemonJSON))
	stBefore, _ := os.Stat(filepath.Join(e.h.Path(host.StateDir), "state.json"))
	code, out, _ = e.run("enable", "--json")
	if code != 0 {
		t.Fatalf("second enable: exit %d\n%s", code, out)
	}
	var r ops.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if r.Changed || !r.OK || r.Schema != 1 {
		t.Errorf("second enable report: changed=%v ok=%v schema=%d", r.Changed, r.OK, r.Schema)
	}
	after, _ := os.Stat(filepath.Join(e.dir, daemonJSON))
	stAfter, _ := os.Stat(filepath.Join(e.h.Path(host.StateDir), "state.json"))
	if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) || !stBefore.ModTime().Equal(stAfter.ModTime()) {
		t.Errorf("second enable rewrote a file")
	}
	if e.d.reloads != 1 {
		t.Errorf("second enable reloaded (reloads = %d)", e.d.reloads)
	}

	code, out, errOut = e.run("disable")
	if code != 0 {
		t.Fatalf("disable: exit %d\n%s%s", code, out, errOut)
	}
	if got := e.read(daemonJSON); got != orig {
		t.Errorf("disable did not restore the original bytes:\n%q\nwant\n%q", got, orig)
	}
	if e.exists(dropIn) {
		t.Error("disable left the sysctl drop-in")
	}
	if got := e.read("proc/sys/fs/pipe-max-size"); strings.TrimSpace(got) != "1048576" {
		t.Errorf("pipe-max-size after disable = %q, want the prior 1048576", got)
	}
	if e.d.liveRestore || e.d.reloads != 2 {
		t.Errorf("after disable: daemon live restore %v, reloads %d", e.d.liveRestore, e.d.reloads)
	}
}

func TestEnableCreatesMissingFileAndDisableRemovesIt(t *testing.T) {
	e := newTestEnv(t)
	os.RemoveAll(filepath.Join(e.dir, "etc/docker"))
	if code, out, errOut := e.run("enable"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if got := e.read(daemonJSON); got != "{\n  \"live-restore\": true\n}\n" {
		t.Errorf("new daemon.json = %q", got)
	}
	fi, _ := os.Stat(filepath.Join(e.dir, daemonJSON))
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("new daemon.json mode %v", fi.Mode())
	}
	if code, out, errOut := e.run("disable"); code != 0 {
		t.Fatalf("disable exit %d\n%s%s", code, out, errOut)
	}
	if e.exists(daemonJSON) {
		t.Errorf("disable kept the file dlr created: %q", e.read(daemonJSON))
	}
}

func TestEnableFalseBecomesTrueAndBack(t *testing.T) {
	e := newTestEnv(t)
	in := "{\r\n  \"live-restore\": false,\r\n  \"debug\": true\r\n}\r\n"
	e.write(daemonJSON, in)
	if code, out, errOut := e.run("enable"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if got := e.read(daemonJSON); got != strings.Replace(in, "false", "true", 1) {
		t.Errorf("got %q", got)
	}
	e.run("disable")
	if got := e.read(daemonJSON); got != in {
		t.Errorf("after disable %q, want %q", got, in)
	}
}

func TestEnableRefusesBadFilesUntouched(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"comment", "{\n  // hi\n  \"debug\": true\n}\n", "line 2, column 3: comment"},
		{"trailing comma", "{\"debug\": true,}", "trailing comma"},
		{"duplicate", "{\"debug\": true, \"debug\": false}", "duplicate key \"debug\""},
		{"string", "{\"live-restore\": \"true\"}", "not a boolean"},
		{"template", "{\"mtu\": {{ mtu }}}", "template"},
		{"utf16", "\xff\xfe{\x00}\x00", "UTF-16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.write(daemonJSON, tc.content)
			code, out, errOut := e.run("enable")
			if code != exitInvalid {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitInvalid, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, e.config) {
				t.Errorf("message %q does not name the file and %q", errOut, tc.want)
			}
			if e.read(daemonJSON) != tc.content || e.exists(dropIn) || e.d.reloads != 0 {
				t.Errorf("a refused run changed something")
			}
		})
	}
}

func TestEnableRefusesNonRegularAndLoops(t *testing.T) {
	e := newTestEnv(t)
	os.Mkdir(filepath.Join(e.dir, daemonJSON), 0o755)
	if code, _, errOut := e.run("enable"); code != exitInvalid || !strings.Contains(errOut, "a directory") {
		t.Errorf("directory: exit %d %s", code, errOut)
	}
	os.Remove(filepath.Join(e.dir, daemonJSON))
	os.Symlink("daemon.json", filepath.Join(e.dir, daemonJSON))
	if code, _, errOut := e.run("enable"); code != exitInvalid || !strings.Contains(errOut, "symlink loop") {
		t.Errorf("loop: exit %d %s", code, errOut)
	}
}

func TestEnableThroughSymlinkReplacesTarget(t *testing.T) {
	e := newTestEnv(t)
	e.write("srv/conf/daemon.json", orig)
	os.Symlink("../../srv/conf/daemon.json", filepath.Join(e.dir, daemonJSON))
	if code, out, errOut := e.run("enable"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	fi, _ := os.Lstat(filepath.Join(e.dir, daemonJSON))
	if fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced by a file")
	}
	if !strings.Contains(e.read("srv/conf/daemon.json"), "\"live-restore\": true") {
		t.Error("the target was not updated")
	}
}

func TestEnableFlag(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.write("etc/default/docker", "DOCKER_OPTS=\"--live-restore --dns 1.1.1.1\"\n")
	e.d.svc.EnvironmentFiles = []unit.EnvFile{{Path: "/etc/default/docker", Optional: true}}
	code, out, errOut := e.run("enable")
	if code != 0 || !strings.Contains(out, "already enabled by a flag") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if e.read(daemonJSON) != orig || e.d.reloads != 0 || e.exists(dropIn) {
		t.Error("enable with the flag set changed something")
	}

	e.write("etc/default/docker", "DOCKER_OPTS=\"--live-restore=false\"\n")
	code, _, errOut = e.run("enable")
	if code != exitRefused || !strings.Contains(errOut, "specified both as a flag") {
		t.Errorf("--live-restore=false: exit %d %s", code, errOut)
	}
	if e.read(daemonJSON) != orig {
		t.Error("refusal changed daemon.json")
	}
}

func TestEnableRefusesSwarm(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.swarm = "active"
	code, _, errOut := e.run("enable")
	if code != exitRefused || !strings.Contains(errOut, guard.SwarmReason) {
		t.Errorf("exit %d %s", code, errOut)
	}
	if e.read(daemonJSON) != orig || e.exists(dropIn) {
		t.Error("refusal changed something")
	}

	// Docker stopped, but the node was in a swarm when it last ran.
	e.d.svc.ActiveState = "inactive"
	e.write("srv/docker/swarm/docker-state.json", "{}") // orig has data-root /srv/docker
	code, _, errOut = e.run("enable")
	if code != exitRefused || !strings.Contains(errOut, "docker-state.json exists") {
		t.Errorf("offline swarm: exit %d %s", code, errOut)
	}
	if e.d.infoCalls != 1 {
		t.Errorf("dlr called the Docker API while docker.service was inactive (calls: %d)", e.d.infoCalls)
	}
}

func TestEnableRollsBackWhenDaemonIgnoresReload(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.rejectAll = true
	code, out, errOut := e.run("enable")
	if code != exitFailed {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"did not report live restore enabled", "reload rejected by fake", "Put back", "never restarted"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error lacks %q:\n%s", want, errOut)
		}
	}
	if got := e.read(daemonJSON); got != orig {
		t.Errorf("daemon.json not restored: %q", got)
	}
	if e.exists(dropIn) || strings.TrimSpace(e.read("proc/sys/fs/pipe-max-size")) != "1048576" {
		t.Error("sysctl changes not rolled back")
	}
	if e.d.reloads != 2 {
		t.Errorf("reloads = %d, want 2 (the change and the restore)", e.d.reloads)
	}
	// The state must not claim a change that was rolled back.
	if code, out, _ := e.run("status", "--json"); code != 0 || strings.Contains(out, "\"managed\": true") {
		t.Errorf("status after rollback:\n%s", out)
	}
}

func TestEnableReloadJobFails(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.reloadErr = errors.New("job failed")
	code, _, errOut := e.run("enable")
	if code != exitFailed || !strings.Contains(errOut, "reloading docker.service: job failed") {
		t.Errorf("exit %d %s", code, errOut)
	}
	if e.read(daemonJSON) != orig {
		t.Error("not restored")
	}
}

func TestEnableDockerNotRunningOrMissing(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.svc.ActiveState = "inactive"
	code, out, _ := e.run("enable")
	if code != 0 || !strings.Contains(out, "applies when it starts") || e.d.reloads != 0 || e.d.infoCalls != 0 {
		t.Errorf("inactive: exit %d reloads %d info %d\n%s", code, e.d.reloads, e.d.infoCalls, out)
	}
	e2 := newTestEnv(t)
	e2.d.svc.LoadState = ""
	code, out, _ = e2.run("enable")
	if code != 0 || !strings.Contains(out, "not installed") || !strings.Contains(e2.read(daemonJSON), "live-restore") {
		t.Errorf("not installed: exit %d\n%s", code, out)
	}
}

func TestEnableAlreadyTrueButNotLoaded(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, "{\"live-restore\": true}\n")
	code, out, _ := e.run("enable")
	if code != 0 || e.d.reloads != 1 || !strings.Contains(out, "reloading to apply it") {
		t.Errorf("exit %d reloads %d\n%s", code, e.d.reloads, out)
	}
	// disable leaves live restore dlr did not turn on.
	code, out, _ = e.run("disable")
	if code != 0 || !strings.Contains(out, "by someone other than dlr") || !strings.Contains(e.read(daemonJSON), "true") {
		t.Errorf("disable: exit %d\n%s", code, out)
	}
	code, _, _ = e.run("disable", "--force")
	if code != 0 || !strings.Contains(e.read(daemonJSON), "\"live-restore\": false") || e.d.liveRestore {
		t.Errorf("disable --force: exit %d, file %q", code, e.read(daemonJSON))
	}
}

func TestEnableDryRunChangesNothing(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.h.Euid = func() int { return 1000 }
	code, out, errOut := e.run("enable", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d %s", code, errOut)
	}
	for _, want := range []string{"+++ b" + e.config, "+    \"live-restore\": true", "-    \"data-root\": \"/srv/docker\"", "would: reload docker.service", "+fs.pipe-max-size = 16777216"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if e.read(daemonJSON) != orig || e.exists(dropIn) || e.d.reloads != 0 || e.exists("var/lib/docker-liverestore") {
		t.Error("dry run changed something")
	}
}

func TestEnableNoReloadAndChroot(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	code, out, _ := e.run("enable", "--no-reload")
	if code != 0 || e.d.reloads != 0 || e.d.infoCalls != 0 || !strings.Contains(e.read(daemonJSON), "live-restore") {
		t.Errorf("--no-reload: exit %d reloads %d\n%s", code, e.d.reloads, out)
	}
	if strings.TrimSpace(e.read("proc/sys/fs/pipe-max-size")) != "1048576" {
		t.Error("--no-reload changed the running sysctl")
	}

	c := newTestEnv(t)
	c.write(daemonJSON, orig)
	os.Remove(filepath.Join(c.dir, "proc/1/root"))
	os.Symlink(c.dir, filepath.Join(c.dir, "proc/1/root")) // PID 1's root is elsewhere
	c.h.DialSystemd = nil                                  // must not be called
	code, out, _ = c.run("enable")
	if code != 0 || !strings.Contains(out, "chroot") || c.d.reloads != 0 || !strings.Contains(c.read(daemonJSON), "live-restore") {
		t.Errorf("chroot: exit %d\n%s", code, out)
	}
}

func TestNotRootAndLock(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.h.Euid = func() int { return 1000 }
	if code, _, errOut := e.run("enable"); code != exitRefused || !strings.Contains(errOut, "needs root") {
		t.Errorf("not root: exit %d %s", code, errOut)
	}
	e.h.Euid = func() int { return 0 }
	os.MkdirAll(filepath.Dir(e.h.Path(host.LockFile)), 0o700)
	f, _ := os.OpenFile(e.h.Path(host.LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	defer f.Close()
	syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	if code, _, errOut := e.run("enable"); code != exitBusy || !strings.Contains(errOut, "timed out waiting for the lock") {
		t.Errorf("locked: exit %d %s", code, errOut)
	}
	if e.read(daemonJSON) != orig {
		t.Error("changed while locked out")
	}
}

func TestNoBusRefusesBeforeWriting(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.h.DialSystemd = func(context.Context) (host.Systemd, error) { return nil, unit.ErrNoBus }
	code, _, errOut := e.run("enable")
	if code != exitFailed || !strings.Contains(errOut, "nothing was changed") || e.read(daemonJSON) != orig {
		t.Errorf("exit %d %s", code, errOut)
	}
}

func TestUsage(t *testing.T) {
	e := newTestEnv(t)
	for _, args := range [][]string{{}, {"frobnicate"}, {"enable", "--nope"}, {"enable", "extra"}, {"enable", "--pipe-max-size", "3000"}} {
		if code, _, _ := e.run(args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// Without systemd as PID 1, dlr finds dockerd from its pid file (checking
// /proc/PID/comm, so a stale pid file is not trusted) and sends SIGHUP.
func TestEnableWithoutSystemdSignalsDockerd(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	os.RemoveAll(filepath.Join(e.dir, "run/systemd"))
	e.h.DialSystemd = nil // must not be called
	e.write("var/run/docker.pid", "777\n")
	e.write("proc/777/comm", "dockerd\n")
	e.write("proc/777/cmdline", "/usr/bin/dockerd\x00--config-file\x00"+e.config+"\x00")
	var signalled []int
	e.h.Signal = func(pid int, sig syscall.Signal) error {
		if sig == syscall.SIGHUP {
			signalled = append(signalled, pid)
			return e.d.Reload(context.Background(), host.DockerService)
		}
		return nil
	}
	code, out, errOut := e.run("enable")
	if code != 0 || len(signalled) != 1 || signalled[0] != 777 || !e.d.liveRestore {
		t.Fatalf("exit %d, SIGHUPs %v, live restore %v\n%s%s", code, signalled, e.d.liveRestore, out, errOut)
	}

	// A stale pid file (PID reused by another program): no signal, the
	// file is written for the next start.
	e2 := newTestEnv(t)
	os.RemoveAll(filepath.Join(e2.dir, "run/systemd"))
	e2.write("var/run/docker.pid", "778\n")
	e2.write("proc/778/comm", "nginx\n")
	e2.h.Signal = func(int, syscall.Signal) error { t.Error("signalled a stale PID"); return nil }
	code, out, _ = e2.run("enable")
	if code != 0 || !strings.Contains(out, "applies when it starts") {
		t.Errorf("stale pid file: exit %d\n%s", code, out)
	}
}

func TestStatusWithoutRootOrDaemon(t *testing.T) {
	e := newTestEnv(t)
	e.h.Euid = func() int { return 1000 }
	e.d.infoErr = errors.New("permission denied")
	code, out, _ := e.run("status")
	if code != 0 || !strings.Contains(out, "unknown:") || !strings.Contains(out, "permission denied") {
		t.Errorf("exit %d\n%s", code, out)
	}
	if code, _, _ := e.run("status", "--quiet"); code != exitFailed {
		t.Errorf("status --quiet with live restore off: exit %d", code)
	}
}

// A chroot for an image build often has no /proc at all: dlr writes the files
// for the system that will boot from it.
func TestEnableInChrootWithoutProc(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	os.RemoveAll(filepath.Join(e.dir, "proc"))
	e.h.DialSystemd = nil
	code, out, errOut := e.run("enable")
	if code != 0 || !strings.Contains(out, "chroot") || !strings.Contains(e.read(daemonJSON), "live-restore") || !strings.Contains(e.read(dropIn), "16777216") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestEnableDisableEmptyFileGivesBackTheSameBytes(t *testing.T) {
	for _, in := range []string{"", "\n", "  \r\n\t", "\xef\xbb\xbf\n"} {
		e := newTestEnv(t)
		e.write(daemonJSON, in)
		if code, out, errOut := e.run("enable"); code != 0 {
			t.Fatalf("%q: enable exit %d\n%s%s", in, code, out, errOut)
		}
		if code, out, errOut := e.run("disable"); code != 0 {
			t.Fatalf("%q: disable exit %d\n%s%s", in, code, out, errOut)
		}
		if got := e.read(daemonJSON); got != in {
			t.Errorf("enable+disable of %q left %q", in, got)
		}
		if e.d.liveRestore {
			t.Errorf("%q: the daemon still has live restore on", in)
		}
	}
}
