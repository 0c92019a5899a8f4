package tapestry

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "tapestry/"

// dataPlane packages move packets; they never reach up into the control
// plane, the API or the CLI (docs/architecture.md, "Layers").
var dataPlane = []string{"packet", "flow", "classifier", "flowcache", "ofproto", "link", "route", "neigh", "netstack", "netfilter", "conntrack"}

// above are the packages the data plane must not import, even indirectly.
var above = []string{"api", "daemon", "cmd", "cloud", "controller", "lua"}

// cliForbidden are the packages a CLI subcommand file must not import: the
// CLI talks to the daemon only through the API client.
var cliForbidden = append([]string{"daemon", "store"}, dataPlane[2:]...)

// imports returns, for every package directory in the module, its direct
// imports of other module packages (non-test files only), and per file for cmd.
func imports(t *testing.T) (pkgs map[string]map[string]bool, files map[string][]string) {
	pkgs = map[string]map[string]bool{}
	files = map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if pkgs[dir] == nil {
			pkgs[dir] = map[string]bool{}
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(p, module) {
				dep := strings.TrimPrefix(p, module)
				pkgs[dir][dep] = true
				files[filepath.ToSlash(path)] = append(files[filepath.ToSlash(path)], dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs, files
}

func under(pkg string, roots []string) bool {
	for _, r := range roots {
		if pkg == r || strings.HasPrefix(pkg, r+"/") {
			return true
		}
	}
	return false
}

func TestDataPlaneDoesNotImportUpward(t *testing.T) {
	pkgs, _ := imports(t)
	for pkg := range pkgs {
		if !under(pkg, dataPlane) {
			continue
		}
		// Walk the transitive closure of pkg's imports.
		seen := map[string]bool{}
		stack := []string{pkg}
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for dep := range pkgs[p] {
				if seen[dep] {
					continue
				}
				seen[dep] = true
				if under(dep, above) {
					t.Errorf("data-plane package %s imports %s (via %s)", pkg, dep, p)
				}
				stack = append(stack, dep)
			}
		}
	}
}

func TestCLIUsesOnlyTheAPI(t *testing.T) {
	_, files := imports(t)
	for file, deps := range files {
		if !strings.HasPrefix(file, "cmd/") {
			continue
		}
		// The daemon subcommand is the one place the binary starts the daemon.
		if filepath.Base(file) == "daemon.go" {
			continue
		}
		for _, dep := range deps {
			if under(dep, cliForbidden) {
				t.Errorf("%s imports %s; CLI commands reach the daemon only through the api client", file, dep)
			}
		}
	}
}
