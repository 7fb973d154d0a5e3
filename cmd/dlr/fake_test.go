package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/ops"
	"github.com/docker-liverestore/dlr/unit"
)

// fakeDaemon plays systemd and dockerd for the command tests: a reload makes
// it re-read daemon.json the way dockerd does (a file it cannot parse, or
// with an unknown key, leaves the old setting, as dockerd's reload does).
type fakeDaemon struct {
	mu          sync.Mutex
	config      string
	svc         unit.Unit
	liveRestore bool
	swarm       string
	reloads     int
	rejectAll   bool // dockerd ignores every reload
	reloadErr   error
	infoErr     error
	infoCalls   int
	infoStale   bool // /info keeps reporting live restore off
	running     int
	mirrors     []string
	debug       bool
	validate    func(candidate []byte) (string, bool, error)
	containers  []host.Container
	units       map[string]unit.Unit // other units than docker.service
	gpu         host.GPUReport       // what GPUContainers answers
	gpuCalls    int
	root        string // the test host's root (units installed there)
	version     string // "" is 26.1.5

	daemonReloads    int
	unitPath         []string
	unitPathCalls    int
	started, stopped []string
}

func (f *fakeDaemon) Unit(ctx context.Context, name string) (unit.Unit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, ok := f.units[name]; ok {
		return u, nil
	}
	if name == host.WatcherService && f.root != "" {
		// A unit dlr installed in /etc is loaded on demand, as systemd does.
		p := filepath.Join(f.root, "etc/systemd/system", name)
		if _, err := os.Stat(p); err == nil {
			return unit.Unit{Name: name, LoadState: "loaded", ActiveState: "inactive", UnitFileState: "enabled", FragmentPath: p}, nil
		}
	}
	if name != host.DockerService || f.svc.LoadState == "" {
		return unit.Unit{Name: name, LoadState: "not-found", ActiveState: "inactive"}, nil
	}
	return f.svc, nil
}

func (f *fakeDaemon) Reload(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads++
	if f.reloadErr != nil {
		return f.reloadErr
	}
	if f.rejectAll {
		return nil
	}
	b, err := os.ReadFile(f.config)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	d, err := daemonjson.Parse(b)
	if err != nil {
		return nil
	}
	for _, k := range d.Keys() {
		if k == "bogus-key" {
			return nil
		}
	}
	// Like dockerd, a reload applies only the keys present in the file.
	if v, has := d.LiveRestore(); has {
		f.liveRestore = v
	}
	if raw, ok := d.Lookup("registry-mirrors"); ok {
		f.mirrors = nil
		json.Unmarshal(raw, &f.mirrors)
		for i := range f.mirrors {
			f.mirrors[i] += "/" // dockerd normalises them
		}
	}
	if raw, ok := d.Lookup("debug"); ok {
		json.Unmarshal(raw, &f.debug)
	}
	return nil
}

func (f *fakeDaemon) Start(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.units == nil {
		f.units = map[string]unit.Unit{}
	}
	u, ok := f.units[name]
	if !ok {
		u = unit.Unit{Name: name, LoadState: "loaded"}
	}
	u.ActiveState = "active"
	f.units[name] = u
	f.started = append(f.started, name)
	return nil
}

func (f *fakeDaemon) StartQueued(ctx context.Context, name string) error {
	return f.Start(ctx, name)
}

func (f *fakeDaemon) Stop(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.units[name]
	u.ActiveState = "inactive"
	f.units[name] = u
	f.stopped = append(f.stopped, name)
	return nil
}

func (f *fakeDaemon) DaemonReload(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.daemonReloads++
	return nil
}

func (f *fakeDaemon) Close() error { return nil }

func (f *fakeDaemon) UnitPath(ctx context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unitPathCalls++
	return f.unitPath, nil
}

func (f *fakeDaemon) Info(ctx context.Context) (host.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.infoCalls++
	if f.infoErr != nil {
		return host.Info{}, f.infoErr
	}
	version := f.version
	if version == "" {
		version = "26.1.5"
	}
	return host.Info{LiveRestore: f.liveRestore && !f.infoStale, Version: version, SwarmState: f.swarm,
		Running: f.running, Mirrors: f.mirrors, Debug: f.debug}, nil
}

// testEnv is a host laid out under a temporary directory: the real
// commands run against it with one root prefix, and fakes for systemd and
// dockerd.
type testEnv struct {
	t      *testing.T
	dir    string
	h      *ops.Env
	d      *fakeDaemon
	config string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	dir := t.TempDir()
	e := &testEnv{t: t, dir: dir, config: filepath.Join(dir, "etc/docker/daemon.json")}
	for _, d := range []string{"etc/docker", "etc/sysctl.d", "proc/sys/fs", "proc/1", "run/systemd/system", "run/lock", "var/lib"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.Symlink("/", filepath.Join(dir, "proc/1/root"))
	os.WriteFile(filepath.Join(dir, "proc/sys/fs/pipe-max-size"), []byte("1048576\n"), 0o644)
	// The packages' watcher unit is there (a bare binary's tests remove it).
	os.MkdirAll(filepath.Join(dir, "lib/systemd/system"), 0o755)
	os.WriteFile(filepath.Join(dir, "lib/systemd/system", host.WatcherService), buffers.WatcherUnit, 0o644)
	e.d = &fakeDaemon{config: e.config, root: dir, svc: unit.Unit{Name: host.DockerService, LoadState: "loaded",
		ActiveState: "active", SubState: "running", MainPID: 4242, KillMode: "process",
		ExecStart: [][]string{{"/usr/sbin/dockerd", "-H", "fd://", "$DOCKER_OPTS"}}}}
	h := host.New()
	h.Root = dir
	h.Self = "/usr/bin/dlr"
	h.Euid = func() int { return 0 }
	h.DialSystemd = func(context.Context) (host.Systemd, error) { return e.d, nil }
	h.Docker = func(string) host.Docker { return e.d }
	h.Events = func(string) buffers.EventSource { return noEvents{} }
	h.Journal = func(context.Context, string, time.Time) []string { return []string{"reload rejected by fake"} }
	h.Signal = func(int, syscall.Signal) error { return errors.New("no signals in tests") }
	h.DockerdValidate = func(ctx context.Context, dockerd string, args []string, candidate []byte) (string, bool, error) {
		if e.d.validate != nil {
			return e.d.validate(candidate)
		}
		return "", false, nil // like Docker 20.10: no --validate
	}
	h.Containers = func(context.Context, string) ([]host.Container, error) { return e.d.containers, nil }
	h.GPUContainers = func(context.Context, string) (host.GPUReport, error) {
		e.d.mu.Lock()
		defer e.d.mu.Unlock()
		e.d.gpuCalls++
		return e.d.gpu, nil
	}
	h.Bridge = func(context.Context, string) ([]string, error) { return []string{"172.17.0.1"}, nil }
	h.DockerdVersion = func(context.Context, string) (string, error) { return "26.1.5", nil }
	h.ContainerdVersions = func(context.Context, string, int) (string, string, error) { return "1.7.24~ds1", "1.7.24~ds1", nil }
	h.T.Verify = 500 * time.Millisecond
	h.T.Lock = 500 * time.Millisecond
	e.h = ops.NewEnv(h)
	return e
}

// noEvents is a Docker without an event stream (dlr then polls /info).
type noEvents struct{}

func (noEvents) Events(context.Context, map[string][]string) (buffers.EventStream, error) {
	return nil, errors.New("no event stream in this test")
}

func (e *testEnv) run(args ...string) (code int, stdout, stderr string) {
	var o, w bytes.Buffer
	code = run(context.Background(), args, &o, &w, e.h)
	return code, o.String(), w.String()
}

func (e *testEnv) write(rel, content string) {
	p := filepath.Join(e.dir, rel)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) read(rel string) string {
	b, err := os.ReadFile(filepath.Join(e.dir, rel))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func (e *testEnv) exists(rel string) bool {
	_, err := os.Lstat(filepath.Join(e.dir, rel))
	return err == nil
}
