package swarm

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"testing"
)

// TestPure keeps the core free of I/O, goroutines and the wall clock, so a simulator
// can drive it deterministically: no net, net/http or os import, no go statement, no
// time.Now (time is always an argument).
func TestPure(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, banned := range []string{"net", "net/http", "os"} {
		if slices.Contains(pkg.Imports, banned) {
			t.Errorf("internal/swarm imports %s", banned)
		}
	}
	fset := token.NewFileSet()
	for _, name := range pkg.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(pkg.Dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s: go statement", fset.Position(n.Pos()))
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && id.Name == "time" && n.Sel.Name == "Now" {
					t.Errorf("%s: time.Now", fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
	if len(pkg.GoFiles) < 5 {
		t.Fatalf("only %d files scanned: %v", len(pkg.GoFiles), pkg.GoFiles)
	}
}
