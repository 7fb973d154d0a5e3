package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 21, item 10: `make deps` failed at once ("Could not get lock
// /var/lib/dpkg/lock-frontend") while another apt ran, as on a fresh VM
// whose unattended-upgrades runs at boot. mk/apt-install.sh waits, saying
// so and naming the holder, bounded by APT_LOCK_WAIT. The test holds a
// POSIX lock (dpkg's kind: fcntl) on a file of its own and points the
// script at it, with a fake apt-get that records its arguments.
func TestAptInstallWaitsForLock(t *testing.T) {
	if _, err := exec.LookPath("lslocks"); err != nil {
		t.Skip("lslocks (util-linux) is not installed: the script then leaves the wait to apt's DPkg::Lock::Timeout")
	}
	dir := t.TempDir()
	lockPath := filepath.Join(dir, "lock-frontend")
	record := filepath.Join(dir, "apt-get.args")
	fake := filepath.Join(dir, "apt-get")
	os.WriteFile(fake, []byte("#!/bin/sh\nprintf '%s\\n' \"$*\" >> "+record+"\n"), 0o755)
	hold := func() *os.File {
		f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0}
		if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
			t.Fatal(err)
		}
		return f
	}
	run := func(wait string) (string, error) {
		cmd := exec.Command("sh", "../mk/apt-install.sh", "--no-install-recommends", "dlr-test-pkg")
		cmd.Env = append(os.Environ(), "APT_LOCK_FILES="+lockPath, "APT_GET="+fake, "APT_LOCK_WAIT="+wait)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// Held, then released after 2 s: it waits, says so, then installs.
	f := hold()
	go func(f *os.File) { time.Sleep(2 * time.Second); f.Close() }(f)
	start := time.Now()
	out, err := run("30")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "waiting for another apt or dpkg to finish: "+lockPath+" is held by") {
		t.Errorf("no word of the wait:\n%s", out)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("returned after %v, before the lock was released", d)
	}
	args, _ := os.ReadFile(record)
	if !strings.Contains(string(args), "install -y -qq --no-install-recommends dlr-test-pkg") || !strings.Contains(string(args), "DPkg::Lock::Timeout=") {
		t.Errorf("apt-get was run with:\n%s", args)
	}

	// Held for longer than APT_LOCK_WAIT: it stops, naming the holder.
	f = hold()
	defer f.Close()
	os.Remove(record)
	out, err = run("1")
	if err == nil || !strings.Contains(out, "still after 1 s") {
		t.Errorf("a lock held past APT_LOCK_WAIT: %v\n%s", err, out)
	}
	if _, err := os.Stat(record); err == nil {
		t.Error("apt-get ran although the lock was still held")
	}
}
