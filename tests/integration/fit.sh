#!/bin/sh
# fit.sh - `ladder fit`: provider models fitted from the LLMPerf leaderboard
# requests (traces/llmperf, else ../shared; skipped if neither), the route
# map, --out, the fitted block run through `ladder sim`, and the errors:
# missing column, empty file, bad rows, groups too small, bad options.
#
# LADDER is the binary (default ./bin/ladder from the repository root).
# Prints one "ok - ..." / "not ok - ..." line per check and exits 1 if any
# failed.
. "$(dirname "$0")/lib/common.sh"
require_ladder

csv=traces/llmperf/llmperf_requests.csv
[ -r "$csv" ] || csv=../shared/data/llmperf_leaderboard/llmperf_requests.csv
if [ ! -r "$csv" ]; then
    skip "ladder fit" "no llmperf_requests.csv in traces/llmperf or ../shared"
    finish
fi

# ---- the LLMPerf file as it is ---------------------------------------------

run full fit "$csv"
expect_rc full 0 "fit $csv exits 0"
expect_empty "$tmp/full.err" "fit $csv warns about nothing (no bad rows, every group fitted)"
json_js "fit output parses and has a plausible model per provider" "$tmp/full.out" '
    const p = j.providers || {};
    const keys = Object.keys(p);
    want(Object.keys(j).length === 1, "top level is not just providers: " + Object.keys(j));
    want(keys.length === 19, "19 groups expected, got " + keys.length);
    want(JSON.stringify(keys) === JSON.stringify([...keys].sort()), "groups not sorted by route id");
    for (const g of ["groq-70b", "lepton-13b", "lepton-7b", "bedrock-13b", "anyscale-7b", "replicate-70b"])
        want(g in p, "no group " + g);
    for (const [k, v] of Object.entries(p)) {
        const t = v.ttft_ms || {};
        want(t.dist === "lognormal" && t.sigma > 0, k + ": ttft_ms is not a lognormal: " + JSON.stringify(t));
        want(t.median >= 100 && t.median <= 5000, k + ": TTFT median " + t.median + " ms out of 100..5000");
        const s = v.tokens_per_s || {};
        want(s.dist === "normal" ? s.min === 1 && s.sd >= 0 : s.dist === "lognormal", k + ": tokens_per_s " + JSON.stringify(s));
        want(typeof v.errors === "object", k + ": no errors object");
        const f = v._fit || {};
        want(f.group === k, k + ": _fit.group is " + f.group);
        want(f.ttft_ms && f.ttft_ms.n === f.successes && typeof f.ttft_ms.ks_d === "number", k + ": _fit.ttft_ms lacks n or ks_d");
        want(f.ttft_ms && f.ttft_ms.p50 && typeof f.ttft_ms.p50.observed === "number" &&
             typeof f.ttft_ms.p99.fitted === "number", k + ": _fit.ttft_ms lacks observed/fitted p50/p99");
        want(f.tokens_per_s && typeof f.tokens_per_s.ks_d_normal === "number" &&
             typeof f.tokens_per_s.ks_d_lognormal === "number", k + ": _fit.tokens_per_s lacks both KS Ds");
        want(f.rows === f.successes + f.errors, k + ": rows != successes + errors");
    }
    const lep = p["lepton-13b"] || {errors: {}};
    want(near(lep.errors.rate_limited, 130 / 150, 0.001), "lepton-13b rate_limited " + lep.errors.rate_limited + ", expected ~0.867");
    want(Object.keys(lep.errors).length === 1, "lepton-13b has other error classes: " + JSON.stringify(lep.errors));
    const bed = p["bedrock-13b"] || {errors: {}};
    want(near(bed.errors.stream_cut, 97 / 150, 0.001), "bedrock-13b stream_cut " + bed.errors.stream_cut);
    const per = p["perplexity-70b"] || {errors: {}};
    want(near(per.errors.rate_limited, 2 / 150, 0.001), "perplexity-70b rate_limited " + per.errors.rate_limited);
    const tog = p["together-13b"] || {errors: {}};
    want(near(tog.errors.server_error, 1 / 150, 0.001), "together-13b server_error " + tog.errors.server_error);
    const groq = p["groq-70b"] || {errors: {}};
    want(Object.keys(groq.errors).length === 0, "groq-70b has errors");
    const rows = Object.values(p).reduce((a, v) => a + v._fit.rows, 0);
    want(rows === 2845, "rows add up to " + rows + ", not 2845");
'

# --out writes the same JSON
run outf fit "$csv" --out "$tmp/fitted.json"
expect_rc outf 0 "fit --out exits 0"
if cmp -s "$tmp/fitted.json" "$tmp/full.out"; then
    ok "fit --out writes what stdout shows"
else
    not_ok "fit --out writes what stdout shows"
fi
expect_empty "$tmp/outf.out" "fit --out prints nothing on stdout"

# ---- route map ----------------------------------------------------------------

cat >"$tmp/map.json" <<'EOF'
{"groq-70b": "llama-70b-fast", "lepton-13b": "flaky", "nobody-1b": "ghost"}
EOF
run map fit "$csv" --route-map "$tmp/map.json"
expect_rc map 0 "fit --route-map exits 0"
expect_in "$tmp/map.err" '"nobody-1b" matches no group' "fit --route-map warns about a key matching no group"
json_js "fit --route-map renames the mapped groups only" "$tmp/map.out" '
    const p = j.providers || {};
    want("llama-70b-fast" in p && !("groq-70b" in p), "groq-70b not renamed to llama-70b-fast");
    want("flaky" in p && !("lepton-13b" in p), "lepton-13b not renamed to flaky");
    want(!("ghost" in p), "an unmatched map entry made a provider");
    want("lepton-7b" in p && Object.keys(p).length === 19, "other groups changed");
    want(p["llama-70b-fast"] && p["llama-70b-fast"]._fit.group === "groq-70b", "_fit.group does not name the data");
    const keys = Object.keys(p);
    want(JSON.stringify(keys) === JSON.stringify([...keys].sort()), "not sorted by the new route ids");
'
printf '{"groq-70b": "x", "lepton-13b": "x"}\n' >"$tmp/dup.json"
run dup fit "$csv" --route-map "$tmp/dup.json"
expect_rc dup 2 "fit with two groups mapped to one route exits 2"
expect_in "$tmp/dup.err" 'both have route id "x"' "fit names the shared route id"
printf '["not", "an", "object"]\n' >"$tmp/arr.json"
run arr fit "$csv" --route-map "$tmp/arr.json"
expect_rc arr 2 "fit with a route map that is not an object exits 2"

# ---- the fitted block runs in the simulator -------------------------------------

if $have_node; then
    cat >"$tmp/map2.json" <<'EOF'
{"lepton-13b": "flaky", "groq-70b": "fast"}
EOF
    "$LADDER" fit "$csv" --route-map "$tmp/map2.json" --out "$tmp/fit2.json" 2>"$tmp/fit2.err"
    node -e '
        const fs = require("fs");
        const p = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).providers;
        const sc = {name: "fitted-llmperf", duration_s: 120, seed: 3,
            traffic: {arrivals: {process: "poisson", rate_per_s: 2},
                      mix: [{workload: "chat", tier: "paid"}]},
            providers: {flaky: p.flaky, fast: p.fast}};
        fs.writeFileSync(process.argv[2], JSON.stringify(sc, null, 2));
    ' "$tmp/fit2.json" "$tmp/scenario.json"
    cat >"$tmp/policy.json" <<'EOF'
{
  "version": 1,
  "routes": {
    "flaky": {"provider": "openai", "model": "llama-2-13b", "base_url": "https://api.example.com/v1",
              "api_key_env": "LADDER_TEST_K1", "price": {"input_per_mtok": 0.2, "output_per_mtok": 0.2},
              "quality": 0.7, "regions": ["us"], "context_window": 4096, "capabilities": ["stream"]},
    "fast":  {"provider": "openai", "model": "llama-2-70b", "base_url": "https://api.example.org/v1",
              "api_key_env": "LADDER_TEST_K2", "price": {"input_per_mtok": 0.7, "output_per_mtok": 0.8},
              "quality": 0.8, "regions": ["us"], "context_window": 4096, "capabilities": ["stream"]}
  },
  "workloads": {
    "chat": {
      "constraints": {"ttft_ms": 10000, "total_ms": 60000},
      "ladder": ["flaky", "fast"],
      "on": {"*": "next"},
      "safe_failure": {"status": 503, "message": "Busy."}
    }
  },
  "tiers": {"paid": {}}
}
EOF
    run sim sim "$tmp/scenario.json" --policy "$tmp/policy.json" --json --no-progress
    expect_rc sim 0 "ladder sim runs a scenario built from the fitted block"
    json_js "the simulated flaky route rate-limits and the ladder falls back" "$tmp/sim.out" '
        want(j.requests > 100, "only " + j.requests + " requests");
        want(j.success_rate > 0.95, "success rate " + j.success_rate);
        const fb = (j.fallbacks || {}).by_class || {};
        want(fb.rate_limited > 0.6 * j.requests, "rate_limited fallbacks " + fb.rate_limited + " of " + j.requests);
    '
else
    skip "fitted block through ladder sim"
fi

# ---- errors ---------------------------------------------------------------------

run nocol fit "$csv" --ttft-col time_to_first
expect_rc nocol 2 "fit with a missing column exits 2"
expect_in "$tmp/nocol.err" 'no column "time_to_first"' "fit names the missing column"
expect_in "$tmp/nocol.err" "the header has: provider, model_size, req_idx, ttft_s" \
    "fit lists the header"
expect_empty "$tmp/nocol.out" "fit with a missing column prints nothing on stdout"

run noby fit "$csv" --by provider,region
expect_rc noby 2 "fit --by with a missing column exits 2"
expect_in "$tmp/noby.err" 'no column "region" (a group column)' "fit names the missing group column"

: >"$tmp/empty.csv"
run empty fit "$tmp/empty.csv"
expect_rc empty 2 "fit of an empty file exits 2"
expect_in "$tmp/empty.err" "empty file" "fit of an empty file says so"

head -n 1 "$csv" >"$tmp/header.csv"
run hdr fit "$tmp/header.csv"
expect_rc hdr 2 "fit of a header without rows exits 2"
expect_in "$tmp/hdr.err" "no data rows" "fit of a header without rows says so"

run nofile fit "$tmp/no-such.csv"
expect_rc nofile 2 "fit of a missing file exits 2"
expect_in "$tmp/nofile.err" "$tmp/no-such.csv" "fit of a missing file names it"

# bad rows are skipped and counted; CRLF line ends are fine (the file has
# them; the rows added here get them too)
cr=$(printf '\r')
{
    head -n 31 "$csv"
    echo "groq,70b,999,abc,1.0,550,150,,,1,2,3,4"
    echo "groq,70b,1000,0.2,1.0,550,150,,,1,,3,4"
    echo "groq,70b,1001"
} | sed "s/$cr*\$/$cr/" >"$tmp/bad.csv"
run bad fit "$tmp/bad.csv"
expect_rc bad 0 "fit with bad rows exits 0"
expect_in "$tmp/bad.err" 'skipped 3 rows (line 32: ttft_s is not a number ("abc"); line 33: derived_decode_tok_per_s is empty; line 34: has 3 fields, the header has 13)' \
    "fit counts the bad rows and names the first lines"

# small groups are skipped with a warning naming them
run small fit "$csv" --min-samples 21
expect_rc small 0 "fit --min-samples 21 exits 0"
expect_in "$tmp/small.err" 'group "lepton-13b" skipped: 20 successful requests, fewer than 21' \
    "fit names a group with too few successes"
json_js "fit --min-samples 21 leaves the lepton groups out" "$tmp/small.out" '
    const p = j.providers || {};
    want(!("lepton-13b" in p) && !("lepton-7b" in p), "lepton groups still there");
    want(Object.keys(p).length === 16, "16 groups expected, got " + Object.keys(p).length);
'
run none fit "$csv" --min-samples 1000
expect_rc none 2 "fit with no group big enough exits 2"
expect_in "$tmp/none.err" "no group has 1000 successful requests" "fit says no group qualifies"

run byp fit "$csv" --by provider
expect_rc byp 0 "fit --by provider exits 0"
json_js "fit --by provider makes one group per provider" "$tmp/byp.out" '
    const keys = Object.keys(j.providers || {});
    want(JSON.stringify(keys) === JSON.stringify(["anyscale", "bedrock", "fireworks", "groq",
         "lepton", "perplexity", "replicate", "together"]), "groups: " + keys);
'

# binary garbage is an error, not a crash
printf 'provider,model_size\0\001\002,"\n' >"$tmp/garbage.csv"
run garbage fit "$tmp/garbage.csv"
expect_rc garbage 2 "fit of binary garbage exits 2"

# ---- usage -----------------------------------------------------------------------

run noargs fit
expect_rc noargs 2 "fit without arguments exits 2"
expect_in "$tmp/noargs.err" "usage: ladder fit CSV" "fit without arguments prints the usage"
run help fit --help
expect_rc help 0 "fit --help exits 0"
expect_in "$tmp/help.out" "usage: ladder fit CSV" "fit --help prints the usage on stdout"
run badopt fit "$csv" --bogus
expect_rc badopt 2 "fit with an unknown option exits 2"
expect_in "$tmp/badopt.err" '"--bogus"' "fit names the unknown option"
run badunit fit "$csv" --time-unit h
expect_rc badunit 2 "fit --time-unit h exits 2"
run badmin fit "$csv" --min-samples two
expect_rc badmin 2 "fit --min-samples two exits 2"
run badby fit "$csv" --by provider,,model_size
expect_rc badby 2 "fit --by with an empty name exits 2"
run ms fit "$csv" --time-unit ms
expect_rc ms 0 "fit --time-unit ms exits 0"
json_js "fit --time-unit ms reads the seconds as milliseconds" "$tmp/ms.out" '
    const g = (j.providers || {})["groq-70b"] || {ttft_ms: {}};
    want(g.ttft_ms.median > 0.1 && g.ttft_ms.median < 5, "groq-70b TTFT median " + g.ttft_ms.median);
'

finish
