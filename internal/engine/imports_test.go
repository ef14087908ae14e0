package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/shoal-cdn/shoal/"

// The core packages are pure (doc.go): the same code runs under a real clock
// in internal/peer and in virtual time in the bench, so none of them may
// reach the network, the file system, a goroutine or the wall clock.
var corePackages = []string{"internal/engine", "internal/scheduler", "internal/player"}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Skipf("go list unavailable: %v", err)
	}
	return strings.Fields(string(out))
}

func TestCoreImports(t *testing.T) {
	forbidden := []string{"net", "net/http", "os"}
	for _, pkg := range corePackages {
		imports := goList(t, "-f", `{{join .Imports " "}}`, module+pkg)
		if len(imports) == 0 {
			t.Fatalf("%s: no imports listed", pkg) // the check itself would be broken
		}
		for _, f := range forbidden {
			if slices.Contains(imports, f) {
				t.Errorf("%s imports %s", pkg, f)
			}
		}
	}
}

// forbiddenTime are the time functions that read or wait on the wall clock.
var forbiddenTime = []string{"Now", "Since", "Until", "After", "AfterFunc", "NewTimer", "NewTicker", "Sleep", "Tick"}

func TestCoreIsPure(t *testing.T) {
	for _, pkg := range corePackages {
		dir := filepath.Join("..", "..", pkg)
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", dir, err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range checkPure(f) {
				t.Errorf("%s: %s", fset.Position(p.pos), p.what)
			}
		}
	}
}

type impurity struct {
	pos  token.Pos
	what string
}

// checkPure reports go statements and wall-clock calls on package time in f.
func checkPure(f *ast.File) []impurity {
	var out []impurity
	timeName := ""
	for _, imp := range f.Imports {
		if path, _ := strconv.Unquote(imp.Path.Value); path == "time" {
			timeName = "time"
			if imp.Name != nil {
				timeName = imp.Name.Name
			}
			if timeName == "." {
				out = append(out, impurity{imp.Pos(), "dot-import of time"})
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			out = append(out, impurity{n.Pos(), "go statement"})
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && timeName != "" && id.Name == timeName && slices.Contains(forbiddenTime, n.Sel.Name) {
				out = append(out, impurity{n.Pos(), "time." + n.Sel.Name})
			}
		}
		return true
	})
	return out
}

// The checker itself finds what it looks for.
func TestCheckPure(t *testing.T) {
	src := `package x
import clock "time"
func f() { go f(); _ = clock.Now(); clock.Sleep(1); _ = clock.Duration(0) }`
	f, err := parser.ParseFile(token.NewFileSet(), "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range checkPure(f) {
		got = append(got, p.what)
	}
	if want := []string{"go statement", "time.Now", "time.Sleep"}; !slices.Equal(got, want) {
		t.Errorf("checkPure = %v, want %v", got, want)
	}
}

// internal/peer is the viewer: it must not link in a package that serves
// HTTP or accepts WebSocket connections (the origin, the edge, the server,
// the tracker frontend) nor the tracker's own decisions (internal/swarm); it
// speaks the tracker protocol through internal/signalling. And the tracker
// side must not link in the viewer's scheduler.
func TestPeerDeps(t *testing.T) {
	deps := goList(t, "-deps", module+"internal/peer")
	if !slices.Contains(deps, module+"internal/engine") {
		t.Fatalf("go list -deps internal/peer lacks internal/engine: %v", deps)
	}
	forbidden := []string{
		module + "internal/origin",
		module + "internal/edge",
		module + "internal/server",
		module + "internal/tracker",
		module + "internal/swarm",
	}
	for _, f := range forbidden {
		if slices.Contains(deps, f) {
			t.Errorf("internal/peer depends on %s", strings.TrimPrefix(f, module))
		}
	}
	for _, pkg := range []string{"internal/tracker", "internal/swarm", "internal/signalling"} {
		for _, f := range []string{module + "internal/scheduler", module + "internal/engine", module + "internal/peer"} {
			if slices.Contains(goList(t, "-deps", module+pkg), f) {
				t.Errorf("%s depends on %s", pkg, strings.TrimPrefix(f, module))
			}
		}
	}
}
