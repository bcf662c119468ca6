#!/bin/sh
# bench_serve.sh - the live router's figures, on this machine, with a fake
# upstream on loopback.
#
# Throughput and p50/p99 latency, at 1 and at 32 connections, of a small
# non-streaming chat completion (5 tokens) sent by wrk:
#   direct   straight to tools/fake_provider
#   ladder   through `ladder serve` (one route, to the fake)
#   portkey  through Portkey's open-source gateway (@portkey-ai/gateway,
#            pinned in tests/bench/portkey/), routed to the fake by its
#            x-portkey-provider and x-portkey-custom-host headers; kept on
#            127.0.0.1 by the preload tests/bench/portkey/listen_loopback.cjs
# then the resident memory of a fresh `ladder serve` holding 1,000 streaming
# requests open at once (tests/bench/hold_streams.mjs; the fake sends one
# token and stalls), read from /proc/PID/status.
#
# Goals (printed as MET / NOT MET; speed never fails the bench): Ladder's
# throughput at 32 connections at least 40% of direct and at least 15x
# Portkey's; added latency (ladder p50 - direct p50, one connection) under
# 100 us; VmHWM under 30 MB with 1,000 streams open.
#
# LADDER is the binary, TOOLS the built helper programs (fake_provider);
# BENCH_SECONDS the length of each measured case (default 10). Needs wrk
# (Debian package; tools/setup.sh installs it) and curl; node and npm for
# Portkey and the memory case (either missing: that part is NOT JUDGED).
# Everything listens on 127.0.0.1 on ports picked free; readiness is polled;
# everything started here is stopped on exit. Exits 1 only when the bench
# cannot run at all (a binary or wrk missing, the fake or ladder not
# starting).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case "${LADDER:-}" in
"") LADDER=$root/build/release/ladder ;;
/*) ;;
*) LADDER=$(pwd)/$LADDER ;;
esac
case "${TOOLS:-}" in
"") TOOLS=$root/build/release/tools ;;
/*) ;;
*) TOOLS=$(pwd)/$TOOLS ;;
esac
FAKE=$TOOLS/fake_provider
PORTKEY_DIR=$here/portkey
SECS=${BENCH_SECONDS:-10}
STREAMS=1000
KEY=sk-bench-not-a-secret

die() {
    echo "bench_serve: $*" >&2
    exit 1
}
for need in "$LADDER" "$FAKE"; do
    [ -x "$need" ] || die "$need is not built"
done
command -v wrk >/dev/null 2>&1 || die "wrk is not installed (apt-get install wrk)"
command -v curl >/dev/null 2>&1 || die "curl is not installed"
have_node=false
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && have_node=true

# The memory case holds 1,000 client and 1,000 upstream connections in
# ladder (and 1,000 in the fake, 1,000 in the client): raise a low limit.
# shellcheck disable=SC3045 # dash, bash and busybox sh have ulimit -n
nofile=$(ulimit -n)
if [ "$nofile" != unlimited ] && [ "$nofile" -lt 4096 ]; then
    # shellcheck disable=SC3045
    ulimit -n 4096 2>/dev/null ||
        echo "bench_serve: open files limit $nofile; the memory case may fail" >&2
fi

tmp=$(mktemp -d) || exit 1
pids=""
# stop PID: TERM, poll up to 5 s, then KILL.
stop() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    for p in $pids; do
        stop "$p"
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_line FILE SED-EXPR PID: poll FILE (10 s) for the first line matching;
# prints the captured text.
wait_line() {
    i=0
    while [ $i -lt 100 ]; do
        v=$(sed -n "$2" "$1" 2>/dev/null | head -1)
        if [ -n "$v" ]; then
            echo "$v"
            return 0
        fi
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# wait_open FILE PID: poll FILE (60 s) for "open N"; fails on "failed" or
# when PID is gone.
wait_open() {
    i=0
    while [ $i -lt 600 ]; do
        grep -q '^open ' "$1" && return 0
        grep -q '^failed' "$1" && return 1
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# ---- the fake upstream and ladder ------------------------------------------

"$FAKE" --port 0 --tokens 5 --max-lifetime 1800 >"$tmp/fake.out" 2>"$tmp/fake.err" &
fake_pid=$!
pids="$fake_pid"
fport=$(wait_line "$tmp/fake.out" 's/^port \([0-9][0-9]*\)$/\1/p' "$fake_pid") ||
    die "the fake provider did not start: $(cat "$tmp/fake.err")"
upstream=http://127.0.0.1:$fport/v1

# One route to the fake for the throughput cases ("healthy": 5 tokens at
# once), one that sends a token and stalls for a minute for the memory case.
cat >"$tmp/policy.json" <<EOF
{"version": 1,
 "routes": {
  "fake": {"provider": "openai", "model": "healthy", "base_url": "$upstream",
           "api_key_env": "LADDER_BENCH_KEY",
           "price": {"input_per_mtok": 2, "output_per_mtok": 8}},
  "held": {"provider": "openai", "model": "held/stall-1-60000",
           "base_url": "$upstream", "api_key_env": "LADDER_BENCH_KEY",
           "price": {"input_per_mtok": 2, "output_per_mtok": 8},
           "capabilities": ["stream"]}},
 "workloads": {
  "chat": {"ladder": ["fake"], "on": {"*": "next"},
           "safe_failure": {"status": 503, "message": "busy"}},
  "hold": {"ladder": ["held"], "on": {"*": "next"},
           "safe_failure": {"status": 503, "message": "busy"}}},
 "tiers": {"free": {}}}
EOF

# start_ladder NAME: sets ladder_pid and ladder_addr
start_ladder() {
    LADDER_BENCH_KEY=$KEY "$LADDER" serve "$tmp/policy.json" \
        --listen 127.0.0.1:0 --admin 127.0.0.1:0 --print-port \
        --max-concurrent $((STREAMS + 24)) \
        >"$tmp/$1.out" 2>"$tmp/$1.err" &
    ladder_pid=$!
    pids="$pids $ladder_pid"
    ladder_addr=$(wait_line "$tmp/$1.out" \
        's/^listening on \([0-9.]*:[0-9]*\) admin .*$/\1/p' "$ladder_pid") ||
        die "ladder serve did not start: $(cat "$tmp/$1.err")"
}
start_ladder ladder

# ---- Portkey ----------------------------------------------------------------

portkey_url=
portkey_why=
portkey_pid=
start_portkey() {
    if [ "$have_node" != true ]; then
        portkey_why="node or npm is not installed"
        return 1
    fi
    gw=$PORTKEY_DIR/node_modules/@portkey-ai/gateway/build/start-server.js
    if [ ! -f "$gw" ]; then
        # --ignore-scripts: the package's postinstall (patch-package) is
        # for its own development tree and has nothing to patch here.
        if ! (cd "$PORTKEY_DIR" && timeout 300 npm ci --ignore-scripts \
            --no-audit --no-fund) >"$tmp/npm.log" 2>&1; then
            portkey_why="npm ci in tests/bench/portkey failed ($(grep -m1 -i error "$tmp/npm.log"))"
            return 1
        fi
    fi
    LISTEN_PORT_FILE=$tmp/portkey.port NODE_ENV=production \
        node -r "$PORTKEY_DIR/listen_loopback.cjs" "$gw" --port=0 --headless \
        >"$tmp/portkey.out" 2>"$tmp/portkey.err" &
    portkey_pid=$!
    pids="$pids $portkey_pid"
    i=0
    while [ $i -lt 300 ]; do
        kill -0 "$portkey_pid" 2>/dev/null || break
        if [ -s "$tmp/portkey.port" ]; then
            p=$(cat "$tmp/portkey.port")
            if curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$p/"; then
                portkey_url=http://127.0.0.1:$p/v1/chat/completions
                break
            fi
        fi
        sleep 0.1
        i=$((i + 1))
    done
    if [ -z "$portkey_url" ]; then
        portkey_why="the gateway did not start: $(tail -3 "$tmp/portkey.err" | tr '\n' ' ')"
        return 1
    fi
    # One request must come back from the fake through it.
    code=$(curl -s --max-time 5 -o "$tmp/portkey.probe" -w '%{http_code}' \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $KEY" \
        -H 'x-portkey-provider: openai' -H "x-portkey-custom-host: $upstream" \
        -d '{"model":"auto","messages":[{"role":"user","content":"Say hi."}],"max_tokens":5}' \
        "$portkey_url")
    if [ "$code" != 200 ] || ! grep -q 'tok5' "$tmp/portkey.probe"; then
        portkey_why="a request through the gateway did not reach the fake (HTTP $code)"
        portkey_url=
        return 1
    fi
    return 0
}
start_portkey

# ---- wrk ---------------------------------------------------------------------

# The request: a small non-streaming chat completion. With EXTRA_HEADERS
# set (name: value;name: value) those are sent too. done() prints one line:
# RESULT requests duration_us errors non2xx p50_us p99_us
cat >"$tmp/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.body = '{"model":"auto","messages":[{"role":"user","content":"Say hi."}],"max_tokens":5}'
local extra = os.getenv("EXTRA_HEADERS") or ""
for name, value in string.gmatch(extra, "([^:;]+):%s*([^;]+)") do
  wrk.headers[name] = value
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests,
    summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
EOF

# run_wrk NAME URL CONNS SECONDS [EXTRA_HEADERS]: sets result (the RESULT
# fields) or empty. One wrk thread throughout: on two cores the load
# generator, the router and the upstream already share the CPU.
run_wrk() {
    EXTRA_HEADERS=${5:-} timeout $(($4 + 30)) wrk -t1 -c"$3" -d"$4s" \
        --timeout 5s -s "$tmp/post.lua" "$2" >"$tmp/wrk-$1.out" 2>&1
    result=$(sed -n 's/^RESULT //p' "$tmp/wrk-$1.out")
}

portkey_hdrs="x-portkey-provider: openai;x-portkey-custom-host: $upstream"
direct_url=$upstream/chat/completions
ladder_url=http://$ladder_addr/v1/chat/completions

# Warm-up (not reported): connections, caches, Portkey's JIT.
run_wrk warm-direct "$direct_url" 32 2
run_wrk warm-ladder "$ladder_url" 32 2
[ -n "$portkey_url" ] && run_wrk warm-portkey "$portkey_url" 32 3 "$portkey_hdrs"

echo "bench_serve: the live router, $SECS s per case, wrk (1 thread) on 127.0.0.1"
echo "  request: POST /v1/chat/completions, non-streaming, 5 tokens back (fake_provider)"
echo "  cores: $(nproc 2>/dev/null || echo ?); wrk, the router and the fake share them"
[ -n "$portkey_url" ] &&
    echo "  portkey: @portkey-ai/gateway $(sed -n 's/^ *"version": "\(.*\)",$/\1/p' \
        "$PORTKEY_DIR/node_modules/@portkey-ai/gateway/package.json" | head -1)" \
        "on node $(node --version), headers x-portkey-provider + x-portkey-custom-host"
printf '  %-8s %5s %10s %10s %10s  %s\n' case conns req/s p50 p99 notes

# fmt_us US: "123 us" or "4.56 ms"
fmt_us() {
    if [ "$1" -lt 10000 ]; then
        echo "$1 us"
    else
        awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'
    fi
}

# bench_case NAME CONNS URL [EXTRA_HEADERS]: runs and prints one row; sets
# NAME_CONNS_rps and NAME_CONNS_p50 (empty when the case did not run).
bench_case() {
    run_wrk "$1-$2" "$3" "$2" "$SECS" "${4:-}"
    rps='' p50='' note=''
    if [ -n "$result" ]; then
        # shellcheck disable=SC2086 # the fields, split on purpose
        set -- "$1" "$2" $result
        n=$3 dur=$4 errs=$5 bad=$6 p50=$7 p99=$8
        rps=$(awk -v n="$n" -v d="$dur" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
        [ "$errs" -gt 0 ] && note="$errs socket errors"
        [ "$bad" -gt 0 ] && note="${note:+$note, }$bad non-2xx"
        printf '  %-8s %5s %10s %10s %10s  %s\n' "$1" "$2" "$rps" \
            "$(fmt_us "$p50")" "$(fmt_us "$p99")" "$note"
        # a case with failed requests is not judged
        if [ "$errs" -gt 0 ] || [ "$bad" -gt 0 ]; then
            rps='' p50=''
        fi
    else
        printf '  %-8s %5s %10s %10s %10s  %s\n' "$1" "$2" - - - \
            "wrk gave no result: $(tail -1 "$tmp/wrk-$1-$2.out")"
    fi
    eval "${1}_${2}_rps=\$rps ${1}_${2}_p50=\$p50"
}

for c in 1 32; do
    bench_case direct $c "$direct_url"
    bench_case ladder $c "$ladder_url"
    if [ -n "$portkey_url" ]; then
        bench_case portkey $c "$portkey_url" "$portkey_hdrs"
    else
        eval "portkey_${c}_rps=''"
        printf '  %-8s %5s %10s %10s %10s  %s\n' portkey $c - - - "not run"
    fi
done
[ -n "$portkey_url" ] || echo "  portkey: NOT RUN: $portkey_why"
stop "$portkey_pid"

# ---- ratios and goals ----------------------------------------------------------

# goal TEXT VERDICT DETAIL
goal() { printf 'goal: %s: %s (%s)\n' "$1" "$2" "$3"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

for c in 1 32; do
    eval "d=\${direct_${c}_rps:-} l=\${ladder_${c}_rps:-} p=\${portkey_${c}_rps:-}"
    line="  at $c connection(s):"
    [ -n "$d" ] && [ -n "$l" ] &&
        line="$line ladder/direct $(awk -v a="$l" -v b="$d" 'BEGIN { printf "%.0f%%", 100 * a / b }')"
    [ -n "$p" ] && [ -n "$l" ] && line="$line, ladder/portkey $(ratio "$l" "$p")x"
    [ -n "$d" ] && [ -n "$p" ] &&
        line="$line, portkey/direct $(awk -v a="$p" -v b="$d" 'BEGIN { printf "%.0f%%", 100 * a / b }')"
    echo "$line"
done
if [ -n "${direct_1_p50:-}" ] && [ -n "${ladder_1_p50:-}" ]; then
    added=$((ladder_1_p50 - direct_1_p50))
    echo "  added latency at p50, one connection: $added us"
fi

d=${direct_32_rps:-} l=${ladder_32_rps:-} p=${portkey_32_rps:-}
if [ -n "$d" ] && [ -n "$l" ]; then
    pct=$(awk -v a="$l" -v b="$d" 'BEGIN { printf "%.0f", 100 * a / b }')
    [ "$pct" -ge 40 ] && v=MET || v="NOT MET"
    goal "ladder throughput >= 40% of direct at 32 connections" "$v" "$pct%"
else
    goal "ladder throughput >= 40% of direct at 32 connections" "NOT JUDGED" "a case failed"
fi
if [ -n "$p" ] && [ -n "$l" ]; then
    x=$(ratio "$l" "$p")
    v=$(awk -v x="$x" 'BEGIN { print (x >= 15) ? "MET" : "NOT MET" }')
    goal "ladder throughput >= 15x Portkey's at 32 connections" "$v" "${x}x"
else
    goal "ladder throughput >= 15x Portkey's at 32 connections" "NOT JUDGED" \
        "${portkey_why:-a case failed}"
fi
if [ -n "${added:-}" ]; then
    [ "$added" -lt 100 ] && v=MET || v="NOT MET"
    goal "added latency < 100 us at p50 with one connection" "$v" "$added us"
else
    goal "added latency < 100 us at p50 with one connection" "NOT JUDGED" "a case failed"
fi

# ---- memory with 1,000 streams open --------------------------------------------

stop "$ladder_pid"
# status_kb PID FIELD: a /proc/PID/status field in kB
status_kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB\$/\1/p" "/proc/$1/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

mem_why=
if [ "$have_node" != true ]; then
    mem_why="node is not installed"
else
    start_ladder ladder-mem
    idle_rss=$(status_kb "$ladder_pid" VmRSS)
    node "$here/hold_streams.mjs" "http://$ladder_addr/v1/chat/completions" \
        "$STREAMS" hold >"$tmp/hold.out" 2>&1 &
    hold_pid=$!
    pids="$pids $hold_pid"
    if wait_open "$tmp/hold.out" "$hold_pid"; then
        rss=$(status_kb "$ladder_pid" VmRSS)
        hwm=$(status_kb "$ladder_pid" VmHWM)
        echo "memory: ladder serve with $STREAMS streaming requests open" \
            "(each: 1 token, then the upstream stalls)"
        echo "  VmRSS idle $(mb "$idle_rss"); with the streams open: VmRSS $(mb "$rss"), VmHWM $(mb "$hwm")"
        echo "  per stream: $(awk -v a="$rss" -v b="$idle_rss" -v n="$STREAMS" 'BEGIN { printf "%.1f kB", (a - b) / n }')"
        [ "$hwm" -lt $((30 * 1024)) ] && v=MET || v="NOT MET"
        goal "resident memory < 30 MB with $STREAMS streams open" "$v" "VmHWM $(mb "$hwm")"
    else
        mem_why="the streams did not all open: $(tail -1 "$tmp/hold.out")"
    fi
    stop "$hold_pid"
fi
if [ -n "$mem_why" ]; then
    echo "memory: NOT RUN: $mem_why"
    goal "resident memory < 30 MB with $STREAMS streams open" "NOT JUDGED" "$mem_why"
fi
# ---- soak and overload (tests/bench/bench_load.sh) -------------------------------

stop "$fake_pid"
LADDER=$LADDER TOOLS=$TOOLS sh "$here/bench_load.sh"
exit 0
