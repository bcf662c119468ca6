#!/bin/sh
# bench_load.sh - soak and overload figures of `ladder serve` (run by
# bench_serve.sh; alone: LADDER=... TOOLS=... sh tests/bench/bench_load.sh).
#
# soak: wrk at 32 connections for SOAK_SECONDS (default 30) against one
#   healthy route on tools/fake_provider, after a warm-up; VmRSS before and
#   after, printed as kB of growth per 100,000 requests, with the success
#   rate and attempts per request from /metrics. Twice: without and with
#   --events and --trace (written to a temporary directory).
# overload: an upstream with a capacity (fake_provider --capacity 50, each
#   answer 100 ms: 500 answers/s; over 50 at once it answers 503 at once),
#   wrk at 1,000 and 5,000 connections for OVERLOAD_SECONDS (default 10),
#   with the route uncapped in the policy and with its max_concurrency set
#   to the upstream's (the core then sheds with the safe failure before an
#   attempt). Goodput is successes per second (ladder_requests_total), with
#   % of capacity, success rate, attempts per request and the p99 latency of
#   the successes (from --trace).
# Goal (printed, never failing): goodput >= 90% of capacity at 5,000
# connections. Everything on 127.0.0.1, ports picked free, polled, stopped
# on exit. Exits 1 only when it cannot run (a binary or wrk missing).
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
SOAK_S=${SOAK_SECONDS:-30}
OVER_S=${OVERLOAD_SECONDS:-20}
CAP_SLOTS=50
SERVICE_MS=100
CAPACITY=$((CAP_SLOTS * 1000 / SERVICE_MS))
# the router's cap in the queued case: a little over the upstream's, for
# the router's own time per request (a slot is held until the client has
# its answer, after the upstream's own slot is free)
QUEUE_SLOTS=${QUEUE_SLOTS:-$CAP_SLOTS}

die() {
    echo "bench_load: $*" >&2
    exit 1
}
for need in "$LADDER" "$FAKE"; do
    [ -x "$need" ] || die "$need is not built"
done
command -v wrk >/dev/null 2>&1 || die "wrk is not installed (apt-get install wrk)"
command -v curl >/dev/null 2>&1 || die "curl is not installed"

# 5,000 client connections, as many upstream, the fake's and wrk's: raise
# the open files limit to the hard one.
# shellcheck disable=SC3045 # dash, bash and busybox sh have ulimit -n
hard=$(ulimit -Hn)
# shellcheck disable=SC3045
ulimit -n "$hard" 2>/dev/null || true
# shellcheck disable=SC3045
nofile=$(ulimit -n)

tmp=$(mktemp -d) || exit 1
pids=""
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

# start_fake NAME ARGS...: sets fake_pid and fake_url
start_fake() {
    _n=$1
    shift
    "$FAKE" --port 0 --tokens 5 --max-lifetime 1800 "$@" \
        >"$tmp/$_n.out" 2>"$tmp/$_n.err" &
    fake_pid=$!
    pids="$pids $fake_pid"
    _p=$(wait_line "$tmp/$_n.out" 's/^port \([0-9][0-9]*\)$/\1/p' "$fake_pid") ||
        die "the fake provider did not start: $(cat "$tmp/$_n.err")"
    fake_url=http://127.0.0.1:$_p/v1
}

# start_ladder NAME POLICY ARGS...: sets ladder_pid, ladder_url, admin_url
start_ladder() {
    _n=$1
    _pol=$2
    shift 2
    "$LADDER" serve "$_pol" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
        --print-port "$@" >"$tmp/$_n.out" 2>"$tmp/$_n.err" &
    ladder_pid=$!
    pids="$pids $ladder_pid"
    _a=$(wait_line "$tmp/$_n.out" \
        's/^listening on \([0-9.]*:[0-9]*\) admin \([0-9.]*:[0-9]*\)$/\1 \2/p' \
        "$ladder_pid") || die "ladder serve did not start: $(cat "$tmp/$_n.err")"
    ladder_url=http://${_a% *}/v1/chat/completions
    admin_url=http://${_a#* }/metrics
}

# policy FILE MODEL [ROUTE_EXTRA]: one route "r" on the fake, workload "w"
policy() {
    cat >"$1" <<EOF
{"version": 1,
 "routes": {"r": {"provider": "openai", "model": "$2", "base_url": "$fake_url",
                  "price": {"input_per_mtok": 2, "output_per_mtok": 8}${3:-}}},
 "workloads": {"w": {"ladder": ["r"], "on": {"*": "next"},
                     "constraints": {"ttft_ms": 4000, "total_ms": 8000},
                     "safe_failure": {"status": 503, "message": "busy"}}},
 "tiers": {"free": {}},
 "breaker": {"window_s": 60, "min_requests": 100000000, "failure_rate": 0.99,
             "open_for_s": 1}}
EOF
}

cat >"$tmp/post.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"auto","messages":[{"role":"user","content":"Say hi."}],"max_tokens":5}'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d\n", summary.requests,
    summary.duration, e.connect + e.read + e.write + e.timeout, e.status))
end
EOF

# run_wrk NAME CONNS SECONDS: wrk against $ladder_url; sets wrk_result
run_wrk() {
    timeout $(($3 + 60)) wrk -t1 -c"$2" -d"$3s" --timeout "${WRK_TIMEOUT_S:-5}s" \
        -s "$tmp/post.lua" "$ladder_url" >"$tmp/wrk-$1.out" 2>&1
    wrk_result=$(sed -n 's/^RESULT //p' "$tmp/wrk-$1.out")
}

# counts: "requests success attempts" from /metrics (requests: those
# routed and those refused before routing, a 503 at the cap included)
counts() {
    curl -s --max-time 5 "$admin_url" | awk '
        /^ladder_requests_total\{/ { n += $2; if ($1 ~ /outcome="success"/) s += $2 }
        /^ladder_requests_rejected_total\{/ { n += $2 }
        /^ladder_attempts_started_total\{/ { a += $2 }
        END { printf "%d %d %d\n", n, s, a }'
}
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$1/status"; }

# ---- soak ---------------------------------------------------------------------

soak_case() {
    _label=$1
    shift
    start_ladder "soak-$_label" "$tmp/soak.json" "$@"
    run_wrk "soak-warm-$_label" 32 3
    # shellcheck disable=SC2046 # three numbers, split on purpose
    set -- $(counts)
    n0=$1 s0=$2 a0=$3
    rss0=$(rss_kb "$ladder_pid")
    run_wrk "soak-$_label" 32 "$SOAK_S"
    # shellcheck disable=SC2046 # three numbers, split on purpose
    set -- $(counts)
    n=$(($1 - n0)) s=$(($2 - s0)) a=$(($3 - a0))
    rss1=$(rss_kb "$ladder_pid")
    awk -v l="$_label" -v n="$n" -v s="$s" -v a="$a" -v r0="$rss0" -v r1="$rss1" 'BEGIN {
        if (n == 0) { printf "  %-14s no requests finished\n", l; exit }
        printf "  %-14s %9d %9d %9d %+10.1f %8.2f%% %9.3f\n", l, n, r0, r1,
            (r1 - r0) * 100000 / n, 100 * s / n, a / n }'
    stop "$ladder_pid"
}

start_fake soak-fake
policy "$tmp/soak.json" healthy
echo "bench_load: soak, wrk 32 connections, $SOAK_S s per case after a 3 s warm-up (open files: $nofile)"
printf '  %-14s %9s %9s %9s %10s %9s %9s\n' case requests "rss0 kB" "rss1 kB" \
    "kB/100k" success att/req
soak_case plain
soak_case events+trace --events "$tmp/soak-events.jsonl" --trace "$tmp/soak-trace.jsonl"
rm -f "$tmp/soak-events.jsonl" "$tmp/soak-trace.jsonl"
stop "$fake_pid"

# ---- overload -------------------------------------------------------------------

# p99 of the successes' latency_ms in a trace file
p99_success() {
    sed -n 's/.*"outcome":"success".*"latency_ms":\([0-9.]*\).*/\1/p' "$1" |
        sort -n | awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "-"; exit }
            i = int(NR * 0.99); if (i < 1) i = 1; printf "%.0f ms", v[i] }'
}

# overload_case LABEL CONNS POLICY LADDER_ARGS...
overload_case() {
    _label=$1 _conns=$2 _pol=$3
    shift 3
    start_ladder "over-$_label-$_conns" "$tmp/over-$_pol.json" \
        --trace "$tmp/over.jsonl" "$@"
    run_wrk "over-warm-$_label-$_conns" 200 2
    # shellcheck disable=SC2046 # three numbers, split on purpose
    set -- $(counts)
    n0=$1 s0=$2 a0=$3
    : >"$tmp/over.jsonl"
    run_wrk "over-$_label-$_conns" "$_conns" "$OVER_S"
    # shellcheck disable=SC2046 # three numbers, split on purpose
    set -- $(counts)
    n=$(($1 - n0)) s=$(($2 - s0)) a=$(($3 - a0))
    # shellcheck disable=SC2086 # the fields, split on purpose
    set -- $wrk_result
    dur=${2:-1}
    p99=$(p99_success "$tmp/over.jsonl")
    line=$(awk -v l="$_label" -v c="$_conns" -v n="$n" -v s="$s" -v a="$a" \
        -v d="$dur" -v cap="$CAPACITY" -v p="$p99" -v e="${3:-?}" 'BEGIN {
        g = s / (d / 1e6)
        printf "  %-10s %6d %8d %9.0f %8.1f%% %8.2f%% %8.2f %9s %7s\n", l, c, cap, g,
            100 * g / cap, n ? 100 * s / n : 0, n ? a / n : 0, p, e }')
    echo "$line"
    eval "goodput_${_label}_${_conns}=\$(echo \"\$line\" | awk '{ print \$5 }')"
    stop "$ladder_pid"
}

start_fake over-fake --capacity "$CAP_SLOTS"
policy "$tmp/over-open.json" "slow-ttft-$SERVICE_MS"
policy "$tmp/over-capped.json" "slow-ttft-$SERVICE_MS" ", \"max_concurrency\": $CAP_SLOTS"
echo "bench_load: overload, upstream capacity $CAPACITY answers/s ($CAP_SLOTS at once, $SERVICE_MS ms each, 503 over it), wrk $OVER_S s per case"
printf '  %-10s %6s %8s %9s %9s %9s %8s %9s %7s\n' policy conns capacity \
    goodput "% cap" success att/req "p99 ok" "wrk err"
# The upstream alone: $CAP_SLOTS connections straight to it (never over its
# capacity) give what it serves on this machine now, the others' ceiling.
cat >"$tmp/direct.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"slow-ttft-$SERVICE_MS","messages":[{"role":"user","content":"Say hi."}],"max_tokens":5}'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d\n", summary.requests,
    summary.duration, summary.errors.timeout, summary.errors.status))
end
EOF
timeout 60 wrk -t1 -c"$CAP_SLOTS" -d"${OVER_S}s" --timeout 5s -s "$tmp/direct.lua" \
    "$fake_url/chat/completions" >"$tmp/wrk-direct.out" 2>&1
# shellcheck disable=SC2046 # the fields, split on purpose
set -- $(sed -n 's/^RESULT //p' "$tmp/wrk-direct.out")
awk -v n="${1:-0}" -v d="${2:-1}" -v bad="${4:-0}" -v cap="$CAPACITY" \
    -v c="$CAP_SLOTS" 'BEGIN {
    g = (n - bad) / (d / 1e6)
    printf "  %-10s %6d %8d %9.0f %8.1f%%   (wrk straight to the upstream: its ceiling here now)\n",
        "direct", c, cap, g, 100 * g / cap }'
for c in 1000 5000; do
    overload_case open "$c" open --max-concurrent 20000
    overload_case capped "$c" capped --max-concurrent 20000
    # the queue holds a request at most half the policy's 8 s deadline
    # (a request that waited longer could only fail once routed), and wrk
    # waits for it
    qms=4000
    WRK_TIMEOUT_S=$((qms / 1000 + 5))
    overload_case queued "$c" open --max-concurrent "$QUEUE_SLOTS" \
        --queue-ms "$qms" --queue-max 20000
    WRK_TIMEOUT_S=5
done
stop "$fake_pid"

best=$(printf '%s\n%s\n%s\n' "${goodput_open_5000:-0}" "${goodput_capped_5000:-0}" \
    "${goodput_queued_5000:-0}" |
    sed 's/%//' | sort -n | tail -1)
v=$(awk -v g="$best" 'BEGIN { print (g >= 90) ? "MET" : "NOT MET" }')
printf 'goal: %s: %s (%s)\n' "goodput >= 90% of capacity at 5,000 connections" \
    "$v" "best policy: $best% of capacity"
exit 0
