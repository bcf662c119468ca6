#!/bin/sh
# run_unit.sh - run every cmocka test program given as an argument and print
# one closing line "unit: N passed, N failed, N skipped" counting test
# cases (cmocka's skip() is a skip, not a pass).
set -u
passed=0
failed=0
skipped=0
bad=""
for t in "$@"; do
    out=$("$t" 2>&1)
    rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    k=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    [ "$k" -gt 0 ] && printf '%s\n' "$out" | grep '^\[  SKIPPED \] [a-z]' | sed "s|^|$(basename "$t"): |" >&2
    skipped=$((skipped + k))
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ]; then
        [ "$f" -eq 0 ] && failed=$((failed + 1))
        bad="$bad $(basename "$t")"
        printf '%s\n' "$out" | grep -vE '^\[ (RUN|      OK) ' >&2
    fi
done
[ -n "$bad" ] && echo "unit: failing programs:$bad" >&2
echo "unit: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
