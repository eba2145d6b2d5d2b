#!/bin/sh
# bench/extract.sh - quality, speed and memory of the article extractor (issue 5).
#
#   bench/extract.sh [ROUNDS]
#
# Prints, for build/poketto-extract (run `make` first):
#   * dev/ body F1 (shared/tools/extract-eval against dev/ground-truth.json);
#   * readability-dev/ body F1 and the title exact-match rate (against Readability.js);
#   * pages/s on one core (taskset -c 1) over dev/, file reading excluded, and in the
#     same run the pages/s of readability-lxml (Debian python3-readability,
#     Document(html).summary()) on the same pages, and the ratio. Each side runs ROUNDS
#     times (default 3), interleaved; the best round of each counts. Both wall-clock and
#     CPU-time rates are shown: on a busy machine CPU time is the fairer of the two;
#   * peak memory per page: a child process extracts one page; its peak resident size
#     less what it started with, divided by the page size (median, 90th percentile, max).
#
# Environment: POKETTO_EXTRACT (default build/poketto-extract), SHARED (default
# ../shared next to the repository), PYTHON (default /usr/bin/python3: Debian's
# python3-* packages load only there).
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
BIN=${POKETTO_EXTRACT:-build/poketto-extract}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
PYTHON=${PYTHON:-/usr/bin/python3}
DATA=$SHARED/data/extraction
EVAL=$SHARED/tools/extract-eval
CPU=${BENCH_CPU:-1}

[ -x "$BIN" ] || { echo "bench/extract.sh: $BIN is missing: run make" >&2; exit 1; }
[ -d "$DATA/dev" ] || { echo "bench/extract.sh: no $DATA/dev" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

# ---- quality ----
"$BIN" --batch "$DATA/dev" "$TMP/dev" 2>/dev/null
"$BIN" --batch "$DATA/readability-dev" "$TMP/rd" --url http://fakehost/test/page.html 2>/dev/null
"$EVAL" "$TMP/dev" "$DATA/dev/ground-truth.json" > "$TMP/dev.txt"
"$EVAL" "$TMP/rd" "$DATA/readability-dev/ground-truth.json" > "$TMP/rd.txt"
echo "dev/ body:              $(tail -1 "$TMP/dev.txt")"
echo "readability-dev/ body:  $(tail -1 "$TMP/rd.txt")"
grep "exact match" "$TMP/rd.txt" | sed 's/^/readability-dev\/ /'

# ---- speed ----
cat > "$TMP/rl.py" <<'PY'
import glob, sys, time
from readability import Document
files = sorted(glob.glob(sys.argv[1] + '/*.html'))
pages = [open(f, 'rb').read().decode('utf-8', 'replace') for f in files]
for d in pages[:3]:
    Document(d).summary()
t, c = time.perf_counter(), time.process_time()
for d in pages:
    Document(d).summary()
t, c = time.perf_counter() - t, time.process_time() - c
print('%d %.4f %.4f' % (len(pages), t, c))
PY
ours_wall=0; ours_cpu=0; rl_wall=0; rl_cpu=0
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > a) ? b : a }'; }
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    set -- $(taskset -c "$CPU" "$BIN" --bench "$DATA/dev" --repeat 2)
    ours_wall=$(best "$ours_wall" "$8"); ours_cpu=$(best "$ours_cpu" "${12}")
    set -- $(taskset -c "$CPU" "$PYTHON" "$TMP/rl.py" "$DATA/dev")
    rl_wall=$(best "$rl_wall" "$(awk -v n="$1" -v t="$2" 'BEGIN { print n / t }')")
    rl_cpu=$(best "$rl_cpu" "$(awk -v n="$1" -v t="$3" 'BEGIN { print n / t }')")
    i=$((i + 1))
done
awk -v ow="$ours_wall" -v oc="$ours_cpu" -v rw="$rl_wall" -v rc="$rl_cpu" 'BEGIN {
    printf "speed (dev/, one core, best of rounds): poketto-extract %.0f pages/s wall, %.0f pages/s CPU\n", ow, oc
    printf "                                        readability-lxml %.1f pages/s wall, %.1f pages/s CPU\n", rw, rc
    printf "ratio: %.1fx wall, %.1fx CPU\n", ow / rw, oc / rc }'

# ---- memory ----
"$BIN" --bench "$DATA/dev" --repeat 1 --memory | awk '/^mem_ratio/ {
    printf "peak memory per page / page size: median %sx, p90 %sx, max %sx\n", $3, $5, $7 }'
