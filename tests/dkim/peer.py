"""dkimpy as tinymx's DKIM peer (tests/dkim.rs runs it).

    peer.py make DIR   keys, their DNS records and signed messages in DIR
    peer.py key DIR    a fresh Ed25519 key in DIR; prints its DNS record
    peer.py sign DIR FROM DATE MSGID SUBJECT BODY
                       prints a message signed with DIR's key

Writes DIR/zone.txt (one "NAME<TAB>TXT value" per key), DIR/NNN.eml (each
message, CRLF line ends) and DIR/cases.txt ("NNN<TAB>VERDICT<TAB>WHAT" per
message), where VERDICT is dkimpy's own verification of that message
against the same keys: pass or fail.

`key` writes DIR/ed.key and prints "ed._domainkey.example.com<TAB>TXT
value". `sign` prints (CRLF line ends, not dot-stuffed) a message From:
FROM (an address) to bob@example.org, Date: DATE (seconds since 1970,
written by email.utils.formatdate), Message-ID: MSGID (none if empty),
Subject: SUBJECT, body BODY, with an ed25519-sha256 relaxed/relaxed
signature of d=example.com, s=ed over From, To, Subject, Date and
Message-ID (tests/examples.rs, the gateway, signs at test time).

The keys are made fresh on each run
(RSA with openssl, Ed25519 with PyNaCl); nothing is sent anywhere: the
records are served by the test's DNS server on 127.0.0.1.
"""

import base64
import email.utils
import os
import subprocess
import sys

import dkim
import nacl.signing

DOMAIN = b"example.com"

BASE = (
    b"From: Alice Example <alice@example.com>\r\n"
    b"To: bob@example.org,\r\n"
    b"  carol@example.org\r\n"
    b"Subject: a folded\r\n"
    b"\tsubject line\r\n"
    b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
    b"Message-ID: <dkim-test@example.com>\r\n"
    b"\r\n"
    b"Hello Bob,  \r\n"
    b"\r\n"
    b"two  spaces\tand a tab.\r\n"
    b".a line that starts with a dot\r\n"
    b"\r\n"
    b"\r\n"
)


def rsa_key(dirname, bits, name):
    pem = os.path.join(dirname, name + ".pem")
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", pem, str(bits)],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    spki = subprocess.run(
        ["openssl", "rsa", "-in", pem, "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    pkcs1 = subprocess.run(
        ["openssl", "rsa", "-in", pem, "-RSAPublicKey_out", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    with open(pem, "rb") as f:
        return f.read(), spki, pkcs1


def make(out):
    os.makedirs(out, exist_ok=True)
    zone = {}
    keys = []
    for bits in (1024, 2048, 4096):
        sel = b"rsa%d" % bits
        priv, spki, pkcs1 = rsa_key(out, bits, sel.decode())
        zone[sel] = b"v=DKIM1; k=rsa; p=" + base64.b64encode(spki)
        keys.append((sel, priv, b"rsa-sha256"))
        if bits == 2048:
            # The same key published as a bare PKCS#1 RSAPublicKey.
            zone[b"pkcs1"] = b"v=DKIM1; p=" + base64.b64encode(pkcs1)
            keys.append((b"pkcs1", priv, b"rsa-sha256"))
    seed = nacl.signing.SigningKey.generate()
    zone[b"ed"] = b"v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(seed.verify_key))
    keys.append((b"ed", base64.b64encode(bytes(seed)), b"ed25519-sha256"))

    def dns(name, timeout=5):
        sel = name.split(b".")[0]
        return zone.get(sel) if name.endswith(b"._domainkey." + DOMAIN + b".") else None

    cases = []

    def add(msg, what):
        verdict = "pass" if dkim.verify(msg, dnsfunc=dns) else "fail"
        n = "%03d" % len(cases)
        with open(os.path.join(out, n + ".eml"), "wb") as f:
            f.write(msg)
        cases.append((n, verdict, what))

    def sign(msg, key, canon, length=False, include=None):
        sel, priv, alg = key
        return dkim.sign(
            msg, sel, DOMAIN, priv,
            canonicalize=canon, signature_algorithm=alg,
            length=length, include_headers=include,
        ) + msg

    canons = [(h, b) for h in (b"simple", b"relaxed") for b in (b"simple", b"relaxed")]
    for key in keys:
        for canon in canons:
            for length in (False, True):
                what = "%s %s/%s%s" % (
                    key[0].decode(), canon[0].decode(), canon[1].decode(),
                    " l=" if length else "")
                add(sign(BASE, key, canon, length), what)

    # Tamperings: each must fail for both.
    for key in (keys[1], keys[-1]):
        sel = key[0].decode()
        for canon in canons:
            c = "%s/%s" % (canon[0].decode(), canon[1].decode())
            signed = sign(BASE, key, canon)
            add(signed.replace(b"Hello Bob", b"Hello Rob"), "%s %s body byte changed" % (sel, c))
            add(signed.replace(b"From: Alice", b"From: Mallory <m@evil.example>\r\nFrom: Alice"),
                "%s %s From prepended" % (sel, c))
            head, _, body = signed.partition(b"\r\n\r\n")
            first = head.split(b"\r\n")[0]
            add(first[:60] + b"\r\n" + b"\r\n".join(head.split(b"\r\n")[1:]) + b"\r\n\r\n" + body
                if not first.startswith(b" ") else signed,
                "%s %s signature field truncated" % (sel, c))
            # Refolded: passes under relaxed, fails under simple.
            add(signed.replace(b"a folded\r\n\tsubject line", b"a folded subject\r\n line"),
                "%s %s Subject re-folded" % (sel, c))
            # Oversigned Subject: a Subject added above fails for both.
            over = sign(BASE, key, canon,
                        include=[b"from", b"to", b"subject", b"subject", b"date", b"from"])
            add(b"Subject: injected\r\n" + over, "%s %s oversigned Subject, one added" % (sel, c))
            # l= with appended content: dkimpy passes; tinymx says policy
            # (tests/dkim.rs expects exactly that divergence).
            add(sign(BASE, key, canon, length=True) + b"appended after signing\r\n",
                "%s %s l= and content appended" % (sel, c))
            # An unsigned second Subject above a signed one: dkimpy passes
            # (the bottom one is signed); tinymx says policy.
            add(b"Subject: injected\r\n" + signed, "%s %s unsigned Subject added" % (sel, c))

    with open(os.path.join(out, "zone.txt"), "wb") as f:
        for sel, rec in zone.items():
            f.write(sel + b"._domainkey." + DOMAIN + b"\t" + rec + b"\n")
    with open(os.path.join(out, "cases.txt"), "w") as f:
        for n, v, what in cases:
            f.write("%s\t%s\t%s\n" % (n, v, what))


def key(out):
    os.makedirs(out, exist_ok=True)
    seed = nacl.signing.SigningKey.generate()
    with open(os.path.join(out, "ed.key"), "wb") as f:
        f.write(base64.b64encode(bytes(seed)))
    sys.stdout.write("ed._domainkey.%s\tv=DKIM1; k=ed25519; p=%s\n" % (
        DOMAIN.decode(), base64.b64encode(bytes(seed.verify_key)).decode()))


def sign_one(keydir, sender, date, msgid, subject, body):
    with open(os.path.join(keydir, "ed.key"), "rb") as f:
        priv = f.read()
    head = [
        "From: " + sender,
        "To: bob@example.org",
        "Subject: " + subject,
        "Date: " + email.utils.formatdate(int(date)),
    ]
    if msgid:
        head.append("Message-ID: " + msgid)
    msg = ("\r\n".join(head) + "\r\n\r\n" + body + "\r\n").encode()
    include = [b"from", b"to", b"subject", b"date"] + ([b"message-id"] if msgid else [])
    sig = dkim.sign(
        msg, b"ed", DOMAIN, priv,
        canonicalize=(b"relaxed", b"relaxed"), signature_algorithm=b"ed25519-sha256",
        include_headers=include,
    )
    sys.stdout.buffer.write(sig + msg)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "key":
        key(sys.argv[2])
    elif len(sys.argv) == 8 and sys.argv[1] == "sign":
        sign_one(*sys.argv[2:])
    else:
        sys.exit(__doc__)
