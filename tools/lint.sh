#!/bin/sh
# lint.sh - the habits the project keeps, checked (curl's checksrc is the
# model): run by `make lint`, which `make check` runs first. Prints one
# "file:line: what" per finding and a closing count; exits 1 on any.
#
#  layering   nothing under router/ outside router/live/ includes a header
#             of sim/, router/live/ or cli/ (the core knows no host);
#             sim/ includes nothing of router/live/ or cli/, and router/live/
#             nothing of sim/ or cli/ (the hosts do not know each other);
#             the Makefile gives each part only its own include paths, so
#             the compiler refuses the same
#  banned     atoi, atol, strcpy, strcat, sprintf, vsprintf, gets in C code
#             (no error reporting, or no bound: strtol, snprintf instead)
#  length     C lines at most 100 columns
#  paths      no absolute path of this machine (/work/, /home/, /root/) in
#             tests: data comes from the repository (traces/, tests/data/)
#  decisions  no host file (router/live/, sim/, cli/) branches on a
#             failure class's handling or reads the policy's rules: the
#             core decides (see below)
set -u
cd "$(dirname "$0")/.." || exit 2
n=0
report() {
    printf '%s\n' "$1"
    n=$((n + 1))
}

c_files() { # DIR...: the C sources and headers under them
    find "$@" \( -name '*.c' -o -name '*.h' \) -not -path '*/node_modules/*' |
        LC_ALL=C sort
}

# names of the headers of each part
hdrs() { c_files "$1" | sed 's|.*/||' | grep '\.h$'; }
core_h=$(find router -maxdepth 1 -name '*.h' | sed 's|.*/||')
live_h=$(hdrs router/live)
sim_h=$(hdrs sim)
cli_h=$(hdrs cli)

# includes DIR FORBIDDEN_HEADERS WHY: a finding per #include "x.h" of one
includes() {
    for f in $(c_files "$1"); do
        case $1 in router) case $f in router/live/*) continue ;; esac ;; esac
        grep -n '^#include "' "$f" | while IFS= read -r l; do
            h=$(printf '%s' "$l" | sed 's/.*#include "\([^"]*\)".*/\1/')
            for x in $2; do
                [ "$h" = "$x" ] && printf '%s:%s\n' "$f" "${l%%:*}: includes \"$h\" ($3)"
            done
        done
    done
}
out=$( {
    includes router "$live_h $sim_h $cli_h" "the core includes no host header"
    includes sim "$live_h $cli_h" "the simulator includes nothing of the live host or the CLI"
    includes router/live "$sim_h $cli_h" "the live host includes nothing of the simulator or the CLI"
} )
[ -n "$out" ] && while IFS= read -r l; do report "$l"; done <<EOF
$out
EOF
# the core headers are only the core's: a name clash would hide a layering slip
for h in $live_h $sim_h $cli_h; do
    for c in $core_h; do
        [ "$h" = "$c" ] && report "$h: a host header has the name of a core header"
    done
done

# banned functions (word-bounded: snprintf, fgets and strncat pass)
out=$(c_files router sim cli tools tests |
      xargs grep -nE '(^|[^A-Za-z0-9_])(atoi|atol|strcpy|strcat|sprintf|vsprintf|gets)\(' |
      grep -v '^[^:]*:[0-9]*:[[:space:]]*/\?\*')
[ -n "$out" ] && while IFS= read -r l; do
    report "$(printf '%s' "$l" | cut -d: -f1,2): banned function: $(printf '%s' "$l" |
        grep -oE '(atoi|atol|strcpy|strcat|sprintf|vsprintf|gets)\(' | head -n 1)"
done <<EOF
$out
EOF

# line length
out=$(c_files router sim cli tools tests | xargs awk 'length($0) > 100 {
          printf "%s:%d: line of %d columns (at most 100)\n", FILENAME, FNR, length($0) }')
[ -n "$out" ] && while IFS= read -r l; do report "$l"; done <<EOF
$out
EOF

# absolute paths of this machine in tests
out=$(grep -rnE '"/(work|home|root)/' tests --include='*.c' --include='*.h' \
          --include='*.sh' --include='*.mjs' --include='*.json' 2>/dev/null |
      grep -v '/node_modules/')
[ -n "$out" ] && while IFS= read -r l; do
    report "$(printf '%s' "$l" | cut -d: -f1,2): an absolute path in a test (use the repository's copy)"
done <<EOF
$out
EOF

# decisions: the hosts never look at a rule's action or walk the ladder
# themselves (ld_policy_describe_rule is for people; the core decides)
out=$(c_files router/live sim | xargs grep -nE 'LD_ACT_(NEXT|RETRY|WAIT_RETRY_AFTER|ROLE|FAIL)|->rules\[|ld_breaker_(acquire|record)|ld_retry_budget_' 2>/dev/null)
[ -n "$out" ] && while IFS= read -r l; do
    report "$(printf '%s' "$l" | cut -d: -f1,2): a host reads the policy's rules or the health state machine (decisions live in router/ld_core.c)"
done <<EOF
$out
EOF

echo "lint: $n finding$( [ "$n" -eq 1 ] || echo s)"
[ "$n" -eq 0 ]
