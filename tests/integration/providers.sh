#!/bin/sh
# providers.sh - `ladder serve` with Azure OpenAI, Gemini and Bedrock
# routes on the fake provider, which speaks each API (its paths, bodies,
# streams, errors; Bedrock's AWS event-stream frames and a SigV4 check of
# the signature it receives, --aws-secret): plain and streaming answers
# through each, then a ladder where each route type fails (Azure 503 and
# its 400 content_filter, Gemini 429 RESOURCE_EXHAUSTED and a safety
# block, Bedrock throttling as a 429 and as an exception frame inside a
# stream, a frame whose CRC is wrong) and falls back to another type; a
# route's extra headers and query parameters (one from the environment);
# a request signed by curl's --aws-sigv4 (right without escapes in the
# path, wrong with a model id's %3A: the fake follows AWS's double
# encoding); and a Bedrock route signed with the wrong secret: 403,
# auth_error.
#
# LADDER is the binary, TOOLS the built helper programs (fake_provider).
# Needs curl. Everything on 127.0.0.1 with port 0; readiness is polled.
. "$(dirname "$0")/lib/common.sh"
require_ladder

fake_pid=
ladder_pid=
cleanup_hook() {
    stop "$ladder_pid"
    stop "$fake_pid"
}

start_fake --log "$tmp/fake.log" --tokens 4 --aws-secret test-secret-key \
    --max-lifetime 120
B=${fake_url%/v1}

# route ID PROVIDER MODEL BASE [EXTRA]
route() {
    printf '    "%s": {"provider": "%s", "model": "%s", "base_url": "%s", "price": {"input_per_mtok": 1, "output_per_mtok": 4}%s},\n' \
        "$1" "$2" "$3" "$4" "${5:-}"
}
AZ=', "api_key_env": "AZ_KEY"'
GM=', "api_key_env": "GM_KEY"'
BR=', "aws_region": "us-east-1"'
{
    echo '{"version": 1, "routes": {'
    route az-ok azure az-ok/healthy "$B" "$AZ"', "headers": {"x-ladder-org": "acme", "x-ladder-tenant": {"env": "TENANT", "prefix": "t-"}}, "query": {"api-version": "2025-01-01", "tag": "a b&c"}'
    route az-down azure az-down/down "$B" "$AZ"
    route az-cnt azure az-cnt/content "$B" "$AZ"
    route gm-ok gemini gm-ok/healthy "$B/v1beta" "$GM"
    route gm-rl gemini gm-rl/ratelimit "$B/v1beta" "$GM"
    route gm-safe gemini gm-safe/content "$B/v1beta" "$GM"
    route br-ok bedrock "anthropic.br-ok/healthy-v1:0" "$B" "$BR"
    route br-thr bedrock "br-thr/ratelimit" "$B" "$BR"
    route br-mal bedrock "br-mal/malformed-0" "$B" "$BR"
    route oa-ok openai oa-ok/healthy "$B/v1"
    echo '    "last": {"provider": "openai", "model": "last/healthy", "base_url": "'"$B"'/v1", "price": {"input_per_mtok": 1, "output_per_mtok": 4}}'
    echo '  }, "workloads": {'
    for w in az-ok gm-ok br-ok; do
        printf '    "%s": {"ladder": ["%s"], "on": {"*": "next"}},\n' "$w" "$w"
    done
    printf '    "azure": {"ladder": ["az-down", "gm-ok"], "on": {"*": "next"}},\n'
    printf '    "gemini": {"ladder": ["gm-rl", "br-ok"], "on": {"*": "next"}},\n'
    printf '    "bedrock": {"ladder": ["br-thr", "az-ok"], "on": {"*": "next"}},\n'
    printf '    "frames": {"ladder": ["br-mal", "gm-ok"], "on": {"*": "next"}},\n'
    printf '    "safety": {"ladder": ["gm-safe", "oa-ok"], "on": {"content_blocked": "next", "*": "next"}},\n'
    printf '    "filter": {"ladder": ["az-cnt", "br-ok"], "on": {"content_blocked": "next", "*": "next"}},\n'
    printf '    "signed": {"ladder": ["br-ok", "last"], "on": {"*": "next"}}\n'
    echo '  },'
    echo '  "breaker": {"window_s": 60, "min_requests": 1000, "failure_rate": 0.5, "open_for_s": 30},'
    echo '  "retry_budget": {"ratio": 10, "min_per_s": 1000}'
    echo '}'
} >"$tmp/policy.json"

if "$LADDER" check "$tmp/policy.json" >"$tmp/check.out" 2>&1; then
    ok "the providers policy loads"
else
    not_ok "the providers policy loads" "$(cat "$tmp/check.out")"
    exit 1
fi

# prices from the genai-prices list shipped in traces/
cat >"$tmp/prices.json" <<EOF
{"version": 1,
 "prices": {"from": "genai-prices", "file": "$root/traces/genai_prices/genai_prices_current.csv"},
 "routes": {"flash": {"provider": "gemini", "model": "gemini-2.0-flash", "price": "genai-prices"},
            "nova": {"provider": "bedrock", "model": "amazon.nova-lite-v1:0", "aws_region": "us-east-1", "price": "genai-prices"}},
 "workloads": {"w": {"ladder": ["flash", "nova"]}}}
EOF
if out=$("$LADDER" check "$tmp/prices.json" 2>&1) &&
    printf '%s' "$out" | grep -q 'primary: flash (estimated \$0\.00020 per request)'; then
    ok "a policy takes gemini and bedrock prices from genai-prices"
else
    not_ok "a policy takes gemini and bedrock prices from genai-prices" "$out"
fi
sed 's/amazon.nova-lite-v1:0/amazon.nova-nano-v9/' "$tmp/prices.json" >"$tmp/prices_bad.json"
"$LADDER" check "$tmp/prices_bad.json" >"$tmp/pb.out" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q 'routes.nova.price: no entry for provider "aws", model "amazon.nova-nano-v9"' "$tmp/pb.out"; then
    ok "a model the list does not hold is an error naming the route"
else
    not_ok "a model the list does not hold is an error naming the route" "exit $rc: $(cat "$tmp/pb.out")"
fi

# serve SECRET: ladder serve with the AWS secret SECRET; sets listen
serve() {
    fresh "$tmp/ladder.out" # (not the last server's line)
    AZ_KEY=az-key GM_KEY=gm-key TENANT=blue AWS_ACCESS_KEY_ID=AKIDLADDERTEST \
        AWS_SECRET_ACCESS_KEY=$1 AWS_SESSION_TOKEN=session-token \
        "$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --print-port \
        --seed 7 >"$tmp/ladder.out" 2>"$tmp/ladder.err" &
    ladder_pid=$!
    if ! addr=$(wait_line "$tmp/ladder.out" \
        's/^listening on \([0-9.]*:[0-9]*\) admin .*$/\1/p' "$ladder_pid"); then
        not_ok "ladder serve prints its ports" "$(cat "$tmp/ladder.err")"
        exit 1
    fi
    listen=$addr
}

n=0
# ask WORKLOAD STREAM: POST a chat; the headers in $tmp/h.N, body $tmp/b.N
ask() {
    n=$((n + 1))
    curl -s -m 10 -D "$tmp/h.$n" -o "$tmp/b.$n" \
        -H "content-type: application/json" -H "x-ladder-workload: $1" \
        "http://$listen/v1/chat/completions" \
        -d '{"model": "any", "stream": '"$2"', "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "say four words"}]}'
}
hdr() { sed -n "s/^$1: \\([^\\r]*\\)\\r*\$/\\1/Ip" "$tmp/h.$n" | head -n 1; }
status() { sed -n 's/^HTTP\/1.1 \([0-9]*\).*/\1/p' "$tmp/h.$n" | head -n 1; }

# answered WORKLOAD STREAM ROUTE FALLBACK: 200 from ROUTE, the text whole
answered() {
    ask "$1" "$2"
    st=$(status) rt=$(hdr x-ladder-route) fb=$(hdr x-ladder-fallback)
    if [ "$2" = true ]; then
        text=$(sed -n 's/^data: //p' "$tmp/b.$n" | grep -v '^\[DONE\]$' |
            sed -n 's/.*"content":"\([^"]*\)".*/\1/p' | tr -d '\n')
        done_ok=$(grep -c '^data: \[DONE\]' "$tmp/b.$n")
    else
        text=$(sed -n 's/.*"content":"\([^"]*\)".*/\1/p' "$tmp/b.$n")
        done_ok=1
    fi
    what="$1 (stream $2) is answered by $3${4:+ after $4}"
    if [ "$st" = 200 ] && [ "$rt" = "$3" ] && [ "$text" = "tok1 tok2 tok3 tok4 " ] &&
        [ "$done_ok" = 1 ] && [ "${fb:-none}" = "${4:-none}" ]; then
        ok "$what"
    else
        not_ok "$what" "status $st route $rt fallback $fb text '$text' done $done_ok
$(head -c 600 "$tmp/b.$n")"
    fi
}

serve test-secret-key
ok "ladder serve is listening ($listen)"

# each provider on its own, whole and streamed
for w in az-ok gm-ok br-ok; do
    answered "$w" false "$w"
    answered "$w" true "$w"
done

# each route type fails and another type answers
answered azure false gm-ok overloaded
answered azure true gm-ok overloaded
answered gemini false br-ok rate_limited
answered gemini true br-ok rate_limited
answered bedrock false az-ok rate_limited
answered bedrock true az-ok rate_limited
answered frames true gm-ok invalid_response
answered safety false oa-ok content_blocked
answered safety true oa-ok content_blocked
answered filter false br-ok content_blocked
answered signed false br-ok

# what reached the fake
log=$tmp/fake.log
line() { grep -i "\"path\":\"$1\"" "$log" | head -n 1; }
l=$(line '/openai/deployments/az-ok%2Fhealthy/chat/completions')
case "$l" in
*'"query":"api-version=2025-01-01&tag=a+b%26c"'*'"x-ladder-org":"acme"'*'"x-ladder-tenant":"t-blue"'*'"auth":true'*)
    ok "an Azure call has its deployment URL, the route's api-version and query, its headers and api-key" ;;
*) not_ok "an Azure call has its deployment URL, the route's api-version and query, its headers and api-key" "$l
$(head -c 1500 "$log")" ;;
esac
l=$(line '/v1beta/models/gm-ok%2Fhealthy:streamGenerateContent')
case "$l" in
*'"query":"alt=sse"'*'"auth":true'*) ok "a Gemini stream asks streamGenerateContent?alt=sse with x-goog-api-key" ;;
*) not_ok "a Gemini stream asks streamGenerateContent?alt=sse with x-goog-api-key" "$l" ;;
esac
c=$(grep -ic '"path":"/model/anthropic.br-ok%2fhealthy-v1%3a0/converse[-a-z]*".*"status":200' "$log")
if [ "$c" -ge 3 ]; then
    ok "Bedrock calls pass the fake's SigV4 check ($c answered 200)"
else
    not_ok "Bedrock calls pass the fake's SigV4 check ($c answered 200)" "$(grep '"/model/' "$log" | head -5)"
fi
c=$(grep -c '"behaviour":"bad_signature"' "$log")
if [ "$c" = 0 ]; then ok "no call was refused for its signature"; else not_ok "no call was refused for its signature" "$c refused"; fi

# the fake checks SigV4 as AWS does (each path segment encoded twice), not
# as libcurl 7.88's --aws-sigv4 signs (the path as sent): curl's signature
# passes where the path has no escape and is refused where the model id's
# ':' goes as %3A, which the router's own signer gets right (above)
sigv4_curl() {
    curl -s -m 10 -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:bedrock" \
        --user AKIDLADDERTEST:test-secret-key -H "content-type: application/json" \
        "$B/model/$1/converse" -d '{"messages": [{"role": "user", "content": [{"text": "hi"}]}]}'
}
st=$(sigv4_curl plain-model)
[ "$st" = 200 ] && ok "curl's own SigV4 passes the fake's check on a path without escapes" ||
    not_ok "curl's own SigV4 passes the fake's check on a path without escapes" "status $st $(tail -2 "$log")"
st=$(sigv4_curl 'anthropic.claude-v2%3A1')
[ "$st" = 403 ] && ok "curl 7.88's SigV4 over a %3A path (signed once, not twice) is refused: 403" ||
    not_ok "curl 7.88's SigV4 over a %3A path (signed once, not twice) is refused: 403" "status $st $(tail -2 "$log")"

stop "$ladder_pid"
ladder_pid=
[ "$stop_status" = 0 ] && ok "ladder serve exits 0 on SIGTERM" ||
    not_ok "ladder serve exits 0 on SIGTERM (got $stop_status)" "$(tail -5 "$tmp/ladder.err")"

# a wrong secret: the fake refuses the signature (403), an auth_error
c0=$(grep -c '"behaviour":"bad_signature","status":403' "$log")
serve wrong-secret
answered signed false last auth_error
c=$(grep -c '"behaviour":"bad_signature","status":403' "$log")
[ "$c" -gt "$c0" ] && ok "the fake refused the wrong signature with 403" ||
    not_ok "the fake refused the wrong signature with 403" "$(tail -3 "$log")"
if grep -q 'wrong-secret\|session-token\|az-key\|gm-key' "$tmp/ladder.err" "$tmp/ladder.out"; then
    not_ok "no secret appears in ladder's output"
else
    ok "no secret appears in ladder's output"
fi
stop "$ladder_pid"
ladder_pid=
[ "$stop_status" = 0 ] && ok "ladder serve exits 0 on SIGTERM (second run)" ||
    not_ok "ladder serve exits 0 on SIGTERM (second run, got $stop_status)"

finish
