package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/host"
)

const (
	bareUnit = "etc/systemd/system/" + host.WatcherService
	bareLink = "etc/systemd/system/multi-user.target.wants/" + host.WatcherService
)

// newBareEnv is a host where dlr was installed without its package: no
// watcher unit anywhere, dlr at /usr/local/bin/dlr.
func newBareEnv(t *testing.T) *testEnv {
	e := newTestEnv(t)
	os.Remove(filepath.Join(e.dir, "lib/systemd/system", host.WatcherService))
	e.h.Self = "/usr/local/bin/dlr"
	e.write(daemonJSON, orig)
	return e
}

// Item 15: the bare binary installs the watcher's unit (naming itself),
// enables it for boot and starts it; disable stops it and removes both;
// the second enable rewrites nothing.
func TestBareEnableInstallsTheWatcher(t *testing.T) {
	e := newBareEnv(t)
	code, out, errOut := e.run("enable")
	if code != 0 {
		t.Fatalf("enable: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(e.read(bareUnit), "ExecStart=/usr/local/bin/dlr watch $DLR_WATCH_OPTS\n") || !strings.HasPrefix(e.read(bareUnit), "# Written by dlr") {
		t.Errorf("unit:\n%s", e.read(bareUnit))
	}
	if got, err := os.Readlink(filepath.Join(e.dir, bareLink)); err != nil || got != "/etc/systemd/system/"+host.WatcherService {
		t.Errorf("boot link %q, %v", got, err)
	}
	if len(e.d.started) != 1 || e.d.started[0] != host.WatcherService {
		t.Errorf("started %v\n%s", e.d.started, out)
	}
	if !strings.Contains(e.read(dockerDropIn), "ExecStop=-/usr/local/bin/dlr buffers --quiet") {
		t.Errorf("drop-in:\n%s", e.read(dockerDropIn))
	}
	unitBytes := e.read(bareUnit)
	if code, out, _ := e.run("enable"); code != 0 || strings.Contains(out, "installed ") || e.read(bareUnit) != unitBytes {
		t.Errorf("second enable: exit %d\n%s", code, out)
	}

	reloads := e.d.daemonReloads
	code, out, errOut = e.run("disable")
	if code != 0 || e.exists(bareUnit) || e.exists(bareLink) {
		t.Fatalf("disable: exit %d, unit left %v, link left %v\n%s%s", code, e.exists(bareUnit), e.exists(bareLink), out, errOut)
	}
	if len(e.d.stopped) == 0 || e.d.daemonReloads == reloads {
		t.Errorf("disable: stopped %v, daemon-reloads %d -> %d\n%s", e.d.stopped, reloads, e.d.daemonReloads, out)
	}
}

// An admin's own unit in /etc is never replaced, nor removed.
func TestBareEnableKeepsTheAdminsUnit(t *testing.T) {
	e := newBareEnv(t)
	e.write(bareUnit, "[Service]\nExecStart=/opt/dlr watch\n")
	if code, out, _ := e.run("enable"); code != 0 || strings.Contains(out, "installed ") {
		t.Errorf("enable: exit %d\n%s", code, out)
	}
	e.run("disable")
	if e.read(bareUnit) != "[Service]\nExecStart=/opt/dlr watch\n" {
		t.Errorf("the admin's unit changed: %q", e.read(bareUnit))
	}
}

// dlr run from a temporary directory refuses to write its path into the
// hooks and the unit, unless the same binary is installed: then it names
// that one.
func TestBareEnableNeedsAStablePath(t *testing.T) {
	tmp := filepath.Join(t.TempDir(), "dlr")
	os.WriteFile(tmp, []byte("dlr binary bytes"), 0o755)

	e := newBareEnv(t)
	e.h.Self = tmp
	code, out, errOut := e.run("enable")
	if code != exitRefused || !strings.Contains(errOut, "not an installed path") || e.exists(dockerDropIn) || e.exists(bareUnit) {
		t.Errorf("exit %d, drop-in %v, unit %v\n%s%s", code, e.exists(dockerDropIn), e.exists(bareUnit), out, errOut)
	}
	if !strings.Contains(e.read(daemonJSON), orig) {
		t.Error("daemon.json changed by a refused enable")
	}

	e = newBareEnv(t)
	e.h.Self = tmp
	e.write("usr/local/bin/dlr", "dlr binary bytes")
	code, out, errOut = e.run("enable")
	if code != 0 || !strings.Contains(e.read(dockerDropIn), "ExecStop=-/usr/local/bin/dlr buffers") ||
		!strings.Contains(e.read(bareUnit), "ExecStart=/usr/local/bin/dlr watch") || !strings.Contains(out, "installed at /usr/local/bin/dlr") {
		t.Errorf("exit %d\n%s%s\n%s", code, out, errOut, e.read(dockerDropIn))
	}
}

// dlr moved (e.g. from /usr/local/bin to /usr/bin): enable rewrites its
// unit, which systemd has loaded: a daemon-reload, so the GPU rule applies.
func TestBareEnableRewritesTheUnitWhenDlrMoved(t *testing.T) {
	e := newBareEnv(t)
	if code, out, errOut := e.run("enable"); code != 0 {
		t.Fatalf("enable: exit %d\n%s%s", code, out, errOut)
	}
	e.h.Self = "/usr/bin/dlr"
	e.d.gpu = gpuAtRisk
	if code, _, errOut := e.run("enable"); code != exitRefused || !strings.Contains(errOut, "watcher unit") {
		t.Errorf("with a GPU container: exit %d\n%s", code, errOut)
	}
	e.d.gpu = host.GPUReport{}
	reloads := e.d.daemonReloads
	if code, out, errOut := e.run("enable"); code != 0 || !strings.Contains(e.read(bareUnit), "ExecStart=/usr/bin/dlr watch") || e.d.daemonReloads == reloads {
		t.Errorf("exit %d, daemon-reloads %d -> %d\n%s%s\n%s", code, reloads, e.d.daemonReloads, out, errOut, e.read(bareUnit))
	}
}
