package main

import (
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/unit"
)

// TestEnableFedoraSysconfigFlag: Fedora's moby-engine passes --live-restore
// as a flag from /etc/sysconfig/docker (OPTIONS=..., ExecStart ...
// $OPTIONS): enable sees it, writes no key (a key as well makes dockerd
// refuse to start) and says live restore is already on by flag; check
// passes it.
func TestEnableFedoraSysconfigFlag(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, orig)
	e.write("etc/sysconfig/docker", "# /etc/sysconfig/docker\n\n# Modify these options if you want to change the way the docker daemon runs\nOPTIONS=\"--selinux-enabled --log-driver=journald --live-restore\"\n")
	e.d.svc.EnvironmentFiles = []unit.EnvFile{{Path: "/etc/sysconfig/docker", Optional: true}}
	e.d.svc.ExecStart = [][]string{{"/usr/bin/dockerd", "--host=fd://", "--exec-opt", "native.cgroupdriver=systemd", "$OPTIONS"}}
	e.d.liveRestore = true
	code, out, errOut := e.run("enable")
	if code != 0 || !strings.Contains(out, "already enabled by a flag") || !strings.Contains(out, "with variables from /etc/sysconfig/docker") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if e.read(daemonJSON) != orig || e.d.reloads != 0 || e.exists(dropIn) {
		t.Error("enable with the flag set changed something")
	}
	_, out, _ = e.run("check")
	if !strings.Contains(out, "PASS  live restore enabled") {
		t.Errorf("check with the flag:\n%s", out)
	}
}

// TestProtectableRootlessSnap: a rootless dockerd on the host
// (/run/user/UID/docker.pid) or Snap's Docker: dlr check FAILs "live
// restore cannot protect these containers" with the reason and the
// upstream issue; enable says so instead of claiming protection.
func TestProtectableRootlessSnap(t *testing.T) {
	e := newTestEnv(t)
	e.write("run/user/1000/docker.pid", "812\n")
	e.write("proc/812/stat", "812 (dockerd) S 800 812 812 0 -1 4194560 0 0 0 0\n")
	code, out, _ := e.run("check")
	if code != exitRefused || !strings.Contains(out, "FAIL  live restore can protect the containers") ||
		!strings.Contains(out, "live restore cannot protect these containers: rootless Docker (/run/user/1000/docker.pid (PID 812))") ||
		!strings.Contains(out, "moby/moby#41947") {
		t.Errorf("check with a rootless dockerd: exit %d\n%s", code, out)
	}
	_, _, errOut := e.run("enable")
	if !strings.Contains(errOut, "live restore cannot protect these containers") {
		t.Errorf("enable did not say so: %s", errOut)
	}

	// Snap's dockerd (under /snap/, as its unit runs it)
	e = newTestEnv(t)
	e.d.svc.ExecStart = [][]string{{"/snap/docker/2976/bin/dockerd", "-G", "docker"}}
	code, out, _ = e.run("check")
	if code != exitRefused || !strings.Contains(out, "canonical/docker-snap#76") {
		t.Errorf("check on Snap's Docker: exit %d\n%s", code, out)
	}
	// a stale pid file naming no dockerd is not rootless Docker
	e = newTestEnv(t)
	e.write("run/user/1000/docker.pid", "999999\n")
	if _, out, _ := e.run("check"); !strings.Contains(out, "PASS  live restore can protect the containers") {
		t.Errorf("stale rootless pid file:\n%s", out)
	}
}
