package main

import (
	"bytes"
	"context"
	"os"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/state"
	"github.com/docker-liverestore/dlr/sysctl"
)

// disable undoes what dlr did, from its state: live-restore goes back to
// what it was before dlr first changed it, dlr's sysctl drop-in goes, the
// previous fs.pipe-max-size comes back, and dockerd is reloaded and checked.
// Live restore that was on before dlr stays on unless --force.
func disable(ctx context.Context, h *host, o options, r *report) error {
	unlock, err := h.mutate(ctx, o, "disable")
	if err != nil {
		return err
	}
	defer unlock()
	st, err := state.Store{Dir: h.stateDir}.Load()
	if err != nil {
		return failed("%v", err)
	}
	config, source := o.config, ""
	if config == "" && st.DaemonJSON != nil {
		config, source = st.DaemonJSON.Path, "dlr's state" // the file dlr changed
	}
	obs, touch, err := h.observeForChange(ctx, o, config, source, r)
	if err != nil {
		return err
	}
	defer obs.close()
	cfg, err := readConfig(obs.config)
	if err != nil {
		return err
	}
	adoptInterruptedWrite(&st, cfg)
	lr := &liveRestoreReport{FileBefore: cfg.liveRestoreWord()}
	lr.FileAfter = lr.FileBefore
	r.LiveRestore = lr
	if src, on, raw := flagLiveRestore(obs); src != "" && on {
		lr.Flag = raw
		return refused("live restore is enabled by a flag (--live-restore in %s), which dlr did not set and cannot turn off; remove the flag from dockerd's command line", src)
	}

	// What daemon.json should become.
	rec := st.DaemonJSON
	cur, has := cfg.doc.LiveRestore()
	var newData []byte
	remove, change := false, false
	switch {
	case rec == nil && !(has && cur):
		r.note("dlr has not changed %s (live-restore: %s); nothing to undo there", obs.config, lr.FileBefore)
	case rec == nil && !o.force:
		r.note("live restore was turned on in %s by someone other than dlr; leaving it on (--force turns it off)", obs.config)
	case rec == nil || (o.force && rec.Prior == state.PriorTrue):
		newData, change, err = cfg.doc.Set(daemonjson.LiveRestoreKey, []byte("false"))
	case rec.Prior == state.PriorTrue:
		r.note("live restore was already on before dlr; leaving it on (--force turns it off)")
	case rec.Prior == state.PriorNoFile && cfg.exists && state.SHA256(cfg.data) == rec.WrittenSHA256:
		remove, change = true, true // dlr created the file and nobody has touched it since
	case rec.Prior == state.PriorEmpty && cfg.exists && state.SHA256(cfg.data) == rec.WrittenSHA256:
		// dlr turned an empty (or whitespace-only) file into
		// {"live-restore": true} and nobody has touched it since: put the
		// exact bytes back, from the backup taken before the change.
		if b, err := os.ReadFile(rec.Backup); err == nil && len(bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))) == 0 {
			newData, change = b, true
		} else {
			newData, change = cfg.doc.Remove(daemonjson.LiveRestoreKey)
		}
	case rec.Prior == state.PriorFalse:
		newData, change, err = cfg.doc.Set(daemonjson.LiveRestoreKey, []byte("false"))
	default: // absent, or a file dlr created that was edited since
		newData, change = cfg.doc.Remove(daemonjson.LiveRestoreKey)
	}
	if err != nil {
		return failed("%v", err)
	}
	if change {
		lr.FileAfter = "false"
		if remove {
			lr.FileAfter = "no-file"
		} else if _, still := mustParse(newData).LiveRestore(); !still {
			lr.FileAfter = "absent"
		}
	}
	wantDaemon := lr.FileAfter == "true"

	var running uint64
	if st.Sysctl != nil {
		running, _ = sysctl.Running(h.procSys, sysctl.Key)
	}
	dropInOld, _ := os.ReadFile(sysctl.Dirs{Root: h.sysctlRoot}.DropInPath())
	restoreValue := st.Sysctl != nil && st.Sysctl.Applied != 0 && running == st.Sysctl.Applied && st.Sysctl.PriorRunning < running

	if o.dryRun {
		if change {
			r.diff(obs.config, unifiedDiff(obs.config, cfg.data, newData, cfg.exists, !remove))
			r.action("%s %s (live-restore: %s -> %s)", map[bool]string{true: "remove", false: "write"}[remove], obs.config, lr.FileBefore, lr.FileAfter)
		}
		if st.Sysctl != nil && dropInOld != nil {
			p := sysctl.Dirs{Root: h.sysctlRoot}.DropInPath()
			r.diff(p, unifiedDiff(p, dropInOld, nil, true, false))
			r.action("remove %s", p)
		}
		if restoreValue {
			r.action("set fs.pipe-max-size back to %d", st.Sysctl.PriorRunning)
		}
		if p := h.dropInPath(obs); obs.systemd || obs.chroot {
			if cur, err := os.ReadFile(p); err == nil && bytes.HasPrefix(cur, dropInHeader) {
				r.diff(p, unifiedDiff(p, cur, nil, true, false))
				r.action("remove %s and reload systemd's units (daemon-reload)", p)
			}
		}
		if change && touch && obs.active {
			r.action("reload %s over D-Bus (not restart) and wait until dockerd reports live restore %s", obs.svcName, onOff(wantDaemon))
		}
		return nil
	}

	tx := newTxn(h, obs, cfg, st, r, "disable")
	tx.live = !obs.chroot && !o.noReload
	if obs.systemd || obs.chroot {
		if err := tx.removeDropIn(ctx, tx.live); err != nil {
			return tx.undo(ctx, err)
		}
		if err := tx.finishDaemonReload(ctx); err != nil {
			return tx.undo(ctx, err)
		}
	}
	if tx.live {
		if err := tx.stopWatcher(ctx); err != nil {
			return tx.undo(ctx, err)
		}
	}
	if st.Sysctl != nil {
		if dropInOld != nil {
			p := sysctl.Dirs{Root: h.sysctlRoot}.DropInPath()
			if err := atomicfile.Remove(p); err != nil {
				return tx.undo(ctx, err)
			}
			tx.dropInWritten, tx.dropInOld, tx.changed = true, dropInOld, true
			r.action("removed %s", p)
		}
		if restoreValue && tx.live {
			if err := sysctl.Apply(h.procSys, sysctl.Key, st.Sysctl.PriorRunning); err != nil {
				return tx.undo(ctx, err)
			}
			tx.applied, tx.appliedOld, tx.changed = true, running, true
			r.action("set fs.pipe-max-size back to %d (was %d)", st.Sysctl.PriorRunning, running)
		}
		tx.st.Sysctl = nil
	}
	// dockerd's reload applies only the keys present in the file: with
	// "live-restore" simply removed, the running daemon would keep it on
	// until its next restart. So when the member goes, live restore is
	// first turned off by an explicit false and a reload, and then the file
	// is put back exactly as it was (absent means false: no reload needed).
	twoStep := change && touch && obs.active && lr.FileAfter != "true" && lr.FileAfter != "false"
	if change {
		first, firstRemove := newData, remove
		if twoStep {
			if first, _, err = cfg.doc.Set(daemonjson.LiveRestoreKey, []byte("false")); err != nil {
				return tx.undo(ctx, err)
			}
			firstRemove = false
		}
		if err := tx.writeConfig(first, firstRemove); err != nil {
			return tx.undo(ctx, err)
		}
	}
	if change || rec != nil {
		tx.st.DaemonJSON = nil
		tx.changed = true
	}
	switch {
	case !change:
	case !touch:
		if o.noReload {
			r.note("--no-reload: no daemon was touched; the change applies when dockerd next (re)loads its configuration")
		}
	case !obs.active:
		r.note("dockerd is not running; the change applies when it starts")
	default:
		if err := tx.reloadVerify(ctx, wantDaemon); err != nil {
			return tx.undo(ctx, err)
		}
		lr.Daemon = boolWord(wantDaemon)
		if twoStep {
			if err := tx.writeConfig(newData, remove); err != nil {
				return tx.undo(ctx, err)
			}
		}
	}
	if err := tx.commit(); err != nil {
		return failed("%v", err)
	}
	r.Changed = tx.configWritten || tx.dropInWritten || tx.applied
	return nil
}

func mustParse(b []byte) *daemonjson.Doc {
	d, err := daemonjson.Parse(b)
	if err != nil {
		panic("dlr: an edit produced an unparseable file: " + err.Error())
	}
	return d
}

func boolWord(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
