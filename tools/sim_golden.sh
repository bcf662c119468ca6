#!/bin/sh
# sim_golden.sh - record, or check against a record, what the simulator
# writes for every library scenario, so a change meant to make it faster
# can be shown to change nothing it prints.
#
#   tools/sim_golden.sh record DIR   write the outputs under DIR
#   tools/sim_golden.sh check DIR    write them again and cmp each file
#
# For each scenario in scenarios/ and each of two policies: `sim --json
# --out --trace` (the summary object; summary.json, timeseries.csv,
# cdf.csv, faults.csv and a tenth of the requests' events.jsonl; one
# trace line per request); then one `compare --json --out` of the two policies over
# every scenario with 3 seeds, and the bench scenario
# (tests/bench/realistic.json, shortened) through one policy.
# LADDER names the binary (default build/release/ladder).
# Exit 0: recorded, or every file identical; 1: a file differs.
set -eu
mode=${1:-}
dir=${2:-}
if [ "$mode" != record ] && [ "$mode" != check ] || [ -z "$dir" ]; then
    echo "usage: tools/sim_golden.sh record|check DIR" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
ladder=${LADDER:-$root/build/release/ladder}
pols="retry-cooldown static-backup"
if [ "$mode" = record ]; then
    out=$dir
else
    out=$(mktemp -d "${TMPDIR:-/tmp}/sim_golden.XXXXXX")
fi
mkdir -p "$out"
for sc in "$root"/scenarios/*.json; do
    name=$(basename "$sc" .json)
    for pol in $pols; do
        d=$out/$name.$pol
        "$ladder" sim "$sc" --policy "$root/scenarios/policies/$pol.json" \
            --json --out "$d.out" --trace "$d.trace" --events-sample 0.1 \
            --no-progress >"$d.json" 2>/dev/null
    done
done
"$ladder" compare "$root"/scenarios/*.json --seeds 3 --no-progress --json \
    --policy "$root/scenarios/policies/retry-cooldown.json" \
    --policy "$root/scenarios/policies/static-backup.json" \
    --out "$out/compare.out" >"$out/compare.json" 2>/dev/null
# the bench's load, shortened to 100,000 requests
sed 's/"requests": 2000000/"requests": 100000/' \
    "$root/tests/bench/realistic.json" >"$out/realistic.scenario"
"$ladder" sim "$out/realistic.scenario" --policy "$root/examples/policy.json" \
    --out "$out/realistic.out" --no-progress >"$out/realistic.table" \
    2>/dev/null
if [ "$mode" = record ]; then
    echo "sim_golden: recorded $(find "$out" -type f | wc -l) files in $out"
    exit 0
fi
status=0
n=0
for f in $(cd "$dir" && find . -type f | sort); do
    n=$((n + 1))
    if ! cmp -s "$dir/$f" "$out/$f"; then
        echo "sim_golden: DIFFERS: $f" >&2
        status=1
    fi
done
extra=$(cd "$out" && find . -type f | wc -l)
if [ "$extra" -ne "$n" ]; then
    echo "sim_golden: $extra files written, $n recorded" >&2
    status=1
fi
if [ $status -eq 0 ]; then
    echo "sim_golden: $n files identical"
    rm -rf "$out"
else
    echo "sim_golden: new outputs kept in $out" >&2
fi
exit $status
