package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// TestTrustAnchorStateServe runs hush serve with --trust-anchor-state
// against the signed simulated internet: the state file is written at
// start and, once hush has validated the root's keys from the DS anchor,
// holds the root KSK as VALID, and a restart reads it back.
func TestTrustAnchorStateServe(t *testing.T) {
	if testing.Short() {
		t.Skip("serves the simulated internet on sockets")
	}
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := n.Serve(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	hints, anchor := filepath.Join(dir, "root.hints"), filepath.Join(dir, "anchor.ds")
	state := filepath.Join(dir, "state", "root.state")
	if err := os.Mkdir(filepath.Dir(state), 0o755); err != nil {
		t.Fatal(err)
	}
	for file, text := range map[string]string{hints: n.RootHintsText(), anchor: n.TrustAnchorText()} {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := startHush(t, hints, srv.Port(), "--dnssec", "validate", "--trust-anchor", anchor, "--trust-anchor-state", state)
	if m := askServer(t, "hush", addr, "www.alg13.sec.", dns.TypeA, true); !m.AuthenticatedData {
		t.Fatalf("got %v, want a Secure answer", m)
	}
	text, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	ds := n.TrustAnchor()[0].(*dns.DS)
	tr := dnssec.NewTracker(&dnssec.Anchor{Zone: "."})
	if err := tr.LoadState(text); err != nil {
		t.Fatalf("LoadState: %v\n%s", err, text)
	}
	valid := 0
	for _, k := range tr.Keys() {
		if k.State == dnssec.Valid && k.Key.KeyTag() == ds.KeyTag {
			valid++
		}
	}
	if valid != 1 {
		t.Errorf("state file:\n%s\nwant the root KSK %d VALID", text, ds.KeyTag)
	}
	if entries, _ := os.ReadDir(filepath.Dir(state)); len(entries) != 1 {
		t.Errorf("state directory holds %d files, want the state alone (no temporary files left)", len(entries))
	}
	// A second hush starts from the file (no error, same answers).
	addr2 := startHush(t, hints, srv.Port(), "--dnssec", "validate", "--trust-anchor", anchor, "--trust-anchor-state", state)
	if m := askServer(t, "hush", addr2, "www.alg13.sec.", dns.TypeA, true); !m.AuthenticatedData {
		t.Fatalf("after a restart: got %v, want a Secure answer", m)
	}
}

func TestTrustAnchorStateErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.state")
	if err := os.WriteFile(bad, []byte("example. 0 IN A 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path, want string }{
		{"not a state file", bad, "want DNSKEY records"},
		{"unwritable directory", filepath.Join(dir, "missing", "root.state"), "trust-anchor-state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openAnchorState(tc.path, dnssec.RootAnchors(), os.Stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
