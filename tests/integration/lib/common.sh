# common.sh - what the integration scripts share. Source it first thing:
#
#     . "$(dirname "$0")/lib/common.sh"
#
# It lives in a subdirectory so that tests/run_integration.sh, which runs
# tests/integration/*.sh, does not take it for a test. POSIX sh (dash).
#
# Sourcing it:
#   - sets -u;
#   - sets root to the repository root (absolute) and cd's there, so that
#     the scripts can name repository files by relative paths;
#   - makes LADDER (the binary, default bin/ladder under the root) and TOOLS
#     (the built helper programs, default build/release/tools under the
#     root) absolute, a relative value being taken from the directory the
#     script was started in;
#   - sets have_node to true or false;
#   - makes a temporary directory $tmp, removed on exit. INT and TERM exit
#     (status 130, 143), which runs the same cleanup. A script that has more
#     to clean up (a server to stop) defines cleanup_hook after sourcing
#     this; it runs before $tmp is removed. With LADDER_KEEP_TMP set in the
#     environment, a script that failed a check keeps $tmp (the servers'
#     logs and outputs) and says where on stderr.
#
# Checks print one "ok - ..." / "not ok - ..." line each, the detail of a
# failure indented below it as "    # ..." lines; finish prints the count and
# exits 1 if any failed. Names starting with _lib_ are this file's own.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd) || exit 1

case "${LADDER:-}" in
"") LADDER=$root/bin/ladder ;;
/*) ;;
*) LADDER=$(pwd)/$LADDER ;;
esac
case "${TOOLS:-}" in
"") TOOLS=$root/build/release/tools ;;
/*) ;;
*) TOOLS=$(pwd)/$TOOLS ;;
esac
cd "$root" || exit 1

have_node=false
command -v node >/dev/null 2>&1 && have_node=true

failed=0
total=0
_lib_skipped=0

# ---- the temporary directory and cleanup -----------------------------------

tmp=$(mktemp -d) || exit 1

# cleanup_hook: redefine it in the script for cleanup of its own
cleanup_hook() { :; }

_lib_cleanup() {
    cleanup_hook
    if [ -n "${LADDER_KEEP_TMP:-}" ] && [ "$failed" -gt 0 ]; then
        echo "# kept $tmp (LADDER_KEEP_TMP)" >&2
        return
    fi
    rm -rf "$tmp"
}
trap _lib_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- results ----------------------------------------------------------------

# ok DESCRIPTION
ok() {
    total=$((total + 1))
    echo "ok - $1"
}

# not_ok DESCRIPTION [DETAIL]: DETAIL's lines follow, indented as "    # "
not_ok() {
    total=$((total + 1))
    failed=$((failed + 1))
    echo "not ok - $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/    # /'
    return 0
}

# skip DESCRIPTION [REASON]: a check that cannot run here: counted as
# skipped, never as passed
skip() {
    total=$((total + 1))
    _lib_skipped=$((_lib_skipped + 1))
    echo "skip - $1 # SKIP ${2:-node not found}"
}

# finish: the closing count ("N of M checks passed", and ", K skipped"
# when some could not run); exits 0 if none failed, else 1
finish() {
    _lib_sk=
    [ "$_lib_skipped" -gt 0 ] && _lib_sk=", $_lib_skipped skipped"
    echo "$(basename "$0"): $((total - failed - _lib_skipped)) of $total checks passed$_lib_sk"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}

# require_ladder: stop here (exit 1) when the binary is not built
require_ladder() {
    if [ ! -x "$LADDER" ]; then
        echo "not ok - ladder binary $LADDER is missing (run make)"
        exit 1
    fi
}

# ---- checks ---------------------------------------------------------------

# check DESCRIPTION EXPR [DETAIL]: ok when `eval EXPR` succeeds
check() {
    if eval "$2"; then
        ok "$1"
    else
        not_ok "$1" "${3:-}"
    fi
}

# run NAME ARGS...: run $LADDER ARGS; NAME.out, NAME.err and NAME.rc (the
# exit code) in $tmp
run() {
    _lib_name=$1
    shift
    "$LADDER" "$@" >"$tmp/$_lib_name.out" 2>"$tmp/$_lib_name.err"
    echo $? >"$tmp/$_lib_name.rc"
}

# expect_rc NAME WANT DESCRIPTION: the run NAME exited WANT
expect_rc() {
    _lib_got=$(cat "$tmp/$1.rc")
    if [ "$_lib_got" -eq "$2" ]; then
        ok "$3"
    else
        not_ok "$3" "exit $_lib_got, expected $2; stderr: $(head -c 600 "$tmp/$1.err")"
    fi
}

# expect_in FILE STRING DESCRIPTION: STRING occurs (fixed string) in FILE
expect_in() {
    if grep -qF -- "$2" "$1"; then
        ok "$3"
    else
        not_ok "$3" "\"$2\" not found in: $(head -c 600 "$1")"
    fi
}

# expect_re FILE REGEX DESCRIPTION: a line of FILE matches the extended REGEX
expect_re() {
    if grep -qE -- "$2" "$1"; then
        ok "$3"
    else
        not_ok "$3" "/$2/ not found in: $(head -c 600 "$1")"
    fi
}

# expect_empty FILE DESCRIPTION: FILE is empty (or missing)
expect_empty() {
    if [ -s "$1" ]; then
        not_ok "$2" "$(head -c 600 "$1")"
    else
        ok "$2"
    fi
}

# expect_eq GOT WANT DESCRIPTION: two strings are equal
expect_eq() {
    if [ "$1" = "$2" ]; then
        ok "$3"
    else
        not_ok "$3" "got \"$1\", expected \"$2\""
    fi
}

# js DESCRIPTION SCRIPT FILE...: run a node script over the files (their
# paths are process.argv[1..]); it prints one line per failed assertion,
# nothing if all held. Skipped without node.
js() {
    _lib_desc=$1
    _lib_script=$2
    shift 2
    if ! $have_node; then
        skip "$_lib_desc"
        return
    fi
    _lib_out=$(node -e "$_lib_script" "$@" 2>&1)
    if [ -z "$_lib_out" ]; then
        ok "$_lib_desc"
    else
        not_ok "$_lib_desc" "$(printf '%s\n' "$_lib_out" | head -n 10)"
    fi
}

# json_js DESCRIPTION FILE SCRIPT: js with SCRIPT run after j = the parsed
# FILE, want(cond, msg) (a failed assertion's message) and near(x, y, eps)
json_js() {
    js "$1" '
        const fs = require("fs");
        let j;
        try { j = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); }
        catch (e) { console.log("does not parse: " + e.message); process.exit(0); }
        const bad = [];
        const want = (c, m) => { if (!c) bad.push(m); };
        const near = (x, y, e) => typeof x === "number" && Math.abs(x - y) <= e;
        '"$3"'
        for (const m of bad) console.log(m);
    ' "$2"
}

# ---- broken inputs: tests/data/*/bad_*.json -----------------------------------

# want_of FILE: sets want to the message the broken input FILE states in its
# top-level "_expect" comment key; without one, a not_ok and status 1
want_of() {
    want=$(sed -n 's/.*"_expect": *"\(\([^"\\]\|\\.\)*\)".*/\1/p' "$1" |
        head -n 1 | sed 's/\\"/"/g')
    if [ -z "$want" ]; then
        not_ok "$1 states its expected message in \"_expect\""
        return 1
    fi
}

# expect_rejected NAME LABEL: the run NAME (LABEL says what it ran, as
# "check FILE") exited 2 and printed nothing on stdout; if not, a not_ok
# and status 1. Sets err to its stderr, for the caller to check the message.
expect_rejected() {
    _lib_rc=$(cat "$tmp/$1.rc")
    err=$(cat "$tmp/$1.err")
    if [ "$_lib_rc" -ne 2 ]; then
        not_ok "$2 exits 2" "exit $_lib_rc; stderr: $err"
        return 1
    elif [ -s "$tmp/$1.out" ]; then
        not_ok "$2 prints nothing on stdout" "$(head -c 400 "$tmp/$1.out")"
        return 1
    fi
}

# ---- processes ----------------------------------------------------------------

# stop PID: SIGTERM, poll up to 5 s, then SIGKILL; sets stop_status (its
# exit status, or "hung"). An empty PID does nothing. Call it in this
# shell, never inside $(...): only the shell that started a process can
# wait for it.
stop() {
    stop_status=
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null
    _lib_i=0
    while kill -0 "$1" 2>/dev/null && [ $_lib_i -lt 50 ]; do
        sleep 0.1
        _lib_i=$((_lib_i + 1))
    done
    if kill -0 "$1" 2>/dev/null; then
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        stop_status=hung
        return 0
    fi
    wait "$1"
    stop_status=$?
}

# wait_exit PID: PID was already told to stop (a SIGTERM, a drain): wait up
# to 10 s for it to exit by itself, then collect stop_status as stop does.
# stop alone would send a second signal, which a draining router takes as
# "exit at once".
wait_exit() {
    [ -n "$1" ] || return 0
    poll 100 sh -c "! kill -0 $1"
    stop "$1"
}

# fresh FILE...: empty each FILE now, in this shell. Call it before
# starting a process in the background as `CMD >FILE &` when FILE is then
# read for what the process printed (wait_line, poll grep): that `>FILE` is
# done by the background shell once it gets to run, and on a loaded
# machine this shell may read FILE first, finding what an earlier process
# wrote there: a router's "listening on" line names its ports, and the
# test then talks to a router that is gone (seen: 5 stale reads in 3,000
# restarts at load 7-9 on two cores).
fresh() {
    for _lib_f in "$@"; do
        : >"$_lib_f"
    done
}

# wait_line FILE SED-EXPR PID: poll FILE (5 s) for the first line that
# SED-EXPR prints, and print it. Status 1 if none came, or PID exited first.
# FILE must not hold an earlier process's line (fresh).
wait_line() {
    _lib_i=0
    while [ $_lib_i -lt 50 ]; do
        _lib_v=$(sed -n "$2" "$1" 2>/dev/null | head -n 1)
        if [ -n "$_lib_v" ]; then
            echo "$_lib_v"
            return 0
        fi
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.1
        _lib_i=$((_lib_i + 1))
    done
    return 1
}

# poll TRIES CMD...: run CMD every 0.1 s until it succeeds, at most TRIES
# times; status 1 if it never did.
poll() {
    _lib_n=$1
    shift
    while [ "$_lib_n" -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
        _lib_n=$((_lib_n - 1))
    done
    return 1
}

# require_sdk: node, npm and the official openai SDK (tests/integration/
# node, `npm ci` when its node_modules is missing); exits 1 without them.
require_sdk() {
    if ! $have_node || ! command -v npm >/dev/null 2>&1; then
        not_ok "node and npm are installed (the openai SDK runs on node)"
        exit 1
    fi
    _lib_node=$root/tests/integration/node
    if [ ! -d "$_lib_node/node_modules/openai" ] &&
        ! (cd "$_lib_node" && npm ci --no-audit --no-fund >/dev/null 2>&1); then
        not_ok "npm ci in tests/integration/node"
        exit 1
    fi
}

# start_fake ARGS...: tools/fake_provider --port 0 --max-lifetime 300 ARGS
# in the background (its stdout and stderr in $tmp/fake.out and .err); sets
# fake_pid and fake_url (http://127.0.0.1:PORT/v1). Exits 1 when it does not
# start. The script's cleanup_hook stops it; --max-lifetime (ARGS may give
# a shorter one) stops it should the script die without its cleanup.
start_fake() {
    if [ ! -x "$TOOLS/fake_provider" ]; then
        not_ok "$TOOLS/fake_provider is built"
        exit 1
    fi
    fresh "$tmp/fake.out"
    "$TOOLS/fake_provider" --port 0 --max-lifetime 300 "$@" \
        >"$tmp/fake.out" 2>"$tmp/fake.err" &
    fake_pid=$!
    if ! _lib_port=$(wait_line "$tmp/fake.out" \
        's/^port \([0-9][0-9]*\)$/\1/p' "$fake_pid"); then
        not_ok "fake provider starts" "$(cat "$tmp/fake.err")"
        exit 1
    fi
    fake_url=http://127.0.0.1:$_lib_port/v1
}

# count_node FILE: add the checks a node test client (tests/integration/
# node/lib.mjs) printed in FILE, "# N checks, M failed", to this script's
# count; a client that printed no count is one failed check.
count_node() {
    _lib_nm=$(sed -n 's/^# \([0-9]*\) checks, \([0-9]*\) failed$/\1 \2/p' "$1" | tail -n 1)
    if [ -z "$_lib_nm" ]; then
        not_ok "the node client printed its count" "$(tail -5 "$1")"
        return 0
    fi
    total=$((total + ${_lib_nm% *}))
    failed=$((failed + ${_lib_nm#* }))
}
