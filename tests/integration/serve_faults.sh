#!/bin/sh
# serve_faults.sh - `ladder serve` against every fault of the fake provider,
# driven by the official openai npm SDK (tests/integration/node/
# serve_faults.mjs): 429 with Retry-After (near and far), 500 once, 503
# always (the breaker opens), a flapping primary (probe, recovery), reset
# before headers, no response, slow first token, stream cut / stall /
# malformed chunk, no [DONE], 400 context_length, 400 content policy,
# prefill, hedging, continuation of a cut or stalled stream on a route that
# takes a prefill. Each fault has its own workload and routes, so the
# fake's log counts attempts per case. Then /metrics and the event log.
#
# LADDER is the binary, TOOLS the built helper programs (fake_provider).
# Needs node and npm (tests/integration/node: `npm ci` when node_modules is
# missing). Prints ok / not ok lines; exits 1 on any failure. Everything on
# 127.0.0.1; readiness is polled, never slept for.
. "$(dirname "$0")/lib/common.sh"
require_ladder
require_sdk
NODE_DIR=$root/tests/integration/node

fake_pid=
ladder_pid=
cleanup_hook() {
    stop "$ladder_pid"
    stop "$fake_pid"
}

start_fake --log "$tmp/fake.log" --tokens 5 --max-lifetime 120
U=$fake_url

# route ID MODEL [EXTRA]: one OpenAI-compatible route on the fake
route() {
    printf '    "%s": {"provider": "openai", "model": "%s", "base_url": "%s", "price": {"input_per_mtok": 1, "output_per_mtok": 4}, "quality": 0.8%s},\n' \
        "$1" "$2" "$U" "${3:-}"
}
# workload NAME "LADDER" RULES [EXTRA]
workload() {
    printf '    "%s": {"ladder": [%s], "on": {%s}, "constraints": {"ttft_ms": 2000, "total_ms": 8000, "stall_ms": 500}, "safe_failure": {"status": 503, "message": "busy, try later"}%s},\n' \
        "$1" "$2" "$3" "${4:-}"
}
{
    echo '{"version": 1, "routes": {'
    route rl rl/ratelimit-ra-1
    route rl-b rl-b/healthy
    route rlfar rlfar/ratelimit-ra-30
    route rlfar-b rlfar-b/healthy
    route flaky flaky/flaky-once
    route flaky-b flaky-b/healthy
    route down down/down ', "breaker": {"window_s": 60, "min_requests": 3, "failure_rate": 0.5, "open_for_s": 60}'
    route down-b down-b/healthy
    route flap flap/down-for-5000 ', "breaker": {"window_s": 60, "min_requests": 2, "failure_rate": 0.5, "open_for_s": 1, "half_open_probes": 1}'
    route flap-b flap-b/healthy
    route reset reset/reset
    route reset-b reset-b/healthy
    route silent silent/silent
    route silent-b silent-b/healthy
    route slow slow/slow-ttft-300
    route slowx slowx/slow-ttft-3000
    route slowx-b slowx-b/healthy
    route cut cut/cut-3
    route cut-b cut-b/healthy
    route stall stall/stall-3-3000
    route stall-b stall-b/healthy
    route mal mal/malformed-3
    route mal-b mal-b/healthy
    route nodone nodone/nodone
    route ctx ctx/context ', "context_window": 8000'
    route ctx-big ctx-big/healthy ', "context_window": 200000'
    route cnt cnt/content
    route cnt-b cnt-b/healthy
    route np np/noprefill ', "capabilities": ["stream"]'
    route np-b np-b/healthy ', "capabilities": ["stream", "prefill"]'
    route np2 np2/noprefill ', "capabilities": ["stream", "prefill"]'
    route np2-b np2-b/healthy ', "capabilities": ["stream", "prefill"]'
    route h h/slow-ttft-1500
    route dl dl/slow-ttft-3000
    route rcut rcut/cut-3
    printf '    "rcut-b": {"provider": "anthropic", "model": "rcut-b/healthy", "base_url": "%s", "price": {"input_per_mtok": 1, "output_per_mtok": 4}, "capabilities": ["stream", "prefill"]},\n' "$U"
    route rnp-a rnp-a/cut-3
    route rnp rnp/noprefill ', "capabilities": ["stream", "prefill"]'
    route rst rst/stall-3-3000
    route rst-n rst-n/healthy ', "capabilities": ["stream"]'
    route rst-b rst-b/healthy ', "capabilities": ["stream", "prefill"]'
    printf '    "ximg": {"provider": "anthropic", "model": "ximg/healthy", "base_url": "%s", "price": {"input_per_mtok": 1, "output_per_mtok": 4}, "capabilities": ["stream", "vision"]},\n' "$U"
    route ximg-b ximg-b/healthy ', "capabilities": ["stream", "vision"]'
    printf '    "hf": {"provider": "openai", "model": "hf/healthy", "base_url": "%s", "price": {"input_per_mtok": 1, "output_per_mtok": 4}}\n' "$U"
    echo '  }, "workloads": {'
    workload rl '"rl", "rl-b"' '"rate_limited": {"action": "wait_retry_after", "max_wait_ms": 3000, "else": "next"}'
    workload rlfar '"rlfar", "rlfar-b"' '"rate_limited": {"action": "wait_retry_after", "max_wait_ms": 3000, "else": "next"}'
    workload flaky '"flaky", "flaky-b"' '"server_error": {"action": "retry", "max": 1, "backoff_ms": 100, "else": "next"}'
    workload down '"down", "down-b"' '"*": "next"'
    workload flap '"flap", "flap-b"' '"*": "next"'
    workload reset '"reset", "reset-b"' '"reset": {"action": "retry", "max": 1, "else": "next"}'
    printf '    "silent": {"ladder": ["silent", "silent-b"], "on": {"*": "next"}, "constraints": {"ttft_ms": 700, "total_ms": 8000}, "safe_failure": {"status": 503, "message": "busy"}},\n'
    workload slow '"slow"' '"*": "next"'
    printf '    "slowx": {"ladder": ["slowx", "slowx-b"], "on": {"*": "next"}, "constraints": {"ttft_ms": 700, "total_ms": 8000}, "safe_failure": {"status": 503, "message": "busy"}},\n'
    workload cut '"cut", "cut-b"' '"*": "next"'
    workload stall '"stall", "stall-b"' '"*": "next"'
    workload mal '"mal", "mal-b"' '"*": "next"'
    workload nodone '"nodone"' '"*": "next"'
    workload ctx '"ctx", "ctx-big"' '"context_length": "next_larger_context", "*": "next"'
    printf '    "cnt": {"ladder": ["cnt", "cnt-b"], "on": {"content_blocked": "fail", "*": "next"}, "safe_failure": {"status": 400, "message": "Your request was blocked by policy."}},\n'
    workload np '"np", "np-b"' '"*": "next"'
    workload np2 '"np2", "np2-b"' '"*": "next"'
    workload ximg '"ximg", "ximg-b"' '"*": "next"'
    printf '    "deadline": {"ladder": ["dl"], "on": {"*": "next"}, "constraints": {"ttft_ms": 5000, "total_ms": 800}, "safe_failure": {"status": 503, "message": "busy"}},\n'
    workload resume '"rcut", "rcut-b"' '"*": "next"' ', "continue_streams": 1'
    workload resumenp '"rnp-a", "rnp"' '"*": "next"' ', "continue_streams": 1'
    workload resumest '"rst", "rst-n", "rst-b"' '"*": "next"' ', "continue_streams": 1'
    printf '    "hedge": {"ladder": ["h", "hf"], "on": {"*": "next"}, "hedge": {"after_ms": 200, "max_extra": 1}, "constraints": {"ttft_ms": 5000, "total_ms": 8000}, "safe_failure": {"status": 503, "message": "busy"}}\n'
    echo '  }, "tiers": {"free": {}},'
    echo '  "breaker": {"window_s": 60, "min_requests": 1000, "failure_rate": 0.5, "open_for_s": 30},'
    echo '  "retry_budget": {"ratio": 10, "min_per_s": 1000}'
    echo '}'
} >"$tmp/policy.json"

if ! "$LADDER" check "$tmp/policy.json" >"$tmp/check.out" 2>&1; then
    not_ok "the test policy loads" "$(cat "$tmp/check.out")"
    exit 1
fi

"$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --print-port \
    --events "$tmp/events.jsonl" --trace "$tmp/trace.jsonl" --seed 7 \
    >"$tmp/ladder.out" 2>"$tmp/ladder.err" &
ladder_pid=$!
if ! addr=$(wait_line "$tmp/ladder.out" \
    's/^listening on \([0-9.]*:[0-9]*\) admin \([0-9.]*:[0-9]*\)$/\1 \2/p' \
    "$ladder_pid"); then
    not_ok "ladder serve prints its ports" "$(cat "$tmp/ladder.err")"
    exit 1
fi
ok "ladder serve is listening ($addr)"
listen=${addr% *}
admin=${addr#* }

LADDER_URL=http://$listen/v1 LADDER_ADMIN=http://$admin FAKE_LOG=$tmp/fake.log \
    node "$NODE_DIR/serve_faults.mjs" >"$tmp/node.out" 2>&1
node_rc=$?
cat "$tmp/node.out"
count_node "$tmp/node.out"
[ $node_rc -eq 0 ] || not_ok "the SDK fault client exits 0 (it exited $node_rc)"

stop "$ladder_pid"
ladder_pid=
if [ "$stop_status" = 0 ]; then
    ok "ladder serve exits 0 on SIGTERM"
else
    not_ok "ladder serve exits 0 on SIGTERM (got $stop_status)" "$(tail -5 "$tmp/ladder.err")"
fi

# The event log: every line parses, one request and one done per request id.
accepted=$(sed -n 's/^# accepted \([0-9]*\)$/\1/p' "$tmp/node.out")
if out=$(node "$NODE_DIR/check_logs.mjs" "$tmp/events.jsonl" "$tmp/trace.jsonl" \
    "${accepted:-0}" 2>&1); then
    ok "events and trace are consistent ($out)"
    case "$out" in
    *", 1 deadline cancels") ok "the deadline case's cancel is in the trace as the simulator writes it" ;;
    *) not_ok "the deadline case's cancel is in the trace as the simulator writes it" "$out" ;;
    esac
else
    not_ok "events and trace are consistent" "$out"
fi

if [ "$failed" -gt 0 ]; then
    echo "# serve_faults: ladder stderr:"
    tail -20 "$tmp/ladder.err" | sed 's/^/    # /'
fi
finish
