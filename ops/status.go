package ops

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/state"
	"github.com/docker-liverestore/dlr/sysctl"
)

// Status reports where the host stands. It changes nothing, needs no root
// for what it can read, and says what it could not read.
func Status(ctx context.Context, e *Env, o Options, r *Report) error {
	f, err := e.Observe(ctx, o.Config, false)
	if err != nil {
		return failed("%v", err)
	}
	defer f.Close()
	s := &StatusReport{Config: f.Config, ConfigSource: f.ConfigSource}
	r.Status = s
	r.Warnings = append(r.Warnings, f.Warnings...)
	if f.SDErr != nil {
		s.Unknown = append(s.Unknown, "systemd: "+f.SDErr.Error())
	}
	if f.Chroot {
		s.Unknown = append(s.Unknown, "daemon: "+f.ChrootWhy)
	}
	cfg, err := host.ReadConfig(f.Config)
	if err != nil {
		s.FileLiveRestore, s.ConfigError = "invalid", err.Error()
	} else {
		s.FileLiveRestore = cfg.LiveRestoreWord()
	}
	if u := f.Unit; u != nil {
		s.Service, s.LoadState, s.ActiveState, s.MainPID, s.KillMode = u.Name, u.LoadState, u.ActiveState, int(u.MainPID), u.KillMode
		if u.KillMode != "" && u.KillMode != "process" {
			r.Warn("%s has KillMode=%s: stopping it kills the containers whatever live restore says; KillMode=process is needed", u.Name, u.KillMode)
		}
	} else if f.Systemd && f.SDErr == nil {
		s.Service, s.LoadState = host.DockerService, "not-found"
	}
	if src, v, raw := liveRestoreFlag(f); src != "" {
		s.Flag, s.FlagSource = raw, src
		if s.FileLiveRestore == "true" || s.FileLiveRestore == "false" {
			s.Conflicts = append(s.Conflicts, guard.LiveRestoreFlag(src, raw, v, true, f.Config).Message)
		}
		s.Enabled = v
	} else {
		s.Enabled = s.FileLiveRestore == "true"
	}
	dataRoot := host.DefaultDataRoot
	if f.Active {
		i, err := e.Info(ctx, f.Socket)
		if err != nil {
			s.Unknown = append(s.Unknown, "daemon: "+err.Error())
			s.DaemonUnknown = true
		} else {
			s.DaemonLiveRestore, s.DaemonVersion, s.Swarm = boolWord(i.LiveRestore), i.Version, i.SwarmState
			if i.RootDir != "" {
				dataRoot = i.RootDir
			}
			s.Effective = s.Enabled && i.LiveRestore
			if fd := guard.Swarm(i.SwarmState, s.Enabled); fd.Severity == guard.Fail {
				s.Conflicts = append(s.Conflicts, fd.Message)
			}
			e.statusSkew(ctx, f, s, r)
		}
		var read bool
		s.LogBuffers, read, s.Unknown = e.logBuffers(ctx, o, f, dataRoot, true, s.Unknown)
		if read {
			if lb, err := e.logBudget(o, s.LogBuffers); err != nil {
				s.Unknown = append(s.Unknown, "log-buffer budget: "+err.Error())
			} else {
				s.LogBudget = lb
			}
		}
	}
	if v, err := sysctl.Running(e.Path(host.ProcSysDir), sysctl.Key); err == nil {
		s.PipeMaxSizeRunning = v
	} else {
		s.Unknown = append(s.Unknown, "fs.pipe-max-size: "+err.Error())
	}
	if winner, _, err := sysctl.Configured(sysctl.Dirs{Root: e.Root}, sysctl.Key); err == nil && winner.File != "" {
		s.PipeMaxSizeWinner = winner.String()
		if n, err := sysctl.ParseSize(winner.Value); err == nil {
			s.PipeMaxSizeBoot = n
		}
	}
	e.statusState(s, r)
	return nil
}

// statusSkew says what the restart waiting for the installed dockerd will
// do when a package upgraded it under the running one (dlr check's version
// item, the same evidence).
func (e *Env) statusSkew(ctx context.Context, f *host.Facts, s *StatusReport, r *Report) {
	if e.DockerdVersion == nil || len(f.UnitCmd.Args) == 0 || s.MainPID <= 0 {
		return
	}
	// A package that replaced the binary leaves the running one's
	// /proc/PID/exe "(deleted)": without that, the versions match and
	// status spares the `dockerd --version` run.
	if exe, err := os.Readlink(e.Path("/proc/" + strconv.Itoa(s.MainPID) + "/exe")); err == nil && !strings.HasSuffix(exe, " (deleted)") {
		return
	}
	installed, err := e.DockerdVersion(ctx, f.UnitCmd.Args[0])
	if err != nil || installed == s.DaemonVersion {
		return
	}
	v := guard.VersionSkew(s.DaemonVersion, installed, nil)
	s.InstalledVersion, s.NextRestart = installed, v.Severity.String()+": "+v.Message
	s.NextRestartVerdict = strings.ToLower(v.Severity.String())
	if v.Severity == guard.Warn || v.Severity == guard.Fail {
		r.Warn("the next docker restart, onto the installed dockerd %s: %s (%s)", installed, v.Message, v.Fix)
	}
}

// statusState reads dlr's own state: whether it manages daemon.json, an
// operation left pending, and the restores it checked.
func (e *Env) statusState(s *StatusReport, r *Report) {
	if st, err := (state.Store{Dir: e.Path(host.StateDir)}).Load(); err != nil {
		s.Unknown = append(s.Unknown, "dlr state: "+err.Error())
		s.StateUnknown = true
	} else {
		if st.DaemonJSON != nil {
			s.Managed, s.Prior = true, st.DaemonJSON.Prior
		}
		if p := st.Pending; p != nil {
			s.Pending = fmt.Sprintf("dlr %s (PID %d, %s) stopped at step %q; run dlr %s again to finish it",
				p.Op, p.PID, p.Started.Format(time.RFC3339), p.Step, p.Op)
			r.Warn("%s", s.Pending)
		}
	}
	if rs, err := e.restoreStore().Records(); err != nil {
		s.Unknown = append(s.Unknown, "restores: "+err.Error())
	} else {
		s.Restores = rs
	}
}

// logBuffers reads the log FIFO sizes of the running containers, with
// each json-file log's recent rate and the outage it rides out (rates
// false: sizes only, as dlr check needs); what cannot be read is added to
// unknown. read is false when the exec root could not be scanned at all.
func (e *Env) logBuffers(ctx context.Context, o Options, f *host.Facts, dataRoot string, rates bool, unknown []string) (bufs []LogBuffer, read bool, _ []string) {
	dir, _, _ := e.ExecRoot(o.ExecRoot, o.Config, e.DockerdCmdline(f.PID))
	streams, err := buffers.Scan(ctx, dir)
	if err != nil {
		return nil, false, append(unknown, "log buffers: "+err.Error())
	}
	var ids []string // one log read per container, not per stream
	seen := map[string]bool{}
	for _, st := range streams {
		if rates && st.Err == nil && !st.Exec && !seen[st.Container] {
			seen[st.Container] = true
			ids = append(ids, st.Container)
		}
	}
	byContainer := buffers.RecentLogRatesOf(dataRoot, ids)
	var out []LogBuffer
	for _, st := range streams {
		if st.Err != nil {
			unknown = append(unknown, "log buffer "+st.Path+": "+st.Err.Error())
			continue
		}
		b := LogBuffer{Container: st.Container, Stream: st.Name, Size: st.Size, Exec: st.Exec}
		if rc := byContainer[st.Container]; rc.OK && !st.Exec {
			r := rc.Rates[st.Kind()]
			b.Rate = &r
			if r > 0 {
				ride := float64(st.Size) / r
				b.RideOut = &ride
			}
		}
		out = append(out, b)
	}
	return out, true, unknown
}

// logBudget puts the log FIFOs against the size and the budget that dlr
// buffers and the watcher grow them to (o's --size and --budget, else
// fs.pipe-max-size and 1/64 of RAM); buffers.Short decides which are short.
// Only the containers' own streams are counted short, as dlr check's
// log-buffers item judges only those (an exec session's FIFOs live as long
// as its probe); every stream counts against the budget.
func (e *Env) logBudget(o Options, bufs []LogBuffer) (*LogBudget, error) {
	target, budget, err := e.bufferSizes(o)
	if err != nil {
		return nil, err
	}
	lb := &LogBudget{Target: target, Budget: budget}
	sizes := make([]int64, len(bufs))
	for i, b := range bufs {
		sizes[i] = b.Size
		lb.Bytes += b.Size
	}
	short, level := buffers.Short(sizes, target, budget)
	lb.Level = level
	for i, b := range bufs {
		if short[i] && !b.Exec {
			lb.Short++
		}
	}
	return lb, nil
}
