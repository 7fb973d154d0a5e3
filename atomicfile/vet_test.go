package atomicfile

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// allowed are the production calls that read, write, rename or remove a
// file without this package's guards, each with the reason it cannot use
// them. Keys are "file: pkg.Func".
var allowed = map[string]string{
	"sysctl/proc.go: os.OpenFile":  "writes a kernel setting under /proc/sys: procfs names no user can own, swap or make a FIFO",
	"host/edges.go: os.MkdirTemp":  "a private directory (0700, a random name created exclusively) for dockerd --validate's candidate file",
	"host/edges.go: os.RemoveAll":  "removes that private directory; os.RemoveAll walks with unlinkat and never follows a symlink",
	"buffers/fifo.go: unix.Openat": "opens containers' log FIFOs on purpose (O_NONBLOCK|O_NOFOLLOW, relative to a directory handle)",
	"buffers/fifo.go: unix.Open":   "the O_PATH directory handle those FIFOs are opened relative to",
	"buffers/scan.go: unix.Open":   "lists containerd's exec root (O_DIRECTORY: nothing is read from a file)",
	"buffers/scan.go: unix.Openat": "lists a container's directory in it (O_DIRECTORY|O_NOFOLLOW)",
	"host/netns.go: unix.Open":     "a container's network namespace, opened for setns, never read",
}

// fileCalls are the calls that reach a file by path: a read (only
// ReadFile/OpenRead may), or a write, rename or removal (only a Dir may).
var fileCalls = map[string]map[string]bool{
	"os": set("ReadFile", "Open", "OpenFile", "WriteFile", "Create", "CreateTemp", "MkdirTemp",
		"Rename", "Remove", "RemoveAll", "Mkdir", "MkdirAll", "Symlink", "Link", "Chmod", "Chown",
		"Lchown", "Chtimes", "Truncate", "OpenRoot", "OpenInRoot"),
	"io/ioutil": set("ReadFile", "WriteFile", "TempFile", "TempDir"),
	"syscall": set("Open", "Openat", "Creat", "Unlink", "Unlinkat", "Rename", "Renameat", "Mkdir", "Mkdirat",
		"Rmdir", "Symlink", "Link", "Chmod", "Chown", "Truncate"),
	"golang.org/x/sys/unix": set("Open", "Openat", "Openat2", "Creat", "Unlink", "Unlinkat", "Rename", "Renameat",
		"Renameat2", "Mkdir", "Mkdirat", "Rmdir", "Symlink", "Symlinkat", "Link", "Linkat", "Chmod", "Fchmodat",
		"Chown", "Fchownat", "Truncate"),
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// TestNoFileAccessOutsideGuards parses every production Go file of the
// module (not tests, not e2e/ and tools/, which are not in the binary) and
// fails on any call in fileCalls outside this package, unless allowed
// says why: every read goes through ReadFile/OpenRead, every write, rename
// and removal through a Dir (issue 21).
func TestNoFileAccessOutsideGuards(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var bad []string
	used := map[string]bool{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			switch {
			case rel == "e2e", rel == "tools", rel == "atomicfile", strings.HasPrefix(d.Name(), "."), d.Name() == "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		names := map[string]string{} // local name -> import path
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			if _, ok := fileCalls[path]; !ok {
				continue
			}
			name := filepath.Base(path)
			if im.Name != nil {
				name = im.Name.Name
			}
			names[name] = path
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			path, ok := names[id.Name]
			if !ok || !fileCalls[path][sel.Sel.Name] {
				return true
			}
			key := rel + ": " + filepath.Base(path) + "." + sel.Sel.Name
			if _, ok := allowed[key]; ok {
				used[key] = true
				return true
			}
			bad = append(bad, fset.Position(sel.Pos()).String()+": "+filepath.Base(path)+"."+sel.Sel.Name)
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Errorf("%s: read files with atomicfile.ReadFile/OpenRead, and write, rename or remove them through an atomicfile.Dir (or add the call to allowed in atomicfile/vet_test.go with the reason it cannot)", b)
	}
	for k := range allowed {
		if !used[k] {
			t.Errorf("allowed lists %q, which no production file calls any more: remove it", k)
		}
	}
}
