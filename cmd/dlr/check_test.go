package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/ops"
	"github.com/docker-liverestore/dlr/unit"
)

func checkItems(t *testing.T, e *testEnv) (int, map[string]string, string) {
	t.Helper()
	code, out, _ := e.run("check", "--json")
	var r ops.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Check == nil {
		t.Fatalf("check --json: %v\n%s", err, out)
	}
	m := map[string]string{}
	for _, it := range r.Check.Items {
		m[it.ID] = it.Result
	}
	_, text, _ := e.run("check")
	return code, m, text
}

func TestCheckStockThenEnabled(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.units = map[string]unit.Unit{"containerd.service": {Name: "containerd.service", LoadState: "loaded", KillMode: "process"}}
	e.d.containers = []host.Container{{Name: "web", RestartPolicy: "no", Published: true}, {Name: "db", RestartPolicy: "always"}}
	e.d.running = 2
	code, items, text := checkItems(t, e)
	if code != exitRefused || items["live-restore"] != "FAIL" || items["restart-policy"] != "WARN" || items["published-ports"] != "WARN" {
		t.Errorf("stock: exit %d %v\n%s", code, items, text)
	}
	if !strings.Contains(text, "fix: dlr enable") {
		t.Errorf("no fix shown:\n%s", text)
	}
	if items["log-buffers"] != "PASS" {
		t.Errorf("log-buffers with no FIFO: %s", items["log-buffers"])
	}
	e.run("enable")
	code, items, text = checkItems(t, e)
	if code != 0 || items["live-restore"] != "PASS" || items["killmode-docker.service"] != "PASS" || items["drift"] != "PASS" || items["version"] != "PASS" {
		t.Errorf("enabled: exit %d %v\n%s", code, items, text)
	}
}

func TestCheckFailures(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, "{\"live-restore\": true, \"hosts\": [\"unix:///run/docker.sock\"], \"bip\": \"10.9.0.1/24\"}\n")
	e.d.liveRestore = true
	e.d.running = 1
	e.d.svc.KillMode = "control-group"
	e.d.svc.BoundBy = []string{"app.service"}
	e.h.DockerdVersion = func(context.Context, string) (string, error) { return "27.0.1", nil }
	code, items, text := checkItems(t, e)
	for id, want := range map[string]string{"flag-conflicts": "FAIL", "killmode-docker.service": "FAIL", "dependents": "WARN", "drift": "FAIL", "version": "WARN"} {
		if items[id] != want {
			t.Errorf("%s = %s, want %s", id, items[id], want)
		}
	}
	if code != exitRefused || !strings.Contains(text, "bip is 10.9.0.1/24 in the file but the bridge network runs with gateway 172.17.0.1") {
		t.Errorf("exit %d\n%s", code, text)
	}
	if !strings.Contains(text, "dockerd 26.1.5 -> 27.0.1: not proven") || !strings.Contains(text, "fix: run `dlr drill`") {
		t.Errorf("an unmeasured skew is not a certainty:\n%s", text)
	}
}

// TestCheckVersionSkew: the running-vs-installed verdict comes from the
// evidence table (issue 12 item 3), never from a rule of thumb.
func TestCheckVersionSkew(t *testing.T) {
	for _, tc := range []struct{ installed, want, says string }{
		{"26.1.5", "PASS", "reinstall/restart-docker"},
		{"27.0.1", "WARN", "not proven"},
		{"28.5.2", "PASS", "trixie-forky/restart-docker: 6/6 containers kept their PIDs"},
		{"24.0.3", "FAIL", "moby/moby#45903"},
		{"27.5.1", "WARN", "not proven"},
	} {
		e := newTestEnv(t)
		e.write(daemonJSON, "{\"live-restore\": true}\n")
		e.d.liveRestore = true
		e.h.DockerdVersion = func(context.Context, string) (string, error) { return tc.installed, nil }
		_, items, text := checkItems(t, e)
		if items["version"] != tc.want || !strings.Contains(text, tc.says) {
			t.Errorf("installed %s: version = %s, want %s saying %q\n%s", tc.installed, items["version"], tc.want, tc.says, text)
		}
	}
}

func TestEnableRefusesPendingDrift(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, "{\"debug\": false}\n")
	e.run("snapshot") // dockerd started with this
	e.write(daemonJSON, "{\"debug\": false, \"data-root\": \"/srv/new\"}\n")
	code, _, errOut := e.run("enable")
	if code != exitRefused || !strings.Contains(errOut, "data-root: (absent) -> \"/srv/new\"") {
		t.Errorf("exit %d %s", code, errOut)
	}
	if strings.Contains(e.read(daemonJSON), "live-restore") {
		t.Error("written despite the refusal")
	}
	code, _, errOut = e.run("enable", "--force")
	if code != 0 || !strings.Contains(errOut, "--force") || !strings.Contains(e.read(daemonJSON), "live-restore") {
		t.Errorf("--force: exit %d %s", code, errOut)
	}
}

func TestCheckWatcher(t *testing.T) {
	for _, tt := range []struct {
		unit *unit.Unit
		want string
	}{
		{nil, "SKIP"},
		{&unit.Unit{Name: host.WatcherService, LoadState: "loaded", ActiveState: "active", UnitFileState: "enabled"}, "PASS"},
		{&unit.Unit{Name: host.WatcherService, LoadState: "loaded", ActiveState: "failed", UnitFileState: "enabled"}, "WARN"},
		{&unit.Unit{Name: host.WatcherService, LoadState: "loaded", ActiveState: "inactive", UnitFileState: "disabled"}, "WARN"},
	} {
		e := newTestEnv(t)
		e.write(daemonJSON, orig)
		e.d.units = map[string]unit.Unit{}
		if tt.unit != nil {
			e.d.units[host.WatcherService] = *tt.unit
		}
		_, items, text := checkItems(t, e)
		if items["watcher"] != tt.want {
			t.Errorf("watcher %+v: %s, want %s\n%s", tt.unit, items["watcher"], tt.want, text)
		}
	}
}

// TestCheckContainerdSkew: a containerd replaced under the running one is
// judged from the same evidence.
func TestCheckContainerdSkew(t *testing.T) {
	for _, tc := range []struct{ running, installed, want, says string }{
		{"1.7.24~ds1", "1.7.24~ds1", "PASS", "containerd 1.7.24~ds1 runs, the installed one"},
		{"1.7.24~ds1", "2.1.9+unknown", "PASS", "running 1.7.24~ds1, installed 2.1.9+unknown: containerd 1.7.24 -> 2.1.9: restored in dlr's upgrade matrix"},
		{"1.6.20~ds1", "2.1.9+unknown", "WARN", "not proven"},
	} {
		e := newTestEnv(t)
		e.write(daemonJSON, "{\"live-restore\": true}\n")
		e.d.liveRestore = true
		e.h.ContainerdVersions = func(context.Context, string, int) (string, string, error) { return tc.running, tc.installed, nil }
		_, items, text := checkItems(t, e)
		if items["containerd-version"] != tc.want || !strings.Contains(text, tc.says) {
			t.Errorf("%s -> %s: %s, want %s saying %q\n%s", tc.running, tc.installed, items["containerd-version"], tc.want, tc.says, text)
		}
	}
}

// TestStatusVersionSkew: status shows the restart the installed dockerd
// waits for, with check's verdict, and warns when it is not proven.
func TestStatusVersionSkew(t *testing.T) {
	for _, tc := range []struct{ installed, says string }{
		{"28.5.2", "installed:         dockerd 28.5.2; next restart: PASS: dockerd 26.1.5 -> 28.5.2: restored in dlr's upgrade matrix"},
		{"24.0.3", "next restart: FAIL"},
		{"27.0.1", "warning: the next docker restart, onto the installed dockerd 27.0.1: dockerd 26.1.5 -> 27.0.1: not proven"},
	} {
		e := newTestEnv(t)
		e.write(daemonJSON, "{\"live-restore\": true}\n")
		e.d.liveRestore = true
		e.h.DockerdVersion = func(context.Context, string) (string, error) { return tc.installed, nil }
		_, out, errOut := e.run("status")
		if !strings.Contains(out+errOut, tc.says) {
			t.Errorf("installed %s: want %q in\n%s%s", tc.installed, tc.says, out, errOut)
		}
	}
	e := newTestEnv(t)
	e.write(daemonJSON, "{\"live-restore\": true}\n")
	e.d.liveRestore = true
	_, out, _ := e.run("status")
	if strings.Contains(out, "installed:") {
		t.Errorf("same version: no installed row wanted\n%s", out)
	}
}

// TestCheckRestartPath: a bond of docker.service to containerd, needrestart
// restarting containerd and docker, and Ubuntu's docker.io/restart, each
// flagged with its fix, then passing once fixed.
func TestCheckRestartPath(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig) // live restore off
	e.d.svc.FragmentPath = "/lib/systemd/system/docker.service"
	e.d.svc.DropInPaths = []string{"/etc/systemd/system/docker.service.d/bind.conf"}
	e.d.svc.BindsTo = []string{"containerd.service"}
	e.write("lib/systemd/system/docker.service", "[Unit]\nWants=containerd.service\nAfter=containerd.service\n")
	e.write("etc/systemd/system/docker.service.d/bind.conf", "[Unit]\nBindsTo=containerd.service\n")
	e.write("usr/sbin/needrestart", "#!/usr/bin/perl\n")
	// needrestart's own loop over conf.d (Debian's needrestart.conf ends
	// with it), pointed at the test's root; perl evaluates it.
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("perl is not installed: dlr check evaluates needrestart's configuration with perl")
	}
	confd := filepath.Join(e.dir, "etc/needrestart/conf.d")
	e.write("etc/needrestart/needrestart.conf", "$nrconf{restart} = 'a';\nforeach my $fn (sort <"+confd+"/*.conf>) {\n\teval do { local(@ARGV, $/) = $fn; <>}; die \"Error parsing $fn: $@\" if($@);\n}\n")
	e.write("var/cache/debconf/config.dat", "Name: docker.io/restart\nTemplate: docker.io/restart\nValue: true\nOwners: docker.io\n\n")
	code, items, text := checkItems(t, e)
	for id, want := range map[string]string{"containerd-bond": "FAIL", "needrestart": "FAIL", "debconf-restart": "FAIL"} {
		if items[id] != want {
			t.Errorf("%s = %s, want %s", id, items[id], want)
		}
	}
	for _, fix := range []string{
		"fix: replace `BindsTo=containerd.service` with `Wants=containerd.service` in /etc/systemd/system/docker.service.d/bind.conf, then systemctl daemon-reload",
		`fix: printf '%s\n' '$nrconf{override_rc}{qr(^containerd)} = 0;' '$nrconf{override_rc}{qr(^docker)} = 0;' > /etc/needrestart/conf.d/docker-liverestore.conf`,
		"fix: echo 'docker.io docker.io/restart boolean false' | debconf-set-selections",
	} {
		if !strings.Contains(text, fix) {
			t.Errorf("no %q in\n%s", fix, text)
		}
	}
	if code != exitRefused {
		t.Errorf("exit %d", code)
	}

	// Live restore on: needrestart's docker restart and docker.io/restart
	// become WARNs.
	e.run("enable")
	_, items, text = checkItems(t, e)
	if items["needrestart"] != "WARN" || items["debconf-restart"] != "WARN" || items["containerd-bond"] != "FAIL" {
		t.Errorf("enabled: %v\n%s", items, text)
	}

	// Fixed.
	e.d.svc.BindsTo = nil
	e.write("etc/systemd/system/docker.service.d/bind.conf", "[Unit]\nWants=containerd.service\n")
	e.write("etc/needrestart/conf.d/docker-liverestore.conf", "$nrconf{override_rc}{qr(^containerd)} = 0;\n$nrconf{override_rc}{qr(^docker)} = 0;\n")
	e.write("var/cache/debconf/config.dat", "Name: docker.io/restart\nTemplate: docker.io/restart\nValue: false\nOwners: docker.io\n\n")
	code, items, text = checkItems(t, e)
	for _, id := range []string{"containerd-bond", "needrestart", "debconf-restart"} {
		if items[id] != "PASS" {
			t.Errorf("fixed: %s = %s\n%s", id, items[id], text)
		}
	}
	if code != 0 {
		t.Errorf("fixed: exit %d\n%s", code, text)
	}
}
