package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/state"
	"github.com/docker-liverestore/dlr/sysctl"
)

// statusReport is what `dlr status` shows (README "dlr status").
type statusReport struct {
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
	Swarm             string `json:"swarm,omitempty"`

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
	LogBuffers []logBuffer `json:"log_buffers,omitempty"`

	// Unknown lists what status could not find out, and why.
	Unknown []string `json:"unknown,omitempty"`

	daemonUnknown, stateUnknown bool
}

// status reports where the host stands. It changes nothing, needs no root
// for what it can read, and says what it could not read.
func status(ctx context.Context, h *host, o options, r *report) error {
	obs, err := h.observe(ctx, o.config, false)
	if err != nil {
		return err
	}
	defer obs.close()
	s := &statusReport{Config: obs.config, ConfigSource: obs.configSource}
	r.Status = s
	r.Warnings = append(r.Warnings, obs.warnings...)
	if obs.sdErr != nil {
		s.Unknown = append(s.Unknown, "systemd: "+obs.sdErr.Error())
	}
	if obs.chroot {
		s.Unknown = append(s.Unknown, "daemon: "+obs.chrootWhy)
	}

	cfg, err := readConfig(obs.config)
	if err != nil {
		s.FileLiveRestore, s.ConfigError = "invalid", err.Error()
	} else {
		s.FileLiveRestore = cfg.liveRestoreWord()
	}

	if obs.svc != nil {
		u := obs.svc
		s.Service, s.LoadState, s.ActiveState, s.MainPID, s.KillMode = u.Name, u.LoadState, u.ActiveState, int(u.MainPID), u.KillMode
		if u.KillMode != "" && u.KillMode != "process" {
			r.warn("%s has KillMode=%s: stopping it kills the containers whatever live restore says; KillMode=process is needed", u.Name, u.KillMode)
		}
	} else if obs.systemd && obs.sdErr == nil {
		s.Service, s.LoadState = dockerService, "not-found"
	}

	if src, v, raw := flagLiveRestore(obs); src != "" {
		s.Flag, s.FlagSource = raw, src
		if s.FileLiveRestore == "true" || s.FileLiveRestore == "false" {
			s.Conflicts = append(s.Conflicts, fmt.Sprintf("live-restore is set both by a flag (%s) and in %s: dockerd's next start will fail", src, obs.config))
		}
		s.Enabled = v
	} else {
		s.Enabled = s.FileLiveRestore == "true"
	}

	dataRoot := defaultDataRoot
	if obs.active {
		i, err := h.info(ctx, obs)
		if err != nil {
			s.Unknown = append(s.Unknown, "daemon: "+err.Error())
			s.daemonUnknown = true
		} else {
			s.DaemonLiveRestore, s.DaemonVersion, s.Swarm = boolWord(i.LiveRestore), i.Version, i.SwarmState
			if i.RootDir != "" {
				dataRoot = i.RootDir
			}
			s.Effective = s.Enabled && i.LiveRestore
			if swarmActive(i.SwarmState) && s.Enabled {
				s.Conflicts = append(s.Conflicts, fmt.Sprintf("swarm is %s and live restore is on: dockerd's next start will fail (%q)", i.SwarmState, swarmReason))
			}
		}
	}

	if obs.active {
		h.scanBuffers(ctx, o, obs, s, dataRoot)
	}

	if v, err := sysctl.Running(h.procSys, sysctl.Key); err == nil {
		s.PipeMaxSizeRunning = v
	} else {
		s.Unknown = append(s.Unknown, "fs.pipe-max-size: "+err.Error())
	}
	if winner, _, err := sysctl.Configured(sysctl.Dirs{Root: h.sysctlRoot}, sysctl.Key); err == nil {
		if winner.File != "" {
			s.PipeMaxSizeWinner = winner.String()
			if n, err := sysctl.ParseSize(winner.Value); err == nil {
				s.PipeMaxSizeBoot = n
			}
		}
	}

	if st, err := (state.Store{Dir: h.stateDir}).Load(); err != nil {
		s.Unknown = append(s.Unknown, "dlr state: "+err.Error())
		s.stateUnknown = true
	} else {
		if st.DaemonJSON != nil {
			s.Managed, s.Prior = true, st.DaemonJSON.Prior
		}
		if p := st.Pending; p != nil {
			s.Pending = fmt.Sprintf("dlr %s (PID %d, %s) stopped at step %q; run dlr %s again to finish it",
				p.Op, p.PID, p.Started.Format(time.RFC3339), p.Step, p.Op)
			r.warn("%s", s.Pending)
		}
	}
	return nil
}

type logBuffer struct {
	Container string `json:"container"`
	Stream    string `json:"stream"`
	Size      int64  `json:"size"`
	// Rate is the stream's recent output in bytes per second, from the tail
	// of its json-file log; RideOut is Size/Rate in seconds, the outage the
	// container rides out before it blocks. Both are absent where they
	// cannot be known (another log driver, a quiet or new container).
	Rate    *float64 `json:"rate,omitempty"`
	RideOut *float64 `json:"ride_out_seconds,omitempty"`
}

// scanBuffers reads the log FIFO sizes of the running containers.
func (h *host) scanBuffers(ctx context.Context, o options, obs *observed, s *statusReport, dataRoot string) {
	dir, _, _ := h.execRoot(o, h.dockerdCmdline(obs.pid))
	streams, err := buffers.Scan(ctx, dir)
	if err != nil {
		s.Unknown = append(s.Unknown, "log buffers: "+err.Error())
		return
	}
	for _, st := range streams {
		if st.Err != nil {
			s.Unknown = append(s.Unknown, "log buffer "+st.Path+": "+st.Err.Error())
			continue
		}
		b := logBuffer{Container: st.Container, Stream: st.Name, Size: st.Size}
		if rates, ok := recentLogRates(dataRoot, st.Container); ok && !st.Exec {
			r := rates[st.Kind()]
			b.Rate = &r
			if r > 0 {
				ride := float64(st.Size) / r
				b.RideOut = &ride
			}
		}
		s.LogBuffers = append(s.LogBuffers, b)
	}
}

func (s *statusReport) writeText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	verdict := "off"
	switch {
	case s.Effective:
		verdict = "on (in the file and in the running daemon)"
	case s.Enabled && s.DaemonLiveRestore == "false":
		verdict = "configured but NOT effective: the running daemon has it off (run dlr enable)"
	case s.Enabled && s.daemonUnknown:
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
		row("log buffers:", "%d streams of %d containers, smallest %s%s", len(s.LogBuffers), len(containers), sizeText(smallest), note)
		for _, b := range s.LogBuffers {
			if b.RideOut != nil {
				row("", "%s/%s: %s at %.0f B/s recently: blocks after %.1f s of daemon outage", shortID(b.Container), b.Stream, sizeText(b.Size), *b.Rate, *b.RideOut)
			}
		}
	}
	managed := "no (dlr has not changed daemon.json)"
	if s.Managed {
		managed = "yes (before dlr: live-restore " + s.Prior + "; dlr disable puts it back)"
	} else if s.stateUnknown {
		managed = "unknown (see below)"
	}
	row("managed by dlr:", "%s", managed)
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
