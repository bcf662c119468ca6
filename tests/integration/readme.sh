#!/bin/sh
# readme.sh - the README's examples must work: its policy example passes
# `ladder check`, its scenario example runs with `ladder sim` against the
# example policy (with the README's providers file), and the commands it
# documents exist.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
LADDER=${LADDER:-$root/bin/ladder}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/    /'; fails=$((fails + 1)); }

# the n-th ```json block after a heading
block() {
    awk -v head="$1" '
        index($0, head) == 1 { inside = 1; next }
        inside && /^```json/ { on = 1; next }
        on && /^```/ { exit }
        on { print }' "$root/README.md"
}

block "## Policy format" > "$tmp/policy.json"
if out=$("$LADDER" check "$tmp/policy.json" 2>&1); then
    ok "README policy example passes ladder check"
else
    not_ok "README policy example passes ladder check" "$out"
fi

block "## Scenario format" > "$tmp/scenario.json"
mkdir -p "$tmp/providers"
cp "$root/scenarios/providers/llmperf.json" "$tmp/providers/llmperf.json"
# the example's routes: the README policy's, with a short run
sed -e 's/"duration_s": 3600/"duration_s": 300/' "$tmp/scenario.json" > "$tmp/s2.json"
if out=$("$LADDER" sim "$tmp/s2.json" --policy "$tmp/policy.json" --json --no-progress 2>&1); then
    ok "README scenario example runs with ladder sim"
else
    not_ok "README scenario example runs with ladder sim" "$out"
fi

for cmd in check sim compare plot report fit serve replay; do
    if "$LADDER" "$cmd" --help >/dev/null 2>&1; then
        ok "ladder $cmd --help works"
    else
        not_ok "ladder $cmd --help works"
    fi
done
[ "$fails" -eq 0 ]
