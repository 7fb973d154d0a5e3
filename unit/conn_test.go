//go:build linux

package unit

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	godbus "github.com/godbus/dbus/v5"
)

// testTimeout bounds every call that is expected to succeed.
const testTimeout = 10 * time.Second

// debianDocker is docker.service as Debian's docker.io 20.10 reports it.
func debianDocker() *fakeUnit {
	return &fakeUnit{
		id: "docker.service", loadState: "loaded", activeState: "active", subState: "running",
		fragmentPath: "/lib/systemd/system/docker.service",
		dropIns:      []string{"/etc/systemd/system/docker.service.d/override.conf"},
		mainPID:      4242,
		killMode:     "process",
		execStart: []fakeExec{{
			Path: "/usr/sbin/dockerd", Argv: []string{"/usr/sbin/dockerd", "-H", "fd://", "$DOCKER_OPTS"},
			StartUsec: 1700000000000000, StartMono: 12345678, PID: 4242,
		}},
		execReload:   []fakeExec{{Path: "/bin/kill", Argv: []string{"/bin/kill", "-s", "HUP", "$MAINPID"}}},
		envFiles:     []fakeEnvFile{{Path: "/etc/default/docker", IgnoreError: true}, {Path: "/etc/docker/env", IgnoreError: false}},
		environment:  []string{"HTTP_PROXY=http://proxy:3128", "NO_PROXY=localhost"},
		controlGroup: "/system.slice/docker.service",
		slice:        "system.slice",
		jobResult:    "done",
	}
}

// setup starts a bus, a fake systemd with units, and a Conn to them.
func setup(t *testing.T, units map[string]*fakeUnit) (*Conn, *fakeSystemd, *testBus) {
	t.Helper()
	bus := startBus(t, "")
	fake := startFakeSystemd(t, bus.addr, units)
	return dialTest(t, bus.addr), fake, bus
}

// dialTest connects to addr, closing the Conn when the test ends.
func dialTest(t *testing.T, addr string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := DialAddress(ctx, addr)
	if err != nil {
		t.Fatalf("DialAddress(%s): %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestUnit(t *testing.T) {
	units := map[string]*fakeUnit{
		"docker.service": debianDocker(),
		"docker.socket": {id: "docker.socket", loadState: "loaded", activeState: "active", subState: "listening",
			fragmentPath: "/lib/systemd/system/docker.socket"},
		// An alias reports its unit's primary name.
		"dockerd.service": {id: "docker.service", loadState: "loaded", activeState: "inactive", subState: "dead"},
		"masked.service":  {id: "masked.service", loadState: "masked", activeState: "inactive", subState: "dead", fragmentPath: "/dev/null"},
		"edited.service":  {id: "edited.service", loadState: "loaded", activeState: "inactive", subState: "dead", needDaemonReload: true},
		"bound.service": {id: "bound.service", loadState: "loaded", activeState: "inactive", subState: "dead",
			requires: []string{"docker.socket"}, bindsTo: []string{"containerd.service"}, partOf: []string{"a.service"}, requisite: []string{"b.service"}},
	}
	c, _, _ := setup(t, units)

	tests := []struct {
		name string
		want Unit
	}{
		{"docker.service", Unit{
			Name: "docker.service", LoadState: "loaded", ActiveState: "active", SubState: "running",
			MainPID: 4242, KillMode: "process",
			FragmentPath: "/lib/systemd/system/docker.service",
			DropInPaths:  []string{"/etc/systemd/system/docker.service.d/override.conf"},
			ExecStart:    [][]string{{"/usr/sbin/dockerd", "-H", "fd://", "$DOCKER_OPTS"}},
			ExecReload:   [][]string{{"/bin/kill", "-s", "HUP", "$MAINPID"}},
			EnvironmentFiles: []EnvFile{
				{Path: "/etc/default/docker", Optional: true},
				{Path: "/etc/docker/env", Optional: false},
			},
			Environment:  []string{"HTTP_PROXY=http://proxy:3128", "NO_PROXY=localhost"},
			Slice:        "system.slice",
			ControlGroup: "/system.slice/docker.service",
		}},
		{"docker.socket", Unit{
			Name: "docker.socket", LoadState: "loaded", ActiveState: "active", SubState: "listening",
			FragmentPath: "/lib/systemd/system/docker.socket",
		}},
		{"nosuch.service", Unit{
			Name: "nosuch.service", LoadState: "not-found", ActiveState: "inactive", SubState: "dead",
		}},
		{"dockerd.service", Unit{
			Name: "docker.service", LoadState: "loaded", ActiveState: "inactive", SubState: "dead",
		}},
		{"masked.service", Unit{
			Name: "masked.service", LoadState: "masked", ActiveState: "inactive", SubState: "dead",
			FragmentPath: "/dev/null",
		}},
		{"edited.service", Unit{
			Name: "edited.service", LoadState: "loaded", ActiveState: "inactive", SubState: "dead",
			NeedDaemonReload: true,
		}},
		{"bound.service", Unit{
			Name: "bound.service", LoadState: "loaded", ActiveState: "inactive", SubState: "dead",
			Requires: []string{"docker.socket"}, BindsTo: []string{"containerd.service"},
			PartOf: []string{"a.service"}, Requisite: []string{"b.service"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Unit(ctxTimeout(t, testTimeout), tt.name)
			if err != nil {
				t.Fatalf("Unit(%s): %v", tt.name, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Unit(%s)\n got %#v\nwant %#v", tt.name, got, tt.want)
			}
		})
	}
}

func TestUnitErrors(t *testing.T) {
	units := map[string]*fakeUnit{
		"denied.service": {id: "denied.service", loadState: "loaded",
			propsErr: &godbus.Error{Name: nameAccessDenied, Body: []any{"Access denied"}}},
	}
	c, _, _ := setup(t, units)
	tests := []struct {
		unit, wantKind, wantInMsg string
	}{
		{"docker", "ErrNoSuchUnit", "GetAll org.freedesktop.systemd1.Unit docker"},
		{"", "ErrNoSuchUnit", "empty unit name"},
		{"denied.service", "ErrAccessDenied", "run dlr as root"},
	}
	for _, tt := range tests {
		t.Run(tt.unit, func(t *testing.T) {
			_, err := c.Unit(ctxTimeout(t, testTimeout), tt.unit)
			if got := kindsOf(err); got != tt.wantKind || !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("Unit(%q) = %v (kinds %q), want kind %s and message containing %q", tt.unit, err, got, tt.wantKind, tt.wantInMsg)
			}
		})
	}
}

func TestJobs(t *testing.T) {
	unitWith := func(result string) *fakeUnit {
		u := debianDocker()
		u.jobResult = result
		return u
	}
	units := map[string]*fakeUnit{
		"docker.service":   unitWith("done"),
		"failed.service":   unitWith("failed"),
		"timeout.service":  unitWith("timeout"),
		"canceled.service": unitWith("canceled"),
		"invalid.service":  unitWith("invalid"),
		"notreload.service": {id: "notreload.service", loadState: "loaded", jobErr: &godbus.Error{
			Name: "org.freedesktop.systemd1.JobTypeNotApplicable", Body: []any{"Job type reload is not applicable for unit notreload.service."}}},
		"polkit.service": {id: "polkit.service", loadState: "loaded", jobErr: &godbus.Error{
			Name: nameInteractiveAuth, Body: []any{"Interactive authentication required."}}},
		"denied.service": {id: "denied.service", loadState: "loaded", jobErr: &godbus.Error{
			Name: nameAccessDenied, Body: []any{"Access denied"}}},
	}
	c, fake, _ := setup(t, units)
	type call func(*Conn, context.Context, string) error
	calls := []struct {
		method string
		fn     call
	}{
		{"ReloadUnit", (*Conn).Reload},
		{"StartUnit", (*Conn).Start},
		{"StopUnit", (*Conn).Stop},
	}
	tests := []struct {
		unit       string
		wantKind   string // "" for success
		wantResult string // for ErrJobFailed
		wantName   string // D-Bus error name kept in *Error
	}{
		{"docker.service", "", "", ""},
		{"failed.service", "ErrJobFailed", "failed", ""},
		{"timeout.service", "ErrJobFailed", "timeout", ""},
		{"canceled.service", "ErrJobFailed", "canceled", ""},
		{"invalid.service", "ErrJobFailed", "invalid", ""},
		{"nosuch.service", "ErrNoSuchUnit", "", nameNoSuchUnit},
		{"notreload.service", "", "", "org.freedesktop.systemd1.JobTypeNotApplicable"},
		{"polkit.service", "ErrAccessDenied", "", nameInteractiveAuth},
		{"denied.service", "ErrAccessDenied", "", nameAccessDenied},
	}
	for _, cl := range calls {
		for _, tt := range tests {
			t.Run(cl.method+"/"+tt.unit, func(t *testing.T) {
				err := cl.fn(c, ctxTimeout(t, testTimeout), tt.unit)
				if got := kindsOf(err); got != tt.wantKind {
					t.Fatalf("%s(%s) = %v (kinds %q), want kind %q", cl.method, tt.unit, err, got, tt.wantKind)
				}
				if tt.wantResult != "" {
					var je *JobError
					if !errors.As(err, &je) || je.Result != tt.wantResult || je.Unit != tt.unit || je.JobID == 0 {
						t.Fatalf("%s(%s) = %#v, want a *JobError with result %q", cl.method, tt.unit, err, tt.wantResult)
					}
					if !strings.Contains(err.Error(), cl.method+" "+tt.unit) || !strings.Contains(err.Error(), `"`+tt.wantResult+`"`) {
						t.Errorf("message %q should name the call and the result", err)
					}
				}
				if tt.wantName != "" {
					if err == nil {
						t.Fatalf("%s(%s) succeeded, want an error named %s", cl.method, tt.unit, tt.wantName)
					}
					var e *Error
					if !errors.As(err, &e) || e.Name != tt.wantName {
						t.Fatalf("%s(%s) = %#v, want an *Error named %s", cl.method, tt.unit, err, tt.wantName)
					}
				}
				if tt.wantKind == "" && tt.wantName == "" && err != nil {
					t.Fatalf("%s(%s) = %v", cl.method, tt.unit, err)
				}
				if log := fake.callLog(); !slices.Contains(log, cl.method+" "+tt.unit+" replace") {
					t.Errorf("systemd got %q, want a call %q", log, cl.method+" "+tt.unit+" replace")
				}
			})
		}
	}
}

// TestJobsConcurrent checks that each caller gets its own job's result.
func TestJobsConcurrent(t *testing.T) {
	units := map[string]*fakeUnit{}
	results := []string{"done", "failed", "timeout", "canceled", "dependency", "skipped"}
	for i, r := range results {
		u := debianDocker()
		u.jobResult = r
		units[results[i]+".service"] = u
	}
	c, _, _ := setup(t, units)
	var wg sync.WaitGroup
	for round := 0; round < 5; round++ {
		for _, r := range results {
			wg.Go(func() {
				err := c.Reload(ctxTimeout(t, testTimeout), r+".service")
				var je *JobError
				switch {
				case r == "done" && err != nil:
					t.Errorf("Reload(%s.service) = %v", r, err)
				case r != "done" && (!errors.As(err, &je) || je.Result != r):
					t.Errorf("Reload(%s.service) = %v, want result %q", r, err, r)
				}
			})
		}
	}
	wg.Wait()
}

func TestJobNeverFinishes(t *testing.T) {
	u := debianDocker()
	u.jobResult = "" // systemd never reports the job
	c, _, _ := setup(t, map[string]*fakeUnit{"docker.service": u})

	start := time.Now()
	err := c.Reload(ctxTimeout(t, 300*time.Millisecond), "docker.service")
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Reload returned after %v, long after its deadline", elapsed)
	}
	if kindsOf(err) != "ErrTimeout" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Reload = %v (kinds %q), want ErrTimeout and context.DeadlineExceeded", err, kindsOf(err))
	}
	for _, want := range []string{"ReloadUnit docker.service", "waiting for its result", "timed out"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not contain %q", err, want)
		}
	}
}

func TestCallTimeout(t *testing.T) {
	c, fake, _ := setup(t, map[string]*fakeUnit{"docker.service": debianDocker()})
	fake.setBlock(true) // systemd does not answer StopUnit

	err := c.Stop(ctxTimeout(t, 300*time.Millisecond), "docker.service")
	if kindsOf(err) != "ErrTimeout" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v (kinds %q), want ErrTimeout", err, kindsOf(err))
	}
	if !strings.Contains(err.Error(), "StopUnit docker.service: timed out") {
		t.Errorf("message %q does not name the call that timed out", err)
	}
	// The connection still works once systemd answers again.
	fake.setBlock(false)
	if err := c.Start(ctxTimeout(t, testTimeout), "docker.service"); err != nil {
		t.Fatalf("Start after a timeout: %v", err)
	}
	// An expired context fails before any call.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Reload(ctx, "docker.service"); !errors.Is(err, context.Canceled) || kindsOf(err) != "" {
		t.Errorf("Reload with a canceled context = %v (kinds %q)", err, kindsOf(err))
	}
}

// TestAccessDeniedByBusPolicy has the bus itself refuse the call, as a
// system bus refuses what its policy forbids.
func TestAccessDeniedByBusPolicy(t *testing.T) {
	bus := startBus(t, `<policy context="mandatory">
    <deny send_destination="org.freedesktop.systemd1" send_interface="org.freedesktop.systemd1.Manager" send_member="StopUnit"/>
  </policy>`)
	startFakeSystemd(t, bus.addr, map[string]*fakeUnit{"docker.service": debianDocker()})
	c := dialTest(t, bus.addr)

	err := c.Stop(ctxTimeout(t, testTimeout), "docker.service")
	var e *Error
	if kindsOf(err) != "ErrAccessDenied" || !errors.As(err, &e) || e.Name != nameAccessDenied {
		t.Fatalf("Stop = %#v (kinds %q), want ErrAccessDenied named %s", err, kindsOf(err), nameAccessDenied)
	}
	if !strings.Contains(err.Error(), "run dlr as root") {
		t.Errorf("message %q should say to run as root", err)
	}
	if err := c.Reload(ctxTimeout(t, testTimeout), "docker.service"); err != nil {
		t.Errorf("Reload (allowed): %v", err)
	}
}

func TestDaemonReload(t *testing.T) {
	c, fake, _ := setup(t, nil)
	if err := c.DaemonReload(ctxTimeout(t, testTimeout)); err != nil {
		t.Fatalf("DaemonReload: %v", err)
	}
	if log := fake.callLog(); !reflect.DeepEqual(log, []string{"Reload"}) {
		t.Errorf("systemd got %q, want [Reload]", log)
	}
	fake.mu.Lock()
	fake.reloadErr = &godbus.Error{Name: nameInteractiveAuth, Body: []any{"Interactive authentication required."}}
	fake.mu.Unlock()
	err := c.DaemonReload(ctxTimeout(t, testTimeout))
	if kindsOf(err) != "ErrAccessDenied" || !strings.Contains(err.Error(), "Reload (daemon-reload)") {
		t.Errorf("DaemonReload = %v (kinds %q), want ErrAccessDenied naming the call", err, kindsOf(err))
	}
}

func TestDialFailures(t *testing.T) {
	dir := t.TempDir()

	// A socket that accepts connections and never says a word.
	silent := filepath.Join(dir, "silent")
	ln, err := net.Listen("unix", silent)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var accepted []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range accepted {
			c.Close()
		}
	})

	// A bus without systemd on it.
	bare := startBus(t, "")

	tests := []struct {
		name, addr string
		timeout    time.Duration
		wantInMsg  []string
		wantIs     error
	}{
		{"no socket", "unix:path=" + filepath.Join(dir, "nothing"), testTimeout,
			[]string{"connect to the bus at unix:path=", "not reachable", "no such file or directory"}, nil},
		{"bad address", "nonsense", testTimeout, []string{"not reachable"}, nil},
		{"silent socket", "unix:path=" + silent, 300 * time.Millisecond,
			[]string{"no answer from the bus"}, context.DeadlineExceeded},
		{"bus without systemd", bare.addr, testTimeout,
			[]string{"systemd is not connected to this bus", nameNameHasNoOwner}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			c, err := DialAddress(ctxTimeout(t, tt.timeout), tt.addr)
			if err == nil {
				c.Close()
				t.Fatalf("DialAddress(%s) succeeded", tt.addr)
			}
			if elapsed := time.Since(start); elapsed > tt.timeout+5*time.Second {
				t.Errorf("DialAddress took %v", elapsed)
			}
			if kindsOf(err) != "ErrNoBus" {
				t.Errorf("DialAddress(%s) = %v (kinds %q), want ErrNoBus", tt.addr, err, kindsOf(err))
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("DialAddress(%s) = %v, want it to match %v", tt.addr, err, tt.wantIs)
			}
			for _, want := range tt.wantInMsg {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not contain %q", err, want)
				}
			}
		})
	}

	t.Run("Dial with DBUS_SYSTEM_BUS_ADDRESS unreachable", func(t *testing.T) {
		t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(dir, "nothing"))
		_, err := Dial(ctxTimeout(t, testTimeout))
		if kindsOf(err) != "ErrNoBus" || !strings.Contains(err.Error(), "from $DBUS_SYSTEM_BUS_ADDRESS") {
			t.Errorf("Dial = %v (kinds %q), want ErrNoBus naming the variable", err, kindsOf(err))
		}
	})
}

// TestDialSystemBus checks that Dial takes the system bus from
// DBUS_SYSTEM_BUS_ADDRESS, as godbus does.
func TestDialSystemBus(t *testing.T) {
	bus := startBus(t, "")
	startFakeSystemd(t, bus.addr, map[string]*fakeUnit{"docker.service": debianDocker()})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.addr)
	c, err := Dial(ctxTimeout(t, testTimeout))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	u, err := c.Unit(ctxTimeout(t, testTimeout), "docker.service")
	if err != nil || u.ActiveState != "active" {
		t.Fatalf("Unit = %+v, %v", u, err)
	}
	if err := c.Reload(ctxTimeout(t, testTimeout), "docker.service"); err != nil {
		t.Fatalf("Reload: %v", err)
	}
}

// TestConnectionLost kills the bus while a job is pending: the wait ends
// with ErrNoBus at once, not at the deadline.
func TestConnectionLost(t *testing.T) {
	u := debianDocker()
	u.jobResult = ""
	c, fake, bus := setup(t, map[string]*fakeUnit{"docker.service": u})

	done := make(chan error, 1)
	go func() { done <- c.Reload(ctxTimeout(t, time.Minute), "docker.service") }()
	for deadline := time.Now().Add(testTimeout); len(fake.callLog()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("systemd never got the ReloadUnit call")
		}
	}
	bus.kill()
	select {
	case err := <-done:
		if kindsOf(err) != "ErrNoBus" || !strings.Contains(err.Error(), "connection to the bus lost") {
			t.Fatalf("Reload = %v (kinds %q), want ErrNoBus", err, kindsOf(err))
		}
	case <-time.After(testTimeout):
		t.Fatal("Reload still waiting after the bus died")
	}
	// Later calls fail the same way.
	if _, err := c.Unit(ctxTimeout(t, testTimeout), "docker.service"); kindsOf(err) != "ErrNoBus" {
		t.Errorf("Unit after the bus died = %v (kinds %q), want ErrNoBus", err, kindsOf(err))
	}
}

func TestClose(t *testing.T) {
	c, _, _ := setup(t, map[string]*fakeUnit{"docker.service": debianDocker()})
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Reload(ctxTimeout(t, testTimeout), "docker.service"); kindsOf(err) != "ErrNoBus" {
		t.Errorf("Reload after Close = %v (kinds %q), want ErrNoBus", err, kindsOf(err))
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestUnitPath(t *testing.T) {
	c, _, _ := setup(t, nil)
	got, err := c.UnitPath(ctxTimeout(t, testTimeout))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, fakeUnitPath) {
		t.Errorf("UnitPath = %q, want %q", got, fakeUnitPath)
	}
}

func TestCgroupPath(t *testing.T) {
	for _, tt := range []struct{ slice, name, want string }{
		{"system.slice", "docker-liverestore.service", "/system.slice/docker-liverestore.service"},
		{"", "x.service", "/system.slice/x.service"},
		{"-.slice", "x.service", "/x.service"},
		{"a-b-c.slice", "x.service", "/a.slice/a-b.slice/a-b-c.slice/x.service"},
	} {
		if got := CgroupPath(tt.slice, tt.name); got != tt.want {
			t.Errorf("CgroupPath(%q, %q) = %q, want %q", tt.slice, tt.name, got, tt.want)
		}
	}
}

func TestStartQueued(t *testing.T) {
	units := map[string]*fakeUnit{"w.service": {id: "w.service", loadState: "loaded", activeState: "inactive", subState: "dead"}}
	c, f, _ := setup(t, units)
	if err := c.StartQueued(ctxTimeout(t, testTimeout), "w.service"); err != nil {
		t.Fatal(err)
	}
	if log := f.callLog(); len(log) != 1 || !strings.HasPrefix(log[0], "StartUnit w.service") {
		t.Errorf("calls = %q", log)
	}
	if err := c.StartQueued(ctxTimeout(t, testTimeout), ""); !errors.Is(err, ErrNoSuchUnit) {
		t.Errorf("empty name: %v", err)
	}
}
