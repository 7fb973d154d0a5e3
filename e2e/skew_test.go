//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestContainerdSkew (issue 12 item 3): a containerd package upgraded
// without restarting containerd (policy-rc.d forbids it, as some hosts and
// other packagings do) leaves 1.7.24 running and 2.1.9 installed; dlr check
// judges the pending restart from the measured evidence (PASS, naming the
// matrix row), and the restart then keeps the container: what dlr said held.
func TestContainerdSkew(t *testing.T) {
	g := guest(t, "trixie")
	if code, _, _ := dlr(t, g, "enable"); code != 0 {
		t.Fatalf("dlr enable: exit %d", code)
	}
	g.MustExec(t, "docker", "run", "-d", "--name", "c1", "logger", "/app", "-rate", "1000")
	pid := gsh(t, g, "docker inspect -f '{{.State.Pid}}' c1")
	ctrd := gsh(t, g, "systemctl show -p MainPID --value containerd.service")

	var deb string
	for _, f := range debSet("forky", "docker", forkyDocker, "containerd")(t) {
		deb = "/root/" + filepath.Base(f)
		g.CopyIn(t, f, deb, 0o644)
	}
	g.Sh(t, "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d")
	pkgMust(t, g, "apt-get install -y --no-install-recommends "+deb)
	g.MustExec(t, "rm", "/usr/sbin/policy-rc.d")
	if got := gsh(t, g, "systemctl show -p MainPID --value containerd.service"); got != ctrd {
		t.Fatalf("containerd was restarted (MainPID %s -> %s) though policy-rc.d said no", ctrd, got)
	}

	_, out, _ := dlr(t, g, "check")
	if !strings.Contains(out, "PASS  installed containerd restores containers") ||
		!strings.Contains(out, "running 1.7.24~ds1, installed 2.1.9+unknown: containerd 1.7.24 -> 2.1.9: restored in dlr's upgrade matrix") {
		t.Errorf("dlr check with containerd 1.7.24 running and 2.1.9 installed:\n%s", out)
	}

	g.MustExec(t, "systemctl", "restart", "containerd")
	waitDocker(t, g)
	if got := gsh(t, g, "docker inspect -f '{{.State.Pid}}' c1"); got != pid {
		t.Errorf("containerd's restart onto 2.1.9: c1's PID %s -> %s, though dlr check said PASS", pid, got)
	}
	_, out, _ = dlr(t, g, "check")
	if !strings.Contains(out, "PASS  installed containerd restores containers") || !strings.Contains(out, "containerd 2.1.9+unknown runs, the installed one") {
		t.Errorf("dlr check after the restart:\n%s", out)
	}
}
