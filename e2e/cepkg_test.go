//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// TestCEPackage checks the upstream suite and its docker-ce-like package
// against what Docker CE's .deb is documented to do (e2e/rig/cepkg): the
// unit is moby's (/usr/bin/dockerd -H fd://, Wants=containerd.service,
// Requires=docker.socket, KillMode=process), dockerd is the pinned
// upstream release, the maintainer scripts carry debhelper's markers, a
// reinstall (dpkg's configure with the old version in $2) restarts dockerd
// and docker.socket, and only a removal stops them.
func TestCEPackage(t *testing.T) {
	g := guest(t, "upstream")
	want := rig.CEDebVersion(rig.UpstreamSuiteRelease)
	if got := trimmed(t, g, "dpkg-query", "-W", "-f", "${db:Status-Abbrev}${Version}", "docker-ce"); got != "ii "+want {
		t.Fatalf("docker-ce: %q, want installed %s", got, want)
	}
	if out, _, code, _ := g.Exec(t.Context(), "dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "docker.io"); code == 0 && strings.HasPrefix(out, "ii") {
		t.Errorf("docker.io is still installed beside docker-ce")
	}
	if got := trimmed(t, g, "docker", "version", "-f", "{{.Server.Version}}"); got != rig.UpstreamSuiteRelease {
		t.Errorf("dockerd %s runs, want %s", got, rig.UpstreamSuiteRelease)
	}
	for prop, want := range map[string]string{
		"FragmentPath": "/usr/lib/systemd/system/docker.service",
		"Wants":        "containerd.service",
		"Requires":     "docker.socket",
		"KillMode":     "process",
		"Delegate":     "yes",
		"Restart":      "always",
	} {
		if got := trimmed(t, g, "systemctl", "show", "-p", prop, "--value", "docker.service"); !strings.Contains(got, want) {
			t.Errorf("docker.service %s=%q, want %q", prop, got, want)
		}
	}
	if got := trimmed(t, g, "systemctl", "show", "-p", "ExecStart", "--value", "docker.service"); !strings.Contains(got, "path=/usr/bin/dockerd ; argv[]=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock ;") {
		t.Errorf("docker.service ExecStart = %s", got)
	}
	for _, u := range []string{"docker.service", "docker.socket"} {
		if got := unitState(g, u); got != "active" {
			t.Errorf("%s is %s after boot, want active (enabled by the package)", u, got)
		}
	}
	// What a reader of the package's maintainer scripts sees.
	deb, err := rig.CEPackage(t.Context(), rig.UpstreamSuiteRelease)
	if err != nil {
		t.Fatal(err)
	}
	g.CopyIn(t, deb, "/root/docker-ce.deb", 0o644)
	postinst := g.MustExec(t, "dpkg-deb", "-I", "/root/docker-ce.deb", "postinst")
	prerm := g.MustExec(t, "dpkg-deb", "-I", "/root/docker-ce.deb", "prerm")
	for _, s := range []string{"# Automatically added by dh_installsystemd/", "_dh_action=restart", "deb-systemd-invoke $_dh_action docker.service docker.socket"} {
		if !strings.Contains(postinst, s) {
			t.Errorf("postinst has no %q", s)
		}
	}
	if !strings.Contains(prerm, `[ "$1" = remove ]`) || !strings.Contains(prerm, "deb-systemd-invoke stop docker.service docker.socket") {
		t.Errorf("prerm stops on something else than remove:\n%s", prerm)
	}

	// A reinstall configures with $2 set: dockerd and the socket restart.
	g.MustExec(t, "docker", "run", "-d", "--name", "c1", "logger", "/app")
	dpid := mainPID(t, g)
	sockBefore := trimmed(t, g, "systemctl", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", "docker.socket")
	out := g.MustExec(t, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--reinstall", "/root/docker-ce.deb")
	t.Logf("apt-get install --reinstall:\n%s", restartLines(out))
	waitDocker(t, g)
	if after := mainPID(t, g); after == dpid || after == "0" {
		t.Errorf("reinstall: docker.service MainPID %s -> %s, want a restart", dpid, after)
	} else {
		t.Logf("reinstall restarted dockerd: MainPID %s -> %s", dpid, after)
	}
	if after := trimmed(t, g, "systemctl", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", "docker.socket"); after == sockBefore {
		t.Errorf("reinstall: docker.socket was not restarted (active since %s)", after)
	}
	// Live restore is off: the restart stopped the container.
	if got := inspect(g, "c1", "{{.State.Running}}"); got != "false" {
		t.Errorf("live restore off, after the package's restart c1 running=%s", got)
	}

	// Remove: prerm stops both units.
	g.MustExec(t, "env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "--remove", "docker-ce")
	for _, u := range []string{"docker.service", "docker.socket"} {
		if got := unitState(g, u); got == "active" {
			t.Errorf("after dpkg --remove, %s is %s", u, got)
		}
	}
}
