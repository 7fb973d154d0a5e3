# docker-liverestore. `make demo` and `make test` set up everything they need
# on a fresh Debian/Ubuntu machine (as root): see README.md.

SHELL := /bin/bash
GO ?= go
# dlr's version: the release in the file VERSION, and after it how far
# this checkout is from that release (packaging/version.sh). `dlr version`,
# the packages and the repository all carry it.
VERSION ?= $(shell packaging/version.sh)
LDFLAGS := -s -w -X main.version=$(VERSION)
export CGO_ENABLED ?= 0
export DLR_CORPUS_DIR ?= $(abspath ../shared/corpus/daemon-json)
FUZZTIME ?= 10s
APT_PACKAGES := debootstrap systemd-container dbus prometheus

.PHONY: all build deps test unit fuzz-short fuzz e2e demo clean

all: build

# Further targets live in mk/*.mk (packaging, benchmarks, crash tests); a
# file there adds a target to `make test` with EXTRA_TESTS += target.
EXTRA_TESTS :=
-include mk/*.mk

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/dlr ./cmd/dlr

# deps installs the host tools the tests use: debootstrap and systemd-nspawn
# for the real-systemd rig, dbus-daemon for the D-Bus unit tests, and
# Debian's prometheus for its promtool, the real parser dlr metrics is
# checked with.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# unit runs the fast tests: fakes, temp dirs and a private dbus-daemon.
unit: deps
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

# fuzz-short runs each fuzz target briefly (FUZZTIME); `make fuzz
# FUZZTIME=10m` is the long run.
FUZZ_TARGETS := ./daemonjson:FuzzSet ./guard:FuzzDiff ./engine:FuzzReadResponse
fuzz-short fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
	done

# e2e boots Debian bookworm (Docker 20.10), trixie (Docker 26.1) and forky
# (Docker 28.5) with a real systemd under systemd-nspawn and runs dlr in
# them; TestUpgradeMatrix runs one scenario of the upgrade matrix there
# (`make matrix` runs them all: mk/matrix.mk).
e2e: deps build
	$(GO) test -tags e2e -count=1 -timeout 75m -v ./e2e/... 2>&1 | tee .e2e.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|    )' ; exit $${PIPESTATUS[0]}

test: unit fuzz-short e2e $(EXTRA_TESTS)

demo: deps build
	$(GO) test -tags e2e -count=1 -timeout 20m -v -run 'TestDemo' ./e2e/

clean:
	rm -rf bin dist repo release .e2e.log
