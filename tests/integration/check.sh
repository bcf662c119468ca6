#!/bin/sh
# check.sh - `ladder check`: the example policy's report (text and JSON),
# --strict, a fully designed policy, and every broken policy in
# tests/data/policies (exit 2, a message naming the file and the JSON path).
#
# LADDER is the binary (default ./bin/ladder from the repository root). Each
# broken policy bad_*.json states the message it must produce in a top-level
# "_expect" comment key. Prints one "ok - ..." / "not ok - ..." line per
# check and exits 1 if any failed.
. "$(dirname "$0")/lib/common.sh"
require_ladder

# section FILE HEADER: the lines of one "workload W, tier T" section
section() {
    awk -v h="$2" 'index($0, h) == 1 { on = 1; print; next }
                   on && /^$/ { exit }
                   on { print }' "$1"
}

# class_line FILE HEADER CLASS: that class's line in the section
class_line() {
    section "$1" "$2" | awk -v c="$3" '$1 == c { print; exit }'
}

expect_line() { # line-text needle description
    case "$1" in
    *"$2"*) ok "$3" ;;
    *) not_ok "$3" "\"$2\" not in line: $1" ;;
    esac
}

# ---- the example policy, text -----------------------------------------

ex=examples/policy.json
run ex check "$ex"
expect_rc ex 0 "check $ex exits 0"
expect_in "$tmp/ex.out" "$ex: valid: 4 routes, 2 workloads, 3 tiers" \
    "check $ex prints valid with the counts"
for w in chat report; do
    for t in free paid enterprise; do
        expect_in "$tmp/ex.out" "workload $w, tier $t (" \
            "check $ex has a section for workload $w, tier $t"
    done
done
expect_empty "$tmp/ex.err" "check $ex writes nothing to stderr"

paid="workload chat, tier paid"
line=$(class_line "$tmp/ex.out" "$paid" server_error)
expect_line "$line" "retry x1 (backoff 200 ms), else next" \
    "chat/paid server_error shows its rule"
expect_line "$line" "retry gpt-4.1 in " \
    "chat/paid server_error retries gpt-4.1"
expect_line "$line" "-> claude-sonnet" \
    "chat/paid server_error then moves to claude-sonnet"
case "$line" in
*"retry gpt-4.1 in "*"-> claude-sonnet"*) ok "chat/paid server_error retries before it falls back" ;;
*) not_ok "chat/paid server_error retries before it falls back" "$line" ;;
esac
line=$(class_line "$tmp/ex.out" "$paid" context_length)
expect_line "$line" "(no route of the workload could do better)" \
    "chat/paid context_length is a dead end no route could fix (1M window is the largest)"
case "$line" in
*"[!]"*) not_ok "chat/paid context_length is not flagged" "$line" ;;
*) ok "chat/paid context_length is not flagged" ;;
esac
line=$(class_line "$tmp/ex.out" "$paid" quota_exhausted)
expect_line "$line" "[!] not designed yet" \
    "chat/paid quota_exhausted is flagged as not designed yet"
line=$(class_line "$tmp/ex.out" "$paid" timeout_ttft)
expect_line "$line" "-> llama-70b-fast" \
    "chat/paid timeout_ttft jumps to the low_latency role"
line=$(class_line "$tmp/ex.out" "$paid" content_blocked)
case "$line" in
*"safe failure 503"*"[!]"*) not_ok "chat/paid content_blocked fails safely, unflagged" "$line" ;;
*"safe failure 503"*) ok "chat/paid content_blocked fails safely, unflagged" ;;
*) not_ok "chat/paid content_blocked fails safely, unflagged" "$line" ;;
esac
line=$(class_line "$tmp/ex.out" "workload chat, tier free" server_error)
expect_line "$line" "skip claude-sonnet (budget_exceeded), -> gpt-4.1-mini" \
    "chat/free server_error skips claude-sonnet over the free budget"
line=$(class_line "$tmp/ex.out" "workload chat, tier enterprise" timeout_ttft)
expect_line "$line" "skip llama-70b-fast (region_restricted)" \
    "chat/enterprise timeout_ttft skips the us-only route"
expect_in "$tmp/ex.out" "[!] no route qualifies for this tier" \
    "report/free is flagged: no route qualifies"
line=$(class_line "$tmp/ex.out" "workload report, tier paid" server_error)
expect_line "$line" "next (*)" "report/paid server_error is named by the wildcard"
expect_in "$tmp/ex.out" "10 flagged" "check $ex counts 10 flagged classes"

# ---- --strict -----------------------------------------------------------

run exs check "$ex" --strict
expect_rc exs 1 "check --strict $ex exits 1 (it has flags)"
expect_in "$tmp/exs.out" "10 flagged" "check --strict still prints the report"

# ---- --json ---------------------------------------------------------------

run exj check "$ex" --json
expect_rc exj 0 "check --json $ex exits 0"
if $have_node; then
    json_js "check --json $ex parses and reports the same decisions" "$tmp/exj.out" '
        const combo = (w, t) => (j.workloads || []).find(x => x.workload === w && x.tier === t);
        want(j.valid === true, "valid is not true");
        want(j.routes === 4, "routes is not 4");
        want(j.policy === "examples/policy.json", "policy is not the path");
        want(Array.isArray(j.workloads) && j.workloads.length === 6, "not 6 workload/tier entries");
        want(j.workloads[0].workload === "chat" && j.workloads[0].tier === "free", "workloads[0] is not chat/free");
        want(j.flagged === 10, "flagged is " + j.flagged + ", the text report says 10");
        const cp = combo("chat", "paid");
        if (!cp) { bad.push("no chat/paid entry"); }
        else {
            const se = cp.classes.server_error;
            want(cp.primary === "gpt-4.1", "chat/paid primary is not gpt-4.1");
            want(typeof cp.primary_cost_usd === "number" && cp.primary_cost_usd > 0, "chat/paid primary_cost_usd");
            want(se.next === "claude-sonnet", "chat/paid server_error.next is " + se.next);
            want(se.named_by === "rule" && se.designed === true && se.dead_end === false, "chat/paid server_error flags");
            want(se.steps.length === 2 && se.steps[0].step === "retry" && se.steps[0].route === "gpt-4.1" &&
                 se.steps[1].step === "fallback" && se.steps[1].to === "claude-sonnet",
                 "chat/paid server_error steps: " + JSON.stringify(se.steps));
            const cl = cp.classes.context_length;
            want(cl.next === null && cl.dead_end === false && cl.inherent === true && cl.designed === true, "chat/paid context_length is not an inherent dead end");
            const q = cp.classes.quota_exhausted;
            want(q.designed === false && q.named_by === "default", "chat/paid quota_exhausted is not undesigned");
            want(Object.keys(cp.classes).length === 21, "chat/paid does not list 21 classes");
        }
        const rf = combo("report", "free");
        want(rf && rf.primary === null && rf.no_route === true, "report/free is not no_route");
        const rp = combo("report", "paid");
        want(rp && rp.classes.server_error.named_by === "wildcard", "report/paid server_error not by the wildcard");
        want(rp && rp.classes.budget_exceeded.rule === "fail", "report/paid budget_exceeded rule");
    '
    run exjs check "$ex" --json --strict
    expect_rc exjs 1 "check --json --strict $ex exits 1"
else
    skip "check --json output"
fi

# ---- a fully designed policy ---------------------------------------------

good=tests/data/policies/valid_designed.json
run good check "$good" --strict
expect_rc good 0 "check --strict $good exits 0"
expect_in "$tmp/good.out" "0 flagged" "check $good flags nothing"
run goodj check "$good" --strict --json
expect_rc goodj 0 "check --strict --json $good exits 0"
expect_re "$tmp/goodj.out" '"flagged":[[:space:]]*0$' "check --json $good reports 0 flagged"

# a designed policy with one tier no route meets: --strict fails in both forms
nr=tests/data/policies/valid_no_route_tier.json
run nr check "$nr" --strict
expect_rc nr 1 "check --strict $nr exits 1 (a tier no route serves)"
expect_in "$tmp/nr.out" "1 flagged" "check $nr counts the tier as flagged"
run nrj check "$nr" --strict --json
expect_rc nrj 1 "check --strict --json $nr exits 1 as the text form does"
expect_re "$tmp/nrj.out" '"flagged":[[:space:]]*1$' "check --json $nr counts the tier as flagged"

# ---- settings: breaker, retry, retry budget, hedge ---------------------------

settings() { # FILE WORKLOAD: the settings block of one workload
    section "$1" "workload $2: breaker, retry and hedge settings"
}
settings "$tmp/ex.out" chat >"$tmp/ex.settings"
expect_in "$tmp/ex.settings" "breaker       policy (all 4 routes): opens at 50% failures of >= 10 requests in 30 s; calls over 15000 ms count as slow, opens at 80% slow; open 30 s, then 2 half-open probes" \
    "check $ex prints the policy's breaker for every route of chat"
expect_in "$tmp/ex.settings" "retry         default: x1, backoff 200 ms, at most 5000 ms" \
    "check $ex says the retry defaults are the loader's"
expect_in "$tmp/ex.settings" "retry budget  policy: retries may add 20% to first attempts, and 5 per s always, over 10 s" \
    "check $ex prints the policy's retry budget"
expect_in "$tmp/ex.settings" "hedge         policy: after the route's p95 TTFT (none until it is known), at most 1 extra attempt" \
    "check $ex prints chat's hedging"
settings "$tmp/ex.out" report >"$tmp/exr.settings"
expect_in "$tmp/exr.settings" "hedge         default: none" "check $ex: report does not hedge"

run good2 check "$good"
settings "$tmp/good2.out" chat >"$tmp/good.settings"
expect_in "$tmp/good.settings" "breaker       default (both routes): opens at 50% failures of >= 10 requests in 30 s; slow calls not counted; open 30 s, then 1 half-open probe" \
    "a policy without a breaker block gets the default breaker, said so"
expect_in "$tmp/good.settings" "retry budget  default: retries may add 20% to first attempts, and 5 per s always, over 10 s" \
    "a policy without retry_budget gets the default budget, said so"

cat >"$tmp/own.json" <<'POL'
{"routes": {
 "a": {"provider": "openai", "model": "a", "price": {"input_per_mtok": 1, "output_per_mtok": 2},
       "breaker": {"open_for_s": 5, "half_open_probes": 3}},
 "b": {"provider": "openai", "model": "b", "price": {"input_per_mtok": 1, "output_per_mtok": 2}}},
 "breaker": {"window_s": 60, "min_requests": 4, "failure_rate": 0.25},
 "retry": {"max": 2, "backoff_ms": 50},
 "retry_budget": {"ratio": 0.1, "min_per_s": 1, "window_s": 30},
 "workloads": {"w": {"ladder": ["a", "b"], "hedge": {"after_ms": 400, "max_extra": 2}}}}
POL
run own check "$tmp/own.json"
settings "$tmp/own.out" w >"$tmp/own.settings"
expect_in "$tmp/own.settings" "breaker       route (a): opens at 25% failures of >= 4 requests in 60 s; slow calls not counted; open 5 s, then 3 half-open probes" \
    "a route's own breaker is laid over the policy's and said to be the route's"
expect_in "$tmp/own.settings" "breaker       policy (b): opens at 25% failures of >= 4 requests in 60 s" \
    "the other route has the policy's breaker"
expect_in "$tmp/own.settings" "retry         policy: x2, backoff 50 ms, at most 5000 ms" \
    "the policy's retry block, the rest default"
expect_in "$tmp/own.settings" "hedge         policy: after 400 ms, at most 2 extra attempts" \
    "a fixed hedge delay"
run ownj check "$tmp/own.json" --json
if $have_node; then
    json_js "check --json has the same settings per workload" "$tmp/ownj.out" '
        const st = (j.settings || [])[0] || {};
        want(st.workload === "w", "settings[0] is not workload w");
        const [a, b] = st.breakers || [];
        want(a && a.route === "a" && a.source === "route" && a.open_for_s === 5 &&
             a.half_open_probes === 3 && a.window_s === 60 && a.min_requests === 4 &&
             a.failure_rate === 0.25, "breaker a: " + JSON.stringify(a));
        want(b && b.route === "b" && b.source === "policy" && b.open_for_s === 30,
             "breaker b: " + JSON.stringify(b));
        want(st.retry && st.retry.source === "policy" && st.retry.max === 2 &&
             st.retry.backoff_ms === 50 && st.retry.max_backoff_ms === 5000, "retry " + JSON.stringify(st.retry));
        const rb = st.retry_budget || {};
        want(rb.source === "policy" && rb.ratio === 0.1 && rb.min_per_s === 1 && rb.window_s === 30,
             "retry_budget " + JSON.stringify(rb));
        want(st.hedge && st.hedge.source === "policy" && st.hedge.max_extra === 2 &&
             st.hedge.after_ms === 400, "hedge " + JSON.stringify(st.hedge));
        want(Array.isArray(st.warnings) && st.warnings.length === 0, "warnings " + JSON.stringify(st.warnings));
        want(j.warnings === 0, "warnings count " + j.warnings);
    '
    json_js "check --json says default where the policy leaves settings out" "$tmp/goodj.out" '
        const st = j.settings[0];
        want(st.breakers.every(b => b.source === "default" && b.window_s === 30 && b.min_requests === 10),
             "breakers " + JSON.stringify(st.breakers));
        want(st.retry.source === "default" && st.retry_budget.source === "default" &&
             st.hedge.source === "default" && st.hedge.max_extra === 0, "sources");
    '
else
    skip "check --json settings"
fi

# ---- a "*" rule over a safer built-in ------------------------------------------

grep -v '"bad_request": "fail"' "$good" | sed 's/"content_blocked": "fail",/"content_blocked": "fail"/' >"$tmp/wild.json"
run wild check "$tmp/wild.json"
expect_rc wild 0 "a \"*\" rule over bad_request: check exits 0 without --strict"
expect_in "$tmp/wild.out" '[warning] "*" sends bad_request to next, where the built-in rule fails it' \
    "the \"*\": \"next\" that sends bad_request on gets a warning line"
expect_in "$tmp/wild.out" '0 flagged, 1 warning ([warning] above)' "the warning is counted"
if grep -q 'sends content_blocked' "$tmp/wild.out"; then
    not_ok "a class the workload names (content_blocked: fail) gets no warning" "$(grep warning "$tmp/wild.out")"
else
    ok "a class the workload names (content_blocked: fail) gets no warning"
fi
line=$(class_line "$tmp/wild.out" "workload chat, tier free" bad_request)
expect_line "$line" '[warning] "*" overrides the built-in fail' "the bad_request line carries the warning"
run wilds check "$tmp/wild.json" --strict
expect_rc wilds 1 "under --strict the warning is an error (exit 1)"
run wildj check "$tmp/wild.json" --json --strict
expect_rc wildj 1 "and with --json --strict too"
if $have_node; then
    json_js "check --json lists the warning and marks the class" "$tmp/wildj.out" '
        want(j.warnings === 1 && j.flagged === 0, "warnings " + j.warnings + " flagged " + j.flagged);
        const w = j.settings[0].warnings;
        want(w.length === 1 && w[0].class === "bad_request" && w[0].rule === "next" &&
             w[0].builtin === "fail" && /built-in rule fails it/.test(w[0].message), JSON.stringify(w));
        const c = j.workloads[0].classes;
        want(c.bad_request.overrides_builtin === true && c.content_blocked.overrides_builtin === false &&
             c.server_error.overrides_builtin === false, "overrides_builtin");
    '
else
    skip "check --json warnings"
fi
expect_in "$tmp/ex.out" '10 flagged ([!] above), 1 warning ([warning] above)' \
    "the example's report workload leaves bad_request to its \"*\": one warning"

# ---- broken policies --------------------------------------------------------

n=0
for f in tests/data/policies/bad_*.json; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    want_of "$f" || continue
    run bad check "$f"
    expect_rejected bad "check $f" || continue
    case "$err" in
    "ladder check: $f: $want"*) ok "check $f exits 2: $want" ;;
    *) not_ok "check $f names the file and \"$want\"" "stderr: $err" ;;
    esac
done
if [ "$n" -ge 20 ]; then
    ok "$n broken policies checked"
else
    not_ok "at least 20 broken policies in tests/data/policies" "found $n"
fi

# ---- continuation of cut streams ---------------------------------------------

cat >"$tmp/cont.json" <<'EOF'
{"routes": {
 "P": {"provider": "openai", "model": "p", "capabilities": ["stream"],
       "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
 "Q": {"provider": "anthropic", "model": "q", "capabilities": ["stream", "prefill"],
       "price": {"input_per_mtok": 1, "output_per_mtok": 2}}},
 "workloads": {
  "chat": {"ladder": ["P", "Q"], "continue_streams": 1, "on": {"*": "next"}},
  "solo": {"ladder": ["P"], "continue_streams": 2, "on": {"*": "fail"}}},
 "tiers": {"paid": {}}}
EOF
run cont check "$tmp/cont.json"
expect_in "$tmp/cont.out" "continued (at most 1 times) on routes taking a prefill: Q" \
    "check names the routes a cut stream may continue on"
expect_in "$tmp/cont.out" "[!] continue_streams is 2, but no route of the workload takes a prefill" \
    "check flags continue_streams without a prefill route"
run contj check --json "$tmp/cont.json"
if node -e '
const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const c = d.workloads.map((w) => JSON.stringify(w.continue_streams));
process.exit(c[0] === JSON.stringify({max: 1, routes: ["Q"]}) &&
             c[1] === JSON.stringify({max: 2, routes: []}) ? 0 : 1);' "$tmp/contj.out"; then
    ok "check --json lists continue_streams with its routes"
else
    not_ok "check --json lists continue_streams with its routes" "$(head -c 600 "$tmp/contj.out")"
fi

# ---- usage errors -------------------------------------------------------------

missing="$tmp/no-such-policy.json"
run miss check "$missing"
expect_rc miss 2 "check of a missing file exits 2"
expect_in "$tmp/miss.err" "ladder check: $missing: cannot open" \
    "check of a missing file names the file"

run noargs check
expect_rc noargs 2 "check without arguments exits 2"
expect_in "$tmp/noargs.err" "usage: ladder check POLICY" \
    "check without arguments prints the usage on stderr"

run two check "$ex" "$good"
expect_rc two 2 "check of two policies exits 2"
run badopt check "$ex" --strcit
expect_rc badopt 2 "check with an unknown option exits 2"
expect_in "$tmp/badopt.err" '"--strcit"' "check names the unknown option"
run badtok check "$ex" --input-tokens many
expect_rc badtok 2 "check --input-tokens with a non-number exits 2"
run help check --help
expect_rc help 0 "check --help exits 0"
expect_in "$tmp/help.out" "usage: ladder check POLICY" "check --help prints the usage on stdout"
run tokens check "$good" --input-tokens 2000 --output-tokens 500
expect_rc tokens 0 "check with token sizes exits 0"
run tokens2 check "$good" --input-tokens=2000 --output-tokens=500
expect_rc tokens2 0 "check takes --opt=value as well"
if cmp -s "$tmp/tokens.out" "$tmp/tokens2.out"; then
    ok "--opt=value and --opt value give the same report"
else
    not_ok "--opt=value and --opt value give the same report"
fi
run badtok2 check "$good" --input-tokens=-3
expect_rc badtok2 2 "a bad value exits 2"
expect_in "$tmp/badtok2.err" 'ladder check: --input-tokens needs a whole number from 0 to 100000000, got "-3"' \
    "a bad value names the option and the value"
run novalue check "$good" --input-tokens
expect_rc novalue 2 "an option without its value exits 2"
expect_in "$tmp/novalue.err" 'ladder check: --input-tokens needs a value (N)' "and says so"
expect_in "$tmp/noargs.err" 'ladder check: POLICY is required' \
    "a missing policy gets its own line before the usage"
run helpc help check
expect_rc helpc 0 "ladder help check exits 0"
if cmp -s "$tmp/help.out" "$tmp/helpc.out"; then
    ok "ladder help check prints what check --help prints"
else
    not_ok "ladder help check prints what check --help prints"
fi
expect_in "$tmp/help.out" "breaker, retry, retry budget and hedge" "check --help mentions the settings"

# --json on a broken policy: the message on stderr, and a verdict object on
# stdout for scripts
run badjson check --json tests/data/policies/bad_fraction_status.json
expect_rc badjson 2 "check --json on a broken policy exits 2"
expect_in "$tmp/badjson.err" "must be a whole number (got 503.9)" "and says why on stderr"
json_js "and prints {valid: false, error} on stdout" "$tmp/badjson.out" '
    want(j.valid === false, "valid: " + j.valid);
    want(typeof j.error === "string" && j.error.includes("safe_failure.status"), "error: " + j.error);'
finish
