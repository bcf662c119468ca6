#!/bin/sh
# first_serve.sh - the README's first `ladder serve` test works: the fake
# provider, `ladder serve examples/fake-policy.json` and one curl give an
# answer from the backup after the primary's 503. The README's fixed ports
# (9100, 8080) become free ones here, so that tests running at the same
# time do not collide; everything else is the README's.
#
# LADDER is the binary, TOOLS the built helper programs (fake_provider).
# Needs curl. Prints ok / not ok lines; exits 1 on any failure. Readiness
# is polled, never slept for.
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

# the README's three lines
expect_in README.md "bin/fake_provider --port 9100" \
    "the README starts the fake provider on port 9100"
expect_in README.md "bin/ladder serve examples/fake-policy.json --listen 127.0.0.1:8080" \
    "the README serves examples/fake-policy.json"
expect_in README.md "curl -si http://127.0.0.1:8080/v1/chat/completions" \
    "the README sends one curl"

run check check examples/fake-policy.json
expect_rc check 0 "examples/fake-policy.json passes ladder check"

start_fake --max-lifetime 120
sed "s|http://127.0.0.1:9100/v1|$fake_url|" examples/fake-policy.json >"$tmp/policy.json"
"$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --print-port \
    >"$tmp/serve.out" 2>"$tmp/serve.err" &
ladder_pid=$!
if ! listen=$(wait_line "$tmp/serve.out" \
    's/^listening on \([0-9.]*:[0-9]*\) admin .*$/\1/p' "$ladder_pid"); then
    not_ok "ladder serve starts" "$(cat "$tmp/serve.err")"
    finish
fi
curl -si "http://$listen/v1/chat/completions" -H 'content-type: application/json' \
    -d '{"model": "auto", "messages": [{"role": "user", "content": "Hello"}]}' \
    >"$tmp/answer" 2>"$tmp/curl.err"
expect_re "$tmp/answer" '^HTTP/1.1 200' "the curl gets 200"
expect_re "$tmp/answer" '^x-ladder-route: backup' "the backup answers"
expect_re "$tmp/answer" '^x-ladder-fallback: overloaded' "after the primary's 503 (overloaded)"
expect_in "$tmp/answer" '"model":"backup/healthy"' "the answer names the backup's model"
expect_in README.md "x-ladder-fallback: overloaded" "the README says what the answer shows"
finish
