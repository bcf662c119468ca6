#!/bin/sh
# report.sh - `ladder report` in a real browser: a small comparison (two
# policies, one 10-minute scenario, two seeds), its charts, and the page
# rendered by Debian's headless Chromium (playwright-core drives
# /usr/bin/chromium): no broken image, the verdict and the gates on the first
# 1280x800 screen, the verdict naming the policy compare.json ranks first.
# Then the charts found after `plot --format svg --out DIR2` with
# `report --plots DIR2`, and clear errors for bad input.
#
# Chromium is required (tools/setup.sh installs it): without it this FAILS.
# REPORT_SHOT=FILE keeps a screenshot of the first screen.
. "$(dirname "$0")/lib/common.sh"
require_ladder

if [ ! -x /usr/bin/chromium ]; then
    not_ok "/usr/bin/chromium is installed (tools/setup.sh installs Debian's chromium)"
    finish
fi
if ! $have_node || ! command -v npm >/dev/null 2>&1; then
    not_ok "node and npm are installed (playwright-core runs on node)"
    finish
fi
node_dir=$root/tests/integration/node
if [ ! -d "$node_dir/node_modules/playwright-core" ] &&
    ! (cd "$node_dir" && npm ci --no-audit --no-fund >"$tmp/npm.log" 2>&1); then
    not_ok "npm ci in tests/integration/node" "$(tail -5 "$tmp/npm.log")"
    finish
fi

# render NAME DIR: DIR/report.html in Chromium; its checks count here
render() {
    rm -rf "$tmp/profile-$1"
    node "$node_dir/report_page.mjs" "$2/report.html" "$2/compare.json" \
        "$tmp/$1.png" "$tmp/profile-$1" >"$tmp/$1.node" 2>&1
    sed 's/^/[browser] /' "$tmp/$1.node" | grep -v '^\[browser\] #'
    count_node "$tmp/$1.node"
}

# ---- a small comparison -------------------------------------------------------

s=$tmp/storm.json
sed -e 's/"duration_s": [0-9]*/"duration_s": 600/' \
    -e 's/"start_s": 900/"start_s": 120/' -e 's/"end_s": 2100/"end_s": 420/' \
    -e 's|"providers/llmperf.json"|"'"$root"'/scenarios/providers/llmperf.json"|' \
    scenarios/02-rate-limit-storm.json >"$s"
pol=$root/scenarios/policies
run cmp compare "$s" --policy static-backup="$pol/static-backup.json" \
    --policy tuned="$pol/tuned.json" --seeds 2 --out "$tmp/cmp" --no-progress \
    --gate "tuned.success_rate >= static-backup.success_rate" \
    --gate "tuned.cost_per_1k_usd <= 0.5 * static-backup.cost_per_1k_usd"
# the second gate fails on purpose: compare exits 3
expect_rc cmp 3 "compare with a failing gate exits 3"

run plot plot "$tmp/cmp" --format png
expect_rc plot 0 "plot --format png of the comparison exits 0"
run rep report "$tmp/cmp"
expect_rc rep 0 "report exits 0"
expect_in "$tmp/rep.out" "$tmp/cmp/report.html" "report prints the page it wrote"
html=$tmp/cmp/report.html
check "the page links the PNG charts under plots/" \
    'grep -q "<img src=\"plots/rate-limit-storm-429/outcomes.png\"" "$html"' \
    "$(grep -o '<img src="[^"]*"' "$html" | head -5)"
check "no exponent notation on the page" \
    '! grep -Eq "[0-9]e[+-]?[0-9]" "$html"' \
    "$(grep -Eo ".{30}[0-9]e[+-]?[0-9].{10}" "$html" | head -3)"
check "a failing gate says FAIL" 'grep -q "class=\"fail\">FAIL<" "$html"'
check "latencies carry thousands separators and a unit" \
    'grep -Eq "[0-9],[0-9]{3} ms" "$html" && ! grep -Eq "[0-9]{5} ms" "$html"' \
    "$(grep -Eo ".{20}[0-9]{4,} ms" "$html" | head -3)"

render png "$tmp/cmp"
[ -n "${REPORT_SHOT:-}" ] && cp "$tmp/png.png" "$REPORT_SHOT"

# ---- charts elsewhere, as SVG ------------------------------------------------------

run psvg plot "$tmp/cmp" --format svg --out "$tmp/charts"
expect_rc psvg 0 "plot --format svg --out DIR2 exits 0"
rm -rf "$tmp/cmp/plots"
run rep2 report "$tmp/cmp"
expect_rc rep2 0 "report without charts exits 0"
expect_in "$html" "No charts in" "report without charts says so"
expect_in "$html" "--plots DIR2" "report without charts names --plots"
run rep3 report "$tmp/cmp" --plots "$tmp/charts"
expect_rc rep3 0 "report --plots DIR2 exits 0"
check "report --plots DIR2 links the SVG charts there" \
    'grep -q "<img src=\"$tmp/charts/rate-limit-storm-429/outcomes.svg\"" "$html"' \
    "$(grep -o '<img src="[^"]*"' "$html" | head -3)"
render svg "$tmp/cmp"

# ---- bad input ------------------------------------------------------------------------

mkdir "$tmp/trunc"
head -c 400 "$tmp/cmp/compare.json" >"$tmp/trunc/compare.json"
run trunc report "$tmp/trunc"
expect_rc trunc 2 "report of a truncated compare.json exits 2"
expect_re "$tmp/trunc.err" "$tmp/trunc/compare.json: line [0-9]+: not valid JSON" \
    "report of a truncated compare.json names the file and line"
mkdir "$tmp/nolabel"
node -e '
const fs = require("fs");
const j = JSON.parse(fs.readFileSync(process.argv[1]));
delete j.scenarios[0].policies[1].label;
fs.writeFileSync(process.argv[2], JSON.stringify(j));
' "$tmp/cmp/compare.json" "$tmp/nolabel/compare.json"
run nolabel report "$tmp/nolabel"
expect_rc nolabel 2 "report of a compare.json without a label exits 2"
expect_in "$tmp/nolabel.err" "scenarios[0].policies[1]" \
    "report of a compare.json without a label names the field"
run noplots report "$tmp/cmp" --plots "$tmp/no-such-dir"
expect_rc noplots 2 "report --plots of a missing directory exits 2"
expect_in "$tmp/noplots.err" "$tmp/no-such-dir" \
    "report --plots of a missing directory names it"

finish
