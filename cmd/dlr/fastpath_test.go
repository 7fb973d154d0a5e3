package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/engine"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/state"
	"github.com/docker-liverestore/dlr/unit"
)

// fastEnv is a test host where everything enable checks is in place and the
// watcher runs: after one full enable, the next ones may take the fast path.
type fastEnv struct {
	*testEnv
	dials int
}

func procStat(pid int, comm string, ticks int) string {
	return strconv.Itoa(pid) + " (" + comm + ") S 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 10 0 " + strconv.Itoa(ticks) + " 100 200\n"
}

func newFastEnv(t *testing.T) *fastEnv {
	e := &fastEnv{testEnv: newTestEnv(t)}
	e.write(daemonJSON, orig)
	e.write("proc/4242/stat", procStat(4242, "dockerd", 1000))
	e.write("proc/4242/cmdline", "/usr/sbin/dockerd\x00-H\x00fd://\x00")
	e.write("proc/4343/stat", procStat(4343, "dlr", 2000))
	e.write("proc/4343/comm", "dlr\n")
	e.write("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n")
	e.write("sys/fs/cgroup/system.slice/docker-liverestore.service/cgroup.procs", "4343\n")
	e.write("usr/lib/systemd/system/docker.service", "[Service]\nExecStart=/usr/sbin/dockerd -H fd://\n")
	e.write("etc/default/docker", "DOCKER_OPTS=\n")
	e.write("proc/meminfo", "MemTotal:       8000000 kB\n")
	e.d.svc.FragmentPath = filepath.Join(e.dir, "usr/lib/systemd/system/docker.service")
	e.d.svc.EnvironmentFiles = []unit.EnvFile{{Path: "/etc/default/docker", Optional: true}}
	e.d.unitPath = []string{filepath.Join(e.dir, "etc/systemd/system"), filepath.Join(e.dir, "run/systemd/system"), filepath.Join(e.dir, "usr/lib/systemd/system")}
	e.d.units = map[string]unit.Unit{host.WatcherService: {Name: host.WatcherService, LoadState: "loaded", ActiveState: "active", MainPID: 4343, UnitFileState: "enabled"}}
	e.h.DialSystemd = func(context.Context) (host.Systemd, error) { e.dials++; return e.d, nil }
	return e
}

// enable runs dlr enable and reports whether it took the fast path (no
// D-Bus connection, no /info call).
func (e *fastEnv) enable(args ...string) (fast bool, out string) {
	e.t.Helper()
	dials, infos := e.dials, e.d.infoCalls
	code, out, errOut := e.run(append([]string{"enable"}, args...)...)
	if code != 0 {
		e.t.Fatalf("enable: exit %d\n%s%s", code, out, errOut)
	}
	return e.dials == dials && e.d.infoCalls == infos, out + errOut
}

func (e *fastEnv) verified() *state.Verified {
	return state.Store{Dir: e.h.Path(host.StateDir)}.LoadVerified()
}

func TestFastPathAfterAFullEnable(t *testing.T) {
	e := newFastEnv(t)
	if fast, out := e.enable(); fast {
		t.Fatalf("the first enable took the fast path:\n%s", out)
	}
	v := e.verified()
	if v == nil {
		t.Fatal("the full enable recorded nothing")
	}
	if v.Dockerd != (state.Process{PID: 4242, Start: 1000}) || v.WatcherProcs != filepath.Join(e.dir, "sys/fs/cgroup/system.slice/docker-liverestore.service/cgroup.procs") {
		t.Errorf("recorded dockerd %+v, watcher %q", v.Dockerd, v.WatcherProcs)
	}
	stateFile := filepath.Join(e.h.Path(host.StateDir), "state.json")
	recordFile := filepath.Join(e.h.Path(host.StateDir), "verified")
	before, _ := os.Stat(stateFile)
	recBefore, _ := os.Stat(recordFile)
	reloads := e.d.reloads
	for i := 0; i < 3; i++ {
		fast, out := e.enable()
		if !fast {
			t.Fatalf("run %d after the full enable took the full path:\n%s", i, out)
		}
		if !strings.Contains(out, "nothing has changed since") {
			t.Errorf("fast path output:\n%s", out)
		}
	}
	after, _ := os.Stat(stateFile)
	recAfter, _ := os.Stat(recordFile)
	if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) ||
		!os.SameFile(recBefore, recAfter) || !recBefore.ModTime().Equal(recAfter.ModTime()) || e.d.reloads != reloads {
		t.Error("the fast path wrote the state or the record, or reloaded")
	}
	// --json says the same as the full path: not changed, live restore on.
	_, out := e.enable("--json")
	for _, want := range []string{`"changed": false`, `"daemon": "true"`, `"file_after": "true"`} {
		if !strings.Contains(out, want) {
			t.Errorf("--json lacks %s:\n%s", want, out)
		}
	}
}

// Every change to what the record covers sends enable down the full path.
func TestFastPathInvalidation(t *testing.T) {
	tests := []struct {
		name   string
		change func(e *fastEnv)
		args   []string
		// rerecords: the full run records again, so the one after is fast.
		rerecords bool
	}{
		{"daemon.json rewritten", func(e *fastEnv) {
			time.Sleep(10 * time.Millisecond)
			e.write(daemonJSON, e.read(daemonJSON))
		}, nil, true},
		{"dockerd restarted", func(e *fastEnv) { e.write("proc/4242/stat", procStat(4242, "dockerd", 5000)) }, nil, true},
		{"watcher gone", func(e *fastEnv) {
			e.write("sys/fs/cgroup/system.slice/docker-liverestore.service/cgroup.procs", "")
			e.d.units[host.WatcherService] = unit.Unit{Name: host.WatcherService, LoadState: "loaded", ActiveState: "failed", UnitFileState: "enabled"}
		}, nil, false},
		{"another process in the watcher's place", func(e *fastEnv) {
			e.write("proc/4343/comm", "sleep\n")
		}, nil, false},
		{"new drop-in", func(e *fastEnv) {
			e.write("run/systemd/system/docker.service.d/50-flags.conf", "[Service]\nKillMode=process\n")
		}, nil, true},
		{"environment file edited", func(e *fastEnv) {
			time.Sleep(10 * time.Millisecond)
			e.write("etc/default/docker", "DOCKER_OPTS=--debug\n")
		}, nil, true},
		{"unit file overridden in /etc", func(e *fastEnv) {
			e.write("etc/systemd/system/docker.service", "[Service]\nExecStart=/usr/sbin/dockerd\n")
		}, nil, true},
		{"sysctl.d file added", func(e *fastEnv) {
			e.write("etc/sysctl.d/70-pipes.conf", "fs.pipe-max-size = 1048576\n")
		}, nil, false},
		{"fs.pipe-max-size lowered", func(e *fastEnv) { e.write("proc/sys/fs/pipe-max-size", "1048576\n") }, nil, true},
		{"another --pipe-max-size", nil, []string{"--pipe-max-size", "8M"}, true},
		{"--dry-run", nil, []string{"--dry-run"}, false},
		// The full run after it warns about the interrupted run, which is
		// not recorded (a later run must not hide it); the next one records.
		{"an interrupted run", func(e *fastEnv) {
			st, _ := state.Store{Dir: e.h.Path(host.StateDir)}.Load()
			st.Pending = &state.Pending{Op: "set", Step: "write", PID: 1}
			state.Store{Dir: e.h.Path(host.StateDir)}.Save(st)
		}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFastEnv(t)
			e.enable()
			if fast, out := e.enable(); !fast {
				t.Fatalf("no fast path before the change:\n%s", out)
			}
			if tt.change != nil {
				tt.change(e)
			}
			if fast, out := e.enable(tt.args...); fast {
				t.Fatalf("fast path after %s:\n%s", tt.name, out)
			}
			if fast, out := e.enable(tt.args...); fast != tt.rerecords {
				t.Errorf("the run after the full one: fast %v, want %v\n%s", fast, tt.rerecords, out)
			}
		})
	}
}

// Nothing is recorded where a later run would have something to say or
// systemd's view may be stale.
func TestFastPathNotRecorded(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *fastEnv)
	}{
		{"unit files changed since systemd read them", func(e *fastEnv) { e.d.svc.NeedDaemonReload = true }},
		{"watcher not running (the admin disabled it)", func(e *fastEnv) {
			e.write("var/lib/docker-liverestore/watcher-enabled", "")
			e.d.units[host.WatcherService] = unit.Unit{Name: host.WatcherService, LoadState: "loaded", ActiveState: "inactive", UnitFileState: "disabled"}
		}},
		{"a warning", func(e *fastEnv) {
			e.d.svc.EnvironmentFiles = append(e.d.svc.EnvironmentFiles, unit.EnvFile{Path: "/etc/docker/missing.env"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFastEnv(t)
			tt.setup(e)
			e.enable()
			if v := e.verified(); v != nil {
				t.Fatalf("recorded %+v", v)
			}
			if fast, out := e.enable(); fast {
				t.Errorf("fast path:\n%s", out)
			}
		})
	}
}

// Disable, set and unset end the record; the swarm state file is checked
// on every run.
func TestFastPathEndsWithOtherCommands(t *testing.T) {
	for _, cmd := range [][]string{{"disable"}, {"set", `log-level="debug"`}} {
		t.Run(cmd[0], func(t *testing.T) {
			e := newFastEnv(t)
			e.enable()
			if code, out, errOut := e.run(cmd...); code != 0 {
				t.Fatalf("%v: exit %d\n%s%s", cmd, code, out, errOut)
			}
			if v := e.verified(); v != nil {
				t.Errorf("%s left the record", cmd[0])
			}
		})
	}
	t.Run("swarm", func(t *testing.T) {
		e := newFastEnv(t)
		e.enable()
		e.write("srv/docker/swarm/docker-state.json", "{}") // orig sets data-root
		e.d.swarm = "active"
		if code, out, _ := e.run("enable"); code != exitRefused {
			t.Errorf("enable on a swarm node: exit %d\n%s", code, out)
		}
	})
}

// reloadEvents plays dockerd's event stream: after each reload it sends a
// "reload" event with the live-restore value dockerd then runs with.
type reloadEvents struct {
	d      *fakeDaemon
	opened int
}

func (r *reloadEvents) Events(ctx context.Context, f map[string][]string) (buffers.EventStream, error) {
	r.opened++
	r.d.mu.Lock()
	seen := r.d.reloads
	r.d.mu.Unlock()
	return &reloadStream{ctx: ctx, d: r.d, seen: seen}, nil
}

type reloadStream struct {
	ctx  context.Context
	d    *fakeDaemon
	seen int
}

func (s *reloadStream) Next() (engine.Event, error) {
	for {
		s.d.mu.Lock()
		n, on := s.d.reloads, s.d.liveRestore
		s.d.mu.Unlock()
		if n > s.seen {
			s.seen = n
			return engine.Event{Type: "daemon", Action: "reload",
				Actor: engine.Actor{Attributes: map[string]string{"live-restore": strconv.FormatBool(on)}}}, nil
		}
		select {
		case <-s.ctx.Done():
			return engine.Event{}, s.ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (s *reloadStream) Close() error { return nil }

// dockerd's reload event is enough to verify a reload: /info is not needed
// (here it keeps saying off); an event with the other value is not.
func TestReloadVerifiedByEvent(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.write("proc/meminfo", "MemTotal:       8000000 kB\n")
	ev := &reloadEvents{d: e.d}
	e.h.Events = func(string) buffers.EventSource { return ev }
	e.d.infoStale = true
	code, out, errOut := e.run("enable")
	if code != 0 || !strings.Contains(out, "verified: dockerd's reload event reports live restore enabled") || ev.opened != 1 {
		t.Fatalf("exit %d (streams opened %d)\n%s%s", code, ev.opened, out, errOut)
	}

	// dockerd ignores the file: its event says live-restore false.
	e = newTestEnv(t)
	e.write(daemonJSON, orig)
	e.write("proc/meminfo", "MemTotal:       8000000 kB\n")
	e.h.Events = func(string) buffers.EventSource { return &reloadEvents{d: e.d} }
	e.d.rejectAll = true
	if code, out, errOut := e.run("enable"); code != exitFailed || strings.Contains(out, "verified") {
		t.Errorf("a reload event saying false verified the change: exit %d\n%s%s", code, out, errOut)
	}
}

// The fast path only reads: a run holding dlr's lock does not hold it up
// (that run's state write ends the record before it changes anything).
// Without root it is not taken: enable refuses as before.
func TestFastPathLockAndRoot(t *testing.T) {
	e := newFastEnv(t)
	e.enable()
	unlock, err := state.Lock(context.Background(), e.h.Path(host.LockFile))
	if err != nil {
		t.Fatal(err)
	}
	if fast, out := e.enable(); !fast {
		t.Errorf("fast path not taken while another run holds the lock:\n%s", out)
	}
	unlock()
	e.h.Euid = func() int { return 1000 }
	if code, out, errOut := e.run("enable"); code != exitRefused {
		t.Errorf("enable as a user: exit %d\n%s%s", code, out, errOut)
	}
}

// /info is asked while systemd is, when dockerd's pid file names a live
// dockerd; the answer is used only when systemd then names the same one.
func TestInfoPrefetch(t *testing.T) {
	for _, tt := range []struct {
		pid   string
		calls int
	}{{"4242", 1}, {"4343", 2}} {
		e := newTestEnv(t)
		e.write(daemonJSON, orig)
		e.write("proc/meminfo", "MemTotal:       8000000 kB\n")
		e.write("var/run/docker.pid", tt.pid+"\n")
		e.write("proc/"+tt.pid+"/comm", "dockerd\n")
		e.write("proc/"+tt.pid+"/cmdline", "/usr/sbin/dockerd\x00-H\x00fd://\x00")
		if code, out, errOut := e.run("enable"); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		// One more /info call verifies the reload (the fake has no event
		// stream).
		if got := e.d.infoCalls - 1; got != tt.calls {
			t.Errorf("pid file %s: %d /info calls before the reload, want %d", tt.pid, got, tt.calls)
		}
	}
}

// A unit directory that appears for other units (runc's systemd cgroup
// driver creates /run/systemd/system.control with the first container)
// keeps the record; a docker.service drop-in in it ends it.
func TestFastPathNewUnitDirForOtherUnits(t *testing.T) {
	e := newFastEnv(t)
	ctl := filepath.Join(e.dir, "run/systemd/system.control")
	e.d.unitPath = append([]string{ctl}, e.d.unitPath...)
	e.enable()
	os.MkdirAll(filepath.Join(ctl, "docker-0123.scope.d"), 0o755)
	if fast, out := e.enable(); !fast {
		t.Errorf("a new unit directory for a container's scope ended the record:\n%s", out)
	}
	e.write("run/systemd/system.control/docker.service.d/50-x.conf", "[Service]\n")
	if fast, _ := e.enable(); fast {
		t.Error("a docker.service drop-in in the new directory kept the record")
	}
}
