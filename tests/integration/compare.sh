#!/bin/sh
# compare.sh - ladder compare: pairing (identical policies differ by exactly
# zero), intervals, several scenarios, --out files, the CI gate's exit
# codes, report, and clear errors for bad input.
. "$(dirname "$0")/lib/common.sh"
require_ladder

# short copies of two library scenarios (10 minutes each)
for s in 02-rate-limit-storm 07-correlated-upstream-outage; do
    sed -e 's/"duration_s": [0-9]*/"duration_s": 600/' \
        -e 's/"start_s": 900/"start_s": 120/' -e 's/"end_s": 2100/"end_s": 420/' \
        -e 's/"start_s": 1200/"start_s": 120/' -e 's/"end_s": 3600/"end_s": 420/' \
        -e 's|"providers/llmperf.json"|"'"$root"'/scenarios/providers/llmperf.json"|' \
        "$root/scenarios/$s.json" > "$tmp/$s.json"
done
pol=$root/scenarios/policies
s1=$tmp/02-rate-limit-storm.json
s2=$tmp/07-correlated-upstream-outage.json

# 1. pairing: the same policy twice differs by exactly zero
"$LADDER" compare "$s1" --policy a="$pol/tuned.json" --policy b="$pol/tuned.json" \
    --seeds 3 --json --no-progress > "$tmp/same.json" 2> "$tmp/err"
rc=$?
check "compare of a policy with itself exits 0" '[ $rc -eq 0 ]' "$(cat "$tmp/err")"
node -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1]));
const b = j.scenarios[0].policies.find(p => p.label === "b");
let bad = [];
for (const [k, m] of Object.entries(b.metrics))
    if (m.diff && m.diff.mean !== null && (m.diff.mean !== 0 || m.diff.significant))
        bad.push(k + " " + JSON.stringify(m.diff));
if (bad.length) { console.log(bad.join("\n")); process.exit(1); }
' "$tmp/same.json" > "$tmp/out" 2>&1
rc=$?
check "identical policies give zero differences on every metric" '[ $rc -eq 0 ]' "$(cat "$tmp/out")"

# 2. two policies, two scenarios, intervals and an overall table
"$LADDER" compare "$s1" "$s2" --policy static="$pol/static-backup.json" \
    --policy tuned="$pol/tuned.json" --seeds 3 --out "$tmp/cmp" --no-progress \
    > "$tmp/table" 2> "$tmp/err"
rc=$?
check "compare of two scenarios exits 0" '[ $rc -eq 0 ]' "$(cat "$tmp/err")"
check "the table has one section per scenario and an overall one" \
    'grep -q "^rate-limit-storm-429: 3 seeds" "$tmp/table" && grep -q "^correlated-upstream-outage: 3 seeds" "$tmp/table" && grep -q "^overall: 6 seeds" "$tmp/table"' "$(head -5 "$tmp/table")"
check "tuned beats the static backup on success in the storm, significantly" \
    'grep -A2 "^rate-limit-storm-429" "$tmp/table" | grep "^success %" | grep -q "(+[0-9.]*\*)"' "$(grep -A3 "^rate-limit-storm" "$tmp/table")"
node -e '
const fs = require("fs");
const j = JSON.parse(fs.readFileSync(process.argv[1] + "/compare.json"));
const want = (c, m) => { if (!c) { console.log(m); process.exit(1); } };
want(j.scenarios.length === 2 && j.overall, "two scenarios and overall");
for (const sc of j.scenarios) {
    want(sc.seeds === 3 && sc.baseline === "static", "seeds and baseline");
    want(sc.ranking[0] === "tuned", "tuned ranks first in " + sc.scenario);
    for (const p of sc.policies)
        for (const k of ["success_rate", "latency_p99_ms", "cost_per_1k_usd", "recovery_s", "unrecovered_share"])
            want(typeof p.metrics[k].ci95 === "number" || p.metrics[k].ci95 === null, k + " has ci95");
}
for (const d of ["rate-limit-storm-429", "correlated-upstream-outage"])
    for (const p of ["static", "tuned"])
        for (const f of ["summary.json", "timeseries.csv", "cdf.csv", "faults.csv"])
            want(fs.existsSync(process.argv[1] + "/" + d + "/" + p + "/" + f), d + "/" + p + "/" + f);
' "$tmp/cmp" > "$tmp/out" 2>&1
rc=$?
check "compare.json has intervals, ranking and per-run files" '[ $rc -eq 0 ]' "$(cat "$tmp/out")"

# 3. the CI gate
"$LADDER" compare "$s1" --policy static="$pol/static-backup.json" --policy tuned="$pol/tuned.json" \
    --seeds 2 --no-progress --gate "tuned.success_rate >= static.success_rate" > "$tmp/g1" 2>&1
rc=$?
check "a gate that holds exits 0 and says PASS" '[ $rc -eq 0 ] && grep -q "gate PASS" "$tmp/g1"' "$(tail -3 "$tmp/g1")"
"$LADDER" compare "$s1" --policy static="$pol/static-backup.json" --policy tuned="$pol/tuned.json" \
    --seeds 2 --no-progress --gate "tuned.cost_per_1k_usd <= 0.5 * static.cost_per_1k_usd" > "$tmp/g2" 2>&1
rc=$?
check "a gate that fails exits 3 and says FAIL" '[ $rc -eq 3 ] && grep -q "gate FAIL" "$tmp/g2"' "rc=$rc $(tail -3 "$tmp/g2")"
"$LADDER" compare "$s1" --policy static="$pol/static-backup.json" --seeds 1 --no-progress \
    --gate "nosuch.success_rate >= 0.9" > "$tmp/g3" 2>&1
rc=$?
check "a gate naming an unknown policy exits 2 and says so" '[ $rc -eq 2 ] && grep -q "unknown policy label \"nosuch\"" "$tmp/g3"' "$(cat "$tmp/g3")"

# 4. report
"$LADDER" plot "$tmp/cmp" --format png > /dev/null 2>&1
"$LADDER" report "$tmp/cmp" > "$tmp/rp" 2>&1
rc=$?
check "report writes report.html with the tables and charts" \
    '[ $rc -eq 0 ] && grep -q "<table>" "$tmp/cmp/report.html" && grep -q "<img src=\"plots/rate-limit-storm-429/" "$tmp/cmp/report.html"' "$(cat "$tmp/rp")"
"$LADDER" report "$tmp" > "$tmp/rp2" 2>&1
rc=$?
check "report on a directory without compare.json exits 2 naming the file" '[ $rc -eq 2 ] && grep -q "compare.json" "$tmp/rp2"' "$(cat "$tmp/rp2")"

# 5. bad input
cat > "$tmp/narrow.json" <<'POL'
{"routes": {"mine": {"provider": "openai", "model": "gpt-9",
   "price": {"input_per_mtok": 2, "output_per_mtok": 8}}},
 "workloads": {"chat": {"ladder": ["mine"]}}}
POL
"$LADDER" compare "$s1" --policy n="$tmp/narrow.json" --seeds 1 --no-progress > "$tmp/b1" 2>&1
rc=$?
check "a policy with a route the scenario cannot model exits 2 naming both" \
    '[ $rc -eq 2 ] && grep -q "route \"mine\" (used by workload \"chat\") binds to no provider model" "$tmp/b1" && grep -q "narrow.json" "$tmp/b1"' "$(cat "$tmp/b1")"
"$LADDER" compare "$tmp/nope.json" --policy "$pol/tuned.json" > "$tmp/b2" 2>&1
rc=$?
check "a missing scenario exits 2 naming it" '[ $rc -eq 2 ] && grep -q "nope.json" "$tmp/b2"' "$(cat "$tmp/b2")"
mkdir -p "$tmp/x"
cp "$pol/tuned.json" "$tmp/x/tuned.json"
cp "$pol/static-backup.json" "$tmp/x/tuned.v2.json"
"$LADDER" compare "$s1" --policy "$tmp/x/tuned.json" --policy "$tmp/x/tuned.v2.json" \
    --seeds 1 --no-progress > "$tmp/b3" 2>&1
rc=$?
check "two files that no part of their paths tells apart exit 2 and ask for LABEL=FILE" \
    '[ $rc -eq 2 ] && grep -q "LABEL=FILE" "$tmp/b3" && grep -q "tuned.v2.json" "$tmp/b3"' "$(cat "$tmp/b3")"
mkdir -p "$tmp/dir"
cp "$s1" "$s2" "$tmp/dir/"
"$LADDER" compare "$tmp/dir" --policy "$pol/tuned.json" --seeds 1 --json --no-progress > "$tmp/d.json" 2>&1
rc=$?
check "a directory of scenarios runs them all" \
    '[ $rc -eq 0 ] && node -e "process.exit(JSON.parse(require(\"fs\").readFileSync(process.argv[1])).scenarios.length === 2 ? 0 : 1)" "$tmp/d.json"' "$(head -5 "$tmp/d.json")"

# 6. labels from paths, A/A tests, scenarios with one name
mkdir -p "$tmp/a" "$tmp/b"
cp "$pol/tuned.json" "$tmp/a/tuned.json"
cp "$pol/static-backup.json" "$tmp/b/tuned.json"
"$LADDER" compare "$s1" --policy "$tmp/a/tuned.json" --policy="$tmp/b/tuned.json" \
    --seeds=2 --out "$tmp/ab" --json --no-progress > "$tmp/ab.json" 2> "$tmp/ab.err"
rc=$?
check "two policy files with one base name are labelled a/tuned and b/tuned" \
    '[ $rc -eq 0 ] && node -e "
const j = JSON.parse(require(\"fs\").readFileSync(process.argv[1]));
process.exit(j.scenarios[0].policies.map(p => p.label).sort().join() === \"a/tuned,b/tuned\" ? 0 : 1)" "$tmp/ab.json"' \
    "rc=$rc $(cat "$tmp/ab.err") $(grep '"label"' "$tmp/ab.json")"
check "their runs go to --out DIR/SCENARIO/a/tuned and .../b/tuned" \
    '[ -f "$tmp/ab/rate-limit-storm-429/a/tuned/summary.json" ] && [ -f "$tmp/ab/rate-limit-storm-429/b/tuned/summary.json" ]' \
    "$(find "$tmp/ab" | head -20)"
"$LADDER" plot "$tmp/ab" --format svg > "$tmp/ab.plot" 2>&1
rc=$?
check "ladder plot draws a compare whose labels hold a /" '[ $rc -eq 0 ]' "$(cat "$tmp/ab.plot")"

"$LADDER" compare "$s1" --policy "$pol/tuned.json" --policy "$pol/tuned.json" \
    --seeds 3 --json --no-progress > "$tmp/aa.json" 2> "$tmp/aa.err"
rc=$?
check "the same policy file twice is an A/A test (exit 0)" '[ $rc -eq 0 ]' "$(cat "$tmp/aa.err")"
node -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1]));
const sc = j.scenarios[0];
const labels = sc.policies.map(p => p.label).sort().join();
if (labels !== "tuned,tuned#2") { console.log("labels " + labels); process.exit(1); }
const b = sc.policies.find(p => p.label === "tuned#2");
let bad = [];
for (const [k, m] of Object.entries(b.metrics))
    if (m.diff && (m.diff.significant || (m.diff.mean !== null && m.diff.mean !== 0)))
        bad.push(k + " " + JSON.stringify(m.diff));
if (bad.length) { console.log(bad.join("\n")); process.exit(1); }
' "$tmp/aa.json" > "$tmp/out" 2>&1
rc=$?
check "the A/A copy is labelled tuned#2 and differs significantly on nothing" '[ $rc -eq 0 ]' "$(cat "$tmp/out")"

mkdir -p "$tmp/dup1" "$tmp/dup2"
cp "$s1" "$tmp/dup1/storm.json"
sed -e 's/"seed": *[0-9]*/"seed": 77/' "$s1" > "$tmp/dup2/storm.json"
"$LADDER" compare "$tmp/dup1/storm.json" "$tmp/dup2/storm.json" --policy "$pol/tuned.json" \
    --seeds 1 --out "$tmp/dup" --json --no-progress > "$tmp/dup.json" 2> "$tmp/dup.err"
rc=$?
check "two scenarios with one name both run (exit 0)" '[ $rc -eq 0 ]' "$(cat "$tmp/dup.err")"
check "the second one's name gets #2, and stderr says where its runs went" \
    'grep -q "rate-limit-storm-429#2" "$tmp/dup.err" && grep -q "$tmp/dup/rate-limit-storm-429-2/" "$tmp/dup.err"' "$(cat "$tmp/dup.err")"
check "neither overwrites the other: two run directories, two names in compare.json" \
    '[ -f "$tmp/dup/rate-limit-storm-429/tuned/summary.json" ] && [ -f "$tmp/dup/rate-limit-storm-429-2/tuned/summary.json" ] && node -e "
const j = JSON.parse(require(\"fs\").readFileSync(process.argv[1]));
process.exit(j.scenarios.map(s => s.scenario).join() === \"rate-limit-storm-429,rate-limit-storm-429#2\" ? 0 : 1)" "$tmp/dup/compare.json"' \
    "$(ls "$tmp/dup")"

finish
