#!/bin/sh
# Prints dlr's version for this checkout: the release in the file VERSION
# (one line, MAJOR.MINOR.PATCH, bumped by a commit of its own at each
# release: docs/release-checklist.md), and after it how far this build is
# from that release, counted in git's history (not in tags, which a copy
# of the sources may not carry):
#   at the commit that last changed VERSION     -> 0.1.0
#   3 commits later                             -> 0.1.0+git3.g1a2b3c4d5e6f
#   uncommitted changes (tracked files)         -> 0.1.0+dirty, 0.1.0+git3.g1a2b3c4d5e6f.dirty
#   not a git checkout (a source tarball)       -> VERSION as it is
# Lines of VERSION that start with '#' are comments: a release whose number
# is already in VERSION is cut by a commit that changes a comment there.
# The result is valid for dpkg and rpm alike and grows with every commit
# (the next release, 0.1.1 or 0.2.0, sorts after every 0.1.0+git...).
# `dlr version`, the packages, their changelogs and the repository all
# carry it (the Makefile's VERSION and PKG_VERSION).
set -e
cd "$(dirname "$0")/.."
v=$(grep -v '^#' VERSION | tr -d ' \t\r\n')
case $v in
[0-9]*.[0-9]*.[0-9]*) ;;
*) echo "version.sh: VERSION holds '$v', not MAJOR.MINOR.PATCH" >&2; exit 1 ;;
esac
if ! git rev-parse --git-dir >/dev/null 2>&1; then
	printf '%s\n' "$v"
	exit 0
fi
suffix=
base=$(git log -1 --format=%H -- VERSION 2>/dev/null || true)
if [ -z "$base" ]; then
	# VERSION is not committed yet: every commit counts.
	n=$(git rev-list --count HEAD 2>/dev/null || echo 0)
else
	n=$(git rev-list --count "$base..HEAD")
fi
if [ "$n" != 0 ]; then
	suffix="+git$n.g$(git rev-parse --short=12 HEAD)"
fi
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	if [ -n "$suffix" ]; then suffix="$suffix.dirty"; else suffix="+dirty"; fi
fi
printf '%s%s\n' "$v" "$suffix"
