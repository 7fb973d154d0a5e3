package plan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/state"
)

// WriteConfig replaces daemon.json with Data (or removes it, with Remove),
// after saving a backup of the old bytes (the first write of a run) and
// marking the operation pending in the state, so that an interruption
// between the write and the reload is noticed.
//
// Its undo (done once per run, by the first WriteConfig) puts the file
// back byte for byte and, if dockerd had been reloaded, reloads it again.
// dockerd's reload only applies the keys present in the file, so when the
// old file has no "live-restore" the daemon would keep the value dlr set:
// the old file is first written with "live-restore": false added and
// reloaded, and only then put back as it was (absent means false).
type WriteConfig struct {
	Data   []byte
	Remove bool
	// What says what changes, for the description ("live-restore: absent
	// -> true"); "" for none.
	What string
	// Old is the file as read before the run: the diff shows the whole
	// change of the run, interim writes included.
	Old []byte
	// Interim marks a write that a later step replaces.
	Interim bool

	path     string
	oldExist bool
}

// NewWriteConfig is the step that writes data (nil with remove) to the
// daemon.json that x will change; old is what it holds before (nil: as
// read).
func NewWriteConfig(cfg *host.Config, data []byte, remove bool, what string) *WriteConfig {
	return &WriteConfig{Data: data, Remove: remove, What: what, path: cfg.Path, Old: cfg.Data, oldExist: cfg.Exists}
}

// After makes w a write that follows prev, an interim write.
func (w *WriteConfig) After(prev *WriteConfig) *WriteConfig {
	prev.Interim = true
	return w
}

func (w *WriteConfig) Describe(r Recorder) {
	r.Diff(w.path, UnifiedDiff(w.path, w.Old, w.Data, w.oldExist, !w.Remove))
	verb := "write"
	if w.Remove {
		verb = "remove"
	}
	switch {
	case w.Interim:
		r.Action("%s %s (%s: an interim value the reload applies; the final file follows)", verb, w.path, w.What)
	case w.What != "":
		r.Action("%s %s (%s)", verb, w.path, w.What)
	default:
		r.Action("%s %s", verb, w.path)
	}
}

func (w *WriteConfig) Apply(ctx context.Context, x *Exec) error {
	now := x.Env.Now()
	backup := ""
	if x.Config.Exists && !x.configWritten {
		var err error
		if backup, err = x.Store.Backup("daemon.json", x.Config.Data, now); err != nil {
			return err
		}
	}
	if backup != "" {
		x.backup = backup
	}
	x.written = append(x.written, state.SHA256(w.Data))
	if x.State.DaemonJSON != nil {
		if backup != "" {
			x.State.DaemonJSON.Backup = backup
		}
		x.State.DaemonJSON.Changed = now
	}
	x.State.Pending = &state.Pending{Op: x.Op, Path: w.path, BeforeSHA: state.SHA256(x.Config.Data),
		AfterSHA: state.SHA256(w.Data), Started: now, Step: "write", PID: os.Getpid()}
	if err := x.Store.Save(x.State); err != nil {
		return fmt.Errorf("saving dlr's state: %w", err)
	}
	if err := writeDaemonJSON(w.path, w.Data, w.Remove); err != nil {
		return fmt.Errorf("writing %s: %w", w.path, err)
	}
	x.configWritten = true // from here the undo restores the file
	// Only now is Data what dlr last wrote: a run killed before the rename
	// leaves the old file, which must still match the recorded hash (until
	// the next save, Pending.AfterSHA says what the write would leave).
	if x.State.DaemonJSON != nil {
		x.State.DaemonJSON.WrittenSHA256 = state.SHA256(w.Data)
	}
	x.Changed = true
	verb := "wrote"
	if w.Remove {
		verb = "removed"
	}
	if backup != "" {
		x.R.Action("%s %s (previous version saved as %s)", verb, w.path, backup)
	} else {
		x.R.Action("%s %s", verb, w.path)
	}
	x.State.Pending.Step = "reload"
	// Unsynced: lost to a power cut, the durable state says "write" with
	// the bytes being written, which AdoptInterruptedWrite recognises.
	return x.Store.SaveUnsynced(x.State)
}

func (w *WriteConfig) Undo(ctx context.Context, x *Exec) ([]string, error) {
	if !x.configWritten || x.configRestored {
		return nil, nil
	}
	x.configRestored = true
	return x.restoreConfig(ctx)
}

// restoreConfig puts daemon.json back as it was before the run and, if
// dockerd was reloaded, reloads it again (see WriteConfig).
func (x *Exec) restoreConfig(ctx context.Context) ([]string, error) {
	path, cfg := x.Facts.Config, x.Config
	_, had := cfg.Doc.LiveRestore()
	var offErr error
	interim, _, ierr := cfg.Doc.Set(daemonjson.LiveRestoreKey, []byte("false"))
	x.markRollback(path, interim)
	if x.Reloaded && !had {
		err := ierr
		if err == nil {
			err = writeDaemonJSON(path, interim, false)
		}
		if err == nil {
			// Waiting for dockerd to show it is best effort: the old
			// bytes go back whatever it says.
			err = x.ReloadVerify(ctx, liveRestoreIs(false, x.Env.T.Rollback))
			var late *NotAppliedError
			if errors.As(err, &late) {
				err = nil
			}
		}
		offErr = err
	}
	if err := writeDaemonJSON(path, cfg.Data, !cfg.Exists); err != nil {
		return nil, fmt.Errorf("restoring %s: %v (the previous version is in %s)", path, err, filepath.Join(x.Store.Dir, "backups"))
	}
	x.rolledBack = true
	put := []string{path}
	if offErr != nil {
		return put, fmt.Errorf("turning live restore back off in the running dockerd: %v (it may stay on until dockerd's next restart)", offErr)
	}
	if x.Reloaded && had {
		if err := x.reload(ctx); err != nil {
			return put, fmt.Errorf("reloading again after restoring: %v", err)
		}
	}
	if x.Reloaded {
		put = append(put, "reloaded "+x.Facts.Name()+" with the restored settings")
	}
	return put, nil
}

// markRollback records, before the rollback writes anything, how to finish
// it: a run killed during the rollback leaves daemon.json holding what it
// wrote (its change, or the interim "live-restore": false), and the next
// run puts the old bytes back first (FinishRollback), never taking the
// interim for the user's own value. A mark that cannot be saved does not
// stop the rollback.
func (x *Exec) markRollback(path string, interim []byte) {
	cfg := x.Config
	st := x.State.Clone()
	st.Pending = &state.Pending{Op: x.Op, Path: path, Step: "rollback", Started: x.Env.Now(), PID: os.Getpid(),
		BeforeSHA: state.SHA256(cfg.Data), Restore: x.backup, RestoreAbsent: !cfg.Exists,
		Written: append(append([]string(nil), x.written...), state.SHA256(interim))}
	if x.Store.Save(st) == nil {
		x.State = st
	}
}

// FinishRollback finishes the rollback of an earlier run that was killed
// during it (see markRollback): while daemon.json still holds bytes that run
// wrote, its old bytes go back, from the backup (or the file goes, if there
// was none), and the mark is cleared. It reports what it did to r. Every
// command that changes daemon.json calls it first, under dlr's lock.
func FinishRollback(store state.Store, st *state.State, r Recorder) error {
	p := st.Pending
	if p == nil || p.Step != "rollback" {
		return nil
	}
	cur, err := atomicfile.ReadFile(p.Path, atomicfile.MaxRead)
	ours := err == nil && slices.Contains(p.Written, state.SHA256(cur))
	switch {
	case ours && p.RestoreAbsent:
		if err := writeDaemonJSON(p.Path, nil, true); err != nil {
			return fmt.Errorf("finishing the rollback of an earlier dlr %s: removing %s: %w", p.Op, p.Path, err)
		}
	case ours:
		old, err := atomicfile.ReadFile(p.Restore, atomicfile.MaxRead)
		if err != nil || state.SHA256(old) != p.BeforeSHA {
			return fmt.Errorf("finishing the rollback of an earlier dlr %s: its backup %s of %s is missing or changed (%v); put the file back by hand, then move %s aside", p.Op, p.Restore, p.Path, err, filepath.Join(store.Dir, "state.json"))
		}
		if err := writeDaemonJSON(p.Path, old, false); err != nil {
			return fmt.Errorf("finishing the rollback of an earlier dlr %s: restoring %s: %w", p.Op, p.Path, err)
		}
	}
	if ours {
		r.Warn("an earlier dlr %s (PID %d) was killed while it put %s back; this run finished that first (the file holds its old bytes again)", p.Op, p.PID, p.Path)
	}
	st.Pending = nil
	return store.Save(*st)
}

// AdoptInterruptedWrite brings the state up to date with an earlier run
// that was killed between replacing daemon.json and recording that it had
// (pending step "write"): when the file now holds exactly the bytes that run
// was writing, they are what dlr last wrote.
func AdoptInterruptedWrite(st *state.State, cfg *host.Config) {
	p, rec := st.Pending, st.DaemonJSON
	if p != nil && p.Step == "write" && rec != nil && cfg.Exists && state.SHA256(cfg.Data) == p.AfterSHA {
		rec.WrittenSHA256 = p.AfterSHA
	}
}

// writeDaemonJSON replaces daemon.json (through a symlink, keeping mode and
// owner; a new file gets 0644), or removes it.
func writeDaemonJSON(path string, data []byte, remove bool) error {
	target, _, err := atomicfile.Resolve(path, true)
	if err != nil {
		return err
	}
	if remove {
		if err := atomicfile.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	// /etc/docker may not exist yet when dlr is installed before Docker.
	if err := atomicfile.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	_, err = atomicfile.Replace(path, data, atomicfile.Options{Mode: 0o644, FollowSymlink: true})
	return err
}
