#!/bin/sh
# plot.sh - `ladder plot`: the charts of a short `ladder sim --out` run and of
# a short `ladder compare --out` comparison (every PNG and SVG written, and
# looking like one; the summary's cut axis said and its numbers grouped),
# and the errors: a directory without data, a truncated
# CSV, broken JSON, gnuplot missing or failing.
#
# LADDER is the binary (default ./bin/ladder from the repository root).
# Prints one "ok - ..." / "not ok - ..." line per check and exits 1 if any
# failed. The plotting checks are skipped when gnuplot is not installed.
. "$(dirname "$0")/lib/common.sh"
require_ladder

# expect_charts DIR LIST DESCRIPTION: DIR/<chart>.png and .svg for every
# chart in LIST, the PNGs starting with the PNG signature and the SVGs
# holding an <svg> element, and the script DIR/<chart>.gp
png_sig=" 89 50 4e 47 0d 0a 1a 0a"
expect_charts() {
    bad=""
    for c in $2; do
        for ext in png svg gp; do
            f="$1/$c.$ext"
            if [ ! -s "$f" ]; then
                bad="$bad
missing or empty: $f"
                continue
            fi
            case $ext in
            png)
                sig=$(head -c 8 "$f" | od -An -tx1 | tr -s ' \n' '  ' |
                    sed 's/ *$//')
                [ "$sig" = "$png_sig" ] || bad="$bad
not a PNG: $f ($sig)" ;;
            svg)
                grep -q "<svg" "$f" || bad="$bad
no <svg in $f" ;;
            esac
        done
    done
    if [ -z "$bad" ]; then
        ok "$3"
    else
        not_ok "$3" "$bad"
    fi
}

# ---- data: a 15-minute version of the example scenario ----------------------

scen="$tmp/scenario.json"
sed 's/"duration_s": *[0-9]*/"duration_s": 900/' examples/scenario.json >"$scen"
if grep -q '"duration_s": 900' "$scen"; then
    ok "a 15-minute copy of examples/scenario.json"
else
    not_ok "a 15-minute copy of examples/scenario.json" "$(head -n 8 "$scen")"
fi
slug=primary-outage-with-rate-limit-storm

run sim sim "$scen" --policy examples/policy.json --seed 3 --out "$tmp/sim" \
    --no-progress
expect_rc sim 0 "sim --out writes a run"
run cmp compare "$scen" --policy a=examples/policy.json \
    --policy b=examples/policy.json --seeds 2 --out "$tmp/cmp" --no-progress
expect_rc cmp 0 "compare --out writes a comparison"

# ---- errors that need no gnuplot -----------------------------------------------

mkdir "$tmp/empty"
nodata="no data (expected summary.json from \`ladder sim --out\`, compare.json from \`ladder compare --out\` or tune.json from \`ladder tune --out\`)"
run empty plot "$tmp/empty"
expect_rc empty 2 "plot of an empty directory exits 2"
expect_in "$tmp/empty.err" "ladder plot: $tmp/empty: $nodata" \
    "plot of an empty directory says there is no data"
run missing plot "$tmp/no-such-dir"
expect_rc missing 2 "plot of a missing directory exits 2"
expect_in "$tmp/missing.err" "ladder plot: $tmp/no-such-dir: no data" \
    "plot of a missing directory says there is no data"

mkdir "$tmp/trunc"
cp "$tmp/sim/summary.json" "$tmp/sim/cdf.csv" "$tmp/sim/faults.csv" "$tmp/trunc/"
head -c 1500 "$tmp/sim/timeseries.csv" >"$tmp/trunc/timeseries.csv"
run trunc plot "$tmp/trunc"
expect_rc trunc 2 "plot with a truncated timeseries.csv exits 2"
expect_in "$tmp/trunc.err" "ladder plot: $tmp/trunc/timeseries.csv: line " \
    "plot with a truncated timeseries.csv names the file and line"

mkdir "$tmp/badjson"
cp -R "$tmp/cmp/$slug" "$tmp/badjson/"
head -c 300 "$tmp/cmp/compare.json" >"$tmp/badjson/compare.json"
run badjson plot "$tmp/badjson"
expect_rc badjson 2 "plot with a truncated compare.json exits 2"
expect_in "$tmp/badjson.err" "ladder plot: $tmp/badjson/compare.json: line " \
    "plot with a truncated compare.json names the file and line"

run badfmt plot "$tmp/sim" --format pdf
expect_rc badfmt 2 "plot --format pdf exits 2"

# gnuplot missing, and gnuplot failing (a stand-in that fails)
PATH="$tmp/nothing-here" "$LADDER" plot "$tmp/sim" >"$tmp/nognu.out" \
    2>"$tmp/nognu.err"
echo $? >"$tmp/nognu.rc"
expect_rc nognu 2 "plot without gnuplot on PATH exits 2"
expect_in "$tmp/nognu.err" "gnuplot-nox" "plot without gnuplot says to install gnuplot-nox"

mkdir "$tmp/fakebin"
printf '#!/bin/sh\necho "line 7: fake failure" >&2\nexit 1\n' >"$tmp/fakebin/gnuplot"
chmod +x "$tmp/fakebin/gnuplot"
PATH="$tmp/fakebin:$PATH" "$LADDER" plot "$tmp/sim" --out "$tmp/fake" \
    >"$tmp/failgnu.out" 2>"$tmp/failgnu.err"
echo $? >"$tmp/failgnu.rc"
expect_rc failgnu 2 "plot exits 2 when gnuplot fails"
expect_in "$tmp/failgnu.err" "line 7: fake failure" "plot shows gnuplot's stderr"

# ---- the charts ------------------------------------------------------------------

if ! command -v gnuplot >/dev/null 2>&1; then
    skip charts "gnuplot not installed (tools/setup.sh installs gnuplot-nox)"
    finish
fi

charts="latency_cdf ttft_cdf outcomes cost"

run psim plot "$tmp/sim"
expect_rc psim 0 "plot of a sim run exits 0"
expect_charts "$tmp/sim/plots" "$charts fallbacks_by_class_policy" \
    "plot of a sim run draws every chart as PNG and SVG"
expect_in "$tmp/psim.out" "$tmp/sim/plots/outcomes.png" \
    "plot lists the files it wrote"
if gnuplot "$tmp/sim/plots/cost.gp" 2>"$tmp/rerun.err"; then
    ok "a chart's script reruns as it is"
else
    not_ok "a chart's script reruns as it is" "$(cat "$tmp/rerun.err")"
fi

run pcmp plot "$tmp/cmp"
expect_rc pcmp 0 "plot of a comparison exits 0"
expect_charts "$tmp/cmp/plots/$slug" \
    "$charts fallbacks_by_class_a fallbacks_by_class_b summary" \
    "plot of a comparison draws every chart per scenario, and the summary"

# the summary: a zoomed success axis says so; numbers with separators
sgp="$tmp/cmp/plots/$slug/summary.gp"
lo=$(sed -n 's/^success_lo = \([0-9.]*\) .*/\1/p' "$sgp")
if [ -n "$lo" ] && { [ "$lo" = 0 ] ||
    grep -q "set title 'success (%): axis starts at $lo'" "$sgp"; }; then
    ok "the summary's success bars start at 0 or say where the axis starts"
else
    not_ok "the summary's success bars start at 0 or say where the axis starts" \
        "success_lo=$lo; $(grep -n "set title" "$sgp" | head -3)"
fi
# the data block's text columns (9-14): p99 latency over 1,000 ms is grouped
p99=$(sed -n '/^\$data << EOD/,/^EOD/p' "$sgp" | sed '1d;$d' | cut -f 11 | head -1)
case "$p99" in
*[0-9],[0-9][0-9][0-9]*) ok "the summary writes p99 latency with thousands separators ($p99)" ;;
*) not_ok "the summary writes p99 latency with thousands separators" "got \"$p99\"" ;;
esac
if grep -q "^ *set ytics ('0' 0, '[0-9,]*' " "$sgp" &&
    ! grep -q "'[0-9]\{5,\}' " "$sgp"; then
    ok "the summary's latency tics carry thousands separators"
else
    not_ok "the summary's latency tics carry thousands separators" \
        "$(grep -n "set ytics" "$sgp" | head -3)"
fi

run psvg plot "$tmp/cmp" --format svg --out "$tmp/svg-only"
expect_rc psvg 0 "plot --format svg --out DIR2 exits 0"
n_png=$(find "$tmp/svg-only" -name '*.png' | wc -l)
n_svg=$(find "$tmp/svg-only" -name '*.svg' | wc -l)
if [ "$n_png" -eq 0 ] && [ "$n_svg" -eq 7 ]; then
    ok "--format svg --out DIR2 writes 7 SVGs and no PNG there"
else
    not_ok "--format svg --out DIR2 writes 7 SVGs and no PNG there" \
        "$n_svg SVGs, $n_png PNGs"
fi

finish
