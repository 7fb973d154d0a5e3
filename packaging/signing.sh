# signing.sh, sourced by repo.sh and release.sh (POSIX sh): the signing
# key and gpgsign, in one place. Before sourcing, set work (a private
# temporary directory the caller removes) and define die(); the caller's
# cleanup stops the agent of $agent when it is set (a GnuPG home of our
# own). Reads REPO_KEY, REPO_KEY_FILE, REPO_PASSPHRASE_FILE and REPO_DATE
# (see repo.sh); sets GNUPGHOME, fpr (the key's fingerprint) and sigtime
# (when signatures are dated: the later of REPO_DATE and the key's, or its
# newest subkey's, creation, since gpg and apt refuse a signature older
# than its key).
: "${REPO_KEY:=}" "${REPO_KEY_FILE:=}" "${REPO_PASSPHRASE_FILE:=}"
[ -n "${REPO_DATE:-}" ] || die "REPO_DATE is not set (the Unix time the repository is dated; make repo sets it to SOURCE_DATE_EPOCH)"
[ -n "$REPO_KEY$REPO_KEY_FILE" ] ||
	die "no signing key: set REPO_KEY=<key id> (a secret key in \$GNUPGHOME or ~/.gnupg) or REPO_KEY_FILE=<file of gpg --export-secret-keys>"
agent=
if [ -n "$REPO_KEY_FILE" ]; then
	export GNUPGHOME="$work/gnupg"
	agent=$GNUPGHOME
	mkdir -m 700 "$GNUPGHOME"
	gpg --batch --quiet --import "$REPO_KEY_FILE" 2>"$work/import.log" ||
		{ cat "$work/import.log" >&2; die "importing REPO_KEY_FILE=$REPO_KEY_FILE failed"; }
fi
export GNUPGHOME="${GNUPGHOME:-$HOME/.gnupg}"
secret=$(gpg --batch --with-colons --list-secret-keys $REPO_KEY 2>/dev/null) ||
	die "no secret key ${REPO_KEY:-at all} in $GNUPGHOME${REPO_KEY_FILE:+ (imported from $REPO_KEY_FILE)}: check REPO_KEY (gpg --list-secret-keys)"
fprs=$(printf '%s\n' "$secret" | awk -F: '$1 == "sec" { p = 1; next } $1 == "fpr" && p { print $10; p = 0 }')
[ "$(printf '%s\n' "$fprs" | wc -l)" = 1 ] ||
	die "REPO_KEY=${REPO_KEY:-} names more than one secret key ($(echo $fprs)): give a fingerprint"
fpr=$fprs
created=$(printf '%s\n' "$secret" | awk -F: '($1 == "sec" || $1 == "ssb") && $6 > m { m = $6 } END { print m + 0 }')
sigtime=$REPO_DATE
[ "$created" -le "$sigtime" ] || sigtime=$created
passhint=
[ -n "$REPO_PASSPHRASE_FILE" ] || passhint=" (if the key has a passphrase, give it in REPO_PASSPHRASE_FILE)"

# gpgsign ARGS...: gpg with the key, dated sigtime: with an RSA or Ed25519
# key (deterministic signatures) the same input gives the same bytes.
gpgsign() {
	gpg --batch --yes --quiet --local-user "$fpr" --digest-algo SHA512 \
		--faked-system-time "$sigtime!" \
		${REPO_PASSPHRASE_FILE:+--pinentry-mode loopback --passphrase-file "$REPO_PASSPHRASE_FILE"} \
		"$@" 2>"$work/gpg.log" || { cat "$work/gpg.log" >&2; die "signing with $fpr failed$passhint"; }
}
