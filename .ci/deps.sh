#!/bin/sh
# Install the Debian packages that building and testing ferry need, when missing.
# Run as root, or with sudo available.
set -e
PKGS="build-essential pkg-config libcurl4-openssl-dev libconfuse-dev libsqlite3-dev
libbsd-dev libcmocka-dev libmicrohttpd-dev libc-ares-dev libhiredis-dev python3 python3-pytest netcat-openbsd
carbon-c-relay redis-server collectd-core logrotate sqlite3 cppcheck time curl"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
