//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// pkgSet is one build of the packages for the host's architecture.
type pkgSet struct {
	Version string // the package version (without the "-1" release)
	Deb     string // host path of the .deb
	RPM     string // host path of the .rpm
}

// builtPackages are what `make packages` built for the tests: Cur from this
// checkout, and Newer, the same checkout with a higher version (and that
// version in `dlr version`), to upgrade to.
type builtPackages struct {
	Cur, Newer pkgSet
	Dir        string // DIST_DIR of Cur
}

var (
	pkgOnce sync.Once
	pkgs    *builtPackages
	pkgErr  error
)

// packagesForTest runs `make packaging-deps` (nfpm, lintian, rpm) and
// `make packages` twice, for the host's architecture only, into
// .cache/e2e-pkg/{cur,newer}: once with the checkout's version, once with a
// higher one.
func packagesForTest(t *testing.T) *builtPackages {
	t.Helper()
	pkgOnce.Do(func() { pkgs, pkgErr = buildTestPackages() })
	if pkgErr != nil {
		t.Fatalf("building the packages: %v", pkgErr)
	}
	return pkgs
}

func buildTestPackages() (*builtPackages, error) {
	if out, err := makeIn("packaging-deps"); err != nil {
		return nil, fmt.Errorf("make packaging-deps: %w\n%s", err, out)
	}
	v, err := exec.Command("sh", "../packaging/version.sh").Output()
	if err != nil {
		return nil, err
	}
	b := &builtPackages{}
	build := func(version, name string) (pkgSet, string, error) {
		// Under the repository's .cache (git-ignored), replaced by every
		// run, so that nothing accumulates in /tmp.
		dir, err := filepath.Abs(filepath.Join("..", ".cache", "e2e-pkg", name))
		if err != nil {
			return pkgSet{}, "", err
		}
		if err := os.RemoveAll(dir); err != nil {
			return pkgSet{}, "", err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return pkgSet{}, "", err
		}
		out, err := makeIn("packages", "PKG_ARCHES="+runtime.GOARCH, "DIST_DIR="+dir,
			"PKG_VERSION="+version, "VERSION="+version)
		if err != nil {
			return pkgSet{}, "", fmt.Errorf("make packages: %w\n%s", err, out)
		}
		base := filepath.Join(dir, "docker-liverestore_"+version+"_"+runtime.GOARCH)
		return pkgSet{Version: version, Deb: base + ".deb", RPM: base + ".rpm"}, dir, nil
	}
	cur := strings.TrimSpace(string(v))
	if b.Cur, b.Dir, err = build(cur, "cur"); err != nil {
		return nil, err
	}
	// A longer version with the same prefix is newer for dpkg and rpm.
	if b.Newer, _, err = build(cur+".1", "newer"); err != nil {
		return nil, err
	}
	return b, nil
}

// makeIn runs make in the repository's top directory.
func makeIn(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", append([]string{"--no-print-directory", "-C", ".."}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pkgRun runs a shell script in the guest with a five-minute limit and
// returns its combined output and exit code; it fails the test only if the
// script cannot be run at all.
func pkgRun(t *testing.T, g *rig.Guest, script string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	out, errOut, code, err := g.Exec(ctx, "sh", "-c", "exec 2>&1; export DEBIAN_FRONTEND=noninteractive; "+script)
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", script, err, out, errOut)
	}
	t.Logf("$ %s  (exit %d, %s)\n%s", script, code, time.Since(start).Round(time.Millisecond), out)
	return out, code
}

// pkgMust is pkgRun that fails the test on a non-zero exit.
func pkgMust(t *testing.T, g *rig.Guest, script string) string {
	t.Helper()
	out, code := pkgRun(t, g, script)
	if code != 0 {
		t.Fatalf("%s: exit %d", script, code)
	}
	return out
}

// gsh runs script in the guest and returns its trimmed stdout.
func gsh(t *testing.T, g *rig.Guest, script string) string {
	t.Helper()
	return strings.TrimSpace(g.Sh(t, script))
}

// pkgGuest boots suite with the test packages in /root and the logger image,
// and keeps the host's fs.pipe-max-size (not namespaced) as it was.
func pkgGuest(t *testing.T, suite string, p *builtPackages) *rig.Guest {
	t.Helper()
	keepPipeMaxSize(t)
	g := rig.Boot(t, suite)
	for _, f := range []string{p.Cur.Deb, p.Cur.RPM, p.Newer.Deb, p.Newer.RPM} {
		g.CopyIn(t, f, "/root/"+filepath.Base(f), 0o644)
	}
	g.ImportImage(t, "logger", rig.BuildLogger(t))
	return g
}

// guestDeb and guestRPM are the guest paths of a package set's files.
func guestDeb(s pkgSet) string { return "/root/" + filepath.Base(s.Deb) }
func guestRPM(s pkgSet) string { return "/root/" + filepath.Base(s.RPM) }

// hostState is what a package operation must (or must not) change.
type hostState struct {
	liveRestore string // docker info's LiveRestoreEnabled
	dockerd     string // docker.service's MainPID
	container   string // c1's PID
	pipeMax     string // /proc/sys/fs/pipe-max-size
}

// procs is h without fs.pipe-max-size, which is not namespaced: other tests
// running on the same host may change it at any time.
func (h hostState) procs() hostState { h.pipeMax = ""; return h }

func observeHost(t *testing.T, g *rig.Guest) hostState {
	t.Helper()
	return hostState{
		liveRestore: gsh(t, g, "docker info -f '{{.LiveRestoreEnabled}}'"),
		dockerd:     gsh(t, g, "systemctl show -p MainPID --value docker.service"),
		container:   gsh(t, g, "docker inspect -f '{{.State.Pid}}' c1"),
		pipeMax:     gsh(t, g, "cat /proc/sys/fs/pipe-max-size"),
	}
}

// fileStamp is a file's inode, mtime and content hash ("absent" if it does
// not exist), to prove it was not rewritten.
func fileStamp(t *testing.T, g *rig.Guest, path string) string {
	t.Helper()
	return gsh(t, g, "if [ -e "+path+" ]; then stat -c '%i %y' "+path+"; sha256sum < "+path+"; else echo absent; fi")
}

// leftovers lists every file of the package or of dlr still on the guest.
func leftovers(t *testing.T, g *rig.Guest) string {
	t.Helper()
	return gsh(t, g, "find /etc /var/lib /usr /run \\( -path /var/lib/docker -prune \\) -o "+
		"\\( -name '*liverestore*' -o -name dlr -o -name dlr.8.gz \\) -print 2>/dev/null | sort")
}

// wantContains fails the test unless out contains every string of want.
func wantContains(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, out)
		}
	}
}

// keepPipeMaxSize puts the host's fs.pipe-max-size back after the test: it
// is not namespaced, so a guest that sets it sets the host's.
func keepPipeMaxSize(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/fs/pipe-max-size")
	if err != nil {
		return
	}
	t.Cleanup(func() { os.WriteFile("/proc/sys/fs/pipe-max-size", b, 0o644) })
	// Start from the kernel's default, so that what dlr does is seen.
	if err := os.WriteFile("/proc/sys/fs/pipe-max-size", []byte("1048576"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readGuestFile reads a file of the guest's root filesystem ("" if absent).
func readGuestFile(t *testing.T, g *rig.Guest, path string) string {
	t.Helper()
	b, err := os.ReadFile(g.Path(path))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
