package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/plan"
)

// What a bare binary (no package) needs that the packages give, and the
// GPU rule for every daemon-reload dlr asks for (issue 14, items 15-16).

// planError is the error of a plan that could not be made: dlr running
// from a path that will not last is a refusal with its reason.
func planError(err error) error {
	var u *host.UnstableSelfError
	if errors.As(err, &u) {
		return refused("%v", err)
	}
	return failed("%v", err)
}

// bareEnable is what enable adds after dlr's drop-in (and the record of the
// watcher's unit that later steps share): the watcher's unit
// where the packages' is absent, and the GPU rule for the daemon-reload
// the drop-in (or a rewritten unit) needs. It refuses a drop-in write while
// GPU containers run under the systemd cgroup driver, unless --force; when
// only the packages' drop-in waits for systemd, it holds the daemon-reload
// (that path needs none: live restore itself does not depend on it).
func (e *Env) bareEnable(ctx context.Context, o Options, f *host.Facts, live bool, dropIn *plan.DropIn, r *Report) ([]plan.Step, *plan.Watched, error) {
	w := &plan.Watched{}
	steps, err := e.bareSteps(ctx, o, f, live, dropIn, w, r)
	return steps, w, err
}

func (e *Env) bareSteps(ctx context.Context, o Options, f *host.Facts, live bool, dropIn *plan.DropIn, w *plan.Watched, r *Report) ([]plan.Step, error) {
	var steps []plan.Step
	var unitStep *plan.InstallWatcherUnit
	if f.Systemd || f.Chroot {
		dlr, note, serr := e.StableSelf()
		if serr != nil {
			dlr = e.SelfPath()
		}
		if unitStep = plan.PlanWatcherUnit(e.Env, dlr, w); unitStep != nil {
			if serr != nil {
				return nil, planError(serr)
			}
			if note != "" {
				r.Note("%s", note)
			}
			steps = append(steps, unitStep)
		}
	}
	if dropIn == nil || !live || !f.Active || f.SD == nil {
		return steps, nil
	}
	if dropIn.Note != "" {
		r.Note("%s", dropIn.Note)
	}
	needs, writes := dropIn.NeedsDaemonReload()
	if unitStep != nil && unitStep.Rewrites() {
		needs, writes = true, true
	}
	if !needs {
		return steps, nil
	}
	gpu, err := e.GPUContainers(ctx, f.Socket)
	if err != nil {
		r.Warn("could not look for GPU containers before systemd's daemon-reload: %v", err)
		return steps, nil
	}
	if !gpu.AtRisk() {
		return steps, nil
	}
	switch {
	case !writes:
		return append([]plan.Step{plan.HoldReload{Why: gpu.Reason()}}, steps...), nil
	case !o.Force:
		return nil, refused("%s. dlr must write its docker.service drop-in (or its watcher unit), which systemd reads only on a daemon-reload. %s; --force daemon-reloads anyway", gpu.Reason(), host.GPUWorkaround)
	}
	r.Warn("--force: %s; reloading systemd's units anyway", gpu.Reason())
	return steps, nil
}

// disableHold is disable's GPU rule: its daemon-reload (after removing a
// drop-in or the watcher's unit) is held while GPU containers run under the
// systemd cgroup driver. Removing the files is safe without it: the hooks
// systemd keeps in memory start with "-" (a missing dlr fails nothing), and
// a stopped unit whose file is gone does nothing.
func (e *Env) disableHold(ctx context.Context, f *host.Facts, live bool, r *Report) []plan.Step {
	if !live || !f.Active || f.SD == nil || e.GPUContainers == nil {
		return nil
	}
	gpu, err := e.GPUContainers(ctx, f.Socket)
	if err != nil {
		r.Warn("could not look for GPU containers before systemd's daemon-reload: %v", err)
		return nil
	}
	if !gpu.AtRisk() {
		return nil
	}
	return []plan.Step{plan.HoldReload{Why: gpu.Reason()}}
}

// SystemdReload is the packages' daemon-reload (the hidden `dlr
// daemon-reload`): systemd re-reads its units unless services may not be
// touched (host.ServicesBlocked) or GPU containers run under the systemd
// cgroup driver. It returns why it did not ("" when it did).
func SystemdReload(ctx context.Context, e *Env) (string, error) {
	if why := e.ServicesBlocked(ctx, true); why != "" {
		return why, nil
	}
	f, err := e.Observe(ctx, "", true)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if f.SD == nil {
		return "systemd is not reachable over D-Bus", nil
	}
	if f.Active {
		gpu, err := e.GPUContainers(ctx, f.Socket)
		if err != nil {
			return "", fmt.Errorf("looking for GPU containers: %w", err)
		}
		if gpu.AtRisk() {
			return gpu.Reason() + ". " + host.GPUWorkaround, nil
		}
	}
	cctx, cancel := context.WithTimeout(ctx, e.T.Reload)
	defer cancel()
	if err := f.SD.DaemonReload(cctx); err != nil {
		return "", fmt.Errorf("systemd daemon-reload: %w", err)
	}
	return "", nil
}
