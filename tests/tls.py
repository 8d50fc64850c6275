#!/usr/bin/env python3
"""STARTTLS (RFC 3207) against the `tls` build of tinymx (`make test-tls`).

Every case starts its own server on 127.0.0.1 with a certificate signed by
a test CA that this script makes with openssl in a temporary directory;
clients verify against that CA. Peers: Python's ssl/smtplib and
`openssl s_client -starttls smtp` (Postfix, swaks and curl are in
tests/interop/run.py). What is checked:

- a message over TLS 1.3 and over TLS 1.2 is stored byte-exact, with
  `with ESMTPS (TLS1.3 <cipher>)` in Received, `TINYMX_TLS` for the hook
  and `tls=… cipher=…` in the accepted log line; EHLO offers STARTTLS only
  before the handshake, and the session starts over after it;
- the injection class (CVE-2011-0411): `STARTTLS\\r\\nRSET\\r\\n` in one
  packet, RSET never answered; a second STARTTLS gets 503;
- after the client's close_notify nothing is read in plain text;
- a client that never finishes the handshake is timed out (`--timeout`)
  and its `--max-conn` slot is free again; random bytes or a truncated
  ClientHello end that session only; 8 TLS sessions streaming 4 MiB each
  stay within a memory bound;
- SIGHUP with a renewed certificate: new sessions get it, a session that
  connected before keeps the old one; a bad pair on reload is logged and
  the loaded one stays; --require-tls; start-up errors name the file; the
  build without TLS refuses the options.

Environment: TINYMX_BIN (the tls build), PLAIN_BIN (the default build, for
its refusal), TINYMX_RUNNER (e.g. qemu-aarch64-static, for the cross builds). Standard
library only; waits on conditions (a log line, a file), never on sleeps.
"""

import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rfc5322  # noqa: E402

BIN = os.environ.get("TINYMX_BIN", "")
PLAIN_BIN = os.environ.get("PLAIN_BIN", "")
RUNNER = os.environ.get("TINYMX_RUNNER", "").split()
# Emulated binaries are slower; every wait is a bound, not a delay.
WAIT = 60 if RUNNER else 20
HOST = "mx.test"

EHLO_PLAIN = [
    "250-mx.test",
    "250-PIPELINING",
    "250-SIZE 10485760",
    "250-8BITMIME",
    "250-CHUNKING",
    "250-STARTTLS",
    "250-SMTPUTF8",
    "250 ENHANCEDSTATUSCODES",
]
EHLO_TLS = [line for line in EHLO_PLAIN if "STARTTLS" not in line]

MESSAGE = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: bob@mx.test\r\n"
    b"Subject: lights on\r\n"
    b"Message-ID: <tls-1@example.org>\r\n"
    b"\r\n"
    b"over TLS\r\n"
    b"..a dot-stuffed line\r\n"
)


def wait_until(pred, what, timeout=WAIT):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Pki:
    """A test CA and server pairs signed by it (RSA 2048 and ECDSA P-256)."""

    def __init__(self, d):
        self.dir = d
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-days", "30", "-subj", "/CN=tinymx test CA", cwd=d)
        self.ca = os.path.join(d, "ca.pem")

    def pair(self, name, ec=False):
        """name.pem (the server's certificate, then the CA's: a chain) and name.key."""
        d = self.dir
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if ec else ["-newkey", "rsa:2048"]
        openssl("req", "-new", *newkey, "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={HOST}", cwd=d)
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName=DNS:{HOST},IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "30", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
                cwd=d)
        with open(os.path.join(d, f"{name}.pem"), "wb") as out:
            for part in (f"{name}.crt", "ca.pem"):
                with open(os.path.join(d, part), "rb") as f:
                    out.write(f.read())
        return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")

    def der(self, name):
        with open(os.path.join(self.dir, f"{name}.crt")) as f:
            return ssl.PEM_cert_to_DER_cert(f.read())


class Server:
    def __init__(self, workdir, args, binary=None):
        self.spool = os.path.join(workdir, "spool")
        self.lines = []
        argv = RUNNER + [binary or BIN, "-l", "127.0.0.1:0", "-d", self.spool, "-n", HOST, "-v", *args]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        line = self.wait_log(lambda l: "listening on " in l, "the listening line")
        self.port = int(line.rsplit(":", 1)[1])

    def _read(self):
        for raw in self.proc.stderr:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def wait_log(self, pred, what, since=0, timeout=WAIT):
        def found():
            for line in self.lines[since:]:
                if pred(line):
                    return line
            if self.proc.poll() is not None:
                raise AssertionError(f"tinymx exited {self.proc.returncode}:\n" + "\n".join(self.lines))
            return None
        return wait_until(found, what, timeout)

    def mark(self):
        return len(self.lines)

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def new(self, mailbox):
        d = os.path.join(self.spool, mailbox, "new")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def stored(self, mailbox):
        name = wait_until(lambda: self.new(mailbox), f"a message in {mailbox}/new")[0]
        with open(os.path.join(self.spool, mailbox, "new", name), "rb") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)


class Client:
    """A line-at-a-time SMTP client over a socket that STARTTLS may wrap."""

    def __init__(self, port):
        self.raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.raw
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def reply(self):
        """One reply, all its lines, as a list of str."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise AssertionError(f"connection closed; lines so far {lines}, buffer {self.buf!r}")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode())
            if len(line) < 4 or line[3:4] != b"-":
                return lines

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def starttls(self, ctx):
        assert self.cmd("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
        assert self.buf == b"", f"bytes after the 220: {self.buf!r}"
        self.sock = ctx.wrap_socket(self.raw, server_hostname=HOST)

    def close(self):
        self.sock.close()


def context(pki, maximum=None):
    ctx = ssl.create_default_context(cafile=pki.ca)
    if maximum:
        ctx.maximum_version = maximum
    return ctx


def greeted(port, ehlo=True):
    c = Client(port)
    assert c.reply() == [f"220 {HOST} ESMTP tinymx"]
    if ehlo:
        assert c.cmd("EHLO client.example") == EHLO_PLAIN
    return c


def send_message(c, sender="alice@example.org", rcpt="bob@mx.test", body=MESSAGE):
    assert c.cmd(f"MAIL FROM:<{sender}>") == ["250 2.1.0 Sender ok"]
    assert c.cmd(f"RCPT TO:<{rcpt}>") == ["250 2.1.5 Recipient ok"]
    assert c.cmd("DATA") == ["354 End data with <CR><LF>.<CR><LF>"]
    r = c.cmd(body.decode() + ".")
    assert len(r) == 1 and r[0].startswith("250 2.0.0 Ok: queued as "), r
    return r[0].rsplit(" ", 1)[1]


def drain(sock):
    """Reads until the server closes; what came. A reset counts as the close
    (the server closed with unread bytes of ours)."""
    got = b""
    try:
        while chunk := sock.recv(4096):
            got += chunk
    except ConnectionResetError:
        pass
    return got


def lf(data):
    return data.replace(b"\r\n", b"\n")


def check_stored(stored, protocol, session_id, cipher_re=r"TLS_[A-Z0-9_]+"):
    """Trace fields (RFC 5321 §4.4), then the message with LF line ends and
    the dot-stuffing undone; the Received date by RFC 5322's grammar."""
    m = re.fullmatch(
        rb"Return-Path: <alice@example.org>\nDelivered-To: bob@mx.test\n"
        rb"Received: from client\.example \(\[127\.0\.0\.1\]\) by mx\.test \(tinymx\) with "
        + re.escape(protocol.encode())
        + rb" id " + re.escape(session_id.encode()) + rb" for <bob@mx\.test>; ([^\n]+)\n",
        stored[: stored.index(b"From: Alice")],
    )
    assert m, f"trace fields: {stored[:400]!r}"
    rfc5322.check(m.group(1).decode(), "the Received date")
    body = stored[stored.index(b"From: Alice"):]
    assert body == lf(MESSAGE).replace(b"\n..a", b"\n.a"), body


# ------------------------------------------------------------------ cases

CASES = []


def case(f):
    CASES.append(f)
    return f


@case
def message_over_tls13_stored_byte_exact(w, pki):
    cert, key = pki.pair("rsa")
    hook = os.path.join(w, "hook.sh")
    with open(hook, "w") as f:
        f.write('#!/bin/sh\nprintf "%s=%s\\n" "$TINYMX_SESSION" "$TINYMX_TLS" >> "$0.out"\n')
    os.chmod(hook, 0o755)
    s = Server(w, ["--tls-cert", cert, "--tls-key", key, "--exec", hook])
    try:
        c = greeted(s.port)
        c.starttls(context(pki))
        version, cipher = c.sock.version(), c.sock.cipher()[0]
        assert version == "TLSv1.3", version
        assert c.sock.getpeercert(binary_form=True) == pki.der("rsa")
        # The session starts over: no HELO name, and no STARTTLS offered.
        assert c.cmd("MAIL FROM:<alice@example.org>") == ["503 5.5.1 Send HELO or EHLO first"]
        assert c.cmd("EHLO client.example") == EHLO_TLS
        assert c.cmd("STARTTLS") == ["503 5.5.1 TLS already active"]
        qid = send_message(c)
        assert c.cmd("QUIT") == ["221 2.0.0 Bye"]
        c.close()
        sid = qid.rsplit(".", 1)[0]
        check_stored(s.stored("bob"), f"ESMTPS (TLS1.3 {cipher})", sid)
        s.wait_log(lambda l: l == f"tinymx: {sid} STARTTLS: TLSv1.3 {cipher}", "the STARTTLS line")
        line = s.wait_log(lambda l: f"{sid} accepted id={qid} " in l, "the accepted line")
        assert f" size={len(MESSAGE) - 1} tls=TLSv1.3 cipher={cipher} files=bob/new/" in line, line
        # The hook: TINYMX_TLS as the log says it; then a plain message, empty.
        # (The hooks run in a pool: in either order.)
        c = greeted(s.port)
        plain_sid = send_message(c).rsplit(".", 1)[0]
        c.cmd("QUIT")
        out = hook + ".out"
        wait_until(lambda: os.path.exists(out) and open(out).read().count("\n") == 2, "two hook runs")
        got = sorted(open(out).read().splitlines())
        assert got == sorted([f"{sid}=TLSv1.3 {cipher}", f"{plain_sid}="]), got
        assert len(s.new("bob")) == 2
    finally:
        s.stop()


@case
def message_over_tls12_with_an_ecdsa_certificate(w, pki):
    cert, key = pki.pair("ec", ec=True)
    s = Server(w, ["--tls-cert", cert, "--tls-key", key])
    try:
        c = greeted(s.port)
        c.starttls(context(pki, ssl.TLSVersion.TLSv1_2))
        assert c.sock.version() == "TLSv1.2", c.sock.version()
        cipher = c.sock.cipher()[0]
        assert c.sock.getpeercert(binary_form=True) == pki.der("ec")
        assert c.cmd("EHLO client.example") == EHLO_TLS
        qid = send_message(c)
        c.cmd("QUIT")
        # OpenSSL names the TLS 1.2 suites its own way (ECDHE-ECDSA-AES256-GCM-SHA384);
        # the Received field has the IANA name.
        names = {
            "ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        }
        check_stored(s.stored("bob"), f"ESMTPS (TLS1.2 {names[cipher]})", qid.rsplit(".", 1)[0])
    finally:
        s.stop()


@case
def pipelined_after_starttls_is_dropped(w, pki):
    """CVE-2011-0411: a man in the middle appends RSET (or worse) to the
    client's STARTTLS in one packet; tinymx must not answer it over TLS."""
    cert, key = pki.pair("rsa")
    s = Server(w, ["--tls-cert", cert, "--tls-key", key])
    try:
        c = greeted(s.port, ehlo=False)
        c.send(b"EHLO client.example\r\nSTARTTLS\r\nRSET\r\nMAIL FROM:<evil@example.org>\r\n")
        assert c.reply() == EHLO_PLAIN
        assert c.reply() == ["220 2.0.0 Ready to start TLS"]
        assert c.buf == b""
        c.sock = context(pki).wrap_socket(c.raw, server_hostname=HOST)
        # The first reply over TLS is the EHLO's: nothing answered RSET or MAIL.
        assert c.cmd("EHLO client.example") == EHLO_TLS
        assert c.cmd("RCPT TO:<bob@mx.test>") == ["503 5.5.1 Need MAIL command"]
        c.cmd("QUIT")
        sid = s.wait_log(lambda l: "STARTTLS: TLSv1.3" in l, "the STARTTLS line").split()[1]
        # The log is read by a thread: the session's lines are all in once
        # its disconnect line is.
        s.wait_log(lambda l: f"{sid} disconnect from " in l, "the disconnect line")
        commands = [l.split(">>> ", 1)[1] for l in s.lines if f"{sid} >>> " in l]
        assert commands == ["EHLO client.example", "STARTTLS", "EHLO client.example",
                            "RCPT TO:<bob@mx.test>", "QUIT"], commands
    finally:
        s.stop()


@case
def after_close_notify_nothing_is_read_in_plain_text(w, pki):
    cert, key = pki.pair("rsa")
    s = Server(w, ["--tls-cert", cert, "--tls-key", key])
    try:
        c = greeted(s.port)
        c.starttls(context(pki))
        assert c.cmd("EHLO client.example") == EHLO_TLS
        mark = s.mark()
        raw = c.sock.unwrap()  # sends close_notify, waits for the server's
        raw.sendall(b"QUIT\r\n")
        rest = drain(raw)
        assert b"221" not in rest, rest
        line = s.wait_log(lambda l: " disconnect from " in l, "the disconnect line", since=mark)
        assert line.endswith(" end=peer closed"), line
        assert not any(">>> QUIT" in l for l in s.lines[mark:])
        raw.close()
    finally:
        s.stop()


@case
def a_handshake_never_finished_times_out_and_frees_the_slot(w, pki):
    cert, key = pki.pair("rsa")
    s = Server(w, ["--tls-cert", cert, "--tls-key", key, "--timeout", "2", "--max-conn", "1"])
    try:
        c = greeted(s.port)
        assert c.cmd("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
        start = time.monotonic()
        # The one slot is taken: another client is turned away.
        other = Client(s.port)
        assert other.reply()[0].startswith("421 4.7.0 "), "a second session while the slot is taken"
        other.close()
        # Nothing sent: after --timeout the session ends (no plain-text 421
        # where TLS records belong), and the slot is free.
        rest = drain(c.raw)
        assert b"421" not in rest, rest
        waited = time.monotonic() - start
        assert waited >= 1.9, waited
        s.wait_log(lambda l: " disconnect from " in l and " end=timeout" in l, "end=timeout")
        c.close()

        # The slot is given back just after the disconnect line: a client
        # may still meet the 421 for a moment, then gets its greeting.
        def greeting():
            c = Client(s.port)
            first = c.reply()
            c.close()
            assert first[0].startswith(("220 ", "421 4.7.0 Too many connections")), first
            return first[0].startswith("220 ")
        wait_until(greeting, "a greeting once the slot is free")
    finally:
        s.stop()


@case
def garbage_or_a_truncated_handshake_ends_that_session_only(w, pki):
    cert, key = pki.pair("rsa")
    s = Server(w, ["--tls-cert", cert, "--tls-key", key])
    try:
        bystander = greeted(s.port)
        rng = random.Random(20261203)
        for n in (1, 5, 300, 20000):
            c = greeted(s.port)
            assert c.cmd("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
            mark = s.mark()
            c.send(bytes(rng.randrange(256) for _ in range(n)))
            if n < 5:
                c.raw.shutdown(socket.SHUT_WR)
            # The server ends the session (an alert, then EOF).
            drain(c.raw)
            line = s.wait_log(lambda l: " disconnect from " in l, "the disconnect line", since=mark)
            assert " end=error (TLS: " in line or " end=peer closed" in line, line
            c.close()
        # A ClientHello cut in half, then the client leaves.
        c = greeted(s.port)
        assert c.cmd("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = context(pki).wrap_bio(incoming, outgoing, server_hostname=HOST)
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = outgoing.read()
        mark = s.mark()
        c.send(hello[: len(hello) // 2])
        c.raw.shutdown(socket.SHUT_WR)
        drain(c.raw)
        line = s.wait_log(lambda l: " disconnect from " in l, "the disconnect line", since=mark)
        assert line.endswith(" end=peer closed"), line
        c.close()
        # The session that was open all along still works, and so does TLS.
        assert bystander.cmd("NOOP") == ["250 2.0.0 Ok"]
        bystander.starttls(context(pki))
        assert bystander.cmd("EHLO client.example") == EHLO_TLS
        bystander.cmd("QUIT")
    finally:
        s.stop()


@case
def sighup_reads_a_renewed_certificate_and_keeps_it_on_a_bad_one(w, pki):
    first_cert, first_key = pki.pair("first")
    second_cert, second_key = pki.pair("second")
    cert, key = os.path.join(w, "live.pem"), os.path.join(w, "live.key")
    shutil.copy(first_cert, cert)
    shutil.copy(first_key, key)
    s = Server(w, ["--tls-cert", cert, "--tls-key", key])
    try:
        before = greeted(s.port)  # connected before the renewal, still plain
        in_tls = greeted(s.port)
        in_tls.starttls(context(pki))
        assert in_tls.cmd("EHLO client.example") == EHLO_TLS
        # Renewed the way acme.sh and certbot do: new files in place, then a reload.
        for src, dst in ((second_cert, cert), (second_key, key)):
            shutil.copy(src, dst + ".new")
            os.rename(dst + ".new", dst)
        mark = s.mark()
        s.hup()
        s.wait_log(lambda l: l == f"tinymx: SIGHUP: TLS certificate read from {cert}", "the reload", since=mark)
        c = greeted(s.port)
        c.starttls(context(pki))
        assert c.sock.getpeercert(binary_form=True) == pki.der("second"), "a new session gets the new one"
        c.cmd("QUIT")
        before.starttls(context(pki))
        assert before.sock.getpeercert(binary_form=True) == pki.der("first"), "the older session keeps its own"
        assert before.cmd("EHLO client.example") == EHLO_TLS
        before.cmd("QUIT")
        send_message(in_tls)
        in_tls.cmd("QUIT")
        # A bad pair on reload: logged, and the loaded one stays.
        for bad_cert, bad_key, why in (
            (b"not a certificate\n", None, f"--tls-cert {cert}: no CERTIFICATE block in it"),
            (None, open(first_key, "rb").read(), f"--tls-key {key}: not the key of --tls-cert {cert}"),
        ):
            if bad_cert is not None:
                with open(cert, "wb") as f:
                    f.write(bad_cert)
            if bad_key is not None:
                shutil.copy(second_cert, cert)
                with open(key, "wb") as f:
                    f.write(bad_key)
            mark = s.mark()
            s.hup()
            line = s.wait_log(lambda l: "SIGHUP: --tls-" in l, "the refused reload", since=mark)
            assert line == f"tinymx: SIGHUP: {why}; the certificate loaded before stays", line
            c = greeted(s.port)
            c.starttls(context(pki))
            assert c.sock.getpeercert(binary_form=True) == pki.der("second")
            c.cmd("QUIT")
    finally:
        s.stop()


@case
def require_tls_and_a_reload_from_the_configuration_file(w, pki):
    cert, key = pki.pair("rsa")
    conf = os.path.join(w, "tinymx.conf")
    with open(conf, "w") as f:
        f.write(f"tls-cert {cert}\ntls-key {key}\nrequire-tls\n")
    s = Server(w, ["--config", conf])
    try:
        c = greeted(s.port)
        assert c.cmd("MAIL FROM:<alice@example.org>") == ["530 5.7.0 Must issue a STARTTLS command first"]
        c.starttls(context(pki))
        assert c.cmd("EHLO client.example") == EHLO_TLS
        send_message(c)
        c.cmd("QUIT")
        # The file without require-tls, reloaded: plain mail again.
        with open(conf, "w") as f:
            f.write(f"tls-cert {cert}\ntls-key {key}\n")
        mark = s.mark()
        s.hup()
        s.wait_log(lambda l: "SIGHUP: configuration reloaded" in l, "the reload", since=mark)
        c = greeted(s.port)
        send_message(c)
        c.cmd("QUIT")
    finally:
        s.stop()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])


@case
def memory_per_tls_session_is_bounded(w, pki):
    """8 sessions each stream a 4 MiB message over TLS at once; the
    server's RSS stays within idle + 8 × 256 KiB (a plain session's 160 KiB
    bound, README "Limits and guarantees", plus rustls' buffers: a record
    of up to 16 KiB being read, 16 KiB of decrypted bytes, the connection's
    keys and state). Not under qemu-user: there the pid's RSS is the
    emulator's."""
    if RUNNER:
        print("     (memory not measured under qemu-user)")
        return
    cert, key = pki.pair("rsa")
    s = Server(w, ["--tls-cert", cert, "--tls-key", key])
    try:
        idle = rss_kib(s.proc.pid)
        body = (b"x" * 998 + b"\r\n") * (4 * 1024)
        clients = []
        for _ in range(8):
            c = greeted(s.port)
            c.starttls(context(pki))
            assert c.cmd("EHLO client.example") == EHLO_TLS
            assert c.cmd("MAIL FROM:<alice@example.org>") == ["250 2.1.0 Sender ok"]
            assert c.cmd("RCPT TO:<bob@mx.test>") == ["250 2.1.5 Recipient ok"]
            assert c.cmd("DATA") == ["354 End data with <CR><LF>.<CR><LF>"]
            clients.append(c)
        peak = [rss_kib(s.proc.pid)]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak.append(rss_kib(s.proc.pid))
                time.sleep(0.005)
        sampler = threading.Thread(target=sample)
        sampler.start()
        senders = [threading.Thread(target=c.send, args=(body + b".\r\n",)) for c in clients]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        for c in clients:
            r = c.reply()
            assert r[0].startswith("250 2.0.0 Ok: queued as "), r
        done.set()
        sampler.join()
        grown = max(peak) - idle
        assert grown <= 8 * 256, f"RSS grew {grown} KiB for 8 TLS sessions (idle {idle} KiB)"
        print(f"     RSS {idle} KiB idle, peak {max(peak)} KiB: {grown / 8:.0f} KiB per streaming TLS session")
        wait_until(lambda: len(s.new("bob")) == 8, "8 messages")
        for c in clients:
            c.cmd("QUIT")
            c.close()
    finally:
        s.stop()


@case
def openssl_s_client_starttls_smtp(w, pki):
    cert, key = pki.pair("rsa")
    s = Server(w, ["--tls-cert", cert, "--tls-key", key])
    try:
        p = subprocess.run(
            ["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{s.port}",
             "-CAfile", pki.ca, "-verify_return_error", "-verify_hostname", HOST,
             "-name", "client.example", "-crlf", "-ign_eof"],
            input=b"EHLO client.example\nQUIT\n", capture_output=True, timeout=WAIT)
        out = p.stdout.decode()
        assert p.returncode == 0, (p.returncode, out, p.stderr.decode())
        assert "Verify return code: 0 (ok)" in out, out
        assert re.search(r"New, TLSv1\.3, Cipher is TLS_[A-Z0-9_]+", out), out
        assert "\n".join(EHLO_TLS) + "\n" in out.replace("\r\n", "\n"), out
        assert "221 2.0.0 Bye" in out, out
    finally:
        s.stop()


@case
def start_up_errors_name_the_file_and_the_plain_build_refuses(w, pki):
    cert, key = pki.pair("rsa")
    other_cert, _ = pki.pair("other")
    missing = os.path.join(w, "missing.pem")
    for args, code, message in (
        (["--tls-cert", missing, "--tls-key", key], 1,
         f"tinymx: --tls-cert {missing}: No such file or directory (os error 2)"),
        (["--tls-cert", other_cert, "--tls-key", key], 1,
         f"tinymx: --tls-key {key}: not the key of --tls-cert {other_cert}"),
        (["--tls-cert", cert, "--tls-key", cert], 1,
         f"tinymx: --tls-key {cert}: no PEM block of the kind needed in it"),
        (["--tls-cert", cert], 2, "tinymx: --tls-cert needs --tls-key"),
        (["--require-tls"], 2, "tinymx: --require-tls needs --tls-cert and --tls-key"),
    ):
        p = subprocess.run(RUNNER + [BIN, "-l", "127.0.0.1:0", "-d", os.path.join(w, "spool"), *args],
                           capture_output=True, timeout=WAIT)
        first = p.stderr.decode().splitlines()[0]
        assert (p.returncode, first) == (code, message), (args, p.returncode, p.stderr)
    if PLAIN_BIN:
        p = subprocess.run([PLAIN_BIN, "-l", "127.0.0.1:0", "-d", os.path.join(w, "spool"),
                            "--tls-cert", cert, "--tls-key", key], capture_output=True, timeout=WAIT)
        assert p.returncode == 2, p
        assert p.stderr.decode().splitlines()[0] == \
            "tinymx: --tls-cert, --tls-key, --require-tls: this tinymx is built without TLS " \
            "('make tls' builds one with it)", p.stderr


def main():
    assert BIN and os.path.exists(BIN), f"TINYMX_BIN={BIN!r}: the tls build (make tls)"
    failed = 0
    ran = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tinymx-tls-") as top:
        pki = Pki(top)
        for i, f in enumerate(CASES):
            w = os.path.join(top, f"case{i}")
            os.mkdir(w)
            t = time.monotonic()
            ran += 1
            try:
                f(w, pki)
                print(f"ok   {f.__name__} ({time.monotonic() - t:.1f}s)", flush=True)
            except Exception as e:  # noqa: BLE001 - report every case
                failed += 1
                import traceback
                print(f"FAIL {f.__name__}: {e!r}", flush=True)
                traceback.print_exc()
    where = f" under {RUNNER[0]}" if RUNNER else ""
    print(f"tls: {ran - failed} passed, {failed} failed{where} ({time.monotonic() - started:.1f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
