package host

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Child processes. Every program dlr runs (dpkg-deb, rpm, apt-cache,
// dockerd --validate, journalctl, perl, ...) is started by [Command], so
// that none can outlive dlr or stretch its bounds (issue 21, item 7):
//
//   - it runs in its own process group, and when ctx ends the whole group
//     is killed, so a grandchild holding the output pipe open is killed
//     too, and WaitDelay (1 s) bounds the wait for the pipes after that;
//   - while it runs its group is registered, and [KillChildren] (called by
//     dlr's signal handler before it exits) kills every registered group:
//     a SIGTERM no longer leaves a dpkg-deb blocked on a FIFO behind.
//
// vet_test.go in package host fails when production code calls
// exec.Command or exec.CommandContext anywhere else.

// childWaitDelay bounds the wait for a killed child's output pipes.
const childWaitDelay = time.Second

var children struct {
	sync.Mutex
	pgids map[int]bool
}

// Command is exec.CommandContext with the process-group handling above.
// Start it with [Run] (or [RunCombined]).
func Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = childWaitDelay
	return cmd
}

// Run runs cmd (made by Command) to its end, registered for KillChildren
// while it runs.
func Run(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	pgid := cmd.Process.Pid
	children.Lock()
	if children.pgids == nil {
		children.pgids = map[int]bool{}
	}
	children.pgids[pgid] = true
	children.Unlock()
	err := cmd.Wait()
	children.Lock()
	delete(children.pgids, pgid)
	children.Unlock()
	// The child is gone; anything left in its group (a grandchild) is not
	// dlr's to keep.
	syscall.Kill(-pgid, syscall.SIGKILL)
	return err
}

// Output runs a program like exec.Cmd.Output: stdout, at most limit bytes
// of it (the rest is discarded), and stderr in an *exec.ExitError.
func Output(ctx context.Context, limit int, name string, args ...string) ([]byte, error) {
	cmd := Command(ctx, name, args...)
	var out, errOut capped
	out.max, errOut.max = limit, 64<<10
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := Run(cmd)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ee.Stderr = errOut.b.Bytes()
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// It exited 0; a grandchild kept the pipe open (and is killed).
		err = nil
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return out.b.Bytes(), err
}

// CombinedOutput runs a program like exec.Cmd.CombinedOutput, keeping at
// most limit bytes.
func CombinedOutput(ctx context.Context, limit int, name string, args ...string) ([]byte, error) {
	cmd := Command(ctx, name, args...)
	var out capped
	out.max = limit
	cmd.Stdout, cmd.Stderr = &out, &out
	err := Run(cmd)
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	return out.b.Bytes(), err
}

// KillChildren kills the process group of every program dlr is running.
func KillChildren() {
	children.Lock()
	defer children.Unlock()
	for pgid := range children.pgids {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// capped keeps the first max bytes written to it and drops the rest (the
// writer never fails, so the child is never stopped by a full pipe).
type capped struct {
	mu  sync.Mutex
	b   bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// maxToolOutput bounds what dlr keeps of a package or firewall tool's
// standard output (nft -j, dpkg-deb, rpm): far above what a real table or
// package's scripts print.
const maxToolOutput = 16 << 20

// stderrOf returns the trimmed standard error an [Output] error carries,
// "" when it carries none.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}
