package plan

import "context"

// HoldReload is the step that keeps systemd from re-reading its units in
// this run, for the reason it gives (GPU containers under the systemd
// cgroup driver would lose their devices): a drop-in or unit change that
// needs a daemon-reload is then only reported.
type HoldReload struct{ Why string }

func (h HoldReload) Describe(r Recorder) {
	r.Action("no systemctl daemon-reload: %s", h.Why)
}

func (h HoldReload) Apply(_ context.Context, x *Exec) error {
	x.HoldDaemonReload = h.Why
	return nil
}

func (HoldReload) Undo(context.Context, *Exec) ([]string, error) { return nil, nil }
