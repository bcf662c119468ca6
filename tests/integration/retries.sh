#!/bin/sh
# retries.sh - a failed call multiplied by client retries: one ladder walk
# per user call for each SDK at its DEFAULT retries (the openai SDK, the
# @anthropic-ai/sdk on /v1/messages, the Vercel AI SDK's generateText on
# /v1/responses, LangChain's ChatOpenAI.invoke), against a two-route ladder
# whose routes are both down (fake provider `down`, 503; breakers that
# never open, so nothing but the table of failed requests stops a walk).
# The clients are in tests/integration/node/retries_client.mjs; the fake
# provider's log counts the walks, /metrics the requests and repeats, the
# trace marks the repeats. A second router with health.repeat_failure_s 1
# shows that a repeat walks again once its entry lapsed.
#
# LADDER is the binary, TOOLS the built helper programs (fake_provider).
# Needs node and npm (`npm ci` in tests/integration/node when a package is
# missing). Everything on 127.0.0.1, ports chosen by the system; readiness
# is polled, never slept for.
. "$(dirname "$0")/lib/common.sh"
require_ladder
require_sdk
NODE_DIR=$root/tests/integration/node
for pkg in @anthropic-ai/sdk ai @ai-sdk/openai @langchain/openai; do
    if [ ! -d "$NODE_DIR/node_modules/$pkg" ] &&
        ! (cd "$NODE_DIR" && npm ci --no-audit --no-fund >/dev/null 2>&1); then
        not_ok "npm ci in tests/integration/node (for $pkg)"
        exit 1
    fi
done

fake_pid=
ladder_pid=
short_pid=
cleanup_hook() {
    stop "$short_pid"
    stop "$ladder_pid"
    stop "$fake_pid"
}

start_fake --log "$tmp/fake.log" --tokens 5 --max-lifetime 180
U=$fake_url

# policy FILE HEALTH: the dead ladder d1, d2 (and a healthy workload, so
# that the router serves something); HEALTH is the policy's health block
policy() {
    cat >"$1" <<EOF2
{"version": 1,
 "routes": {
  "d1": {"provider": "openai", "model": "d1/down", "base_url": "$U", "api_key_env": "LADDER_TEST_KEY", "price": {"input_per_mtok": 1, "output_per_mtok": 4}},
  "d2": {"provider": "openai", "model": "d2/down", "base_url": "$U", "api_key_env": "LADDER_TEST_KEY", "price": {"input_per_mtok": 1, "output_per_mtok": 4}},
  "ok": {"provider": "openai", "model": "ok/healthy", "base_url": "$U", "api_key_env": "LADDER_TEST_KEY", "price": {"input_per_mtok": 1, "output_per_mtok": 4}}},
 "workloads": {
  "dead": {"ladder": ["d1", "d2"], "on": {"*": "next"},
           "safe_failure": {"status": 503, "message": "every route is down"}},
  "fine": {"ladder": ["ok"]}},
 "defaults": {"workload": "dead"},
 "breaker": {"window_s": 60, "min_requests": 1000, "failure_rate": 0.5, "open_for_s": 30}$2}
EOF2
}
policy "$tmp/policy.json" ""
policy "$tmp/short.json" ', "health": {"repeat_failure_s": 1}'

run check check "$tmp/policy.json"
expect_rc check 0 "the test policy passes ladder check"
sed 's/"repeat_failure_s": 1/"repeat_failure_s": -1/' "$tmp/short.json" >"$tmp/bad.json"
run bad check "$tmp/bad.json"
expect_rc bad 2 "check refuses a negative health.repeat_failure_s"
expect_in "$tmp/bad.err" 'health.repeat_failure_s' "...naming the field"

# start_ladder POLICY OUT: sets started_pid, listen and admin
start_ladder() {
    fresh "$tmp/$2.out"
    LADDER_TEST_KEY=sk-test "$LADDER" serve "$1" --listen 127.0.0.1:0 \
        --admin 127.0.0.1:0 --print-port --seed 5 --trace "$tmp/$2.trace" \
        >"$tmp/$2.out" 2>"$tmp/$2.err" &
    started_pid=$!
    if ! addr=$(wait_line "$tmp/$2.out" \
        's/^listening on \([0-9.]*:[0-9]*\) admin \([0-9.]*:[0-9]*\)$/\1 \2/p' \
        "$started_pid"); then
        not_ok "ladder serve $2 prints its ports" "$(cat "$tmp/$2.err")"
        exit 1
    fi
    listen=${addr% *}
    admin=${addr#* }
}
start_ladder "$tmp/policy.json" main
ladder_pid=$started_pid
main_listen=$listen
main_admin=$admin
start_ladder "$tmp/short.json" short
short_pid=$started_pid

LADDER_URL=http://$main_listen/v1 LADDER_ADMIN=http://$main_admin \
    SHORT_URL=http://$listen/v1 SHORT_ADMIN=http://$admin \
    FAKE_LOG=$tmp/fake.log node "$NODE_DIR/retries_client.mjs" \
    >"$tmp/node.out" 2>&1
node_rc=$?
cat "$tmp/node.out"
count_node "$tmp/node.out"
[ $node_rc -eq 0 ] || not_ok "the SDK client exits 0 (it exited $node_rc)"

stop "$ladder_pid"
ladder_pid=
[ "$stop_status" = 0 ] && ok "ladder serve exits 0 on SIGTERM" ||
    not_ok "ladder serve exits 0 on SIGTERM (got $stop_status)" "$(tail -n 5 "$tmp/main.err")"
stop "$short_pid"
short_pid=

# the trace: every repeat is a line of its own, failed, without attempts
js "trace: the repeats are marked repeat_of_failed, failed, with no attempt; walks have 2" '
    const fs = require("fs");
    const lines = fs.readFileSync(process.argv[1], "utf8").split("\n")
        .filter(Boolean).map((l) => JSON.parse(l));
    const reps = lines.filter((l) => l.repeat_of_failed === true);
    if (reps.length < 4) console.log("repeats in the trace: " + reps.length);
    if (!reps.every((l) => l.outcome === "failed" && l.status === 503 &&
                           l.attempts.length === 0 && l.workload === "dead"))
        console.log(JSON.stringify(reps.slice(0, 2)));
    const walks = lines.filter((l) => l.workload === "dead" && !l.repeat_of_failed);
    if (walks.length < 5 || !walks.every((l) => l.attempts.length === 2))
        console.log(walks.length + " walks: " + JSON.stringify(walks.slice(0, 2)));
' "$tmp/main.trace"
finish
