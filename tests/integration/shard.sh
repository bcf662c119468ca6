#!/bin/sh
# shard.sh - compare --jobs and --shard, and ladder merge: the output of
# --jobs 2 is the output of --jobs 1 byte for byte; shards run through GNU
# parallel (two local job slots) and merged equal one run byte for byte
# (stdout, compare.json, the per-run files), into one directory or one per
# shard; merge refuses a missing, repeated or foreign shard. The same for
# the per-tenant table of the noisy-tenant storm: its figures travel from
# the workers and through the shard files like the metrics.
. "$(dirname "$0")/lib/common.sh"
require_ladder

# short copies of two library scenarios (10 minutes each)
for s in 02-rate-limit-storm 08-flapping-primary; do
    sed -e 's/"duration_s": [0-9]*/"duration_s": 600/' \
        -e 's|"providers/llmperf.json"|"'"$root"'/scenarios/providers/llmperf.json"|' \
        "$root/scenarios/$s.json" > "$tmp/$s.json"
done
pol=$root/scenarios/policies
set -- "$tmp/02-rate-limit-storm.json" "$tmp/08-flapping-primary.json" \
    --policy "$pol/retry-cooldown.json" --policy "$pol/static-backup.json" \
    --seeds 3 --no-progress --gate "static-backup.success_rate >= 0.5"

# 1. --jobs 2 against --jobs 1: tables, --json and --out files
run one compare "$@" --jobs 1 --out "$tmp/one"
expect_rc one 0 "compare --jobs 1 runs"
run two compare "$@" --jobs 2 --out "$tmp/two"
expect_rc two 0 "compare --jobs 2 runs"
check "--jobs 2 prints the same tables as --jobs 1" \
    'cmp -s "$tmp/one.out" "$tmp/two.out"' "$(diff "$tmp/one.out" "$tmp/two.out" | head -20)"
diff -r "$tmp/one" "$tmp/two" >"$tmp/d" 2>&1
rc=$?
check "--jobs 2 writes the same files as --jobs 1" '[ $rc -eq 0 ]' "$(head -c 600 "$tmp/d")"
run onej compare "$@" --jobs 1 --json
run twoj compare "$@" --jobs 3 --json
check "--jobs 3 --json is --jobs 1 --json" 'cmp -s "$tmp/onej.out" "$tmp/twoj.out"'

# 2. three shards through GNU parallel on two local slots, one directory
if command -v parallel >/dev/null 2>&1; then
    parallel --will-cite --quote --jobs 2 "$LADDER" compare "$@" --jobs 1 \
        --shard {}/3 --out "$tmp/sh" ::: 1 2 3 >"$tmp/par.out" 2>"$tmp/par.err"
    rc=$?
    check "parallel runs the three shards" '[ $rc -eq 0 ]' "$(head -c 600 "$tmp/par.err")"
    check "each shard wrote its file" '[ -f "$tmp/sh/shard-1-of-3.json" ] &&
        [ -f "$tmp/sh/shard-2-of-3.json" ] && [ -f "$tmp/sh/shard-3-of-3.json" ]' \
        "$(ls "$tmp/sh" 2>&1)"
    check "a shard prints no tables" '[ ! -s "$tmp/par.out" ]' "$(head -c 300 "$tmp/par.out")"
    run merged merge "$tmp/sh"
    expect_rc merged 0 "merge of the three shards exits as the run did (0)"
    check "the merged tables are the one run's, byte for byte" \
        'cmp -s "$tmp/one.out" "$tmp/merged.out"' "$(diff "$tmp/one.out" "$tmp/merged.out" | head -20)"
    diff -r -x "shard-*" "$tmp/one" "$tmp/sh" >"$tmp/d" 2>&1
    rc=$?
    check "the merged compare.json and run files are the one run's" \
        '[ $rc -eq 0 ]' "$(head -c 600 "$tmp/d")"
    run mergedj merge "$tmp/sh" --json
    check "merge --json is compare --json" 'cmp -s "$tmp/onej.out" "$tmp/mergedj.out"'
else
    skip "shards through GNU parallel" "parallel not found (tools/setup.sh installs it)"
fi

# 3. one directory per shard (as on separate machines), in any order
for i in 2 1; do
    run "s$i" compare "$@" --shard "$i/2" --out "$tmp/m$i"
    expect_rc "s$i" 0 "shard $i/2 into a directory of its own"
done
run m2 merge "$tmp/m2" "$tmp/m1" --json --out "$tmp/m2"
expect_rc m2 0 "merge of two directories"
check "merged from two directories is the one run" 'cmp -s "$tmp/onej.out" "$tmp/m2.out"'
check "its compare.json is the one run's" 'cmp -s "$tmp/one/compare.json" "$tmp/m2/compare.json"'

# 4. a gate that fails: merge exits 3 as compare does
run gf compare "$tmp/08-flapping-primary.json" --policy "$pol/static-backup.json" \
    --seeds 2 --no-progress --gate "static-backup.success_rate >= 1.01" --json
run gs compare "$tmp/08-flapping-primary.json" --policy "$pol/static-backup.json" \
    --seeds 2 --no-progress --gate "static-backup.success_rate >= 1.01" \
    --shard 1/1 --out "$tmp/g"
run gm merge "$tmp/g" --json
expect_rc gf 3 "compare with a failing gate exits 3"
expect_rc gm 3 "merge with the same failing gate exits 3"
check "and prints the same" 'cmp -s "$tmp/gf.out" "$tmp/gm.out"'

# 5. bad input
run miss merge "$tmp/m1"
expect_rc miss 2 "a missing shard: exit 2"
expect_in "$tmp/miss.err" "shard 2 of 2 is missing" "it names the missing shard"
run twice merge "$tmp/m1" "$tmp/m1/shard-1-of-2.json"
expect_rc twice 2 "the same shard twice: exit 2"
expect_in "$tmp/twice.err" "given twice" "it says so"
run foreign merge "$tmp/m1" "$tmp/g/shard-1-of-1.json"
expect_rc foreign 2 "a shard of another compare: exit 2"
expect_in "$tmp/foreign.err" "another compare" "it says so"
printf '{"ladder_shard": 1, "shard": 1, "of": 1}' > "$tmp/bad.json"
run bad merge "$tmp/bad.json"
expect_rc bad 2 "a shard file without its fields: exit 2"
expect_in "$tmp/bad.err" "bad.json" "the error names the file"
run bs compare "$tmp/08-flapping-primary.json" --policy "$pol/static-backup.json" \
    --shard 0/2 --out "$tmp/x"
expect_rc bs 2 "--shard 0/2: exit 2"
expect_in "$tmp/bs.err" "expected I/N" "it says what is expected"
run bo compare "$tmp/08-flapping-primary.json" --policy "$pol/static-backup.json" \
    --shard 1/2
expect_rc bo 2 "--shard without --out: exit 2"

# 6. the per-tenant figures (the noisy-tenant storm): --jobs 1, --jobs 2
# and two shards merged print the same tenants table and write the same
# compare.json "tenants"
ten=$root/scenarios/12-noisy-tenant-rate-limit-storm.json
set -- "$ten" --policy "$pol/retry-cooldown.json" \
    --policy "$pol/static-backup.json" --seeds 3 --no-progress
run t1 compare "$@" --jobs 1 --out "$tmp/t1"
expect_rc t1 0 "compare of the noisy-tenant storm, --jobs 1"
expect_re "$tmp/t1.out" '^enterprise-co$' "--jobs 1 prints the tenants table"
run t2 compare "$@" --jobs 2 --out "$tmp/t2"
expect_rc t2 0 "compare of the noisy-tenant storm, --jobs 2"
expect_re "$tmp/t2.out" '^batch-bot$' "--jobs 2 prints the tenants table"
expect_re "$tmp/t2.out" '^  key_limit % *[0-9]' "...with the key-limited share of each"
check "--jobs 2 prints the tenants as --jobs 1 does" \
    'cmp -s "$tmp/t1.out" "$tmp/t2.out"' "$(diff "$tmp/t1.out" "$tmp/t2.out" | head -20)"
check "--jobs 2 writes the same compare.json (tenants included)" \
    'cmp -s "$tmp/t1/compare.json" "$tmp/t2/compare.json"'
json_js "compare.json has each tenant's figures per policy" "$tmp/t1/compare.json" '
    const t = (j.scenarios && j.scenarios[0].tenants) || {};
    want(Object.keys(t).join() === "batch-bot,startup,enterprise-co", "tenants " + Object.keys(t));
    const b = t["batch-bot"] && t["batch-bot"]["static-backup"];
    want(b && b.key_limited_rate.mean > 0, "batch-bot key_limited_rate " + JSON.stringify(b));'
if command -v parallel >/dev/null 2>&1; then
    parallel --will-cite --quote --jobs 2 "$LADDER" compare "$@" --jobs 1 \
        --shard {}/2 --out "$tmp/tsh" ::: 1 2 >"$tmp/tpar.out" 2>"$tmp/tpar.err"
    rc=$?
    check "parallel runs the two shards of the noisy-tenant storm" '[ $rc -eq 0 ]' \
        "$(head -c 600 "$tmp/tpar.err")"
    expect_in "$tmp/tsh/shard-1-of-2.json" '"enterprise-co"' "a shard file names the tenants"
    run tm merge "$tmp/tsh"
    expect_rc tm 0 "merge of the two shards"
    check "the merged tenants table is the one run's" \
        'cmp -s "$tmp/t1.out" "$tmp/tm.out"' "$(diff "$tmp/t1.out" "$tmp/tm.out" | head -20)"
    diff -r -x "shard-*" "$tmp/t1" "$tmp/tsh" >"$tmp/d" 2>&1
    rc=$?
    check "the merged compare.json (tenants included) and run files are the one run's" \
        '[ $rc -eq 0 ]' "$(head -c 600 "$tmp/d")"
    # a shard whose unit lacks its tenant figures: refused, not merged without them
    # (its units keep their 14 metrics, 224 hex digits, and lose the rest)
    sed -E 's/^([[:space:]]*"[0-9]+":[[:space:]]*"[0-9a-f]{224})[0-9a-f]*"/\1"/' \
        "$tmp/tsh/shard-2-of-2.json" > "$tmp/cut.json" &&
        mv "$tmp/cut.json" "$tmp/tsh/shard-2-of-2.json"
    run tcut merge "$tmp/tsh"
    expect_rc tcut 2 "a shard unit without its tenant figures: exit 2"
    expect_in "$tmp/tcut.err" "9 tenant figures" "it says how many figures were expected"
else
    skip "tenant shards through GNU parallel" "parallel not found (tools/setup.sh installs it)"
fi
# a tenant id too long for the table: a clear error, not a tenant left out
long=$(printf 'tenant-%070d' 0)
sed -e 's/"id": "startup"/"id": "'"$long"'"/' \
    -e 's|"providers/llmperf.json"|"'"$root"'/scenarios/providers/llmperf.json"|' \
    "$ten" > "$tmp/longid.json"
run tlong compare "$tmp/longid.json" --policy "$pol/static-backup.json" --seeds 1 --no-progress
expect_rc tlong 2 "a tenant id over 64 bytes: exit 2"
expect_in "$tmp/tlong.err" "longid.json: traffic.tenants[1].id" "the error names the file and field"

finish
