#!/bin/sh
# Installs what `make bench` needs, each only when missing:
#   postfix   smtp-source (the load client), smtp-sink, and Postfix itself
#   valgrind  callgrind's instruction counts
#   aiosmtpd  from PyPI, in a virtual environment in bench/.venv
# `install.sh --smoke` installs only what `make bench-smoke` needs (postfix
# for smtp-source and smtp-sink). Prints nothing but what it installs.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
VENV=${BENCH_VENV:-$HERE/.venv}
AIOSMTPD_VERSION=1.4.6
export DEBIAN_FRONTEND=noninteractive

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

smoke=""
[ "${1:-}" = "--smoke" ] && smoke=1

updated=""
apt_install() {
	if [ -z "$updated" ]; then
		$SUDO apt-get update -qq || echo "bench: apt-get update reported errors; going on" >&2
		updated=1
	fi
	echo "bench: installing: $*"
	$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ARCH=$(dpkg --print-architecture)
have_pkg() {
	dpkg-query -W -f='${Status} ${Architecture}\n' "$1" 2>/dev/null |
		grep -Eqx "install ok installed ($ARCH|all)"
}

# Postfix, preseeded so that it sets up no system mail service; if the
# package started the system's own instance anyway, that one is stopped by
# the pid in its pid file (the bench runs private instances only).
if ! have_pkg postfix || ! command -v smtp-source >/dev/null || ! command -v smtp-sink >/dev/null; then
	echo 'postfix postfix/main_mailer_type select No configuration' | $SUDO debconf-set-selections
	apt_install postfix
	pidfile=/var/spool/postfix/pid/master.pid
	if [ -r "$pidfile" ]; then
		pid=$(tr -dc 0-9 <"$pidfile")
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			echo "bench: stopping the system's postfix (pid $pid)"
			$SUDO kill -TERM "$pid"
		fi
	fi
fi
command -v python3 >/dev/null || apt_install python3
[ -n "$smoke" ] && exit 0

command -v valgrind >/dev/null || apt_install valgrind
command -v strip >/dev/null || apt_install binutils

# aiosmtpd in its own virtual environment (pinned version).
if ! "$VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
	if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
		apt_install python3-venv
	fi
	echo "bench: creating $VENV with aiosmtpd $AIOSMTPD_VERSION"
	rm -rf "$VENV"
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q "aiosmtpd==$AIOSMTPD_VERSION"
fi
