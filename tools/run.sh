#!/bin/sh
# `make run` / `make debug`: write a private httpd configuration under var/ (or, when
# httpd's User cannot reach the checkout, under /var/tmp/poketto-dev), create a first
# account if there is none, print its credentials, and serve on 127.0.0.1:$PORT in the
# foreground. Never touches the system's apache2 service or /etc/apache2.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8080}
BUILD="$ROOT/build"
VAR="$ROOT/var"
USERLINE=""
if [ "$(id -u)" -eq 0 ]; then
    # httpd's children drop root: they need a User that can write the database's folder
    RUNAS=www-data
    mkdir -p "$VAR"
    chown "$RUNAS:$RUNAS" "$VAR"
    if ! runuser -u "$RUNAS" -- test -w "$VAR" 2>/dev/null \
       || ! runuser -u "$RUNAS" -- test -r "$BUILD/mod_poketto.so" 2>/dev/null; then
        VAR=/var/tmp/poketto-dev
        echo "note: $RUNAS cannot reach $ROOT; using $VAR for data, the module is copied there"
        mkdir -p "$VAR/lib"
        cp "$BUILD/mod_poketto.so" "$VAR/lib/"
        BUILD="$VAR/lib"
        chown -R "$RUNAS:$RUNAS" "$VAR"
    fi
    USERLINE="User $RUNAS
Group $RUNAS"
fi
mkdir -p "$VAR/run" "$VAR/logs"
INCLUDE=""
if [ -n "${POKETTO_CONF:-}" ]; then
    INCLUDE="Include \"$(cd "$(dirname "$POKETTO_CONF")" && pwd)/$(basename "$POKETTO_CONF")\""
fi
CONF="$VAR/httpd.conf"
awk -v var="$VAR" -v port="$PORT" -v build="$BUILD" -v user="$USERLINE" -v inc="$INCLUDE" '
    { gsub(/@VAR@/, var); gsub(/@PORT@/, port); gsub(/@BUILD@/, build);
      gsub(/@USER@/, user); gsub(/@INCLUDE@/, inc); print }' \
    "$ROOT/conf/httpd-run.conf.in" > "$CONF"

ADMIN="$ROOT/build/poketto-admin -d sqlite3 -p $VAR/poketto.db"
CRED="$VAR/first-account.txt"
if [ "$($ADMIN user count)" = "0" ]; then
    umask 077
    { $ADMIN user add admin; $ADMIN token add admin --name make-run; } > "$CRED"
    umask 022
fi
[ "$(id -u)" -ne 0 ] || chown -R "$RUNAS:$RUNAS" "$VAR"
if [ -f "$CRED" ]; then
    cat "$CRED"
else
    echo "accounts exist already; create one with: $ADMIN user add NAME"
fi
echo "serving on http://127.0.0.1:$PORT/api/ (config $CONF; Ctrl-C stops)"
if [ "${1:-}" = "--debug" ]; then
    exec gdb -q -ex run --args /usr/sbin/apache2 -X -f "$CONF"
fi
exec /usr/sbin/apache2 -f "$CONF" -DFOREGROUND
