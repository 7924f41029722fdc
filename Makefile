# hush build, test and benchmark targets. `make test` is what CI runs.

GO       ?= go
# The version hush version prints: git describe, or "dev" outside git or
# before the first commit.
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# The build time hush takes as the earliest plausible clock (see "Boot with
# a wrong clock" in README.md): the last commit's time, so that builds are
# reproducible; SOURCE_DATE_EPOCH wins when set.
BUILD_TIME ?= $(shell if [ -n "$$SOURCE_DATE_EPOCH" ]; then date -u -d "@$$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ; else TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null; fi)
LDFLAGS  := -X main.version=$(VERSION) -X main.buildTime=$(BUILD_TIME)
# How long each fuzz target runs under `make fuzz`.
FUZZTIME ?= 10s

.PHONY: build run test vulncheck bench fuzz conformance conformance-update clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/hush ./cmd/hush

# A resolver on dns://127.0.0.1:5300 using the built-in root hints: it
# sends queries to the real root servers and whatever they refer it to.
run: build
	./bin/hush serve --listen dns://127.0.0.1:5300

test:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l: these files need gofmt:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) test -race -count=1 ./...
	@# The 0-RTT tests skip under -race (quic-go#4303): run them plainly.
	$(GO) test -count=1 -run '0RTT|ZeroRTT' ./transport/ ./upstream/

# govulncheck (a tool in go.mod) on the module: a known vulnerability that
# hush's code reaches fails. Where the vulnerability database cannot be
# reached it prints "vulncheck: skipped, vulnerability database
# unreachable" and succeeds; any other error fails. CI runs it after test.
vulncheck:
	@GO=$(GO) .ci/vulncheck

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# Runs every fuzz target in the module for FUZZTIME each (go test -fuzz
# takes one target in one package at a time).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' "$$pkg" | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) "$$pkg"; \
		done; \
	done

# Plays the Deckard scenarios (../shared/deckard-rpl, or $$HUSH_RPL_DIR)
# against hush: one line per failing scenario, then
# "rpl: N passed, M failed, K skipped". HUSH_CONFORMANCE=strict for
# Deckard's strict mode; HUSH_RPL_RUN=regexp plays only the matching
# scenarios and HUSH_RPL_VERBOSE=1 shows whole reasons and unanswered
# upstream queries. make test plays them too, in lenient mode, and fails
# when a scenario in resolver/testdata/conformance/passing.txt fails.
HUSH_CONFORMANCE ?= 1
conformance:
	@HUSH_CONFORMANCE=$(HUSH_CONFORMANCE) $(GO) test -count=1 -v -run '^TestConformance$$' ./resolver/ | grep -E '^rpl:'

# Rewrites resolver/testdata/conformance/passing.txt and failing.txt from a
# lenient run (reasons already written in failing.txt are kept).
conformance-update:
	HUSH_CONFORMANCE_UPDATE=1 $(GO) test -count=1 -run '^TestConformance$$' ./resolver/

clean:
	rm -rf bin
