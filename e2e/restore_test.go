//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
	"github.com/docker-liverestore/dlr/restore"
)

// restoreGuest boots a suite with dlr enabled, the watcher running, the
// node_exporter textfile directory, and four containers: hc (an exec-form
// health check every second), web (port 8080 published), app (on a
// user-defined network) and log (logging 2000 B/s).
func restoreGuest(t *testing.T, suite string) *rig.Guest {
	g := guest(t, suite)
	if code, _, errOut := dlr(t, g, "enable"); code != 0 {
		t.Fatalf("dlr enable: exit %d: %s", code, errOut)
	}
	g.CopyIn(t, "../buffers/docker-liverestore.service", "/etc/systemd/system/docker-liverestore.service", 0o644)
	g.MustExec(t, "mkdir", "-p", "/var/lib/prometheus/node-exporter")
	g.MustExec(t, "systemctl", "daemon-reload")
	g.MustExec(t, "systemctl", "enable", "--now", "docker-liverestore.service")
	g.MustExec(t, "docker", "create", "--name", "base", "logger", "/app")
	g.MustExec(t, "docker", "commit", "--change", `HEALTHCHECK --interval=1s --timeout=1s CMD ["/app","-check"]`, "base", "health")
	g.MustExec(t, "docker", "rm", "base")
	g.MustExec(t, "docker", "network", "create", "appnet")
	g.MustExec(t, "docker", "run", "-d", "--name", "hc", "health", "/app")
	g.MustExec(t, "docker", "run", "-d", "--name", "web", "-p", "8080:8080", "logger", "/app", "-listen", ":8080")
	g.MustExec(t, "docker", "run", "-d", "--name", "app", "--network", "appnet", "logger", "/app")
	g.MustExec(t, "docker", "run", "-d", "--name", "log", "logger", "/app", "-rate", "2000")
	waitGuest(t, g, 30*time.Second, "hc to be healthy", "sh", "-c", `[ "$(docker inspect -f '{{.State.Health.Status}}' hc)" = healthy ]`)
	waitFor(t, 30*time.Second, "the watcher's view of 4 containers", func() bool {
		var v restore.View
		b, err := os.ReadFile(g.Path("/var/lib/docker-liverestore/restore-view.json"))
		return err == nil && json.Unmarshal(b, &v) == nil && len(v.Containers) == 4
	})
	return g
}

// waitFor polls cond every 100 ms until it holds or d has passed.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// records reads the restores dlr recorded in the guest.
func records(t *testing.T, g *rig.Guest) []restore.Record {
	rs, err := restore.Store{Dir: g.Path("/var/lib/docker-liverestore")}.Records()
	if err != nil {
		t.Fatalf("restores.json: %v", err)
	}
	return rs
}

// nextRecord waits for restore record number n (1-based).
func nextRecord(t *testing.T, g *rig.Guest, n int) restore.Record {
	t.Helper()
	var rs []restore.Record
	waitFor(t, 90*time.Second, "restore record "+strconv.Itoa(n), func() bool {
		rs = records(t, g)
		return len(rs) >= n
	})
	return rs[n-1]
}

// judge checks a record of the four containers: all kept, no problem,
// and on Docker 20.10 the health check frozen and re-armed.
func judge(t *testing.T, g *rig.Guest, how string, rec restore.Record, pids map[string]string) {
	t.Helper()
	b, _ := json.MarshalIndent(rec, "", "  ")
	t.Logf("%s: %s: %s", g.Suite(), how, b)
	if rec.Containers != 4 || rec.Kept != 4 || rec.ProblemCount() != 0 {
		t.Errorf("%s: %d containers, %d kept, problems %v", how, rec.Containers, rec.Kept, rec.Problems)
	}
	want := map[string]string{"hc health-frozen": restore.OK, "web port": restore.OK, "web firewall": restore.OK, "app dns": restore.OK, "log logs": restore.OK}
	if restore.RearmSupported(rec.DaemonVersion) {
		want["hc health-frozen"] = restore.Mended
	}
	got := map[string]string{}
	for _, r := range rec.Results {
		for _, it := range r.Items {
			got[r.Name+" "+it.Check] = it.Result
			if it.Check == restore.HealthFrozen && it.Result == restore.Mended {
				t.Logf("%s: %s: hc: %s", g.Suite(), how, it.Detail)
			}
		}
		if pids[r.Name] != strconv.Itoa(r.PIDAfter) || r.PIDBefore != r.PIDAfter {
			t.Errorf("%s: %s: PID %d -> %d, docker inspect said %s at the start", how, r.Name, r.PIDBefore, r.PIDAfter, pids[r.Name])
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s is %q, want %q (all: %v)", how, k, got[k], v, got)
		}
	}
}

// TestRestoreChecks is issue 13's proof on every suite: the four containers
// come back whole through a restart of docker.service, a kill -9 of dockerd
// and a drill; dlr status --json has every restore with per-container
// results; on Docker 20.10 the frozen health check is re-armed.
func TestRestoreChecks(t *testing.T) {
	forSuites(t, func(t *testing.T, suite string) {
		g := restoreGuest(t, suite)
		pids := map[string]string{}
		for _, n := range []string{"hc", "web", "app", "log"} {
			pids[n] = containerPID(t, g, n)
		}

		g.MustExec(t, "systemctl", "restart", "docker.service")
		judge(t, g, "systemctl restart docker", nextRecord(t, g, 1), pids)
		wantNewProbe(t, g)

		g.MustExec(t, "systemctl", "reset-failed", "docker.service")
		g.MustExec(t, "sh", "-c", "kill -9 $(systemctl show -p MainPID --value docker.service)")
		judge(t, g, "kill -9 dockerd", nextRecord(t, g, 2), pids)

		code, out, _ := dlr(t, g, "drill", "--yes", "--seconds", "2", "--json")
		var dr struct {
			OK      bool            `json:"ok"`
			Restore *restore.Record `json:"restore"`
		}
		if err := json.Unmarshal([]byte(out), &dr); err != nil || code != 0 || !dr.OK || dr.Restore == nil {
			t.Fatalf("drill: exit %d, %v: %s", code, err, out)
		}
		judge(t, g, "dlr drill", *dr.Restore, pids)
		if rec := nextRecord(t, g, 3); rec.Trigger != "drill" {
			t.Errorf("third record by %q, want the drill's", rec.Trigger)
		}
		waitGuest(t, g, 60*time.Second, "the watcher to leave the drill's restore to it", "sh", "-c",
			"journalctl -u docker-liverestore.service | grep -q 'checked by drill already'")

		code, out, _ = dlr(t, g, "status", "--json")
		var st struct {
			Status struct {
				Restores []restore.Record `json:"restores"`
			} `json:"status"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 || len(st.Status.Restores) != 3 {
			t.Fatalf("status --json: exit %d, %v, %d restores", code, err, len(st.Status.Restores))
		}
		for _, r := range st.Status.Restores {
			if len(r.Results) != 4 || len(r.Results[0].Items) == 0 {
				t.Errorf("status --json: a restore without per-container results: %+v", r)
			}
		}
		_, text, _ := dlr(t, g, "status")
		if !strings.Contains(text, "last restore:") || !strings.Contains(text, "4 containers, 4 kept") {
			t.Errorf("dlr status:\n%s", text)
		}
		metricsAccepted(t, g)
		firewallFlushed(t, g, pids["web"])
		pauseRearms(t, g, pids["hc"])
		if restore.RearmSupported(st.Status.Restores[0].DaemonVersion) {
			rearmOff(t, g)
		}
	})
}

// pauseRearms proves dlr's mend on this suite's Docker: docker pause +
// unpause of the health-checked container keeps its PID and a probe
// follows within two intervals (1 s each); it logs how long the container
// was paused.
func pauseRearms(t *testing.T, g *rig.Guest, pid string) {
	t.Helper()
	start := time.Now()
	g.MustExec(t, "docker", "pause", "hc")
	g.MustExec(t, "docker", "unpause", "hc")
	paused := time.Since(start)
	at := time.Now().Unix()
	time.Sleep(2 * time.Second)
	out := trimmed(t, g, "docker", "inspect", "-f", `{{range .State.Health.Log}}{{.Start.Unix}} {{end}}`, "hc")
	f := strings.Fields(out)
	newest, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
	if newest < at || containerPID(t, g, "hc") != pid {
		t.Errorf("after pause+unpause: probes at %s (unpaused at %d), PID %s (was %s)", out, at, containerPID(t, g, "hc"), pid)
	}
	t.Logf("%s: docker pause + unpause of hc took %v (CLI round trips included); a probe followed, PID kept", g.Suite(), paused.Round(time.Millisecond))
}

// rearmOff: with the setting off (/etc/default/docker-liverestore), a
// frozen health check after a restore is reported, not re-armed.
func rearmOff(t *testing.T, g *rig.Guest) {
	t.Helper()
	writeGuest(t, g, "/etc/default/docker-liverestore", "DLR_WATCH_OPTS=--rearm-health=false\n")
	g.MustExec(t, "systemctl", "restart", "docker-liverestore.service")
	time.Sleep(2 * time.Second)
	g.MustExec(t, "systemctl", "reset-failed", "docker.service")
	since := time.Now()
	g.MustExec(t, "systemctl", "restart", "docker.service")
	rec := recordAfter(t, g, since)
	if rec.Problems[restore.HealthFrozen] != 1 || rec.Mended != 0 {
		t.Errorf("re-arm off: problems %v, %d mended", rec.Problems, rec.Mended)
	}
	if !pollGuest(g, 20*time.Second, "sh", "-c", "journalctl -u docker-liverestore.service | grep -q 'hc: problem health-frozen: .*re-arming is turned off'") {
		t.Errorf("no journal line for the frozen health check")
	}
	g.MustExec(t, "rm", "/etc/default/docker-liverestore")
}

// firewallFlushed: the nat DOCKER chain flushed while dockerd runs (what a
// firewall reload does) is a FAIL of dlr check with its fix; the fix, run,
// brings the DNAT rule back, and port 8080 answers from another network
// namespace (through the guest's veth, as from another host), web's PID
// unchanged.
func firewallFlushed(t *testing.T, g *rig.Guest, webPID string) {
	t.Helper()
	g.Sh(t, `ip netns add ext && ip link add dlrv0 type veth peer name dlrv1 && ip link set dlrv1 netns ext &&
		ip addr add 10.99.0.1/24 dev dlrv0 && ip link set dlrv0 up &&
		ip netns exec ext ip addr add 10.99.0.2/24 dev dlrv1 && ip netns exec ext ip link set dlrv1 up && ip netns exec ext ip link set lo up`)
	fromExt := "ip netns exec ext timeout 3 bash -c 'exec 3<>/dev/tcp/10.99.0.1/8080'"
	waitGuest(t, g, 10*time.Second, "port 8080 from the ext namespace", "sh", "-c", fromExt)

	g.MustExec(t, "iptables", "-t", "nat", "-F", "DOCKER")
	code, out, _ := dlr(t, g, "check", "--json")
	item := checkItem(t, out, "firewall-rules")
	if code != 3 || item.Result != "FAIL" || !strings.Contains(item.Detail, "web 8080/tcp") || !strings.Contains(item.Fix, "systemctl restart docker.service") {
		t.Fatalf("dlr check after the flush: exit %d, %+v", code, item)
	}
	_, _, extCode, _ := g.Exec(context.Background(), "sh", "-c", fromExt)
	t.Logf("%s: while flushed, port 8080 from the ext namespace: exit %d (0: docker-proxy answered without the DNAT rule)", g.Suite(), extCode)

	n := len(records(t, g))
	g.MustExec(t, "systemctl", "reset-failed", "docker.service")
	g.MustExec(t, "systemctl", "restart", "docker.service")
	nextRecord(t, g, min(n+1, restore.KeepRecords))
	waitGuest(t, g, 30*time.Second, "the DNAT rule for 8080", "sh", "-c", "iptables -t nat -S DOCKER | grep -q -- '--dport 8080 '")
	code, out, _ = dlr(t, g, "check", "--json")
	if item := checkItem(t, out, "firewall-rules"); item.Result != "PASS" {
		t.Errorf("dlr check after the fix: exit %d, %+v", code, item)
	}
	waitGuest(t, g, 10*time.Second, "port 8080 from the ext namespace after the fix", "sh", "-c", fromExt)
	if got := containerPID(t, g, "web"); got != webPID {
		t.Errorf("web: PID %s -> %s through the fix", webPID, got)
	}
}

type checkItemJSON struct {
	ID, Result, Title, Detail, Fix string
}

func checkItem(t *testing.T, out, id string) checkItemJSON {
	t.Helper()
	var r struct {
		Check struct {
			Items []checkItemJSON `json:"items"`
		} `json:"check"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("dlr check --json: %v\n%s", err, out)
	}
	for _, it := range r.Check.Items {
		if it.ID == id {
			return it
		}
	}
	t.Fatalf("dlr check --json has no %s item:\n%s", id, out)
	return checkItemJSON{}
}

// wantNewProbe: docker inspect shows hc's newest probe after the last
// restart of dockerd, status healthy, PID unchanged.
func wantNewProbe(t *testing.T, g *rig.Guest) {
	t.Helper()
	out := trimmed(t, g, "docker", "inspect", "-f", `{{.State.Health.Status}} {{range .State.Health.Log}}{{.Start.Unix}} {{end}}`, "hc")
	f := strings.Fields(out)
	started := trimmed(t, g, "sh", "-c", "date -d \"$(systemctl show -p ExecMainStartTimestamp --value docker.service)\" +%s")
	newest, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
	start, _ := strconv.ParseInt(started, 10, 64)
	if f[0] != "healthy" || newest < start || start == 0 {
		t.Errorf("hc after the restore: %s; dockerd started at %s", out, started)
	}
}

// metricsAccepted runs `dlr metrics` and the watcher's textfile through
// Debian's promtool on the host.
func metricsAccepted(t *testing.T, g *rig.Guest) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Error("promtool not installed on the host (apt-get install prometheus): dlr metrics is not checked")
		return
	}
	start := time.Now()
	code, out, errOut := dlr(t, g, "metrics")
	if code != 0 {
		t.Fatalf("dlr metrics: exit %d: %s", code, errOut)
	}
	t.Logf("%s: dlr metrics took %v (nsenter into the guest included)", g.Suite(), time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"dlr_live_restore_daemon 1", "dlr_watcher_up 1", `dlr_last_restore_problems{kind="port"} 0`, "dlr_last_restore_containers 4"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("dlr metrics lacks %q:\n%s", want, out)
		}
	}
	file, err := os.ReadFile(g.Path("/var/lib/prometheus/node-exporter/docker-liverestore.prom"))
	if err != nil {
		t.Errorf("the watcher's textfile: %v", err)
	}
	for what, text := range map[string]string{"dlr metrics": out, "textfile": string(file)} {
		cmd := exec.CommandContext(context.Background(), promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics on %s: %v\n%s\n%s", what, err, b, text)
		}
	}
}
