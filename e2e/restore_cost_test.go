//go:build e2e

package e2e

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
	"github.com/docker-liverestore/dlr/restore"
)

// TestRestoreCost measures (DLR_RESTORE_COST=1; it takes minutes) what the
// restore checks cost: `systemctl start docker` with the watcher running
// (it checks each restore) and stopped, 8 times each, and how long the
// checks of one restore take for 1 and for 100 containers, each with a
// health check every 30 s (Docker's default interval; 100 containers
// probing every 5 s loaded the shared rig to a load average of 88), a
// published port, a user-defined network and 200 B/s of logs. It prints
// the figures for docs/restore-checks.md.
func TestRestoreCost(t *testing.T) {
	if os.Getenv("DLR_RESTORE_COST") != "1" {
		t.Skip("set DLR_RESTORE_COST=1 to measure the restore checks' cost")
	}
	forSuites(t, func(t *testing.T, suite string) {
		g := restoreGuest(t, suite)
		// Alternated, so that the shared machine's load drifts into both
		// alike; after a start with the watcher on, its check ends before
		// the next stop.
		var with, without []time.Duration
		for i := 0; i < 8; i++ {
			since := time.Now()
			with = append(with, timedStart(t, g))
			recordAfter(t, g, since)
			g.MustExec(t, "systemctl", "stop", "docker-liverestore.service")
			without = append(without, timedStart(t, g))
			// Started again, the watcher checks the restore it missed.
			since = time.Now()
			g.MustExec(t, "systemctl", "start", "docker-liverestore.service")
			recordAfter(t, g, since)
		}
		t.Logf("COST %s: systemctl start docker (4 containers), median of 8: watcher on %v, watcher off %v (all: %v / %v)",
			suite, median(with).Round(time.Millisecond), median(without).Round(time.Millisecond), with, without)

		g.Sh(t, "docker rm -f hc web app log >/dev/null")
		g.MustExec(t, "docker", "create", "--name", "base5", "logger", "/app")
		g.MustExec(t, "docker", "commit", "--change", `HEALTHCHECK --interval=30s --timeout=10s CMD ["/app","-check"]`, "base5", "health30")
		g.MustExec(t, "docker", "rm", "base5")
		n := 0
		for _, want := range []int{1, 100} {
			for ; n < want; n++ {
				g.MustExec(t, "docker", "run", "-d", "--name", "c"+strconv.Itoa(n), "--network", "appnet",
					"-p", strconv.Itoa(9000+n)+":8080", "health30", "/app", "-listen", ":8080", "-rate", "200")
			}
			waitGuest(t, g, 5*time.Minute, "every container healthy", "sh", "-c",
				`! docker ps -q | xargs docker inspect -f '{{.State.Health.Status}}' | grep -qv healthy`)
			time.Sleep(2 * time.Second) // the watcher's view
			g.MustExec(t, "systemctl", "reset-failed", "docker.service")
			since := time.Now()
			cpu0 := watcherCPU(t, g)
			took := timedRestart(t, g)
			rec := recordAfter(t, g, since)
			t.Logf("COST %s: %d containers: systemctl restart docker %v; checks took %.2f s (back %.2f s after dockerd went down), the watcher used %v of CPU; %d kept, %d mended, problems %v",
				suite, want, took.Round(time.Millisecond), rec.CheckSeconds, rec.BackAt.Sub(rec.DownAt).Seconds(),
				(watcherCPU(t, g) - cpu0).Round(time.Millisecond), rec.Kept, rec.Mended, rec.Problems)
			if rec.Kept != want || rec.ProblemCount() != 0 {
				t.Errorf("%d containers: %d kept, problems %v", want, rec.Kept, rec.Problems)
			}
		}
		// Within its unit's limits (TasksMax=16, MemoryMax=32M) the
		// watcher never died.
		if n := trimmed(t, g, "systemctl", "show", "-p", "NRestarts", "--value", "docker-liverestore.service"); n != "0" {
			t.Errorf("the watcher restarted %s times", n)
		}
	})
}

// recordAfter waits for the restore record of a dockerd that came back
// after since.
func recordAfter(t *testing.T, g *rig.Guest, since time.Time) restore.Record {
	t.Helper()
	var rec restore.Record
	waitFor(t, 3*time.Minute, "the restore's record", func() bool {
		rs := records(t, g)
		if len(rs) == 0 || !rs[len(rs)-1].BackAt.After(since) {
			return false
		}
		rec = rs[len(rs)-1]
		return true
	})
	return rec
}

// watcherCPU is the CPU time docker-liverestore.service has used (its
// CPUQuota turns CPU accounting on).
func watcherCPU(t *testing.T, g *rig.Guest) time.Duration {
	n, err := strconv.ParseInt(trimmed(t, g, "systemctl", "show", "-p", "CPUUsageNSec", "--value", "docker-liverestore.service"), 10, 64)
	if err != nil {
		t.Fatalf("CPUUsageNSec: %v", err)
	}
	return time.Duration(n)
}

func timedStart(t *testing.T, g *rig.Guest) time.Duration {
	g.MustExec(t, "systemctl", "reset-failed", "docker.service")
	g.MustExec(t, "systemctl", "stop", "docker.service")
	start := time.Now()
	g.MustExec(t, "systemctl", "start", "docker.service")
	return time.Since(start)
}

func timedRestart(t *testing.T, g *rig.Guest) time.Duration {
	start := time.Now()
	g.MustExec(t, "systemctl", "restart", "docker.service")
	return time.Since(start)
}
