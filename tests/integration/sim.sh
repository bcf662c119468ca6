#!/bin/sh
# sim.sh - `ladder sim`: the example scenario's table and --json summary
# (every key of the contract), determinism by seed, the files --out writes
# (summary.json, timeseries.csv, events.jsonl) and --events-sample, broken
# scenarios and traces (exit 2, a message naming the file and the JSON path
# or line), --skip-bad-rows, trace replay (the clock across gaps, and the
# real Azure conversation trace), and two fault models (a rate limit with a
# storm, a price ramp over routes with different prices).
#
# LADDER is the binary (default ./bin/ladder from the repository root).
# Each broken scenario tests/data/sim/bad_*.json states the end of the
# message it must produce ("<file>: <path>: <what>") in a top-level
# "_expect" comment key. JSON checks need node; without it they are
# skipped. Prints one "ok - ..." / "not ok - ..." line per check and exits 1
# if any failed.
. "$(dirname "$0")/lib/common.sh"
require_ladder

# json_num FILE KEY: a top-level number of a summary, without node
json_num() {
    sed -n "s/^[[:space:]]*\"$2\":[[:space:]]*\\([-0-9.e+]*\\),\\{0,1\\}$/\\1/p" "$1" |
        head -n 1
}

ex=examples/scenario.json
pol=examples/policy.json

# ---- the table ----------------------------------------------------------------

run table sim "$ex" --policy "$pol"
expect_rc table 0 "sim $ex exits 0"
for w in requests succeeded failed abandoned "latency ms" "ttft ms" \
    "attempts/request" fallbacks; do
    if grep -q "^ *$w " "$tmp/table.out"; then
        ok "the table has a \"$w\" line"
    else
        not_ok "the table has a \"$w\" line" "$(head -c 400 "$tmp/table.out")"
    fi
done
for r in gpt-4.1 claude-sonnet llama-70b-fast gpt-4.1-mini; do
    expect_in "$tmp/table.out" "  $r " "the table has a row for route $r"
done
expect_empty "$tmp/table.err" "sim writes nothing to stderr when it is not a terminal"
tab_req=$(awk '$1 == "requests" { print $2; exit }' "$tmp/table.out")
tab_sum=$(awk '$1 == "succeeded" || $1 == "failed" || $1 == "abandoned" { s += $2; n++ }
               END { if (n == 3) print s }' "$tmp/table.out")
if [ -n "$tab_req" ] && [ "$tab_sum" = "$tab_req" ]; then
    ok "the table's succeeded + failed + abandoned = requests ($tab_req)"
else
    not_ok "the table's succeeded + failed + abandoned = requests" \
        "requests $tab_req, sum $tab_sum"
fi

# ---- --json: the contract --------------------------------------------------------

run json sim "$ex" --policy "$pol" --json
expect_rc json 0 "sim $ex --json exits 0"
contract='
const fs = require("fs");
let j;
try { j = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); }
catch (e) { console.log("does not parse: " + e.message); process.exit(0); }
const want = (c, m) => { if (!c) console.log(m); };
const num = (o, k, where) => want(o !== null && typeof o === "object" && typeof o[k] === "number" && isFinite(o[k]),
                                  (where || "") + k + " is not a number: " + JSON.stringify(o && o[k]));
const obj = (o, k, where) => want(o !== null && typeof o === "object" && o[k] !== null && typeof o[k] === "object" && !Array.isArray(o[k]),
                                  (where || "") + k + " is not an object");
for (const k of ["requests", "succeeded", "failed", "abandoned", "success_rate", "cost_usd",
                 "cost_per_1k_usd", "attempts", "attempts_per_request", "hedges", "seed", "simulated_s"])
    num(j, k);
for (const h of ["latency_ms", "ttft_ms"]) {
    obj(j, h);
    for (const q of ["mean", "p50", "p90", "p95", "p99", "p999"])
        num(j[h] || {}, q, h + ".");
}
obj(j, "fallbacks");
const fb = j.fallbacks || {};
num(fb, "total", "fallbacks.");
obj(fb, "by_class", "fallbacks.");
obj(fb, "by_route", "fallbacks.");
let byc = 0;
for (const v of Object.values(fb.by_class || {})) byc += v;
want(byc === fb.total, "fallbacks.by_class adds up to " + byc + ", total is " + fb.total);
let byr = 0;
for (const to of Object.values(fb.by_route || {})) for (const v of Object.values(to)) byr += v;
want(byr === fb.total, "fallbacks.by_route adds up to " + byr + ", total is " + fb.total);
obj(j, "routes");
const routes = ["gpt-4.1", "claude-sonnet", "llama-70b-fast", "gpt-4.1-mini"];
want(JSON.stringify(Object.keys(j.routes || {})) === JSON.stringify(routes),
     "routes are " + JSON.stringify(Object.keys(j.routes || {})) + ", not the policy routes in order");
let attempts = 0;
for (const r of routes) {
    const o = (j.routes || {})[r];
    if (!o) continue;
    for (const k of ["attempts", "successes", "cost_usd"]) num(o, k, "routes." + r + ".");
    obj(o, "failures_by_class", "routes." + r + ".");
    attempts += o.attempts;
}
want(attempts === j.attempts, "routes attempts add up to " + attempts + ", attempts is " + j.attempts);
want(j.succeeded + j.failed + j.abandoned === j.requests,
     "succeeded + failed + abandoned = " + (j.succeeded + j.failed + j.abandoned) + ", requests = " + j.requests);
want(j.requests > 0, "no requests");
want(j.success_rate >= 0 && j.success_rate <= 1, "success_rate out of 0..1");
want(j.seed === Number(process.argv[2]), "seed is " + j.seed + ", expected " + process.argv[2]);
want(j.simulated_s >= 3600, "simulated_s " + j.simulated_s + " is shorter than the scenario");
'
js "sim --json has every key of the contract, and the counts add up" \
    "$contract" "$tmp/json.out" 7
if [ -n "$tab_req" ] && [ "$(json_num "$tmp/json.out" requests)" = "$tab_req" ]; then
    ok "the table and --json report the same request count ($tab_req)"
else
    not_ok "the table and --json report the same request count" \
        "table: $tab_req, json: $(json_num "$tmp/json.out" requests)"
fi

# ---- determinism ------------------------------------------------------------------

run json2 sim "$ex" --policy "$pol" --json
if cmp -s "$tmp/json.out" "$tmp/json2.out"; then
    ok "two runs with the same seed print byte-identical JSON"
else
    not_ok "two runs with the same seed print byte-identical JSON" \
        "$(diff "$tmp/json.out" "$tmp/json2.out" | head -n 10)"
fi
run seed8 sim "$ex" --policy "$pol" --json --seed 8
expect_rc seed8 0 "sim --seed 8 exits 0"
if cmp -s "$tmp/json.out" "$tmp/seed8.out"; then
    not_ok "--seed 8 gives a different run"
else
    ok "--seed 8 gives a different run"
fi
js "--seed 8 reports seed 8, with the contract's keys" \
    "$contract" "$tmp/seed8.out" 8

small=tests/data/sim/base.json
run s1 sim "$small" --policy "$pol" --out "$tmp/s1"
run s2 sim "$small" --policy "$pol" --out "$tmp/s2"
same=true
for f in summary.json timeseries.csv events.jsonl; do
    cmp -s "$tmp/s1/$f" "$tmp/s2/$f" || same=false
    [ -s "$tmp/s1/$f" ] || same=false
done
if $same; then
    ok "two --out runs of $small write byte-identical summary, time series and events"
else
    not_ok "two --out runs of $small write byte-identical summary, time series and events" \
        "$(ls -l "$tmp/s1" "$tmp/s2" 2>&1)"
fi

# ---- --out ----------------------------------------------------------------------

run out sim "$ex" --policy "$pol" --out "$tmp/out"
expect_rc out 0 "sim --out exits 0"
for f in summary.json timeseries.csv events.jsonl; do
    if [ -s "$tmp/out/$f" ]; then
        ok "--out writes $f"
    else
        not_ok "--out writes $f" "$(ls -l "$tmp/out" 2>&1)"
    fi
done
js "summary.json is the --json summary" '
const fs = require("fs");
const a = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const b = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
if (JSON.stringify(a) !== JSON.stringify(b)) console.log("they differ");
' "$tmp/out/summary.json" "$tmp/json.out"

# timeseries.csv: a header, then one row per interval from 0 to the end
sim_s=$(json_num "$tmp/out/summary.json" simulated_s)
ts_out=$(awk -F, -v end="$sim_s" '
    NR == 1 { if ($1 != "start_s") print "header starts with " $1; cols = NF; next }
    {
        n++
        if (NF < cols) print "row " NR " has " NF " cells, the header " cols
        if (n == 2) iv = $1 - prev
        if (n > 2 && ($1 - prev - iv > 1e-6 || iv - ($1 - prev) > 1e-6))
            print "row " NR " starts at " $1 ", not " prev + iv
        if (n == 1 && $1 != 0) print "first row starts at " $1
        prev = $1
    }
    END {
        if (n < 2) { print "fewer than 2 rows"; exit }
        if (end == "") { print "no simulated_s in summary.json"; exit }
        if (!(prev < end && end <= prev + iv + 1e-6))
            print n " rows of " iv " s do not end at the run end " end " s (last starts at " prev ")"
    }' "$tmp/out/timeseries.csv")
if [ -z "$ts_out" ]; then
    ok "timeseries.csv has a header and one row per interval up to the end of the run"
else
    not_ok "timeseries.csv has a header and one row per interval up to the end of the run" "$ts_out"
fi

events_check='
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "utf8").split("\n");
if (lines[lines.length - 1] === "") lines.pop();
const req = new Map(), done = new Map();
let bad = 0, fb = 0, breakers = 0;
const say = (m) => { if (bad++ < 5) console.log(m); };
lines.forEach((l, i) => {
    let e;
    try { e = JSON.parse(l); } catch (x) { say("line " + (i + 1) + " does not parse: " + l.slice(0, 100)); return; }
    if (typeof e.type !== "string" || typeof e.t_ms !== "number") say("line " + (i + 1) + " has no type or t_ms");
    if (e.type === "request") req.set(e.req, (req.get(e.req) || 0) + 1);
    if (e.type === "done") done.set(e.req, (done.get(e.req) || 0) + 1);
    if (e.type === "breaker") breakers++;
    if (e.type === "fallback") {
        fb++;
        for (const k of ["from", "to", "class"])
            if (typeof e[k] !== "string" || e[k] === "") say("line " + (i + 1) + ": fallback without " + k + ": " + l);
    }
});
for (const [id, n] of req) {
    if (n !== 1) say("request " + id + " has " + n + " request events");
    if (done.get(id) !== 1) say("request " + id + " has " + (done.get(id) || 0) + " done events");
}
for (const id of done.keys()) if (!req.has(id)) say("request " + id + " is done but never arrived");
const want = process.argv[2] === "" ? null : Number(process.argv[2]);
if (want !== null && req.size !== want) say(req.size + " requests in the events, the summary has " + want);
if (process.argv[3] === "fallbacks" && fb === 0) say("no fallback events");
if (process.argv[3] === "fallbacks" && breakers === 0) say("no breaker events");
fs.writeFileSync(process.argv[4], req.size + " " + lines.length + "\n");
'
js "events.jsonl: every line parses, each request has exactly one done, fallbacks name from/to/class" \
    "$events_check" "$tmp/out/events.jsonl" "$(json_num "$tmp/out/summary.json" requests)" \
    fallbacks "$tmp/full.count"

run sample sim "$ex" --policy "$pol" --out "$tmp/sample" --events-sample 0.1
expect_rc sample 0 "sim --events-sample 0.1 exits 0"
full_lines=$(wc -l <"$tmp/out/events.jsonl")
sample_lines=$(wc -l <"$tmp/sample/events.jsonl")
if [ "$sample_lines" -gt 0 ] && [ "$sample_lines" -lt "$full_lines" ]; then
    ok "--events-sample 0.1 writes fewer lines ($sample_lines of $full_lines)"
else
    not_ok "--events-sample 0.1 writes fewer lines" "$sample_lines of $full_lines"
fi
js "--events-sample 0.1: about a tenth of the requests, each with one request and one done event" \
    "$events_check"'
const [n] = fs.readFileSync(process.argv[4], "utf8").split(" ").map(Number);
const total = Number(process.argv[5]);
if (!(n > 0.07 * total && n < 0.13 * total)) console.log(n + " of " + total + " requests sampled");
' "$tmp/sample/events.jsonl" "" any "$tmp/sample.count" \
    "$(json_num "$tmp/out/summary.json" requests)"
if cmp -s "$tmp/out/summary.json" "$tmp/sample/summary.json"; then
    ok "sampling events does not change the summary"
else
    not_ok "sampling events does not change the summary" \
        "$(diff "$tmp/out/summary.json" "$tmp/sample/summary.json" | head -n 6)"
fi

# ---- broken scenarios -----------------------------------------------------------

n=0
for f in tests/data/sim/bad_*.json; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    want_of "$f" || continue
    run bad sim "$f" --policy "$pol"
    expect_rejected bad "sim $f" || continue
    case "$err" in
    "ladder sim: "*"$want"*) ok "sim $f exits 2: ...$want" ;;
    *) not_ok "sim $f names the file and \"$want\"" "stderr: $err" ;;
    esac
done
if [ "$n" -ge 8 ]; then
    ok "$n broken scenarios checked"
else
    not_ok "at least 8 broken scenarios in tests/data/sim" "found $n"
fi

missing="$tmp/no-such-scenario.json"
run miss sim "$missing" --policy "$pol"
expect_rc miss 2 "sim of a missing scenario exits 2"
expect_in "$tmp/miss.err" "ladder sim: $missing: cannot open" \
    "sim of a missing scenario names the file"

# ---- --skip-bad-rows ----------------------------------------------------------------

badrow=tests/data/sim/bad_trace_row.json
run skipj sim "$badrow" --policy "$pol" --skip-bad-rows --json
expect_rc skipj 0 "sim $badrow --skip-bad-rows exits 0"
skipped=$(json_num "$tmp/skipj.out" trace_rows_skipped)
reqs=$(json_num "$tmp/skipj.out" requests)
if [ "$skipped" = 3 ] && [ "$reqs" = 3 ]; then
    ok "--skip-bad-rows --json reports trace_rows_skipped 3 and the 3 good rows"
else
    not_ok "--skip-bad-rows --json reports trace_rows_skipped 3 and the 3 good rows" \
        "trace_rows_skipped $skipped, requests $reqs"
fi
run skipt sim "$badrow" --policy "$pol" --skip-bad-rows
expect_rc skipt 0 "sim $badrow --skip-bad-rows (table) exits 0"
expect_in "$tmp/skipt.out" "trace rows skipped as bad: 3" \
    "--skip-bad-rows: the table reports the skipped rows"

# ---- trace replay -------------------------------------------------------------------

gap=tests/data/sim/trace_gap.json
run gap sim "$gap" --policy "$pol" --json
expect_rc gap 0 "sim $gap exits 0"
js "trace replay keeps the clock: a 29.5 s gap between rows leaves TTFT at the providers' fixed 400 ms" '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (j.requests !== 4) console.log("requests " + j.requests);
if (!(j.ttft_ms.p999 <= 600)) console.log("ttft_ms.p999 " + j.ttft_ms.p999);
if (!(j.latency_ms.p999 <= 2000)) console.log("latency_ms.p999 " + j.latency_ms.p999);
' "$tmp/gap.out"

# ---- fault models ---------------------------------------------------------------------

storm=tests/data/sim/storm_with_limit.json
run storm sim "$storm" --policy "$pol" --json
expect_rc storm 0 "sim $storm exits 0"
js "a rate_limit fault with rpm and probability 1 answers 429 to every attempt" '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const r = j.routes["gpt-4.1"];
if (!(r.attempts > 0)) console.log("no attempts on gpt-4.1");
if (r.successes !== 0) console.log(r.successes + " successes on gpt-4.1");
if (r.failures_by_class.rate_limited !== r.attempts)
    console.log("rate_limited " + r.failures_by_class.rate_limited + " of " + r.attempts + " attempts");
' "$tmp/storm.out"

ramp=tests/data/sim/ramp_two_routes.json
run ramp sim "$ramp" --policy "$pol" --out "$tmp/ramp"
expect_rc ramp 0 "sim $ramp exits 0"
js "a price ramp over two routes keeps each route's own input price" '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const after = lines.filter(e => e.type === "result" && e.route === "gpt-4.1" && e.class === "none" && e.t_ms > 21000);
if (after.length === 0) console.log("no gpt-4.1 answers after the ramp");
for (const e of after)
    if (Math.abs(e.cost_usd - 0.0052) > 1e-9) { console.log("req " + e.req + " cost " + e.cost_usd + ", not 0.0052"); break; }
' "$tmp/ramp/events.jsonl"

az=tests/data/sim/azure_conv.json
run az sim "$az" --policy "$pol" --json
expect_rc az 0 "sim $az (the Azure conversation trace) exits 0"
az_req=$(json_num "$tmp/az.out" requests)
if [ "$az_req" = 19366 ] && [ "$(json_num "$tmp/az.out" trace_rows_skipped)" = 0 ]; then
    ok "the Azure conversation trace replays all 19366 requests, none skipped"
else
    not_ok "the Azure conversation trace replays all 19366 requests, none skipped" \
        "requests $az_req; stderr: $(head -c 400 "$tmp/az.err")"
fi

finish
