#!/bin/sh
# shared_quota.sh - client key limits and spend shared between two
# `ladder serve` instances through a real redis-server (README "Running it
# for users", shared limits): a key's rpm and usd_per_day stop requests
# spread over both routers at the fleet's limit (each request sent once the
# other router's view has caught up: the consistency bound is one sync
# interval), the spend a budget key made is still there when a router
# restarts, and with Redis stopped each router enforces its share
# (--fleet-size 2) and says so once, then shares again when Redis is back
# (with what it counted meanwhile); without --redis, --fleet-size alone
# gives a router its share.
#
# Starts redis-server, tools/fake_provider and the routers on 127.0.0.1;
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
rpid=
fake_pid=
cleanup_hook() {
    for p in $pids $rpid $fake_pid; do
        stop "$p"
    done
}

# ---- redis-server on a free port ------------------------------------------

free_port() {
    node -e 'const s = require("net").createServer();
             s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
# start_redis PORT: 0 when it answers
start_redis() {
    redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no >>"$tmp/redis.log" 2>&1 &
    rpid=$!
    if poll 50 redis-cli -h 127.0.0.1 -p "$1" ping; then
        return 0
    fi
    kill "$rpid" 2>/dev/null
    wait "$rpid" 2>/dev/null
    rpid=
    return 1
}
rport=
for try in 1 2 3; do
    p=$(free_port) || break
    if start_redis "$p"; then
        rport=$p
        break
    fi
done
if [ -z "$rport" ]; then
    not_ok "redis-server starts" "$(tail -5 "$tmp/redis.log")"
    finish
fi
ok "redis-server is up on port $rport"
rcli() { redis-cli -h 127.0.0.1 -p "$rport" "$@"; }

# ---- the fake provider, the policy and the keys ------------------------------

start_fake --log "$tmp/fake.log" --tokens 5 --max-lifetime 180
U=$fake_url
{
    echo '{"version": 1, "keys_file": "keys.jsonl", "routes": {'
    printf '  "r": {"provider": "openai", "model": "r/healthy", "base_url": "%s", "price": {"input_per_mtok": 2, "output_per_mtok": 8}}' "$U"
    echo '}, "workloads": {'
    echo '  "chat": {"ladder": ["r"], "on": {"*": "next"}, "safe_failure": {"status": 503, "message": "busy"}}'
    echo '}, "tiers": {"paid": {}}}'
} >"$tmp/policy.json"

newkey() {
    _n=$1
    shift
    if "$LADDER" key new --tier paid --workloads all "$@" >"$tmp/$_n.new" 2>"$tmp/$_n.newerr"; then
        sed -n 1p "$tmp/$_n.new" >"$tmp/$_n.secret"
        sed -n 2p "$tmp/$_n.new" >>"$tmp/keys.jsonl"
    else
        not_ok "ladder key new $*" "$(cat "$tmp/$_n.newerr")"
    fi
}
newkey rpm --id rpm-6 --rpm 6
newkey budget --id budget-1 --usd-per-day 0.0003
newkey solo --id solo-1 --usd-per-day 0.0003
newkey local --id local-4 --rpm 4
newkey alone --id alone-4 --rpm 4

P="t$$"
# serve NAME [ARGS]: start a router (on Redis unless ARGS say otherwise);
# sets NAME_url, NAME_admin, NAME_pid
serve() {
    name=$1
    shift
    [ $# -gt 0 ] || set -- --redis "127.0.0.1:$rport" --redis-prefix "$P"
    fresh "$tmp/$name.out" # (a restart: not the last one's line)
    "$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --print-port \
        --fleet-size 2 --quota-sync-ms 50 "$@" >"$tmp/$name.out" 2>>"$tmp/$name.err" &
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

# ask URL KEY: one chat request with KEY's secret; prints the status
ask() {
    curl -s -o "$tmp/body" -w '%{http_code}' --max-time 10 "$1/v1/chat/completions" \
        -H 'content-type: application/json' \
        -H "Authorization: Bearer $(cat "$tmp/$2.secret")" \
        -d '{"model": "auto", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}' \
        2>/dev/null
}
# metric ADMIN SERIES: its value (empty if absent)
metric() {
    curl -s --max-time 5 "$1/metrics" |
        awk -v s="$2 " 'index($0, s) == 1 { print $NF; exit }'
}
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }
used() { metric "$1" "ladder_key_limit_used{key=\"$2\",limit=\"$3\"}"; }
# same KEY LIMIT: both routers see the same use of KEY's LIMIT
same() { [ -n "$(used "$a_admin" "$1" "$2")" ] && [ "$(used "$a_admin" "$1" "$2")" = "$(used "$b_admin" "$1" "$2")" ]; }
# not_near_minute_end: rpm windows are whole UTC minutes
not_near_minute_end() {
    _i=0
    while [ "$(date -u +%S)" -ge 45 ] && [ $_i -lt 200 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
}

serve a
serve b
shared_limits="ladder_key_limits_shared"
if poll 50 metric_is "$a_admin" "$shared_limits" 1 &&
    poll 50 metric_is "$b_admin" "$shared_limits" 1; then
    ok "both routers share key limits through Redis (gauge $shared_limits 1)"
else
    not_ok "both routers share key limits through Redis" "$(cat "$tmp/a.err" "$tmp/b.err")"
fi

# ---- rpm 6 across both routers ---------------------------------------------

not_near_minute_end
codes=
n=0
for n in 1 2 3 4 5 6 7 8; do
    if [ $((n % 2)) = 1 ]; then url=$a_url; else url=$b_url; fi
    codes="$codes $(ask "$url" rpm)"
    poll 50 same rpm-6 rpm
done
expect_eq "$codes" " 200 200 200 200 200 200 429 429" \
    "rpm 6, requests alternating between the routers: 6 served in all, then 429"
expect_eq "$(used "$a_admin" rpm-6 rpm) $(used "$b_admin" rpm-6 rpm)" "6 6" \
    "...and both routers count the fleet's 6 requests this minute"
expect_in "$tmp/body" '"code":"rate_limit_exceeded"' "...the 429 says rate_limit_exceeded"

# ---- usd_per_day across both routers -----------------------------------------

# what one router alone serves of a 0.0003 USD budget
solo=0
for n in 1 2 3 4 5 6 7 8 9 10 11 12; do
    [ "$(ask "$a_url" solo)" = 200 ] || break
    solo=$((solo + 1))
done
check "one router alone serves a few requests of a 0.0003 USD budget ($solo)" \
    "[ $solo -ge 3 ] && [ $solo -le 8 ]"
# the same budget, requests alternating between the routers
fleet=0
last=
for n in 1 2 3 4 5 6 7 8 9 10 11 12; do
    if [ $((n % 2)) = 1 ]; then url=$a_url; else url=$b_url; fi
    last=$(ask "$url" budget)
    [ "$last" = 200 ] || break
    fleet=$((fleet + 1))
    poll 50 same budget-1 usd_per_day
done
expect_eq "$fleet" "$solo" "the same budget spread over both routers serves as many ($fleet)"
expect_eq "$last" 429 "...then stops spend with 429"
expect_in "$tmp/body" '"limit":"usd_per_day"' "...naming usd_per_day"
day=$(($(date -u +%s) / 86400))
uusd=$(rcli get "$P:q:budget-1:d:$day")
check "Redis holds the fleet's spend in micro-dollars, within the budget ($uusd <= 300)" \
    "[ -n '$uusd' ] && [ '$uusd' -gt 0 ] && [ '$uusd' -le 300 ]"
ttl=$(rcli pttl "$P:q:budget-1:d:$day")
check "...in a key that expires after the day ($ttl ms)" \
    "[ '${ttl:-0}' -gt 86400000 ]"

# ---- a restarted router reads the spend back ---------------------------------

stop "$b_pid"
expect_eq "$stop_status" 0 "router b exits 0 on SIGTERM"
serve b
if poll 50 metric_is "$b_admin" "$shared_limits" 1; then
    ok "the restarted router b shares key limits again"
else
    not_ok "the restarted router b shares key limits again" "$(cat "$tmp/b.err")"
fi
expect_eq "$(ask "$b_url" budget)" 429 "...and refuses the spent budget key at once"
check "...its view of the day's spend is the fleet's ($(used "$b_admin" budget-1 usd_per_day))" \
    "[ \"\$(used '$b_admin' budget-1 usd_per_day)\" = \"\$(used '$a_admin' budget-1 usd_per_day)\" ]"

# ---- Redis away: each router its share ---------------------------------------

stop "$rpid"
rpid=
if poll 100 grep -q 'client key limits are enforced locally' "$tmp/a.err"; then
    ok "router a says key limits are enforced locally"
else
    not_ok "router a says key limits are enforced locally" "$(cat "$tmp/a.err")"
fi
expect_eq "$(metric "$a_admin" "$shared_limits")" 0 "...gauge $shared_limits 0"
not_near_minute_end
codes=
for n in 1 2 3; do
    codes="$codes $(ask "$a_url" local)"
done
expect_eq "$codes" " 200 200 429" "rpm 4 with --fleet-size 2: router a takes its share, 2"
codes=
for n in 1 2 3; do
    codes="$codes $(ask "$b_url" local)"
done
expect_eq "$codes" " 200 200 429" "...and router b its own 2"
expect_eq "$(grep -c 'client key limits are enforced locally' "$tmp/a.err")" 1 \
    "router a said so once"

# ---- Redis back: shared again ------------------------------------------------

if start_redis "$rport"; then
    if poll 150 metric_is "$a_admin" "$shared_limits" 1; then
        ok "with Redis back, router a shares key limits again"
    else
        not_ok "with Redis back, router a shares key limits again" "$(cat "$tmp/a.err")"
    fi
    expect_eq "$(grep -c 'client key limits are shared across the fleet' "$tmp/a.err")" 2 \
        "...and says so (at start and now)"
    # what the routers counted while Redis was away went to it when it came back
    poll 50 same local-4 rpm
    expect_eq "$(used "$a_admin" local-4 rpm)" 4 \
        "the 4 requests served while Redis was away reach the fleet's count"
else
    skip "Redis back: its port $rport was taken meanwhile"
fi

# ---- without Redis, --fleet-size alone gives each router its share ----------

serve c --seed 1
not_near_minute_end
codes=
for n in 1 2 3; do
    codes="$codes $(ask "$c_url" alone)"
done
expect_eq "$codes" " 200 200 429" "without --redis, rpm 4 and --fleet-size 2: 2 served, then 429"
expect_eq "$(metric "$c_admin" "$shared_limits")" 0 "...gauge $shared_limits 0"

for n in a b c; do
    eval "p=\$${n}_pid"
    stop "$p"
    expect_eq "$stop_status" 0 "router $n exits 0 on SIGTERM"
done
pids=
finish
