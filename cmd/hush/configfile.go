package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// rawValue is one setting as the user wrote it, from the config file or a
// flag, before it is parsed and validated. Keeping the text and its origin
// lets every error name the flag or the file line it is about.
type rawValue struct {
	vals []string
	// lines are the config file lines of vals; nil for a flag.
	lines []int
	// keyLine is the config file line of the key.
	keyLine int
	// dir is the config file's directory: relative paths in the file
	// are relative to it. Empty for a flag.
	dir string
}

func (r rawValue) fromFlag() bool { return r.lines == nil }

// errorf reports that value i is bad: `--KEY "VAL": problem` for a flag
// and `config: KEY "VAL" (line N): problem` for the file.
func (r rawValue) errorf(key string, i int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if r.fromFlag() {
		return usageErrorf("--%s %q: %s", key, r.vals[i], msg)
	}
	return usageErrorf("config: %s %q (line %d): %s", key, r.vals[i], r.lines[i], msg)
}

// path resolves a file name: relative to the config file's directory when
// it came from the file, to the working directory when it came from a flag.
func (r rawValue) path(p string) string {
	if r.dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(r.dir, p)
}

// loadConfigFile reads a YAML config file into raw values, one per key.
// It rejects unknown and duplicate keys and values of the wrong shape
// (a list where one value belongs, a mapping anywhere), each with the key
// and line; it does not parse the values themselves (buildServeConfig
// does, the same way for the file and for flags).
//
// It walks the yaml.Node tree rather than decoding into a struct with
// Decoder.KnownFields(true): that is as strict, and it can name the key
// and its line in a message of our own instead of yaml's multi-line one.
func loadConfigFile(path string, settings []setting) (map[string]rawValue, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("config: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		// Most likely a file that was never written (or truncated): a
		// silent start with every default, on port 53, is not what its
		// author meant. A file of comments (the shipped example) is a
		// choice and sets nothing.
		return nil, usageErrorf("config: %s is empty: give it at least one key (see hush.example.yaml) or a comment, or leave out --config", path)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return map[string]rawValue{}, nil // comments only: sets nothing
	} else if err != nil {
		return nil, usageErrorf("config: %w%s", err, yamlHint(err, data))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, usageErrorf("config: only one YAML document is allowed (line %d)", extra.Line)
	}
	top := &doc
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	if isNull(top) {
		return map[string]rawValue{}, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, usageErrorf("config: want a mapping of keys to values (line %d)", top.Line)
	}

	byName := make(map[string]setting, len(settings))
	for _, s := range settings {
		byName[s.name] = s
	}
	dir := filepath.Dir(path)
	out := make(map[string]rawValue)
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], resolveAlias(top.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, usageErrorf("config: keys must be plain names (line %d)", k.Line)
		}
		s, ok := byName[k.Value]
		if !ok {
			if m := closestKey(k.Value, settings); m != "" {
				return nil, usageErrorf("config: unknown key %q (line %d); did you mean %q?", k.Value, k.Line, m)
			}
			return nil, usageErrorf("config: unknown key %q (line %d)", k.Value, k.Line)
		}
		if prev, dup := out[k.Value]; dup {
			return nil, usageErrorf("config: duplicate key %q (line %d, first on line %d)", k.Value, k.Line, prev.keyLine)
		}
		vals, lines, err := nodeValues(k, v, s.kind == listSetting)
		if err != nil {
			return nil, err
		}
		out[k.Value] = rawValue{vals: vals, lines: lines, keyLine: k.Line, dir: dir}
	}
	return out, nil
}

// nodeValues returns the text of a value node and the line of each value:
// one scalar, or for a list setting a sequence of scalars (a single scalar
// is a one-item list).
func nodeValues(k, v *yaml.Node, list bool) (vals []string, lines []int, err error) {
	switch {
	case isNull(v):
		return nil, nil, usageErrorf("config: %s (line %d): missing value", k.Value, k.Line)
	case v.Kind == yaml.ScalarNode:
		return []string{v.Value}, []int{v.Line}, nil
	case v.Kind == yaml.SequenceNode && list:
		if len(v.Content) == 0 {
			return nil, nil, usageErrorf("config: %s (line %d): empty list", k.Value, k.Line)
		}
		for _, item := range v.Content {
			item = resolveAlias(item)
			if item.Kind != yaml.ScalarNode || isNull(item) {
				return nil, nil, usageErrorf("config: %s (line %d): list items must be single values", k.Value, item.Line)
			}
			vals = append(vals, item.Value)
			lines = append(lines, item.Line)
		}
		return vals, lines, nil
	case list:
		return nil, nil, usageErrorf("config: %s (line %d): want a value or a list of values", k.Value, k.Line)
	}
	return nil, nil, usageErrorf("config: %s (line %d): want a single value", k.Value, k.Line)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// resolveAlias follows a YAML alias (*name) to the node its anchor marks.
func resolveAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// ipv6InFlow finds what an unquoted IPv6 address looks like where YAML
// reads it as a flow sequence or a mapping: [::1]:53, [fd00::/8], - ::1.
var ipv6InFlow = regexp.MustCompile(`\[[0-9A-Fa-f.]*::?[0-9A-Fa-f:./]*\]|[\[,]\s*:[0-9A-Fa-f:]`)

// yamlHint is what to add to a YAML syntax error when its likely cause is
// one people meet often: a tab in the indentation, or an unquoted IPv6
// address, whose brackets and colons are YAML syntax.
func yamlHint(err error, data []byte) string {
	msg := err.Error()
	switch {
	case bytes.ContainsRune(data, '\t') && (strings.Contains(msg, "tab character") || strings.Contains(msg, "cannot start any token")):
		return " (YAML indents with spaces, not tabs)"
	case strings.Contains(msg, "did not find expected") && ipv6InFlow.Match(data):
		return ` (quote IPv6 addresses: "[::1]:53", "fd00::/8")`
	}
	return ""
}

// closestKey returns the setting name k most likely meant: the same name
// with underscores or capitals (cache_size), or one within two edits of
// it (cach-size); "" when none is close.
func closestKey(k string, settings []setting) string {
	norm := strings.ReplaceAll(strings.ToLower(k), "_", "-")
	best, bestD := "", 3
	for _, s := range settings {
		if s.name == norm {
			return s.name
		}
		if d := editDistance(norm, s.name); d < bestD {
			best, bestD = s.name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
