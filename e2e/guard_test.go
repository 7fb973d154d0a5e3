//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestGuard is issue #5's proof on a real dockerd: restore-breaking edits
// are refused while a container runs, forced ones show up as drift in dlr
// check, dlr validate judges candidate files, and a reloadable key set with
// dlr set is applied by a reload and visible in /info.
func TestGuard(t *testing.T) {
	forSuites(t, func(t *testing.T, suite string) {
		g := guest(t, suite)
		const cfg = "/etc/docker/daemon.json"

		// dlr check on a stock guest: live restore off is a FAIL, and a
		// container without a restart policy a WARN.
		g.MustExec(t, "docker", "run", "-d", "--name", "c1", "logger", "/app")
		code, out, _ := dlr(t, g, "check", "--json")
		items := checkResults(t, out)
		if code != 3 || items["live-restore"] != "FAIL" || items["restart-policy"] != "WARN" {
			t.Errorf("check on a stock guest: exit %d %v", code, items)
		}
		if code, _, _ := dlr(t, g, "enable"); code != 0 {
			t.Fatalf("enable: exit %d", code)
		}
		code, out, _ = dlr(t, g, "check", "--json")
		items = checkResults(t, out)
		if code != 0 || items["live-restore"] != "PASS" || items["killmode-docker.service"] != "PASS" || items["version"] != "PASS" || items["drift"] != "PASS" {
			t.Errorf("check after enable: exit %d %v", code, items)
		}

		// A bip change while c1 runs: refused, the file untouched.
		id := fileID(t, g, cfg)
		code, _, _ = dlr(t, g, "set", "bip=10.99.0.1/24")
		if code != 3 || fileID(t, g, cfg) != id {
			t.Errorf("set bip: exit %d, file changed: %v", code, fileID(t, g, cfg) != id)
		}
		// validate: a templated candidate with a bip change is unsafe, one
		// with a mirrors change is fine.
		writeGuest(t, g, "/root/bip.json", "{\n  \"live-restore\": true,\n  \"bip\": \"10.99.0.1/24\"\n}\n")
		writeGuest(t, g, "/root/mirrors.json", "{\n  \"live-restore\": true,\n  \"registry-mirrors\": [\"https://mirror.example\"]\n}\n")
		if code, _, _ := dlr(t, g, "validate", "/root/bip.json"); code != 3 {
			t.Errorf("validate bip: exit %d, want 3", code)
		}
		if code, _, _ := dlr(t, g, "validate", "/root/mirrors.json"); code != 0 {
			t.Errorf("validate mirrors: exit %d, want 0", code)
		}

		// dlr set registry-mirrors: a reload, visible in /info, no restart.
		dpid := mainPID(t, g)
		code, _, _ = dlr(t, g, "set", `registry-mirrors=["https://mirror.example"]`)
		mirrors := trimmed(t, g, "docker", "info", "-f", "{{json .RegistryConfig.Mirrors}}")
		if code != 0 || !strings.Contains(mirrors, "https://mirror.example") || mainPID(t, g) != dpid {
			t.Errorf("set registry-mirrors: exit %d, /info mirrors %s", code, mirrors)
		}
		code, _, _ = dlr(t, g, "unset", "registry-mirrors")
		mirrors = trimmed(t, g, "docker", "info", "-f", "{{json .RegistryConfig.Mirrors}}")
		if code != 0 || strings.Contains(mirrors, "mirror.example") {
			t.Errorf("unset registry-mirrors: exit %d, /info mirrors %s", code, mirrors)
		}

		// --force writes the bip change; dlr check then FAILs the drift:
		// the bridge still runs on the old subnet.
		code, _, _ = dlr(t, g, "set", "--force", "bip=10.99.0.1/24")
		if code != 0 {
			t.Fatalf("set --force bip: exit %d", code)
		}
		code, out, _ = dlr(t, g, "check", "--json")
		items = checkResults(t, out)
		if code != 3 || items["drift"] != "FAIL" {
			t.Errorf("check after a forced bip: exit %d %v", code, items)
		}
		_ = context.Background
	})
}

func checkResults(t *testing.T, out string) map[string]string {
	t.Helper()
	var r struct {
		Check struct {
			Items []struct{ ID, Result string } `json:"items"`
		} `json:"check"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check --json: %v\n%s", err, out)
	}
	m := map[string]string{}
	for _, it := range r.Check.Items {
		m[it.ID] = it.Result
	}
	return m
}

// TestDropIn: a unit drop-in setting KillMode=control-group is a FAIL in dlr
// check, fixed by dlr enable's own drop-in (which sorts after it); the
// drop-in's snapshot hook records daemon.json at the next start, its stop
// hook is in ExecStop, and dlr disable removes it.
func TestDropIn(t *testing.T) {
	forSuites(t, func(t *testing.T, suite string) {
		g := guest(t, suite)
		g.Sh(t, "mkdir -p /etc/systemd/system/docker.service.d && printf '[Service]\\nKillMode=control-group\\n' > /etc/systemd/system/docker.service.d/override.conf && systemctl daemon-reload")
		code, out, _ := dlr(t, g, "check", "--json")
		if items := checkResults(t, out); code != 3 || items["killmode-docker.service"] != "FAIL" {
			t.Errorf("check with KillMode=control-group: exit %d %v", code, items)
		}
		if code, _, _ := dlr(t, g, "enable"); code != 0 {
			t.Fatalf("enable: exit %d", code)
		}
		if got := trimmed(t, g, "systemctl", "show", "-p", "KillMode", "docker.service"); got != "KillMode=process" {
			t.Errorf("after enable: %s", got)
		}
		if got := trimmed(t, g, "systemctl", "show", "-p", "ExecStop", "docker.service"); !strings.Contains(got, "dlr") || !strings.Contains(got, "buffers") {
			t.Errorf("ExecStop = %s", got)
		}
		code, out, _ = dlr(t, g, "check", "--json")
		if items := checkResults(t, out); code != 0 || items["killmode-docker.service"] != "PASS" {
			t.Errorf("check after enable: exit %d %v", code, items)
		}
		// The snapshot hook runs at the next start.
		g.MustExec(t, "systemctl", "restart", "docker")
		if got := trimmed(t, g, "cat", "/var/lib/docker-liverestore/started-with.json"); !strings.Contains(got, "\"live-restore\": true") {
			t.Errorf("snapshot after restart: %q", got)
		}
		if code, _, _ := dlr(t, g, "disable"); code != 0 {
			t.Errorf("disable: exit %d", code)
		}
		if _, _, code, _ := g.Exec(context.Background(), "test", "-e", "/etc/systemd/system/docker.service.d/zz-docker-liverestore.conf"); code == 0 {
			t.Error("disable left the drop-in")
		}
		if got := trimmed(t, g, "systemctl", "show", "-p", "KillMode", "docker.service"); got != "KillMode=control-group" {
			t.Errorf("after disable the admin's KillMode should be back: %s", got)
		}
	})
}
