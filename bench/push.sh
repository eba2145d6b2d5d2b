#!/bin/bash
# bench/push.sh — live push of mod_poketto measured (issue 6): N connections of ONE user held
# open, then EVENTS saves, and the time until each connection has each save's item.saved.
#
#   parked  GET /api/ws, PokettoWsMode parked (event MPM: a per-child I/O thread holds them)
#   thread  GET /api/ws, PokettoWsMode thread (each WebSocket keeps a worker thread)
#   sse     GET /api/events (Server-Sent Events; holds a worker thread too)
#
# For each run a fresh private httpd (event MPM; never the system apache2 or /etc/apache2)
# listens on one port of ADDRS loopback addresses (127.0.0.1 … 127.0.0.ADDRS: one destination
# gives a client ~28 000 ephemeral ports), a user and token are made with poketto-admin, and
# client processes of bench/pushbench.js (node + npm ws; at most CLIENT_CONNS connections
# each, under the 20 000 descriptors a process may have here) open the N connections,
# spread over the addresses, CONC handshakes in flight per process. Then, idle for IDLE_S
# seconds, the server's RSS (VmRSS summed over all httpd processes) and threads (Threads
# of /proc/PID/status, summed) are read and compared with before the clients connected.
# Then EVENTS pages are saved (POST /api/items with "html": nothing is fetched), GAP_MS
# apart, and every client records the receipt of each item.saved message.
#
# Clock: CLOCK_MONOTONIC (node's process.hrtime) in every process of this one machine. The
# message carries no time of its own finer than a second, so the latency is given from two
# ends of the POST: "from 202" (receipt - the moment the 202 answer was read; the commit was
# before it, so this is a lower bound and may be negative: the event can arrive before the
# answer) and "from send" (receipt - the moment the POST was sent; an upper bound). The
# commit-to-receipt time lies between them.
#
# Every server and client runs in a process group of its own; all are stopped and the temp
# dir removed on any exit (end, failure, Ctrl-C). Markdown report on stdout, progress on stderr.
#
# Environment:
#   RUNS="parked:1000 parked:10000 parked:20000 parked:30000 parked:50000 thread:1000 sse:1000"
#                     the runs, MODE:N, in order
#   CHILDREN=4 THREADS=32   server children and ThreadsPerChild of the parked runs
#   FACTOR=auto       AsyncRequestWorkerFactor of the parked runs (auto: enough for one
#                     child to take 2 x N/CHILDREN, at most ~17 000 per child)
#   T_CHILDREN=5 T_THREADS=256  children and ThreadsPerChild of the thread and sse runs
#                     (PokettoWsMaxPerChild = T_THREADS - 16: threads stay free for requests)
#   ADDRS=4           loopback addresses the server listens on (the clients spread over them)
#   CLIENT_CONNS=12500  most connections of one client process (at least 2 processes)
#   CONC=100          handshakes in flight per client process
#   EVENTS=5 GAP_MS=1000  saves per run, and the time between them
#   IDLE_S=5          seconds idle after connecting, before RSS and threads are read
#   CONNECT_CAP=180   seconds the connect phase may take (then the run goes on with what opened)
#   DELIVER_CAP=60    seconds after the saves for all deliveries (50 000 took up to 35 s here)
#   TIME_CAP=1800     seconds of the whole script: later runs are skipped (said so)
#   ENGINE=Off        PokettoEngine (On: item.ready follows each save, more messages)
#   FLASK=0           1: run the Flask peer's own `bench.py push --push-n 1000` (gunicorn
#                     -w 1 --threads 8; ~3 min) and add its table; 0 quotes its RESULTS.md
#   CLIENT=c          the connections' client: c (bench/pushclient.c, epoll, a few us of CPU
#                     per message: the figures are the server's) or node (pushbench.js with
#                     npm ws, 35-40 us per message here: on two shared cores the client's
#                     own time is then most of the latency at large N)
#   FLOOR=1           after each parked run that fits one process's descriptors, the same
#                     fan-out without httpd (bench/fanout.c: CHILDREN writer threads, the
#                     run's client processes, one FLOOR_BYTES frame per socket and event):
#                     what this machine's loopback TCP alone costs, as a reference
#   FLOOR_BYTES=420   bytes of the floor's frame (an item.saved message is ~400-450)
#   SKIP_BUILD=1      use build/ as it is (no make)
#   PEER_DIR=…        the Flask peer (default ../shared/peers/flask beside the checkout)
#   REPORT=FILE       also write the report to FILE
#   POKETTO_CONF=FILE include FILE at the end of every generated httpd configuration
#   KEEP_TMP=1        keep the temp dir (configs, logs, raw client outputs)
set -euo pipefail
BENCH_NAME=push.sh
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

HELPER="$BENCH/pushbench.js"
RUNS=${RUNS:-"parked:1000 parked:10000 parked:20000 parked:30000 parked:50000 thread:1000 sse:1000"}
CHILDREN=${CHILDREN:-4}
THREADS=${THREADS:-32}
FACTOR=${FACTOR:-auto}
T_CHILDREN=${T_CHILDREN:-5}
T_THREADS=${T_THREADS:-256}
ADDRS=${ADDRS:-4}
CLIENT_CONNS=${CLIENT_CONNS:-12500}
FLOOR=${FLOOR:-1}
FLOOR_BYTES=${FLOOR_BYTES:-420}
CONC=${CONC:-100}
EVENTS=${EVENTS:-5}
GAP_MS=${GAP_MS:-1000}
IDLE_S=${IDLE_S:-5}
CONNECT_CAP=${CONNECT_CAP:-180}
DELIVER_CAP=${DELIVER_CAP:-60}
TIME_CAP=${TIME_CAP:-1800}
ENGINE=${ENGINE:-Off}
CLIENT=${CLIENT:-c}
FLASK=${FLASK:-0}
PEER_DIR=${PEER_DIR:-"$ROOT/../shared/peers/flask"}
REPORT=${REPORT:-}
ADMIN="$ROOT/build/poketto-admin"

for v in CHILDREN THREADS T_CHILDREN T_THREADS ADDRS CLIENT_CONNS CONC EVENTS GAP_MS IDLE_S \
         CONNECT_CAP DELIVER_CAP TIME_CAP; do
    isnum "${!v}" || die "$v must be a positive whole number, got '${!v}'"
done
[ "$FACTOR" = auto ] || isnum "$FACTOR" || die "FACTOR is auto or a whole number"
[ "$ADDRS" -le 250 ] || die "ADDRS is at most 250"
[ "$T_THREADS" -gt 32 ] || die "T_THREADS must be more than 32"
case "$ENGINE" in On|Off) ;; *) die "ENGINE is On or Off" ;; esac
[ -n "$RUNS" ] || die "RUNS is empty"
for r in $RUNS; do
    case "${r%%:*}" in parked|thread|sse) ;; *) die "RUNS: unknown mode in '$r'" ;; esac
    isnum "${r#*:}" || die "RUNS: N of '$r' is not a positive number"
done
bench_traps

# ------------------------------------------------------------ what we need
ensure_packages apache2 curl procps libaprutil1-dbd-sqlite3
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    ensure_packages nodejs npm
fi
NODE_DIR="$ROOT/tests/bin/node"      # npm ws, pinned by its package-lock.json (as the tests)
if ! [ -r "$NODE_DIR/node_modules/ws/package.json" ]; then
    say "installing npm ws into $NODE_DIR/node_modules"
    (cd "$NODE_DIR" && timeout 300 npm ci --no-audit --no-fund --omit=dev >&2) \
        || die "npm ci in $NODE_DIR failed"
fi
export PUSHBENCH_NODE_MODULES="$NODE_DIR/node_modules"
build_module
# descriptors: every client process holds up to CLIENT_CONNS, every httpd child its share
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[ "$CLIENT_CONNS" -le $((NOFILE - 200)) ] \
    || die "CLIENT_CONNS=$CLIENT_CONNS does not fit the descriptor limit ($NOFILE)"

make_tmp poketto-pushbench run db conf clients
case "$CLIENT" in
    c)    cc -std=gnu99 -O2 -Wall -Wextra -Werror -o "$TMP/pushclient" "$BENCH/pushclient.c" \
              -ljansson || die "cannot build bench/pushclient.c"
          CLIENT_CMD=("$TMP/pushclient") ;;
    node) CLIENT_CMD=(node --max-old-space-size=4096 "$HELPER") ;;
    *)    die "CLIENT is c or node, not '$CLIENT'" ;;
esac
if [ "$FLOOR" = 1 ]; then
    cc -std=gnu99 -O2 -Wall -Wextra -Werror -o "$TMP/fanout" "$BENCH/fanout.c" -lpthread \
        || die "cannot build bench/fanout.c"
fi
FLOOR_LINES=""
httpd_conf_extras "$TMP/conf/extra.conf"
DATE_START=$(date -u '+%Y-%m-%d %H:%M')
LOAD_BEFORE=$(loadavg)
NOTES="$TMP/notes.md"
: > "$NOTES"
note() { echo "$*" >> "$NOTES"; }

# ------------------------------------------------------------ the server
HTTPD_PID=""
# make_conf NAME MODE N: writes $TMP/conf/NAME.conf, sets PORT, CONFLINE (for the report)
make_conf() {
    local name=$1 mode=$2 n=$3 children threads factor wsmode wsmax="" listen="" a
    if [ "$mode" = parked ]; then
        children=$CHILDREN threads=$THREADS wsmode=parked factor=$FACTOR
        if [ "$factor" = auto ]; then
            a=$((2 * n / children))
            [ "$a" -le 17000 ] || a=17000
            factor=$(( (a + threads - 1) / threads ))
            [ "$factor" -ge 2 ] || factor=2
        fi
    else
        children=$T_CHILDREN threads=$T_THREADS wsmode=thread factor=2
        wsmax="PokettoWsMaxPerChild $((T_THREADS - 16))"
    fi
    PORT=$(freeport)
    for a in $(seq 1 "$ADDRS"); do listen="${listen}Listen 127.0.0.$a:$PORT\n"; done
    awk -v dir="$TMP" -v module="$TMP/lib/mod_poketto.so" -v user="$USERLINE" \
        -v inc="$INCLUDE" -v name="$name" -v children="$children" -v threads="$threads" \
        -v workers="$((children * threads))" -v factor="$factor" -v listen="$listen" \
        -v dbdmax="$((threads + 2))" -v engine="$ENGINE" -v wsmode="$wsmode" -v wsmax="$wsmax" '
        { gsub(/@DIR@/, dir); gsub(/@MODULE@/, module); gsub(/@USER@/, user);
          gsub(/@INCLUDE@/, inc); gsub(/@NAME@/, name); gsub(/@CHILDREN@/, children);
          gsub(/@THREADS@/, threads); gsub(/@WORKERS@/, workers); gsub(/@FACTOR@/, factor);
          gsub(/@LISTEN@/, listen); gsub(/@DBDMAX@/, dbdmax); gsub(/@ENGINE@/, engine);
          gsub(/@WSMODE@/, wsmode); gsub(/@WSMAX@/, wsmax); print }' \
        "$BENCH/push-httpd.conf.in" > "$TMP/conf/$name.conf"
    CONFLINE="event, ServerLimit $children, ThreadsPerChild $threads, AsyncRequestWorkerFactor $factor"
    if [ "$mode" = sse ]; then
        CONFLINE="$CONFLINE (SSE: a thread per stream)"
    else
        CONFLINE="$CONFLINE, PokettoWsMode $wsmode${wsmax:+, $wsmax}"
    fi
    POOL=$((children * threads))
}

start_httpd() {     # NAME
    local name=$1 conf="$TMP/conf/$1.conf"
    [ "$(id -u)" -ne 0 ] || chown -R www-data:www-data "$TMP/db"
    httpd_configtest "$conf" "$TMP/logs/$name-configtest.log" \
        "httpd refused the generated configuration $conf"
    BASE="http://127.0.0.1:$PORT"
    httpd_start "$conf" "$TMP/logs/$name-httpd.out" "$TMP/logs/$name-error.log" \
        "the private httpd ($name)"
    say "httpd $name (pid $HTTPD_PID) on 127.0.0.1-$ADDRS:$PORT"
}

# server_stats: prints "RSS_KB THREADS PROCS" summed over the httpd group's processes
server_stats() {
    local p rss=0 thr=0 procs=0 r t
    for p in $(pgrep -g "$HTTPD_PID" 2>/dev/null); do
        read -r r t < <(awk '/^VmRSS:/ { r = $2 } /^Threads:/ { t = $2 }
                               END { print r + 0, t + 0 }' "/proc/$p/status" 2>/dev/null) || continue
        [ "$t" -gt 0 ] || continue
        rss=$((rss + r)) thr=$((thr + t)) procs=$((procs + 1))
    done
    echo "$rss $thr $procs"
}
# child_fds: prints the descriptor and memory-mapping counts of every httpd child
# ("fds:maps/fds:maps/…")
child_fds() {
    local p out=""
    for p in $(pgrep -P "$HTTPD_PID" 2>/dev/null); do
        out="$out/$(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
        out="$out:$(wc -l < "/proc/$p/maps" 2>/dev/null || echo 0)"
    done
    echo "${out#/}"
}

# server_errors NAME: the error log lines of run NAME besides start/stop notices and the
# module's schema-migration notice (a fresh database each run)
server_errors() {
    httpd_errors "$TMP/logs/$1-error.log" | grep -v 'database schema migrated' || true
}

# ------------------------------------------------------------ one run
CLIENT_PIDS=""
stop_clients() {
    local p
    for p in $CLIENT_PIDS; do stop_group "$p"; done
    CLIENT_PIDS=""
}

# run_one MODE N: one fresh server, N connections, EVENTS saves; appends a JSON line to RESULTS
run_one() {
    local mode=$1 n=$2 name="$1-$2" kind=ws procs per i k urls="" a left cfg t0 waited
    local before after idle_thr connect_cut=0 rdy outs="" readys="" fds errs crash
    local ti0 ti1 tc0 tc1 tp0 tp1 tw0 tw1 ts0 ts1
    make_conf "$name" "$mode" "$n"
    start_httpd "$name"
    TOKEN=$(admin_token sqlite3 "$TMP/db/$name.db")
    [ -n "$TOKEN" ] || die "no token from poketto-admin"
    # warm-up: one save, so the children have done their first database work
    curl -s -o /dev/null --max-time 30 -X POST "$BASE/api/items" -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' -d '{"url":"http://push.invalid/warm-up","html":"<p>warm</p>"}'
    sleep 2
    read -r before b_thr _ < <(server_stats)

    if [ "$mode" = sse ]; then kind=sse; fi
    for a in $(seq 1 "$ADDRS"); do
        if [ "$kind" = ws ]; then urls="$urls,\"ws://127.0.0.$a:$PORT/api/ws\""
        else urls="$urls,\"http://127.0.0.$a:$PORT/api/events\""; fi
    done
    urls="[${urls#,}]"
    procs=$(( (n + CLIENT_CONNS - 1) / CLIENT_CONNS ))
    [ "$procs" -ge 2 ] || procs=2
    [ "$n" -ge "$procs" ] || procs=$n
    say "$name: $n connections from $procs client processes"
    CLIENT_PIDS=""
    for i in $(seq 1 "$procs"); do
        per=$(( n / procs + (i <= n % procs ? 1 : 0) ))
        cfg="{\"kind\":\"$kind\",\"urls\":$urls,\"n\":$per,\"token\":\"$TOKEN\",\"conc\":$CONC,"
        cfg="$cfg\"expect\":$EVENTS,\"ready\":\"$TMP/clients/$name-$i.ready\",\"out\":\"$TMP/clients/$name-$i.out\"}"
        spawn "$TMP/logs/$name-client-$i.log" "${CLIENT_CMD[@]}" client "$cfg"
        CLIENT_PIDS="$CLIENT_PIDS $SPAWNED"
        outs="$outs,\"$TMP/clients/$name-$i.out\""
        readys="$readys,\"$TMP/clients/$name-$i.ready\""
    done
    t0=$(date +%s)
    while :; do
        rdy=$(find "$TMP/clients" -name "$name-*.ready" | wc -l)
        [ "$rdy" -lt "$procs" ] || break
        if [ $(( $(date +%s) - t0 )) -ge "$CONNECT_CAP" ]; then
            connect_cut=1
            say "$name: connect phase cut at CONNECT_CAP=$CONNECT_CAP s ($rdy of $procs clients done)"
            break
        fi
        left=0
        for k in $CLIENT_PIDS; do alive "$k" && left=$((left + 1)); done
        if [ "$left" -eq 0 ]; then
            say "$name: every client process has exited before it was ready (see its log)"
            break
        fi
        sleep 0.5
    done
    say "$name: connected after $(( $(date +%s) - t0 )) s; idle $IDLE_S s"
    ti0=$(group_ticks "$HTTPD_PID")
    sleep "$IDLE_S"
    ti1=$(group_ticks "$HTTPD_PID")
    read -r after a_thr _ < <(server_stats)
    idle_thr=$a_thr
    fds=$(child_fds)

    say "$name: $EVENTS saves, $GAP_MS ms apart"
    # shellcheck disable=SC2086   # CLIENT_PIDS is a list of pids
    tc0=$(group_ticks $CLIENT_PIDS)
    tp0=$(group_ticks "$HTTPD_PID")
    tw0=$(date +%s%N)
    cfg="{\"base\":\"$BASE\",\"token\":\"$TOKEN\",\"count\":$EVENTS,\"gap_ms\":$GAP_MS,\"out\":\"$TMP/clients/$name.posts\"}"
    timeout $(( EVENTS * GAP_MS / 1000 + 60 )) node "$HELPER" post "$cfg" >>"$TMP/logs/$name-post.log" 2>&1 \
        || say "$name: the post client failed (see its log)"
    waited=0        # every client writes its output once it has every message
    while [ "$waited" -lt $((DELIVER_CAP * 10)) ]; do
        [ "$(find "$TMP/clients" -name "$name-*.out" | wc -l)" -lt "$procs" ] || break
        sleep 0.1
        waited=$((waited + 1))
    done
    tp1=$(group_ticks "$HTTPD_PID")
    # shellcheck disable=SC2086
    tc1=$(group_ticks $CLIENT_PIDS)
    tw1=$(date +%s%N)
    for k in $CLIENT_PIDS; do alive "$k" && kill -USR1 "$k" 2>/dev/null; done
    for _ in $(seq 1 40); do
        left=0
        for k in $CLIENT_PIDS; do alive "$k" && left=$((left + 1)); done
        [ "$left" -gt 0 ] || break
        sleep 0.5
    done
    read -r _ busy_thr _ < <(server_stats)
    stop_clients
    ts0=$(date +%s%N)
    stop_group "$HTTPD_PID"
    ts1=$(date +%s%N)
    HTTPD_PID=""
    crash=$(grep -c -e 'exit signal' -e 'AH00052' "$TMP/logs/$name-error.log" 2>/dev/null || true)
    errs=$(server_errors "$name" | wc -l)
    if [ "$errs" != 0 ]; then
        say "$name: $errs error_log line(s); the most frequent:"
        server_errors "$name" | sed -e 's/^\[[^]]*\] //' -e 's/\[pid [0-9:]*\] //' \
            -e 's/[0-9][0-9]*/N/g' | sort | uniq -c | sort -rn | head -n 3 | tee "$TMP/logs/$name-error.top" >&2
        note "- $name: $errs error_log line(s), most frequent: $(head -n 1 "$TMP/logs/$name-error.top" | sed 's/^ *//')"
    fi
    cfg="{\"posts\":\"$TMP/clients/$name.posts\",\"outs\":[${outs#,}],\"ready\":[${readys#,}]}"
    node "$HELPER" report "$cfg" > "$TMP/clients/$name.report" || die "$name: no report"
    "$PY" - "$TMP/clients/$name.report" "$mode" "$n" "$before" "$b_thr" "$after" "$idle_thr" \
        "$busy_thr" "$POOL" "$connect_cut" "$crash" "$errs" "$fds" "$CONFLINE" "$procs" \
        "$(loadavg)" "$(( (ti1 - ti0) * 1000 / TICKS ))" "$(( IDLE_S * 1000 ))" \
        "$(( (tp1 - tp0) * 1000 / TICKS ))" "$(( (tc1 - tc0) * 1000 / TICKS ))" \
        "$(( (tw1 - tw0) / 1000000 ))" "$(( (ts1 - ts0) / 1000000 ))" >> "$RESULTS" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
keys = ["mode", "n", "rss_before_kb", "threads_before", "rss_idle_kb", "threads_idle",
        "threads_after", "pool", "connect_cut", "crash_lines", "error_lines", "child_fds",
        "config", "client_procs", "load", "idle_cpu_ms", "idle_ms", "post_server_cpu_ms",
        "post_client_cpu_ms", "post_wall_ms", "stop_ms"]
for k, v in zip(keys, sys.argv[2:]):
    r[k] = int(v) if v.lstrip("-").isdigit() else v
print(json.dumps(r))
EOF
    say "$name: $(tail -n 1 "$RESULTS" | cut -c1-400)"
}

# ------------------------------------------------------------ the runs
TICKS=$(getconf CLK_TCK)
SKIPPED=""
for r in $RUNS; do
    if [ $(( $(date +%s) - START_TIME )) -ge "$TIME_CAP" ]; then
        SKIPPED="$SKIPPED $r"
        continue
    fi
    # sockets of an earlier run (or of anything else) in TIME_WAIT: their timers fire a
    # minute after the close and were measured as server CPU of the next run: wait (65 s
    # at most) until few are left
    tw0=$(date +%s)
    while [ "$(ss -Htan state time-wait 2>/dev/null | wc -l)" -gt 2000 ] \
          && [ $(( $(date +%s) - tw0 )) -lt 65 ]; do
        sleep 1
    done
    [ $(( $(date +%s) - tw0 )) -lt 2 ] || say "waited $(( $(date +%s) - tw0 )) s for TIME_WAIT sockets to go"
    run_one "${r%%:*}" "${r#*:}"
    sleep 2
    fn=${r#*:}
    if [ "$FLOOR" = 1 ] && [ "${r%%:*}" = parked ] && [ "$fn" -le $((NOFILE - 200)) ]; then
        fp=$(( (fn + CLIENT_CONNS - 1) / CLIENT_CONNS )); [ "$fp" -ge 2 ] || fp=2
        say "floor: bench/fanout.c $fn connections, $CHILDREN writers, $fp clients"
        FLOOR_LINES="$FLOOR_LINES- $(timeout 300 "$TMP/fanout" "$fn" "$CHILDREN" "$fp" "$EVENTS" \
                                     "$GAP_MS" "$FLOOR_BYTES" 2>&1 | tail -1)
"
        sleep 2
    fi
done
[ -z "$SKIPPED" ] || note "- Skipped (TIME_CAP=$TIME_CAP s reached):$SKIPPED"

FLASK_TABLE=""
if [ "$FLASK" = 1 ]; then
    [ -f "$PEER_DIR/bench.py" ] || die "no Flask peer at $PEER_DIR"
    ensure_packages "${FLASK_PKGS[@]}" python3-aiohttp
    mkdir -p "$TMP/flask"
    say "Flask peer: bench.py push --push-n 1000 (gunicorn -w1 --threads 8)"
    bg_run -o "$TMP/logs/flask-push.log" timeout 420 env PEER_RESULTS="$TMP/flask" \
        "$PY" "$PEER_DIR/bench.py" push --push-n 1000 --push-servers "gunicorn -w1 --threads 8" \
        || say "the Flask peer's push bench failed (see $TMP/logs/flask-push.log)"
    FLASK_TABLE=$(sed -n '/^| server/,/^$/p' "$TMP/flask/tables"*.md 2>/dev/null || true)
fi
LOAD_AFTER=$(loadavg)

# ------------------------------------------------------------ report
{
    echo "# mod_poketto live push (bench/push.sh)"
    echo
    machine_line "$DATE_START UTC" "$LOAD_BEFORE" "$LOAD_AFTER"
    echo
    apache_line "event MPM"
    if [ "$CLIENT" = c ]; then
        echo "- clients: bench/pushclient.c (C, epoll, one thread per process)"
    else
        echo "- clients: node $(node --version), ws $(node -p "require('$NODE_DIR/node_modules/ws/package.json').version")"
    fi
    echo "- Each run: a fresh server, ONE user, N connections over $ADDRS loopback addresses,"
    echo "  $EVENTS saves (POST /api/items with html) $GAP_MS ms apart; latency on CLOCK_MONOTONIC,"
    echo "  from the POST's 202 (lower bound of commit→receipt) and from its send (upper bound)."
    echo
    "$PY" - "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def f(x):
    return "–" if x is None else str(x)
print("| mode | N | open | failed | connect s | conn/s | events recv/expected | from 202 p50/p99/max ms | from send p50/p99/max ms | RSS before → idle MB | KB per idle conn | threads before/idle (pool) | server CPU idle | server / client CPU ms per event |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    per = "–"
    if r["opened"]:
        per = "%.1f" % ((r["rss_idle_kb"] - r["rss_before_kb"]) / r["opened"])
    pct = 100.0 * r["received"] / r["expected"] if r["expected"] else 0.0
    print(f"| {r['mode']} | {r['n']} | {r['opened']} | {r['failed']} | {f(r['connect_s'])} | {f(r['connect_rate'])} "
          f"| {r['received']}/{r['expected']} ({pct:.1f} %) | {f(r['p50_202'])}/{f(r['p99_202'])}/{f(r['max_202'])} "
          f"| {f(r['p50_send'])}/{f(r['p99_send'])}/{f(r['max_send'])} "
          f"| {r['rss_before_kb']/1024:.0f} → {r['rss_idle_kb']/1024:.0f} | {per} "
          f"| {r['threads_before']}/{r['threads_idle']} ({r['pool']}) "
          f"| {100.0 * r['idle_cpu_ms'] / r['idle_ms']:.0f} % "
          f"| {r['post_server_cpu_ms'] / max(1, r['posts']):.0f} / {r['post_client_cpu_ms'] / max(1, r['posts']):.0f} |")
print()
print("Per run: configuration, descriptors and memory mappings per child when idle, errors, load:")
print()
for r in rows:
    errs = ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items(), key=lambda kv: -kv[1])) or "none"
    ev = "; ".join(f"{e['got']} in {e['last_ms']} ms (POST {e['post_ms']} ms)" for e in r["per_event"])
    print(f"- {r['mode']} {r['n']}: {r['config']}; {r['client_procs']} client processes; child fds:maps {r['child_fds']};"
          f" client errors: {errs}; closed after open: {r['closed_after_open']}; 503 retries: {r['retries']};"
          f" server crash lines: {r['crash_lines']}, error_log lines: {r['error_lines']}"
          f"{'; connect phase cut at the cap' if r['connect_cut'] else ''}; per event (receipts, last from send): {ev};"
          f" load {r['load']}; httpd stop took {r['stop_ms']} ms")
EOF
    if [ -n "$FLOOR_LINES" ]; then
        echo
        echo "The machine's floor, measured after each parked run (bench/fanout.c: the same connections, writers"
        echo "and client processes, one ${FLOOR_BYTES}-byte frame written to each socket per event, no httpd):"
        echo
        printf '%s' "$FLOOR_LINES"
    fi
    echo
    if [ -n "$FLASK_TABLE" ]; then
        echo "Flask peer, measured in this run (its bench.py push, gunicorn -w1 --threads 8, Socket.IO over long-polling):"
        echo
        echo "$FLASK_TABLE"
    else
        echo "Flask peer (not run here: FLASK=1 runs it): its RESULTS.md, Socket.IO over Engine.IO long-polling,"
        echo "gunicorn -w1 --threads 8 held 3 of 1000 clients (a long-poll holds one of its 8 threads);"
        echo "the Flask dev server (thread per request) held 1000 with p50 452 ms, p99 800 ms from emit."
    fi
    if [ -s "$NOTES" ]; then echo; echo "Notes:"; echo; cat "$NOTES"; fi
} > "$TMP/report.md"
cat "$TMP/report.md"
[ -z "$REPORT" ] || cp "$TMP/report.md" "$REPORT"
