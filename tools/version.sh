#!/bin/sh
# Prints ferry's version, the one every program, package and heartbeat shows.
#
# From git when building from a clone: a release is a tag vX.Y.Z, and a
# commit after it is X.Y.Z+N.gHASH (N commits since the tag), so versions
# grow along a branch and sort the same for dpkg and rpm (neither allows a
# '-' inside an upstream version). With no tag yet, the VERSION file gives
# X.Y.Z and N counts every commit. Uncommitted changes add ".dirty".
# Outside git (a tarball), the VERSION file alone.
set -u
cd "$(dirname "$0")/.." || exit 1
base=$(head -n 1 VERSION 2>/dev/null | tr -d ' \t\r')
[ -n "$base" ] || base=0.0.0
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    ! hash=$(git describe --always --abbrev=7 --dirty=@ 2>/dev/null); then
	echo "$base"
	exit 0
fi
dirty=""
case $hash in
*@)	hash=${hash%@}
	dirty=".dirty" ;;
esac
if tag=$(git describe --tags --match 'v[0-9]*' --abbrev=7 2>/dev/null); then
	case $tag in
	*-g*)	# v1.2.0-3-gabcdef0
		n=${tag%-g*}
		echo "${n%-*}+${n##*-}.g${tag##*-g}$dirty" | sed 's/^v//' ;;
	*)	[ -n "$dirty" ] && dirty="+0.g$hash$dirty"
		echo "${tag#v}$dirty" ;;
	esac
else
	echo "$base+$(git rev-list --count HEAD).g$hash$dirty"
fi
