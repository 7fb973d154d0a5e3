package rig

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// UpstreamModule is the Go module moby publishes each Docker Engine 29
// release under as well as the docker-vX.Y.Z tag.
const UpstreamModule = "github.com/moby/moby/v2"

// UpstreamRelease is one upstream Docker Engine release as the rig builds
// it: Version is Docker's release ("29.7.1"), Module the module version of
// the same commit ("v2.0.0-beta.21", read from moby/moby's tags).
type UpstreamRelease struct {
	Version string
	Module  string
}

// UpstreamReleases are the pinned upstream releases the rig builds, oldest
// first: the one list of them. v2.0.0-beta.3 (29.0.0) to beta.8 (29.3.1)
// carry the extra-hosts restore panic (moby/moby#52275, fixed in 29.4.0);
// beta.24 (29.8.1) is the newest that builds: beta.25's dependencies are
// refused by the module proxy. The release of a beta.N tag newer than
// moby/moby's tags here is read from releases/versions.yaml in the module
// ("next:" is the release being cut): beta.22 and beta.23 (the same tree)
// are 29.8.0, beta.24 is 29.8.1.
var UpstreamReleases = []UpstreamRelease{
	{"29.3.1", "v2.0.0-beta.8"},
	{"29.6.0", "v2.0.0-beta.18"},
	{"29.7.0", "v2.0.0-beta.20"},
	{"29.7.1", "v2.0.0-beta.21"},
	{"29.8.1", "v2.0.0-beta.24"},
}

// upstreamRelease returns the pinned release of version.
func upstreamRelease(version string) (UpstreamRelease, error) {
	var have []string
	for _, r := range UpstreamReleases {
		if r.Version == version {
			return r, nil
		}
		have = append(have, r.Version)
	}
	return UpstreamRelease{}, fmt.Errorf("rig: upstream Docker %q is not pinned (rig.UpstreamReleases has %s)", version, strings.Join(have, ", "))
}

// Upstream returns the directory holding dockerd and docker-proxy of the
// upstream Docker Engine release version (one of [UpstreamReleases]),
// building them first, if the cache has no valid stamp, with
//
//	CGO_ENABLED=0 GOBIN=DIR go install -trimpath \
//	  -ldflags "-X github.com/moby/moby/v2/dockerversion.Version=VERSION -X ...GitCommit=MODULE" \
//	  github.com/moby/moby/v2/cmd/dockerd@MODULE github.com/moby/moby/v2/cmd/docker-proxy@MODULE
//
// from the Go module proxy (a build from source, about 2 minutes on 2
// cores; nothing prebuilt is downloaded). The version is stamped, so that
// `dockerd --version` and the Engine API report the release instead of
// "library-import". The directory is <cache>/upstream/VERSION (<cache> as
// for [Rootfs]); a build goes to VERSION.building and is renamed into
// place before the stamp is written. Concurrent callers wait on a flock.
func Upstream(ctx context.Context, version string) (string, error) {
	rel, err := upstreamRelease(version)
	if err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("rig: building upstream dockerd %s: no go command on $PATH: %w", version, err)
	}
	cache, err := cacheDir()
	if err != nil {
		return "", err
	}
	base := filepath.Join(cache, "upstream")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	dir := filepath.Join(base, version)
	stampPath := dir + ".stamp"
	stamp := []byte(fmt.Sprintf("module=%s@%s\nversion=%s\ngoarch=%s\n", UpstreamModule, rel.Module, rel.Version, runtime.GOARCH))

	lock, err := os.OpenFile(dir+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	defer lock.Close()
	if err := flock(ctx, lock, syscall.LOCK_EX); err != nil {
		return "", err
	}
	if got, err := os.ReadFile(stampPath); err == nil && bytes.Equal(got, stamp) {
		return dir, nil
	}
	os.Remove(stampPath)
	tmp := dir + ".building"
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, upstreamBuildTimeout)
	defer cancel()
	ldflags := fmt.Sprintf("-X %s/dockerversion.Version=%s -X %s/dockerversion.GitCommit=%s",
		UpstreamModule, rel.Version, UpstreamModule, rel.Module)
	args := []string{"install", "-trimpath", "-ldflags", ldflags,
		UpstreamModule + "/cmd/dockerd@" + rel.Module, UpstreamModule + "/cmd/docker-proxy@" + rel.Module}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = os.TempDir() // outside any module: `go install pkg@version` ignores the current one anyway
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOBIN="+tmp, "GOFLAGS=", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("rig: go %s: %w\n%s", strings.Join(args, " "), err, tail(string(out), 30))
	}
	for _, b := range []string{"dockerd", "docker-proxy"} {
		if _, err := os.Stat(filepath.Join(tmp, b)); err != nil {
			return "", fmt.Errorf("rig: building upstream Docker %s: %w", version, err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "BUILD"), fmt.Appendf(nil, "%sbuilt in %s\n", stamp, time.Since(start).Round(time.Second)), 0o644); err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	return dir, writeFileAtomic(stampPath, stamp, 0o644)
}

// SwapDockerd puts upstream Docker release version ([Upstream] builds it)
// in place of the guest's /usr/sbin/dockerd and /usr/sbin/docker-proxy the
// way a package's unpack does (a new file renamed over the old one: the
// running dockerd keeps its deleted inode), then, unless noRestart,
// `systemctl reset-failed docker` and `systemctl restart docker` and waits
// until dockerd answers. It fails the test on error. It is the quick way to
// run upstream dockerd in a Debian guest; the upstream suite installs it as
// a package instead.
func (g *Guest) SwapDockerd(t testing.TB, version string, noRestart bool) {
	t.Helper()
	dir, err := Upstream(context.Background(), version)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"dockerd", "docker-proxy"} {
		g.CopyIn(t, filepath.Join(dir, b), "/usr/sbin/"+b+".dlr-new", 0o755)
		g.MustExec(t, "mv", "-f", "/usr/sbin/"+b+".dlr-new", "/usr/sbin/"+b)
	}
	if noRestart {
		return
	}
	g.MustExec(t, "systemctl", "reset-failed", "docker")
	g.MustExec(t, "systemctl", "restart", "docker")
	g.Sh(t, `for i in $(seq 1 120); do docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && exit 0; sleep 0.5; done; echo "dockerd did not answer after 60 s" >&2; journalctl -u docker --no-pager | tail -30 >&2; exit 1`)
}
