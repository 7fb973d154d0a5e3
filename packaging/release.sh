#!/bin/sh
# release.sh: the signing half of `make release` (mk/release.mk,
# docs/release-checklist.md), with the same key and the same dating as
# repo.sh (signing.sh).
#
#   release.sh pubkey FILE
#       writes the signing key's public key, armored, to FILE: the keyring
#       the packages ship (make packages PKG_KEYRING=FILE)
#   release.sh assemble PACKAGES SBOMS OUT
#       replaces OUT with the release: the repositories (repo.sh PACKAGES
#       OUT/repo), beside them the .debs, the signed .rpms (the bytes the
#       rpm repository holds), the SBOMs in SBOMS and the public key, and
#       SHA256SUMS of those files, signed: SHA256SUMS.asc (detached,
#       armored) and SHA256SUMS.clear.asc (clearsigned)
#
# Environment: REPO_KEY, REPO_KEY_FILE, REPO_PASSPHRASE_FILE, REPO_DATE,
# REPO_ARCHES, REPO_URL as for repo.sh. Same inputs and key, same bytes.
set -eu

die() { echo "release.sh: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

work=$(mktemp -d)
cleanup() {
	[ -z "${agent:-}" ] || gpgconf --homedir "$agent" --kill gpg-agent 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cmd=${1:-}
case $cmd in
pubkey)
	[ $# = 2 ] || die "usage: release.sh pubkey FILE"
	. "$here/signing.sh"
	gpg --batch --armor --export --export-options export-minimal "$fpr" > "$2"
	;;
assemble)
	[ $# = 4 ] || die "usage: release.sh assemble PACKAGES SBOMS OUT"
	pkgs=$(abs "$2") sboms=$(abs "$3") out=$(abs "$4")
	. "$here/signing.sh"
	rm -rf "$out"
	mkdir -p "$out"
	"$here/repo.sh" "$pkgs" "$out/repo"
	cp "$pkgs"/*.deb "$out/"
	cp "$out"/repo/rpm/*.rpm "$out/"
	cp "$sboms"/* "$out/"
	cp "$out/repo/docker-liverestore-archive-keyring.asc" "$out/"
	(cd "$out" && find . -maxdepth 1 -type f -printf '%f\n' | LC_ALL=C sort | xargs sha256sum) > "$work/SHA256SUMS"
	mv "$work/SHA256SUMS" "$out/SHA256SUMS"
	gpgsign --detach-sign --armor --output "$out/SHA256SUMS.asc" "$out/SHA256SUMS"
	gpgsign --clearsign --output "$out/SHA256SUMS.clear.asc" "$out/SHA256SUMS"
	gpg --batch --quiet --verify "$out/SHA256SUMS.asc" "$out/SHA256SUMS" 2>/dev/null ||
		die "the signature just made does not verify"
	echo "release: $out ($(cd "$out" && ls | tr '\n' ' '))"
	;;
*)
	die "usage: release.sh pubkey FILE | release.sh assemble PACKAGES SBOMS OUT"
	;;
esac
