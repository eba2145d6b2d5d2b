#!/usr/bin/env bash
# Integration tests of mod_poketto: the Apache::Test suite in tests/t against a real
# httpd (/usr/sbin/apache2) for every MPM (event worker prefork) x database (sqlite pgsql).
#
#   tests/run-integration.sh            (make test runs it as root)
#
# Environment (all optional):
#   POKETTO_TEST_MPMS   MPMs to run            (default "event worker prefork")
#   POKETTO_TEST_DBS    databases to run       (default "sqlite pgsql")
#   POKETTO_TEST_FILES  test files, relative to tests/  (default t/*.t)
#   POKETTO_WS_MODE     PokettoWsMode of the test server (default auto)
#   POKETTO_TEST_VERBOSE=1  print every TAP line
#   POKETTO_TEST_KEEP=1     keep the temporary directory (its path is printed)
#   POKETTO_TEST_RUN_BUDGET seconds the test files of one run may take (default 420)
#   POKETTO_TEST_VMEM_KB    address-space cap per process (default 4 GB; 0: none)
#   POKETTO_TEST_CORES=1    let httpd dump core (where /proc/sys/kernel/core_pattern says;
#                           e.g. echo '/tmp/cores/core.%e.%p' >/proc/sys/kernel/core_pattern)
#   POKETTO_SO, POKETTO_ADMIN  module and admin CLI (default build/mod_poketto.so,
#                              build/poketto-admin)
#   UNIT_PASSED, UNIT_FAILED   unit-test counts added to the final line
#
# The last line printed is "N passed, N failed" (assertions of all runs plus the unit
# counts). The exit status is non-zero when anything failed or a run could not start.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SO=${POKETTO_SO:-$REPO/build/mod_poketto.so}
ADMIN=${POKETTO_ADMIN:-$REPO/build/poketto-admin}
MPMS=${POKETTO_TEST_MPMS:-event worker prefork}
DBS=${POKETTO_TEST_DBS:-sqlite pgsql}
HTTPD=/usr/sbin/apache2
PGBIN=/usr/lib/postgresql/15/bin
TEST_USER=poketto-test
PG_USER=poketto

PASSED=0
FAILED=0
STARTED=$(date +%s)
WORK=""
PG_STARTED=0
HTTPD_UP=0
LOGDIR=$REPO/tests/logs

say() { printf '%s\n' "$*"; }
die_early() {   # a failure before any run: still print the summary line
    say "run-integration: $*" >&2
    FAILED=$((FAILED + 1))
    exit 1
}

# A runaway process (a loop that allocates) must not take the machine down: cap the
# address space of everything started from here (POKETTO_TEST_VMEM_KB=0: no cap,
# e.g. for ASan builds).
# (runuser's PAM session resets ulimits, so the cap is set by prlimit after it.)
VMEM_KB=${POKETTO_TEST_VMEM_KB:-4194304}
CAP=()
if [ "$VMEM_KB" != 0 ]; then CAP=(prlimit --as=$((VMEM_KB * 1024)) --); fi
if [ -n "${POKETTO_TEST_CORES:-}" ]; then
    CAP=(prlimit --core=unlimited "${CAP[@]:1}")
    [ "$VMEM_KB" != 0 ] || CAP+=(--)
fi

# ---------------------------------------------------------------- run as the test user
if [ "$(id -u)" -eq 0 ]; then
    if ! id "$TEST_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin "$TEST_USER"
    fi
    TEST_UID=$(id -u "$TEST_USER")
    # runuser keeps the environment we pass through env(1); HOME must be writable.
    as_user() { runuser -u "$TEST_USER" -- "${CAP[@]}" env HOME="$WORK" "$@"; }
else
    TEST_UID=$(id -u)
    as_user() { "${CAP[@]}" env HOME="$WORK" "$@"; }
fi

# httpd processes of this run that are still alive (a server that hangs while starting
# has no pid file, so t/TEST -stop-httpd cannot stop it): found by this run's unique
# config path, ended by pid.
kill_strays() {
    [ -n "$WORK" ] || return 0
    local conf="$WORK/tests/t/conf/httpd.conf" pids=() p sig
    for sig in TERM KILL; do
        pids=()
        for p in /proc/[0-9]*; do
            [ "$(stat -c %u "$p" 2>/dev/null)" = "$TEST_UID" ] || continue
            if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "-f $conf"; then
                pids+=("${p#/proc/}")
            fi
        done
        [ ${#pids[@]} -gt 0 ] || return 0
        say "stopping stray httpd processes (SIG$sig): ${pids[*]}"
        kill -s "$sig" "${pids[@]}" 2>/dev/null || true
        sleep 3
    done
}

# ---------------------------------------------------------------- cleanup
cleanup() {
    local rc=$?
    set +e
    if [ "$HTTPD_UP" = 1 ]; then
        (cd "$WORK/tests" && as_user perl t/TEST -stop-httpd >/dev/null 2>&1)
    fi
    kill_strays
    if [ "$PG_STARTED" = 1 ]; then
        as_user "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop >/dev/null 2>&1
    fi
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "${POKETTO_TEST_KEEP:-0}" = 1 ]; then
            say "kept $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    local up=$(( ${UNIT_PASSED:-0} + PASSED ))
    local uf=$(( ${UNIT_FAILED:-0} + FAILED ))
    say "integration: $(( $(date +%s) - STARTED ))s"
    say "$up passed, $uf failed"
    if [ "$rc" -eq 0 ] && [ "$uf" -gt 0 ]; then rc=1; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- prerequisites
for f in "$SO" "$ADMIN"; do
    [ -f "$f" ] || die_early "missing $f (run make first)"
done
[ -x "$HTTPD" ] || die_early "missing $HTTPD"
perl -MApache::Test -MLWP::UserAgent -MJSON::PP -e1 2>/dev/null \
    || die_early "Perl modules Apache::Test, LWP, JSON::PP are needed (libapache2-mod-perl2, libwww-perl)"

# ---------------------------------------------------------------- private copy of the tree
# The test user may not be able to traverse the repo's parents (e.g. /root), and
# Apache::Test writes into t/: run from a copy it owns.
WORK=$(mktemp -d /tmp/poketto-test.XXXXXX)
mkdir -p "$WORK/build" "$WORK/runs" "$WORK/pg"
mkdir "$WORK/tests"
(cd "$REPO/tests" && tar --exclude=./t/logs --exclude=./t/state --exclude=./t/conf/httpd.conf \
     --exclude=./t/conf/extra.conf --exclude=./t/conf/apache_test_config.pm -cf - ./t ./bin) \
    | tar -C "$WORK/tests" -xf -
cp "$SO" "$WORK/build/mod_poketto.so"
cp "$ADMIN" "$WORK/build/poketto-admin"
chmod 755 "$WORK/build/poketto-admin"
if [ "$(id -u)" -eq 0 ]; then chown -R "$TEST_USER:" "$WORK"; fi
chmod 700 "$WORK"
as_user test -r "$WORK/build/mod_poketto.so" || die_early "$TEST_USER cannot read $WORK"

if missing=$(ldd "$WORK/build/mod_poketto.so" | grep 'not found'); then
    die_early "mod_poketto.so has unresolved libraries: $missing"
fi

mkdir -p "$LOGDIR" 2>/dev/null || LOGDIR=""

free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                                      Listen => 1, ReuseAddr => 1) or die $!;
        print $s->sockport, "\n";'
}

# ---------------------------------------------------------------- PostgreSQL
PGPORT=""
start_pg() {
    as_user "$PGBIN/initdb" -D "$WORK/pg/data" -U "$PG_USER" --auth=trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$WORK/pg/initdb.log" 2>&1 || {
        cat "$WORK/pg/initdb.log"; return 1; }
    local try
    for try in 1 2 3 4 5; do
        PGPORT=$(free_port)
        if as_user "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -c port=$PGPORT -c fsync=off \
                -c synchronous_commit=off -c full_page_writes=off \
                -c unix_socket_directories=$WORK/pg -c max_connections=200" \
            start >/dev/null 2>&1; then
            PG_STARTED=1
            say "PostgreSQL 15 on 127.0.0.1:$PGPORT ($WORK/pg/data)"
            return 0
        fi
    done
    tail -n 20 "$WORK/pg/server.log" 2>/dev/null
    return 1
}

case " $DBS " in *" pgsql "*)
    start_pg || die_early "could not start PostgreSQL";;
esac

# ---------------------------------------------------------------- one run
admin() {   # admin DRIVER PARAMS ARGS...
    local driver=$1 params=$2; shift 2
    as_user timeout -k 5 30 "$WORK/build/poketto-admin" -d "$driver" -p "$params" "$@"
}

run_one() {
    local mpm=$1 db=$2
    local dir="$WORK/runs/$mpm-$db" driver params defines=""
    say ""
    say "=================== MPM $mpm  x  DB $db ==================="
    as_user mkdir -p "$dir"
    if [ "$db" = sqlite ]; then
        driver=sqlite3
        params="$dir/poketto.db"
        defines="POKETTO_SQLITE"
    else
        driver=pgsql
        local dbname="poketto_$mpm"
        as_user "$PGBIN/dropdb" -h 127.0.0.1 -p "$PGPORT" -U "$PG_USER" --if-exists "$dbname" 2>/dev/null
        as_user "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U "$PG_USER" "$dbname" || return 1
        params="host=127.0.0.1 port=$PGPORT dbname=$dbname user=$PG_USER"
    fi

    as_user htpasswd -bcB "$dir/htpasswd" carol carolpw >/dev/null 2>&1 || return 1

    local out tok_alice tok_bob u
    for u in alice bob; do
        local rc=0
        out=$(admin "$driver" "$params" user add "$u" --password "${u}pw" 2>&1) || rc=$?
        if [ "$rc" != 0 ]; then
            case $rc in
                124|137) say "poketto-admin user add $u did not finish within 30s (killed)";;
                *) say "poketto-admin user add $u failed (exit $rc):";;
            esac
            [ -n "$out" ] && say "$out" | tail -n 5
            return 1
        fi
        grep -q "^login: $u" <<<"$out" || { say "unexpected output of user add: $out"; return 1; }
    done
    out=$(admin "$driver" "$params" token add alice --name tests 2>&1) || { say "$out"; return 1; }
    tok_alice=$(sed -n 's/^token: \(pkt_[^ ]*\).*/\1/p' <<<"$out")
    out=$(admin "$driver" "$params" token add bob --name tests 2>&1) || { say "$out"; return 1; }
    tok_bob=$(sed -n 's/^token: \(pkt_[^ ]*\).*/\1/p' <<<"$out")
    [ -n "$tok_alice" ] && [ -n "$tok_bob" ] || { say "no token in admin output: $out"; return 1; }

    local envs=(
        APACHE_TEST_NO_STICKY_PREFERENCES=1 APACHE_TEST_COLOR=0
        APACHE_TEST_STARTUP_TIMEOUT=30
        POKETTO_SO="$WORK/build/mod_poketto.so"
        POKETTO_DBD_DRIVER="$driver" POKETTO_DBD_PARAMS="$params"
        POKETTO_HTPASSWD="$dir/htpasswd"
        POKETTO_ALICE_TOKEN="$tok_alice" POKETTO_BOB_TOKEN="$tok_bob"
        POKETTO_TEST_DB="$db" POKETTO_TEST_MPM="$mpm"
        POKETTO_WS_MODE="${POKETTO_WS_MODE:-auto}"
        POKETTO_APXS_CACHE="$WORK/apxs.cache"
    )
    # for re-running by hand: cd $WORK/tests && env $(cat run.env) perl t/TEST ...
    printf '%q\n' "${envs[@]}" | as_user tee "$dir/run.env" >/dev/null

    cd "$WORK/tests"
    as_user env "${envs[@]}" perl t/TEST -clean >/dev/null 2>&1 || true
    local topts=(-httpd "$HTTPD" -apxs "$WORK/tests/bin/apxs-cache"
                 -httpd_conf "$WORK/tests/t/mpm/$mpm.conf"
                 -port select -servername 127.0.0.1 -maxclients 8)
    [ -n "$defines" ] && topts+=(-defines "$defines")
    # -port select picks a free port when configuring; another test server on the machine
    # may take it before ours starts ("port N is in use"): configure again, up to 3 times.
    local try started=0
    for try in 1 2 3; do
        if as_user env "${envs[@]}" perl t/TEST -start-httpd "${topts[@]}" \
                >"$dir/start.log" 2>&1; then
            started=1
            break
        fi
        grep -q 'is in use' "$dir/start.log" || break
        say "(port taken by another server, configuring again)"
        as_user env "${envs[@]}" perl t/TEST -clean >/dev/null 2>&1 || true
    done
    if [ "$started" != 1 ]; then
        say "httpd did not start ($mpm, $db):"
        tail -n 15 "$dir/start.log"
        tail -n 15 t/logs/error_log 2>/dev/null || true
        HTTPD_UP=1   # stop whatever half-started
        return 1
    fi
    HTTPD_UP=1
    local port
    port=$(sed -n 's/.*server 127.0.0.1:\([0-9]*\) started.*/\1/p' "$dir/start.log" | head -n1)
    say "httpd $mpm MPM on 127.0.0.1:${port:-?}, $driver: $params"

    local files=(${POKETTO_TEST_FILES:-t/*.t}) vflag=()
    [ "${POKETTO_TEST_VERBOSE:-0}" = 1 ] && vflag=(--verbose)
    as_user env "${envs[@]}" perl bin/tap-run.pl --log "$dir/tap.log" "${vflag[@]}" \
            --budget "${POKETTO_TEST_RUN_BUDGET:-420}" \
            "${files[@]}" | tee "$dir/summary.txt" | grep -a -v '^RESULT ' || true
    local res
    res=$(tail -n 1 "$dir/summary.txt")
    as_user env "${envs[@]}" perl t/TEST -stop-httpd >/dev/null 2>&1 || true
    HTTPD_UP=0
    kill_strays

    local p=0 f=1
    if [[ "$res" =~ ^RESULT\ ([0-9]+)\ ([0-9]+)$ ]]; then
        p=${BASH_REMATCH[1]}; f=${BASH_REMATCH[2]}
    else
        say "test runner gave no result"
    fi
    # One more assertion per run, from error_log: no child crashed (AH00051/52), nothing
    # logged at crit/alert/emerg, and every child stopped when asked (AH00045/46: "still
    # did not exit").
    # Children a test killed on purpose are listed in t/logs/killed-by-tests (one pid a
    # line, t/130-engine-resilience.t): their "exit signal" lines are not crashes.
    local crash killed=""
    if [ -s t/logs/killed-by-tests ]; then
        killed=$(grep -E '^[0-9]+$' t/logs/killed-by-tests | sort -u | paste -sd'|' -)
    fi
    crash=$(grep -a -E 'exit signal|Segmentation fault|AH0005[12]|AH0004[56]|double free|AddressSanitizer|:(emerg|crit|alert)\]' \
                t/logs/error_log 2>/dev/null \
            | { if [ -n "$killed" ]; then grep -a -v -E "child pid ($killed) exit signal"; else cat; fi; } \
            | head -n 5 || true)
    if [ -n "$crash" ]; then
        say "  not ok - error_log shows a crash, a fatal error or a child that would not stop:"
        say "$crash" | cut -c1-220 | sed 's/^/      /'
        f=$((f + 1))
    else
        p=$((p + 1))
    fi
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
    say "--- $mpm x $db: $p passed, $f failed"
    if [ -n "$LOGDIR" ]; then
        mkdir -p "$LOGDIR/$mpm-$db"
        cp -f t/logs/error_log t/logs/access_log "$dir/tap.log" "$dir/start.log" \
              "$LOGDIR/$mpm-$db/" 2>/dev/null || true
    fi
    return 0
}

for mpm in $MPMS; do
    for db in $DBS; do
        if ! run_one "$mpm" "$db"; then
            say "--- $mpm x $db: COULD NOT RUN"
            FAILED=$((FAILED + 1))
            if [ "$HTTPD_UP" = 1 ]; then
                (cd "$WORK/tests" && as_user perl t/TEST -stop-httpd >/dev/null 2>&1) || true
                HTTPD_UP=0
            fi
            kill_strays
            if [ -n "$LOGDIR" ] && [ -d "$WORK/tests/t/logs" ]; then
                mkdir -p "$LOGDIR/$mpm-$db"
                cp -f "$WORK/tests/t/logs/error_log" "$WORK/runs/$mpm-$db/start.log" \
                      "$LOGDIR/$mpm-$db/" 2>/dev/null || true
            fi
        fi
    done
done
[ "$FAILED" -eq 0 ] && [ "${UNIT_FAILED:-0}" -eq 0 ]
