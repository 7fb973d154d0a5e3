//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// waitWatcherActive waits (up to 5 s) for the watcher's start job: dlr
// enable does not wait for it.
func waitWatcherActive(t *testing.T, g *rig.Guest) string {
	t.Helper()
	return gsh(t, g, "for i in $(seq 100); do systemctl is-active -q "+pkgWatcher+" && break; sleep 0.05; done; systemctl is-active "+pkgWatcher+" || true")
}

// TestBareBinary (issue 14, item 15): dlr installed without its package.
// Run from a temporary directory, enable refuses and writes nothing; from
// /usr/local/bin it installs the watcher's unit naming that path, enables
// and starts it, new containers get grown FIFOs, the next run takes the
// fast path; disable stops the watcher and removes its unit.
func TestBareBinary(t *testing.T) {
	forSuites(t, func(t *testing.T, suite string) {
		keepHostPipeMaxSize(t)
		g := rig.Boot(t, suite)
		g.CopyIn(t, pipeszBinary(t), "/usr/local/bin/pipesz", 0o755)
		g.ImportImage(t, "logger", rig.BuildLogger(t))
		const unitFile = "/etc/systemd/system/" + pkgWatcher
		const dropIn = "/etc/systemd/system/docker.service.d/zz-docker-liverestore.conf"

		g.CopyIn(t, dlrBinary(t), "/tmp/dlr-unpacked/dlr", 0o755)
		out, code := pkgRun(t, g, "/tmp/dlr-unpacked/dlr enable")
		if code != 3 || !strings.Contains(out, "not an installed path") {
			t.Errorf("dlr from /tmp: exit %d, want 3 with the reason", code)
		}
		if got := gsh(t, g, "ls "+unitFile+" "+dropIn+" 2>/dev/null || true"); got != "" {
			t.Errorf("a refused enable wrote %s", got)
		}

		g.CopyIn(t, dlrBinary(t), "/usr/local/bin/dlr", 0o755)
		out = pkgMust(t, g, "/usr/local/bin/dlr enable")
		wantContains(t, "bare enable", out, "installed "+unitFile, "started "+pkgWatcher)
		if !strings.Contains(readGuestFile(t, g, unitFile), "ExecStart=/usr/local/bin/dlr watch") ||
			!strings.Contains(readGuestFile(t, g, dropIn), "ExecStop=-/usr/local/bin/dlr buffers --quiet") {
			t.Errorf("unit or drop-in does not name /usr/local/bin/dlr:\n%s\n%s", readGuestFile(t, g, unitFile), readGuestFile(t, g, dropIn))
		}
		if a, e := waitWatcherActive(t, g), gsh(t, g, "systemctl is-enabled "+pkgWatcher+" || true"); a != "active" || e != "enabled" {
			t.Fatalf("watcher %s, %s after a bare enable", a, e)
		}
		pid := gsh(t, g, "systemctl show -p MainPID --value "+pkgWatcher)
		if exe := gsh(t, g, "readlink /proc/"+pid+"/exe"); exe != "/usr/local/bin/dlr" {
			t.Errorf("watcher runs %q", exe)
		}
		wantGrownByWatcher(t, g, suite, "c1")

		start := time.Now()
		out = pkgMust(t, g, "/usr/local/bin/dlr enable")
		if !strings.Contains(out, "nothing has changed since") {
			t.Errorf("second bare enable did not take the fast path:\n%s\nrecord: %s", out,
				gsh(t, g, "cat /var/lib/docker-liverestore/verified 2>&1; systemctl show -p Slice,ControlGroup "+pkgWatcher))
		}
		t.Logf("FIGURE %s: second bare enable (fast path) %v wall, including the guest exec", suite, time.Since(start).Round(100*time.Microsecond))

		out = pkgMust(t, g, "/usr/local/bin/dlr disable")
		wantContains(t, "bare disable", out, "removed "+unitFile)
		if got := gsh(t, g, "ls "+unitFile+" "+pkgWatcherWants+" 2>/dev/null || true"); got != "" {
			t.Errorf("disable left %s", got)
		}
		if a, l := gsh(t, g, "systemctl is-active "+pkgWatcher+" || true"), gsh(t, g, "systemctl show -p LoadState --value "+pkgWatcher); a == "active" || l != "not-found" {
			t.Errorf("watcher after disable: %s, %s", a, l)
		}
	})
}

// TestPackagedNeverEnabled (issue 14, item 15): the package installed with
// ENABLE_ON_INSTALL=no (as the Ansible role does) leaves the watcher
// disabled and stopped; a hand-run `dlr enable` enables and starts it, and
// the next run takes the fast path. An admin's `systemctl disable` is kept
// by later enables, both after that and after an install that enabled it
// (deb-systemd-helper's record).
func TestPackagedNeverEnabled(t *testing.T) {
	p := packagesForTest(t)
	forSuites(t, func(t *testing.T, suite string) {
		g := pkgGuest(t, suite, p)
		g.CopyIn(t, pipeszBinary(t), "/usr/local/bin/pipesz", 0o755)
		pkgMust(t, g, "DLR_ENABLE_ON_INSTALL=no dpkg -i "+guestDeb(p.Cur))
		if w := observeWatcher(t, g); w.active == "active" || w.enabled != "disabled" {
			t.Fatalf("watcher after an ENABLE_ON_INSTALL=no install: %+v", w)
		}
		out := pkgMust(t, g, "dlr enable --json")
		wantContains(t, "enable after ENABLE_ON_INSTALL=no", out, "it had never been enabled", "started "+pkgWatcher)
		waitWatcherActive(t, g)
		wantWatcherRunning(t, g, "dlr enable after ENABLE_ON_INSTALL=no")
		wantGrownByWatcher(t, g, suite, "c1")
		if out := pkgMust(t, g, "dlr enable"); !strings.Contains(out, "nothing has changed since") {
			t.Errorf("no fast path after the watcher started:\n%s", out)
		}

		admin := func(what string) {
			t.Helper()
			pkgMust(t, g, "systemctl disable --now "+pkgWatcher+" && dlr disable")
			out := pkgMust(t, g, "dlr enable")
			wantContains(t, what, out, "was disabled by the admin")
			if w := observeWatcher(t, g); w.active == "active" || w.enabled != "disabled" {
				t.Errorf("%s: watcher %+v, want the admin's disable kept", what, w)
			}
		}
		admin("admin's disable after dlr enabled it")

		pkgMust(t, g, "dpkg -P docker-liverestore && dpkg -i "+guestDeb(p.Cur))
		wantWatcherRunning(t, g, "a default install")
		admin("admin's disable after the package enabled it")
	})
}

// TestGPUFakeDevice (issue 14, item 16): no GPU here, so a container gets a
// fake NVIDIA device node (/dev/nvidia0, a char device with an unused
// major) under Docker's systemd cgroup driver. enable refuses the
// daemon-reload its drop-in needs, naming the container; `dlr
// daemon-reload` (the packages') skips it; --force goes ahead; disable
// holds it; with the container gone, it runs. Systemd's generator
// timestamp, which each daemon-reload renews, proves when one ran.
func TestGPUFakeDevice(t *testing.T) {
	forSuites(t, func(t *testing.T, suite string) {
		g := guest(t, suite)
		writeGuest(t, g, "/etc/docker/daemon.json", "{\"exec-opts\": [\"native.cgroupdriver=systemd\"]}\n")
		g.MustExec(t, "systemctl", "restart", "docker")
		if d := gsh(t, g, "docker info -f '{{.CgroupDriver}}'"); d != "systemd" {
			t.Fatalf("cgroup driver %q", d)
		}
		g.MustExec(t, "sh", "-c", "rm -f /dev/nvidia0 && mknod -m 666 /dev/nvidia0 c 240 0")
		g.MustExec(t, "docker", "run", "-d", "--name", "gpu", "--device", "/dev/nvidia0", "logger", "/app")
		g.MustExec(t, "docker", "run", "-d", "--name", "plain", "logger", "/app")
		// A probe unit, kept active (never garbage-collected): systemd
		// shows the Description it loaded, which changes only when a
		// daemon-reload reads the file again.
		probe := func(n string) {
			writeGuest(t, g, "/etc/systemd/system/dlr-probe.service",
				"[Unit]\nDescription="+n+"\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n")
		}
		loaded := func() string { return gsh(t, g, "systemctl show -p Description --value dlr-probe.service") }
		probe("r0")
		g.MustExec(t, "sh", "-c", "systemctl daemon-reload && systemctl start dlr-probe.service")
		probe("r1")
		reloadedAt := loaded
		t0 := "r0"

		out, code := pkgRun(t, g, "dlr enable")
		if code != 3 || !strings.Contains(out, "gpu (device /dev/nvidia0)") || !strings.Contains(out, "NVIDIA's workaround") || strings.Contains(out, "plain") {
			t.Errorf("enable with a GPU container: exit %d, want 3 naming gpu only", code)
		}
		if reloadedAt() != t0 || liveRestoreEnabled(t, g) != "false" {
			t.Errorf("a refused enable daemon-reloaded or turned live restore on")
		}
		if out := pkgMust(t, g, "dlr daemon-reload"); !strings.Contains(out, "gpu (device /dev/nvidia0)") || reloadedAt() != t0 {
			t.Errorf("dlr daemon-reload with a GPU container: %q, reloaded %v", out, reloadedAt() != t0)
		}

		gpuPID := containerPID(t, g, "gpu")
		pkgMust(t, g, "dlr enable --force")
		t1 := reloadedAt()
		probe("r2")
		if t1 == t0 || liveRestoreEnabled(t, g) != "true" || containerPID(t, g, "gpu") != gpuPID {
			t.Errorf("enable --force: daemon-reloaded %v, live restore %s", t1 != t0, liveRestoreEnabled(t, g))
		}
		waitWatcherActive(t, g)

		out = pkgMust(t, g, "dlr disable")
		wantContains(t, "disable with a GPU container", out, "not running systemctl daemon-reload: 1 running container(s) use GPU devices")
		if reloadedAt() != t1 {
			t.Error("disable daemon-reloaded with a GPU container running")
		}

		g.MustExec(t, "docker", "rm", "-f", "gpu")
		if out := pkgMust(t, g, "dlr daemon-reload"); strings.TrimSpace(out) != "" || reloadedAt() == t1 {
			t.Errorf("dlr daemon-reload without GPU containers: %q, reloaded %v", out, reloadedAt() != t1)
		}
	})
}
