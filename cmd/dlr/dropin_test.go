package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/unit"
)

const dockerDropIn = "etc/systemd/system/docker.service.d/zz-docker-liverestore.conf"

func TestEnableWritesDropInAndDisableRemovesIt(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.svc.KillMode = "control-group"
	if code, out, errOut := e.run("enable"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	got := e.read(dockerDropIn)
	for _, want := range []string{"ExecStartPre=-/usr/bin/dlr snapshot --config " + e.config, "ExecStop=-/usr/bin/dlr buffers --quiet", "KillMode=process"} {
		if !strings.Contains(got, want) {
			t.Errorf("drop-in lacks %q:\n%s", want, got)
		}
	}
	if e.d.daemonReloads != 1 {
		t.Errorf("daemon-reloads = %d, want 1", e.d.daemonReloads)
	}
	// Idempotent: a second enable rewrites nothing and reloads nothing.
	before, _ := os.Stat(filepath.Join(e.dir, dockerDropIn))
	e.run("enable")
	after, _ := os.Stat(filepath.Join(e.dir, dockerDropIn))
	if !os.SameFile(before, after) || e.d.daemonReloads != 1 {
		t.Errorf("second enable touched the drop-in (daemon-reloads %d)", e.d.daemonReloads)
	}
	if code, out, errOut := e.run("disable"); code != 0 {
		t.Fatalf("disable exit %d\n%s%s", code, out, errOut)
	}
	if e.exists(dockerDropIn) || e.d.daemonReloads != 2 {
		t.Errorf("disable left the drop-in or did not daemon-reload (%d)", e.d.daemonReloads)
	}
}

func TestDisableLeavesAForeignDropIn(t *testing.T) {
	e := newTestEnv(t)
	e.write(dockerDropIn, "[Service]\nEnvironment=X=1\n")
	e.run("disable")
	if e.read(dockerDropIn) != "[Service]\nEnvironment=X=1\n" {
		t.Error("disable removed a drop-in dlr did not write")
	}
}

func TestEnableRollbackRestoresDropIn(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.rejectAll = true
	if code, _, _ := e.run("enable"); code != exitFailed {
		t.Fatalf("exit %d", code)
	}
	if e.exists(dockerDropIn) || e.d.daemonReloads != 2 {
		t.Errorf("rollback left the drop-in (daemon-reloads %d)", e.d.daemonReloads)
	}
	if e.exists(filepath.Dir(dockerDropIn)) {
		t.Errorf("rollback left the empty directory %s (issue 14)", filepath.Dir(dockerDropIn))
	}
}

func TestEnableGrowsBuffersAndStartsTheWatcher(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.write("proc/meminfo", "MemTotal:       8000000 kB\n")
	fifo := filepath.Join(e.dir, "var/run/docker/containerd/abc123/init-stdout")
	os.MkdirAll(filepath.Dir(fifo), 0o755)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Hold it open, as containerd does: a pipe nobody holds loses its size.
	hold, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	e.d.units = map[string]unit.Unit{host.WatcherService: {Name: host.WatcherService, LoadState: "loaded", ActiveState: "inactive"}}
	// 1M: what the kernel lets a process without CAP_SYS_RESOURCE set
	// under the default fs.pipe-max-size (the fake /proc/sys says 1M too).
	needPipeSize(t, 1<<20)
	code, out, errOut := e.run("enable", "--pipe-max-size", "1M")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "grew abc123/init-stdout from 64K to 1M") {
		t.Errorf("FIFO not grown:\n%s%s", out, errOut)
	}
	if len(e.d.started) != 1 || e.d.started[0] != host.WatcherService {
		t.Errorf("watcher not started: %v", e.d.started)
	}
	// The second run: nothing to do, nothing changed.
	code, out, _ = e.run("enable", "--json", "--pipe-max-size", "1M")
	if code != 0 || strings.Contains(out, "\"changed\": true") || len(e.d.started) != 1 {
		t.Errorf("second enable: exit %d started %v\n%s", code, e.d.started, out)
	}
	e.run("disable")
	if len(e.d.stopped) != 1 {
		t.Errorf("disable did not stop the watcher: %v", e.d.stopped)
	}
}

func TestRealHostDefaults(t *testing.T) {
	h := host.New()
	if h.Path(host.DefaultExecRoot) != "/var/run/docker" || h.Path(host.UnitDir) != "/etc/systemd/system" || h.Path(host.DefaultConfig) != "/etc/docker/daemon.json" || h.Root != "/" {
		t.Errorf("defaults: %q %q %q", h.Path(host.DefaultExecRoot), h.Path(host.UnitDir), h.Path(host.DefaultConfig))
	}
}

func TestStatusShowsLogBuffers(t *testing.T) {
	e := newTestEnv(t)
	fifo := filepath.Join(e.dir, "var/run/docker/containerd/abc123/init-stdout")
	os.MkdirAll(filepath.Dir(fifo), 0o755)
	syscall.Mkfifo(fifo, 0o600)
	hold, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	code, out, _ := e.run("status")
	if code != 0 || !strings.Contains(out, "log buffers:       1 streams of 1 containers, smallest 64K") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// When daemon.json already says true and dockerd started after the file
// was last changed, enable does not need the Docker API at all.
func TestEnableFastPathNeedsNoDockerAPI(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, "{\"live-restore\": true}\n")
	old := time.Now().Add(-time.Hour)
	os.Chtimes(e.config, old, old)
	// dockerd (PID 4242) started 10 minutes ago; the machine booted an
	// hour and a half ago.
	boot := time.Now().Add(-90 * time.Minute).Unix()
	ticks := (time.Now().Add(-10*time.Minute).Unix() - boot) * 100
	e.write("proc/stat", "cpu 1 2 3\nbtime "+strconv.FormatInt(boot, 10)+"\n")
	e.write("proc/4242/stat", "4242 (dockerd) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 10 0 "+strconv.FormatInt(ticks, 10)+" 100 200\n")
	e.d.infoErr = errors.New("the Docker API must not be called")
	e.write("proc/meminfo", "MemTotal:       8000000 kB\n")
	if code, out, errOut := e.run("enable"); code != 0 || e.d.infoCalls != 0 {
		t.Fatalf("exit %d, info calls %d\n%s%s", code, e.d.infoCalls, out, errOut)
	}
	code, out, errOut := e.run("enable", "--json")
	if code != 0 || strings.Contains(out, "\"changed\": true") || e.d.infoCalls != 0 {
		t.Errorf("second run: exit %d, info calls %d\n%s%s", code, e.d.infoCalls, out, errOut)
	}
	// A file changed after dockerd started: ask the daemon.
	os.Chtimes(e.config, time.Now(), time.Now())
	e.d.infoErr = nil
	e.d.liveRestore = true
	if code, _, _ := e.run("enable"); code != 0 || e.d.infoCalls == 0 {
		t.Errorf("a newer file did not make dlr ask the daemon (info calls %d)", e.d.infoCalls)
	}
}

// A watcher the admin disabled stays off: deb-systemd-helper's record (its
// mirror of the boot link) or dlr's mark says it was enabled once.
func TestEnableRespectsADisabledWatcher(t *testing.T) {
	for name, mark := range map[string]string{
		"deb-systemd-helper": "var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/" + host.WatcherService,
		"dlr's mark":         "var/lib/docker-liverestore/watcher-enabled",
	} {
		t.Run(name, func(t *testing.T) {
			e := newTestEnv(t)
			e.write(daemonJSON, orig)
			e.write(mark, "")
			e.d.units = map[string]unit.Unit{host.WatcherService: {Name: host.WatcherService, LoadState: "loaded", ActiveState: "inactive",
				UnitFileState: "disabled", FragmentPath: "/lib/systemd/system/" + host.WatcherService}}
			code, out, _ := e.run("enable")
			if code != 0 || len(e.d.started) != 0 || !strings.Contains(out, "was disabled by the admin") {
				t.Errorf("exit %d, started %v\n%s", code, e.d.started, out)
			}
			if _, err := os.Lstat(filepath.Join(e.dir, "etc/systemd/system/multi-user.target.wants", host.WatcherService)); err == nil {
				t.Error("enable re-enabled a watcher the admin disabled")
			}
		})
	}
}

// A watcher that was never enabled (the packages installed with
// ENABLE_ON_INSTALL=no, as the Ansible role does) is "disabled" to systemd
// too: a hand-run enable enables it for boot, starts it and marks it, so
// that a later disable of the admin's is respected.
func TestEnableStartsANeverEnabledWatcher(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.units = map[string]unit.Unit{host.WatcherService: {Name: host.WatcherService, LoadState: "loaded", ActiveState: "inactive",
		UnitFileState: "disabled", FragmentPath: "/lib/systemd/system/" + host.WatcherService}}
	code, out, errOut := e.run("enable")
	if code != 0 || len(e.d.started) != 1 || !strings.Contains(out, "it had never been enabled") {
		t.Fatalf("exit %d, started %v\n%s%s", code, e.d.started, out, errOut)
	}
	link := filepath.Join(e.dir, "etc/systemd/system/multi-user.target.wants", host.WatcherService)
	if got, err := os.Readlink(link); err != nil || got != "/lib/systemd/system/"+host.WatcherService {
		t.Errorf("boot link %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "var/lib/docker-liverestore/watcher-enabled")); err != nil {
		t.Errorf("no mark: %v", err)
	}
}

// The packages install the drop-in in /usr/lib/systemd/system: where it is
// the right one for the host, enable writes no copy of its own and, once
// systemd has read it, needs no daemon-reload; disable leaves it (it goes
// with the package).
func TestEnableUsesThePackagedDropIn(t *testing.T) {
	const vendor = "usr/lib/systemd/system/docker.service.d/zz-docker-liverestore.conf"
	for _, loaded := range []bool{true, false} {
		t.Run("loaded="+strconv.FormatBool(loaded), func(t *testing.T) {
			e := newTestEnv(t)
			e.write(daemonJSON, orig)
			b, err := unit.RenderDropIn(unit.DropIn{DLR: "/usr/bin/dlr", Config: e.config, Snapshot: true, Packaged: true})
			if err != nil {
				t.Fatal(err)
			}
			e.write(vendor, string(b))
			if loaded {
				e.d.svc.DropInPaths = []string{filepath.Join(e.dir, vendor)}
			}
			code, out, errOut := e.run("enable")
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			if e.exists(dockerDropIn) {
				t.Errorf("enable wrote %s although the packaged drop-in is right:\n%s", dockerDropIn, out)
			}
			want := 0
			if !loaded {
				want = 1
			}
			if e.d.daemonReloads != want {
				t.Errorf("daemon-reloads = %d, want %d\n%s", e.d.daemonReloads, want, out)
			}
			if code, out, errOut := e.run("disable"); code != 0 {
				t.Fatalf("disable exit %d\n%s%s", code, out, errOut)
			}
			if e.read(vendor) != string(b) {
				t.Error("disable touched the packaged drop-in")
			}
		})
	}
}

// A host the packaged drop-in does not fit (here: a unit without
// KillMode=process) gets dlr's own copy in /etc, which replaces it.
func TestEnableOverridesAPackagedDropInThatDoesNotFit(t *testing.T) {
	const vendor = "usr/lib/systemd/system/docker.service.d/zz-docker-liverestore.conf"
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	b, _ := unit.RenderDropIn(unit.DropIn{DLR: "/usr/bin/dlr", Config: e.config, Snapshot: true, Packaged: true})
	e.write(vendor, string(b))
	e.d.svc.KillMode = "control-group"
	e.d.svc.DropInPaths = []string{filepath.Join(e.dir, vendor)}
	if code, out, errOut := e.run("enable"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(e.read(dockerDropIn), "KillMode=process") || e.d.daemonReloads != 1 {
		t.Errorf("no KillMode=process copy in /etc (daemon-reloads %d)", e.d.daemonReloads)
	}
}

// The watcher is started only once dockerd has taken the change: a
// rolled-back enable starts (and stops) nothing.
func TestRollbackStartsNoWatcher(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.write("proc/meminfo", "MemTotal:       8000000 kB\n")
	e.d.units = map[string]unit.Unit{host.WatcherService: {Name: host.WatcherService, LoadState: "loaded", ActiveState: "inactive", UnitFileState: "enabled"}}
	e.d.rejectAll = true
	if code, out, errOut := e.run("enable"); code != exitFailed {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if len(e.d.started) != 0 || len(e.d.stopped) != 0 {
		t.Errorf("started %v, stopped %v; want neither", e.d.started, e.d.stopped)
	}
	// The same host, dockerd taking the change: the watcher is started.
	e.d.rejectAll = false
	if code, out, errOut := e.run("enable"); code != 0 || len(e.d.started) != 1 {
		t.Errorf("exit %d, started %v\n%s%s", code, e.d.started, out, errOut)
	}
}
