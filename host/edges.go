package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/engine"
	"github.com/docker-liverestore/dlr/guard"
)

// The real connections behind Env's function fields: each runs a program
// with fixed arguments (nothing goes through a shell) or calls the Engine
// API, bounded by its named timeout.

// realContainers lists the running containers with their PIDs, restart
// policies, published ports, health checks and networks: one listing for
// every command that needs it (check, drill, the restore checks).
func (e *Env) realContainers(ctx context.Context, socket string) ([]Container, error) {
	c := engine.New(socket)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, e.T.List)
	defer cancel()
	list, err := c.Containers(ctx)
	if err != nil {
		return nil, err
	}
	details, err := inspectAll(ctx, c, list)
	if err != nil {
		return nil, err
	}
	var out []Container
	for _, d := range details {
		if d == nil {
			continue // removed since the listing
		}
		if f := containerOf(*d); f != nil {
			out = append(out, *f)
		}
	}
	return out, nil
}

// realInspect reads one container; nil when it is gone or not running.
func (e *Env) realInspect(ctx context.Context, socket, id string) (*Container, error) {
	ctx, cancel := context.WithTimeout(ctx, e.T.Call)
	defer cancel()
	d, err := engine.New(socket).Inspect(ctx, id)
	var se *engine.StatusError
	if errors.As(err, &se) && se.StatusCode == 404 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return containerOf(d), nil
}

// realPause pauses or unpauses a container.
func (e *Env) realPause(ctx context.Context, socket, id string, pause bool) error {
	ctx, cancel := context.WithTimeout(ctx, e.T.Call)
	defer cancel()
	if pause {
		return engine.New(socket).Pause(ctx, id)
	}
	return engine.New(socket).Unpause(ctx, id)
}

// containerOf is a running container as dlr sees it (nil if not running).
func containerOf(d engine.ContainerDetail) *Container {
	if !d.State.Running || d.State.Pid == 0 {
		return nil
	}
	name := strings.TrimPrefix(d.Name, "/")
	if name == "" {
		name = d.ID
	}
	f := &Container{ID: d.ID, Name: name, PID: d.State.Pid, RestartPolicy: d.HostConfig.RestartPolicy.Name,
		RestartCount: d.RestartCount, StartedAt: d.State.StartedAt, Paused: d.State.Paused, LogPath: d.LogPath}
	if h := d.State.Health; h != nil {
		f.Health = &Health{Status: h.Status, Interval: 30 * time.Second, Timeout: 30 * time.Second}
		if hc := d.Config.Healthcheck; hc != nil {
			if hc.Interval > 0 {
				f.Health.Interval = time.Duration(hc.Interval)
			}
			if hc.Timeout > 0 {
				f.Health.Timeout = time.Duration(hc.Timeout)
			}
		}
		for _, p := range h.Log {
			if p.Start.After(f.Health.LastProbe) {
				f.Health.LastProbe = p.Start
			}
		}
	}
	f.Ports = portsOf(d.NetworkSettings.Ports)
	f.Published = len(f.Ports) > 0
	for name := range d.NetworkSettings.Networks {
		if name != "bridge" && name != "host" && name != "none" {
			f.Networks = append(f.Networks, name)
		}
	}
	sort.Strings(f.Networks)
	f.Props = propsOf(d)
	return f
}

// propsOf reads what guard's hazard table looks at from a container's
// inspect: --rm, restart policy, mounts (with the volume options --mount
// gave), health check, extra hosts, network mode.
func propsOf(d engine.ContainerDetail) guard.Props {
	hc := d.HostConfig
	p := guard.Props{AutoRemove: hc.AutoRemove, RestartPolicy: hc.RestartPolicy.Name, Health: d.State.Health != nil,
		ExtraHosts: hc.ExtraHosts, NetworkMode: hc.NetworkMode}
	opts := map[string]map[string]string{} // a --mount volume's options, by volume name
	for _, m := range hc.Mounts {
		if m.Type == "volume" && m.VolumeOptions != nil && m.VolumeOptions.DriverConfig != nil {
			opts[m.Source] = m.VolumeOptions.DriverConfig.Options
		}
	}
	for _, m := range d.Mounts {
		p.Mounts = append(p.Mounts, guard.Mount{Type: m.Type, Name: m.Name, Driver: m.Driver, Options: opts[m.Name]})
	}
	return p
}

// portsOf lists the host sides of published ports ("8080/tcp" -> bindings),
// sorted.
func portsOf(m map[string][]engine.PortBinding) []Port {
	var out []Port
	for key, bs := range m {
		num, proto, _ := strings.Cut(key, "/")
		private, _ := strconv.Atoi(num)
		if proto == "" {
			proto = "tcp"
		}
		for _, b := range bs {
			if hp, err := strconv.Atoi(b.HostPort); err == nil && hp > 0 {
				out = append(out, Port{HostIP: b.HostIP, HostPort: hp, Proto: proto, Private: private})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.HostPort != b.HostPort {
			return a.HostPort < b.HostPort
		}
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		return a.HostIP < b.HostIP
	})
	return out
}

// realBridge returns the gateways of the default bridge network.
func (e *Env) realBridge(ctx context.Context, socket string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, e.T.Call)
	defer cancel()
	n, err := engine.New(socket).Network(ctx, "bridge")
	if err != nil {
		return nil, err
	}
	var gws []string
	for _, c := range n.IPAM.Config {
		if c.Gateway != "" {
			gws = append(gws, c.Gateway)
		}
	}
	if len(gws) > 0 {
		return gws, nil
	}
	// Docker 20.10 reports the default bridge's IPAM without a gateway
	// (seen in the rig): the bridge interface's own address is the truth.
	name := n.Options["com.docker.network.bridge.name"]
	if name == "" {
		name = "docker0"
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			gws = append(gws, p.Addr().String())
		}
	}
	return gws, nil
}

// realDockerdVersion runs `dockerd --version` ("Docker version 20.10.24+dfsg1,
// build ...") and returns the version.
func (e *Env) realDockerdVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, e.T.Version)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %v", path, err)
	}
	f := strings.Fields(strings.TrimSpace(string(out)))
	if len(f) >= 3 {
		return strings.TrimSuffix(f[2], ","), nil
	}
	return "", fmt.Errorf("%s --version printed %q", path, out)
}

// realContainerdVersions asks dockerd which containerd it runs with (GET
// /version's "containerd" component) and runs `containerd --version`
// ("containerd github.com/containerd/containerd/v2 2.1.9+unknown ...").
func (e *Env) realContainerdVersions(ctx context.Context, socket string) (string, string, error) {
	cctx, cancel := context.WithTimeout(ctx, e.T.Call)
	v, err := engineFor(socket).Version(cctx)
	cancel()
	if err != nil {
		return "", "", err
	}
	running := v.Component("containerd")
	if running == "" {
		return "", "", fmt.Errorf("dockerd's GET /version names no containerd component")
	}
	vctx, cancel := context.WithTimeout(ctx, e.T.Version)
	defer cancel()
	out, err := exec.CommandContext(vctx, "containerd", "--version").Output()
	if err != nil {
		return "", "", fmt.Errorf("containerd --version: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 {
		return "", "", fmt.Errorf("containerd --version printed %q", out)
	}
	return running, f[2], nil
}

// readJournal returns the errors the unit logged since a time: where dockerd
// says why it rejected a configuration ("unable to configure the Docker
// daemon with file ..."). It returns nothing if journalctl is missing or
// fails.
func (e *Env) readJournal(ctx context.Context, unitName string, since time.Time) []string {
	ctx, cancel := context.WithTimeout(ctx, e.T.Journal)
	defer cancel()
	out, err := exec.CommandContext(ctx, "journalctl", "--no-pager", "-q", "-o", "cat",
		"-u", unitName, "--since", "@"+strconv.FormatInt(since.Unix()-1, 10)).Output()
	if err != nil && len(out) == 0 {
		return nil
	}
	return JournalErrors(string(out))
}

// JournalErrors picks dockerd's error lines out of its log and returns their
// messages (the msg="..." part of logrus's text format), the last 3.
func JournalErrors(log string) []string {
	var lines []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "level=error") && !strings.Contains(l, "level=fatal") {
			continue
		}
		msg := strings.TrimSpace(l)
		if m, ok := logfmtField(l, "msg"); ok {
			msg = m
			// Docker 28 puts the reason in its own field:
			// msg="Error reloading configuration" error="unable to configure ...".
			if e, ok := logfmtField(l, "error"); ok {
				msg += ": " + e
			}
		}
		lines = append(lines, msg)
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return lines
}

// logfmtField returns the quoted value of key="..." in a logrus text line.
func logfmtField(l, key string) (string, bool) {
	for _, prefix := range []string{" " + key + "=", key + "="} {
		i := strings.Index(l, prefix)
		if i < 0 || (prefix == key+"=" && i != 0) {
			continue
		}
		q, err := strconv.QuotedPrefix(l[i+len(prefix):])
		if err != nil {
			continue
		}
		if u, err := strconv.Unquote(q); err == nil {
			return u, true
		}
	}
	return "", false
}

// runDockerdValidate runs `dockerd --validate --config-file FILE ARGS` on a
// private copy of the candidate. supported is false when this dockerd has no
// --validate (before 23.0; err nil) or cannot be run at all (err says why).
func (e *Env) runDockerdValidate(ctx context.Context, dockerd string, args []string, candidate []byte) (string, bool, error) {
	dir, err := os.MkdirTemp("", "dlr-validate-")
	if err != nil {
		return "", false, err
	}
	defer os.RemoveAll(dir)
	f := filepath.Join(dir, "daemon.json")
	if _, err := atomicfile.Replace(f, candidate, atomicfile.Options{Mode: 0o600}); err != nil {
		return "", false, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.T.Validate)
	defer cancel()
	cmdArgs := append([]string{"--validate", "--config-file", f}, args...)
	out, err := exec.CommandContext(ctx, dockerd, cmdArgs...).CombinedOutput()
	text := strings.TrimSpace(string(out))
	var ee *exec.ExitError
	switch {
	case err == nil:
		return text, true, nil
	case errors.As(err, &ee) && (strings.Contains(text, "unknown flag: --validate") || strings.Contains(text, "flag provided but not defined")):
		return text, false, nil
	case errors.As(err, &ee):
		return lastLine(text), true, err
	}
	return err.Error(), false, err // dockerd could not be run at all
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// systemctlResetFailed runs `systemctl reset-failed UNIT...`: the unit
// package has no ResetFailedUnit call.
func systemctlResetFailed(ctx context.Context, units ...string) error {
	out, err := exec.CommandContext(ctx, "systemctl", append([]string{"reset-failed"}, units...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl reset-failed: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
