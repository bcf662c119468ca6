#!/bin/sh
# harden.sh - no single client takes `ladder serve` down:
#   - slowloris: connections that send a request a byte a second are closed
#     at the read deadline (--read-s 2 here), counted from their first
#     byte and not restarted by later bytes, while the API keeps answering;
#   - connection flood: under `ulimit -n 256`, more idle connections than
#     that; /healthz and the API still answer, and the cap's log line
#     comes at most once (once a minute);
#   - SIGHUP does not kill the router.
#
# LADDER is the binary, TOOLS the built helper programs (fake_provider).
# Needs node (skipped without) and curl. Bounded: every client has a
# deadline; readiness is polled, never slept for.
. "$(dirname "$0")/lib/common.sh"
require_ladder

fake_pid=
ladder_pid=
cleanup_hook() {
    stop "$ladder_pid"
    stop "$fake_pid"
}

if ! $have_node || ! command -v curl >/dev/null 2>&1; then
    skip "node and curl are installed"
    finish
fi

start_fake --max-lifetime 120
sed "s|http://127.0.0.1:9100/v1|$fake_url|" examples/fake-policy.json >"$tmp/policy.json"

# start_ladder NOFILE ARGS...: ladder serve under ulimit -n NOFILE
start_ladder() {
    _n=$1
    shift
    fresh "$tmp/serve.out" # (not the last server's line)
    (ulimit -n "$_n" && exec "$LADDER" serve "$tmp/policy.json" \
        --listen 127.0.0.1:0 --print-port "$@") \
        >"$tmp/serve.out" 2>"$tmp/serve.err" &
    ladder_pid=$!
    if ! line=$(wait_line "$tmp/serve.out" 's/^listening on \(.*\)$/\1/p' \
        "$ladder_pid"); then
        not_ok "ladder serve starts" "$(cat "$tmp/serve.err")"
        finish
    fi
    listen=${line%% admin *}
    admin=${line##* admin }
}

cat >"$tmp/clients.mjs" <<'JS'
import net from "node:net";
import http from "node:http";
const [mode, host, port, n] = process.argv.slice(2);
const count = Number(n);
const t0 = Date.now();
const body = JSON.stringify({model: "auto",
    messages: [{role: "user", content: "Hello"}]});
function api() {
    return new Promise((res) => {
        const start = Date.now();
        const req = http.request({host, port, method: "POST",
            path: "/v1/chat/completions", agent: false,
            headers: {"content-type": "application/json"}}, (r) => {
            r.resume();
            r.on("end", () => res({status: r.statusCode, ms: Date.now() - start}));
        });
        req.setTimeout(5000, () => req.destroy());
        req.on("error", (e) => res({status: 0, ms: Date.now() - start, e: e.code}));
        req.end(body);
    });
}
const out = {closed: [], api: []};
const socks = [];
let open = 0;
function slow(i) {
    return new Promise((res) => {
        const s = net.connect(Number(port), host);
        let first = 0, timer = null;
        const text = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: " +
            "a".repeat(60);
        let k = 0;
        s.on("connect", () => {
            open++;
            if (mode !== "slow") return res();
            const step = () => {
                if (k === 0) first = Date.now();
                if (k < text.length) s.write(text[k++]);
            };
            step();
            timer = setInterval(step, 1000);
            res();
        });
        s.on("error", () => {});
        s.on("close", () => {
            if (timer) clearInterval(timer);
            out.closed.push(first ? (Date.now() - first) / 1000 : -1);
        });
        socks.push(s);
    });
}
const starts = [];
for (let i = 0; i < count; i++) starts.push(slow(i));
await Promise.all(starts);
out.opened = open;
// the API meanwhile
const until = Date.now() + (mode === "slow" ? 4500 : 1500);
while (Date.now() < until) {
    out.api.push(await api());
    await new Promise((r) => setTimeout(r, 250));
}
for (const s of socks) s.destroy();
out.elapsed = (Date.now() - t0) / 1000;
console.log(JSON.stringify(out));
process.exit(0);
JS

# ---- slowloris ----------------------------------------------------------------
start_ladder 1024 --read-s 2
node "$tmp/clients.mjs" slow 127.0.0.1 "${listen##*:}" 4 >"$tmp/slow.json" 2>"$tmp/slow.err"
json_js "4 connections sending a byte a second are closed 2-3.5 s after their first byte" \
    "$tmp/slow.json" '
    want(j.closed.length === 4, "closed " + j.closed.length + " of 4");
    for (const c of j.closed)
        want(c >= 1.9 && c <= 3.5, "closed after " + c + " s");'
json_js "the API answers meanwhile (200, each within 1 s)" "$tmp/slow.json" '
    want(j.api.length >= 5, "only " + j.api.length + " API calls");
    for (const a of j.api)
        want(a.status === 200 && a.ms < 1000, JSON.stringify(a));'
expect_re "$tmp/serve.err" "did not arrive within 2 s" "the deadline is logged"
n=$(grep -c "did not arrive within" "$tmp/serve.err")
expect_eq "$n" 1 "once (not once per connection)"
echo "    # slowloris closed after (s): $(node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1])); console.log(j.closed.join(" "))' "$tmp/slow.json")"

# ---- the request the upstream gets is the request checked ---------------------
# post NAME BODY: POST BODY (printf format: \377 is a byte) to the API
post() {
    printf "$2" >"$tmp/$1.body"
    curl -s -o "$tmp/$1.out" -w '%{http_code}' "http://$listen/v1/chat/completions" \
        -H 'content-type: application/json' --data-binary "@$tmp/$1.body"
}
code=$(post dup '{"model": "auto", "messages": [{"role": "user", "content": "hi"}], "model": "x"}')
expect_eq "$code" 400 "a duplicate top-level key is a 400"
expect_in "$tmp/dup.out" 'the top level: duplicate key \"model\"' "naming the key"
code=$(post dupm '{"messages": [{"role": "user", "content": "hi", "content": "x"}]}')
expect_eq "$code" 400 "a duplicate key inside a message is a 400"
expect_in "$tmp/dupm.out" 'messages[0]: duplicate key \"content\"' "naming the message and key"
code=$(post utf '{"messages": [{"role": "user", "content": "a\377"}]}')
expect_eq "$code" 400 "invalid UTF-8 in content is a 400"
expect_in "$tmp/utf.out" 'messages[0].content: invalid UTF-8 at byte 1' "saying where"
code=$(post tier '{"service_tier": "priority", "messages": [{"role": "user", "content": "hi"}]}')
expect_eq "$code" 400 "an unknown top-level field is a 400, not forwarded"
expect_in "$tmp/tier.out" 'service_tier: unknown field' "naming the field"
code=$(post okreq '{"model": "auto", "seed": 1, "messages": [{"role": "user", "content": "h\303\251"}]}')
expect_eq "$code" 200 "a clean body with known fields and UTF-8 still answers"

# ---- SIGHUP -------------------------------------------------------------------
kill -HUP "$ladder_pid"
poll 50 grep -q SIGHUP "$tmp/serve.err"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$admin/healthz")
expect_eq "$code" 200 "SIGHUP does not stop the router (/healthz 200 after it)"
stop "$ladder_pid"
ladder_pid=
expect_eq "$stop_status" 0 "and it stops cleanly on SIGTERM after"

# ---- /healthz under overload ------------------------------------------------------
# the request held in flight answers after 5 s: the 8 below are sent while it
# lasts even on a loaded machine (with 1.5 s, 2 or 3 of them came after it)
sed -e 's|backup/healthy|backup/slow-ttft-5000|' -e 's|"ttft_ms": 2000|"ttft_ms": 7000|' \
    "$tmp/policy.json" >"$tmp/slow_policy.json"
cp "$tmp/policy.json" "$tmp/fast_policy.json"
cp "$tmp/slow_policy.json" "$tmp/policy.json"
start_ladder 1024 --max-concurrent 1 --degraded-status 429
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$admin/healthz")
expect_eq "$code" 200 "/healthz is 200 before the overload"
curl -s -o "$tmp/held.out" "http://$listen/v1/chat/completions" \
    -H 'content-type: application/json' \
    -d '{"model": "auto", "messages": [{"role": "user", "content": "Hello"}]}' &
held_pid=$!
poll 50 sh -c "curl -s http://$admin/metrics | grep -q '^ladder_requests_in_flight 1'"
shed=0
for i in 1 2 3 4 5 6 7 8; do
    c=$(curl -s -o /dev/null -w '%{http_code}' "http://$listen/v1/chat/completions" \
        -H 'content-type: application/json' \
        -d '{"model": "auto", "messages": [{"role": "user", "content": "Hello"}]}')
    [ "$c" = 503 ] && shed=$((shed + 1))
done
expect_eq "$shed" 8 "8 requests over --max-concurrent 1 are shed"
curl -s -o "$tmp/hz.out" -w '%{http_code} %{time_total}' "http://$admin/healthz" >"$tmp/hz.code"
read -r code secs <"$tmp/hz.code"
expect_eq "$code" 429 "/healthz answers the configured status while shedding"
expect_in "$tmp/hz.out" degraded "and says degraded"
check "/healthz answers within 50 ms under overload ($secs s)" \
    "awk 'BEGIN { exit !($secs < 0.05) }'"
wait "$held_pid"
expect_in "$tmp/held.out" '"backup/slow-ttft-5000"' "the request in flight still completes"
stop "$ladder_pid"
ladder_pid=
cp "$tmp/fast_policy.json" "$tmp/policy.json"

# ---- connection flood under ulimit -n 256 --------------------------------------
start_ladder 256
node "$tmp/clients.mjs" idle 127.0.0.1 "${listen##*:}" 400 >"$tmp/flood.json" \
    2>"$tmp/flood.err" &
node_pid=$!
# the flood is open when node says so; meanwhile /healthz
poll 100 sh -c "! kill -0 $node_pid"
wait "$node_pid"
if [ ! -s "$tmp/flood.json" ]; then
    # what the client and the router said, and whether the router lives
    alive=no
    kill -0 "$ladder_pid" 2>/dev/null && alive=yes
    echo "    # flood client wrote nothing; router alive: $alive"
    sed 's/^/    # client: /' "$tmp/flood.err" | tail -n 10
    sed 's/^/    # router: /' "$tmp/serve.err" | tail -n 10
fi
json_js "400 idle connections were accepted (the oldest idle closed at the cap)" \
    "$tmp/flood.json" 'want(j.opened === 400, "opened " + j.opened);'
json_js "the API answers under the flood (200, each within 1 s)" "$tmp/flood.json" '
    want(j.api.length >= 3, "only " + j.api.length + " API calls");
    for (const a of j.api)
        want(a.status === 200 && a.ms < 1000, JSON.stringify(a));'
code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$admin/healthz")
expect_eq "$code" 200 "/healthz answers after the flood"
n=$(grep -c "at the cap" "$tmp/serve.err")
expect_eq "$n" 1 "the cap is logged once, not per connection"
lines=$(wc -l <"$tmp/serve.err")
check "the log does not flood ($lines lines)" "[ $lines -le 5 ]"
grep "at the cap" "$tmp/serve.err" | sed 's/^/    # /'
finish
