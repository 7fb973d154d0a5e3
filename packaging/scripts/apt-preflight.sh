
# apt-preflight: apt's DPkg::Pre-Install-Pkgs hook
# (/etc/apt/apt.conf.d/50docker-liverestore), run by apt before dpkg unpacks
# anything. apt writes the transaction on stdin (protocol VERSION 3); only
# when one of Docker's packages is in it does this ask `dlr preflight`, whose
# verdict is printed in apt's output. It never stops apt unless STRICT=yes:
# then a FAIL verdict, or no verdict at all (dlr missing, broken, or slower
# than PREFLIGHT_TIMEOUT), stops the transaction before anything is unpacked.
set +e

# Read apt's input with the shell's own read: only the lines of Docker's
# packages are kept (all that dlr needs), and nothing is started for a
# transaction without them.
IFS= read -r hook_version || exit 0
hook_elsewhere=no # apt installs into another root: not this host's Docker
in_image && hook_elsewhere=yes
while IFS= read -r line && [ -n "$line" ]; do # the configuration
	case "$line" in
	DPkg::Chroot-Directory=?*) [ "$line" = DPkg::Chroot-Directory=/ ] || hook_elsewhere=yes ;;
	esac
done
if [ "$hook_elsewhere" = yes ]; then
	cat >/dev/null
	exit 0
fi
hook_pkgs=
while IFS= read -r line || [ -n "$line" ]; do
	case "$line" in
	"docker.io "* | "docker-ce "* | "moby-engine "* | "containerd "* | "containerd.io "* | "runc "*)
		hook_pkgs="$hook_pkgs$line
"
		;;
	esac
done
[ -n "$hook_pkgs" ] || exit 0
is_yes PREFLIGHT yes || exit 0

strict=no
is_yes STRICT no && strict=yes
# timeout(1) reads 0 as "no limit": a hanging dlr would hold apt for ever.
# Whole seconds from 1 to 600 are taken; anything else is refused, saying so.
limit=$(setting PREFLIGHT_TIMEOUT 30)
case "$limit" in
'' | *[!0-9]* | 0* | ????*) limit_ok=no ;;
*) if [ "$limit" -le 600 ]; then limit_ok=yes; else limit_ok=no; fi ;;
esac
if [ "$limit_ok" = no ]; then
	shout "warning: PREFLIGHT_TIMEOUT=$limit in $DLR_SETTINGS is not a whole number of seconds from 1 to 600; using 30"
	limit=30
fi

rc=0
if command -v dlr >/dev/null 2>&1; then
	hook_out=$(printf '%s\n\n%s' "$hook_version" "$hook_pkgs" | timeout -k 5 "$limit" dlr preflight --apt-hook 2>&1) || rc=$?
else
	hook_out="dlr: not found"
	rc=127
fi
printf '%s\n' "$hook_out" | sed -e '/^$/d' -e 's/^/docker-liverestore: /'

case "$rc" in
0) exit 0 ;;
3)
	if [ "$strict" = yes ]; then
		shout "**********************************************************************"
		shout "*** dlr preflight: this change would cost running containers (FAIL above)."
		shout "*** STRICT=yes in $DLR_SETTINGS: stopping apt before anything is unpacked."
		shout "*** Fix what FAILs, or run this once with DLR_STRICT=no to go on."
		shout "**********************************************************************"
		exit 1
	fi
	shout "dlr preflight: FAIL above; going on (STRICT=no in $DLR_SETTINGS)"
	exit 0
	;;
esac
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	why="it did not finish within PREFLIGHT_TIMEOUT=$limit s"
else
	why="exit $rc"
fi
if [ "$strict" = yes ]; then
	shout "dlr preflight gave no verdict ($why); STRICT=yes in $DLR_SETTINGS: stopping apt before anything is unpacked (DLR_STRICT=no or DLR_PREFLIGHT=no to go on)"
	exit 1
fi
shout "dlr preflight gave no verdict ($why); going on (STRICT=no)"
exit 0
