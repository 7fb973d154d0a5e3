package guard

import (
	"fmt"
	"strings"
)

// What dlr knows about a daemon restart across versions with live restore
// on: the measured table of docs/upgrade-matrix.md, and the releases known
// to break a restore. A verdict on a version change comes only from here:
// measured -> PASS naming the measurement, known bad -> FAIL naming the
// upstream issue, anything else -> WARN "not proven". Versions are compared
// by their upstream release (Version: "26.1.5+dfsg1", the Debian package
// "26.1.5+dfsg1-9+deb13u1+b1" and Docker CE's "5:26.1.5-1~debian.12" are
// all 26.1.5).

// Measured is one restart measured by dlr's upgrade matrix.
type Measured struct {
	Component string // "dockerd" or "containerd"
	From, To  string // upstream releases, as Version returns them
	Restored  bool
	Evidence  string
}

// Matrix is what TestUpgradeMatrix measured (docs/upgrade-matrix.md,
// 2026-12-01, Debian's packages, live restore on, six containers: plain,
// logging, restart policy, published port, health check, user network).
// Update it from the test's FACT lines when `make matrix` measures more.
var Matrix = []Measured{
	{"dockerd", "20.10.24", "26.1.5", true, "bookworm-trixie/restart-docker: 6/6 containers kept their PIDs (Debian 20.10.24+dfsg1 -> 26.1.5+dfsg1)"},
	{"dockerd", "26.1.5", "26.1.5", true, "reinstall/restart-docker: 6/6 containers kept their PIDs (Debian 26.1.5+dfsg1)"},
	{"dockerd", "26.1.5", "28.5.2", true, "trixie-forky/restart-docker: 6/6 containers kept their PIDs (Debian 26.1.5+dfsg1 -> 28.5.2+dfsg4)"},
	// Upstream Docker Engine restarted by the docker-ce-like package's own
	// postinst (apt-get install, as on Docker CE's upgrade day), forky's
	// containerd 2.1.9 and runc 1.3.6, nine containers (the six above, a
	// bind mount, a named volume, --restart always): make matrix,
	// 2026-12-07.
	{"dockerd", "28.5.2", "29.6.0", true, "ce-upgrade-day/apt-docker-ce-29.6.0: 9/9 containers kept their PIDs, ports answered, health probes went on (docker-ce 28.5.2 -> 29.6.0 by its own restart)"},
	{"dockerd", "29.6.0", "29.7.1", true, "ce-minor/apt-docker-ce-29.7.1: 9/9 containers kept their PIDs, ports answered, health probes went on (docker-ce 29.6.0 -> 29.7.1 by its own restart)"},
	{"dockerd", "29.7.0", "29.7.1", true, "ce-patch/apt-docker-ce-29.7.1: 9/9 containers kept their PIDs, ports answered, health probes went on (docker-ce 29.7.0 -> 29.7.1 by its own restart)"},
	{"dockerd", "29.7.1", "29.6.0", true, "ce-downgrade/apt-docker-ce-29.6.0: 9/9 containers kept their PIDs, ports answered, health probes went on (docker-ce 29.7.1 -> 29.6.0, a downgrade, by its own restart)"},
	{"dockerd", "29.7.1", "29.7.1", true, "ce-reinstall/apt-reinstall-docker-ce-29.7.1: 9/9 containers kept their PIDs (docker-ce 29.7.1 reinstalled, restarted by its own postinst)"},
	{"containerd", "1.6.20", "1.7.24", true, "bookworm-trixie/apt-trixie-docker: 6/6 containers kept their PIDs (Debian 1.6.20~ds1 -> 1.7.24~ds1)"},
	{"containerd", "1.7.24", "1.7.24", true, "containerd/restart-containerd, reinstall/apt-reinstall: 6/6 containers kept their PIDs (Debian 1.7.24~ds1)"},
	{"containerd", "1.7.24", "2.1.9", true, "containerd/apt-forky-containerd, trixie-forky/apt-forky-docker: 6/6 containers kept their PIDs (Debian 1.7.24~ds1 -> 2.1.9)"},
	// runc is not a daemon: "restored" here means the running containers
	// kept their PIDs and their health probes (each an exec through the
	// new runc) went on after the upgrade.
	{"runc", "1.1.5", "1.1.15", true, "bookworm-trixie/apt-trixie-docker: 6/6 containers kept their PIDs, health probes went on (Debian 1.1.5+ds1 -> 1.1.15+ds1)"},
	{"runc", "1.1.15", "1.3.6", true, "trixie-forky/apt-forky-docker: 6/6 containers kept their PIDs, health probes went on (Debian 1.1.15+ds1 -> 1.3.6+ds1)"},
}

// KnownBad is a release that breaks the restore it performs.
type KnownBad struct {
	Component, Version string
	Why, Issue         string
}

// Bad lists the releases known to break a live restore, whatever they
// restore from.
var Bad = []KnownBad{
	{"dockerd", "24.0.3", "panics during the live restore of containers with bind mounts (a regression of 24.0.3, fixed in 24.0.4)", "moby/moby#45903"},
}

// Version returns the upstream release of a daemon's or a package's
// version: the epoch, a "v", the Debian revision or rpm release and any
// "+build"/"~tag" suffix dropped ("5:28.5.2-1~debian.12~bookworm" ->
// "28.5.2", "2.1.9+unknown" -> "2.1.9", "1.7.24~ds1-6+deb13u1" -> "1.7.24").
func Version(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	v = strings.TrimPrefix(v, "v")
	end := 0
	for end < len(v) && (v[end] == '.' || v[end] >= '0' && v[end] <= '9') {
		end++
	}
	return strings.TrimSuffix(v[:end], ".")
}

// RestoreVerdict judges a restart of component from one release onto
// another with live restore on: what the evidence says, and nothing more.
// The Finding has no Rule or Title: callers set them.
//
// A version that names no release ("library-import", what a build of
// moby's Go module reports unless its version was stamped; "dev") is
// judged not proven, and the message says so plainly: dlr cannot place
// such a daemon in its evidence, whatever it restores from or onto.
func RestoreVerdict(component, from, to string) Finding {
	f, t := Version(from), Version(to)
	if v := unplaced(from, f, to, t); v != "" {
		return Finding{Severity: Warn, Subject: component,
			Message: fmt.Sprintf("%s reports the version %q, which names no release (a build of moby without its version stamped reports \"library-import\"): dlr cannot place it in its evidence, so this restart is not proven", component, v),
			Fix:     "install a packaged release, or build " + component + " with its version stamped (moby: -ldflags \"-X github.com/moby/moby/v2/dockerversion.Version=X.Y.Z\"); else run `dlr drill` in a maintenance window"}
	}
	for _, b := range Bad {
		if b.Component == component && b.Version == t {
			return Finding{Severity: Fail, Subject: component,
				Message: component + " " + t + " " + b.Why + " (" + b.Issue + ")",
				Fix:     "do not restart onto " + component + " " + t + ": install a fixed release first"}
		}
	}
	for _, m := range Matrix {
		if m.Component == component && m.From == f && m.To == t {
			if !m.Restored {
				return Finding{Severity: Fail, Subject: component,
					Message: "a restart of " + component + " " + f + " onto " + t + " lost containers in dlr's upgrade matrix: " + m.Evidence,
					Fix:     "stop the containers first, or do not restart onto " + t}
			}
			return Finding{Severity: Pass, Subject: component,
				Message: component + " " + f + " -> " + t + ": restored in dlr's upgrade matrix, " + m.Evidence}
		}
	}
	if f != "" && f == t {
		return Finding{Severity: Pass, Subject: component,
			Message: component + " " + f + " restarts onto the same release: the restore `dlr drill` rehearses"}
	}
	return Finding{Severity: Warn, Subject: component,
		Message: component + " " + orUnknown(f) + " -> " + orUnknown(t) + ": not proven, dlr's upgrade matrix has not measured this restore",
		Fix:     "run `dlr drill` in a maintenance window after the upgrade, or restart in one"}
}

// unplaced returns the first of the raw versions from and to that is set
// but names no release (its Version, f or t, is empty), or "".
func unplaced(from, f, to, t string) string {
	switch {
	case strings.TrimSpace(from) != "" && f == "":
		return strings.TrimSpace(from)
	case strings.TrimSpace(to) != "" && t == "":
		return strings.TrimSpace(to)
	}
	return ""
}

func orUnknown(v string) string {
	if v == "" {
		return "(unknown)"
	}
	return v
}
