//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPreflightAptHook (issue 12 item 4): in a trixie guest with the
// docker-liverestore .deb installed (so live restore is on and apt's hook
// is in place) and containers running, the upgrade to forky's Docker
// (docker.io 28.5.2, containerd 2.1.9, runc 1.3.6), installed with the
// guest's own apt:
//   - with STRICT=yes and docker.service bound to containerd (a BindsTo=
//     drop-in): apt stops before dpkg unpacks anything, with dlr's FAIL in
//     its output; every package, daemon and container is as it was;
//   - with dlr missing (the hook cannot give a verdict): apt goes on under
//     STRICT=no and stops under STRICT=yes;
//   - fixed (Wants=), STRICT=yes: apt shows dlr's verdict (PASS, the
//     measured trixie -> forky restore) and upgrades; the containers keep
//     their PIDs; dlr check and dlr status then judge the pending restart
//     PASS, and `systemctl restart docker` restores every container: what
//     dlr said is what happened;
//   - a transaction without Docker's packages prints nothing of dlr's;
//   - removed (not purged), the kept apt.conf.d file leaves apt working.
func TestPreflightAptHook(t *testing.T) {
	p := packagesForTest(t)
	g := pkgGuest(t, "trixie", p)
	out := pkgMust(t, g, "apt-get install -y --no-install-recommends "+guestDeb(p.Cur))
	if got := gsh(t, g, "docker info -f '{{.LiveRestoreEnabled}}'"); got != "true" {
		t.Fatalf("LiveRestoreEnabled after the install = %s\n%s", got, out)
	}
	for _, name := range []string{"web", "db"} {
		g.MustExec(t, "docker", "run", "-d", "--name", name, "--restart", "unless-stopped", "logger", "/app", "-rate", "1000")
	}
	var guestDebs []string
	for _, f := range debSet("forky", "docker", forkyDocker)(t) {
		g.CopyIn(t, f, "/root/forky/"+filepath.Base(f), 0o644)
		guestDebs = append(guestDebs, "/root/forky/"+filepath.Base(f))
	}
	upgrade := "apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confold " + strings.Join(guestDebs, " ")
	type snapshot struct{ pkgs, dockerd, containerd, web, db string }
	look := func() snapshot {
		return snapshot{
			pkgs:       gsh(t, g, "dpkg-query -W -f '${Package}=${Version} ' docker.io docker-cli containerd runc"),
			dockerd:    gsh(t, g, "systemctl show -p MainPID --value docker.service"),
			containerd: gsh(t, g, "systemctl show -p MainPID --value containerd.service"),
			web:        gsh(t, g, "docker inspect -f '{{.State.Pid}}' web"),
			db:         gsh(t, g, "docker inspect -f '{{.State.Pid}}' db"),
		}
	}
	before := look()
	t.Logf("before: %+v", before)
	setSetting := func(key, value string) {
		g.Sh(t, "sed -i 's/^"+key+"=.*/"+key+"="+value+"/' "+pkgSettings+" && grep -q '^"+key+"="+value+"$' "+pkgSettings)
	}

	// The same verdict outside apt's hook: from apt's candidates (a local
	// repository of forky's packages) and from package files (forky's .debs,
	// and Docker CE's name on an .rpm built here).
	t.Run("candidates-and-files", func(t *testing.T) {
		g.CopyIn(t, writePackagesIndex(t, debSet("forky", "docker", forkyDocker)(t)), "/root/forky/Packages", 0o644)
		g.Sh(t, "echo 'deb [trusted=yes] file:/root/forky ./' > /etc/apt/sources.list.d/forky.list && "+
			"apt-get update -qq -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/forky.list -o Dir::Etc::sourceparts=/nonexistent")
		defer g.Sh(t, "rm /etc/apt/sources.list.d/forky.list")
		verdict := []string{
			"dlr preflight: containerd 1.7.24~ds1-6+deb13u1 -> 2.1.9+ds1-5, docker.io 26.1.5+dfsg1-9+deb13u1+b1 -> 28.5.2+dfsg4-5, runc 1.1.15+ds1-2+b4 -> 1.3.6+ds1-1",
			"PASS  web", "kept now; restored by live restore at the next docker restart onto 28.5.2", "0 FAIL, 0 WARN",
		}
		out, _, code, _ := g.Exec(t.Context(), "dlr", "preflight")
		t.Logf("$ dlr preflight  (exit %d)\n%s", code, out)
		wantContains(t, "dlr preflight (apt's candidates)", out, verdict...)
		out, _, code, _ = g.Exec(t.Context(), "sh", "-c", "dlr preflight /root/forky/*.deb")
		t.Logf("$ dlr preflight /root/forky/*.deb  (exit %d)\n%s", code, out)
		wantContains(t, "dlr preflight FILE.deb...", out, verdict...)
		g.CopyIn(t, buildRPM(t, "docker-ce", "28.5.2", "1.fc41", "5"), "/root/docker-ce.rpm", 0o644)
		out, _, code, _ = g.Exec(t.Context(), "dlr", "preflight", "/root/docker-ce.rpm")
		t.Logf("$ dlr preflight /root/docker-ce.rpm  (exit %d)\n%s", code, out)
		wantContains(t, "dlr preflight FILE.rpm", out, "dlr preflight: docker-ce (not installed) -> 5:28.5.2-1.fc41",
			"PASS  docker-ce", "its restart now: dockerd 26.1.5 -> 28.5.2: restored in dlr's upgrade matrix",
			"measured: docker-ce restarts dockerd when dpkg configures it", "restored by live restore")
		if got := look(); got != before {
			t.Errorf("dlr preflight changed something: %+v, was %+v", got, before)
		}
	})

	t.Run("strict-fail-refuses", func(t *testing.T) {
		g.Sh(t, "mkdir -p /etc/systemd/system/docker.service.d && printf '[Unit]\\nBindsTo=containerd.service\\n' > /etc/systemd/system/docker.service.d/bind.conf && systemctl daemon-reload")
		setSetting("STRICT", "yes")
		start := time.Now()
		out, code := pkgRun(t, g, upgrade)
		t.Logf("FIGURE refused apt-get install: %s", time.Since(start).Round(time.Millisecond))
		if code == 0 {
			t.Fatalf("apt-get install went on under STRICT=yes with a FAIL verdict")
		}
		wantContains(t, "apt's output", out,
			"docker-liverestore: dlr preflight: containerd 1.7.24~ds1-6+deb13u1 -> 2.1.9+ds1-5",
			"docker-liverestore: FAIL  containerd",
			"BindsTo=containerd.service",
			"WARN  web", "at risk: dockerd is restarted with containerd; live restore restores it",
			"STRICT=yes in /etc/docker-liverestore/settings: stopping apt before anything is unpacked",
			"E: Sub-process DLR_APT_HOOK=3")
		if strings.Contains(out, "Unpacking") {
			t.Errorf("dpkg unpacked something:\n%s", out)
		}
		if got := look(); got != before {
			t.Errorf("changed by the refused install: %+v, was %+v", got, before)
		}

		// Issue 21, item 2: the same .debs in a directory whose name holds
		// a space. apt writes the file name raw at the end of the hook's
		// line; dlr still reads the line and gives its verdict (before, it
		// wanted exactly 9 fields: no verdict, so STRICT=yes stopped apt for
		// that reason instead).
		var spaced []string
		for _, f := range guestDebs {
			spaced = append(spaced, "'/root/My Debs/"+filepath.Base(f)+"'")
		}
		g.Sh(t, "mkdir -p '/root/My Debs' && cp /root/forky/*.deb '/root/My Debs/'")
		out, code = pkgRun(t, g, "apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confold "+strings.Join(spaced, " "))
		if code == 0 {
			t.Fatalf("apt-get install of the spaced paths went on under STRICT=yes with a FAIL verdict")
		}
		wantContains(t, "apt's output, a path with a space", out,
			"docker-liverestore: dlr preflight: containerd 1.7.24~ds1-6+deb13u1 -> 2.1.9+ds1-5",
			"docker-liverestore: FAIL  containerd",
			"STRICT=yes in /etc/docker-liverestore/settings: stopping apt before anything is unpacked")
		if strings.Contains(out, "gave no verdict") || strings.Contains(out, "Unpacking") {
			t.Errorf("a path with a space: no verdict, or dpkg unpacked something:\n%s", out)
		}
		if got := look(); got != before {
			t.Errorf("changed by the refused install of the spaced paths: %+v, was %+v", got, before)
		}
	})

	// docker.service is still bound to containerd here: the reinstall of
	// containerd below restarts dockerd with it (live restore is on).
	t.Run("no-verdict", func(t *testing.T) {
		bound := look()
		g.MustExec(t, "mv", "/usr/bin/dlr", "/usr/bin/dlr.away")
		defer g.MustExec(t, "mv", "/usr/bin/dlr.away", "/usr/bin/dlr")
		// A reinstall of containerd (one of Docker's packages) asks dlr.
		reinstall := "apt-get install -y --reinstall " + strings.TrimSpace(g.Sh(t, "ls /var/cache/apt/archives/containerd_*.deb"))
		out, code := pkgRun(t, g, reinstall)
		if code == 0 || !strings.Contains(out, "dlr preflight gave no verdict (exit 127); STRICT=yes") {
			t.Errorf("STRICT=yes, dlr missing: exit %d\n%s", code, out)
		}
		setSetting("STRICT", "no")
		out, code = pkgRun(t, g, reinstall)
		if code != 0 || !strings.Contains(out, "dlr preflight gave no verdict (exit 127); going on (STRICT=no)") {
			t.Errorf("STRICT=no, dlr missing: exit %d\n%s", code, out)
		}
		waitDocker(t, g)
		got := look()
		t.Logf("FACT BindsTo=containerd.service, live restore on: containerd's reinstall restarted dockerd (MainPID %s -> %s, containerd %s -> %s); containers web %s -> %s, db %s -> %s",
			bound.dockerd, got.dockerd, bound.containerd, got.containerd, bound.web, got.web, bound.db, got.db)
		if got.dockerd == bound.dockerd {
			t.Errorf("with BindsTo=, containerd's restart left dockerd's MainPID %s: the bond check's premise", got.dockerd)
		}
		if got.web != bound.web || got.db != bound.db {
			t.Errorf("live restore did not keep the containers through the bound restart: %+v -> %+v", bound, got)
		}
	})

	t.Run("upgrade-with-verdict", func(t *testing.T) {
		g.Sh(t, "printf '[Unit]\\nWants=containerd.service\\n' > /etc/systemd/system/docker.service.d/bind.conf && systemctl daemon-reload")
		setSetting("STRICT", "yes")
		pre := look()
		out := pkgMust(t, g, upgrade)
		wantContains(t, "apt's output", out,
			"docker-liverestore: dlr preflight: containerd 1.7.24~ds1-6+deb13u1 -> 2.1.9+ds1-5, docker.io 26.1.5+dfsg1-9+deb13u1+b1 -> 28.5.2+dfsg4-5, runc 1.1.15+ds1-2+b4 -> 1.3.6+ds1-1",
			"docker-liverestore: PASS  docker.io",
			"trixie-forky/restart-docker: 6/6 containers kept their PIDs",
			"docker-liverestore: PASS  web",
			"kept now; restored by live restore at the next docker restart onto 28.5.2",
			"docker-liverestore: 0 FAIL, 0 WARN",
			"Unpacking docker.io (28.5.2+dfsg4-5)")
		// The hook ran before dpkg unpacked anything.
		if strings.Index(out, "docker-liverestore: dlr preflight:") > strings.Index(out, "Unpacking") {
			t.Errorf("the verdict came after dpkg started:\n%s", out)
		}
		waitDocker(t, g)
		after := look()
		t.Logf("after the upgrade: %+v", after)
		if after.web != pre.web || after.db != pre.db || after.dockerd != pre.dockerd {
			t.Errorf("the upgrade was to keep dockerd and the containers: %+v -> %+v", pre, after)
		}
		if after.containerd == pre.containerd {
			t.Errorf("containerd's package did not restart it (the verdict said it would): %+v", after)
		}
		// What dlr says of the pending restart, then the restart itself.
		check, _, _, _ := g.Exec(t.Context(), "dlr", "check")
		if !strings.Contains(check, "PASS  installed dockerd restores containers") || !strings.Contains(check, "dockerd 26.1.5 -> 28.5.2: restored in dlr's upgrade matrix") {
			t.Errorf("dlr check after the upgrade:\n%s", check)
		}
		status := g.MustExec(t, "dlr", "status")
		if !strings.Contains(status, "installed:") || !strings.Contains(status, "next restart: PASS") {
			t.Errorf("dlr status after the upgrade:\n%s", status)
		}
		g.Exec(t.Context(), "systemctl", "reset-failed", "docker")
		g.MustExec(t, "systemctl", "restart", "docker")
		waitDocker(t, g)
		restarted := look()
		t.Logf("after systemctl restart docker: %+v", restarted)
		if restarted.web != pre.web || restarted.db != pre.db {
			t.Errorf("the restart onto 28.5.2 did not keep the containers as dlr said it would: %+v -> %+v", pre, restarted)
		}
		if v := gsh(t, g, "docker version -f '{{.Server.Version}}'"); !strings.HasPrefix(v, "28.5.2") {
			t.Errorf("running dockerd %s after the restart", v)
		}
	})

	t.Run("not-docker-silent", func(t *testing.T) {
		tini := strings.TrimSpace(g.Sh(t, "ls /root/forky/tini_*.deb"))
		out := pkgMust(t, g, "apt-get install -y --reinstall "+tini)
		if strings.Contains(out, "docker-liverestore:") {
			t.Errorf("the hook spoke for a transaction without Docker's packages:\n%s", out)
		}
	})

	t.Run("removed-not-purged", func(t *testing.T) {
		pkgMust(t, g, "apt-get remove -y docker-liverestore")
		if gsh(t, g, "test -e "+aptHookConf+" && echo kept") != "kept" {
			t.Fatalf("%s is gone after remove (a conffile stays until purge)", aptHookConf)
		}
		reinstall := "apt-get install -y --reinstall " + strings.TrimSpace(g.Sh(t, "ls /root/forky/containerd_*.deb"))
		out := pkgMust(t, g, reinstall)
		if strings.Contains(out, "docker-liverestore:") {
			t.Errorf("the removed package's hook spoke:\n%s", out)
		}
		pkgMust(t, g, "apt-get purge -y docker-liverestore")
	})
}

// writePackagesIndex writes an apt "Packages" index of debs (a flat
// repository: each file's control fields, Filename, Size, SHA256) and
// returns its path.
func writePackagesIndex(t *testing.T, debs []string) string {
	t.Helper()
	var b strings.Builder
	for _, d := range debs {
		control, err := exec.Command("dpkg-deb", "-f", d).Output()
		if err != nil {
			t.Fatalf("dpkg-deb -f %s: %v", d, err)
		}
		data, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%sFilename: ./%s\nSize: %d\nSHA256: %s\n\n", control, filepath.Base(d), len(data), hex.EncodeToString(sum[:]))
	}
	p := filepath.Join(t.TempDir(), "Packages")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// buildRPM builds an empty noarch .rpm NAME-[EPOCH:]VERSION-RELEASE with
// rpmbuild and returns its path.
func buildRPM(t *testing.T, name, version, release, epoch string) string {
	t.Helper()
	top := t.TempDir()
	spec := fmt.Sprintf("Name: %s\nEpoch: %s\nVersion: %s\nRelease: %s\nSummary: test\nLicense: MIT\nBuildArch: noarch\n%%description\ntest\n%%files\n",
		name, epoch, version, release)
	if err := os.WriteFile(filepath.Join(top, "p.spec"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("rpmbuild", "--define", "_topdir "+top, "-bb", filepath.Join(top, "p.spec")).CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(top, "RPMS", "noarch", name+"-*.rpm"))
	if len(files) != 1 {
		t.Fatalf("rpmbuild made %v", files)
	}
	return files[0]
}
