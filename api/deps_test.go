package api

import (
	"context"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoTemporalImports: the API reaches Temporal only through Flows (the
// orchestration package), so none of its own files imports go.temporal.io.
func TestNoTemporalImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == "go.temporal.io" || strings.HasPrefix(path, "go.temporal.io/") {
				t.Errorf("%s imports %s; reach Temporal through Flows", name, path)
			}
		}
	}
}

// TestNewRefusesMissingParts: New names every required part it lacks.
func TestNewRefusesMissingParts(t *testing.T) {
	if _, err := New(Config{}, Deps{}); err == nil ||
		!strings.Contains(err.Error(), "Store") || !strings.Contains(err.Error(), "Flows") || !strings.Contains(err.Error(), "Sender") {
		t.Fatalf("New without parts: %v; want an error naming Store, Flows and Sender", err)
	}
	if _, err := New(Config{}, Deps{Store: stubStore{}, Flows: stubFlows{}}); err == nil || !strings.Contains(err.Error(), "Sender") {
		t.Fatalf("New without a Sender: %v; want an error naming it", err)
	}
	srv, err := New(Config{}, Deps{Store: stubStore{}, Flows: stubFlows{}, Sender: sendNothing{}})
	if err != nil || srv == nil {
		t.Fatalf("New with every part: %v", err)
	}
}

type sendNothing struct{}

func (sendNothing) Send(context.Context, string, string, string) error { return nil }
