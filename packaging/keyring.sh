#!/bin/sh
# keyring.sh IN OUTDIR: writes the OpenPGP public key(s) of the file IN
# (armored or binary, as `gpg --export [--armor]` writes them) to
# OUTDIR/keyring.gpg, a binary keyring (what apt's Signed-By reads), and
# OUTDIR/keyring.asc, the same keys armored (what rpm --import and dnf's
# gpgkey read). It refuses a file that holds no public key, or one that
# holds a secret key, which must never ship in a package. `make packages
# PKG_KEYRING=IN` runs it; it prints each key's fingerprint.
set -eu
in=$1 out=$2
die() { echo "keyring.sh: $*" >&2; exit 1; }
command -v gpg >/dev/null || die "gpg not found: apt-get install gnupg (or make repo-deps)"
[ -r "$in" ] || die "cannot read $in (PKG_KEYRING)"
home=$(mktemp -d)
trap 'gpgconf --homedir "$home" --kill gpg-agent 2>/dev/null || true; rm -rf "$home"' EXIT
keys=$(gpg --homedir "$home" --batch --with-colons --show-keys "$in" 2>/dev/null) || keys=
if printf '%s\n' "$keys" | grep -q '^sec'; then
	die "$in holds a secret key: give the public key only (gpg --export --armor KEYID > FILE)"
fi
printf '%s\n' "$keys" | grep -q '^pub' || die "$in holds no OpenPGP public key (want the output of gpg --export [--armor] KEYID)"
gpg --homedir "$home" --batch --quiet --import "$in" 2>/dev/null || die "gpg --import $in failed"
fprs=$(printf '%s\n' "$keys" | awk -F: '$1 == "pub" { p = 1; next } $1 == "fpr" && p { print $10; p = 0 }')
gpg --homedir "$home" --batch --export --export-options export-minimal $fprs > "$out/keyring.gpg"
gpg --homedir "$home" --batch --armor --export --export-options export-minimal $fprs > "$out/keyring.asc"
for f in $fprs; do echo "keyring: $f"; done
