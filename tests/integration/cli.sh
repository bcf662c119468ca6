#!/bin/sh
# cli.sh - the command-line conventions every ladder command shares
# (cli/cli_opt.c): `ladder help CMD` is `ladder CMD --help`, a missing
# required option gets its own line before the usage, an unknown option
# names itself, a bad value names the option and the value, --opt=value is
# --opt value; exit 0 for help, 2 for every mistake.
. "$(dirname "$0")/lib/common.sh"
require_ladder

for cmd in check sim compare plot fit report replay serve; do
    run "h_$cmd" help "$cmd"
    run "d_$cmd" "$cmd" --help
    expect_rc "h_$cmd" 0 "ladder help $cmd exits 0"
    if [ -s "$tmp/h_$cmd.out" ] && cmp -s "$tmp/h_$cmd.out" "$tmp/d_$cmd.out"; then
        ok "ladder help $cmd prints what ladder $cmd --help prints"
    else
        not_ok "ladder help $cmd prints what ladder $cmd --help prints" "$(head -3 "$tmp/h_$cmd.out")"
    fi
    expect_in "$tmp/h_$cmd.out" "usage: ladder $cmd" "ladder help $cmd starts with its usage"
done
run hnone help nosuch
expect_rc hnone 2 "ladder help of an unknown command exits 2"
expect_in "$tmp/hnone.err" 'ladder help: unknown command "nosuch"' "and names it"
run top help
expect_rc top 0 "ladder help exits 0"
expect_in "$tmp/top.out" "--opt=value" "ladder help states the value forms"

# an unknown option names itself, for every command parsed by cli_opt
for cmd in check sim compare plot fit report replay serve; do
    run "u_$cmd" "$cmd" --no-such-option=3 x
    expect_rc "u_$cmd" 2 "ladder $cmd with an unknown option exits 2"
    expect_in "$tmp/u_$cmd.err" "ladder $cmd: unknown option \"--no-such-option\"" \
        "ladder $cmd names the unknown option"
done

# a missing required option: its own line, then the usage
run nopol sim examples/scenario.json
expect_rc nopol 2 "sim without --policy exits 2"
if [ "$(head -n 1 "$tmp/nopol.err")" = "ladder sim: --policy is required" ] &&
    sed -n 2p "$tmp/nopol.err" | grep -q '^usage: ladder sim SCENARIO --policy POLICY'; then
    ok "sim without --policy says so on its own line, then the usage"
else
    not_ok "sim without --policy says so on its own line, then the usage" "$(head -3 "$tmp/nopol.err")"
fi
run noscen replay --policy examples/policy.json
expect_rc noscen 2 "replay without a trace exits 2"
expect_in "$tmp/noscen.err" "ladder replay: TRACE is required" "replay says TRACE is required"
run nocmp compare --policy examples/policy.json
expect_rc nocmp 2 "compare without a scenario exits 2"
expect_in "$tmp/nocmp.err" "ladder compare: SCENARIO is required" "compare says SCENARIO is required"

# bad values name the option and the value
run bseed sim examples/scenario.json --policy examples/policy.json --seed=-1
expect_rc bseed 2 "sim --seed=-1 exits 2"
expect_in "$tmp/bseed.err" 'ladder sim: --seed needs a whole number >= 0, got "-1"' "and names option and value"
run bseeds compare examples/scenario.json --policy examples/policy.json --seeds 0
expect_in "$tmp/bseeds.err" 'ladder compare: --seeds needs a whole number from 1 to 1000, got "0"' \
    "compare --seeds 0 names option and value"
run bfmt plot x --format=gif
expect_in "$tmp/bfmt.err" 'ladder plot: --format is one of png|svg|both, got "gif"' "plot --format=gif lists the choices"
run nodir report
expect_in "$tmp/nodir.err" "ladder report: DIR is required" "report says DIR is required"
run bunit fit x.csv --time-unit h
expect_in "$tmp/bunit.err" 'ladder fit: --time-unit is one of s|ms, got "h"' "fit --time-unit h lists the choices"
run blisten serve examples/policy.json --listen nowhere
expect_in "$tmp/blisten.err" 'ladder serve: --listen needs HOST:PORT, got "nowhere"' "serve --listen names the value"
run bspeed replay x --policy p --speedup=0
expect_in "$tmp/bspeed.err" 'ladder replay: --speedup needs a number > 0, got "0"' "replay --speedup=0 names the value"
run bneed sim examples/scenario.json --policy
expect_in "$tmp/bneed.err" 'ladder sim: --policy needs a value (POLICY)' "an option without its value says which"

# --opt=value and --opt value give the same run
sed -e 's/"duration_s": [0-9]*/"duration_s": 60/' examples/scenario.json >"$tmp/short.json"
run eq1 sim "$tmp/short.json" --policy=examples/policy.json --seed=5 --json --no-progress
run eq2 sim "$tmp/short.json" --policy examples/policy.json --seed 5 --json --no-progress
expect_rc eq1 0 "sim with --opt=value runs"
if cmp -s "$tmp/eq1.out" "$tmp/eq2.out"; then
    ok "--opt=value and --opt value give byte-identical summaries"
else
    not_ok "--opt=value and --opt value give byte-identical summaries" "$(diff "$tmp/eq1.out" "$tmp/eq2.out" | head -5)"
fi
finish
