#!/bin/busybox sh
# Post "new mail" notices to a local program for `tinymx --exec`: one line
# with the mailbox, the sender and the decoded subject, on the program's
# standard input (never on its command line).
#
# Settings: NOTIFY_PROGRAM (default /usr/local/bin/notify), e.g. a script
# that forwards the line to a desktop, a chat bot or a pager.
program="${NOTIFY_PROGRAM:-/usr/local/bin/notify}"

printf 'New mail for %s from <%s>: %s\n' \
	"$TINYMX_MAILBOX" "$TINYMX_SENDER" "$TINYMX_SUBJECT" | "$program"
