# bench/lib.sh — shell helpers shared by the benchmark scripts (api.sh, save.sh, push.sh).
#
# Sourced, not run. After `set -euo pipefail` the script sets BENCH_NAME (its name in
# progress lines) and sources this file; once its settings are checked, before it starts
# anything, it calls bench_traps:
#     BENCH_NAME=push.sh
#     . "$(dirname "$0")/lib.sh"
#     …                          # knobs, isnum checks
#     bench_traps
# This file sets ROOT (the checkout), BENCH (bench/), PY (Debian's python3), START_TIME, and
# keeps in TMP (the temp dir), PGIDS (leaders of the process groups started) and BG (a helper
# run by bg_run) what cleanup undoes on any exit. Every server is started with spawn, in a
# process group of its own. A function on_cleanup, if the script defines one, runs in cleanup
# before the groups are stopped (save.sh stops PostgreSQL there).
# Reads, where the function says so: SKIP_BUILD, KEEP_TMP, POKETTO_CONF, PEER_DIR, ADMIN, BASE.
# shellcheck shell=bash
# shellcheck disable=SC2034   # ROOT, BENCH, RESULTS, FLASK_PKGS… are for the sourcing script

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
PY=/usr/bin/python3        # Debian's interpreter: python3-* packages load only there
START_TIME=$(date +%s)
TMP=""
PGIDS=""            # leaders of the process groups we started
BG=""               # a long helper run in the background, so that Ctrl-C is seen at once
SPAWNED=""          # pid (= process group) of the last spawn
# what the Flask peer (../shared/peers/flask) needs
FLASK_PKGS=(python3-flask python3-flask-socketio python3-socketio python3-engineio gunicorn
            python3-readability python3-lxml python3-requests)

# ------------------------------------------------------------------ messages
# say MSG…: prints "[BENCH_NAME HH:MM:SS] MSG" on stderr (progress; stdout is the report)
say() { printf '[%s %s] %s\n' "${BENCH_NAME:-bench}" "$(date +%H:%M:%S)" "$*" >&2; }
# die MSG…: says "error: MSG" and exits 1 (cleanup runs)
die() { say "error: $*"; exit 1; }
# isnum S: true if S is a whole number greater than 0
isnum() { case "$1" in ''|*[!0-9]*) return 1 ;; *) [ "$1" -gt 0 ] ;; esac; }

# ------------------------------------------------------- process groups, clean-up
# alive PID: true while PID runs; a zombie (exited, not yet reaped) counts as gone
alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    case "$st" in Z*) return 1 ;; esac
}

# stop_group PID: TERMs the leader, gives it 10 s, KILLs whatever is left of its group, and
# drops PID from PGIDS; returns 0
stop_group() {
    local pid=$1 p rest=""
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            alive "$pid" || break
            sleep 0.1
        done
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in $PGIDS; do
        [ "$p" = "$pid" ] || rest="$rest $p"
    done
    PGIDS=$rest
}

# spawn LOG CMD…: starts CMD in the background in a process group of its own (in this
# script's session), stdin /dev/null, stdout and stderr appended to LOG; sets SPAWNED to its
# pid, added to PGIDS. Not a session of its own (setsid): with the kernel's autogroup
# scheduling (/proc/sys/kernel/sched_autogroup_enabled, on in Debian) every session gets an
# equal share of the CPUs, so a server in one session had, against N client processes in
# N sessions, the share of one client process on these two cores (measured, push.sh at
# 10 000 WebSockets: p99 140-160 ms with setsid, 73-74 ms without; bench/fanout.c, the
# floor, forks its clients in one session and never had that handicap).
spawn() {
    local log=$1
    shift
    perl -e 'setpgrp(0, 0); exec @ARGV or die "$ARGV[0]: $!"' -- "$@" </dev/null >>"$log" 2>&1 &
    SPAWNED=$!
    PGIDS="$PGIDS $SPAWNED"
}

# bg_run [-o FILE | -e FILE] CMD…: runs CMD (a `timeout …` command: timeout leads a process
# group of its own) in the background and waits for it, so that bash runs the INT trap at
# once (it does during `wait`, not during a foreground command); -o sends CMD's stdout and
# stderr to FILE, -e its stderr only (redirect here, not on the bg_run call: a trap run
# during the call would write there); returns CMD's status
bg_run() {
    local rc=0 out="" err=""
    case "$1" in
        -o) out=$2; shift 2 ;;
        -e) err=$2; shift 2 ;;
    esac
    {
        if [ -n "$out" ]; then exec >"$out" 2>&1; fi
        if [ -n "$err" ]; then exec 2>"$err"; fi
        exec "$@"
    } &
    BG=$!
    wait "$BG" || rc=$?
    BG=""
    return "$rc"
}

# cleanup: the EXIT trap. Ends BG's group, calls on_cleanup if defined, stops every group of
# PGIDS, removes TMP (keeps it if KEEP_TMP=1), says how long the run took; exits with the status
cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM HUP
    set +e
    if [ -n "$BG" ]; then       # a helper still running (interrupted): its group goes too
        kill -TERM -- "-$BG" 2>/dev/null || kill -TERM "$BG" 2>/dev/null
        wait "$BG" 2>/dev/null
    fi
    if declare -F on_cleanup >/dev/null; then on_cleanup; fi
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

# bench_traps: cleanup on EXIT; INT (says "interrupted"), TERM and HUP exit 130, 143, 129
bench_traps() {
    trap cleanup EXIT
    trap 'say "interrupted"; exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}

# ------------------------------------------------------------ setting up
# ensure_packages PKG…: apt-get installs those not installed (sudo unless root; dies without
# it); RUNLEVEL=1: the apache2/postgresql packages must not start the system's services
ensure_packages() {
    local p missing=() sudo=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null \
            || die "missing packages: ${missing[*]} (run as root or install them)"
        sudo=(sudo)
    fi
    say "installing: ${missing[*]}"
    timeout 600 "${sudo[@]}" apt-get update -qq
    timeout 900 "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
}

# build_module: make -C ROOT all (output on stderr) unless SKIP_BUILD=1; dies unless
# build/mod_poketto.so and build/poketto-admin are there
build_module() {
    local so="$ROOT/build/mod_poketto.so" tool="$ROOT/build/poketto-admin"
    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        say "building (make -C $ROOT all)"
        timeout 900 make -C "$ROOT" all >&2 \
            || die "the build failed (make deps installs the build dependencies)"
        if ! [ -f "$so" ] || ! [ -x "$tool" ]; then
            die "make did not produce build/mod_poketto.so and build/poketto-admin"
        fi
    fi
    if ! [ -f "$so" ] || ! [ -x "$tool" ]; then
        die "no build/mod_poketto.so and build/poketto-admin (run make)"
    fi
}

# make_tmp NAME SUBDIR…: creates TMP=/tmp/NAME.XXXXXX (mode 755) with logs/, lib/ and the
# SUBDIRs, copies build/mod_poketto.so to $TMP/lib (httpd's User may not reach the
# checkout), and sets RESULTS to an empty $TMP/results.jsonl
make_tmp() {
    local d
    TMP=$(mktemp -d "/tmp/$1.XXXXXX")
    shift
    chmod 755 "$TMP"
    for d in logs lib "$@"; do
        mkdir -p "$TMP/$d"
    done
    cp "$ROOT/build/mod_poketto.so" "$TMP/lib/"
    RESULTS="$TMP/results.jsonl"
    : > "$RESULTS"
}

# freeport: prints a free TCP port on 127.0.0.1
freeport() {
    timeout 10 "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# admin_token DRIVER PARAMS: creates user "bench" with $ADMIN (poketto-admin) and prints a
# new token of it
admin_token() {
    timeout 60 "$ADMIN" -d "$1" -p "$2" user add bench >/dev/null
    timeout 60 "$ADMIN" -d "$1" -p "$2" token add bench --name bench | sed -n 's/^token: //p'
}

# ------------------------------------------------------------- servers
# wait_http URL PID: returns 0 once URL answers any HTTP status, 1 if PID is gone or after 30 s
wait_http() {
    local url=$1 pid=$2 code
    for _ in $(seq 1 300); do
        alive "$pid" || return 1
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
        [ "$code" != "000" ] && [ -n "$code" ] && return 0
        sleep 0.1
    done
    return 1
}

# httpd_conf_extras DEST: sets USERLINE (for @USER@: "User www-data\nGroup www-data" when
# root, else empty) and INCLUDE (for @INCLUDE@: POKETTO_CONF, if set, copied to DEST)
httpd_conf_extras() {
    USERLINE=""
    [ "$(id -u)" -ne 0 ] || USERLINE='User www-data\nGroup www-data'
    INCLUDE=""
    if [ -n "${POKETTO_CONF:-}" ]; then
        [ -r "$POKETTO_CONF" ] || die "POKETTO_CONF=$POKETTO_CONF is not readable"
        cp "$POKETTO_CONF" "$1"
        INCLUDE="Include \"$1\""
    fi
}

# httpd_configtest CONF LOG MSG: apache2 -t -f CONF, output to LOG; on failure shows LOG
# and dies with MSG
httpd_configtest() {
    timeout 30 /usr/sbin/apache2 -t -f "$1" >"$2" 2>&1 || { cat "$2" >&2; die "$3"; }
}

# httpd_start CONF OUTLOG ERRLOG WHAT: apache2 -f CONF -DFOREGROUND, spawned (HTTPD_PID),
# until $BASE/api/session answers; else shows the tails of ERRLOG and OUTLOG and dies
# "WHAT did not come up on $BASE"
httpd_start() {
    spawn "$2" /usr/sbin/apache2 -f "$1" -DFOREGROUND
    HTTPD_PID=$SPAWNED
    wait_http "$BASE/api/session" "$HTTPD_PID" || {
        tail -n 30 "$3" "$2" >&2 2>/dev/null
        die "$4 did not come up on $BASE"
    }
}

# flask_start ITEMS: the Flask peer at PEER_DIR as its bench.py runs it (gunicorn -w 1
# --threads 8 on 127.0.0.1, from the peer's folder) on its own database of ITEMS items in
# $TMP/flask; sets FLASK_PORT and FLASK_PID; dies if it does not answer
flask_start() {
    FLASK_PORT=$(freeport)
    ITEMS_DB="$TMP/flask/items.db" timeout 120 "$PY" "$PEER_DIR/app.py" seed "$1" >&2
    spawn "$TMP/logs/gunicorn.log" env ITEMS_DB="$TMP/flask/items.db" "$PY" /usr/bin/gunicorn \
        --chdir "$PEER_DIR" -w 1 --threads 8 --graceful-timeout 5 \
        --bind "127.0.0.1:$FLASK_PORT" app:app
    FLASK_PID=$SPAWNED
    wait_http "http://127.0.0.1:$FLASK_PORT/api/items?limit=20" "$FLASK_PID" || {
        tail -n 30 "$TMP/logs/gunicorn.log" >&2
        die "gunicorn did not come up on 127.0.0.1:$FLASK_PORT"
    }
}

# httpd_errors LOG: prints the lines of httpd's error log LOG besides its start/stop notices
# (nothing if LOG is missing); returns 0
httpd_errors() {
    grep -v -e 'AH00489' -e 'AH00094' -e 'AH00491' -e 'AH00492' -e 'AH00493' -e 'AH00169' \
        "$1" 2>/dev/null || true
}

# ------------------------------------------------------------------ measuring
# group_ticks PGID…: prints the CPU time (clock ticks) used so far by the processes of groups
group_ticks() {
    local g p f t=0
    for g in "$@"; do
        for p in $(pgrep -g "$g" 2>/dev/null); do
            f=$(cut -d')' -f2- "/proc/$p/stat" 2>/dev/null) || continue
            # shellcheck disable=SC2086   # the fields of /proc/PID/stat after the name
            set -- $f
            t=$((t + ${12} + ${13}))
        done
    done
    echo "$t"
}

# wait_idle: returns once the groups of PGIDS use less than ~5 % of a core (says a warning
# after 30 s). Requests a finished run left queued (at -c256 the module has seconds of them)
# must not run into the next measurement.
wait_idle() {
    local a b
    for _ in $(seq 1 60); do
        # shellcheck disable=SC2086   # PGIDS is a list of pids
        a=$(group_ticks $PGIDS)
        sleep 0.5
        # shellcheck disable=SC2086
        b=$(group_ticks $PGIDS)
        [ $((b - a)) -gt 2 ] || return 0
    done
    say "warning: the servers were still busy after 30 s"
}

# wrk_threads CONNS: prints wrk's -t for CONNS connections (2, or 1 for a single connection)
wrk_threads() { if [ "$1" -ge 2 ]; then echo 2; else echo 1; fi; }

# ------------------------------------------------------------------ report
# loadavg: prints the 1, 5 and 15 minute load averages
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# machine_line WHEN BEFORE AFTER [TAIL]: prints the report's "Machine: …" line (nproc, kernel,
# CPU model, WHEN, load averages BEFORE and AFTER the runs, then TAIL)
machine_line() {
    echo "Machine: \`nproc\`=$(nproc), $(uname -sr), $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $1; load average $2 before, $3 after${4:-}"
}

# pkgver PKG: prints the installed Debian version of PKG
pkgver() { dpkg-query -W -f='${Version}' "$1"; }
# apache_line NOTE: prints "- apache2: <server version> (NOTE), <package version>"
apache_line() {
    echo "- apache2: $(/usr/sbin/apache2 -v | sed -n 's/^Server version: //p') ($1), $(pkgver apache2)"
}
# sqlite_version: prints the SQLite library version (Python's sqlite3 module)
sqlite_version() { "$PY" -c 'import sqlite3; print(sqlite3.sqlite_version)'; }
# python_version: prints the version of PY
python_version() { "$PY" -c 'import platform; print(platform.python_version())'; }
