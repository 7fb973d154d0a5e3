package plan

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/host"
)

// WatcherUnitPath is where a bare dlr installs the watcher's unit (the
// packages install theirs in /lib/systemd/system or /usr/lib/systemd/system).
func WatcherUnitPath(env *host.Env) string {
	return filepath.Join(env.Path(host.UnitDir), host.WatcherService)
}

// watcherWantsLink is the link `systemctl enable` makes for the unit's
// WantedBy=multi-user.target.
func watcherWantsLink(env *host.Env) string {
	return filepath.Join(env.Path(host.UnitDir), "multi-user.target.wants", host.WatcherService)
}

// RenderWatcherUnit is the packaged unit with dlr's header and ExecStart=
// naming dlr (an absolute, stable path).
func RenderWatcherUnit(dlr string) []byte {
	b := append([]byte(nil), DropInHeader...)
	b = append(b, "; `dlr disable` removes it. The packages install their own\n# copy in /lib/systemd/system instead.\n"...)
	return append(b, bytes.Replace(buffers.WatcherUnit, []byte("ExecStart=/usr/bin/dlr watch"), []byte("ExecStart="+dlr+" watch"), 1)...)
}

// packagedWatcher returns the packages' watcher unit file, "" if none.
func packagedWatcher(env *host.Env) string {
	for _, d := range []string{host.VendorUnitDir, host.LibUnitDir} {
		p := filepath.Join(env.Path(d), host.WatcherService)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// InstallWatcherUnit is enable's step for a bare binary: where the
// packages' watcher unit is absent, dlr installs its own in
// /etc/systemd/system, naming the installed dlr, and enables it for boot
// (the multi-user.target.wants link); StartWatcher then starts it. A new
// unit needs no daemon-reload (systemd loads a unit it has not found before
// on demand once its directory changed, since v246); a changed one does.
// Its undo removes both (or puts the old file back).
type InstallWatcherUnit struct {
	W      *Watched
	path   string
	link   string
	want   []byte
	cur    []byte
	exists bool

	wrote, linked bool
}

// PlanWatcherUnit decides about the watcher's unit; nil when the packages'
// unit is there, when /etc holds a unit of the admin's (not dlr's), or when
// dlr's is already right and enabled. dlr is the stable path it names.
func PlanWatcherUnit(env *host.Env, dlr string, w *Watched) *InstallWatcherUnit {
	if packagedWatcher(env) != "" {
		return nil
	}
	s := &InstallWatcherUnit{W: w, path: WatcherUnitPath(env), link: watcherWantsLink(env), want: RenderWatcherUnit(dlr)}
	cur, err := atomicfile.ReadFile(s.path, atomicfile.MaxRead)
	s.cur, s.exists = cur, err == nil
	if s.exists && !bytes.HasPrefix(cur, DropInHeader) {
		return nil // the admin's own unit
	}
	_, lerr := os.Lstat(s.link)
	if s.exists && bytes.Equal(cur, s.want) && lerr == nil {
		return nil
	}
	return s
}

// Rewrites reports whether the step replaces a unit of dlr's that systemd
// has loaded, which needs a daemon-reload.
func (s *InstallWatcherUnit) Rewrites() bool { return s.exists && !bytes.Equal(s.cur, s.want) }

func (s *InstallWatcherUnit) Describe(r Recorder) {
	if !bytes.Equal(s.cur, s.want) {
		r.Diff(s.path, UnifiedDiff(s.path, s.cur, s.want, s.exists, true))
	}
	r.Action("install the watcher's unit %s (the packages' is absent), enable it for boot and start it", s.path)
}

func (s *InstallWatcherUnit) Apply(ctx context.Context, x *Exec) error {
	if !bytes.Equal(s.cur, s.want) {
		if err := atomicfile.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
			return err
		}
		if _, err := atomicfile.Replace(s.path, s.want, atomicfile.Options{Mode: 0o644}); err != nil {
			return fmt.Errorf("writing %s: %w", s.path, err)
		}
		s.wrote, x.Changed = true, true
		if s.exists {
			x.dueDaemonReload(s.path) // systemd has the old one loaded
		}
	}
	if _, err := os.Lstat(s.link); err != nil {
		if err := atomicfile.MkdirAll(filepath.Dir(s.link), 0o755); err != nil {
			return err
		}
		if err := atomicfile.Symlink(host.UnitDir+"/"+host.WatcherService, s.link); err != nil {
			return fmt.Errorf("enabling %s: %w", host.WatcherService, err)
		}
		s.linked, x.Changed = true, true
	}
	s.W.Installed = true
	x.R.Action("installed %s (ExecStart=%s) and enabled it for boot: the packages' watcher unit is absent", s.path, execStartOf(s.want))
	return nil
}

func (s *InstallWatcherUnit) Undo(ctx context.Context, x *Exec) ([]string, error) {
	var out []string
	if s.linked {
		if err := atomicfile.Remove(s.link); err != nil {
			return nil, fmt.Errorf("removing %s: %w", s.link, err)
		}
		out = append(out, s.link)
	}
	if s.wrote {
		put, err := x.putBackDropIn(ctx, s.path, s.cur, s.exists)
		if err != nil {
			return out, err
		}
		out = append(out, put...)
	}
	return out, nil
}

func execStartOf(unit []byte) string {
	for _, l := range bytes.Split(unit, []byte("\n")) {
		if v, ok := bytes.CutPrefix(l, []byte("ExecStart=")); ok {
			return string(v)
		}
	}
	return ""
}

// RemoveWatcherUnit is disable's step for the unit a bare dlr installed
// (only a file that starts with dlr's header): the watcher is stopped, its
// boot link and unit file go, and systemd re-reads its units.
type RemoveWatcherUnit struct {
	path, link string
	old        []byte
	hadLink    bool
	removed    bool
}

// PlanRemoveWatcherUnit plans the removal; nil when dlr installed none.
func PlanRemoveWatcherUnit(env *host.Env) *RemoveWatcherUnit {
	s := &RemoveWatcherUnit{path: WatcherUnitPath(env), link: watcherWantsLink(env)}
	old, err := atomicfile.ReadFile(s.path, atomicfile.MaxRead)
	if err != nil || !bytes.HasPrefix(old, DropInHeader) {
		return nil
	}
	s.old = old
	if t, err := os.Readlink(s.link); err == nil && (t == host.UnitDir+"/"+host.WatcherService || t == s.path) {
		s.hadLink = true
	}
	return s
}

func (s *RemoveWatcherUnit) Describe(r Recorder) {
	r.Diff(s.path, UnifiedDiff(s.path, s.old, nil, true, false))
	r.Action("stop %s, remove %s (dlr installed it) and reload systemd's units (daemon-reload)", host.WatcherService, s.path)
}

func (s *RemoveWatcherUnit) Apply(ctx context.Context, x *Exec) error {
	if x.Live {
		if err := (StopWatcher{}).stop(ctx, x); err != nil {
			return err
		}
	}
	if s.hadLink {
		if err := atomicfile.Remove(s.link); err != nil {
			return fmt.Errorf("removing %s: %w", s.link, err)
		}
	}
	if err := atomicfile.Remove(s.path); err != nil {
		return fmt.Errorf("removing %s: %w", s.path, err)
	}
	s.removed, x.Changed = true, true
	x.R.Action("removed %s (and its boot link)", s.path)
	x.dueDaemonReload(s.path)
	return nil
}

func (s *RemoveWatcherUnit) Undo(ctx context.Context, x *Exec) ([]string, error) {
	if !s.removed {
		return nil, nil
	}
	if s.hadLink {
		atomicfile.Symlink(host.UnitDir+"/"+host.WatcherService, s.link)
	}
	return x.putBackDropIn(ctx, s.path, s.old, true)
}
