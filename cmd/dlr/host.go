package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker-liverestore/dlr/engine"
	"github.com/docker-liverestore/dlr/state"
	"github.com/docker-liverestore/dlr/sysctl"
	"github.com/docker-liverestore/dlr/unit"
)

// systemdAPI is what dlr asks of systemd; *unit.Conn implements it.
type systemdAPI interface {
	Unit(ctx context.Context, name string) (unit.Unit, error)
	Reload(ctx context.Context, name string) error
	Start(ctx context.Context, name string) error
	StartQueued(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	DaemonReload(ctx context.Context) error
	UnitPath(ctx context.Context) ([]string, error)
	Close() error
}

// daemonInfo is what dlr reads from the Engine API's /info.
type daemonInfo struct {
	LiveRestore bool
	Version     string
	SwarmState  string // "", "inactive", "pending", "active", "error", "locked"
	SwarmError  string
	RootDir     string
	Running     int
	// Settings a reload changes, to verify `dlr set`.
	Debug          bool
	Labels         []string
	DefaultRuntime string
	Mirrors        []string
}

// dockerAPI is what dlr asks of dockerd. Never call it before checking that
// docker.service is active: a connection to docker.socket starts dockerd.
type dockerAPI interface {
	Info(ctx context.Context) (daemonInfo, error)
}

// host holds every path and every connection to the outside that dlr uses,
// so that tests can run the real commands against a temporary directory and
// fakes. newHost gives the real ones.
type host struct {
	defaultConfig string // daemon.json when nothing else names one
	snapConfig    string
	stateDir      string
	lockPath      string
	sysctlRoot    string // sysctl.d directories are looked up under it
	procSys       string // /proc/sys
	proc          string // /proc
	runSystemd    string // /run/systemd/system: exists when systemd is PID 1
	dockerSocket  string // "" = from dockerd's -H flags, else /run/docker.sock
	pidFile       string // dockerd's pid file without systemd
	dataRoot      string // "" = from daemon.json, flags, or /var/lib/docker
	root          string // prefix for files read from the unit (env files)
	unitDir       string // /etc/systemd/system: where dlr's docker.service drop-in goes
	vendorUnitDir string // /usr/lib/systemd/system: where the packages put their copy
	cgroupRoot    string // /sys/fs/cgroup
	self          string // dlr's own absolute path, for the drop-in's hooks ("": found when needed)
	// catchSignals makes SIGINT and SIGTERM cancel the context given to run
	// from now on (main's; tests leave it a no-op). Commands call it before
	// they change anything: until then a signal just ends the process, which
	// has done nothing. Installing the handler costs a thread, a measurable
	// part of a run that has nothing to do (enable on an enabled host).
	catchSignals func()

	euid        func() int
	dialSystemd func(ctx context.Context) (systemdAPI, error)
	docker      func(socket string) dockerAPI
	journal     func(ctx context.Context, unit string, since time.Time) []string
	signal      func(pid int, sig syscall.Signal) error
	now         func() time.Time
	bufs        bufHost // buffers and watch (buffers.go)
	// dockerdValidate runs `dockerd --validate` on a candidate file; see
	// runDockerdValidate.
	dockerdValidate func(ctx context.Context, dockerd string, args []string, candidate []byte) (out string, supported bool, err error)
	// For dlr check: running containers, the default bridge's gateways,
	// and the installed dockerd's version. Like docker, call the first two
	// only when dockerd is active.
	containers     func(ctx context.Context, obs *observed) ([]containerFacts, error)
	bridge         func(ctx context.Context, obs *observed) ([]string, error)
	dockerdVersion func(ctx context.Context, path string) (string, error)

	// Timeouts, all chosen here.
	callTimeout   time.Duration // one D-Bus or Engine API call
	reloadTimeout time.Duration // a reload job
	verifyTimeout time.Duration // until /info shows the change
	lockTimeout   time.Duration // waiting for another dlr run
}

func newHost() *host {
	return &host{
		defaultConfig: defaultConfig,
		snapConfig:    snapConfig,
		stateDir:      state.DefaultDir,
		lockPath:      state.DefaultLockPath,
		sysctlRoot:    "/",
		procSys:       sysctl.DefaultProcSys,
		proc:          "/proc",
		runSystemd:    "/run/systemd/system",
		pidFile:       defaultPidFile,
		root:          "/",
		unitDir:       "/etc/systemd/system",
		vendorUnitDir: unit.VendorUnitDir,
		cgroupRoot:    "/sys/fs/cgroup",
		catchSignals:  func() {},
		euid:          os.Geteuid,
		dialSystemd: func(ctx context.Context) (systemdAPI, error) {
			c, err := unit.Dial(ctx)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		docker:          func(socket string) dockerAPI { return engineAdapter{engineFor(socket)} },
		journal:         readJournal,
		signal:          func(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) },
		now:             time.Now,
		bufs:            newBufHost(),
		dockerdValidate: runDockerdValidate,
		containers: func(ctx context.Context, obs *observed) ([]containerFacts, error) {
			return realContainers(ctx, obs.socket)
		},
		bridge:         func(ctx context.Context, obs *observed) ([]string, error) { return realBridge(ctx, obs.socket) },
		dockerdVersion: realDockerdVersion,

		callTimeout:   5 * time.Second,
		reloadTimeout: 30 * time.Second,
		verifyTimeout: 20 * time.Second,
		lockTimeout:   60 * time.Second,
	}
}

// engineFor returns the process's one Engine API client for socket: a
// client learns the API version (GET /_ping) once, and a run that polls
// /info should not ask again each time. Short-lived commands only: `dlr
// watch`, which outlives dockerd upgrades and downgrades, makes a new
// client each time it connects (engineEvents).
func engineFor(socket string) *engine.Client {
	c, _ := engines.LoadOrStore(socket, engine.New(socket))
	return c.(*engine.Client)
}

var engines sync.Map // socket path -> *engine.Client

type engineAdapter struct{ c *engine.Client }

func (a engineAdapter) Info(ctx context.Context) (daemonInfo, error) {
	i, err := a.c.Info(ctx)
	if err != nil {
		return daemonInfo{}, err
	}
	return daemonInfo{
		LiveRestore: i.LiveRestoreEnabled,
		Version:     i.ServerVersion,
		SwarmState:  i.Swarm.LocalNodeState,
		SwarmError:  i.Swarm.Error,
		RootDir:     i.DockerRootDir,
		Running:     i.ContainersRunning,

		Debug:          i.Debug,
		Labels:         i.Labels,
		DefaultRuntime: i.DefaultRuntime,
		Mirrors:        i.RegistryConfig.Mirrors,
	}, nil
}

// readJournal returns the errors the unit logged since a time: where dockerd
// says why it rejected a configuration ("unable to configure the Docker
// daemon with file ..."). It runs journalctl with fixed arguments (nothing
// interpolated into a shell) and returns nothing if journalctl is missing or
// fails.
func readJournal(ctx context.Context, unitName string, since time.Time) []string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "journalctl", "--no-pager", "-q", "-o", "cat",
		"-u", unitName, "--since", "@"+strconv.FormatInt(since.Unix()-1, 10)).Output()
	if err != nil && len(out) == 0 {
		return nil
	}
	return journalErrors(string(out))
}

// journalErrors picks dockerd's error lines out of its log and returns their
// messages (the msg="..." part of logrus's text format), the last 3.
func journalErrors(log string) []string {
	var lines []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "level=error") && !strings.Contains(l, "level=fatal") {
			continue
		}
		msg := strings.TrimSpace(l)
		if i := strings.Index(l, "msg="); i >= 0 {
			rest := l[i+len("msg="):]
			if q, err := strconv.QuotedPrefix(rest); err == nil {
				if u, err := strconv.Unquote(q); err == nil {
					msg = u
				}
			}
		}
		lines = append(lines, msg)
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return lines
}

// inChroot reports whether dlr runs with a root directory other than PID 1's
// (a chroot, as in package installs into an image being built), and why it
// thinks so. When /proc/1/root cannot be read it says so and assumes a
// chroot: touching a daemon from the wrong root is worse than not touching it.
func (h *host) inChroot() (bool, string) {
	a, err := os.Stat(h.proc + "/1/root/")
	if err != nil {
		if errors.Is(err, os.ErrPermission) && h.euid() != 0 {
			return false, ""
		}
		return true, "cannot read " + h.proc + "/1/root (" + errText(err) + "); assuming a chroot"
	}
	b, err := os.Stat("/")
	if err != nil {
		return true, "cannot stat /"
	}
	if !os.SameFile(a, b) {
		return true, "running in a chroot (our / is not PID 1's)"
	}
	return false, ""
}

func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// selfPath returns the absolute path of the running dlr binary, resolved
// through symlinks ("/usr/bin/dlr" when installed by the package).
// dlrPath returns dlr's own absolute path (h.self, else the running
// executable with symlinks resolved).
func (h *host) dlrPath() string {
	if h.self == "" {
		h.self = selfPath()
	}
	return h.self
}

func selfPath() string {
	p, err := os.Executable()
	if err != nil {
		return "/usr/bin/dlr"
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}
