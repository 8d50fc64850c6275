#!/bin/sh
# Installs what `make bench` needs, each only when missing:
#   postfix   smtp-source (the load client), smtp-sink, and Postfix itself
#   valgrind  callgrind's instruction counts
#   strace    the file-system section's flush calls per mail
#   aiosmtpd  from PyPI, in a virtual environment in bench/.venv
# `install.sh --smoke` installs only what `make bench-smoke` needs (postfix
# for smtp-source and smtp-sink). Prints nothing but what it installs.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
VENV=${BENCH_VENV:-$HERE/.venv}
AIOSMTPD_VERSION=1.4.6
TAG=bench
. "$HERE/../.ci/debian.sh"

smoke=""
[ "${1:-}" = "--smoke" ] && smoke=1

install_postfix
command -v python3 >/dev/null || apt_install python3
# The file-system section's flush calls per mail (strace -c).
command -v strace >/dev/null || apt_install strace
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
