#!/bin/sh
# apt-install.sh [APT-GET-OPTION...] PKG...: installs Debian packages for
# `make deps` and the other *-deps targets. When another apt or dpkg holds
# the package system's locks (a fresh VM's unattended-upgrades at boot), it
# waits, saying so and naming the holder, at most APT_LOCK_WAIT seconds (600
# by default), then stops saying who still holds it; apt-get itself then
# waits what is left (DPkg::Lock::Timeout) in case another run takes the
# lock in between.
set -e
wait_max=${APT_LOCK_WAIT:-600}
case "$wait_max" in '' | *[!0-9]*) wait_max=600 ;; esac
locks=${APT_LOCK_FILES:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock}
apt_get=${APT_GET:-apt-get}

# held prints the first lock of $locks some process holds, and who holds
# it ("" when none, or when lslocks, from util-linux, is missing). A lock is
# this host's only if its inode is the file's here: a container's or a
# guest's dpkg holds a file of the same path in its own root.
held() {
	command -v lslocks >/dev/null 2>&1 || return 0
	lslocks -n -r -o PID,INODE,PATH,COMMAND 2>/dev/null | while read -r pid ino path cmd; do
		for l in $locks; do
			if [ "$path" = "$l" ] && [ "$ino" = "$(stat -c %i "$l" 2>/dev/null)" ]; then
				echo "$l is held by $cmd (pid $pid)"
				return
			fi
		done
	done
}

waited=0
while h=$(held) && [ -n "$h" ]; do
	if [ "$waited" -ge "$wait_max" ]; then
		echo "apt-install: $h, still after $wait_max s: let it finish (or set APT_LOCK_WAIT higher) and run make again" >&2
		exit 1
	fi
	if [ "$waited" = 0 ]; then
		echo "waiting for another apt or dpkg to finish: $h (up to $wait_max s; APT_LOCK_WAIT sets it)"
	fi
	sleep 1
	waited=$((waited + 1))
done
left=$((wait_max - waited))
[ "$left" -gt 0 ] || left=1
"$apt_get" -o DPkg::Lock::Timeout="$left" update -qq
DEBIAN_FRONTEND=noninteractive "$apt_get" -o DPkg::Lock::Timeout="$left" install -y -qq "$@" >/dev/null
