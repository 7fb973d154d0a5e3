//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemo is `make demo`: it boots a real Debian with systemd and Docker
// (bookworm, or $DLR_DEMO_SUITE), runs a container, turns live restore on
// with dlr, stops Docker and shows the container still running with the
// same PID, then starts Docker again. On bookworm and trixie it also shows
// `dlr preflight` on the next release's Docker packages. Run it with -v to
// read the story.
func TestDemo(t *testing.T) {
	suite := os.Getenv("DLR_DEMO_SUITE")
	if suite == "" {
		suite = "bookworm"
	}
	g := guest(t, suite)
	say := func(format string, args ...any) { t.Logf("\n==> "+format, args...) }
	sh := func(cmd string) string {
		out, errOut, code, err := g.Exec(context.Background(), "sh", "-c", cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		t.Logf("# %s  (exit %d)\n%s%s", cmd, code, out, errOut)
		return strings.TrimSpace(out)
	}

	say("a Debian %s guest with systemd and Docker %s", suite, trimmed(t, g, "docker", "version", "-f", "{{.Server.Version}}"))
	sh("docker run -d --name app logger /app -rate 2000 -line 40 >/dev/null && docker ps --format '{{.Names}} {{.Status}}'")
	pid := containerPID(t, g, "app")
	say("the container's process is PID %s; dlr status before:", pid)
	sh("dlr status")

	say("dlr enable: merge \"live-restore\": true, reload docker.service over D-Bus, verify")
	sh("dlr enable")
	sh("cat /etc/docker/daemon.json; docker info -f 'LiveRestoreEnabled={{.LiveRestoreEnabled}}'")
	say("dlr status: the container's log buffer and the outage it rides out at its recent log rate")
	time.Sleep(1500 * time.Millisecond) // let the log span more than a second
	if st := sh("dlr status"); !strings.Contains(st, "blocks after") {
		t.Errorf("dlr status does not estimate the outage the container rides out")
	}

	if next, ok := demoUpgrade[suite]; ok {
		say("upgrade day: before apt installs %s's Docker packages, dlr preflight says what that does to the container (the package runs it from apt's hook)", next.suite)
		var files []string
		for _, f := range debSet(next.suite, "docker", next.pkgs, "docker.io", "containerd", "runc")(t) {
			files = append(files, "/root/next/"+filepath.Base(f))
			g.CopyIn(t, f, files[len(files)-1], 0o644)
		}
		if out := sh("dlr preflight " + strings.Join(files, " ")); !strings.Contains(out, "PASS  app") {
			t.Errorf("dlr preflight does not say the container is kept or restored")
		}
	}

	say("stop Docker (and its socket) for 5 seconds")
	sh("systemctl stop docker docker.socket; systemctl is-active docker || true")
	time.Sleep(5 * time.Second)
	alive := sh("kill -0 " + pid + " && echo 'container process " + pid + " is still running'")
	if !strings.Contains(alive, "still running") {
		t.Fatalf("the container died with Docker")
	}

	say("start Docker again")
	sh("systemctl start docker && docker ps --format '{{.Names}} {{.Status}}'")
	after := containerPID(t, g, "app")
	sh("docker logs app 2>&1 | tail -n 2")
	if after != pid {
		t.Fatalf("the container's PID changed: %s -> %s", pid, after)
	}
	say("the container survived the outage with the same PID (%s); dlr disable puts the host back", pid)
	sh("dlr disable && docker info -f 'LiveRestoreEnabled={{.LiveRestoreEnabled}}'")
}

// demoUpgrade is the next Debian release's Docker packages for a suite.
var demoUpgrade = map[string]struct {
	suite string
	pkgs  []string
}{
	"bookworm": {"trixie", trixieDocker},
	"trixie":   {"forky", forkyDocker},
}
