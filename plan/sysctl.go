package plan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/state"
	"github.com/docker-liverestore/dlr/sysctl"
)

// Sysctl is enable's step for fs.pipe-max-size: dlr's sysctl.d drop-in
// written (or removed, where another file already sets enough) and the
// running value raised, as sysctl.Plan decided. It never lowers the value.
type Sysctl struct {
	dec     sysctl.Decision
	dropIn  string
	current []byte // the drop-in's bytes now, nil if absent
	running uint64
	procSys string

	wrote   bool
	applied bool
}

// PlanSysctl decides about fs.pipe-max-size for want.
func PlanSysctl(env *host.Env, want uint64) (*Sysctl, error) {
	d := sysctl.Dirs{Root: env.Root}
	procSys := env.Path(host.ProcSysDir)
	running, err := sysctl.Running(procSys, sysctl.Key)
	if errors.Is(err, os.ErrNotExist) {
		// No /proc (a chroot for an image build): nothing runs here to
		// raise; plan the drop-in for the system that will boot from it.
		running, err = 0, nil
	}
	if err != nil {
		return nil, err
	}
	_, all, err := sysctl.Configured(d, sysctl.Key)
	if err != nil {
		return nil, err
	}
	dec, err := sysctl.Plan(want, running, all, d.DropInPath())
	if err != nil {
		return nil, err
	}
	s := &Sysctl{dec: dec, dropIn: d.DropInPath(), running: running, procSys: procSys}
	if b, err := atomicfile.ReadFile(s.dropIn, atomicfile.MaxRead); err == nil {
		s.current = b
	}
	return s, nil
}

func (s *Sysctl) rewrite() bool {
	return s.dec.DropIn == sysctl.DropInWrite && !bytes.Equal(sysctl.Render(s.dec.Want), s.current)
}

func (s *Sysctl) Describe(r Recorder) {
	switch {
	case s.dec.Conflict:
		r.Warn("fs.pipe-max-size: %s; dlr leaves it alone", s.dec.Reason)
		return
	case s.rewrite():
		r.Diff(s.dropIn, UnifiedDiff(s.dropIn, s.current, sysctl.Render(s.dec.Want), s.current != nil, true))
		r.Action("write %s (fs.pipe-max-size = %d)", s.dropIn, s.dec.Want)
	case s.dec.DropIn == sysctl.DropInRemove:
		r.Diff(s.dropIn, UnifiedDiff(s.dropIn, s.current, nil, true, false))
		r.Action("remove %s: %s", s.dropIn, s.dec.Reason)
	case s.dec.DropIn != sysctl.DropInWrite:
		r.Note("fs.pipe-max-size: %s", s.dec.Reason)
	}
	if s.dec.Apply {
		r.Action("set fs.pipe-max-size to %d now (running value %d)", s.dec.ApplyValue, s.running)
	}
}

func (s *Sysctl) Apply(ctx context.Context, x *Exec) error {
	if s.dec.Conflict {
		x.R.Warn("fs.pipe-max-size: %s; dlr leaves it alone", s.dec.Reason)
		return nil
	}
	// Record the change in the state before making it: a run killed after
	// writing the drop-in (or raising the value) must leave a state from
	// which disable removes the drop-in and puts the value back. A later
	// run finds the drop-in already written and would not record it.
	rewrite := s.rewrite()
	apply := s.dec.Apply && x.Live
	if rewrite || s.dec.DropIn == sysctl.DropInRemove || apply {
		if x.State.Sysctl == nil {
			x.State.Sysctl = &state.Sysctl{DropIn: s.dropIn, PriorRunning: s.running}
		}
		if apply {
			x.State.Sysctl.Applied = s.dec.ApplyValue
		}
		x.State.Pending = &state.Pending{Op: x.Op, Started: x.Env.Now(), Step: "sysctl", PID: os.Getpid()}
		if err := x.Store.Save(x.State); err != nil {
			return fmt.Errorf("saving dlr's state: %w", err)
		}
	}
	switch {
	case rewrite:
		if err := atomicfile.MkdirAll(filepath.Dir(s.dropIn), 0o755); err != nil {
			return err
		}
		if _, err := atomicfile.Replace(s.dropIn, sysctl.Render(s.dec.Want), atomicfile.Options{Mode: 0o644}); err != nil {
			return fmt.Errorf("writing %s: %w", s.dropIn, err)
		}
		s.wrote, x.Changed = true, true
		x.R.Action("wrote %s (fs.pipe-max-size = %d)", s.dropIn, s.dec.Want)
	case s.dec.DropIn == sysctl.DropInRemove:
		if err := atomicfile.Remove(s.dropIn); err != nil {
			return fmt.Errorf("removing %s: %w", s.dropIn, err)
		}
		s.wrote, x.Changed = true, true
		x.R.Action("removed %s: %s", s.dropIn, s.dec.Reason)
	case s.dec.DropIn != sysctl.DropInWrite:
		x.R.Note("fs.pipe-max-size: %s", s.dec.Reason)
	}
	if apply {
		if err := sysctl.Apply(s.procSys, sysctl.Key, s.dec.ApplyValue); err != nil {
			return fmt.Errorf("setting fs.pipe-max-size: %w", err)
		}
		s.applied, x.Changed = true, true
		x.R.Action("set fs.pipe-max-size to %d (was %d)", s.dec.ApplyValue, s.running)
	}
	return nil
}

func (s *Sysctl) Undo(ctx context.Context, x *Exec) ([]string, error) {
	return undoSysctl(s.dropIn, s.current, s.wrote, s.procSys, s.running, s.applied)
}

// undoSysctl puts the drop-in back as old (removes it if old is nil) when
// wrote, and the running value back to prior when applied.
func undoSysctl(dropIn string, old []byte, wrote bool, procSys string, prior uint64, applied bool) ([]string, error) {
	var put []string
	var errs []error
	if wrote {
		var err error
		if old == nil {
			err = atomicfile.Remove(dropIn)
		} else {
			_, err = atomicfile.Replace(dropIn, old, atomicfile.Options{Mode: 0o644})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("restoring the sysctl drop-in: %v", err))
		} else {
			put = append(put, dropIn)
		}
	}
	if applied {
		if err := sysctl.Apply(procSys, sysctl.Key, prior); err != nil {
			errs = append(errs, fmt.Errorf("restoring fs.pipe-max-size %d: %v", prior, err))
		} else {
			put = append(put, fmt.Sprintf("fs.pipe-max-size=%d", prior))
		}
	}
	return put, errors.Join(errs...)
}

// SysctlRemove is disable's step for fs.pipe-max-size: what dlr did is
// undone from its record (state.Sysctl): the drop-in removed, and the
// running value set back where dlr raised it and nobody changed it since.
type SysctlRemove struct {
	dropIn  string
	old     []byte // the drop-in's bytes, nil if absent
	running uint64
	rec     state.Sysctl
	restore bool
	procSys string

	removed, applied bool
}

// PlanSysctlRemove plans disable's step from dlr's record; nil when there
// is no record.
func PlanSysctlRemove(env *host.Env, rec *state.Sysctl) *SysctlRemove {
	if rec == nil {
		return nil
	}
	s := &SysctlRemove{dropIn: sysctl.Dirs{Root: env.Root}.DropInPath(), rec: *rec, procSys: env.Path(host.ProcSysDir)}
	s.running, _ = sysctl.Running(s.procSys, sysctl.Key)
	s.old, _ = atomicfile.ReadFile(s.dropIn, atomicfile.MaxRead)
	s.restore = rec.Applied != 0 && s.running == rec.Applied && rec.PriorRunning < s.running
	return s
}

func (s *SysctlRemove) Describe(r Recorder) {
	if s.old != nil {
		r.Diff(s.dropIn, UnifiedDiff(s.dropIn, s.old, nil, true, false))
		r.Action("remove %s", s.dropIn)
	}
	if s.restore {
		r.Action("set fs.pipe-max-size back to %d", s.rec.PriorRunning)
	}
}

func (s *SysctlRemove) Apply(ctx context.Context, x *Exec) error {
	if s.old != nil {
		if err := atomicfile.Remove(s.dropIn); err != nil {
			return err
		}
		s.removed, x.Changed = true, true
		x.R.Action("removed %s", s.dropIn)
	}
	if s.restore && x.Live {
		if err := sysctl.Apply(s.procSys, sysctl.Key, s.rec.PriorRunning); err != nil {
			return err
		}
		s.applied, x.Changed = true, true
		x.R.Action("set fs.pipe-max-size back to %d (was %d)", s.rec.PriorRunning, s.running)
	}
	x.State.Sysctl = nil
	return nil
}

func (s *SysctlRemove) Undo(ctx context.Context, x *Exec) ([]string, error) {
	return undoSysctl(s.dropIn, s.old, s.removed, s.procSys, s.running, s.applied)
}
