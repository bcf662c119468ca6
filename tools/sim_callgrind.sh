#!/bin/sh
# sim_callgrind.sh - where the simulator's instructions go, per request, on
# the bench's realistic load (tests/bench/realistic.json, shortened).
#
#   tools/sim_callgrind.sh [N [OUT]]
#
# Runs `ladder sim` on the first N requests (default 200,000) of the
# realistic load through examples/policy.json under valgrind's callgrind,
# counting only inside sim_run (loading and the summary are left out), and
# prints the instructions per request of each part: callgrind's inclusive
# cost of the part's entry points divided by N. The parts overlap where one
# calls another (the models' figure holds their pushes to the queue and
# their draws; the draws' figure is every sim_dist_sample, the models'
# included); the core's figure leaves out its event sink, which is the
# simulator's (metrics). OUT keeps callgrind's file (default a temporary
# one, removed). LADDER names the binary (default build/release/ladder).
# Exit 0, or 1 if valgrind or the run fails.
set -eu
n=${1:-200000}
root=$(cd "$(dirname "$0")/.." && pwd)
ladder=${LADDER:-$root/build/release/ladder}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sim_callgrind.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=${2:-$tmp/callgrind.out}
sed "s/\"requests\": 2000000/\"requests\": $n/" \
    "$root/tests/bench/realistic.json" >"$tmp/realistic.json"
if ! valgrind --tool=callgrind --callgrind-out-file="$out" \
    --toggle-collect=sim_run "$ladder" sim "$tmp/realistic.json" \
    --policy "$root/examples/policy.json" --no-progress \
    >"$tmp/table" 2>"$tmp/err"; then
    echo "sim_callgrind: the run failed:" >&2
    tail -5 "$tmp/err" >&2
    exit 1
fi
callgrind_annotate --inclusive=yes "$out" 2>/dev/null | N=$n python3 -c '
import os, re, sys
n = int(os.environ["N"])
inc = {}
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S+):(\S+)(?: \[|$)",
                 line.rstrip("\n"))
    if m:  # a function split over files (inlined headers): its largest line
        f = m.group(3)
        inc[f] = max(inc.get(f, 0), int(m.group(1).replace(",", "")))
def g(*fs):
    return sum(inc.get(f, 0) for f in fs)
core = g("ld_req_start_keyed", "ld_req_end", "ld_req_first_token",
         "ld_req_tick", "ld_req_abandon", "ld_req_next", "ld_req_wake_at",
         "ld_req_info_get", "ld_req_progress", "ld_req_free")
rows = [
    ("total (sim_run)", g("sim_run")),
    ("core (ld_req_*), without its event sink", core - g("on_core_event")),
    ("event sink (on_core_event: metrics of the core events)",
     g("on_core_event")),
    ("metrics at arrival and end (sim_metrics_on_done, _on_arrival)",
     g("sim_metrics_on_done", "sim_metrics_on_arrival",
       "sim_metrics_on_tenant_done")),
    ("event queue (sim_evq_push + sim_evq_pop)",
     g("sim_evq_push", "sim_evq_pop")),
    ("provider models (sim_model_attempt_start + _release)",
     g("sim_model_attempt_start", "sim_model_attempt_release")),
    ("  of it seeding attempt streams (gsl_rng_set)", g("gsl_rng_set")),
    ("distribution draws, all (sim_dist_sample)", g("sim_dist_sample")),
    ("arrivals (schedule_next_arrival)", g("schedule_next_arrival")),
]
print("instructions per request, %d requests of tests/bench/realistic.json"
      % n)
for k, v in rows:
    print("  %-64s %6.0f" % (k, v / n))
'
