#!/bin/sh
# Install the Debian packages mod_poketto needs to build, run and test; only what is
# missing, so a second run costs nothing. Needs root (or sudo).
set -eu
PKGS="apache2 apache2-dev libapr1-dev libaprutil1-dev libaprutil1-dbd-sqlite3
      libaprutil1-dbd-pgsql libsqlite3-dev libjansson-dev libcurl4-openssl-dev libxml2-dev libcmark-dev
      libapache2-mod-perl2 libwww-perl libjson-pp-perl sqlite3 postgresql gdb valgrind gcc make
      ca-certificates clang-14 libclang-rt-14-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
# the apache2 package must not start (or enable) the system's own service for us
$SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq \
    --no-install-recommends $missing >/dev/null
