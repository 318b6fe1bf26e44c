# sablebox — build, test, lint, regenerate, benchmark.
SHELL    := /bin/bash
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/sablebox/sablebox/pkg/version.Version=$(VERSION)
BIN      := bin/sablebox
IMAGE    := sablebox/sandbox:latest
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

.PHONY: all helper build test test-unprivileged unit fuzz lint lint-mod profiles bench demo deps prepare release test-release test-ci-examples clean

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

RELEASE  := bin/release
RELEASE_TAGS := $(TAGS),netgo,osusergo
release: helper ## versioned static binaries, the sandbox image as a tarball (docker save) and SHA256SUMS, in bin/release
	@rm -rf $(RELEASE) && mkdir -p $(RELEASE)
	@echo "==> sablebox $(VERSION) linux/amd64 (static)"
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 $(GO) build -tags $(RELEASE_TAGS) -trimpath \
		-ldflags "$(LDFLAGS) -s -w -linkmode external -extldflags -static" -o $(RELEASE)/sablebox-$(VERSION)-linux-amd64 ./cmd/sablebox
	@# arm64 needs an aarch64 C toolchain with libseccomp (.ci/prepare
	@# installs gcc-aarch64-linux-gnu and libseccomp-dev:arm64), and the
	@# stage helper built for arm64 in its place while it is embedded.
	@if command -v aarch64-linux-gnu-gcc >/dev/null && [ -f /usr/lib/aarch64-linux-gnu/libseccomp.a ]; then \
		echo "==> sablebox $(VERSION) linux/arm64 (static, cross-compiled)"; \
		CGO_ENABLED=0 GOARCH=arm64 GOFLAGS="-trimpath -buildvcs=false" $(GO) build -ldflags "-s -w" -o $(HELPER) ./cmd/sablebox-stage && \
		CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc PKG_CONFIG_PATH=/usr/lib/aarch64-linux-gnu/pkgconfig \
			$(GO) build -tags $(RELEASE_TAGS) -trimpath -ldflags "$(LDFLAGS) -s -w -linkmode external -extldflags -static" \
			-o $(RELEASE)/sablebox-$(VERSION)-linux-arm64 ./cmd/sablebox; rc=$$?; \
		$(HELPER_BUILD) -o $(HELPER) ./cmd/sablebox-stage; [ $$rc -eq 0 ]; \
	else \
		echo "linux/arm64: not built: no aarch64-linux-gnu-gcc with libseccomp:arm64 here (make prepare installs them)" | tee $(RELEASE)/NOTES.txt; \
	fi
	@echo "==> the sandbox image $(IMAGE) as a tarball"
	@docker image inspect $(IMAGE) >/dev/null 2>&1 || { echo "no image $(IMAGE) in Docker: run make prepare, or sablebox image build" >&2; exit 1; }
	docker save -o $(RELEASE)/sablebox-sandbox-image-$(VERSION).tar $(IMAGE) && chmod 0644 $(RELEASE)/sablebox-sandbox-image-$(VERSION).tar
	cd $(RELEASE) && sha256sum sablebox-* > SHA256SUMS && cat SHA256SUMS

test-release: ## install from bin/release into a fresh directory and run the demo (after make release)
	SABLEBOX_RELEASE_DIR=$(CURDIR)/$(RELEASE) $(GO) test -count=1 -timeout 10m -run '^TestReleaseInstalls$$' -v ./cmd/sablebox

test-ci-examples: build ## run the commands of examples/ci (scan, selftest --all, test) as a pipeline would
	SABLEBOX_CI_EXAMPLES=1 $(GO) test -count=1 -timeout 15m -run '^TestCIExamples$$' -v ./cmd/sablebox

prepare: ## install and start what sablebox needs (root)
	.ci/prepare

clean:
	rm -rf bin $(HELPER)
