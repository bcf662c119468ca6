#!/bin/sh
# readme.sh - the README's examples must work: its policy example passes
# `ladder check`, its scenario example runs with `ladder sim` against the
# README's policy (with the library's providers file), every command it
# documents answers --help, and every example output it shows is what the
# current build prints.
#
# Example outputs: a plain ``` block whose first line is "$ ladder ..." is
# run, command by command (a "$ " line, with its "\" continuations), in a
# directory that has the repository's examples/, tests/ and traces/ (and a
# copy of scenarios/) (and bad.json, truncated.json, comma.json: three broken policies
# of tests/data/policies). The lines the README shows after a command must
# appear, in that order and with trailing blanks ignored, in what it prints
# (stdout and stderr); a "..." line stands for lines left out.
. "$(dirname "$0")/lib/common.sh"
require_ladder

# the ```json block after a heading
block() {
    awk -v head="$1" '
        index($0, head) == 1 { inside = 1; next }
        inside && /^```json/ { on = 1; next }
        on && /^```/ { exit }
        on { print }' "$root/README.md"
}

block "## Policy format" > "$tmp/policy.json"
run policy check "$tmp/policy.json"
expect_rc policy 0 "README policy example passes ladder check"

block "## Scenario format" > "$tmp/scenario.json"
mkdir -p "$tmp/providers"
cp "$root/scenarios/providers/llmperf.json" "$tmp/providers/llmperf.json"
sed -e 's/"duration_s": 3600/"duration_s": 300/' "$tmp/scenario.json" > "$tmp/s2.json"
run scenario sim "$tmp/s2.json" --policy "$tmp/policy.json" --json --no-progress
expect_rc scenario 0 "README scenario example runs with ladder sim"

for cmd in check sim compare tune plot report fit serve replay; do
    run "help_$cmd" "$cmd" --help
    expect_rc "help_$cmd" 0 "ladder $cmd --help works"
done
# ---- example outputs ------------------------------------------------------------

work=$tmp/work
mkdir -p "$work/bin" "$tmp/rb"
for d in examples tests traces; do ln -s "$root/$d" "$work/$d"; done
cp -R "$root/scenarios" "$work/scenarios" # `ladder fit` writes into it
ln -s "$LADDER" "$work/bin/ladder"
cp "$root/tests/data/policies/bad_unknown_route_in_ladder.json" "$work/bad.json"
cp "$root/tests/data/policies/bad_truncated.json" "$work/truncated.json"
cp "$root/tests/data/policies/bad_trailing_comma.json" "$work/comma.json"
# split the blocks: $tmp/rb/B_C.cmd (command C of block B) and .want
awk -v dir="$tmp/rb" '
    /^```/ && !inb { inb = 1; first = 1; plain = ($0 == "```"); b++; c = 0; next }
    /^```/ && inb { inb = 0; run = 0; next }
    inb && first { first = 0; run = plain && /^\$ ladder /; }
    inb && run && /^\$ / { c++; cont = 0; f = dir "/" b "_" c;
        sub(/^\$ /, ""); print > (f ".cmd"); printf "" > (f ".want");
        cont = /\\$/; next }
    inb && run && cont { print > (f ".cmd"); cont = /\\$/; next }
    inb && run && c > 0 { print > (f ".want") }
' "$root/README.md"
nblocks=0
for cmd in "$tmp"/rb/*.cmd; do
    [ -e "$cmd" ] || continue
    nblocks=$((nblocks + 1))
    want=${cmd%.cmd}.want
    got=${cmd%.cmd}.got
    (cd "$work" && PATH="$work/bin:$PATH" sh "$cmd") >"$got" 2>&1
    line=$(head -n 1 "$cmd")
    if missing=$(awk '
        { sub(/[ \t]+$/, "") }
        FILENAME == ARGV[1] { if ($0 !~ /^ *\.\.\.$/) w[++nw] = $0; next }
        i < nw && $0 == w[i + 1] { i++ }
        END { if (i < nw) { print "from: " w[i + 1]; exit 1 } }
    ' "$want" "$got"); then
        ok "README: the output of \"$line\" is what the build prints"
    else
        not_ok "README: the output of \"$line\" is what the build prints" \
            "$missing; the build printed: $(head -c 1500 "$got")"
    fi
done
check "README: example outputs were found and run ($nblocks)" '[ "$nblocks" -ge 6 ]'
finish
