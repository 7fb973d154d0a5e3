package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/ops"
)

// fifos makes the log FIFOs of running containers under the test's exec
// root (64K each, the kernel's default), held open as the shim holds them.
func fifos(t *testing.T, e *testEnv, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(e.dir, "var/run/docker/containerd", n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
	}
}

// TestMetricsLogBuffersShort: dlr_log_buffers_short counts the containers'
// own streams the budget keeps below the planned size (fs.pipe-max-size,
// 1M here), not those only not grown yet, nor an exec session's; the
// watcher's textfile uses the watcher's --budget.
func TestMetricsLogBuffersShort(t *testing.T) {
	streams := []string{"aaa/init-stdout", "aaa/init-stderr", "bbb/bbb-stdout", "bbb/bbb-stderr", "bbb/e1e1-stdout"}
	for _, tc := range []struct {
		name, memKB string
		want        []string
	}{
		// 8 GB of RAM: a budget of 125M allows every stream 1M; the
		// streams are at 64K only because nothing grew them yet.
		{"budget allows", "8000000", []string{"dlr_log_buffers_short 0\n", "dlr_log_buffer_budget_bytes 1.28e+08\n", "dlr_log_buffer_bytes 327680\n"}},
		// 8 MB of RAM: the budget is the floor, 128K, fewer bytes
		// than the five streams already use: the four own streams are
		// short, the exec session's is not counted.
		{"budget exhausted", "8000", []string{"dlr_log_buffers_short 4\n", "dlr_log_buffer_budget_bytes 131072\n", "dlr_log_buffer_bytes 327680\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.write(daemonJSON, "{\"live-restore\": true}\n")
			e.d.liveRestore = true
			e.write("proc/meminfo", "MemTotal:       "+tc.memKB+" kB\n")
			fifos(t, e, streams...)
			code, out, errOut := e.run("metrics")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("metrics lack %q:\n%s", s, out)
				}
			}
			if code, msg := promtool(t, out); code != 0 {
				t.Errorf("promtool check metrics: exit %d: %s\n%s", code, msg, out)
			}
			_, st, _ := e.run("status")
			if says := "4 streams kept below 1M by the budget of 128K"; strings.Contains(st, says) != strings.Contains(tc.name, "exhausted") {
				t.Errorf("status and %q disagree with %s:\n%s", says, tc.name, st)
			}
		})
	}
	// The watcher writes the textfile with its own --budget.
	e := newTestEnv(t)
	e.write(daemonJSON, "{\"live-restore\": true}\n")
	e.d.liveRestore = true
	e.write("proc/meminfo", "MemTotal:       8000000 kB\n")
	fifos(t, e, streams...)
	dir := filepath.Join(e.dir, "textfile")
	os.MkdirAll(dir, 0o755)
	if err := ops.WriteTextfile(context.Background(), e.h, ops.Options{Budget: "256K"}, dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, host.MetricsFile))
	if !strings.Contains(string(b), "dlr_log_buffers_short 4\n") || !strings.Contains(string(b), "dlr_log_buffer_budget_bytes 262144\n") {
		t.Errorf("textfile with --budget 256K:\n%s", b)
	}
}

// TestMetricsNoLogBuffers: without a running dockerd, no log-buffer
// series (unknown, not 0); with one and no container, 0 short.
func TestMetricsNoLogBuffers(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, "{\"live-restore\": true}\n")
	e.d.liveRestore = true
	e.write("proc/meminfo", "MemTotal:       8000000 kB\n")
	os.MkdirAll(filepath.Join(e.dir, "var/run/docker/containerd"), 0o755)
	if _, out, _ := e.run("metrics"); !strings.Contains(out, "dlr_log_buffers_short 0\n") {
		t.Errorf("no containers: want 0 short\n%s", out)
	}
	e.d.svc.ActiveState = "inactive"
	if _, out, _ := e.run("metrics"); strings.Contains(out, "dlr_log_buffer") {
		t.Errorf("dockerd down: want no log-buffer series\n%s", out)
	}
}

// TestMetricsPendingRestart: dlr_pending_restart carries status's verdict
// on the restart onto a dockerd a package installed under the running one
// (26.1.5 here), one series per verdict, 1 for the one that holds; absent
// when the installed dockerd is the running one.
func TestMetricsPendingRestart(t *testing.T) {
	for _, tc := range []struct{ installed, holds string }{
		{"28.5.2", "pass"},
		{"27.0.1", "warn"},
		{"24.0.3", "fail"},
		{"26.1.5", ""},
	} {
		e := newTestEnv(t)
		e.write(daemonJSON, "{\"live-restore\": true}\n")
		e.d.liveRestore = true
		e.h.DockerdVersion = func(context.Context, string) (string, error) { return tc.installed, nil }
		code, out, errOut := e.run("metrics")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if tc.holds == "" {
			if strings.Contains(out, "dlr_pending_restart") {
				t.Errorf("installed %s, the running one: want no dlr_pending_restart\n%s", tc.installed, out)
			}
			continue
		}
		for _, v := range []string{"pass", "warn", "fail"} {
			want := `dlr_pending_restart{verdict="` + v + `"} 0` + "\n"
			if v == tc.holds {
				want = `dlr_pending_restart{verdict="` + v + `"} 1` + "\n"
			}
			if !strings.Contains(out, want) {
				t.Errorf("installed %s: metrics lack %q:\n%s", tc.installed, want, out)
			}
		}
		if code, msg := promtool(t, out); code != 0 {
			t.Errorf("promtool check metrics: exit %d: %s\n%s", code, msg, out)
		}
	}
}
