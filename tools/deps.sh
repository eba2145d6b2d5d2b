#!/bin/sh
# Install the Debian packages mod_poketto needs to build, run and test; only what is
# missing, so a second run costs nothing. Needs root (or sudo).
set -eu
PKGS="apache2 apache2-dev libapr1-dev libaprutil1-dev libaprutil1-dbd-sqlite3
      libaprutil1-dbd-pgsql libsqlite3-dev libjansson-dev libcurl4-openssl-dev libxml2-dev libcmark-dev
      libapache2-mod-perl2 libwww-perl libjson-pp-perl libio-socket-ssl-perl openssl sqlite3 postgresql gdb valgrind gcc make
      ca-certificates clang-14 libclang-rt-14-dev python3-websockets"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
# node and npm: Debian's packages, unless a node (e.g. NodeSource's, which brings its
# own npm and conflicts with Debian's npm package) is there already
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

# The node WebSocket client of the tests (npm `ws`, pinned by package-lock.json), inside
# the tree: readable by the unprivileged user the integration tests run as.
node_deps() {
    dir=$(cd "$(dirname "$0")/.." && pwd)/tests/bin/node
    [ -r "$dir/node_modules/ws/package.json" ] && return 0
    (cd "$dir" && npm ci --no-audit --no-fund --omit=dev >/dev/null) || return 1
    chmod -R a+rX "$dir/node_modules"
}
if [ -z "$missing" ]; then
    node_deps
    exit 0
fi
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
# the apache2 package must not start (or enable) the system's own service for us
$SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq \
    --no-install-recommends $missing >/dev/null
node_deps
