package host

import "path/filepath"

// Paths dlr reads and writes on a real host. [Env.Path] puts them under
// [Env.Root].
const (
	DefaultConfig   = "/etc/docker/daemon.json"
	SnapConfig      = "/var/snap/docker/current/config/daemon.json"
	DefaultSocket   = "/run/docker.sock"
	DefaultPidFile  = "/var/run/docker.pid"
	DefaultDataRoot = "/var/lib/docker"
	DefaultExecRoot = "/var/run/docker" // dockerd's --exec-root default
	StateDir        = "/var/lib/docker-liverestore"
	LockFile        = "/run/docker-liverestore/lock"
	// RestoreLock is held by whoever checks a restore (the drill from
	// before its outage to the end of its checks, the watcher while it
	// checks), so that one restore is checked, and mended, once.
	RestoreLock = "/run/docker-liverestore/restore.lock"
	BootID      = "/proc/sys/kernel/random/boot_id"
	// TextfileDir is prometheus-node-exporter's textfile directory on
	// Debian; the watcher writes MetricsFile there when it exists.
	TextfileDir   = "/var/lib/prometheus/node-exporter"
	MetricsFile   = "docker-liverestore.prom"
	ProcDir       = "/proc"
	ProcSysDir    = "/proc/sys"
	RunSystemd    = "/run/systemd/system" // exists when systemd is PID 1
	UnitDir       = "/etc/systemd/system" // where dlr writes its drop-ins
	VendorUnitDir = "/usr/lib/systemd/system"
	LibUnitDir    = "/lib/systemd/system" // Debian's packages' unit dir (= /usr/lib where /usr is merged)
	CgroupRoot    = "/sys/fs/cgroup"

	DockerService     = "docker.service"
	SnapDockerService = "snap.docker.dockerd.service"
	WatcherService    = "docker-liverestore.service"
)

// Path returns the path p (absolute, as on a real host) under e.Root.
func (e *Env) Path(p string) string {
	if e.Root == "" || e.Root == "/" {
		return p
	}
	return filepath.Join(e.Root, p)
}
