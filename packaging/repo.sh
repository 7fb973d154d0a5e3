#!/bin/sh
# repo.sh PACKAGES OUT: builds, from every .deb and .rpm in the directory
# PACKAGES, a signed apt repository in OUT/apt and a signed rpm repository
# in OUT/rpm, replacing OUT. `make repo` runs it (see mk/repo.mk and
# docs/repository.md); the indexes are written by Debian's tools, never by
# hand: reprepro (apt), createrepo_c (rpm), rpmsign and gpg (signatures).
#
# Environment:
#   REPO_KEY        the signing key: a key id, fingerprint or user id of a
#                   secret key in $GNUPGHOME (default ~/.gnupg)
#   REPO_KEY_FILE   or a file with the secret key (gpg --export-secret-keys),
#                   imported into a temporary GnuPG home for this run
#   REPO_PASSPHRASE_FILE  the key's passphrase, if it has one
#   REPO_DATE       Unix time of the Release file's Date, of the rpm
#                   repository's revision and of the published files
#   REPO_ARCHES     the apt repository's architectures ("amd64 arm64")
#   REPO_URL        where OUT will be published (https://host/path, or
#                   file:///path): if set, OUT also gets the apt source
#                   (docker-liverestore.sources) and the dnf repository file
#                   (docker-liverestore.repo) users download
#
# Same inputs, same output: the Date of the Release file and the rpm
# repository's revision are REPO_DATE, not the time of the run (reprepro runs
# under faketime: it has no option for it), and every signature is made as
# of the later of REPO_DATE and the signing key's creation (gpg
# --faked-system-time): with an RSA or Ed25519 key, whose signatures are
# deterministic, two runs give byte-identical trees (`make
# repo-reproducible` checks it).
#
# The packages must ship the signing key (make packages PKG_KEYRING=...):
# a package whose keyring lacks it is refused, since hosts that trust the
# packaged keyring would then refuse the repository's next upgrade.
set -eu

die() { echo "repo.sh: $*" >&2; exit 1; }

[ $# = 2 ] || die "usage: repo.sh PACKAGES_DIR OUT_DIR"
# Absolute paths: some steps run in other directories.
case $1 in /*) pkgs=$1 ;; *) pkgs=$PWD/$1 ;; esac
case $2 in /*) out=$2 ;; *) out=$PWD/$2 ;; esac
: "${REPO_KEY:=}" "${REPO_KEY_FILE:=}" "${REPO_PASSPHRASE_FILE:=}" "${REPO_ARCHES:=amd64 arm64}" "${REPO_URL:=}"
REPO_URL=${REPO_URL%/}
[ -n "${REPO_DATE:-}" ] || die "REPO_DATE is not set (the Unix time the repository is dated; make repo sets it to SOURCE_DATE_EPOCH)"
[ -n "$REPO_KEY$REPO_KEY_FILE" ] ||
	die "no signing key: set REPO_KEY=<key id> (a secret key in \$GNUPGHOME or ~/.gnupg) or REPO_KEY_FILE=<file of gpg --export-secret-keys>"
for tool in reprepro createrepo_c rpmsign rpm2cpio cpio gpg faketime dpkg-deb; do
	command -v $tool >/dev/null || die "$tool not found: run make repo-deps"
done
set -- "$pkgs"/*.deb
[ -e "$1" ] || die "no .deb in $pkgs: build them first (make packages)"
set -- "$pkgs"/*.rpm
[ -e "$1" ] || die "no .rpm in $pkgs: build them first (make packages)"

work=$(mktemp -d)
agent=
cleanup() {
	# The agent of a temporary GnuPG home is ours to stop; the caller's is not.
	[ -z "$agent" ] || gpgconf --homedir "$agent" --kill gpg-agent 2>/dev/null || true
	[ ! -d "$work/keys" ] || gpgconf --homedir "$work/keys" --kill gpg-agent 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The signing key (fpr, sigtime) and gpgsign.
. "$(dirname "$0")/signing.sh"

echo "signing key $fpr, signatures dated $(date -u -d "@$sigtime" '+%Y-%m-%d %H:%M:%S UTC')"

# Every package must ship a keyring that holds the signing key. The
# repository publishes the keys the packages ship (all of them: during a key
# rotation, the next key too; docs/repository.md).
keyring=usr/share/keyrings/docker-liverestore-archive-keyring.gpg
mkdir -m 700 "$work/keys"
for p in "$pkgs"/*.deb "$pkgs"/*.rpm; do
	rm -f "$work/shipped.gpg"
	case $p in
	*.deb) dpkg-deb --fsys-tarfile "$p" | tar -xOf - "./$keyring" > "$work/shipped.gpg" 2>/dev/null || true ;;
	*.rpm) (cd "$work" && rpm2cpio "$p" | cpio --quiet -i --to-stdout "*$keyring") > "$work/shipped.gpg" 2>/dev/null || true ;;
	esac
	gpg --batch --with-colons --show-keys "$work/shipped.gpg" 2>/dev/null | grep -q "^fpr:*$fpr:" ||
		die "$p does not ship the signing key $fpr in /$keyring: build the packages with make packages PKG_KEYRING=FILE, FILE holding that key (gpg --export --armor $fpr > FILE)"
	gpg --homedir "$work/keys" --batch --quiet --import "$work/shipped.gpg" 2>/dev/null
done
rm -rf "$out"
mkdir -p "$out/apt" "$out/rpm"
gpg --homedir "$work/keys" --batch --export --export-options export-minimal > "$out/docker-liverestore-archive-keyring.gpg"
gpg --homedir "$work/keys" --batch --armor --export --export-options export-minimal > "$out/docker-liverestore-archive-keyring.asc"

# apt: reprepro, with the Release file dated REPO_DATE.
mkdir -p "$work/reprepro/conf"
cat > "$work/reprepro/conf/distributions" <<CONF
Origin: docker-liverestore
Label: docker-liverestore
Suite: stable
Codename: stable
Architectures: $REPO_ARCHES
Components: main
Description: docker-liverestore (dlr): turn Docker's live restore on and off safely
CONF
reprepro_date=$(date -u -d "@$REPO_DATE" '+%Y-%m-%d %H:%M:%S')
for deb in "$pkgs"/*.deb; do
	# reprepro keeps the newest version of each architecture and says so
	# when it skips an older one.
	TZ=UTC faketime -f "$reprepro_date" reprepro --silent --basedir "$work/reprepro" \
		--outdir "$out/apt" --dbdir "$work/reprepro/db" includedeb stable "$deb" ||
		die "reprepro includedeb $deb failed"
done
rel="$out/apt/dists/stable"
gpgsign --clearsign --output "$rel/InRelease" "$rel/Release"
gpgsign --detach-sign --armor --output "$rel/Release.gpg" "$rel/Release"

# rpm: signed packages, createrepo_c, repomd.xml signed.
cp "$pkgs"/*.rpm "$out/rpm/"
for rpm in "$out"/rpm/*.rpm; do
	rpmsign --addsign \
		--define "__gpg $(command -v gpg)" --define "_gpg_name $fpr" --define "_gpg_path $GNUPGHOME" --define "_gpg_digest_algo sha512" \
		--define "_gpg_sign_cmd_extra_args --batch --faked-system-time $sigtime! ${REPO_PASSPHRASE_FILE:+--pinentry-mode loopback --passphrase-file $REPO_PASSPHRASE_FILE}" \
		"$rpm" >"$work/rpmsign.log" 2>&1 || { cat "$work/rpmsign.log" >&2; die "rpmsign $rpm failed"; }
	# createrepo_c records each package file's mtime in primary.xml. (The
	# indexes keep the time they are written: clients and web servers
	# compare mtimes to know whether a file changed.)
	touch -d "@$REPO_DATE" "$rpm"
done
createrepo_c --quiet --no-database --revision "$REPO_DATE" --set-timestamp-to-revision "$out/rpm" ||
	die "createrepo_c $out/rpm failed"
gpgsign --detach-sign --armor --output "$out/rpm/repodata/repomd.xml.asc" "$out/rpm/repodata/repomd.xml"

# The files users download to add the repository (docs/repository.md).
if [ -n "$REPO_URL" ]; then
	cat > "$out/docker-liverestore.sources" <<SOURCES
Types: deb
URIs: $REPO_URL/apt
Suites: stable
Components: main
Signed-By: /usr/share/keyrings/docker-liverestore-archive-keyring.gpg
SOURCES
	cat > "$out/docker-liverestore.repo" <<REPOFILE
[docker-liverestore]
name=docker-liverestore
baseurl=$REPO_URL/rpm
enabled=1
gpgcheck=1
repo_gpgcheck=1
gpgkey=$REPO_URL/docker-liverestore-archive-keyring.asc
REPOFILE
fi

echo "apt repository: $out/apt ($(ls "$out"/apt/pool/main/*/*/ | tr '\n' ' '))"
echo "rpm repository: $out/rpm ($(cd "$out/rpm" && ls *.rpm | tr '\n' ' '))"
