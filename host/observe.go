package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/docker-liverestore/dlr/unit"
)

// Facts is what dlr found out about the host before changing anything.
type Facts struct {
	Chroot    bool
	ChrootWhy string

	Systemd bool // systemd is PID 1 (and dlr is not in a chroot)
	SD      Systemd
	SDErr   error // why SD is nil although systemd runs

	Service string     // docker.service, or Snap's unit
	Unit    *unit.Unit // nil without systemd, or when Docker is not installed
	UnitCmd Cmdline    // ExecStart, variables expanded
	LiveCmd Cmdline    // the running dockerd's /proc/PID/cmdline
	PID     int        // dockerd's PID, 0 if not running
	Active  bool       // dockerd is running (and its socket may be used)

	Config       string // the daemon.json path
	ConfigSource string // how it was found
	Socket       string
	Warnings     []string
}

// Name is how messages name the daemon: its unit, else "dockerd (PID N)",
// else "dockerd".
func (f *Facts) Name() string {
	switch {
	case f.Service != "":
		return f.Service
	case f.PID > 0:
		return fmt.Sprintf("dockerd (PID %d)", f.PID)
	}
	return "dockerd"
}

// ReloadHow says how dockerd is reloaded here, for a plan's description.
func (f *Facts) ReloadHow() string {
	if f.Systemd && f.SD != nil {
		return "reload " + f.Service + " over D-Bus (not restart)"
	}
	return "send SIGHUP to " + f.Name() + " (a reload, not a restart)"
}

// Close closes the connection to systemd, if any.
func (f *Facts) Close() {
	if f.SD != nil {
		f.SD.Close()
	}
}

// FlagSources returns the views of dockerd's command line, most
// authoritative first.
func (f *Facts) FlagSources() []Cmdline {
	var out []Cmdline
	if len(f.LiveCmd.Args) > 0 {
		out = append(out, f.LiveCmd)
	}
	if len(f.UnitCmd.Args) > 0 {
		out = append(out, f.UnitCmd)
	}
	return out
}

// Dockerd returns the dockerd binary and its flags from the unit
// ("dockerd" and none without a unit).
func (f *Facts) Dockerd() Cmdline {
	if len(f.UnitCmd.Args) > 0 {
		return f.UnitCmd
	}
	return Cmdline{Args: []string{"dockerd"}}
}

// Observe looks at the host: chroot or not, systemd or not, docker.service
// and its command line, whether dockerd runs, and where daemon.json is
// (configFlag when given). It changes nothing and never connects to the
// Docker socket. With needBus, a systemd whose D-Bus API cannot be reached
// is an error (nothing has been changed yet, which is the point of checking
// first).
func (e *Env) Observe(ctx context.Context, configFlag string, needBus bool) (*Facts, error) {
	f := &Facts{}
	f.Chroot, f.ChrootWhy = e.InChroot()
	if _, err := os.Stat(e.Path(RunSystemd)); err == nil && !f.Chroot {
		f.Systemd = true
	}
	if f.Systemd {
		cctx, cancel := context.WithTimeout(ctx, e.T.Call)
		sd, err := e.DialSystemd(cctx)
		cancel()
		if err != nil {
			f.SDErr = err
			if needBus {
				return nil, fmt.Errorf("cannot reach systemd over D-Bus: %v; nothing was changed (run as root; or use --no-reload to write the files without touching the daemon)", err)
			}
		} else {
			f.SD = sd
			if err := e.readUnit(ctx, f); err != nil {
				f.Close()
				if needBus {
					return nil, fmt.Errorf("reading docker.service from systemd: %v; nothing was changed", err)
				}
				f.SDErr = err
				f.SD = nil
			}
		}
	} else if !f.Chroot {
		if pid := e.pidFileDockerd(); pid > 0 {
			f.PID, f.Active = pid, true
		}
	}
	if f.PID > 0 {
		f.LiveCmd = e.ProcCmdline(f.PID)
	}
	f.Config, f.ConfigSource = e.ConfigLocation(configFlag, f.FlagSources(), f.Service == SnapDockerService)
	f.Socket = e.SocketOf(f.FlagSources())
	return f, nil
}

// ConfigLocation is where daemon.json is, and how that was decided: the
// --config flag, else dockerd's --config-file (most authoritative command
// line first), else Snap's path for Snap's Docker (its unit, or a dockerd
// under /snap/), else the default. Every command finds daemon.json here.
func (e *Env) ConfigLocation(flag string, sources []Cmdline, snapUnit bool) (path, source string) {
	if flag != "" {
		return flag, "--config"
	}
	snap := snapUnit
	for _, c := range sources {
		if f := c.ConfigFile(); f != "" {
			return f, "--config-file in " + c.Source
		}
		snap = snap || c.Snap()
	}
	if snap {
		return e.Path(SnapConfig), "Snap's Docker"
	}
	return e.Path(DefaultConfig), "default"
}

// SocketOf returns the Docker API socket: --docker-socket, else the first
// -H unix:// of dockerd's command lines (most authoritative first), else
// the default.
func (e *Env) SocketOf(sources []Cmdline) string {
	if e.Socket != "" {
		return e.Socket
	}
	for _, c := range sources {
		if s := c.Socket(); s != "" {
			return s
		}
	}
	return e.Path(DefaultSocket)
}

// QuickDockerd finds a running dockerd without systemd, from its pid file
// and /proc, and the socket it listens on: what can be known before
// systemd answers. ok is false when the pid file names no live dockerd.
func (e *Env) QuickDockerd() (pid int, socket string, ok bool) {
	if chroot, _ := e.InChroot(); chroot {
		return 0, "", false
	}
	pid = e.pidFileDockerd()
	if pid == 0 {
		return 0, "", false
	}
	var sources []Cmdline
	if c := e.ProcCmdline(pid); len(c.Args) > 0 {
		sources = append(sources, c)
	}
	return pid, e.SocketOf(sources), true
}

// readUnit reads docker.service (or Snap's dockerd unit) over D-Bus.
func (e *Env) readUnit(ctx context.Context, f *Facts) error {
	for _, name := range []string{DockerService, SnapDockerService} {
		cctx, cancel := context.WithTimeout(ctx, e.T.Call)
		u, err := f.SD.Unit(cctx, name)
		cancel()
		if err != nil {
			return err
		}
		if u.LoadState == "not-found" && name == DockerService {
			continue
		}
		if u.LoadState == "not-found" {
			// Neither exists: Docker is not installed (yet).
			f.Service = DockerService
			return nil
		}
		f.Service, f.Unit = name, &u
		break
	}
	u := f.Unit
	if len(u.ExecStart) > 0 {
		files, read := e.envFiles(u, f)
		env := unit.MergeEnvironment(u.Environment, files...)
		src := f.Service + " ExecStart"
		if len(read) > 0 {
			// Fedora's OPTIONS=--live-restore in /etc/sysconfig/docker:
			// say where the flag comes from.
			src += " with variables from " + strings.Join(read, ", ")
		}
		f.UnitCmd = Cmdline{Args: unit.ExpandArgv(u.ExecStart[0], env), Source: src}
	}
	if u.ActiveState == "active" || u.ActiveState == "reloading" {
		f.Active = true
		f.PID = int(u.MainPID)
	}
	return nil
}

// envFiles reads the unit's EnvironmentFile= files (/etc/default/docker's
// DOCKER_OPTS, /etc/sysconfig/docker's OPTIONS), which feed ExecStart.
// read names the files read.
func (e *Env) envFiles(u *unit.Unit, f *Facts) (out []map[string]string, read []string) {
	for _, ef := range u.EnvironmentFiles {
		b, err := os.ReadFile(e.Path(ef.Path))
		if err != nil {
			if !(ef.Optional && errors.Is(err, os.ErrNotExist)) {
				f.Warnings = append(f.Warnings, fmt.Sprintf("cannot read %s (EnvironmentFile of %s): %v", ef.Path, u.Name, ErrText(err)))
			}
			continue
		}
		m, err := unit.ParseEnvironmentFile(b)
		if err != nil {
			f.Warnings = append(f.Warnings, fmt.Sprintf("cannot parse %s: %v", ef.Path, err))
			continue
		}
		out = append(out, m)
		read = append(read, ef.Path)
	}
	return out, read
}

// UnitNamed reads another unit than the Docker one over the same
// connection (nil without systemd or when the call fails).
func (e *Env) UnitNamed(ctx context.Context, f *Facts, name string) *unit.Unit {
	if name == f.Service && f.Unit != nil {
		return f.Unit
	}
	if f.SD == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, e.T.Call)
	defer cancel()
	u, err := f.SD.Unit(cctx, name)
	if err != nil {
		return nil
	}
	return &u
}
