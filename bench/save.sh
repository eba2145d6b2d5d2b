#!/bin/bash
# bench/save.sh — saving pages with mod_poketto, measured in one run (issue 4, "Benchmark"):
#
#   1. head-of-line  SAVES (1000) concurrent POST /api/items of distinct URLs on a local
#                    origin that answers after DELAY_MS (2000 ms), sent at once by POSTERS
#                    (4) client processes on connections opened beforehand, while GETTERS (4)
#                    closed-loop clients GET /api/items?limit=20. Reports when every save was
#                    answered (202), when every item was ready (polled in the SQLite file),
#                    and the GETs' count/p50/p99/max; beside it the Flask peer
#                    (../shared/peers/flask, gunicorn -w 1 --threads 8) with FLASK_SAVES (40)
#                    saves and the same GET clients. A second module row spreads the same
#                    saves over SPREAD_HOSTS host names that all resolve to the origin
#                    (PokettoFetchResolve): it shows what the engine does when no per-host
#                    connection limit applies.
#   2. accept rate   saves/s answered 202 at ACCEPT_CONNS (1 and 32) connections (wrk + a Lua
#                    script posting distinct URLs), on SQLite and on a throwaway PostgreSQL
#                    15, with the task engine off (the accept path alone) and on (the
#                    engine fetches the fast origin meanwhile).
#
# Everything runs on 127.0.0.1, in a temp dir: a private httpd (event MPM; never the system
# apache2 or /etc/apache2), the origin, gunicorn, PostgreSQL (initdb/pg_ctl as an
# unprivileged user, fsync=off). Every server runs in a process group of its own; all are
# stopped and the temp dir removed on any exit (end, failure, Ctrl-C). Markdown report on
# stdout, progress on stderr.
#
# Environment:
#   SAVES=1000 DELAY_MS=2000 SEED=1000 GETTERS=4 POSTERS=4 FLASK_SAVES=40
#                        (SEED: concurrent saves of the fast page before the runs, until
#                        all are ready: the list the GETs read, and a warm-up burst)
#   HOL_DEADLINE=120     seconds a head-of-line run may take before it is cut off
#   SPREAD_HOSTS=40      host names of the second module row (0 leaves the row out)
#   ORIGIN=asyncio       asyncio: bench/savebench.py's origin (the peer's pages, asyncio);
#                        peer: the peer's slow_origin.py (thread per connection)
#   CHILDREN=4 THREADS=256  httpd children and threads per child
#   CONCURRENCY=500      PokettoFetchConcurrency (tasks per child)
#   FETCH_TIMEOUT=30     PokettoFetchTimeout (seconds; the module's default)
#   DBD_MIN=max          DBDMin of the SQLite configurations: max opens every connection of
#                        mod_dbd's pool when a child starts (THREADS + 8); a number leaves
#                        the rest to be opened on demand (PostgreSQL always uses 4)
#   ACCEPT_CONNS="1 32" ACCEPT_DURATION=10 ACCEPT_WARMUP=2
#   ACCEPT_RUNS=1        repeat every accept cell (same server); the table shows the median
#   ACCEPT_DBS="sqlite pgsql"  ACCEPT_ENGINE="off on"
#   PHASES="hol accept"  which phases run
#   SKIP_FLASK=1         leave out the Flask peer (and its packages)
#   SKIP_BUILD=1         use build/ as it is (no make)
#   PEER_DIR=…           the Flask peer (default ../shared/peers/flask beside the checkout)
#   REPORT=FILE          also write the report to FILE
#   POKETTO_CONF=FILE    include FILE at the end of every generated httpd configuration
#   KEEP_TMP=1           keep the temp dir (configs, logs, raw outputs) for inspection
set -euo pipefail
BENCH_NAME=save.sh
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

HELPER="$BENCH/savebench.py"
SAVES=${SAVES:-1000}
DELAY_MS=${DELAY_MS:-2000}
SEED=${SEED:-1000}
GETTERS=${GETTERS:-4}
POSTERS=${POSTERS:-4}
FLASK_SAVES=${FLASK_SAVES:-40}
HOL_DEADLINE=${HOL_DEADLINE:-120}
SPREAD_HOSTS=${SPREAD_HOSTS:-40}
ORIGIN=${ORIGIN:-asyncio}
CHILDREN=${CHILDREN:-4}
THREADS=${THREADS:-256}
CONCURRENCY=${CONCURRENCY:-500}
FETCH_TIMEOUT=${FETCH_TIMEOUT:-30}
ACCEPT_CONNS=${ACCEPT_CONNS:-"1 32"}
ACCEPT_DURATION=${ACCEPT_DURATION:-10}
ACCEPT_WARMUP=${ACCEPT_WARMUP:-2}
ACCEPT_RUNS=${ACCEPT_RUNS:-1}
ACCEPT_DBS=${ACCEPT_DBS:-"sqlite pgsql"}
ACCEPT_ENGINE=${ACCEPT_ENGINE:-"off on"}
PHASES=${PHASES:-"hol accept"}
DBD_MIN=${DBD_MIN:-max}
SKIP_FLASK=${SKIP_FLASK:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
PEER_DIR=${PEER_DIR:-"$ROOT/../shared/peers/flask"}
REPORT=${REPORT:-}
PGBIN=/usr/lib/postgresql/15/bin

for v in SAVES DELAY_MS SEED GETTERS POSTERS FLASK_SAVES HOL_DEADLINE CHILDREN THREADS CONCURRENCY \
         FETCH_TIMEOUT ACCEPT_DURATION ACCEPT_WARMUP ACCEPT_RUNS; do
    isnum "${!v}" || die "$v must be a positive whole number, got '${!v}'"
done
for c in $ACCEPT_CONNS; do isnum "$c" || die "ACCEPT_CONNS must be whole numbers, got '$c'"; done
case "$SPREAD_HOSTS" in ''|*[!0-9]*) die "SPREAD_HOSTS must be a whole number" ;; esac
[ "$DBD_MIN" = max ] || isnum "$DBD_MIN" || die "DBD_MIN is a positive whole number or max"
case "$ORIGIN" in asyncio|peer) ;; *) die "ORIGIN is asyncio or peer, not '$ORIGIN'" ;; esac
for p in $PHASES; do case "$p" in hol|accept) ;; *) die "PHASES knows hol and accept, not '$p'" ;; esac; done
for d in $ACCEPT_DBS; do case "$d" in sqlite|pgsql) ;; *) die "ACCEPT_DBS knows sqlite and pgsql, not '$d'" ;; esac; done
for e in $ACCEPT_ENGINE; do case "$e" in on|off) ;; *) die "ACCEPT_ENGINE knows on and off, not '$e'" ;; esac; done
has_phase() { case " $PHASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
NEED_PG=0
if has_phase accept; then case " $ACCEPT_DBS " in *" pgsql "*) NEED_PG=1 ;; esac; fi
NEED_FLASK=0
if has_phase hol && [ "$SKIP_FLASK" != 1 ]; then NEED_FLASK=1; fi

PG_UP=0
on_cleanup() { [ "$PG_UP" = 0 ] || stop_pg; }     # called by lib.sh's cleanup
bench_traps

# ------------------------------------------------------------ what we need
PKGS=(apache2 wrk curl python3 procps libaprutil1-dbd-sqlite3)
[ "$NEED_PG" = 0 ] || PKGS+=(postgresql-15 libaprutil1-dbd-pgsql)
[ "$NEED_FLASK" = 0 ] || PKGS+=("${FLASK_PKGS[@]}")
ensure_packages "${PKGS[@]}"
[ -x "$PY" ] || die "$PY not found"
[ -f "$PEER_DIR/slow_origin.py" ] || die "no peer folder with slow_origin.py at $PEER_DIR (set PEER_DIR)"
PEER_DIR=$(cd "$PEER_DIR" && pwd)

build_module

make_tmp poketto-savebench run db wrk flask conf
cp "$ROOT/build/poketto-admin" "$TMP/lib/"
ADMIN="$TMP/lib/poketto-admin"
NOTES="$TMP/notes.md"       # lines for the report, written as the run goes
: > "$NOTES"
note() { printf '%s\n' "$*" >> "$NOTES"; }

# --------------------------------------------------------------- the origin
ORIGIN_PID=""
start_origin() {    # KIND: asyncio | peer
    local kind=$1
    ORIGIN_PORT=$(freeport)
    if [ "$kind" = peer ]; then
        spawn "$TMP/logs/origin-$kind.log" "$PY" "$PEER_DIR/slow_origin.py" "$ORIGIN_PORT"
    else
        spawn "$TMP/logs/origin-$kind.log" "$PY" "$HELPER" origin "$ORIGIN_PORT" "$PEER_DIR"
    fi
    ORIGIN_PID=$SPAWNED
    wait_http "http://127.0.0.1:$ORIGIN_PORT/fast" "$ORIGIN_PID" || {
        cat "$TMP/logs/origin-$kind.log" >&2
        die "the $kind origin did not come up"
    }
    ORIGIN_URL="http://127.0.0.1:$ORIGIN_PORT"
}
stop_origin() {
    stop_group "$ORIGIN_PID"
    ORIGIN_PID=""
}

# ------------------------------------------------------------ private httpd
httpd_conf_extras "$TMP/conf/extra.conf"

# make_conf NAME DRIVER PARAMS ENGINE(On|Off) RESOLVE [POSTLOG] -> $TMP/conf/NAME.conf,
# sets PORT; POSTLOG=1 logs every POST to $TMP/logs/NAME-posts.log
make_conf() {
    local name=$1 driver=$2 params=$3 engine=$4 resolve=$5 init="" dbdmin=$DBD_MIN postlog=""
    if [ "${6:-0}" = 1 ]; then
        postlog="LogFormat \"%{msec}t %D %>s\" pokettopost\nCustomLog \"$TMP/logs/$name-posts.log\" pokettopost \"expr=%{REQUEST_METHOD} == 'POST'\""
    fi
    [ "$dbdmin" != max ] || dbdmin=$((THREADS + 8))
    if [ "$driver" = sqlite3 ]; then
        # only synchronous=NORMAL: the module sets WAL and the busy timeout itself
        init='DBDInitSQL "PRAGMA synchronous=NORMAL"'
    else
        dbdmin=4        # PostgreSQL: a backend per connection; the pool grows on demand
    fi
    PORT=$(freeport)
    awk -v dir="$TMP" -v port="$PORT" -v module="$TMP/lib/mod_poketto.so" -v user="$USERLINE" \
        -v inc="$INCLUDE" -v name="$name" -v children="$CHILDREN" -v threads="$THREADS" \
        -v workers="$((CHILDREN * THREADS))" -v driver="$driver" -v params="$params" \
        -v init="$init" -v dbdmin="$dbdmin" -v dbdmax="$((THREADS + 8))" -v engine="$engine" \
        -v conc="$CONCURRENCY" -v ftimeout="$FETCH_TIMEOUT" -v resolve="$resolve" \
        -v postlog="$postlog" '
        { gsub(/@DIR@/, dir); gsub(/@PORT@/, port); gsub(/@MODULE@/, module);
          gsub(/@USER@/, user); gsub(/@INCLUDE@/, inc); gsub(/@NAME@/, name);
          gsub(/@CHILDREN@/, children); gsub(/@THREADS@/, threads); gsub(/@WORKERS@/, workers);
          gsub(/@DBDRIVER@/, driver); gsub(/@DBDPARAMS@/, params); gsub(/@DBDINIT@/, init);
          gsub(/@DBDMIN@/, dbdmin); gsub(/@DBDMAX@/, dbdmax); gsub(/@ENGINE@/, engine);
          gsub(/@CONCURRENCY@/, conc); gsub(/@FETCH_TIMEOUT@/, ftimeout);
          gsub(/@RESOLVE@/, resolve); gsub(/@POSTLOG@/, postlog); print }' \
        "$BENCH/save-httpd.conf.in" > "$TMP/conf/$name.conf"
}

HTTPD_PID=""
start_httpd() {     # NAME (config made by make_conf; PORT set)
    local name=$1 conf="$TMP/conf/$1.conf"
    # httpd's children drop root: they write the database folder
    [ "$(id -u)" -ne 0 ] || chown -R www-data:www-data "$TMP/db"
    httpd_configtest "$conf" "$TMP/logs/$name-configtest.log" \
        "httpd refused the generated configuration $conf"
    BASE="http://127.0.0.1:$PORT"
    httpd_start "$conf" "$TMP/logs/$name-httpd.out" "$TMP/logs/$name-error.log" \
        "the private httpd ($name)"
    say "httpd $name (pid $HTTPD_PID) serving $BASE"
}
stop_httpd() {      # NAME: stop it and summarise its error log into the notes
    local name=$1 log="$TMP/logs/$1-error.log" n
    stop_group "$HTTPD_PID"
    HTTPD_PID=""
    # start/stop notices of httpd itself do not count
    n=$(httpd_errors "$log" | wc -l)
    if [ "$n" != 0 ]; then
        say "httpd $name: $n error_log line(s); the most frequent:"
        note "- error_log of \`$name\`: $n line(s) besides start/stop notices; most frequent (count, text without time and pid):"
        httpd_errors "$log" | sed -e 's/^\[[^]]*\] //' -e 's/\[pid [0-9:]*\] //' -e 's/[0-9][0-9]*/N/g' \
            | sort | uniq -c | sort -rn | head -n 8 > "$TMP/logs/$name-error.top"
        sed 's/^/    /' "$TMP/logs/$name-error.top" >&2
        while read -r line; do note "  \`$line\`"; done < "$TMP/logs/$name-error.top"
    else
        note "- error_log of \`$name\`: empty besides start/stop notices."
    fi
}

# ------------------------------------------------------------ PostgreSQL 15
PG_USER=""
PG_RUN=()           # how to run a command as the cluster's owner
start_pg() {
    [ -x "$PGBIN/initdb" ] || die "no $PGBIN/initdb (apt-get install postgresql-15)"
    PG_DIR="$TMP/pg"
    mkdir -p "$PG_DIR/sock"
    if [ "$(id -u)" -eq 0 ]; then
        PG_USER=nobody          # PostgreSQL refuses to run as root
        PG_RUN=(runuser -u "$PG_USER" --)
        chown -R "$PG_USER" "$PG_DIR"
    else
        PG_USER=$(id -un)
        PG_RUN=()
    fi
    PG_PORT=$(freeport)
    timeout 120 "${PG_RUN[@]}" "$PGBIN/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync \
        -E UTF8 --locale=C.UTF-8 >"$TMP/logs/pg-initdb.log" 2>&1 \
        || { tail -n 20 "$TMP/logs/pg-initdb.log" >&2; die "initdb failed"; }
    # fsync=off: a benchmark on a throwaway cluster; commits do not wait for the disk
    timeout 60 "${PG_RUN[@]}" "$PGBIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 50 \
        -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_DIR/sock -c fsync=off -c max_connections=400" \
        start >"$TMP/logs/pg-ctl.log" 2>&1 \
        || { tail -n 20 "$PG_DIR/server.log" >&2; die "PostgreSQL did not start"; }
    PG_UP=1
    # pg_ctl starts the postmaster in a session of its own: its pid is the group
    PG_PID=$(head -n1 "$PG_DIR/data/postmaster.pid")
    PGIDS="$PGIDS $PG_PID"
    pg_sql "CREATE ROLE poketto LOGIN" >/dev/null
    say "PostgreSQL $("$PGBIN/postgres" -V | awk '{print $3}') (pid $PG_PID) on 127.0.0.1:$PG_PORT, owner $PG_USER, fsync=off"
}
pg_sql() {
    timeout 60 "${PG_RUN[@]}" "$PGBIN/psql" -X -q -At -h "$PG_DIR/sock" -p "$PG_PORT" -U postgres \
        -d postgres -v ON_ERROR_STOP=1 -c "$1"
}
pg_db_sql() {       # DB SQL
    timeout 60 "${PG_RUN[@]}" "$PGBIN/psql" -X -q -At -h "$PG_DIR/sock" -p "$PG_PORT" -U postgres \
        -d "$1" -v ON_ERROR_STOP=1 -c "$2"
}
stop_pg() {
    timeout 30 "${PG_RUN[@]}" "$PGBIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    stop_group "$PG_PID"
    PG_UP=0
}

# ------------------------------------------------------------------ machine
LOAD_BEFORE=$(loadavg)
DATE_START=$(date -u '+%Y-%m-%d %H:%M')

# ======================================================= 1. head-of-line
hol_args() {        # PORT: sets HOL_ARGS, the common arguments of savebench.py hol (PORT: the origin's)
    HOL_ARGS=(--getters "$GETTERS" --posters "$POSTERS" --deadline "$HOL_DEADLINE" --out "$RESULTS"
              --origin-port "$1")
}

if has_phase hol; then
    # Can the origin hold SAVES slow requests at once? Both origins are measured, the
    # chosen one (ORIGIN) serves the runs.
    for kind in peer asyncio; do
        start_origin "$kind"
        say "origin check: $SAVES concurrent /slow?ms=$DELAY_MS on the $kind origin"
        line=$(timeout 120 "$PY" "$HELPER" origin-check "$ORIGIN_URL" "$SAVES" "$DELAY_MS")
        echo "$line" > "$TMP/origin-$kind.json"
        stop_origin
    done
    SPREAD_PID=""
    if [ "$SPREAD_HOSTS" -gt 0 ]; then
        # the spread run has an origin of its own: its connections (libcurl keeps them
        # open afterwards) are then told apart from the other run's by port
        start_origin "$ORIGIN"
        SPREAD_PID=$ORIGIN_PID
        SPREAD_PORT=$ORIGIN_PORT
    fi
    start_origin "$ORIGIN"
    say "origin ($ORIGIN) for the runs: $ORIGIN_URL"

    # ---- the module
    RESOLVE=""
    if [ "$SPREAD_HOSTS" -gt 0 ]; then
        RESOLVE="PokettoFetchResolve"
        for h in $(seq 0 $((SPREAD_HOSTS - 1))); do
            RESOLVE="$RESOLVE h$h.bench.test:$SPREAD_PORT:127.0.0.1"
        done
    fi
    DB="$TMP/db/hol.db"
    TOKEN=$(admin_token sqlite3 "$DB")
    [ -n "$TOKEN" ] || die "poketto-admin gave no token"
    make_conf hol sqlite3 "$DB" On "$RESOLVE" 1
    start_httpd hol
    # The list the GET clients read, and a warm-up of the same shape as the runs: SEED
    # concurrent saves of the origin's /fast page, until all are ready. (The first burst
    # after httpd starts is slower than later ones; this one is not measured.)
    say "seeding: $SEED concurrent saves of $ORIGIN_URL/fast?seed=i (the warm-up burst)"
    bg_run -e "$TMP/logs/seed.log" timeout $((HOL_DEADLINE + 120)) "$PY" "$HELPER" hol \
        --label "warm-up" --base "$BASE" --token "$TOKEN" --n "$SEED" \
        --url-fmt "$ORIGIN_URL/fast?seed={i}" \
        --get-url "$BASE/api/items?limit=20" --getters 0 --idle 0 --posters "$POSTERS" \
        --deadline "$HOL_DEADLINE" --db "$DB" --post-log "$TMP/logs/hol-posts.log" \
        --origin-port "$ORIGIN_PORT" --out "$TMP/warmup.jsonl" \
        || { cat "$TMP/logs/seed.log" >&2; die "seeding failed"; }
    cat "$TMP/logs/seed.log" >&2
    SEEDED=$("$PY" "$HELPER" sqlite-count "$DB")
    [ "$SEEDED" = "{\"ready\": $SEED}" ] || die "seeding: the items are $SEEDED, not all ready"
    note "- Warm-up (not measured further): $(sed -n 's/^warm-up: //p' "$TMP/logs/seed.log" | sed 's/; GETs 0 .*//')."
    # The spread run first: it ends when its items are ready; the one-host run may end at
    # its deadline with tasks still being retried, which would then compete with a run
    # after it.
    if [ "$SPREAD_HOSTS" -gt 0 ]; then
        hol_args "$SPREAD_PORT"
        wait_idle
        say "head-of-line, the saves spread over $SPREAD_HOSTS host names (all 127.0.0.1)"
        bg_run timeout $((HOL_DEADLINE + 120)) "$PY" "$HELPER" hol --rank 2 \
            --label "mod_poketto, $SPREAD_HOSTS host names" \
            --base "$BASE" --token "$TOKEN" --n "$SAVES" \
            --url-fmt "http://h{h}.bench.test:$SPREAD_PORT/slow?ms=$DELAY_MS&n={i}" \
            --spread "$SPREAD_HOSTS" --get-url "$BASE/api/items?limit=20" \
            --db "$DB" --post-log "$TMP/logs/hol-posts.log" --check-tasks "${HOL_ARGS[@]}"
    fi
    hol_args "$ORIGIN_PORT"
    wait_idle
    say "head-of-line: $SAVES concurrent saves of $ORIGIN_URL/slow?ms=$DELAY_MS&n=i, $GETTERS GET clients"
    bg_run timeout $((HOL_DEADLINE + 120)) "$PY" "$HELPER" hol --rank 1 --label "mod_poketto" \
        --base "$BASE" --token "$TOKEN" --n "$SAVES" \
        --url-fmt "$ORIGIN_URL/slow?ms=$DELAY_MS&n={i}" --get-url "$BASE/api/items?limit=20" \
        --db "$DB" --post-log "$TMP/logs/hol-posts.log" --check-tasks "${HOL_ARGS[@]}"
    HOL_ITEMS=$("$PY" "$HELPER" sqlite-count "$DB")
    note "- module database after the head-of-line runs: items by state $HOL_ITEMS."
    stop_httpd hol
    [ -z "$SPREAD_PID" ] || stop_group "$SPREAD_PID"

    # ---- the Flask peer, as its bench.py runs it
    if [ "$SKIP_FLASK" != 1 ]; then
        [ -f "$PEER_DIR/app.py" ] || die "no Flask peer at $PEER_DIR (or SKIP_FLASK=1)"
        flask_start 1000
        hol_args "$ORIGIN_PORT"
        wait_idle
        say "head-of-line on the Flask peer: $FLASK_SAVES concurrent saves, $GETTERS GET clients"
        bg_run timeout $((HOL_DEADLINE + 120)) "$PY" "$HELPER" hol \
            --rank 3 --label "Flask peer (gunicorn -w 1 --threads 8)" \
            --base "http://127.0.0.1:$FLASK_PORT" --n "$FLASK_SAVES" --expect 201 \
            --url-fmt "$ORIGIN_URL/slow?ms=$DELAY_MS&n={i}" \
            --get-url "http://127.0.0.1:$FLASK_PORT/api/items?limit=20" "${HOL_ARGS[@]}"
        stop_group "$FLASK_PID"
    fi
    stop_origin
fi

# ========================================================= 2. accept rate
if has_phase accept; then
    start_origin "$ORIGIN"
    cat > "$TMP/wrk/save.lua" <<'EOF'
-- POST /api/items with a distinct URL per request: a counter per wrk thread, the thread's
-- number and a tag of the run in the URL. Counts the statuses; done() prints one line.
local threads = {}
function setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end
local counter = 0
local origin = os.getenv("SAVE_ORIGIN")
local tag = os.getenv("SAVE_TAG")
local headers = { ["Content-Type"] = "application/json",
                  ["Authorization"] = "Bearer " .. os.getenv("SAVE_TOKEN") }
n202 = 0
other = 0
codes = ""
function request()
    counter = counter + 1
    local body = '{"url":"' .. origin .. '/fast?r=' .. tag .. '&t=' .. tid .. '&n=' .. counter .. '"}'
    return wrk.format("POST", "/api/items", headers, body)
end
function response(status, headers, body)
    if status == 202 then
        n202 = n202 + 1
    else
        other = other + 1
        if #codes < 200 then codes = codes .. status .. " " end
    end
end
function done(summary, latency, requests)
    local a, b, c = 0, 0, ""
    for _, t in ipairs(threads) do
        a = a + t:get("n202")
        b = b + t:get("other")
        c = c .. t:get("codes")
    end
    local e = summary.errors
    io.write(string.format('SAVEBENCH {"duration_us": %d, "requests": %d, "n202": %d, ' ..
        '"other": %d, "other_codes": "%s", "errors": %d, "error_detail": "connect %d read %d ' ..
        'write %d status %d timeout %d", "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
        summary.duration, summary.requests, a, b, c, e.connect + e.read + e.write + e.timeout,
        e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50),
        latency:percentile(99), latency.max))
end
EOF
    [ "$NEED_PG" = 0 ] || start_pg
    for db in $ACCEPT_DBS; do
        for eng in $ACCEPT_ENGINE; do
            name="accept-$db-engine-$eng"
            engine=Off
            [ "$eng" = off ] || engine=On
            if [ "$db" = sqlite ]; then
                driver=sqlite3
                params="$TMP/db/$name.db"
            else
                driver=pgsql
                pgdb="poketto_${eng}"
                pg_sql "CREATE DATABASE $pgdb OWNER poketto" >/dev/null
                params="host=127.0.0.1 port=$PG_PORT dbname=$pgdb user=poketto"
            fi
            TOKEN=$(admin_token "$driver" "$params")
            [ -n "$TOKEN" ] || die "poketto-admin gave no token ($name)"
            make_conf "$name" "$driver" "$params" "$engine" ""
            start_httpd "$name"
            for run in $(seq 1 "$ACCEPT_RUNS"); do
              for conns in $ACCEPT_CONNS; do
                wait_idle
                th=$(wrk_threads "$conns")
                for step in warmup run; do
                    [ "$step" = warmup ] || load=$(cut -d' ' -f1 /proc/loadavg)
                    dur=$ACCEPT_WARMUP
                    [ "$step" = warmup ] || dur=$ACCEPT_DURATION
                    out="$TMP/wrk/$name-c$conns-$step$run.txt"
                    SAVE_ORIGIN="$ORIGIN_URL" SAVE_TAG="$name-c$conns-$step$run-$(date +%s%N)" \
                        SAVE_TOKEN="$TOKEN" \
                        bg_run -o "$out" timeout $((dur + 60)) wrk -t"$th" -c"$conns" -d"${dur}s" \
                        --timeout 10s -s "$TMP/wrk/save.lua" "$BASE/api/items" || true
                done
                line=$("$PY" "$HELPER" accept "$name" "$db" "$eng" "$conns" \
                       "$TMP/wrk/$name-c$conns-run$run.txt")
                # where the engine got to: items by state right after the measured run
                if [ "$db" = sqlite ]; then
                    after=$("$PY" "$HELPER" sqlite-count "$params")
                else
                    after=$(pg_db_sql "$pgdb" "SELECT json_object_agg(state, n) FROM (SELECT state, count(*) AS n FROM items GROUP BY state) s")
                fi
                echo "$line" | "$PY" -c 'import json,sys; r=json.loads(sys.stdin.read()); r["tasks_after"]=sys.argv[1]; r["run"]=int(sys.argv[2]); r["load"]=float(sys.argv[3]); print(json.dumps(r))' "$after" "$run" "$load" >> "$RESULTS"
              done
            done
            stop_httpd "$name"
        done
    done
    [ "$PG_UP" = 0 ] || stop_pg
    stop_origin
fi
LOAD_AFTER=$(loadavg)

# ------------------------------------------------------------------- report
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain -- src mod_poketto.c mod_poketto.h Makefile 2>/dev/null | wc -l)
CMD="bench/save.sh"
{
    echo "Command: \`$CMD\` (SAVES=$SAVES DELAY_MS=$DELAY_MS SEED=$SEED GETTERS=$GETTERS POSTERS=$POSTERS FLASK_SAVES=$FLASK_SAVES SPREAD_HOSTS=$SPREAD_HOSTS ORIGIN=$ORIGIN CHILDREN=$CHILDREN THREADS=$THREADS CONCURRENCY=$CONCURRENCY FETCH_TIMEOUT=$FETCH_TIMEOUT DBD_MIN=$DBD_MIN ACCEPT_CONNS=\"$ACCEPT_CONNS\" ACCEPT_DURATION=$ACCEPT_DURATION ACCEPT_RUNS=$ACCEPT_RUNS PHASES=\"$PHASES\"), at commit $COMMIT$([ "$DIRTY" = 0 ] || echo " with $DIRTY uncommitted change(s) under src/ or the module's top files")"
    echo
    machine_line "$DATE_START UTC" "$LOAD_BEFORE" "$LOAD_AFTER" \
        "; the run took $(( $(date +%s) - START_TIME )) s"
    echo
    apache_line "event MPM, $CHILDREN × $THREADS threads"
    echo "- libcurl: $(pkgver libcurl4), SQLite $(sqlite_version), wrk $(pkgver wrk)"
    [ "$NEED_PG" = 0 ] || echo "- PostgreSQL: $("$PGBIN/postgres" -V | awk '{print $3}') (throwaway cluster, \`fsync=off\`)"
    [ "$NEED_FLASK" = 0 ] || echo "- gunicorn $(pkgver gunicorn) (gthread), Flask $(pkgver python3-flask), Python $(python_version)"
    echo
    if has_phase hol; then
        for kind in peer asyncio; do
            [ -f "$TMP/origin-$kind.json" ] || continue
            "$PY" - "$kind" "$TMP/origin-$kind.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[2]))
name = {"peer": "the peer's slow_origin.py (a thread per connection)",
        "asyncio": "savebench.py origin (the same pages, asyncio)"}[sys.argv[1]]
print(f"- Origin check, {name}: {r['ok']}/{r['n']} concurrent GET /slow?ms={r['ms']} answered "
      f"200, the last after {r['wall_s']:.2f} s{'; errors ' + ', '.join(r['errors']) if r['errors'] else ''}.")
EOF
        done
        echo "- The runs used the $ORIGIN origin."
        echo
    fi
    "$PY" "$HELPER" report "$RESULTS"
    echo
    cat "$NOTES"
} > "$TMP/report.md"
cat "$TMP/report.md"
[ -z "$REPORT" ] || cp "$TMP/report.md" "$REPORT"
