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
	"strconv"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/engine"
)

// The real connections behind Env's function fields: each runs a program
// with fixed arguments (nothing goes through a shell) or calls the Engine
// API, bounded by its named timeout.

// realContainers lists the running containers with their PIDs, restart
// policies and whether they publish ports: one listing for every command
// that needs it (check, drill).
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
	for i, ct := range list {
		d := details[i]
		if d == nil {
			continue // removed since the listing
		}
		if !d.State.Running || d.State.Pid == 0 {
			continue
		}
		name := ct.ID
		if len(ct.Names) > 0 {
			name = ct.Names[0]
		}
		f := Container{ID: ct.ID, Name: strings.TrimPrefix(name, "/"), PID: d.State.Pid, RestartPolicy: d.HostConfig.RestartPolicy.Name}
		for _, p := range ct.Ports {
			if p.PublicPort != 0 {
				f.Published = true
			}
		}
		out = append(out, f)
	}
	return out, nil
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
