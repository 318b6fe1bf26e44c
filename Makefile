# sablebox — build, test, lint, regenerate, benchmark.
SHELL    := /bin/bash
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/sablebox/sablebox/pkg/version.Version=$(VERSION)
BIN      := bin/sablebox
PKGS     := ./...
# The Podman bindings need remote,exclude_graphdriver_btrfs,
# containers_image_openpgp; the process sandbox's seccomp layer needs
# seccomp (cgo and libseccomp-dev). Without them sablebox still builds, and
# those parts report themselves unavailable.
TAGS     := remote,exclude_graphdriver_btrfs,containers_image_openpgp,seccomp
export GOFLAGS := $(strip $(GOFLAGS) -tags=$(TAGS))
# The process sandbox's stage helper, which sablebox embeds: static,
# stripped and reproducible (TestEmbeddedHelperIsCurrent rebuilds it with
# the same line and compares).
HELPER   := pkg/sandbox/process/helper/sablebox-stage
HELPER_BUILD := CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" $(GO) build -ldflags "-s -w"

.PHONY: all helper build test test-unprivileged unit fuzz lint lint-mod profiles bench demo deps prepare clean

all: build

helper: ## build the process sandbox's stage helper that sablebox embeds
	$(HELPER_BUILD) -o $(HELPER) ./cmd/sablebox-stage

build: helper ## build bin/sablebox (needs libseccomp-dev: make deps)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/sablebox

test: build ## all tests; integration tests skip without an engine unless SABLEBOX_REQUIRE names it
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	@# On CI only (a machine .ci/prepare set up), and alone: it restarts dockerd.
	@if [ "$$CI" = true ]; then SABLEBOX_DOCKERD_RESTART=1 $(GO) test -race -count=1 -run TestPoolRefillsAfterADaemonRestart ./pkg/pool; fi

UNPRIVILEGED ?= 65534
test-unprivileged: build ## the process sandbox's suite and the containment battery again, as an unprivileged user (run as root)
	@dir=$$(mktemp -d /tmp/sablebox-unpriv-XXXXXX); trap 'rm -rf "$$dir"' EXIT; chmod 755 "$$dir"; \
	$(GO) test -c -o "$$dir/process.test" ./pkg/sandbox/process && cp $(BIN) "$$dir/sablebox" && \
	cd /tmp && setpriv --reuid=$(UNPRIVILEGED) --regid=$(UNPRIVILEGED) --clear-groups \
		env -i PATH=/usr/bin:/bin HOME=/tmp TMPDIR=/tmp SABLEBOX_REQUIRE=$(SABLEBOX_REQUIRE) \
		"$$dir/process.test" -test.count=1 -test.timeout=10m -test.v | grep -E '^(--- |=== NAME|PASS|FAIL|ok)|SKIP|suite.go|_test.go' ; \
	rc=$${PIPESTATUS[0]}; [ $$rc -eq 0 ] || exit $$rc; \
	echo "==> the containment battery on the process sandbox, as uid $(UNPRIVILEGED)"; \
	setpriv --reuid=$(UNPRIVILEGED) --regid=$(UNPRIVILEGED) --clear-groups \
		env -i PATH=/usr/bin:/bin HOME=/tmp TMPDIR=/tmp "$$dir/sablebox" selftest --runtime process

FUZZTIME ?= 1m
FUZZ     := FuzzScanPython FuzzScanShell
fuzz: ## the static-analysis gate's fuzz targets, $(FUZZTIME) each (CI: make fuzz FUZZTIME=5s)
	@for f in $(FUZZ); do echo "==> $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./pkg/analysis || exit 1; done

unit: helper ## tests that need no engine
	$(GO) test -short -count=1 $(PKGS)

lint: lint-mod ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l cmd pkg profiles sandbox-image); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

lint-mod: ## go.mod and go.sum are tidy
	$(GO) mod tidy -diff

profiles: ## regenerate profiles/ and the syscall table from the Go policy and libseccomp
	$(GO) run ./pkg/internal/syscalltable pkg/seccomp/table.go
	for p in default python strict; do $(GO) run ./cmd/sablebox seccomp show $$p > profiles/$$p.json || exit 1; done
	$(GO) test ./pkg/sandbox/process -run TestDefaultBPFIsFresh -count=1 -args -update-bpf

bench: build ## sablebox run vs the plain engine lines (medians, ratios), the warm pool (hits via the library, the CLI and serve; the static-analysis gate's share; sustained load), then sablebox serve under load (runs/s, p50/p99, peak RSS, a flood)
	$(GO) test -run '^$$' -bench . -benchtime 1x -count=1 ./cmd/sablebox/ -args -compare-runs=$${RUNS:-20}

demo: deps build ## run a real tool in the best sandbox here (no engine needed: the process sandbox)
	$(BIN) run --workspace examples/data examples/wordcount.py < /dev/null

deps: ## the C library the build needs (libseccomp); installs it when missing and root
	@pkg-config --exists libseccomp 2>/dev/null || dpkg -s libseccomp-dev >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp-dev >/dev/null; \
		else echo "install libseccomp-dev (sudo apt-get install libseccomp-dev), then run make again" >&2; exit 1; fi; }

prepare: ## install and start what sablebox needs (root)
	.ci/prepare

clean:
	rm -rf bin $(HELPER)
