package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/miekg/dns"
)

// anchorState ties an RFC 5011 tracker of the root anchor to its state
// file (--trust-anchor-state) and to the resolver whose anchors it moves.
type anchorState struct {
	path    string
	tracker *dnssec.Tracker
	base    *dnssec.Anchors // the configured anchors; the root's is replaced
	stderr  io.Writer

	mu sync.Mutex // guards r and the file
	r  *resolver.Resolver
}

// openAnchorState loads path, or starts it from the configured root
// anchor when it does not exist yet, and writes it back at once so that a
// file that cannot be written stops hush at start rather than silently
// years later.
func openAnchorState(path string, anchors *dnssec.Anchors, stderr io.Writer) (*anchorState, error) {
	root := anchors.Lookup(".")
	if root == nil {
		return nil, fmt.Errorf("trust-anchor-state %s: no root trust anchor to track", path)
	}
	s := &anchorState{path: path, tracker: dnssec.NewTracker(root), base: anchors, stderr: stderr}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := s.tracker.LoadState(data); err != nil {
			return nil, fmt.Errorf("trust-anchor-state %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("trust-anchor-state: %w", err)
	}
	if err := s.save(); err != nil {
		return nil, err
	}
	return s, nil
}

// anchors returns the configured anchors with the root's as tracked.
func (s *anchorState) anchors() *dnssec.Anchors { return s.base.With(s.tracker.Anchor()) }

// observer returns s.observe, or nil for a nil s (no tracking).
func (s *anchorState) observer() func(string, []dns.RR, time.Time) {
	if s == nil {
		return nil
	}
	return s.observe
}

// attach makes s move r's anchors from now on; a nil s does nothing.
func (s *anchorState) attach(r *resolver.Resolver) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.r = r
	s.mu.Unlock()
}

// observe is resolver.Config.OnAnchorKeys: a root key set validated from
// the tracked anchor moves the tracker on; a change is saved and handed
// to the resolver. A failed save is reported and retried on the next
// change: the tracked state in memory stays right meanwhile.
func (s *anchorState) observe(zone string, answer []dns.RR, now time.Time) {
	if zone != "." || !s.tracker.Update(answer, now) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.save(); err != nil {
		fmt.Fprintf(s.stderr, "hush: %v\n", err)
	}
	if s.r != nil {
		s.r.SetTrustAnchors(s.anchors())
	}
}

// save writes the state to a temporary file in the same directory and
// renames it over path, so that a crash or a full disk never leaves a
// half-written state behind.
func (s *anchorState) save() error {
	text, err := s.tracker.MarshalText()
	if err != nil {
		return fmt.Errorf("trust-anchor-state: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(s.path), "."+filepath.Base(s.path)+".*")
	if err != nil {
		return fmt.Errorf("trust-anchor-state: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("trust-anchor-state: %w", err)
	}
	return nil
}
