#!/bin/sh
# parity.sh - the two hosts of the routing core make the same decisions: for
# a deterministic scenario, `ladder serve` against the fake provider and
# `ladder sim` log the same sequence of decisions.
#
# The policy (tests/data/parity/policy.json) has four ladders of three
# routes whose answers are fixed per request in both worlds:
#   chat       primary always 503 (fake "down"; sim errors {"overloaded": 1});
#              its breaker opens on its 5th failure and stays open, so the
#              chat requests after that skip it (circuit_open);
#              ctx always 400 context_length_exceeded (fake "context"; sim
#              errors {"context_length": 1}): next_larger_context;
#              flaky 500 on its first request only (fake "flaky-once"; in
#              the sim an error fault whose window holds just that
#              attempt), retried once; then it answers;
#   transport  silent never answers (fake "silent"; sim errors
#              {"timeout_ttft": 1}): the 500 ms TTFT ceiling cancels it;
#              reset resets the connection (fake "reset"; sim errors
#              {"reset": 1}); healthy answers;
#   refusals   limited 429 with Retry-After: 600 (fake "ratelimit-ra-600";
#              sim errors {"rate_limited": 1}, retry_after_s 600): too far
#              to wait, so next, and the route stays blocked for the rest
#              of the run; auth 401 (fake "auth", no key sent; sim errors
#              {"auth_error": 1}); blocked 400 content_policy_violation
#              (fake "content"; sim errors {"content_blocked": 1}): fail,
#              the safe failure (400);
#   streams    (streamed) cut sends 3 tokens and closes the stream (fake
#              "cut-3"; sim a stream_cut fault after 3 tokens); the
#              workload allows one continuation: plain takes no prefill
#              (skipped), cont (Anthropic) finishes the answer from it;
#   split      one weighted rung of two healthy routes, sa and sb: each
#              request's route is drawn from the core's RNG, which both
#              hosts seed alike (below), so both draw the same routes.
# The requests of tests/data/parity/arrivals.jsonl (20 chat, 3 transport,
# 2 refusals, 1 streams, 8 split) go to `ladder serve` one after another, in the same order,
# through the openai SDK (tests/integration/node/parity_client.mjs); the
# simulator runs tests/data/parity/scenario.json on those rows, one second
# apart, each over long before the next. Both event logs are reduced to their decisions
# (tests/integration/node/parity_norm.mjs: type, route, class, target,
# attempt number, status, cancel reason, outcome, breaker moves; no times,
# ids, durations, delays, timeouts, tokens or costs) and must be identical;
# a failure prints the diff. The decisions are also checked to take the
# paths the test is about (so that two equally broken hosts do not pass),
# and the fake provider's log to hold exactly the attempts the live log
# records.
#
# LADDER is the binary, TOOLS the built helper programs (fake_provider).
# Needs node and npm (`npm ci` in tests/integration/node when node_modules
# is missing). Prints ok / not ok lines; exits 1 on any failure. Everything
# on 127.0.0.1; readiness is polled, never slept for.
. "$(dirname "$0")/lib/common.sh"
require_ladder
NODE_DIR=$root/tests/integration/node
DATA=$root/tests/data/parity
# the workload of each request, in order; the scenario's "requests" is
# their count
workloads=$(sed -n 's/.*"workload": *"\([a-z]*\)".*/\1/p' "$DATA/arrivals.jsonl")
N=$(printf '%s\n' "$workloads" | grep -c .)

require_sdk
fake_pid=
ladder_pid=
cleanup_hook() {
    stop "$ladder_pid"
    stop "$fake_pid"
}

# ---- the live router against the fake provider ------------------------------

start_fake --log "$tmp/fake.log" --tokens 5 --max-lifetime 120

sed "s#@FAKE_URL@#$fake_url#g" "$DATA/policy.json" >"$tmp/policy.json"
run check check "$tmp/policy.json"
if [ "$(cat "$tmp/check.rc")" -ne 0 ]; then
    not_ok "the parity policy loads" "$(cat "$tmp/check.err")"
    exit 1
fi

# the core's RNG as the simulator seeds it for the scenario's seed 1
# (sim.c: mix64(seed ^ 0xc3); GSL's mt19937 keeps the low 32 bits)
core_seed=$(node -e '
const M = (1n << 64n) - 1n;
let x = 1n ^ 0xc3n;
x ^= x >> 30n; x = (x * 0xbf58476d1ce4e5b9n) & M;
x ^= x >> 27n; x = (x * 0x94d049bb133111ebn) & M;
x ^= x >> 31n;
console.log(String(x & 0xffffffffn));')
"$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --print-port \
    --events "$tmp/live.jsonl" --trace "$tmp/live.trace" --seed "$core_seed" \
    >"$tmp/ladder.out" 2>"$tmp/ladder.err" &
ladder_pid=$!
if ! addr=$(wait_line "$tmp/ladder.out" \
    's/^listening on \([0-9.]*:[0-9]*\) admin [0-9.]*:[0-9]*$/\1/p' "$ladder_pid"); then
    not_ok "ladder serve prints its port" "$(cat "$tmp/ladder.err")"
    exit 1
fi

# shellcheck disable=SC2086 # one argument per workload
LADDER_URL=http://$addr/v1 node "$NODE_DIR/parity_client.mjs" free $workloads \
    >"$tmp/client.out" 2>&1
client_rc=$?
# (a stream's headers name the route it started on: cut)
answered=$(grep -cE '^[0-9]+ (chat 200 flaky|transport 200 healthy|refusals 400|streams 200 cut|split 200 s[ab]) ' \
    "$tmp/client.out")
grep -q '^# [0-9]* streams: the continued answer' "$tmp/client.out" && answered=-1
want_answers="chat 200 from flaky, transport 200 from healthy, refusals 400, streams 200 whole after a continuation, split 200 from sa or sb"
if [ "$client_rc" -eq 0 ] && [ "$answered" -eq "$N" ]; then
    ok "ladder serve answers all $N requests ($want_answers)"
else
    not_ok "ladder serve answers all $N requests ($want_answers; client exit $client_rc)" \
        "$(head -n 30 "$tmp/client.out")"
fi

# SIGTERM: nothing in flight; the event log is complete once it exits
stop "$ladder_pid"
ladder_pid=
if [ "$stop_status" = 0 ]; then
    ok "ladder serve exits 0 on SIGTERM"
else
    not_ok "ladder serve exits 0 on SIGTERM (got $stop_status)" "$(tail -n 5 "$tmp/ladder.err")"
fi
# and the fake, which logs a call once it is over (the cancelled calls to
# silent as the router hangs up): its log is complete once it exits
stop "$fake_pid"
fake_pid=
[ "$stop_status" = 0 ] || not_ok "the fake provider exits 0 on SIGTERM (got $stop_status)" \
    "$(tail -n 5 "$tmp/fake.err")"

# ---- the simulator ------------------------------------------------------------

run sim sim "$DATA/scenario.json" --policy "$tmp/policy.json" --out "$tmp/sim" \
    --trace "$tmp/sim.trace" --no-progress
expect_rc sim 0 "ladder sim runs the parity scenario"

# ---- the decisions ------------------------------------------------------------

# shape FILE: counts of the decisions the test is about, in a normalised
# log, as "name=count ..."
shape() {
    printf 'requests=%s ' "$(grep -c ' request [a-z]*/free$' "$1")"
    printf 'successes=%s ' "$(grep -c ' done success ' "$1")"
    printf 'safe_failures=%s ' "$(grep -c ' done failed - 400 attempts=[0-9]* class=content_blocked$' "$1")"
    printf 'breaker_opens=%s ' "$(grep -c ' breaker primary closed -> open$' "$1")"
    printf 'opened_on=%s ' "$(sed -n 's/^\([0-9]*\) breaker primary closed -> open$/\1/p' "$1" | tr '\n' ' ' | sed 's/ $//')"
    printf 'circuit_open_skips=%s ' "$(grep -c ' skip primary circuit_open$' "$1")"
    printf 'primary_503s=%s ' "$(grep -c ' result #[0-9]* primary overloaded 503$' "$1")"
    printf 'context_length_fallbacks=%s ' "$(grep -c ' fallback #[0-9]* ctx -> flaky context_length$' "$1")"
    printf 'retries=%s ' "$(grep -c ' retry ' "$1")"
    printf 'retried_first_try_of_1=%s ' "$(grep -c '^1 retry #4 flaky server_error$' "$1")"
    printf 'timeout_cancels=%s ' "$(grep -c ' cancel #1 silent timeout$' "$1")"
    printf 'ttft_timeouts=%s ' "$(grep -c ' result #1 silent timeout_ttft -$' "$1")"
    printf 'resets=%s ' "$(grep -c ' result #2 reset reset -$' "$1")"
    printf 'limited_429s=%s ' "$(grep -c ' result #1 limited rate_limited 429$' "$1")"
    printf 'rate_limited_skips=%s ' "$(grep -c ' skip limited rate_limited$' "$1")"
    printf 'auth_401s=%s ' "$(grep -c ' result #[0-9]* auth auth_error 401$' "$1")"
    printf 'content_blocked=%s ' "$(grep -c ' result #[0-9]* blocked content_blocked 400$' "$1")"
    printf 'stream_cuts=%s ' "$(grep -c ' result #1 cut stream_cut 200$' "$1")"
    printf 'continued_on_cont=%s' "$(grep -c ' attempt #2 cont resume$' "$1")"
}

norm() { # NAME EVENTS: $tmp/NAME.norm; not_ok and status 1 if it fails
    if ! node "$NODE_DIR/parity_norm.mjs" "$2" >"$tmp/$1.norm" 2>&1; then
        not_ok "the $1 event log reads" "$(head -n 20 "$tmp/$1.norm")"
        return 1
    fi
}
if norm sim "$tmp/sim/events.jsonl" && norm live "$tmp/live.jsonl"; then
    if diff -u "$tmp/sim.norm" "$tmp/live.norm" >"$tmp/norm.diff"; then
        ok "sim and serve log the same $(wc -l <"$tmp/sim.norm") decisions for $N requests"
    else
        not_ok "sim and serve log the same decisions (- sim, + serve)" \
            "$(head -n 60 "$tmp/norm.diff")"
    fi

    # the decisions are the ones the test is about, in both logs (if the
    # logs differ, this says which one went wrong)
    for h in sim live; do
        expect_eq "$(shape "$tmp/$h.norm")" "requests=$N successes=$((N - 2)) safe_failures=2 \
breaker_opens=1 opened_on=6 circuit_open_skips=15 primary_503s=5 \
context_length_fallbacks=20 retries=1 retried_first_try_of_1=1 \
timeout_cancels=3 ttft_timeouts=3 resets=3 limited_429s=1 rate_limited_skips=1 \
auth_401s=2 content_blocked=2 stream_cuts=1 continued_on_cont=1" \
            "$h: the decisions take the paths the test is about"
    done

    # the split's 8 requests, one attempt each, went to both of its routes
    # (the same ones in both logs: the diff above)
    for h in sim live; do
        sa=$(grep -c ' attempt #1 sa$' "$tmp/$h.norm")
        sb=$(grep -c ' attempt #1 sb$' "$tmp/$h.norm")
        if [ "$((sa + sb))" -eq 8 ] && [ "$sa" -gt 0 ] && [ "$sb" -gt 0 ]; then
            ok "$h: the weighted rung sends its 8 requests to both routes (sa $sa, sb $sb)"
        else
            not_ok "$h: the weighted rung sends its 8 requests to both routes" "sa $sa, sb $sb"
        fi
    done

    # the fake saw one call per attempt of the live log: the same request,
    # attempt number and route (curl may send a call twice on a reused
    # connection that died: the pair counts once)
    if out=$(node -e '
const fs = require("fs");
const rd = (p) => fs.readFileSync(p, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const logged = new Set(), seen = new Set();
for (const e of rd(process.argv[1]))
    if (e.type === "attempt") logged.add(`r-${e.req} #${e.attempt} ${e.route}`);
for (const l of rd(process.argv[2]))
    seen.add(`${l.headers?.["x-ladder-request-id"]} #${l.headers?.["x-ladder-attempt"]} ` +
             String(l.model ?? "").split("/")[0]);
const a = [...logged].filter((x) => !seen.has(x)), b = [...seen].filter((x) => !logged.has(x));
if (a.length) console.log("attempts the fake did not see: " + a.slice(0, 10).join(", "));
if (b.length) console.log("calls the event log lacks: " + b.slice(0, 10).join(", "));
if (!logged.size) console.log("no attempts in the event log");
' "$tmp/live.jsonl" "$tmp/fake.log" 2>&1) && [ -z "$out" ]; then
        ok "the fake provider saw exactly the attempts of the live event log"
    else
        not_ok "the fake provider saw exactly the attempts of the live event log" "$out"
    fi
fi

# ---- the traces: one module (router/ld_trace.c) writes both ---------------------

tnorm() { # NAME TRACE: $tmp/NAME.tnorm; not_ok and status 1 if it fails
    if ! node "$NODE_DIR/trace_norm.mjs" "$2" >"$tmp/$1.tnorm" 2>&1; then
        not_ok "the $1 trace reads" "$(head -n 20 "$tmp/$1.tnorm")"
        return 1
    fi
}
if tnorm sim "$tmp/sim.trace" && tnorm live "$tmp/live.trace"; then
    expect_eq "$(wc -l <"$tmp/live.tnorm" | tr -d ' ')" "$N" "serve traces all $N requests"
    if diff -u "$tmp/sim.tnorm" "$tmp/live.tnorm" >"$tmp/tnorm.diff"; then
        ok "sim and serve write the same trace lines for the same decisions"
    else
        not_ok "sim and serve write the same trace lines (- sim, + serve)" \
            "$(head -n 40 "$tmp/tnorm.diff")"
    fi
    # and the lines hold the paths the test is about
    expect_in "$tmp/live.tnorm" "chat/free success flaky 200 overloaded fell_back=true | primary overloaded 503 ; ctx context_length 400 ; flaky server_error 500 ; flaky none 200" \
        "the trace of the first chat request holds its four attempts"
    expect_in "$tmp/live.tnorm" "silent timeout_ttft 0 cancelled" \
        "the trace records a TTFT timeout as a cancelled attempt"
fi

if [ "$failed" -gt 0 ]; then
    echo "# parity: ladder serve stderr:"
    tail -n 20 "$tmp/ladder.err" | sed 's/^/    # /'
fi
finish
