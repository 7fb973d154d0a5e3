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
