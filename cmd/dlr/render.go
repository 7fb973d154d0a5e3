package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/ops"
	"github.com/docker-liverestore/dlr/restore"
	"github.com/docker-liverestore/dlr/safetext"
)

// writeJSON prints the report as JSON (docs/json.md).
func writeJSON(w io.Writer, r *ops.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// writeText prints the report for a person: what was done, then notes and
// warnings, then the error with what to do next.
//
// Every string of the report is untrusted text as far as a terminal goes
// (container names, versions, file contents): safetext.Report escapes
// their control characters and cuts long ones, once, here, before any of
// it is printed.
func writeText(out, stderr io.Writer, r *ops.Report) error {
	stdout := &errWriter{w: out}
	for _, p := range r.DiffPaths() {
		fmt.Fprint(stdout, cleanLines(r.Diffs[p]))
	}
	diffs := r.Diffs
	r.Diffs = nil // printed above, line by line
	safetext.Report(r)
	r.Diffs = diffs
	prefix := ""
	if r.DryRun {
		prefix = "would: "
	}
	for _, a := range r.Actions {
		fmt.Fprintf(stdout, "%s%s\n", prefix, a)
	}
	if r.Status != nil {
		writeStatus(stdout, r.Status)
	}
	if r.Validate != nil {
		writeValidate(stdout, r.Validate)
	}
	if r.Check != nil {
		writeCheck(colourLines(stdout), r.Check) // PASS/WARN/FAIL coloured on a terminal
	}
	if r.Preflight != nil {
		writePreflight(colourLines(stdout), r.Preflight)
	}
	if r.Drill != nil {
		writeDrill(stdout, r.Drill)
	}
	if r.Restore != nil {
		writeRestore(stdout, r.Restore)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(stdout, "%s\n", n)
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(stderr, colourFor(stderr)(yellow, "dlr: warning: "+w))
	}
	if r.Error != nil {
		msg := r.Error.Message
		if r.Error.Kind == string(ops.Refused) {
			msg = "refused: " + msg
		}
		fmt.Fprintln(stderr, errorLine(stderr, fmt.Sprintf("dlr %s: %s", r.Command, strings.TrimSpace(msg))))
	}
	return stdout.err
}

// cleanLines is safetext.Clean for each line of a multi-line text.
func cleanLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		nl := strings.HasSuffix(l, "\n")
		lines[i] = safetext.Clean(strings.TrimSuffix(l, "\n"))
		if nl {
			lines[i] += "\n"
		}
	}
	return strings.Join(lines, "")
}

// errWriter keeps the first write error (a full disk, a closed pipe).
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func writeStatus(w io.Writer, s *ops.StatusReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	verdict := "off"
	switch {
	case s.FileLiveRestore == "invalid" && s.DaemonLiveRestore != "":
		verdict = "unknown: daemon.json cannot be read the way dockerd reads it (see below); the running daemon has it " + map[string]string{"true": "on", "false": "off"}[s.DaemonLiveRestore]
	case s.FileLiveRestore == "invalid":
		verdict = "unknown: daemon.json cannot be read the way dockerd reads it (see below)"
	case s.Effective:
		verdict = "on (in the file and in the running daemon)"
	case s.Enabled && s.DaemonLiveRestore == "false":
		verdict = "configured but NOT effective: the running daemon has it off (run dlr enable)"
	case s.Enabled && s.DaemonUnknown:
		verdict = "configured; whether the running daemon has it is unknown (see below; run as root)"
	case s.Enabled:
		verdict = "configured; applies when dockerd starts"
	}
	row("live restore:", "%s", verdict)
	cfg := s.FileLiveRestore
	if s.ConfigError != "" {
		cfg += " (" + s.ConfigError + ")"
	}
	row("daemon.json:", "%s (%s): live-restore %s", s.Config, s.ConfigSource, cfg)
	if s.Service != "" {
		svc := s.ActiveState
		if s.MainPID > 0 {
			svc += fmt.Sprintf(", PID %d", s.MainPID)
		}
		if s.LoadState != "" && s.LoadState != "loaded" {
			svc = s.LoadState
		}
		if s.KillMode != "" {
			svc += ", KillMode=" + s.KillMode
		}
		row("service:", "%s: %s", s.Service, svc)
	}
	if s.DaemonLiveRestore != "" {
		row("daemon:", "Docker %s, LiveRestoreEnabled %s, swarm %s", s.DaemonVersion, s.DaemonLiveRestore, orDash(s.Swarm))
	}
	if s.InstalledVersion != "" {
		row("installed:", "dockerd %s; next restart: %s", s.InstalledVersion, s.NextRestart)
	}
	if s.Flag != "" {
		row("flag:", "--live-restore=%s in %s", s.Flag, s.FlagSource)
	}
	pms := fmt.Sprintf("running %d", s.PipeMaxSizeRunning)
	if s.PipeMaxSizeWinner != "" {
		pms += ", at boot from " + s.PipeMaxSizeWinner
	}
	row("fs.pipe-max-size:", "%s", pms)
	if len(s.LogBuffers) > 0 {
		smallest, containers := s.LogBuffers[0].Size, map[string]bool{}
		for _, b := range s.LogBuffers {
			smallest = min(smallest, b.Size)
			containers[b.Container] = true
		}
		note := ""
		if smallest <= 64<<10 {
			note = " (a container blocks once 64K of log output piles up while dockerd is down: dlr buffers grows them)"
		}
		row("log buffers:", "%d streams of %d containers, smallest %s%s", len(s.LogBuffers), len(containers), buffers.SizeText(smallest), note)
		if lb := s.LogBudget; lb != nil && lb.Short > 0 {
			allows := "it allows " + buffers.SizeText(lb.Level) + " each"
			if lb.Level == 0 {
				allows = "none can grow"
			}
			row("", "%d streams kept below %s by the budget of %s (%s in use; %s): raise --budget (dlr buffers, dlr watch)", lb.Short, buffers.SizeText(lb.Target), buffers.SizeText(lb.Budget), buffers.SizeText(lb.Bytes), allows)
		}
		for _, b := range s.LogBuffers {
			if b.RideOut != nil {
				row("", "%s/%s: %s at %.0f B/s recently: blocks after %.1f s of daemon outage", buffers.ShortID(b.Container), b.Stream, buffers.SizeText(b.Size), *b.Rate, *b.RideOut)
			}
		}
	}
	managed := "no (dlr has not changed daemon.json)"
	if s.Managed {
		managed = "yes (before dlr: live-restore " + s.Prior + "; dlr disable puts it back)"
	} else if s.StateUnknown {
		managed = "unknown (see below)"
	}
	row("managed by dlr:", "%s", managed)
	if n := len(s.Restores); n > 0 {
		last := s.Restores[n-1]
		row("last restore:", "%s (%s): %s", last.BackAt.UTC().Format(time.RFC3339), last.Trigger, ops.RestoreSummary(last))
	}
	for _, c := range s.Conflicts {
		row("CONFLICT:", "%s", c)
	}
	for _, u := range s.Unknown {
		row("unknown:", "%s", u)
	}
	tw.Flush()
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func writeCheck(w io.Writer, c *ops.CheckReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, it := range c.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", it.Result, it.Title, it.Detail)
		if it.Fix != "" && it.Result != "PASS" {
			fmt.Fprintf(tw, "\t\tfix: %s\n", it.Fix)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "%d FAIL, %d WARN\n", c.Fails, c.Warns)
}

// writePreflight prints the change, then the findings as dlr check does;
// nothing when the change has none of Docker's packages.
func writePreflight(w io.Writer, p *ops.PreflightReport) {
	if len(p.Changes) == 0 {
		return
	}
	var parts []string
	for _, c := range p.Changes {
		parts = append(parts, c.String())
	}
	fmt.Fprintf(w, "dlr preflight: %s\n", strings.Join(parts, ", "))
	if len(p.Items) == 0 {
		return // no verdict (the error says why): no "0 FAIL, 0 WARN"
	}
	writeCheck(w, &p.CheckReport)
}

func writeValidate(w io.Writer, v *ops.ValidateReport) {
	for _, u := range v.Unsafe {
		fmt.Fprintf(w, "UNSAFE   %s\n", u)
	}
	for _, u := range v.Unknown {
		fmt.Fprintf(w, "UNKNOWN  %s\n", u)
	}
	for _, c := range v.Changes {
		fmt.Fprintf(w, "change   %s: %s -> %s (%s)\n", c.Key, orAbsent(c.Old), orAbsent(c.New), c.Class)
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "note     %s\n", n)
	}
	if v.Safe {
		fmt.Fprintf(w, "%s: safe to install\n", v.File)
	}
}

func orAbsent(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(absent)"
	}
	return s
}

func writeDrill(w io.Writer, d *ops.DrillReport) {
	paint := colourFor(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range d.Containers {
		after := "-"
		if c.PidAfter != 0 {
			after = fmt.Sprint(c.PidAfter)
		}
		word := paint(red, "LOST")
		if c.Survived {
			word = paint(green, "SURVIVED")
		}
		fmt.Fprintf(tw, "%s\t%s\tPID %d -> %s\t%s\n", word, c.Name, c.Pid, after, c.Outcome)
	}
	tw.Flush()
	how := fmt.Sprintf("stopped for %d s", d.Seconds)
	if d.Interrupted {
		how = "interrupted, started again at once"
	}
	fmt.Fprintf(w, "daemon downtime: %.2f s (%s); %d of %d containers kept running with the same PID\n",
		d.Downtime, how, d.Survived, len(d.Containers))
}

// writeRestore prints a restore check: one line per problem or mend, then
// the summary.
func writeRestore(w io.Writer, rec *restore.Record) {
	paint := colourFor(w)
	for _, r := range rec.Results {
		for _, it := range r.Items {
			word := ""
			switch it.Result {
			case restore.Problem:
				word = paint(red, "PROBLEM")
			case restore.Mended:
				word = paint(yellow, "MENDED")
			default:
				continue
			}
			what := it.Check
			if it.Subject != "" {
				what += " " + it.Subject
			}
			fmt.Fprintf(w, "%s  %s: %s: %s\n", word, r.Name, what, it.Detail)
		}
	}
	fmt.Fprintf(w, "restore check: %s (%.2f s)\n", ops.RestoreSummary(*rec), rec.CheckSeconds)
}
