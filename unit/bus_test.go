//go:build linux

package unit

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// busConfig is a session-like dbus-daemon configuration that allows
// everything, plus extra policy (%[2]s) for tests that need a denial.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>%[1]s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
  %[2]s
</busconfig>
`

// testBus is a private dbus-daemon, killed when the test ends.
type testBus struct {
	addr   string
	cmd    *exec.Cmd
	stderr *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the process's writes and our reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// dbusDaemon returns the dbus-daemon binary, or skips the test.
func dbusDaemon(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("dbus-daemon"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/dbus-daemon"); err == nil {
		return "/usr/bin/dbus-daemon"
	}
	t.Skip("dbus-daemon not found: install it (Debian/Ubuntu: apt-get install dbus-daemon, or dbus) to run the D-Bus tests")
	return ""
}

// startBus starts a private bus with the given extra policy XML and waits
// until it accepts connections.
func startBus(t *testing.T, extraPolicy string) *testBus {
	t.Helper()
	daemon := dbusDaemon(t)
	dir := t.TempDir()
	addr := "unix:path=" + filepath.Join(dir, "bus")
	cfg := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, busConfig, addr, extraPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &testBus{stderr: &syncBuffer{}}
	b.cmd = exec.Command(daemon, "--config-file="+cfg, "--nofork", "--nopidfile", "--print-address=1")
	b.cmd.Stderr = b.stderr
	// If the test binary dies, so does the bus.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(b.kill)

	// dbus-daemon prints its address once it listens.
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case got := <-line:
		if got == "" {
			t.Fatalf("dbus-daemon printed no address; stderr: %s", b.stderr)
		}
		b.addr = got
	case <-time.After(10 * time.Second):
		t.Fatalf("dbus-daemon did not start within 10s; stderr: %s", b.stderr)
	}
	return b
}

// kill stops the bus daemon and reaps it. It may be called more than once.
func (b *testBus) kill() {
	if b.cmd.ProcessState != nil {
		return
	}
	_ = b.cmd.Process.Kill()
	_ = b.cmd.Wait()
}
