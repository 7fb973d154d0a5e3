package ops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
)

// Check is `dlr check`: a host checklist in the spirit of
// docker-bench-security, each item PASS / WARN / FAIL / SKIP with the fix,
// one guard rule each. It exits 0 when nothing FAILs, 3 otherwise. It
// changes nothing.
func Check(ctx context.Context, e *Env, o Options, r *Report) error {
	f, err := e.Observe(ctx, o.Config, false)
	if err != nil {
		return failed("%v", err)
	}
	defer f.Close()
	c := &CheckReport{}
	r.Check = c
	r.Config, r.ConfigSource = f.Config, f.ConfigSource

	cfg, cfgErr := host.ReadConfig(f.Config)
	var info *host.Info
	infoWhy := "dockerd is not running"
	if f.Active {
		if i, err := e.Info(ctx, f.Socket); err == nil {
			info = &i
		} else {
			infoWhy = err.Error()
		}
	}
	e = e.prefetch(ctx, f, info)
	flagSrc, flagOn, _ := liveRestoreFlag(f)
	lr := guard.LiveRestoreState{Config: f.Config, ConfigErr: cfgErr, FileOn: cfgErr == nil && cfg.LiveRestoreWord() == "true",
		FlagOn: flagSrc != "" && flagOn, Daemon: info != nil, DaemonWhy: infoWhy}
	if info != nil {
		lr.DaemonOn = info.LiveRestore
	}
	c.add(guard.LiveRestoreOn(lr))
	c.add(guard.Protectable(e.unprotectable(f, info)))

	if info == nil {
		c.add(guard.Finding{Rule: "swarm", Severity: guard.Skip, Title: "not a swarm node", Message: "daemon not reachable"})
	} else {
		c.add(guard.Swarm(info.SwarmState, lr.FileOn || lr.FlagOn))
	}
	if cfgErr == nil {
		e.checkFile(ctx, c, f, cfg, info)
	}
	e.checkUnits(ctx, c, f)
	lrOn := lr.FileOn || lr.FlagOn
	if info != nil {
		lrOn = info.LiveRestore
	}
	e.checkRestartPath(c, f, lrOn)
	// A restart of docker.service starts the installed dockerd: its
	// release restores the containers (the running one when unknown).
	var skew *guard.Finding
	restorer := ""
	if info != nil {
		restorer = info.Version
	}
	if info != nil && e.DockerdVersion != nil && len(f.UnitCmd.Args) > 0 {
		installed, err := e.DockerdVersion(ctx, f.UnitCmd.Args[0])
		fd := guard.VersionSkew(info.Version, installed, err)
		skew = &fd
		if err == nil && guard.Version(installed) != "" {
			restorer = installed
		}
	}
	if info != nil && e.Containers != nil {
		e.checkContainers(ctx, c, f, cfg, lr.DaemonOn, info.Version, restorer)
	}
	c.add(e.lastRestore())
	if skew != nil {
		c.add(*skew)
	}
	if info != nil && e.ContainerdVersions != nil {
		// PID 0: prefetch looked containerd's up while the rest ran.
		running, installed, err := e.ContainerdVersions(ctx, f.Socket, 0)
		c.add(guard.ContainerdSkew(running, installed, err))
	}
	if info != nil {
		bufs, _, _ := e.logBuffers(ctx, o, f, host.DefaultDataRoot, false, nil)
		var own, execs []int64
		for _, b := range bufs {
			if b.Exec {
				execs = append(execs, b.Size)
			} else {
				own = append(own, b.Size)
			}
		}
		c.add(guard.LogBuffers(own, execs))
	}
	if f.SD != nil {
		w := guard.Watcher(host.WatcherService, "", "", "")
		if u := e.UnitNamed(ctx, f, host.WatcherService); u != nil {
			w = guard.Watcher(host.WatcherService, u.LoadState, u.ActiveState, u.UnitFileState)
		}
		c.add(w)
	}
	if c.Fails > 0 {
		return refused("%d check(s) failed", c.Fails)
	}
	return nil
}

// checkFile checks daemon.json against dockerd's flags and against what
// the running daemon uses.
func (e *Env) checkFile(ctx context.Context, c *CheckReport, f *host.Facts, cfg *host.Config, info *host.Info) {
	c.add(guard.NoFlagConflicts(guard.FlagConflicts(flags(f), cfg.Doc)))
	base, baseName := e.baseline(cfg)
	drift := append(guard.Drift(base, cfg.Doc), e.bridgeDrift(ctx, f, cfg, info)...)
	running, known := 0, info != nil
	if known {
		running = info.Running
	}
	c.add(guard.NoDrift(drift, baseName, running, known))
}

// checkUnits checks docker.service and containerd.service: KillMode, and
// the units that go down with docker.service.
func (e *Env) checkUnits(ctx context.Context, c *CheckReport, f *host.Facts) {
	for _, name := range []string{host.DockerService, "containerd.service"} {
		u := e.UnitNamed(ctx, f, name)
		found := u != nil && u.LoadState != "not-found"
		mode := ""
		if found {
			mode = u.KillMode
		}
		c.add(guard.KillMode(name, mode, found))
	}
	if u := f.Unit; u != nil {
		var deps []string
		for _, l := range [][]string{u.RequiredBy, u.BoundBy, u.ConsistsOf} {
			deps = append(deps, l...)
		}
		c.add(guard.Dependents(deps))
	}
}

// checkRestartPath checks what else restarts containerd or dockerd: a
// bond of docker.service to containerd.service, needrestart, and Ubuntu's
// docker.io/restart. liveRestoreOn is the running daemon's setting (the
// file's when the daemon is not reachable).
func (e *Env) checkRestartPath(c *CheckReport, f *host.Facts, liveRestoreOn bool) {
	c.add(e.containerdBond(f))
	c.add(guard.Needrestart(e.ReadNeedrestart(), liveRestoreOn))
	c.add(guard.DebconfRestart(e.ReadDebconfQuestion("docker.io/restart"), liveRestoreOn))
}

// checkContainers checks the running containers' restart policies,
// published ports, and what a restart of docker does to each by the hazard
// table: release is the dockerd that restart starts (the installed one),
// running the one running now.
func (e *Env) checkContainers(ctx context.Context, c *CheckReport, f *host.Facts, cfg *host.Config, liveRestoreOn bool, running, release string) {
	cs, err := e.Containers(ctx, f.Socket)
	if err != nil {
		c.add(guard.Finding{Rule: "restart-policy", Severity: guard.Skip, Title: "running containers have a restart policy", Message: err.Error()})
		return
	}
	var none, autoRemove, published []string
	var ports []guard.PublishedPort
	for _, ct := range cs {
		switch {
		case ct.Props.AutoRemove:
			autoRemove = append(autoRemove, ct.Name)
		case ct.RestartPolicy == "" || ct.RestartPolicy == "no":
			none = append(none, ct.Name)
		}
		if ct.Published {
			published = append(published, ct.Name)
		}
		for _, p := range ct.Ports {
			ports = append(ports, guard.PublishedPort{Container: ct.Name, HostPort: p.HostPort, Proto: p.Proto})
		}
	}
	c.add(guard.RestartPolicies(none, autoRemove))
	if liveRestoreOn {
		what := "a restart of the running dockerd (" + guard.Version(release) + ", as `systemctl restart docker` or a same-version reinstall does)"
		if guard.Version(release) != guard.Version(running) {
			what = "a restart of docker, onto the installed dockerd " + guard.Version(release) + " (" + guard.Version(running) + " runs)"
		}
		for _, fd := range restartHazards(cs, release, hostProps(cfg), what) {
			c.add(fd)
		}
	}
	c.add(guard.PublishedPorts(published))
	if len(ports) > 0 && e.NATPorts != nil {
		c.add(guard.FirewallRules(ports, e.nat(ctx, f, cfg), liveRestoreOn))
	}
}

// nat reads dockerd's firewall rules for the firewall-rules rule, with the
// backend dockerd uses ([Env.firewallBackend]): iptables' nat DOCKER
// chain, or nftables' tables ip and ip6 docker-bridges.
func (e *Env) nat(ctx context.Context, f *host.Facts, cfg *host.Config) guard.NAT {
	if cfg.IptablesOff() {
		return guard.NAT{IptablesOff: true}
	}
	backend := e.firewallBackend(ctx, f, cfg)
	if backend == guard.BackendNftables {
		return e.nftNAT(ctx, cfg)
	}
	if e.NATPorts == nil {
		return guard.NAT{Err: "iptables not readable here"}
	}
	ports, err := e.NATPorts(ctx)
	switch {
	case errors.Is(err, host.ErrNoDockerChain):
		return guard.NAT{ChainMissing: true}
	case err != nil:
		return guard.NAT{Err: err.Error()}
	}
	return guard.NAT{Ports: ports}
}

// firewallBackend is the backend the running dockerd writes its rules
// with: GET /info's (Docker 28.1 and later), else daemon.json's
// "firewall-backend".
func (e *Env) firewallBackend(ctx context.Context, f *host.Facts, cfg *host.Config) string {
	driver := ""
	if f.Active {
		if i, err := e.Info(ctx, f.Socket); err == nil {
			driver = i.Firewall
		}
	}
	return guard.FirewallBackend(driver, cfg.FirewallBackend())
}

// nftNAT reads dockerd's nftables tables: the DNAT rules of table ip
// docker-bridges, and whether table ip6 docker-bridges is there and holds
// rules (unless "ip6tables" is false).
func (e *Env) nftNAT(ctx context.Context, cfg *host.Config) guard.NAT {
	n := guard.NAT{Backend: guard.BackendNftables}
	if e.NftRules == nil {
		n.Err = "nftables not readable here"
		return n
	}
	v4, err := e.NftRules(ctx, "ip")
	switch {
	case errors.Is(err, host.ErrNoNftTable):
		n.ChainMissing = true
	case err != nil:
		n.Err = err.Error()
		return n
	}
	n.Ports = v4.DNAT
	if cfg.Ip6tablesOff() {
		return n
	}
	switch v6, err := e.NftRules(ctx, "ip6"); {
	case errors.Is(err, host.ErrNoNftTable):
		n.V6Missing = true
	case err != nil:
		n.Err = err.Error()
	case v6.Rules == 0:
		n.V6Empty = true
	}
	return n
}

// lastRestore judges the newest restore record.
func (e *Env) lastRestore() guard.Finding {
	last, err := e.restoreStore().Last()
	if err != nil {
		return guard.Finding{Rule: "last-restore", Severity: guard.Skip, Title: "last restore kept containers whole", Message: err.Error()}
	}
	if last == nil {
		return guard.LastRestore("", 0, 0, nil, 0)
	}
	f := guard.LastRestore(last.BackAt.UTC().Format(time.RFC3339), last.Containers, last.Kept, last.Problems, last.Mended)
	if f.Severity != guard.Pass {
		f.Message += lostNames(*last)
	}
	return f
}

// restartHazards is the hazard table's verdict on each running container
// for a restore by release: a finding per hit, or one PASS naming what was
// looked at. what says which restart it is.
func restartHazards(cs []host.Container, release string, hp guard.HostProps, what string) []guard.Finding {
	var out []guard.Finding
	for _, ct := range cs {
		out = append(out, guard.ContainerHazards(ct.Name, release, ct.Props, hp)...)
	}
	if len(out) == 0 {
		out = append(out, guard.Finding{Rule: "restore-hazard", Title: "every container survives a restore",
			Message: fmt.Sprintf("%s: none of %d running containers is hit by a known live-restore bug of that release (%d rows of upstream's history, docs/restore-checks.md)", what, len(cs), len(guard.Hazards))})
	}
	return out
}

// hostProps are the daemon settings the hazard table depends on.
func hostProps(cfg *host.Config) guard.HostProps {
	var hp guard.HostProps
	if cfg != nil && cfg.Doc != nil {
		for _, k := range []string{"host-gateway-ips", "host-gateway-ip"} {
			if _, ok := cfg.Doc.Lookup(k); ok {
				hp.HostGatewayIPs = true
			}
		}
	}
	return hp
}
