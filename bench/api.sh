#!/bin/bash
# bench/api.sh — GET /api/items?limit=20 throughput of mod_poketto, measured in one run
# against two references on the same machine:
#   static  the same private httpd serving the exact bytes of that answer as a static file
#   flask   the Flask peer (../shared/peers/flask), gunicorn -w 1 --threads 8, as its bench.py
#
# It builds the module (make all), installs missing Debian packages (root only), starts a
# private httpd (event MPM, 4x128 threads, mod_dbd + SQLite in a temp dir; never the system
# apache2 or /etc/apache2), creates a user and token with poketto-admin, saves ITEMS items
# through the API, then runs wrk against every target at every connection count and prints
# a markdown report (machine, versions, table, ratios) on stdout. Progress goes to stderr.
# Every server runs in a process group of its own and is stopped, and the temp dir removed,
# on any exit (end, failure, Ctrl-C).
#
# Environment:
#   DURATION=10       seconds of each measured wrk run
#   CONNS="32 256"    connection counts
#   SKIP_FLASK=1      leave out the Flask peer (and its packages)
#   RUNS=1            repeat every cell; the table shows the median
#   WARMUP=2          seconds of the warm-up wrk run before each cell (same connections)
#   EXTRA=""          more module targets, to split the cost: "session" (GET /api/session,
#                     token lookup only) and/or "items1" (GET /api/items?limit=1)
#   ITEMS=1000        items saved before measuring
#   PEER_DIR=…        the Flask peer (default ../shared/peers/flask beside the checkout)
#   REPORT=FILE       also write the report to FILE
#   POKETTO_CONF=FILE include FILE at the end of the generated httpd configuration
#   DB_SQL="…"        SQL run (sqlite3 CLI) on the module's database after the items are
#                     saved, before measuring: for experiments, e.g. an index
#   KEEP_TMP=1        keep the temp dir (configs, logs, raw wrk outputs) for inspection
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
PY=/usr/bin/python3        # Debian's interpreter: python3-* packages load only there
HELPER="$BENCH/apibench.py"
DURATION=${DURATION:-10}
CONNS=${CONNS:-"32 256"}
SKIP_FLASK=${SKIP_FLASK:-0}
RUNS=${RUNS:-1}
WARMUP=${WARMUP:-2}
EXTRA=${EXTRA:-}
ITEMS=${ITEMS:-1000}
PEER_DIR=${PEER_DIR:-"$ROOT/../shared/peers/flask"}
REPORT=${REPORT:-}
START_TIME=$(date +%s)

say() { printf '[api.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

isnum() { case "$1" in ''|*[!0-9]*) return 1 ;; *) [ "$1" -gt 0 ] ;; esac; }
isnum "$DURATION" || die "DURATION must be a positive whole number of seconds"
isnum "$RUNS" || die "RUNS must be a positive whole number"
isnum "$WARMUP" || die "WARMUP must be a positive whole number of seconds"
isnum "$ITEMS" || die "ITEMS must be a positive whole number"
for c in $CONNS; do isnum "$c" || die "CONNS must be whole numbers, got '$c'"; done
[ -n "$CONNS" ] || die "CONNS is empty"
for t in $EXTRA; do
    case "$t" in session|items1) ;; *) die "EXTRA knows session and items1, not '$t'" ;; esac
done

# ------------------------------------------------------------------ clean-up
TMP=""
PGIDS=""            # leaders of the process groups we started

alive() {           # a zombie (exited, not yet reaped) counts as gone
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    case "$st" in Z*) return 1 ;; esac
}

stop_group() {      # TERM the leader, give it 10 s, then KILL whatever is left of its group
    local pid=$1
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            alive "$pid" || break
            sleep 0.1
        done
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM HUP
    set +e
    for pid in $PGIDS; do
        stop_group "$pid"
    done
    if [ -n "$TMP" ] && [ -d "$TMP" ]; then
        if [ "${KEEP_TMP:-0}" = 1 ]; then
            say "kept $TMP"
        else
            rm -rf "$TMP"
        fi
    fi
    say "finished in $(( $(date +%s) - START_TIME )) s (exit status $rc)"
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ------------------------------------------------------------ what we need
PKGS="apache2 wrk curl python3 procps"
[ "$SKIP_FLASK" = 1 ] || PKGS="$PKGS python3-flask python3-flask-socketio python3-socketio
    python3-engineio gunicorn python3-readability python3-lxml python3-requests"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "missing packages:$missing (run as root or install them)"
        SUDO=sudo
    fi
    say "installing:$missing"
    timeout 600 $SUDO apt-get update -qq
    # RUNLEVEL=1: the apache2 package must not start (or enable) the system's service for us
    timeout 900 $SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq \
        --no-install-recommends $missing >/dev/null
fi
[ -x "$PY" ] || die "$PY not found"
if [ "$SKIP_FLASK" != 1 ]; then
    [ -f "$PEER_DIR/app.py" ] || die "no Flask peer at $PEER_DIR (set PEER_DIR, or SKIP_FLASK=1)"
    PEER_DIR=$(cd "$PEER_DIR" && pwd)
fi

say "building (make -C $ROOT all)"
timeout 900 make -C "$ROOT" all >&2 || die "the build failed (make deps installs the build dependencies)"
[ -f "$ROOT/build/mod_poketto.so" ] && [ -x "$ROOT/build/poketto-admin" ] \
    || die "make did not produce build/mod_poketto.so and build/poketto-admin"

# --------------------------------------------------------------- the server
TMP=$(mktemp -d /tmp/poketto-bench.XXXXXX)
chmod 755 "$TMP"
mkdir -p "$TMP/run" "$TMP/logs" "$TMP/db" "$TMP/lib" "$TMP/htdocs/static" "$TMP/wrk" \
         "$TMP/flask"
cp "$ROOT/build/mod_poketto.so" "$TMP/lib/"    # httpd's User may not reach the checkout
RESULTS="$TMP/results.jsonl"
: > "$RESULTS"

freeport() { timeout 10 "$PY" "$HELPER" freeport; }
PORT=$(freeport)
USERLINE=""
if [ "$(id -u)" -eq 0 ]; then
    USERLINE='User www-data\nGroup www-data'
fi
INCLUDE=""
if [ -n "${POKETTO_CONF:-}" ]; then
    [ -r "$POKETTO_CONF" ] || die "POKETTO_CONF=$POKETTO_CONF is not readable"
    cp "$POKETTO_CONF" "$TMP/extra.conf"
    INCLUDE="Include \"$TMP/extra.conf\""
fi
CONF="$TMP/httpd.conf"
awk -v dir="$TMP" -v port="$PORT" -v module="$TMP/lib/mod_poketto.so" -v user="$USERLINE" \
    -v inc="$INCLUDE" '
    { gsub(/@DIR@/, dir); gsub(/@PORT@/, port); gsub(/@MODULE@/, module);
      gsub(/@USER@/, user); gsub(/@INCLUDE@/, inc); print }' \
    "$BENCH/api-httpd.conf.in" > "$CONF"

DB="$TMP/db/poketto.db"
ADMIN="$ROOT/build/poketto-admin"
timeout 60 "$ADMIN" -d sqlite3 -p "$DB" user add bench >/dev/null
TOKEN=$(timeout 60 "$ADMIN" -d sqlite3 -p "$DB" token add bench --name bench \
        | sed -n 's/^token: //p')
[ -n "$TOKEN" ] || die "poketto-admin gave no token"
# httpd's children drop root: they write the database folder and read the static file
[ "$(id -u)" -ne 0 ] || chown -R www-data:www-data "$TMP"

timeout 30 /usr/sbin/apache2 -t -f "$CONF" >"$TMP/logs/configtest.log" 2>&1 \
    || { cat "$TMP/logs/configtest.log" >&2; die "httpd refused the generated configuration or the module"; }

wait_http() {       # URL PID: until the URL answers any HTTP status (30 s at most)
    local url=$1 pid=$2 code
    for _ in $(seq 1 300); do
        alive "$pid" || return 1
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
        [ "$code" != "000" ] && [ -n "$code" ] && return 0
        sleep 0.1
    done
    return 1
}

BASE="http://127.0.0.1:$PORT"
HTTPD_PID=""
start_httpd() {
    setsid /usr/sbin/apache2 -f "$CONF" -DFOREGROUND </dev/null >>"$TMP/logs/httpd.out" 2>&1 &
    HTTPD_PID=$!
    PGIDS="$PGIDS $HTTPD_PID"
    wait_http "$BASE/api/session" "$HTTPD_PID" || {
        tail -n 30 "$TMP/logs/error.log" "$TMP/logs/httpd.out" >&2 2>/dev/null
        die "the private httpd did not come up on $BASE"
    }
    say "httpd (pid $HTTPD_PID) serving $BASE, config $CONF"
}
stop_httpd() {
    local pid rest=""
    stop_group "$HTTPD_PID"
    for pid in $PGIDS; do
        [ "$pid" = "$HTTPD_PID" ] || rest="$rest $pid"
    done
    PGIDS=$rest
}
start_httpd

say "saving $ITEMS items through POST /api/items"
timeout 600 "$PY" "$HELPER" seed "$BASE/api" "$TOKEN" "$ITEMS" >&2

if [ -n "${DB_SQL:-}" ]; then
    # an experiment on the database (an index, say): httpd is stopped meanwhile, since
    # apr_dbd's SQLite driver cannot re-prepare statements after a schema change
    command -v sqlite3 >/dev/null || die "DB_SQL needs the sqlite3 command (apt-get install sqlite3)"
    stop_httpd
    say "running DB_SQL on the database: $DB_SQL"
    timeout 60 sqlite3 "$DB" "$DB_SQL" >&2
    [ "$(id -u)" -ne 0 ] || chown www-data:www-data "$TMP/db" "$TMP/db"/*
    start_httpd
fi

# the reference: the exact bytes of the answer, served by the same httpd as a file
STATIC="$TMP/htdocs/static/items.json"
timeout 30 "$PY" "$HELPER" get "$BASE/api/items?limit=20" "$TOKEN" "$STATIC" >&2
[ "$(id -u)" -ne 0 ] || chown www-data:www-data "$STATIC"
timeout 30 "$PY" "$HELPER" get "$BASE/static/items.json" "$TOKEN" "$TMP/static.check" >&2
cmp -s "$STATIC" "$TMP/static.check" || die "the static file is not served byte for byte"
BODY_BYTES=$(stat -c %s "$STATIC")

# ------------------------------------------------------------ the Flask peer
FLASK_BYTES=""
if [ "$SKIP_FLASK" != 1 ]; then
    FLASK_PORT=$(freeport)
    say "seeding the Flask peer's own database ($ITEMS items) and starting gunicorn"
    ITEMS_DB="$TMP/flask/items.db" timeout 120 "$PY" "$PEER_DIR/app.py" seed "$ITEMS" >&2
    # as the peer's bench.py: gunicorn -w 1 --threads 8 on 127.0.0.1, from the peer's folder
    setsid env ITEMS_DB="$TMP/flask/items.db" "$PY" /usr/bin/gunicorn --chdir "$PEER_DIR" \
        -w 1 --threads 8 --graceful-timeout 5 --bind "127.0.0.1:$FLASK_PORT" app:app \
        </dev/null >"$TMP/logs/gunicorn.log" 2>&1 &
    FLASK_PID=$!
    PGIDS="$PGIDS $FLASK_PID"
    wait_http "http://127.0.0.1:$FLASK_PORT/api/items?limit=20" "$FLASK_PID" || {
        tail -n 30 "$TMP/logs/gunicorn.log" >&2
        die "gunicorn did not come up on 127.0.0.1:$FLASK_PORT"
    }
    timeout 30 "$PY" "$HELPER" get "http://127.0.0.1:$FLASK_PORT/api/items?limit=20" "$TOKEN" \
        "$TMP/flask/body.json" >&2
    FLASK_BYTES=$(stat -c %s "$TMP/flask/body.json")
    say "gunicorn (pid $FLASK_PID) serving http://127.0.0.1:$FLASK_PORT"
fi

TARGETS="module static"
[ "$SKIP_FLASK" = 1 ] || TARGETS="$TARGETS flask"
TARGETS="$TARGETS $EXTRA"

url_of() {
    case "$1" in
        module)  echo "$BASE/api/items?limit=20" ;;
        static)  echo "$BASE/static/items.json" ;;
        flask)   echo "http://127.0.0.1:$FLASK_PORT/api/items?limit=20" ;;
        session) echo "$BASE/api/session" ;;
        items1)  echo "$BASE/api/items?limit=1" ;;
    esac
}

# ------------------------------------------------------------------ measure
group_ticks() {     # CPU time (clock ticks) used so far by the processes of groups "$@"
    local g p f t=0
    for g in "$@"; do
        for p in $(pgrep -g "$g" 2>/dev/null); do
            f=$(cut -d')' -f2- "/proc/$p/stat" 2>/dev/null) || continue
            set -- $f
            t=$((t + ${12} + ${13}))
        done
    done
    echo "$t"
}

# Requests a finished wrk run left queued (at -c256 the module has seconds of them) must not
# run into the next cell: wait until the servers use less than ~5 % of a core (30 s at most).
wait_idle() {
    local a b
    for _ in $(seq 1 60); do
        a=$(group_ticks $PGIDS)
        sleep 0.5
        b=$(group_ticks $PGIDS)
        [ $((b - a)) -gt 2 ] || return 0
    done
    say "warning: the servers were still busy after 30 s"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq 1 "$RUNS"); do
    for c in $CONNS; do
        th=2
        [ "$c" -ge 2 ] || th=1
        for t in $TARGETS; do
            url=$(url_of "$t")
            out="$TMP/wrk/$t-c$c-run$run.txt"
            wait_idle
            timeout $((WARMUP + 30)) wrk -t"$th" -c"$c" -d"${WARMUP}s" --timeout 10s \
                -H "Authorization: Bearer $TOKEN" "$url" >/dev/null 2>&1 || true
            wait_idle
            timeout $((DURATION + 60)) wrk -t"$th" -c"$c" -d"${DURATION}s" --timeout 10s \
                --latency -H "Authorization: Bearer $TOKEN" "$url" >"$out" 2>&1 || true
            say "run $run/$RUNS c$c $t: $("$PY" "$HELPER" wrk "$t" "$c" "$run" "$out" 2>&1 >>"$RESULTS")"
        done
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# the answer must not have changed under the benchmark (it is the static reference)
timeout 30 "$PY" "$HELPER" get "$BASE/api/items?limit=20" "$TOKEN" "$TMP/after.json" >/dev/null
BODY_NOTE="unchanged during the run"
cmp -s "$STATIC" "$TMP/after.json" || BODY_NOTE="CHANGED during the run (compare with care)"
ERRLINES=$(grep -vc -e 'AH00489' -e 'AH00094' -e 'AH00491' -e 'AH00492' "$TMP/logs/error.log" || true)

# ------------------------------------------------------------------- report
CMD="DURATION=$DURATION CONNS=\"$CONNS\" RUNS=$RUNS"
[ "$SKIP_FLASK" != 1 ] || CMD="$CMD SKIP_FLASK=1"
[ -z "$EXTRA" ] || CMD="$CMD EXTRA=\"$EXTRA\""
[ -z "${POKETTO_CONF:-}" ] || CMD="$CMD POKETTO_CONF=$POKETTO_CONF"
[ -z "${DB_SQL:-}" ] || CMD="$CMD DB_SQL=\"$DB_SQL\""
CMD="$CMD bench/api.sh"
versions() {
    echo "- apache2: $(/usr/sbin/apache2 -v | sed -n 's/^Server version: //p') (event MPM), $(dpkg-query -W -f='${Version}' apache2)"
    echo "- wrk: $(dpkg-query -W -f='${Version}' wrk)"
    echo "- SQLite: $("$PY" -c 'import sqlite3; print(sqlite3.sqlite_version)')"
    if [ "$SKIP_FLASK" != 1 ]; then
        echo "- gunicorn: $(dpkg-query -W -f='${Version}' gunicorn) (gthread worker), Flask $(dpkg-query -W -f='${Version}' python3-flask), Python $("$PY" -c 'import platform; print(platform.python_version())')"
    fi
}
{
    echo "Command: \`$CMD\`"
    echo
    echo "Machine: \`nproc\`=$(nproc), $(uname -sr), $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(date -u '+%Y-%m-%d %H:%M UTC'); load average $LOAD_BEFORE before, $LOAD_AFTER after"
    echo
    versions
    echo
    echo "Body of GET /api/items?limit=20: mod_poketto $BODY_BYTES bytes ($BODY_NOTE; the static file holds the same bytes)${FLASK_BYTES:+, Flask peer $FLASK_BYTES bytes (its own format)}."
    echo "wrk -t2 -cN -d${DURATION}s --timeout 10s --latency -H 'Authorization: Bearer …' after a ${WARMUP} s warm-up at the same N; before the warm-up and the run the servers finish what earlier runs left queued; httpd error log: $ERRLINES line(s) besides start/stop notices."
    echo
    "$PY" "$HELPER" report "$RESULTS"
} > "$TMP/report.md"
cat "$TMP/report.md"
[ -z "$REPORT" ] || cp "$TMP/report.md" "$REPORT"
[ "$ERRLINES" = 0 ] || { say "httpd error log:"; grep -v -e 'AH00489' -e 'AH00094' -e 'AH00491' -e 'AH00492' "$TMP/logs/error.log" | tail -n 20 >&2; }
