#!/bin/sh
# replay.sh - `ladder sim --trace` and `ladder replay`: the rate-limit storm
# (scenario 02, shortened to 10 minutes with the incident moved inside
# them) writes a trace with one parsing line per request; replaying it
# through the same ladder gives the same request count and a success rate
# within 2 percentage points; replaying it through the tuned ladder runs
# and differs; bad lines fail with file:line, an empty trace fails,
# --skip-bad-rows counts what it skipped.
#
# LADDER is the binary (default ./bin/ladder from the repository root).
# The scenario copy and the JSON checks need node; without it those checks
# are skipped. Prints one "ok - ..." / "not ok - ..." line per check and
# exits 1 if any failed.
. "$(dirname "$0")/lib/common.sh"
require_ladder

sb=scenarios/policies/static-backup.json
tuned=scenarios/policies/tuned.json
trace=$tmp/storm.jsonl

# ---- the simulator writes a trace ------------------------------------------------

if ! $have_node; then
    skip "sim --trace and replay of the rate-limit storm"
else
    node -e '
const fs = require("fs"), path = require("path");
const src = "scenarios/02-rate-limit-storm.json";
const j = JSON.parse(fs.readFileSync(src, "utf8"));
j.duration_s = 600;
for (const f of j.faults) { f.start_s = 200; f.end_s = 400; }
j.providers_file = path.resolve(path.dirname(src), j.providers_file);
fs.writeFileSync(process.argv[1], JSON.stringify(j));
' "$tmp/storm.json"

    run sim sim "$tmp/storm.json" --policy "$sb" --trace "$trace" --json
    expect_rc sim 0 "sim --trace exits 0"
    js "every trace line parses, has the contract's keys, and there is one per request" '
const fs = require("fs");
const want = (c, m) => { if (!c) { console.log(m); process.exit(0); } };
const s = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const lines = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(l => l !== "");
want(lines.length === s.requests, lines.length + " lines, " + s.requests + " requests");
const keys = ["v", "t_ms", "id", "workload", "tier", "input_tokens", "output_tokens",
              "stream", "outcome", "route", "status", "class", "ttft_ms", "latency_ms",
              "cost_usd", "fell_back", "attempts"];
const akeys = ["route", "start_ms", "class", "status", "ttft_ms", "duration_ms",
               "output_tokens", "retry_after_ms", "hedge", "cancelled"];
const ids = new Set();
let n = 0, ok = 0, fb = 0;
for (const l of lines) {
    n++;
    let j;
    try { j = JSON.parse(l); } catch (e) { want(false, "line " + n + ": " + e.message); }
    for (const k of keys) want(k in j, "line " + n + " lacks " + k);
    want(j.v === 1, "line " + n + ": v is " + j.v);
    want(!ids.has(j.id), "line " + n + ": id " + j.id + " twice");
    ids.add(j.id);
    want(Array.isArray(j.attempts), "line " + n + ": attempts is not an array");
    for (const a of j.attempts)
        for (const k of akeys) want(k in a, "line " + n + ": an attempt lacks " + k);
    if (j.outcome === "success") ok++;
    if (j.fell_back) fb++;
}
want(ok === s.succeeded, ok + " successes in the trace, " + s.succeeded + " in the summary");
want(fb > 0, "no request fell back: the incident is not in the trace");
' "$trace" "$tmp/sim.out"

    # ---- replaying it ------------------------------------------------------------

    run same replay "$trace" --policy "$sb" --json
    expect_rc same 0 "replay through the same ladder exits 0"
    js "replay through the same ladder: same requests, success rate within 2 points" '
const fs = require("fs");
const a = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const b = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
if (a.requests !== b.requests) console.log("requests " + b.requests + ", the run had " + a.requests);
if (!(Math.abs(a.success_rate - b.success_rate) <= 0.02))
    console.log("success rate " + b.success_rate + ", the run had " + a.success_rate);
if (!(b.replay && b.replay.attempts_same_request > 0))
    console.log("no attempt replayed from its own request: " + JSON.stringify(b.replay));
' "$tmp/sim.out" "$tmp/same.out"

    run tuned replay "$trace" --policy "$tuned" --json
    expect_rc tuned 0 "replay through the tuned ladder exits 0"
    js "replay through the tuned ladder differs from the recording" '
const fs = require("fs");
const a = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const b = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
if (a.requests !== b.requests) console.log("requests " + b.requests + ", the run had " + a.requests);
const keys = ["success_rate", "attempts_per_request", "hedges", "cost_usd"];
if (keys.every(k => a[k] === b[k])) console.log("the same " + keys.join(", ") + " as the recording");
' "$tmp/sim.out" "$tmp/tuned.out"
    expect_in "$tmp/tuned.err" "has no usable attempt on it" \
        "replay warns about tuned routes the trace never recorded"

    run table replay "$trace" --policy "$sb" --speedup 2 --window-s 30
    expect_rc table 0 "replay prints a table (with --speedup and --window-s)"
    expect_in "$tmp/table.out" "speedup 2" "the table names the speedup"
    expect_in "$tmp/table.out" "attempts replayed from the same request" \
        "the table says where the attempts came from"
fi

# ---- bad traces --------------------------------------------------------------------

good='{"v":1,"t_ms":0,"id":"a","workload":"chat","tier":"paid","input_tokens":10,"output_tokens":20,"stream":true,"outcome":"success","route":"gpt-4.1","status":200,"class":"none","ttft_ms":300,"latency_ms":900,"cost_usd":0,"fell_back":false,"attempts":[{"route":"gpt-4.1","start_ms":0,"class":"none","status":200,"ttft_ms":300,"duration_ms":900,"output_tokens":20,"retry_after_ms":null,"hedge":false,"cancelled":false}]}'
{
    echo "$good"
    echo '{"v":1,"t_ms":'
    echo "$good"
} >"$tmp/bad.jsonl"
run bad replay "$tmp/bad.jsonl" --policy "$sb"
expect_rc bad 2 "a malformed line exits 2"
expect_in "$tmp/bad.err" "$tmp/bad.jsonl:2: not a JSON object" \
    "a malformed line is named by file:line"

{
    echo "$good"
    echo "$good" | sed 's/"workload":"chat"/"workload":"nope"/'
} >"$tmp/wl.jsonl"
run wl replay "$tmp/wl.jsonl" --policy "$sb"
expect_rc wl 2 "an unknown workload exits 2"
expect_in "$tmp/wl.err" "$tmp/wl.jsonl:2: workload \"nope\" is not in the policy" \
    "an unknown workload is named with its line"

: >"$tmp/empty.jsonl"
run empty replay "$tmp/empty.jsonl" --policy "$sb"
expect_rc empty 2 "an empty trace exits 2"
expect_in "$tmp/empty.err" "no requests in trace" "an empty trace says so"

run skip replay "$tmp/bad.jsonl" --policy "$sb" --skip-bad-rows --json
expect_rc skip 0 "--skip-bad-rows replays the good lines"
expect_in "$tmp/skip.err" "1 bad lines skipped" "--skip-bad-rows reports the count"
js "--skip-bad-rows: two requests, one line skipped in the summary" '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (j.requests !== 2) console.log("requests " + j.requests);
if (!(j.replay && j.replay.lines_skipped === 1)) console.log("replay: " + JSON.stringify(j.replay));
' "$tmp/skip.out"

run missing replay "$tmp/nope.jsonl" --policy "$sb"
expect_rc missing 2 "a missing trace exits 2"
run usage replay "$tmp/bad.jsonl"
expect_rc usage 2 "replay without --policy exits 2"
run speed replay "$tmp/bad.jsonl" --policy "$sb" --speedup 0
expect_rc speed 2 "--speedup 0 exits 2"

finish
