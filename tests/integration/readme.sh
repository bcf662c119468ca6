#!/bin/sh
# readme.sh - the README's examples must work: its policy example passes
# `ladder check`, its scenario example runs with `ladder sim` against the
# README's policy (with the library's providers file), and every command it
# documents answers --help.
. "$(dirname "$0")/lib/common.sh"
require_ladder

# the ```json block after a heading
block() {
    awk -v head="$1" '
        index($0, head) == 1 { inside = 1; next }
        inside && /^```json/ { on = 1; next }
        on && /^```/ { exit }
        on { print }' "$root/README.md"
}

block "## Policy format" > "$tmp/policy.json"
run policy check "$tmp/policy.json"
expect_rc policy 0 "README policy example passes ladder check"

block "## Scenario format" > "$tmp/scenario.json"
mkdir -p "$tmp/providers"
cp "$root/scenarios/providers/llmperf.json" "$tmp/providers/llmperf.json"
sed -e 's/"duration_s": 3600/"duration_s": 300/' "$tmp/scenario.json" > "$tmp/s2.json"
run scenario sim "$tmp/s2.json" --policy "$tmp/policy.json" --json --no-progress
expect_rc scenario 0 "README scenario example runs with ladder sim"

for cmd in check sim compare plot report fit serve replay; do
    run "help_$cmd" "$cmd" --help
    expect_rc "help_$cmd" 0 "ladder $cmd --help works"
done
finish
