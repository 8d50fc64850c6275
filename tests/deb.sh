#!/bin/sh
# The .deb on this machine (make test-package, as root, on a throwaway
# Debian machine: it installs into the real root, so it first checks that
# nothing of tinymx is there, and purges the package, the spool and the
# user it created at the end, also after a failure).
#   - lintian: no error and no warning (the overrides are in the package,
#     contrib/debian/lintian-overrides, each with its reason);
#   - the file list with modes and owners;
#   - dpkg -i: the user tinymx (group mail), the spool tinymx:mail 0750,
#     the service neither enabled nor started; update-rc.d enables it;
#   - systemd-analyze verify on the installed unit: silent;
#   - the installed init script starts the installed binary (on
#     127.0.0.1 and a free port, as tinymx), which stores a message sent
#     with smtplib, byte for byte;
#   - dpkg -r: the service stopped unless policy-rc.d forbids it (then it
#     is left running, as asked); the files gone, conffiles and spool kept;
#   - dpkg -P: conffiles and rc links gone; a spool that holds mail kept,
#     an empty one removed.
set -eu
cd "$(dirname "$0")/.."
fail() { echo "test-package: FAIL: $*" >&2; exit 1; }
step() { echo "test-package: $*"; }
[ "$(id -u)" = 0 ] || fail "needs root (it installs the package)"
command -v dpkg >/dev/null || fail "needs dpkg (a Debian machine)"

# Guard: a machine without tinymx.
if dpkg-query -W -f='${Status}' tinymx 2>/dev/null | grep -q 'install\|config-files'; then
	fail "the package tinymx is on this machine already; this test installs and purges it"
fi
for f in /usr/sbin/tinymx /etc/tinymx.conf /etc/default/tinymx /etc/init.d/tinymx /var/spool/tinymx; do
	[ ! -e "$f" ] || fail "$f exists; this test would install over it and remove it"
done
user_existed=no
getent passwd tinymx >/dev/null && user_existed=yes

missing=""
command -v lintian >/dev/null || missing="$missing lintian"
command -v systemd-analyze >/dev/null || missing="$missing systemd"
command -v adduser >/dev/null || missing="$missing adduser"
command -v man >/dev/null || missing="$missing man-db"
command -v python3 >/dev/null || missing="$missing python3"
if [ -n "$missing" ]; then
	echo "installing:$missing"
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tinymx-deb.XXXXXX")
pidfile=/var/run/tinymx/tinymx.pid
# The tinymx this test started, by its pid (its binary may be deleted).
stop_ours() {
	pid=$(cat "$pidfile" 2>/dev/null || cat "$tmp/pid" 2>/dev/null || true)
	[ -n "$pid" ] || return 0
	case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
	/usr/sbin/tinymx | "/usr/sbin/tinymx (deleted)") kill -TERM "$pid" ;;
	*) return 0 ;;
	esac
	n=0
	while [ -e "/proc/$pid" ] && [ "$n" -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
	[ ! -e "/proc/$pid" ] || fail "tinymx $pid did not stop on SIGTERM"
}
cleanup() {
	rc=$?
	stop_ours || true
	if dpkg-query -W -f='${Status}' tinymx 2>/dev/null | grep -q 'install\|config-files'; then
		dpkg -P tinymx >/dev/null 2>&1 || echo "test-package: dpkg -P tinymx failed in the clean-up" >&2
	fi
	rm -rf /var/spool/tinymx /var/run/tinymx
	[ "$user_existed" = yes ] || ! getent passwd tinymx >/dev/null || userdel tinymx || true
	rm -rf "$tmp"
	[ "$rc" = 0 ] || echo "test-package: failed; the package, the spool and the user are removed" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step "building the package"
make --no-print-directory -s deb-package >/dev/null
deb=$(make --no-print-directory -s deb-info | cut -d ' ' -f 5)
[ -f "$deb" ] || fail "no $deb"

step "lintian $deb"
lintian --tag-display-limit 0 "$deb" >"$tmp/lintian" 2>"$tmp/lintian.err" || { cat "$tmp/lintian" "$tmp/lintian.err" >&2; fail "lintian exited $?"; }
grep -v '^running with root privileges is not recommended!$' "$tmp/lintian.err" >>"$tmp/lintian" || true
[ ! -s "$tmp/lintian" ] || { cat "$tmp/lintian" >&2; fail "lintian reported the above"; }

step "the file list"
dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }' >"$tmp/got"
cat >"$tmp/want" <<'T'
drwxr-xr-x root/root ./
drwxr-xr-x root/root ./etc/
drwxr-xr-x root/root ./etc/default/
-rw-r--r-- root/root ./etc/default/tinymx
drwxr-xr-x root/root ./etc/init.d/
-rwxr-xr-x root/root ./etc/init.d/tinymx
-rw-r--r-- root/root ./etc/tinymx.conf
drwxr-xr-x root/root ./lib/
drwxr-xr-x root/root ./lib/systemd/
drwxr-xr-x root/root ./lib/systemd/system/
-rw-r--r-- root/root ./lib/systemd/system/tinymx.service
drwxr-xr-x root/root ./usr/
drwxr-xr-x root/root ./usr/sbin/
-rwxr-xr-x root/root ./usr/sbin/tinymx
drwxr-xr-x root/root ./usr/share/
drwxr-xr-x root/root ./usr/share/doc/
drwxr-xr-x root/root ./usr/share/doc/tinymx/
-rw-r--r-- root/root ./usr/share/doc/tinymx/README.md
-rw-r--r-- root/root ./usr/share/doc/tinymx/changelog.Debian.gz
-rw-r--r-- root/root ./usr/share/doc/tinymx/copyright
drwxr-xr-x root/root ./usr/share/doc/tinymx/examples/
-rw-r--r-- root/root ./usr/share/doc/tinymx/examples/gateway.sh
-rw-r--r-- root/root ./usr/share/doc/tinymx/examples/notify.sh
-rw-r--r-- root/root ./usr/share/doc/tinymx/examples/save-attachments.sh
drwxr-xr-x root/root ./usr/share/lintian/
drwxr-xr-x root/root ./usr/share/lintian/overrides/
-rw-r--r-- root/root ./usr/share/lintian/overrides/tinymx
drwxr-xr-x root/root ./usr/share/man/
drwxr-xr-x root/root ./usr/share/man/man8/
-rw-r--r-- root/root ./usr/share/man/man8/tinymx.8.gz
T
diff -u "$tmp/want" "$tmp/got" >&2 || fail "file list"
[ "$(dpkg-deb -f "$deb" Architecture)" = amd64 ] || fail "Architecture"

step "dpkg -i"
dpkg -i "$deb" >"$tmp/dpkg.out" 2>&1 || { cat "$tmp/dpkg.out" >&2; fail "dpkg -i"; }
[ "$(id -gn tinymx)" = mail ] || fail "the user tinymx's group is $(id -gn tinymx), not mail"
[ "$(stat -c '%U:%G %a' /var/spool/tinymx)" = "tinymx:mail 750" ] || fail "spool: $(stat -c '%U:%G %a' /var/spool/tinymx)"
st=0
out=$(/etc/init.d/tinymx status) || st=$?
[ "$out $st" = "tinymx is not running 3" ] || fail "the service was started by dpkg -i: $out ($st)"
[ "$(cd /etc && ls -d rc?.d/*tinymx | tr '\n' ' ')" = "rc0.d/K01tinymx rc1.d/K01tinymx rc2.d/K01tinymx rc3.d/K01tinymx rc4.d/K01tinymx rc5.d/K01tinymx rc6.d/K01tinymx " ] ||
	fail "rc links: $(cd /etc && ls -d rc?.d/*tinymx)"
# What the README tells the administrator to do on sysvinit: enable it.
update-rc.d tinymx enable >"$tmp/rc.out" 2>&1 || { cat "$tmp/rc.out" >&2; fail "update-rc.d tinymx enable"; }
[ "$(cd /etc && ls -d rc?.d/*tinymx | tr '\n' ' ')" = "rc0.d/K01tinymx rc1.d/K01tinymx rc2.d/S01tinymx rc3.d/S01tinymx rc4.d/S01tinymx rc5.d/S01tinymx rc6.d/K01tinymx " ] ||
	fail "rc links after update-rc.d tinymx enable: $(cd /etc && ls -d rc?.d/*tinymx)"
[ "$(dpkg-query -W -f='${Conffiles}\n' tinymx | awk 'NF { print $1 }' | tr '\n' ' ')" = "/etc/default/tinymx /etc/init.d/tinymx /etc/tinymx.conf " ] || fail "conffiles"

step "systemd-analyze verify /lib/systemd/system/tinymx.service"
out=$(systemd-analyze verify /lib/systemd/system/tinymx.service 2>&1) || fail "systemd-analyze verify exited $?: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"

step "a delivery through the installed init script and binary"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s|^TINYMX_ARGS=.*|TINYMX_ARGS=\"-l 127.0.0.1:$port -n mx.test -d /var/spool/tinymx -u tinymx --config /etc/tinymx.conf\"|" /etc/default/tinymx
out=$(/etc/init.d/tinymx start 2>"$tmp/daemon.log") || { cat "$tmp/daemon.log" >&2; fail "init script start: $out"; }
[ "$out" = "Starting tinymx: OK" ] || fail "start said: $out"
pid=$(cat "$pidfile")
echo "$pid" >"$tmp/pid"
[ "$(readlink "/proc/$pid/exe")" = /usr/sbin/tinymx ] || fail "pid $pid is not /usr/sbin/tinymx"
[ "$(stat -c %U "/proc/$pid")" = tinymx ] || fail "tinymx runs as $(stat -c %U "/proc/$pid")"
printf 'From: alice@example.com\nTo: bob@example.org\nSubject: packaged\n\nhello from smtplib\n.dot line\n' >"$tmp/message"
python3 - "$port" "$tmp/message" <<'PY'
import smtplib, sys
body = open(sys.argv[2], "rb").read().replace(b"\n", b"\r\n")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    s.sendmail("alice@example.com", ["bob@example.org"], body)
PY
# smtplib returned after the 250: the message is in new/ by then.
set -- /var/spool/tinymx/bob/new/*
[ $# = 1 ] && [ -f "$1" ] || fail "bob/new/ holds: $*"
stored=$1
case "$stored" in *.mx.test) ;; *) fail "file name $stored" ;; esac
[ "$(stat -c '%U:%G %a' "$stored")" = "tinymx:mail 600" ] || fail "stored file: $(stat -c '%U:%G %a' "$stored")"
[ "$(sed -n 1,2p "$stored")" = "Return-Path: <alice@example.com>
Delivered-To: bob@example.org" ] || fail "trace fields: $(sed -n 1,3p "$stored")"
sed -n 3p "$stored" | grep -q '^Received: from .* (\[127\.0\.0\.1\]) by mx\.test (tinymx) with ESMTP id ' || fail "Received: $(sed -n 3p "$stored")"
tail -n +4 "$stored" | cmp - "$tmp/message" || fail "the stored message differs from the one sent"
cp "$stored" "$tmp/stored"

step "dpkg -r"
if [ -x /usr/sbin/policy-rc.d ] && { /usr/sbin/policy-rc.d tinymx stop >/dev/null 2>&1; [ $? = 101 ]; }; then
	policy=deny
else
	policy=allow
fi
dpkg -r tinymx >"$tmp/dpkg.out" 2>&1 || { cat "$tmp/dpkg.out" >&2; fail "dpkg -r"; }
if [ "$policy" = deny ]; then
	# policy-rc.d said no: prerm's invoke-rc.d leaves tinymx running.
	[ -e "/proc/$pid" ] || fail "prerm stopped tinymx although policy-rc.d forbids it"
	grep -q 'policy-rc.d denied execution of stop' "$tmp/dpkg.out" || fail "no policy-rc.d message: $(cat "$tmp/dpkg.out")"
	stop_ours
	step "  (policy-rc.d denies: tinymx was left running by prerm, then stopped by this test)"
else
	[ ! -e "/proc/$pid" ] || fail "prerm left tinymx running"
fi
for f in /usr/sbin/tinymx /usr/share/man/man8/tinymx.8.gz /lib/systemd/system/tinymx.service /usr/share/doc/tinymx; do
	[ ! -e "$f" ] || fail "$f is left after dpkg -r"
done
for f in /etc/tinymx.conf /etc/default/tinymx /etc/init.d/tinymx; do
	[ -e "$f" ] || fail "dpkg -r removed the conffile $f"
done
cmp "$stored" "$tmp/stored" || fail "dpkg -r changed the spool"
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' tinymx)" = "rc " ] || fail "status after -r"

step "dpkg -P"
dpkg -P tinymx >"$tmp/dpkg.out" 2>&1 || { cat "$tmp/dpkg.out" >&2; fail "dpkg -P"; }
for f in /etc/tinymx.conf /etc/default/tinymx /etc/init.d/tinymx /etc/rc2.d/S01tinymx /etc/rc0.d/K01tinymx; do
	[ ! -e "$f" ] || fail "$f is left after dpkg -P"
done
cmp "$stored" "$tmp/stored" || fail "dpkg -P removed or changed the mail in the spool"
dpkg-query -W tinymx >/dev/null 2>&1 && fail "tinymx still known to dpkg after -P"

step "dpkg -i and -P over an empty spool"
rm -r /var/spool/tinymx/bob
dpkg -i "$deb" >"$tmp/dpkg.out" 2>&1 || { cat "$tmp/dpkg.out" >&2; fail "dpkg -i (again)"; }
[ "$(stat -c '%U:%G %a' /var/spool/tinymx)" = "tinymx:mail 750" ] || fail "spool after reinstall"
dpkg -P tinymx >"$tmp/dpkg.out" 2>&1 || { cat "$tmp/dpkg.out" >&2; fail "dpkg -P (again)"; }
[ ! -e /var/spool/tinymx ] || fail "an empty spool is left after dpkg -P"

step "passed"
