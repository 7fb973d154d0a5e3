package main

import (
	"strconv"
	"strings"
)

// Paths dockerd uses when its command line does not say otherwise.
const (
	defaultConfig     = "/etc/docker/daemon.json"
	snapConfig        = "/var/snap/docker/current/config/daemon.json"
	defaultSocket     = "/run/docker.sock"
	defaultPidFile    = "/var/run/docker.pid"
	defaultDataRoot   = "/var/lib/docker"
	dockerService     = "docker.service"
	snapDockerService = "snap.docker.dockerd.service"
)

// cmdline is one view of dockerd's arguments and where it came from
// ("docker.service ExecStart", "/proc/1234/cmdline", ...).
type cmdline struct {
	args   []string
	source string
}

// flag finds a long flag in dockerd's arguments, accepting both "--name=v"
// and "--name v" (and "-name", which Go's flag parsers also take). For a
// boolean flag ("--live-restore" alone), value is "true".
func (c cmdline) flag(name string, boolean bool) (value string, ok bool) {
	for i := 0; i < len(c.args); i++ {
		a := c.args[i]
		if a == "--" {
			break
		}
		for _, prefix := range []string{"--", "-"} {
			rest, has := strings.CutPrefix(a, prefix+name)
			if !has {
				continue
			}
			switch {
			case rest == "" && boolean:
				value, ok = "true", true
			case rest == "" && i+1 < len(c.args):
				value, ok = c.args[i+1], true
			case strings.HasPrefix(rest, "="):
				value, ok = rest[1:], true
			}
			break // "--x" matched; do not also try "-x"
		}
	}
	return value, ok // the last occurrence wins, as in pflag
}

// liveRestore reports whether --live-restore is among the arguments and the
// value it sets.
func (c cmdline) liveRestore() (set, value bool, raw string) {
	v, ok := c.flag("live-restore", true)
	if !ok {
		return false, false, ""
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return true, false, v
	}
	return true, b, v
}

// configFile returns the --config-file argument, if any.
func (c cmdline) configFile() string {
	v, _ := c.flag("config-file", false)
	return v
}

// socket returns the unix socket dockerd listens on according to its -H or
// --host flags, or "" when they name none ("fd://" means systemd's
// docker.socket, which listens on the default path).
func (c cmdline) socket() string {
	for i := 0; i < len(c.args); i++ {
		a := c.args[i]
		var v string
		switch {
		case a == "-H" || a == "--host":
			if i+1 < len(c.args) {
				v = c.args[i+1]
			}
		case strings.HasPrefix(a, "-H="), strings.HasPrefix(a, "--host="):
			_, v, _ = strings.Cut(a, "=")
		case strings.HasPrefix(a, "-H") && len(a) > 2:
			v = a[2:]
		}
		if p, ok := strings.CutPrefix(v, "unix://"); ok && p != "" {
			return p
		}
	}
	return ""
}

// splitCmdline splits /proc/PID/cmdline into arguments.
func splitCmdline(b []byte) []string {
	s := strings.TrimRight(string(b), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}
