//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// The proofs of issue 3: the .deb and .rpm built by `make packages`,
// installed, upgraded and removed for real in booted bookworm and trixie
// guests. Suites run one after the other: fs.pipe-max-size is the host's.

const (
	pkgDaemonJSON     = "/etc/docker/daemon.json"
	pkgSysctlDropIn   = "/etc/sysctl.d/60-docker-liverestore.conf"
	pkgSettings       = "/etc/docker-liverestore/settings"
	aptHookConf       = "/etc/apt/apt.conf.d/50docker-liverestore"
	aptHook           = "/usr/lib/docker-liverestore/apt-preflight"
	pkgOrigDaemonJSON = "{\n  \"log-level\": \"info\"\n}\n"
	pkgPipe16M        = "16777216"
	pkgPipeDefault    = "1048576"
)

// startWithContainer writes daemon.json (live restore off), restarts docker
// so that the daemon has read it, and starts container c1.
func startWithContainer(t *testing.T, g *rig.Guest) hostState {
	t.Helper()
	writeGuest(t, g, pkgDaemonJSON, pkgOrigDaemonJSON)
	g.MustExec(t, "systemctl", "restart", "docker")
	g.MustExec(t, "docker", "run", "-d", "--name", "c1", "logger", "/app")
	// fs.pipe-max-size is the host's: set the default again right before
	// looking (other tests running on this host may have changed it).
	if err := os.WriteFile("/proc/sys/fs/pipe-max-size", []byte(pkgPipeDefault), 0o644); err != nil {
		t.Fatal(err)
	}
	before := observeHost(t, g)
	if before.liveRestore != "false" || before.pipeMax != pkgPipeDefault {
		t.Fatalf("unexpected start: %+v", before)
	}
	return before
}

// TestDebLifecycle: apt install with a container running, reinstall,
// upgrade to a newer build, apt remove, apt purge.
func TestDebLifecycle(t *testing.T) {
	p := packagesForTest(t)
	forSuites(t, func(t *testing.T, suite string) {
		g := pkgGuest(t, suite, p)
		before := startWithContainer(t, g)

		start := time.Now()
		out := pkgMust(t, g, "apt-get install -y "+guestDeb(p.Cur))
		t.Logf("FIGURE %s: apt-get install of the .deb with a container running took %s", suite, time.Since(start).Round(time.Millisecond))
		wantContains(t, "apt-get install", out, "running 'dlr enable' (install)")
		after := observeHost(t, g)
		if after.liveRestore != "true" {
			t.Errorf("LiveRestoreEnabled after install = %s", after.liveRestore)
		}
		if after.dockerd != before.dockerd || after.container != before.container {
			t.Errorf("dockerd or container restarted: before %+v, after %+v", before, after)
		}
		// fs.pipe-max-size is the host's, which tests running beside this
		// one may change too: dlr's report says what it set.
		wantContains(t, "apt-get install", out, "set fs.pipe-max-size to "+pkgPipe16M+" (was "+pkgPipeDefault+")")
		if got := gsh(t, g, "cat "+pkgSysctlDropIn); !strings.Contains(got, "fs.pipe-max-size = 16777216") {
			t.Errorf("%s = %q", pkgSysctlDropIn, got)
		}
		wantDaemon := "{\n  \"log-level\": \"info\",\n  \"live-restore\": true\n}\n"
		if got := readGuestFile(t, g, pkgDaemonJSON); got != wantDaemon {
			t.Errorf("daemon.json = %q, want %q", got, wantDaemon)
		}
		g.MustExec(t, "dlr", "status", "--quiet")

		// Reinstall, then upgrade: nothing is rewritten, nothing restarts.
		cfgStamp, dropStamp := fileStamp(t, g, pkgDaemonJSON), fileStamp(t, g, pkgSysctlDropIn)
		out = pkgMust(t, g, "apt-get install -y --reinstall "+guestDeb(p.Cur))
		wantContains(t, "apt-get install --reinstall", out, "running 'dlr enable' (upgrade from "+p.Cur.Version+"-1)")
		start = time.Now()
		out = pkgMust(t, g, "apt-get install -y "+guestDeb(p.Newer))
		t.Logf("FIGURE %s: apt-get upgrade to the newer .deb took %s", suite, time.Since(start).Round(time.Millisecond))
		wantContains(t, "upgrade", out, "running 'dlr enable' (upgrade from "+p.Cur.Version+"-1)")
		if got := gsh(t, g, "dlr version"); got != "dlr "+p.Newer.Version {
			t.Errorf("dlr version after upgrade = %q, want %q", got, "dlr "+p.Newer.Version)
		}
		if got := fileStamp(t, g, pkgDaemonJSON); got != cfgStamp {
			t.Errorf("daemon.json rewritten by reinstall/upgrade: %s -> %s", cfgStamp, got)
		}
		if got := fileStamp(t, g, pkgSysctlDropIn); got != dropStamp {
			t.Errorf("%s rewritten by reinstall/upgrade: %s -> %s", pkgSysctlDropIn, dropStamp, got)
		}
		if got := observeHost(t, g); got.procs() != after.procs() {
			t.Errorf("reinstall/upgrade changed the host: %+v -> %+v", after, got)
		}

		// Remove: back to the prior state, container untouched.
		start = time.Now()
		out = pkgMust(t, g, "apt-get remove -y docker-liverestore")
		t.Logf("FIGURE %s: apt-get remove took %s", suite, time.Since(start).Round(time.Millisecond))
		wantContains(t, "apt-get remove", out, "running 'dlr disable'",
			"set fs.pipe-max-size back to "+pkgPipeDefault)
		removed := observeHost(t, g)
		if removed.procs() != before.procs() {
			t.Errorf("after remove: %+v, want the state before install %+v", removed, before)
		}
		if got := readGuestFile(t, g, pkgDaemonJSON); got != pkgOrigDaemonJSON {
			t.Errorf("daemon.json after remove = %q, want the original %q", got, pkgOrigDaemonJSON)
		}
		if got := fileStamp(t, g, pkgSysctlDropIn); got != "absent" {
			t.Errorf("%s after remove: %s", pkgSysctlDropIn, got)
		}
		if got := gsh(t, g, "docker inspect -f '{{.State.Running}}' c1"); got != "true" {
			t.Errorf("c1 running = %s", got)
		}
		if got := gsh(t, g, "test -e "+pkgSettings+" && echo kept || echo gone"); got != "kept" {
			t.Errorf("settings conffile after remove: %s (remove keeps conffiles)", got)
		}

		// Purge: nothing of the package is left.
		pkgMust(t, g, "apt-get purge -y docker-liverestore")
		if out, code := pkgRun(t, g, "dpkg -L docker-liverestore"); code == 0 {
			t.Errorf("dpkg -L after purge succeeds:\n%s", out)
		}
		if got := leftovers(t, g); got != "" {
			t.Errorf("left after purge:\n%s", got)
		}
		if got := readGuestFile(t, g, pkgDaemonJSON); got != pkgOrigDaemonJSON {
			t.Errorf("daemon.json after purge = %q", got)
		}
		if got := observeHost(t, g); got.procs() != before.procs() {
			t.Errorf("after purge: %+v, want %+v", got, before)
		}
	})
}

// TestDebBeforeDocker: the package is installed on a host without Docker;
// Docker, installed afterwards, starts with live restore on.
func TestDebBeforeDocker(t *testing.T) {
	p := packagesForTest(t)
	forSuites(t, func(t *testing.T, suite string) {
		g := pkgGuest(t, suite, p)
		// The rootfs keeps docker.io's .deb in /var/cache/apt/archives, so
		// it can be installed again offline.
		// docker.io, or the upstream suite's docker-ce.
		docker := dockerPackage(t, g)
		pkgMust(t, g, "systemctl stop docker.service docker.socket && apt-get purge -y "+docker+" && rm -rf /etc/docker")
		if got := gsh(t, g, "ls /var/cache/apt/archives/ | grep -c '^"+docker+"_' || true"); got != "1" {
			t.Fatalf("%s's .deb is not cached in the guest (%s)", docker, got)
		}

		// --no-install-recommends: apt would otherwise pull docker.io in
		// (Recommends) from the cache.
		out := pkgMust(t, g, "apt-get install -y --no-install-recommends "+guestDeb(p.Cur))
		wantContains(t, "apt-get install", out, "running 'dlr enable' (install)")
		if got := gsh(t, g, "dpkg-query -W -f '${Status}' "+docker+" 2>/dev/null || true"); strings.Contains(got, "installed") && !strings.Contains(got, "not-installed") {
			t.Fatalf("%s got installed with the package: %s", docker, got)
		}
		if got := readGuestFile(t, g, pkgDaemonJSON); !strings.Contains(got, `"live-restore": true`) {
			t.Errorf("daemon.json before Docker = %q", got)
		}

		pkgMust(t, g, "apt-get install -y --no-install-recommends /var/cache/apt/archives/"+docker+"_*.deb")
		pkgMust(t, g, "for i in $(seq 60); do systemctl is-active -q docker && docker info >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1")
		if got := gsh(t, g, "docker info -f '{{.LiveRestoreEnabled}}'"); got != "true" {
			t.Errorf("LiveRestoreEnabled of the Docker installed after the package = %s", got)
		}

		// dlr created daemon.json: removing the package removes it again.
		pkgMust(t, g, "apt-get purge -y docker-liverestore")
		if got := fileStamp(t, g, pkgDaemonJSON); got != "absent" {
			t.Errorf("daemon.json dlr created is still there after purge: %s", got)
		}
		if got := gsh(t, g, "docker info -f '{{.LiveRestoreEnabled}}'"); got != "false" {
			t.Errorf("LiveRestoreEnabled after purge = %s", got)
		}
		if got := leftovers(t, g); got != "" {
			t.Errorf("left after purge:\n%s", got)
		}
	})
}

// TestDebRefused: on a swarm node the install succeeds, says why loudly and
// changes nothing; with STRICT=yes it fails with the reason.
func TestDebRefused(t *testing.T) {
	p := packagesForTest(t)
	forSuites(t, func(t *testing.T, suite string) {
		g := pkgGuest(t, suite, p)
		pkgMust(t, g, "docker swarm init --advertise-addr 127.0.0.1")
		before := fileStamp(t, g, pkgDaemonJSON)

		out := pkgMust(t, g, "apt-get install -y "+guestDeb(p.Cur))
		wantContains(t, "apt-get install on a swarm node", out,
			"did not turn live restore on (exit 3)", "swarm mode", "Nothing was changed")
		if got := fileStamp(t, g, pkgDaemonJSON); got != before {
			t.Errorf("daemon.json changed on a swarm node: %s -> %s", before, got)
		}
		if got := fileStamp(t, g, pkgSysctlDropIn); got != "absent" {
			t.Errorf("%s written on a swarm node: %s", pkgSysctlDropIn, got)
		}
		if got := gsh(t, g, "docker info -f '{{.LiveRestoreEnabled}}'"); got != "false" {
			t.Errorf("LiveRestoreEnabled = %s", got)
		}
		if _, code := pkgRun(t, g, "dlr status --quiet"); code == 0 {
			t.Errorf("dlr status --quiet exits 0 on the swarm node")
		}
		pkgMust(t, g, "apt-get purge -y docker-liverestore")

		// Strict mode, preseeded as configuration management does: the
		// settings file first (keep it: --force-confold), then the package.
		writeGuest(t, g, pkgSettings, "ENABLE_ON_INSTALL=yes\nSTRICT=yes\n")
		out, code := pkgRun(t, g, "apt-get install -y -o Dpkg::Options::=--force-confold "+guestDeb(p.Cur))
		if code == 0 {
			t.Errorf("install with STRICT=yes on a swarm node succeeded")
		}
		wantContains(t, "strict install", out, "swarm mode", "strict mode (STRICT=yes): failing the install")
		if got := fileStamp(t, g, pkgDaemonJSON); got != before {
			t.Errorf("daemon.json changed by the strict install: %s -> %s", before, got)
		}
		// And the same without the file: the environment overrides it.
		pkgMust(t, g, "dpkg --purge docker-liverestore")
		out, code = pkgRun(t, g, "DLR_STRICT=yes apt-get install -y "+guestDeb(p.Cur))
		if code == 0 {
			t.Errorf("install with DLR_STRICT=yes on a swarm node succeeded")
		}
		wantContains(t, "DLR_STRICT=yes install", out, "swarm mode", "failing the install")
	})
}

// TestRPMLifecycle drives the .rpm's scriptlets with the rpm tool: install
// with a container running, upgrade to a newer build, erase.
func TestRPMLifecycle(t *testing.T) {
	p := packagesForTest(t)
	forSuites(t, func(t *testing.T, suite string) {
		g := pkgGuest(t, suite, p)
		before := startWithContainer(t, g)
		// bookworm's rpm refuses to install without --force-debian (trixie's
		// has no such option); no rpm dependencies can be satisfied on
		// Debian (--nodeps).
		rpm := "rpm --nodeps "
		if gsh(t, g, "rpm --help 2>&1 | grep -c -e --force-debian || true") != "0" {
			rpm += "--force-debian "
		}
		start := time.Now()
		out := pkgMust(t, g, rpm+"-i "+guestRPM(p.Cur))
		t.Logf("FIGURE %s: rpm -i with a container running took %s", suite, time.Since(start).Round(time.Millisecond))
		wantContains(t, "rpm -i", out, "running 'dlr enable' (install)")
		after := observeHost(t, g)
		if after.liveRestore != "true" || after.dockerd != before.dockerd || after.container != before.container {
			t.Errorf("after rpm -i: %+v (before %+v)", after, before)
		}
		wantContains(t, "rpm -i", out, "set fs.pipe-max-size to "+pkgPipe16M)
		cfgStamp, dropStamp := fileStamp(t, g, pkgDaemonJSON), fileStamp(t, g, pkgSysctlDropIn)

		// Upgrade: the new %post enables (a no-op), the old %preun runs
		// afterwards with $1 = 1 and must undo nothing.
		out = pkgMust(t, g, rpm+"-U "+guestRPM(p.Newer))
		wantContains(t, "rpm -U", out, "running 'dlr enable' (upgrade)")
		if strings.Contains(out, "dlr disable") {
			t.Errorf("rpm -U ran dlr disable:\n%s", out)
		}
		if got := gsh(t, g, "dlr version"); got != "dlr "+p.Newer.Version {
			t.Errorf("dlr version after rpm -U = %q", got)
		}
		if got := fileStamp(t, g, pkgDaemonJSON); got != cfgStamp {
			t.Errorf("daemon.json rewritten by rpm -U: %s -> %s", cfgStamp, got)
		}
		if got := fileStamp(t, g, pkgSysctlDropIn); got != dropStamp {
			t.Errorf("%s rewritten by rpm -U: %s -> %s", pkgSysctlDropIn, dropStamp, got)
		}
		if got := observeHost(t, g); got.procs() != after.procs() {
			t.Errorf("rpm -U changed the host: %+v -> %+v", after, got)
		}

		// Erase: dlr disable, then dlr's state goes (rpm has no purge).
		out = pkgMust(t, g, rpm+"-e docker-liverestore")
		wantContains(t, "rpm -e", out, "running 'dlr disable'", "set fs.pipe-max-size back to "+pkgPipeDefault)
		if got := observeHost(t, g); got.procs() != before.procs() {
			t.Errorf("after rpm -e: %+v, want %+v", got, before)
		}
		if got := readGuestFile(t, g, pkgDaemonJSON); got != pkgOrigDaemonJSON {
			t.Errorf("daemon.json after rpm -e = %q", got)
		}
		if out, code := pkgRun(t, g, "rpm -q docker-liverestore"); code == 0 {
			t.Errorf("rpm -q after erase succeeds:\n%s", out)
		}
		if got := leftovers(t, g); got != "" {
			t.Errorf("left after rpm -e:\n%s", got)
		}
	})
}

// TestPackageFiles checks the packages themselves on the host: contents,
// metadata, rpm scriptlets and config files, lintian, reproducibility.
func TestPackageFiles(t *testing.T) {
	p := packagesForTest(t)
	host := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	for _, f := range []string{p.Cur.Deb, p.Cur.RPM} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("FIGURE size of %s: %d bytes", filepath.Base(f), fi.Size())
	}

	wantFiles := []string{
		"/etc/docker-liverestore/settings",
		"/usr/bin/dlr",
		"/usr/share/doc/docker-liverestore/copyright",
		"/usr/share/man/man8/dlr.8.gz",
	}
	debList := host("dpkg-deb", "-c", p.Cur.Deb)
	rpmList := host("rpm", "-qpl", p.Cur.RPM)
	wantContains(t, "dpkg-deb -c", debList, append(wantFiles, "/usr/share/doc/docker-liverestore/changelog.Debian.gz",
		"/usr/share/lintian/overrides/docker-liverestore", aptHookConf, aptHook)...)
	for _, line := range strings.Split(debList, "\n") {
		if strings.HasSuffix(line, "."+aptHook) && !strings.HasPrefix(line, "-rwxr-xr-x root/root ") {
			t.Errorf("apt's hook is not an executable file of root's: %s", line)
		}
	}
	if strings.Contains(rpmList, "/etc/apt/") || strings.Contains(rpmList, "apt-preflight") {
		t.Errorf("the rpm ships apt's hook:\n%s", rpmList)
	}
	wantContains(t, "rpm -qpl", rpmList, append(wantFiles, "/usr/share/doc/docker-liverestore/changelog.gz")...)
	for what, list := range map[string]string{"deb": debList, "rpm": rpmList} {
		if strings.Contains(list, "/etc/docker/") {
			t.Errorf("the %s ships something in /etc/docker:\n%s", what, list)
		}
	}

	control := host("dpkg-deb", "-f", p.Cur.Deb)
	wantContains(t, "deb control", control, "Recommends: docker.io | docker-ce | moby-engine\n",
		"Version: "+p.Cur.Version+"-1\n")
	if strings.Contains(control, "Depends:") {
		t.Errorf("the deb has a hard dependency:\n%s", control)
	}
	if got := host("dpkg-deb", "--ctrl-tarfile", p.Cur.Deb); !strings.Contains(got, "conffiles") {
		t.Errorf("the deb has no conffiles")
	}
	if got := host("sh", "-c", "dpkg-deb --info "+p.Cur.Deb+" conffiles"); strings.TrimSpace(got) != aptHookConf+"\n"+pkgSettings {
		t.Errorf("deb conffiles = %q, want %s and %s", got, aptHookConf, pkgSettings)
	}

	// rpm: the settings are config(noreplace); %post enables, %preun
	// disables only on erase ($1 = 0); %postun only has systemd re-read its
	// units on erase (the drop-in and the watcher unit are gone) and undoes
	// nothing.
	if got := strings.TrimSpace(host("rpm", "-qp", "--configfiles", p.Cur.RPM)); got != pkgSettings {
		t.Errorf("rpm --configfiles = %q, want %s", got, pkgSettings)
	}
	if got := host("rpm", "-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]", p.Cur.RPM); !strings.Contains(got, pkgSettings+" cn\n") {
		t.Errorf("%s is not %%config(noreplace):\n%s", pkgSettings, got)
	}
	scripts := host("rpm", "-qp", "--scripts", p.Cur.RPM)
	wantContains(t, "rpm --scripts", scripts,
		"postinstall scriptlet (using /bin/sh):",
		"preuninstall scriptlet (using /bin/sh):",
		"do_enable upgrade", "do_enable install",
		`if [ "${1:-0}" = 0 ]; then`, "set -e")
	if strings.Contains(scripts, "pretrans") || strings.Contains(scripts, "posttrans") {
		t.Errorf("unexpected scriptlets:\n%s", scripts)
	}
	_, postun, ok := strings.Cut(scripts, "postuninstall scriptlet (using /bin/sh):")
	if !ok {
		t.Errorf("no %%postun:\n%s", scripts)
	}
	// The generated script is common.sh's functions, then rpm-postun.sh.
	if i := strings.LastIndex(postun, "# rpm %postun"); i >= 0 {
		body := postun[i:]
		if !strings.Contains(body, `if [ "${1:-0}" = 0 ]; then`+"\n\tsystemd_reload") ||
			strings.Contains(body, "do_disable") || strings.Contains(body, "purge_state") || strings.Contains(body, "do_enable") {
			t.Errorf("%%postun does more than a daemon-reload on erase:\n%s", body)
		}
	} else {
		t.Errorf("%%postun is not rpm-postun.sh:\n%s", postun)
	}
	if got := host("rpm", "-qp", "--recommends", p.Cur.RPM); !strings.Contains(got, "docker") {
		t.Errorf("rpm recommends = %q", got)
	}
	if got := host("rpm", "-qpR", p.Cur.RPM); strings.Contains(got, "docker") {
		t.Errorf("rpm requires docker:\n%s", got)
	}

	// lintian: nothing beyond the justified overrides.
	out, err := exec.Command("lintian", "--fail-on", "error,warning", "--display-info", p.Cur.Deb).CombinedOutput()
	t.Logf("lintian:\n%s", out)
	if err != nil {
		t.Errorf("lintian: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E:") || strings.HasPrefix(line, "W:") || strings.HasPrefix(line, "I:") {
			t.Errorf("lintian: %s", line)
		}
	}

	// Reproducible: a second build of the same version is byte-identical.
	dir := t.TempDir()
	if out, err := makeIn("packages", "PKG_ARCHES="+runtime.GOARCH, "DIST_DIR="+dir,
		"PKG_VERSION="+p.Cur.Version, "VERSION="+p.Cur.Version); err != nil {
		t.Fatalf("second build: %v\n%s", err, out)
	}
	for _, f := range []string{p.Cur.Deb, p.Cur.RPM} {
		a, err1 := os.ReadFile(f)
		b, err2 := os.ReadFile(filepath.Join(dir, filepath.Base(f)))
		if err1 != nil || err2 != nil {
			t.Errorf("reading the two builds of %s: %v, %v", filepath.Base(f), err1, err2)
			continue
		}
		if string(a) != string(b) {
			t.Errorf("%s: two builds differ", filepath.Base(f))
		}
	}
}

// TestDebImageBuild: where services must not be touched, the package writes
// the files only. A policy-rc.d that exits 101 (as in Docker build
// containers), then an install in a chroot without /proc (as in an image
// build): both leave the running dockerd alone.
func TestDebImageBuild(t *testing.T) {
	p := packagesForTest(t)
	forSuites(t, func(t *testing.T, suite string) {
		g := pkgGuest(t, suite, p)
		before := startWithContainer(t, g)
		wantFile := "{\n  \"log-level\": \"info\",\n  \"live-restore\": true\n}\n"

		writeGuest(t, g, "/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n")
		g.MustExec(t, "chmod", "755", "/usr/sbin/policy-rc.d")
		out := pkgMust(t, g, "apt-get install -y "+guestDeb(p.Cur))
		wantContains(t, "install under policy-rc.d", out, "policy-rc.d forbids touching services", "writing files only, no daemon is touched")
		if strings.Contains(out, "set fs.pipe-max-size") {
			t.Errorf("the install under policy-rc.d set the running fs.pipe-max-size")
		}
		if got := readGuestFile(t, g, pkgDaemonJSON); got != wantFile {
			t.Errorf("daemon.json = %q, want %q", got, wantFile)
		}
		if got := observeHost(t, g); got.liveRestore != "false" || got.dockerd != before.dockerd || got.container != before.container {
			t.Errorf("the daemon was touched under policy-rc.d: %+v (before %+v)", got, before)
		}
		out = pkgMust(t, g, "apt-get purge -y docker-liverestore")
		wantContains(t, "purge under policy-rc.d", out, "writing files only, no daemon is touched")
		if got := readGuestFile(t, g, pkgDaemonJSON); got != pkgOrigDaemonJSON {
			t.Errorf("daemon.json after purge = %q", got)
		}
		g.MustExec(t, "rm", "/usr/sbin/policy-rc.d")

		// The guest's own root, bind-mounted without /proc, as an image.
		pkgMust(t, g, "mkdir -p /mnt/img && mount --bind / /mnt/img")
		out = pkgMust(t, g, "chroot /mnt/img apt-get install -y "+guestDeb(p.Cur))
		wantContains(t, "install in a chroot", out, "assuming a chroot")
		if got := readGuestFile(t, g, pkgDaemonJSON); got != wantFile {
			t.Errorf("daemon.json after the chroot install = %q, want %q", got, wantFile)
		}
		if got := observeHost(t, g); got.liveRestore != "false" || got.dockerd != before.dockerd || got.container != before.container {
			t.Errorf("the chroot install touched the running system: %+v (before %+v)", got, before)
		}
		// (fs.pipe-max-size is the host's, which other tests may change:
		// dlr's own report says whether it set it.)
		if strings.Contains(out, "set fs.pipe-max-size") {
			t.Errorf("the chroot install set the running fs.pipe-max-size")
		}
		pkgMust(t, g, "chroot /mnt/img apt-get purge -y docker-liverestore")
		pkgMust(t, g, "umount /mnt/img")
		if got := readGuestFile(t, g, pkgDaemonJSON); got != pkgOrigDaemonJSON {
			t.Errorf("daemon.json after the chroot purge = %q", got)
		}
		if got := leftovers(t, g); got != "" {
			t.Errorf("left after the chroot purge:\n%s", got)
		}
	})
}
