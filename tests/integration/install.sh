#!/bin/sh
# install.sh - `make install` honours PREFIX and DESTDIR.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -C "$root" BUILD=release install \
       DESTDIR="$tmp/stage" PREFIX=/opt/ladder >/dev/null 2>&1 &&
   [ -x "$tmp/stage/opt/ladder/bin/ladder" ] &&
   "$tmp/stage/opt/ladder/bin/ladder" version | grep -q '^ladder '; then
    echo "ok - make install puts bin/ladder under DESTDIR/PREFIX"
else
    echo "not ok - make install puts bin/ladder under DESTDIR/PREFIX"
    exit 1
fi
