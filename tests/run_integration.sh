#!/bin/sh
# run_integration.sh - run every tests/integration/*.sh; each prints its own
# checks and exits non-zero on failure. Closing line: "integration: N passed,
# N failed, N checks skipped" counting scripts (and checks skipped inside
# them: a skip is never a pass). Needs LADDER (the binary) and TOOLS (built
# helper programs) in the environment.
set -u
here=$(dirname "$0")
passed=0
failed=0
skipped=0
for t in "$here"/integration/*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    if out=$(sh "$t" 2>&1); then
        passed=$((passed + 1))
        sk=$(printf '%s\n' "$out" | grep -c '^skip - ')
        skipped=$((skipped + sk))
        if [ "$sk" -gt 0 ]; then
            echo "ok   $name ($sk checks skipped)"
            printf '%s\n' "$out" | grep '^skip - ' | sed 's/^/    /'
        else
            echo "ok   $name"
        fi
    else
        failed=$((failed + 1))
        echo "FAIL $name"
        printf '%s\n' "$out" | sed 's/^/    /'
    fi
done
echo "integration: $passed passed, $failed failed, $skipped checks skipped"
[ "$failed" -eq 0 ]
