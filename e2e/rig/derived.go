package rig

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// derivedVersion changes whenever the way a derived rootfs is built
// changes, so that old caches are rebuilt.
const derivedVersion = "derived v1: docker.io purged, docker-ce installed from /var/cache/apt/archives"

// acquireDerived is [acquireRootfs] for a derived suite (derivedSuites):
// its rootfs is a copy of the base suite's with the docker-ce-like package
// installed in place of docker.io, built once and cached like any other
// under <cache>/derived/<suite>, with a stamp naming the base's stamp and
// the package's. The build runs, in the copy,
//
//	dpkg --purge docker.io && dpkg --install /var/cache/apt/archives/docker-ce_<version>.deb
//
// under chroot: there is no running systemd there (no /run/systemd/system),
// so the maintainer scripts enable docker.service and docker.socket and
// start nothing, as on a fresh image.
func acquireDerived(ctx context.Context, suite string) (dir string, release func(), err error) {
	d := derivedSuites[suite]
	if err := ensureTools(ctx); err != nil {
		return "", nil, err
	}
	deb, err := CEPackage(ctx, d.ce)
	if err != nil {
		return "", nil, err
	}
	debStamp, err := os.ReadFile(deb + ".stamp")
	if err != nil {
		return "", nil, fmt.Errorf("rig: %w", err)
	}
	base, releaseBase, err := acquireRootfs(ctx, d.base)
	if err != nil {
		return "", nil, err
	}
	defer releaseBase()
	baseStamp, err := os.ReadFile(base + ".stamp")
	if err != nil {
		return "", nil, fmt.Errorf("rig: %w", err)
	}
	cache, err := cacheDir()
	if err != nil {
		return "", nil, err
	}
	// Under <cache>/derived: <cache>/upstream is where [Upstream] keeps
	// its builds.
	if err := os.MkdirAll(filepath.Join(cache, "derived"), 0o755); err != nil {
		return "", nil, fmt.Errorf("rig: %w", err)
	}
	dir = filepath.Join(cache, "derived", suite)
	stampPath := dir + ".stamp"
	want := fmt.Appendf(nil, "%s\n%s\nsuite=%s\nbase:\n%sdocker-ce %s:\n%s", stampVersion, derivedVersion, suite, baseStamp, filepath.Base(deb), debStamp)

	lock, err := os.OpenFile(dir+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", nil, fmt.Errorf("rig: opening lock: %w", err)
	}
	release = func() { lock.Close() }
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
	for _, how := range []int{syscall.LOCK_UN, syscall.LOCK_EX} {
		if err := flock(ctx, lock, how); err != nil {
			release()
			return "", nil, err
		}
	}
	if !valid() {
		if err := buildDerived(ctx, base, deb, dir, stampPath, want); err != nil {
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

// buildDerived copies base to dir+".building", installs deb there in place
// of docker.io, moves the result to dir and writes the stamp. The caller
// holds the exclusive lock.
func buildDerived(ctx context.Context, base, deb, dir, stampPath string, stamp []byte) error {
	if err := os.Remove(stampPath); err != nil && !os.IsNotExist(err) {
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
	start := time.Now()
	fail := func(what string, err error) error {
		logText, _ := os.ReadFile(logPath)
		cleanupErr := removeTree(tmp)
		return fmt.Errorf("rig: building %s (log: %s): %s: %w\n%s\n(removing partial build: %v)",
			dir, logPath, what, err, tail(string(logText), 25), cleanupErr)
	}
	cp := exec.CommandContext(ctx, "cp", "-a", base, tmp)
	cp.Stdout, cp.Stderr = logf, logf
	if err := cp.Run(); err != nil {
		return fail("cp -a "+base, err)
	}
	// Where apt keeps the .debs it installed: a test can install it again
	// offline, as it can docker.io's in the Debian suites.
	in := "/var/cache/apt/archives/" + filepath.Base(deb)
	data, err := os.ReadFile(deb)
	if err != nil {
		return fail("reading the package", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, in), data, 0o644); err != nil {
		return fail("copying the package in", err)
	}
	script := strings.Join([]string{
		"set -ex",
		"dpkg --purge docker.io",
		"dpkg --install " + in,
		"dpkg-query -W docker-ce",
	}, "\n")
	// PID 1 of its own PID namespace, so that nothing a maintainer script
	// starts outlives the build.
	cmd := exec.CommandContext(ctx, "unshare", "--pid", "--fork", "--kill-child=SIGKILL",
		"chroot", tmp, "/bin/sh", "-c", script)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	if err := runLocked(cmd); err != nil {
		return fail("installing "+filepath.Base(deb), err)
	}
	fmt.Fprintf(logf, "rig: derived build took %s\n", time.Since(start).Round(time.Second))
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
