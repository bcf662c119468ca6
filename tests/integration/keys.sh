#!/bin/sh
# keys.sh - client keys in `ladder serve` (README "Running it for users"):
# keys made by `ladder key new` work as keys (Bearer and x-api-key); no key
# or a wrong one is a 401 invalid_api_key; a free key cannot reach the
# enterprise tier through x-ladder-tier (403) while a paid key may narrow
# to the free tier its entry lists; a workload the key may not use is a
# 403; a key with rpm 3 gets a 429 rate_limit_exceeded with Retry-After on
# its 4th request in a minute; a usd_per_day budget stops spend (429
# insufficient_quota); a non-loopback listener without keys is refused
# with a clear message; a bad keys file names its line and field.
#
# LADDER is the binary, TOOLS the built helper programs (fake_provider).
# Needs curl. Everything on 127.0.0.1; readiness is polled, never slept for.
. "$(dirname "$0")/lib/common.sh"
require_ladder

fake_pid=
ladder_pid=
cleanup_hook() {
    stop "$ladder_pid"
    stop "$fake_pid"
}

if ! command -v curl >/dev/null 2>&1; then
    not_ok "curl is installed"
    finish
fi

start_fake --max-lifetime 120 --tokens 5
U=$fake_url
{
    echo '{"version": 1, "keys_file": "keys.jsonl", "routes": {'
    printf '  "r": {"provider": "openai", "model": "r/healthy", "base_url": "%s", "price": {"input_per_mtok": 2, "output_per_mtok": 8}}' "$U"
    echo '}, "workloads": {'
    echo '  "chat": {"ladder": ["r"], "on": {"*": "next"}, "safe_failure": {"status": 503, "message": "busy"}},'
    echo '  "report": {"ladder": ["r"], "on": {"*": "next"}, "safe_failure": {"status": 503, "message": "busy"}}'
    echo '}, "tiers": {"free": {}, "paid": {}, "enterprise": {}}}'
} >"$tmp/policy.json"

# newkey NAME ARGS...: `ladder key new ARGS`; the secret in $tmp/NAME.secret,
# the entry appended to keys.jsonl
newkey() {
    _n=$1
    shift
    if "$LADDER" key new "$@" >"$tmp/$_n.new" 2>"$tmp/$_n.newerr"; then
        sed -n 1p "$tmp/$_n.new" >"$tmp/$_n.secret"
        sed -n 2p "$tmp/$_n.new" >>"$tmp/keys.jsonl"
    else
        not_ok "ladder key new $*" "$(cat "$tmp/$_n.newerr")"
    fi
}
newkey free --id free-1 --tier free --workloads all
newkey paid --id paid-1 --tier paid --tiers free --workloads chat
newkey rpm --id rpm-3 --tier paid --workloads all --rpm 3
newkey budget --id budget-1 --tier paid --workloads all --usd-per-day 0.0002
check "ladder key new prints an lk- secret and its entry" \
    "grep -qE '^lk-[0-9a-f]{64}\$' '$tmp/free.secret' && grep -q '\"id\":\"free-1\"' '$tmp/keys.jsonl'"
check "the entry holds the secret's hash, not the secret" \
    "! grep -qF \"\$(cat '$tmp/free.secret')\" '$tmp/keys.jsonl'"

# a bad keys file: its line and field
printf '# one bad key\n{"id": "x", "sha256": "%064d", "tier": "gold", "workloads": "all"}\n' 0 >"$tmp/bad.jsonl"
run bad serve "$tmp/policy.json" --keys "$tmp/bad.jsonl" --listen 127.0.0.1:0
expect_rc bad 2 "a bad keys file is refused (exit 2)"
expect_in "$tmp/bad.err" "bad.jsonl:2: tier: unknown tier \"gold\"" \
    "...naming its line and field"

# no keys, not on loopback: refused before listening
cp "$tmp/policy.json" "$tmp/open.json"
sed -i 's/"keys_file": "keys.jsonl", //' "$tmp/open.json"
run open serve "$tmp/open.json" --listen 0.0.0.0:0
expect_rc open 2 "serving 0.0.0.0 without keys is refused (exit 2)"
expect_in "$tmp/open.err" "refusing to listen on 0.0.0.0 without client keys" \
    "...saying why"
expect_in "$tmp/open.err" "--no-auth" "...and how to serve it open on purpose"
run admin serve "$tmp/policy.json" --listen 127.0.0.1:0 --admin 0.0.0.0:0
expect_rc admin 2 "a non-loopback admin listener without --admin-token is refused (exit 2)"

"$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --print-port \
    --events "$tmp/events.jsonl" --trace "$tmp/trace.jsonl" >"$tmp/serve.out" 2>"$tmp/serve.err" &
ladder_pid=$!
if ! listen=$(wait_line "$tmp/serve.out" \
    's/^listening on \([0-9.]*:[0-9]*\) admin .*$/\1/p' "$ladder_pid"); then
    not_ok "ladder serve starts with the policy's keys_file" "$(cat "$tmp/serve.err")"
    finish
fi
ok "ladder serve starts with the policy's keys_file"

# ask NAME [CURL ARGS...]: one chat request; headers and body in $tmp/NAME
ask() {
    _n=$1
    shift
    curl -si --max-time 10 "http://$listen/v1/chat/completions" \
        -H 'content-type: application/json' "$@" \
        -d '{"model": "auto", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}' \
        >"$tmp/$_n" 2>"$tmp/$_n.curlerr"
}
bearer() { echo "Authorization: Bearer $(cat "$tmp/$1.secret")"; }

ask nokey
expect_re "$tmp/nokey" '^HTTP/1.1 401' "no key: 401"
expect_in "$tmp/nokey" '"type":"invalid_request_error"' "...an OpenAI-style error"
expect_in "$tmp/nokey" '"code":"invalid_api_key"' "...code invalid_api_key"
ask wrong -H "Authorization: Bearer lk-0000000000000000000000000000000000000000000000000000000000000000"
expect_re "$tmp/wrong" '^HTTP/1.1 401' "a wrong key: 401"
expect_in "$tmp/wrong" '"code":"invalid_api_key"' "...code invalid_api_key"
ask hashed -H "Authorization: Bearer $(sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p' "$tmp/keys.jsonl" | head -n 1)"
expect_re "$tmp/hashed" '^HTTP/1.1 401' "the stored hash is no key: 401"

ask free -H "$(bearer free)"
expect_re "$tmp/free" '^HTTP/1.1 200' "a key from ladder key new is served (Bearer)"
trace_of() { grep "\"id\":\"$(sed -n 's/^x-ladder-request-id: \([^\r]*\).*/\1/p' "$tmp/$1" | tr -d '\r')\"" "$tmp/trace.jsonl"; }
ask freex -H "x-api-key: $(cat "$tmp/free.secret")"
expect_re "$tmp/freex" '^HTTP/1.1 200' "...and as x-api-key"
ask climb -H "$(bearer free)" -H 'x-ladder-tier: enterprise'
expect_re "$tmp/climb" '^HTTP/1.1 403' "a free key cannot claim the enterprise tier (403)"
expect_in "$tmp/climb" '"code":"tier_not_allowed"' "...code tier_not_allowed"
ask narrow -H "$(bearer paid)" -H 'x-ladder-tier: free'
expect_re "$tmp/narrow" '^HTTP/1.1 200' "a paid key may narrow to the free tier it lists"
check "...and is served in it (trace: tier free, key paid-1)" \
    "trace_of narrow | grep -q '\"tier\":\"free\",\"key\":\"paid-1\"'" "$(cat "$tmp/trace.jsonl")"
check "the free key's request is in the key's tier (trace: tier free, key free-1)" \
    "trace_of free | grep -q '\"tier\":\"free\",\"key\":\"free-1\"'" "$(cat "$tmp/trace.jsonl")"
ask wl -H "$(bearer paid)" -H 'x-ladder-workload: report'
expect_re "$tmp/wl" '^HTTP/1.1 403' "a workload the key may not use: 403"
expect_in "$tmp/wl" '"code":"workload_not_allowed"' "...code workload_not_allowed"

# rpm 3: the 4th request in one minute (windows are whole UTC minutes: do
# not start within 5 s of the next one)
i=0
while [ "$(date -u +%S)" -ge 55 ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
for n in 1 2 3 4; do
    ask "rpm$n" -H "$(bearer rpm)"
done
check "a key with rpm 3 is served 3 times" \
    "grep -q '^HTTP/1.1 200' '$tmp/rpm1' && grep -q '^HTTP/1.1 200' '$tmp/rpm2' && grep -q '^HTTP/1.1 200' '$tmp/rpm3'" \
    "$(head -n 1 "$tmp/rpm1" "$tmp/rpm2" "$tmp/rpm3")"
expect_re "$tmp/rpm4" '^HTTP/1.1 429' "...and its 4th request gets 429"
expect_in "$tmp/rpm4" '"code":"rate_limit_exceeded"' "...code rate_limit_exceeded"
ra=$(sed -n 's/^Retry-After: \([0-9]*\).*/\1/p' "$tmp/rpm4")
check "...with Retry-After until the minute ends (1-60 s, got \"$ra\")" \
    "[ -n '$ra' ] && [ '$ra' -ge 1 ] && [ '$ra' -le 60 ]"

# usd_per_day 0.0002: each answer costs about 0.000044, the estimate
# before it (10 tokens out) about 0.000084
served=0
refused=
for n in 1 2 3 4 5 6 7 8; do
    ask "b$n" -H "$(bearer budget)"
    if grep -q '^HTTP/1.1 200' "$tmp/b$n"; then
        served=$((served + 1))
    else
        refused=b$n
        break
    fi
done
check "a usd_per_day budget serves a few requests ($served)" "[ $served -ge 2 ] && [ $served -le 5 ]"
if [ -n "$refused" ]; then
    expect_re "$tmp/$refused" '^HTTP/1.1 429' "...then stops spend with 429"
    expect_in "$tmp/$refused" '"code":"insufficient_quota"' "...code insufficient_quota"
    expect_in "$tmp/$refused" '"limit":"usd_per_day"' "...naming the usd_per_day limit"
    expect_re "$tmp/$refused" '^Retry-After: [0-9]+' "...with Retry-After (the next UTC day)"
else
    not_ok "...then stops spend with 429" "8 requests served"
fi
ask bafter -H "$(bearer budget)"
expect_re "$tmp/bafter" '^HTTP/1.1 429' "...and keeps stopping it"

admin=$(sed -n 's/^listening on .* admin \([0-9.]*:[0-9]*\)$/\1/p' "$tmp/serve.out")
curl -s --max-time 5 "http://$admin/metrics" >"$tmp/metrics" 2>/dev/null
expect_in "$tmp/metrics" 'ladder_key_requests_total{key="rpm-3",outcome="success"} 3' \
    "metrics count the rpm key's 3 answers by key id"
expect_in "$tmp/metrics" 'ladder_key_requests_total{key="rpm-3",outcome="key_limit"} 1' \
    "...and its refusal"
check "...which is a request the core ended: one trace line (failed, key_limit, 429)" \
    "[ \"\$(grep '\"key\":\"rpm-3\"' '$tmp/trace.jsonl' | grep '\"outcome\":\"failed\"' | grep '\"key_limit\"' | grep -c '\"status\":429')\" = 1 ]"
expect_in "$tmp/metrics" 'ladder_key_requests_total{key="free-1",outcome="forbidden"} 1' \
    "...and the free key's enterprise attempt"
expect_re "$tmp/metrics" '^ladder_key_spend_usd_total\{key="budget-1"\} 0\.000[01][0-9]*' \
    "the budget key's spend stays under its 0.0002 USD a day"
expect_in "$tmp/metrics" 'ladder_requests_rejected_total{reason="unauthorized"} 3' \
    "the 401s are counted as rejected (unauthorized)"
expect_re "$tmp/events.jsonl" '"type":"request".*"key":"paid-1"' \
    "the event log's request events name the key id"
check "no secret is in the event log or the server's output" \
    "! grep -qF \"\$(cat '$tmp/free.secret')\" '$tmp/events.jsonl' '$tmp/serve.err' '$tmp/serve.out'"
stop "$ladder_pid"
ladder_pid=
expect_eq "$stop_status" 0 "ladder serve exits 0 on SIGTERM"
finish
