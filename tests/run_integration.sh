#!/bin/sh
# run_integration.sh - run every tests/integration/*.sh; each prints its own
# checks and exits non-zero on failure. Closing line: "integration: N passed,
# N failed" counting scripts. Needs LADDER (the binary) and TOOLS (built
# helper programs) in the environment.
set -u
here=$(dirname "$0")
passed=0
failed=0
for t in "$here"/integration/*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    if out=$(sh "$t" 2>&1); then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name"
        printf '%s\n' "$out" | sed 's/^/    /'
    fi
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
