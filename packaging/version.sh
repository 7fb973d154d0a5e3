#!/bin/sh
# Prints the package version of the checkout, derived from `git describe`,
# valid for dpkg and rpm alike and growing with every commit:
#   tag v1.2.0 on HEAD          -> 1.2.0
#   3 commits after v1.2.0      -> 1.2.0+3.g1a2b3c4d5e6f
#   pre-release tag v1.2.0-rc1  -> 1.2.0~rc1 (sorts before 1.2.0)
#   no tag yet, 12 commits      -> 0.0.0+git12.g1a2b3c4d5e6f
#   uncommitted changes         -> ... with .dirty appended
# The binary's own `dlr version` keeps the plain `git describe` string.
set -e
dirty=
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	dirty=.dirty
fi
if d=$(git describe --tags --long --match 'v[0-9]*' 2>/dev/null); then
	# vTAG-N-gHASH; TAG itself may contain dashes.
	hash=${d##*-}
	rest=${d%-*}
	n=${rest##*-}
	tag=${rest%-*}
	v=$(printf '%s\n' "${tag#v}" | sed -e 's/-/~/' -e 's/[^A-Za-z0-9.+~]/./g')
	if [ "$n" != 0 ]; then
		v="$v+$n.$hash"
	fi
else
	n=$(git rev-list --count HEAD 2>/dev/null || echo 0)
	hash=g$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
	v="0.0.0+git$n.$hash"
fi
printf '%s%s\n' "$v" "$dirty"
