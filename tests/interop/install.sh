#!/bin/sh
# Installs the interop suite's peers from Debian's packages when missing:
# postfix (sendmail, postqueue, smtp-source), msmtp, mblaze, swaks (with
# libnet-ssleay-perl, only recommended, for --tls), curl, openssl (the TLS
# checks' test CA and certificate), dovecot-imapd (its imap binary is run
# directly, no daemon) and neomutt.
# Exim conflicts with postfix as a package (both provide
# mail-transport-agent), so exim4-daemon-light is fetched with
# `apt-get download` and unpacked with `dpkg -x` into $EXIM_ROOT; only its
# shared libraries are installed as packages.
#
# Usage: install.sh            (as root, or with sudo on PATH)
# Prints nothing but what it installs.
set -eu

EXIM_ROOT=${EXIM_ROOT:-/var/cache/tinymx-interop/exim4}
TAG=interop
. "$(cd "$(dirname "$0")" && pwd)/../../.ci/debian.sh"

install_postfix

missing=""
for p in swaks libnet-ssleay-perl curl openssl msmtp mblaze dovecot-imapd neomutt; do
	have_pkg "$p" || missing="$missing $p"
done
[ -z "$missing" ] || apt_install $missing
# The suite runs /usr/lib/dovecot/imap on its own spool, never the daemon:
# if installing dovecot-core started the system's instance anyway (no
# policy-rc.d to forbid it), that one is stopped by the pid in its pid file.
pidfile=/run/dovecot/master.pid
if [ -r "$pidfile" ]; then
	pid=$(tr -dc 0-9 <"$pidfile")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		echo "$TAG: stopping the system's dovecot (pid $pid)"
		$SUDO kill -TERM "$pid"
	fi
fi

# Exim: unpacked, not installed. Its binary looks up its user at start:
# add the system user that exim4-base's postinst would add.
if ! getent passwd Debian-exim >/dev/null; then
	echo "interop: adding the system user Debian-exim"
	$SUDO useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin Debian-exim
fi
if [ ! -x "$EXIM_ROOT/usr/sbin/exim4" ]; then
	apt_update
	echo "interop: unpacking exim4-daemon-light into $EXIM_ROOT"
	dl=$(mktemp -d)
	trap 'rm -rf "$dl"' EXIT
	chmod 755 "$dl"  # apt's download user writes here
	(cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root exim4-daemon-light >/dev/null)
	# Its libraries (not exim4-base/debconf, which would pull in the MTA).
	libs=$(apt-cache depends --no-recommends --no-suggests exim4-daemon-light \
		| sed -n 's/^ *|\{0,1\}Depends: \([a-z0-9][a-z0-9.+-]*\)$/\1/p' \
		| grep '^lib' | sort -u)
	missing=""
	for p in $libs; do have_pkg "$p" || missing="$missing $p"; done
	[ -z "$missing" ] || apt_install $missing
	$SUDO mkdir -p "$EXIM_ROOT.new"
	$SUDO dpkg -x "$dl"/exim4-daemon-light_*.deb "$EXIM_ROOT.new"
	dpkg-deb -f "$dl"/exim4-daemon-light_*.deb Version | $SUDO tee "$EXIM_ROOT.new/VERSION" >/dev/null
	rm -rf "$dl"
	$SUDO rm -rf "$EXIM_ROOT"
	$SUDO mv "$EXIM_ROOT.new" "$EXIM_ROOT"
fi
if ldd "$EXIM_ROOT/usr/sbin/exim4" | grep -q 'not found'; then
	echo "interop: $EXIM_ROOT/usr/sbin/exim4 misses libraries:" >&2
	ldd "$EXIM_ROOT/usr/sbin/exim4" | grep 'not found' >&2
	exit 1
fi
