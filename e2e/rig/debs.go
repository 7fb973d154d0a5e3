package rig

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Debs returns the .deb files of pkgs (binary package names, for the
// host's architecture) as suite's archive at [Mirror] has them, for
// installing into a guest that has no network. It downloads them on the
// host with apt-get and an apt state of its own, so that the host's apt
// configuration is neither used nor changed:
//
//	apt-get -o Dir::Etc::sourcelist=<cache>/apt/SUITE/sources.list \
//	  -o Dir::Etc::sourceparts=/nonexistent -o Dir::State::Lists=<cache>/apt/SUITE/lists \
//	  -o Dir::Cache=<cache>/apt/SUITE/cache update
//	apt-get (same options) download PKG...
//
// The sources list names "deb http://deb.debian.org/debian SUITE main",
// checked against the host's debian-archive-keyring. apt-get download
// resolves no dependencies: pkgs must name every package needed; the
// guest's own "apt-get install ./*.deb" then resolves them against what it
// has, as it would on a real host.
//
// The files are kept in <cache>/debs/SUITE-NAME (<cache> as for [Rootfs])
// and reused while the stamp there lists the same packages: NAME is the
// caller's name for the set, so that a set is always downloaded at one
// moment and its packages match one another. Concurrent callers wait for
// one another on a flock.
func Debs(ctx context.Context, suite, name string, pkgs ...string) ([]string, error) {
	if _, ok := suitePackages[suite]; !ok {
		return nil, fmt.Errorf("rig: debs: unsupported suite %q", suite)
	}
	if len(pkgs) == 0 || name == "" || strings.ContainsAny(name, "/ ") {
		return nil, fmt.Errorf("rig: debs: need a set name without / or spaces (%q) and packages", name)
	}
	if err := ensureTools(ctx); err != nil {
		return nil, err
	}
	cache, err := cacheDir()
	if err != nil {
		return nil, err
	}
	state := filepath.Join(cache, "apt", suite)
	dir := filepath.Join(cache, "debs", suite+"-"+name)
	for _, d := range []string{filepath.Join(state, "lists", "partial"), filepath.Join(state, "cache", "archives", "partial"), dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("rig: debs: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(cache, "debs", suite+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("rig: debs: %w", err)
	}
	defer lock.Close()
	if err := flock(ctx, lock, syscall.LOCK_EX); err != nil {
		return nil, err
	}

	sorted := append([]string{}, pkgs...)
	sort.Strings(sorted)
	stamp := []byte("packages=" + strings.Join(sorted, " ") + "\n")
	stampPath := dir + ".stamp"
	if got, err := os.ReadFile(stampPath); err == nil && bytes.Equal(got, stamp) {
		if files, err := debFiles(dir, sorted); err == nil {
			return files, nil
		}
	}

	// (Re)download the whole set.
	os.Remove(stampPath)
	old, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return nil, fmt.Errorf("rig: debs: %w", err)
		}
	}
	sources := filepath.Join(state, "sources.list")
	line := fmt.Sprintf("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n", Mirror, suite)
	if err := writeFileAtomic(sources, []byte(line), 0o644); err != nil {
		return nil, err
	}
	opts := []string{
		"-o", "Dir::Etc::sourcelist=" + sources,
		"-o", "Dir::Etc::sourceparts=/nonexistent",
		"-o", "Dir::State::Lists=" + filepath.Join(state, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(state, "cache"),
		"-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
		"-o", "APT::Sandbox::User=root", // the files are written as root into the cache
	}
	ctx, cancel := context.WithTimeout(ctx, toolInstallTimeout)
	defer cancel()
	for _, args := range [][]string{
		append(append([]string{}, opts...), "update"),
		append(append(append([]string{}, opts...), "download"), sorted...),
	} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("rig: debs: apt-get %s: %w\n%s", strings.Join(args, " "), err, tail(string(out), 20))
		}
	}
	files, err := debFiles(dir, sorted)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(stampPath, stamp, 0o644); err != nil {
		return nil, err
	}
	return files, nil
}

// debFiles returns the one <pkg>_*.deb in dir of each of pkgs.
func debFiles(dir string, pkgs []string) ([]string, error) {
	var files []string
	for _, p := range pkgs {
		m, _ := filepath.Glob(filepath.Join(dir, p+"_*.deb"))
		if len(m) != 1 {
			return nil, fmt.Errorf("rig: debs: %d files for package %s in %s, want 1", len(m), p, dir)
		}
		files = append(files, m[0])
	}
	return files, nil
}
