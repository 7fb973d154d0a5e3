//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// acmePostinst restarts docker.service on upgrade the way
// dh_installsystemd's postinst does (written here, to debhelper's
// documented behaviour: restart when "$2", the old version, is set; start
// on a first install).
const acmePostinst = `#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
	if [ -n "$2" ]; then
		_dh_action=restart
	else
		_dh_action=start
	fi
	deb-systemd-invoke $_dh_action 'docker.service' >/dev/null || true
fi
`

// buildDeb builds an Architecture: all .deb of name at version with the
// given maintainer scripts (and no files) with dpkg-deb, and returns its
// path.
func buildDeb(t *testing.T, name, version string, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: dlr tests <dlr@example.invalid>\nDescription: a package dlr has never seen\n", name, version)
	if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	for n, body := range scripts {
		if err := os.WriteFile(filepath.Join(root, "DEBIAN", n), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, name+"_"+version+"_all.deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, b)
	}
	return out
}

// TestPreflightReadsScripts (issue 19 item 4): dlr preflight judges a
// package it has never heard of, acme-docker, from its maintainer
// scripts: its postinst restarts docker.service on upgrade, so the
// upgrade from 28.5.2-1 to 28.5.3-1 restarts dockerd now. The upgrade is
// then made, and does restart dockerd (a new MainPID) while live restore
// keeps the container (same PID): what preflight said is what happened.
func TestPreflightReadsScripts(t *testing.T) {
	g := guest(t, "forky")
	writeGuest(t, g, "/etc/docker/daemon.json", "{\"live-restore\": true}\n")
	g.MustExec(t, "systemctl", "reload", "docker")
	waitGuest(t, g, 20*time.Second, "live restore on", "sh", "-c", "docker info -f '{{.LiveRestoreEnabled}}' | grep -q true")
	g.MustExec(t, "docker", "run", "-d", "--name", "web", "logger", "/app", "-rate", "10")
	scripts := map[string]string{"postinst": acmePostinst}
	for _, v := range []string{"28.5.2-1", "28.5.3-1"} {
		g.CopyIn(t, buildDeb(t, "acme-docker", v, scripts), "/root/acme-docker_"+v+"_all.deb", 0o644)
	}

	dockerd0, web0 := mainPID(t, g), containerPID(t, g, "web")
	// A first install only starts docker.service, which runs: no restart.
	pkgMust(t, g, "dpkg -i /root/acme-docker_28.5.2-1_all.deb")
	if got := mainPID(t, g); got != dockerd0 {
		t.Fatalf("the first install of acme-docker restarted dockerd (%s -> %s)", dockerd0, got)
	}

	code, out, _ := dlr(t, g, "preflight", "/root/acme-docker_28.5.3-1_all.deb")
	wantContains(t, "dlr preflight acme-docker.deb", out,
		"dlr preflight: acme-docker 28.5.2-1 -> 28.5.3-1",
		"acme-docker 28.5.2-1 -> 28.5.3-1",
		"its restart now: dockerd 28.5.2 -> 28.5.3",
		"read from the package: its postinst restarts docker.service on upgrade (deb-systemd-invoke $_dh_action 'docker.service'",
		"web")
	if strings.Contains(out, "keeps running") {
		t.Errorf("preflight said dockerd keeps running; acme-docker's postinst restarts it")
	}
	t.Logf("dlr preflight exit %d", code)

	// What preflight said, done: the upgrade restarts dockerd, live
	// restore keeps web.
	pkgMust(t, g, "dpkg -i /root/acme-docker_28.5.3-1_all.deb")
	waitDocker(t, g)
	dockerd1, web1 := mainPID(t, g), containerPID(t, g, "web")
	t.Logf("FACT acme-docker 28.5.2-1 -> 28.5.3-1: dockerd MainPID %s -> %s, web PID %s -> %s", dockerd0, dockerd1, web0, web1)
	if dockerd1 == dockerd0 {
		t.Errorf("the upgrade did not restart dockerd (MainPID %s): preflight said it would", dockerd1)
	}
	if web1 != web0 {
		t.Errorf("web: PID %s -> %s through the restart (live restore on)", web0, web1)
	}

	// A package whose scripts never restart dockerd: acme-docker's next
	// version only starts it (docker.io's behaviour), so its upgrade is
	// judged to leave dockerd running, from the package, not its name
	// (docker-ce cannot stand in here: docker.io conflicts with it; the
	// name fallback is unit-tested).
	startOnly := map[string]string{"postinst": "#!/bin/sh\nset -e\ndeb-systemd-invoke start 'docker.service' >/dev/null || true\n"}
	g.CopyIn(t, buildDeb(t, "acme-docker", "28.5.4-1", startOnly), "/root/docker-ce.deb", 0o644)
	_, out, _ = dlr(t, g, "preflight", "/root/docker-ce.deb")
	wantContains(t, "dlr preflight acme-docker 28.5.4-1 (start only)", out,
		"dockerd keeps running 28.5.2 (read from the package: its scripts never restart docker.service on upgrade (only a start")
}
