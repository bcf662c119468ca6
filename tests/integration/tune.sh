#!/bin/sh
# tune.sh - ladder tune on short copies of the rate-limit storm and the
# flapping primary from retry-cooldown with the shipped search space: the
# best policy passes `ladder check`; the same --seed gives byte-identical
# output and files, and so does --jobs 1 against --jobs 2; the held-back
# figures are reported; the best meets the cost constraint on the search
# seeds; tune.json says what became of every candidate; bad space files
# and constraints get a clear error naming the file and the knob.
. "$(dirname "$0")/lib/common.sh"
require_ladder

# short copies (200 s each) of two library scenarios
for s in 02-rate-limit-storm 08-flapping-primary; do
    sed -e 's/"duration_s": [0-9]*/"duration_s": 200/' \
        -e 's|"providers/llmperf.json"|"'"$root"'/scenarios/providers/llmperf.json"|' \
        "$root/scenarios/$s.json" > "$tmp/$s.json"
done
pol=$root/scenarios/policies/retry-cooldown.json
space=$root/scenarios/spaces/retry-cooldown.json
set -- "$pol" --space "$space" --scenario "$tmp/02-rate-limit-storm.json" \
    --scenario "$tmp/08-flapping-primary.json" \
    --constraint "cost_per_1k_usd <= 1.10 * base.cost_per_1k_usd" \
    --seeds 4 --holdout 3 --candidates 5 --refine 3 --seed 7 --no-progress

# 1. a run, and what it writes
run a tune "$@" --jobs 2 --out "$tmp/a"
rc=$(cat "$tmp/a.rc")
check "tune runs (exit 0, or 3 when the held-back seeds do not confirm)" \
    '[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ]' "exit $rc: $(head -c 600 "$tmp/a.err")"
check "it writes best.json, tune.json, frontier.dat and the held-back compare" \
    '[ -s "$tmp/a/best.json" ] && [ -s "$tmp/a/tune.json" ] &&
     [ -s "$tmp/a/frontier.dat" ] && [ -s "$tmp/a/holdout/compare.json" ]' \
    "$(ls -R "$tmp/a" 2>&1 | head -20)"
run chk check "$tmp/a/best.json"
expect_rc chk 0 "the best policy passes ladder check"
expect_in "$tmp/a/best.json" '"_tuned"' "best.json says how it was found"
expect_in "$tmp/a.out" "Pareto frontier of success, cost and p99 TTFT" \
    "the frontier table is printed"
expect_in "$tmp/a.out" "base against best on 3 held-back seeds per scenario" \
    "the held-back compare is printed"
expect_re "$tmp/a.out" '^held-back confirmation: success_rate best - base [-+][0-9.]+, 95% interval' \
    "the held-back difference is reported with its interval"
gates=$(grep -c '^gate ' "$tmp/a.out")
expect_eq "$gates" 2 "the cost constraint is checked on search and held-back seeds"
grep '^gate ' "$tmp/a.out" | head -n 1 > "$tmp/first_gate"
expect_re "$tmp/first_gate" '^gate PASS: best\.cost_per_1k_usd <= 1\.10 \* base\.cost_per_1k_usd' \
    "the best meets the cost constraint on the search seeds"
json_js "tune.json: every candidate's fate, the best feasible and on all seeds" \
    "$tmp/a/tune.json" '
    const c = j.candidates, b = c[j.best];
    want(c.length >= 6, "fewer than 6 candidates: " + c.length);
    want(c[0].origin === "base", "candidate 0 is not the base");
    want(b.status === "best" && b.feasible === true, "best not feasible");
    want(b.seeds === 4, "best ran on " + b.seeds + " seeds");
    want(near(b.metrics.cost_per_1k_usd, b.metrics.cost_per_1k_usd, 0) &&
         b.metrics.cost_per_1k_usd <= 1.10 * c[0].metrics.cost_per_1k_usd + 1e-9,
         "best breaks the cost constraint");
    want(j.rungs.length === 2 && j.rungs[0].seeds === 2 && j.rungs[1].seeds === 4,
         "rungs: " + JSON.stringify(j.rungs));
    want(j.rungs[1].candidates < j.rungs[0].candidates, "no candidate dropped");
    want(c.some(x => x.status === "dropped" && x.dropped_at_rung === 0),
         "no candidate says it was dropped at rung 0");
    want(c.some(x => x.origin === "refine"), "no refine candidate");
    want(j.frontier.length >= 1 && j.frontier.every(i => c[i].frontier === true),
         "frontier ids and flags disagree");
    want(typeof j.holdout_seeds.success_rate.ci95_low === "number" &&
         typeof j.search_seeds.success_rate.diff === "number",
         "held-back or search figures missing");
    want(j.run.holdout_seed_offset >= 100000, "held-back seeds overlap");'

# 2. the same --seed again, and --jobs 1: byte for byte
run b tune "$@" --jobs 2 --out "$tmp/b"
check "the same --seed gives the same stdout" 'cmp -s "$tmp/a.out" "$tmp/b.out"' \
    "$(diff "$tmp/a.out" "$tmp/b.out" | head -20)"
diff -r "$tmp/a" "$tmp/b" >"$tmp/d" 2>&1
rc=$?
check "the same --seed writes the same files" '[ $rc -eq 0 ]' "$(head -c 600 "$tmp/d")"
run c tune "$@" --jobs 1 --out "$tmp/c"
check "--jobs 1 prints what --jobs 2 prints" 'cmp -s "$tmp/a.out" "$tmp/c.out"' \
    "$(diff "$tmp/a.out" "$tmp/c.out" | head -20)"
diff -r "$tmp/a" "$tmp/c" >"$tmp/d" 2>&1
rc=$?
check "--jobs 1 writes what --jobs 2 writes" '[ $rc -eq 0 ]' "$(head -c 600 "$tmp/d")"

# 2b. the frontier chart
if command -v gnuplot >/dev/null 2>&1; then
    run plot plot "$tmp/a" --format png
    expect_rc plot 0 "ladder plot draws a tune directory"
    check "it draws the frontier chart" '[ -s "$tmp/a/plots/frontier.png" ] &&
        [ -s "$tmp/a/plots/frontier.gp" ]' "$(cat "$tmp/plot.err")"
    rm -rf "$tmp/a/plots"
else
    skip "the frontier chart" "gnuplot not found"
fi

# 3. bad input
cat > "$tmp/bad_path.json" <<'EOF'
{"knobs": [{"path": "breaker.window_s", "int": [10, 60]},
           {"path": "workloads.chatt.constraints.ttft_ms", "int": [1000, 5000]}]}
EOF
run bad1 tune "$pol" --space "$tmp/bad_path.json" --scenario "$tmp/08-flapping-primary.json" \
    --out "$tmp/x" --no-progress
expect_rc bad1 2 "a space file with an unknown path is refused"
expect_in "$tmp/bad1.err" "$tmp/bad_path.json: knobs[1]: path \"workloads.chatt.constraints.ttft_ms\" is not in the policy" \
    "the error names the space file, the knob and its path"
cat > "$tmp/bad_value.json" <<'EOF'
{"knobs": [{"path": "breaker.failure_rate", "real": [0.2, 3]}]}
EOF
run bad2 tune "$pol" --space "$tmp/bad_value.json" --scenario "$tmp/08-flapping-primary.json" \
    --out "$tmp/x" --no-progress
expect_rc bad2 2 "a space whose values the loader refuses is refused"
expect_in "$tmp/bad2.err" "knobs[0] (breaker.failure_rate): 3 gives a policy the loader refuses" \
    "the error names the knob, the value and the loader's reason"
printf '{"knobs": [' > "$tmp/bad_json.json"
run bad3 tune "$pol" --space "$tmp/bad_json.json" --scenario "$tmp/08-flapping-primary.json" \
    --out "$tmp/x" --no-progress
expect_rc bad3 2 "a space file that is not JSON is refused"
expect_in "$tmp/bad3.err" "bad_json.json: line 1: not valid JSON" "the error says where"
run bad4 tune "$pol" --space "$space" --scenario "$tmp/08-flapping-primary.json" \
    --constraint "cost_per_1k <= 2" --out "$tmp/x" --no-progress
expect_rc bad4 2 "a constraint on an unknown metric is refused"
expect_in "$tmp/bad4.err" "ladder tune: in --constraint" "the error names the constraint"
run bad5 tune "$pol" --space "$space" --scenario "$tmp/08-flapping-primary.json" \
    --objective "maximise success" --out "$tmp/x" --no-progress
expect_rc bad5 2 "a bad objective is refused"
run bad6 tune "$pol" --space "$space" --scenario "$tmp/08-flapping-primary.json" \
    --bind nosuch=gpt-4.1 --out "$tmp/x" --no-progress
expect_rc bad6 2 "a --bind to a route the policy does not have is refused"
expect_in "$tmp/bad6.err" 'the policy has no route "nosuch"' "the error names the route"
check "nothing was written for bad input" '[ ! -e "$tmp/x" ]'

finish
