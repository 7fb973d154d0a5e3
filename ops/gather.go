package ops

import (
	"context"
	"sync"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
)

// prefetch returns e with the slow reads dlr check makes started at once,
// in the background, each still made once and answering as before: the
// running containers (a listing and one inspect per container), the
// installed dockerd's and containerd's versions (a program each) and
// GET /version (and containerd.service's PID over D-Bus). They wait on dockerd or on exec, not on each other, so
// the check takes about as long as the slowest instead of their sum; and
// no `dockerd --version` runs when the running dockerd is the installed
// file (its /info said the version). Only
// what the check will ask for is started: nothing while dockerd is not
// answering (info nil).
func (e *Env) prefetch(ctx context.Context, f *host.Facts, info *host.Info) *Env {
	if info == nil {
		return e
	}
	h := *e.Env
	if c := h.Containers; c != nil {
		cs := later(func() ([]host.Container, error) { return c(ctx, f.Socket) })
		h.Containers = func(cctx context.Context, socket string) ([]host.Container, error) {
			if socket != f.Socket {
				return c(cctx, socket)
			}
			return cs()
		}
	}
	if v := h.DockerdVersion; v != nil && len(f.UnitCmd.Args) > 0 {
		path := f.UnitCmd.Args[0]
		dv := later(func() (string, error) {
			if h.Runs(f.PID, path) {
				// The running dockerd is the installed file: /info
				// already said its version (dockerversion.Version,
				// which `dockerd --version` prints too).
				return info.Version, nil
			}
			return v(ctx, path)
		})
		h.DockerdVersion = func(cctx context.Context, p string) (string, error) {
			if p != path {
				return v(cctx, p)
			}
			return dv()
		}
	}
	if v := h.ContainerdVersions; v != nil {
		type pair struct{ running, installed string }
		cv := later(func() (pair, error) {
			r, i, err := v(ctx, f.Socket, e.containerdPID(ctx, f))
			return pair{r, i}, err
		})
		h.ContainerdVersions = func(cctx context.Context, socket string, pid int) (string, string, error) {
			if socket != f.Socket || pid != 0 {
				return v(cctx, socket, pid)
			}
			p, err := cv()
			return p.running, p.installed, err
		}
	}
	out := *e
	out.Env = &h
	return &out
}

// later starts fn now and returns a function that waits for its result.
func later[T any](fn func() (T, error)) func() (T, error) {
	var (
		v   T
		err error
		wg  sync.WaitGroup
	)
	wg.Go(func() { v, err = fn() })
	return func() (T, error) {
		wg.Wait()
		return v, err
	}
}

// containerdPID is containerd.service's main PID (0 without systemd or
// the unit): the containerd dockerd talks to on a systemd host.
func (e *Env) containerdPID(ctx context.Context, f *host.Facts) int {
	if u := e.UnitNamed(ctx, f, guard.ContainerdService); u != nil && u.ActiveState == "active" {
		return int(u.MainPID)
	}
	return 0
}
