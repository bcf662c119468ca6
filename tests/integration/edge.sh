#!/bin/sh
# edge.sh - `ladder serve` at its edge (README "Running it for users"):
#   - the admin listener: with --admin-token, GET /metrics and /healthz need
#     "Authorization: Bearer TOKEN" (401 JSON otherwise); off loopback it
#     is refused without a token and served with one;
#   - requests libevent refuses itself (headers over the cap, a body over
#     the limit, a 1 GB Content-Length, chunked plus Content-Length, a bare
#     CR, an unknown method) get the router's OpenAI-style JSON error with
#     the right status (431, 413, 400, 501) and are counted in
#     ladder_requests_rejected_total{reason=...};
#   - a client that shuts down its write side after its request still gets
#     the whole answer, streamed or not, recorded as a success; a client
#     that really leaves is still recorded abandoned (499);
#   - the request memory budget (--max-request-mb): a body that does not
#     fit waits, unread, until room comes;
#   - the output budget (--max-buffered-mb): streams to clients that do not
#     read are cut once the unsent bytes are over it, and counted, while a
#     client that reads still gets its whole stream.
#
# LADDER is the binary, TOOLS the built helper programs (fake_provider,
# rawhttp: raw bytes that curl will not send). Needs curl. Everything on
# 127.0.0.1; readiness is polled, never slept for.
. "$(dirname "$0")/lib/common.sh"
require_ladder

fake_pid=
ladder_pid=
cleanup_hook() {
    stop "$ladder_pid"
    stop "$fake_pid"
}
RAW=$TOOLS/rawhttp
if ! command -v curl >/dev/null 2>&1 || [ ! -x "$RAW" ]; then
    not_ok "curl is installed and $RAW built"
    finish
fi

start_fake --max-lifetime 120
sed "s|http://127.0.0.1:9100/v1|$fake_url|" examples/fake-policy.json >"$tmp/policy.json"

# serve ARGS...: ladder serve on a free port; $listen and $admin
serve() {
    fresh "$tmp/serve.out" # (not the last server's line)
    "$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --print-port "$@" \
        >"$tmp/serve.out" 2>"$tmp/serve.err" &
    ladder_pid=$!
    if ! line=$(wait_line "$tmp/serve.out" 's/^listening on \(.*\)$/\1/p' \
        "$ladder_pid"); then
        not_ok "ladder serve $* starts" "$(cat "$tmp/serve.err")"
        finish
    fi
    listen=${line%% admin *}
    admin=${line##* admin }
}
halt() {
    stop "$ladder_pid"
    ladder_pid=
}

# ---- the admin token ---------------------------------------------------------
TOKEN=adm-0123456789abcdef0123
echo "$TOKEN" >"$tmp/token"
serve --admin-token "@$tmp/token"
code=$(curl -s -o "$tmp/a1.out" -w '%{http_code}' "http://$admin/metrics")
expect_eq "$code" 401 "/metrics without the admin token is a 401"
expect_in "$tmp/a1.out" '"code":"invalid_admin_token"' "with an OpenAI-style JSON body"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN}x" "http://$admin/healthz")
expect_eq "$code" 401 "/healthz with a wrong token is a 401"
code=$(curl -s -o "$tmp/a2.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://$admin/metrics")
expect_eq "$code" 200 "/metrics with the token (from @FILE) is a 200"
expect_in "$tmp/a2.out" 'ladder_requests_rejected_total{reason="unauthorized"} 2' \
    "the refusals are counted"
halt
"$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --admin 0.0.0.0:0 \
    >"$tmp/open.out" 2>"$tmp/open.err"
expect_eq "$?" 2 "an admin listener off loopback without a token is refused"
expect_in "$tmp/open.err" "without a token" "saying why"
LADDER_ADMIN_TOKEN=$TOKEN serve --admin 0.0.0.0:0
port=${admin##*:}
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")
expect_eq "$code" 401 "off loopback with LADDER_ADMIN_TOKEN: 401 without it"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/healthz")
expect_eq "$code" 200 "and 200 with it"
halt

# ---- what the HTTP layer refuses ---------------------------------------------
serve --max-body 1000
# raw NAME: stdin's bytes to the API as they are; the answer in NAME.out
raw() {
    "$RAW" "$listen" --timeout 5 >"$tmp/$1.out" 2>"$tmp/$1.err"
}
# refused NAME STATUS CODE WHAT: the answer is STATUS with a JSON error CODE
refused() {
    expect_re "$tmp/$1.out" "^HTTP/1.1 $2 " "$4: $2"
    expect_in "$tmp/$1.out" "Content-Type: application/json" "$4: a JSON body"
    expect_in "$tmp/$1.out" "\"code\":\"$3\"" "$4: error code $3"
}
{
    printf 'GET /v1/models HTTP/1.1\r\nHost: x\r\n'
    i=0
    while [ $i -lt 1300 ]; do
        printf 'X-Pad-%d: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n' $i
        i=$((i + 1))
    done
    printf '\r\n'
} | raw hdrs
refused hdrs 431 headers_too_large "headers over 64 KiB"
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n' | raw gig
refused gig 413 request_too_large "a 1 GB Content-Length (no byte of it read)"
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n' | raw over
refused over 413 request_too_large "a Content-Length over --max-body"
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n' | raw chunkover
refused chunkover 413 request_too_large "a chunk over --max-body"
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n' | raw smuggle
refused smuggle 400 malformed_request "chunked with Content-Length"
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\n{}' | raw cr
refused cr 400 malformed_request "a bare CR in a header"
printf 'TRACE / HTTP/1.1\r\nHost: x\r\n\r\n' | raw trace
refused trace 501 method_not_allowed "TRACE"
printf 'GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n' | raw keep
n=$(grep -o 'HTTP/1.1 [0-9]*' "$tmp/keep.out" | tr '\n' ' ')
expect_eq "$n" "HTTP/1.1 200 HTTP/1.1 400 " "keep-alive: a good request, then a bad one on the same connection"
expect_in "$tmp/keep.out" '"code":"malformed_request"' "the bad one after a good one: its JSON error"
check "no HTML page reaches a client" "! grep -li '<html' $tmp/*.out" "$(grep -li '<html' $tmp/*.out)"
curl -s "http://$admin/metrics" >"$tmp/m.out"
expect_in "$tmp/m.out" 'ladder_requests_rejected_total{reason="headers_too_large"} 1' "counted: headers_too_large 1"
expect_in "$tmp/m.out" 'ladder_requests_rejected_total{reason="too_large"} 3' "counted: too_large 3"
expect_in "$tmp/m.out" 'ladder_requests_rejected_total{reason="malformed_http"} 3' "counted: malformed_http 3"
expect_in "$tmp/m.out" 'ladder_requests_rejected_total{reason="method_not_allowed"} 1' "counted: method_not_allowed 1"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$listen/v1/chat/completions" \
    -H 'content-type: application/json' -d '{"messages": [{"role": "user", "content": "hi"}]}')
expect_eq "$code" 200 "the API still answers"
halt

# ---- half-closed clients ------------------------------------------------------
serve --trace "$tmp/trace.jsonl"
# half NAME BODY [ARGS]: BODY to the API, then shutdown(SHUT_WR)
half() {
    _h=$1
    _b=$2
    shift 2
    printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
        ${#_b} "$_b" | "$RAW" "$listen" --half-close "$@" >"$tmp/$_h.out" 2>/dev/null
}
half halfw '{"messages": [{"role": "user", "content": "hi"}]}' --timeout 5
expect_re "$tmp/halfw.out" '^HTTP/1.1 200 ' "a half-closed client gets its whole answer: 200"
expect_in "$tmp/halfw.out" '"finish_reason":"stop"' "with the answer's body"
half halfs '{"stream": true, "messages": [{"role": "user", "content": "hi"}]}' --timeout 5
expect_in "$tmp/halfs.out" 'tok20 ' "a half-closed client gets its whole stream"
expect_in "$tmp/halfs.out" 'data: [DONE]' "to [DONE]"
poll 50 sh -c "[ \$(wc -l <$tmp/trace.jsonl) -ge 2 ]"
n=$(grep -c '"outcome":"success"' "$tmp/trace.jsonl")
expect_eq "$n" 2 "both are recorded as successes"
# clients that leave during a long upstream silence (2 tokens, then 6 s):
# one closes after 0.3 s, one half-closes and then closes; the keep-alive
# comments (--sse-ping-s 1) make both departures seen before the stall ends
sed 's|backup/healthy|backup/stall-2-6000|' "$tmp/policy.json" >"$tmp/stall.json"
halt
cp "$tmp/policy.json" "$tmp/fast.json"
cp "$tmp/stall.json" "$tmp/policy.json"
serve --trace "$tmp/trace2.jsonl" --sse-ping-s 1
b='{"stream": true, "messages": [{"role": "user", "content": "hi"}]}'
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
    ${#b} "$b" | "$RAW" "$listen" --no-read 0.3 >/dev/null 2>&1
half halfgone "$b" --timeout 0.3
poll 55 sh -c "[ \$(cat $tmp/trace2.jsonl 2>/dev/null | wc -l) -ge 2 ]"
n=$(grep -c '"outcome":"abandoned"' "$tmp/trace2.jsonl")
expect_eq "$n" 2 "clients that left (one half-closed first) are recorded abandoned within 5.5 s"
expect_in "$tmp/trace2.jsonl" '"status":499' "with status 499"
halt
cp "$tmp/fast.json" "$tmp/policy.json"

# ---- the request memory budget ---------------------------------------------------
# --max-body 100000 and --max-request-mb 1: ten arriving bodies fill it.
# Ten clients send a head and half a body, then stall; an eleventh
# request waits, unread, until the read deadline (--read-s 2) closes the
# stalled ones, and is answered then.
serve --max-body 100000 --max-request-mb 1 --read-s 2
pids=
for i in 1 2 3 4 5 6 7 8 9 10; do
    { printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n'
      head -c 50000 /dev/zero | tr '\0' ' '; } | "$RAW" "$listen" --no-read 4 &
    pids="$pids $!"
done
poll 50 sh -c "curl -s http://$admin/metrics >/dev/null" # they are in
b='{"messages": [{"role": "user", "content": "hi"}]}'
start=$(date +%s%N)
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
    ${#b} "$b" | "$RAW" "$listen" --timeout 8 >"$tmp/waited.out"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_re "$tmp/waited.out" '^HTTP/1.1 200 ' "a request that found the budget full is answered once room came"
check "after the stalled bodies were closed at their deadline (${ms} ms >= 1500)" "[ $ms -ge 1500 ]"
expect_re "$tmp/serve.err" "did not arrive within 2 s" "(the stalled ones were closed at the deadline)"
for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
halt

# ---- the output budget ----------------------------------------------------------
# (--sndbuf-kb: the kernel's own buffer grows to 4 MiB per connection and
# could hold a whole 16,384-token stream, which the budget would never see)
serve --trace "$tmp/trace3.jsonl" --max-buffered-mb 1 --sndbuf-kb 64
# req BODY: a POST of BODY as raw bytes
req() {
    printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' ${#1} "$1"
}
pids=
for i in 1 2 3 4 5 6; do
    req '{"stream": true, "max_tokens": 16384, "messages": [{"role": "user", "content": "hi"}]}' |
        "$RAW" "$listen" --no-read 8 &
    pids="$pids $!"
done
# the reader's whole stream (~54 KB) is under the 64 KiB a stream must be
# behind to be cut: however slowly it reads on a loaded machine
req '{"stream": true, "max_tokens": 250, "messages": [{"role": "user", "content": "hi"}]}' |
    "$RAW" "$listen" --timeout 10 >"$tmp/reader.out"
expect_in "$tmp/reader.out" '"content":"tok250 "' "a client that reads gets its whole stream meanwhile"
expect_in "$tmp/reader.out" 'data: [DONE]' "to [DONE]"
poll 60 sh -c "[ \$(grep -c '\"outcome\":\"abandoned\"' $tmp/trace3.jsonl) -ge 6 ]"
n=$(grep -c '"outcome":"abandoned"' "$tmp/trace3.jsonl")
expect_eq "$n" 6 "the 6 streams to clients that do not read are cut (abandoned) while they wait"
curl -s "http://$admin/metrics" >"$tmp/m3.out"
# (on failure: the count, and why the trace says each one ended)
check "and counted in ladder_client_too_slow_total" \
    "grep -q '^ladder_client_too_slow_total 6\$' '$tmp/m3.out'" \
    "$(grep '^ladder_client_too_slow_total' "$tmp/m3.out")
$(grep '"outcome":"abandoned"' "$tmp/trace3.jsonl" |
    sed -n 's/^[^}]*"output_tokens":\([0-9]*\)[^}]*"latency_ms":\([0-9.]*\).*/abandoned: \1 tokens out, after \2 ms/p' |
    head -n 6)"
expect_re "$tmp/serve.err" "output budget .* reached" "the budget is logged"
for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
halt
finish
