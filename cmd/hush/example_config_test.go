package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestExampleConfig keeps packaging/hush.example.yaml, which make install
// puts in /etc/hush, in step with hush serve: as shipped (all comments)
// it loads and sets nothing; every setting appears in it, commented; and
// with every "#key:" line and its list items uncommented it still loads,
// so no key in it is unknown or misspelt.
func TestExampleConfig(t *testing.T) {
	const path = "../../packaging/hush.example.yaml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	settings := serveSettings()
	if raw, err := loadConfigFile(path, settings); err != nil || len(raw) != 0 {
		t.Fatalf("shipped example: got %d keys, error %v; want none", len(raw), err)
	}
	for _, s := range settings {
		if !strings.Contains(string(data), "\n#"+s.name+":") {
			t.Errorf("example config has no commented %q key", s.name)
		}
	}
	keyLine := regexp.MustCompile(`^#[a-z0-9-]+:`)
	itemLine := regexp.MustCompile(`^#  - `)
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if keyLine.MatchString(line) || itemLine.MatchString(line) {
			line = line[1:]
		}
		out = append(out, line)
	}
	uncommented := filepath.Join(t.TempDir(), "hush.yaml")
	if err := os.WriteFile(uncommented, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := loadConfigFile(uncommented, settings)
	if err != nil {
		t.Fatalf("uncommented example: %v", err)
	}
	if len(raw) != len(settings) {
		t.Errorf("uncommented example sets %d keys, want all %d", len(raw), len(settings))
	}
}
