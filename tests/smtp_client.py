#!/usr/bin/env python3
"""Real-client checks for tinymx, driven by tests/clients.rs.

Modes (each prints "ok" on success, raises on failure):
  attachment PORT NEWDIR EXPECTED   smtplib: UTF-8 subject, text body and a
                                    3 MiB base64 attachment; parses the stored
                                    file back with the email package
  smtputf8 PORT NEWDIR EXPECTED     smtplib: SMTPUTF8 sender and recipient
  check-attachment FILE PATH        the stored FILE carries PATH's bytes as
                                    an attachment named like PATH
EXPECTED receives the message bytes as sent, for the exact-bytes check.
"""

import email
import email.policy
import os
import random
import smtplib
import sys
from email.message import EmailMessage


def stored_message(newdir):
    names = sorted(os.listdir(newdir))
    assert len(names) == 1, names
    with open(os.path.join(newdir, names[0]), "rb") as f:
        return f.read()


def send(port, sender, rcpts, data, **kw):
    # local_hostname: without it smtplib looks up this host's own name
    # (socket.getfqdn(), which can wait for DNS) even though EHLO names one.
    with smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.example", timeout=30) as s:
        s.ehlo("client.example")
        assert s.has_extn("pipelining") and s.has_extn("8bitmime") and s.has_extn("smtputf8")
        refused = s.sendmail(sender, rcpts, data, **kw)
        assert refused == {}, refused


def attachment(port, newdir, expected):
    rng = random.Random(2525)
    blob = bytes(rng.getrandbits(8) for _ in range(3 * 1024 * 1024))
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.com>"
    msg["To"] = "bob@example.org"
    msg["Subject"] = "Grüße: the photos you asked for ✓"
    msg.set_content("Hi Bob,\n.leading dot line\n..two dots\nSee attached.\n", charset="utf-8")
    msg.add_attachment(blob, maintype="application", subtype="octet-stream", filename="photos.tar")
    data = msg.as_bytes(policy=email.policy.SMTP)
    with open(expected, "wb") as f:
        f.write(data)
    send(port, "alice@example.com", ["bob@example.org"], data)

    parsed = email.message_from_bytes(stored_message(newdir), policy=email.policy.default)
    assert parsed["Subject"] == "Grüße: the photos you asked for ✓", parsed["Subject"]
    assert parsed["Return-Path"] == "<alice@example.com>"
    assert parsed["Delivered-To"] == "bob@example.org"
    body = parsed.get_body(("plain",)).get_content()
    assert body == "Hi Bob,\n.leading dot line\n..two dots\nSee attached.\n", repr(body)
    atts = list(parsed.iter_attachments())
    assert len(atts) == 1 and atts[0].get_filename() == "photos.tar"
    assert atts[0].get_content() == blob, "attachment bytes differ"


def smtputf8(port, newdir, expected):
    msg = EmailMessage()
    msg["From"] = "Jörg <jörg@exämple.org>"
    msg["To"] = "bob@exämple.org"
    msg["Subject"] = "Ünïcödé 主题"
    msg.set_content("UTF-8 body: ñ ü 中文\n", charset="utf-8", cte="8bit")
    data = msg.as_bytes(policy=email.policy.SMTPUTF8)
    with open(expected, "wb") as f:
        f.write(data)
    send(port, "jörg@exämple.org", ["bob@exämple.org"], data, mail_options=["SMTPUTF8", "BODY=8BITMIME"])

    raw = stored_message(newdir)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Ünïcödé 主题", parsed["Subject"]
    assert parsed["Return-Path"] == "<jörg@exämple.org>", parsed["Return-Path"]
    assert "with UTF8SMTP id" in parsed["Received"], parsed["Received"]


def check_attachment(stored, path):
    with open(stored, "rb") as f:
        parsed = email.message_from_bytes(f.read(), policy=email.policy.default)
    with open(path, "rb") as f:
        want = f.read()
    atts = [a for a in parsed.iter_attachments() if a.get_filename() == os.path.basename(path)]
    assert len(atts) == 1, [a.get_filename() for a in parsed.iter_attachments()]
    assert atts[0].get_content() == want, "attachment bytes differ"


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    {"attachment": attachment, "smtputf8": smtputf8, "check-attachment": check_attachment}[mode](*args)
    print("ok")


if __name__ == "__main__":
    main()
