# Package repositories (issue 15; docs/repository.md): `make repo` builds,
# from the packages `make packages` built, a signed apt repository
# (reprepro: dists/stable/main for amd64 and arm64, Release, InRelease,
# Release.gpg) and a signed rpm repository (rpmsign, createrepo_c,
# repodata/repomd.xml.asc) in REPO_DIR, ready to be published as static
# files (packaging/repo.sh does the work).
#
#   make packages PKG_KEYRING=pub.asc && make repo REPO_KEY=<fingerprint>
#   make repo REPO_KEY_FILE=secret.asc REPO_PACKAGES=/tmp/pkgs REPO_DIR=/tmp/repo
#   make repo REPO_KEY=... REPO_URL=https://packages.example.com/dlr
#   make repo-reproducible   build a repository twice, compare every file
#
# The signing key is REPO_KEY (a secret key in $GNUPGHOME or ~/.gnupg) or
# REPO_KEY_FILE (a file of gpg --export-secret-keys); REPO_PASSPHRASE_FILE
# if it has a passphrase. The packages must ship its public key
# (PKG_KEYRING): a host that trusts the packaged keyring must be able to
# verify the repository. The repository is dated REPO_DATE (the last
# commit's time unless set), so the same packages and key give the same
# files. repo-deps installs the tools from Debian.
REPO_PACKAGES ?= $(DIST_DIR)
REPO_DIR ?= repo
REPO_KEY ?=
REPO_KEY_FILE ?=
REPO_PASSPHRASE_FILE ?=
REPO_DATE ?= $(SOURCE_DATE_EPOCH)
# Where REPO_DIR is published: REPO_DIR then also holds the apt source and
# the dnf .repo file that users download (docs/repository.md).
REPO_URL ?=
REPO_APT := reprepro createrepo-c rpm rpm2cpio cpio gnupg faketime

.PHONY: repo repo-deps repo-reproducible

repo-deps:
	@missing=""; for p in $(REPO_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		sh mk/apt-install.sh --no-install-recommends $$missing; \
	fi

repo: repo-deps
	REPO_KEY='$(REPO_KEY)' REPO_KEY_FILE='$(REPO_KEY_FILE)' REPO_PASSPHRASE_FILE='$(REPO_PASSPHRASE_FILE)' \
	REPO_DATE='$(REPO_DATE)' REPO_ARCHES='$(PKG_ARCHES)' REPO_URL='$(REPO_URL)' \
	packaging/repo.sh '$(REPO_PACKAGES)' '$(REPO_DIR)'

# repo-reproducible builds the packages of this checkout (both
# architectures) with a throwaway RSA key's public key, then the repository
# twice from them with that key, and fails unless every file of the two
# trees (signatures included) is byte for byte the same. With REPO_KEY or
# REPO_KEY_FILE set it uses that key and the packages in REPO_PACKAGES
# instead.
repo-reproducible: repo-deps $(NFPM)
	@set -e; t=$$(mktemp -d); \
	trap 'gpgconf --homedir "$$t/gnupg" --kill gpg-agent 2>/dev/null || true; rm -rf "$$t"' EXIT; \
	key='$(REPO_KEY)'; keyfile='$(REPO_KEY_FILE)'; pkgs='$(REPO_PACKAGES)'; \
	if [ -z "$$key$$keyfile" ]; then \
		mkdir -m 700 "$$t/gnupg"; \
		GNUPGHOME="$$t/gnupg" gpg --batch --quiet --passphrase '' --quick-gen-key 'dlr repo-reproducible <repo-reproducible@dlr.invalid>' rsa3072 sign 1d; \
		GNUPGHOME="$$t/gnupg" gpg --batch --armor --export-secret-keys > "$$t/secret.asc"; \
		GNUPGHOME="$$t/gnupg" gpg --batch --armor --export > "$$t/public.asc"; \
		keyfile="$$t/secret.asc"; pkgs="$$t/pkgs"; \
		$(MAKE) --no-print-directory packages DIST_DIR="$$pkgs" PKG_KEYRING="$$t/public.asc"; \
	fi; \
	for n in 1 2; do \
		REPO_KEY="$$key" REPO_KEY_FILE="$$keyfile" REPO_PASSPHRASE_FILE='$(REPO_PASSPHRASE_FILE)' \
		REPO_DATE='$(REPO_DATE)' REPO_ARCHES='$(PKG_ARCHES)' packaging/repo.sh "$$pkgs" "$$t/repo$$n" >/dev/null; \
		(cd "$$t/repo$$n" && find . -type f | LC_ALL=C sort | xargs sha256sum) > "$$t/sums$$n"; \
	done; \
	cat "$$t/sums1"; \
	if diff -u "$$t/sums1" "$$t/sums2"; then \
		echo "repo-reproducible: both repositories are identical ($$(wc -l < "$$t/sums1") files)"; \
	else echo "repo-reproducible: the repositories differ"; exit 1; fi

# repo-test-deps installs Debian's dnf, with which the e2e tests check the
# rpm repository (TestRepoDNF: on the host, into a scratch installroot).
REPO_TEST_APT := dnf

.PHONY: repo-test-deps
repo-test-deps:
	@missing=""; for p in $(REPO_TEST_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		sh mk/apt-install.sh --no-install-recommends $$missing; \
	fi
