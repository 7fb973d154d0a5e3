package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/docker-liverestore/dlr/host"
)

// dlr never follows a symlink out of the directories it keeps its own
// files in: a drop-in that is a symlink is refused, and so are a state
// directory or a backups directory that are symlinks. The file the link
// points to is left alone, and so is daemon.json.
func TestOwnFilesNeverThroughSymlinks(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		plant      func(e *testEnv, outside string)
	}{
		{"sysctl drop-in", "it is a symlink", func(e *testEnv, outside string) {
			os.WriteFile(filepath.Join(outside, "victim"), []byte("precious\n"), 0o644)
			os.Symlink(filepath.Join(outside, "victim"), filepath.Join(e.dir, dropIn))
		}},
		{"state directory", "refusing to use", func(e *testEnv, outside string) {
			os.Symlink(outside, e.h.Path(host.StateDir))
		}},
		{"state file", "it is a symlink", func(e *testEnv, outside string) {
			os.MkdirAll(e.h.Path(host.StateDir), 0o700)
			os.WriteFile(filepath.Join(outside, "victim"), []byte("{}\n"), 0o644)
			os.Symlink(filepath.Join(outside, "victim"), filepath.Join(e.h.Path(host.StateDir), "state.json"))
		}},
		{"backups directory", "refusing to keep backups", func(e *testEnv, outside string) {
			os.MkdirAll(e.h.Path(host.StateDir), 0o700)
			os.Symlink(outside, filepath.Join(e.h.Path(host.StateDir), "backups"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.write(daemonJSON, orig)
			outside := t.TempDir()
			tc.plant(e, outside)
			before := listDir(t, outside)
			code, out, errOut := e.run("enable")
			if code == exitOK {
				t.Fatalf("enable went ahead:\n%s%s", out, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, message lacks %q:\n%s", code, tc.want, errOut)
			}
			if after := listDir(t, outside); after != before {
				t.Errorf("dlr wrote outside its directories:\nbefore %s\nafter  %s", before, after)
			}
			if e.read(daemonJSON) != orig || e.d.liveRestore {
				t.Errorf("daemon.json or the daemon changed")
			}
			t.Logf("exit %d: %s", code, firstLineOf(errOut))
		})
	}
}

func listDir(t *testing.T, dir string) string {
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		data, _ := os.ReadFile(p)
		b.WriteString(p[len(dir):] + "=" + strconv.Quote(string(data)) + " ")
		return nil
	})
	return b.String()
}

// State and backups may hold registry credentials or proxy passwords: the
// state directory and the backups directory are 0700 and their files 0600,
// whatever the umask.
func TestStateAndBackupsPrivate(t *testing.T) {
	e := newTestEnv(t)
	e.write(daemonJSON, "{\"registry-mirrors\": [\"https://user:secret@mirror.example\"]}\n")
	// After the test's own files: a umask of 0 would make them writable by
	// all, which dlr refuses to write in (TestDirRefusesOtherUsers).
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	if code, out, errOut := e.run("enable"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	backups, _ := filepath.Glob(filepath.Join(e.h.Path(host.StateDir), "backups", "*"))
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	for _, p := range append([]string{e.h.Path(host.StateDir), filepath.Join(e.h.Path(host.StateDir), "backups"), filepath.Join(e.h.Path(host.StateDir), "state.json")}, backups...) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
}

// dlr runs programs only with fixed argument vectors: no call in its
// sources starts a shell (sh -c, bash -c) where a path or a value could be
// interpolated into a command line.
func TestNoShell(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	calls := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "e2e" || d.Name() == "tools" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir // test rigs and tools, not dlr
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "exec" || (sel.Sel.Name != "Command" && sel.Sel.Name != "CommandContext") {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "syscall" && (sel.Sel.Name == "Exec" || sel.Sel.Name == "ForkExec") {
					t.Errorf("%s: syscall.%s: use exec.Command with fixed arguments", fset.Position(call.Pos()), sel.Sel.Name)
				}
				return true
			}
			calls++
			for _, a := range call.Args {
				lit, ok := a.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				s, _ := strconv.Unquote(lit.Value)
				switch filepath.Base(s) {
				case "sh", "bash", "dash", "zsh", "-c":
					t.Errorf("%s: exec.%s with %q: a shell command line", fset.Position(call.Pos()), sel.Sel.Name, s)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Fatal("found no exec.Command call at all: the scan is broken")
	}
	t.Logf("%d exec.Command calls, none through a shell", calls)
}
