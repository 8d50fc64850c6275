#!/usr/bin/env python3
"""Sends the Done-when message of issue 5 with Python's email package:
UTF-8 subject, quoted-printable body, base64 attachment.

  hook_mail.py PORT ATTACHMENT_OUT   writes the attachment's bytes to
                                     ATTACHMENT_OUT, prints "ok"
"""

import random
import smtplib
import sys
from email.message import EmailMessage

SUBJECT = "Licht an: Küche 💡 – bitte"
BODY = "Hallo Haus,\nbitte das Licht in der Küche einschalten.\nDanke — Jürgen\n"


def main(port, out):
    rng = random.Random(5)
    blob = bytes(rng.getrandbits(8) for _ in range(20000))
    msg = EmailMessage()
    msg["From"] = "Jürgen <juergen@example.com>"
    msg["To"] = "house@example.org"
    msg["Subject"] = SUBJECT
    msg["Message-ID"] = "<done-when@example.com>"
    msg.set_content(BODY, charset="utf-8", cte="quoted-printable")
    msg.add_attachment(blob, maintype="application", subtype="octet-stream", filename="plan ü.bin")
    with open(out, "wb") as f:
        f.write(blob)
    # local_hostname: without it smtplib looks up this host's own name
    # (socket.getfqdn(), which can wait for DNS) even though EHLO names one.
    with smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.example", timeout=30) as s:
        s.ehlo("client.example")
        refused = s.send_message(msg, "juergen@example.com", ["house@example.org"])
        assert refused == {}, refused
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
