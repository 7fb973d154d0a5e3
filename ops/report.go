package ops

import (
	"fmt"
	"time"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/metrics"
	"github.com/docker-liverestore/dlr/restore"
)

// SchemaVersion is the version of dlr's --json output. Fields are only ever
// added within a version; a change to an existing field's meaning bumps it.
const SchemaVersion = 1

// Report is the outcome of one command, printed as text or as JSON (see
// docs/commands.md, "JSON output"). Commands fill it; cmd/dlr renders it.
type Report struct {
	Schema  int    `json:"schema"`
	Command string `json:"command"`
	// OK is true when the command did what was asked (exit code 0).
	OK bool `json:"ok"`
	// Changed is true when a file or the running daemon was changed.
	Changed bool `json:"changed"`
	DryRun  bool `json:"dry_run,omitempty"`
	// Config is the daemon.json path and how it was found.
	Config       string `json:"config,omitempty"`
	ConfigSource string `json:"config_source,omitempty"`
	// LiveRestore: the value in the file before and after, and in the
	// running daemon after ("" when unknown).
	LiveRestore *LiveRestoreReport `json:"live_restore,omitempty"`
	// Actions lists what was done (or, with --dry-run, would be done).
	Actions []string `json:"actions"`
	// Diffs maps a path to the unified diff of the change (--dry-run).
	Diffs    map[string]string `json:"diffs,omitempty"`
	Notes    []string          `json:"notes,omitempty"`
	Warnings []string          `json:"warnings,omitempty"`
	Error    *ErrorReport      `json:"error,omitempty"`
	Status   *StatusReport     `json:"status,omitempty"`
	Buffers  *buffers.Report   `json:"buffers,omitempty"`
	Validate *ValidateReport   `json:"validate,omitempty"`
	Check    *CheckReport      `json:"check,omitempty"`
	Drill    *DrillReport      `json:"drill,omitempty"`
	// Preflight is `dlr preflight`'s verdict on a package change.
	Preflight *PreflightReport `json:"preflight,omitempty"`
	// Restore is the drill's restore check.
	Restore *restore.Record `json:"restore,omitempty"`
	// Metrics is `dlr metrics`' output.
	Metrics []metrics.Metric `json:"metrics,omitempty"`

	diffOrder []string
}

// LiveRestoreReport is "live-restore" before and after.
type LiveRestoreReport struct {
	FileBefore string `json:"file_before"` // "true", "false", "absent", "no-file"
	FileAfter  string `json:"file_after"`
	Daemon     string `json:"daemon"` // "true", "false", "" (not checked)
	Flag       string `json:"flag,omitempty"`
}

// ErrorReport is a failed command's error.
type ErrorReport struct {
	ExitCode int    `json:"exit_code"`
	Kind     string `json:"kind"`
	Message  string `json:"message"`
}

// NewReport starts the report of command cmd.
func NewReport(cmd string) *Report {
	return &Report{Schema: SchemaVersion, Command: cmd, Actions: []string{}}
}

func (r *Report) Action(format string, args ...any) {
	r.Actions = append(r.Actions, fmt.Sprintf(format, args...))
}

func (r *Report) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *Report) Warn(format string, args ...any) {
	r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...))
}

// Diff adds the diff of a file (nothing when d is empty).
func (r *Report) Diff(path, d string) {
	if d == "" {
		return
	}
	if r.Diffs == nil {
		r.Diffs = map[string]string{}
	}
	if _, ok := r.Diffs[path]; !ok {
		r.diffOrder = append(r.diffOrder, path)
	}
	r.Diffs[path] = d
}

// DiffPaths lists the diffed files in the order they were diffed.
func (r *Report) DiffPaths() []string { return r.diffOrder }

// StatusReport is what `dlr status` shows.
type StatusReport struct {
	Config       string `json:"config"`
	ConfigSource string `json:"config_source"`
	// FileLiveRestore is "true", "false", "absent", "no-file" or "invalid".
	FileLiveRestore string `json:"file_live_restore"`
	ConfigError     string `json:"config_error,omitempty"`

	Service     string `json:"service,omitempty"`
	LoadState   string `json:"load_state,omitempty"`
	ActiveState string `json:"active_state,omitempty"`
	MainPID     int    `json:"main_pid,omitempty"`
	// KillMode must be "process" for containers to survive a stop.
	KillMode string `json:"kill_mode,omitempty"`

	// DaemonLiveRestore is the running daemon's LiveRestoreEnabled:
	// "true", "false", or "" when the daemon is not running or unreachable.
	DaemonLiveRestore string `json:"daemon_live_restore"`
	DaemonVersion     string `json:"daemon_version,omitempty"`
	// InstalledVersion is the installed dockerd's version where a package
	// upgraded it under the running one; NextRestart is the verdict on the
	// restart onto it ("PASS: ...", "WARN: ...", "FAIL: ...").
	InstalledVersion string `json:"installed_version,omitempty"`
	NextRestart      string `json:"next_restart,omitempty"`
	// NextRestartVerdict is NextRestart's severity alone: "pass", "warn"
	// or "fail" ("" with no InstalledVersion), for dlr_pending_restart.
	NextRestartVerdict string `json:"-"`
	Swarm              string `json:"swarm,omitempty"`

	Flag       string   `json:"flag,omitempty"` // --live-restore's value, if set
	FlagSource string   `json:"flag_source,omitempty"`
	Conflicts  []string `json:"conflicts,omitempty"`

	PipeMaxSizeRunning uint64 `json:"pipe_max_size_running"`
	PipeMaxSizeBoot    uint64 `json:"pipe_max_size_boot"`
	PipeMaxSizeWinner  string `json:"pipe_max_size_winner,omitempty"`

	// Managed is true when dlr changed daemon.json (and can undo it).
	Managed bool   `json:"managed"`
	Prior   string `json:"prior,omitempty"`
	Pending string `json:"pending,omitempty"`

	// Enabled: the file (or a flag) turns live restore on. Effective: the
	// running daemon has it on too.
	Enabled   bool `json:"enabled"`
	Effective bool `json:"effective"`

	// LogBuffers lists the running containers' log FIFOs and their sizes
	// (F_GETPIPE_SZ); a full FIFO blocks the container while dockerd is
	// down, so its size bounds the outage it rides out at a given log rate.
	LogBuffers []LogBuffer `json:"log_buffers,omitempty"`
	// LogBudget puts them against the size and budget dlr grows them to;
	// absent when they, fs.pipe-max-size or MemTotal could not be read.
	LogBudget *LogBudget `json:"log_budget,omitempty"`

	// Restores are the last restores dlr checked, oldest first (dlr watch
	// and dlr drill record them), with every container's checks.
	Restores []restore.Record `json:"restores,omitempty"`

	// Unknown lists what status could not find out, and why.
	Unknown []string `json:"unknown,omitempty"`

	// DaemonUnknown and StateUnknown: the daemon or dlr's state could not
	// be read (the text output says "unknown" rather than "no").
	DaemonUnknown bool `json:"-"`
	StateUnknown  bool `json:"-"`
}

// LogBudget is the log FIFOs against the size and the budget dlr buffers
// and the watcher grow them to (see buffers.Plan).
type LogBudget struct {
	// Target is the size planned for each stream (--size, else
	// fs.pipe-max-size); Budget the bytes all streams together may use
	// (--budget, else 1/64 of RAM); Level the size the budget allows each.
	Target int64 `json:"target"`
	Budget int64 `json:"budget"`
	Level  int64 `json:"level"`
	// Bytes is every stream's size summed (exec sessions' too: they count
	// against the budget).
	Bytes int64 `json:"bytes"`
	// Short counts the containers' own streams the budget keeps below
	// Target (buffers.Short): 0 when it allows every stream Target.
	Short int `json:"short"`
}

// LogBuffer is one log FIFO of a running container.
type LogBuffer struct {
	Container string `json:"container"`
	Stream    string `json:"stream"`
	Size      int64  `json:"size"`
	// Rate is the stream's recent output in bytes per second, from the tail
	// of its json-file log; RideOut is Size/Rate in seconds, the outage the
	// container rides out before it blocks. Both are absent where they
	// cannot be known (another log driver, a quiet or new container).
	Rate    *float64 `json:"rate,omitempty"`
	RideOut *float64 `json:"ride_out_seconds,omitempty"`
	// Exec is true for an exec session's stream (a health probe's, a
	// `docker exec`'s), false for the container's own.
	Exec bool `json:"exec,omitempty"`
}

// CheckItem is one line of `dlr check`.
type CheckItem struct {
	ID     string `json:"id"`
	Result string `json:"result"` // PASS, WARN, FAIL or SKIP
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

// CheckReport is the result of `dlr check`.
type CheckReport struct {
	Items []CheckItem `json:"items"`
	Fails int         `json:"fails"`
	Warns int         `json:"warns"`
}

// add adds a rule's finding as a line.
func (c *CheckReport) add(f guard.Finding) {
	c.Items = append(c.Items, CheckItem{f.Rule, f.Severity.String(), f.Title, f.Message, f.Fix})
	switch f.Severity {
	case guard.Fail:
		c.Fails++
	case guard.Warn:
		c.Warns++
	}
}

// ValidateReport is the result of `dlr validate` (and the check part of
// `dlr set`).
type ValidateReport struct {
	File    string         `json:"file"`
	Safe    bool           `json:"safe"`
	Unsafe  []string       `json:"unsafe"`
	Unknown []string       `json:"unknown"`
	Notes   []string       `json:"notes"`
	Changes []ChangeReport `json:"changes"`
}

// ChangeReport is one key's change.
type ChangeReport struct {
	Key   string `json:"key"`
	Class string `json:"class"` // "reload", "restart" or "breaks-restore"
	Old   string `json:"old"`   // JSON text, "" when absent
	New   string `json:"new"`
}

func changeReports(cs []guard.Change) []ChangeReport {
	out := []ChangeReport{}
	for _, c := range cs {
		out = append(out, ChangeReport{Key: c.Key, Class: c.Class.String(), Old: string(c.Old), New: string(c.New)})
	}
	return out
}

// DrillContainer is one container as the drill sees it.
type DrillContainer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Pid  int    `json:"pid"`
}

// DrillResult is one container's fate.
type DrillResult struct {
	DrillContainer
	// Survived: running after the drill with the same PID.
	Survived bool `json:"survived"`
	// PidAfter is its PID after the drill, 0 when it is not running.
	PidAfter int    `json:"pid_after"`
	Outcome  string `json:"outcome"` // "same PID", "restarted (new PID)", "not running", "gone"
}

// DrillReport is the "drill" member of --json output.
type DrillReport struct {
	Seconds     int           `json:"seconds"`
	Interrupted bool          `json:"interrupted"`
	StoppedAt   time.Time     `json:"stopped_at"`
	Downtime    float64       `json:"downtime_seconds"` // stop job begun to /info answering again
	Containers  []DrillResult `json:"containers"`
	Survived    int           `json:"survived"`

	back     time.Time // when dockerd answered again
	version  string    // its version then
	firewall string    // its firewall driver then (GET /info)
}
