#!/bin/sh
# reconcile.sh - the router's books balance: a bounded, mixed, faulty
# workload through `ladder serve`, then every record of it reconciled
# exactly (tests/integration/node/reconcile_check.mjs).
#
# RECONCILE_N requests (default 3000), 48 at a time, from a client with no
# retries (tests/integration/node/reconcile_client.mjs), streaming and not,
# over workloads that meet every fault of the fake provider: 429 with and
# without Retry-After (waited for, then the next rung), 500 once, 503,
# 503 for a while, a reset before any header (on connections curl reuses:
# the case where curl would re-send by itself), no answer (TTFT timeout),
# a slow first token, a stream cut, a stall past a small stall_ms, a
# malformed chunk, no [DONE], 400 context length and content policy, 401,
# 529/503 overloaded, a hedge whose loser is cancelled, and requests the
# client aborts itself. Workloads without a healthy rung end in failures.
#
# Then: the client's outcomes, the trace (--trace), the events (--events),
# /metrics (scraped with nothing in flight) and the fake's received-request
# log must agree per outcome, per workload and per request; attempts in
# the trace = attempt events = metrics; requests the fake received =
# ladder_upstream_requests_total = the events' wire_requests, per route,
# and none received twice. A disagreement prints the table and each
# MISMATCH.
#
# LADDER is the binary, TOOLS the built helper programs. Needs node
# (tests/integration/node). Everything on 127.0.0.1; waits are polls.
. "$(dirname "$0")/lib/common.sh"
require_ladder
if ! $have_node; then
    not_ok "node is installed (the reconciling client runs on node)"
    finish
fi
NODE_DIR=$root/tests/integration/node
N=${RECONCILE_N:-3000}

fake_pid=
ladder_pid=
cleanup_hook() {
    stop "$ladder_pid"
    stop "$fake_pid"
}

start_fake --log "$tmp/fake.log" --tokens 5 --expect-key sk-right \
    --max-lifetime 240
U=$fake_url

# route ID BEHAVIOUR [EXTRA]: an OpenAI-compatible route on the fake; its
# model is ID/BEHAVIOUR, so the fake's log names the route
route() {
    printf '    "%s": {"provider": "openai", "model": "%s/%s", "base_url": "%s", "api_key_env": "RECONCILE_KEY", "price": {"input_per_mtok": 1, "output_per_mtok": 4}, "capabilities": ["stream"]%s},\n' \
        "$1" "$1" "$2" "$U" "${3:-}"
}
# workload NAME "LADDER" [RULES] [CONSTRAINTS] [EXTRA]
workload() {
    printf '    "%s": {"ladder": [%s], "on": {%s}, "constraints": {%s}, "safe_failure": {"status": 503, "message": "busy"}%s},\n' \
        "$1" "$2" "${3:-"\"*\": \"next\""}" \
        "${4:-"\"ttft_ms\": 1500, \"total_ms\": 6000, \"stall_ms\": 300"}" "${5:-}"
}
{
    echo '{"version": 1, "routes": {'
    route ok healthy
    route ok2 healthy
    route rl ratelimit-ra-1
    route rl0 ratelimit
    route flaky flaky-once
    route down down
    route downfor down-for-1500
    route reset reset
    route reset2 reset
    route silent silent
    route slow slow-ttft-2500
    route cut cut-2
    route stall stall-2-1000
    route mal malformed-2
    route nodone nodone
    route ctx context ', "context_window": 8000'
    route cnt content
    printf '    "auth": {"provider": "openai", "model": "auth/auth", "base_url": "%s", "api_key_env": "RECONCILE_BAD_KEY", "price": {"input_per_mtok": 1, "output_per_mtok": 4}, "capabilities": ["stream"]},\n' "$U"
    printf '    "over": {"provider": "anthropic", "model": "over/overloaded", "base_url": "%s", "api_key_env": "RECONCILE_KEY", "price": {"input_per_mtok": 1, "output_per_mtok": 4}, "capabilities": ["stream"]},\n' "$U"
    route hedge slow-ttft-400
    route held slow-ttft-3000
    printf '    "last": {"provider": "openai", "model": "last/healthy", "base_url": "%s", "api_key_env": "RECONCILE_KEY", "price": {"input_per_mtok": 1, "output_per_mtok": 4}, "capabilities": ["stream"]}\n' "$U"
    echo '  }, "workloads": {'
    workload ok '"ok"'
    workload rl '"rl", "ok2"' '"rate_limited": {"action": "wait_retry_after", "max_wait_ms": 1500, "else": "next"}'
    workload rl0 '"rl0"' '"*": "fail"'
    workload flaky '"flaky", "ok2"' '"server_error": {"action": "retry", "max": 1, "backoff_ms": 20, "else": "next"}'
    workload down '"down", "ok2"'
    workload downonly '"down"'
    workload downfor '"downfor", "ok2"'
    workload reset '"reset", "ok2"' '"reset": {"action": "retry", "max": 1, "backoff_ms": 5, "else": "next"}'
    workload resetonly '"reset2"' '"reset": {"action": "retry", "max": 2, "backoff_ms": 5, "else": "fail"}'
    workload silent '"silent", "ok2"' '"*": "next"' '"ttft_ms": 250, "total_ms": 6000'
    workload slow '"slow", "ok2"' '"*": "next"' '"ttft_ms": 300, "total_ms": 6000'
    workload cut '"cut", "ok2"'
    workload stall '"stall", "ok2"'
    workload mal '"mal", "ok2"'
    workload nodone '"nodone"'
    workload ctx '"ctx", "ok2"'
    workload cnt '"cnt", "ok2"' '"content_blocked": "fail", "*": "next"'
    workload auth '"auth", "ok2"'
    workload over '"over", "ok2"'
    workload hedge '"hedge", "ok2"' '"*": "next"' '"ttft_ms": 2000, "total_ms": 6000' \
        ', "hedge": {"after_ms": 100, "max_extra": 1}'
    workload abort '"held"' '"*": "next"' '"ttft_ms": 5000, "total_ms": 8000'
    printf '    "last": {"ladder": ["last"], "on": {"*": "next"}, "safe_failure": {"status": 503, "message": "busy"}}\n'
    echo '  }, "tiers": {"free": {}},'
    echo '  "breaker": {"window_s": 60, "min_requests": 1000000, "failure_rate": 0.99, "open_for_s": 1},'
    echo '  "retry_budget": {"ratio": 10, "min_per_s": 100000}'
    echo '}'
} >"$tmp/policy.json"

if ! "$LADDER" check "$tmp/policy.json" >"$tmp/check.out" 2>&1; then
    not_ok "the test policy loads" "$(cat "$tmp/check.out")"
    finish
fi

RECONCILE_KEY=sk-right RECONCILE_BAD_KEY=sk-wrong \
    "$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 \
    --admin 127.0.0.1:0 --print-port --seed 11 --max-concurrent 256 \
    --events "$tmp/events.jsonl" --trace "$tmp/trace.jsonl" \
    >"$tmp/ladder.out" 2>"$tmp/ladder.err" &
ladder_pid=$!
if ! addr=$(wait_line "$tmp/ladder.out" \
    's/^listening on \([0-9.]*:[0-9]*\) admin \([0-9.]*:[0-9]*\)$/\1 \2/p' \
    "$ladder_pid"); then
    not_ok "ladder serve prints its ports" "$(cat "$tmp/ladder.err")"
    finish
fi
listen=${addr% *}
admin=${addr#* }

# The mix: weights per workload; "both": half of them streamed.
mix='[
 {"workload": "ok", "stream": "both", "weight": 20},
 {"workload": "rl", "stream": "both", "weight": 2},
 {"workload": "rl0", "stream": "both", "weight": 3},
 {"workload": "flaky", "stream": "both", "weight": 1},
 {"workload": "down", "stream": "both", "weight": 5},
 {"workload": "downonly", "stream": "both", "weight": 3},
 {"workload": "downfor", "stream": "both", "weight": 3},
 {"workload": "reset", "stream": "both", "weight": 10},
 {"workload": "resetonly", "stream": "both", "weight": 5},
 {"workload": "silent", "stream": "both", "weight": 2},
 {"workload": "slow", "stream": "both", "weight": 2},
 {"workload": "cut", "stream": "yes", "weight": 5},
 {"workload": "stall", "stream": "yes", "weight": 3},
 {"workload": "mal", "stream": "both", "weight": 4},
 {"workload": "nodone", "stream": "yes", "weight": 3},
 {"workload": "ctx", "stream": "both", "weight": 3},
 {"workload": "cnt", "stream": "both", "weight": 3},
 {"workload": "auth", "stream": "both", "weight": 3},
 {"workload": "over", "stream": "both", "weight": 3},
 {"workload": "hedge", "stream": "both", "weight": 3},
 {"workload": "abort", "stream": "both", "weight": 4, "abort_ms": 1000},
 {"workload": "last", "stream": "both", "weight": 6}
]'

LADDER_URL=http://$listen/v1 N=$N CONC=48 SEED=12 OUT=$tmp/client.jsonl \
    MIX=$mix node "$NODE_DIR/reconcile_client.mjs" >"$tmp/client.out" 2>&1
client_rc=$?
if [ $client_rc -eq 0 ] && grep -q "^# sent $N\$" "$tmp/client.out"; then
    ok "the client sent $N requests and recorded each ($(sed -n 's/^# client //p' "$tmp/client.out"))"
else
    not_ok "the client sent $N requests and recorded each" "$(tail -5 "$tmp/client.out")"
fi

# /metrics once nothing is in flight (aborted requests end when ladder
# sees the connection close).
in_flight() {
    curl -s --max-time 2 "http://$admin/metrics" >"$tmp/metrics.txt" &&
        grep -q '^ladder_requests_in_flight 0$' "$tmp/metrics.txt"
}
if poll 100 in_flight; then
    ok "nothing is in flight after the client is done"
else
    not_ok "nothing is in flight after the client is done" \
        "$(grep '^ladder_requests_in_flight' "$tmp/metrics.txt")"
fi
curl -s --max-time 5 "http://$admin/metrics" >"$tmp/metrics.txt"

stop "$ladder_pid"
ladder_pid=
expect_eq "$stop_status" 0 "ladder serve exits 0 on SIGTERM"

# The fake logs a request when it is over; every one is, once ladder has
# closed its connections: poll until its count stops at the metrics' sum.
wire=$(awk '/^ladder_upstream_requests_total/ { n += $2 } END { print n + 0 }' \
    "$tmp/metrics.txt")
fake_count() { grep -cE '"path":"/v1/(chat/completions|messages)"' "$tmp/fake.log" 2>/dev/null || echo 0; }
fake_done() { [ "$(fake_count)" -ge "$wire" ]; }
poll 50 fake_done || true

if node "$NODE_DIR/reconcile_check.mjs" "$tmp/client.jsonl" "$tmp/trace.jsonl" \
    "$tmp/events.jsonl" "$tmp/metrics.txt" "$tmp/fake.log" >"$tmp/check.txt" 2>&1; then
    ok "client, trace, events, metrics and the upstream's log reconcile exactly"
    sed 's/^/    # /' "$tmp/check.txt"
else
    not_ok "client, trace, events, metrics and the upstream's log reconcile exactly" \
        "$(cat "$tmp/check.txt")"
fi

refused=$(awk '/^ladder_upstream_resends_refused_total/ { n += $2 } END { print n + 0 }' \
    "$tmp/metrics.txt")
check "curl wanted to re-send some resets on reused connections ($refused refused): the case is exercised" \
    '[ "$refused" -gt 0 ]'
for w in reset cut stall hedge abort; do
    check "workload $w was exercised" "grep -q '\"workload\":\"$w\"' '$tmp/trace.jsonl'"
done

if [ "$failed" -gt 0 ]; then
    echo "# reconcile: ladder stderr:"
    tail -20 "$tmp/ladder.err" | sed 's/^/    # /'
fi
finish
