#!/bin/sh
# library.sh - any team's ladder against the whole scenario library: the
# README's example policy and a policy written without looking at the
# library (tests/data/sim/team-ladder.json: its own route ids, two
# workloads of its own, an Anthropic route) run through every scenario of
# scenarios/ with `ladder sim --json`: each run binds every route it uses
# to a provider model and says how, maps or notes the traffic it has no
# workload or tier for, and finishes every request. Then `ladder compare`
# of that policy against the library's tuned ladder over the directory
# gives a table per scenario and the overall one; and the same scenario
# copied elsewhere reports a missing providers_file by its resolved path.
#
# LADDER is the binary. Prints one "ok - ..." / "not ok - ..." line per
# check and exits 1 if any failed.
. "$(dirname "$0")/lib/common.sh"
require_ladder

mine=tests/data/sim/team-ladder.json
n=0
for s in scenarios/*.json; do
    n=$((n + 1))
    name=$(basename "$s" .json)
    for pol in examples/policy.json "$mine"; do
        tag=$name-$(basename "$pol" .json)
        run "$tag" sim "$s" --policy "$pol" --json --no-progress
        expect_rc "$tag" 0 "sim $name --policy $pol exits 0"
        json_js "$name with $pol: every request ends, every used route is bound" \
            "$tmp/$tag.out" '
            want(j.requests > 0, "no requests");
            want(j.succeeded + j.failed + j.abandoned === j.requests,
                 "outcomes do not add up to requests");
            want(j.success_rate > 0 && j.success_rate <= 1, "success rate " + j.success_rate);
            const b = j.binding || {};
            want(b.routes && Object.keys(b.routes).length > 0, "no binding.routes");
            for (const [r, v] of Object.entries(b.routes || {}))
                want(v.provider === null || typeof v.by === "string",
                     r + ": no reason for its binding");
            for (const [r, v] of Object.entries(j.routes || {}))
                if (v.attempts > 0)
                    want(b.routes[r] && b.routes[r].provider, r +
                         " was attempted but is bound to nothing");'
    done
done
expect_eq "$n" 12 "the library has twelve scenarios"

# the tenants' scenario: per-tenant counts, the limits bind
tag=12-noisy-tenant-rate-limit-storm-policy
json_js "the noisy-tenant storm counts each tenant and its limits bind" "$tmp/$tag.out" '
    const t = j.tenants || {};
    want(Object.keys(t).join() === "batch-bot,startup,enterprise-co", "tenants " + Object.keys(t));
    let n = 0;
    for (const v of Object.values(t)) n += v.requests;
    want(n === j.requests, "tenants add up to " + n + " of " + j.requests);
    want(t["batch-bot"].key_limited_by.rpm > 0, "no rpm refusal for the bot");
    want(t.startup.spend_usd <= 40 + 0.01, "startup spent " + t.startup.spend_usd);
    want(t.startup.key_limited_by.usd_per_day > 0, "the startup budget never bound");
    want(t["enterprise-co"].key_limited === 0, "the unlimited tenant was refused");'
expect_re "$tmp/$tag.out" '"tenants"' "sim --json has the tenants"

# the team's routes bound by (upstream, model), its traffic noted
tag=01-primary-outage-multi-hour-team-ladder
json_js "the team's routes bind by upstream and model" "$tmp/$tag.out" '
    const r = j.binding.routes;
    want(r["main-oai"].provider === "gpt-4.1", "main-oai: " + JSON.stringify(r["main-oai"]));
    want(r["backup-claude"].provider === "claude-sonnet", "backup-claude");
    want(r["cheap-mini"].provider === "gpt-4.1-mini", "cheap-mini");
    want(r["main-oai"].by === "same upstream and model", r["main-oai"].by);
    want(j.binding.workloads.chat === "assistant", "chat -> " + j.binding.workloads.chat);'
expect_in "$tmp/$tag.err" 'the policy has no workload "chat"' \
    "sim notes the workload it sent to the default"
run mapped sim scenarios/02-rate-limit-storm.json --policy "$mine" --json \
    --no-progress --map-workload report=summarize --map-tier free=standard \
    --map-tier paid=premium --map-tier enterprise=premium
expect_rc mapped 0 "sim with --map-workload and --map-tier exits 0"
json_js "the maps are applied" "$tmp/mapped.out" '
    want(j.binding.workloads.report === "summarize", "report -> " + j.binding.workloads.report);
    want(j.binding.tiers.paid === "premium", "paid -> " + j.binding.tiers.paid);'
if grep -q 'no workload "report"' "$tmp/mapped.err"; then
    not_ok "a mapped workload gets no note" "$(cat "$tmp/mapped.err")"
else
    ok "a mapped workload gets no note"
fi
run badbind sim scenarios/02-rate-limit-storm.json --policy "$mine" \
    --bind main-oai=gpt-9
expect_rc badbind 2 "--bind to a model the scenario lacks exits 2"
expect_in "$tmp/badbind.err" 'no provider model "gpt-9"' \
    "the message names the missing provider model"

# the whole library in one compare
run cmp compare scenarios/ --policy "mine=$mine" \
    --policy tuned=scenarios/policies/tuned.json --seeds 2 --no-progress
expect_rc cmp 0 "compare scenarios/ --policy mine --policy tuned exits 0"
tables=$(grep -c ' seeds per policy; baseline' "$tmp/cmp.out")
expect_eq "$tables" 13 "compare prints a table per scenario and the overall one"
expect_re "$tmp/cmp.out" '^startup$' "compare shows the tenants of the noisy-tenant storm"
expect_re "$tmp/cmp.out" '^  key_limit %' "...with the share their limits refused"

# a copied scenario: paths resolve against its own directory
mkdir -p "$tmp/copy"
cp scenarios/02-rate-limit-storm.json "$tmp/copy/storm.json"
run copied sim "$tmp/copy/storm.json" --policy "$mine"
expect_rc copied 2 "a copied scenario without its providers_file exits 2"
expect_in "$tmp/copied.err" "\"providers/llmperf.json\" is read relative to the scenario's directory, as \"$tmp/copy/providers/llmperf.json\"" \
    "the message says where the providers_file was looked for"
finish
