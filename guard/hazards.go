package guard

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// What a live restore does to particular containers on particular
// releases: upstream's bugs in the restoring dockerd, as moby/moby's issues
// and pull requests describe them. The evidence table (evidence.go) says
// whether a restart of a daemon restores; this table says which running
// containers a restore onto a release still breaks, and how. Every command
// that judges a restart (check, preflight, drill, the restore report) asks
// it through Hazards; none re-derives a row.
//
// A row says only what its sources say (the issue, the fix's pull request,
// the release the fix first shipped in, read from the moby/moby texts and
// tags; docs/restore-checks.md cites them). What could not be confirmed is
// in the row's Unconfirmed. Rows dlr reproduced in its rig (e2e
// TestHazards*) have Reproduced set; the others' messages say "from
// upstream's report".

// Harm is what a hazard does to a container; Removed, DataLoss and Panic
// FAIL a verdict, Degraded WARNs.
type Harm int

const (
	Degraded Harm = iota // the container keeps running, something in it or around it is broken
	DataLoss             // the restore loses (or lets Docker delete) the container's data
	Removed              // the restore stops and removes the container
	Panic                // the restoring dockerd panics: every container on the host unmanaged
)

func (c Harm) String() string {
	return [...]string{"degraded", "data loss", "removed", "daemon panic"}[c]
}

// Severity is how a verdict rates the class.
func (c Harm) Severity() Severity {
	if c == Degraded {
		return Warn
	}
	return Fail
}

// Span is a run of upstream releases: From (inclusive, "" for every
// earlier one) up to Before (exclusive, "" for no fix yet).
type Span struct{ From, Before string }

// Mount is one mount of a container, as dockerd's inspect shows it.
type Mount struct {
	Type   string // "bind", "volume", "tmpfs", ...
	Name   string // the volume's name
	Driver string // the volume's driver, "local" for Docker's own
	// Options are the local driver's type/device/o options where the
	// container's inspect carries them (a volume created by --mount with
	// volume-opt); a volume created beforehand by `docker volume create -o`
	// has them only in GET /volumes, which dlr does not read per container.
	Options map[string]string
}

// Props are the properties of one running container the hazard table
// looks at, read from dockerd's inspect of it (no other call).
type Props struct {
	AutoRemove    bool     `json:",omitempty"`
	RestartPolicy string   `json:",omitempty"`
	Mounts        []Mount  `json:",omitempty"`
	Health        bool     `json:",omitempty"` // it has a health check
	ExtraHosts    []string `json:",omitempty"`
	// NetworkMode is "bridge", "host", "none", "container:ID", a network's
	// name, or "default".
	NetworkMode string `json:",omitempty"`
}

// HostProps are the daemon's settings a hazard depends on.
type HostProps struct {
	// HostGatewayIPs: daemon.json sets host-gateway-ips (or the older
	// host-gateway-ip), so dockerd need not derive it.
	HostGatewayIPs bool
}

// Hazard is one row of the table.
type Hazard struct {
	ID string
	// Spans are the restoring releases the bug is in.
	Spans []Span
	// Hits says which containers, in words.
	Hits string
	// match returns what in the container the row hits ("" for nothing).
	match  func(p Props, h HostProps) string
	Effect string
	Harm   Harm
	// Fixed names the releases that carry the fix.
	Fixed string
	// Issue and PR are upstream's report and fix ("moby/moby#46308").
	Issue, PR string
	// Reproduced: dlr's rig showed the effect (e2e TestHazards*).
	Reproduced bool
	// Unconfirmed says what the sources do not settle ("" when nothing).
	Unconfirmed string
	// FreezesAll: every restored container with the property is hit (not
	// a chance), so a mend may run at once.
	FreezesAll bool
}

// Hazards is the table. Sources: the moby/moby issue and pull request
// threads named in each row (read 2026-12-07) and the release tags that
// first carry each fix (../shared/notes/upstream-facts.md §3).
var Hazards = []Hazard{
	{
		ID: "autoremove", Spans: []Span{{"", "24.0.8"}},
		Hits: "started with --rm (AutoRemove)", match: func(p Props, _ HostProps) string {
			if p.AutoRemove {
				return "started with --rm"
			}
			return ""
		},
		Effect: "stops and removes it at the restore, although live restore is on",
		Harm:   Removed, Fixed: "24.0.8, 25.0.0", Issue: "moby/moby#46308", PR: "moby/moby#46869 (24.0), #46857",
		Reproduced:  true,
		Unconfirmed: "the first release affected (the code is from 2016, \"Move --rm to daemon side\"); no 20.10.x or 23.0.x carries the fix",
	},
	{
		ID: "health-frozen", Spans: []Span{{"17.11.0", "23.0.0"}},
		Hits: "with a health check", match: func(p Props, _ HostProps) string {
			if p.Health {
				return "has a health check"
			}
			return ""
		},
		Effect: "restores it with its health probes stopped: its health status stays frozen",
		Harm:   Degraded, Fixed: "23.0.0; 25.0.0 also re-initialises the monitor on restore (#47051)",
		Issue: "moby/moby#41871", PR: "moby/moby#41935", Reproduced: true, FreezesAll: true,
	},
	{
		ID: "bind-mount-panic", Spans: []Span{{"24.0.3", "24.0.4"}},
		Hits: "with a bind mount", match: func(p Props, _ HostProps) string {
			for _, m := range p.Mounts {
				if m.Type == "bind" {
					return "has a bind mount"
				}
			}
			return ""
		},
		Effect: "panics while restoring it (a regression of 24.0.3, from #45824)",
		Harm:   Panic, Fixed: "24.0.4", Issue: "moby/moby#45898, #45907", PR: "moby/moby#45903",
		Unconfirmed: "whether mounts other than bind (a tmpfs --mount) panic it too",
	},
	{
		ID: "network-restore", Spans: []Span{{"24.0.0", "24.0.3"}},
		Hits: "on a network", match: func(p Props, _ HostProps) string {
			switch m := p.NetworkMode; {
			case m == "host" || m == "none" || strings.HasPrefix(m, "container:"):
				return ""
			case m == "" || m == "default":
				return "on the bridge network"
			default:
				return "on network " + m
			}
		},
		Effect: "restores it with its networking broken (embedded DNS, network stats)",
		Harm:   Degraded, Fixed: "24.0.3", Issue: "moby/moby#45646, #45653", PR: "moby/moby#45658",
	},
	{
		ID: "volume-refs", Spans: []Span{{"", "20.10.19"}},
		Hits: "restart policy always or unless-stopped, with volumes", match: func(p Props, _ HostProps) string {
			if p.RestartPolicy != "always" && p.RestartPolicy != "unless-stopped" {
				return ""
			}
			if v := volumes(p); v != "" {
				return "restart policy " + p.RestartPolicy + " and volume " + v
			}
			return ""
		},
		Effect: "restores it without its volume references: `docker volume prune` then deletes volumes it uses",
		Harm:   DataLoss, Fixed: "20.10.19 (#44238), 23.0.0 (#44237), 24.0.0 (#44231)", Issue: "moby/moby#41686", PR: "moby/moby#44238",
		Unconfirmed: "the first release affected (reported on 19.03)",
	},
	{
		ID: "volume-refcount", Spans: []Span{{"20.10.19", "20.10.26"}, {"23.0.0", "23.0.7"}, {"24.0.0", "24.0.3"}},
		Hits: "with volumes", match: func(p Props, _ HostProps) string {
			if v := volumes(p); v != "" {
				return "volume " + v
			}
			return ""
		},
		Effect: "restores it so that its volumes cannot be removed afterwards (`docker compose down -v` fails)",
		Harm:   Degraded, Fixed: "20.10.26 (#45840), 23.0.7 (#45825), 24.0.3 (#45824)", Issue: "moby/moby#44422", PR: "moby/moby#45824",
	},
	{
		ID: "volume-opts-unmount", Spans: []Span{{"23.0.0", "23.0.7"}, {"24.0.0", "24.0.6"}},
		Hits: "local volumes with device/type/o options (NFS, CIFS)", match: func(p Props, _ HostProps) string {
			for _, m := range p.Mounts {
				if m.Type != "volume" || (m.Driver != "" && m.Driver != "local") {
					continue
				}
				if m.Options["type"] != "" || m.Options["device"] != "" || m.Options["o"] != "" {
					return "volume " + m.Name + " has local driver options"
				}
			}
			return ""
		},
		Effect: "unmounts the volume at startup: containers started later on it see an empty _data directory",
		Harm:   Degraded, Fixed: "23.0.7 (#46367), 24.0.6 (#46366)", Issue: "moby/moby#46148, docker/for-linux#1470", PR: "moby/moby#46366",
		Unconfirmed: "seen only where the container's inspect carries the options (--mount volume-opt); a volume made by `docker volume create -o` is not seen",
	},
	{
		ID: "extra-hosts-space", Spans: []Span{{"29.0.0", "29.4.0"}},
		Hits: "an extra-hosts entry with whitespace", match: func(p Props, _ HostProps) string {
			if strings.HasPrefix(p.NetworkMode, "container:") {
				return ""
			}
			for _, e := range p.ExtraHosts {
				if strings.IndexFunc(e, unicode.IsSpace) >= 0 {
					return "extra host " + strconv.Quote(e)
				}
			}
			return ""
		},
		Effect: "panics while restoring it (\"ParseAddr(...): unexpected character\"): while it does not start, every container on the host is unmanaged",
		Harm:   Panic, Fixed: "29.4.0", Issue: "moby/moby#52274", PR: "moby/moby#52275", Reproduced: true,
	},
	{
		ID: "host-gateway", Spans: []Span{{"29.6.1", ""}},
		Hits: "extra host host-gateway, with no host-gateway-ips set", match: func(p Props, h HostProps) string {
			if h.HostGatewayIPs {
				return ""
			}
			for _, e := range p.ExtraHosts {
				if strings.Contains(e, "host-gateway") {
					return "extra host " + strconv.Quote(e) + " and no host-gateway-ips in daemon.json"
				}
			}
			return ""
		},
		Effect: "restores it with no sandbox options: a later `docker network connect` to it fails (resolv.conf: no such file)",
		Harm:   Degraded, Fixed: "not fixed yet (#53093, #53217 open)", Issue: "moby/moby#53089", PR: "moby/moby#53093",
		Unconfirmed: "releases before 29.6.1 (the issue was verified on 29.6.1 and says master is unchanged)",
	},
}

// volumes names the container's first volume mount ("" for none).
func volumes(p Props) string {
	for _, m := range p.Mounts {
		if m.Type == "volume" {
			if m.Name == "" {
				return "(anonymous)"
			}
			return m.Name
		}
	}
	return ""
}

// In reports whether an upstream release ("24.0.3", or any form Version
// reads) is in one of the row's spans.
func (h *Hazard) In(release string) bool {
	v := Version(release)
	if v == "" {
		return false
	}
	for _, s := range h.Spans {
		if (s.From == "" || CompareReleases(v, s.From) >= 0) && (s.Before == "" || CompareReleases(v, s.Before) < 0) {
			return true
		}
	}
	return false
}

// Source is the row's issue and fix, for a message.
func (h *Hazard) Source() string {
	s := h.Issue
	if h.PR != "" {
		s += ", fix " + h.PR
	}
	if !h.Reproduced {
		s += "; from upstream's report"
	}
	return s
}

// Hit is a row that applies to one container on one release.
type Hit struct {
	Hazard *Hazard
	// What is what in the container the row hits ("started with --rm").
	What string
}

// HazardsFor returns the rows that hit a container when dockerd release
// restores it, in table order (nil for an unknown release).
func HazardsFor(release string, p Props, h HostProps) []Hit {
	var out []Hit
	for i := range Hazards {
		row := &Hazards[i]
		if !row.In(release) {
			continue
		}
		if what := row.match(p, h); what != "" {
			out = append(out, Hit{row, what})
		}
	}
	return out
}

// FreezesAllHealth reports whether a restore by release stops every
// restored container's health monitor (so a mend need not wait for a
// probe window to tell).
func FreezesAllHealth(release string) bool {
	for i := range Hazards {
		if h := &Hazards[i]; h.FreezesAll && h.In(release) {
			return true
		}
	}
	return false
}

// WorstHit returns the hit of the highest class (ok false for none).
func WorstHit(hits []Hit) (Hit, bool) {
	if len(hits) == 0 {
		return Hit{}, false
	}
	w := hits[0]
	for _, h := range hits[1:] {
		if h.Hazard.Harm > w.Hazard.Harm {
			w = h
		}
	}
	return w, true
}

// Sentence says what the hit does when release restores the container:
// "started with --rm: dockerd 20.10.24 stops and removes it ... (removed;
// moby/moby#46308, fix ...)".
func (h Hit) Sentence(release string) string {
	r := h.Hazard
	return fmt.Sprintf("%s: dockerd %s %s (%s; %s)", h.What, Version(release), r.Effect, r.Harm, r.Source())
}

// FixFor says what to do about the hit before a restart onto release.
func (h Hit) FixFor(container string) string {
	r := h.Hazard
	fixed := "install a fixed release before restarting dockerd (fixed in " + r.Fixed + ")"
	if strings.HasPrefix(r.Fixed, "not fixed") {
		fixed = "no release has the fix yet (" + r.Fixed + ")"
	}
	switch r.ID {
	case "autoremove":
		return fixed + ", or let " + container + " finish first (Docker refuses a restart policy for a --rm container)"
	case "health-frozen":
		return fixed + "; after a restore, `docker pause " + container + " && docker unpause " + container + "` re-arms the probes (dlr's watcher and drill do it)"
	case "extra-hosts-space":
		return fixed + ", or recreate " + container + " with its --add-host entry written without spaces"
	case "host-gateway":
		return fixed + "; set host-gateway-ips in daemon.json to avoid it"
	}
	return fixed
}

// ContainerHazards is dlr check's and drill's verdict on one container for
// a restart onto release: one finding per hit (none when no row hits it).
func ContainerHazards(container, release string, p Props, h HostProps) []Finding {
	var out []Finding
	for _, hit := range HazardsFor(release, p, h) {
		out = append(out, Finding{Rule: "restore-hazard", Severity: hit.Hazard.Harm.Severity(), Subject: container,
			Title:   container + " survives a restore",
			Message: hit.Sentence(release), Fix: hit.FixFor(container)})
	}
	return out
}

// CompareReleases compares two upstream releases ("20.10.24", "29.4.0")
// number by number: -1, 0 or 1. A missing number counts as 0.
func CompareReleases(a, b string) int {
	as, bs := strings.Split(Version(a), "."), strings.Split(Version(b), ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// HazardIDs lists the table's ids, sorted (for docs and tests).
func HazardIDs() []string {
	var out []string
	for _, h := range Hazards {
		out = append(out, h.ID)
	}
	sort.Strings(out)
	return out
}

// Unprotectable is where live restore cannot keep the containers through
// a stop of dockerd, whatever daemon.json says.
type Unprotectable struct {
	// Snap: Docker is Snap's (snap.docker.dockerd.service, or a dockerd
	// under /snap/).
	Snap bool
	// Rootless names rootless dockerds found ("the daemon dlr talks to",
	// "/run/user/1000/docker.pid (PID 812)").
	Rootless []string
}

// Protectable is dlr check's verdict on whether live restore can protect
// the containers at all: rootless Docker's user unit has KillMode=mixed
// (moby/moby#41947), which kills the containers' shims when it stops
// (rootless-containers/rootlesskit#355); Snap's Docker stops the
// containers when the snap refreshes (canonical/docker-snap#76).
func Protectable(u Unprotectable) Finding {
	f := Finding{Rule: "protectable", Title: "live restore can protect the containers"}
	var why []string
	if len(u.Rootless) > 0 {
		why = append(why, "rootless Docker ("+strings.Join(u.Rootless, ", ")+"): its user unit (dockerd-rootless-setuptool.sh) has KillMode=mixed (moby/moby#41947), so a stop of it kills the containers' shims, live restore or not (rootless-containers/rootlesskit#355; from upstream's report)")
	}
	if u.Snap {
		why = append(why, "Snap's Docker: a refresh of the snap stops the containers before dockerd and containerd (canonical/docker-snap#76; from upstream's report)")
	}
	if len(why) == 0 {
		f.Message = "a system dockerd, neither rootless nor Snap's"
		return f
	}
	f.Severity = Fail
	f.Message = "live restore cannot protect these containers: " + strings.Join(why, "; ")
	f.Fix = "run the containers that must survive a daemon restart under the system's Docker (docker.service from the distribution's or Docker's packages); for rootless Docker, KillMode=process in a drop-in of the user unit keeps the shims (as rootlesskit#355 suggests; not measured by dlr)"
	return f
}
