#!/bin/sh
# demo.sh - the main job on the bundled example: replay an incident,
# compare three candidate ladders on it, chart the result and write a
# report. Run by `make demo` (which installs what is missing and builds).
set -eu
cd "$(dirname "$0")/.."
LADDER=${LADDER:-bin/ladder}
OUT=${OUT:-out/demo}
SEEDS=${SEEDS:-5}
mkdir -p "$OUT"

echo "== 1. Is the tuned ladder designed for every failure class?"
"$LADDER" check scenarios/policies/tuned.json | sed -n '1p;/workload chat, tier paid/,/^$/p'

echo "== 2. Three ladders through three incidents, $SEEDS seeds each"
"$LADDER" compare \
    scenarios/01-primary-outage-multi-hour.json \
    scenarios/02-rate-limit-storm.json \
    scenarios/07-correlated-upstream-outage.json \
    --policy static-backup=scenarios/policies/static-backup.json \
    --policy retry-cooldown=scenarios/policies/retry-cooldown.json \
    --policy tuned=scenarios/policies/tuned.json \
    --seeds "$SEEDS" --out "$OUT" \
    --gate "tuned.success_rate >= static-backup.success_rate" \
    --gate "tuned.latency_p99_ms <= 1.1 * static-backup.latency_p99_ms"

echo "== 3. Charts and report"
"$LADDER" plot "$OUT" >/dev/null
"$LADDER" report "$OUT" >/dev/null
echo
echo "report:  $OUT/report.html"
echo "charts:  $OUT/plots/"
echo "data:    $OUT/compare.json and $OUT/<scenario>/<policy>/"
