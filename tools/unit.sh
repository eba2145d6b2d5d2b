#!/bin/sh
# Run the unit-test programs given as arguments (TAP output), print one summary line
# "N passed, N failed"; exit non-zero when any failed. UNIT_SUMMARY=FILE also writes
# "passed failed" to FILE for the caller. UNIT_VALGRIND=1 runs each under valgrind:
# an invalid read or write, or a definite leak, fails the program (its time bounds are
# stretched 50 times, PK_TEST_TIME_FACTOR).
passed=0; failed=0; status=0
run=""
if [ -n "${UNIT_VALGRIND:-}" ]; then
    run="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
    export PK_TEST_TIME_FACTOR=50
fi
for t in "$@"; do
    echo "# $t${run:+ (valgrind)}"
    out=$($run "$t" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^ok ' || true
    p=$(printf '%s\n' "$out" | grep -c '^ok ')
    f=$(printf '%s\n' "$out" | grep -c '^not ok ')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "# $t exited with $rc"; fi
    passed=$((passed + p)); failed=$((failed + f))
    [ "$f" -eq 0 ] || status=1
done
echo "unit: $passed passed, $failed failed"
[ -z "${UNIT_SUMMARY:-}" ] || echo "$passed $failed" > "$UNIT_SUMMARY"
exit $status
