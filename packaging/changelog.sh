#!/bin/sh
# changelog.sh VERSION DATE COMMIT: prints the changelog the packages ship
# (Debian's format; the .rpm ships the same text): packaging/changelog, the
# entries of every release (kept in step with CHANGELOG.md by `go test
# ./packaging`), and on top, for a build that is not the release its
# newest entry names (0.1.0+git3.g<hash>), an entry of its own for VERSION,
# dated DATE (RFC 5322), naming COMMIT. `make packages` runs it.
set -eu
[ $# = 3 ] || { echo "usage: changelog.sh VERSION DATE COMMIT" >&2; exit 2; }
version=$1 date=$2 commit=$3
cd "$(dirname "$0")"
top=$(sed -n '1s/^docker-liverestore (\(.*\)-1) .*/\1/p' changelog)
[ -n "$top" ] || { echo "changelog.sh: the first line of packaging/changelog names no version" >&2; exit 1; }
if [ "$version" != "$top" ]; then
	cat <<ENTRY
docker-liverestore ($version-1) unstable; urgency=medium

  * Build between releases, after $top, from git commit $commit.

 -- dlr developers <dev@docker-liverestore.invalid>  $date

ENTRY
fi
cat changelog
