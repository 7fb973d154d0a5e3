package guard

import (
	"fmt"
	"sort"
	"strings"
)

// What a change of Docker's packages does to the running containers,
// judged before the change from the same evidence as a version skew
// (evidence.go) and from what each package is known to restart.

// Daemon is what a package installs: dockerd, containerd, or runc (not a
// daemon, but what every container's processes were started with).
type Daemon int

const (
	Dockerd Daemon = iota
	Containerd
	Runc
)

// String is the daemon's name, as guard.Matrix and the findings' ids spell
// it. (A typed kind rather than a switch on the string "containerd": Go
// compiled that switch into an 8-byte immediate that strings(1) isolated
// as the word "containe", which lintian flagged as a misspelling in the
// packaged binary.)
func (d Daemon) String() string { return [...]string{"dockerd", "containerd", "runc"}[d] }

// Role is what a package is to dlr: the daemon it installs, whether its
// maintainer scripts restart that daemon, and how that is known.
type Role struct {
	Daemon   Daemon
	Restarts bool
	Known    string // the evidence for Restarts
}

// Roles are the packages preflight judges; any other package is not
// Docker's and changes nothing for the containers.
var Roles = map[string]Role{
	"docker.io":     {Dockerd, false, "measured: Debian's docker.io never restarts dockerd"},
	"docker-ce":     {Dockerd, true, "measured: docker-ce restarts dockerd when dpkg configures it, on upgrade and reinstall (dlr's upgrade matrix, ce-* rows, a package built as Docker CE's .deb is)"},
	"moby-engine":   {Dockerd, true, "not measured by dlr: assumed to restart dockerd, as Docker CE's package does"},
	"containerd":    {Containerd, true, "measured: Debian's containerd restarts it"},
	"containerd.io": {Containerd, true, "not measured by dlr: assumed to restart containerd, as Debian's package does"},
	"runc":          {Runc, false, "runc is not a daemon"},
}

// DockerPackage reports whether preflight judges a package.
func DockerPackage(name string) bool { _, ok := Roles[name]; return ok }

// PkgChange is one package of a transaction that is about to happen:
// Old is the installed version ("" when none), New the version that will be
// unpacked ("" when the package is removed).
type PkgChange struct {
	Package string `json:"package"`
	Old     string `json:"old,omitempty"`
	New     string `json:"new,omitempty"`
	Remove  bool   `json:"remove,omitempty"`
}

// String is the change as preflight's first line names it.
func (c PkgChange) String() string {
	switch {
	case c.Remove:
		return c.Package + " " + c.Old + " removed"
	case c.Old == "":
		return c.Package + " (not installed) -> " + c.New
	}
	return c.Package + " " + c.Old + " -> " + c.New
}

// Restarts reports whether debconf says Ubuntu's docker.io restarts
// dockerd on upgrade (docker.io/restart is true).
func (q DebconfQuestion) Restarts() bool { return q.Found && q.Value == "true" }

// Transaction is the change and the host it will land on.
type Transaction struct {
	Changes []PkgChange
	// Dockerd is the running dockerd's version, "" when it does not run.
	Dockerd string
	// LiveRestore: the running daemon has it on.
	LiveRestore bool
	// Containers are the running containers' names.
	Containers []string
	// Props are the running containers' properties for the hazard table,
	// by name (a container without an entry is judged by the evidence
	// table alone).
	Props map[string]Props
	// Host are the daemon settings the hazard table depends on.
	Host HostProps
	// Bond is dlr check's containerd-bond finding: Fail when docker.service
	// goes down with containerd.service.
	Bond Finding
	// DockerIORestart: docker.io's debconf question docker.io/restart is
	// true (Ubuntu's package then restarts dockerd on upgrade).
	DockerIORestart bool
	// Scripts are the roles read from the packages' own maintainer
	// scripts ([ScriptRole]), by package: they win over [Roles], which
	// judge by name only a package whose scripts were not read.
	Scripts map[string]Role
}

// role is what the transaction knows of a package: its scripts' role,
// else its name's.
func (t Transaction) role(pkg string) (Role, bool) {
	if r, ok := t.Scripts[pkg]; ok {
		return r, true
	}
	r, ok := Roles[pkg]
	return r, ok
}

// Preflight judges a transaction: one finding per daemon the change
// touches, then one per running container. Nothing of Docker's in the
// transaction: no findings.
func Preflight(t Transaction) []Finding {
	var daemons []Finding
	dockerdNow, dockerdNext, bondNow := false, false, false
	dockerdTo := ""
	var dockerdVerdict Finding
	// With two dockerd packages in one transaction (docker-ce installed
	// while docker.io is removed), the one installed decides: the removal
	// stops dockerd, the installed package starts its own, which restores
	// the containers. Name order decides nothing.
	installing, replaced := "", false // replaced: a dockerd package is removed
	for _, c := range t.Changes {
		if r, ok := Roles[c.Package]; ok && r.Daemon == Dockerd {
			if c.Remove {
				replaced = true
			} else {
				installing = c.Package + " " + c.New
			}
		}
	}
	var containerdDown Finding
	for _, c := range t.Changes {
		role, ok := t.role(c.Package)
		if !ok {
			continue
		}
		restarts := role.Restarts
		known := role.Known
		if c.Package == "docker.io" && t.DockerIORestart {
			restarts, known = true, "docker.io/restart is true in debconf: the package restarts dockerd on upgrade"
		}
		f := Finding{Rule: "preflight-" + role.Daemon.String(), Subject: c.Package,
			Title: c.Package + " " + orNoVersion(c.Old) + " -> " + orNoVersion(c.New)}
		if c.Remove {
			f.Title = c.Package + " " + orNoVersion(c.Old) + " removed"
		}
		switch role.Daemon {
		case Dockerd:
			if c.Remove && installing != "" {
				f.Message = "dockerd stops with its package; " + installing + ", installed in the same transaction, starts its own and restores the containers (see its line)"
				if t.Dockerd != "" && !t.LiveRestore {
					f.Severity, f.Message = Fail, "dockerd stops and, with live restore off, stops every container"
					f.Fix = "dlr enable, before the upgrade"
				}
				break
			}
			if c.Remove {
				f.Severity = Warn
				f.Message = "dockerd stops; containers keep running only with live restore on, and nothing manages them until Docker is installed again"
				f.Fix = "remove Docker in a maintenance window"
				if t.Dockerd != "" && !t.LiveRestore {
					f.Severity, f.Message = Fail, "dockerd stops and, with live restore off, stops every container"
				}
				dockerdNow = true
				dockerdVerdict = Finding{Severity: Warn, Fix: f.Fix,
					Message: "dockerd stops with its package: live restore keeps the container running, unmanaged until Docker is installed again"}
				break
			}
			from := t.Dockerd
			if from == "" {
				f.Message = "dockerd does not run: no container to restore (" + known + ")"
				break
			}
			dockerdTo = c.New
			v := RestoreVerdict("dockerd", from, c.New)
			when := "the next docker restart"
			if restarts || replaced || c.Old == "" {
				// A package that replaces another, or is installed fresh,
				// starts dockerd as it installs.
				dockerdNow = true
				when = "its restart now"
			} else {
				dockerdNext = true
				when = "dockerd keeps running " + Version(from) + " (" + known + "); the next docker restart"
			}
			switch {
			case !t.LiveRestore:
				f.Severity = Fail
				if !restarts {
					f.Severity = Warn
				}
				f.Message = when + " stops every container: live restore is off"
				f.Fix = "dlr enable, before the upgrade"
			default:
				f.Severity, f.Fix = v.Severity, v.Fix
				f.Message = when + ": " + v.Message
				if restarts {
					f.Message += " (" + known + ")"
				}
			}
			dockerdVerdict = v
		case Containerd:
			if c.Remove {
				f.Severity, f.Message = Warn, "containerd stops: running containers keep their shims, but nothing can manage them until it is back"
				break
			}
			v := RestoreVerdict("containerd", c.Old, c.New)
			if d := ContainerdDowngrade(c.Old, c.New); d.Severity == Fail && len(t.Containers) > 0 {
				v = d
				containerdDown = d
			}
			f.Severity, f.Fix = v.Severity, v.Fix
			f.Message = "containerd restarts (" + known + "): " + v.Message
			if !restarts {
				f.Message = "containerd keeps running: " + v.Message
			}
			if restarts && t.Bond.Severity == Fail && t.Dockerd != "" {
				f.Severity = Fail
				f.Message = "containerd restarts (" + known + ") and docker.service goes down with it: " + t.Bond.Message
				f.Fix = t.Bond.Fix
				bondNow = true
			}
		case Runc:
			if c.Remove {
				f.Severity, f.Message = Warn, "without runc, docker exec and health checks fail in running containers"
				break
			}
			v := RestoreVerdict("runc", c.Old, c.New)
			f.Severity, f.Fix = v.Severity, v.Fix
			f.Message = "not a daemon: running containers keep their processes; " + v.Message
		}
		daemons = append(daemons, f)
	}
	if len(daemons) == 0 {
		return nil
	}
	cs := containerFindings(t, dockerdNow, dockerdNext, dockerdTo, dockerdVerdict)
	if containerdDown.Severity == Fail {
		for i := range cs {
			cs[i].Severity, cs[i].Fix = Fail, containerdDown.Fix
			cs[i].Message = "at risk: " + containerdDown.Message
		}
	}
	if bondNow && !dockerdNow {
		for i := range cs {
			cs[i].Severity, cs[i].Fix = Warn, t.Bond.Fix
			cs[i].Message = "at risk: dockerd is restarted with containerd; live restore restores it (measured: containerd's reinstall restarted a bound dockerd, containers kept their PIDs), but a stop of containerd leaves dockerd down"
			if !t.LiveRestore {
				cs[i].Severity = Fail
				cs[i].Message = "at risk: dockerd is restarted with containerd, and with live restore off that stops it"
			}
		}
	}
	return append(daemons, cs...)
}

// containerFindings says per running container what the change does to it.
func containerFindings(t Transaction, dockerdNow, dockerdNext bool, to string, v Finding) []Finding {
	names := append([]string(nil), t.Containers...)
	sort.Strings(names)
	var out []Finding
	for _, n := range names {
		f := Finding{Rule: "preflight-container", Subject: n, Title: n}
		switch {
		case dockerdNow && !t.LiveRestore:
			f.Severity, f.Message, f.Fix = Fail, "at risk: stopped when dockerd stops or restarts (live restore is off)", "dlr enable, before the upgrade"
		case dockerdNow && t.LiveRestore && len(hits(t, n, to)) > 0:
			f = hazardFinding(f, t, n, to, v, "at its restore now")
		case dockerdNext && t.LiveRestore && len(hits(t, n, to)) > 0:
			f = hazardFinding(f, t, n, to, v, "kept now; at the next docker restart onto "+Version(to))
		case dockerdNow && v.Severity == Pass:
			f.Message = "restored by live restore: " + v.Message
		case dockerdNow:
			f.Severity, f.Message, f.Fix = v.Severity, "at risk: "+v.Message, v.Fix
		case dockerdNext && !t.LiveRestore:
			f.Severity, f.Message, f.Fix = Warn, "kept now; stopped by the next docker restart (live restore is off)", "dlr enable, before restarting docker"
		case dockerdNext && v.Severity != Pass:
			f.Severity, f.Message, f.Fix = v.Severity, fmt.Sprintf("kept now; at risk at the next docker restart onto %s: %s", Version(to), v.Message), v.Fix
		case dockerdNext:
			f.Message = "kept now; restored by live restore at the next docker restart onto " + Version(to)
		default:
			f.Message = "kept: its processes and shim outlive the change (measured for containerd restarts, with live restore on and off)"
		}
		out = append(out, f)
	}
	return out
}

// hits are the hazard table's rows that hit container n when release to
// restores it.
func hits(t Transaction, n, to string) []Hit {
	p, ok := t.Props[n]
	if !ok || to == "" {
		return nil
	}
	return HazardsFor(to, p, t.Host)
}

// hazardFinding is a container's verdict when hazard rows hit it: the
// worst row's harm decides (FAIL for removed, data loss, a daemon panic;
// WARN for degraded), never milder than the evidence's verdict v; the fix
// names the release with the fix.
func hazardFinding(f Finding, t Transaction, n, to string, v Finding, when string) Finding {
	hs := hits(t, n, to)
	w, _ := WorstHit(hs)
	var say []string
	for _, h := range hs {
		say = append(say, h.Sentence(to))
	}
	f.Severity = max(w.Hazard.Harm.Severity(), v.Severity)
	f.Message = when + ": " + strings.Join(say, "; ")
	f.Fix = w.FixFor(n)
	return f
}

// ContainerdDowngrade judges a change of containerd from 2.x to 1.x: the
// shims of containers started under 2.x speak task API v3, which 1.x
// cannot talk to, so running containers are orphaned (containerd's own
// account, containerd/containerd#11720, open). Any other change: Pass.
func ContainerdDowngrade(from, to string) Finding {
	major := func(v string) int {
		m, _, _ := strings.Cut(Version(v), ".")
		n := 0
		fmt.Sscanf(m, "%d", &n)
		return n
	}
	f := Finding{Rule: "containerd-downgrade", Subject: "containerd"}
	if Version(from) == "" || Version(to) == "" || major(from) < 2 || major(to) >= 2 {
		return f
	}
	f.Severity = Fail
	f.Message = fmt.Sprintf("containerd %s -> %s is a downgrade from 2.x to 1.x: the running containers' shims speak task API v3, which containerd 1.x cannot talk to, so they are orphaned (containerd/containerd#11720, open; from upstream's report)", Version(from), Version(to))
	f.Fix = "stop the containers before downgrading containerd, or keep containerd " + Version(from)
	return f
}

func orNoVersion(v string) string {
	if strings.TrimSpace(v) == "" {
		return "(none)"
	}
	return v
}
