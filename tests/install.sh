#!/bin/sh
# make install / make uninstall into temporary DESTDIRs (make test-install):
# the exact tree with its modes for the default PREFIX and for PREFIX=/usr,
# the installed files equal to their sources, a changed configuration kept
# by install and by uninstall, and nothing of tinymx left after uninstall.
set -eu
cd "$(dirname "$0")/.."
umask 022
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tinymx-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "test-install: FAIL: $*" >&2; exit 1; }
make_() { make --no-print-directory -s "$@" >"$tmp/make.out" 2>&1 || { cat "$tmp/make.out" >&2; fail "make $*"; }; }
tree() { (cd "$1" && find . -mindepth 1 -printf '%P %M\n' | LC_ALL=C sort); }
same() { # same WANT-FILE GOT-FILE WHAT
	diff -u "$1" "$2" >&2 || fail "$3"
}
bin=target/x86_64-unknown-linux-musl/release/tinymx

# PREFIX=/usr/local (the default): configuration in /usr/local/etc.
d=$tmp/local
make_ install DESTDIR="$d"
cat >"$tmp/want" <<'T'
usr drwxr-xr-x
usr/local drwxr-xr-x
usr/local/etc drwxr-xr-x
usr/local/etc/tinymx.conf -rw-r--r--
usr/local/sbin drwxr-xr-x
usr/local/sbin/tinymx -rwxr-xr-x
usr/local/share drwxr-xr-x
usr/local/share/man drwxr-xr-x
usr/local/share/man/man8 drwxr-xr-x
usr/local/share/man/man8/tinymx.8 -rw-r--r--
usr/local/share/tinymx drwxr-xr-x
usr/local/share/tinymx/examples drwxr-xr-x
usr/local/share/tinymx/examples/gateway.sh -rwxr-xr-x
usr/local/share/tinymx/examples/notify.sh -rwxr-xr-x
usr/local/share/tinymx/examples/save-attachments.sh -rwxr-xr-x
T
tree "$d" >"$tmp/got"
same "$tmp/want" "$tmp/got" "install tree (PREFIX=/usr/local)"
cmp "$bin" "$d/usr/local/sbin/tinymx" || fail "installed binary"
cmp contrib/tinymx.8 "$d/usr/local/share/man/man8/tinymx.8" || fail "installed man page"
cmp contrib/tinymx.conf "$d/usr/local/etc/tinymx.conf" || fail "installed config"
for e in gateway.sh notify.sh save-attachments.sh; do
	cmp "examples/$e" "$d/usr/local/share/tinymx/examples/$e" || fail "installed $e"
done
[ "$("$d/usr/local/sbin/tinymx" --version)" = "tinymx $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml)" ] || fail "--version"
MANWIDTH=80 LC_ALL=C.UTF-8 MANPATH="$d/usr/local/share/man" man tinymx 2>&1 | head -n 1 |
	grep -qx 'TINYMX(8) *System Manager.s Manual *TINYMX(8)' || fail "man tinymx from the installed MANPATH"

# A changed configuration: install keeps it, uninstall keeps it.
echo "domain changed.example" >>"$d/usr/local/etc/tinymx.conf"
cp "$d/usr/local/etc/tinymx.conf" "$tmp/changed.conf"
make_ install DESTDIR="$d"
grep -qx "install: kept the existing $d/usr/local/etc/tinymx.conf" "$tmp/make.out" || fail "install message: $(cat "$tmp/make.out")"
cmp "$tmp/changed.conf" "$d/usr/local/etc/tinymx.conf" || fail "install replaced a changed config"
make_ uninstall DESTDIR="$d"
grep -qx "uninstall: kept $d/usr/local/etc/tinymx.conf (changed since installed)" "$tmp/make.out" || fail "uninstall message: $(cat "$tmp/make.out")"
cat >"$tmp/want" <<'T'
usr drwxr-xr-x
usr/local drwxr-xr-x
usr/local/etc drwxr-xr-x
usr/local/etc/tinymx.conf -rw-r--r--
usr/local/sbin drwxr-xr-x
usr/local/share drwxr-xr-x
usr/local/share/man drwxr-xr-x
usr/local/share/man/man8 drwxr-xr-x
T
tree "$d" >"$tmp/got"
same "$tmp/want" "$tmp/got" "uninstall with a changed config"

# PREFIX=/usr: configuration in /etc; uninstall of an unchanged one
# leaves only the shared directories.
d=$tmp/usr
make_ install DESTDIR="$d" PREFIX=/usr
cat >"$tmp/want" <<'T'
etc drwxr-xr-x
etc/tinymx.conf -rw-r--r--
usr drwxr-xr-x
usr/sbin drwxr-xr-x
usr/sbin/tinymx -rwxr-xr-x
usr/share drwxr-xr-x
usr/share/man drwxr-xr-x
usr/share/man/man8 drwxr-xr-x
usr/share/man/man8/tinymx.8 -rw-r--r--
usr/share/tinymx drwxr-xr-x
usr/share/tinymx/examples drwxr-xr-x
usr/share/tinymx/examples/gateway.sh -rwxr-xr-x
usr/share/tinymx/examples/notify.sh -rwxr-xr-x
usr/share/tinymx/examples/save-attachments.sh -rwxr-xr-x
T
tree "$d" >"$tmp/got"
same "$tmp/want" "$tmp/got" "install tree (PREFIX=/usr)"
make_ uninstall DESTDIR="$d" PREFIX=/usr
cat >"$tmp/want" <<'T'
etc drwxr-xr-x
usr drwxr-xr-x
usr/sbin drwxr-xr-x
usr/share drwxr-xr-x
usr/share/man drwxr-xr-x
usr/share/man/man8 drwxr-xr-x
T
tree "$d" >"$tmp/got"
same "$tmp/want" "$tmp/got" "uninstall (PREFIX=/usr)"
[ -z "$(find "$d" -type f)" ] || fail "files left after uninstall"
echo "test-install: passed (PREFIX=/usr/local and PREFIX=/usr: the exact trees and modes; a changed config kept; uninstall leaves no file)"
