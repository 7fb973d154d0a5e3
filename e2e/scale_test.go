//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// TestScale measures dlr with many running containers, each logging 5
// lines/s (issues 14 and 20; `make bench-scale`, a measurement, not part of
// `make test`: it takes minutes).
// Set DLR_SCALE=1 and DLR_SCALE_DEB to the .deb; DLR_SCALE_CONTAINERS
// (default 300), DLR_SCALE_ROUNDS (3), DLR_SCALE_RUNS (11),
// DLR_SCALE_BURST (100) and DLR_SCALE_SUITE (trixie) change it. Figures are
// printed on lines starting with "FIGURE"; each has its target.
func TestScale(t *testing.T) {
	if os.Getenv("DLR_SCALE") == "" {
		t.Skip("a measurement: run it with make bench-scale (DLR_SCALE=1)")
	}
	deb := os.Getenv("DLR_SCALE_DEB")
	if deb == "" {
		t.Fatal("DLR_SCALE_DEB names the .deb to install (make bench-scale builds it)")
	}
	suite := os.Getenv("DLR_SCALE_SUITE")
	if suite == "" {
		suite = "trixie"
	}
	n := envInt("DLR_SCALE_CONTAINERS", 300)
	keepHostPipeMaxSize(t)
	g := rig.Boot(t, suite)
	g.CopyIn(t, pipeszBinary(t), "/usr/local/bin/pipesz", 0o755)
	g.CopyIn(t, deb, "/root/dlr.deb", 0o644)
	g.ImportImage(t, "logger", rig.BuildLogger(t))
	// The package as the Ansible role installs it: nothing enabled yet.
	g.MustExec(t, "sh", "-c", "DLR_ENABLE_ON_INSTALL=no DEBIAN_FRONTEND=noninteractive dpkg -i /root/dlr.deb >/dev/null")
	start := time.Now()
	// At most 4 minutes (a loaded 2-core host starts about 2 a second):
	// the figures are for as many as are running then.
	// Each logs 5 lines of 100 bytes a second, as issue 20's containers
	// did: 1,500 lines/s through dockerd with 300.
	longSh(t, g, 5*time.Minute, startMany(n, "s"))
	n, _ = strconv.Atoi(gsh(t, g, "docker ps -q | wc -l"))
	t.Logf("FIGURE %s: %d containers running after %v (docker run, 8 at a time), each logging 5 lines/s; load %s", suite, n,
		time.Since(start).Round(time.Second), gsh(t, g, "cut -d' ' -f1-3 /proc/loadavg"))
	scaleEnable(t, g, suite, n)
	scaleReadOnly(t, g, suite, n)
	scaleRatios(t, g, suite, n)
	scaleWatcher(t, g, suite)
	scaleBudget(t, g, suite)
}

// startMany starts n logger containers named prefix1..prefixN, 8 at a
// time, each logging 5 lines/s, for at most 240 s: a run not begun by
// then is skipped. The deadline is checked before each docker run rather
// than by timeout(1) around xargs, whose SIGTERM reaches the whole process
// group: docker run clients killed mid-start left containers that stopped
// (logger exits 0 on SIGTERM) after the running set was counted, and
// their FIFO directories vanished under the benchmark (runs of 2026-12-07).
func startMany(n int, prefix string) string {
	return fmt.Sprintf(`end=$(( $(date +%%s) + 240 ))
seq %d | xargs -P 8 -I{} sh -c '[ $(date +%%s) -lt '$end' ] && docker run -d --name %s{} logger /app -rate 500 >/dev/null 2>&1; true'
sleep 2
true`, n, prefix)
}

// longSh runs script in the guest within d (MustExec allows two minutes)
// and returns its stdout; it fails the test on a non-zero exit.
func longSh(t *testing.T, g *rig.Guest, d time.Duration, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	out, errOut, code, err := g.Exec(ctx, "bash", "-c", script)
	if err != nil || code != 0 {
		t.Fatalf("%s: exit %d %v\n%s%s", script, code, err, out, errOut)
	}
	return out
}

// longTimes is guestTimes within d.
func longTimes(t *testing.T, g *rig.Guest, d time.Duration, script string) map[string][]time.Duration {
	t.Helper()
	out := longSh(t, g, d, "set -e\nus() { local n=${EPOCHREALTIME/./}; echo $((10#$n)); }\n"+script)
	res := map[string][]time.Duration{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("bad timing line %q", l)
		}
		res[f[0]] = append(res[f[0]], time.Duration(n)*time.Microsecond)
	}
	return res
}

// scaleEnable: dlr enable from off to verified on, with every log FIFO
// back at the stock 64 KiB before each round (so each round grows them
// all), against a bare `systemctl reload docker` + polling docker info.
func scaleEnable(t *testing.T, g *rig.Guest, suite string, n int) {
	rounds := envInt("DLR_SCALE_ROUNDS", 3)
	times := longTimes(t, g, 5*time.Minute, fmt.Sprintf(`
for i in $(seq %d); do
  echo '{"live-restore": true}' > /etc/docker/daemon.json
  a=$(us); systemctl reload docker; until [ "$(docker info -f '{{.LiveRestoreEnabled}}')" = true ]; do :; done; b=$(us); echo "bare $((b-a))"
  echo '{"live-restore": false}' > /etc/docker/daemon.json; systemctl reload docker
  until [ "$(docker info -f '{{.LiveRestoreEnabled}}')" = false ]; do sleep 0.05; done
  rm /etc/docker/daemon.json
  pipesz -set 65536 /run/docker/containerd/* >/dev/null
  a=$(us); dlr enable --json > /root/enable.$i.json || true; b=$(us); echo "dlr $((b-a))"
  [ "$(docker info -f '{{.LiveRestoreEnabled}}')" = true ]
  [ $i = %d ] || dlr disable >/dev/null
done`, rounds, rounds))
	var rep struct {
		Actions  []string `json:"actions"`
		Warnings []string `json:"warnings"`
		Notes    []string `json:"notes"`
	}
	json.Unmarshal([]byte(g.Sh(t, "cat /root/enable.1.json")), &rep)
	grown := 0
	for _, a := range rep.Actions {
		if strings.HasPrefix(a, "grew ") {
			grown++
		}
	}
	d, b := median(times["dlr"]), median(times["bare"])
	t.Logf("FIGURE %s, %d containers: full dlr enable (off -> verified on, %d log FIFOs grown in round 1, %d warnings) median %s vs systemctl reload docker + polling docker info median %s (%d rounds): ratio %.2f (target <= 1.5)",
		suite, n, grown, len(rep.Warnings), ms(d), ms(b), rounds, float64(d)/float64(b))
	for _, l := range append(rep.Notes, firstN(rep.Warnings, 3)...) {
		t.Logf("  enable said: %s", l)
	}
	t.Logf("  FIFO sizes after enable: %s", gsh(t, g, "pipesz /run/docker/containerd/* | cut -d' ' -f1 | sort | uniq -c | tr '\\n' ' '"))
}

func firstN(xs []string, n int) []string { return xs[:min(n, len(xs))] }

// scaleReadOnly: the no-op enable (fast path), status and check, each
// median of DLR_SCALE_RUNS runs.
func scaleReadOnly(t *testing.T, g *rig.Guest, suite string, n int) {
	runs := envInt("DLR_SCALE_RUNS", 11)
	waitWatcherActive(t, g)
	if out := g.MustExec(t, "dlr", "enable"); !strings.Contains(out, "nothing has changed since") {
		t.Logf("note: the no-op enable is not on its fast path:\n%s", out)
	}
	times := longTimes(t, g, 5*time.Minute, fmt.Sprintf(`
for i in $(seq %d); do
  a=$(us); dlr enable >/dev/null; b=$(us); echo "noop $((b-a))"
  a=$(us); dlr status >/dev/null; b=$(us); echo "status $((b-a))"
  a=$(us); dlr check >/dev/null || true; b=$(us); echo "check $((b-a))"
  a=$(us); /bin/true; b=$(us); echo "clock $((b-a))"
done`, runs))
	t.Logf("FIGURE %s, %d containers: no-op dlr enable median %s (target <= 5 ms); dlr status median %s, dlr check median %s (targets <= 500 ms); %d runs each, starting /bin/true costs %s",
		suite, n, ms(median(times["noop"])), ms(median(times["status"])), ms(median(times["check"])), runs, ms(median(times["clock"])))
}

// scaleRatios: dlr check and dlr status against what the Docker CLI needs
// for the same facts, `docker inspect $(docker ps -q)` (a listing and one
// inspect per container), and the no-op enable against /bin/true, run in
// turn in the same guest and minute (issue 20: each ratio of medians
// within 1x, 1x and 3x).
func scaleRatios(t *testing.T, g *rig.Guest, suite string, n int) {
	runs := envInt("DLR_SCALE_RUNS", 11)
	times := longTimes(t, g, 5*time.Minute, fmt.Sprintf(`
for i in $(seq %d); do
  a=$(us); docker inspect $(docker ps -q) >/dev/null; b=$(us); echo "inspect $((b-a))"
  a=$(us); dlr check >/dev/null || true; b=$(us); echo "check $((b-a))"
  a=$(us); dlr status >/dev/null; b=$(us); echo "status $((b-a))"
  a=$(us); dlr enable >/dev/null; b=$(us); echo "noop $((b-a))"
  a=$(us); /bin/true; b=$(us); echo "clock $((b-a))"
done`, runs))
	in, ch, st, no, tr := median(times["inspect"]), median(times["check"]), median(times["status"]), median(times["noop"]), median(times["clock"])
	t.Logf("FIGURE %s, %d containers, %d interleaved runs: docker inspect $(docker ps -q) median %s; dlr check %s: %.2fx (target <= 1x); dlr status %s: %.2fx (target <= 1x)",
		suite, n, runs, ms(in), ms(ch), float64(ch)/float64(in), ms(st), float64(st)/float64(in))
	t.Logf("FIGURE %s, %d containers, same runs: no-op dlr enable median %s vs /bin/true %s: %.2fx (target <= 3x)",
		suite, n, ms(no), ms(tr), float64(no)/float64(tr))
}

// scaleWatcher: a burst of docker runs; for each container, the time from
// its docker run returning to both its FIFOs grown (pipesz -grown polls
// every 2 ms); then the watcher's RSS and CPU over 10 s idle.
func scaleWatcher(t *testing.T, g *rig.Guest, suite string) {
	burst := envInt("DLR_SCALE_BURST", 100)
	// 10 minutes: 100 docker runs beside 300 logging containers took
	// more than 5 on the loaded 2-core host (2026-12-07).
	out := longSh(t, g, 10*time.Minute, fmt.Sprintf(`
pipesz -grown 131072 -for 600s /run/docker/containerd > /root/grown.txt &
p=$!
sleep 0.2
for i in $(seq %d); do id=$(docker run -d --name b$i logger /app); echo "$(date +%%s%%6N) $id"; done > /root/ran.txt
sleep 2; kill $p; wait $p || true
cat /root/ran.txt; echo ---; cat /root/grown.txt`, burst))
	ran, grownAt := map[string]int64{}, map[string]int64{}
	part := ran
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "---" {
			part = grownAt
			continue
		}
		f := strings.Fields(l)
		if len(f) == 2 {
			us, _ := strconv.ParseInt(f[0], 10, 64)
			part[f[1]] = us
		}
	}
	var lat []time.Duration
	missed := 0
	for id, r := range ran {
		if gr, ok := grownAt[id]; ok {
			lat = append(lat, time.Duration(gr-r)*time.Microsecond)
		} else {
			missed++
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		t.Fatalf("no container of the burst was grown: %s", gsh(t, g, "journalctl -q -o cat -u docker-liverestore -n 20"))
	}
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	t.Logf("FIGURE %s: watcher during a burst of %d docker runs: docker run returning -> both FIFOs >= 128K: p50 %s, p99 %s, max %s (target p99 <= 100 ms); %d not grown within the burst",
		suite, len(ran), ms(p(0.5)), ms(p(0.99)), ms(lat[len(lat)-1]), missed)
	scaleWatcherIdle(t, g, suite)
}

// scaleWatcherIdle: the watcher's resident memory and CPU over 10 s with
// nothing starting.
func scaleWatcherIdle(t *testing.T, g *rig.Guest, suite string) {
	pid := gsh(t, g, "systemctl show -p MainPID --value docker-liverestore")
	ticks := func() int {
		f := strings.Fields(gsh(t, g, "cat /proc/"+pid+"/stat"))
		u, _ := strconv.Atoi(f[13])
		s, _ := strconv.Atoi(f[14])
		return u + s
	}
	time.Sleep(2 * time.Second)
	t0 := ticks()
	time.Sleep(10 * time.Second)
	cpu := float64(ticks()-t0) / 100 / 10 * 100 // clock ticks (USER_HZ 100) over 10 s, in %
	t.Logf("FIGURE %s: watcher idle: %s, %s; CPU %.2f%% over 10 s (target RSS <= 15 MB)", suite,
		gsh(t, g, "grep VmRSS /proc/"+pid+"/status | tr -s ' \t' ' '"), gsh(t, g, "grep VmHWM /proc/"+pid+"/status | tr -s ' \t' ' '"), cpu)
}

// scaleBudget: dlr buffers with a budget the pipes' total would pass: it
// plans a smaller size for all, or none, and says so; nothing shrinks.
func scaleBudget(t *testing.T, g *rig.Guest, suite string) {
	before := gsh(t, g, "pipesz /run/docker/containerd/* | cut -d' ' -f1 | sort | uniq -c | tr '\\n' ' '")
	for _, budget := range []string{"64M", "1G"} {
		out := gsh(t, g, "dlr buffers --budget "+budget+" 2>&1 | grep -v '^grew' | tail -3")
		t.Logf("FIGURE %s: dlr buffers --budget %s (FIFO sizes before: %s): %s", suite, budget, before, strings.ReplaceAll(out, "\n", " | "))
	}
	t.Logf("  FIFO sizes after: %s", gsh(t, g, "pipesz /run/docker/containerd/* | cut -d' ' -f1 | sort | uniq -c | tr '\\n' ' '"))
}

// TestScaleDrill times dlr drill's refusal with many running containers
// (issue 20: within 1 s, before anything is stopped): Debian bookworm
// (Docker 20.10, whose restore removes a --rm container, moby/moby#46308)
// with the .deb installed and enabled, DLR_SCALE_CONTAINERS - 1 plain
// containers logging 5 lines/s and one started with --rm. `make
// bench-scale` runs it after TestScale; DLR_SCALE=1 and DLR_SCALE_DEB as
// there, DLR_SCALE_RUNS refusals.
func TestScaleDrill(t *testing.T) {
	if os.Getenv("DLR_SCALE") == "" {
		t.Skip("a measurement: run it with make bench-scale (DLR_SCALE=1)")
	}
	deb := os.Getenv("DLR_SCALE_DEB")
	if deb == "" {
		t.Fatal("DLR_SCALE_DEB names the .deb to install (make bench-scale builds it)")
	}
	n := envInt("DLR_SCALE_CONTAINERS", 300)
	runs := envInt("DLR_SCALE_RUNS", 11)
	keepHostPipeMaxSize(t)
	g := rig.Boot(t, "bookworm")
	g.CopyIn(t, deb, "/root/dlr.deb", 0o644)
	g.ImportImage(t, "logger", rig.BuildLogger(t))
	g.MustExec(t, "sh", "-c", "DEBIAN_FRONTEND=noninteractive dpkg -i /root/dlr.deb >/dev/null")
	start := time.Now()
	longSh(t, g, 5*time.Minute, "docker run -d --rm --name rmme logger /app -rate 500 >/dev/null\n"+startMany(n-1, "s"))
	running := gsh(t, g, "docker ps -q --no-trunc | sort | tee /root/running.before")
	n = len(strings.Fields(running))
	if got := gsh(t, g, "docker info -f '{{.LiveRestoreEnabled}}'"); got != "true" {
		t.Fatalf("live restore is not on after the package's install (%s): %s", got, gsh(t, g, "dlr status 2>&1 | tail -5"))
	}
	pid := gsh(t, g, "systemctl show -p MainPID --value docker")
	t.Logf("FIGURE bookworm: %d containers running after %v (one with --rm), each logging 5 lines/s; load %s", n,
		time.Since(start).Round(time.Second), gsh(t, g, "cut -d' ' -f1-3 /proc/loadavg"))
	times := longTimes(t, g, 5*time.Minute, fmt.Sprintf(`
for i in $(seq %d); do
  a=$(us); rc=0; dlr drill --yes > /root/drill.out 2>&1 || rc=$?; b=$(us); echo "refusal $((b-a))"
  [ $rc = 3 ] || { echo "drill exit $rc" >&2; cat /root/drill.out >&2; exit 1; }
  a=$(us); /bin/true; b=$(us); echo "clock $((b-a))"
done`, runs))
	out := gsh(t, g, "cat /root/drill.out")
	if !strings.Contains(out, "rmme") || !strings.Contains(out, "nothing was stopped") {
		t.Errorf("the drill's refusal does not name rmme and say nothing was stopped:\n%s", out)
	}
	pidAfter := gsh(t, g, "systemctl show -p MainPID --value docker")
	if pidAfter != pid {
		t.Errorf("dockerd's PID %s -> %s: a refused drill restarted it", pid, pidAfter)
	}
	after := gsh(t, g, "docker ps -q --no-trunc | sort")
	if after != running {
		// Which ones, and how they ended (a run of 2026-12-07 lost 2 of 249
		// here, cause not established).
		t.Errorf("%d containers running before the refusals, %d after; gone: %s", n, len(strings.Fields(after)),
			gsh(t, g, "docker ps -q --no-trunc | sort | comm -23 /root/running.before - | xargs -r docker inspect -f '{{.Name}} {{.State.Status}} exit {{.State.ExitCode}} {{.State.Error}} started {{.State.StartedAt}} finished {{.State.FinishedAt}}' 2>&1 | head -5"))
	}
	t.Logf("FIGURE bookworm, %d containers (one --rm): dlr drill --yes refused (exit 3) median %s of %d (target <= 1 s); dockerd PID %s -> %s, %d of the %d containers running after; starting /bin/true costs %s",
		n, ms(median(times["refusal"])), runs, pid, pidAfter, len(strings.Fields(after)), n, ms(median(times["clock"])))
}
