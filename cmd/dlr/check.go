package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker-liverestore/dlr/engine"
	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/unit"
)

// checkItem is one line of `dlr check`.
type checkItem struct {
	ID     string `json:"id"`
	Result string `json:"result"` // PASS, WARN, FAIL or SKIP
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

type checkReport struct {
	Items []checkItem `json:"items"`
	Fails int         `json:"fails"`
	Warns int         `json:"warns"`
}

func (c *checkReport) add(id, result, title, detail, fix string) {
	c.Items = append(c.Items, checkItem{id, result, title, detail, fix})
	switch result {
	case "FAIL":
		c.Fails++
	case "WARN":
		c.Warns++
	}
}

func (c *checkReport) writeText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, it := range c.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", it.Result, it.Title, it.Detail)
		if it.Fix != "" && it.Result != "PASS" {
			fmt.Fprintf(tw, "\t\tfix: %s\n", it.Fix)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "%d FAIL, %d WARN\n", c.Fails, c.Warns)
}

// containerFacts is what `dlr check` needs to know of a running container.
type containerFacts struct {
	Name          string
	RestartPolicy string
	Published     bool
}

// check is `dlr check`: a host checklist in the spirit of
// docker-bench-security, each item PASS / WARN / FAIL with the fix. It exits
// 0 when nothing FAILs, 3 otherwise. It changes nothing.
func check(ctx context.Context, h *host, o options, r *report) error {
	obs, err := h.observe(ctx, o.config, false)
	if err != nil {
		return err
	}
	defer obs.close()
	c := &checkReport{}
	r.Check = c
	r.Config, r.ConfigSource = obs.config, obs.configSource

	cfg, cfgErr := readConfig(obs.config)
	var info *daemonInfo
	var infoErr error
	if obs.active {
		i, err := h.info(ctx, obs)
		if err == nil {
			info = &i
		}
		infoErr = err
	}

	// 1. Live restore (CIS Docker Benchmark: "Ensure live restore is enabled").
	flagSrc, flagOn, _ := flagLiveRestore(obs)
	fileOn := cfgErr == nil && cfg.liveRestoreWord() == "true"
	switch {
	case cfgErr != nil:
		c.add("live-restore", "FAIL", "live restore enabled", fmt.Sprintf("%v", cfgErr), "fix daemon.json, then run dlr enable")
	case !fileOn && !(flagSrc != "" && flagOn):
		c.add("live-restore", "FAIL", "live restore enabled", "not set in "+obs.config, "dlr enable")
	case info != nil && !info.LiveRestore:
		c.add("live-restore", "FAIL", "live restore enabled", "configured but the running dockerd has it off", "dlr enable (it reloads dockerd)")
	case info == nil:
		c.add("live-restore", "WARN", "live restore enabled", "configured; the running daemon could not be asked: "+errOr(infoErr, "dockerd is not running"), "")
	default:
		c.add("live-restore", "PASS", "live restore enabled", "in the file and in the running daemon", "")
	}

	// 2. Swarm.
	switch {
	case info == nil:
		c.add("swarm", "SKIP", "not a swarm node", "daemon not reachable", "")
	case swarmActive(info.SwarmState) && (fileOn || flagOn):
		c.add("swarm", "FAIL", "not a swarm node", "swarm is "+info.SwarmState+" and live restore is on: dockerd's next start will fail ("+swarmReason+")", "docker swarm leave, or dlr disable")
	case swarmActive(info.SwarmState):
		c.add("swarm", "WARN", "not a swarm node", "swarm is "+info.SwarmState+": live restore cannot be used on this node", "")
	default:
		c.add("swarm", "PASS", "not a swarm node", "", "")
	}

	// 3. Keys set both as a flag and in the file.
	if cfgErr == nil {
		var conflicts []string
		for _, src := range obs.flagSources() {
			for _, k := range guard.FlagKeys(src.args[1:]) {
				if _, in := cfg.doc.Lookup(k); in {
					conflicts = append(conflicts, fmt.Sprintf("%s (flag in %s)", k, src.source))
				}
			}
		}
		if len(conflicts) > 0 {
			c.add("flag-conflicts", "FAIL", "no key both a flag and in daemon.json", strings.Join(dedupe(conflicts), "; ")+": dockerd's next start will fail", "set each key in one place only")
		} else {
			c.add("flag-conflicts", "PASS", "no key both a flag and in daemon.json", "", "")
		}
	}

	// 4. Restore-breaking edits pending in the file.
	if cfgErr == nil {
		base, baseName := h.baseline(cfg)
		drift := guard.Breaking(guard.Diff(base, cfg.doc))
		var details []string
		for _, d := range drift {
			details = append(details, fmt.Sprintf("%s: %s -> %s", d.Key, show(d.Old), show(d.New)))
		}
		details = append(details, h.liveDrift(ctx, obs, cfg, info)...)
		switch {
		case len(details) == 0:
			c.add("drift", "PASS", "daemon.json matches the running daemon", "no restore-breaking edit pending (against "+baseName+")", "")
		case info != nil && info.Running == 0:
			c.add("drift", "WARN", "daemon.json matches the running daemon", strings.Join(details, "; ")+"; no container runs, so a restart applies it cleanly", "restart docker while no container runs")
		default:
			c.add("drift", "FAIL", "daemon.json matches the running daemon", strings.Join(details, "; ")+": the next restart restores containers under settings that do not match, and the change silently does not apply", "revert the edit, or stop the containers and restart docker in a maintenance window")
		}
	}

	// 5. KillMode of docker.service and containerd.service.
	for _, name := range []string{dockerService, "containerd.service"} {
		u := h.unitNamed(ctx, obs, name)
		switch {
		case u == nil || u.LoadState == "not-found":
			c.add("killmode-"+name, "SKIP", name+" KillMode=process", "not installed or not readable", "")
		case u.KillMode == "process":
			c.add("killmode-"+name, "PASS", name+" KillMode=process", "", "")
		default:
			c.add("killmode-"+name, "FAIL", name+" KillMode=process", "KillMode="+u.KillMode+": stopping "+name+" kills the containers' processes", "dlr enable (it adds KillMode=process to its drop-in), or a drop-in with [Service] KillMode=process")
		}
	}

	// 6. Units stopped (or restarted) with docker.service.
	if obs.svc != nil {
		var deps []string
		for _, l := range [][]string{obs.svc.RequiredBy, obs.svc.BoundBy, obs.svc.ConsistsOf} {
			for _, d := range l {
				if !strings.HasSuffix(d, ".target") && d != "docker.socket" {
					deps = append(deps, d)
				}
			}
		}
		if len(deps) > 0 {
			c.add("dependents", "WARN", "no unit goes down with docker.service", strings.Join(dedupe(deps), ", ")+" have Requires=/BindsTo=/PartOf=docker.service: systemd stops them when docker stops, defeating live restore", "use Wants= and After= instead")
		} else {
			c.add("dependents", "PASS", "no unit goes down with docker.service", "", "")
		}
	}

	// 7-8. Containers: restart policies and published ports.
	if info != nil && h.containers != nil {
		cs, err := h.containers(ctx, obs)
		if err != nil {
			c.add("restart-policy", "SKIP", "running containers have a restart policy", err.Error(), "")
		} else {
			var none, published []string
			for _, ct := range cs {
				if ct.RestartPolicy == "" || ct.RestartPolicy == "no" {
					none = append(none, ct.Name)
				}
				if ct.Published {
					published = append(published, ct.Name)
				}
			}
			if len(none) > 0 {
				c.add("restart-policy", "WARN", "running containers have a restart policy", strings.Join(none, ", ")+" would stay down if live restore cannot apply", "docker update --restart unless-stopped NAME")
			} else {
				c.add("restart-policy", "PASS", "running containers have a restart policy", "", "")
			}
			if len(published) > 0 {
				c.add("published-ports", "WARN", "published ports survive an outage", strings.Join(published, ", ")+" publish ports through dockerd's proxy and iptables: connections may drop while dockerd is down", "")
			} else {
				c.add("published-ports", "PASS", "published ports survive an outage", "", "")
			}
		}
	}

	// 9. Installed dockerd vs running dockerd.
	if info != nil && h.dockerdVersion != nil && len(obs.unitCmd.args) > 0 {
		installed, err := h.dockerdVersion(ctx, obs.unitCmd.args[0])
		switch {
		case err != nil:
			c.add("version", "SKIP", "installed dockerd matches the running one", err.Error(), "")
		case majorMinor(installed) != majorMinor(info.Version):
			c.add("version", "FAIL", "installed dockerd matches the running one", "running "+info.Version+", installed "+installed+": live restore holds only across patch releases, so the next restart will not restore the containers", "restart docker in a maintenance window")
		default:
			c.add("version", "PASS", "installed dockerd matches the running one", info.Version, "")
		}
	}

	// 10. Log buffers: a 64K FIFO blocks its container after 64K of output
	// while dockerd is down.
	if info != nil {
		st := &statusReport{}
		h.scanBuffers(ctx, o, obs, st, defaultDataRoot)
		small := 0
		for _, b := range st.LogBuffers {
			if b.Size <= 64<<10 {
				small++
			}
		}
		switch {
		case len(st.LogBuffers) == 0:
			c.add("log-buffers", "PASS", "log buffers hold an outage", "no container log FIFOs", "")
		case small > 0:
			c.add("log-buffers", "WARN", "log buffers hold an outage", fmt.Sprintf("%d of %d log FIFOs are 64K: their containers block after 64K of output while dockerd is down", small, len(st.LogBuffers)), "dlr enable (or dlr buffers)")
		default:
			c.add("log-buffers", "PASS", "log buffers hold an outage", fmt.Sprintf("%d log FIFOs, all larger than 64K", len(st.LogBuffers)), "")
		}
	}

	// 11. The watcher, which grows the log buffers of new containers.
	if obs.sd != nil {
		u := h.unitNamed(ctx, obs, watcherService)
		switch {
		case u == nil || u.LoadState == "not-found":
			c.add("watcher", "SKIP", watcherService+" runs", "not installed (the packages install it)", "")
		case u.ActiveState == "active":
			c.add("watcher", "PASS", watcherService+" runs", "", "")
		case u.UnitFileState == "disabled" || strings.HasPrefix(u.UnitFileState, "masked"):
			c.add("watcher", "WARN", watcherService+" runs", "it is "+u.UnitFileState+": containers started from now on keep 64K log buffers", "systemctl enable --now "+watcherService)
		default:
			c.add("watcher", "WARN", watcherService+" runs", "it is "+u.ActiveState+": containers started from now on keep 64K log buffers", "journalctl -u "+watcherService+"; then dlr enable (it starts it)")
		}
	}

	if c.Fails > 0 {
		return refused("%d check(s) failed", c.Fails)
	}
	return nil
}

// liveDrift compares daemon.json's bridge settings with what the daemon
// actually runs: the default bridge network's gateway against "bip".
func (h *host) liveDrift(ctx context.Context, obs *observed, cfg *configFile, info *daemonInfo) []string {
	if info == nil || h.bridge == nil {
		return nil
	}
	raw, ok := cfg.doc.Lookup("bip")
	if !ok {
		return nil
	}
	var bip string
	if json := strings.Trim(string(raw), `"`); json != "" {
		bip = json
	}
	want, err := netip.ParsePrefix(bip)
	if err != nil {
		return nil
	}
	gws, err := h.bridge(ctx, obs)
	if err != nil {
		return []string{fmt.Sprintf("cannot read the bridge network to compare with bip %s: %v", bip, err)}
	}
	if len(gws) == 0 {
		return []string{fmt.Sprintf("the bridge network reports no gateway to compare with bip %s", bip)}
	}
	for _, g := range gws {
		if a, err := netip.ParseAddr(g); err == nil && a == want.Addr() {
			return nil
		}
	}
	return []string{fmt.Sprintf("bip is %s in the file but the bridge network runs with gateway %s", bip, strings.Join(gws, ", "))}
}

func (h *host) unitNamed(ctx context.Context, obs *observed, name string) *unit.Unit {
	if name == obs.svcName && obs.svc != nil {
		return obs.svc
	}
	if obs.sd == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, h.callTimeout)
	defer cancel()
	u, err := obs.sd.Unit(cctx, name)
	if err != nil {
		return nil
	}
	return &u
}

func majorMinor(v string) string {
	v = strings.TrimPrefix(v, "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// realContainers lists running containers with their restart policy and
// whether they publish ports.
func realContainers(ctx context.Context, sock string) ([]containerFacts, error) {
	c := engine.New(sock)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := c.Containers(ctx)
	if err != nil {
		return nil, err
	}
	var out []containerFacts
	for _, ct := range list {
		f := containerFacts{Name: strings.TrimPrefix(firstOr(ct.Names, ct.ID), "/")}
		for _, p := range ct.Ports {
			if p.PublicPort != 0 {
				f.Published = true
			}
		}
		if d, err := c.Inspect(ctx, ct.ID); err == nil {
			f.RestartPolicy = d.HostConfig.RestartPolicy.Name
		}
		out = append(out, f)
	}
	return out, nil
}

// realBridge returns the gateways of the default bridge network.
func realBridge(ctx context.Context, sock string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := engine.New(sock).Network(ctx, "bridge")
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
func realDockerdVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
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

func firstOr(xs []string, d string) string {
	if len(xs) > 0 {
		return xs[0]
	}
	return d
}
