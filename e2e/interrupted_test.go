//go:build e2e

package e2e

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestInterruptedEnable: dlr killed between writing daemon.json and the
// end of the reload. The reload job is made slow (an extra ExecReload that
// sleeps), dlr is killed with SIGKILL while it waits, and then dlr status
// reports the half-done step and a second dlr enable finishes it.
func TestInterruptedEnable(t *testing.T) {
	forSuites(t, func(t *testing.T, suite string) {
		g := guest(t, suite)
		g.MustExec(t, "docker", "run", "-d", "--name", "c1", "logger", "/app")
		cpid, dpid := containerPID(t, g, "c1"), mainPID(t, g)
		g.Sh(t, "mkdir -p /etc/systemd/system/docker.service.d && printf '[Service]\\nExecReload=/bin/sleep 20\\n' > /etc/systemd/system/docker.service.d/slow-reload.conf && systemctl daemon-reload")

		// Start dlr enable inside the guest and kill it once daemon.json
		// has been written (the reload job then sleeps).
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(g.PID()), "-a", "--", "sh", "-c", "exec dlr enable")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if out, _, _, _ := g.Exec(ctx, "cat", "/etc/docker/daemon.json"); strings.Contains(out, "live-restore") {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		g.Sh(t, "pkill -KILL -x dlr || true")
		cmd.Wait()

		code, out, _ := dlr(t, g, "status", "--json")
		if code != 0 || !strings.Contains(out, "\"pending\": \"dlr enable") {
			t.Errorf("status after the kill: exit %d, no pending step reported", code)
		}
		g.Sh(t, "rm /etc/systemd/system/docker.service.d/slow-reload.conf && systemctl daemon-reload")
		code, out, errOut := dlr(t, g, "enable")
		if code != 0 || !strings.Contains(errOut, "was interrupted") {
			t.Errorf("enable after the kill: exit %d\n%s%s", code, out, errOut)
		}
		if got := liveRestoreEnabled(t, g); got != "true" {
			t.Errorf("LiveRestoreEnabled = %s after the second enable", got)
		}
		if code, out, _ := dlr(t, g, "status", "--json"); code != 0 || strings.Contains(out, "\"pending\"") {
			t.Errorf("status still reports a pending step")
		}
		if mainPID(t, g) != dpid || containerPID(t, g, "c1") != cpid {
			t.Error("dockerd restarted or the container changed")
		}
		// And dlr disable still gives back a stock host.
		if code, _, _ := dlr(t, g, "disable"); code != 0 || liveRestoreEnabled(t, g) != "false" {
			t.Errorf("disable after an interrupted enable: exit %d", code)
		}
	})
}
