# Releases (issue 23; docs/release-checklist.md): `make release` builds
# into RELEASE_DIR (release/<version>) everything a release publishes:
#
#   docker-liverestore_<version>_{amd64,arm64}.deb
#   docker-liverestore_<version>_{amd64,arm64}.rpm      signed (rpmsign)
#   docker-liverestore_<version>_{amd64,arm64}.cdx.json the SBOM of each
#       packaged dlr binary (CycloneDX 1.6, by cyclonedx-gomod from the
#       binary's build information: its Go modules with their go.sum hashes)
#   docker-liverestore-archive-keyring.asc              the signing key, public
#   SHA256SUMS, SHA256SUMS.asc (detached), SHA256SUMS.clear.asc (clearsigned)
#   repo/                                               the signed apt and rpm
#       repositories (make repo's tree: docs/repository.md)
#
#   make release REPO_KEY=<fingerprint> [REPO_URL=https://...]
#   make release REPO_KEY_FILE=secret.asc RELEASE_DIR=/tmp/rel
#   make release-reproducible   a throwaway RSA key, the release twice, compared (in make test)
#
# The packages ship the signing key's public key (release.sh pubkey), so no
# PKG_KEYRING is needed. The same commit, key and Go toolchain give the same
# bytes: the packages and repositories are reproducible (packaging.mk,
# repo.mk), the SBOMs have no serial number or timestamp, and every
# signature is dated as repo.sh dates them.
CYCLONEDX_GOMOD_VERSION := v1.10.0
CYCLONEDX_GOMOD := $(PKG_TOOLS)/cyclonedx-gomod
RELEASE_DIR ?= release/$(PKG_VERSION)

.PHONY: release release-reproducible release-deps

# release-deps: the repository tools (repo-deps), nfpm, and cyclonedx-gomod
# (pinned, from the Go module proxy, into .cache/bin).
release-deps: repo-deps $(NFPM) $(CYCLONEDX_GOMOD)

$(CYCLONEDX_GOMOD):
	GOBIN=$(PKG_TOOLS) GOFLAGS=-trimpath $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_GOMOD_VERSION)

release: release-deps
	@set -e; t=$$(mktemp -d); trap 'rm -rf "$$t"' EXIT; \
	export REPO_KEY='$(REPO_KEY)' REPO_KEY_FILE='$(REPO_KEY_FILE)' REPO_PASSPHRASE_FILE='$(REPO_PASSPHRASE_FILE)' \
		REPO_DATE='$(REPO_DATE)' REPO_ARCHES='$(PKG_ARCHES)' REPO_URL='$(REPO_URL)'; \
	packaging/release.sh pubkey "$$t/public.asc"; \
	$(MAKE) --no-print-directory packages DIST_DIR="$$t/pkgs" PKG_KEYRING="$$t/public.asc" \
		PKG_VERSION='$(PKG_VERSION)' PKG_ARCHES='$(PKG_ARCHES)' SOURCE_DATE_EPOCH='$(SOURCE_DATE_EPOCH)'; \
	mkdir "$$t/sbom"; \
	for arch in $(PKG_ARCHES); do \
		mkdir "$$t/$$arch"; \
		dpkg-deb --fsys-tarfile "$$t/pkgs/$(PKG_NAME)_$(PKG_VERSION)_$$arch.deb" | tar -xOf - ./usr/bin/dlr > "$$t/$$arch/dlr"; \
		chmod 755 "$$t/$$arch/dlr"; \
		$(CYCLONEDX_GOMOD) bin -json -noserial -notimestamp -version '$(PKG_VERSION)' \
			-output "$$t/sbom/$(PKG_NAME)_$(PKG_VERSION)_$$arch.cdx.json" "$$t/$$arch/dlr"; \
	done; \
	packaging/release.sh assemble "$$t/pkgs" "$$t/sbom" '$(RELEASE_DIR)'

# release-reproducible makes the release twice with a throwaway RSA key
# (or REPO_KEY / REPO_KEY_FILE) and fails unless every file of the two
# (signatures included) is byte for byte the same. With
# RELEASE_COLD_CACHE=yes the second build starts from an empty Go build
# cache. In make test: 27 s of CPU (user+sys) on 2 cores, 3 min 3 s of wall
# time at a load average of 36-41; with an empty cache, 4 min 37 s wall.
RELEASE_COLD_CACHE ?= no
EXTRA_TESTS += release-reproducible
release-reproducible: release-deps
	@set -e; t=$$(mktemp -d); \
	trap 'gpgconf --homedir "$$t/gnupg" --kill gpg-agent 2>/dev/null || true; rm -rf "$$t"' EXIT; \
	key='$(REPO_KEY)'; keyfile='$(REPO_KEY_FILE)'; \
	if [ -z "$$key$$keyfile" ]; then \
		mkdir -m 700 "$$t/gnupg"; \
		GNUPGHOME="$$t/gnupg" gpg --batch --quiet --passphrase '' --quick-gen-key 'dlr release-reproducible <release-reproducible@dlr.invalid>' rsa3072 sign 1d; \
		GNUPGHOME="$$t/gnupg" gpg --batch --armor --export-secret-keys > "$$t/secret.asc"; \
		keyfile="$$t/secret.asc"; \
	fi; \
	for n in 1 2; do \
		cache=; [ $$n = 1 ] || [ '$(RELEASE_COLD_CACHE)' != yes ] || { mkdir "$$t/gocache"; cache="$$t/gocache"; }; \
		GOCACHE=$${cache:-$$($(GO) env GOCACHE)} $(MAKE) --no-print-directory release REPO_KEY="$$key" REPO_KEY_FILE="$$keyfile" \
			RELEASE_DIR="$$t/release$$n" PKG_VERSION='$(PKG_VERSION)' >/dev/null; \
		(cd "$$t/release$$n" && find . -type f | LC_ALL=C sort | xargs sha256sum) > "$$t/sums$$n"; \
	done; \
	cat "$$t/sums1"; \
	if diff -u "$$t/sums1" "$$t/sums2"; then \
		echo "release-reproducible: both releases are identical ($$(wc -l < "$$t/sums1") files)"; \
	else echo "release-reproducible: the releases differ"; exit 1; fi
