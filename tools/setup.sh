#!/bin/sh
# setup.sh - install the Debian packages Ladder needs, when they are missing.
#
# Idempotent and quiet when everything is there. Called by the Makefile before
# building, so `make demo` and `make check` work on a fresh Debian machine.
# LADDER_SKIP_SETUP=1 skips it (for machines managed by other means).
set -u

[ "${LADDER_SKIP_SETUP:-0}" = 1 ] && exit 0

pkgs="build-essential pkg-config libcjson-dev libcurl4-openssl-dev libssl-dev libgsl-dev
gnuplot-nox libcmocka-dev libevent-dev libhiredis-dev redis-server valgrind
nodejs npm wrk chromium clang zlib1g-dev parallel"

missing=""
for p in $pkgs; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$st" in
        *"install ok installed"*) ;;
        *)
            # nodejs/npm may come from elsewhere than Debian: a working
            # command is as good as the package.
            case "$p" in
                nodejs) command -v node >/dev/null 2>&1 && continue ;;
                npm) command -v npm >/dev/null 2>&1 && continue ;;
            esac
            missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

echo "setup: installing missing packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo -n"
else
    echo "setup: cannot install$missing: not root and no sudo; install them by hand" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get update -qq >/tmp/ladder-setup.log 2>&1 ||
   ! $sudo apt-get install -y -qq --no-install-recommends $missing >>/tmp/ladder-setup.log 2>&1; then
    echo "setup: apt-get failed installing$missing; see /tmp/ladder-setup.log:" >&2
    tail -n 20 /tmp/ladder-setup.log >&2
    exit 1
fi
echo "setup: done" >&2
