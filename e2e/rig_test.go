//go:build e2e

package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// TestRig checks the rig itself on every suite: a guest boots, an imported
// image runs, and docker.service has the KillMode live-restore relies on.
func TestRig(t *testing.T) {
	logger := rig.BuildLogger(t)
	for _, suite := range suites() {
		t.Run(suite, func(t *testing.T) {
			t.Parallel()
			g := rig.Boot(t, suite)
			if g.Suite() != suite {
				t.Errorf("Suite() = %q, want %q", g.Suite(), suite)
			}
			g.ImportImage(t, "logger", logger)

			g.MustExec(t, "docker", "run", "-d", "--name", "c1", "logger", "/app")
			pid := strings.TrimSpace(g.MustExec(t, "docker", "inspect", "-f", "{{.State.Pid}}", "c1"))
			if n, err := strconv.Atoi(pid); err != nil || n <= 0 {
				t.Errorf("c1 has State.Pid %q, want > 0", pid)
			}
			if got := strings.TrimSpace(g.MustExec(t, "docker", "inspect", "-f", "{{.State.Status}}", "c1")); got != "running" {
				t.Errorf("c1 is %q, want running", got)
			}

			if got := strings.TrimSpace(g.MustExec(t, "systemctl", "show", "-p", "KillMode", "docker.service")); got != "KillMode=process" {
				t.Errorf("docker.service has %q, want KillMode=process", got)
			}

			// The logger writes numbered lines, and as the container's PID 1
			// it still exits at once on SIGTERM.
			g.MustExec(t, "docker", "run", "-d", "--name", "c2", "logger", "/app", "-rate", "2000", "-line", "40")
			time.Sleep(500 * time.Millisecond)
			logs := g.Sh(t, "docker logs c2 2>/dev/null | head -n 3")
			if first, _, _ := strings.Cut(logs, "\n"); !strings.HasPrefix(first, "000001 ") || len(first) != 39 {
				t.Errorf("first log line of c2 = %q, want 39 bytes starting with 000001", first)
			}
			start := time.Now()
			g.MustExec(t, "docker", "stop", "-t", "10", "c2")
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("docker stop c2 took %s: the logger ignored SIGTERM", d)
			}

			// The guest's root is visible from the host, and CopyIn works
			// through the guest's own mounts.
			if fi, err := os.Stat(g.Path("/etc/systemd/../systemd")); err != nil || !fi.IsDir() { // not /etc/docker: Docker CE's package does not create it
				t.Errorf("Path(/etc/systemd): %v", err)
			}
			g.CopyIn(t, logger, "/tmp/sub/logger-copy", 0o700)
			if got := strings.TrimSpace(g.MustExec(t, "stat", "-c", "%a %U", "/tmp/sub/logger-copy")); got != "700 root" {
				t.Errorf("copied file has mode/owner %q, want 700 root", got)
			}
			driver := strings.TrimSpace(g.MustExec(t, "docker", "info", "-f", "{{.Driver}}"))
			t.Logf("%s: %s, storage driver %s, root %s", suite,
				strings.TrimSpace(g.MustExec(t, "docker", "version", "-f", "{{.Server.Version}}")), driver, g.Root())
		})
	}
}

// TestRootfs builds (or takes from the cache) every suite's root
// filesystem without booting it, and checks the package that provides
// dockerd in each: docker.io in the Debian suites, the docker-ce-like
// package (and no docker.io) in the upstream one. It boots nothing, so it
// may run beside a rig test (DLR_SUITES=upstream: one suite).
func TestRootfs(t *testing.T) {
	for _, suite := range suites() {
		t.Run(suite, func(t *testing.T) {
			start := time.Now()
			dir, err := rig.Rootfs(t.Context(), suite)
			if err != nil {
				t.Fatal(err)
			}
			status, err := os.ReadFile(dir + "/var/lib/dpkg/status")
			if err != nil {
				t.Fatal(err)
			}
			installed := map[string]string{}
			for _, stanza := range strings.Split(string(status), "\n\n") {
				var pkg, ver string
				ok := false
				for _, l := range strings.Split(stanza, "\n") {
					switch {
					case strings.HasPrefix(l, "Package: "):
						pkg = strings.TrimPrefix(l, "Package: ")
					case strings.HasPrefix(l, "Version: "):
						ver = strings.TrimPrefix(l, "Version: ")
					case l == "Status: install ok installed":
						ok = true
					}
				}
				if ok {
					installed[pkg] = ver
				}
			}
			want, not := "docker.io", "docker-ce"
			if suite == "upstream" {
				want, not = "docker-ce", "docker.io"
				if got := installed[want]; got != rig.CEDebVersion(rig.UpstreamSuiteRelease) {
					t.Errorf("docker-ce %q, want %s", got, rig.CEDebVersion(rig.UpstreamSuiteRelease))
				}
			}
			if installed[want] == "" || installed[not] != "" {
				t.Errorf("%s: %s=%q %s=%q", suite, want, installed[want], not, installed[not])
			}
			t.Logf("%s: %s %s, containerd %s, runc %s, systemd %s (%s)", suite, want, installed[want],
				installed["containerd"], installed["runc"], installed["systemd"], time.Since(start).Round(time.Second))
		})
	}
}
