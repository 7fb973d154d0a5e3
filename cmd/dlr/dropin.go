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

// dropInSpec says what dlr's drop-in must hold on this host: the snapshot
// and stop hooks, and KillMode=process where the unit has another KillMode.
func (h *host) dropInSpec(obs *observed) unit.DropIn {
	d := unit.DropIn{DLR: h.dlrPath(), Config: obs.config, Snapshot: true}
	if obs.svc != nil && obs.svc.KillMode != "" && obs.svc.KillMode != "process" {
		d.KillModeProcess = true
	}
	return d
}

// dropInPlan is what enable does about the drop-in.
type dropInPlan struct {
	path   string // dlr's copy in /etc
	want   []byte // what it must hold
	cur    []byte // what it holds now
	exists bool
	write  bool   // write want to path
	vendor string // the packages' copy, when it is the right one and in use
	unread bool   // systemd has not read the packages' copy yet: daemon-reload
	spec   unit.DropIn
}

// planDropIn decides about the drop-in: nothing when dlr's copy in /etc
// already holds the right bytes, or when there is none and the copy the
// packages installed (in /usr/lib/systemd/system) is right for this host
// (the usual case: it then needs no write and no daemon-reload, which is
// the slowest step of turning live restore on). Otherwise dlr writes its
// own copy to /etc.
func (h *host) planDropIn(obs *observed) (*dropInPlan, error) {
	p := &dropInPlan{path: h.dropInPath(obs), spec: h.dropInSpec(obs)}
	var err error
	if p.want, err = unit.RenderDropIn(p.spec); err != nil {
		return nil, err
	}
	p.cur, err = os.ReadFile(p.path)
	p.exists = err == nil
	if p.exists {
		p.write = !bytes.Equal(p.cur, p.want)
		return p, nil
	}
	vspec := p.spec
	vspec.Packaged = true
	vwant, err := unit.RenderDropIn(vspec)
	if err != nil {
		return nil, err
	}
	svc := obs.svcName
	if svc == "" {
		svc = dockerService
	}
	dirs := []string{h.vendorUnitDir}
	if h.vendorUnitDir == unit.VendorUnitDir {
		// Debian's packages install units under /lib, which is /usr/lib
		// only where /usr is merged.
		dirs = append(dirs, "/lib/systemd/system")
	}
	for _, d := range dirs {
		vendor := filepath.Join(d, svc+".d", unit.StopHookDropIn)
		if cur, err := os.ReadFile(vendor); err == nil && bytes.Equal(cur, vwant) {
			p.vendor = vendor
			break
		}
	}
	if p.vendor == "" {
		p.write = true
		return p, nil
	}
	vendor := p.vendor
	p.unread = obs.svc != nil && obs.sd != nil && !loadedDropIn(obs.svc, vendor)
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

// applyDropIn carries out enable's plan for the drop-in, then asks systemd
// to reload its units when live. It records the old content so that undo
// can put it back.
func (t *txn) applyDropIn(ctx context.Context, p *dropInPlan, live bool) error {
	if !p.write {
		if p.unread {
			t.dueDaemonReload(live, p.vendor)
		}
		return nil
	}
	t.dropIn = &dropInUndo{path: p.path, old: p.cur, existed: p.exists}
	if err := os.MkdirAll(filepath.Dir(p.path), 0o755); err != nil {
		return err
	}
	if _, err := atomicfile.Replace(p.path, p.want, atomicfile.Options{Mode: 0o644}); err != nil {
		return fmt.Errorf("writing %s: %w", p.path, err)
	}
	t.r.action("wrote %s (ExecStartPre snapshot, ExecStop log buffers%s)", p.path, map[bool]string{true: ", KillMode=process", false: ""}[p.spec.KillModeProcess])
	t.changed = true
	t.dueDaemonReload(live, p.path)
	return nil
}

// removeDropIn removes dlr's copy of the drop-in (only a file dlr wrote),
// then asks systemd to reload its units when live. The packages' copy stays
// until the package is removed.
func (t *txn) removeDropIn(ctx context.Context, live bool) error {
	path := t.h.dropInPath(t.obs)
	old, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(old, dropInHeader) {
		return nil
	}
	t.dropIn = &dropInUndo{path: path, old: old, existed: true}
	if err := atomicfile.Remove(path); err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	t.r.action("removed %s", path)
	t.changed = true
	t.dueDaemonReload(live, path)
	return nil
}

// dueDaemonReload marks a daemon-reload as needed for the drop-in at path.
func (t *txn) dueDaemonReload(live bool, path string) {
	if live && t.obs.sd != nil {
		// Done by finishDaemonReload: alongside docker's reload when there
		// is one (they are independent), else right away.
		t.daemonReloadDue = true
	} else if live {
		t.r.note("systemd is not reachable: run 'systemctl daemon-reload' for %s to take effect", path)
	}
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
	t.daemonReloaded = true // systemd may have re-read the units
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
