package host

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 21, item 7: exec's Output waits for every holder of the stdout
// pipe, so a grandchild that keeps it stretched a 10 s bound (25 s seen).
// Output kills the child's process group when ctx ends, and WaitDelay
// bounds the wait for the pipe after the child itself has exited.
func TestOutputBoundedDespiteGrandchild(t *testing.T) {
	for _, script := range []string{
		"sleep 30 & echo started",       // the child exits, a grandchild holds stdout
		"sleep 30 & echo started; wait", // the child waits too: ctx ends it
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		start := time.Now()
		out, _ := Output(ctx, 1<<10, "sh", "-c", script)
		cancel()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%q: returned after %v; want about 1 s", script, d)
		}
		if !strings.Contains(string(out), "started") {
			t.Errorf("%q: output %q", script, out)
		}
	}
}

// KillChildren (dlr's signal handler calls it before exiting) ends every
// program dlr runs, and their children: SIGTERM used to leave a dpkg-deb
// blocked for ever on a FIFO given as a .deb.
func TestKillChildren(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		_, err := Output(context.Background(), 1<<10, "sh", "-c", "sleep 30; echo never")
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	KillChildren()
	select {
	case err := <-done:
		if err == nil {
			t.Error("the killed child ended without an error")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("KillChildren did not end the running child")
	}
}

// TestNoExecOutsideChild fails when production code starts a program
// without Command (vet-style, over every production file of the module).
func TestNoExecOutsideChild(t *testing.T) {
	root, _ := filepath.Abs("..")
	fset := token.NewFileSet()
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == "e2e" || rel == "tools" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || rel == "host/child.go" {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "exec" && (sel.Sel.Name == "Command" || sel.Sel.Name == "CommandContext") {
					t.Errorf("%s: exec.%s: start programs with host.Command/Output/CombinedOutput (own process group, killed with dlr, WaitDelay)", fset.Position(sel.Pos()), sel.Sel.Name)
				}
			}
			return true
		})
		return nil
	})
}
