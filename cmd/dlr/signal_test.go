package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hungDockerd makes the scratch host look as if a dockerd runs whose API
// never answers: a process named dockerd in the pid file, and a socket
// that accepts connections and says nothing.
func hungDockerd(t *testing.T, p *procHost) {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	b, _ := os.ReadFile(sleep)
	fake := filepath.Join(t.TempDir(), "dockerd")
	os.WriteFile(fake, b, 0o755)
	c := exec.Command(fake, "60")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	// The scratch host's /proc must show it: the real /proc entry.
	os.Remove(p.path("proc"))
	os.RemoveAll(p.path("proc"))
	os.MkdirAll(p.path("proc/1"), 0o755)
	os.Symlink("/", p.path("proc/1/root"))
	os.MkdirAll(p.path("proc/sys/fs"), 0o755)
	os.WriteFile(p.path("proc/sys/fs/pipe-max-size"), []byte("1048576\n"), 0o644)
	pid := strconv.Itoa(c.Process.Pid)
	os.Symlink("/proc/"+pid, p.path("proc/"+pid))
	os.MkdirAll(p.path("var/run"), 0o755)
	os.WriteFile(p.path("var/run/docker.pid"), []byte(pid+"\n"), 0o644)
	l, err := net.Listen("unix", p.path("run/docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()
}

// Every command honours SIGINT and SIGTERM within a second with a true
// message, even while it waits on a dockerd that does not answer: the ones
// that change nothing end at once; the others end their wait and say so.
func TestSignalsEndCommands(t *testing.T) {
	p := newProcHost(t)
	os.MkdirAll(p.path("run"), 0o755)
	hungDockerd(t, p)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "dlr status: interrupted (terminated); it changes nothing"},
		{[]string{"check"}, "dlr check: interrupted (terminated); it changes nothing"},
		{[]string{"validate", "--config", p.path(daemonJSON), p.path("candidate.json")}, "dlr validate: interrupted (terminated); it changes nothing"},
		{[]string{"watch", "--size", "64K", "--budget", "1M"}, ""},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			os.WriteFile(p.path(daemonJSON), []byte("{}\n"), 0o644)
			// A restore-breaking change: validate asks dockerd how many
			// containers run.
			os.WriteFile(p.path("candidate.json"), []byte("{\"bip\": \"10.5.0.1/24\"}\n"), 0o644)
			os.WriteFile(p.path("proc/meminfo"), []byte("MemTotal: 1048576 kB\n"), 0o644)
			c := exec.Command(p.bin, append(tc.args, "--root", p.dir)...)
			var out bytes.Buffer
			c.Stdout, c.Stderr = &out, &out
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(400 * time.Millisecond) // it is waiting for /info by now
			start := time.Now()
			c.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- c.Wait() }()
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				c.Process.Kill()
				<-done
				t.Fatalf("still running 3 s after SIGTERM:\n%s", out.String())
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("ended %v after SIGTERM, want within 1 s", d)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out.String())
			}
		})
	}
}

// Issue 21, item 7: SIGTERM to `dlr preflight` given a FIFO as a .deb
// ended dlr with os.Exit and left dpkg-deb blocked for ever on the FIFO.
// dlr now kills the programs it runs before it exits.
func TestSignalLeavesNoChild(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not installed: it is the child this test needs")
	}
	p := newProcHost(t)
	fifo := p.path("blocked.deb")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	c := exec.Command(p.bin, "preflight", "--root", p.dir, fifo)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // dpkg-deb is waiting on the FIFO by now
	if holders := fifoReaders(fifo); len(holders) == 0 {
		t.Logf("no process has the FIFO open yet (output so far: %s)", out.String())
	}
	c.Process.Signal(syscall.SIGTERM)
	c.Wait()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && len(fifoReaders(fifo)) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	if holders := fifoReaders(fifo); len(holders) > 0 {
		for _, pid := range holders {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		t.Errorf("processes %v still hold %s after dlr ended:\n%s", holders, fifo, out.String())
	}
}

// fifoReaders lists the processes whose command line names path.
func fifoReaders(path string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(b), path) && !strings.Contains(string(b), "preflight") {
			pids = append(pids, pid)
		}
	}
	return pids
}
