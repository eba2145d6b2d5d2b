#!/bin/sh
# Run the unit-test programs given as arguments (TAP output), print one summary line
# "N passed, N failed"; exit non-zero when any failed. UNIT_SUMMARY=FILE also writes
# "passed failed" to FILE for the caller.
passed=0; failed=0; status=0
for t in "$@"; do
    echo "# $t"
    out=$("$t" 2>&1); rc=$?
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
