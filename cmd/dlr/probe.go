package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker-liverestore/dlr/unit"
)

// observed is what dlr found out about the host before changing anything.
type observed struct {
	chroot    bool
	chrootWhy string

	systemd bool // systemd is PID 1
	sd      systemdAPI
	sdErr   error // why sd is nil although systemd runs

	svcName string     // docker.service, or Snap's unit
	svc     *unit.Unit // nil without systemd
	unitCmd cmdline    // ExecStart, variables expanded
	liveCmd cmdline    // the running dockerd's /proc/PID/cmdline
	pid     int        // dockerd's PID, 0 if not running
	active  bool       // dockerd is running (and its socket may be used)

	config       string // the daemon.json path
	configSource string // how it was found
	socket       string
	warnings     []string
}

func (o *observed) close() {
	if o.sd != nil {
		o.sd.Close()
	}
}

// flagSources returns the views of dockerd's command line, most
// authoritative first.
func (o *observed) flagSources() []cmdline {
	var out []cmdline
	if len(o.liveCmd.args) > 0 {
		out = append(out, o.liveCmd)
	}
	if len(o.unitCmd.args) > 0 {
		out = append(out, o.unitCmd)
	}
	return out
}

// observe looks at the host: chroot or not, systemd or not, docker.service
// and its command line, whether dockerd runs, and where daemon.json is. It
// changes nothing and never connects to the Docker socket. With needBus, a
// systemd whose D-Bus API cannot be reached is an error (nothing has been
// changed yet, which is the point of checking first).
func (h *host) observe(ctx context.Context, configFlag string, needBus bool) (*observed, error) {
	o := &observed{}
	o.chroot, o.chrootWhy = h.inChroot()
	if _, err := os.Stat(h.runSystemd); err == nil && !o.chroot {
		o.systemd = true
	}
	if o.systemd {
		cctx, cancel := context.WithTimeout(ctx, h.callTimeout)
		sd, err := h.dialSystemd(cctx)
		cancel()
		if err != nil {
			o.sdErr = err
			if needBus {
				return nil, failed("cannot reach systemd over D-Bus: %v; nothing was changed (run as root; or use --no-reload to write the files without touching the daemon)", err)
			}
		} else {
			o.sd = sd
			if err := h.readUnit(ctx, o); err != nil {
				o.close()
				if needBus {
					return nil, failed("reading docker.service from systemd: %v; nothing was changed", err)
				}
				o.sdErr = err
				o.sd = nil
			}
		}
	} else if !o.chroot {
		h.readPidFile(o)
	}
	if o.pid > 0 {
		o.liveCmd = h.procCmdline(o.pid)
	}

	// daemon.json: --config, else dockerd's --config-file, else the default
	// (Snap's for Snap's Docker).
	switch {
	case configFlag != "":
		o.config, o.configSource = configFlag, "--config"
	default:
		for _, c := range o.flagSources() {
			if f := c.configFile(); f != "" {
				o.config, o.configSource = f, "--config-file in "+c.source
				break
			}
		}
	}
	if o.config == "" {
		if o.svcName == snapDockerService {
			o.config, o.configSource = h.snapConfig, "Snap's Docker"
		} else {
			o.config, o.configSource = h.defaultConfig, "default"
		}
	}

	o.socket = h.socketOf(o.flagSources())
	return o, nil
}

// procCmdline returns the command line of process pid as a flag source
// ("the running dockerd"), empty if it cannot be read.
func (h *host) procCmdline(pid int) cmdline {
	b, err := os.ReadFile(filepath.Join(h.proc, strconv.Itoa(pid), "cmdline"))
	if err != nil || len(b) == 0 {
		return cmdline{}
	}
	return cmdline{args: splitCmdline(b), source: fmt.Sprintf("the running dockerd (PID %d)", pid)}
}

// socketOf returns the Docker API socket: --docker-socket, else the first
// -H unix:// of dockerd's command lines (most authoritative first), else
// the default.
func (h *host) socketOf(sources []cmdline) string {
	if h.dockerSocket != "" {
		return h.dockerSocket
	}
	for _, c := range sources {
		if s := c.socket(); s != "" {
			return s
		}
	}
	return defaultSocket
}

// observeForChange is observe for a command that changes the host: it
// needs systemd's D-Bus unless no daemon is to be touched, and puts what it
// found in the report (the daemon.json path and where it came from, or
// source when given; warnings; a chroot). touch says whether the running
// system may be touched: not with --no-reload and not in a chroot.
func (h *host) observeForChange(ctx context.Context, o options, config, source string, r *report) (*observed, bool, error) {
	touch := !o.noReload
	obs, err := h.observe(ctx, config, touch && !o.dryRun)
	if err != nil {
		return nil, false, err
	}
	if source != "" {
		obs.configSource = source
	}
	r.Config, r.ConfigSource = obs.config, obs.configSource
	r.Warnings = append(r.Warnings, obs.warnings...)
	if obs.chroot {
		r.note("%s: writing files only, no daemon is touched", obs.chrootWhy)
		touch = false
	}
	return obs, touch, nil
}

// readUnit reads docker.service (or Snap's dockerd unit) over D-Bus.
func (h *host) readUnit(ctx context.Context, o *observed) error {
	for _, name := range []string{dockerService, snapDockerService} {
		cctx, cancel := context.WithTimeout(ctx, h.callTimeout)
		u, err := o.sd.Unit(cctx, name)
		cancel()
		if err != nil {
			return err
		}
		if u.LoadState == "not-found" && name == dockerService {
			continue
		}
		if u.LoadState == "not-found" {
			// Neither exists: Docker is not installed (yet).
			o.svcName = dockerService
			return nil
		}
		o.svcName, o.svc = name, &u
		break
	}
	u := o.svc
	if len(u.ExecStart) > 0 {
		env := unit.MergeEnvironment(u.Environment, h.envFiles(u, o)...)
		o.unitCmd = cmdline{args: unit.ExpandArgv(u.ExecStart[0], env), source: o.svcName + " ExecStart"}
	}
	if u.ActiveState == "active" || u.ActiveState == "reloading" {
		o.active = true
		o.pid = int(u.MainPID)
	}
	return nil
}

// envFiles reads the unit's EnvironmentFile= files (/etc/default/docker's
// DOCKER_OPTS, /etc/sysconfig/docker's OPTIONS), which feed ExecStart.
func (h *host) envFiles(u *unit.Unit, o *observed) []map[string]string {
	var out []map[string]string
	for _, ef := range u.EnvironmentFiles {
		b, err := os.ReadFile(filepath.Join(h.root, ef.Path))
		if err != nil {
			if !(ef.Optional && errors.Is(err, os.ErrNotExist)) {
				o.warnings = append(o.warnings, fmt.Sprintf("cannot read %s (EnvironmentFile of %s): %v", ef.Path, u.Name, errText(err)))
			}
			continue
		}
		m, err := unit.ParseEnvironmentFile(b)
		if err != nil {
			o.warnings = append(o.warnings, fmt.Sprintf("cannot parse %s: %v", ef.Path, err))
			continue
		}
		out = append(out, m)
	}
	return out
}

// readPidFile finds dockerd without systemd, from its pid file.
func (h *host) readPidFile(o *observed) {
	b, err := os.ReadFile(h.pidFile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return
	}
	comm, err := os.ReadFile(filepath.Join(h.proc, strconv.Itoa(pid), "comm"))
	if err != nil || strings.TrimSpace(string(comm)) != "dockerd" {
		return // a stale pid file
	}
	o.pid, o.active = pid, true
}
