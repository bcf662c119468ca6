#!/bin/sh
# shared.sh - route health shared between `ladder serve` instances through
# a real redis-server: a Retry-After one router gets blocks the route for
# the others, a breaker one router opens opens theirs, a router started
# later reads both from Redis, and a router whose Redis is away keeps
# serving on its own evidence.
#
# Starts redis-server, tools/fake_provider and three routers on 127.0.0.1;
# every wait is a bounded poll; everything started is stopped on exit.
. "$(dirname "$0")/lib/common.sh"
require_ladder

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

# ---- the fake provider and the policy ---------------------------------------

start_fake --log "$tmp/fake.log" --tokens 5 --max-lifetime 120
U=$fake_url

cat >"$tmp/policy.json" <<EOF
{"routes": {
  "rl": {"provider": "openai", "model": "rl/ratelimit-ra-30", "base_url": "$U",
         "price": {"input_per_mtok": 1, "output_per_mtok": 1}},
  "rl-b": {"provider": "openai", "model": "rl-b/healthy", "base_url": "$U",
           "price": {"input_per_mtok": 1, "output_per_mtok": 1}},
  "dn": {"provider": "openai", "model": "dn/down", "base_url": "$U",
         "price": {"input_per_mtok": 1, "output_per_mtok": 1},
         "breaker": {"window_s": 60, "min_requests": 2, "failure_rate": 0.5,
                     "open_for_s": 60}},
  "dn-b": {"provider": "openai", "model": "dn-b/healthy", "base_url": "$U",
           "price": {"input_per_mtok": 1, "output_per_mtok": 1}}},
 "workloads": {
  "rl": {"ladder": ["rl", "rl-b"], "on": {"*": "next"}},
  "dn": {"ladder": ["dn", "dn-b"], "on": {"*": "next"}}},
 "tiers": {"free": {}},
 "retry_budget": {"ratio": 10, "min_per_s": 1000}}
EOF

# serve NAME [ARGS...]: start a router; sets NAME_url, NAME_admin, NAME_pid
serve() {
    name=$1
    shift
    fresh "$tmp/$name.out"
    "$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --print-port \
        --events "$tmp/$name.events" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
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

# ask URL WORKLOAD: one chat completion; prints "STATUS ROUTE FALLBACK"
ask() {
    curl -s -o /dev/null -D "$tmp/h" -X POST "$1/v1/chat/completions" \
        -H 'content-type: application/json' -H "x-ladder-workload: $2" \
        -d '{"model": "auto", "messages": [{"role": "user", "content": "hi"}]}' \
        --max-time 10
    st=$(sed -n 's/^HTTP\/1.1 \([0-9]*\).*/\1/p' "$tmp/h" | head -1)
    rt=$(sed -n 's/^x-ladder-route: \([^\r]*\).*/\1/Ip' "$tmp/h" | head -1)
    fb=$(sed -n 's/^x-ladder-fallback: \([^\r]*\).*/\1/Ip' "$tmp/h" | head -1)
    echo "$st $rt $fb"
}

# seen PREFIX: attempts the fake saw for models starting with PREFIX
seen() {
    grep -c "\"model\":\"$1" "$tmp/fake.log" 2>/dev/null || true
}

# metric ADMIN NAME-AND-LABELS: the value of one series (empty if absent)
metric() {
    curl -s --max-time 5 "$1/metrics" | grep -F "$2 " | head -1 | sed 's/.* //'
}
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }

serve a --redis "127.0.0.1:$rport" --redis-prefix "t$$"
serve b --redis "127.0.0.1:$rport" --redis-prefix "t$$"
# both links of both routers are up once Redis counts their subscriptions
subs() { [ "$(redis-cli -p "$rport" pubsub numsub "t$$:health" | tail -1)" = 2 ]; }
if poll 50 subs; then
    ok "both routers subscribed to t$$:health"
else
    not_ok "both routers subscribed to t$$:health" "$(cat "$tmp/a.err" "$tmp/b.err")"
fi

# ---- a Retry-After on one router blocks the route on the other ------------

r=$(ask "$a_url" rl)
expect_eq "$r" "200 rl-b rate_limited" "router a: the 429 on rl falls back to rl-b"
if poll 50 metric_is "$b_admin" 'ladder_route_blocks_total{route="rl",source="shared"}' 1; then
    ok "router b learns the block from Redis"
else
    not_ok "router b learns the block from Redis" "$(curl -s "$b_admin/metrics" | grep blocks)"
fi
r=$(ask "$b_url" rl)
expect_eq "$r" "200 rl-b rate_limited" "router b skips rl for the block it did not see"
expect_eq "$(seen rl/)" 1 "the rate-limited upstream saw one attempt in all"
ttl=$(redis-cli -p "$rport" pttl "t$$:block:rl")
if [ "${ttl:-0}" -gt 20000 ] && [ "$ttl" -le 30000 ]; then
    ok "the block's key expires with the Retry-After (${ttl} ms left)"
else
    not_ok "the block's key expires with the Retry-After" "pttl $ttl"
fi

# ---- a breaker one router opens opens on the other ------------------------

r1=$(ask "$a_url" dn)
r2=$(ask "$a_url" dn)
expect_eq "$r1 / $r2" "200 dn-b overloaded / 200 dn-b overloaded" \
    "router a: two 503s on dn fall back to dn-b"
if poll 50 metric_is "$b_admin" 'ladder_breaker_state{route="dn"}' 1; then
    ok "router b opens dn's breaker from Redis"
else
    not_ok "router b opens dn's breaker from Redis" "$(curl -s "$b_admin/metrics" | grep breaker)"
fi
r=$(ask "$b_url" dn)
expect_eq "$r" "200 dn-b circuit_open" "router b skips dn with its breaker open"
expect_eq "$(seen dn/)" 2 "the failing upstream saw only router a's two attempts"
expect_in "$tmp/b.events" '"type":"block","route":"rl","class":"rate_limited"' \
    "router b's event log has the shared block"
expect_in "$tmp/b.events" '"shared":true' "router b's events mark what came from Redis"

# ---- a router started later reads both from Redis ---------------------------

serve c --redis "127.0.0.1:$rport" --redis-prefix "t$$"
if poll 50 metric_is "$c_admin" 'ladder_breaker_state{route="dn"}' 1 &&
    poll 50 metric_is "$c_admin" 'ladder_route_blocks_total{route="rl",source="shared"}' 1; then
    ok "router c, started later, reads the block and the open breaker"
else
    not_ok "router c, started later, reads the block and the open breaker" \
        "$(curl -s "$c_admin/metrics" | grep -e blocks -e breaker_state)"
fi
r=$(ask "$c_url" rl)
expect_eq "$r" "200 rl-b rate_limited" "router c skips the blocked route at once"
r=$(ask "$c_url" dn)
expect_eq "$r" "200 dn-b circuit_open" "router c skips the open breaker at once"
expect_eq "$(seen rl/) $(seen dn/)" "1 2" "the upstreams saw nothing from router c"

# ---- Redis away: routing goes on --------------------------------------------

stop "$rpid"
pids=$(echo "$pids" | sed "s/ $rpid\$//; s/ $rpid / /")
[ "$stop_status" = hung ] && not_ok "redis-server stops"
poll 50 grep -q 'lost the link' "$tmp/a.err"
expect_in "$tmp/a.err" "redis: lost the link" "router a says it lost Redis"
r=$(ask "$a_url" dn)
expect_eq "$r" "200 dn-b circuit_open" "router a still routes without Redis"
serve d --redis "127.0.0.1:$rport" --redis-prefix "t$$"
r=$(ask "$d_url" rl)
expect_eq "$r" "200 rl-b rate_limited" \
    "router d starts and routes without Redis (it learns the 429 itself)"
expect_in "$tmp/d.err" "redis: cannot connect to 127.0.0.1:$rport" \
    "router d says Redis is away"

for n in a b c d; do
    eval "p=\$${n}_pid"
    stop "$p"
    expect_eq "$stop_status" 0 "router $n exits 0 on SIGTERM"
done
expect_eq "$(grep -c 'redis: cannot connect' "$tmp/d.err")" 1 \
    "router d said so once, not at every retry"
finish
