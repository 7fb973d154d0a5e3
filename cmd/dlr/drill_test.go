package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/ops"
	"github.com/docker-liverestore/dlr/unit"
)

// drillFake adds Start and Stop to the fake systemd: stopping docker.service
// makes the fake dockerd unreachable, starting it makes it answer again.
type drillFake struct {
	*fakeDaemon
	mu         sync.Mutex
	calls      []string
	infoAtStop int // the fake's Info calls when docker.service was stopped
	duringStop int // Info calls made while it was stopped
	stopErr    error
	startFails int // starts that fail, as with systemd's start limit
	resets     int
}

func (f *drillFake) Stop(ctx context.Context, name string) error {
	f.mu.Lock()
	f.calls = append(f.calls, "stop "+name)
	f.mu.Unlock()
	if f.stopErr != nil {
		return f.stopErr
	}
	if name == host.DockerService {
		f.fakeDaemon.mu.Lock()
		f.svc.ActiveState = "inactive"
		f.infoErr = errors.New("dockerd is stopped")
		f.infoAtStop = f.infoCalls
		f.fakeDaemon.mu.Unlock()
	}
	return nil
}

func (f *drillFake) Start(ctx context.Context, name string) error {
	if ctx.Err() != nil {
		return ctx.Err() // the restart must not use a cancelled context
	}
	f.mu.Lock()
	f.calls = append(f.calls, "start "+name)
	fail := f.startFails > 0 && name == host.DockerService
	if fail {
		f.startFails--
	}
	f.mu.Unlock()
	if fail {
		return errors.New(`job finished with result "failed"`)
	}
	if name == host.DockerService {
		f.fakeDaemon.mu.Lock()
		if f.infoErr != nil {
			f.duringStop = f.infoCalls - f.infoAtStop
		}
		f.svc.ActiveState = "active"
		f.infoErr = nil
		f.fakeDaemon.mu.Unlock()
	}
	return nil
}

type drillEnv struct {
	*testEnv
	f      *drillFake
	before []host.Container
	after  []host.Container
	// onWait runs at the start of the outage.
	onWait func()
}

func newDrillEnv(t *testing.T) *drillEnv {
	e := newTestEnv(t)
	d := &drillEnv{testEnv: e, f: &drillFake{fakeDaemon: e.d}}
	e.d.liveRestore = true
	e.d.units = map[string]unit.Unit{"docker.socket": {Name: "docker.socket", LoadState: "loaded", ActiveState: "active"}}
	e.h.DialSystemd = func(context.Context) (host.Systemd, error) { return d.f, nil }
	d.before = []host.Container{{ID: "aaaa", Name: "web", PID: 101}, {ID: "bbbb", Name: "db", PID: 102}}
	d.after = d.before
	stopped := false
	e.h.Containers = func(ctx context.Context, socket string) ([]host.Container, error) {
		if e.d.svc.ActiveState != "active" {
			t.Error("containers listed while docker.service is stopped")
		}
		if !stopped {
			return d.before, nil
		}
		return d.after, nil
	}
	e.h.Wait = func(ctx context.Context, dur time.Duration, tick func(time.Duration)) error {
		stopped = true
		tick(dur / 2)
		if d.onWait != nil {
			d.onWait()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
			return nil
		}
	}
	e.h.Stdin = strings.NewReader("")
	e.h.T.Start = time.Second
	e.h.ResetFailed = func(ctx context.Context, units ...string) error {
		d.f.resets++
		return nil
	}
	return d
}

// drill runs `dlr drill --json args...` on the fake host and returns the
// exit code, the JSON report and what went to stderr (the question, and
// the error's message).
func (d *drillEnv) drill(ctx context.Context, args ...string) (int, *ops.Report, string) {
	d.t.Helper()
	var stdout, stderr bytes.Buffer
	d.h.Prompt = &stderr
	args = append([]string{"drill", "--json"}, args...)
	code := run(ctx, args, &stdout, &stderr, d.h)
	r := &ops.Report{}
	if err := json.Unmarshal(stdout.Bytes(), r); err != nil {
		d.t.Fatalf("exit %d, not JSON: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	if r.Error != nil {
		stderr.WriteString(r.Error.Message)
	}
	return code, r, stderr.String()
}

func TestDrillSurvivors(t *testing.T) {
	d := newDrillEnv(t)
	code, r, stderr := d.drill(context.Background(), "--yes", "--seconds", "3")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := []string{"stop docker.socket", "stop docker.service", "start docker.socket", "start docker.service"}
	if strings.Join(d.f.calls, ",") != strings.Join(want, ",") {
		t.Errorf("systemd calls %v, want %v", d.f.calls, want)
	}
	if d.f.duringStop != 0 {
		t.Errorf("%d Engine API calls while docker was stopped: they would start it through docker.socket", d.f.duringStop)
	}
	if r.Drill == nil || r.Drill.Survived != 2 || len(r.Drill.Containers) != 2 || r.Drill.Interrupted || r.Drill.Seconds != 3 {
		t.Fatalf("drill report %+v", r.Drill)
	}
	var out bytes.Buffer
	writeText(&out, &out, r)
	for _, s := range []string{"SURVIVED  web  PID 101 -> 101  same PID", "2 of 2 containers kept running", "daemon downtime:"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, out.String())
		}
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("colour codes off a terminal:\n%q", out.String())
	}
	b, _ := json.Marshal(r)
	if !strings.Contains(string(b), `"drill":{"seconds":3,"interrupted":false`) {
		t.Errorf("json: %s", b)
	}
}

func TestDrillLost(t *testing.T) {
	d := newDrillEnv(t)
	d.after = []host.Container{{ID: "aaaa", Name: "web", PID: 555}}
	code, r, stderr := d.drill(context.Background(), "--yes")
	if code != exitFailed || !strings.Contains(stderr, "2 of 2 containers did not keep running") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := []string{r.Drill.Containers[0].Outcome, r.Drill.Containers[1].Outcome}
	if !strings.HasPrefix(got[0], "restarted") || got[1] != "not running" {
		t.Errorf("outcomes %q", got)
	}
	if d.f.svc.ActiveState != "active" {
		t.Error("docker left stopped")
	}
}

func TestDrillInterrupt(t *testing.T) {
	d := newDrillEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.onWait = cancel // SIGTERM during the outage
	code, r, stderr := d.drill(ctx, "--yes", "--seconds", "600")
	if code != exitFailed || !strings.Contains(stderr, "interrupted: docker.service was started again at once") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !r.Drill.Interrupted || r.Drill.Survived != 2 {
		t.Errorf("report %+v", r.Drill)
	}
	if last := d.f.calls[len(d.f.calls)-1]; last != "start docker.service" || d.f.svc.ActiveState != "active" {
		t.Errorf("docker not started again: %v", d.f.calls)
	}
}

func TestDrillStopFails(t *testing.T) {
	d := newDrillEnv(t)
	d.f.stopErr = errors.New("job failed")
	code, _, stderr := d.drill(context.Background(), "--yes")
	if code != exitFailed || !strings.Contains(stderr, "it was started again") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if last := d.f.calls[len(d.f.calls)-1]; last != "start docker.service" {
		t.Errorf("calls %v", d.f.calls)
	}
}

func TestDrillRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(d *drillEnv)
		args  []string
		code  int
		want  string
	}{
		{"live restore off", func(d *drillEnv) { d.d.liveRestore = false }, []string{"--yes"}, exitRefused, "live restore is not active in the running dockerd"},
		{"killmode", func(d *drillEnv) { d.d.svc.KillMode = "control-group" }, []string{"--yes"}, exitRefused, "KillMode=control-group: stopping it kills every container"},
		{"not active", func(d *drillEnv) { d.d.svc.ActiveState = "inactive" }, []string{"--yes"}, exitRefused, "is inactive, not active"},
		{"not root", func(d *drillEnv) { d.h.Euid = func() int { return 1000 } }, []string{"--yes"}, exitRefused, "run it as root"},
		{"no tty, no --yes", nil, nil, exitRefused, "stdin is not a terminal, so give --yes"},
		{"tty, answered no", func(d *drillEnv) { d.h.Terminal, d.h.Stdin = true, strings.NewReader("n\n") }, nil, exitRefused, "not confirmed; nothing was stopped"},
		{"bad seconds", nil, []string{"--seconds", "0"}, exitUsage, "--seconds 0: want 1 to 600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDrillEnv(t)
			if tc.setup != nil {
				tc.setup(d)
			}
			code, _, stderr := d.drill(context.Background(), tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want %d with %q: %s", code, tc.code, tc.want, stderr)
			}
			if len(d.f.calls) != 0 {
				t.Errorf("systemd jobs after a refusal: %v", d.f.calls)
			}
		})
	}
}

func TestDrillConfirmed(t *testing.T) {
	d := newDrillEnv(t)
	d.h.Terminal, d.h.Stdin = true, strings.NewReader("y\n")
	code, _, stderr := d.drill(context.Background())
	if code != exitOK || !strings.Contains(stderr, "Continue? [y/N]") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestDrillFlagsInRun(t *testing.T) {
	e := newTestEnv(t)
	code, _, stderr := e.run("drill", "--seconds", "x")
	if code != exitUsage || !strings.Contains(stderr, "--seconds") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestDrillStartLimit(t *testing.T) {
	d := newDrillEnv(t)
	d.f.startFails = 1
	code, r, stderr := d.drill(context.Background(), "--yes")
	if code != exitOK || d.f.resets != 1 || d.f.svc.ActiveState != "active" {
		t.Fatalf("exit %d, %d resets: %s", code, d.f.resets, stderr)
	}
	if len(r.Notes) == 0 || !strings.Contains(r.Notes[len(r.Notes)-1], "reset-failed") {
		t.Errorf("notes %q", r.Notes)
	}
	d = newDrillEnv(t)
	d.f.startFails = 2
	code, _, stderr = d.drill(context.Background(), "--yes")
	if code != exitFailed || !strings.Contains(stderr, "starting docker.service again") || !strings.Contains(stderr, "systemctl start docker.socket docker.service") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestDrillWithoutSocketUnit(t *testing.T) {
	d := newDrillEnv(t)
	d.d.units = nil // docker.socket: not-found
	code, r, stderr := d.drill(context.Background(), "--yes")
	if code != exitOK || strings.Join(d.f.calls, ",") != "stop docker.service,start docker.service" {
		t.Fatalf("exit %d, calls %v: %s", code, d.f.calls, stderr)
	}
	if r.Actions[0] != "stopped docker.service" {
		t.Errorf("actions %q", r.Actions)
	}
}

func TestDrillInterruptAtTheQuestion(t *testing.T) {
	d := newDrillEnv(t)
	r, w := io.Pipe() // no answer ever comes
	defer w.Close()
	d.h.Terminal, d.h.Stdin = true, r
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	code, _, stderr := d.drill(ctx)
	if code != exitRefused || !strings.Contains(stderr, "interrupted at the question") || len(d.f.calls) != 0 {
		t.Fatalf("exit %d, calls %v: %s", code, d.f.calls, stderr)
	}
}

// TestDrillRefusesHazards: on Docker 20.10.24 a running --rm container
// would be removed by the drill's own restore (moby/moby#46308): the drill
// refuses before stopping anything (exit 3, naming it and the bug), unless
// --force; a health-checked one is only warned about.
func TestDrillRefusesHazards(t *testing.T) {
	d := newDrillEnv(t)
	d.d.version = "20.10.24+dfsg1"
	d.before = []host.Container{{ID: "aaaa", Name: "rmme", PID: 101, Props: guard.Props{AutoRemove: true}},
		{ID: "bbbb", Name: "hc", PID: 102, Props: guard.Props{Health: true, RestartPolicy: "unless-stopped"}}}
	d.after = d.before[1:]
	code, _, stderr := d.drill(context.Background(), "--yes")
	if code != exitRefused {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range []string{"rmme", "moby/moby#46308", "started with --rm", "nothing was stopped", "--force"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("refusal lacks %q: %s", s, stderr)
		}
	}
	if strings.Contains(stderr, "hc (") {
		t.Errorf("the degraded one refuses the drill: %s", stderr)
	}
	if len(d.f.calls) != 0 {
		t.Errorf("systemd calls before the refusal: %v", d.f.calls)
	}

	code, r, stderr := d.drill(context.Background(), "--yes", "--force")
	if code != exitFailed {
		t.Fatalf("--force: exit %d: %s", code, stderr)
	}
	w := strings.Join(r.Warnings, "\n")
	if !strings.Contains(w, "--force: the drill goes on") || !strings.Contains(w, "hc: ") || !strings.Contains(w, "moby/moby#41871") {
		t.Errorf("warnings: %s", w)
	}
	if r.Restore == nil || r.Restore.Results[0].Hazard != "autoremove" {
		t.Fatalf("restore record: %+v", r.Restore)
	}
	if !strings.Contains(stderr, "lost: rmme (predicted: moby/moby#46308") {
		t.Errorf("the failure does not name the lost container: %s", stderr)
	}
}
