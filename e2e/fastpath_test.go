//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// TestPackagedFastPath: with the .deb installed (its docker.service drop-in
// read by systemd at install, the watcher running), `dlr enable` turns live
// restore on without writing a drop-in of its own or a daemon-reload, and
// records what it checked; the next runs answer from that record without
// D-Bus or the Docker API (proven by pointing both at nothing), until
// something it covers changes. Removing the package takes the drop-in away
// from docker.service.
func TestPackagedFastPath(t *testing.T) {
	p := packagesForTest(t)
	forSuites(t, func(t *testing.T, suite string) {
		g := pkgGuest(t, suite, p)
		g.MustExec(t, "docker", "run", "-d", "--name", "c1", "logger", "/app")
		pkgMust(t, g, "dpkg -i "+guestDeb(p.Cur))

		const vendor = "/lib/systemd/system/docker.service.d/zz-docker-liverestore.conf"
		const mine = "/etc/systemd/system/docker.service.d/zz-docker-liverestore.conf"
		if got := gsh(t, g, "systemctl show -p DropInPaths --value docker.service"); !strings.Contains(got, "docker.service.d/zz-docker-liverestore.conf") {
			t.Errorf("systemd does not apply the packaged drop-in: DropInPaths=%q", got)
		}
		if got := gsh(t, g, "systemctl show -p ExecStop --value docker.service"); !strings.Contains(got, "/usr/bin/dlr buffers --quiet") {
			t.Errorf("docker.service has no ExecStop hook: %q", got)
		}
		if gsh(t, g, "test -e "+mine+" && echo yes || echo no") != "no" {
			t.Errorf("the install wrote %s although the packaged drop-in fits:\n%s", mine, readGuestFile(t, g, mine))
		}
		wantWatcherRunning(t, g, "install")
		if gsh(t, g, "docker info -f '{{.LiveRestoreEnabled}}'") != "true" {
			t.Fatal("live restore is not on after the install")
		}

		// Turning it off and on again: no drop-in write, no daemon-reload.
		gsh(t, g, "dlr disable")
		if gsh(t, g, "test -e "+vendor+" && echo yes || echo no") != "yes" {
			t.Error("dlr disable removed the packaged drop-in")
		}
		out := gsh(t, g, "dlr enable 2>&1")
		for _, bad := range []string{"daemon-reload", "wrote " + mine} {
			if strings.Contains(out, bad) {
				t.Errorf("dlr enable with the packaged drop-in did %q:\n%s", bad, out)
			}
		}
		for _, want := range []string{"verified: dockerd", "started docker-liverestore.service"} {
			if !strings.Contains(out, want) {
				t.Errorf("dlr enable lacks %q:\n%s", want, out)
			}
		}
		t.Logf("off to on with the package:\n%s", out)

		// The fast path: no D-Bus, no Docker API. Both are pointed at
		// sockets that do not exist, so any use of them would fail.
		nowhere := "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent dlr enable --docker-socket /nonexistent.sock"
		waitFast := func(what string) string {
			t.Helper()
			// dlr enable does not wait for the watcher's start job; the
			// record needs the watcher running.
			gsh(t, g, "for i in $(seq 100); do systemctl is-active -q docker-liverestore && break; sleep 0.05; done")
			out, code := pkgRun(t, g, nowhere)
			if code != 0 || !strings.Contains(out, "nothing has changed since") {
				t.Fatalf("%s: the fast path was not taken (exit %d):\n%s", what, code, out)
			}
			return out
		}
		stamp := fileStamp(t, g, "/var/lib/docker-liverestore/state.json")
		waitFast("the run after enable")
		if fileStamp(t, g, "/var/lib/docker-liverestore/state.json") != stamp {
			t.Error("the fast path wrote dlr's state")
		}

		// Each change sends the next run down the full path, which records
		// again; a change the full path cannot pass through D-Bus-less
		// (nowhere) fails there, which is the proof.
		for _, c := range []struct{ what, script string }{
			{"daemon.json rewritten (same bytes)", "cp -p /etc/docker/daemon.json /root/d.json && cat /root/d.json > /etc/docker/daemon.json"},
			{"a new docker.service drop-in", "mkdir -p /run/systemd/system/docker.service.d && printf '[Service]\\nEnvironment=X=1\\n' > /run/systemd/system/docker.service.d/50-x.conf && systemctl daemon-reload"},
			{"the watcher stopped", "systemctl stop docker-liverestore"},
			{"dockerd restarted", "systemctl restart docker"},
		} {
			gsh(t, g, c.script)
			if out, code := pkgRun(t, g, nowhere); code == 0 {
				t.Errorf("after %s the fast path was still taken:\n%s", c.what, out)
			}
			out := gsh(t, g, "dlr enable 2>&1")
			if strings.Contains(out, "nothing has changed since") {
				t.Errorf("after %s: %s", c.what, out)
			}
			waitFast("the run after the full one (" + c.what + ")")
		}
		wantWatcherRunning(t, g, "dlr enable after the watcher was stopped")
		if got := containerPID(t, g, "c1"); got == "" || got == "0" {
			t.Error("the container is not running")
		}

		// Removing the package: systemd no longer applies the drop-in.
		pkgMust(t, g, "dpkg -r docker-liverestore")
		if got := gsh(t, g, "systemctl show -p DropInPaths --value docker.service"); strings.Contains(got, "zz-docker-liverestore") {
			t.Errorf("after removal systemd still applies %q", got)
		}
		if got := gsh(t, g, "systemctl show -p ExecStop --value docker.service"); strings.Contains(got, "dlr") {
			t.Errorf("after removal docker.service still has %q", got)
		}
	})
}
