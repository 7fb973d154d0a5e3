package main

import (
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/unit"
)

var gpuAtRisk = host.GPUReport{CgroupDriver: "systemd", Containers: []host.GPUUse{{Name: "trainer", Why: "device /dev/nvidia0"}}}

// Item 16: a drop-in to write needs a daemon-reload, which would cut GPU
// containers off their GPUs under the systemd cgroup driver: enable refuses
// with the reason and NVIDIA's workaround before changing anything, unless
// --force.
func TestEnableRefusesADaemonReloadWithGPUs(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.gpu = gpuAtRisk
	code, out, errOut := e.run("enable")
	if code != exitRefused || !strings.Contains(errOut, "trainer (device /dev/nvidia0)") || !strings.Contains(errOut, "NVIDIA's workaround") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	if e.d.daemonReloads != 0 || e.d.reloads != 0 || e.exists(dockerDropIn) || e.read(daemonJSON) != orig {
		t.Errorf("a refused enable changed something: daemon-reloads %d, reloads %d, drop-in %v", e.d.daemonReloads, e.d.reloads, e.exists(dockerDropIn))
	}

	code, out, errOut = e.run("enable", "--force")
	if code != 0 || e.d.daemonReloads != 1 || !strings.Contains(errOut+out, "--force: 1 running container(s) use GPU devices") {
		t.Errorf("--force: exit %d, daemon-reloads %d\n%s%s", code, e.d.daemonReloads, out, errOut)
	}
}

// Under the cgroupfs driver, or with no GPU container, nothing changes.
func TestEnableGPUsUnderCgroupfs(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.d.gpu = host.GPUReport{CgroupDriver: "cgroupfs", Containers: gpuAtRisk.Containers}
	if code, out, errOut := e.run("enable"); code != 0 || e.d.daemonReloads != 1 {
		t.Errorf("exit %d, daemon-reloads %d\n%s%s", code, e.d.daemonReloads, out, errOut)
	}
}

// The packages' drop-in not yet read by systemd (the package's own
// daemon-reload was held for the GPUs): enable turns live restore on
// without a daemon-reload, and says why.
func TestEnableHoldsTheDaemonReloadForThePackagedDropIn(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	b, _ := unit.RenderDropIn(unit.DropIn{DLR: "/usr/bin/dlr", Config: e.config, Snapshot: true, Packaged: true})
	e.write("usr/lib/systemd/system/docker.service.d/zz-docker-liverestore.conf", string(b))
	e.d.gpu = gpuAtRisk
	code, out, errOut := e.run("enable")
	if code != 0 || e.d.daemonReloads != 0 || !e.d.liveRestore || !strings.Contains(out, "not running systemctl daemon-reload: 1 running container(s) use GPU devices") {
		t.Errorf("exit %d, daemon-reloads %d, live restore %v\n%s%s", code, e.d.daemonReloads, e.d.liveRestore, out, errOut)
	}
}

// No GPU lookup where no daemon-reload is due (the common, packaged case).
func TestEnableNoGPULookupWithoutADaemonReload(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	b, _ := unit.RenderDropIn(unit.DropIn{DLR: "/usr/bin/dlr", Config: e.config, Snapshot: true, Packaged: true})
	vendor := "usr/lib/systemd/system/docker.service.d/zz-docker-liverestore.conf"
	e.write(vendor, string(b))
	e.d.svc.DropInPaths = []string{e.h.Path("/" + vendor)}
	if code, out, errOut := e.run("enable"); code != 0 || e.d.gpuCalls != 0 {
		t.Errorf("exit %d, GPU lookups %d\n%s%s", code, e.d.gpuCalls, out, errOut)
	}
}

// disable removes its drop-in but holds the daemon-reload (the hooks
// systemd keeps start with "-": harmless once dlr is gone).
func TestDisableHoldsTheDaemonReloadWithGPUs(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	if code, out, errOut := e.run("enable"); code != 0 {
		t.Fatalf("enable: exit %d\n%s%s", code, out, errOut)
	}
	e.d.gpu = gpuAtRisk
	reloads := e.d.daemonReloads
	code, out, errOut := e.run("disable")
	if code != 0 || e.exists(dockerDropIn) || e.d.daemonReloads != reloads || !strings.Contains(out, "not running systemctl daemon-reload") {
		t.Errorf("exit %d, drop-in %v, daemon-reloads %d -> %d\n%s%s", code, e.exists(dockerDropIn), reloads, e.d.daemonReloads, out, errOut)
	}
}

// The packages' daemon-reload asks dlr (hidden `dlr daemon-reload`).
func TestHiddenDaemonReload(t *testing.T) {
	e := newTestEnv(t)
	if code, out, errOut := e.run("daemon-reload"); code != 0 || out != "" || e.d.daemonReloads != 1 {
		t.Errorf("exit %d, daemon-reloads %d: %q %q", code, e.d.daemonReloads, out, errOut)
	}
	e.d.gpu = gpuAtRisk
	if code, out, _ := e.run("daemon-reload"); code != 0 || !strings.Contains(out, "trainer") || e.d.daemonReloads != 1 {
		t.Errorf("with a GPU container: exit %d, daemon-reloads %d: %q", code, e.d.daemonReloads, out)
	}
	e.h.Getenv = func(k string) string {
		if k == "DPKG_ROOT" {
			return "/img"
		}
		return ""
	}
	if code, out, _ := e.run("daemon-reload"); code != 0 || !strings.Contains(out, "DPKG_ROOT") {
		t.Errorf("image build: exit %d: %q", code, out)
	}
}
