//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// TestSnapshotterRestore (issue 19 item 3) measures a live restore with
// the containerd image store on ("features": {"containerd-snapshotter":
// true}, the default of Docker 29's fresh installs) with upstream 29.7.1 in
// a forky guest: two containers (one publishing a port) through
// `systemctl restart docker` and through dlr drill keep their PIDs, and
// the drill's restore checks find nothing wrong.
func TestSnapshotterRestore(t *testing.T) {
	g := guest(t, "forky")
	g.SwapDockerd(t, "29.7.1", false)
	// containerd's overlayfs snapshotter cannot put its layers on the
	// guest's overlayfs root (as dockerd's overlay2 cannot: the rig binds
	// /var/lib/docker from a plain directory); its root goes there too.
	g.Sh(t, `systemctl stop docker docker.socket containerd && mkdir -p /var/lib/docker/.containerd-root &&
		cp -a /var/lib/containerd/. /var/lib/docker/.containerd-root/ && mount --bind /var/lib/docker/.containerd-root /var/lib/containerd &&
		systemctl start containerd`)
	writeGuest(t, g, "/etc/docker/daemon.json", "{\"live-restore\": true, \"features\": {\"containerd-snapshotter\": true}}\n")
	g.MustExec(t, "systemctl", "reset-failed", "docker")
	g.MustExec(t, "systemctl", "restart", "docker")
	waitDocker(t, g)
	if d := trimmed(t, g, "docker", "info", "-f", "{{.Driver}} {{json .DriverStatus}}"); !strings.Contains(d, "io.containerd.snapshotter") {
		t.Fatalf("docker info after turning the containerd image store on: %s", d)
	}
	// The image store changed: the images are imported again into it.
	g.ImportImage(t, "logger", rig.BuildLogger(t))
	g.MustExec(t, "docker", "run", "-d", "--name", "web", "-p", "8080:8080", "logger", "/app", "-listen", ":8080")
	g.MustExec(t, "docker", "run", "-d", "--name", "log", "logger", "/app", "-rate", "100")
	pids := map[string]string{"web": containerPID(t, g, "web"), "log": containerPID(t, g, "log")}

	dockerd := mainPID(t, g)
	g.MustExec(t, "systemctl", "restart", "docker")
	took := waitDocker(t, g)
	if mainPID(t, g) == dockerd {
		t.Fatalf("docker did not restart")
	}
	for n, p := range pids {
		got := containerPID(t, g, n)
		t.Logf("FACT containerd image store, 29.7.1, systemctl restart docker (back in %v): %s PID %s -> %s", took.Round(time.Millisecond), n, p, got)
		if got != p {
			t.Errorf("%s: PID %s -> %s: the restore did not keep it", n, p, got)
		}
	}
	waitGuest(t, g, 10*time.Second, "port 8080 after the restore", "sh", "-c", "timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080'")
	code, out, _ := dlr(t, g, "drill", "--yes", "--seconds", "2")
	if code != 0 || !strings.Contains(out, "2 of 2 containers kept running with the same PID") {
		t.Errorf("dlr drill with the containerd image store: exit %d\n%s", code, out)
	}
	for n, p := range pids {
		if got := containerPID(t, g, n); got != p {
			t.Errorf("%s: PID %s -> %s through the drill", n, p, got)
		}
	}
}
