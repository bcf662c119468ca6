#!/bin/sh
# serve.sh - `ladder serve` as products use it, through the official openai
# npm SDK (tests/integration/node/serve_api.mjs): answers and x-ladder-*
# headers, streaming and not, the Anthropic translation, API keys from the
# environment (and never anywhere in the output), GET /v1/models,
# POST /v1/feedback, client errors (400, 413, 404), --max-concurrent
# overload (503 + Retry-After), an abandoned request, /metrics and
# /healthz; then SIGTERM: a slow request in flight completes, new
# connections are refused, the server exits 0; the event log and the trace
# are checked line by line. The faults are serve_faults.sh.
#
# LADDER is the binary, TOOLS the built helper programs (fake_provider).
# Needs node and npm (`npm ci` in tests/integration/node when node_modules
# is missing). Prints ok / not ok lines; exits 1 on any failure. Everything
# on 127.0.0.1; readiness is polled, never slept for.
. "$(dirname "$0")/lib/common.sh"
require_ladder
require_sdk
NODE_DIR=$root/tests/integration/node
SECRET=sk-ladder-serve-SECRET-5d1e93
MAX_BODY=65536

fake_pid=
ladder_pid=
over_pid=
drain_pid=
cleanup_hook() {
    stop "$drain_pid"
    stop "$over_pid"
    stop "$ladder_pid"
    stop "$fake_pid"
}

# metric ADMIN NAME: the value of an unlabelled metric, or empty
metric() {
    curl -s --max-time 2 "http://$1/metrics" 2>/dev/null |
        sed -n "s/^$2 \\([0-9.]*\\)\$/\\1/p"
}

start_fake --log "$tmp/fake.log" --tokens 5 --max-lifetime 120 \
    --expect-key "$SECRET"
U=$fake_url

# route ID PROVIDER MODEL KEYVAR [EXTRA]
route() {
    printf '    "%s": {"provider": "%s", "model": "%s", "base_url": "%s", "api_key_env": "%s", "price": {"input_per_mtok": 2, "output_per_mtok": 8}, "quality": 0.9%s},\n' \
        "$1" "$2" "$3" "$U" "$4" "${5:-}"
}
# workload NAME "LADDER"
workload() {
    printf '    "%s": {"ladder": [%s], "on": {"*": "next"}, "constraints": {"ttft_ms": 5000, "total_ms": 10000}, "safe_failure": {"status": 503, "message": "busy"}},\n' \
        "$1" "$2"
}
{
    echo '{"version": 1, "routes": {'
    route basic openai basic/healthy LADDER_TEST_OPENAI_KEY ', "capabilities": ["stream", "tools", "json"]'
    route anth-r anthropic anth/healthy LADDER_TEST_ANTHROPIC_KEY
    route oa-auth openai oaa/auth LADDER_TEST_OPENAI_KEY
    route an-auth anthropic ana/auth LADDER_TEST_ANTHROPIC_KEY
    route nokey openai nok/auth LADDER_TEST_UNSET_KEY
    route nokey-b openai nokb/healthy LADDER_TEST_OPENAI_KEY
    route slow openai slow/slow-ttft-1500 LADDER_TEST_OPENAI_KEY
    route ab openai ab/slow-ttft-3000 LADDER_TEST_OPENAI_KEY
    printf '    "dr": {"provider": "openai", "model": "dr/slow-ttft-1500", "base_url": "%s", "api_key_env": "LADDER_TEST_OPENAI_KEY", "price": {"input_per_mtok": 2, "output_per_mtok": 8}}\n' "$U"
    echo '  }, "workloads": {'
    workload basic '"basic"'
    workload anth '"anth-r"'
    workload auth-oa '"oa-auth"'
    workload auth-an '"an-auth"'
    workload nokey '"nokey", "nokey-b"'
    workload slow '"slow"'
    workload abandon '"ab"'
    printf '    "drain": {"ladder": ["dr"], "on": {"*": "next"}, "safe_failure": {"status": 503, "message": "busy"}}\n'
    echo '  }, "tiers": {"free": {}, "paid": {}}'
    echo '}'
} >"$tmp/policy.json"

if ! "$LADDER" check "$tmp/policy.json" >"$tmp/check.out" 2>&1; then
    not_ok "the test policy loads" "$(cat "$tmp/check.out")"
    exit 1
fi

# start_ladder OUT ARGS...: sets started_pid, listen and admin
start_ladder() {
    out=$1
    shift
    env -u LADDER_TEST_UNSET_KEY LADDER_TEST_OPENAI_KEY="$SECRET" \
        LADDER_TEST_ANTHROPIC_KEY="$SECRET" \
        "$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --print-port \
        "$@" >"$out" 2>"$out.err" &
    started_pid=$!
    addr=$(wait_line "$out" \
        's/^listening on \([0-9.]*:[0-9]*\) admin \([0-9.]*:[0-9]*\)$/\1 \2/p' \
        "$started_pid") || return 1
    listen=${addr% *}
    admin=${addr#* }
}

if ! start_ladder "$tmp/ladder.out" --events "$tmp/events.jsonl" \
    --trace "$tmp/trace.jsonl" --max-body "$MAX_BODY" --drain-s 10; then
    not_ok "ladder serve prints its ports" "$(cat "$tmp/ladder.out.err")"
    exit 1
fi
ladder_pid=$started_pid
main_listen=$listen
main_admin=$admin
ok "ladder serve is listening ($main_listen, admin $main_admin)"
if grep -q 'LADDER_TEST_UNSET_KEY is not set' "$tmp/ladder.out.err"; then
    ok "a route whose key variable is unset is named in a warning"
else
    not_ok "a route whose key variable is unset is named in a warning" \
        "$(cat "$tmp/ladder.out.err")"
fi

if ! start_ladder "$tmp/over.out" --max-concurrent 1; then
    not_ok "a second ladder serve (--max-concurrent 1) starts" "$(cat "$tmp/over.out.err")"
    exit 1
fi
over_pid=$started_pid

LADDER_URL=http://$main_listen/v1 LADDER_ADMIN=http://$main_admin \
    FAKE_LOG=$tmp/fake.log OVERLOAD_URL=http://$listen/v1 \
    OVERLOAD_ADMIN=http://$admin MAX_BODY=$MAX_BODY \
    node "$NODE_DIR/serve_api.mjs" >"$tmp/node.out" 2>&1
node_rc=$?
cat "$tmp/node.out"
count_node "$tmp/node.out"
[ $node_rc -eq 0 ] || not_ok "the SDK client exits 0 (it exited $node_rc)"
curl -s --max-time 2 "http://$main_admin/metrics" >"$tmp/metrics.txt" 2>&1

stop "$over_pid"
over_pid=
[ "$stop_status" = 0 ] && ok "the overload instance exits 0 on SIGTERM" ||
    not_ok "the overload instance exits 0 on SIGTERM (got $stop_status)"

# SIGTERM with a slow request in flight: it completes, new connections are
# refused, the server exits 0.
LADDER_URL=http://$main_listen/v1 node "$NODE_DIR/drain_client.mjs" \
    >"$tmp/drain.out" 2>&1 &
drain_pid=$!
i=0
while [ "$(metric "$main_admin" ladder_requests_in_flight)" != 1 ] && [ $i -lt 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
[ $i -lt 100 ] || not_ok "the slow request reached ladder"
kill -TERM "$ladder_pid"
refused=no
i=0
while [ $i -lt 50 ]; do
    curl -s --max-time 1 -o /dev/null "http://$main_listen/v1/models"
    if [ $? -eq 7 ]; then
        refused=yes
        break
    fi
    sleep 0.05
    i=$((i + 1))
done
[ $refused = yes ] && ok "after SIGTERM new connections are refused" ||
    not_ok "after SIGTERM new connections are refused"
i=0
while kill -0 "$drain_pid" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
wait "$drain_pid" 2>/dev/null
drain_pid=
if grep -q '"status":200,"text":"tok1 tok2 tok3 tok4 tok5 "' "$tmp/drain.out" &&
    grep -q '"error":null' "$tmp/drain.out"; then
    ok "the request in flight at SIGTERM completed"
else
    not_ok "the request in flight at SIGTERM completed" "$(cat "$tmp/drain.out")"
fi
i=0
while kill -0 "$ladder_pid" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
if kill -0 "$ladder_pid" 2>/dev/null; then
    not_ok "ladder exits after draining"
    stop "$ladder_pid"
else
    wait "$ladder_pid"
    rc=$?
    [ $rc -eq 0 ] && ok "ladder exits 0 after draining" ||
        not_ok "ladder exits 0 after draining (got $rc)" "$(tail -5 "$tmp/ladder.out.err")"
fi
ladder_pid=

accepted=$(sed -n 's/^# accepted \([0-9]*\)$/\1/p' "$tmp/node.out")
if out=$(node "$NODE_DIR/check_logs.mjs" "$tmp/events.jsonl" "$tmp/trace.jsonl" \
    $((${accepted:-0} + 1)) 2>&1); then
    ok "events and trace are consistent ($out)"
else
    not_ok "events and trace are consistent" "$out"
fi

# The API key reached the fake (its auth routes answered 200) but appears
# in nothing ladder wrote: events, trace, metrics, stdout, stderr.
if grep -rl "$SECRET" "$tmp" >"$tmp/leaks" 2>/dev/null; then
    not_ok "the API key appears in no output" "$(cat "$tmp/leaks")"
else
    ok "the API key appears in no output, log, trace, metrics or message"
fi

if [ "$failed" -gt 0 ]; then
    echo "# serve: ladder stderr:"
    tail -20 "$tmp/ladder.out.err" | sed 's/^/    # /'
fi
finish
