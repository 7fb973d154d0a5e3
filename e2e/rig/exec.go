package rig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// guestEnv is the whole environment of commands run inside the guest: the
// host's environment is not passed on.
var guestEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"LANG=C.UTF-8",
	"TERM=dumb",
	"PAGER=cat",
	"SYSTEMD_PAGER=cat",
	"SYSTEMD_COLORS=0",
}

// Exec runs args inside the guest, in all of its namespaces, as root, with
// "nsenter -t <guest systemd PID> -a -- ARGS", and returns what it printed
// and its exit code. The command starts in "/" with a fixed environment
// (PATH, HOME=/root, LANG=C.UTF-8, no pager or colours) and no stdin.
//
// A non-zero exit is not an error: err is nil and exitCode says it. err is
// set, with exitCode -1, if the command could not be run, was killed by a
// signal, or ran out of time. If ctx has no deadline, Exec gives it one of
// two minutes. When ctx ends the whole process group is killed (nsenter and
// what it started in the guest). Exit codes 125-127 and 1 may also come from
// nsenter itself, e.g. when the command does not exist in the guest.
func (g *Guest) Exec(ctx context.Context, args ...string) (stdout, stderr string, exitCode int, err error) {
	return g.run(ctx, nil, args)
}

// run is Exec with stdin.
func (g *Guest) run(ctx context.Context, stdin io.Reader, args []string) (string, string, int, error) {
	if len(args) == 0 {
		return "", "", -1, errors.New("rig: exec: no command")
	}
	if g.pid == 0 || g.hasExited() {
		return "", "", -1, fmt.Errorf("rig: exec %s: guest %s is not running", quoteArgs(args), g.machine)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, execTimeout)
		defer cancel()
	}
	nsArgs := append([]string{"-t", strconv.Itoa(g.pid), "-a", "--"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", nsArgs...)
	cmd.Env = guestEnv
	cmd.Stdin = stdin
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
	// Own process group, so that a timeout kills nsenter's child in the
	// guest too, not only nsenter.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = execWaitDelay

	runErr := cmd.Run()
	stdout, stderr := outBuf.String(), errBuf.String()
	if ctx.Err() != nil {
		return stdout, stderr, -1, fmt.Errorf("rig: exec %s in %s: %w", quoteArgs(args), g.machine, ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(runErr, &ee) && ee.ExitCode() >= 0 {
		return stdout, stderr, ee.ExitCode(), nil
	}
	if runErr != nil {
		return stdout, stderr, -1, fmt.Errorf("rig: exec %s in %s: %w", quoteArgs(args), g.machine, runErr)
	}
	return stdout, stderr, 0, nil
}

// MustExec runs args in the guest like [Guest.Exec] with a two-minute
// timeout, and returns its stdout. It fails the test, showing stderr and
// stdout, if the command cannot be run or exits non-zero. It may be called
// from a cleanup function.
func (g *Guest) MustExec(t testing.TB, args ...string) string {
	t.Helper()
	return g.mustRun(t, nil, args)
}

// Sh runs script with "sh -c" in the guest like [Guest.MustExec] and
// returns its stdout.
func (g *Guest) Sh(t testing.TB, script string) string {
	t.Helper()
	return g.mustRun(t, nil, []string{"sh", "-c", script})
}

func (g *Guest) mustRun(t testing.TB, stdin io.Reader, args []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), execTimeout)
	defer cancel()
	stdout, stderr, code, err := g.run(ctx, stdin, args)
	if err != nil {
		t.Fatalf("%v\nstderr: %s\nstdout: %s", err, stderr, stdout)
	}
	if code != 0 {
		t.Fatalf("rig: exec %s in %s: exit status %d\nstderr: %s\nstdout: %s",
			quoteArgs(args), g.machine, code, stderr, stdout)
	}
	return stdout
}

// Path returns the host path of guestPath (an absolute path in the guest)
// in the guest's root directory. It is the guest's root filesystem only:
// file systems mounted inside the guest (/proc, /sys, /dev, /run, and /tmp,
// where nspawn mounts a tmpfs) are not visible through it, and
// symbolic links are not resolved (an absolute link would point at the
// host). Use [Guest.Exec] or [Guest.CopyIn] for those. ".." cannot climb
// out of the guest's root.
func (g *Guest) Path(guestPath string) string {
	return filepath.Join(g.root, filepath.Clean("/"+guestPath))
}

// CopyIn copies the host file hostPath to guestPath in the guest, creating
// its parent directories, and sets its permission bits to mode.Perm(). The
// file is owned by root. It goes through a shell inside the guest, so it
// works for any guest path, including those on file systems mounted inside
// the guest. It fails the test on error.
func (g *Guest) CopyIn(t testing.TB, hostPath, guestPath string, mode os.FileMode) {
	t.Helper()
	f, err := os.Open(hostPath)
	if err != nil {
		t.Fatalf("rig: copy in: %v", err)
	}
	defer f.Close()
	const script = `set -e; mkdir -p -- "$(dirname -- "$1")"; cat > "$1"; chmod "$2" "$1"`
	g.mustRun(t, f, []string{"sh", "-c", script, "sh", guestPath, fmt.Sprintf("%o", mode.Perm())})
}

// quoteArgs formats args for messages.
func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`;&|<>(){}*?[]#~") {
			q[i] = strconv.Quote(a)
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}
