#!/bin/sh
# `make test`: the unit tests of src/core, src/store and httpd-free runtime files under
# valgrind, then the Apache::Test suite
# against a real httpd under event, worker and prefork, each against SQLite and a
# throwaway PostgreSQL (tests/run-integration.sh). Ends with "N passed, N failed".
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUMMARY=$(mktemp)
UNIT_VALGRIND=${UNIT_VALGRIND-1} UNIT_SUMMARY="$SUMMARY" sh "$ROOT/tools/unit.sh" "$@"
unit_rc=$?
set -- $(cat "$SUMMARY")
rm -f "$SUMMARY"
UNIT_PASSED=${1:-0} UNIT_FAILED=${2:-1} bash "$ROOT/tests/run-integration.sh"
int_rc=$?
[ "$unit_rc" -eq 0 ] && [ "$int_rc" -eq 0 ]
