// Command size prints the shape of the code: the non-test lines of Go per
// package, and the largest functions. It is how the project measures that
// cmd/dlr stays the CLI only and no function grows past about 80 lines.
//
//	go run ./tools/size [-top N] [DIR]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	top := flag.Int("top", 15, "how many of the largest functions to list")
	flag.Parse()
	root := "."
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	lines := map[string]int{}
	type fn struct {
		name  string
		lines int
	}
	var fns []fn
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines[filepath.Dir(path)] += bytes.Count(src, []byte("\n"))
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if d, ok := decl.(*ast.FuncDecl); ok && d.Body != nil {
				name := d.Name.Name
				if d.Recv != nil && len(d.Recv.List) > 0 {
					name = recv(d.Recv.List[0].Type) + "." + name
				}
				n := fset.Position(d.End()).Line - fset.Position(d.Pos()).Line + 1
				fns = append(fns, fn{path + ":" + name, n})
			}
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "size:", err)
		os.Exit(1)
	}
	var dirs []string
	total := 0
	for d, n := range lines {
		dirs = append(dirs, d)
		total += n
	}
	sort.Strings(dirs)
	fmt.Println("non-test lines of Go per package:")
	for _, d := range dirs {
		fmt.Printf("  %6d  %s\n", lines[d], d)
	}
	fmt.Printf("  %6d  in all\n", total)
	sort.Slice(fns, func(i, j int) bool { return fns[i].lines > fns[j].lines })
	fmt.Printf("the %d largest functions (lines):\n", *top)
	for i := 0; i < *top && i < len(fns); i++ {
		fmt.Printf("  %4d  %s\n", fns[i].lines, fns[i].name)
	}
}

func recv(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recv(t.X)
	case *ast.Ident:
		return t.Name
	case *ast.IndexExpr:
		return recv(t.X)
	}
	return "?"
}
