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

.PHONY: build run test vulncheck bench fuzz conformance conformance-update clean cross size-check router-tags router-mips-tags install soak

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
	@# TestConformance skips quietly without the Deckard scenarios: say so.
	@(cd resolver && ls "$${HUSH_RPL_DIR:-../../shared/deckard-rpl}"/*.rpl >/dev/null 2>&1) || \
		echo "make test: conformance suite skipped: no Deckard scenarios (*.rpl) in $${HUSH_RPL_DIR:-../shared/deckard-rpl}; set HUSH_RPL_DIR (relative to resolver/) to a copy of Deckard's sets/resolver"
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

# The soak test (issue 13): bin/hush, as a process of its own, in front of
# the simulated internet on loopback sockets, flooded for SOAK_SECONDS
# (60) with SOAK_QPS (2000) random names a second under a zone whose
# servers answer after SOAK_DELAY (800ms), while SOAK_IDLE_CONNS (1100)
# slow TCP connections from 40 addresses hold more than --max-connections
# and reopen when closed, and a second client asks cached names. Prints
# that client's latency (p50, p99) and loss, and hush's RSS, goroutines,
# threads and file descriptors; fails if memory or goroutines kept
# growing. Then TestSoakServeStale: 100 cached names whose TTL has
# passed and whose server drops every query, asked 1,000 times, 50 at a
# time: how many are answered (stale) and how fast. Loopback only; it
# stops by itself.
soak: build
	HUSH_SOAK=1 HUSH_BIN=$(CURDIR)/bin/hush $(GO) test -count=1 -v -timeout 30m -run '^TestSoak' ./cmd/hush/

# Plays the Deckard scenarios (../shared/deckard-rpl, or $$HUSH_RPL_DIR)
# against hush: one line per failing scenario, then
# "rpl: N passed, M failed, K skipped". HUSH_CONFORMANCE=strict for
# Deckard's strict mode; HUSH_RPL_RUN=regexp plays only the matching
# scenarios and HUSH_RPL_VERBOSE=1 shows whole reasons and unanswered
# upstream queries. make test plays them too, in lenient mode, and fails
# when a scenario in resolver/testdata/conformance/passing.txt fails.
HUSH_CONFORMANCE ?= 1
# Without the scenarios (a fresh clone) it says so and why, rather than
# failing with a bare make error.
conformance:
	@out="$$(HUSH_CONFORMANCE=$(HUSH_CONFORMANCE) $(GO) test -count=1 -v -run '^TestConformance$$' ./resolver/ 2>&1)"; \
	if printf '%s\n' "$$out" | grep -E '^rpl:'; then exit 0; fi; \
	echo "make conformance: the suite did not run:"; \
	printf '%s\n' "$$out" | grep -vE '^(=== RUN|--- FAIL|FAIL|PASS|ok)' | sed -E 's/^[[:space:]]+//'; \
	exit 1

# Rewrites resolver/testdata/conformance/passing.txt and failing.txt from a
# lenient run (reasons already written in failing.txt are kept).
conformance-update:
	HUSH_CONFORMANCE_UPDATE=1 $(GO) test -count=1 -run '^TestConformance$$' ./resolver/

# Router and server builds: static (no cgo), stripped (-s -w), without
# build paths (-trimpath), version stamped. Each entry is
# NAME:GOARCH:GOARM-or-GOMIPS:PROFILE; MIPS routers rarely have an FPU,
# so the MIPS builds use soft float. Sizes are printed; `make size-check`
# holds them to the budgets in packaging/size-check.sh.
# PROFILE router is what the OpenWRT package ships: ROUTER_TAGS leave out
# hush demo (nodemo), client_golang (litemetrics: the same hush_* metrics
# from a small registry of hush's own) and quic-go (noquic: no DNS over
# QUIC, no HTTP/3), and ROUTER_GCFLAGS turns inlining off (-l, 11% smaller
# and a little slower). PROFILE router-mips, for MIPS, whose code is 15%
# bigger, also leaves out net/http (nohttp: no DNS over HTTPS, no metrics
# listener; DoT remains). PROFILE full is the default build.
ROUTER_TAGS      ?= nodemo litemetrics noquic
ROUTER_MIPS_TAGS ?= $(ROUTER_TAGS) nohttp
ROUTER_GCFLAGS   ?= all=-l
CROSS_TARGETS    ?= mipsle:mipsle:softfloat:router-mips mips:mips:softfloat:router-mips armv7:arm:7:router armv6:arm:6:router arm64:arm64::router amd64:amd64::full
CROSS_LDFLAGS  := -s -w $(LDFLAGS)

cross:
	@mkdir -p bin/cross
	@set -e; for t in $(CROSS_TARGETS); do \
		name=$${t%%:*}; rest=$${t#*:}; arch=$${rest%%:*}; rest=$${rest#*:}; \
		variant=$${rest%%:*}; profile=$${rest#*:}; \
		out=bin/cross/hush-linux-$$name; tags=; gcflags=; \
		case $$profile in \
		router) tags="$(ROUTER_TAGS)"; gcflags="$(ROUTER_GCFLAGS)";; \
		router-mips) tags="$(ROUTER_MIPS_TAGS)"; gcflags="$(ROUTER_GCFLAGS)";; \
		esac; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$( [ $$arch = arm ] && echo $$variant ) \
			GOMIPS=$$( case $$arch in mips*) echo $$variant;; esac ) \
			$(GO) build -trimpath -tags "$$tags" -gcflags "$$gcflags" -ldflags "$(CROSS_LDFLAGS)" -o $$out ./cmd/hush; \
		printf '%-24s %10d bytes  (%s)\n' $$out $$(wc -c <$$out) $$profile; \
	done

# The tags of the router builds, for scripts (packaging/ci.bash tests the
# router builds under qemu with them).
router-tags:
	@echo $(ROUTER_TAGS)

router-mips-tags:
	@echo $(ROUTER_MIPS_TAGS)

size-check: cross
	packaging/size-check.sh bin/cross

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the systemd
# units (hush.service's ExecStart pointed at the installed binary, and the
# optional hush.socket), the
# systemd-resolved drop-in and the commented example config (also as
# SYSCONFDIR/hush/hush.yaml, the file the unit reads, unless that exists).
# It builds bin/hush only when there is none, so `make build` as yourself
# then `sudo make install` works without Go in root's PATH.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=

install:
	@[ -x bin/hush ] || $(MAKE) build
	install -D -m 0755 bin/hush $(DESTDIR)$(BINDIR)/hush
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local/bin/hush|$(BINDIR)/hush|' \
		-e 's|/etc/hush/hush.yaml|$(SYSCONFDIR)/hush/hush.yaml|' \
		packaging/systemd/hush.service >$(DESTDIR)$(UNITDIR)/hush.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/hush.service
	install -m 0644 packaging/systemd/hush.socket $(DESTDIR)$(UNITDIR)/hush.socket
	install -D -m 0644 packaging/systemd/resolved-hush.conf $(DESTDIR)$(DATADIR)/hush/resolved-hush.conf
	install -D -m 0644 packaging/hush.example.yaml $(DESTDIR)$(DATADIR)/hush/hush.example.yaml
	[ -e $(DESTDIR)$(SYSCONFDIR)/hush/hush.yaml ] || \
		install -D -m 0644 packaging/hush.example.yaml $(DESTDIR)$(SYSCONFDIR)/hush/hush.yaml

clean:
	rm -rf bin
