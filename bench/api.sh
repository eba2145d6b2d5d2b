#!/bin/bash
# bench/api.sh — GET /api/items?limit=20 throughput of mod_poketto, measured in one run
# against two references on the same machine:
#   static  the same private httpd serving the exact bytes of that answer as a static file
#   flask   the Flask peer (../shared/peers/flask), gunicorn -w 1 --threads 8, as its bench.py
#
# It builds the module (make all, unless SKIP_BUILD=1), installs missing Debian packages
# (root only), starts a private httpd (event MPM, 4x128 threads, mod_dbd + SQLite in a temp
# dir; never the system apache2 or /etc/apache2), creates a user and token with
# poketto-admin, saves ITEMS items through the API, then runs wrk against every target at
# every connection count and prints a markdown report (machine, versions, table, ratios) on
# stdout. Progress goes to stderr.
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
#   SKIP_BUILD=1      use build/ as it is (no make)
set -euo pipefail
BENCH_NAME=api.sh
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

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

isnum "$DURATION" || die "DURATION must be a positive whole number of seconds"
isnum "$RUNS" || die "RUNS must be a positive whole number"
isnum "$WARMUP" || die "WARMUP must be a positive whole number of seconds"
isnum "$ITEMS" || die "ITEMS must be a positive whole number"
for c in $CONNS; do isnum "$c" || die "CONNS must be whole numbers, got '$c'"; done
[ -n "$CONNS" ] || die "CONNS is empty"
for t in $EXTRA; do
    case "$t" in session|items1) ;; *) die "EXTRA knows session and items1, not '$t'" ;; esac
done
bench_traps

# ------------------------------------------------------------ what we need
PKGS=(apache2 wrk curl python3 procps)
[ "$SKIP_FLASK" = 1 ] || PKGS+=("${FLASK_PKGS[@]}")
ensure_packages "${PKGS[@]}"
[ -x "$PY" ] || die "$PY not found"
if [ "$SKIP_FLASK" != 1 ]; then
    [ -f "$PEER_DIR/app.py" ] || die "no Flask peer at $PEER_DIR (set PEER_DIR, or SKIP_FLASK=1)"
    PEER_DIR=$(cd "$PEER_DIR" && pwd)
fi
build_module

# --------------------------------------------------------------- the server
make_tmp poketto-bench run db htdocs/static wrk flask
PORT=$(freeport)
httpd_conf_extras "$TMP/extra.conf"
CONF="$TMP/httpd.conf"
awk -v dir="$TMP" -v port="$PORT" -v module="$TMP/lib/mod_poketto.so" -v user="$USERLINE" \
    -v inc="$INCLUDE" '
    { gsub(/@DIR@/, dir); gsub(/@PORT@/, port); gsub(/@MODULE@/, module);
      gsub(/@USER@/, user); gsub(/@INCLUDE@/, inc); print }' \
    "$BENCH/api-httpd.conf.in" > "$CONF"

DB="$TMP/db/poketto.db"
ADMIN="$ROOT/build/poketto-admin"
TOKEN=$(admin_token sqlite3 "$DB")
[ -n "$TOKEN" ] || die "poketto-admin gave no token"
# httpd's children drop root: they write the database folder and read the static file
[ "$(id -u)" -ne 0 ] || chown -R www-data:www-data "$TMP"

httpd_configtest "$CONF" "$TMP/logs/configtest.log" \
    "httpd refused the generated configuration or the module"

BASE="http://127.0.0.1:$PORT"
HTTPD_PID=""
start_httpd() {
    httpd_start "$CONF" "$TMP/logs/httpd.out" "$TMP/logs/error.log" "the private httpd"
    say "httpd (pid $HTTPD_PID) serving $BASE, config $CONF"
}
stop_httpd() { stop_group "$HTTPD_PID"; }
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
    say "seeding the Flask peer's own database ($ITEMS items) and starting gunicorn"
    flask_start "$ITEMS"
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
LOAD_BEFORE=$(loadavg)
for run in $(seq 1 "$RUNS"); do
    for c in $CONNS; do
        th=$(wrk_threads "$c")
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
LOAD_AFTER=$(loadavg)

# the answer must not have changed under the benchmark (it is the static reference)
timeout 30 "$PY" "$HELPER" get "$BASE/api/items?limit=20" "$TOKEN" "$TMP/after.json" >/dev/null
BODY_NOTE="unchanged during the run"
cmp -s "$STATIC" "$TMP/after.json" || BODY_NOTE="CHANGED during the run (compare with care)"
ERRLINES=$(httpd_errors "$TMP/logs/error.log" | wc -l)

# ------------------------------------------------------------------- report
CMD="DURATION=$DURATION CONNS=\"$CONNS\" RUNS=$RUNS"
[ "$SKIP_FLASK" != 1 ] || CMD="$CMD SKIP_FLASK=1"
[ -z "$EXTRA" ] || CMD="$CMD EXTRA=\"$EXTRA\""
[ -z "${POKETTO_CONF:-}" ] || CMD="$CMD POKETTO_CONF=$POKETTO_CONF"
[ -z "${DB_SQL:-}" ] || CMD="$CMD DB_SQL=\"$DB_SQL\""
CMD="$CMD bench/api.sh"
versions() {
    apache_line "event MPM"
    echo "- wrk: $(pkgver wrk)"
    echo "- SQLite: $(sqlite_version)"
    if [ "$SKIP_FLASK" != 1 ]; then
        echo "- gunicorn: $(pkgver gunicorn) (gthread worker), Flask $(pkgver python3-flask), Python $(python_version)"
    fi
}
{
    echo "Command: \`$CMD\`"
    echo
    machine_line "$(date -u '+%Y-%m-%d %H:%M UTC')" "$LOAD_BEFORE" "$LOAD_AFTER"
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
[ "$ERRLINES" = 0 ] || { say "httpd error log:"; httpd_errors "$TMP/logs/error.log" | tail -n 20 >&2; }
