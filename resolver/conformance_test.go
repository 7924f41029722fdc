package resolver_test

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hush-dns/hush/resolver/resolvertest/rpl"
)

// The conformance lists, one scenario per line, "#" comments allowed:
//
//   - passing.txt names the scenarios that pass in lenient mode; make test
//     fails when one of them stops passing.
//   - skip.txt holds "pattern: reason" lines; scenarios whose file name
//     matches the pattern (path.Match syntax) are not played and count as
//     skipped.
//   - failing.txt holds "name: reason" lines for the scenarios that fail
//     today, so that every failure has its reason written down.
//
// HUSH_CONFORMANCE_UPDATE=1 (make conformance-update) rewrites
// passing.txt from a lenient run and failing.txt to match it, keeping the
// reasons already written.
const (
	passingList = "testdata/conformance/passing.txt"
	skipList    = "testdata/conformance/skip.txt"
	failingList = "testdata/conformance/failing.txt"
)

// rplDir is where the scenarios are: $HUSH_RPL_DIR, or shared/deckard-rpl
// beside the checkout.
func rplDir() string {
	if d := os.Getenv("HUSH_RPL_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "deckard-rpl")
}

// outcome is what playing one scenario gave.
type outcome struct {
	name    string
	status  string // "pass", "fail" or "skip"
	step    int
	reason  string
	detail  string   // the whole reason and the unanswered queries
	ignored []string // config keys the factory does not know
}

// TestConformance plays the Deckard scenarios against hush.
//
// Without HUSH_CONFORMANCE (make test) it plays them in lenient mode and
// fails only when a scenario on passing.txt no longer passes. With
// HUSH_CONFORMANCE=1 (make conformance), or strict for Deckard's strict
// mode, it also prints one line per failing or skipped scenario and the
// summary line "rpl: N passed, M failed, K skipped". HUSH_RPL_RUN=regexp
// plays only the matching scenarios; HUSH_RPL_VERBOSE=1 prints the whole
// reason and the queries the scenario left unanswered.
func TestConformance(t *testing.T) {
	mode := os.Getenv("HUSH_CONFORMANCE")
	strict := mode == "strict"
	update := os.Getenv("HUSH_CONFORMANCE_UPDATE") != ""
	verbose := os.Getenv("HUSH_RPL_VERBOSE") != ""
	dir := rplDir()
	files, err := filepath.Glob(filepath.Join(dir, "*.rpl"))
	if err != nil || len(files) == 0 {
		if mode != "" || update {
			abs, _ := filepath.Abs(dir)
			t.Fatalf("no Deckard scenarios (*.rpl) in %s: set HUSH_RPL_DIR to a copy of Deckard's sets/resolver (a path relative to resolver/, or absolute)", abs)
		}
		t.Skipf("conformance suite not run: no Deckard scenarios (*.rpl) in %s; set HUSH_RPL_DIR to a copy of Deckard's sets/resolver", dir)
	}
	sort.Strings(files)
	var filter *regexp.Regexp
	if f := os.Getenv("HUSH_RPL_RUN"); f != "" {
		if update {
			t.Fatal("HUSH_CONFORMANCE_UPDATE needs every scenario: unset HUSH_RPL_RUN")
		}
		filter = regexp.MustCompile(f)
	}
	passing := readList(t, passingList)
	skips := readList(t, skipList)
	failing := readList(t, failingList)

	var todo []string
	for _, p := range files {
		if filter == nil || filter.MatchString(filepath.Base(p)) {
			todo = append(todo, p)
		}
	}
	outs := make([]outcome, len(todo))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				outs[i] = playOne(t, todo[i], skips, strict)
			}
		})
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	if !strict && !update {
		// A scenario that passed before and fails in the parallel run
		// is played again on its own, twice at most: on a loaded
		// machine (-race, other packages' tests) real-time waits such
		// as the server RTO can expire where the scenario did not mean
		// them to. A real regression fails every time; a flake is
		// logged, so that it can be chased rather than hidden.
		for i, o := range outs {
			if _, ok := passing[o.name]; !ok || o.status == "pass" || o.status == "skip" {
				continue
			}
			for range 2 {
				if again := playOne(t, todo[i], skips, strict); again.status == "pass" {
					t.Logf("flaky: %s failed in the parallel run (step %d: %s) and passed alone", o.name, o.step, o.reason)
					outs[i] = again
					break
				}
			}
		}
	}

	var passed, failed, skipped int
	ignored := map[string]int{}
	for _, o := range outs {
		for _, k := range o.ignored {
			ignored[k]++
		}
		var line string
		switch o.status {
		case "pass":
			passed++
		case "skip":
			skipped++
			line = fmt.Sprintf("rpl: SKIP %s: %s", o.name, o.reason)
		default:
			failed++
			line = fmt.Sprintf("rpl: FAIL %s step %d: %s", o.name, o.step, o.reason)
		}
		if mode != "" && line != "" {
			fmt.Println(line)
			if verbose {
				fmt.Println(o.detail)
			}
		}
		if strict {
			continue // passing.txt is about lenient mode
		}
		_, wasPassing := passing[o.name]
		_, listedFailing := failing[o.name]
		switch {
		case o.status != "pass" && wasPassing && !update:
			t.Errorf("%s passed before (%s) and now does not: %s", o.name, passingList, strings.TrimPrefix(line, "rpl: "))
		case o.status == "pass" && !wasPassing:
			t.Logf("%s passes now: add it to %s (make conformance-update)", o.name, passingList)
		case o.status == "fail" && !listedFailing:
			t.Logf("%s fails and %s gives no reason: %s", o.name, failingList, o.reason)
		}
	}
	if len(ignored) > 0 {
		keys := make([]string, 0, len(ignored))
		for k, n := range ignored {
			keys = append(keys, fmt.Sprintf("%s×%d", k, n))
		}
		sort.Strings(keys)
		msg := "config keys ignored: " + strings.Join(keys, ", ")
		if mode != "" {
			fmt.Println("rpl: " + msg)
		}
		t.Log(msg)
	}
	summary := fmt.Sprintf("rpl: %d passed, %d failed, %d skipped", passed, failed, skipped)
	if mode != "" {
		fmt.Println(summary)
	}
	t.Log(summary)
	if update {
		writeLists(t, outs, failing)
	}
}

// playOne plays the scenario at p, unless skip.txt skips it.
func playOne(t *testing.T, p string, skips map[string]string, strict bool) outcome {
	name := filepath.Base(p)
	if reason, ok := skipReason(name, skips); ok {
		return outcome{name: name, status: "skip", reason: reason}
	}
	s, err := rpl.ParseFile(p)
	if err != nil {
		return outcome{name: name, status: "fail", reason: "parse: " + err.Error()}
	}
	o := outcome{name: name, ignored: ignoredKeys(s)}
	r := rpl.Play(t.Context(), s, rplFactory, strict)
	switch {
	case r.Passed:
		o.status = "pass"
	case r.Skipped:
		o.status = "skip"
	default:
		o.status = "fail"
	}
	o.step, o.reason = r.Step, firstLine(r.Reason)
	o.detail = "rpl:   " + strings.ReplaceAll(strings.TrimSpace(r.Reason), "\n", "\nrpl:   ")
	for _, u := range r.Unmatched {
		o.detail += "\nrpl:   unanswered: " + u
	}
	return o
}

func skipReason(name string, skips map[string]string) (string, bool) {
	for pat, reason := range skips {
		if ok, _ := path.Match(pat, name); ok {
			return reason, true
		}
	}
	return "", false
}

// readList reads one of the conformance lists: name (or pattern), then
// optionally ": reason".
func readList(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("conformance list: %v", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, _ := strings.Cut(line, ":")
		out[strings.TrimSpace(name)] = strings.TrimSpace(reason)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("conformance list %s: %v", file, err)
	}
	return out
}

// writeLists rewrites passing.txt and failing.txt from a lenient run of
// every scenario. A failure keeps the reason failing.txt gave it; a new
// one gets the player's, marked for a person to explain.
func writeLists(t *testing.T, outs []outcome, failing map[string]string) {
	t.Helper()
	var pass, fail []string
	for _, o := range outs {
		switch o.status {
		case "pass":
			pass = append(pass, o.name)
		case "fail":
			reason := failing[o.name]
			if reason == "" {
				reason = "UNEXPLAINED: step " + fmt.Sprint(o.step) + ": " + o.reason
			}
			fail = append(fail, o.name+": "+reason)
		}
	}
	head := func(file string) string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var h []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "#") {
				break
			}
			h = append(h, l)
		}
		return strings.Join(h, "\n") + "\n"
	}
	slices.Sort(pass)
	slices.Sort(fail)
	for file, lines := range map[string][]string{passingList: pass, failingList: fail} {
		body := head(file) + strings.Join(lines, "\n") + "\n"
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatalf("conformance update: %v", err)
		}
	}
	t.Logf("wrote %s (%d) and %s (%d)", passingList, len(pass), failingList, len(fail))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
