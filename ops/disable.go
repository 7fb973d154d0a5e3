package ops

import (
	"bytes"
	"context"
	"github.com/docker-liverestore/dlr/atomicfile"

	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/plan"
	"github.com/docker-liverestore/dlr/state"
)

// Disable undoes what dlr did, from its state: live-restore goes back to
// what it was before dlr first changed it, dlr's drop-ins go, the previous
// fs.pipe-max-size comes back, and dockerd is reloaded and checked. Live
// restore that was on before dlr stays on unless --force.
func Disable(ctx context.Context, e *Env, o Options, r *Report) error {
	unlock, err := e.mutate(ctx, o, "disable")
	if err != nil {
		return err
	}
	defer unlock()
	st, err := e.loadState(o, r)
	if err != nil {
		return err
	}
	config, source := o.Config, ""
	switch rec := st.DaemonJSON; {
	case rec != nil && config == "":
		config, source = rec.Path, "dlr's state" // the file dlr changed
	case rec != nil && config != rec.Path:
		return refused("dlr changed %s, not %s: 'dlr disable' (or --config %s) puts that file back", rec.Path, config, rec.Path)
	}
	f, live, err := e.begin(ctx, o, config, source, &st, r)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg, err := readConfig(f.Config)
	if err != nil {
		return err
	}
	plan.AdoptInterruptedWrite(&st, cfg)
	lr := &LiveRestoreReport{FileBefore: cfg.LiveRestoreWord()}
	lr.FileAfter = lr.FileBefore
	r.LiveRestore = lr
	if src, on, raw := liveRestoreFlag(f); src != "" && on {
		lr.Flag = raw
		return refused("live restore is enabled by a flag (--live-restore in %s), which dlr did not set and cannot turn off; remove the flag from dockerd's command line", src)
	}
	newData, remove, change, err := disabledConfig(cfg, st.DaemonJSON, o.Force, r)
	if err != nil {
		return failed("%v", err)
	}
	if change {
		lr.FileAfter = "false"
		if remove {
			lr.FileAfter = "no-file"
		} else if d, err := daemonjson.Parse(newData); err == nil {
			if _, still := d.LiveRestore(); !still {
				lr.FileAfter = "absent"
			}
		}
	}
	steps, err := e.disablePlan(ctx, o, f, cfg, st, live, newData, remove, change, lr, r)
	if err != nil {
		return err
	}
	if change || st.DaemonJSON != nil {
		// The record of what dlr changed goes last, with the commit: a run
		// killed before that leaves it, and the next enable or disable
		// still knows what the file held before dlr (it must never take an
		// interim "live-restore": false for the user's own value).
		steps = append(steps, plan.Func{Do: func(ctx context.Context, x *plan.Exec) error {
			x.State.DaemonJSON = nil
			x.StateChanged = true
			return nil
		}})
	}
	return e.apply(ctx, o, f, cfg, st, live, "disable", steps, r)
}

// disablePlan is the list of steps that undoes what dlr did; notes for
// what needs no step go to r.
func (e *Env) disablePlan(ctx context.Context, o Options, f *host.Facts, cfg *host.Config, st state.State, live bool, newData []byte, remove, change bool, lr *LiveRestoreReport, r *Report) ([]plan.Step, error) {
	wantDaemon := lr.FileAfter == "true"

	var steps []plan.Step
	if f.Systemd || f.Chroot {
		rm := []plan.Step{}
		if s := plan.PlanRemoveDropIn(e.Env, f); s != nil {
			rm = append(rm, s)
		}
		if s := plan.PlanRemoveWatcherUnit(e.Env); s != nil {
			rm = append(rm, s)
		}
		if len(rm) > 0 {
			steps = append(append(steps, e.disableHold(ctx, f, live, r)...), rm...)
		}
		steps = append(steps, plan.DaemonReload{})
	}
	steps = append(steps, plan.StopWatcher{})
	if s := plan.PlanSysctlRemove(e.Env, st.Sysctl); s != nil {
		steps = append(steps, s)
	}
	// dockerd's reload applies only the keys present in the file: with
	// "live-restore" simply removed, the running daemon would keep it on
	// until its next restart. So when the member goes, live restore is
	// first turned off by an explicit false and a reload, and then the file
	// is put back exactly as it was (absent means false: no reload needed).
	reload := change && live && f.Active
	twoStep := reload && lr.FileAfter != "true" && lr.FileAfter != "false"
	final := plan.NewWriteConfig(cfg, newData, remove, "live-restore: "+lr.FileBefore+" -> "+lr.FileAfter)
	if change {
		first := final
		if twoStep {
			interim, _, err := cfg.Doc.Set(daemonjson.LiveRestoreKey, []byte("false"))
			if err != nil {
				return nil, failed("%v", err)
			}
			first = plan.NewWriteConfig(cfg, interim, false, "live-restore: false")
			first.Interim = true
			final.After(first)
		}
		steps = append(steps, first)
	}
	switch {
	case !change:
	case !live:
		if o.NoReload {
			r.Note("--no-reload: no daemon was touched; the change applies when dockerd next (re)loads its configuration")
		}
	case !f.Active:
		r.Note("dockerd is not running; the change applies when it starts")
	default:
		steps = append(steps, plan.Reload{How: f.ReloadHow(), V: plan.LiveRestore(wantDaemon)},
			plan.Func{Do: func(context.Context, *plan.Exec) error { lr.Daemon = boolWord(wantDaemon); return nil }})
		if twoStep {
			steps = append(steps, final)
		}
	}
	return steps, nil
}

// disabledConfig decides what daemon.json becomes from dlr's record of it
// (rec, nil when dlr never changed it): the bytes, whether the file goes,
// and whether anything changes.
func disabledConfig(cfg *host.Config, rec *state.DaemonJSON, force bool, r *Report) (data []byte, remove, change bool, err error) {
	cur, has := cfg.Doc.LiveRestore()
	path := cfg.Path
	switch {
	case rec == nil && !(has && cur):
		r.Note("dlr has not changed %s (live-restore: %s); nothing to undo there", path, cfg.LiveRestoreWord())
	case rec == nil && !force:
		r.Note("live restore was turned on in %s by someone other than dlr; leaving it on (--force turns it off)", path)
	case rec == nil || (force && rec.Prior == state.PriorTrue):
		data, change, err = cfg.Doc.Set(daemonjson.LiveRestoreKey, []byte("false"))
	case rec.Prior == state.PriorTrue:
		r.Note("live restore was already on before dlr; leaving it on (--force turns it off)")
	case rec.Prior == state.PriorNoFile && cfg.Exists && state.SHA256(cfg.Data) == rec.WrittenSHA256:
		remove, change = true, true // dlr created the file and nobody has touched it since
	case rec.Prior == state.PriorEmpty && cfg.Exists && state.SHA256(cfg.Data) == rec.WrittenSHA256:
		// dlr turned an empty (or whitespace-only) file into
		// {"live-restore": true} and nobody has touched it since: put the
		// exact bytes back, from the backup taken before the change.
		if b, err := atomicfile.ReadFile(rec.Backup, atomicfile.MaxRead); err == nil && len(bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))) == 0 {
			data, change = b, true
		} else {
			data, change = cfg.Doc.Remove(daemonjson.LiveRestoreKey)
		}
	case rec.Prior == state.PriorFalse:
		data, change, err = cfg.Doc.Set(daemonjson.LiveRestoreKey, []byte("false"))
	default: // absent, or a file dlr created that was edited since
		data, change = cfg.Doc.Remove(daemonjson.LiveRestoreKey)
	}
	return data, remove, change, err
}
