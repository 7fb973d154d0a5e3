package restore

import (
	"time"

	"github.com/docker-liverestore/dlr/host"
)

// View is the running containers as seen at one moment: the watcher's last
// view before dockerd went away (a crash has no ExecStop), or the drill's
// listing before its outage.
type View struct {
	// Version is the file's format (state.ViewFormat when written).
	Version    int       `json:"version"`
	At         time.Time `json:"at"`
	BootID     string    `json:"boot_id"`
	DockerdPID int       `json:"dockerd_pid"`
	// DaemonVersion is that dockerd's version ("" if unknown: a view
	// written by an older dlr).
	DaemonVersion string           `json:"daemon_version,omitempty"`
	Containers    []host.Container `json:"containers"`
}

// Results of one check.
const (
	OK      = "ok"
	Problem = "problem"
	Mended  = "mended"  // a problem dlr mended (the health monitor re-armed)
	Skipped = "skipped" // not judged; Detail says why
)

// The kinds of problem, as counted in Record.Problems and the metrics.
const (
	Lost         = "lost"          // not running after the restore
	Restarted    = "restarted"     // running with a new PID
	RestartCount = "restart-count" // RestartCount changed
	HealthFrozen = "health-frozen" // no health probe after the restore
	PortClosed   = "port"          // a published port refuses connections
	Firewall     = "firewall"      // no DNAT rule for a published port
	DNS          = "dns"           // the embedded DNS does not answer
	Logs         = "logs"          // the log stopped flowing
)

// Kinds lists every kind of problem, in report order.
var Kinds = []string{Lost, Restarted, RestartCount, HealthFrozen, PortClosed, Firewall, DNS, Logs}

// Item is one check of one container.
type Item struct {
	Check   string `json:"check"`             // a kind: "pid", "health", "port", ...
	Subject string `json:"subject,omitempty"` // "8080/tcp", a network
	Result  string `json:"result"`            // ok, problem, mended, skipped
	Detail  string `json:"detail,omitempty"`
	// Seconds is how long after dockerd was back the check passed (a new
	// probe, a port answering), where that was measured.
	Seconds *float64 `json:"seconds,omitempty"`
}

// Result is one container's restore.
type Result struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	PIDBefore          int    `json:"pid_before"`
	PIDAfter           int    `json:"pid_after"` // 0: not running
	Kept               bool   `json:"kept"`      // running with the same PID
	RestartCountBefore int    `json:"restart_count_before"`
	RestartCountAfter  int    `json:"restart_count_after"`
	Items              []Item `json:"checks"`
	// Hazard is the hazard table's row (guard.Hazards) that predicted a
	// container lost or restarted at this restore, and Predicted what it
	// said ("" for none).
	Hazard    string `json:"hazard,omitempty"`
	Predicted string `json:"predicted,omitempty"`
	// Problems lists the kinds of this container's problems that were
	// not mended.
	Problems []string `json:"problems"`
}

// Record is one restore: when, by what, and every container's result.
type Record struct {
	// Trigger is "watcher" (a restart or crash seen by dlr watch) or
	// "drill".
	Trigger string `json:"trigger"`
	// DownAt is when dockerd was last seen before (zero if unknown);
	// BackAt when it answered again.
	DownAt           time.Time `json:"down_at"`
	BackAt           time.Time `json:"back_at"`
	DockerdPIDBefore int       `json:"dockerd_pid_before"`
	DockerdPIDAfter  int       `json:"dockerd_pid_after"`
	DaemonVersion    string    `json:"daemon_version"`
	// DaemonVersionBefore is the version of the dockerd that went away,
	// from the view ("" if unknown): with DaemonVersion, what an upgrade
	// changed.
	DaemonVersionBefore string `json:"daemon_version_before,omitempty"`
	Containers          int    `json:"containers"`
	Kept                int    `json:"kept"`
	// Problems counts the problems not mended, by kind; Mended the ones
	// dlr mended.
	Problems map[string]int `json:"problems"`
	Mended   int            `json:"mended"`
	// CheckSeconds is how long the checks took, all containers together.
	CheckSeconds float64  `json:"check_seconds"`
	Results      []Result `json:"results"`
}

// Other is the kind a record's problem is counted as when its kind is not
// one of Kinds (a record written by another version of dlr, or edited).
const Other = "other"

// ProblemsByKind gives the problems not mended by kind, in Kinds' order,
// then Other for those of any other kind, so that every report counts all
// of them (issue 21: an unknown kind was "no problems" in status and a WARN
// in check). Kinds with no problem are left out.
func (r Record) ProblemsByKind() []KindCount {
	known := map[string]bool{}
	var out []KindCount
	for _, k := range Kinds {
		known[k] = true
		if n := r.Problems[k]; n > 0 {
			out = append(out, KindCount{k, n})
		}
	}
	other := 0
	for k, n := range r.Problems {
		if !known[k] && n > 0 {
			other += n
		}
	}
	if other > 0 {
		out = append(out, KindCount{Other, other})
	}
	return out
}

// KindCount is a number of problems of one kind.
type KindCount struct {
	Kind string
	N    int
}

// ProblemCount is the number of problems not mended.
func (r Record) ProblemCount() int {
	n := 0
	for _, c := range r.Problems {
		n += c
	}
	return n
}

// Summarize fills in the counts from the results.
func (r *Record) Summarize() {
	r.Containers, r.Kept, r.Mended = len(r.Results), 0, 0
	r.Problems = map[string]int{}
	for i := range r.Results {
		res := &r.Results[i]
		if res.Kept {
			r.Kept++
		}
		res.Problems = []string{}
		for _, it := range res.Items {
			switch it.Result {
			case Problem:
				res.Problems = append(res.Problems, it.Check)
				r.Problems[it.Check]++
			case Mended:
				r.Mended++
			}
		}
	}
}
