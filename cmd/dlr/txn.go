package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/state"
	"github.com/docker-liverestore/dlr/sysctl"
	"github.com/docker-liverestore/dlr/unit"
)

// txn carries out a change and remembers how to undo it: every file it
// writes, the sysctl value it applies, and whether it reloaded the daemon.
// undo puts all of it back; commit clears the pending mark in the state.
type txn struct {
	h   *host
	obs *observed
	cfg *configFile
	st  state.State
	r   *report
	op  string

	prior   state.State // the state as loaded, restored by undo
	changed bool

	configWritten bool
	dropInWritten bool
	dropInOld     []byte // nil: there was no drop-in
	applied       bool
	appliedOld    uint64
	reloaded      bool
	dropIn        *dropInUndo     // the docker.service drop-in as it was
	startedWatch  bool            // the txn started the watcher
	verified      *state.Verified // a new record, saved by commit
	// watcherWait waits for readWatcherAsync (nil if it did not run).
	watcherWait func()
	watcherUnit *unit.Unit // the watcher as readWatcherAsync read it
	unitPath    []string   // systemd's unit path, read alongside
	// daemonReloadDue: a drop-in changed and systemd has not re-read it.
	daemonReloadDue bool
	daemonReloaded  bool // a daemon-reload was asked for
	// live: the txn may touch the running system (/proc/sys, systemd, the
	// daemon): not in a chroot and not with --no-reload.
	live bool
}

func newTxn(h *host, obs *observed, cfg *configFile, st state.State, r *report, op string) *txn {
	// Only enable's own checks make a record (recordVerified); any change
	// of the state ends it (state.Store.Save).
	return &txn{h: h, obs: obs, cfg: cfg, st: st, prior: st, r: r, op: op}
}

// applySysctl writes or removes the drop-in as planned and, if live, raises
// the running value.
func (t *txn) applySysctl(p *sysctlPlan, live bool) error {
	if p.dec.Conflict {
		t.r.warn("fs.pipe-max-size: %s; dlr leaves it alone", p.dec.Reason)
		return nil
	}
	// Record the change in the state before making it: a run killed after
	// writing the drop-in (or raising the value) must leave a state from
	// which disable removes the drop-in and puts the value back. A later
	// run finds the drop-in already written and would not record it.
	rewrite := p.dec.DropIn == sysctl.DropInWrite && !bytes.Equal(sysctl.Render(p.dec.Want), p.current)
	apply := p.dec.Apply && live
	if rewrite || p.dec.DropIn == sysctl.DropInRemove || apply {
		if t.st.Sysctl == nil {
			t.st.Sysctl = &state.Sysctl{DropIn: p.dropIn, PriorRunning: p.running}
		}
		if apply {
			t.st.Sysctl.Applied = p.dec.ApplyValue
		}
		t.st.Pending = &state.Pending{Op: t.op, Started: t.h.now(), Step: "sysctl", PID: os.Getpid()}
		if err := (state.Store{Dir: t.h.stateDir}).Save(t.st); err != nil {
			return fmt.Errorf("saving dlr's state: %w", err)
		}
	}
	switch p.dec.DropIn {
	case sysctl.DropInWrite:
		data := sysctl.Render(p.dec.Want)
		if rewrite {
			if err := os.MkdirAll(filepath.Dir(p.dropIn), 0o755); err != nil {
				return err
			}
			t.dropInOld = p.current
			if _, err := atomicfile.Replace(p.dropIn, data, atomicfile.Options{Mode: 0o644}); err != nil {
				return fmt.Errorf("writing %s: %w", p.dropIn, err)
			}
			t.dropInWritten, t.changed = true, true
			t.r.action("wrote %s (fs.pipe-max-size = %d)", p.dropIn, p.dec.Want)
		}
	case sysctl.DropInRemove:
		t.dropInOld = p.current
		if err := atomicfile.Remove(p.dropIn); err != nil {
			return fmt.Errorf("removing %s: %w", p.dropIn, err)
		}
		t.dropInWritten, t.changed = true, true
		t.r.action("removed %s: %s", p.dropIn, p.dec.Reason)
	default:
		t.r.note("fs.pipe-max-size: %s", p.dec.Reason)
	}
	if apply {
		if err := sysctl.Apply(t.h.procSys, sysctl.Key, p.dec.ApplyValue); err != nil {
			return fmt.Errorf("setting fs.pipe-max-size: %w", err)
		}
		t.applied, t.appliedOld, t.changed = true, p.running, true
		t.r.action("set fs.pipe-max-size to %d (was %d)", p.dec.ApplyValue, p.running)
	}
	return nil
}

// writeConfig replaces daemon.json with data (or removes it), after saving a
// backup of the old bytes and marking the operation pending in the state, so
// that an interruption between the write and the reload is noticed.
func (t *txn) writeConfig(data []byte, remove bool) error {
	return t.write(data, remove, !t.configWritten)
}

func (t *txn) write(data []byte, remove, withBackup bool) error {
	store := state.Store{Dir: t.h.stateDir}
	now := t.h.now()
	backup := ""
	if t.cfg.exists && withBackup {
		var err error
		if backup, err = store.Backup("daemon.json", t.cfg.data, now); err != nil {
			return err
		}
	}
	if t.st.DaemonJSON != nil {
		if backup != "" {
			t.st.DaemonJSON.Backup = backup
		}
		t.st.DaemonJSON.Changed = now
	}
	t.st.Pending = &state.Pending{Op: t.op, Path: t.obs.config, BeforeSHA: state.SHA256(t.cfg.data),
		AfterSHA: state.SHA256(data), Started: now, Step: "write", PID: os.Getpid()}
	if err := store.Save(t.st); err != nil {
		return fmt.Errorf("saving dlr's state: %w", err)
	}
	if err := writeConfig(t.obs.config, data, remove); err != nil {
		return fmt.Errorf("writing %s: %w", t.obs.config, err)
	}
	// Only now is data what dlr last wrote: a run killed before the rename
	// leaves the old file, which must still match the recorded hash (until
	// the next save, Pending.AfterSHA says what the write would leave).
	if t.st.DaemonJSON != nil {
		t.st.DaemonJSON.WrittenSHA256 = state.SHA256(data)
	}
	t.configWritten, t.changed = true, true
	verb := "wrote"
	if remove {
		verb = "removed"
	}
	if backup != "" {
		t.r.action("%s %s (previous version saved as %s)", verb, t.obs.config, backup)
	} else {
		t.r.action("%s %s", verb, t.obs.config)
	}
	t.st.Pending.Step = "reload"
	// Unsynced: lost to a power cut, the durable state says "write" with
	// the bytes being written, which adoptInterruptedWrite recognises.
	return store.SaveUnsynced(t.st)
}

// adoptInterruptedWrite brings the state up to date with an earlier run
// that was killed between replacing daemon.json and recording that it had
// (pending step "write"): when the file now holds exactly the bytes that run
// was writing, they are what dlr last wrote.
func adoptInterruptedWrite(st *state.State, cfg *configFile) {
	p, rec := st.Pending, st.DaemonJSON
	if p != nil && p.Step == "write" && rec != nil && cfg.exists && state.SHA256(cfg.data) == p.AfterSHA {
		rec.WrittenSHA256 = p.AfterSHA
	}
}

// reloadVerify asks systemd to reload the Docker unit (SIGHUP to dockerd's
// PID without systemd), then polls /info until dockerd reports live restore
// as want. A reload job that is "done" only means the signal was sent;
// only /info says whether dockerd accepted the file.
func (t *txn) reloadVerify(ctx context.Context, want bool) error {
	h, obs := t.h, t.obs
	since := h.now()
	vctx, cancel := context.WithTimeout(ctx, h.verifyTimeout)
	defer cancel()
	// dockerd announces every reload it applies with a "reload" event that
	// carries the configuration it now runs with ("live-restore": "true"):
	// listening for it (from before the reload) says at once what polling
	// /info finds out later, each /info taking 10-20 ms on a busy daemon.
	// /info is still polled, more slowly, in case the stream fails.
	seen := t.watchReloadEvent(vctx, want)
	if err := t.reload(ctx); err != nil {
		return err
	}
	t.r.action("reloaded %s (dockerd re-read its configuration; nothing was restarted)", obs.svcName)
	// Every second also look for an error dockerd logged since the reload,
	// so that a rejected file fails at once instead of after the whole
	// timeout.
	var last error
	nextLog := time.Now().Add(time.Second)
	var poll backoff
	next := time.After(0)
	if seen != nil {
		poll.d = 100 * time.Millisecond
		next = time.After(poll.d)
	}
	for {
		select {
		case <-vctx.Done():
			msg := fmt.Sprintf("dockerd did not report live restore %s within %s after the reload", onOff(want), h.verifyTimeout)
			if lines := h.journal(context.WithoutCancel(ctx), obs.svcName, since); len(lines) > 0 {
				msg += "; its log says: " + strings.Join(lines, " | ")
			} else if last != nil {
				msg += "; last error: " + last.Error()
			}
			return errors.New(msg)
		case <-seen:
			t.r.action("verified: dockerd's reload event reports live restore %s", onOff(want))
			return nil
		case <-next:
			next = time.After(poll.next())
			i, err := h.info(vctx, obs)
			if err == nil && i.LiveRestore == want {
				t.r.action("verified: dockerd reports live restore %s", onOff(want))
				return nil
			}
			if err != nil {
				last = err
			}
			if time.Now().After(nextLog) {
				nextLog = time.Now().Add(time.Second)
				// Only an error about the configuration ends the wait
				// early ("unable to configure the Docker daemon with file
				// ..."): an unrelated error logged meanwhile must not undo
				// a good change.
				for _, l := range h.journal(vctx, obs.svcName, since) {
					if strings.Contains(strings.ToLower(l), "configur") {
						return fmt.Errorf("dockerd rejected the new configuration: %s", l)
					}
				}
			}
		}
	}
}

// watchReloadEvent opens dockerd's event stream for its "reload" events and
// returns a channel that receives once one reports live restore as want;
// nil when the stream cannot be opened. The stream ends with ctx.
func (t *txn) watchReloadEvent(ctx context.Context, want bool) <-chan struct{} {
	if t.h.bufs.events == nil {
		return nil
	}
	stream, err := t.h.bufs.events(t.obs.socket).Events(ctx, map[string][]string{"type": {"daemon"}, "event": {"reload"}})
	if err != nil {
		return nil
	}
	seen := make(chan struct{})
	go func() {
		defer stream.Close()
		for {
			ev, err := stream.Next()
			if err != nil {
				return
			}
			if ev.Verb() == "reload" && ev.Actor.Attributes["live-restore"] == strconv.FormatBool(want) {
				close(seen)
				return
			}
		}
	}()
	return seen
}

func (t *txn) reload(ctx context.Context) error {
	h, obs := t.h, t.obs
	t.reloaded = true
	if obs.systemd && obs.sd != nil {
		rctx, cancel := context.WithTimeout(ctx, h.reloadTimeout)
		defer cancel()
		if err := obs.sd.Reload(rctx, obs.svcName); err != nil {
			return fmt.Errorf("reloading %s: %w", obs.svcName, err)
		}
		return nil
	}
	if obs.pid > 0 {
		if err := h.signal(obs.pid, syscall.SIGHUP); err != nil {
			return fmt.Errorf("sending SIGHUP to dockerd (PID %d): %w", obs.pid, err)
		}
		return nil
	}
	return errors.New("no way to reload dockerd: neither systemd nor a pid file")
}

// undo puts back everything the txn changed, reloads again if it had
// reloaded, and returns cause wrapped with what was put back. It runs even if
// ctx was cancelled (an interrupt must not leave a half-done change).
func (t *txn) undo(ctx context.Context, cause error) error {
	ctx = context.WithoutCancel(ctx)
	t.joinWatcher()
	var put, problems []string
	if t.dropInWritten {
		var err error
		if t.dropInOld == nil {
			err = atomicfile.Remove(filepath.Join(t.h.sysctlRoot, "etc/sysctl.d", sysctl.DropInName))
		} else {
			_, err = atomicfile.Replace(sysctl.Dirs{Root: t.h.sysctlRoot}.DropInPath(), t.dropInOld, atomicfile.Options{Mode: 0o644})
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("restoring the sysctl drop-in: %v", err))
		} else {
			put = append(put, sysctl.Dirs{Root: t.h.sysctlRoot}.DropInPath())
		}
	}
	if t.applied {
		if err := sysctl.Apply(t.h.procSys, sysctl.Key, t.appliedOld); err != nil {
			problems = append(problems, fmt.Sprintf("restoring fs.pipe-max-size %d: %v", t.appliedOld, err))
		} else {
			put = append(put, fmt.Sprintf("fs.pipe-max-size=%d", t.appliedOld))
		}
	}
	if t.startedWatch {
		if err := t.stopWatcher(ctx); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if t.dropIn != nil {
		if err := t.undoDropIn(ctx, t.live); err != nil {
			problems = append(problems, fmt.Sprintf("restoring %s: %v", t.dropIn.path, err))
		} else {
			put = append(put, t.dropIn.path)
		}
	}
	if t.configWritten {
		if p, err := t.restoreConfig(ctx); err != nil {
			problems = append(problems, err.Error())
		} else {
			put = append(put, p...)
		}
	}
	if err := (state.Store{Dir: t.h.stateDir}).Save(t.prior); err != nil {
		problems = append(problems, fmt.Sprintf("restoring dlr's state: %v", err))
	}
	msg := cause.Error()
	if len(put) > 0 {
		msg += ". Put back: " + strings.Join(put, "; ")
	}
	if len(problems) > 0 {
		msg += ". COULD NOT put back: " + strings.Join(problems, "; ")
	}
	if t.reloaded {
		msg += ". dockerd was reloaded, never restarted; containers were not touched"
	}
	code, kind := codeOf(cause)
	if code == exitOK || code == exitUsage {
		code, kind = exitFailed, "failed"
	}
	t.changed = false
	return &exitError{code, kind, errors.New(msg)}
}

// restoreConfig puts daemon.json back as it was before the txn and, if the
// txn had reloaded dockerd, reloads again. dockerd's reload only applies the
// keys present in the file, so when the old file has no "live-restore" the
// daemon would keep the value dlr set: the old file is first written with
// "live-restore": false added, reloaded, and only then put back byte for
// byte (which needs no reload: absent means false).
func (t *txn) restoreConfig(ctx context.Context) ([]string, error) {
	path := t.obs.config
	_, had := t.cfg.doc.LiveRestore()
	var offErr error
	if t.reloaded && !had {
		interim, _, err := t.cfg.doc.Set(daemonjson.LiveRestoreKey, []byte("false"))
		if err == nil {
			err = writeConfig(path, interim, false)
		}
		if err == nil {
			err = t.reload(ctx)
		}
		if err == nil {
			t.waitLiveRestore(ctx, false, 5*time.Second)
		}
		offErr = err
	}
	// The old bytes go back whatever happened above.
	if err := writeConfig(path, t.cfg.data, !t.cfg.exists); err != nil {
		return nil, fmt.Errorf("restoring %s: %v (the previous version is in %s)", path, err, filepath.Join(t.h.stateDir, "backups"))
	}
	put := []string{path}
	if offErr != nil {
		return put, fmt.Errorf("turning live restore back off in the running dockerd: %v (it may stay on until dockerd's next restart)", offErr)
	}
	if t.reloaded && had {
		if err := t.reload(ctx); err != nil {
			return put, fmt.Errorf("reloading again after restoring: %v", err)
		}
	}
	if t.reloaded {
		put = append(put, "reloaded "+t.obs.svcName+" with the restored settings")
	}
	return put, nil
}

// waitLiveRestore polls /info until dockerd reports want or d passes, and
// reports whether it saw want.
func (t *txn) waitLiveRestore(ctx context.Context, want bool, d time.Duration) (bool, error) {
	vctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last error
	var poll backoff
	for {
		i, err := t.h.info(vctx, t.obs)
		if err == nil && i.LiveRestore == want {
			return true, nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-vctx.Done():
			return false, last
		case <-time.After(poll.next()):
		}
	}
}

// commit ends the operation: it clears the pending mark and saves the state
// if anything was changed (or an earlier run's pending mark is to be
// cleared). A run that changes nothing writes nothing.
func (t *txn) commit() error {
	store := state.Store{Dir: t.h.stateDir}
	if t.changed || t.prior.Pending != nil {
		t.st.Pending = nil
		// Unsynced: what the operation changed was recorded durably before
		// each step; lost to a power cut, this save leaves the last pending
		// mark, and the next run finishes the job.
		if err := store.SaveUnsynced(t.st); err != nil {
			return err
		}
	}
	if t.verified != nil {
		// Best effort: without the record the next run takes the full path.
		if err := store.SaveVerified(*t.verified); err != nil {
			t.r.warn("dlr's record of this check was not saved: %v", err)
		}
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

// backoff paces the polling of /info after a reload: dockerd applies a
// reload within milliseconds, so the first checks come quickly (5 ms,
// doubling) and later ones every 100 ms.
type backoff struct{ d time.Duration }

func (b *backoff) next() time.Duration {
	switch {
	case b.d == 0:
		b.d = 5 * time.Millisecond
	case b.d < 100*time.Millisecond:
		b.d = min(2*b.d, 100*time.Millisecond)
	}
	return b.d
}
