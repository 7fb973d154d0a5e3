package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/ops"
)

// Issue 21, item 3: dlr's own records (state.json, restores.json,
// restore-view.json, started-with.json) and docker.pid were read with a
// plain os.ReadFile: a FIFO there hung status, check and metrics, and a
// symlink to /dev/zero ran out of memory. Each is now refused at once by
// the guarded reader, and the command ends.
func TestHostileRecordsDoNotHang(t *testing.T) {
	for _, name := range []string{"state.json", "restores.json", "restore-view.json", "started-with.json", "docker.pid"} {
		for _, kind := range []string{"fifo", "zero"} {
			t.Run(name+"/"+kind, func(t *testing.T) {
				e := newTestEnv(t)
				e.write("etc/docker/daemon.json", "{\"live-restore\": true}\n")
				dir := e.h.Path(host.StateDir)
				if name == "docker.pid" {
					dir = filepath.Dir(e.h.Path(host.DefaultPidFile))
				}
				os.MkdirAll(dir, 0o700)
				p := filepath.Join(dir, name)
				if kind == "fifo" {
					if err := syscall.Mkfifo(p, 0o600); err != nil {
						t.Fatal(err)
					}
				} else {
					os.Symlink("/dev/zero", p)
				}
				for _, cmd := range []string{"status", "check", "metrics"} {
					start := time.Now()
					done := make(chan struct{})
					go func() {
						defer close(done)
						e.run(cmd)
					}()
					select {
					case <-done:
					case <-time.After(10 * time.Second):
						t.Fatalf("dlr %s with %s a %s: still running after 10 s", cmd, name, kind)
					}
					if d := time.Since(start); d > 5*time.Second {
						t.Errorf("dlr %s took %v", cmd, d)
					}
				}
			})
		}
	}
}

// Issue 21, item 8: a record without a time gave
// dlr_last_restore_timestamp_seconds -6.795e+09 (UnixNano overflows), and a
// problem of a kind dlr does not know was "no problems" in status while
// check WARNed.
func TestHostileRestoreRecords(t *testing.T) {
	e := newTestEnv(t)
	e.write("etc/docker/daemon.json", "{\"live-restore\": true}\n")
	dir := e.h.Path(host.StateDir)
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "restores.json"), []byte(`[{}]`), 0o600)
	_, out, _ := e.run("metrics")
	if strings.Contains(out, "dlr_last_restore_timestamp_seconds") {
		t.Errorf("a record without a time gives a timestamp:\n%s", out)
	}
	os.WriteFile(filepath.Join(dir, "restores.json"), []byte(`[{"back_at":"2026-12-01T10:00:00Z","containers":1,"kept":1,"problems":{"made-up":2}}]`), 0o600)
	_, out, _ = e.run("metrics")
	for _, want := range []string{"dlr_last_restore_timestamp_seconds 1.7961192e+09\n", `dlr_last_restore_problems{kind="other"} 2`} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}
	_, out, _ = e.run("status")
	if strings.Contains(out, "no problems") || !strings.Contains(out, "2 other") {
		t.Errorf("status with 2 problems of an unknown kind:\n%s", out)
	}
}

// Issue 21, item 9: untrusted text reached the terminal raw. A container
// name with a newline forged a "FAIL  injected" line in `dlr check`; the
// daemon's version and a package version could carry escape sequences.
// Every text report is now escaped once, in writeText.
func TestUntrustedTextEscaped(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, "{\"live-restore\": true}\n")
	e.d.liveRestore = true
	e.d.version = "26.1.5\x1b[2J"
	e.d.containers = []host.Container{{Name: "web\nFAIL  injected", RestartPolicy: "no", Published: true}}
	for _, cmd := range []string{"check", "status"} {
		_, out, errOut := e.run(cmd)
		all := out + errOut
		for _, l := range strings.Split(all, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "FAIL  injected") {
				t.Errorf("dlr %s: a container's name forged a line:\n%s", cmd, all)
			}
		}
		if strings.Contains(all, "\x1b") {
			t.Errorf("dlr %s: an escape sequence reached the terminal:\n%q", cmd, all)
		}
	}
	_, out, _ := e.run("check")
	if !strings.Contains(out, `web\nFAIL  injected`) {
		t.Errorf("the name is not shown escaped:\n%s", out)
	}
}

// Issue 21, item 1, through the watcher's own writer: node-exporter's
// textfile directory under a /var/lib/prometheus owned by another user
// (Debian's postinst makes it prometheus's) is refused, naming that
// directory and its owner; after that user swaps node-exporter for a
// symlink to another directory, nothing is written or removed there.
func TestTextfileRefusedUnderAnotherUsersDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the directory is chowned to another user")
	}
	e := newTestEnv(t)
	os.Chmod(filepath.Dir(e.dir), 0o755)
	os.Chmod(e.dir, 0o755)
	prom := filepath.Join(e.dir, "var/lib/prometheus")
	dir := filepath.Join(prom, "node-exporter")
	victim := filepath.Join(e.dir, "etc/victim")
	os.MkdirAll(dir, 0o755)
	os.MkdirAll(victim, 0o755)
	os.Chown(prom, 65534, 65534)
	err := ops.WriteTextfile(context.Background(), e.h, ops.Options{}, dir)
	if err == nil || !strings.Contains(err.Error(), prom+" is owned by uid 65534") {
		t.Fatalf("WriteTextfile under a directory uid 65534 owns = %v", err)
	}
	os.Rename(dir, dir+".away")
	os.Symlink(victim, dir)
	if err := ops.WriteTextfile(context.Background(), e.h, ops.Options{}, dir); err == nil {
		t.Error("WriteTextfile through the swapped-in symlink succeeded")
	}
	if ents, _ := os.ReadDir(victim); len(ents) != 0 {
		t.Errorf("the victim directory holds %d files", len(ents))
	}
}
