package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/engine"
	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/unit"
)

// Systemd is what dlr asks of systemd; *unit.Conn implements it.
type Systemd interface {
	Unit(ctx context.Context, name string) (unit.Unit, error)
	Reload(ctx context.Context, name string) error
	Start(ctx context.Context, name string) error
	StartQueued(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	DaemonReload(ctx context.Context) error
	UnitPath(ctx context.Context) ([]string, error)
	Close() error
}

// Info is what dlr reads from the Engine API's /info.
type Info struct {
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
	// Firewall is GET /info's FirewallBackend.Driver ("iptables",
	// "nftables", "iptables+firewalld"), "" before Docker 28.1.
	Firewall string
	// Rootless: the daemon runs rootless (SecurityOptions has
	// "name=rootless").
	Rootless bool
}

// SwarmActive reports whether a swarm state means the node is (becoming) a
// swarm member.
func (i Info) SwarmActive() bool { return i.SwarmState != "" && i.SwarmState != "inactive" }

// Docker is what dlr asks of dockerd. Never call it before [Facts.Active]
// says dockerd runs: a connection to docker.socket starts dockerd.
type Docker interface {
	Info(ctx context.Context) (Info, error)
}

// Container is a running container as dlr's checks see it.
type Container struct {
	ID            string
	Name          string
	PID           int
	RestartPolicy string
	Published     bool
	// What a restore check compares (see package restore).
	RestartCount int
	StartedAt    time.Time
	Paused       bool
	Health       *Health  // nil without a health check
	Ports        []Port   // the published ports' host sides
	Networks     []string // user-defined networks (not bridge, host, none)
	LogPath      string   // the json-file log, "" for other drivers
	// Props are what guard's hazard table looks at, from the same inspect.
	Props guard.Props `json:",omitempty"`
}

// Health is a container's health check and its last probe.
type Health struct {
	Status            string // "starting", "healthy", "unhealthy"
	Interval, Timeout time.Duration
	LastProbe         time.Time // start of the newest probe; zero if none yet
}

// Port is the host side of one published port.
type Port struct {
	HostIP   string // as Docker has it: "0.0.0.0", "::", "127.0.0.1", ""
	HostPort int
	Proto    string // "tcp", "udp", "sctp"
	Private  int    // the container's port
}

// Timeouts are every time limit dlr sets, named once.
type Timeouts struct {
	Call     time.Duration // one D-Bus or Engine API call
	Reload   time.Duration // a systemd job: reload, stop, daemon-reload
	Verify   time.Duration // until dockerd shows a change after a reload
	Rollback time.Duration // until dockerd shows a rolled-back live-restore
	Lock     time.Duration // waiting for another dlr run
	Grow     time.Duration // one growth of the log FIFOs (ExecStop must never hang)
	Journal  time.Duration // reading dockerd's log
	Validate time.Duration // dockerd --validate
	Version  time.Duration // dockerd --version
	List     time.Duration // listing containers
	Start    time.Duration // the drill: starting docker again
	// After a restore: how long a published port may take to accept a
	// connection (docker-proxy is restarted by dockerd), the embedded DNS
	// to answer, a logging container's log to grow; a health check is
	// given its own interval + timeout + Probe.
	Port, DNS, Logs, Probe time.Duration
	// RestoreCheck bounds a whole restore check (all containers).
	RestoreCheck time.Duration
	// Metrics is how often the watcher rewrites the textfile.
	Metrics time.Duration
	// The watcher's pace: how often it looks at docker.service while
	// dockerd is down (and its first wait after a failed connection), and
	// the longest wait after failed connections.
	Poll, Backoff time.Duration
}

// DefaultTimeouts are the timeouts of a real run.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Call:     5 * time.Second,
		Reload:   30 * time.Second,
		Verify:   20 * time.Second,
		Rollback: 5 * time.Second,
		Lock:     60 * time.Second,
		Grow:     5 * time.Second,
		Journal:  3 * time.Second,
		Validate: 15 * time.Second,
		Version:  10 * time.Second,
		List:     15 * time.Second,
		Start:    90 * time.Second,
		Port:     5 * time.Second,
		DNS:      5 * time.Second,
		Logs:     5 * time.Second,
		Probe:    2 * time.Second,
		// Docker's default health check: 30 s interval + 30 s timeout,
		// twice (once more after a re-arm), and slack.
		RestoreCheck: 3 * time.Minute,
		Metrics:      time.Minute,
		Poll:         time.Second,
		Backoff:      10 * time.Second,
	}
}

// Env is the machine as dlr reaches it: one root for every path, and a
// function for each connection to the outside, so that tests run the real
// commands against a temporary directory and fakes. [New] gives the real
// ones.
type Env struct {
	// Root prefixes every path dlr reads or writes ("/" on a real host).
	Root string
	// Socket is the Docker API socket if --docker-socket names one; ""
	// means: from dockerd's -H flags, else DefaultSocket.
	Socket string
	// Self is dlr's own absolute path, for the hooks of its drop-in (""
	// = the running executable).
	Self string
	T    Timeouts

	Euid   func() int
	Getenv func(string) string
	Now    func() time.Time
	Signal func(pid int, sig syscall.Signal) error

	DialSystemd func(ctx context.Context) (Systemd, error)
	Docker      func(socket string) Docker
	Events      func(socket string) buffers.EventSource
	// Containers lists the running containers (call only while dockerd
	// runs).
	Containers func(ctx context.Context, socket string) ([]Container, error)
	// Inspect reads one container (nil, nil when it is gone or not
	// running).
	Inspect func(ctx context.Context, socket, id string) (*Container, error)
	// Pause pauses (pause true) or unpauses a container.
	Pause func(ctx context.Context, socket, id string, pause bool) error
	// NATPorts returns the host ports of the DNAT rules in iptables' nat
	// DOCKER chain (iptables -t nat -S DOCKER).
	NATPorts func(ctx context.Context) (map[int]bool, error)
	// NftRules reads dockerd's nftables table FAMILY docker-bridges
	// (family "ip" or "ip6"; nft -j list table); [ErrNoNftTable] when
	// there is none.
	NftRules func(ctx context.Context, family string) (NftRules, error)
	// DNS asks the DNS server at 127.0.0.11:53 inside the network
	// namespace of process pid for name, and returns the answer's rcode.
	DNS func(ctx context.Context, pid int, name string) (rcode int, err error)
	// Bridge returns the default bridge network's gateways.
	Bridge func(ctx context.Context, socket string) ([]string, error)
	// Journal returns the errors unit logged since a time.
	Journal func(ctx context.Context, unit string, since time.Time) []string
	// DockerdValidate runs `dockerd --validate` on a candidate file;
	// supported is false where dockerd has no --validate (before 23.0),
	// or cannot be run at all (then err says why).
	DockerdValidate func(ctx context.Context, dockerd string, args []string, candidate []byte) (out string, supported bool, err error)
	// DockerdVersion runs `dockerd --version` of the installed binary.
	DockerdVersion func(ctx context.Context, path string) (string, error)
	// ContainerdVersions returns the running containerd's version (as
	// dockerd reports it in GET /version) and the installed one's
	// (`containerd --version`, unless pid, the running containerd's PID,
	// runs the installed file: then it is the running one's; 0 if not
	// known).
	ContainerdVersions func(ctx context.Context, socket string, pid int) (running, installed string, err error)
	// ResetFailed clears units' failed state (systemctl reset-failed).
	ResetFailed func(ctx context.Context, units ...string) error
	// GPUContainers reports dockerd's cgroup driver and, under the systemd
	// driver, the running containers with GPU devices (call only while
	// dockerd runs).
	GPUContainers func(ctx context.Context, socket string) (GPUReport, error)
}

// New returns the real machine's Env.
func New() *Env {
	e := &Env{
		Root:   "/",
		T:      DefaultTimeouts(),
		Euid:   os.Geteuid,
		Getenv: os.Getenv,
		Now:    time.Now,
		Signal: func(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) },
		DialSystemd: func(ctx context.Context) (Systemd, error) {
			c, err := unit.Dial(ctx)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		Docker: func(socket string) Docker { return engineInfo{engineFor(socket)} },
		Events: func(socket string) buffers.EventSource { return buffers.EngineEvents(engine.New(socket)) },
	}
	e.Containers = e.realContainers
	e.Inspect = e.realInspect
	e.Pause = e.realPause
	e.NATPorts = e.realNATPorts
	e.NftRules = e.realNftRules
	e.DNS = e.realDNS
	e.Bridge = e.realBridge
	e.Journal = e.readJournal
	e.DockerdValidate = e.runDockerdValidate
	e.DockerdVersion = e.realDockerdVersion
	e.ContainerdVersions = e.realContainerdVersions
	e.ResetFailed = systemctlResetFailed
	e.GPUContainers = e.realGPUContainers
	return e
}

// Info calls /info on socket within the call timeout.
func (e *Env) Info(ctx context.Context, socket string) (Info, error) {
	cctx, cancel := context.WithTimeout(ctx, e.T.Call)
	defer cancel()
	return e.Docker(socket).Info(cctx)
}

// SelfPath returns the absolute path of dlr itself: Self, else the running
// executable with symlinks resolved ("/usr/bin/dlr" when installed by the
// package).
func (e *Env) SelfPath() string {
	if e.Self != "" {
		return e.Self
	}
	p, err := os.Executable()
	if err != nil {
		return "/usr/bin/dlr"
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	e.Self = p
	return p
}

// engineFor returns the process's one Engine API client for socket: a
// client learns the API version (GET /_ping) once, and a run that polls
// /info should not ask again each time. Short-lived commands only: the
// watcher, which outlives dockerd upgrades, makes a new client each time it
// connects.
func engineFor(socket string) *engine.Client {
	c, _ := engines.LoadOrStore(socket, engine.New(socket))
	return c.(*engine.Client)
}

var engines sync.Map // socket path -> *engine.Client

type engineInfo struct{ c *engine.Client }

func (a engineInfo) Info(ctx context.Context) (Info, error) {
	i, err := a.c.Info(ctx)
	if err != nil {
		return Info{}, err
	}
	return Info{
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
		Firewall:       firewallDriver(i.FirewallBackend),
		Rootless:       rootless(i.SecurityOptions),
	}, nil
}

// rootless reports whether dockerd's security options say it runs rootless.
func rootless(opts []string) bool {
	for _, o := range opts {
		if o == "name=rootless" || strings.HasPrefix(o, "name=rootless,") {
			return true
		}
	}
	return false
}
