#!/bin/sh
# models.sh - what a request's "model" selects, weighted rungs, n > 1 and
# retry headers, through `ladder serve` and the official openai SDK
# (tests/integration/node/models_client.mjs), checked against what the
# fake provider saw; `ladder check` on model names; `ladder sim` on a
# weighted rung.
#
# The policy: chat (the default) is one rung of two equal routes w1, w2;
# report pins its routes (pinned_fallback false) and holds rd, which is
# down; choices is an Anthropic route (no "n") then an OpenAI route with
# "n"; nochoice the Anthropic route alone; dead two routes that are down
# (breakers that never open: every call walks the whole ladder); limited a
# route answering 429 with Retry-After: 3. Aliases: gpt-4o -> chat, fast ->
# report pinned on r2, rd-then-ladder -> report pinned on rd with fallback.
#
# LADDER is the binary, TOOLS the built helper programs (fake_provider).
# Needs node and npm. Everything on 127.0.0.1; readiness is polled.
. "$(dirname "$0")/lib/common.sh"
require_ladder
NODE_DIR=$root/tests/integration/node
require_sdk
fake_pid=
ladder_pid=
cleanup_hook() {
    stop "$ladder_pid"
    stop "$fake_pid"
}

# ---- ladder check: names, and what it refuses ---------------------------------

start_fake --log "$tmp/fake.log" --tokens 5 --max-lifetime 240
U=$fake_url

# route ID PROVIDER MODEL [EXTRA]
route() {
    printf '    "%s": {"provider": "%s", "model": "%s", "base_url": "%s", "api_key_env": "LADDER_TEST_KEY", "price": {"input_per_mtok": 1, "output_per_mtok": 4}%s},\n' \
        "$1" "$2" "$3" "$U" "${4:-}"
}
{
    echo '{"version": 1, "routes": {'
    route w1 openai w1/healthy
    route w2 openai w2/healthy
    route r1 openai r1/healthy
    route r2 openai r2/healthy
    route rd openai rd/down
    route an anthropic an/healthy
    route nn openai nn/healthy ', "capabilities": ["stream", "n"]'
    route d1 openai d1/down
    route d2 openai d2/down
    printf '    "rl": {"provider": "openai", "model": "rl/ratelimit-ra-3", "base_url": "%s", "api_key_env": "LADDER_TEST_KEY", "price": {"input_per_mtok": 1, "output_per_mtok": 4}}\n' "$U"
    cat <<'EOF'
  },
  "workloads": {
    "chat": {"ladder": [{"group": {"w1": 1, "w2": 1}}], "on": {"*": "next"}},
    "report": {"ladder": ["r1", "r2", "rd"], "on": {"*": "next"},
               "pin_routes": true, "pinned_fallback": false},
    "choices": {"ladder": ["an", "nn"], "on": {"*": "next"}},
    "nochoice": {"ladder": ["an"], "on": {"*": "next"}},
    "dead": {"ladder": ["d1", "d2"], "on": {"*": "next"},
             "safe_failure": {"status": 503, "message": "every route is down"}},
    "limited": {"ladder": ["rl"], "on": {"*": "next"}}
  },
  "breaker": {"window_s": 60, "min_requests": 1000, "failure_rate": 0.5, "open_for_s": 30},
  "defaults": {"workload": "chat"},
  "models": {"aliases": {
    "gpt-4o": "chat",
    "fast": {"workload": "report", "route": "r2"},
    "rd-then-ladder": {"workload": "report", "route": "rd", "fallback": true}}}
}
EOF
} >"$tmp/policy.json"

run check check "$tmp/policy.json"
expect_rc check 0 "the test policy passes ladder check"
expect_in "$tmp/check.out" 'model names (a request'"'"'s "model"; none or "auto": workload chat; another name: 404 model_not_found)' \
    "check heads the model names with the default and the unknown-name answer"
expect_re "$tmp/check.out" '^  fast  *alias  *-> workload report, route r2 first, alone$' \
    "check: an alias pinning a route (the workload's pinned_fallback: alone)"
expect_re "$tmp/check.out" '^  rd-then-ladder  *alias  *-> workload report, route rd first, then its ladder$' \
    "check: an alias pinning a route with its ladder after it"
expect_re "$tmp/check.out" '^  rd  *route  *-> workload report, route rd first, alone$' \
    "check: a route of a workload that pins its routes is a name"
expect_re "$tmp/check.out" '^  gpt-4o  *alias  *-> workload chat$' "check: an alias of a workload"
expect_re "$tmp/check.out" '^  rung 1  *weighted: w1 50%, w2 50% ' "check shows the rung's split"
if grep -q '^  w1 ' "$tmp/check.out"; then
    not_ok "check: routes of a workload that does not pin are no names"
else
    ok "check: routes of a workload that does not pin are no names"
fi

sed 's/"gpt-4o": "chat"/"gpt-4o": "chatt"/' "$tmp/policy.json" >"$tmp/bad_alias.json"
run bad_alias check "$tmp/bad_alias.json"
expect_rc bad_alias 2 "check refuses an alias that names nothing"
expect_in "$tmp/bad_alias.err" 'models.aliases.gpt-4o: names nothing: "chatt" is not a workload' \
    "...naming the alias and what is missing"
sed 's/"gpt-4o": "chat"/"report": "chat"/' "$tmp/policy.json" >"$tmp/collide.json"
run collide check "$tmp/collide.json"
expect_rc collide 2 "check refuses two things of one name"
expect_in "$tmp/collide.err" 'models.aliases.report: model name "report" is an alias and also a workload' \
    "...naming both"

# ---- ladder sim: the split of a weighted rung -----------------------------------

cat >"$tmp/split_policy.json" <<'EOF'
{"version": 1,
 "routes": {
  "big": {"provider": "openai", "model": "big", "price": {"input_per_mtok": 1, "output_per_mtok": 4}},
  "small": {"provider": "openai", "model": "small", "price": {"input_per_mtok": 1, "output_per_mtok": 4}},
  "backup": {"provider": "openai", "model": "backup", "price": {"input_per_mtok": 1, "output_per_mtok": 4}}},
 "workloads": {"chat": {"ladder": [{"group": {"big": 70, "small": 30}}, "backup"]}}}
EOF
cat >"$tmp/split_scenario.json" <<'EOF'
{"requests": 4000, "seed": 3,
 "traffic": {"arrivals": {"process": "poisson", "rate_per_s": 20},
             "mix": [{"workload": "chat"}]},
 "providers": {
  "big": {"ttft_ms": 50, "tokens_per_s": 500},
  "small": {"ttft_ms": 50, "tokens_per_s": 500},
  "backup": {"ttft_ms": 50, "tokens_per_s": 500}}}
EOF
run sim sim "$tmp/split_scenario.json" --policy "$tmp/split_policy.json" --json --no-progress
expect_rc sim 0 "ladder sim runs a weighted rung"
# 70/30 within 2.5 points of 4000 requests (the standard error is 0.72),
# and nothing reaches the next rung
json_js "sim: the rung serves 70/30 within 2.5 points, nothing falls to backup" \
    "$tmp/sim.out" '
    const r = j.routes, n = j.requests;
    want(n === 4000 && j.succeeded === 4000, "4000 requests all served: " + JSON.stringify([n, j.succeeded]));
    want(near(r.big.attempts / n, 0.7, 0.025), "big " + r.big.attempts);
    want(near(r.small.attempts / n, 0.3, 0.025), "small " + r.small.attempts);
    want(!r.backup || r.backup.attempts === 0, "backup " + JSON.stringify(r.backup));'

# ---- ladder serve ----------------------------------------------------------------

LADDER_TEST_KEY=sk-test "$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 \
    --print-port --seed 5 >"$tmp/ladder.out" 2>"$tmp/ladder.err" &
ladder_pid=$!
if ! addr=$(wait_line "$tmp/ladder.out" \
    's/^listening on \([0-9.]*:[0-9]*\) admin [0-9.]*:[0-9]*$/\1/p' "$ladder_pid"); then
    not_ok "ladder serve prints its port" "$(cat "$tmp/ladder.err")"
    exit 1
fi

LADDER_URL=http://$addr/v1 FAKE_LOG=$tmp/fake.log \
    node "$NODE_DIR/models_client.mjs" >"$tmp/node.out" 2>&1
node_rc=$?
cat "$tmp/node.out"
count_node "$tmp/node.out"
[ $node_rc -eq 0 ] || not_ok "the SDK client exits 0 (it exited $node_rc)"

stop "$ladder_pid"
ladder_pid=
[ "$stop_status" = 0 ] && ok "ladder serve exits 0 on SIGTERM" ||
    not_ok "ladder serve exits 0 on SIGTERM (got $stop_status)" "$(tail -n 5 "$tmp/ladder.err")"
finish
