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

// NAT is what dockerd's firewall rules hold, for [FirewallRules]: iptables'
// nat DOCKER chain, or with the nftables backend its tables ip and ip6
// docker-bridges.
type NAT struct {
	// Backend is [BackendIptables] ("" too) or [BackendNftables] (see
	// [FirewallBackend]).
	Backend string
	// Ports are the destination ports of the DNAT rules: in the nat
	// DOCKER chain (iptables), in table ip docker-bridges (nftables).
	Ports map[int]bool
	// ChainMissing: no nat DOCKER chain (iptables), no table ip
	// docker-bridges (nftables) at all.
	ChainMissing bool
	// V6Missing, V6Empty (nftables, where dockerd keeps IPv6 rules: its
	// "ip6tables" is not false): table ip6 docker-bridges is gone, or holds
	// no rule (dockerd always writes some: it was flushed).
	V6Missing, V6Empty bool
	Err                string // the rules could not be read: why
	IptablesOff        bool   // dockerd is told not to manage its firewall
}

// RestartDockerFix is the fix for dockerd's firewall rules gone while it
// runs: a restart rebuilds them, and with live restore on the containers
// keep running through it (measured on Docker 20.10 with iptables and on
// 29.7.1 with nftables, same PIDs).
const RestartDockerFix = "systemctl reset-failed docker.service; systemctl restart docker.service (live restore is on: dockerd rebuilds its rules as it starts and the containers keep running; dlr never does this unasked)"

// FirewallRules judges Docker's DNAT rules against the published ports: a
// firewall reload (firewalld, `iptables -F`, `nft flush ruleset`, an
// nftables.service restart) that flushes dockerd's rules while it runs
// leaves published ports dead from other hosts, and dockerd does not
// notice until it restarts. It reads the backend dockerd uses (nat.Backend).
func FirewallRules(ports []PublishedPort, nat NAT, liveRestoreOn bool) Finding {
	f := Finding{Rule: "firewall-rules", Title: "firewall rules for every published port"}
	nft := nat.Backend == BackendNftables
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
	var problems []string
	if len(missing) > 0 {
		sort.Strings(missing)
		what := "iptables' nat DOCKER chain has no DNAT rule for"
		switch {
		case nft && nat.ChainMissing:
			what = "nftables has no table ip " + nftTable + " at all, so no DNAT rule for"
		case nft:
			what = "nftables table ip " + nftTable + " has no DNAT rule for"
		case nat.ChainMissing:
			what = "iptables has no nat DOCKER chain at all, so no DNAT rule for"
		}
		problems = append(problems, fmt.Sprintf("%s %s: the port does not answer from other hosts", what, strings.Join(missing, ", ")))
	}
	switch {
	case nft && nat.V6Missing:
		problems = append(problems, "nftables has no table ip6 "+nftTable+": dockerd's IPv6 rules are gone")
	case nft && nat.V6Empty:
		problems = append(problems, "nftables table ip6 "+nftTable+" holds no rule: dockerd's IPv6 rules were flushed")
	}
	if len(problems) == 0 {
		if nft {
			f.Message = "nftables: table ip " + nftTable + " has a DNAT rule for each"
		}
		return f
	}
	f.Severity = Fail
	f.Message = strings.Join(problems, "; ") + " (a firewall reload flushed dockerd's rules while it ran)"
	if liveRestoreOn {
		f.Fix = RestartDockerFix
	} else {
		f.Fix = "restart dockerd to rebuild its rules, but live restore is off: that stops every container; run dlr enable first, then: systemctl restart docker.service"
	}
	return f
}

// nftTable is the name of dockerd's nftables tables (family ip and ip6).
const nftTable = "docker-bridges"

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
