package host

import (
	"strconv"
	"strings"
)

// Cmdline is one view of dockerd's arguments and where it came from
// ("docker.service ExecStart", "the running dockerd (PID 1234)").
type Cmdline struct {
	Args   []string
	Source string
}

// Flag finds a long flag in dockerd's arguments, accepting both "--name=v"
// and "--name v" (and "-name", which Go's flag parsers also take). For a
// boolean flag ("--live-restore" alone), value is "true". The last
// occurrence wins, as in pflag.
func (c Cmdline) Flag(name string, boolean bool) (value string, ok bool) {
	for i := 0; i < len(c.Args); i++ {
		a := c.Args[i]
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
			case rest == "" && i+1 < len(c.Args):
				value, ok = c.Args[i+1], true
			case strings.HasPrefix(rest, "="):
				value, ok = rest[1:], true
			}
			break // "--x" matched; do not also try "-x"
		}
	}
	return value, ok
}

// LiveRestore reports whether --live-restore is among the arguments and the
// value it sets (raw as written).
func (c Cmdline) LiveRestore() (set, value bool, raw string) {
	v, ok := c.Flag("live-restore", true)
	if !ok {
		return false, false, ""
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return true, false, v
	}
	return true, b, v
}

// ConfigFile returns the --config-file argument, if any.
func (c Cmdline) ConfigFile() string {
	v, _ := c.Flag("config-file", false)
	return v
}

// Socket returns the unix socket dockerd listens on according to its -H or
// --host flags, or "" when they name none ("fd://" means systemd's
// docker.socket, which listens on the default path).
func (c Cmdline) Socket() string {
	for i := 0; i < len(c.Args); i++ {
		a := c.Args[i]
		var v string
		switch {
		case a == "-H" || a == "--host":
			if i+1 < len(c.Args) {
				v = c.Args[i+1]
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

// Snap reports whether this is Snap's dockerd (its binary lives under
// /snap/).
func (c Cmdline) Snap() bool {
	return len(c.Args) > 0 && strings.HasPrefix(c.Args[0], "/snap/")
}

// WithoutConfigFile returns the flags (Args[1:]) without --config-file, for
// `dockerd --validate --config-file CANDIDATE FLAGS`.
func (c Cmdline) WithoutConfigFile() []string {
	var out []string
	args := c.Args
	if len(args) > 0 {
		args = args[1:]
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--config-file" {
			i++
			continue
		}
		if strings.HasPrefix(a, "--config-file=") {
			continue
		}
		out = append(out, a)
	}
	return out
}

// splitCmdline splits /proc/PID/cmdline into arguments.
func splitCmdline(b []byte) []string {
	s := strings.TrimRight(string(b), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}
