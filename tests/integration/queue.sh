#!/bin/sh
# queue.sh - `ladder serve --queue-ms`: requests over --max-concurrent wait
# for a slot (first come, first served) instead of a 503 at once.
#
# With --max-concurrent 2 and an upstream answering in 300 ms: 6 requests
# at once all succeed, 4 of them after waiting (ladder_requests_queued_total
# 4), the wait counted in their latency (the trace: the last ones take
# about 600 ms); a wait longer than --queue-ms gets the 503 with Retry-After
# (rejected as overloaded); a client that leaves while waiting is counted
# as left_queue and nothing is sent upstream for it; without --queue-ms the
# 503 comes at once as before.
#
# LADDER is the binary, TOOLS the built helper programs. Everything on
# 127.0.0.1; waits are polls.
. "$(dirname "$0")/lib/common.sh"
require_ladder

fake_pid=
ladder_pid=
cleanup_hook() {
    stop "$ladder_pid"
    stop "$fake_pid"
}

start_fake --log "$tmp/fake.log" --tokens 3 --max-lifetime 120
cat >"$tmp/policy.json" <<EOF
{"version": 1,
 "routes": {"slow": {"provider": "openai", "model": "slow/slow-ttft-300",
                     "base_url": "$fake_url",
                     "price": {"input_per_mtok": 1, "output_per_mtok": 1}},
            "slower": {"provider": "openai", "model": "slower/slow-ttft-2000",
                       "base_url": "$fake_url",
                       "price": {"input_per_mtok": 1, "output_per_mtok": 1}}},
 "workloads": {"w": {"ladder": ["slow"], "on": {"*": "next"},
                     "constraints": {"ttft_ms": 5000, "total_ms": 10000},
                     "safe_failure": {"status": 503, "message": "busy"}},
               "w2": {"ladder": ["slower"], "on": {"*": "next"},
                      "constraints": {"ttft_ms": 5000, "total_ms": 10000},
                      "safe_failure": {"status": 503, "message": "busy"}}},
 "tiers": {"free": {}}}
EOF

# serve ARGS...: (re)start ladder; sets listen and admin
serve() {
    stop "$ladder_pid"
    fresh "$tmp/ladder.out" # (not the last server's line)
    "$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
        --print-port --max-concurrent 2 --trace "$tmp/trace.jsonl" "$@" \
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
}

# burst N NAME [WORKLOAD]: N requests at once (workload w); NAME.I.hdr has
# each one's headers
burst() {
    _n=$1
    _i=1
    _pids=
    while [ "$_i" -le "$_n" ]; do
        curl -s -o "$tmp/$2.$_i.body" -D "$tmp/$2.$_i.hdr" --max-time 10 \
            -H "x-ladder-workload: ${3:-w}" -H 'content-type: application/json' \
            -d '{"model":"any","messages":[{"role":"user","content":"hi"}]}' \
            "http://$listen/v1/chat/completions" >/dev/null 2>&1 &
        _pids="$_pids $!"
        _i=$((_i + 1))
    done
    for _p in $_pids; do
        wait "$_p"
    done
}
statuses() { cat "$tmp/$1".*.hdr 2>/dev/null | sed -n 's/^HTTP\/1.1 \([0-9]*\).*/\1/p' | sort | uniq -c | tr -s ' ' | sed 's/^ //' | tr '\n' ';'; }
metric() {
    curl -s --max-time 2 "http://$admin/metrics" |
        awk -v k="$1" 'index($0, k) == 1 { n += $NF } END { print n + 0 }'
}

# ---- all wait and succeed ----
serve --queue-ms 3000
burst 6 wait
expect_eq "$(statuses wait)" "6 200;" "6 requests at once over a cap of 2, --queue-ms 3000: all 200"
expect_eq "$(metric ladder_requests_queued_total)" 4 "4 of them waited for a slot"
expect_eq "$(metric 'ladder_requests_rejected_total{reason="overloaded"}')" 0 "none was refused"
slowest=$(sed -n 's/.*"latency_ms":\([0-9.]*\).*/\1/p' "$tmp/trace.jsonl" | sort -n | tail -1)
check "the wait is in the latency: the slowest took >= 550 ms ($slowest ms)" \
    "awk -v l='${slowest:-0}' 'BEGIN { exit !(l >= 550) }'"
n_up=$(grep -c '"model":"slow/slow-ttft-300"' "$tmp/fake.log")
expect_eq "$n_up" 6 "the upstream got 6 requests, never more than 2 at once"

# ---- a wait longer than --queue-ms ----
# (the 2 in flight take 2 s: the other 4 reach the router while they last
# even when their curls start spread out on a loaded machine; with the
# 300 ms route 2 of them came after the first 2 were answered)
serve --queue-ms 100
burst 6 short w2
expect_eq "$(statuses short)" "2 200;4 503;" "--queue-ms 100: 2 answered, 4 refused after their wait"
expect_eq "$(metric 'ladder_requests_rejected_total{reason="overloaded"}')" 4 "the 4 count as overloaded"
expect_eq "$(metric ladder_requests_queued_total)" 4 "...after waiting"
check "the refusal says when to come back (Retry-After)" \
    "grep -qi '^Retry-After: [0-9]' $tmp/short.*.hdr"

# ---- a client leaving while it waits ----
serve --queue-ms 3000
before=$(grep -c . "$tmp/fake.log")
burst 2 held w2 &
held_pid=$!
in_flight_2() { [ "$(metric ladder_requests_in_flight)" -eq 2 ]; }
poll 50 in_flight_2 || not_ok "2 requests in flight" "$(metric ladder_requests_in_flight)"
curl -s -o /dev/null --max-time 0.2 -H 'x-ladder-workload: w2' \
    -H 'content-type: application/json' \
    -d '{"model":"any","messages":[{"role":"user","content":"hi"}]}' \
    "http://$listen/v1/chat/completions"
wait "$held_pid"
expect_eq "$(statuses held)" "2 200;" "the 2 in flight meanwhile are answered"
left() { [ "$(metric 'ladder_requests_rejected_total{reason="left_queue"}')" -eq 1 ]; }
if poll 50 left; then ok "a client that left while waiting is counted as left_queue"
else not_ok "a client that left while waiting is counted as left_queue" \
    "$(curl -s "http://$admin/metrics" | grep -E 'rejected|queued')"; fi
after=$(grep -c . "$tmp/fake.log")
expect_eq "$((after - before))" 2 "nothing went upstream for it"

# ---- SIGTERM while one waits: it gets the draining 503, the others finish ----
serve --queue-ms 5000
burst 2 drain w2 &
drain_pid=$!
poll 50 in_flight_2 || not_ok "2 requests in flight before the drain" "$(metric ladder_requests_in_flight)"
curl -s -o "$tmp/waiter.body" -w '%{http_code}' --max-time 10 -H 'x-ladder-workload: w2' \
    -H 'content-type: application/json' \
    -d '{"model":"any","messages":[{"role":"user","content":"hi"}]}' \
    "http://$listen/v1/chat/completions" >"$tmp/waiter.code" &
waiter_pid=$!
queued_1() { [ "$(metric ladder_requests_queued_total)" -eq 1 ]; }
poll 50 queued_1 || not_ok "a third request waits" "$(metric ladder_requests_queued_total)"
kill -TERM "$ladder_pid"
wait "$waiter_pid"
wait "$drain_pid"
expect_eq "$(cat "$tmp/waiter.code")" 503 "SIGTERM: the waiting request gets a 503"
expect_in "$tmp/waiter.body" draining "...that says the router is draining"
expect_eq "$(statuses drain)" "2 200;" "...and the 2 in flight are answered"
wait_exit "$ladder_pid"
ladder_pid=
expect_eq "$stop_status" 0 "ladder serve exits 0 after the drain"

# ---- without --queue-ms: the 503 at once ----
serve
burst 4 none
expect_eq "$(statuses none)" "2 200;2 503;" "without --queue-ms, over the cap: 503 at once"
expect_eq "$(metric ladder_requests_queued_total)" 0 "nothing waited"

stop "$ladder_pid"
ladder_pid=
expect_eq "$stop_status" 0 "ladder serve exits 0 on SIGTERM"
finish
