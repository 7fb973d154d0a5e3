package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/unit"
)

// dropInHeader starts every drop-in dlr writes; disable removes only a file
// that starts with it.
var dropInHeader = []byte("# Written by dlr (docker-liverestore)")

// dropInPath is where dlr's drop-in for the Docker unit goes.
func (h *host) dropInPath(obs *observed) string {
	svc := obs.svcName
	if svc == "" {
		svc = dockerService
	}
	return filepath.Join(h.unitDir, svc+".d", unit.StopHookDropIn)
}

// wantDropIn renders the drop-in for this host: the snapshot and stop hooks,
// and KillMode=process where the unit has another KillMode.
func (h *host) wantDropIn(obs *observed) ([]byte, error) {
	d := unit.DropIn{DLR: h.self, Config: obs.config, Snapshot: true}
	if obs.svc != nil && obs.svc.KillMode != "" && obs.svc.KillMode != "process" {
		d.KillModeProcess = true
	}
	return unit.RenderDropIn(d)
}

// applyDropIn writes dlr's drop-in (want) or removes it (want == nil, and
// only a file dlr wrote), then asks systemd to reload its units when live.
// It records the old content so that undo can put it back.
func (t *txn) applyDropIn(ctx context.Context, want []byte, live bool) error {
	path := t.h.dropInPath(t.obs)
	old, err := os.ReadFile(path)
	exists := err == nil
	switch {
	case want == nil && (!exists || !bytes.HasPrefix(old, dropInHeader)):
		return nil
	case want != nil && exists && bytes.Equal(old, want):
		return nil
	}
	t.dropIn = &dropInUndo{path: path, old: old, existed: exists}
	if want == nil {
		if err := atomicfile.Remove(path); err != nil {
			return fmt.Errorf("removing %s: %w", path, err)
		}
		t.r.action("removed %s", path)
	} else {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if _, err := atomicfile.Replace(path, want, atomicfile.Options{Mode: 0o644}); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		t.r.action("wrote %s (ExecStartPre snapshot, ExecStop log buffers%s)", path, map[bool]string{true: ", KillMode=process", false: ""}[bytes.Contains(want, []byte("KillMode=process"))])
	}
	t.changed = true
	if live && t.obs.sd != nil {
		// Done by finishDaemonReload: alongside docker's reload when there
		// is one (they are independent), else right away.
		t.daemonReloadDue = true
	} else if live {
		t.r.note("systemd is not reachable: run 'systemctl daemon-reload' for the drop-in to take effect")
	}
	return nil
}

// finishDaemonReload asks systemd to re-read its units if a drop-in change
// is waiting for it.
func (t *txn) finishDaemonReload(ctx context.Context) error {
	if !t.daemonReloadDue {
		return nil
	}
	t.daemonReloadDue = false
	if err := t.daemonReload(ctx); err != nil {
		return err
	}
	t.r.action("systemctl daemon-reload (over D-Bus): systemd read the drop-in; dockerd was not touched")
	return nil
}

// reloadVerifyWithDaemonReload runs reloadVerify and, at the same time, a
// waiting daemon-reload: systemd runs the manager reload and docker's
// reload job independently, and doing them one after the other doubled
// the wall time of turning live restore on.
func (t *txn) reloadVerifyWithDaemonReload(ctx context.Context, want bool) error {
	if !t.daemonReloadDue {
		return t.reloadVerify(ctx, want)
	}
	t.daemonReloadDue = false
	done := make(chan error, 1)
	go func() { done <- t.daemonReload(ctx) }()
	err := t.reloadVerify(ctx, want)
	if drErr := <-done; drErr != nil {
		return drErr
	}
	t.r.action("systemctl daemon-reload (over D-Bus, alongside): systemd read the drop-in; dockerd was not touched")
	return err
}

type dropInUndo struct {
	path    string
	old     []byte
	existed bool
}

func (t *txn) daemonReload(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, t.h.reloadTimeout)
	defer cancel()
	if err := t.obs.sd.DaemonReload(cctx); err != nil {
		return fmt.Errorf("systemd daemon-reload: %w", err)
	}
	return nil
}

// undoDropIn puts the drop-in back as it was.
func (t *txn) undoDropIn(ctx context.Context, live bool) error {
	u := t.dropIn
	if u == nil {
		return nil
	}
	var err error
	if u.existed {
		_, err = atomicfile.Replace(u.path, u.old, atomicfile.Options{Mode: 0o644})
	} else {
		err = atomicfile.Remove(u.path)
	}
	if err == nil && live && t.obs.sd != nil {
		err = t.daemonReload(ctx)
	}
	return err
}
