package plan

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/unit"
)

// DropInHeader starts every drop-in dlr writes; disable removes only a file
// that starts with it.
var DropInHeader = []byte("# Written by dlr (docker-liverestore)")

// DropInPath is where dlr's drop-in for the Docker unit goes.
func DropInPath(env *host.Env, f *host.Facts) string {
	svc := f.Service
	if svc == "" {
		svc = host.DockerService
	}
	return filepath.Join(env.Path(host.UnitDir), svc+".d", unit.StopHookDropIn)
}

// DropIn is enable's step for dlr's docker.service drop-in (the snapshot
// and stop hooks, and KillMode=process where the unit has another
// KillMode). Nothing is written when dlr's copy in /etc already holds the
// right bytes, or when there is none and the copy the packages installed
// (in /usr/lib/systemd/system) is right for this host: the usual case,
// which needs no write and no daemon-reload (the slowest step of turning
// live restore on). Otherwise dlr writes its own copy to /etc, and systemd
// re-reads its units (alongside docker's reload).
type DropIn struct {
	path   string // dlr's copy in /etc
	want   []byte // what it must hold
	cur    []byte // what it holds now
	exists bool
	write  bool   // write want to path
	vendor string // the packages' copy, when it is the right one and in use
	unread bool   // systemd has not read the packages' copy yet: daemon-reload
	spec   unit.DropIn
	// Note says which installed dlr the drop-in names, when it is not the
	// running one (see host.Env.StableSelf).
	Note string

	wrote   bool
	madeDir bool // the step created docker.service.d/
}

// PlanDropIn decides about the drop-in. A drop-in to write names dlr by a
// stable path (host.Env.StableSelf); where there is none, it fails with a
// *host.UnstableSelfError.
func PlanDropIn(env *host.Env, f *host.Facts) (*DropIn, error) {
	p, err := planDropIn(env, f)
	if err != nil || !p.write {
		return p, err
	}
	if _, p.Note, err = env.StableSelf(); err != nil {
		return nil, err
	}
	return p, nil
}

// NeedsDaemonReload reports whether the plan asks systemd to re-read its
// units (a drop-in to write, or the packages' copy not read yet), and
// whether that is a write of dlr's (else only the packages' copy waits).
func (p *DropIn) NeedsDaemonReload() (needs, writes bool) {
	return p.write || p.unread, p.write
}

func planDropIn(env *host.Env, f *host.Facts) (*DropIn, error) {
	dlr, _, err := env.StableSelf()
	if err != nil {
		dlr = env.SelfPath()
	}
	spec := unit.DropIn{DLR: dlr, Config: f.Config, Snapshot: true}
	if f.Unit != nil && f.Unit.KillMode != "" && f.Unit.KillMode != "process" {
		spec.KillModeProcess = true
	}
	p := &DropIn{path: DropInPath(env, f), spec: spec}
	if p.want, err = unit.RenderDropIn(spec); err != nil {
		return nil, err
	}
	p.cur, err = atomicfile.ReadFile(p.path, atomicfile.MaxRead)
	p.exists = err == nil
	if p.exists {
		p.write = !bytes.Equal(p.cur, p.want)
		return p, nil
	}
	vspec := spec
	vspec.Packaged = true
	vwant, err := unit.RenderDropIn(vspec)
	if err != nil {
		return nil, err
	}
	svc := f.Service
	if svc == "" {
		svc = host.DockerService
	}
	// Debian's packages install units under /lib, which is /usr/lib only
	// where /usr is merged.
	for _, d := range []string{host.VendorUnitDir, host.LibUnitDir} {
		vendor := filepath.Join(env.Path(d), svc+".d", unit.StopHookDropIn)
		if cur, err := atomicfile.ReadFile(vendor, atomicfile.MaxRead); err == nil && bytes.Equal(cur, vwant) {
			p.vendor = vendor
			break
		}
	}
	if p.vendor == "" {
		p.write = true
		return p, nil
	}
	p.unread = f.Unit != nil && f.SD != nil && !loadedDropIn(f.Unit, p.vendor)
	return p, nil
}

// loadedDropIn reports whether systemd applies the file at path to u (it
// may name it by another path, such as /lib for /usr/lib).
func loadedDropIn(u *unit.Unit, path string) bool {
	want, err := os.Stat(path)
	if err != nil {
		return false
	}
	for _, p := range u.DropInPaths {
		if filepath.Base(p) != filepath.Base(path) {
			continue
		}
		if fi, err := os.Stat(p); err == nil && os.SameFile(fi, want) {
			return true
		}
	}
	return false
}

func (p *DropIn) Describe(r Recorder) {
	switch {
	case p.write:
		r.Diff(p.path, UnifiedDiff(p.path, p.cur, p.want, p.exists, true))
		r.Action("write %s and reload systemd's units (daemon-reload)", p.path)
	case p.unread:
		r.Action("reload systemd's units (daemon-reload): it has not read %s yet", p.vendor)
	}
}

func (p *DropIn) Apply(ctx context.Context, x *Exec) error {
	if !p.write {
		if p.unread {
			x.dueDaemonReload(p.vendor)
		}
		return nil
	}
	if _, err := os.Stat(filepath.Dir(p.path)); os.IsNotExist(err) {
		if err := atomicfile.MkdirAll(filepath.Dir(p.path), 0o755); err != nil {
			return err
		}
		p.madeDir = true
	}
	if _, err := atomicfile.Replace(p.path, p.want, atomicfile.Options{Mode: 0o644}); err != nil {
		return fmt.Errorf("writing %s: %w", p.path, err)
	}
	p.wrote = true
	killMode := ""
	if p.spec.KillModeProcess {
		killMode = ", KillMode=process"
	}
	x.R.Action("wrote %s (ExecStartPre snapshot, ExecStop log buffers%s)", p.path, killMode)
	x.Changed = true
	x.dueDaemonReload(p.path)
	return nil
}

func (p *DropIn) Undo(ctx context.Context, x *Exec) ([]string, error) {
	if p.madeDir && !p.wrote {
		atomicfile.RemoveDir(filepath.Dir(p.path))
	}
	if !p.wrote {
		return nil, nil
	}
	put, err := x.putBackDropIn(ctx, p.path, p.cur, p.exists)
	if p.madeDir {
		atomicfile.RemoveDir(filepath.Dir(p.path)) // the directory it made, if empty
	}
	return put, err
}

// Wrote reports whether the step wrote the drop-in.
func (p *DropIn) Wrote() bool { return p != nil && p.wrote }

// putBackDropIn writes old back (or removes the file) and has systemd
// re-read its units.
func (x *Exec) putBackDropIn(ctx context.Context, path string, old []byte, existed bool) ([]string, error) {
	var err error
	if existed {
		_, err = atomicfile.Replace(path, old, atomicfile.Options{Mode: 0o644})
	} else {
		err = atomicfile.Remove(path)
	}
	if err == nil && x.Live && x.Facts.SD != nil {
		err = x.daemonReload(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("restoring %s: %v", path, err)
	}
	return []string{path}, nil
}

// RemoveDropIn is disable's step: dlr's copy of the drop-in goes (only a
// file dlr wrote), and systemd re-reads its units. The packages' copy stays
// until the package is removed.
type RemoveDropIn struct {
	path    string
	old     []byte
	removed bool
}

// PlanRemoveDropIn plans the removal; nil when there is no drop-in of
// dlr's.
func PlanRemoveDropIn(env *host.Env, f *host.Facts) *RemoveDropIn {
	path := DropInPath(env, f)
	old, err := atomicfile.ReadFile(path, atomicfile.MaxRead)
	if err != nil || !bytes.HasPrefix(old, DropInHeader) {
		return nil
	}
	return &RemoveDropIn{path: path, old: old}
}

func (s *RemoveDropIn) Describe(r Recorder) {
	r.Diff(s.path, UnifiedDiff(s.path, s.old, nil, true, false))
	r.Action("remove %s and reload systemd's units (daemon-reload)", s.path)
}

func (s *RemoveDropIn) Apply(ctx context.Context, x *Exec) error {
	if err := atomicfile.Remove(s.path); err != nil {
		return fmt.Errorf("removing %s: %w", s.path, err)
	}
	s.removed, x.Changed = true, true
	x.R.Action("removed %s", s.path)
	x.dueDaemonReload(s.path)
	return nil
}

func (s *RemoveDropIn) Undo(ctx context.Context, x *Exec) ([]string, error) {
	if !s.removed {
		return nil, nil
	}
	return x.putBackDropIn(ctx, s.path, s.old, true)
}
