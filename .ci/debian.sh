# Debian package helpers shared by bench/install.sh and
# tests/interop/install.sh (POSIX sh; sourced, not run). The caller sets
# TAG (the prefix of what it prints).
export DEBIAN_FRONTEND=noninteractive

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

updated=""
apt_update() {
	if [ -z "$updated" ]; then
		# An index that fails to download (a mirror mid-sync, a foreign
		# architecture) need not stop us: the install below says if it must.
		$SUDO apt-get update -qq || echo "$TAG: apt-get update reported errors; going on" >&2
		updated=1
	fi
}

apt_install() {
	apt_update
	echo "$TAG: installing: $*"
	$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Installed for this machine's architecture (other architectures' copies of
# a library, from multiarch, do not count).
ARCH=$(dpkg --print-architecture)
have_pkg() {
	dpkg-query -W -f='${Status} ${Architecture}\n' "$1" 2>/dev/null |
		grep -Eqx "install ok installed ($ARCH|all)"
}

# Postfix (smtp-source, smtp-sink, sendmail, Postfix itself), preseeded so
# that it sets up no system mail service. If installing it started the
# system's own instance anyway, that one is stopped by the pid in its pid
# file: tinymx's suites run private instances only.
install_postfix() {
	if have_pkg postfix && command -v smtp-source >/dev/null && command -v smtp-sink >/dev/null; then
		return 0
	fi
	echo 'postfix postfix/main_mailer_type select No configuration' | $SUDO debconf-set-selections
	apt_install postfix
	pidfile=/var/spool/postfix/pid/master.pid
	if [ -r "$pidfile" ]; then
		pid=$(tr -dc 0-9 <"$pidfile")
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			echo "$TAG: stopping the system's postfix (pid $pid)"
			$SUDO kill -TERM "$pid"
		fi
	fi
}
