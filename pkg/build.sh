#!/bin/sh
# Makes ferry's packages from the tree that `make install` laid out:
#
#   VERSION=v sh pkg/build.sh deb|rpm DIR
#
# DIR/tree is that tree (make install DESTDIR=DIR/tree); the package is
# written to DIR as ferry_<version>_<arch>.deb or
# ferry-<version>-1.<arch>.rpm. `make deb` and `make rpm` call this.
#
# What ships is the tree with its programs stripped (build/ keeps the
# unstripped ones; the build-id note stays, so a core from the field can be
# matched to them), its man pages compressed, no /var and no
# /etc/opt/ferry/conf.d/fleet (state: the scriptlets make them, owned by
# the ferry user, and purge removes them), and the packaging
# format's own files: maintainer scripts, conffiles, copyright, changelog.
set -eu

fmt=${1:?usage: build.sh deb|rpm DIR}
dir=$(cd "${2:?usage: build.sh deb|rpm DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tree=$dir/tree
: "${VERSION:?VERSION is not set}"
[ -x "$tree/opt/ferry/bin/ferry-supervisor" ] || {
	echo "build.sh: no installed tree in $tree" >&2
	exit 1
}

# The commit's date and author, so two builds of one commit are alike;
# PKG_MAINTAINER and SOURCE_DATE_EPOCH override them.
if git -C "$here" rev-parse HEAD >/dev/null 2>&1; then
	: "${SOURCE_DATE_EPOCH:=$(git -C "$here" log -1 --format=%ct)}"
	: "${PKG_MAINTAINER:=$(git -C "$here" log -1 --format='%an <%ae>')}"
	change="Built from commit $(git -C "$here" rev-parse --short=12 HEAD)."
else
	change="Built from the VERSION file."
fi
: "${SOURCE_DATE_EPOCH:=$(date +%s)}"
: "${PKG_MAINTAINER:=ferry maintainers <root@localhost.localdomain>}"
export SOURCE_DATE_EPOCH

# The file with each "#INCLUDE name" line replaced by pkg/name.
include() {
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		"#INCLUDE "*)	cat "$here/${line#\#INCLUDE }" ;;
		*)		printf '%s\n' "$line" ;;
		esac
	done < "$1"
}

# $1: a fresh copy of the tree, made ready to ship.
payload() {
	rm -rf "$1"
	mkdir -p "$1"
	cp -a "$tree/." "$1/"
	rm -rf "${1:?}/var" "$1/etc/opt/ferry/conf.d/fleet"
	for f in "$1"/opt/ferry/bin/* "$1"/opt/ferry/collectors/*; do
		strip --strip-unneeded --remove-section=.comment "$f"
	done
	gzip -9n "$1"/usr/share/man/man*/*
	chmod -R go-w "$1"
}

# Installed-Size as dpkg-gencontrol counts it: each file's KiB, rounded
# up, and one for each directory or link.
installed_kib() {
	find "$1" -path "$1/DEBIAN" -prune -o ! -path "$1" -print |
	while IFS= read -r f; do
		if [ -f "$f" ] && [ ! -L "$f" ]; then
			echo $((($(stat -c %s "$f") + 1023) / 1024))
		else
			echo 1
		fi
	done | awk '{ n += $1 } END { print n }'
}

deb() {
	arch=$(dpkg --print-architecture)
	# dpkg-shlibdeps wants debian/control and the package in debian/NAME.
	work=$dir/deb
	root=$work/debian/ferry
	payload "$root"
	mkdir -p "$root/DEBIAN" "$root/usr/share/doc/ferry" \
	    "$root/usr/share/lintian/overrides"
	install -m 0644 "$here/copyright" "$root/usr/share/doc/ferry/copyright"
	install -m 0644 "$here/deb/lintian-overrides" \
	    "$root/usr/share/lintian/overrides/ferry"
	{
		printf 'ferry (%s) unstable; urgency=medium\n\n' "$VERSION"
		printf '  * %s\n\n' "$change"
		printf ' -- %s  %s\n' "$PKG_MAINTAINER" \
		    "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
	} | gzip -9n > "$root/usr/share/doc/ferry/changelog.gz"
	for s in postinst prerm postrm; do
		include "$here/deb/$s" > "$root/DEBIAN/$s"
		chmod 0755 "$root/DEBIAN/$s"
	done
	(cd "$root" && find etc -type f | sed 's|^|/|' | sort) \
	    > "$root/DEBIAN/conffiles"

	printf 'Source: ferry\n\nPackage: ferry\nArchitecture: any\n' \
	    > "$work/debian/control"
	set --
	for f in "$root"/opt/ferry/bin/* "$root"/opt/ferry/collectors/*; do
		set -- "$@" "-e${f#"$work"/}"
	done
	depends=$(cd "$work" && dpkg-shlibdeps -O "$@" |
	    sed -n 's/^shlibs:Depends=//p')
	[ -n "$depends" ] || { echo "build.sh: dpkg-shlibdeps found nothing" >&2; exit 1; }
	sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$arch|" \
	    -e "s|@MAINTAINER@|$PKG_MAINTAINER|" \
	    -e "s|@SIZE@|$(installed_kib "$root")|" \
	    -e "s|@DEPENDS@|$depends|" "$here/deb/control.in" \
	    > "$root/DEBIAN/control"
	(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print |
	    sed 's|^\./||' | LC_ALL=C sort | xargs md5sum) > "$root/DEBIAN/md5sums"
	chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" \
	    "$root/DEBIAN/md5sums"

	out=$dir/ferry_${VERSION}_$arch.deb
	dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
	echo "$out"
}

rpm_() {
	arch=$(rpm --eval '%{_arch}')
	root=$dir/rpm/tree
	payload "$root"
	mkdir -p "$root/var/opt/ferry" "$root/var/log/ferry" \
	    "$root/etc/opt/ferry/conf.d/fleet"
	# Red Hat's places: units in /usr/lib, SysV scripts in /etc/rc.d.
	mkdir -p "$root/usr/lib/systemd" "$root/etc/rc.d" \
	    "$root/usr/share/licenses/ferry"
	mv "$root/lib/systemd/system" "$root/usr/lib/systemd/system"
	rm -rf "${root:?}/lib"
	mv "$root/etc/init.d" "$root/etc/rc.d/init.d"
	install -m 0644 "$here/copyright" "$root/usr/share/licenses/ferry/copyright"
	# rpm wants links that stay inside a --root.
	ln -sfn ../../opt/ferry/bin/ferryctl "$root/usr/bin/ferryctl"

	spec=$dir/rpm/ferry.spec
	include "$here/rpm/ferry.spec.in" | sed -e "s|@VERSION@|$VERSION|g" \
	    -e "s|@TREE@|$root|" -e "s|@MAINTAINER@|$PKG_MAINTAINER|" \
	    -e "s|@DATE@|$(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %d %Y')|" \
	    -e "s|@CHANGE@|$change|" > "$spec"
	rpmbuild -bb --quiet \
	    --define "_topdir $dir/rpm/top" \
	    --define "_rpmdir $dir" \
	    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
	    --define "_binary_payload w9.xzdio" \
	    --define "use_source_date_epoch_as_buildtime 1" \
	    --define "clamp_mtime_to_source_date_epoch 1" \
	    "$spec" >/dev/null
	echo "$dir/ferry-$VERSION-1.$arch.rpm"
}

case $fmt in
deb)	deb ;;
rpm)	rpm_ ;;
*)	echo "usage: build.sh deb|rpm DIR" >&2
	exit 2 ;;
esac
