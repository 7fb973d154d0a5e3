package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const dockerDropIn = "etc/systemd/system/docker.service.d/zz-docker-liverestore.conf"

func TestEnableWritesDropInAndDisableRemovesIt(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.svc.KillMode = "control-group"
	if code, out, errOut := e.run("enable"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	got := e.read(dockerDropIn)
	for _, want := range []string{"ExecStartPre=-/usr/bin/dlr snapshot --config " + e.config, "ExecStop=-/usr/bin/dlr buffers --quiet", "KillMode=process"} {
		if !strings.Contains(got, want) {
			t.Errorf("drop-in lacks %q:\n%s", want, got)
		}
	}
	if e.d.daemonReloads != 1 {
		t.Errorf("daemon-reloads = %d, want 1", e.d.daemonReloads)
	}
	// Idempotent: a second enable rewrites nothing and reloads nothing.
	before, _ := os.Stat(filepath.Join(e.dir, dockerDropIn))
	e.run("enable")
	after, _ := os.Stat(filepath.Join(e.dir, dockerDropIn))
	if !os.SameFile(before, after) || e.d.daemonReloads != 1 {
		t.Errorf("second enable touched the drop-in (daemon-reloads %d)", e.d.daemonReloads)
	}
	if code, out, errOut := e.run("disable"); code != 0 {
		t.Fatalf("disable exit %d\n%s%s", code, out, errOut)
	}
	if e.exists(dockerDropIn) || e.d.daemonReloads != 2 {
		t.Errorf("disable left the drop-in or did not daemon-reload (%d)", e.d.daemonReloads)
	}
}

func TestDisableLeavesAForeignDropIn(t *testing.T) {
	e := newTestEnv(t)
	e.write(dockerDropIn, "[Service]\nEnvironment=X=1\n")
	e.run("disable")
	if e.read(dockerDropIn) != "[Service]\nEnvironment=X=1\n" {
		t.Error("disable removed a drop-in dlr did not write")
	}
}

func TestEnableRollbackRestoresDropIn(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.rejectAll = true
	if code, _, _ := e.run("enable"); code != exitFailed {
		t.Fatalf("exit %d", code)
	}
	if e.exists(dockerDropIn) || e.d.daemonReloads != 2 {
		t.Errorf("rollback left the drop-in (daemon-reloads %d)", e.d.daemonReloads)
	}
}
