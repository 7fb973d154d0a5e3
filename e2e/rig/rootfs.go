package rig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// DefaultCacheDir is where root filesystems are cached unless $DLR_RIG_CACHE
// names another directory.
const DefaultCacheDir = "/var/cache/dlr-rig"

// stampVersion changes whenever the way a rootfs is built changes in a way
// the package list does not show, so that old caches are rebuilt.
const stampVersion = "dlr-rig rootfs v1"

// basePackages are included in every rootfs. rpm is there so that the
// packaging tests can run an .rpm's scriptlets offline; jq for the speed
// figures' shell baseline (make bench); ansible-core and python3-apt for
// the Ansible role's proof (contrib/ansible, ansible-playbook -c local,
// offline). python3-cffi-backend is named because debootstrap does not
// resolve virtual packages: python3-cryptography (needed by ansible-core)
// depends on python3-cffi-backend-api-min, which only it provides, and the
// build fails "configuring base packages" without it.
var basePackages = []string{"systemd", "systemd-sysv", "dbus", "docker.io", "iproute2", "procps", "rpm",
	"jq", "ansible-core", "python3-cffi-backend", "python3-apt"}

// suitePackages are the extra packages of each supported suite: from
// trixie on, docker.io no longer contains the docker client.
var suitePackages = map[string][]string{
	"bookworm": nil,
	"trixie":   {"docker-cli"},
	"forky":    {"docker-cli"},
}

// FleetSuite is a rig suite for tests of several hosts on a network
// ([NewNetwork]): trixie, with trixie's packages, plus fleetPackages. It is
// booted with [Boot] like any other but is not in [Suites]: a test that
// loops over the suites does not run on it.
const FleetSuite = "fleet"

// fleetPackages are what the fleet suite adds to trixie: sshd and an ssh
// client (a controller reaching its hosts), Debian's node_exporter (for a
// Prometheus on the test's host) and curl. Every dependency is a real
// package, so debootstrap needs no help with them.
var fleetPackages = []string{"openssh-server", "openssh-client", "prometheus-node-exporter", "curl"}

// variantSuites are suites debootstrapped from another Debian suite's
// archive with more packages: the Debian suite (whose suitePackages and
// suiteScripts they take) and the extra packages.
var variantSuites = map[string]struct {
	debian string
	extra  []string
}{
	FleetSuite: {"trixie", fleetPackages},
}

// suiteScripts names the debootstrap script of a suite the host's
// debootstrap has no script for: bookworm's debootstrap (1.0.128) knows
// neither forky nor any later suite, and sid's script builds them.
var suiteScripts = map[string]string{
	"forky": "sid",
}

// Mirror is the Debian archive the root filesystems are built from: the
// one in the host's apt sources (and debootstrap's default).
const Mirror = "http://deb.debian.org/debian"

// Suites lists the suites [Rootfs] and [Boot] accept, oldest first:
// bookworm (Docker 20.10, containerd 1.6, systemd 252), trixie (Docker
// 26.1, containerd 1.7, systemd 257), forky (Docker 28.5, containerd
// 2.1, systemd 262), and upstream: forky with upstream Docker Engine
// ([UpstreamSuiteRelease]) installed as a docker-ce-like package
// ([CEPackage]) instead of docker.io, Docker CE's unit and all.
func Suites() []string { return []string{"bookworm", "trixie", "forky", "upstream"} }

// DebianSuites lists the suites built by debootstrap from Debian's archive
// alone (what [Debs] downloads packages of).
func DebianSuites() []string { return []string{"bookworm", "trixie", "forky"} }

// UpstreamSuiteRelease is the upstream Docker Engine release the upstream
// suite runs.
const UpstreamSuiteRelease = "29.7.1"

// derivedSuites are suites built from another suite's cached rootfs: the
// base suite, and the release of the docker-ce-like package installed in
// place of its docker.io.
var derivedSuites = map[string]struct{ base, ce string }{
	"upstream": {"forky", UpstreamSuiteRelease},
}

// DebianSuite returns the Debian suite a suite is built from: itself, the
// base of a derived suite ("upstream" -> "forky"), or the archive's suite
// of a variant ("fleet" -> "trixie"): the suite whose archive has the
// packages of its containerd, runc and systemd.
func DebianSuite(suite string) string {
	if d, ok := derivedSuites[suite]; ok {
		return d.base
	}
	if v, ok := variantSuites[suite]; ok {
		return v.debian
	}
	return suite
}

// cacheDir returns $DLR_RIG_CACHE made absolute, or DefaultCacheDir if it
// is unset.
func cacheDir() (string, error) {
	d := os.Getenv("DLR_RIG_CACHE")
	if d == "" {
		return DefaultCacheDir, nil
	}
	abs, err := filepath.Abs(d)
	if err != nil {
		return "", fmt.Errorf("rig: DLR_RIG_CACHE: %w", err)
	}
	return abs, nil
}

// includeList returns the comma-separated --include list for suite, or an
// error if the suite is not supported.
// A variant's list is its Debian suite's followed by the variant's extra
// packages.
func includeList(suite string) (string, error) {
	extra, ok := suitePackages[DebianSuite(suite)]
	if _, derived := derivedSuites[suite]; !ok || derived {
		return "", fmt.Errorf("rig: unsupported suite %q (want one of %s, or %s)", suite, strings.Join(Suites(), ", "), FleetSuite)
	}
	pkgs := append(append([]string{}, basePackages...), extra...)
	return strings.Join(append(pkgs, variantSuites[suite].extra...), ","), nil
}

// stampFor returns the exact content of a valid stamp for suite. A
// variant's names the Debian suite it is built from too.
func stampFor(suite, include string) []byte {
	b := fmt.Appendf(nil, "%s\nsuite=%s\nvariant=minbase\ninclude=%s\n", stampVersion, suite, include)
	if v, ok := variantSuites[suite]; ok {
		b = fmt.Appendf(b, "debian=%s\n", v.debian)
	}
	return b
}

// debootstrapArgs returns debootstrap's arguments for building suite into
// dir: the Debian suite ([DebianSuite]) and the mirror are named, and so
// is a script when the host's debootstrap has none of the suite's name (see
// suiteScripts).
func debootstrapArgs(suite, include, dir string) []string {
	suite = DebianSuite(suite)
	args := []string{"--variant=minbase", "--include=" + include, suite, dir, Mirror}
	if script, ok := suiteScripts[suite]; ok {
		args = append(args, "/usr/share/debootstrap/scripts/"+script)
	}
	return args
}

// Rootfs returns the directory of the cached Debian root filesystem for
// suite (one of [Suites], or [FleetSuite]), building it first with
//
//	debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,docker.io,iproute2,procps,rpm,jq,ansible-core,python3-cffi-backend,python3-apt[,docker-cli] SUITE DIR http://deb.debian.org/debian [/usr/share/debootstrap/scripts/sid]
//
// (the fleet suite: trixie, with fleetPackages appended to the list)
// if the cache has no valid stamp. The directory is <cache>/<suite>, where
// <cache> is $DLR_RIG_CACHE or DefaultCacheDir; its top directory is mode
// 0755 (dbus-daemon, running as messagebus, must be able to traverse it).
// Callers must not write into it: use [Boot] for a writable view.
//
// A build goes to <cache>/<suite>.building and is renamed into place before
// the stamp is written, so an interrupted or failed build leaves no stamp
// and is redone by the next call; the old rootfs, if any, is only removed
// once the new one is complete. Concurrent callers, in this or other
// processes, wait for one another on a flock. The build's log is kept in
// <cache>/<suite>.build.log. Missing host tools are installed with apt-get.
func Rootfs(ctx context.Context, suite string) (dir string, err error) {
	dir, release, err := acquireRootfs(ctx, suite)
	if err != nil {
		return "", err
	}
	release()
	return dir, nil
}

// acquireRootfs is [Rootfs], returning with a shared lock on the cache entry
// held until release is called: no rebuild can start while it is held.
func acquireRootfs(ctx context.Context, suite string) (dir string, release func(), err error) {
	if _, ok := derivedSuites[suite]; ok {
		return acquireDerived(ctx, suite)
	}
	include, err := includeList(suite)
	if err != nil {
		return "", nil, err
	}
	if err := ensureTools(ctx); err != nil {
		return "", nil, err
	}
	cache, err := cacheDir()
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", nil, fmt.Errorf("rig: creating cache: %w", err)
	}
	dir = filepath.Join(cache, suite)
	stampPath := dir + ".stamp"
	want := stampFor(suite, include)

	lock, err := os.OpenFile(dir+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", nil, fmt.Errorf("rig: opening lock: %w", err)
	}
	release = func() { lock.Close() } // closing the file drops the flock
	valid := func() bool {
		got, err := os.ReadFile(stampPath)
		return err == nil && bytes.Equal(got, want)
	}

	if err := flock(ctx, lock, syscall.LOCK_SH); err != nil {
		release()
		return "", nil, err
	}
	if valid() {
		return dir, release, nil
	}

	// Rebuild under an exclusive lock: this waits until every other builder
	// and every running guest of this suite has let go.
	if err := flock(ctx, lock, syscall.LOCK_UN); err != nil {
		release()
		return "", nil, err
	}
	if err := flock(ctx, lock, syscall.LOCK_EX); err != nil {
		release()
		return "", nil, err
	}
	if !valid() { // someone else may have built it while we waited
		if err := build(ctx, suite, include, dir, stampPath, want); err != nil {
			release()
			return "", nil, err
		}
	}
	if err := flock(ctx, lock, syscall.LOCK_SH); err != nil {
		release()
		return "", nil, err
	}
	return dir, release, nil
}

// build runs debootstrap for suite into dir+".building", moves the result to
// dir and writes the stamp. The caller holds the exclusive lock.
func build(ctx context.Context, suite, include, dir, stampPath string, stamp []byte) error {
	// Without the stamp, a build interrupted from here on is redone.
	if err := os.Remove(stampPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rig: %w", err)
	}
	tmp := dir + ".building"
	if err := removeTree(tmp); err != nil {
		return fmt.Errorf("rig: removing an earlier partial build: %w", err)
	}

	logPath := dir + ".build.log"
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	defer logf.Close()

	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	args := debootstrapArgs(suite, include, tmp)
	// debootstrap runs as PID 1 of its own PID and mount namespaces, so
	// that when it dies (timeout, or the test binary killed: unshare has a
	// parent-death signal and passes it on) the kernel kills dpkg, wget and
	// the rest, and the /proc and /sys it mounts in the target go away.
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"--pid", "--fork", "--mount-proc",
		"--kill-child=SIGKILL", "debootstrap"}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	runErr := runLocked(cmd)
	if runErr != nil {
		logText, _ := os.ReadFile(logPath)
		cleanupErr := removeTree(tmp)
		return fmt.Errorf("rig: debootstrap %s (log: %s): %w\n%s\n(removing partial build: %v)",
			strings.Join(args, " "), logPath, runErr, tail(string(logText), 25), cleanupErr)
	}
	fmt.Fprintf(logf, "rig: debootstrap took %s\n", time.Since(start).Round(time.Second))

	// debootstrap creates its target with the caller's umask; the top dir
	// must be 0755 or dbus-daemon cannot reach anything in the guest.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	if err := removeTree(dir); err != nil {
		return fmt.Errorf("rig: removing the outdated rootfs: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	return writeFileAtomic(stampPath, stamp, 0o644)
}

// flock applies how (LOCK_SH, LOCK_EX or LOCK_UN) to f, polling without
// blocking so that ctx can end the wait.
func flock(ctx context.Context, f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			return fmt.Errorf("rig: flock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rig: waiting for lock %s: %w", f.Name(), ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// writeFileAtomic replaces path with data: it writes a temporary file in
// the same directory, fsyncs it, renames it over path and fsyncs the
// directory, so that a crash leaves either the old file or the new one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	defer os.Remove(f.Name()) // no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("rig: %w", err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("rig: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("rig: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	return nil
}

// runLocked runs cmd from a goroutine that keeps its OS thread locked until
// cmd has exited: a parent-death signal fires when the thread that started
// the process ends, not when the process does.
func runLocked(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		done <- cmd.Run()
	}()
	return <-done
}
