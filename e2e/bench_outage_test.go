//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
	"github.com/docker-liverestore/dlr/unit"
)

// TestBenchOutage is `make bench-outage`, a measurement, not a pass/fail
// test: it runs only with DLR_BENCH=1. On each suite, containers log
// lines of 100 bytes at 100 KB/s (DLR_BENCH_RATE) with their own sequence
// numbers and timestamps; dockerd is then down for 20 s (DLR_BENCH_OUTAGE),
// either stopped (systemctl stop docker docker.socket) or SIGKILLed (kill
// -9 of its main PID, with Restart= off for the outage), and started
// again. From `docker logs` it reports each container's longest stall (the
// largest gap between consecutive timestamps: how long the application
// was blocked in write) and the lines lost (gaps in the sequence), for
// stock Docker and with dlr (FIFOs grown by `dlr buffers` for a container
// that was running before, by the watcher for one started after it). The
// table goes to stdout and to $DLR_BENCH_OUT if set.
func TestBenchOutage(t *testing.T) {
	if os.Getenv("DLR_BENCH") != "1" {
		t.Skip("a benchmark: run it with `make bench-outage` (DLR_BENCH=1)")
	}
	outage := 20 * time.Second
	if v := os.Getenv("DLR_BENCH_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		outage = d
	}
	rate := "100000"
	if v := os.Getenv("DLR_BENCH_RATE"); v != "" {
		rate = v
	}
	var rows []string
	for _, suite := range suites() {
		t.Run(suite, func(t *testing.T) {
			rows = append(rows, benchSuite(t, suite, outage, rate)...)
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nLog FIFO outage benchmark: %s B/s of 100-byte lines per container, dockerd down for %v.\n\n", rate, outage)
	b.WriteString("| Debian / Docker | dockerd | container | FIFO at outage | outage | lines | longest stall | lines lost |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	fmt.Print(b.String())
	if p := os.Getenv("DLR_BENCH_OUT"); p != "" {
		os.WriteFile(p, []byte(b.String()), 0o644)
	}
}

// benchSuite runs the four outages on one suite and returns table rows.
func benchSuite(t *testing.T, suite string, outage time.Duration, rate string) []string {
	g := bufGuest(t, suite)
	ver := trimmed(t, g, "docker", "version", "-f", "{{.Server.Version}}")
	label := suite + " / " + ver
	var rows []string
	run := func(name string) {
		g.MustExec(t, "docker", "run", "-d", "--name", name, "logger", "/app", "-rate", rate, "-line", "100")
	}
	measure := func(how string, took time.Duration, names []string, sizes map[string]string, what map[string]string) {
		time.Sleep(3 * time.Second) // dockerd drains the FIFOs
		for _, n := range names {
			lines, stall, lost := logStats(t, g, n)
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %.1f s | %d | %.3f s | %d |",
				label, how, what[n], sizes[n], took.Seconds(), lines, stall.Seconds(), lost))
			t.Logf("%s %s: %d lines, longest stall %v, %d lost", how, n, lines, stall, lost)
		}
	}
	sizeOf := func(name string) string {
		s := fifoSizes(t, g, name)
		for f, n := range s {
			if strings.HasSuffix(f, "-stdout") {
				return sizeText(n)
			}
		}
		return "?"
	}
	snapshot := func(names ...string) map[string]string {
		m := map[string]string{}
		for _, n := range names {
			m[n] = sizeOf(n)
		}
		return m
	}

	// Stock Docker.
	run("stock-stop")
	time.Sleep(3 * time.Second)
	sz := snapshot("stock-stop")
	took := stopOutage(t, g, outage)
	measure("stopped", took, []string{"stock-stop"}, sz, map[string]string{"stock-stop": "stock Docker"})
	g.MustExec(t, "docker", "rm", "-f", "stock-stop")

	run("stock-kill")
	time.Sleep(3 * time.Second)
	sz = snapshot("stock-kill")
	took = killOutage(t, g, outage)
	measure("SIGKILL", took, []string{"stock-kill"}, sz, map[string]string{"stock-kill": "stock Docker"})
	g.MustExec(t, "docker", "rm", "-f", "stock-kill")

	// With dlr: a container running before, grown by `dlr buffers` (as
	// `dlr enable` does); the stop hook and the watcher installed; a
	// container started after, grown by the watcher.
	run("dlr-before")
	time.Sleep(time.Second)
	pin16M(t, g) // the host's; other tests running at the same time change it
	g.MustExec(t, "dlr", "buffers", "--quiet")
	hook, err := unit.RenderStopHook("/usr/bin/dlr")
	if err != nil {
		t.Fatal(err)
	}
	writeGuest(t, g, "/etc/systemd/system/docker.service.d/"+unit.StopHookDropIn, string(hook))
	g.MustExec(t, "systemctl", "daemon-reload")
	installWatcher(t, g)
	pin16M(t, g)
	run("dlr-after")
	time.Sleep(3 * time.Second)
	sz = snapshot("dlr-before", "dlr-after")
	took = stopOutage(t, g, outage)
	measure("stopped", took, []string{"dlr-before", "dlr-after"}, sz,
		map[string]string{"dlr-before": "dlr, started before (dlr buffers)", "dlr-after": "dlr, started after (watcher)"})
	g.MustExec(t, "docker", "rm", "-f", "dlr-before", "dlr-after")

	// A crash: only the watcher has grown this container's FIFOs (the
	// stop hook runs after the kill, too late to matter, as sizes show).
	pin16M(t, g)
	run("dlr-kill")
	time.Sleep(3 * time.Second)
	sz = snapshot("dlr-kill")
	took = killOutage(t, g, outage)
	measure("SIGKILL", took, []string{"dlr-kill"}, sz, map[string]string{"dlr-kill": "dlr, started after (watcher)"})
	g.MustExec(t, "docker", "rm", "-f", "dlr-kill")
	return rows
}

// stopOutage stops docker and docker.socket, waits, and starts docker
// again; it returns how long dockerd was down.
func stopOutage(t *testing.T, g *rig.Guest, d time.Duration) time.Duration {
	start := time.Now()
	g.MustExec(t, "systemctl", "stop", "docker", "docker.socket")
	time.Sleep(d - time.Since(start))
	startDocker(t, g)
	return time.Since(start)
}

// killOutage SIGKILLs dockerd with Restart= off for the time, waits, and
// starts it again.
func killOutage(t *testing.T, g *rig.Guest, d time.Duration) time.Duration {
	const norestart = "/run/systemd/system/docker.service.d/90-bench-norestart.conf"
	g.Sh(t, "mkdir -p /run/systemd/system/docker.service.d && printf '[Service]\\nRestart=no\\n' > "+norestart+" && systemctl daemon-reload")
	start := time.Now()
	g.Sh(t, "kill -9 $(systemctl show -p MainPID --value docker.service)")
	time.Sleep(d - time.Since(start))
	g.Sh(t, "rm -f "+norestart+" && systemctl daemon-reload && systemctl reset-failed docker.service; systemctl start docker")
	return time.Since(start)
}

// logStats reads a container's log and returns its number of lines, the
// largest gap between consecutive timestamps, and the sequence numbers
// missing.
func logStats(t *testing.T, g *rig.Guest, name string) (lines int, stall time.Duration, lost int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code, err := g.Exec(ctx, "docker", "logs", name)
	if err != nil || code != 0 {
		t.Fatalf("docker logs %s: %v %d %s", name, err, code, errOut)
	}
	var prevSeq, prevTS int64
	for _, l := range strings.Split(out, "\n") {
		f := strings.SplitN(l, " ", 3)
		if len(f) < 2 {
			continue
		}
		seq, err1 := strconv.ParseInt(f[0], 10, 64)
		ts, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		lines++
		if prevSeq == 0 {
			lost += seq - 1
		} else {
			if seq > prevSeq+1 {
				lost += seq - prevSeq - 1
			}
			if gap := time.Duration(ts - prevTS); gap > stall {
				stall = gap
			}
		}
		prevSeq, prevTS = seq, ts
	}
	return lines, stall, lost
}

func sizeText(n int) string {
	switch {
	case n >= mib && n%mib == 0:
		return strconv.Itoa(n/mib) + " MiB"
	case n >= kib && n%kib == 0:
		return strconv.Itoa(n/kib) + " KiB"
	}
	return strconv.Itoa(n)
}
