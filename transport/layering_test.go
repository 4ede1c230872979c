package transport

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayering keeps the dependency rules of DESIGN.md: transport imports nothing else of
// zkv, and frame stays a plain codec that does not know QUIC.
func TestLayering(t *testing.T) {
	rules := []struct {
		dir    string
		forbid func(path string) bool
		why    string
	}{
		{".", func(p string) bool {
			return strings.HasPrefix(p, "github.com/zkvlabs/zkv/") && p != "github.com/zkvlabs/zkv/transport/frame"
		}, "transport is a leaf: it imports no other zkv package"},
		{"frame", func(p string) bool {
			return strings.HasPrefix(p, "github.com/zkvlabs/zkv/") || strings.HasPrefix(p, "github.com/quic-go/") || strings.HasPrefix(p, "github.com/prometheus/")
		}, "frame works on any io.Reader or io.Writer"},
	}
	for _, r := range rules {
		files, err := filepath.Glob(filepath.Join(r.dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			checked++
			ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range ast.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if r.forbid(p) {
					t.Errorf("%s imports %s: %s", f, p, r.why)
				}
			}
		}
		if checked == 0 {
			t.Errorf("no Go files found in %s", r.dir)
		}
	}
}
