package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/ops"
	"github.com/docker-liverestore/dlr/state"
)

// buildDlr builds the dlr binary into dir (the build cache makes the
// second build of a test run quick).
func buildDlr(dir string) (string, error) {
	bin := filepath.Join(dir, "dlr")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// procHost is a scratch host for the real dlr binary: every host path
// points under dir, there is no systemd and no dockerd, and runs use
// --no-reload.
type procHost struct {
	t   *testing.T
	bin string
	dir string
}

func newProcHost(t *testing.T) *procHost {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the dlr binary")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build dlr with")
	}
	bin, err := buildDlr(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := &procHost{t: t, bin: bin, dir: t.TempDir()}
	for _, d := range []string{"etc/docker", "etc/sysctl.d", "proc/sys/fs", "proc/1", "run/lock", "var/lib"} {
		os.MkdirAll(filepath.Join(p.dir, d), 0o755)
	}
	os.Symlink("/", filepath.Join(p.dir, "proc/1/root"))
	os.WriteFile(filepath.Join(p.dir, "proc/sys/fs/pipe-max-size"), []byte("1048576\n"), 0o644)
	return p
}

func (p *procHost) path(rel string) string { return filepath.Join(p.dir, rel) }

func (p *procHost) args(cmd string, extra ...string) []string {
	a := []string{cmd,
		"--config", p.path(daemonJSON),
		"--root", p.dir,
		"--docker-socket", p.path("run/docker.sock"),
	}
	if cmd != "status" {
		a = append(a, "--no-reload")
	}
	return append(a, extra...)
}

// run runs the binary to its end (killed after a minute at most) and
// returns its exit code, stdout and stderr.
func (p *procHost) run(cmd string, extra ...string) (int, string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, p.bin, p.args(cmd, extra...)...)
	var o, e bytes.Buffer
	c.Stdout, c.Stderr = &o, &e
	err := c.Run()
	if c.ProcessState == nil {
		p.t.Fatalf("dlr %s: %v", cmd, err)
	}
	return c.ProcessState.ExitCode(), o.String(), e.String()
}

func (p *procHost) tempFiles() []string {
	var out []string
	filepath.Walk(p.dir, func(path string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(fi.Name(), ".dlr-tmp-") {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// TestConcurrentRuns runs 8 dlr processes at once, each doing enable or
// disable (at random) for a number of rounds (20; DLR_CONCURRENCY_ROUNDS
// for the long run). Every run must succeed (the lock serialises them), and
// no update may be lost: in a serial history the runs that changed the file
// alternate, enable (absent -> true) and disable (true -> absent), so the
// enables that changed something number the disables that did, or one more,
// and the final file is the enabled one exactly when there is one more. Two
// runs that overlapped would both see the same file and both report the
// change.
func TestConcurrentRuns(t *testing.T) {
	p := newProcHost(t)
	os.WriteFile(p.path(daemonJSON), []byte(orig), 0o644)
	enabled := "{\n    \"log-driver\": \"journald\",\n    \"data-root\": \"/srv/docker\",\n    \"live-restore\": true\n}\n"
	rounds := 20
	if s := os.Getenv("DLR_CONCURRENCY_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	const workers = 8
	type outcome struct {
		cmd, before, after string
		changed            bool
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		failures []string
		wg       sync.WaitGroup
	)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for range rounds {
				cmd := []string{"enable", "disable"}[rng.IntN(2)]
				code, out, errOut := p.run(cmd, "--json", "--lock-timeout", "2m")
				var r ops.Report
				err := json.Unmarshal([]byte(out), &r)
				mu.Lock()
				if code != 0 || err != nil {
					failures = append(failures, fmt.Sprintf("%s: exit %d %v\n%s%s", cmd, code, err, out, errOut))
				} else if r.LiveRestore != nil {
					changed := r.LiveRestore.FileBefore != r.LiveRestore.FileAfter
					outcomes = append(outcomes, outcome{cmd, r.LiveRestore.FileBefore, r.LiveRestore.FileAfter, changed})
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, f := range failures {
		t.Error(f)
	}
	enables, disables := 0, 0
	for _, o := range outcomes {
		switch {
		case !o.changed:
		case o.cmd == "enable" && o.before == "absent" && o.after == "true":
			enables++
		case o.cmd == "disable" && o.before == "true" && o.after == "absent":
			disables++
		default:
			t.Errorf("unexpected change by %s: %s -> %s", o.cmd, o.before, o.after)
		}
	}
	got, _ := os.ReadFile(p.path(daemonJSON))
	want := orig
	if enables == disables+1 {
		want = enabled
	} else if enables != disables {
		t.Errorf("%d enables and %d disables changed the file: runs overlapped or an update was lost", enables, disables)
	}
	if string(got) != want {
		t.Errorf("final daemon.json =\n%s\nwant (after %d enables, %d disables that changed it)\n%s", got, enables, disables, want)
	}
	if left := p.tempFiles(); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	st, err := state.Store{Dir: p.path("var/lib/docker-liverestore")}.Load()
	if err != nil || st.Pending != nil || (st.DaemonJSON != nil) != (want == enabled) {
		t.Errorf("state after the runs: %+v, %v", st, err)
	}
	if b, _ := filepath.Glob(p.path("var/lib/docker-liverestore/backups/daemon.json.*")); len(b) > state.KeepBackups {
		t.Errorf("%d backups kept", len(b))
	}
	// A last disable puts back the original bytes.
	if code, _, errOut := p.run("disable"); code != 0 {
		t.Errorf("final disable: exit %d %s", code, errOut)
	}
	if got, _ := os.ReadFile(p.path(daemonJSON)); string(got) != orig {
		t.Errorf("final disable left %q", got)
	}
	t.Logf("%d processes x %d rounds = %d runs in %v: %d enables and %d disables changed the file",
		workers, rounds, len(outcomes), elapsed.Round(time.Millisecond), enables, disables)
}

// TestLockHeldByHungProcess: another process holds the lock and never lets
// go. dlr waits --lock-timeout, then exits 5 naming the holder's PID and
// saying what to do; it changes nothing.
func TestLockHeldByHungProcess(t *testing.T) {
	p := newProcHost(t)
	os.WriteFile(p.path(daemonJSON), []byte(orig), 0o644)
	// The "hung process" is this test: it takes the flock and records its
	// PID in the lock file, as dlr does.
	os.MkdirAll(p.path("run/docker-liverestore"), 0o700)
	f, err := os.OpenFile(p.path("run/docker-liverestore/lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "%d\n", os.Getpid())
	for _, cmd := range []string{"enable", "disable"} {
		start := time.Now()
		code, out, errOut := p.run(cmd, "--lock-timeout", "1s", "--json")
		elapsed := time.Since(start)
		if code != exitBusy {
			t.Errorf("%s: exit %d, want %d\n%s%s", cmd, code, exitBusy, out, errOut)
		}
		var r ops.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Error == nil || r.Error.Kind != "busy" {
			t.Errorf("%s --json: %v %+v", cmd, err, r.Error)
		} else {
			for _, want := range []string{"timed out waiting for the lock", fmt.Sprintf("dlr process %d holds it", os.Getpid()), "wait for it to finish or stop it"} {
				if !strings.Contains(r.Error.Message, want) {
					t.Errorf("%s: message %q lacks %q", cmd, r.Error.Message, want)
				}
			}
		}
		if elapsed < time.Second || elapsed > 5*time.Second {
			t.Errorf("%s: gave up after %v with --lock-timeout 1s", cmd, elapsed)
		}
		t.Logf("%s: exit %d after %v", cmd, code, elapsed.Round(time.Millisecond))
	}
	if got, _ := os.ReadFile(p.path(daemonJSON)); string(got) != orig {
		t.Errorf("daemon.json changed while the lock was held: %q", got)
	}
	if _, err := os.Stat(p.path("var/lib/docker-liverestore")); err == nil {
		t.Error("dlr wrote its state while the lock was held")
	}
	// Released, the next run goes through.
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if code, _, errOut := p.run("enable"); code != 0 {
		t.Errorf("enable after the lock was released: exit %d %s", code, errOut)
	}
}
