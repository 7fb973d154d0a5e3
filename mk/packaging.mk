# Packaging: `make packages` builds dist/docker-liverestore_<version>_<arch>.deb
# and .rpm for every PKG_ARCHES with nfpm (nfpm.yaml, packaging/).
#
#   make packages                    all architectures, version from git
#   make packages PKG_ARCHES=amd64   one architecture
#   make packages PKG_VERSION=1.2.3 DIST_DIR=/tmp/x
#   make packages-reproducible       build twice, compare the bytes
#   make lintian                     lintian on the .debs (host tool)
#
# The packages are reproducible: every mtime is SOURCE_DATE_EPOCH (the last
# commit's time unless set), dlr is built with -trimpath and no cgo, and the
# generated files are compressed with gzip -n.

NFPM_VERSION := v2.45.2
PKG_TOOLS := $(CURDIR)/.cache/bin
NFPM := $(PKG_TOOLS)/nfpm
PKG_NAME := docker-liverestore
PKG_ARCHES ?= amd64 arm64
DIST_DIR ?= dist
PKG_VERSION ?= $(shell packaging/version.sh)
# nfpm.yaml names the generated maintainer scripts by this fixed path (it
# does not expand variables in script paths), so builds take turns on a lock.
PKG_BUILD_DIR := .cache/pkg
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
PKG_SCRIPTS := postinst prerm postrm rpm-post rpm-preun
PKG_HOST_TOOLS := lintian rpm

.PHONY: packages packaging-deps packages-reproducible lintian

# packaging-deps installs nfpm (pinned; newer versions do not build with this
# toolchain) into .cache/bin, and lintian and rpm (for `rpm -qp` in the
# tests) from apt if they are missing.
packaging-deps: $(NFPM)
	@missing=""; for p in $(PKG_HOST_TOOLS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(NFPM):
	GOBIN=$(PKG_TOOLS) GOFLAGS= $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)

packages: $(NFPM)
	@mkdir -p $(PKG_BUILD_DIR) $(DIST_DIR)
	flock $(PKG_BUILD_DIR)/.lock $(MAKE) --no-print-directory packages-locked \
		PKG_VERSION='$(PKG_VERSION)' SOURCE_DATE_EPOCH='$(SOURCE_DATE_EPOCH)' DIST_DIR='$(DIST_DIR)' PKG_ARCHES='$(PKG_ARCHES)'

.PHONY: packages-locked
packages-locked:
	@set -e; \
	export SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) PKG_VERSION='$(PKG_VERSION)' PKG_BUILD_DIR=$(PKG_BUILD_DIR); \
	rm -rf $(PKG_BUILD_DIR)/scripts; mkdir -p $(PKG_BUILD_DIR)/scripts; \
	for s in $(PKG_SCRIPTS); do \
		sed "s/@NAME@/$$s/" packaging/scripts/common.sh > $(PKG_BUILD_DIR)/scripts/$$s; \
		cat packaging/scripts/$$s.sh >> $(PKG_BUILD_DIR)/scripts/$$s; \
		sh -n $(PKG_BUILD_DIR)/scripts/$$s; \
	done; \
	date=$$(LC_ALL=C date -u -d "@$$SOURCE_DATE_EPOCH" '+%a, %d %b %Y %H:%M:%S +0000'); \
	commit=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
	sed -e "s/@VERSION@/$$PKG_VERSION-1/g" -e "s/@DATE@/$$date/" -e "s/@COMMIT@/$$commit/" \
		packaging/changelog | gzip -9n > $(PKG_BUILD_DIR)/changelog.gz; \
	sed -e "s/^\.TH DLR 8 \"\"/.TH DLR 8 \"$$(date -u -d "@$$SOURCE_DATE_EPOCH" +%Y-%m-%d)\"/" \
		-e "s/\"docker-liverestore\"/\"docker-liverestore $$PKG_VERSION\"/" \
		packaging/dlr.8 | gzip -9n > $(PKG_BUILD_DIR)/dlr.8.gz; \
	for arch in $(PKG_ARCHES); do \
		mkdir -p $(PKG_BUILD_DIR)/$$arch; \
		GOOS=linux GOARCH=$$arch CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
			-o $(PKG_BUILD_DIR)/$$arch/dlr ./cmd/dlr; \
		for fmt in deb rpm; do \
			out=$(DIST_DIR)/$(PKG_NAME)_$${PKG_VERSION}_$$arch.$$fmt; \
			GOARCH=$$arch $(NFPM) package --config nfpm.yaml --packager $$fmt --target $$out >/dev/null; \
			echo "$$out  $$(stat -c %s $$out) bytes"; \
		done; \
	done

# packages-reproducible builds the packages twice, the second time with an
# empty Go build cache, and fails unless both are byte for byte identical.
packages-reproducible: $(NFPM)
	@set -e; a=$$(mktemp -d); b=$$(mktemp -d); c=$$(mktemp -d); trap 'rm -rf "$$a" "$$b" "$$c"' EXIT; \
	$(MAKE) --no-print-directory packages DIST_DIR=$$a; \
	GOCACHE=$$c $(MAKE) --no-print-directory packages DIST_DIR=$$b; \
	(cd $$a && sha256sum *) > $$a.sums; (cd $$b && sha256sum *) > $$b.sums; \
	cat $$a.sums; \
	if diff -u $$a.sums $$b.sums; then echo "packages-reproducible: both builds are identical"; rm -f $$a.sums $$b.sums; \
	else rm -f $$a.sums $$b.sums; echo "packages-reproducible: the builds differ"; exit 1; fi

# lintian checks the .debs of this version (built first); it fails on any
# error or warning that packaging/lintian-overrides does not justify.
lintian: packaging-deps packages
	lintian --fail-on error,warning --display-info --info $(DIST_DIR)/$(PKG_NAME)_$(PKG_VERSION)_*.deb
