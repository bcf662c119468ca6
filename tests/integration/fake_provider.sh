#!/bin/sh
# fake_provider.sh - the fake LLM provider (tools/fake_provider.c) driven with
# curl: every behaviour a test or a demo leans on, both API shapes, streaming
# and not, the request log, and a clean stop on SIGTERM and --max-requests.
#
# TOOLS is the directory of the built helper programs (default
# build/release/tools under the repository root). Prints one "ok - ..." /
# "not ok - ..." line per check and exits 1 if any failed. Every curl call
# has a --max-time; readiness is polled, never slept for.
. "$(dirname "$0")/lib/common.sh"
FAKE=$TOOLS/fake_provider

if [ ! -x "$FAKE" ]; then
    not_ok "fake_provider binary $FAKE is missing (make $FAKE)"
    exit 1
fi

# the fakes still running when the script ends are stopped
pid=
pid2=
pid3=
cleanup_hook() {
    for p in $pid $pid2 $pid3; do
        kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null
    done
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# start_fake OUT ARGS...: start the fake (stopping by itself after 300 s
# unless ARGS say otherwise), stdout to OUT; sets started_pid and port.
# Polls OUT for the "port N" line for up to 5 s.
start_fake() {
    out=$1
    shift
    "$FAKE" --port 0 --max-lifetime 300 "$@" >"$out" 2>"$out.err" &
    started_pid=$!
    port=
    i=0
    while [ $i -lt 50 ]; do
        port=$(sed -n '1s/^port \([0-9][0-9]*\)$/\1/p' "$out" 2>/dev/null)
        [ -n "$port" ] && return 0
        kill -0 "$started_pid" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# gone PID: poll up to 5 s for PID to exit; status 0 once it has
gone() {
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    ! kill -0 "$1" 2>/dev/null
}

# stop_fake PID: SIGTERM, then poll up to 5 s for the exit; sets
# stop_status to its exit status, or "hung" (then it is killed).
stop_fake() {
    kill -TERM "$1" 2>/dev/null
    if ! gone "$1"; then
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        stop_status=hung
        return
    fi
    wait "$1"
    stop_status=$?
}

SECRET=sk-ladder-test-SECRET-7f3a
log=$tmp/fake.log
if ! start_fake "$tmp/fake.out" --log "$log" --tokens 20 --max-lifetime 120 \
    --expect-key "$SECRET"; then
    not_ok "fake_provider prints its port within 5 s" "$(cat "$tmp/fake.out.err")"
    exit 1
fi
pid=$started_pid
ok "fake_provider prints its port within 5 s (port $port)"
U=http://127.0.0.1:$port
nreq=0 # requests the log must have a line for

# req NAME CURL-ARGS...: one request. Leaves NAME.body, NAME.hdr, NAME.code
# (HTTP status, 000 when none), NAME.rc (curl's exit) and NAME.ms (elapsed).
req() {
    name=$1
    shift
    nreq=$((nreq + 1))
    t0=$(now_ms)
    curl -s -N --max-time 5 -D "$tmp/$name.hdr" -o "$tmp/$name.body" \
        -w '%{http_code}' "$@" >"$tmp/$name.code" 2>/dev/null
    echo $? >"$tmp/$name.rc"
    echo $(($(now_ms) - t0)) >"$tmp/$name.ms"
}

# chat MODEL [EXTRA-JSON-MEMBERS]: an OpenAI/Anthropic request body
chat() {
    printf '{"model":"%s","messages":[{"role":"user","content":"hello there you"}]%s}' \
        "$1" "${2:-}"
}

oa() { # NAME MODEL [EXTRA] [CURL-ARGS...]
    n=$1
    b=$(chat "$2" "${3:-}")
    if [ $# -ge 3 ]; then shift 3; else shift $#; fi
    req "$n" -H 'Content-Type: application/json' "$@" \
        "$U/v1/chat/completions" -d "$b"
}

an() { # NAME MODEL [EXTRA] [CURL-ARGS...]
    n=$1
    b=$(chat "$2" "${3:-}")
    if [ $# -ge 3 ]; then shift 3; else shift $#; fi
    req "$n" -H 'Content-Type: application/json' "$@" "$U/v1/messages" -d "$b"
}

code() { cat "$tmp/$1.code"; }
rc() { cat "$tmp/$1.rc"; }
ms() { cat "$tmp/$1.ms"; }

expect_code() { # NAME CODE DESCRIPTION
    if [ "$(code "$1")" = "$2" ]; then
        ok "$3"
    else
        not_ok "$3" "HTTP $(code "$1") (curl exit $(rc "$1")), expected $2: $(head -c 300 "$tmp/$1.body" 2>/dev/null)"
    fi
}

expect_body() { # NAME FIXED-STRING DESCRIPTION
    if grep -qF -- "$2" "$tmp/$1.body" 2>/dev/null; then
        ok "$3"
    else
        not_ok "$3" "\"$2\" not in: $(head -c 400 "$tmp/$1.body" 2>/dev/null)"
    fi
}

expect_no_body() { # NAME FIXED-STRING DESCRIPTION
    if grep -qF -- "$2" "$tmp/$1.body" 2>/dev/null; then
        not_ok "$3" "\"$2\" found in: $(head -c 400 "$tmp/$1.body")"
    else
        ok "$3"
    fi
}

tok_chunks() { grep -c '"content":"tok' "$tmp/$1.body"; }
last_data() { grep '^data: ' "$tmp/$1.body" | tail -n 1; }

# ---- down-for first: its window starts when the server does -------------

oa down_for down-for-1000 ',"max_tokens":2'
expect_code down_for 503 "down-for-1000: 503 right after start"
i=0
while [ $i -lt 50 ]; do
    oa down_for_after down-for-1000 ',"max_tokens":2'
    [ "$(code down_for_after)" = 200 ] && break
    sleep 0.1
    i=$((i + 1))
done
expect_code down_for_after 200 "down-for-1000: 200 once the window is over"

# ---- healthy ------------------------------------------------------------

oa plain healthy ',"max_tokens":5' -H "Authorization: Bearer $SECRET" \
    -H 'X-Ladder-Attempt: 1'
expect_code plain 200 "healthy non-stream: 200"
expect_body plain '"object":"chat.completion"' "healthy non-stream: a chat.completion"
expect_body plain '"model":"healthy"' "healthy non-stream: echoes the model"
expect_body plain '"content":"tok1 tok2 tok3 tok4 tok5 "' \
    "healthy non-stream: max_tokens tokens of content"
expect_body plain '"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}' \
    "healthy non-stream: usage counts prompt words and tokens"
if grep -qi '^content-type: application/json' "$tmp/plain.hdr"; then
    ok "healthy non-stream: Content-Type application/json"
else
    not_ok "healthy non-stream: Content-Type application/json" "$(cat "$tmp/plain.hdr")"
fi

oa dflt some-model-name '' -H "x-api-key: $SECRET"
expect_body dflt '"content":"tok1 ' "any other model name is healthy"
expect_eq "$(grep -o 'tok[0-9][0-9]*' "$tmp/dflt.body" | tail -n 1)" tok20 \
    "without max_tokens the answer has --tokens (20) tokens"

oa stream healthy ',"stream":true,"max_tokens":7,"stream_options":{"include_usage":true}'
expect_code stream 200 "healthy stream: 200"
if grep -qi '^content-type: text/event-stream' "$tmp/stream.hdr"; then
    ok "healthy stream: Content-Type text/event-stream"
else
    not_ok "healthy stream: Content-Type text/event-stream" "$(cat "$tmp/stream.hdr")"
fi
expect_eq "$(tok_chunks stream)" 7 "healthy stream: one chunk per token (7)"
expect_eq "$(last_data stream)" "data: [DONE]" "healthy stream: ends with data: [DONE]"
expect_body stream '"object":"chat.completion.chunk"' "healthy stream: chat.completion.chunk events"
expect_body stream '"finish_reason":"stop"' "healthy stream: a finish_reason"
expect_body stream '"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":7,"total_tokens":10}' \
    "healthy stream: include_usage adds the usage chunk"
oa stream_nousage healthy ',"stream":true,"max_tokens":3'
expect_no_body stream_nousage '"usage"' "healthy stream: no usage without include_usage"

# ---- Anthropic ----------------------------------------------------------

an an_plain healthy ',"max_tokens":4'
expect_code an_plain 200 "anthropic non-stream: 200"
expect_body an_plain '"type":"message","role":"assistant","content":[{"type":"text","text":"tok1 tok2 tok3 tok4 "}]' \
    "anthropic non-stream: a message with a text block"
expect_body an_plain '"stop_reason":"end_turn"' "anthropic non-stream: stop_reason end_turn"
expect_body an_plain '"usage":{"input_tokens":3,"output_tokens":4}' "anthropic non-stream: usage"

an an_stream healthy ',"stream":true,"max_tokens":4'
expect_code an_stream 200 "anthropic stream: 200"
events=$(sed -n 's/^event: //p' "$tmp/an_stream.body" | uniq | tr '\n' ' ')
expect_eq "$events" \
    "message_start content_block_start ping content_block_delta content_block_stop message_delta message_stop " \
    "anthropic stream: event names in order"
expect_eq "$(grep -c '"type":"text_delta"' "$tmp/an_stream.body")" 4 \
    "anthropic stream: one text_delta per token"
expect_body an_stream '"delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":4}' \
    "anthropic stream: message_delta carries stop_reason and usage"

# ---- errors by model ----------------------------------------------------

oa rl ratelimit-ra-2
expect_code rl 429 "ratelimit-ra-2: 429"
if grep -qi '^retry-after: 2' "$tmp/rl.hdr"; then
    ok "ratelimit-ra-2: Retry-After: 2"
else
    not_ok "ratelimit-ra-2: Retry-After: 2" "$(cat "$tmp/rl.hdr")"
fi
expect_body rl '"code":"rate_limit_exceeded"' "ratelimit-ra-2: rate_limit_exceeded body"
oa rl0 ratelimit
expect_code rl0 429 "ratelimit: 429"
if grep -qi '^retry-after:' "$tmp/rl0.hdr"; then
    not_ok "ratelimit: no Retry-After" "$(cat "$tmp/rl0.hdr")"
else
    ok "ratelimit: no Retry-After"
fi

oa down down
expect_code down 503 "down: 503"
expect_body down '"error":{' "down: an error body"

oa flaky1 flaky-once
expect_code flaky1 500 "flaky-once: first attempt 500"
oa flaky2 flaky-once ',"max_tokens":2'
expect_code flaky2 200 "flaky-once: second attempt 200"
oa flaky3 other/flaky-once
expect_code flaky3 500 "flaky-once: counted per model name (other/flaky-once)"

oa ctx context
expect_code ctx 400 "context: 400"
expect_body ctx '"code":"context_length_exceeded"' "context: context_length_exceeded"
an an_ctx context
expect_code an_ctx 400 "context on /v1/messages: 400"
expect_body an_ctx '"type":"invalid_request_error","message":"prompt is too long: ' \
    "context on /v1/messages: invalid_request_error, prompt is too long"
oa cnt content
expect_code cnt 400 "content: 400"
expect_body cnt '"code":"content_policy_violation"' "content: content_policy_violation"

req prefill -H 'Content-Type: application/json' "$U/v1/chat/completions" -d \
    '{"model":"noprefill","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Sure,"}]}'
expect_code prefill 400 "noprefill: 400 when the last message is the assistant's"
oa noprefill noprefill ',"max_tokens":2'
expect_code noprefill 200 "noprefill: 200 when the last message is the user's"

oa auth_none auth
expect_code auth_none 401 "auth: 401 without a key"
oa auth_bad auth '' -H 'Authorization: Bearer wrong'
expect_code auth_bad 401 "auth: 401 with the wrong key"
oa auth_ok auth ',"max_tokens":2' -H "Authorization: Bearer $SECRET"
expect_code auth_ok 200 "auth: 200 with Authorization: Bearer KEY"
an an_auth auth ',"max_tokens":2' -H "x-api-key: $SECRET"
expect_code an_auth 200 "auth: 200 with x-api-key: KEY"

an over overloaded
expect_code over 529 "overloaded on /v1/messages: 529"
expect_body over '"type":"overloaded_error"' "overloaded on /v1/messages: overloaded_error"
oa over_oa overloaded
expect_code over_oa 503 "overloaded on /v1/chat/completions: 503"

# ---- connection-level failures ------------------------------------------

oa reset reset
case $(rc reset) in
52 | 56) ok "reset: connection closed before any header (curl exit $(rc reset))" ;;
*) not_ok "reset: connection closed before any header" "curl exit $(rc reset), HTTP $(code reset)" ;;
esac
if [ "$(ms reset)" -lt 2000 ]; then
    ok "reset: no hang ($(ms reset) ms)"
else
    not_ok "reset: no hang" "took $(ms reset) ms"
fi

oa silent silent '' --max-time 1
expect_eq "$(rc silent)" 28 "silent: curl --max-time 1 times out (exit 28)"

oa slow slow-ttft-300 ',"max_tokens":2'
expect_code slow 200 "slow-ttft-300: 200"
if [ "$(ms slow)" -ge 300 ]; then
    ok "slow-ttft-300: took >= 300 ms ($(ms slow) ms)"
else
    not_ok "slow-ttft-300: took >= 300 ms" "took $(ms slow) ms"
fi
oa slow_s slow-ttft-300 ',"stream":true,"max_tokens":2'
if [ "$(ms slow_s)" -ge 300 ] && [ "$(last_data slow_s)" = "data: [DONE]" ]; then
    ok "slow-ttft-300 stream: complete, took >= 300 ms ($(ms slow_s) ms)"
else
    not_ok "slow-ttft-300 stream: complete, took >= 300 ms" "took $(ms slow_s) ms; last: $(last_data slow_s)"
fi

oa cut cut-3 ',"stream":true'
if [ "$(rc cut)" = 18 ] || ! grep -qF '[DONE]' "$tmp/cut.body"; then
    ok "cut-3 stream: cut without [DONE] (curl exit $(rc cut))"
else
    not_ok "cut-3 stream: cut without [DONE]" "curl exit $(rc cut): $(tail -c 200 "$tmp/cut.body")"
fi
expect_eq "$(tok_chunks cut)" 3 "cut-3 stream: 3 content chunks before the cut"
oa cut_ns cut-3
expect_eq "$(rc cut_ns)" 18 "cut-3 non-stream: body cut short (curl exit 18)"

oa stall stall-2-300 ',"stream":true,"max_tokens":4'
if [ "$(ms stall)" -ge 300 ] && [ "$(tok_chunks stall)" = 4 ] &&
    [ "$(last_data stall)" = "data: [DONE]" ]; then
    ok "stall-2-300 stream: all 4 chunks and [DONE] after a >= 300 ms pause ($(ms stall) ms)"
else
    not_ok "stall-2-300 stream: all chunks after a pause" "$(ms stall) ms, $(tok_chunks stall) chunks, last: $(last_data stall)"
fi

oa mal malformed-2 ',"stream":true,"max_tokens":4'
n_before=$(sed -n '/^data: {not json$/q;p' "$tmp/mal.body" | grep -c '"content":"tok')
if grep -qx 'data: {not json' "$tmp/mal.body" && [ "$n_before" = 2 ]; then
    ok "malformed-2 stream: \"data: {not json\" after 2 chunks"
else
    not_ok "malformed-2 stream: \"data: {not json\" after 2 chunks" "$(head -c 600 "$tmp/mal.body")"
fi

oa nodone nodone ',"stream":true,"max_tokens":3'
expect_eq "$(rc nodone)" 0 "nodone stream: ends cleanly (curl exit 0)"
expect_no_body nodone '[DONE]' "nodone stream: no [DONE]"
expect_body nodone '"finish_reason":"stop"' "nodone stream: finish_reason"
expect_body nodone '"usage":{"prompt_tokens":3,"completion_tokens":3' "nodone stream: usage"

# ---- bad input ----------------------------------------------------------

req badjson -H 'Content-Type: application/json' "$U/v1/chat/completions" -d '{"model":'
expect_code badjson 400 "invalid JSON: 400"
expect_body badjson '"type":"invalid_request_error"' "invalid JSON: OpenAI error body"
req nomsg -H 'Content-Type: application/json' "$U/v1/chat/completions" -d '{"model":"healthy"}'
expect_code nomsg 400 "missing messages: 400"
req models "$U/v1/models"
expect_code models 200 "GET /v1/models: 200"
expect_body models '"id":"healthy"' "GET /v1/models: lists the behaviours"
head -c 1100000 /dev/zero | tr '\0' 'a' >"$tmp/big.json"
req big -H 'Expect:' "$U/v1/chat/completions" --data-binary "@$tmp/big.json"
nreq=$((nreq - 1)) # libevent answers the 413 itself: no log line
expect_code big 413 "body over 1 MiB: 413"

# ---- stop, then the log -------------------------------------------------

stop_fake "$pid"
expect_eq "$stop_status" 0 "SIGTERM: the fake exits 0"
pid=

lines=$(wc -l <"$log" | tr -d ' ')
expect_eq "$lines" "$nreq" "log: one line per request ($nreq)"
if grep -qF -- "$SECRET" "$log" || grep -qi 'bearer' "$log"; then
    not_ok "log: no key values" "$(grep -F -- "$SECRET" "$log" | head -n 2)"
else
    ok "log: no key values"
fi
bad=$(grep -cv '^{"t_ms":[0-9]*,"path":"[^"]*","model":.*"stream":\(true\|false\),"behaviour":"[^"]*","status":\([0-9]*\|null\),"attempt":\([0-9]*\|null\),.*"auth":\(true\|false\)' "$log")
expect_eq "$bad" 0 "log: every line has t_ms, path, model, stream, behaviour, status, attempt, auth"
bad=$(grep -cv '"auth":\(true\|false\),"seq":[1-9][0-9]*,"peer_port":[1-9][0-9]*,' "$log")
expect_eq "$bad" 0 "log: every line names its seq and the client's peer_port (its connection)"
seqs=$(sed -n 's/.*"seq":\([0-9]*\),.*/\1/p' "$log" | sort -n | uniq | wc -l | tr -d ' ')
expect_eq "$seqs" "$nreq" "log: each request has its own seq"
expect_eq "$(grep -c '"model":"healthy".*"headers":{"x-ladder-attempt":"1"},"auth":true' "$log")" 1 \
    "log: x-ladder-attempt header and auth true recorded"
expect_eq "$(grep -c '"behaviour":"silent".*"outcome":"client_gone"' "$log")" 1 \
    "log: the silent request is freed when the client goes away"
expect_eq "$(grep -c '"behaviour":"reset","status":null' "$log")" 1 \
    "log: reset has no status"
if grep -q '"model":"healthy","stream":true.*"chunks":7,' "$log" &&
    grep -q '"end_ms":' "$log"; then
    ok "log: streams record end_ms and chunks"
else
    not_ok "log: streams record end_ms and chunks" "$(grep '"stream":true' "$log" | head -n 2)"
fi
expect_eq "$(grep -c '"model":"flaky-once".*"status":200,"attempt":2,' "$log")" 1 \
    "log: attempt counts requests per model"

# ---- --max-requests: exits by itself ------------------------------------

if start_fake "$tmp/fake2.out" --max-requests 2 --max-lifetime 30; then
    pid2=$started_pid
    U=http://127.0.0.1:$port
    req mr1 "$U/v1/models"
    oa mr2 healthy ',"stream":true,"max_tokens":3'
    expect_eq "$(last_data mr2)" "data: [DONE]" "--max-requests 2: the last request is answered in full"
    if ! gone "$pid2"; then
        not_ok "--max-requests 2: exits after 2 requests" "still running after 5 s"
    else
        wait "$pid2"
        expect_eq "$?" 0 "--max-requests 2: exits 0 after 2 requests"
        pid2=
    fi
else
    not_ok "--max-requests: fake starts" "$(cat "$tmp/fake2.out.err")"
fi

# ---- --max-lifetime: exits by itself; --help; --opt=value ----------------

"$FAKE" --help >"$tmp/help.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q -- '--max-lifetime S' "$tmp/help.out" &&
    grep -q 'default: never' "$tmp/help.out" && grep -q -- '--max-requests N' "$tmp/help.out"; then
    ok "--help exits 0 and documents its options, --max-lifetime (default: never) among them"
else
    not_ok "--help exits 0 and documents its options" "rc=$rc $(head -3 "$tmp/help.out")"
fi
"$FAKE" --tokens=0 >"$tmp/bad.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q -- '--tokens needs a whole number from 1 to 16384, got "0"' "$tmp/bad.out"; then
    ok "a bad value (--tokens=0) exits 2 naming the option and the value"
else
    not_ok "a bad value exits 2 naming the option and the value" "rc=$rc $(cat "$tmp/bad.out")"
fi
"$FAKE" --bogus 1 >"$tmp/bad2.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q '"--bogus"' "$tmp/bad2.out"; then
    ok "an unknown option exits 2 naming itself"
else
    not_ok "an unknown option exits 2 naming itself" "rc=$rc $(cat "$tmp/bad2.out")"
fi
if start_fake "$tmp/fake3.out" --max-lifetime=1; then
    pid3=$started_pid
    if ! gone "$pid3"; then
        not_ok "--max-lifetime=1: exits by itself" "still running after 5 s"
    else
        wait "$pid3"
        rc=$?
        pid3=
        if [ $rc -eq 0 ] && grep -q 'lifetime of 1 s reached' "$tmp/fake3.out.err"; then
            ok "--max-lifetime=1: exits 0 by itself and says why"
        else
            not_ok "--max-lifetime=1: exits 0 by itself and says why" "rc=$rc $(cat "$tmp/fake3.out.err")"
        fi
    fi
else
    not_ok "--max-lifetime: fake starts" "$(cat "$tmp/fake3.out.err")"
fi

finish
