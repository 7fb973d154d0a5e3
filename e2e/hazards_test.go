//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/restore"
)

// The hazard table (guard/hazards.go) against the real thing: for each row
// a reachable release shows, dlr's words before the restart (check,
// preflight, drill's refusal) and what the restart then did.

// checkItems is dlr check --json's items.
func checkItems(t *testing.T, out string) []checkItemJSON {
	t.Helper()
	var r struct {
		Check struct {
			Items []checkItemJSON `json:"items"`
		} `json:"check"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("dlr check --json: %v\n%s", err, out)
	}
	return r.Check.Items
}

// hazardItem is the restore-hazard item of dlr check about a container.
func hazardItem(t *testing.T, out, container string) checkItemJSON {
	t.Helper()
	for _, it := range checkItems(t, out) {
		if it.ID == "restore-hazard" && strings.HasPrefix(it.Title, container+" ") {
			return it
		}
	}
	t.Fatalf("dlr check --json has no restore-hazard item for %s:\n%s", container, out)
	return checkItemJSON{}
}

// wantWords fails for each of words not in out.
func wantWords(t *testing.T, what, out string, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

// TestHazardsBookworm is issue 20's proof on Debian bookworm (Docker
// 20.10.24): a --rm container (removed at a restore, moby/moby#46308) and a
// health-checked one (probes frozen, moby/moby#41871) beside a plain one.
// dlr check, dlr preflight (a same-version reinstall of docker.io) and dlr
// drill (refused without --force, nothing stopped) say what a restart will
// do; then `systemctl restart docker` does it: the --rm container is gone
// and named in the restore record and dlr status with the row that
// predicted it, and the health monitor is re-armed at once.
func TestHazardsBookworm(t *testing.T) {
	g := guest(t, "bookworm")
	if code, _, errOut := dlr(t, g, "enable"); code != 0 {
		t.Fatalf("dlr enable: exit %d: %s", code, errOut)
	}
	g.CopyIn(t, "../buffers/docker-liverestore.service", "/etc/systemd/system/docker-liverestore.service", 0o644)
	g.MustExec(t, "systemctl", "daemon-reload")
	g.MustExec(t, "systemctl", "enable", "--now", "docker-liverestore.service")
	g.MustExec(t, "docker", "create", "--name", "base", "logger", "/app")
	// A 10 s interval: waiting one probe window (interval + timeout + 2 s)
	// before re-arming would leave it unprobed for 17 s.
	g.MustExec(t, "docker", "commit", "--change", `HEALTHCHECK --interval=10s --timeout=5s CMD ["/app","-check"]`, "base", "health")
	g.MustExec(t, "docker", "rm", "base")
	g.MustExec(t, "docker", "run", "-d", "--rm", "--name", "rmme", "logger", "/app")
	g.MustExec(t, "docker", "run", "-d", "--name", "hc", "health", "/app")
	g.MustExec(t, "docker", "run", "-d", "--name", "plain", "--restart", "unless-stopped", "logger", "/app")
	waitGuest(t, g, 40*time.Second, "hc to be healthy", "sh", "-c", `[ "$(docker inspect -f '{{.State.Health.Status}}' hc)" = healthy ]`)
	waitFor(t, 30*time.Second, "the watcher's view of 3 containers", func() bool {
		var v restore.View
		b, err := os.ReadFile(g.Path("/var/lib/docker-liverestore/restore-view.json"))
		return err == nil && json.Unmarshal(b, &v) == nil && len(v.Containers) == 3
	})
	version := trimmed(t, g, "dpkg-query", "-W", "-f", "${Version}", "docker.io")
	dpid := mainPID(t, g)
	// What dlr reads, as dockerd 20.10.24 answers it (the unit tests'
	// recorded inspect data comes from here).
	t.Logf("INSPECT bookworm %s", g.MustExec(t, "docker", "inspect", "rmme"))
	t.Logf("INSPECT bookworm %s", g.MustExec(t, "docker", "inspect", "hc"))

	// dlr check: a restart of 20.10.24 removes rmme (FAIL), freezes hc (WARN).
	code, out, _ := dlr(t, g, "check", "--json")
	if code != 3 {
		t.Errorf("dlr check: exit %d, want 3 (a FAIL)", code)
	}
	rm, hc := hazardItem(t, out, "rmme"), hazardItem(t, out, "hc")
	if rm.Result != "FAIL" || !strings.Contains(rm.Detail, "moby/moby#46308") || !strings.Contains(rm.Fix, "24.0.8") {
		t.Errorf("check on rmme: %+v", rm)
	}
	if hc.Result != "WARN" || !strings.Contains(hc.Detail, "moby/moby#41871") {
		t.Errorf("check on hc: %+v", hc)
	}
	for _, it := range checkItems(t, out) {
		if it.ID == "restore-hazard" && strings.HasPrefix(it.Title, "plain ") {
			t.Errorf("check on plain: %+v", it)
		}
	}

	// dlr preflight: a same-version reinstall of docker.io (a .deb at the
	// installed version): kept now, the next restart removes rmme.
	g.CopyIn(t, buildDeb(t, "docker.io", version, nil), "/root/docker.io.deb", 0o644)
	code, out, _ = dlr(t, g, "preflight", "/root/docker.io.deb")
	if code != 3 {
		t.Errorf("dlr preflight: exit %d, want 3", code)
	}
	wantWords(t, "dlr preflight", out, "docker.io "+version+" -> "+version, "FAIL  rmme", "started with --rm", "moby/moby#46308", "WARN  hc", "moby/moby#41871")

	// dlr drill: refused before anything is stopped, naming rmme and the bug.
	code, out, _ = dlr(t, g, "drill", "--yes", "--json")
	r := parseDrill(t, out)
	if code != 3 || r.Error == nil {
		t.Fatalf("drill: exit %d: %s", code, out)
	}
	wantWords(t, "drill's refusal", r.Error.Message, "rmme", "moby/moby#46308", "nothing was stopped", "--force")
	if got := mainPID(t, g); got != dpid {
		t.Fatalf("the refused drill restarted dockerd: MainPID %s -> %s", dpid, got)
	}
	if trimmed(t, g, "docker", "inspect", "-f", "{{.State.Running}}", "rmme") != "true" {
		t.Fatal("rmme is not running after the refused drill")
	}

	// The restart they warned of.
	n := len(records(t, g))
	start := time.Now()
	g.MustExec(t, "systemctl", "restart", "docker")
	rec := nextRecord(t, g, n+1)
	t.Logf("restart to record: %v", time.Since(start))
	b, _ := json.MarshalIndent(rec, "", "  ")
	t.Logf("restore record: %s", b)
	if _, _, code, _ := g.Exec(context.Background(), "docker", "inspect", "rmme"); code == 0 {
		t.Error("rmme still exists after the restart: the hazard row's prediction did not happen")
	}
	var gotRm, gotHC *restore.Result
	for i := range rec.Results {
		switch rec.Results[i].Name {
		case "rmme":
			gotRm = &rec.Results[i]
		case "hc":
			gotHC = &rec.Results[i]
		}
	}
	if gotRm == nil || gotRm.Kept || gotRm.Hazard != "autoremove" || !strings.Contains(gotRm.Predicted, "moby/moby#46308") {
		t.Errorf("rmme in the record: %+v", gotRm)
	}
	if gotHC == nil || !gotHC.Kept {
		t.Fatalf("hc in the record: %+v", gotHC)
	}
	for _, it := range gotHC.Items {
		if it.Check != restore.HealthFrozen {
			continue
		}
		if it.Result != restore.Mended || !strings.Contains(it.Detail, "freezes every health monitor") {
			t.Errorf("hc's health: %s: %s", it.Result, it.Detail)
		}
		// Re-armed at once: before, the re-arm waited one probe window
		// (interval 10 s + timeout 5 s + 2 s) and the probe came an
		// interval after it (27 s or more); now the probe an interval
		// after the restore is the re-armed monitor's first.
		if it.Seconds == nil || *it.Seconds >= 17 {
			t.Errorf("hc's new probe %v s after the restore (want within the 17 s the old re-arm waited before it even paused): %s", it.Seconds, it.Detail)
		} else {
			t.Logf("FACT bookworm: hc re-armed at once, new probe %.1f s after the restore (interval 10 s; the old re-arm waited 17 s before pausing): %s", *it.Seconds, it.Detail)
		}
	}
	_, out, _ = dlr(t, g, "status")
	wantWords(t, "dlr status", out, "lost: rmme (predicted: moby/moby#46308, started with --rm (AutoRemove))")
	_, out, _ = dlr(t, g, "check")
	wantWords(t, "dlr check after", out, "lost: rmme (predicted: moby/moby#46308")
}

// TestHazardsExtraHostsPanic is the extra-hosts row on trixie: Docker
// 26.1.5 runs a container whose --add-host entry has a space; dlr check
// (dockerd replaced by upstream 29.3.1 under the running 26.1.5, as a
// package unpack would) and dlr preflight (a docker-ce 29.3.1 package) say
// a restart onto 29.3.1 panics dockerd (fixed in 29.4.0); then the restart
// is measured: docker.service fails with the panic in its journal.
func TestHazardsExtraHostsPanic(t *testing.T) {
	g := guest(t, "trixie")
	if code, _, errOut := dlr(t, g, "enable"); code != 0 {
		t.Fatalf("dlr enable: exit %d: %s", code, errOut)
	}
	g.MustExec(t, "docker", "run", "-d", "--name", "spacey", "--add-host", "foo: 1.2.3.4", "logger", "/app")
	g.MustExec(t, "docker", "run", "-d", "--name", "plain", "logger", "/app")
	t.Logf("spacey's extra hosts as stored: %s", trimmed(t, g, "docker", "inspect", "-f", "{{json .HostConfig.ExtraHosts}}", "spacey"))
	t.Logf("INSPECT trixie %s", g.MustExec(t, "docker", "inspect", "spacey"))

	// Running 26.1.5, installed 26.1.5: nothing to say about spacey.
	_, out, _ := dlr(t, g, "check", "--json")
	for _, it := range checkItems(t, out) {
		if it.ID == "restore-hazard" && it.Result != "PASS" {
			t.Errorf("check on 26.1.5: %+v", it)
		}
	}

	// dlr preflight: docker-ce 29.3.1 installed (it starts its dockerd).
	g.CopyIn(t, buildDeb(t, "docker-ce", "5:29.3.1-1~debian.13~trixie", map[string]string{"postinst": acmePostinst}), "/root/docker-ce.deb", 0o644)
	code, out, _ := dlr(t, g, "preflight", "/root/docker-ce.deb")
	if code != 3 {
		t.Errorf("dlr preflight: exit %d, want 3", code)
	}
	wantWords(t, "dlr preflight", out, "FAIL  spacey", "daemon panic", "29.4.0", "moby/moby#52274")

	// dockerd 29.3.1 in place, not yet restarted: dlr check judges the
	// restart that starts it.
	g.SwapDockerd(t, "29.3.1", true)
	code, out, _ = dlr(t, g, "check", "--json")
	sp := hazardItem(t, out, "spacey")
	if code != 3 || sp.Result != "FAIL" || !strings.Contains(sp.Detail, "dockerd 29.3.1 panics") || !strings.Contains(sp.Fix, "29.4.0") {
		t.Errorf("check with 29.3.1 installed: exit %d, %+v", code, sp)
	}

	// The restart: measured, not assumed.
	g.Exec(context.Background(), "systemctl", "restart", "docker")
	deadline := time.Now().Add(90 * time.Second)
	state := ""
	for time.Now().Before(deadline) {
		state = unitState(g, "docker.service")
		if state == "failed" {
			break
		}
		time.Sleep(time.Second)
	}
	journal := g.MustExec(t, "journalctl", "-u", "docker.service", "--no-pager", "-n", "400")
	panicked := strings.Contains(journal, "panic: ParseAddr")
	t.Logf("FACT trixie 26.1.5 -> upstream 29.3.1, spacey (--add-host \"foo: 1.2.3.4\"): docker.service %s, panic in the journal: %v", state, panicked)
	if state != "failed" || !panicked {
		t.Errorf("the restart onto 29.3.1 did not panic as dlr said: docker.service %s\n%s", state, lastLines(journal, 40))
	}
	for _, line := range strings.Split(journal, "\n") {
		if strings.Contains(line, "panic:") {
			t.Logf("journal: %s", line)
			break
		}
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
