package guard

import (
	"fmt"
	"strings"
)

// Rules about the host that `dlr check` lists (and that other commands ask
// where they need them). Each returns one finding with its Rule id (the
// check's stable "id"), a Title, and Pass/Warn/Fail/Skip.

// LiveRestoreState is what is known of live restore on the host.
type LiveRestoreState struct {
	Config    string
	ConfigErr error
	FileOn    bool // the file says true
	FlagOn    bool // a --live-restore flag turns it on
	// Daemon: the running daemon was asked (DaemonOn its answer); else
	// DaemonWhy says why not.
	Daemon, DaemonOn bool
	DaemonWhy        string
}

// LiveRestoreOn is the CIS Docker Benchmark's "Ensure live restore is
// enabled", in the file (or a flag) and in the running daemon.
func LiveRestoreOn(s LiveRestoreState) Finding {
	f := Finding{Rule: "live-restore", Title: "live restore enabled", Subject: s.Config}
	switch {
	case s.ConfigErr != nil:
		f.Severity, f.Message, f.Fix = Fail, s.ConfigErr.Error(), "fix daemon.json, then run dlr enable"
	case !s.FileOn && !s.FlagOn:
		f.Severity, f.Message, f.Fix = Fail, "not set in "+s.Config, "dlr enable"
	case s.Daemon && !s.DaemonOn:
		f.Severity, f.Message, f.Fix = Fail, "configured but the running dockerd has it off", "dlr enable (it reloads dockerd)"
	case !s.Daemon:
		f.Severity, f.Message = Warn, "configured; the running daemon could not be asked: "+s.DaemonWhy
	default:
		f.Severity, f.Message = Pass, "in the file and in the running daemon"
	}
	return f
}

// NoFlagConflicts folds FlagConflicts into one checklist line.
func NoFlagConflicts(conflicts []Finding) Finding {
	f := Finding{Rule: "flag-conflicts", Title: "no key both a flag and in daemon.json"}
	if len(conflicts) == 0 {
		return f
	}
	var parts []string
	for _, c := range conflicts {
		parts = append(parts, fmt.Sprintf("%s (flag in %s)", c.Subject, c.Where))
	}
	f.Severity, f.Message, f.Fix = Fail, strings.Join(parts, "; ")+": dockerd's next start will fail", "set each key in one place only"
	return f
}

// NoDrift folds the drift findings into one checklist line: FAIL while
// containers run (or when that is unknown), WARN when none runs (a
// restart then applies the edit cleanly).
func NoDrift(drift []Finding, baseName string, running int, runningKnown bool) Finding {
	f := Finding{Rule: "drift", Title: "daemon.json matches the running daemon"}
	details := strings.Join(Messages(drift), "; ")
	switch {
	case len(drift) == 0:
		f.Message = "no restore-breaking edit pending (against " + baseName + ")"
	case runningKnown && running == 0:
		f.Severity, f.Message, f.Fix = Warn, details+"; no container runs, so a restart applies it cleanly", "restart docker while no container runs"
	default:
		f.Severity, f.Message, f.Fix = Fail, details+": the next restart restores containers under settings that do not match, and the change silently does not apply", "revert the edit, or stop the containers and restart docker in a maintenance window"
	}
	return f
}

// KillMode: stopping a unit with another KillMode than process kills the
// containers' processes. found is false when the unit is not installed or
// not readable.
func KillMode(unit, mode string, found bool) Finding {
	f := Finding{Rule: "killmode-" + unit, Title: unit + " KillMode=process", Subject: unit}
	switch {
	case !found:
		f.Severity, f.Message = Skip, "not installed or not readable"
	case mode != "process":
		f.Severity, f.Message, f.Fix = Fail, "KillMode="+mode+": stopping "+unit+" kills the containers' processes", "dlr enable (it adds KillMode=process to its drop-in), or a drop-in with [Service] KillMode=process"
	}
	return f
}

// Dependents: units with Requires=/BindsTo=/PartOf=docker.service go down
// with it (targets and docker.socket aside).
func Dependents(units []string) Finding {
	f := Finding{Rule: "dependents", Title: "no unit goes down with docker.service"}
	var deps []string
	for _, d := range dedupe(units) {
		if !strings.HasSuffix(d, ".target") && d != "docker.socket" {
			deps = append(deps, d)
		}
	}
	if len(deps) > 0 {
		f.Severity, f.Message, f.Fix = Warn, strings.Join(deps, ", ")+" have Requires=/BindsTo=/PartOf=docker.service: systemd stops them when docker stops, defeating live restore", "use Wants= and After= instead"
	}
	return f
}

// RestartPolicies: a container without one stays down if live restore
// cannot apply. noPolicy are the containers without one that Docker lets have one;
// autoRemove the --rm containers, for which Docker refuses a restart policy
// (`docker update --restart` fails on them).
func RestartPolicies(noPolicy, autoRemove []string) Finding {
	f := Finding{Rule: "restart-policy", Title: "running containers have a restart policy"}
	var say, fix []string
	if len(noPolicy) > 0 {
		say = append(say, strings.Join(noPolicy, ", ")+" would stay down if live restore cannot apply")
		fix = append(fix, "docker update --restart unless-stopped NAME")
	}
	if len(autoRemove) > 0 {
		say = append(say, strings.Join(autoRemove, ", ")+" (started with --rm) would be gone for good")
		fix = append(fix, "a --rm container cannot have a restart policy (Docker refuses both): recreate it without --rm and with --restart unless-stopped if it must come back")
	}
	if len(say) > 0 {
		f.Severity, f.Message, f.Fix = Warn, strings.Join(say, "; "), strings.Join(fix, "; ")
	}
	return f
}

// PublishedPorts: connections through dockerd's proxy may drop while it is
// down.
func PublishedPorts(publishing []string) Finding {
	f := Finding{Rule: "published-ports", Title: "published ports survive an outage"}
	if len(publishing) > 0 {
		f.Severity, f.Message = Warn, strings.Join(publishing, ", ")+" publish ports through dockerd's proxy and iptables: connections may drop while dockerd is down"
	}
	return f
}

// VersionSkew judges the restart that the installed dockerd is waiting
// for (a package upgraded it under the running one) from the evidence
// (RestoreVerdict): the same release or a measured restore passes, a known
// bad release fails, anything else warns that it is not proven.
func VersionSkew(running, installed string, err error) Finding {
	f := Finding{Rule: "version", Title: "installed dockerd restores containers"}
	if err != nil {
		f.Severity, f.Message = Skip, err.Error()
		return f
	}
	v := RestoreVerdict("dockerd", running, installed)
	f.Severity, f.Subject, f.Fix = v.Severity, v.Subject, v.Fix
	f.Message = v.Message
	return f
}

// ContainerdSkew judges the restart that the installed containerd waits
// for, where a package replaced the running one without restarting it
// (Debian's containerd restarts itself; others may not), from the same
// evidence as VersionSkew.
func ContainerdSkew(running, installed string, err error) Finding {
	f := Finding{Rule: "containerd-version", Title: "installed containerd restores containers"}
	switch {
	case err != nil:
		f.Severity, f.Message = Skip, err.Error()
	case Version(running) == Version(installed):
		f.Message = "containerd " + running + " runs, the installed one"
	default:
		v := RestoreVerdict("containerd", running, installed)
		f.Severity, f.Subject, f.Fix = v.Severity, v.Subject, v.Fix
		f.Message = "running " + running + ", installed " + installed + ": " + v.Message
	}
	return f
}

// LogBuffers: a 64K FIFO blocks its container after 64K of output while
// dockerd is down. sizes are the FIFOs' sizes.
func LogBuffers(sizes []int64) Finding {
	f := Finding{Rule: "log-buffers", Title: "log buffers hold an outage"}
	small := 0
	for _, s := range sizes {
		if s <= 64<<10 {
			small++
		}
	}
	switch {
	case len(sizes) == 0:
		f.Message = "no container log FIFOs"
	case small > 0:
		f.Severity, f.Message, f.Fix = Warn, fmt.Sprintf("%d of %d log FIFOs are 64K: their containers block after 64K of output while dockerd is down", small, len(sizes)), "dlr enable (or dlr buffers)"
	default:
		f.Message = fmt.Sprintf("%d log FIFOs, all larger than 64K", len(sizes))
	}
	return f
}

// Watcher: the unit that grows the log buffers of new containers.
func Watcher(unit, loadState, activeState, fileState string) Finding {
	f := Finding{Rule: "watcher", Title: unit + " runs", Subject: unit}
	switch {
	case loadState == "" || loadState == "not-found":
		f.Severity, f.Message = Skip, "not installed (the packages install it)"
	case activeState == "active":
	case fileState == "disabled" || strings.HasPrefix(fileState, "masked"):
		f.Severity, f.Message, f.Fix = Warn, "it is "+fileState+": containers started from now on keep 64K log buffers", "systemctl enable --now "+unit
	default:
		f.Severity, f.Message, f.Fix = Warn, "it is "+activeState+": containers started from now on keep 64K log buffers", "journalctl -u "+unit+"; then dlr enable (it starts it)"
	}
	return f
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
