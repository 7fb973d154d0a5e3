package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/state"
	"github.com/docker-liverestore/dlr/unit"
)

// badCase is one entry of issue 6's bad-input list that can be shown
// without the real-systemd rig: what dlr is given, the exit code and the
// words its message must have, and whether it is documented to change
// anything (only the accepted inputs are).
type badCase struct {
	name    string
	content string // daemon.json, "" for none
	setup   func(t *testing.T, e *testEnv)
	args    []string // default: enable
	code    int
	want    []string // in stderr (the error) or stdout
	changes bool     // accepted: dlr goes ahead
	reloads int      // reloads expected (a rollback reloads)
	elapsed time.Duration
}

func badInputCases() []badCase {
	big := `{"labels": ["` + strings.Repeat("a", 10<<20) + `"]}`
	deep := `{"a": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
	return []badCase{
		{name: "syntax error", content: "{\n  \"debug\": tru\n}\n", code: exitInvalid, want: []string{"line 2, column", "invalid character"}},
		{name: "truncated", content: "{\n  \"debug\": true,\n", code: exitInvalid, want: []string{"line 3"}},
		{name: "two top-level values", content: "{} {}", code: exitInvalid, want: []string{"line 1, column"}},
		{name: "line comment", content: "{\n  // hi\n  \"debug\": true\n}\n", code: exitInvalid, want: []string{"line 2, column 3", "comment"}},
		{name: "block comment", content: "{ /* hi */ \"debug\": true }", code: exitInvalid, want: []string{"comment"}},
		{name: "trailing comma", content: "{\n  \"debug\": true,\n}\n", code: exitInvalid, want: []string{"trailing comma"}},
		{name: "duplicate key", content: "{\"debug\": true, \"debug\": false}", code: exitInvalid, want: []string{`duplicate key "debug"`, "keeps the last"}},
		{name: "duplicate nested key", content: "{\"log-opts\": {\"max-size\": \"1m\", \"max-size\": \"2m\"}}", code: exitInvalid, want: []string{`duplicate key "max-size"`}},
		{name: "UTF-8 BOM accepted and kept", content: "\xef\xbb\xbf{\"debug\": true}\n", code: exitOK, changes: true, reloads: 1},
		{name: "UTF-16 LE with BOM", content: "\xff\xfe{\x00}\x00", code: exitInvalid, want: []string{"UTF-16"}},
		{name: "UTF-16 BE without BOM", content: "\x00{\x00\"\x00a\x00\"\x00:\x001\x00}", code: exitInvalid, want: []string{"UTF-16"}},
		{name: "NUL byte", content: "{\"debug\": true}\x00\n", code: exitInvalid, want: []string{"NUL"}},
		{name: "invalid UTF-8", content: "{\"labels\": [\"caf\xe9\"]}", code: exitInvalid, want: []string{"UTF-8"}},
		{name: "10 MB file", content: big, code: exitInvalid, want: []string{"larger than"}},
		{name: "100000 levels of nesting", content: deep, code: exitInvalid, want: []string{"nesting deeper than"}},
		{name: "top level an array", content: "[]", code: exitInvalid, want: []string{"not a JSON object"}},
		{name: "top level a string", content: `"live-restore"`, code: exitInvalid, want: []string{"not a JSON object"}},
		{name: "top level null", content: "null", code: exitInvalid, want: []string{"not a JSON object"}},
		{name: "live-restore a string", content: `{"live-restore": "true"}`, code: exitInvalid, want: []string{`the string "true", not a boolean`}},
		{name: "live-restore a number", content: `{"live-restore": 1}`, code: exitInvalid, want: []string{"not a boolean"}},
		{name: "unrendered template", content: "{\"mtu\": {{ mtu }}}", code: exitInvalid, want: []string{"template"}},
		{name: "symlink loop", code: exitInvalid, want: []string{"symlink loop"}, setup: func(t *testing.T, e *testEnv) {
			os.Symlink("daemon.json", e.config)
		}},
		{name: "dangling symlink", code: exitInvalid, want: []string{"does not exist"}, setup: func(t *testing.T, e *testEnv) {
			os.Symlink("/nonexistent/daemon.json", e.config)
		}},
		{name: "a directory", code: exitInvalid, want: []string{"not a regular file (a directory)"}, setup: func(t *testing.T, e *testEnv) {
			os.Mkdir(e.config, 0o755)
		}},
		{name: "a FIFO", code: exitInvalid, want: []string{"not a regular file (a FIFO)"}, setup: func(t *testing.T, e *testEnv) {
			syscall.Mkfifo(e.config, 0o644)
		}},
		{name: "read-only filesystem", content: orig, code: exitFailed, want: []string{"read-only file system", "Put back"}, setup: func(t *testing.T, e *testEnv) {
			mountTmpfs(t, filepath.Dir(e.config), "size=64k", orig)
			remountRO(t, filepath.Dir(e.config))
		}},
		{name: "full disk", content: orig, code: exitFailed, want: []string{"no space left on device", "Put back"}, setup: func(t *testing.T, e *testEnv) {
			mountTmpfs(t, filepath.Dir(e.config), "size=64k", orig)
			fillFS(t, filepath.Dir(e.config))
		}},
		{name: "full disk under the state dir", content: orig, code: exitFailed, want: []string{"no space left on device"}, setup: func(t *testing.T, e *testEnv) {
			os.MkdirAll(e.h.Path(host.StateDir), 0o700)
			mountTmpfs(t, e.h.Path(host.StateDir), "size=64k,mode=0700", "")
			fillFS(t, e.h.Path(host.StateDir))
		}},
		{name: "/etc/docker missing: created", code: exitOK, changes: true, reloads: 1, setup: func(t *testing.T, e *testEnv) {
			os.RemoveAll(filepath.Dir(e.config))
		}},
		{name: "not root", content: orig, code: exitRefused, want: []string{"needs root", "sudo", "--dry-run"}, setup: func(t *testing.T, e *testEnv) {
			e.h.Euid = func() int { return 1000 }
		}},
		{name: "not root, disable", args: []string{"disable"}, content: orig, code: exitRefused, want: []string{"needs root"}, setup: func(t *testing.T, e *testEnv) {
			e.h.Euid = func() int { return 1000 }
		}},
		{name: "no D-Bus", content: orig, code: exitFailed, want: []string{"cannot reach systemd over D-Bus", "nothing was changed", "--no-reload"}, setup: func(t *testing.T, e *testEnv) {
			e.h.DialSystemd = func(context.Context) (host.Systemd, error) { return nil, unit.ErrNoBus }
		}},
		{name: "D-Bus access denied on connect", content: orig, code: exitFailed, want: []string{"access denied", "nothing was changed"}, setup: func(t *testing.T, e *testEnv) {
			e.h.DialSystemd = func(context.Context) (host.Systemd, error) { return nil, unit.ErrAccessDenied }
		}},
		{name: "D-Bus access denied reading the unit", content: orig, code: exitFailed, want: []string{"reading docker.service from systemd", "access denied", "nothing was changed"}, setup: func(t *testing.T, e *testEnv) {
			e.h.DialSystemd = func(context.Context) (host.Systemd, error) { return deniedUnit{e.d}, nil }
		}},
		{name: "D-Bus access denied on reload", content: orig, code: exitFailed, want: []string{"reloading docker.service", "access denied", "Put back"}, reloads: 2, setup: func(t *testing.T, e *testEnv) {
			e.d.reloadErr = unit.ErrAccessDenied
		}},
		{name: "docker.service absent: written for the next start", content: orig, code: exitOK, changes: true, want: []string{"not installed", "applies when Docker starts"}, setup: func(t *testing.T, e *testEnv) {
			e.d.svc.LoadState = ""
		}},
		{name: "reload job fails", content: orig, code: exitFailed, want: []string{"reloading docker.service: job failed", "Put back", "never restarted"}, reloads: 2, setup: func(t *testing.T, e *testEnv) {
			e.d.reloadErr = errors.New("job failed")
		}},
		{name: "reload job times out", content: orig, code: exitFailed, want: []string{"reloading docker.service", "deadline exceeded", "Put back"}, reloads: 2, elapsed: 3 * time.Second, setup: func(t *testing.T, e *testEnv) {
			e.h.T.Reload = 300 * time.Millisecond
			e.h.DialSystemd = func(context.Context) (host.Systemd, error) { return hangingReload{e.d}, nil }
		}},
		{name: "/info never shows the change", content: orig, code: exitFailed, want: []string{"did not report live restore enabled within", "reload rejected by fake", "Put back"}, reloads: 2, setup: func(t *testing.T, e *testEnv) {
			e.d.rejectAll = true
		}},
		{name: "Docker socket that never answers", content: orig, code: exitFailed, want: []string{"does not answer", "nothing was changed"}, elapsed: 8 * time.Second, setup: func(t *testing.T, e *testEnv) {
			silentDockerSocket(t, e)
		}},
		{name: "Docker socket that never answers, disable", args: []string{"disable", "--force"}, content: `{"live-restore": true}`, code: exitFailed, want: []string{"did not report live restore disabled", "Put back"}, reloads: 2, elapsed: 10 * time.Second, setup: func(t *testing.T, e *testEnv) {
			silentDockerSocket(t, e)
			e.d.liveRestore = true // the daemon has what the file says
			e.h.T.Call = 500 * time.Millisecond
			e.h.T.Verify = 2 * time.Second
		}},
		{name: "Docker socket that never answers, status", args: []string{"status"}, content: orig, code: exitOK, want: []string{"unknown:", "daemon:", "no answer after"}, elapsed: 3 * time.Second, setup: func(t *testing.T, e *testEnv) {
			silentDockerSocket(t, e)
			e.h.T.Call = time.Second
		}},
	}
}

// TestBadInput runs each case of issue 6's bad-input list that needs no
// real systemd: each ends with its documented exit code and a message
// saying what happened, and, unless the input is one dlr accepts, changes
// nothing: daemon.json's bytes, the sysctl drop-in, the running
// fs.pipe-max-size, dlr's state and the running daemon's setting.
func TestBadInput(t *testing.T) {
	for _, tc := range badInputCases() {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			if tc.content != "" {
				e.write(daemonJSON, tc.content)
			}
			if tc.setup != nil {
				tc.setup(t, e)
			}
			before := takeHostSnapshot(e)
			args := tc.args
			if args == nil {
				args = []string{"enable"}
			}
			start := time.Now()
			code, out, errOut := e.run(args...)
			elapsed := time.Since(start)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			msg := out + errOut
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("output lacks %q:\n%s", w, msg)
				}
			}
			if code == exitInvalid && !strings.Contains(errOut, e.config) {
				t.Errorf("the message does not name the file:\n%s", errOut)
			}
			if tc.elapsed > 0 && elapsed > tc.elapsed {
				t.Errorf("took %v, want at most %v", elapsed, tc.elapsed)
			}
			if e.d.reloads != tc.reloads {
				t.Errorf("reloads = %d, want %d", e.d.reloads, tc.reloads)
			}
			t.Logf("exit %d after %v: %s", code, elapsed.Round(time.Millisecond), firstLineOf(errOut))
			after := takeHostSnapshot(e)
			if tc.changes {
				if after.config == before.config {
					t.Errorf("an accepted input was not changed")
				}
				if strings.HasPrefix(before.config, "\xef\xbb\xbf") && !strings.HasPrefix(after.config, "\xef\xbb\xbf") {
					t.Errorf("the byte order mark was dropped")
				}
				return
			}
			if after != before {
				t.Errorf("something changed:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

// hostSnapshot is what a refused or rolled-back run must leave as it was.
type hostSnapshot struct {
	config, dropIn, pipeMaxSize string
	state                       string // what the state says, "" if empty
	temps                       int
	daemonLiveRestore           bool
}

func takeHostSnapshot(e *testEnv) hostSnapshot {
	s := hostSnapshot{dropIn: e.read(dropIn), pipeMaxSize: e.read("proc/sys/fs/pipe-max-size"), daemonLiveRestore: e.d.liveRestore}
	if fi, err := os.Lstat(e.config); err == nil && !fi.Mode().IsRegular() {
		s.config = fi.Mode().String() // never open a FIFO
	} else {
		s.config = e.read(daemonJSON)
	}
	if len(s.config) > 200 {
		s.config = s.config[:100] + "..." + state.SHA256([]byte(s.config))
	}
	st, err := state.Store{Dir: e.h.Path(host.StateDir)}.Load()
	switch {
	case err != nil:
		s.state = err.Error()
	case st.DaemonJSON != nil || st.Sysctl != nil || st.Pending != nil:
		s.state = "a change is recorded"
	}
	filepath.Walk(e.dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(fi.Name(), ".dlr-tmp-") {
			s.temps++
		}
		return nil
	})
	return s
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

// deniedUnit is a systemd that refuses to say anything about units.
type deniedUnit struct{ *fakeDaemon }

func (deniedUnit) Unit(context.Context, string) (unit.Unit, error) {
	return unit.Unit{}, unit.ErrAccessDenied
}

// hangingReload is a systemd whose reload job never finishes.
type hangingReload struct{ *fakeDaemon }

func (h hangingReload) Reload(ctx context.Context, name string) error {
	h.mu.Lock()
	h.reloads++
	h.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

// silentDockerSocket points dlr's real Engine API client at a unix socket that
// accepts connections and never answers; the connections are closed and
// the listener stopped when the test ends.
func silentDockerSocket(t *testing.T, e *testEnv) {
	sock := filepath.Join(e.dir, "run/docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	e.h.Socket = sock
	e.h.Docker = host.New().Docker // the real client
}

// mountTmpfs mounts a tmpfs on dir (root only; the test is skipped
// otherwise) and writes daemon.json into it if content is given.
func mountTmpfs(t *testing.T, dir, opts, content string) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		t.Skipf("cannot mount a tmpfs (%v); this case needs root", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	if content != "" {
		if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func remountRO(t *testing.T, dir string) {
	t.Helper()
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
}

// fillFS writes to dir until the filesystem is full.
func fillFS(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 512)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	for i := 0; ; i++ { // and every inode
		if err := os.WriteFile(filepath.Join(dir, "f"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26%26))), nil, 0o600); err != nil || i > 2000 {
			break
		}
	}
}
