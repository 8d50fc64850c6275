#!/bin/busybox sh
# Mail-to-command gateway for `tinymx --exec` (busybox sh, no Perl/Python).
#
# A mail whose subject starts with COMMAND runs COMMAND, if COMMAND is one
# of the executables in $GATEWAY_COMMANDS and the mail passes every check,
# in this order (the first that fails ends it, with one log line):
#
#  1. TINYMX_DMARC=pass: the From: domain vouches for the message (a DKIM
#     signature of that domain verified, or SPF passed for an aligned
#     envelope domain). The envelope sender is not looked at.
#  2. TINYMX_FROM is in the allow-list: one address a line, compared as a
#     whole line, ASCII case-insensitively, local part included
#     (Alice@Example.com matches alice@example.com: RFC 5321 section 2.4
#     lets a host tell local parts apart by case; the list does not).
#  3. The Date field (TINYMX_DATE) is at most GATEWAY_MAX_AGE seconds old
#     and at most GATEWAY_SKEW seconds in the future. No Date, or one tinymx
#     could not read (obsolete forms such as "GMT"), is ignored.
#  4. With a secret (GATEWAY_SECRET names a file; off by default): the
#     subject is "SECRET COMMAND" and its first word must be the secret.
#     Without one, the subject is "COMMAND".
#  5. COMMAND is [a-z0-9_-]+ and an executable file in GATEWAY_COMMANDS.
#  6. The Message-ID was never acted on before: a signed mail captured once
#     and sent again passes 1-5 again. A mail without Message-ID is ignored
#     (it could not be told from its replay). The IDs acted on are kept in
#     GATEWAY_SEEN, the newest GATEWAY_SEEN_MAX, and the ID is written
#     (temporary file, sync, mv, sync) before the command runs, so a crash
#     during the command does not make the mail replayable. A store that
#     exists but cannot be read or rewritten runs nothing (logged, exit 1).
#     The window of 3 bounds what must be remembered: a replay older than
#     GATEWAY_MAX_AGE is ignored by 3, so GATEWAY_SEEN_MAX must exceed the
#     commands run in one window. Hooks run concurrently (tinymx
#     --exec-max): the check and the write happen under a lock, the
#     directory GATEWAY_SEEN.lock (busybox has no flock applet; mkdir is
#     atomic), held for those few lines only, not while the command runs.
#     A lock left by a crash inside them makes every later mail wait 10 s
#     and run nothing (logged, exit 1) until it is removed.
#
# Replay and the Date only protect if the signature covers Date,
# Message-ID and Subject (h= of DKIM-Signature; Gmail and dkimpy's
# defaults sign all three; RFC 6376 section 5.4.1 does not list
# Message-ID): the script does not check h=.
# Whitespace in the Message-ID is dropped before comparing (relaxed
# canonicalization lets a replayer change it).
#
# It never replies (a reply would confirm the address to a forger), and it
# logs every decision (never the secret, never the subject).
#
# Settings (environment of tinymx, or edit the defaults):
allow="${GATEWAY_ALLOW:-/etc/tinymx/gateway.allow}"     # one address a line
commands="${GATEWAY_COMMANDS:-/etc/tinymx/gateway.d}"   # the fixed list
log="${GATEWAY_LOG:-/var/log/tinymx-gateway.log}"
seen="${GATEWAY_SEEN:-/var/lib/tinymx/gateway.seen}"   # Message-IDs acted on
seen_max="${GATEWAY_SEEN_MAX:-1000}"                    # lines kept
max_age="${GATEWAY_MAX_AGE:-86400}"                     # seconds: 1 day
skew="${GATEWAY_SKEW:-900}"                             # seconds a Date may be ahead
secret_file="${GATEWAY_SECRET:-}"                       # a file; empty: no secret

set -f  # the subject is split into words below: no file name globbing
log() {
	printf '%s %s %s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "${TINYMX_SESSION:-?}" "$*" >>"$log"
}
number() {
	case "$1" in '' | *[!0-9]*) return 1 ;; esac
}

if ! number "$max_age" || ! number "$skew" || ! number "$seen_max" || [ "$seen_max" -lt 1 ]; then
	log "error: GATEWAY_MAX_AGE, GATEWAY_SKEW and GATEWAY_SEEN_MAX must be whole numbers (GATEWAY_SEEN_MAX at least 1)"
	exit 1
fi

log "mail from=<$TINYMX_SENDER> header.from=<$TINYMX_FROM> dmarc=${TINYMX_DMARC:-unchecked} to=<$TINYMX_RECIPIENT> id=$TINYMX_MESSAGE_ID"
if [ "${TINYMX_DMARC:-}" != pass ]; then
	log "ignored: DMARC ${TINYMX_DMARC:-not checked}, not pass"
	exit 0
fi
nl='
'
case "${TINYMX_FROM:-}" in
'' | *"$nl"*)
	log "ignored: From not in the allow-list"
	exit 0
	;;
esac
if ! grep -Fxqi -- "$TINYMX_FROM" "$allow" 2>/dev/null; then
	log "ignored: From not in the allow-list"
	exit 0
fi

sent="${TINYMX_DATE:-}"
if ! number "${sent#-}"; then
	log "ignored: no Date, or one that cannot be read"
	exit 0
fi
age=$(($(date +%s) - sent))
if [ "$age" -gt "$max_age" ]; then
	log "ignored: Date more than $max_age s old"
	exit 0
fi
if [ "$age" -lt "-$skew" ]; then
	log "ignored: Date more than $skew s ahead of the clock"
	exit 0
fi

set -- $TINYMX_SUBJECT
if [ -n "$secret_file" ]; then
	secret=$(cat -- "$secret_file" 2>/dev/null)
	if [ -z "$secret" ]; then
		log "error: GATEWAY_SECRET is set but its file cannot be read or is empty"
		exit 1
	fi
	if [ "${1:-}" != "$secret" ]; then
		log "ignored: wrong or missing secret"  # the subject is not logged: it may hold a near-miss secret
		exit 0
	fi
	shift
fi
cmd="${1:-}"
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

id=$(printf '%s' "${TINYMX_MESSAGE_ID:-}" | tr -d ' \t')
if [ -z "$id" ]; then
	log "ignored: no Message-ID (a replay could not be told apart)"
	exit 0
fi
lock="$seen.lock"
dir=$(dirname -- "$seen")
if [ ! -d "$dir" ] || [ ! -w "$dir" ]; then
	log "error: cannot write in the directory of $seen; not run"
	exit 1
fi
tries=0
until mkdir "$lock" 2>/dev/null; do
	tries=$((tries + 1))
	if [ "$tries" -ge 200 ]; then  # 200 x 0.05 s
		log "error: $lock held for 10 s (left by a crash? remove it); not run"
		exit 1
	fi
	sleep 0.05 2>/dev/null || sleep 1  # a busybox without fractional sleep
done
# grep: 0 seen, 1 not seen, 2 cannot read (then nothing runs: a store
# that cannot be read must not be replaced by one holding only this ID).
status=1
[ -e "$seen" ] && { grep -Fxq -- "$id" "$seen" 2>/dev/null; status=$?; }
if [ "$status" -eq 0 ]; then
	rmdir "$lock"
	log "ignored: Message-ID already acted on (replay)"
	exit 0
fi
tmp="$seen.tmp.$$"
# The newest seen_max - 1 IDs and this one, on disk (sync: the file, then
# the directory after the rename) before the command runs.
if [ "$status" -ne 1 ] ||
	! (if [ -e "$seen" ]; then tail -n "$((seen_max - 1))" "$seen" || exit 1; fi
		printf '%s\n' "$id") >"$tmp" 2>/dev/null ||
	! { sync -- "$tmp" 2>/dev/null || sync; } ||
	! mv -f "$tmp" "$seen" ||
	! { sync -- "$dir" 2>/dev/null || sync; }; then
	rm -f "$tmp"
	rmdir "$lock"
	log "error: cannot read or record the Message-IDs in $seen; not run"
	exit 1
fi
rmdir "$lock"

log "running $cmd"
"$commands/$cmd" </dev/null >>"$log" 2>&1
log "$cmd exited with status $?"
exit 0
