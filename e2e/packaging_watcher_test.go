//go:build e2e

package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// The packages ship the log-buffer watcher, docker-liverestore.service
// (`dlr watch`): installing enables and starts it, an upgrade restarts it on
// the new binary, removing stops and disables it, and none of it touches
// dockerd. Suites run one after the other: fs.pipe-max-size is the host's.

const (
	pkgWatcher      = "docker-liverestore.service"
	pkgWatcherWants = "/etc/systemd/system/multi-user.target.wants/" + pkgWatcher
)

// watcherState is what systemd says of the watcher unit.
type watcherState struct {
	active  string // systemctl is-active
	enabled string // systemctl is-enabled ("" when it has no unit file)
	pid     string // MainPID
	link    string // the multi-user.target.wants symlink: "link" or "absent"
}

func observeWatcher(t *testing.T, g *rig.Guest) watcherState {
	t.Helper()
	return watcherState{
		active:  gsh(t, g, "systemctl is-active "+pkgWatcher+" || true"),
		enabled: gsh(t, g, "systemctl is-enabled "+pkgWatcher+" 2>/dev/null || true"),
		pid:     gsh(t, g, "systemctl show -p MainPID --value "+pkgWatcher),
		link:    gsh(t, g, "test -L "+pkgWatcherWants+" && echo link || echo absent"),
	}
}

// wantWatcherRunning fails unless the watcher is active and enabled and
// runs the installed /usr/bin/dlr (not a deleted older one).
func wantWatcherRunning(t *testing.T, g *rig.Guest, what string) watcherState {
	t.Helper()
	w := observeWatcher(t, g)
	if w.active != "active" || w.enabled != "enabled" || w.link != "link" || w.pid == "0" {
		t.Errorf("watcher after %s: %+v, want active and enabled\n%s", what, w,
			gsh(t, g, "systemctl status --no-pager "+pkgWatcher+" 2>&1 || true"))
		return w
	}
	if exe := gsh(t, g, "readlink /proc/"+w.pid+"/exe"); exe != "/usr/bin/dlr" {
		t.Errorf("watcher after %s runs %q, want /usr/bin/dlr", what, exe)
	}
	return w
}

// wantWatcherGone fails unless the watcher is stopped and not enabled.
func wantWatcherGone(t *testing.T, g *rig.Guest, what string) {
	t.Helper()
	w := observeWatcher(t, g)
	if w.active == "active" || w.active == "activating" || w.enabled == "enabled" || w.link != "absent" || w.pid != "0" {
		t.Errorf("watcher after %s: %+v, want stopped and not enabled", what, w)
	}
}

// wantGrownByWatcher starts a container and waits until the watcher has
// grown its log FIFOs from the stock 64 KiB. It grows them to
// fs.pipe-max-size, 16 MiB here, but that is the host's (not namespaced),
// and tests running beside this one set it too: any size of 1 MiB (the
// kernel's default fs.pipe-max-size) or more is the watcher's doing.
func wantGrownByWatcher(t *testing.T, g *rig.Guest, suite, name string) {
	t.Helper()
	pin16M(t, g)
	g.MustExec(t, "docker", "run", "-d", "--name", name, "logger", "/app")
	start := time.Now()
	for {
		got := fifoSizes(t, g, name)
		grown := len(got) >= 2
		for _, n := range got {
			grown = grown && n >= 1*mib
		}
		if grown {
			t.Logf("FIGURE %s: %s's log FIFOs grown by the packaged watcher %s after docker run returned: %v",
				suite, name, time.Since(start).Round(time.Millisecond), got)
			for _, n := range got {
				if n != 16*mib {
					t.Logf("(not 16 MiB: the host's fs.pipe-max-size is %s now; other tests set it)",
						gsh(t, g, "cat /proc/sys/fs/pipe-max-size"))
					break
				}
			}
			return
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s: log FIFOs %v 5s after docker run: the watcher did not grow them", name, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWatcherPackageDeb: apt-get install enables and starts the watcher, a
// container started afterwards gets 16 MiB FIFOs, an upgrade restarts it on
// the new dlr, remove stops and disables it (dockerd untouched), a reinstall
// enables it again, purge leaves nothing; under policy-rc.d 101 it is
// enabled for the next boot but not started.
func TestWatcherPackageDeb(t *testing.T) {
	p := packagesForTest(t)
	forSuites(t, func(t *testing.T, suite string) {
		g := pkgGuest(t, suite, p)
		g.CopyIn(t, pipeszBinary(t), "/usr/local/bin/pipesz", 0o755)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("watcher log:\n%s", g.Sh(t, "journalctl -q -o short-monotonic -u "+pkgWatcher+" || true"))
			}
		})
		before := startWithContainer(t, g)
		wantSizes(t, g, "c1", 64*kib)

		start := time.Now()
		pkgMust(t, g, "apt-get install -y "+guestDeb(p.Cur))
		t.Logf("FIGURE %s: apt-get install of the .deb (with the watcher) took %s", suite, time.Since(start).Round(time.Millisecond))
		w := wantWatcherRunning(t, g, "apt-get install")
		if got := observeHost(t, g); got.dockerd != before.dockerd || got.container != before.container {
			t.Errorf("install restarted dockerd or c1: %+v -> %+v", before, got)
		}
		wantGrownByWatcher(t, g, suite, "w1")

		// Upgrade: the watcher is restarted, on the new binary.
		out := pkgMust(t, g, "apt-get install -y "+guestDeb(p.Newer))
		up := wantWatcherRunning(t, g, "upgrade")
		if up.pid == w.pid {
			t.Errorf("the upgrade did not restart the watcher (MainPID %s)\n%s", w.pid, out)
		}
		if got := gsh(t, g, "dlr version"); got != "dlr "+p.Newer.Version {
			t.Errorf("dlr version after upgrade = %q", got)
		}
		wantGrownByWatcher(t, g, suite, "w2")

		// An admin's disable survives a reinstall (dpkg upgrade path).
		pkgMust(t, g, "systemctl disable --now "+pkgWatcher)
		pkgMust(t, g, "apt-get install -y --reinstall "+guestDeb(p.Newer))
		if got := observeWatcher(t, g); got.enabled != "disabled" || got.link != "absent" {
			t.Errorf("the admin's disable after a reinstall: %+v, want disabled", got)
		}
		pkgMust(t, g, "systemctl enable --now "+pkgWatcher)

		// Remove: stopped and disabled; dockerd and c1 untouched.
		dockerd := mainPID(t, g)
		start = time.Now()
		out = pkgMust(t, g, "apt-get remove -y docker-liverestore")
		t.Logf("FIGURE %s: apt-get remove (with the watcher) took %s", suite, time.Since(start).Round(time.Millisecond))
		wantWatcherGone(t, g, "apt-get remove")
		if got := mainPID(t, g); got != dockerd {
			t.Errorf("apt-get remove changed dockerd's MainPID %s -> %s\n%s", dockerd, got, out)
		}
		if got := unitState(g, "docker.service"); got != "active" {
			t.Errorf("docker.service %s after remove", got)
		}
		if got := observeHost(t, g); got.procs() != before.procs() {
			t.Errorf("after remove: %+v, want %+v", got, before)
		}
		// Nothing grows a new container's FIFOs any more.
		g.MustExec(t, "docker", "run", "-d", "--name", "w3", "logger", "/app")
		time.Sleep(2 * time.Second)
		wantSizes(t, g, "w3", 64*kib)

		// Installed again after a remove: enabled and started again.
		pkgMust(t, g, "apt-get install -y "+guestDeb(p.Cur))
		wantWatcherRunning(t, g, "install after remove")

		// Purge: nothing left (unit, links, deb-systemd-helper's record).
		pkgMust(t, g, "apt-get purge -y docker-liverestore")
		wantWatcherGone(t, g, "apt-get purge")
		if got := leftovers(t, g); got != "" {
			t.Errorf("left after purge:\n%s", got)
		}
		if got := mainPID(t, g); got != dockerd {
			t.Errorf("dockerd's MainPID %s -> %s", dockerd, got)
		}

		// policy-rc.d 101: enabled for the next boot, not started.
		writeGuest(t, g, "/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n")
		g.MustExec(t, "chmod", "755", "/usr/sbin/policy-rc.d")
		out = pkgMust(t, g, "apt-get install -y "+guestDeb(p.Cur))
		wantContains(t, "install under policy-rc.d", out, "not running 'start' on "+pkgWatcher)
		if got := observeWatcher(t, g); got.active == "active" || got.link != "link" {
			t.Errorf("watcher under policy-rc.d: %+v, want enabled and not started", got)
		}
		pkgMust(t, g, "apt-get purge -y docker-liverestore")
		g.MustExec(t, "rm", "/usr/sbin/policy-rc.d")
		if got := leftovers(t, g); got != "" {
			t.Errorf("left after the purge under policy-rc.d:\n%s", got)
		}
	})
}

// TestWatcherPackageRPM: rpm -i enables and starts the watcher, rpm -U
// restarts it on the new dlr, rpm -e stops and disables it.
func TestWatcherPackageRPM(t *testing.T) {
	p := packagesForTest(t)
	forSuites(t, func(t *testing.T, suite string) {
		g := pkgGuest(t, suite, p)
		g.CopyIn(t, pipeszBinary(t), "/usr/local/bin/pipesz", 0o755)
		before := startWithContainer(t, g)
		rpm := "rpm --nodeps "
		if gsh(t, g, "rpm --help 2>&1 | grep -c -e --force-debian || true") != "0" {
			rpm += "--force-debian "
		}
		start := time.Now()
		pkgMust(t, g, rpm+"-i "+guestRPM(p.Cur))
		t.Logf("FIGURE %s: rpm -i (with the watcher) took %s", suite, time.Since(start).Round(time.Millisecond))
		w := wantWatcherRunning(t, g, "rpm -i")
		// (bookworm's systemd names /lib first: the same file, /usr merged.)
		if got := gsh(t, g, "readlink -f \"$(systemctl show -p FragmentPath --value "+pkgWatcher+")\""); got != "/usr/lib/systemd/system/"+pkgWatcher {
			t.Errorf("the rpm's unit is %q", got)
		}
		wantGrownByWatcher(t, g, suite, "w1")

		out := pkgMust(t, g, rpm+"-U "+guestRPM(p.Newer))
		if up := wantWatcherRunning(t, g, "rpm -U"); up.pid == w.pid {
			t.Errorf("rpm -U did not restart the watcher (MainPID %s)\n%s", w.pid, out)
		}

		pkgMust(t, g, rpm+"-e docker-liverestore")
		wantWatcherGone(t, g, "rpm -e")
		if got := observeHost(t, g); got.procs() != before.procs() {
			t.Errorf("after rpm -e: %+v, want %+v", got, before)
		}
		if got := leftovers(t, g); got != "" {
			t.Errorf("left after rpm -e:\n%s", got)
		}
	})
}

// TestWatcherPackageFiles checks the unit in the packages on the host: its
// paths, that it is the repository's, and that it cannot stop or restart
// docker (no Requires=, BindsTo=, PartOf=).
func TestWatcherPackageFiles(t *testing.T) {
	p := packagesForTest(t)
	host := func(script string) string {
		t.Helper()
		out, err := exec.CommandContext(context.Background(), "sh", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	want := host("cat ../buffers/docker-liverestore.service")
	deb := host("dpkg-deb --fsys-tarfile " + p.Cur.Deb + " | tar -xOf - ./lib/systemd/system/" + pkgWatcher)
	rpm := host("rpm2archive - < " + p.Cur.RPM + " | tar -xzOf - ./usr/lib/systemd/system/" + pkgWatcher)
	for what, got := range map[string]string{"deb": deb, "rpm": rpm} {
		if got != want {
			t.Errorf("the %s's unit differs from buffers/%s", what, pkgWatcher)
		}
	}
	for _, l := range strings.Split(want, "\n") {
		for _, k := range []string{"Requires=", "BindsTo=", "PartOf=", "Requisite=", "Upholds="} {
			if strings.HasPrefix(strings.TrimSpace(l), k) {
				t.Errorf("the watcher unit has %q: it could stop or start docker", l)
			}
		}
	}
	wantContains(t, "unit", want, "ExecStart=/usr/bin/dlr watch", "WantedBy=multi-user.target")
	if got := host("rpm -qp --qf '[%{FILENAMES} %{FILEMODES:perms}\n]' " + p.Cur.RPM); !strings.Contains(got, "/usr/lib/systemd/system/"+pkgWatcher+" -rw-r--r--") {
		t.Errorf("rpm file list:\n%s", got)
	}
	scripts := host("rpm -qp --scripts " + p.Cur.RPM)
	wantContains(t, "rpm --scripts", scripts, "watcher_install install", "watcher_ctl restart", "watcher_ctl stop", "watcher_disable")
}
