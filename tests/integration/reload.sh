#!/bin/sh
# reload.sh - SIGHUP and the drain limit of `ladder serve` (README
# "Running it for users"):
#   - under a bounded load (the official openai SDK, streaming and not,
#     tests/integration/node/reload_load.mjs), 10 SIGHUPs alternate between
#     two valid policies (another timeout, an added route, a route whose
#     upstream changed), plus a policy that does not load and a keys file
#     that does not: no request fails or is reset, every request has
#     exactly one trace line, ladder_config_generation goes up by exactly
#     the valid reloads, the refused ones are logged with their place and
#     the running configuration kept;
#   - health carries over: a route blocked by a 429 Retry-After before the
#     reloads is still skipped after them (the fake never sees it again),
#     while a route whose upstream changed is tried at once;
#   - the drain limit: a stream and a whole answer still running when
#     --drain-s ends get a clean error (an SSE error event; a 503 JSON),
#     and the trace and events record them as failed by shutdown, not as
#     users who left;
#   - shared health through a real redis-server keeps working after a
#     reload that moved the routes' indices (news go by route id, both
#     ways).
# Everything on 127.0.0.1, ports 0; readiness polled, never slept for.
. "$(dirname "$0")/lib/common.sh"
require_ladder
require_sdk
NODE_DIR=$root/tests/integration/node

fake_pid=
ladder_pid=
load_pid=
cleanup_hook() {
    stop "$load_pid"
    stop "$ladder_pid"
    stop "$fake_pid"
}

start_fake --log "$tmp/fake.log" --tokens 5 --max-lifetime 200
U=$fake_url

# policy FILE TOTAL_MS MOVING_MODEL EXTRA_ROUTE(yes/no) [KEYS_FILE]
policy() {
    {
        echo '{"version": 1,'
        [ -n "${5:-}" ] && echo "  \"keys_file\": \"$5\","
        echo '  "health": {"max_retry_after_s": 600},'
        echo '  "routes": {'
        printf '    "rl": {"provider": "openai", "model": "rl/ratelimit-ra-300", "base_url": "%s", "price": {"input_per_mtok": 1, "output_per_mtok": 1}},\n' "$U"
        printf '    "moving": {"provider": "openai", "model": "%s", "base_url": "%s", "price": {"input_per_mtok": 1, "output_per_mtok": 1}},\n' "$3" "$U"
        [ "$4" = yes ] &&
            printf '    "extra": {"provider": "openai", "model": "extra/healthy", "base_url": "%s", "price": {"input_per_mtok": 1, "output_per_mtok": 1}},\n' "$U"
        printf '    "main": {"provider": "openai", "model": "main/slow-ttft-150", "base_url": "%s", "price": {"input_per_mtok": 1, "output_per_mtok": 1}},\n' "$U"
        printf '    "long": {"provider": "openai", "model": "long/stall-2-30000", "base_url": "%s", "price": {"input_per_mtok": 1, "output_per_mtok": 1}},\n' "$U"
        printf '    "longw": {"provider": "openai", "model": "longw/slow-ttft-30000", "base_url": "%s", "price": {"input_per_mtok": 1, "output_per_mtok": 1}}\n' "$U"
        echo '  }, "workloads": {'
        printf '    "chat": {"ladder": ["rl", "main"], "on": {"*": "next"}, "constraints": {"ttft_ms": 5000, "total_ms": %s}, "safe_failure": {"status": 503, "message": "busy"}},\n' "$2"
        echo '    "mv": {"ladder": ["moving", "main"], "on": {"*": "next"}, "constraints": {"ttft_ms": 5000, "total_ms": 10000}, "safe_failure": {"status": 503, "message": "busy"}},'
        echo '    "long": {"ladder": ["long"], "on": {"*": "fail"}, "constraints": {"ttft_ms": 40000, "total_ms": 60000, "stall_ms": 40000}, "safe_failure": {"status": 503, "message": "busy"}},'
        echo '    "longw": {"ladder": ["longw"], "on": {"*": "fail"}, "constraints": {"ttft_ms": 40000, "total_ms": 60000}, "safe_failure": {"status": 503, "message": "busy"}}'
        echo '  }, "tiers": {"paid": {}}'
        echo '}'
    } >"$1"
}

policy "$tmp/a.json" 10000 mv/ratelimit-ra-300 no
policy "$tmp/b.json" 12000 mv/healthy yes
for f in a b; do
    if ! "$LADDER" check "$tmp/$f.json" >"$tmp/check_$f.out" 2>&1; then
        not_ok "test policy $f loads" "$(cat "$tmp/check_$f.out")"
        exit 1
    fi
done
# one that does not load (a provider no adapter has, at a JSON path), and a
# valid policy naming a keys file whose second line is wrong
sed 's/"provider": "openai", "model": "extra\/healthy"/"provider": "gemini-x", "model": "extra\/healthy"/' \
    "$tmp/b.json" >"$tmp/bad_policy.json"
policy "$tmp/bad_keys.json" 10000 mv/healthy no keys.jsonl
printf '# keys\n{"id": "k1", "sha256": "nothex", "tier": "paid", "workloads": "all"}\n' \
    >"$tmp/keys.jsonl"

cp "$tmp/a.json" "$tmp/policy.json"
# put FILE: the policy SIGHUP will read (replaced in one rename)
put() {
    cp "$1" "$tmp/policy.next" && mv "$tmp/policy.next" "$tmp/policy.json"
}

"$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --print-port \
    --events "$tmp/events.jsonl" --trace "$tmp/trace.jsonl" \
    >"$tmp/serve.out" 2>"$tmp/serve.err" &
ladder_pid=$!
if ! addr=$(wait_line "$tmp/serve.out" \
    's/^listening on \([0-9.]*:[0-9]*\) admin \([0-9.]*:[0-9]*\)$/\1 \2/p' \
    "$ladder_pid"); then
    not_ok "ladder serve prints its ports" "$(cat "$tmp/serve.err")"
    exit 1
fi
listen=${addr% *}
admin=${addr#* }
export LADDER_URL=http://$listen/v1

# metric NAME: the value of a series (NAME with its labels), or empty
metric() {
    curl -s --max-time 2 "http://$admin/metrics" 2>/dev/null |
        grep -F "$1 " | sed -n 's/^[^ ]* \([0-9.]*\)$/\1/p' | head -n 1
}
# seen PREFIX: requests the fake logged for models starting with PREFIX
seen() {
    grep -c "\"model\":\"$1" "$tmp/fake.log" 2>/dev/null || true
}
# reloads: reload log lines so far (applied or refused)
reloads() {
    grep -c 'SIGHUP: reload' "$tmp/serve.err" 2>/dev/null || true
}
# hup N: send SIGHUP and poll until the Nth reload line is there
hup() {
    kill -HUP "$ladder_pid"
    _i=0
    while [ "$(reloads)" -lt "$1" ] && [ $_i -lt 100 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    [ "$(reloads)" -ge "$1" ]
}

expect_eq "$(metric ladder_config_generation)" 1 "generation 1 at start"

# ---- before the reloads: rl and moving blocked by a 429 Retry-After 300 s ----
node "$NODE_DIR/reload_probe.mjs" chat:whole mv:whole >"$tmp/prime.out" 2>&1
if [ "$(grep -c '"status":200,"route":"main","fallback":"rate_limited"' "$tmp/prime.out")" -eq 2 ]; then
    ok "a 429 with Retry-After on rl and on moving: both requests served by main"
else
    not_ok "a 429 with Retry-After on rl and on moving: both requests served by main" \
        "$(cat "$tmp/prime.out")"
fi
rl_before=$(seen rl/)
expect_eq "$rl_before" 1 "the fake saw rl once"

# ---- under load: 10 valid reloads, alternating, and 2 refused -----------------
STOP_FILE=$tmp/stop WORKERS=6 node "$NODE_DIR/reload_load.mjs" \
    >"$tmp/load.out" 2>&1 &
load_pid=$!
# main_at_least N: the fake has answered N requests on main
main_at_least() {
    test "$(seen main/)" -ge "$1"
}
poll 200 main_at_least 10 ||
    not_ok "the load reaches the fake provider" "$(cat "$tmp/load.out")"

n=0
mv_after=
for i in 1 2 3 4 5 6 7 8 9 10; do
    if [ $((i % 2)) -eq 1 ]; then put "$tmp/b.json"; else put "$tmp/a.json"; fi
    n=$((n + 1))
    hup $n || not_ok "reload $i is logged" "$(tail -3 "$tmp/serve.err")"
    if [ $i -eq 1 ]; then
        # moving's upstream changed (mv/ratelimit-ra-300 -> mv/healthy): its
        # block is not carried, so it is tried at once
        node "$NODE_DIR/reload_probe.mjs" mv:whole >"$tmp/mv.out" 2>&1
        mv_after=$(cat "$tmp/mv.out")
    fi
    if [ $i -eq 5 ]; then
        put "$tmp/bad_policy.json"
        n=$((n + 1))
        hup $n || not_ok "the bad policy's reload is logged"
        put "$tmp/bad_keys.json"
        n=$((n + 1))
        hup $n || not_ok "the bad keys file's reload is logged"
        expect_eq "$(metric ladder_config_generation)" 6 \
            "refused reloads keep the generation (6 after 5 valid ones)"
    fi
    # let some requests run on this generation before the next reload
    poll 100 main_at_least $(($(seen main/) + 6)) ||
        not_ok "requests run between reloads $((i - 1)) and $i"
done
touch "$tmp/stop"
_i=0
while kill -0 "$load_pid" 2>/dev/null && [ $_i -lt 300 ]; do
    sleep 0.1
    _i=$((_i + 1))
done
wait "$load_pid" 2>/dev/null
load_pid=

loaded=$(sed -n 's/.*"total":\([0-9]*\).*/\1/p' "$tmp/load.out")
json_js "the load ran ($loaded requests, streams and whole answers, 6 at a time) and none failed or was reset" \
    "$tmp/load.out" '
    want(j.total >= 60, `only ${j.total} requests`);
    want(j.streams > 0 && j.streams < j.total, `streams ${j.streams} of ${j.total}`);
    want(j.failed === 0 && j.ok === j.total,
         `${j.failed} failed: ${JSON.stringify(j.failures)}`);'
case $mv_after in
*'"status":200,"route":"moving"'*)
    ok "a route whose upstream changed is not skipped after the reload" ;;
*) not_ok "a route whose upstream changed is not skipped after the reload" "$mv_after" ;;
esac
expect_eq "$(seen rl/)" "$rl_before" \
    "rl, blocked by its Retry-After before the reloads, was never tried again"
expect_eq "$(metric ladder_config_generation)" 11 \
    "ladder_config_generation is 11 after 10 valid reloads"
expect_eq "$(metric 'ladder_config_reloads_total{result="ok"}')" 10 \
    "ladder_config_reloads_total{result=\"ok\"} 10"
expect_eq "$(metric 'ladder_config_reloads_total{result="error"}')" 2 \
    "ladder_config_reloads_total{result=\"error\"} 2"
expect_re "$tmp/serve.err" \
    'SIGHUP: reload refused, generation 6 kept: .*policy\.json: routes\.extra\.provider: unknown provider' \
    "the bad policy is refused, naming its JSON path"
expect_re "$tmp/serve.err" \
    'SIGHUP: reload refused, generation 6 kept: .*keys\.jsonl:2' \
    "the bad keys file is refused, naming its line"
expect_re "$tmp/serve.err" \
    'SIGHUP: reloaded, generation 2: routes 5 kept, 1 added, 0 removed; health carried for 4' \
    "the first reload logs routes kept, added, removed and health carried"
expect_re "$tmp/serve.err" \
    'SIGHUP: reloaded, generation 3: routes 5 kept, 0 added, 1 removed' \
    "a reload that drops a route says so"
# the metrics went on across reloads: every request of the load, the probes
# and the primers is counted once
total_done=$(curl -s --max-time 2 "http://$admin/metrics" |
    sed -n 's/^ladder_requests_total{[^}]*} \([0-9]*\)$/\1/p' |
    awk '{s += $1} END {print s + 0}')
expect_eq "$total_done" "$((loaded + 3))" \
    "ladder_requests_total went on across the reloads (load + 3 probes)"

# every request: exactly one trace line, one done event, ids unique
js "every request has exactly one trace line and one done event" '
    const fs = require("fs");
    const lines = (f) => fs.readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const tr = lines(process.argv[1]), ev = lines(process.argv[2]);
    const load = JSON.parse(fs.readFileSync(process.argv[3], "utf8").trim().split("\n").pop());
    const ids = new Set(tr.map((l) => l.id));
    if (ids.size !== tr.length) console.log(`${tr.length - ids.size} duplicate trace ids`);
    if (tr.length !== load.total + 3) console.log(`${tr.length} trace lines for ${load.total + 3} requests`);
    for (const id of load.ids) if (!ids.has(id)) { console.log(`no trace line for ${id}`); break; }
    const done = ev.filter((e) => e.type === "done");
    if (done.length !== tr.length) console.log(`${done.length} done events for ${tr.length} trace lines`);
    const bad = tr.filter((l) => l.outcome !== "success");
    if (bad.length) console.log(`${bad.length} not successful: ${JSON.stringify(bad[0])}`);
' "$tmp/trace.jsonl" "$tmp/events.jsonl" "$tmp/load.out"
check "the process is still running after every SIGHUP" "kill -0 $ladder_pid"
stop "$ladder_pid"
ladder_pid=
expect_eq "$stop_status" 0 "ladder exits 0 on SIGTERM after the reloads"

# ---- the drain limit: a clean error, recorded as failed by shutdown ---------
put "$tmp/a.json"
: >"$tmp/trace2.jsonl"
"$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --print-port \
    --events "$tmp/events2.jsonl" --trace "$tmp/trace2.jsonl" --drain-s 1 \
    >"$tmp/serve2.out" 2>"$tmp/serve2.err" &
ladder_pid=$!
if ! addr=$(wait_line "$tmp/serve2.out" \
    's/^listening on \([0-9.]*:[0-9]*\) admin \([0-9.]*:[0-9]*\)$/\1 \2/p' \
    "$ladder_pid"); then
    not_ok "ladder serve --drain-s 1 prints its ports" "$(cat "$tmp/serve2.err")"
    finish
fi
listen=${addr% *}
LADDER_URL=http://$listen/v1 node "$NODE_DIR/reload_probe.mjs" \
    long:stream longw:whole >"$tmp/drain.out" 2>&1 &
load_pid=$!
# both requests reached their attempts (the stream's 2 tokens come at once;
# the 1 s drain leaves them time to arrive)
attempts2() {
    test "$(grep -c '"type":"attempt"' "$tmp/events2.jsonl" 2>/dev/null)" -ge 2
}
poll 100 attempts2
expect_eq "$(grep -c '"type":"attempt"' "$tmp/events2.jsonl")" 2 \
    "both long requests are in flight"
kill -TERM "$ladder_pid"
_i=0
while kill -0 "$load_pid" 2>/dev/null && [ $_i -lt 100 ]; do
    sleep 0.1
    _i=$((_i + 1))
done
wait "$load_pid" 2>/dev/null
load_pid=
wait_exit "$ladder_pid"
ladder_pid=
expect_eq "$stop_status" 0 "ladder exits 0 at the drain limit"
js "the stream gets its tokens then the shutdown error; the whole answer a 503" '
    const fs = require("fs");
    const [s, w] = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
    if (s.status !== 200 || s.text !== "tok1 tok2 " || !/shutting down/.test(s.error ?? ""))
        console.log("stream: " + JSON.stringify(s));
    if (w.status !== 503 || !/shutting down/.test(w.error ?? ""))
        console.log("whole: " + JSON.stringify(w));
' "$tmp/drain.out"
js "the trace and the events say failed by shutdown, never abandoned" '
    const fs = require("fs");
    const lines = (f) => fs.readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const tr = lines(process.argv[1]), ev = lines(process.argv[2]);
    if (tr.length !== 2) console.log(`${tr.length} trace lines`);
    for (const l of tr)
        if (l.outcome !== "failed" || l.class !== "shutdown")
            console.log("trace: " + JSON.stringify(l).slice(0, 300));
    const st = Object.fromEntries(tr.map((l) => [l.workload, l.status]));
    if (st.long !== 200 || st.longw !== 503) console.log("statuses " + JSON.stringify(st));
    const done = ev.filter((e) => e.type === "done");
    if (done.length !== 2 || done.some((e) => e.outcome !== "failed" || e.class !== "shutdown"))
        console.log("done events: " + JSON.stringify(done));
    if (ev.some((e) => e.outcome === "abandoned")) console.log("an abandoned outcome");
' "$tmp/trace2.jsonl" "$tmp/events2.jsonl"
expect_in "$tmp/serve2.err" "drain limit reached: 2 requests failed by shutdown" \
    "the log says how many requests failed by shutdown"
ladder_pid=

# ---- shared health through Redis after a reload that moved the routes -------
if ! command -v redis-server >/dev/null 2>&1 ||
    ! command -v redis-cli >/dev/null 2>&1; then
    not_ok "redis-server and redis-cli are installed (tools/setup.sh)"
    finish
fi
free_port() {
    node -e 'const s = require("net").createServer();
             s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
redis_pid=
a_pid=
b_pid=
cleanup_hook() {
    stop "$load_pid"
    stop "$ladder_pid"
    stop "$a_pid"
    stop "$b_pid"
    stop "$redis_pid"
    stop "$fake_pid"
}
rport=
for try in 1 2 3; do
    p=$(free_port) || break
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no >"$tmp/redis.log" 2>&1 &
    redis_pid=$!
    if poll 50 redis-cli -h 127.0.0.1 -p "$p" ping; then
        rport=$p
        break
    fi
    stop "$redis_pid"
    redis_pid=
done
if [ -z "$rport" ]; then
    not_ok "redis-server starts" "$(tail -5 "$tmp/redis.log")"
    finish
fi
# shared_policy FILE ROUTE-ID...: the routes in that order
shared_policy() {
    f=$1
    shift
    {
        echo '{"version": 1, "health": {"max_retry_after_s": 600}, "routes": {'
        sep=
        for r in "$@"; do
            case $r in
            rl*) m=$r/ratelimit-ra-300 ;;
            *) m=$r/healthy ;;
            esac
            printf '%s    "%s": {"provider": "openai", "model": "%s", "base_url": "%s", "price": {"input_per_mtok": 1, "output_per_mtok": 1}}\n' \
                "$sep" "$r" "$m" "$U"
            sep=,
        done
        echo '  }, "workloads": {'
        echo '    "w1": {"ladder": ["rlx", "x"], "on": {"*": "next"}},'
        echo '    "w2": {"ladder": ["rly", "x"], "on": {"*": "next"}}'
        echo '  }, "tiers": {"paid": {}}}'
    } >"$f"
}
shared_policy "$tmp/sa.json" x rlx rly
shared_policy "$tmp/sb.json" x rlx rly
shared_policy "$tmp/sa2.json" new rly x rlx
# serve_shared NAME POLICY: sets NAME_pid, NAME_url, NAME_admin
serve_shared() {
    fresh "$tmp/$1.out"
    "$LADDER" serve "$2" --listen 127.0.0.1:0 --print-port \
        --redis "127.0.0.1:$rport" --redis-prefix "rl$$" \
        >"$tmp/$1.out" 2>"$tmp/$1.err" &
    eval "$1_pid=$!"
    if ! _a=$(wait_line "$tmp/$1.out" \
        's/^listening on \([0-9.]*:[0-9]*\) admin \([0-9.]*:[0-9]*\)$/\1 \2/p' \
        "$(eval echo \$$1_pid)"); then
        not_ok "router $1 starts" "$(cat "$tmp/$1.err")"
        finish
    fi
    eval "$1_url=http://${_a% *}"
    eval "$1_admin=http://${_a#* }"
}
serve_shared a "$tmp/sa.json"
serve_shared b "$tmp/sb.json"
subs() { [ "$(redis-cli -p "$rport" pubsub numsub "rl$$:health" | tail -1)" = 2 ]; }
poll 50 subs || not_ok "both routers subscribed" "$(cat "$tmp/a.err" "$tmp/b.err")"
cp "$tmp/sa2.json" "$tmp/sa.json"
kill -HUP "$a_pid"
poll 50 grep -q 'SIGHUP: reloaded, generation 2: routes 3 kept, 1 added' "$tmp/a.err" ||
    not_ok "router a reloads with its routes in another order" "$(cat "$tmp/a.err")"
# ask URL WORKLOAD: "STATUS ROUTE FALLBACK" of one chat completion
ask() {
    curl -s -o /dev/null -D "$tmp/h" -X POST "$1/v1/chat/completions" \
        -H 'content-type: application/json' -H "x-ladder-workload: $2" \
        -d '{"model": "any", "messages": [{"role": "user", "content": "hi"}]}' \
        --max-time 10
    st=$(sed -n 's/^HTTP\/1.1 \([0-9]*\).*/\1/p' "$tmp/h" | head -1)
    rt=$(sed -n 's/^x-ladder-route: \([^\r]*\).*/\1/Ip' "$tmp/h" | head -1)
    fb=$(sed -n 's/^x-ladder-fallback: \([^\r]*\).*/\1/Ip' "$tmp/h" | head -1)
    echo "$st $rt $fb"
}
blocks_is() {
    [ "$(curl -s --max-time 2 "$1/metrics" |
        grep -F "ladder_route_blocks_total{route=\"$2\",source=\"shared\"} " |
        sed 's/.* //')" = 1 ]
}
# b (not reloaded) learns rlx's 429; a, reloaded, must hear it for rlx
expect_eq "$(ask "$b_url" w1)" "200 x rate_limited" "router b: the 429 on rlx falls back to x"
poll 50 blocks_is "$a_admin" rlx &&
    ok "the reloaded router a learns b's block on rlx (by route id)" ||
    not_ok "the reloaded router a learns b's block on rlx (by route id)" \
        "$(curl -s "$a_admin/metrics" | grep blocks)"
expect_eq "$(ask "$a_url" w1)" "200 x rate_limited" "router a skips rlx"
expect_eq "$(seen rlx/)" 1 "rlx's upstream saw one attempt in all"
# and the other way: a's news after its reload name the right route for b
expect_eq "$(ask "$a_url" w2)" "200 x rate_limited" "router a: the 429 on rly falls back to x"
poll 50 blocks_is "$b_admin" rly &&
    ok "router b learns the reloaded router's block on rly" ||
    not_ok "router b learns the reloaded router's block on rly" \
        "$(curl -s "$b_admin/metrics" | grep blocks)"
expect_eq "$(ask "$b_url" w2)" "200 x rate_limited" "router b skips rly"
expect_eq "$(seen rly/)" 1 "rly's upstream saw one attempt in all"
finish
