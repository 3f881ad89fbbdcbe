#!/bin/sh
# Install the Debian packages that building and testing ferry need, when missing.
# Run as root, or with sudo available.
#
# chromium is the browser tests/system/test_web.py drives (headless, over its
# DevTools protocol, from Python's standard library); the DejaVu fonts are
# what its screenshots are drawn with.
#
# The real peers of tests/system/peers.py (redis-server, rsyslog,
# graphite-carbon, victoria-metrics, clickhouse-server, etcd-server) come as
# services: their maintainer scripts would start the system's instance
# (invoke-rc.d) in a container without systemd. The tests start their own, in a temporary
# folder on free ports, so the install runs with a policy-rc.d that forbids
# starting any service (exit 101), removed again afterwards when it was ours.
#
# make deb / make rpm and their test (tests/system/test_packages.py) need
# dpkg-dev (dpkg-shlibdeps), lintian, rpm (rpmbuild), rpmlint, debootstrap
# with debian-archive-keyring (a recommendation, which --no-install-recommends
# leaves out) to check the mirror's signature, systemd (systemd-analyze
# verify; no systemd runs here), man-db (which verify runs for the unit's
# Documentation=) and iproute2 (ip, for the test's own loopback); unshare
# and nsenter are util-linux's, which every Debian has.
#
# make fuzz needs clang and libFuzzer's runtime (libclang-rt-dev: clang
# only recommends it); make lint runs clang-tidy (and gcc -fanalyzer);
# make check runs one system test under valgrind.
set -e
PKGS="build-essential pkg-config libcurl4-openssl-dev libconfuse-dev libsqlite3-dev
libbsd-dev libcmocka-dev libmicrohttpd-dev libc-ares-dev python3 python3-pytest netcat-openbsd
carbon-c-relay collectd-core logrotate sqlite3 cppcheck time curl
libhiredis-dev libpcre2-dev zlib1g-dev python3-pytest-xdist
redis-server rsyslog graphite-carbon python3-whisper victoria-metrics clickhouse-server
dpkg-dev lintian rpm rpmlint debootstrap debian-archive-keyring systemd man-db iproute2
etcd-server etcd-client nginx
chromium fonts-dejavu-core
clang clang-tidy libclang-rt-dev valgrind"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\n# written by ferry .ci/deps.sh for the time of an install\nexit 101\n' |
		$SUDO tee "$POLICY" >/dev/null
	$SUDO chmod 755 "$POLICY"
	trap '$SUDO rm -f "$POLICY"' EXIT
	trap 'exit 1' INT TERM
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
