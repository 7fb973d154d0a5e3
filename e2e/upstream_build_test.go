//go:build e2e

package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// TestUpstreamBuild builds every pinned upstream Docker Engine release
// (rig.UpstreamReleases) from moby's Go module, or takes it from the rig's
// cache, and checks that the binaries say the release they were stamped
// with: an unstamped build says "library-import", which neither dlr nor
// `docker version` can place.
func TestUpstreamBuild(t *testing.T) {
	for _, r := range rig.UpstreamReleases {
		t.Run(r.Version, func(t *testing.T) {
			dir, err := rig.Upstream(context.Background(), r.Version)
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(filepath.Join(dir, "dockerd"), "--version").CombinedOutput()
			if err != nil {
				t.Fatalf("dockerd --version: %v\n%s", err, out)
			}
			if want := "Docker version " + r.Version + ", build " + r.Module; !strings.HasPrefix(string(out), want) {
				t.Errorf("dockerd --version = %q, want %q...", out, want)
			}
			if _, err := exec.LookPath(filepath.Join(dir, "docker-proxy")); err != nil {
				t.Errorf("docker-proxy: %v", err)
			}
		})
	}
}
