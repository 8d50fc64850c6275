"""The DKIM bench's material, made fresh by each run (run.py runs this with
dkimpy's Python, tests/.venv, from `make test-deps`):

    dkim_sign.py DIR DOMAIN [SIZE]

writes into DIR (a temporary directory of the run, removed after it):

  zone.txt       "NAME<TAB>TXT value" per key: rsa2048._domainkey.DOMAIN
                 (k=rsa, a fresh 2048-bit key) and ed25519._domainkey.DOMAIN
                 (k=ed25519, a fresh key)
  rsa.eml        a message of SIZE bytes (default 4096) in all, signed with
  ed.eml         the one key or the other by dkimpy (relaxed/relaxed, dkimpy's
                 default h=), From: alice@DOMAIN; LF line ends, as tinymx's
                 DATA decoder hands a message to the verifier (and as
                 smtp-source -F wants its file: it sends each line + CRLF)
  rsa.der, rsa.sig   the RSA public key (SubjectPublicKeyInfo, DER) and a
  ed.pub, ed.sig     PKCS#1 v1.5 SHA-256 signature of raw.msg; the Ed25519
  raw.msg            public key (32 bytes) and a signature of raw.msg: the
                 public-key operation alone, without DKIM around it

Each signed message is verified by dkimpy against the same records before
it is written; nothing leaves the machine. The private keys exist only in
DIR while the run lasts.
"""

import base64
import os
import subprocess
import sys

import dkim
import nacl.signing


def body_lines(n):
    """Plain text lines of 72 characters, each different (a counter)."""
    words = "the quick brown fox jumps over a lazy dog while tinymx checks it".split()
    out = []
    i = 0
    while sum(len(line) + 2 for line in out) < n:
        line = f"{i:05d} " + " ".join(words[(i + k) % len(words)] for k in range(12))
        out.append(line[:72])
        i += 1
    return out


def main(out, domain, size):
    os.makedirs(out, exist_ok=True)
    d = domain.encode()
    pem = os.path.join(out, "rsa.pem")
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", pem, "2048"],
                   check=True, stderr=subprocess.DEVNULL)
    spki = subprocess.run(["openssl", "rsa", "-in", pem, "-pubout", "-outform", "DER"],
                          check=True, capture_output=True).stdout
    with open(pem, "rb") as f:
        rsa_priv = f.read()
    seed = nacl.signing.SigningKey.generate()
    zone = {
        b"rsa2048": b"v=DKIM1; k=rsa; p=" + base64.b64encode(spki),
        b"ed25519": b"v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(seed.verify_key)),
    }

    def dns(name, timeout=5):
        sel = name.split(b".")[0]
        return zone.get(sel) if name == sel + b"._domainkey." + d + b"." else None

    keys = {"rsa": (b"rsa2048", rsa_priv, b"rsa-sha256"),
            "ed": (b"ed25519", base64.b64encode(bytes(seed)), b"ed25519-sha256")}
    head = (f"From: Alice <alice@{domain}>\r\n"
            f"To: bob@bench.test\r\n"
            f"Subject: DKIM bench\r\n"
            f"Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
            f"Message-ID: <dkim-bench@{domain}>\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n").encode()
    for name, (sel, priv, alg) in keys.items():
        # The signature's length depends on the algorithm: size the body
        # so that the signed message is SIZE bytes with LF line ends.
        def signed(lines):
            msg = head + b"\r\n" + "".join(line + "\r\n" for line in lines).encode()
            sig = dkim.sign(msg, sel, d, priv, canonicalize=(b"relaxed", b"relaxed"),
                            signature_algorithm=alg)
            return sig + msg

        lines = body_lines(size)
        while len(signed(lines).replace(b"\r\n", b"\n")) > size:
            lines.pop()
        pad = size - len(signed(lines).replace(b"\r\n", b"\n")) - 1
        if pad > 0:
            lines.append("x" * pad)
        msg = signed(lines)
        if not dkim.verify(msg, dnsfunc=dns):
            sys.exit(f"dkim_sign: dkimpy does not verify its own {name} signature")
        with open(os.path.join(out, name + ".eml"), "wb") as f:
            f.write(msg.replace(b"\r\n", b"\n"))
    raw = b"the public-key operation alone\n"
    with open(os.path.join(out, "raw.msg"), "wb") as f:
        f.write(raw)
    with open(os.path.join(out, "rsa.der"), "wb") as f:
        f.write(spki)
    rsa_sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", pem],
                             input=raw, check=True, capture_output=True).stdout
    with open(os.path.join(out, "rsa.sig"), "wb") as f:
        f.write(rsa_sig)
    with open(os.path.join(out, "ed.pub"), "wb") as f:
        f.write(bytes(seed.verify_key))
    with open(os.path.join(out, "ed.sig"), "wb") as f:
        f.write(seed.sign(raw).signature)
    with open(os.path.join(out, "zone.txt"), "wb") as f:
        for sel, rec in zone.items():
            f.write(sel + b"._domainkey." + d + b"\t" + rec + b"\n")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 4096)
