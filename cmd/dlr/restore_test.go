package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/ops"
	"github.com/docker-liverestore/dlr/restore"
)

// restoreFakes gives the drill env a frozen health check (probes again
// only after a pause+unpause), a real TCP listener for web's published
// port, the nat DOCKER chain's DNAT ports, and DNS.
type restoreFakes struct {
	mu      sync.Mutex
	rearmed bool
	calls   []string
	nat     map[int]bool
}

func withRestoreFakes(t *testing.T, d *drillEnv) *restoreFakes {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	f := &restoreFakes{nat: map[int]bool{port: true}}
	hc := &host.Health{Status: "healthy", Interval: 50 * time.Millisecond, Timeout: 50 * time.Millisecond, LastProbe: time.Now().Add(-time.Hour)}
	d.before = []host.Container{
		{ID: "aaaa", Name: "web", PID: 101, Ports: []host.Port{{HostIP: "127.0.0.1", HostPort: port, Proto: "tcp", Private: 80}}, Published: true},
		{ID: "bbbb", Name: "hc", PID: 102, Health: hc, Networks: []string{"appnet"}},
	}
	d.after = d.before
	h := d.h
	h.Inspect = func(ctx context.Context, socket, id string) (*host.Container, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range d.after {
			if c.ID == id {
				if c.Health != nil && f.rearmed {
					hh := *c.Health
					hh.LastProbe = time.Now()
					c.Health = &hh
				}
				return &c, nil
			}
		}
		return nil, nil
	}
	h.Pause = func(ctx context.Context, socket, id string, pause bool) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, map[bool]string{true: "pause ", false: "unpause "}[pause]+id)
		f.rearmed = f.rearmed || !pause
		return nil
	}
	h.NATPorts = func(context.Context) (map[int]bool, error) { return f.nat, nil }
	h.DNS = func(ctx context.Context, pid int, name string) (int, error) { return 0, nil }
	h.T.Port, h.T.DNS, h.T.Logs, h.T.Probe = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond, 100*time.Millisecond
	return f
}

// TestDrillRestoreCheck: the drill checks its own restore: on Docker 20.10
// the frozen health check is re-armed (pause, unpause) and the drill
// passes; status shows the restore, --json every check.
func TestDrillRestoreCheck(t *testing.T) {
	d := newDrillEnv(t)
	d.d.version = "20.10.24+dfsg1"
	f := withRestoreFakes(t, d)
	code, r, stderr := d.drill(context.Background(), "--yes", "--seconds", "1")
	if code != exitOK || r.Restore == nil {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rec := r.Restore
	if rec.Containers != 2 || rec.Kept != 2 || rec.Mended != 1 || rec.ProblemCount() != 0 || rec.Trigger != "drill" {
		t.Errorf("record %+v", rec)
	}
	if strings.Join(f.calls, ",") != "pause bbbb,unpause bbbb" {
		t.Errorf("engine calls %v", f.calls)
	}
	var out bytes.Buffer
	writeText(&out, &out, r)
	for _, s := range []string{"MENDED  hc: health-frozen: frozen at the restore (dockerd 20.10.24 freezes every health monitor, moby/moby#41871): re-armed with pause/unpause 0.0 s after the restore", "restore check: 2 containers, 2 kept, 1 mended, no problems"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("drill text lacks %q:\n%s", s, out.String())
		}
	}
	code, text, _ := d.run("status")
	if code != 0 || !strings.Contains(text, "last restore:") || !strings.Contains(text, "(drill): 2 containers, 2 kept, 1 mended, no problems") {
		t.Errorf("status: exit %d\n%s", code, text)
	}
	_, js, _ := d.run("status", "--json")
	var st ops.Report
	if err := json.Unmarshal([]byte(js), &st); err != nil || len(st.Status.Restores) != 1 || len(st.Status.Restores[0].Results[1].Items) != 3 {
		t.Errorf("status --json restores: %v\n%s", err, js)
	}
}

// TestDrillRestoreProblems: a flushed DNAT rule and --rearm-health=false
// fail the drill, one line per problem, and dlr check says how to fix the
// rule.
func TestDrillRestoreProblems(t *testing.T) {
	d := newDrillEnv(t)
	d.d.version = "20.10.24+dfsg1"
	f := withRestoreFakes(t, d)
	f.nat = map[int]bool{}
	code, r, stderr := d.drill(context.Background(), "--yes", "--seconds", "1", "--rearm-health=false")
	if code != exitFailed || !strings.Contains(stderr, "the restore check found problems: 2 containers, 2 kept, problems: 1 health-frozen, 1 firewall") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(f.calls) != 0 {
		t.Errorf("re-armed although turned off: %v", f.calls)
	}
	lines := ops.RestoreLines(*r.Restore)
	if len(lines) != 3 || !strings.Contains(lines[0], "web: problem firewall ") || !strings.Contains(lines[1], "hc: problem health-frozen: ") || !strings.Contains(lines[1], "re-arming is turned off") {
		t.Errorf("journal lines:\n%s", strings.Join(lines, "\n"))
	}
	d.d.containers = d.after
	code, out, _ := d.run("check")
	for _, s := range []string{"FAIL  firewall rules for every published port", "no DNAT rule for web", "fix: systemctl reset-failed docker.service; systemctl restart docker.service",
		"WARN  last restore kept containers whole", "problems: 1 firewall, 1 health-frozen"} {
		if !strings.Contains(out, s) {
			t.Errorf("check (exit %d) lacks %q:\n%s", code, s, out)
		}
	}
}

// promtool runs Debian's promtool check metrics on text, or skips the
// test saying why.
func promtool(t *testing.T, text string) (int, string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus): dlr metrics is not checked by a real parser here")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestMetrics: dlr metrics after a drill, accepted by promtool; its JSON
// has the same metrics.
func TestMetrics(t *testing.T) {
	d := newDrillEnv(t)
	d.d.version = "20.10.24+dfsg1"
	withRestoreFakes(t, d)
	if code, _, stderr := d.drill(context.Background(), "--yes", "--seconds", "1"); code != 0 {
		t.Fatalf("drill: %s", stderr)
	}
	code, out, errOut := d.run("metrics")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{"# TYPE dlr_live_restore_daemon gauge\ndlr_live_restore_daemon 1\n", "dlr_last_restore_containers 2\n",
		"dlr_last_restore_mended 1\n", `dlr_last_restore_problems{kind="health-frozen"} 0` + "\n", `dlr_check_findings{severity="fail"} `, "dlr_last_restore_timestamp_seconds 1"} {
		if !strings.Contains(out, s) {
			t.Errorf("metrics lack %q:\n%s", s, out)
		}
	}
	if code, msg := promtool(t, out); code != 0 {
		t.Errorf("promtool check metrics: exit %d: %s\n%s", code, msg, out)
	}
	_, js, _ := d.run("metrics", "--json")
	var r ops.Report
	if err := json.Unmarshal([]byte(js), &r); err != nil || len(r.Metrics) == 0 || r.Metrics[0].Name != "dlr_live_restore_configured" {
		t.Errorf("metrics --json: %v\n%s", err, js)
	}
}

// TestTextfileNeverHalfWritten: a reader of the textfile, as
// node_exporter's collector reads it, never sees a part of one while the
// watcher rewrites it.
func TestTextfileNeverHalfWritten(t *testing.T) {
	e := newTestEnv(t)
	dir := filepath.Join(e.dir, "textfile")
	os.MkdirAll(dir, 0o755)
	if err := ops.WriteTextfile(context.Background(), e.h, ops.Options{}, dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, host.MetricsFile)
	whole, _ := os.ReadFile(path)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			if err := ops.WriteTextfile(context.Background(), e.h, ops.Options{}, dir); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	reads := 0
	for {
		select {
		case <-done:
			if reads == 0 {
				t.Error("no read while writing")
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("files left in %s: %v", dir, entries)
			}
			return
		default:
		}
		b, err := os.ReadFile(path)
		if err != nil || len(b) != len(whole) || !bytes.HasSuffix(b, []byte("\n")) {
			t.Fatalf("read %d bytes (want %d), %v:\n%s", len(b), len(whole), err, b)
		}
		reads++
	}
}

// TestWatchChecksRestore: the watcher records the running containers; when
// dockerd comes back with another PID it checks the restore in the
// background, logs one line per problem and the summary, records it, and
// rewrites the textfile.
func TestWatchChecksRestore(t *testing.T) {
	e, _ := bufferEnv(t)
	e.write("proc/sys/kernel/random/boot_id", "b0\n")
	os.MkdirAll(e.h.Path(host.TextfileDir), 0o755)
	e.d.containers = []host.Container{{ID: "aaaa", Name: "web", PID: 101}, {ID: "bbbb", Name: "db", PID: 102}}
	f, log, stop := startWatch(t, e)
	store := restore.Store{Dir: e.h.Path(host.StateDir)}
	waitFor(t, "the view", func() bool { v, _ := store.LoadView(); return v != nil && len(v.Containers) == 2 })

	// dockerd restarts onto another release with PID 4343 (an upgrade);
	// db did not come back.
	e.write("proc/4343/stat", "4343 (dockerd) S 1 4343\n")
	e.write("proc/4343/cmdline", "/usr/sbin/dockerd\x00-H\x00fd://\x00")
	e.d.mu.Lock()
	e.d.version = "28.5.2"
	e.d.svc.MainPID = 4343
	e.d.containers = e.d.containers[:1]
	e.d.mu.Unlock()
	close(f.end)
	f.mu.Lock()
	f.end = make(chan struct{})
	f.mu.Unlock()
	var rec *restore.Record
	waitFor(t, "the restore record", func() bool { rec, _ = store.Last(); return rec != nil })
	if rec.Trigger != "watcher" || rec.DockerdPIDBefore != 4242 || rec.DockerdPIDAfter != 4343 || rec.Kept != 1 || rec.Problems[restore.Lost] != 1 ||
		rec.DaemonVersionBefore != "26.1.5" || rec.DaemonVersion != "28.5.2" {
		t.Errorf("record %+v", rec)
	}
	waitFor(t, "the textfile", func() bool {
		b, _ := os.ReadFile(filepath.Join(e.h.Path(host.TextfileDir), host.MetricsFile))
		return bytes.Contains(b, []byte(`dlr_last_restore_problems{kind="lost"} 1`))
	})
	stop()
	for _, s := range []string{"restore check: db: problem lost: not running after the restore", "restore check: dockerd PID 4242 -> 4343: dockerd 26.1.5 -> 28.5.2, 2 containers, 1 kept, problems: 1 lost"} {
		if !strings.Contains(log.String(), s) {
			t.Errorf("log lacks %q:\n%s", s, log)
		}
	}
}
