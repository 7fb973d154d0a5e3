package guard

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/docker-liverestore/dlr/daemonjson"
)

// The rules about the host that more than one command asks. Each takes
// what was observed as plain values and returns findings; none does I/O.

// SwarmReason is dockerd's own words for refusing live restore on a swarm
// node (daemon/cluster, "incompatible with swarm mode").
const SwarmReason = "--live-restore daemon configuration is incompatible with swarm mode"

// Flags is one view of dockerd's command line: its arguments (argv) and
// where they came from.
type Flags struct {
	Args   []string
	Source string
}

// Swarm judges the node's swarm state (from /info) against live restore:
// dockerd refuses to start with live restore on a swarm node.
func Swarm(state string, liveRestore bool) Finding {
	f := Finding{Rule: "swarm", Title: "not a swarm node"}
	switch {
	case state == "" || state == "inactive":
		f.Severity = Pass
	case liveRestore:
		f.Severity = Fail
		f.Message = fmt.Sprintf("this node is in swarm mode (state %q) and live restore is on: dockerd refuses to start with live restore on a swarm node (%q), so its next start would fail", state, SwarmReason)
		f.Fix = "leave the swarm first ('docker swarm leave') or keep live restore off (dlr disable)"
	default:
		f.Severity = Warn
		f.Message = fmt.Sprintf("this node is in swarm mode (state %q): live restore cannot be used on it; dockerd refuses to start with it (%q)", state, SwarmReason)
		f.Fix = "leave the swarm first ('docker swarm leave') or keep live restore off"
	}
	return f
}

// SwarmFile judges dockerd's swarm state file, for a daemon that is not
// asked: it exists when the node was in a swarm when dockerd last ran.
func SwarmFile(path string) Finding {
	f := Finding{Rule: "swarm", Title: "not a swarm node", Subject: path}
	if path == "" {
		return f
	}
	f.Severity = Fail
	f.Message = fmt.Sprintf("%s exists: this node was in swarm mode when dockerd last ran. dockerd refuses to start with live restore on a swarm node (%q)", path, SwarmReason)
	f.Fix = "leave the swarm first ('docker swarm leave') or keep live restore off"
	return f
}

// FlagConflicts lists the keys set both on dockerd's command line and in
// the file: dockerd refuses to start then ("specified both as a flag and in
// the configuration file").
func FlagConflicts(sources []Flags, doc *daemonjson.Doc) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, src := range sources {
		if len(src.Args) == 0 {
			continue
		}
		for _, k := range FlagKeys(src.Args[1:]) {
			if _, in := doc.Lookup(k); !in || seen[k+src.Source] {
				continue
			}
			seen[k+src.Source] = true
			out = append(out, Finding{Rule: "flag-conflict", Severity: Fail, Title: "no key both a flag and in daemon.json", Subject: k, Where: src.Source,
				Message: fmt.Sprintf("%s: also given as a dockerd flag (in %s); dockerd would refuse to start (\"specified both as a flag and in the configuration file\")", k, src.Source),
				Fix:     "set it in one place only"})
		}
	}
	return out
}

// LiveRestoreFlag judges a --live-restore flag on dockerd's command line
// (raw as written, on its value, in src) against the file at config:
// with the key also in the file dockerd's next start fails; with the flag
// false, writing the key would make it fail; with the flag true live
// restore is on already and the file must not say it again.
func LiveRestoreFlag(src, raw string, on, inFile bool, config string) Finding {
	f := Finding{Rule: "live-restore-flag", Title: "live restore set in one place", Subject: "live-restore"}
	switch {
	case inFile:
		f.Severity = Fail
		f.Message = fmt.Sprintf("live-restore is set both by a flag (--live-restore=%s in %s) and in %s; dockerd's next start will fail with \"specified both as a flag and in the configuration file\"", raw, src, config)
		f.Fix = "remove one of them"
	case !on:
		f.Severity = Fail
		f.Message = fmt.Sprintf("dockerd runs with --live-restore=%s (%s); setting live-restore in %s would make its next start fail (\"specified both as a flag and in the configuration file\")", raw, src, config)
		f.Fix = "remove the flag first, then run dlr enable"
	default:
		f.Severity = Note
		f.Message = fmt.Sprintf("live restore is already enabled by a flag (--live-restore in %s); nothing written", src)
	}
	return f
}

// Drift lists the restore-breaking differences between what the running
// daemon uses (base, named baseName) and the file: with live restore on,
// the next restart restores the containers under settings that do not
// match, and the change silently does not apply.
func Drift(base, file *daemonjson.Doc) []Finding {
	var out []Finding
	for _, c := range Breaking(Diff(base, file)) {
		out = append(out, driftFinding(c.Key, fmt.Sprintf("%s: %s -> %s", c.Key, show(c.Old), show(c.New))))
	}
	return out
}

func driftFinding(key, msg string) Finding {
	return Finding{Rule: "drift", Severity: Fail, Title: "daemon.json matches the running daemon", Subject: key, Message: msg,
		Fix: "revert the edit, or stop the containers and restart docker in a maintenance window"}
}

// BridgeDrift compares "bip" in the file with the default bridge's
// gateways as the daemon runs it (gwErr when they could not be read).
func BridgeDrift(doc *daemonjson.Doc, gateways []string, gwErr error) []Finding {
	raw, ok := doc.Lookup("bip")
	if !ok {
		return nil
	}
	var bip string
	if json.Unmarshal(raw, &bip) != nil {
		bip = strings.Trim(string(raw), `"`)
	}
	want, err := netip.ParsePrefix(bip)
	if err != nil {
		return nil
	}
	switch {
	case gwErr != nil:
		return []Finding{driftFinding("bip", fmt.Sprintf("cannot read the bridge network to compare with bip %s: %v", bip, gwErr))}
	case len(gateways) == 0:
		return []Finding{driftFinding("bip", fmt.Sprintf("the bridge network reports no gateway to compare with bip %s", bip))}
	}
	for _, g := range gateways {
		if a, err := netip.ParseAddr(g); err == nil && a == want.Addr() {
			return nil
		}
	}
	return []Finding{driftFinding("bip", fmt.Sprintf("bip is %s in the file but the bridge network runs with gateway %s", bip, strings.Join(gateways, ", ")))}
}

// Messages returns the findings' messages.
func Messages(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Message)
	}
	return out
}
