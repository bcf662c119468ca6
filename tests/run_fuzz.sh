#!/bin/sh
# run_fuzz.sh TARGET... - each libFuzzer target (build/fuzz/fuzz/fuzz_NAME)
# for FUZZ_S seconds: first over its kept regression inputs
# (tests/fuzz/regressions/NAME/: each must run clean), then fuzzing from its
# seeds (tests/fuzz/corpus/NAME/ and the repository's own test data for it)
# into a scratch corpus, so nothing is written into the tree. A crash keeps
# the input under build/fuzz/crashes/NAME/ and fails; copy it into
# tests/fuzz/regressions/NAME/ once fixed. Closing line: "fuzz: N clean, N
# crashed". Run from the repository root.
set -u
S=${FUZZ_S:-60}
root=$(pwd)
ok=0
bad=0
# seeds NAME: the repository's data a target starts from
seeds() {
    case $1 in
        fuzz_policy) echo "examples tests/data/policies scenarios/policies" ;;
        fuzz_scenario) echo "examples scenarios tests/data/sim tests/data/scenarios" ;;
        fuzz_csv|fuzz_trace) echo "tests/data/traces" ;;
        fuzz_replay) echo "tests/data/traces" ;;
        *) echo "" ;;
    esac
}
for bin in "$@"; do
    name=$(basename "$bin")
    work=$(mktemp -d) || exit 1
    mkdir -p "$work/corpus" "build/fuzz/crashes/$name"
    dirs=""
    [ -d "tests/fuzz/corpus/$name" ] && dirs="tests/fuzz/corpus/$name"
    for d in $(seeds "$name"); do [ -d "$d" ] && dirs="$dirs $d"; done
    reg=$(ls tests/fuzz/regressions/"$name"/* 2>/dev/null)
    status=0
    if [ -n "$reg" ]; then
        # shellcheck disable=SC2086 # one argument per input
        "$bin" -rss_limit_mb=2048 $reg >"$work/reg.log" 2>&1 || status=1
    fi
    if [ "$status" -eq 0 ]; then
        # shellcheck disable=SC2086 # the seed directories
        "$bin" -max_total_time="$S" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$root/build/fuzz/crashes/$name/" \
            -print_final_stats=1 "$work/corpus" $dirs >"$work/run.log" 2>&1 ||
            status=2
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/run.log" 2>/dev/null | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$work/run.log" 2>/dev/null | tail -n 1)
    if [ "$status" -eq 0 ]; then
        ok=$((ok + 1))
        echo "ok   $name: ${runs:-0} inputs in ${S} s, ${cov:-cov: ?}, corpus $(ls "$work/corpus" | wc -l)"
    else
        bad=$((bad + 1))
        echo "FAIL $name"
        tail -n 40 "$work/$( [ "$status" -eq 1 ] && echo reg || echo run).log" | sed 's/^/    /'
    fi
    rm -rf "$work"
done
echo "fuzz: $ok clean, $bad crashed"
[ "$bad" -eq 0 ]
