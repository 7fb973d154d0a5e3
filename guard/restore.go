package guard

import (
	"fmt"
	"sort"
	"strings"
)

// PublishedPort is one published port of a running container, for
// [FirewallRules].
type PublishedPort struct {
	Container string
	HostPort  int
	Proto     string
}

// NAT is what iptables' nat DOCKER chain holds, for [FirewallRules].
type NAT struct {
	Ports        map[int]bool // destination ports of its DNAT rules
	ChainMissing bool         // no DOCKER chain at all
	Err          string       // iptables could not be read: why
	IptablesOff  bool         // dockerd is told not to manage iptables
}

// RestartDockerFix is the fix for dockerd's firewall rules gone while it
// runs: a restart rebuilds them, and with live restore on the containers
// keep running through it (measured on Docker 20.10, same PIDs).
const RestartDockerFix = "systemctl reset-failed docker.service; systemctl restart docker.service (live restore is on: dockerd rebuilds its rules as it starts and the containers keep running; dlr never does this unasked)"

// FirewallRules judges Docker's DNAT rules against the published ports: a
// firewall reload (firewalld, `iptables -F`, an nftables ruleset) that
// flushes dockerd's chains while it runs leaves published ports dead from
// other hosts, and dockerd does not notice until it restarts.
func FirewallRules(ports []PublishedPort, nat NAT, liveRestoreOn bool) Finding {
	f := Finding{Rule: "firewall-rules", Title: "firewall rules for every published port"}
	switch {
	case len(ports) == 0:
		f.Message = "no published ports"
		return f
	case nat.IptablesOff:
		f.Severity, f.Message = Skip, "dockerd does not manage iptables here (\"iptables\": false)"
		return f
	case nat.Err != "":
		f.Severity, f.Message = Skip, nat.Err
		return f
	}
	var missing []string
	for _, p := range ports {
		if nat.ChainMissing || !nat.Ports[p.HostPort] {
			missing = append(missing, fmt.Sprintf("%s %d/%s", p.Container, p.HostPort, p.Proto))
		}
	}
	if len(missing) == 0 {
		return f
	}
	sort.Strings(missing)
	f.Severity = Fail
	what := "iptables' nat DOCKER chain has no DNAT rule for"
	if nat.ChainMissing {
		what = "iptables has no nat DOCKER chain at all, so no DNAT rule for"
	}
	f.Message = fmt.Sprintf("%s %s: the port does not answer from other hosts (a firewall reload flushed dockerd's rules while it ran)", what, strings.Join(missing, ", "))
	if liveRestoreOn {
		f.Fix = RestartDockerFix
	} else {
		f.Fix = "restart dockerd to rebuild its rules, but live restore is off: that stops every container; run dlr enable first, then: systemctl restart docker.service"
	}
	return f
}

// LastRestore judges the last restore dlr checked: when, how many
// containers, how many kept, and its problems by kind (none: a pass).
func LastRestore(when string, containers, kept int, problems map[string]int, mended int) Finding {
	f := Finding{Rule: "last-restore", Title: "last restore kept containers whole"}
	if when == "" {
		f.Severity, f.Message = Skip, "no restore recorded yet (dlr watch records each one)"
		return f
	}
	var ps []string
	for k, n := range problems {
		if n > 0 {
			ps = append(ps, fmt.Sprintf("%d %s", n, k))
		}
	}
	sort.Strings(ps)
	f.Message = fmt.Sprintf("%s: %d containers, %d kept", when, containers, kept)
	if mended > 0 {
		f.Message += fmt.Sprintf(", %d mended", mended)
	}
	if len(ps) == 0 {
		return f
	}
	f.Severity = Warn
	f.Message += "; problems: " + strings.Join(ps, ", ")
	f.Fix = "dlr status --json shows each container's checks; docs/restore-checks.md says what each problem means and what to do"
	return f
}
