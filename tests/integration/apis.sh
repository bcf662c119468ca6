#!/bin/sh
# apis.sh - the client APIs besides chat completions, through the SDKs
# teams use (tests/integration/node/apis_client.mjs): POST /v1/messages with
# the official @anthropic-ai/sdk (plain, streaming, tools and tool results,
# an image, errors in the Anthropic shape), POST /v1/responses with the
# openai SDK and the Vercel AI SDK's default OpenAI model (generateText,
# streamText, tools; previous_response_id, store and background refused),
# POST /v1/embeddings with the openai SDK over an embedding workload with a
# fallback; each against the fake provider's OpenAI and Anthropic routes
# with a fallback from one route type to the other. Then
# (node/langchain_client.mjs) LangChain's ChatOpenAI on chat completions and
# with useResponsesApi, the openai SDK's chat.completions and the Vercel AI
# SDK's error case: plain, streaming, tools (streamed and not) and a
# content-blocked 400, each with the upstream attempts it cost counted from
# the fake provider's log. Then (node/responses_client.mjs) /v1/responses
# passed through to routes that speak Responses (capability "responses"):
# plain, streamed, a cut or malformed stream before its first token and a
# 503 falling back to a chat route (translated), a cut after it ending with
# an error event, a stream whose response.completed is over 1 MiB, one that
# ends without response.completed (a cut, never a success), the AI SDK and
# LangChain against such a route. Then the
# raw wire:
# the legacy /v1/completions 404, the anthropic-version header, and the
# events and trace of the requests.
#
# LADDER is the binary, TOOLS the built helper programs (fake_provider).
# Needs node and npm (`npm ci` in tests/integration/node when a package is
# missing). Everything on 127.0.0.1, ports chosen by the system; readiness
# is polled, never slept for.
. "$(dirname "$0")/lib/common.sh"
require_ladder
require_sdk
NODE_DIR=$root/tests/integration/node
for pkg in @anthropic-ai/sdk ai @ai-sdk/openai @langchain/openai @langchain/core; do
    if [ ! -d "$NODE_DIR/node_modules/$pkg" ] &&
        ! (cd "$NODE_DIR" && npm ci --no-audit --no-fund >/dev/null 2>&1); then
        not_ok "npm ci in tests/integration/node (for $pkg)"
        exit 1
    fi
done
SECRET=sk-ladder-apis-SECRET-7c2e41

fake_pid=
ladder_pid=
cleanup_hook() {
    stop "$ladder_pid"
    stop "$fake_pid"
}

start_fake --log "$tmp/fake.log" --tokens 5 --max-lifetime 120
U=$fake_url

# route ID PROVIDER MODEL [OUTPUT_PRICE]
route() {
    printf '    "%s": {"provider": "%s", "model": "%s", "base_url": "%s", "api_key_env": "LADDER_TEST_KEY", "price": {"input_per_mtok": 2, "output_per_mtok": %s}, "quality": 0.9, "capabilities": ["stream", "tools", "vision"]},\n' \
        "$1" "$2" "$3" "$U" "${4:-8}"
}
# rroute ID MODEL: an openai route that speaks Responses too
rroute() {
    printf '    "%s": {"provider": "openai", "model": "%s", "base_url": "%s", "api_key_env": "LADDER_TEST_KEY", "price": {"input_per_mtok": 2, "output_per_mtok": 8}, "quality": 0.9, "capabilities": ["stream", "tools", "responses"]},\n' \
        "$1" "$2" "$U"
}
# workload NAME "LADDER" [EXTRA]
workload() {
    printf '    "%s": {"ladder": [%s], "on": {"*": "next"}, "constraints": {"ttft_ms": 5000, "total_ms": 10000}%s},\n' \
        "$1" "$2" "${3:-}"
}
{
    echo '{"version": 1, "routes": {'
    route oa openai oa/healthy
    route an anthropic an/healthy
    route oa-down openai oad/down
    route an-down anthropic and/down
    route oa-tool openai oat/tool
    route em-down openai emd/down 0
    route lc-down openai lcd/down
    route lc openai lc/healthy
    route lc-tool openai lct/tool
    route lc-cnt openai lcc/content
    rroute rs rs/healthy
    rroute rs-cut rsc/cut-0
    rroute rs-down rsd/down
    rroute rs-cut2 rsk/cut-2
    rroute rs-mal rsm/malformed-0
    rroute rs-nodone rsn/nodone
    printf '    "rs-big": {"provider": "openai", "model": "rs/healthy", "base_url": "%s", "api_key_env": "LADDER_TEST_KEY", "price": {"input_per_mtok": 2, "output_per_mtok": 8}, "context_window": 1000000, "capabilities": ["stream", "responses"]},\n' "$U"
    route rs-chat openai rso/healthy
    printf '    "em": {"provider": "openai", "model": "em/healthy", "base_url": "%s", "api_key_env": "LADDER_TEST_KEY", "price": {"input_per_mtok": 0.5, "output_per_mtok": 0}}\n' "$U"
    echo '  }, "workloads": {'
    workload to-oa '"an-down", "oa"'
    workload to-an '"oa-down", "an"'
    workload tools '"oa-tool"'
    workload down '"oa-down", "an-down"' ', "safe_failure": {"status": 503, "message": "busy"}'
    workload lc '"lc-down", "lc"'
    workload lc-tools '"lc-tool"'
    workload native '"rs"'
    workload native-cut '"rs-cut", "rs-chat"'
    workload native-down '"rs-down", "rs-chat"'
    workload native-cut2 '"rs-cut2", "rs-chat"'
    workload native-mal '"rs-mal", "rs-chat"'
    workload native-nodone '"rs-nodone", "rs-chat"'
    printf '    "native-big": {"ladder": ["rs-big"], "on": {"*": "next"}, "constraints": {"ttft_ms": 20000, "total_ms": 60000}},\n'
    printf '    "lc-blocked": {"ladder": ["lc-cnt", "lc"], "on": {"content_blocked": "fail", "*": "next"}, "safe_failure": {"status": 400, "message": "Your request was blocked by policy."}},\n'
    printf '    "embed": {"kind": "embedding", "ladder": ["em-down", "em"], "on": {"*": "next"}}\n'
    echo '  }, "models": {"aliases": {"claude-x": "to-oa", "gpt-x": "to-oa",'
    echo '                            "text-embedding-x": "embed"}},'
    echo '  "defaults": {"workload": "to-oa"}}'
} >"$tmp/policy.json"

if ! "$LADDER" check "$tmp/policy.json" >"$tmp/check.out" 2>&1; then
    not_ok "the test policy loads" "$(cat "$tmp/check.out")"
    exit 1
fi

LADDER_TEST_KEY=$SECRET "$LADDER" serve "$tmp/policy.json" \
    --listen 127.0.0.1:0 --print-port --no-auth --events "$tmp/events.jsonl" \
    --trace "$tmp/trace.jsonl" >"$tmp/ladder.out" 2>"$tmp/ladder.err" &
ladder_pid=$!
addr=$(wait_line "$tmp/ladder.out" \
    's/^listening on \([0-9.]*:[0-9]*\) admin \([0-9.]*:[0-9]*\)$/\1/p' \
    "$ladder_pid") || {
    not_ok "ladder serve prints its ports" "$(cat "$tmp/ladder.err")"
    exit 1
}
ok "ladder serve is listening ($addr)"
L=http://$addr/v1

LADDER_URL=$L LADDER_KEY=unused node "$NODE_DIR/apis_client.mjs" \
    >"$tmp/node.out" 2>&1
node_rc=$?
cat "$tmp/node.out"
count_node "$tmp/node.out"
[ $node_rc -eq 0 ] || not_ok "the SDK client exits 0 (it exited $node_rc)"

LADDER_URL=$L FAKE_LOG=$tmp/fake.log node "$NODE_DIR/langchain_client.mjs" \
    >"$tmp/lc.out" 2>&1
node_rc=$?
cat "$tmp/lc.out"
count_node "$tmp/lc.out"
[ $node_rc -eq 0 ] || not_ok "the LangChain client exits 0 (it exited $node_rc)"

LADDER_URL=$L FAKE_LOG=$tmp/fake.log node "$NODE_DIR/responses_client.mjs" \
    >"$tmp/rs.out" 2>&1
node_rc=$?
cat "$tmp/rs.out"
count_node "$tmp/rs.out"
[ $node_rc -eq 0 ] || not_ok "the Responses pass-through client exits 0 (it exited $node_rc)"

# ---- the raw wire ------------------------------------------------------------

curl -s --max-time 5 -o "$tmp/legacy.json" -w '%{http_code}' \
    -d '{"model":"x","prompt":"hi"}' "$L/completions" >"$tmp/legacy.code"
expect_eq "$(cat "$tmp/legacy.code")" 404 "POST /v1/completions is a 404"
expect_in "$tmp/legacy.json" 'POST /v1/responses, POST /v1/messages' \
    "the /v1/completions 404 names the endpoints ladder serves"

curl -s --max-time 5 -o "$tmp/nover.json" -w '%{http_code}' \
    -d '{"model":"x","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}' \
    "$L/messages" >"$tmp/nover.code"
expect_eq "$(cat "$tmp/nover.code")" 400 "/v1/messages without anthropic-version is a 400"
expect_in "$tmp/nover.json" '"type":"error","error":{"type":"invalid_request_error","message":"anthropic-version: header required"' \
    "... naming the header, in the Anthropic error shape"

curl -s --max-time 5 -o "$tmp/dup.json" -w '%{http_code}' \
    -H 'anthropic-version: 2023-06-01' \
    -d '{"model":"x","max_tokens":5,"max_tokens":6,"messages":[{"role":"user","content":"hi"}]}' \
    "$L/messages" >"$tmp/dup.code"
expect_eq "$(cat "$tmp/dup.code")" 400 "/v1/messages with a duplicate key is a 400"
expect_in "$tmp/dup.json" 'duplicate key \"max_tokens\"' "... naming the key"

curl -s --max-time 5 -o "$tmp/topk.json" -w '%{http_code}' \
    -H 'anthropic-version: 2023-06-01' \
    -d '{"model":"x","max_tokens":5,"top_k":3,"messages":[{"role":"user","content":"hi"}]}' \
    "$L/messages" >"$tmp/topk.code"
expect_eq "$(cat "$tmp/topk.code")" 400 "/v1/messages with a field ladder does not forward is a 400"
expect_in "$tmp/topk.json" 'top_k: unknown field' "... naming the field"

# Messages and Responses have no n: a body carrying one is refused, naming it
curl -s --max-time 5 -o "$tmp/n_msg.json" -w '%{http_code}' \
    -H 'anthropic-version: 2023-06-01' \
    -d '{"model":"x","max_tokens":5,"n":2,"messages":[{"role":"user","content":"hi"}]}' \
    "$L/messages" >"$tmp/n_msg.code"
expect_eq "$(cat "$tmp/n_msg.code")" 400 "/v1/messages with n is a 400"
expect_in "$tmp/n_msg.json" '"type":"invalid_request_error","message":"n: unknown field' \
    "... naming the field n, in the Anthropic error shape"
curl -s --max-time 5 -o "$tmp/n_resp.json" -w '%{http_code}' \
    -d '{"model":"x","input":"hi","n":2}' "$L/responses" >"$tmp/n_resp.code"
expect_eq "$(cat "$tmp/n_resp.code")" 400 "/v1/responses with n is a 400"
expect_in "$tmp/n_resp.json" '{"error":{"message":"n: unknown field' \
    "... naming the field n, in the OpenAI error shape"

curl -s --max-time 5 -o "$tmp/ref.json" -w '%{http_code}' \
    -d '{"model":"x","input":[{"type":"item_reference","id":"msg_1"}]}' \
    "$L/responses" >"$tmp/ref.code"
expect_eq "$(cat "$tmp/ref.code")" 400 "/v1/responses with an item_reference is a 400"
expect_in "$tmp/ref.json" 'input[0]: item_reference needs stored responses' \
    "... naming the item"

curl -s --max-time 5 -o "$tmp/emb.json" -w '%{http_code}' \
    -d '{"model":"x","input":[]}' "$L/embeddings" >"$tmp/emb.code"
expect_eq "$(cat "$tmp/emb.code")" 400 "/v1/embeddings with an empty input is a 400"

# ---- events and trace -------------------------------------------------------------

stop "$ladder_pid"
ladder_pid=
expect_eq "$stop_status" 0 "ladder serve exits 0 on SIGTERM"
json_lines_js() {
    js "$1" '
        const fs = require("fs");
        const lines = fs.readFileSync(process.argv[1], "utf8").split("\n")
            .filter((l) => l !== "").map((l) => JSON.parse(l));
        const bad = [];
        const want = (c, m) => { if (!c) bad.push(m); };
        '"$3"'
        for (const m of bad) console.log(m);
    ' "$2"
}
json_lines_js "the events log shows the embedding workload's fallback and its cost" \
    "$tmp/events.jsonl" '
    const reqs = new Set(lines.filter((e) => e.type === "request" &&
                                      e.workload === "embed").map((e) => e.req));
    const of = (t) => lines.filter((e) => e.type === t && reqs.has(e.req));
    want(reqs.size >= 1, "no request event of workload embed");
    want(of("fallback").some((e) => e.from === "em-down" && e.to === "em"),
         "no fallback em-down -> em: " + JSON.stringify(of("fallback")));
    want(of("result").some((e) => e.route === "em" && e.cost_usd > 0),
         "no billed result on em: " + JSON.stringify(of("result")));'
json_lines_js "the trace bills the Responses answers passed through by their usage" \
    "$tmp/trace.jsonl" '
    const nat = lines.filter((t) => t.workload === "native");
    want(nat.length >= 5, "only " + nat.length + " native requests traced");
    for (const t of nat)
        want(t.outcome === "success" && t.route === "rs" && t.output_tokens === 5 &&
             t.cost_usd > 0 && t.attempts.length === 1 &&
             t.attempts[0].output_tokens === 5, "native: " + JSON.stringify(t));
    const cut = lines.filter((t) => t.workload === "native-cut2");
    want(cut.length === 1 && cut[0].outcome === "failed" && cut[0].class === "stream_cut",
         "native-cut2: " + JSON.stringify(cut));
    const nd = lines.filter((t) => t.workload === "native-nodone");
    want(nd.length === 1 && nd[0].outcome === "failed" && nd[0].class === "stream_cut" &&
         nd[0].attempts.length === 1 && nd[0].attempts[0].class === "stream_cut",
         "native-nodone: " + JSON.stringify(nd));
    const big = lines.filter((t) => t.workload === "native-big");
    want(big.length === 1 && big[0].outcome === "success" && big[0].output_tokens === 3000,
         "native-big: " + JSON.stringify(big));
    const mal = lines.filter((t) => t.workload === "native-mal");
    want(mal.length === 1 && mal[0].outcome === "success" &&
         mal[0].attempts[0].class === "invalid_response" && mal[0].route === "rs-chat",
         "native-mal: " + JSON.stringify(mal));'
json_lines_js "the trace records the Messages and Responses requests like chat ones" \
    "$tmp/trace.jsonl" '
    want(lines.length >= 15, "only " + lines.length + " trace lines");
    want(lines.some((t) => t.workload === "to-an"), "no to-an request");
    want(lines.some((t) => t.workload === "embed"), "no embed request");'
if grep -q "$SECRET" "$tmp/events.jsonl" "$tmp/trace.jsonl" "$tmp/ladder.err" \
    "$tmp/node.out"; then
    not_ok "the upstream key appears in no output"
else
    ok "the upstream key appears in no output"
fi
finish
