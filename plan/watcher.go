package plan

import (
	"context"
	"fmt"
	"github.com/docker-liverestore/dlr/atomicfile"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/sysctl"
	"github.com/docker-liverestore/dlr/unit"
)

// GrowBuffers is enable's step that grows the running containers' log
// FIFOs to fs.pipe-max-size (as raised a moment ago) within the default
// budget, as `dlr buffers` does. It is best effort: a FIFO that cannot be
// grown is a warning, never a reason to undo live restore.
type GrowBuffers struct{ ConfigFlag string }

func (GrowBuffers) Describe(Recorder) {}

func (g GrowBuffers) Apply(ctx context.Context, x *Exec) error {
	env := x.Env
	pipeMax, err := sysctl.Running(env.Path(host.ProcSysDir), sysctl.Key)
	if err != nil {
		x.R.Warn("log buffers not grown: reading fs.pipe-max-size: %v", err)
		return nil
	}
	target, budget, err := buffers.Sizes(0, 0, "", "", pipeMax, func() (int64, error) { return buffers.MemTotal(env.Path(host.ProcDir)) })
	if err != nil {
		x.R.Warn("log buffers not grown: %v", err)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, env.T.Grow)
	defer cancel()
	dir, source, warnings := env.ExecRoot("", g.ConfigFlag, env.DockerdCmdline(x.Facts.PID))
	for _, w := range warnings {
		x.R.Warn("%s", w)
	}
	rep, err := buffers.Grow(ctx, buffers.Options{ExecRoot: dir, Target: target, Budget: budget})
	if err != nil {
		x.R.Warn("log buffers not grown: %v", err)
		return nil
	}
	if DescribeGrowth(x.R, rep, source) {
		x.Changed = true
	}
	return nil
}

func (GrowBuffers) Undo(context.Context, *Exec) ([]string, error) { return nil, nil }

// DescribeGrowth puts a growth report into r's actions, notes and
// warnings, and reports whether a FIFO was grown.
func DescribeGrowth(r Recorder, rep *buffers.Report, source string) (grown bool) {
	for _, s := range rep.Streams {
		switch {
		case s.Grown:
			grown = true
			r.Action("grew %s/%s from %s to %s", buffers.ShortID(s.Container), s.Name, buffers.SizeText(s.Old), buffers.SizeText(s.New))
		case s.Error != "":
			r.Warn("%s", s.Error)
		}
	}
	n := len(rep.Streams) - rep.Failed
	switch {
	case len(rep.Streams) == 0:
		r.Note("no log FIFOs under %s (exec root from %s): no container is running", buffers.Dir(rep.ExecRoot), source)
	case rep.Level == 0:
		r.Note("%d log FIFOs use %s, the whole budget of %s: none grown (raise --budget)", n, buffers.SizeText(rep.Total), buffers.SizeText(rep.Budget))
	case rep.Level < rep.Target:
		r.Note("%d log FIFOs, %s in all: the budget of %s allows %s each, not %s (raise --budget)", n, buffers.SizeText(rep.Total), buffers.SizeText(rep.Budget), buffers.SizeText(rep.Level), buffers.SizeText(rep.Target))
	default:
		r.Note("%d log FIFOs at %s or more, %s in all (budget %s)", n, buffers.SizeText(rep.Target), buffers.SizeText(rep.Total), buffers.SizeText(rep.Budget))
	}
	return grown
}

// Watched is what enable reads of systemd while dockerd reloads: the
// watcher's unit and systemd's unit path (for the start and the record).
type Watched struct {
	Unit     *unit.Unit
	UnitPath []string
	// Installed: this run installed (or rewrote) dlr's own watcher unit,
	// so the unit read in the background may predate it.
	Installed bool
}

// ReadWatcher reads the watcher's unit and systemd's unit path in the
// background (x.Wait waits for it); the result is in w once x.Wait
// returns.
func (x *Exec) ReadWatcher(ctx context.Context, w *Watched) {
	if x.Facts.SD == nil {
		return
	}
	x.Later(func() {
		cctx, cancel := context.WithTimeout(ctx, x.Env.T.Call)
		defer cancel()
		if u, err := x.Facts.SD.Unit(cctx, host.WatcherService); err == nil {
			w.Unit = &u
		}
		w.UnitPath, _ = x.Facts.SD.UnitPath(cctx)
	})
}

// StartWatcher has systemd start the log-buffer watcher if its unit is
// installed and not running, so that containers started from now on get
// large buffers too; its undo stops it again.
//
// It does not wait for the start job to end: starting the sandboxed unit
// takes systemd longer than docker's whole reload, and the watcher is not
// part of live restore itself. A watcher that fails to start shows in `dlr
// check`, and the next `dlr enable` starts it again.
type StartWatcher struct {
	W       *Watched
	Started bool
}

func (*StartWatcher) Describe(Recorder) {}

func (s *StartWatcher) Apply(ctx context.Context, x *Exec) error {
	if x.Facts.SD == nil {
		return nil
	}
	x.Wait()
	if s.W.Unit == nil || s.W.Installed {
		s.W.Unit = x.Env.UnitNamed(ctx, x.Facts, host.WatcherService)
	}
	u := s.W.Unit
	if u == nil || u.LoadState != "loaded" || u.ActiveState == "active" {
		return nil
	}
	if !s.W.Installed {
		if ok, err := s.enabled(x, u); !ok || err != nil {
			return err
		}
	}
	cctx, cancel := context.WithTimeout(ctx, x.Env.T.Call)
	defer cancel()
	if err := x.Facts.SD.StartQueued(cctx, host.WatcherService); err != nil {
		return fmt.Errorf("starting %s: %w", host.WatcherService, err)
	}
	s.Started, x.Changed = true, true
	x.R.Action("started %s (systemd runs the start job; it grows the log buffers of containers started from now on)", host.WatcherService)
	return nil
}

// enabled reports whether the watcher may be started: not when masked, nor
// when the admin disabled it. A unit that is "disabled" because it was never
// enabled (the packages installed with ENABLE_ON_INSTALL=no, as the Ansible
// role does) is enabled for boot here, and started.
func (s *StartWatcher) enabled(x *Exec, u *unit.Unit) (bool, error) {
	switch st := u.UnitFileState; {
	case strings.HasPrefix(st, "masked"):
		x.R.Note("%s is %s: not starting it (systemctl unmask %s turns it back on)", host.WatcherService, st, host.WatcherService)
		return false, nil
	case st != "disabled":
		return true, nil // enabled, static, linked, indirect...
	}
	if by := AdminDisabledWatcher(x.Env); by != "" {
		x.R.Note("%s was disabled by the admin (%s): not starting it (systemctl enable --now %s turns it on)", host.WatcherService, by, host.WatcherService)
		return false, nil
	}
	if u.FragmentPath == "" {
		return true, nil
	}
	link := watcherWantsLink(x.Env)
	if err := atomicfile.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return false, err
	}
	if err := atomicfile.Symlink(u.FragmentPath, link); err != nil && !os.IsExist(err) {
		return false, fmt.Errorf("enabling %s: %w", host.WatcherService, err)
	}
	if err := atomicfile.MkdirAll(x.Env.Path(host.StateDir), 0o700); err == nil { // dlr's state directory is 0700
		atomicfile.Replace(filepath.Join(x.Env.Path(host.StateDir), WatcherEnabledMark), nil, atomicfile.Options{Mode: 0o644})
	}
	x.Changed = true
	x.R.Action("enabled %s for boot: it had never been enabled (installed with ENABLE_ON_INSTALL=no)", host.WatcherService)
	return true, nil
}

// WatcherEnabledMark is the file in dlr's state directory that says the
// watcher was enabled once (by dlr, or by the rpm scripts): if it is
// disabled now, the admin did it.
const WatcherEnabledMark = "watcher-enabled"

// DSHStateDir is deb-systemd-helper's record of the units it enabled: a
// link under it mirrors each link it made in /etc/systemd/system.
const DSHStateDir = "/var/lib/systemd/deb-systemd-helper-enabled"

// AdminDisabledWatcher tells a watcher the admin disabled from one that was
// never enabled, both "disabled" to systemd: it says how it was once enabled
// ("" if never): deb-systemd-helper's mirror of the multi-user.target.wants
// link (it enabled the unit on a package install; `systemctl disable` takes
// the real link away, not the mirror), or dlr's own mark.
func AdminDisabledWatcher(env *host.Env) string {
	if _, err := os.Lstat(filepath.Join(env.Path(DSHStateDir), "multi-user.target.wants", host.WatcherService)); err == nil {
		return "deb-systemd-helper enabled it at install, it is disabled now"
	}
	if _, err := os.Stat(filepath.Join(env.Path(host.StateDir), WatcherEnabledMark)); err == nil {
		return "it was enabled once, it is disabled now"
	}
	return ""
}

func (s *StartWatcher) Undo(ctx context.Context, x *Exec) ([]string, error) {
	if !s.Started {
		return nil, nil
	}
	return nil, (StopWatcher{}).stop(ctx, x)
}

// StopWatcher is disable's step that stops the watcher if it runs. Stopping
// it never touches dockerd: the unit has no Requires=, BindsTo= or PartOf=
// on docker.service.
type StopWatcher struct{}

func (StopWatcher) Describe(Recorder) {}

func (s StopWatcher) Apply(ctx context.Context, x *Exec) error {
	if !x.Live {
		return nil
	}
	return s.stop(ctx, x)
}

func (StopWatcher) stop(ctx context.Context, x *Exec) error {
	if x.Facts.SD == nil {
		return nil
	}
	u := x.Env.UnitNamed(ctx, x.Facts, host.WatcherService)
	if u == nil || u.LoadState != "loaded" || (u.ActiveState != "active" && u.ActiveState != "activating") {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, x.Env.T.Reload)
	defer cancel()
	if err := x.Facts.SD.Stop(cctx, host.WatcherService); err != nil {
		return fmt.Errorf("stopping %s: %w", host.WatcherService, err)
	}
	x.R.Action("stopped %s", host.WatcherService)
	return nil
}

func (StopWatcher) Undo(context.Context, *Exec) ([]string, error) { return nil, nil }
