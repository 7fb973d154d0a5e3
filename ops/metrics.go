package ops

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strings"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/metrics"
	"github.com/docker-liverestore/dlr/restore"
)

// Metrics is `dlr metrics`: what `dlr status` and `dlr check` say, and the
// last restore, as Prometheus metrics (docs/restore-checks.md lists them).
// It changes nothing. Its report's Metrics member holds them; cmd/dlr
// prints them in the text exposition format.
func Metrics(ctx context.Context, e *Env, o Options, r *Report) error {
	st := NewReport("status")
	if err := Status(ctx, e, o, st); err != nil {
		return err
	}
	ck := NewReport("check")
	Check(ctx, e, o, ck) // a FAIL is a metric, not an error
	last, err := e.restoreStore().Last()
	if err != nil {
		r.Warn("%v", err)
	}
	r.Metrics = collect(st.Status, ck.Check, last)
	return nil
}

// collect builds the metrics; what is unknown is left out (an absent
// series, not a zero).
func collect(s *StatusReport, c *CheckReport, last *restore.Record) []metrics.Metric {
	g := metrics.Gauge
	b := metrics.Bool
	ms := []metrics.Metric{
		g("dlr_live_restore_configured", "1 if daemon.json (or dockerd's --live-restore flag) turns live restore on.", b(s.Enabled)),
	}
	if s.DaemonLiveRestore != "" {
		ms = append(ms, g("dlr_live_restore_daemon", "1 if the running dockerd has live restore on (/info LiveRestoreEnabled).", b(s.DaemonLiveRestore == "true")))
	}
	if c != nil {
		bySev := map[string]float64{}
		for _, it := range c.Items {
			bySev[strings.ToLower(it.Result)]++
			switch it.ID {
			case "drift":
				ms = append(ms, g("dlr_drift_pending", "1 if daemon.json holds a restore-breaking change the running dockerd does not use yet (dlr check: drift).", b(it.Result == "WARN" || it.Result == "FAIL")))
			case "watcher":
				ms = append(ms, g("dlr_watcher_up", "1 if docker-liverestore.service (dlr watch) is active.", b(it.Result == "PASS")))
			}
		}
		m := metrics.Metric{Name: "dlr_check_findings", Help: "dlr check's findings on the restart path, by severity.", Type: "gauge"}
		for _, sev := range []string{"pass", "note", "skip", "warn", "fail"} {
			m.Samples = append(m.Samples, metrics.Sample{Labels: [][2]string{{"severity", sev}}, Value: bySev[sev]})
		}
		ms = append(ms, m)
	}
	if last != nil {
		if !last.BackAt.IsZero() {
			// Unix and Nanosecond, not UnixNano: that overflows outside
			// 1678-2262, and a record without a time gave -6.8e9.
			ms = append(ms, g("dlr_last_restore_timestamp_seconds", "When dockerd answered again after the last restore dlr checked (Unix time).", float64(last.BackAt.Unix())+float64(last.BackAt.Nanosecond())/1e9))
		}
		ms = append(ms,
			g("dlr_last_restore_containers", "Containers that ran before the last restore.", float64(last.Containers)),
			g("dlr_last_restore_kept", "Containers the last restore kept running with the same PID.", float64(last.Kept)),
			g("dlr_last_restore_mended", "Problems of the last restore that dlr mended (health checks re-armed).", float64(last.Mended)),
			g("dlr_last_restore_check_seconds", "How long the last restore's checks took.", last.CheckSeconds))
		m := metrics.Metric{Name: "dlr_last_restore_problems", Help: "Problems of the last restore not mended, by kind (docs/restore-checks.md).", Type: "gauge"}
		for _, k := range restore.Kinds {
			m.Samples = append(m.Samples, metrics.Sample{Labels: [][2]string{{"kind", k}}, Value: float64(last.Problems[k])})
		}
		if bk := last.ProblemsByKind(); len(bk) > 0 && bk[len(bk)-1].Kind == restore.Other {
			m.Samples = append(m.Samples, metrics.Sample{Labels: [][2]string{{"kind", restore.Other}}, Value: float64(bk[len(bk)-1].N)})
		}
		ms = append(ms, m)
	}
	if lb := s.LogBudget; lb != nil {
		ms = append(ms,
			g("dlr_log_buffers_short", "Running containers' log FIFOs (stdout, stderr) that the log-buffer budget keeps below the size dlr plans for them (--size, else fs.pipe-max-size); 0 when the budget allows every one that size.", float64(lb.Short)),
			g("dlr_log_buffer_budget_bytes", "The memory all log FIFOs together may use (--budget, else 1/64 of RAM).", float64(lb.Budget)),
			g("dlr_log_buffer_bytes", "The log FIFOs' sizes summed, exec sessions' included (they count against the budget).", float64(lb.Bytes)))
	}
	if v := s.NextRestartVerdict; v != "" {
		m := metrics.Metric{Name: "dlr_pending_restart", Help: "Where a package replaced the running dockerd, 1 for dlr's verdict on the restart onto the installed one (dlr check: version); absent when none waits.", Type: "gauge"}
		for _, l := range []string{"pass", "warn", "fail"} {
			m.Samples = append(m.Samples, metrics.Sample{Labels: [][2]string{{"verdict", l}}, Value: b(v == l)})
		}
		ms = append(ms, m)
	}
	if cov, ok := coverage(s.LogBuffers); ok {
		ms = append(ms, g("dlr_log_buffer_coverage_seconds", "The shortest outage a running container's log FIFO rides out at its recent log rate (FIFO size / rate), over containers that log.", cov))
	}
	return ms
}

// coverage is the smallest ride-out over the log FIFOs with a known rate.
func coverage(bufs []LogBuffer) (float64, bool) {
	min, ok := math.Inf(1), false
	for _, b := range bufs {
		if b.RideOut != nil {
			min, ok = math.Min(min, *b.RideOut), true
		}
	}
	return min, ok
}

// WriteTextfile writes the metrics to dir/docker-liverestore.prom with one
// atomic replace: node_exporter's textfile collector reads only *.prom
// files, and the temporary file is not one, so a scrape sees the old file
// or the new one, never half of one.
func WriteTextfile(ctx context.Context, e *Env, o Options, dir string) error {
	r := NewReport("metrics")
	if err := Metrics(ctx, e, o, r); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := metrics.Write(&b, r.Metrics); err != nil {
		return err
	}
	_, err := atomicfile.Replace(filepath.Join(dir, host.MetricsFile), b.Bytes(), atomicfile.Options{Mode: 0o644, NoSync: true})
	return err
}
