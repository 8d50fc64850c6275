#!/bin/sh
# The systemd unit under a real systemd as PID 1 (make test-systemd, as
# root): systemd-nspawn boots the host's own systemd in a throwaway tree
# (a private /etc and /var under a temporary directory, the host's /usr
# read-only with the .deb's files laid over it, its own network namespace
# with only loopback), so nothing of the host is changed and nothing the
# host has enabled is started.
#   - the .deb's postinst (run in the booted container): the user tinymx
#     (group mail), the spool tinymx:mail 0750, systemctl daemon-reload;
#     the service neither enabled nor started; systemctl enable/disable;
#   - systemctl start tinymx with the unit exactly as shipped (no drop-in:
#     -l :25 is the container's own port 25, only loopback exists there);
#   - the hardening in effect on the running process: uid tinymx, gid mail,
#     CapEff/CapPrm/CapBnd/CapAmb = CAP_NET_BIND_SERVICE only, NoNewPrivs,
#     seccomp, / read-only (ProtectSystem=strict) but the spool
#     (ReadWritePaths), /home and /root inaccessible, a private /tmp;
#   - a message sent with smtplib to 127.0.0.1:25 is stored byte for byte;
#   - systemctl reload: the same process, and its log says it reloaded;
#   - a crash (SIGKILL) is restarted (Restart=on-failure);
#   - systemctl stop: the process gone, Result=success;
#   - systemctl status exit codes: 3 before start, 0 running, 3 stopped,
#     4 for an unknown unit.
# The container is powered off and the tree removed at the end, also
# after a failure (by the pid of systemd-nspawn, then of the container's
# PID 1). Needs systemd-nspawn (Debian's systemd-container, installed
# when missing).
set -eu
cd "$(dirname "$0")/.."
export LC_ALL=C
fail() { echo "test-systemd: FAIL: $*" >&2; exit 1; }
step() { echo "test-systemd: $*"; }
[ "$(id -u)" = 0 ] || fail "needs root (systemd-nspawn)"
command -v dpkg-deb >/dev/null || fail "needs dpkg-deb (a Debian machine)"

missing=""
command -v systemd-nspawn >/dev/null || missing="$missing systemd-container"
command -v python3 >/dev/null || missing="$missing python3"
command -v adduser >/dev/null || missing="$missing adduser"
command -v nsenter >/dev/null || missing="$missing util-linux"
if [ -n "$missing" ]; then
	echo "installing:$missing"
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing
fi
[ -x /lib/systemd/systemd ] || fail "no /lib/systemd/systemd to boot"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tinymx-systemd.XXXXXX")
root=$tmp/root
machine=tinymx-test-$$
nspawn=""
leader=""
# nspawn puts its cgroups under the one it runs in: a cgroup of ours in
# each hierarchy it may use, removed at the end.
cgroups=""
for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
	if [ -f "$h/cgroup.procs" ] && [ -w "$h" ] && mkdir "$h/$machine" 2>/dev/null; then
		cgroups="$cgroups $h/$machine"
	fi
done

poweroff() {
	if [ -n "$nspawn" ] && [ -e "/proc/$nspawn" ]; then
		kill -TERM "$nspawn" 2>/dev/null || true # nspawn: halt the container
		n=0
		while [ -e "/proc/$nspawn" ] && [ "$n" -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
		[ ! -e "/proc/$nspawn" ] || kill -KILL "$nspawn" 2>/dev/null || true
	fi
	# The container's PID 1 (killing it ends its whole pid namespace).
	if [ -n "$leader" ] && [ -e "/proc/$leader" ] && [ "$(readlink "/proc/$leader/exe" 2>/dev/null)" = /usr/lib/systemd/systemd ]; then
		kill -KILL "$leader" 2>/dev/null || true
		n=0
		while [ -e "/proc/$leader" ] && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	fi
}
cleanup() {
	rc=$?
	poweroff
	for c in $cgroups; do
		find "$c" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null || true
		rmdir "$c" 2>/dev/null || echo "test-systemd: could not remove the cgroup $c" >&2
	done
	rmdir "/run/systemd/nspawn/propagate/$machine" 2>/dev/null || true
	if [ "$rc" != 0 ] && [ -f "$tmp/nspawn.log" ]; then
		echo "test-systemd: the container's console:" >&2
		tail -n 30 "$tmp/nspawn.log" >&2
	fi
	rm -rf "$tmp"
	[ "$rc" = 0 ] || echo "test-systemd: failed; the container is stopped and its tree removed" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step "building the package"
make --no-print-directory -s deb-package >/dev/null
deb=$(make --no-print-directory -s deb-info | cut -d ' ' -f 5)
[ -f "$deb" ] || fail "no $deb"

step "the tree: a private /etc and /var, the host's /usr under the package's"
mkdir -p "$root/etc" "$root/var" "$root/run" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" \
	"$root/usr" "$root/root" "$root/home" "$tmp/pkg" "$tmp/ctl"
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
for d in bin lib lib64 sbin; do
	[ -L "/$d" ] || fail "/$d is not a symbolic link into /usr (this test needs a merged /usr)"
	ln -s "$(readlink "/$d")" "$root/$d"
done
cp /usr/lib/os-release "$root/etc/os-release"
cp /etc/nsswitch.conf "$root/etc/"
# What adduser (in postinst) reads: its defaults, login.defs, PAM for chfn.
for f in adduser.conf login.defs pam.conf pam.d security; do
	[ ! -e "/etc/$f" ] || cp -a "/etc/$f" "$root/etc/"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nmail:x:8:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'root:*:1::::::\nnobody:*:1::::::\n' >"$root/etc/shadow"
printf 'root:*::\nmail:*::\nnogroup:*::\n' >"$root/etc/gshadow"
chmod 0640 "$root/etc/shadow" "$root/etc/gshadow"
# A machine id: not a first boot, so no preset enables the host's units.
echo 0123456789abcdef0123456789abcdef >"$root/etc/machine-id"
dpkg-deb -x "$deb" "$tmp/pkg"
dpkg-deb -e "$deb" "$tmp/ctl"
# The package's /lib is /usr/lib in a merged-/usr tree; its /etc is copied.
mkdir -p "$tmp/pkg/usr/lib"
mv "$tmp/pkg/lib/systemd" "$tmp/pkg/usr/lib/systemd"
rmdir "$tmp/pkg/lib"
cp -a "$tmp/pkg/etc/." "$root/etc/"
install -m 0755 "$tmp/ctl/postinst" "$root/root/postinst"

step "booting systemd in the tree (systemd-nspawn -b)"
# The shell puts itself in our cgroups, then becomes systemd-nspawn.
# shellcheck disable=SC2016
sh -c 'for c in $1; do echo $$ >"$c/cgroup.procs"; done; shift; exec "$@"' sh "$cgroups" \
	systemd-nspawn --quiet --directory="$root" --machine="$machine" \
	--register=no --keep-unit --private-network \
	--overlay-ro="/usr:$tmp/pkg/usr:/usr" \
	--timezone=off --resolv-conf=off --link-journal=no --console=pipe \
	--boot </dev/null >"$tmp/nspawn.log" 2>&1 &
nspawn=$!
n=0
while [ -z "$leader" ]; do
	[ -e "/proc/$nspawn" ] || fail "systemd-nspawn exited: $(cat "$tmp/nspawn.log")"
	[ "$n" -lt 200 ] || fail "no container after 20 s"
	for p in $(cat /proc/"$nspawn"/task/*/children 2>/dev/null); do
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/lib/systemd/systemd ] && leader=$p
	done
	sleep 0.1
	n=$((n + 1))
done
# A command in the container (each bounded: 30 s).
ct() { timeout 30 nsenter --target "$leader" --all --root --wd "$@"; }
n=0
while :; do
	state=$(ct systemctl is-system-running 2>/dev/null) || true
	case "$state" in running | degraded) break ;; esac
	[ "$n" -lt 600 ] || fail "the container's systemd did not finish booting in 60 s (state: $state)"
	sleep 0.1
	n=$((n + 1))
done
step "  booted: PID 1 of the container is $(ct readlink /proc/1/exe), state $state"
if [ "$state" != running ]; then
	ct systemctl --failed --no-pager >&2 || true
	fail "the container booted degraded"
fi

st=0
ct systemctl status no-such-unit.service >/dev/null 2>&1 || st=$?
[ "$st" = 4 ] || fail "systemctl status of an unknown unit exited $st, not 4"

step "the package's postinst in the booted system"
# As dpkg runs it (deb-systemd-helper insists on dpkg's variables).
ct env DPKG_MAINTSCRIPT_PACKAGE=tinymx DPKG_MAINTSCRIPT_NAME=postinst DPKG_MAINTSCRIPT_ARCH="$(dpkg-deb -f "$deb" Architecture)" \
	sh /root/postinst configure >"$tmp/postinst.out" 2>&1 || { cat "$tmp/postinst.out" >&2; fail "postinst configure"; }
[ ! -s "$tmp/postinst.out" ] || { cat "$tmp/postinst.out" >&2; fail "postinst configure printed the above"; }
[ -e "$root/var/lib/systemd/deb-systemd-helper-enabled/tinymx.service.dsh-also" ] || fail "postinst: deb-systemd-helper update-state recorded nothing"
[ "$(ct id -gn tinymx)" = mail ] || fail "the user tinymx's group is not mail"
uid=$(ct id -u tinymx)
[ "$(stat -c '%u:%g %a' "$root/var/spool/tinymx")" = "$uid:8 750" ] || fail "spool: $(stat -c '%u:%g %a' "$root/var/spool/tinymx")"
[ "$(ct systemctl show -p FragmentPath --value tinymx)" = /lib/systemd/system/tinymx.service ] ||
	fail "the unit systemd loaded: $(ct systemctl show -p FragmentPath --value tinymx)"
cmp "$tmp/pkg/usr/lib/systemd/system/tinymx.service" contrib/systemd/tinymx.service || fail "the packaged unit is not contrib/systemd/tinymx.service"
[ "$(ct systemctl is-enabled tinymx || true)" = disabled ] || fail "postinst enabled the service"
st=0
ct systemctl status tinymx >/dev/null 2>&1 || st=$?
[ "$st" = 3 ] || fail "systemctl status before start exited $st, not 3 (started by postinst?)"
ct systemctl enable tinymx >/dev/null 2>&1 || fail "systemctl enable tinymx"
[ "$(readlink "$root/etc/systemd/system/multi-user.target.wants/tinymx.service")" = /lib/systemd/system/tinymx.service ] ||
	fail "systemctl enable: no multi-user.target.wants link"
ct systemctl disable tinymx >/dev/null 2>&1 || fail "systemctl disable tinymx"
[ "$(ct systemctl is-enabled tinymx || true)" = disabled ] || fail "still enabled after systemctl disable"

# Waits until 127.0.0.1:25 in the container accepts (at most 10 s).
wait_port() {
	ct python3 - <<'PY' || fail "nothing listens on 127.0.0.1:25 in the container after 10 s ($(ct systemctl is-active tinymx || true)); its journal: $(ct journalctl _SYSTEMD_UNIT=tinymx.service -o cat --no-pager | tail -n 3)"
import socket, sys, time
deadline = time.monotonic() + 10
while True:
    try:
        socket.create_connection(("127.0.0.1", 25), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.05)
PY
}
mainpid() { ct systemctl show -p MainPID --value tinymx; }

step "systemctl start tinymx (the unit as shipped: -l :25 as user tinymx)"
ct systemctl start tinymx || fail "systemctl start tinymx exited $?"
wait_port
pid=$(mainpid)
[ "$pid" -gt 0 ] || fail "no MainPID"
[ "$(ct systemctl is-active tinymx || true)" = active ] || fail "not active"
st=0
ct systemctl status tinymx >/dev/null 2>&1 || st=$?
[ "$st" = 0 ] || fail "systemctl status while running exited $st, not 0"
[ "$(ct readlink "/proc/$pid/exe")" = /usr/sbin/tinymx ] || fail "MainPID $pid is $(ct readlink "/proc/$pid/exe")"

step "the hardening in effect on pid $pid"
ct cat "/proc/$pid/status" >"$tmp/status"
field() { awk -v f="$1:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "$tmp/status"; }
[ "$(field Uid)" = "$uid $uid $uid $uid" ] || fail "Uid: $(field Uid) (User=tinymx is uid $uid)"
[ "$(field Gid)" = "8 8 8 8" ] || fail "Gid: $(field Gid) (Group=mail is 8)"
for c in CapEff CapPrm CapBnd CapAmb; do
	[ "$(field $c)" = 0000000000000400 ] || fail "$c: $(field $c), not CAP_NET_BIND_SERVICE (0x400) alone"
done
[ "$(field CapInh)" = 0000000000000400 ] || fail "CapInh: $(field CapInh)"
[ "$(field NoNewPrivs)" = 1 ] || fail "NoNewPrivs: $(field NoNewPrivs)"
[ "$(field Seccomp)" = 2 ] || fail "Seccomp: $(field Seccomp), not 2 (filter)"
# The mounts as the service sees them (its own mount namespace).
ct cat "/proc/$pid/mountinfo" >"$tmp/mountinfo"
opts() { awk -v m="$1" '$5 == m { o = $6 } END { print o }' "$tmp/mountinfo"; }
case ",$(opts /)," in *,ro,*) ;; *) fail "/ is not read-only for the service: $(opts /)" ;; esac
case ",$(opts /var/spool/tinymx)," in *,rw,*) ;; *) fail "/var/spool/tinymx is not writable for the service: '$(opts /var/spool/tinymx)'" ;; esac
for m in /etc /var /usr; do
	o=$(opts $m)
	[ -z "$o" ] || case ",$o," in *,ro,*) ;; *) fail "$m is writable for the service: $o" ;; esac
done
[ -n "$(opts /tmp)" ] || fail "no private /tmp (PrivateTmp=yes)"
[ -n "$(opts /home)" ] && [ -n "$(opts /root)" ] || fail "/home or /root not hidden (ProtectHome=yes)"
# Writing, as root, in the service's mount namespace: refused but the spool.
for f in /etc/probe /var/lib/probe /usr/probe /probe; do
	if ct nsenter --target "$pid" --mount touch "$f" 2>/dev/null; then
		fail "$f could be written in the service's namespace (ProtectSystem=strict)"
	fi
done
ct nsenter --target "$pid" --mount touch /var/spool/tinymx/probe || fail "the spool is not writable in the service's namespace"
ct nsenter --target "$pid" --mount rm /var/spool/tinymx/probe
[ -z "$(ct nsenter --target "$pid" --mount ls -A /home)" ] || fail "/home visible to the service"
step "  uid $uid gid 8, CapEff/CapPrm/CapBnd/CapAmb 0x400, NoNewPrivs 1, Seccomp 2, / ro, spool rw, /home /root hidden, /tmp private"

step "a message through 127.0.0.1:25 with smtplib"
printf 'From: alice@example.com\nTo: bob@example.org\nSubject: under systemd\n\nhello from smtplib\n.dot line\n' >"$tmp/message"
cp "$tmp/message" "$root/root/message"
ct python3 - <<'PY' || fail "smtplib"
import smtplib
body = open("/root/message", "rb").read().replace(b"\n", b"\r\n")
with smtplib.SMTP("127.0.0.1", 25) as s:
    s.sendmail("alice@example.com", ["bob@example.org"], body)
PY
# smtplib returned after the 250: the message is in new/ by then.
set -- "$root"/var/spool/tinymx/bob/new/*
[ $# = 1 ] && [ -f "$1" ] || fail "bob/new/ holds: $*"
stored=$1
[ "$(stat -c '%u:%g %a' "$stored")" = "$uid:8 600" ] || fail "stored file: $(stat -c '%u:%g %a' "$stored")"
[ "$(sed -n 1,2p "$stored")" = "Return-Path: <alice@example.com>
Delivered-To: bob@example.org" ] || fail "trace fields: $(sed -n 1,3p "$stored")"
sed -n 3p "$stored" | grep -q '^Received: from .* (\[127\.0\.0\.1\]) by .* (tinymx) with ESMTP id ' || fail "Received: $(sed -n 3p "$stored")"
tail -n +4 "$stored" | cmp - "$tmp/message" || fail "the stored message differs from the one sent"

step "systemctl reload tinymx (SIGHUP) with a changed /etc/tinymx.conf"
grep -qx 'domain example.org' "$root/etc/tinymx.conf" || fail "the packaged /etc/tinymx.conf has no 'domain example.org' line"
sed -i 's/^domain example\.org$/domain example.net/' "$root/etc/tinymx.conf"
ct systemctl reload tinymx || fail "systemctl reload exited $?"
n=0
until ct journalctl _SYSTEMD_UNIT=tinymx.service -o cat --no-pager 2>/dev/null | grep -q 'SIGHUP: configuration reloaded'; do
	[ "$n" -lt 100 ] || fail "no 'SIGHUP: configuration reloaded' in the journal after 10 s: $(ct journalctl _SYSTEMD_UNIT=tinymx.service -o cat --no-pager | tail -n 3)"
	sleep 0.1
	n=$((n + 1))
done
[ "$(mainpid)" = "$pid" ] || fail "reload changed the MainPID ($pid -> $(mainpid))"
# A new session takes the new domain and refuses the old one.
ct python3 - <<'PY' || fail "the reloaded configuration is not in effect"
import smtplib, sys
with smtplib.SMTP("127.0.0.1", 25) as s:
    s.ehlo("client.test")
    s.mail("alice@example.com")
    new = s.rcpt("bob@example.net")
    old = s.rcpt("bob@example.org")
print("  RCPT bob@example.net: %d, bob@example.org: %d" % (new[0], old[0]))
sys.exit(0 if new[0] == 250 and old[0] == 550 else 1)
PY

step "a crash (SIGKILL) is restarted (Restart=on-failure)"
ct kill -KILL "$pid"
n=0
while :; do
	new=$(mainpid)
	[ "$new" != 0 ] && [ "$new" != "$pid" ] && [ "$(ct systemctl is-active tinymx || true)" = active ] && break
	[ "$n" -lt 100 ] || fail "not restarted 10 s after SIGKILL (MainPID $new, $(ct systemctl is-active tinymx || true))"
	sleep 0.1
	n=$((n + 1))
done
[ "$(ct systemctl show -p NRestarts --value tinymx)" = 1 ] || fail "NRestarts: $(ct systemctl show -p NRestarts --value tinymx)"
wait_port
pid=$new

step "systemctl stop tinymx"
ct systemctl stop tinymx || fail "systemctl stop exited $?"
! ct test -e "/proc/$pid" || fail "pid $pid still there after systemctl stop"
[ "$(ct systemctl is-active tinymx || true)" = inactive ] || fail "after stop: $(ct systemctl is-active tinymx || true)"
[ "$(ct systemctl show -p Result --value tinymx)" = success ] || fail "Result: $(ct systemctl show -p Result --value tinymx)"
st=0
ct systemctl status tinymx >/dev/null 2>&1 || st=$?
[ "$st" = 3 ] || fail "systemctl status after stop exited $st, not 3"
! ct python3 -c 'import socket; socket.create_connection(("127.0.0.1", 25), timeout=1)' 2>/dev/null || fail "port 25 still open after stop"

step "powering the container off"
kill -TERM "$nspawn"
n=0
while [ -e "/proc/$nspawn" ]; do
	[ "$n" -lt 200 ] || fail "systemd-nspawn still running 20 s after SIGTERM"
	sleep 0.1
	n=$((n + 1))
done
st=0
wait "$nspawn" || st=$?
[ "$st" = 0 ] || fail "systemd-nspawn exited $st"
nspawn=""
step "passed"
