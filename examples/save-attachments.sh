#!/bin/busybox sh
# Save every attachment to a share, one directory per mailbox, for
# `tinymx --exec`. File names are decoded and made safe by tinymx
# extract, which never replaces an existing file (it adds -1, -2, …).
#
# Settings: SAVE_TO (default /srv/share/mail), TINYMX (the binary, if it
# is not on PATH).
share="${SAVE_TO:-/srv/share/mail}"
tinymx="${TINYMX:-tinymx}"

dir="$share/$TINYMX_MAILBOX"
mkdir -p "$dir" || exit 1
# One saved path per line; stderr ends up in tinymx's log.
"$tinymx" extract "$TINYMX_FILE" "$dir" | while IFS= read -r path; do
	echo "saved $path" >&2
done
