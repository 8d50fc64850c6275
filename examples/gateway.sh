#!/bin/busybox sh
# Mail-to-command gateway for `tinymx --exec` (busybox sh, no Perl/Python).
#
# A mail whose subject is "SECRET COMMAND" from an allowed sender runs
# COMMAND, if COMMAND is one of the executables in $GATEWAY_COMMANDS.
# It never replies (a reply would confirm the address to a forger), and it
# logs every decision. The envelope sender can be forged: the shared
# secret is what authorises; the allow-list only cuts noise.
#
# Settings (environment of tinymx, or edit the defaults):
allow="${GATEWAY_ALLOW:-/etc/tinymx/gateway.allow}"     # one address a line
secret_file="${GATEWAY_SECRET:-/etc/tinymx/gateway.secret}"
commands="${GATEWAY_COMMANDS:-/etc/tinymx/gateway.d}"   # the fixed list
log="${GATEWAY_LOG:-/var/log/tinymx-gateway.log}"

set -f  # the subject is split into words below: no file name globbing
log() {
	printf '%s %s %s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "${TINYMX_SESSION:-?}" "$*" >>"$log"
}

log "mail from=<$TINYMX_SENDER> to=<$TINYMX_RECIPIENT> id=$TINYMX_MESSAGE_ID"
if ! grep -Fxqi -- "$TINYMX_SENDER" "$allow" 2>/dev/null; then
	log "ignored: sender not in the allow-list"
	exit 0
fi
secret=$(cat "$secret_file" 2>/dev/null)
set -- $TINYMX_SUBJECT
if [ -z "$secret" ] || [ "${1:-}" != "$secret" ]; then
	log "ignored: wrong or missing secret"  # the subject is not logged: it may hold a near-miss secret
	exit 0
fi
cmd="${2:-}"
case "$cmd" in
'' | *[!a-z0-9_-]*)
	log "ignored: bad command name"
	exit 0
	;;
esac
if [ ! -f "$commands/$cmd" ] || [ ! -x "$commands/$cmd" ]; then
	log "ignored: command '$cmd' is not in the list"
	exit 0
fi
log "running $cmd"
"$commands/$cmd" </dev/null >>"$log" 2>&1
log "$cmd exited with status $?"
exit 0
