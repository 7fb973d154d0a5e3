package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/ops"
)

func TestSetReloadableKeyIsReloadedAndVerified(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.running = 2
	code, out, errOut := e.run("set", `registry-mirrors=["https://mirror.example"]`)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	want := "{\n    \"log-driver\": \"journald\",\n    \"data-root\": \"/srv/docker\",\n    \"registry-mirrors\": [\"https://mirror.example\"]\n}\n"
	if got := e.read(daemonJSON); got != want {
		t.Errorf("daemon.json:\n%s\nwant\n%s", got, want)
	}
	if e.d.reloads != 1 || !strings.Contains(out, "verified: dockerd reports registry-mirrors applied") {
		t.Errorf("reloads %d\n%s", e.d.reloads, out)
	}
	// unset puts the bytes back.
	if code, out, errOut := e.run("unset", "registry-mirrors"); code != 0 || e.read(daemonJSON) != orig {
		t.Errorf("unset: exit %d %q\n%s%s", code, e.read(daemonJSON), out, errOut)
	}
}

func TestSetRestartKeyIsWrittenNotRestarted(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	code, out, _ := e.run("set", "log-level=warn")
	if code != 0 || !strings.Contains(out, "restart docker to apply: log-level") || e.d.reloads != 0 {
		t.Errorf("exit %d reloads %d\n%s", code, e.d.reloads, out)
	}
	if !strings.Contains(e.read(daemonJSON), `"log-level": "warn"`) {
		t.Errorf("not written: %s", e.read(daemonJSON))
	}
}

func TestSetRestoreBreakingRefusedWhileContainersRun(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.running = 3
	code, out, errOut := e.run("set", "bip=10.99.0.1/24")
	if code != exitRefused || !strings.Contains(out, "bip: (absent) -> \"10.99.0.1/24\"") || !strings.Contains(out, "while 3 containers run") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	if e.read(daemonJSON) != orig {
		t.Error("refused set changed the file")
	}
	code, out, errOut = e.run("set", "--force", "bip=10.99.0.1/24")
	if code != 0 || !strings.Contains(e.read(daemonJSON), `"bip": "10.99.0.1/24"`) || !strings.Contains(errOut, "--force") {
		t.Errorf("--force: exit %d\n%s%s", code, out, errOut)
	}
	// With no container running the change is fine.
	e2 := newTestEnv(t)
	e2.write(daemonJSON, orig)
	if code, out, _ := e2.run("set", "bip=10.99.0.1/24"); code != 0 {
		t.Errorf("no containers: exit %d\n%s", code, out)
	}
}

func TestSetRefusesWhatDockerdWouldRefuse(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	if code, out, _ := e.run("set", "--force", "no-such-option=1"); code != exitRefused || !strings.Contains(out, "not a key this dockerd knows") {
		t.Errorf("unknown key: exit %d\n%s", code, out)
	}
	// -H fd:// in ExecStart and "hosts" in the file: the classic conflict.
	if code, out, _ := e.run("set", "--force", `hosts=["unix:///run/docker.sock"]`); code != exitRefused || !strings.Contains(out, "also given as a dockerd flag") {
		t.Errorf("flag conflict: exit %d\n%s", code, out)
	}
	// Where dockerd has --validate, its word counts.
	e.d.validate = func([]byte) (string, bool, error) {
		return "unable to configure the Docker daemon with file x: bad", true, errors.New("exit status 1")
	}
	if code, out, _ := e.run("set", "debug=true"); code != exitRefused || !strings.Contains(out, "dockerd --validate refuses it") {
		t.Errorf("dockerd --validate: exit %d\n%s", code, out)
	}
	if e.read(daemonJSON) != orig {
		t.Error("changed")
	}
}

func TestSetRollsBackWhenReloadIsRejected(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.rejectAll = true
	code, _, errOut := e.run("set", "debug=true")
	if code != exitFailed || !strings.Contains(errOut, "did not report debug applied") || e.read(daemonJSON) != orig {
		t.Errorf("exit %d %s", code, errOut)
	}
}

func TestValidate(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.running = 1
	cand := filepath.Join(e.dir, "candidate.json")
	run := func(content string, args ...string) (int, string) {
		os.WriteFile(cand, []byte(content), 0o644)
		code, out, _ := e.run(append(append([]string{"validate"}, args...), cand)...)
		return code, out
	}
	if code, out := run(`{"log-driver": "journald", "data-root": "/srv/docker", "registry-mirrors": ["https://m"]}`); code != 0 || !strings.Contains(out, "safe to install") {
		t.Errorf("mirrors: exit %d\n%s", code, out)
	}
	if code, out := run(`{"log-driver": "journald", "data-root": "/srv/docker", "bip": "10.9.0.1/24"}`); code != exitRefused || !strings.Contains(out, "UNSAFE   bip") {
		t.Errorf("bip: exit %d\n%s", code, out)
	}
	if code, out := run(`{"log-driver": "journald" // x
}`); code != exitRefused || !strings.Contains(out, "line 1, column 27: comment") {
		t.Errorf("comment: exit %d\n%s", code, out)
	}
	// dlr manages live-restore: a template that drops it is unsafe.
	e.run("enable")
	if code, out := run(`{"log-driver": "journald", "data-root": "/srv/docker"}`); code != exitRefused || !strings.Contains(out, "drops \"live-restore\": true") {
		t.Errorf("drops live-restore: exit %d\n%s", code, out)
	}
	// dockerd down: whether containers run cannot be told.
	e.d.svc.ActiveState = "inactive"
	if code, out := run(`{"log-driver": "journald", "data-root": "/srv/docker", "live-restore": true, "bip": "10.9.0.1/24"}`); code != exitFailed || !strings.Contains(out, "UNKNOWN") {
		t.Errorf("unknown: exit %d\n%s", code, out)
	}
	if code, _ := run(`{"log-driver": "journald", "data-root": "/srv/docker", "live-restore": true, "bip": "10.9.0.1/24"}`, "--if-unknown=pass"); code != 0 {
		t.Errorf("--if-unknown=pass: exit %d", code)
	}
	code, out, _ := e.run("validate", "--json", cand)
	var r ops.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Validate == nil || len(r.Validate.Unknown) != 1 || code != exitFailed {
		t.Errorf("--json: %v %+v", err, r.Validate)
	}
}

func TestSnapshotIsTheBaseline(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, "{\"bip\": \"10.1.0.1/24\"}\n")
	if code, out, errOut := e.run("snapshot"); code != 0 {
		t.Fatalf("snapshot: exit %d %s%s", code, out, errOut)
	}
	// Someone edits bip by hand; the daemon still runs with the old one.
	e.write(daemonJSON, "{\"bip\": \"10.2.0.1/24\"}\n")
	e.d.running = 1
	cand := filepath.Join(e.dir, "c.json")
	os.WriteFile(cand, []byte("{\"bip\": \"10.2.0.1/24\"}\n"), 0o644)
	code, out, _ := e.run("validate", cand)
	if code != exitRefused || !strings.Contains(out, "the file dockerd started with") {
		t.Errorf("exit %d\n%s", code, out)
	}
	_ = context.Background
}

// hookDaemon calls onReload before each reload the fake systemd runs.
type hookDaemon struct {
	*fakeDaemon
	onReload func(n int)
	n        int
}

func (h *hookDaemon) Reload(ctx context.Context, name string) error {
	h.n++
	h.onReload(h.n)
	return h.fakeDaemon.Reload(ctx, name)
}

// Issue 14, item 3: a set whose reload dockerd rejects is rolled back
// through an interim "live-restore": false. A kill during that rollback
// must not leave the interim for good: the rollback is marked in dlr's
// state before it writes anything, and the next run finishes it.
func TestSetRollbackKilledIsFinishedByTheNextRun(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.rejectAll = true
	var fileAt, stateAt string
	h := &hookDaemon{fakeDaemon: e.d, onReload: func(n int) {
		if n == 2 { // the rollback's reload: what a kill now would leave
			fileAt, stateAt = e.read(daemonJSON), e.read("var/lib/docker-liverestore/state.json")
		}
	}}
	e.h.DialSystemd = func(context.Context) (host.Systemd, error) { return h, nil }
	if code, _, errOut := e.run("set", "debug=true"); code != exitFailed {
		t.Fatalf("set: exit %d %s", code, errOut)
	}
	if !strings.Contains(fileAt, `"live-restore": false`) || !strings.Contains(stateAt, `"step": "rollback"`) {
		t.Fatalf("during the rollback: daemon.json %q, state %s", fileAt, stateAt)
	}
	// The kill: daemon.json and the state as they were at that moment.
	e.write(daemonJSON, fileAt)
	e.write("var/lib/docker-liverestore/state.json", stateAt)
	e.d.rejectAll = false
	code, out, errOut := e.run("set", "max-concurrent-downloads=4")
	if code != 0 || !strings.Contains(errOut, "was killed while it put") {
		t.Fatalf("next set: exit %d\n%s%s", code, out, errOut)
	}
	want := "{\n    \"log-driver\": \"journald\",\n    \"data-root\": \"/srv/docker\",\n    \"max-concurrent-downloads\": 4\n}\n"
	if got := e.read(daemonJSON); got != want {
		t.Errorf("daemon.json:\n%s\nwant (no interim live-restore kept):\n%s", got, want)
	}
	if st := e.read("var/lib/docker-liverestore/state.json"); strings.Contains(st, "rollback") {
		t.Errorf("the rollback mark stayed: %s", st)
	}
}
