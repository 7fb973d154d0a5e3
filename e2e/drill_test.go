//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// drillJSON is the part of `dlr drill --json` the tests read.
type drillJSON struct {
	OK    bool `json:"ok"`
	Drill *struct {
		Seconds     int     `json:"seconds"`
		Interrupted bool    `json:"interrupted"`
		Downtime    float64 `json:"downtime_seconds"`
		Survived    int     `json:"survived"`
		Containers  []struct {
			Name     string `json:"name"`
			Pid      int    `json:"pid"`
			PidAfter int    `json:"pid_after"`
			Survived bool   `json:"survived"`
		} `json:"containers"`
	} `json:"drill"`
	Error *struct {
		ExitCode int    `json:"exit_code"`
		Message  string `json:"message"`
	} `json:"error"`
}

func parseDrill(t *testing.T, out string) drillJSON {
	t.Helper()
	var d drillJSON
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("dlr drill --json does not parse: %v\n%s", err, out)
	}
	return d
}

// TestDrill proves `dlr drill` on a real systemd and dockerd: refused while
// live restore is off (docker untouched); with it on, two containers keep
// their PIDs through a 3 s outage of docker.service and docker.socket; and a
// SIGTERM to dlr in the middle of a 120 s outage starts docker again at once.
func TestDrill(t *testing.T) {
	forSuites(t, func(t *testing.T, suite string) {
		g := guest(t, suite)
		g.MustExec(t, "docker", "run", "-d", "--name", "c1", "logger", "/app")
		g.MustExec(t, "docker", "run", "-d", "--name", "c2", "logger", "/app", "-rate", "20000")
		pids := map[string]string{"c1": containerPID(t, g, "c1"), "c2": containerPID(t, g, "c2")}

		// Live restore off: refused, nothing stopped.
		dpid := mainPID(t, g)
		code, out, _ := dlr(t, g, "drill", "--yes", "--json")
		r := parseDrill(t, out)
		if code != 3 || r.Error == nil || !strings.Contains(r.Error.Message, "live restore is not active in the running dockerd") {
			t.Fatalf("drill with live restore off: exit %d, %s", code, out)
		}
		if got := mainPID(t, g); got != dpid {
			t.Fatalf("a refused drill restarted dockerd: MainPID %s -> %s", dpid, got)
		}

		if code, _, errOut := dlr(t, g, "enable"); code != 0 {
			t.Fatalf("dlr enable: exit %d: %s", code, errOut)
		}
		// No --yes and stdin not a terminal: refused, docker untouched.
		if code, _, errOut := dlr(t, g, "drill"); code != 3 || !strings.Contains(errOut, "give --yes") {
			t.Fatalf("drill without --yes off a terminal: exit %d: %s", code, errOut)
		}
		if got := trimmed(t, g, "systemctl", "is-active", "docker.service"); got != "active" {
			t.Fatalf("docker.service %s after a refused drill", got)
		}

		// The drill: both containers keep their PIDs.
		start := time.Now()
		code, out, _ = dlr(t, g, "drill", "--yes", "--seconds", "3", "--json")
		took := time.Since(start)
		r = parseDrill(t, out)
		if code != 0 || r.Drill == nil || r.Drill.Survived != 2 || len(r.Drill.Containers) != 2 {
			t.Fatalf("drill: exit %d, %s", code, out)
		}
		for _, c := range r.Drill.Containers {
			if !c.Survived || c.Pid != c.PidAfter || pids[c.Name] != strconv.Itoa(c.Pid) {
				t.Errorf("container %+v (docker inspect said PID %s before)", c, pids[c.Name])
			}
		}
		if r.Drill.Downtime < 3 || r.Drill.Downtime > 30 {
			t.Errorf("downtime %.2f s for a 3 s drill", r.Drill.Downtime)
		}
		if got := mainPID(t, g); got == dpid {
			t.Errorf("dockerd's MainPID is still %s: it was not stopped", got)
		}
		for name, pid := range pids {
			if got := containerPID(t, g, name); got != pid {
				t.Errorf("%s: PID %s -> %s after the drill", name, pid, got)
			}
		}
		t.Logf("%s: drill of 3 s took %v, daemon downtime %.2f s", suite, took.Round(time.Millisecond), r.Drill.Downtime)

		// The text output off a terminal: no colour, no progress line.
		_, text, errText := dlr(t, g, "drill", "--yes", "--seconds", "1")
		if !strings.Contains(text, "SURVIVED") || strings.Contains(text+errText, "\x1b[") || strings.Contains(errText, "\r") {
			t.Errorf("text drill:\n%s%s", text, errText)
		}

		// SIGTERM during the outage: docker is started again at once.
		g.MustExec(t, "systemd-run", "--unit=dlr-drill", "--service-type=exec",
			"-p", "StandardOutput=file:/root/drill.out", "-p", "StandardError=file:/root/drill.err",
			"dlr", "drill", "--yes", "--seconds", "120", "--json")
		t.Cleanup(func() {
			g.Exec(context.Background(), "systemctl", "stop", "dlr-drill")
			g.Exec(context.Background(), "systemctl", "reset-failed", "dlr-drill")
		})
		waitGuest(t, g, 30*time.Second, "docker.service to stop", "sh", "-c", "! systemctl is-active -q docker.service && ! systemctl is-active -q docker.socket")
		killed := time.Now()
		g.MustExec(t, "systemctl", "kill", "--kill-whom=main", "-s", "TERM", "dlr-drill")
		diag := func() string {
			out, errOut, _, _ := g.Exec(context.Background(), "sh", "-c", "cat /root/drill.out /root/drill.err; systemctl status --no-pager dlr-drill docker.service docker.socket; journalctl --no-pager -n 30 -u dlr-drill")
			return out + errOut
		}
		if !pollGuest(g, 30*time.Second, "systemctl", "is-active", "-q", "docker.service") {
			t.Fatalf("docker.service not active 30 s after the SIGTERM:\n%s", diag())
		}
		back := time.Since(killed)
		waitGuest(t, g, 30*time.Second, "dlr drill to exit", "sh", "-c", "! systemctl is-active -q dlr-drill")
		rc := trimmed(t, g, "systemctl", "show", "-p", "ExecMainStatus", "--value", "dlr-drill")
		out = g.MustExec(t, "cat", "/root/drill.out")
		t.Logf("interrupted drill (exit %s):\n%s", rc, out)
		r = parseDrill(t, out)
		if rc != "1" || r.Drill == nil || !r.Drill.Interrupted || r.Error == nil || !strings.Contains(r.Error.Message, "interrupted") {
			t.Fatalf("interrupted drill: exit %s: %s\n%s", rc, out, g.MustExec(t, "cat", "/root/drill.err"))
		}
		if back > 15*time.Second || r.Drill.Downtime > 60 {
			t.Errorf("docker back %v after the SIGTERM (downtime %.2f s of a 120 s drill)", back, r.Drill.Downtime)
		}
		if trimmed(t, g, "systemctl", "is-active", "docker.socket") != "active" {
			t.Errorf("docker.socket not started again")
		}
		if r.Drill.Survived != 2 {
			t.Errorf("interrupted drill: %d of 2 survived: %s", r.Drill.Survived, out)
		}
		t.Logf("%s: SIGTERM during the outage: docker.service active %v later, downtime %.2f s", suite, back.Round(time.Millisecond), r.Drill.Downtime)
		// On a terminal (script(1) gives dlr a pseudo-terminal): the
		// question, a countdown on stderr, colour; and no colour with
		// NO_COLOR.
		tty := g.Sh(t, `printf 'y\n' | TERM=xterm script -qec "dlr drill --seconds 2" /dev/null`)
		if !strings.Contains(tty, "Continue? [y/N]") || !strings.Contains(tty, "docker is stopped: 1 s left") ||
			!strings.Contains(tty, "\x1b[32mSURVIVED\x1b[0m") {
			t.Errorf("drill on a terminal:\n%q", tty)
		}
		tty = g.Sh(t, `printf 'y\n' | NO_COLOR=1 TERM=xterm script -qec "dlr drill --seconds 1" /dev/null`)
		if !strings.Contains(tty, "SURVIVED") || strings.Contains(tty, "\x1b[32m") {
			t.Errorf("drill on a terminal with NO_COLOR:\n%q", tty)
		}
		if got := trimmed(t, g, "systemctl", "is-active", "docker.service"); got != "active" {
			t.Errorf("docker.service %s after the terminal drills", got)
		}
		for name, pid := range pids {
			if got := containerPID(t, g, name); got != pid {
				t.Errorf("%s: PID %s -> %s after the terminal drills", name, pid, got)
			}
		}
		// dlr enable installed and started the watcher (the bare binary's
		// own unit): its process stays, by design; no other may.
		watcher := trimmed(t, g, "systemctl", "show", "-p", "MainPID", "--value", "docker-liverestore.service")
		for _, pid := range strings.Fields(g.Sh(t, "pgrep -x dlr || true")) {
			if pid != watcher {
				t.Errorf("dlr process %s left (the watcher is %s)", pid, watcher)
			}
		}
	})
}

// waitGuest runs args in the guest until it exits 0, failing after d.
func waitGuest(t *testing.T, g *rig.Guest, d time.Duration, what string, args ...string) {
	t.Helper()
	if !pollGuest(g, d, args...) {
		t.Fatalf("waited %v for %s", d, what)
	}
}

// pollGuest runs args in the guest until it exits 0 (true) or d has passed.
func pollGuest(g *rig.Guest, d time.Duration, args ...string) bool {
	deadline := time.Now().Add(d)
	for {
		_, _, code, err := g.Exec(context.Background(), args...)
		if err == nil && code == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
