#!/bin/sh
# bench_edge.sh - the live router's memory under two client attacks, with
# its default limits (README "Running it for users"), a fake upstream on
# loopback:
#   bodies   1,024 requests at once, each a 1 MB body of many small
#            messages (~35,000 {"role":"user","content":"hi"}), non-streaming
#   noread   1,000 streaming requests whose clients never read (the fake
#            sends 16,384 tokens, ~3.4 MB, as fast as it can)
# For each: the router's peak resident memory (VmHWM, /proc/PID/status),
# and what the requests got (statuses; for noread, the streams cut as
# client_too_slow and the outcomes by the metrics). Goal: VmHWM under
# 200 MB in each case (MET / NOT MET; never fails the bench).
#
# LADDER is the binary, TOOLS the built helper programs; needs node and
# curl (either missing: NOT RUN). Everything on 127.0.0.1; readiness is
# polled; everything started here is stopped on exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
LADDER=${LADDER:-$root/build/release/ladder}
TOOLS=${TOOLS:-$root/build/release/tools}
tmp=$(mktemp -d) || exit 1
pids=
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if ! command -v node >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
    echo "memory under attack: NOT RUN: node and curl are needed"
    exit 0
fi
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null

# wait_line FILE SED PID: the first line SED prints from FILE (10 s)
wait_line() {
    i=0
    while [ $i -lt 100 ]; do
        l=$(sed -n "$2" "$1" 2>/dev/null | head -1)
        [ -n "$l" ] && { echo "$l"; return 0; }
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB\$/\1/p" "/proc/$1/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

"$TOOLS/fake_provider" --port 0 --max-lifetime 600 >"$tmp/fake.out" 2>"$tmp/fake.err" &
fake_pid=$!
pids="$pids $fake_pid"
port=$(wait_line "$tmp/fake.out" 's/^port \([0-9]*\)$/\1/p' "$fake_pid") ||
    { echo "bench_edge: the fake did not start" >&2; exit 1; }
cat >"$tmp/policy.json" <<JSON
{"version": 1,
 "routes": {"fake": {"provider": "openai", "model": "healthy",
   "base_url": "http://127.0.0.1:$port/v1", "context_window": 1000000,
   "price": {"input_per_mtok": 2, "output_per_mtok": 8}}},
 "workloads": {"chat": {"ladder": ["fake"], "on": {"*": "next"},
   "safe_failure": {"status": 503, "message": "busy"}}}}
JSON

# start NAME: ladder serve with its defaults; ladder_pid, listen, admin
start() {
    "$LADDER" serve "$tmp/policy.json" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
        --print-port >"$tmp/$1.out" 2>"$tmp/$1.err" &
    ladder_pid=$!
    pids="$pids $ladder_pid"
    line=$(wait_line "$tmp/$1.out" 's/^listening on \(.*\)$/\1/p' "$ladder_pid") ||
        { echo "bench_edge: ladder serve did not start: $(cat "$tmp/$1.err")" >&2; exit 1; }
    listen=${line%% admin *}
    admin=${line##* admin }
}
goal() {
    [ "$2" -lt $((200 * 1024)) ] && v=MET || v="NOT MET"
    printf 'goal: %s: %s (VmHWM %s)\n' "$1" "$v" "$(mb "$2")"
}
metric() { curl -s "http://$admin/metrics" | sed -n "s/^$1 \([0-9]*\)\$/\1/p"; }

echo "bench_edge: ladder serve's memory under attack (defaults: --max-body 1 MiB," \
    "--max-request-mb 64, --max-buffered-mb 64, --max-concurrent 1024)"

# ---- 1,024 bodies of 1 MB at once ---------------------------------------------
start bodies
idle=$(kb "$ladder_pid" VmRSS)
node "$here/edge_clients.mjs" bodies "http://$listen/v1/chat/completions" 1024 1048000 \
    >"$tmp/bodies.json" 2>"$tmp/bodies.err"
hwm=$(kb "$ladder_pid" VmHWM)
res=$(cat "$tmp/bodies.json")
echo "bodies: 1,024 concurrent requests of 1 MB (many small messages), non-streaming"
echo "  VmRSS idle $(mb "$idle"), VmHWM $(mb "$hwm")"
echo "  requests got: $res (status 200: a routed answer, 1 attempt each)"
goal "VmHWM < 200 MB with 1,024 concurrent 1 MB bodies" "$hwm"
kill "$ladder_pid"; wait "$ladder_pid" 2>/dev/null

# ---- 1,000 streams never read ---------------------------------------------------
start noread
idle=$(kb "$ladder_pid" VmRSS)
node "$here/edge_clients.mjs" noread 127.0.0.1 "${listen##*:}" 1000 >"$tmp/noread.out" 2>&1 &
node_pid=$!
pids="$pids $node_pid"
wait_line "$tmp/noread.out" 's/^\(sent .*\)$/\1/p' "$node_pid" >/dev/null ||
    echo "  (the clients did not all send: $(tail -1 "$tmp/noread.out"))"
# the streams run until each is cut or sent whole (into socket buffers)
i=0
while [ $i -lt 300 ]; do
    f=$(metric ladder_requests_in_flight)
    [ "${f:-1}" -eq 0 ] && break
    sleep 0.1
    i=$((i + 1))
done
hwm=$(kb "$ladder_pid" VmHWM)
cut=$(metric ladder_client_too_slow_total)
m=$(curl -s "http://$admin/metrics")
ok=$(echo "$m" | sed -n 's/^ladder_requests_total{.*outcome="success"} \([0-9]*\)$/\1/p' | awk '{ s += $1 } END { print s + 0 }')
ab=$(echo "$m" | sed -n 's/^ladder_requests_total{.*outcome="abandoned"} \([0-9]*\)$/\1/p' | awk '{ s += $1 } END { print s + 0 }')
echo "noread: 1,000 streaming requests whose clients never read (16,384 tokens each)"
echo "  VmRSS idle $(mb "$idle"), VmHWM $(mb "$hwm"); still in flight after 30 s: ${f:-?}"
echo "  requests got: $ok sent whole (into socket buffers), $ab cut ($cut as client_too_slow over --max-buffered-mb)"
goal "VmHWM < 200 MB with 1,000 clients that never read" "$hwm"
