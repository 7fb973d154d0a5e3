package host

import (
	"context"
	"errors"
	"os"
	"os/exec"
)

// PolicyRCD is Debian's hook that says whether maintainer scripts may touch
// services (invoke-rc.d asks it; 101 = forbidden).
const PolicyRCD = "/usr/sbin/policy-rc.d"

// ServicesBlocked says why dlr must not touch the running system's services
// (reload dockerd, start or stop units), or "" when it may. It is the one
// place this is decided, for dlr's own commands and for its packages'
// maintainer scripts (`dlr services-blocked`):
//
//   - an image build: $DPKG_ROOT names another root;
//   - /usr/sbin/policy-rc.d exits 101 for "docker reload" (Docker build
//     containers, debootstrap chroots);
//   - a chroot (see InChroot).
//
// With units, a system without systemd as PID 1 is blocked too (the
// watcher unit cannot be started there; dockerd itself is reloaded with
// SIGHUP then).
func (e *Env) ServicesBlocked(ctx context.Context, units bool) string {
	if r := e.Getenv("DPKG_ROOT"); r != "" && r != "/" {
		return "installing into " + r + " (DPKG_ROOT)"
	}
	if p := e.Path(PolicyRCD); isExecutable(p) {
		ctx, cancel := context.WithTimeout(ctx, e.T.Call)
		defer cancel()
		var ee *exec.ExitError
		if err := Run(Command(ctx, p, "docker", "reload")); errors.As(err, &ee) && ee.ExitCode() == 101 {
			return PolicyRCD + " forbids touching services (exit 101)"
		}
	}
	if chroot, why := e.InChroot(); chroot {
		return why
	}
	if units {
		if _, err := os.Stat(e.Path(RunSystemd)); err != nil {
			return "systemd is not running"
		}
	}
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
