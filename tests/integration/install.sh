#!/bin/sh
# install.sh - `make install` honours PREFIX and DESTDIR.
. "$(dirname "$0")/lib/common.sh"
if env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -C "$root" BUILD=release install \
       DESTDIR="$tmp/stage" PREFIX=/opt/ladder >/dev/null 2>&1 &&
   [ -x "$tmp/stage/opt/ladder/bin/ladder" ] &&
   "$tmp/stage/opt/ladder/bin/ladder" version | grep -q '^ladder '; then
    ok "make install puts bin/ladder under DESTDIR/PREFIX"
else
    not_ok "make install puts bin/ladder under DESTDIR/PREFIX"
fi
finish
