#!/bin/sh
# shared_repeat.sh - the core's table of failed walks shared by the routers
# of a fleet through a real redis-server: a call that failed its walk on
# router a, retried against router b, is answered by b as a repeat without
# an upstream attempt; a success on a makes b forget the workload's
# failures; a walk that failed on a for a's own trouble (a 401 for its bad
# key, alone or before a shared failure) is not taught to b, which serves
# it; a walk begun before a reload of a and failed after it is taught to b
# and to a's new configuration (node/shared_repeat_client.mjs, with the
# openai SDK). With Redis
# away each router keeps its own table and nothing waits.
#
# Starts redis-server, tools/fake_provider and two routers on 127.0.0.1;
# every wait is a bounded poll; everything started is stopped on exit.
. "$(dirname "$0")/lib/common.sh"
require_ladder
require_sdk

if ! command -v redis-server >/dev/null 2>&1 ||
    ! command -v redis-cli >/dev/null 2>&1; then
    not_ok "redis-server and redis-cli are installed (tools/setup.sh)"
    finish
fi
command -v curl >/dev/null 2>&1 || { not_ok "curl is installed"; finish; }

pids=
fake_pid=
cleanup_hook() {
    for p in $pids $fake_pid; do
        stop "$p"
    done
}

# ---- redis-server on a free port ------------------------------------------

free_port() {
    node -e 'const s = require("net").createServer();
             s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
rport=
for try in 1 2 3; do
    p=$(free_port) || break
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no >"$tmp/redis.log" 2>&1 &
    rpid=$!
    if poll 50 redis-cli -h 127.0.0.1 -p "$p" ping; then
        rport=$p
        pids="$pids $rpid"
        break
    fi
    kill "$rpid" 2>/dev/null
    wait "$rpid" 2>/dev/null
done
if [ -z "$rport" ]; then
    not_ok "redis-server starts" "$(tail -5 "$tmp/redis.log")"
    finish
fi
ok "redis-server is up on port $rport"

# ---- the fake provider, the policy, two routers ---------------------------

start_fake --log "$tmp/fake.log" --tokens 5 --max-lifetime 120 --expect-key sk-good
U=$fake_url

cat >"$tmp/policy.json" <<EOF
{"routes": {
  "d1": {"provider": "openai", "model": "d1/down", "base_url": "$U",
         "price": {"input_per_mtok": 1, "output_per_mtok": 1}},
  "d2": {"provider": "openai", "model": "d2/down", "base_url": "$U",
         "price": {"input_per_mtok": 1, "output_per_mtok": 1}},
  "fl": {"provider": "openai", "model": "fl/flaky-once", "base_url": "$U",
         "price": {"input_per_mtok": 1, "output_per_mtok": 1}},
  "au": {"provider": "openai", "model": "au/auth", "base_url": "$U",
         "api_key_env": "LADDER_AU_KEY",
         "price": {"input_per_mtok": 1, "output_per_mtok": 1}}},
 "workloads": {
  "dead": {"ladder": ["d1", "d2"], "on": {"*": "next"}},
  "fl": {"ladder": ["fl"], "on": {"*": "next"}},
  "authw": {"ladder": ["au"], "on": {"*": "next"}},
  "mixed": {"ladder": ["au", "d1"], "on": {"*": "next"}},
  "held": {"ladder": ["d1"], "constraints": {"total_ms": 20000},
           "on": {"*": {"action": "retry", "max": 1, "backoff_ms": 4000,
                        "max_backoff_ms": 8000, "else": "next"}}}},
 "retry_budget": {"ratio": 10, "min_per_s": 1000}}
EOF

# serve NAME [ARGS...]: start a router; sets NAME_url, NAME_admin, NAME_pid
serve() {
    name=$1
    shift
    "$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --print-port \
        "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    pids="$pids $pid"
    if ! poll 50 grep -q '^listening on ' "$tmp/$name.out"; then
        not_ok "router $name starts" "$(cat "$tmp/$name.err")"
        finish
    fi
    line=$(head -1 "$tmp/$name.out")
    eval "${name}_pid=$pid"
    eval "${name}_url=http://$(echo "$line" | sed 's/^listening on \([^ ]*\) .*/\1/')"
    eval "${name}_admin=http://$(echo "$line" | sed 's/.* admin \([^ ]*\)$/\1/')"
}
# route au's key: router a's is wrong (its own trouble, a 401), b's right
LADDER_AU_KEY=sk-bad
export LADDER_AU_KEY
serve a --redis "127.0.0.1:$rport" --redis-prefix "t$$"
LADDER_AU_KEY=sk-good
serve b --redis "127.0.0.1:$rport" --redis-prefix "t$$"
subs() { [ "$(redis-cli -p "$rport" pubsub numsub "t$$:health" | tail -1)" = 2 ]; }
if poll 50 subs; then
    ok "both routers listen on the health channel"
else
    not_ok "both routers listen on the health channel"
fi

A_URL=$a_url A_ADMIN=$a_admin B_URL=$b_url B_ADMIN=$b_admin \
    A_PID=$a_pid A_ERR=$tmp/a.err FAKE_LOG=$tmp/fake.log node "$root/tests/integration/node/shared_repeat_client.mjs" \
    >"$tmp/node.out" 2>&1
node_rc=$?
cat "$tmp/node.out"
count_node "$tmp/node.out"
[ $node_rc -eq 0 ] || not_ok "the SDK client exits 0 (it exited $node_rc)"

# ---- Redis away: each router keeps its own table ----------------------------

# seen PREFIX: attempts the fake saw for models starting with PREFIX
seen() {
    grep -c "\"model\":\"$1" "$tmp/fake.log" 2>/dev/null || true
}
# ask URL BODY-TEXT: one dead-ladder call; prints its status
ask() {
    curl -s -o /dev/null -w '%{http_code}' -X POST "$1/v1/chat/completions" \
        -H 'content-type: application/json' -H 'x-ladder-workload: dead' \
        -d "{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"$2\"}]}" \
        --max-time 10
}
# walked N: poll (bounded) until the fake has logged N dead-ladder calls
walked() { [ "$(($(seen d1/) + $(seen d2/)))" -ge "$1" ]; }

stop "$rpid"
pids=$(echo "$pids" | sed "s/ $rpid\$//; s/ $rpid / /")
[ "$stop_status" = hung ] && not_ok "redis-server stops"
poll 50 grep -q 'lost the link' "$tmp/a.err"
poll 50 grep -q 'lost the link' "$tmp/b.err"
n0=$(($(seen d1/) + $(seen d2/)))
expect_eq "$(ask "$a_url" away)" 503 "without Redis, router a fails the walk"
poll 30 walked $((n0 + 2))
expect_eq "$(ask "$b_url" away)" 503 "router b fails it too"
poll 30 walked $((n0 + 4))
expect_eq "$(($(seen d1/) + $(seen d2/) - n0))" 4 \
    "router b walked it itself (no news without Redis): 2 + 2 upstream calls"
expect_eq "$(ask "$a_url" away)" 503 "router a answers the call again"
expect_eq "$(($(seen d1/) + $(seen d2/) - n0))" 4 \
    "... from its own table: no upstream call"

for n in a b; do
    eval "p=\$${n}_pid"
    stop "$p"
    expect_eq "$stop_status" 0 "router $n exits 0 on SIGTERM"
done
finish
