package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoTesting guards what hush links: hush demo runs the
// simulated internet of resolver/resolvertest, which must therefore not
// import package testing (or anything under testing/), or every hush binary
// would carry the test framework. go list -deps of a main package lists
// what the binary links, not the test dependencies.
func TestBinaryLinksNoTesting(t *testing.T) {
	// go test puts GOROOT/bin first in the PATH of the test binary.
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", ".").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list -deps: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list -deps: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) == 0 || pkgs[len(pkgs)-1] != "github.com/hush-dns/hush/cmd/hush" {
		t.Fatalf("go list -deps . does not end with cmd/hush: %q", pkgs)
	}
	for _, p := range pkgs {
		if p == "testing" || strings.HasPrefix(p, "testing/") {
			t.Errorf("cmd/hush links %s (find the importer with: go list -deps -f '{{.ImportPath}} {{.Imports}}' ./cmd/hush | grep -w %s)", p, p)
		}
	}
}
