package resolver_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoLoggingDependencies makes "no query log" a property of the build:
// the packages that see query names and answers cannot log, serve HTTP or
// reach the transport layer, not even indirectly.
func TestNoLoggingDependencies(t *testing.T) {
	forbidden := []string{"log", "log/slog", "net/http", "github.com/hush-dns/hush/transport"}
	for _, pkg := range []string{"github.com/hush-dns/hush/resolver", "github.com/hush-dns/hush/cache", "github.com/hush-dns/hush/dnssec"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			deps[d] = true
		}
		for _, f := range forbidden {
			if deps[f] {
				t.Errorf("%s depends on %s", pkg, f)
			}
		}
	}
}

// TestPackageDocs checks every package says what it is for.
func TestPackageDocs(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Doc}}", "github.com/hush-dns/hush/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, doc, _ := strings.Cut(line, "\t")
		if strings.TrimSpace(doc) == "" {
			t.Errorf("package %s has no doc comment", path)
		}
	}
}
