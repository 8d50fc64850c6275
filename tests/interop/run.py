#!/usr/bin/env python3
"""tinymx against real mail software (issue 3).

Starts the built tinymx on 127.0.0.1 (port 0, read from its `listening on`
line) with a fresh spool for each group of checks, and runs real peers
against it, one after the other:

  Postfix   a private instance (its own config and queue directories under
            the run's temporary folder, no listening socket, every address
            relayed to tinymx) fed by its sendmail/postdrop
  Exim      exim4-daemon-light, unpacked (it conflicts with postfix as a
            package), run with its own -C configuration, no daemon
  clients   swaks, curl, msmtp, Python's smtplib + email.message
  tls       tinymx's TLS build (TINYMX_TLS_BIN, make tls) with a certificate
            from a test CA made here with openssl: a second private Postfix
            with smtp_tls_security_level = encrypt (and the plain build as
            its control, which it must not deliver to), swaks --tls, curl
            --ssl-reqd. Without TINYMX_TLS_BIN or its file these checks
            fail, they are not skipped.
  readers   mblaze (mlist, mshow, minc, mflag) and Python's mailbox.Maildir
  dovecot   Dovecot's imap binary run directly on the spool (PREAUTH on a
            pipe, no daemon, its indexes in the run's folder, as the user
            `mail`, which tinymx -u delivers as: Dovecot refuses root)
  neomutt   neomutt -R -f on the spool, under script(1) for its terminal
  load      Postfix's smtp-source: 2,000 messages over 20 sessions

Each check asserts reply codes and the exact bytes that land in
SPOOL/MAILBOX/new/: tinymx's three trace headers, the sending MTA's own
Received header where there is one, then the message as submitted (CRLF as
LF). Every date in them (tinymx's and the other MTAs' Received dates,
smtp-source's Date header) goes through one checker of RFC 5322 section
3.3 (tests/rfc5322.py) and must lie within this run, whatever the day, the
time zone or the locale; tinymx's own is UTC (+0000). Missing packages are
installed first (install.sh). Everything listens on loopback only, every
wait has a deadline, and everything started here is stopped by its pid at
the end, also after a failure or a signal.

Each check cleans up after itself, passed or failed (the spool's
mailboxes emptied, anything left in Postfix's or Exim's queue deleted), so
that one failed check cannot fail the next.

Needs root (Postfix's master, Exim). Usage:
    TINYMX_BIN=target/x86_64-unknown-linux-musl/release/tinymx \
    TINYMX_TLS_BIN=target/tls/x86_64-unknown-linux-musl/release/tinymx python3 tests/interop/run.py
Ends with the line `interop: N passed, M failed`; exits 1 if any failed.
The temporary folder /tmp/tinymx-interop-* is removed at the end, also
after a failure (then the logs of each failed group are printed first) or
SIGINT/SIGTERM; KEEP=1 keeps it.
"""

import base64
import contextlib
import email
import email.message
import email.policy
import email.utils
import grp
import json
import mailbox
import os
import pwd
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# tests/rfc5322.py, the date-time checker; no __pycache__ left in tests/
# (.gitignore does not cover it).
sys.path.insert(0, os.path.dirname(HERE))
sys.dont_write_bytecode = True
import rfc5322  # noqa: E402
BIN = os.path.abspath(
    os.environ.get("TINYMX_BIN")
    or os.path.join(REPO, "target/x86_64-unknown-linux-musl/release/tinymx")
)
# The TLS build (make tls): the tls group's checks fail without it.
TLS_BIN = os.path.abspath(os.environ["TINYMX_TLS_BIN"]) if os.environ.get("TINYMX_TLS_BIN") else None
EXIM_ROOT = os.environ.get("EXIM_ROOT", "/var/cache/tinymx-interop/exim4")
EXIM = os.path.join(EXIM_ROOT, "usr/sbin/exim4")

WAIT = 60  # seconds: the longest any one wait may take
HOST = "mx.test"  # tinymx's -n
DATE = "Sat, 28 Nov 2026 12:00:00 +0000"  # Date: of the test messages
# When the suite started (unix seconds): every date an MTA writes during
# the run must lie between this and now.
RUN_START = time.time()
# Signals that stop the run (SIGINT, SIGTERM, SIGHUP), in arrival order.
STOPPED = []
# For tests/interop/selftest.py, which checks this harness: INTEROP_GROUPS
# (comma-separated names from GROUPS) runs only those groups, and every
# check whose name contains INTEROP_FAIL fails after its body has run.
ONLY_GROUPS = [g for g in os.environ.get("INTEROP_GROUPS", "").split(",") if g]
FAIL_ON_PURPOSE = os.environ.get("INTEROP_FAIL", "")


# ---------------------------------------------------------------- framework


class Suite:
    def __init__(self):
        self.passed = 0
        self.failed = []
        self.group = None  # the group of checks running now
        self.failed_groups = []  # groups with a failed check, in order

    def peer(self, title):
        print(f"\n== {title}", flush=True)

    def fail(self, name):
        self.failed.append(name)
        if self.group is not None and self.group not in self.failed_groups:
            self.failed_groups.append(self.group)

    @contextlib.contextmanager
    def case(self, name, cleanup=None):
        """One check: counts as passed unless its body or its cleanup
        raises. `cleanup` runs after the body, passed or failed, and puts
        back what the check left (files in the spool, messages in a
        queue), so that the next check starts the same whatever happened
        in this one."""
        t0 = time.monotonic()
        errors = []
        try:
            yield
            if FAIL_ON_PURPOSE and FAIL_ON_PURPOSE in name:
                # tests/interop/selftest.py: a check that fails after it
                # has delivered, to show its cleanup and the next check.
                raise AssertionError(f"INTEROP_FAIL={FAIL_ON_PURPOSE!r}: failed on purpose")
        except Exception as e:  # noqa: BLE001 - any failure fails the check
            errors.append(describe(e))
        if cleanup is not None:
            try:
                cleanup()
            except Exception as e:  # noqa: BLE001 - a cleanup that fails fails the check
                errors.append("cleaning up after the check: " + describe(e))
        dt = time.monotonic() - t0
        if errors:
            self.fail(name)
            text = "\n".join(errors)
            print(f"  FAIL {name} ({dt:.1f}s)\n{indent(text)}", flush=True)
        else:
            self.passed += 1
            print(f"  ok   {name} ({dt:.1f}s)", flush=True)


def describe(e):
    if isinstance(e, AssertionError) and e.args:
        return str(e.args[0])
    tb = traceback.format_exception(type(e), e, e.__traceback__)
    return "".join(tb[-3:]).rstrip()


def indent(text, prefix="       "):
    return "\n".join(prefix + line for line in text.splitlines())


def wait_until(pred, what, timeout=WAIT, interval=0.02):
    """Polls `pred` until it returns a true value (returned); bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def run(argv, input=None, timeout=WAIT, check=True, env=None, **kw):
    """Runs a command with a deadline; returns CompletedProcess (bytes)."""
    p = subprocess.run(
        argv,
        input=input,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=timeout,
        env=env,
        **kw,
    )
    if check and p.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, argv))} exited {p.returncode}\n"
            f"stdout: {p.stdout.decode(errors='replace')[-2000:]}\n"
            f"stderr: {p.stderr.decode(errors='replace')[-2000:]}"
        )
    return p


def eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def bytes_eq(got, want, what):
    """Exact byte comparison with the first difference shown."""
    if got == want:
        return
    i = next(
        (k for k in range(min(len(got), len(want))) if got[k] != want[k]),
        min(len(got), len(want)),
    )
    raise AssertionError(
        f"{what}: differs at byte {i} (got {len(got)} bytes, want {len(want)})\n"
        f"  got:  {got[max(0, i - 60):i + 60]!r}\n"
        f"  want: {want[max(0, i - 60):i + 60]!r}"
    )


def lf(data):
    return data.replace(b"\r\n", b"\n")


def crlf(data):
    return lf(data).replace(b"\n", b"\r\n")


def alive(pid):
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return out


def listening(pids):
    """The TCP addresses on which any of `pids` listens, as 'IP:PORT'."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    t = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if t.startswith("socket:["):
                    inodes.add(t[8:-1])
        except FileNotFoundError:
            pass
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            rows = open(table).read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            f = row.split()
            if f[3] != "0A" or f[9] not in inodes:  # 0A = LISTEN
                continue
            hexip, hexport = f[1].split(":")
            raw = bytes.fromhex(hexip)
            if v6:
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                ip = "[" + socket.inet_ntop(socket.AF_INET6, raw) + "]"
            else:
                ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
            found.append(f"{ip}:{int(hexport, 16)}")
    return sorted(found)


def files(d):
    try:
        return sorted(os.path.join(d, n) for n in os.listdir(d))
    except FileNotFoundError:
        return []


def read(path):
    with open(path, "rb") as f:
        return f.read()


def pkg_version(pkg):
    p = run(["dpkg-query", "-W", "-f=${Version}", pkg], check=False)
    return p.stdout.decode().strip() or "not installed"


# ------------------------------------------------------------------- tinymx


class Tinymx:
    """The binary under test on 127.0.0.1:0 with its own spool (`bin`:
    another build of it, e.g. TLS_BIN)."""

    def __init__(self, workdir, name, args=(), bin=BIN):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.spool = os.path.join(self.dir, "spool")
        self.lines = []
        self.cond = threading.Condition()
        self.logfile = open(os.path.join(self.dir, "tinymx.log"), "w", encoding="utf-8")
        self.bin = bin
        argv = [bin, "-l", "127.0.0.1:0", "-n", HOST, "-d", self.spool, *args]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.pid = self.proc.pid
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self._ready(args)
        except BaseException:
            if self.proc.poll() is None:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
            raise

    def _ready(self, args):
        line = self.wait_log(lambda ls: next((l for l in ls if "listening on " in l), None),
                             "the 'listening on' line", timeout=20)
        addr = line.split("listening on ", 1)[1].strip()
        eq(addr.rsplit(":", 1)[0], "127.0.0.1", "tinymx listens on")
        self.port = int(addr.rsplit(":", 1)[1])
        eq(listening([self.pid]), [f"127.0.0.1:{self.port}"], "tinymx's listening sockets")
        build = "" if self.bin == BIN else f" ({self.bin})"
        print(f"   tinymx pid {self.pid} on 127.0.0.1:{self.port}{build} {' '.join(args)}", flush=True)

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.logfile.write(line + "\n")
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        self.logfile.close()
        with self.cond:
            self.lines.append(None)  # EOF
            self.cond.notify_all()

    def log(self):
        with self.cond:
            return [l for l in self.lines if l is not None]

    def mark(self):
        """How many log lines there are now: wait_log(since=) looks only
        at the lines that come after."""
        with self.cond:
            return len([l for l in self.lines if l is not None])

    def wait_log(self, pred, what, timeout=WAIT, since=0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = pred([l for l in self.lines if l is not None][since:])
                if got:
                    return got
                left = deadline - time.monotonic()
                if left <= 0 or (self.lines and self.lines[-1] is None):
                    tail = "\n".join(l for l in self.lines[-20:] if l is not None)
                    raise AssertionError(f"tinymx log: no {what} within {timeout}s; last lines:\n{tail}")
                self.cond.wait(left)

    def new(self, mailbox):
        return files(os.path.join(self.spool, mailbox, "new"))

    def tmp(self, mailbox):
        return files(os.path.join(self.spool, mailbox, "tmp"))

    def mailboxes(self):
        try:
            return sorted(os.listdir(self.spool))
        except FileNotFoundError:
            return []

    def sessions(self):
        """tinymx's end of the TCP connections still open on its port
        (ESTABLISHED, or CLOSE_WAIT: the client is gone, tinymx may still
        be storing)."""
        found = 0
        for row in read("/proc/net/tcp").decode().splitlines()[1:]:
            f = row.split()
            if f[3] in ("01", "08") and int(f[1].split(":")[1], 16) == self.port:
                found += 1
        return found

    def clean(self):
        """Empties every mailbox (new/, cur/ and tmp/) and puts back any of
        the three that a check replaced (e.g. new/ by a file), once no
        client is connected any more: the next check starts with empty
        mailboxes. The mailbox directories themselves stay, as tinymx made
        them."""
        wait_until(lambda: self.sessions() == 0, f"tinymx's sessions on port {self.port} to end")
        for box in self.mailboxes():
            for sub in ("new", "cur", "tmp"):
                d = os.path.join(self.spool, box, sub)
                if os.path.islink(d) or (os.path.exists(d) and not os.path.isdir(d)):
                    os.unlink(d)
                if not os.path.isdir(d):
                    os.mkdir(d, 0o700)  # as tinymx makes them
                for p in files(d):
                    if os.path.isdir(p) and not os.path.islink(p):
                        shutil.rmtree(p)
                    else:
                        os.unlink(p)

    def wait_new(self, mailbox, n, timeout=WAIT):
        """Waits until MAILBOX/new has n files; returns their contents."""
        wait_until(lambda: len(self.new(mailbox)) >= n,
                   f"{n} message(s) in {mailbox}/new", timeout)
        got = self.new(mailbox)
        eq(len(got), n, f"messages in {mailbox}/new")
        eq(self.tmp(mailbox), [], f"{mailbox}/tmp after delivery")
        return [read(p) for p in got]

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
                raise AssertionError(f"tinymx pid {self.pid} ignored SIGTERM for 20s")
            eq(rc, 0, "tinymx's exit status after SIGTERM")


def check_date(text, what, utc=False):
    """A date-time written during this run (a trace header's, after its
    ";", or a Date header's value): RFC 5322 section 3.3's grammar and
    semantics (tests/rfc5322.py), in any zone, and the instant it names
    lies between the suite's start and now, with a second of slack either
    way (dates have whole seconds). utc=True: the zone is also +0000.
    Returns the rfc5322.DateTime."""
    d = rfc5322.check(text, what)
    if utc:
        eq(d.zone, "+0000", f"{what} {text!r}: zone")
    now = time.time()
    assert RUN_START - 1 <= d.unix <= now + 1, (
        f"{what} {text!r} is {d.unix} in unix time (zone applied), not within this run "
        f"({RUN_START:.0f} to {now:.0f})")
    return d


def split_received(header, pattern, what):
    """A Received header is tokens, ";", then a date-time (RFC 5322
    section 3.6.7): checks the part up to the ";" against `pattern`
    exactly, the date-time after it with check_date; returns the latter."""
    m = re.match(pattern + ";", header)
    assert m, f"{what} {header!r}\n  does not start with {pattern + ';'!r}"
    return header[m.end():]


def trace(stored, sender, rcpt, helo, with_="ESMTP"):
    """Checks tinymx's three trace headers exactly (its Received date with
    check_date: in UTC, now) and returns the rest of the stored message.
    `with_` is the protocol as written, e.g. "ESMTPS (TLS1.3
    TLS_AES_256_GCM_SHA384)" after STARTTLS."""
    lines = stored.split(b"\n", 3)
    assert len(lines) == 4, f"stored message too short: {stored[:300]!r}"
    eq(lines[0].decode(), f"Return-Path: <{sender}>", "Return-Path")
    eq(lines[1].decode(), f"Delivered-To: {rcpt}", "Delivered-To")
    received = lines[2].decode()
    pattern = (
        rf"Received: from {re.escape(helo)} \(\[127\.0\.0\.1\]\) by {re.escape(HOST)} "
        rf"\(tinymx\) with {re.escape(with_)} id [0-9A-Za-z-]+ for <{re.escape(rcpt)}>"
    )
    date = split_received(received, pattern, "tinymx's Received header")
    check_date(date, f"tinymx's Received date (in {received!r})", utc=True)
    return lines[3]


def mta_received(rest, pattern, what, show=False):
    """Splits the sending MTA's own Received header (with its folded lines)
    off the front of `rest`; checks it against `pattern` up to its ";",
    then its date-time with check_date. show=True prints the date (its
    zone is the MTA's local one)."""
    lines = rest.split(b"\n")
    n = 1
    while n < len(lines) and lines[n][:1] in (b" ", b"\t"):
        n += 1
    header = b"\n".join(lines[:n]).decode()
    date = split_received(header, pattern, f"{what} trace header")
    check_date(date, f"{what}'s Received date (in {header!r})")
    if show:
        print(f"       {what}'s Received date: {date!r}", flush=True)
    return b"\n".join(lines[n:])


# ----------------------------------------------------------------- messages


def text_message(tag, sender, to, subject, body_lines, extra_headers=()):
    """A message with LF line ends and every header an MTA would add, so
    that nothing but trace headers gets added on the way."""
    head = [
        f"From: {sender}",
        f"To: {', '.join(to)}",
        f"Subject: {subject}",
        f"Date: {DATE}",
        f"Message-ID: <{tag}@interop.test>",
        *extra_headers,
    ]
    return ("\n".join(head) + "\n\n").encode() + b"".join(
        (l if isinstance(l, bytes) else l.encode()) + b"\n" for l in body_lines
    )


# Lines that trip naive SMTP code: dot-stuffing, "From " at a line start,
# trailing white space, a line of just ".", a long line.
TRICKY = [
    "Hello,",
    "",
    ".a line that starts with a dot",
    "..two dots",
    ".",
    "From the start of a line (no '>' quoting in a Maildir)",
    "trailing spaces   ",
    "\ttab-indented",
    "x" * 900,
    "",
    "-- ",
    "sender",
]


def plain(tag, sender, to):
    return text_message(tag, sender, to, f"plain {tag}", TRICKY)


def eight_bit(tag, sender, to):
    # UTF-8 text, Latin-1 bytes (not UTF-8) and every byte but NUL, CR and LF.
    every = bytes(b for b in range(1, 256) if b not in (10, 13))
    return text_message(
        tag, sender, to, "=?utf-8?q?8-bit_gr=C3=BC=C3=9Fe?=",
        ["Grüße aus Köln — ✓ ½ € 日本語".encode(), b"latin-1: \xe4\xf6\xfc\xdf", every, b"end"],
        ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
         "Content-Transfer-Encoding: 8bit"],
    )


def attachment_payload(size=3 * 1024 * 1024):
    return random.Random(3).randbytes(size)


def with_attachment(tag, sender, to, payload, linesep="\n"):
    m = email.message.EmailMessage()
    m["From"] = sender
    m["To"] = ", ".join(to)
    m["Subject"] = f"attachment {tag}"
    m["Date"] = DATE
    m["Message-ID"] = f"<{tag}@interop.test>"
    m.set_content("A binary file is attached.\n")
    m.add_attachment(payload, maintype="application", subtype="octet-stream", filename="blob.bin")
    return m.as_bytes(policy=email.policy.default.clone(linesep=linesep))


def attachment_of(stored):
    msg = email.message_from_bytes(stored, policy=email.policy.default)
    parts = [p for p in msg.iter_attachments()]
    eq(len(parts), 1, "attachments")
    return parts[0].get_content()


# ------------------------------------------------------------------ Postfix


class Postfix:
    """A private Postfix instance relaying everything to tinymx, in
    WORKDIR/NAME. `settings` ("name = value") go over main.cf.in's and
    `services` (postconf -M's "service/type=entry") into master.cf, both
    with postconf before the start: they are this instance's alone."""

    def __init__(self, workdir, port, name="postfix", settings=(), services=()):
        self.dir = os.path.join(workdir, name)
        self.etc = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.port = port
        self.master = None
        self.submitted = 0  # the maillog's size before the last sendmail
        os.makedirs(self.etc)
        os.mkdir(self.queue, 0o755)  # postfix chdirs here before its checks
        with open(os.path.join(HERE, "postfix/main.cf.in"), encoding="utf-8") as f:
            conf = f.read().replace("@DIR@", self.dir).replace("@PORT@", str(port))
        with open(os.path.join(self.etc, "main.cf"), "w", encoding="utf-8") as f:
            f.write(conf)
        shutil.copy(os.path.join(HERE, "postfix/master.cf"), self.etc)
        for setting in settings:
            run(["postconf", "-c", self.etc, "-e", setting])
        for service in services:
            run(["postconf", "-c", self.etc, "-M", service])

    def start(self):
        p = run(["postfix", "-c", self.etc, "start"], check=False)
        if p.returncode != 0:
            raise AssertionError(f"postfix start exited {p.returncode}; maillog:\n{self.maillog()}")
        pidfile = os.path.join(self.queue, "pid/master.pid")
        wait_until(lambda: os.path.exists(pidfile) and read(pidfile).strip(), "postfix's master.pid")
        self.master = int(read(pidfile).strip())
        assert alive(self.master), f"postfix master pid {self.master} is not running"
        print(f"   postfix master pid {self.master}, config {self.etc}", flush=True)

    def pids(self):
        return [self.master, *children(self.master)] if self.master else []

    def maillog(self):
        try:
            return read(os.path.join(self.dir, "maillog")).decode(errors="replace")
        except FileNotFoundError:
            return ""

    def sendmail(self, sender, rcpts, data, extra=()):
        self.submitted = len(self.maillog())
        # -i: a line of one "." is data, not the end.
        run(["sendmail", "-C", self.etc, "-i", "-f", sender, *extra, "--", *rcpts], input=data)

    def queue_id(self, message_id):
        """The queue id Postfix logged for a Message-ID since the last
        sendmail (not an earlier check's message; waits for it)."""
        pat = re.compile(rf"postfix-interop/cleanup\[\d+\]: ([0-9A-F]+): message-id=<{re.escape(message_id)}>")
        return wait_until(lambda: (pat.search(self.maillog()[self.submitted:]) or [None, None])[1],
                          f"postfix to log message-id <{message_id}>")

    def wait_status(self, qid, rcpt, status, nth=0):
        """Waits for the nth `QID: to=<rcpt>, ... status=...` line; checks
        that it says STATUS and returns it."""
        pat = re.compile(rf"^.*: {qid}: to=<{re.escape(rcpt)}>,.* status=(\w+) .*$", re.M)

        def find():
            found = list(pat.finditer(self.maillog()))
            return found[nth] if len(found) > nth else None
        m = wait_until(find, f"postfix to log status #{nth + 1} for {qid} to {rcpt}")
        eq(m.group(1), status, f"postfix status of {qid} to {rcpt} ({m.group(0)})")
        return m.group(0)

    def queued(self):
        """`postqueue -j`: one dict per queued message."""
        p = run(["postqueue", "-c", self.etc, "-j"])
        return [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]

    def wait_queue_empty(self):
        wait_until(lambda: not self.queued(), "postfix's queue to be empty", interval=0.1)

    def clear_queue(self):
        """Deletes whatever a check left in the queue (a deferred message,
        a bounce on its way), `postsuper -d ALL` until the queue is empty:
        nothing of it may reach tinymx during the next check."""
        def empty():
            run(["postsuper", "-c", self.etc, "-d", "ALL"])
            return not self.queued()
        wait_until(empty, "postfix's queue to be empty after postsuper -d ALL", interval=0.2)

    def stop(self):
        """`postfix stop`, then waits until the master and its children
        are gone; returns the pids that were stopped."""
        pidfile = os.path.join(self.queue, "pid/master.pid")
        if self.master is None and os.path.exists(pidfile):
            # A start that failed half-way may have left a master behind.
            pid = int(read(pidfile).strip() or 0)
            if pid and alive(pid):
                self.master = pid
        if self.master is None:
            return []
        pids = self.pids()
        run(["postfix", "-c", self.etc, "stop"], check=False)
        try:
            wait_until(lambda: not any(alive(p) for p in pids),
                       f"postfix's processes {pids} to exit", timeout=30)
        except AssertionError:
            for p in pids:
                if alive(p):
                    os.kill(p, signal.SIGKILL)
            raise
        finally:
            self.master = None
        return pids


def postfix_checks(s, workdir):
    title = f"Postfix {pkg_version('postfix')} as the sending MTA (private instance, relayhost = tinymx)"
    s.peer(title)
    tx = pf = None
    try:
        with s.case("postfix: start a private instance that listens on no port"):
            # Only these mailboxes exist; anything else in example.org gets 550.
            tx = Tinymx(workdir, "postfix-tinymx",
                        ["-v", "-D", "example.org", "-m", "alice", "-m", "bob", "-m", "carol", "-m", "dave"])
            pf = Postfix(workdir, tx.port)
            pf.start()
            eq(listening(pf.pids()), [], "postfix's listening TCP sockets")
        if pf is None or pf.master is None:
            raise AssertionError("postfix did not start; its checks cannot run")

        def cleanup():
            # First the queue (so that nothing more arrives), then the spool.
            pf.clear_queue()
            tx.clean()
        postfix_cases(s, tx, pf, cleanup)
    finally:
        with s.case("postfix: stop by its master pid; every relay was tinymx"):
            try:
                if pf is not None:
                    if pf.stop():
                        for line in pf.maillog().splitlines():
                            m = re.search(r" relay=(\S+),", line)
                            if m:
                                eq(m.group(1), f"127.0.0.1[127.0.0.1]:{tx.port}", f"relay in {line!r}")
            finally:
                if tx is not None:
                    tx.stop()


def postfix_received(rest, userid=True, show=False):
    by = r"\(Postfix, from userid 0\)" if userid else r"\(Postfix\)"
    return mta_received(rest, rf"Received: by postfix\.test {by}\n\tid [0-9A-F]+", "Postfix", show)


def postfix_cases(s, tx, pf, cleanup):
    sender = "alice@example.org"

    with s.case("postfix: plain message, dot lines and a 900-byte line, byte-exact", cleanup):
        data = plain("pf-plain", sender, ["bob@example.org"])
        pf.sendmail(sender, ["bob@example.org"], data)
        qid = pf.queue_id("pf-plain@interop.test")
        pf.wait_status(qid, "bob@example.org", "sent")
        (stored,) = tx.wait_new("bob", 1)
        rest = trace(stored, sender, "bob@example.org", "postfix.test")
        bytes_eq(postfix_received(rest, show=True), data, "stored message")
        # Postfix's smtp client has no BDAT (3.7's binary does not even
        # contain the word; its smtpd does): it delivers over DATA although
        # tinymx offers CHUNKING.
        cmds = [l.split(" >>> ", 1)[1] for l in tx.log() if " >>> " in l]
        assert "DATA" in cmds and not any(c.upper().startswith("BDAT") for c in cmds), cmds

    with s.case("postfix: 8-bit body (BODY=8BITMIME), byte-exact", cleanup):
        mark = tx.mark()
        data = eight_bit("pf-8bit", sender, ["carol@example.org"])
        pf.sendmail(sender, ["carol@example.org"], data, ["-B", "8BITMIME"])
        qid = pf.queue_id("pf-8bit@interop.test")
        pf.wait_status(qid, "carol@example.org", "sent")
        (stored,) = tx.wait_new("carol", 1)
        rest = trace(stored, sender, "carol@example.org", "postfix.test")
        bytes_eq(postfix_received(rest), data, "stored message")
        # Postfix declared the 8-bit body (tinymx -v logs each command).
        tx.wait_log(lambda ls: any(re.search(r">>> MAIL FROM:<alice@example\.org> SIZE=\d+ BODY=8BITMIME$", l)
                                   for l in ls), "MAIL FROM ... BODY=8BITMIME", since=mark)

    with s.case("postfix: 3 MB attachment, byte-exact, attachment decodes to the original", cleanup):
        payload = attachment_payload()
        data = with_attachment("pf-attach", sender, ["dave@example.org"], payload)
        assert len(data) > 4_000_000, len(data)
        pf.sendmail(sender, ["dave@example.org"], data)
        qid = pf.queue_id("pf-attach@interop.test")
        pf.wait_status(qid, "dave@example.org", "sent")
        (stored,) = tx.wait_new("dave", 1)
        body = postfix_received(trace(stored, sender, "dave@example.org", "postfix.test"))
        bytes_eq(body, data, "stored message")
        assert attachment_of(body) == payload, "decoded attachment differs"

    with s.case("postfix: three recipients in one message, one copy each", cleanup):
        rcpts = ["bob@example.org", "carol@example.org", "alice@example.org"]
        data = plain("pf-multi", sender, rcpts)
        pf.sendmail(sender, rcpts, data)
        qid = pf.queue_id("pf-multi@interop.test")
        for r in rcpts:
            pf.wait_status(qid, r, "sent")
        for r in rcpts:
            (stored,) = tx.wait_new(r.split("@")[0], 1)
            bytes_eq(postfix_received(trace(stored, sender, r, "postfix.test")), data, f"copy for {r}")

    with s.case("postfix: 550 from tinymx: Postfix bounces to the sender, nothing spooled", cleanup):
        mark = tx.mark()
        boxes = tx.mailboxes()
        rcpts = ["zed@example.org", "victim@elsewhere.net"]
        data = plain("pf-550", sender, rcpts)
        pf.sendmail(sender, rcpts, data)
        qid = pf.queue_id("pf-550@interop.test")
        l1 = pf.wait_status(qid, "zed@example.org", "bounced")
        assert "said: 550 5.1.1 No such mailbox here (in reply to RCPT TO command)" in l1, l1
        l2 = pf.wait_status(qid, "victim@elsewhere.net", "bounced")
        assert "said: 550 5.7.1 Relaying denied (in reply to RCPT TO command)" in l2, l2
        # The bounce goes to alice, through tinymx, from the null sender.
        m = wait_until(lambda: re.search(rf": {qid}: sender non-delivery notification: ([0-9A-F]+)", pf.maillog()),
                       "postfix's non-delivery notification")
        pf.wait_status(m.group(1), sender, "sent")
        (bounce,) = tx.wait_new("alice", 1)
        rest = postfix_received(trace(bounce, "", sender, "postfix.test"), userid=False)
        dsn = email.message_from_bytes(rest, policy=email.policy.default)
        eq(dsn.get_content_type(), "multipart/report", "bounce's type")
        text = rest.decode(errors="replace")
        for want in ("Final-Recipient: rfc822; zed@example.org", "Status: 5.1.1",
                     "Diagnostic-Code: smtp; 550 5.1.1 No such mailbox here",
                     "Final-Recipient: rfc822; victim@elsewhere.net", "Status: 5.7.1",
                     "Diagnostic-Code: smtp; 550 5.7.1 Relaying denied", "Message-ID: <pf-550@interop.test>"):
            assert want in text, f"bounce lacks {want!r}:\n{text[:3000]}"
        # No mailbox for zed or victim: at most alice's is new.
        eq(tx.mailboxes(), sorted(set(boxes) | {"alice"}), "mailboxes in the spool")
        # Postfix pipelined DATA after the two refused RCPTs: tinymx said 503.
        tx.wait_log(lambda ls: any(l.endswith("refused: 503 5.5.1 Need RCPT command (command: DATA)")
                                   for l in ls), "503 to the pipelined DATA", since=mark)
        pf.wait_queue_empty()

    with s.case("postfix: 451 from tinymx: kept in Postfix's queue, delivered once after a flush", cleanup):
        # dave's new/ becomes a file: tinymx cannot store there and answers
        # 451 (the cleanup puts the directory back if this check fails).
        newdir = os.path.join(tx.spool, "dave/new")
        if os.path.isdir(newdir):
            os.rmdir(newdir)  # empty: every check cleans up after itself
        else:
            os.makedirs(os.path.dirname(newdir), 0o700, exist_ok=True)  # no mail for dave yet
        with open(newdir, "w") as f:
            f.write("not a directory\n")
        data = plain("pf-451", sender, ["dave@example.org"])
        pf.sendmail(sender, ["dave@example.org"], data)
        qid = pf.queue_id("pf-451@interop.test")
        line = pf.wait_status(qid, "dave@example.org", "deferred")
        assert "said: 451 4.3.0 Local error in processing, try again later (in reply to DATA command)" in line, line
        queued = pf.queued()
        eq([(q["queue_id"], q["queue_name"]) for q in queued], [(qid, "deferred")], "postfix queue")
        reason = queued[0]["recipients"][0]["delay_reason"]
        assert "451 4.3.0" in reason, reason
        eq(tx.tmp("dave"), [], "dave/tmp after the 451")
        os.unlink(newdir)
        os.mkdir(newdir, 0o700)
        run(["postqueue", "-c", pf.etc, "-f"])
        pf.wait_status(qid, "dave@example.org", "sent", nth=1)
        pf.wait_queue_empty()
        (stored,) = tx.wait_new("dave", 1)
        bytes_eq(postfix_received(trace(stored, sender, "dave@example.org", "postfix.test")), data, "stored message")
        sent = re.findall(rf": {qid}: to=<dave@example.org>,.* status=sent", pf.maillog())
        eq(len(sent), 1, "deliveries of the deferred message")


# --------------------------------------------------------------------- Exim


def exim_version():
    try:
        with open(os.path.join(EXIM_ROOT, "VERSION")) as f:
            return f.read().strip()
    except FileNotFoundError:
        return "unknown"


def exim_checks(s, workdir):
    s.peer(f"Exim (exim4-daemon-light {exim_version()}, unpacked in {EXIM_ROOT}) as the sending MTA")
    tx = Tinymx(workdir, "exim-tinymx", ["-v"])
    try:
        d = os.path.join(workdir, "exim")
        os.makedirs(d)
        conf = os.path.join(d, "exim.conf")
        with open(os.path.join(HERE, "exim/exim.conf.in"), encoding="utf-8") as f:
            text = f.read().replace("@DIR@", d).replace("@PORT@", str(tx.port)).replace("@EXIM@", EXIM)
        if os.environ.get("TZ"):
            # Exim clears its environment (keep_environment is empty) and
            # takes its zone from `timezone` alone: give it the caller's TZ,
            # which Postfix (import_environment) and smtp-source use too.
            text = f"timezone = {os.environ['TZ']}\n" + text
        with open(conf, "w", encoding="utf-8") as f:
            f.write(text)
        sender = "alice@example.com"
        logs = os.path.join(d, "spool/log")

        def log_size(name):
            try:
                return os.path.getsize(os.path.join(logs, name))
            except FileNotFoundError:
                return 0

        def log_since(name, offset):
            try:
                with open(os.path.join(logs, name), "rb") as f:
                    f.seek(offset)
                    return f.read().decode(errors="replace")
            except FileNotFoundError:
                return ""

        def exim(rcpts, data, extra=()):
            """Submits and delivers (-odi: before exiting; -oi: a lone "." is
            data); checks that Exim left nothing in its queue (nothing
            frozen or deferred) and added nothing to its panic log; returns
            what it added to its main log."""
            main0, panic0 = log_size("mainlog"), log_size("paniclog")
            run([EXIM, "-C", conf, "-odi", "-oi", "-f", sender, *extra, "--", *rcpts], input=data)
            eq(run([EXIM, "-C", conf, "-bpc"]).stdout.decode().strip(), "0", "messages in Exim's queue")
            # Exim notes in its panic log each time root runs it with -C.
            other = [l for l in log_since("paniclog", panic0).splitlines()
                     if not l.endswith(" exim user lost privilege for using -C option")]
            eq(other, [], "Exim's panic log")
            return log_since("mainlog", main0)

        def received(rest, rcpt, show=False):
            for_ = rf"\n\tfor {re.escape(rcpt)}" if rcpt else ""
            return mta_received(
                rest,
                rf"Received: from root by exim\.test with local \(Exim [0-9.]+\)\n"
                rf"\t\(envelope-from <{re.escape(sender)}>\)\n\tid [0-9A-Za-z-]+{for_}",
                "Exim", show)

        def cleanup():
            # What a failed check left in Exim's queue, and Exim's hints
            # (after a deferral, a retry time for 127.0.0.1 would hold back
            # the next check's delivery); then the spool. No Exim process
            # runs between checks (no daemon, -odi).
            listing = run([EXIM, "-C", conf, "-bp"]).stdout.decode(errors="replace")
            ids = re.findall(r"^ *\S+ +\S+ +([0-9A-Za-z]+-[0-9A-Za-z]+-[0-9A-Za-z]+) ", listing, re.M)
            if ids:
                run([EXIM, "-C", conf, "-Mrm", *ids])
            for p in files(os.path.join(d, "spool/db")):
                os.unlink(p)
            tx.clean()

        with s.case("exim: plain message, dot lines and a 900-byte line, byte-exact", cleanup):
            data = plain("ex-plain", sender, ["bob@example.org"])
            log = exim(["bob@example.org"], data)
            # K: Exim sent the message with BDAT (CHUNKING, RFC 3030).
            assert re.search(r"=> bob@example.org R=tinymx T=to_tinymx H=127.0.0.1 \[127.0.0.1\] "
                             r"K C=\"250 2.0.0 Ok: queued as ", log), log
            (stored,) = tx.wait_new("bob", 1)
            bytes_eq(received(trace(stored, sender, "bob@example.org", "exim.test"), "bob@example.org", True),
                     data, "stored message")

        with s.case("exim: 8-bit body, byte-exact", cleanup):
            data = eight_bit("ex-8bit", sender, ["carol@example.org"])
            exim(["carol@example.org"], data, ["-B8BITMIME"])
            (stored,) = tx.wait_new("carol", 1)
            bytes_eq(received(trace(stored, sender, "carol@example.org", "exim.test"), "carol@example.org"),
                     data, "stored message")

        with s.case("exim: two recipients in one message, one copy each", cleanup):
            rcpts = ["dave@example.org", "erin@example.org"]
            data = plain("ex-multi", sender, rcpts)
            exim(rcpts, data)
            for r in rcpts:
                (stored,) = tx.wait_new(r.split("@")[0], 1)
                bytes_eq(received(trace(stored, sender, r, "exim.test"), None), data, f"copy for {r}")
        with s.case("exim: BDAT and DATA deliveries of one message store the same bytes", cleanup):
            mark = tx.mark()
            rcpts = ["carol@example.org", "data-carol@example.org"]
            data = plain("ex-bdat", sender, rcpts)
            log = exim(rcpts, data)
            assert re.search(r"=> carol@example.org R=tinymx T=to_tinymx H=127.0.0.1 \[127.0.0.1\] "
                             r"K C=\"250 2.0.0 Ok: queued as ", log), log
            assert re.search(r"=> data-carol@example.org R=tinymx_data T=to_tinymx_data "
                             r"H=127.0.0.1 \[127.0.0.1\] C=\"250 2.0.0 Ok: queued as ", log), log
            # tinymx's own log (-v) says which command carried each.
            cmds = [l.split(" >>> ", 1)[1] for l in tx.log()[mark:] if " >>> " in l]
            assert any(re.fullmatch(r"BDAT [0-9]+ LAST", c) for c in cmds), cmds
            assert "DATA" in cmds, cmds
            (bdat,) = tx.wait_new("carol", 1)
            (via_data,) = tx.wait_new("data-carol", 1)
            # (Two recipients: Exim's Received has no "for".)
            a = received(trace(bdat, sender, "carol@example.org", "exim.test"), None)
            b = received(trace(via_data, sender, "data-carol@example.org", "exim.test"), None)
            bytes_eq(a, b, "BDAT copy against the DATA copy")
            bytes_eq(a, data, "stored message")

        with s.case("exim: a 3 MB attachment over BDAT, byte-exact", cleanup):
            payload = attachment_payload()
            data = with_attachment("ex-big", sender, ["dave@example.org"], payload)
            log = exim(["dave@example.org"], data)
            assert " K C=" in log, log
            (stored,) = tx.wait_new("dave", 1)
            rest = received(trace(stored, sender, "dave@example.org", "exim.test"), "dave@example.org")
            bytes_eq(rest, data, "stored message")
            eq(attachment_of(stored), payload, "decoded attachment")
        # (After each submission exim() checks that Exim's queue is empty,
        # nothing frozen or deferred, and that its panic log has nothing new.)
    finally:
        tx.stop()


# ------------------------------------------------------------------ clients


def client_checks(s, workdir):
    s.peer(f"clients: swaks {pkg_version('swaks')}, curl {pkg_version('curl')}, "
           f"msmtp {pkg_version('msmtp')}, Python {sys.version.split()[0]} smtplib")
    tx = Tinymx(workdir, "clients-tinymx")
    d = os.path.join(workdir, "clients")
    os.makedirs(d)
    try:
        client_cases(s, tx, d)
    finally:
        tx.stop()


def swaks_transcript_data(out):
    """What swaks sent after DATA, rebuilt from its transcript (' -> ' lines,
    ' ~> ' over TLS, between the 354 reply and the lone dot),
    dot-unstuffed, CRLF ends."""
    lines = out.replace("\r\n", "\n").split("\n")
    start = next(i for i, l in enumerate(lines) if l[:8] in ("<-  354 ", "<** 354 ", "<~  354 ", "<~* 354 "))
    data = []
    for l in lines[start + 1:]:
        if l in (" -> .", " ~> ."):
            break
        if l.startswith((" -> ", " ~> ")):
            t = l[4:]
            data.append(t[1:] if t.startswith("..") else t)
    return ("\r\n".join(data) + "\r\n").encode()


def client_cases(s, tx, d):
    port = str(tx.port)
    server = f"127.0.0.1:{port}"
    # Each check starts with an empty spool (each also writes the files it
    # sends itself).
    cleanup = tx.clean

    def msmtp_conf():
        """msmtp's configuration (written by each check that runs msmtp)
        and its log file."""
        conf = os.path.join(d, "msmtprc")
        log = os.path.join(d, "msmtp.log")
        with open(os.path.join(HERE, "msmtp/msmtprc.in"), encoding="utf-8") as f:
            text = f.read().replace("@PORT@", port).replace("@LOG@", log)
        with open(conf, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(conf, 0o600)
        return conf, log

    with s.case("swaks --pipeline: replies in order, message byte-exact", cleanup):
        data = plain("swaks-pipe", "alice@example.com", ["bob@example.org"])
        path = os.path.join(d, "swaks.eml")
        with open(path, "wb") as f:
            # swaks sends the file's lines with CRLF, then CRLF "." CRLF:
            # a final newline in the file would become an extra empty line.
            f.write(data[:-1])
        p = run(["swaks", "--server", server, "--helo", "swaks.test", "--from", "alice@example.com",
                 "--to", "bob@example.org", "--pipeline", "--data", "@" + path])
        out = p.stdout.decode()
        # MAIL, RCPT and DATA go out together, then their three replies.
        want = (" -> MAIL FROM:<alice@example.com>\n -> RCPT TO:<bob@example.org>\n -> DATA\n"
                "<-  250 2.1.0 Sender ok\n<-  250 2.1.5 Recipient ok\n"
                "<-  354 End data with <CR><LF>.<CR><LF>\n")
        assert want in out, f"swaks transcript lacks the pipelined group:\n{out}"
        assert re.search(r"\n<-  250 2\.0\.0 Ok: queued as \S+\n -> QUIT\n<-  221 2\.0\.0 Bye\n", out), out
        assert "250-PIPELINING" in out, out
        (stored,) = tx.wait_new("bob", 1)
        bytes_eq(trace(stored, "alice@example.com", "bob@example.org", "swaks.test"), data, "stored message")

    with s.case("swaks --attach: MIME message byte-exact, attachment decodes", cleanup):
        payload = random.Random(5).randbytes(200_000)
        path = os.path.join(d, "blob.bin")
        with open(path, "wb") as f:
            f.write(payload)
        p = run(["swaks", "--server", server, "--helo", "swaks.test", "--from", "alice@example.com",
                 "--to", "carol@example.org", "--pipeline", "--attach-type", "application/octet-stream",
                 "--attach", "@" + path, "--body", "see the attachment"])
        out = p.stdout.decode()
        assert re.search(r"\n<-  250 2\.0\.0 Ok: queued as ", out), out
        sent = swaks_transcript_data(out)
        (stored,) = tx.wait_new("carol", 1)
        body = trace(stored, "alice@example.com", "carol@example.org", "swaks.test")
        bytes_eq(body, lf(sent), "stored message vs swaks's transcript")
        assert attachment_of(body) == payload, "decoded attachment differs"

    with s.case("curl smtp://: two recipients, dot-stuffing, byte-exact", cleanup):
        data = crlf(plain("curl", "alice@example.com", ["dave@example.org", "erin@example.org"]))
        path = os.path.join(d, "curl.eml")
        with open(path, "wb") as f:
            f.write(data)
        p = run(["curl", "-sS", "-v", "--max-time", "30", "--mail-from", "alice@example.com",
                 "--mail-rcpt", "dave@example.org", "--mail-rcpt", "erin@example.org",
                 "--upload-file", path, f"smtp://{server}/curl.test"])
        err = p.stderr.decode()
        for want in ("< 220 mx.test ESMTP tinymx", "> EHLO curl.test", "< 250 2.1.0 Sender ok",
                     "< 250 2.1.5 Recipient ok", "< 354 End data", "< 250 2.0.0 Ok: queued as "):
            assert want in err, f"curl -v lacks {want!r}:\n{err}"
        for r in ("dave@example.org", "erin@example.org"):
            (stored,) = tx.wait_new(r.split("@")[0], 1)
            bytes_eq(trace(stored, "alice@example.com", r, "curl.test"), lf(data), f"copy for {r}")

    with s.case("msmtp: LF file in, CRLF and dot-stuffing on the wire, byte-exact", cleanup):
        conf, log = msmtp_conf()
        log0 = os.path.getsize(log) if os.path.exists(log) else 0
        data = plain("msmtp", "alice@example.com", ["frank@example.org"])
        run(["msmtp", "-C", conf, "-f", "alice@example.com", "--", "frank@example.org"], input=data)
        (stored,) = tx.wait_new("frank", 1)
        bytes_eq(trace(stored, "alice@example.com", "frank@example.org", "msmtp.test"), data, "stored message")
        text = read(log)[log0:].decode(errors="replace")  # this check's log lines
        assert "smtpstatus=250" in text and "exitcode=EX_OK" in text, text

    with s.case("msmtp -t: 8-bit message, recipients from its headers", cleanup):
        conf, _ = msmtp_conf()
        data = eight_bit("msmtp-8bit", "alice@example.com", ["grace@example.org"])
        run(["msmtp", "-C", conf, "-t"], input=data)
        (stored,) = tx.wait_new("grace", 1)
        bytes_eq(trace(stored, "alice@example.com", "grace@example.org", "msmtp.test"), data, "stored message")

    with s.case("smtplib + email.message: UTF-8 subject (RFC 2047), ASCII addresses", cleanup):
        m = email.message.EmailMessage()
        m["From"] = "Jörg <alice@example.com>"
        m["To"] = "heidi@example.org"
        m["Subject"] = "Grüße aus Köln ✓"
        m["Date"] = DATE
        m["Message-ID"] = "<smtplib-2047@interop.test>"
        m.set_content("Grüße — ✓\n.leading dot\n")
        want = m.as_bytes(policy=m.policy.clone(linesep="\r\n"))
        assert b"Subject: =?utf-8?" in want, want[:400]
        with smtplib.SMTP("127.0.0.1", tx.port, local_hostname="smtplib.test", timeout=30) as c:
            eq(c.send_message(m), {}, "refused recipients")
        (stored,) = tx.wait_new("heidi", 1)
        body = trace(stored, "alice@example.com", "heidi@example.org", "smtplib.test")
        bytes_eq(body, lf(want), "stored message")
        eq(email.message_from_bytes(body, policy=email.policy.default)["Subject"], "Grüße aus Köln ✓",
           "decoded Subject")

    with s.case("smtplib + email.message: SMTPUTF8 addresses and a raw UTF-8 subject", cleanup):
        m = email.message.EmailMessage()
        m["From"] = "Jörg <jörg@exämple.org>"
        m["To"] = "ivan@exämple.org"
        m["Subject"] = "Grüße ✓ 日本語"
        m["Date"] = DATE
        m["Message-ID"] = "<smtplib-utf8@interop.test>"
        m.set_content("Grüße — ✓\n")
        # What send_message sends: the UTF-8 policy, CRLF.
        want = m.as_bytes(policy=m.policy.clone(utf8=True, linesep="\r\n"))
        assert "Subject: Grüße ✓ 日本語".encode() in want, want[:400]
        with smtplib.SMTP("127.0.0.1", tx.port, local_hostname="smtplib.test", timeout=30) as c:
            c.ehlo()
            assert c.has_extn("smtputf8"), c.esmtp_features
            eq(c.send_message(m), {}, "refused recipients")
        (stored,) = tx.wait_new("ivan", 1)
        body = trace(stored, "jörg@exämple.org", "ivan@exämple.org", "smtplib.test", "UTF8SMTP")
        bytes_eq(body, lf(want), "stored message")


# ---------------------------------------------------------------------- TLS


def tls_bin_problem():
    """Why the tls group cannot run, or None: TINYMX_TLS_BIN unset or not
    an executable file. Its checks then fail with this message."""
    if TLS_BIN is None:
        return ("TINYMX_TLS_BIN is not set: the TLS checks need tinymx's TLS build "
                "(make tls builds it; make test-interop passes its path)")
    if not os.access(TLS_BIN, os.X_OK):
        return f"TINYMX_TLS_BIN={TLS_BIN}: no such executable (make tls builds it)"
    return None


def test_ca(d):
    """openssl: a test CA (key and self-signed certificate) and tinymx's
    server certificate (key, CSR, signed by the CA) for the names and the
    address the clients connect to, in d. Returns the paths."""
    p = {n: os.path.join(d, n) for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt",
                                         "server.ext")}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run(["openssl", "req", "-x509", *ec, "-keyout", p["ca.key"], "-out", p["ca.crt"], "-days", "2",
         "-subj", "/CN=tinymx interop test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    run(["openssl", "req", "-new", *ec, "-keyout", p["server.key"], "-out", p["server.csr"],
         "-subj", f"/CN={HOST}"])
    san = f"DNS:{HOST},DNS:localhost,IP:127.0.0.1"
    with open(p["server.ext"], "w") as f:
        f.write(f"subjectAltName = {san}\nbasicConstraints = critical,CA:FALSE\n"
                "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n")
    run(["openssl", "x509", "-req", "-in", p["server.csr"], "-CA", p["ca.crt"], "-CAkey", p["ca.key"],
         "-set_serial", str(random.getrandbits(63)), "-days", "2", "-extfile", p["server.ext"],
         "-out", p["server.crt"]])
    eq(run(["openssl", "verify", "-CAfile", p["ca.crt"], p["server.crt"]]).stdout.decode(),
       f"{p['server.crt']}: OK\n", "openssl verify of tinymx's certificate")
    ext = run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", p["server.crt"]]).stdout.decode()
    eq(ext.split("\n", 1)[1].strip(), f"DNS:{HOST}, DNS:localhost, IP Address:127.0.0.1",
       "the certificate's subjectAltName")
    return p


def session_id(stored):
    """The session id in tinymx's Received header (its third line)."""
    return re.search(rb" id (\S+) for ", stored.split(b"\n", 3)[2]).group(1).decode()


def session_commands(tx, sid):
    """The commands of one session, as tinymx -v logged them."""
    return [l.split(" >>> ", 1)[1] for l in tx.log() if l.startswith(f"tinymx: {sid} >>> ")]


def check_tls_logged(tx, sid, cipher, since):
    """tinymx logged the handshake (`SID STARTTLS: TLSv1.3 CIPHER`) and
    the message's `accepted` line with tls= and cipher=; returns the
    latter."""
    tx.wait_log(lambda ls: f"tinymx: {sid} STARTTLS: TLSv1.3 {cipher}" in ls,
                f"'{sid} STARTTLS: TLSv1.3 {cipher}'", since=since)
    accepted = tx.wait_log(lambda ls: [l for l in ls if l.startswith(f"tinymx: {sid} accepted ")],
                           f"{sid}'s accepted line", since=since)
    eq(len(accepted), 1, f"{sid}'s accepted lines")
    assert re.search(rf" size=\d+ tls=TLSv1\.3 cipher={re.escape(cipher)} files=", accepted[0]), accepted[0]
    return accepted[0]


def tls_checks(s, workdir):
    s.peer(f"TLS: tinymx's TLS build ({TLS_BIN or 'TINYMX_TLS_BIN unset'}) with a test CA's "
           f"certificate; Postfix {pkg_version('postfix')} (smtp_tls_security_level = encrypt), "
           f"swaks --tls, curl --ssl-reqd, OpenSSL {pkg_version('openssl')}")
    d = os.path.join(workdir, "tls")
    os.makedirs(d)
    t = {}  # what the start made: ca, tx (TLS build), plain (plain build), pf
    broken = []  # why the checks cannot run

    def ready():
        if broken:
            raise AssertionError(broken[0])

    try:
        with s.case("tls: test CA and tinymx's certificate (openssl); TLS and plain builds, "
                    "a private Postfix with smtp_tls_security_level = encrypt, start"):
            problem = tls_bin_problem()
            if problem:
                broken.append(problem)
                raise AssertionError(problem)
            t["ca"] = ca = test_ca(d)
            version = run([TLS_BIN, "--version"]).stdout.decode().strip()
            print(f"   {version} ({TLS_BIN})", flush=True)
            t["tx"] = Tinymx(workdir, "tls-tinymx", ["-v", "--tls-cert", ca["server.crt"],
                                                     "--tls-key", ca["server.key"]], bin=TLS_BIN)
            t["plain"] = Tinymx(workdir, "tls-plain-tinymx", ["-v"])
            with open(os.path.join(HERE, "postfix/tls.cf.in"), encoding="utf-8") as f:
                text = f.read().replace("@CA@", ca["ca.crt"]).replace("@PLAINPORT@", str(t["plain"].port))
            settings = [l for l in text.splitlines() if l.strip() and not l.startswith("#")]
            t["pf"] = Postfix(workdir, t["tx"].port, "postfix-tls", settings,
                              ["tlsmgr/unix=tlsmgr unix - - n 1000? 1 tlsmgr"])
            t["pf"].start()
            eq(listening(t["pf"].pids()), [], "postfix's listening TCP sockets")
        if not broken and (t.get("pf") is None or t["pf"].master is None):
            broken.append("the TLS group's start failed (see above): this check cannot run")
        tls_cases(s, t, ready)
    finally:
        if t.get("tx") or t.get("plain") or t.get("pf"):
            with s.case("tls: stop Postfix by its master pid, every relay one of the two tinymx; "
                        "both tinymx stop"):
                try:
                    pf = t.get("pf")
                    if pf is not None and pf.stop():
                        relays = {f"127.0.0.1[127.0.0.1]:{t[k].port}" for k in ("tx", "plain")}
                        for line in pf.maillog().splitlines():
                            m = re.search(r" relay=(\S+),", line)
                            if m:
                                assert m.group(1) in relays, f"relay in {line!r} (want one of {relays})"
                finally:
                    for k in ("tx", "plain"):
                        if t.get(k) is not None:
                            t[k].stop()


def tls_cases(s, t, ready):
    ca, tx, plain_tx, pf = t.get("ca"), t.get("tx"), t.get("plain"), t.get("pf")
    sender = "alice@example.org"

    def cleanup():
        # Nothing to put back when the start failed.
        if pf is not None and pf.master is not None:
            pf.clear_queue()
        for x in (tx, plain_tx):
            if x is not None:
                x.clean()

    with s.case("tls: postfix (encrypt) → TLS build: Trusted TLSv1.3 in Postfix's log, "
                "ESMTPS and the cipher in Received and tinymx's log, byte-exact", cleanup):
        ready()
        mark = tx.mark()
        data = plain("pf-tls", sender, ["bob@example.org"])
        pf.sendmail(sender, ["bob@example.org"], data)
        qid = pf.queue_id("pf-tls@interop.test")
        status = pf.wait_status(qid, "bob@example.org", "sent")
        assert f" relay=127.0.0.1[127.0.0.1]:{tx.port}," in status, status
        # The smtp process that delivered logged its handshake first
        # (smtp_tls_loglevel = 1); Trusted: the chain verified against
        # the test CA (encrypt does not match the name).
        smtp = re.search(r"postfix-interop/smtp\[(\d+)\]: ", status).group(1)
        log = pf.maillog()[pf.submitted:]
        m = re.search(rf"postfix-interop/smtp\[{smtp}\]: (Trusted TLS connection established to "
                      rf"127\.0\.0\.1\[127\.0\.0\.1\]:{tx.port}: (TLSv[0-9.]+) with cipher (\S+) .*)$",
                      log[:log.index(status)], re.M)
        assert m, f"Postfix's log has no TLS line from smtp[{smtp}] before {status!r}:\n{log}"
        print(f"       Postfix: {m.group(1)}", flush=True)
        eq(m.group(2), "TLSv1.3", "the protocol Postfix negotiated")
        cipher = m.group(3)
        (stored,) = tx.wait_new("bob", 1)
        rest = trace(stored, sender, "bob@example.org", "postfix.test", f"ESMTPS (TLS1.3 {cipher})")
        bytes_eq(postfix_received(rest), data, "stored message")
        sid = session_id(stored)
        check_tls_logged(tx, sid, cipher, mark)
        # STARTTLS, then EHLO again over TLS, then the transaction; over
        # DATA, as without TLS.
        cmds = session_commands(tx, sid)
        eq(cmds[:3], ["EHLO postfix.test", "STARTTLS", "EHLO postfix.test"], f"{sid}'s first commands")
        assert re.fullmatch(r"MAIL FROM:<alice@example\.org> SIZE=\d+", cmds[3]), cmds
        eq(cmds[4:], ["RCPT TO:<bob@example.org>", "DATA", "QUIT"], f"{sid}'s commands after MAIL")

    with s.case("tls: postfix (encrypt) → plain build (no STARTTLS): deferred, TLS required but "
                "not offered; nothing stored; postsuper -d", cleanup):
        ready()
        mark = plain_tx.mark()
        rcpt = "bob@plain.example.org"
        data = plain("pf-notls", sender, [rcpt])
        pf.sendmail(sender, [rcpt], data)
        qid = pf.queue_id("pf-notls@interop.test")
        reason = "TLS is required, but was not offered by host 127.0.0.1[127.0.0.1]"
        line = pf.wait_status(qid, rcpt, "deferred")
        assert f" relay=127.0.0.1[127.0.0.1]:{plain_tx.port}," in line, line
        assert line.endswith(f", dsn=4.7.4, status=deferred ({reason})"), line
        queued = pf.queued()
        eq([(q["queue_id"], q["queue_name"]) for q in queued], [(qid, "deferred")], "postfix queue")
        eq([r["address"] for r in queued[0]["recipients"]], [rcpt], "the deferred message's recipients")
        eq(queued[0]["recipients"][0]["delay_reason"], reason, "postqueue's delay_reason")
        # Postfix read the EHLO reply (no STARTTLS in it) and quit.
        ends = plain_tx.wait_log(lambda ls: [l for l in ls if " disconnect from " in l],
                                 "the plain build's disconnect line", since=mark)
        eq(len(ends), 1, "sessions on the plain build")
        m = re.search(r"tinymx: (\S+) disconnect from .* messages=0 .*end=quit", ends[0])
        assert m, ends[0]
        eq(session_commands(plain_tx, m.group(1)), ["EHLO postfix.test", "QUIT"], "its commands")
        eq(plain_tx.mailboxes(), [], "the plain build's spool")
        run(["postsuper", "-c", pf.etc, "-d", qid])
        pf.wait_queue_empty()
        assert re.search(rf"postfix-interop/postsuper\[\d+\]: {qid}: removed$", pf.maillog(), re.M), \
            pf.maillog()[-2000:]

    with s.case("tls: swaks --tls --tls-verify: STARTTLS 220, TLS started, the rest over TLS, "
                "message byte-exact, ESMTPS", cleanup):
        ready()
        mark = tx.mark()
        data = plain("swaks-tls", "alice@example.com", ["carol@example.org"])
        path = os.path.join(os.path.dirname(ca["ca.crt"]), "swaks.eml")
        with open(path, "wb") as f:
            f.write(data[:-1])  # (as in the clients group: swaks ends the data with CRLF)
        p = run(["swaks", "--server", f"127.0.0.1:{tx.port}", "--tls", "--tls-verify",
                 "--tls-ca-path", ca["ca.crt"], "--helo", "swaks.test", "--from", "alice@example.com",
                 "--to", "carol@example.org", "--data", "@" + path])
        out = p.stdout.decode()
        # In swaks's transcript "->"/"<-" are plain text, "~>"/"<~" TLS.
        m = re.search(r"\n<-  250-STARTTLS\n(?:<-  250[- ].*\n)* -> STARTTLS\n<-  220 2\.0\.0 Ready to start TLS\n"
                      r"(=== TLS started with cipher (TLSv[0-9.]+):(\S+):\d+)\n", out)
        assert m, f"swaks transcript lacks STARTTLS, its 220 and 'TLS started':\n{out}"
        eq(m.group(2), "TLSv1.3", "the protocol swaks negotiated")
        cipher = m.group(3)
        after = out[m.end():]
        assert re.match(r"(=== .*\n)* ~> EHLO swaks\.test\n", after), after
        for want in (" ~> MAIL FROM:<alice@example.com>\n", " ~> RCPT TO:<carol@example.org>\n",
                     " ~> DATA\n", "<~  354 ", "<~  250 2.0.0 Ok: queued as ", " ~> QUIT\n<~  221 2.0.0 Bye\n"):
            assert want in after, f"swaks transcript after STARTTLS lacks {want!r}:\n{out}"
        assert not re.search(r"^( -> |<-  )", after, re.M), f"plain text after STARTTLS:\n{out}"
        # RFC 3207 section 4.2: STARTTLS is not offered again over TLS.
        assert "<~  250-STARTTLS" not in after and "<~  250 STARTTLS" not in after, after
        (stored,) = tx.wait_new("carol", 1)
        rest = trace(stored, "alice@example.com", "carol@example.org", "swaks.test", f"ESMTPS (TLS1.3 {cipher})")
        bytes_eq(rest, data, "stored message")
        bytes_eq(rest, lf(swaks_transcript_data(out)), "stored message vs swaks's transcript")
        check_tls_logged(tx, session_id(stored), cipher, mark)
        print(f"       swaks: {m.group(1)}", flush=True)

    with s.case("tls: curl --ssl-reqd --cacert: certificate verified, two recipients, "
                "byte-exact as curl sends it, ESMTPS", cleanup):
        ready()
        mark = tx.mark()
        rcpts = ["dave@example.org", "erin@example.org"]
        data = crlf(plain("curl-tls", "alice@example.com", rcpts))
        path = os.path.join(os.path.dirname(ca["ca.crt"]), "curl.eml")
        with open(path, "wb") as f:
            f.write(data)
        p = run(["curl", "-sS", "-v", "--max-time", "30", "--ssl-reqd", "--cacert", ca["ca.crt"],
                 "--mail-from", "alice@example.com", "--mail-rcpt", rcpts[0], "--mail-rcpt", rcpts[1],
                 "--upload-file", path, f"smtp://127.0.0.1:{tx.port}/curl.test"])
        err = p.stderr.decode()
        m = re.search(r"^\* SSL connection using (TLSv[0-9.]+) / (\S+)$", err, re.M)
        assert m, f"curl -v names no TLS connection:\n{err}"
        eq(m.group(1), "TLSv1.3", "the protocol curl negotiated")
        cipher = m.group(2)
        for want in ("< 250-STARTTLS", "> STARTTLS", "< 220 2.0.0 Ready to start TLS",
                     "*  SSL certificate verify ok.", "< 250 2.1.0 Sender ok", "< 354 End data",
                     "< 250 2.0.0 Ok: queued as "):
            assert want in err, f"curl -v lacks {want!r}:\n{err}"
        # Everything from MAIL on came after the handshake.
        assert err.index("* SSL connection using") < err.index("> MAIL FROM:<alice@example.com>"), err
        sids = set()
        for r in rcpts:
            (stored,) = tx.wait_new(r.split("@")[0], 1)
            bytes_eq(trace(stored, "alice@example.com", r, "curl.test", f"ESMTPS (TLS1.3 {cipher})"),
                     lf(data), f"copy for {r}")
            sids.add(session_id(stored))
        eq(len(sids), 1, "sessions of the two copies")
        accepted = check_tls_logged(tx, sids.pop(), cipher, mark)
        assert " to=<dave@example.org>,<erin@example.org> " in accepted, accepted
        print(f"       curl: {m.group(0)[2:]}", flush=True)


# ------------------------------------------------------------- spool readers


def reader_checks(s, workdir):
    s.peer(f"spool readers: mblaze {pkg_version('mblaze')} (mlist, mshow, minc, mflag), "
           f"Python {sys.version.split()[0]} mailbox.Maildir")
    tx = Tinymx(workdir, "readers-tinymx")
    d = os.path.join(workdir, "readers")
    os.makedirs(os.path.join(d, "mblaze"))
    # mblaze reads its profile and sequence from $MBLAZE: an empty folder.
    env = dict(os.environ, MBLAZE=os.path.join(d, "mblaze"), MAILSEQ=os.path.join(d, "mblaze/seq"),
               LC_ALL="C.UTF-8", PAGER="cat", NO_COLOR="1")
    try:
        reader_cases(s, tx, env)
    finally:
        tx.stop()


def smtp_send(port, sender, rcpts, data, smtputf8=False):
    with smtplib.SMTP("127.0.0.1", port, local_hostname="reader.test", timeout=30) as c:
        opts = ["SMTPUTF8", "BODY=8BITMIME"] if smtputf8 else ["BODY=8BITMIME"]
        eq(c.sendmail(sender, rcpts, crlf(data), mail_options=opts), {}, "refused recipients")


def reader_cases(s, tx, env):
    box = os.path.join(tx.spool, "bob")
    payload = random.Random(7).randbytes(100_000)
    # tag -> (sender, subject as decoded, body text, message bytes)
    catalogue = {}
    smtputf8_tags = set()

    def add(tag, sender, subject, body, data, smtputf8=False):
        catalogue[tag] = (sender, subject, body, data)
        if smtputf8:
            smtputf8_tags.add(tag)

    def deliver_six():
        """Delivers the six messages to bob, into an empty new/: each check
        reads its own copies (and the cleanup removes them again)."""
        for tag, (sender, _, _, data) in catalogue.items():
            smtp_send(tx.port, sender, ["bob@example.org"], data, tag in smtputf8_tags)
        tx.wait_new("bob", len(catalogue))

    # Each check starts with an empty spool.
    cleanup = tx.clean

    # The six messages: made once here, delivered by each check.
    add("r-plain", "alice@example.com", "plain r-plain", "\n".join(TRICKY) + "\n",
        plain("r-plain", "alice@example.com", ["bob@example.org"]))
    eb = eight_bit("r-8bit", "carol@example.com", ["bob@example.org"])
    add("r-8bit", "carol@example.com", "8-bit grüße", None, eb)
    m = email.message.EmailMessage()
    m["From"] = "Jörg Müller <jorg@example.com>"
    m["To"] = "bob@example.org"
    m["Subject"] = "Grüße aus Köln ✓"
    m["Date"] = DATE
    m["Message-ID"] = "<r-2047@interop.test>"
    m.set_content("Grüße — ✓\n")
    add("r-2047", "jorg@example.com", "Grüße aus Köln ✓", "Grüße — ✓\n", m.as_bytes())
    add("r-attach", "dave@example.com", "attachment r-attach", "A binary file is attached.\n",
        with_attachment("r-attach", "dave@example.com", ["bob@example.org"], payload))
    u = email.message.EmailMessage()
    u["From"] = "jörg@exämple.org"
    u["To"] = "bob@example.org"
    u["Subject"] = "UTF-8 ✓ 日本語"
    u["Date"] = DATE
    u["Message-ID"] = "<r-utf8@interop.test>"
    u.set_content("raw UTF-8 headers\n")
    add("r-utf8", "jörg@exämple.org", "UTF-8 ✓ 日本語", "raw UTF-8 headers\n",
        u.as_bytes(policy=u.policy.clone(utf8=True)), smtputf8=True)
    add("r-empty", "", "plain r-empty", "\n", text_message("r-empty", "MAILER-DAEMON@example.com",
                                                              ["bob@example.org"], "plain r-empty", [""]))

    with s.case("readers: deliver six different messages", cleanup):
        deliver_six()

    def parse(path):
        return email.message_from_bytes(read(path), policy=email.policy.default)

    def by_tag(paths):
        out = {}
        for p in paths:
            mid = parse(p)["Message-ID"]
            tag = mid.strip("<>").split("@")[0]
            assert tag not in out, f"{mid} twice: {out.get(tag)} and {p}"
            out[tag] = p
        return out

    with s.case("mblaze mlist: lists every message in new/, nothing else", cleanup):
        deliver_six()
        p = run(["mlist", box], env=env)
        listed = sorted(p.stdout.decode().splitlines())
        eq(listed, tx.new("bob"), "mlist bob")
        eq(sorted(run(["mlist", "-N", box], env=env).stdout.decode().splitlines()), listed, "mlist -N")
        eq(run(["mlist", "-C", box], env=env).stdout, b"", "mlist -C (cur/ is empty)")

    with s.case("mblaze mshow: right subject, sender and body for every message", cleanup):
        deliver_six()
        paths = by_tag(tx.new("bob"))
        eq(sorted(paths), sorted(catalogue), "messages by Message-ID")
        for tag, (sender, subject, body, data) in catalogue.items():
            path = paths[tag]
            hdr = run(["mshow", "-n", "-q", "-h", "return-path:subject", path], env=env).stdout.decode()
            eq(hdr, f"Return-Path: <{sender}>\nSubject: {subject}\n", f"mshow -q of {tag}")
            raw = run(["mshow", "-n", "-r", path], env=env).stdout
            bytes_eq(raw.split(b"\n\n", 1)[1], data.split(b"\n\n", 1)[1], f"mshow -r body of {tag}")
            if body is not None and tag != "r-attach":
                # No headers asked for: an empty line, then the decoded text.
                shown = run(["mshow", "-n", "-N", "-h", "", path], env=env).stdout.decode()
                eq(shown, "\n" + body, f"mshow of {tag}")
        parts = run(["mshow", "-n", "-t", paths["r-attach"]], env=env).stdout.decode()
        assert "application/octet-stream" in parts and "blob.bin" in parts, parts
        num = next(l.split(":")[0].strip() for l in parts.splitlines() if "blob.bin" in l)
        got = run(["mshow", "-n", "-O", paths["r-attach"], num], env=env).stdout
        assert got == payload, f"mshow -O attachment: {len(got)} bytes, not the original {len(payload)}"

    with s.case("Python mailbox.Maildir: parses every message (subject, sender, body)", cleanup):
        deliver_six()
        md = mailbox.Maildir(box, factory=None, create=False)
        keys = md.keys()
        eq(len(keys), len(catalogue), "messages in the Maildir")
        seen = set()
        for key in keys:
            m = md.get_message(key)
            eq(m.get_subdir(), "new", f"subdir of {key}")
            stored = md.get_bytes(key)
            pm = email.message_from_bytes(stored, policy=email.policy.default)
            tag = pm["Message-ID"].strip("<>").split("@")[0]
            sender, subject, body, data = catalogue[tag]
            seen.add(tag)
            bytes_eq(trace(stored, sender, "bob@example.org", "reader.test",
                           "UTF8SMTP" if tag == "r-utf8" else "ESMTP"), data, f"{tag} as stored")
            eq(pm["Subject"], subject, f"Subject of {tag}")
            eq(pm["Return-Path"], f"<{sender}>", f"Return-Path of {tag}")
            if body is not None:
                eq(pm.get_body(("plain",)).get_content(), body, f"body of {tag}")
            else:
                part = pm.get_body(("plain",))
                bytes_eq(part.get_payload(decode=True), data.split(b"\n\n", 1)[1], f"8-bit body of {tag}")
        eq(seen, set(catalogue), "messages seen")
        att = next(md.get_bytes(k) for k in keys if b"<r-attach@" in md.get_bytes(k))
        assert attachment_of(att) == payload, "decoded attachment differs"

    with s.case("readers move new/ → cur/ (mailbox; minc + mflag) while tinymx delivers 200 more", cleanup):
        deliver_six()
        total = 200
        errors = []

        def deliver():
            try:
                with smtplib.SMTP("127.0.0.1", tx.port, local_hostname="reader.test", timeout=30) as c:
                    deadline = time.monotonic() + WAIT
                    for i in range(total):
                        assert time.monotonic() < deadline, "delivery loop took too long"
                        data = text_message(f"move-{i}", "alice@example.com", ["bob@example.org"],
                                            f"move {i}", [f"message {i}"])
                        eq(c.sendmail("alice@example.com", ["bob@example.org"], crlf(data)), {}, "refused")
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        t = threading.Thread(target=deliver)
        t.start()
        md = mailbox.Maildir(box, factory=None, create=False)
        newdir = os.path.join(box, "new")
        moved = {"mailbox": 0, "minc": 0}
        deadline = time.monotonic() + WAIT
        rounds = 0
        while True:
            done = not t.is_alive()
            if rounds % 2 == 0:
                # Python: mark seen and move into cur/ with the mailbox API.
                for name in sorted(os.listdir(newdir)):
                    m = md.get_message(name)
                    m.set_subdir("cur")
                    m.add_flag("S")
                    md[name] = m
                    moved["mailbox"] += 1
            else:
                # mblaze: minc moves new/ into cur/ (":2,"), mflag -S marks seen.
                incd = run(["minc", box], env=env).stdout.decode().splitlines()
                if incd:
                    flagged = run(["mflag", "-S", *incd], env=env).stdout.decode().splitlines()
                    eq(flagged, [p + "S" for p in incd], "mflag -S output")
                moved["minc"] += len(incd)
            rounds += 1
            if done and rounds % 2 == 0:
                break
            assert time.monotonic() < deadline, "mover loop took too long"
            time.sleep(0.005)
        t.join(WAIT)
        if errors:
            raise errors[0]
        n = total + len(catalogue)
        eq(os.listdir(newdir), [], "new/ after the moves")
        eq(tx.tmp("bob"), [], "tmp/ after the moves")
        cur = files(os.path.join(box, "cur"))
        eq(len(cur), n, "messages in cur/")
        assert all(p.endswith(":2,S") for p in cur), [p for p in cur if not p.endswith(":2,S")][:5]
        tags = sorted(by_tag(cur))
        eq(tags, sorted([f"move-{i}" for i in range(total)] + list(catalogue)), "Message-IDs in cur/")
        for tag, p in by_tag(cur).items():
            if tag.startswith("move-"):
                i = int(tag[5:])
                want = text_message(tag, "alice@example.com", ["bob@example.org"], f"move {i}", [f"message {i}"])
            else:
                want = catalogue[tag][3]
            sender = catalogue[tag][0] if tag in catalogue else "alice@example.com"
            rest = trace(read(p), sender, "bob@example.org", "reader.test",
                         "UTF8SMTP" if tag == "r-utf8" else "ESMTP")
            bytes_eq(rest, want, f"{tag} after the move")
        assert moved["mailbox"] > 0 and moved["minc"] > 0, (moved, rounds)
        eq(sum(moved.values()), n, "messages moved")
        print(f"       moved {moved['mailbox']} with mailbox.Maildir, {moved['minc']} with minc + mflag, "
              f"in {rounds} rounds", flush=True)
        # Both readers still see every message, now seen and in cur/.
        eq(len(mailbox.Maildir(box, factory=None, create=False)), n, "mailbox.Maildir count")
        eq(sorted(run(["mlist", "-C", "-S", box], env=env).stdout.decode().splitlines()), cur, "mlist -C -S")
        hdr = run(["mshow", "-n", "-q", "-h", "subject", by_tag(cur)["r-2047"]], env=env).stdout.decode()
        eq(hdr, "Subject: Grüße aus Köln ✓\n", "mshow after the move")


# ------------------------------------------------------------ IMAP: Dovecot

DOVECOT_IMAP = "/usr/lib/dovecot/imap"
# The user Dovecot reads the spool as, and tinymx (-u) delivers as:
# Dovecot refuses mail access as root.
MAIL_USER = "mail"


def imap_parse(data, i=0):
    """One IMAP value from `data` (bytes) at i: a parenthesised list (a
    Python list), a quoted string or a literal (bytes), NIL (None), or an
    atom (str; a section such as BODY[HEADER.FIELDS (SUBJECT)] is one
    atom). Returns (value, index after it)."""
    while data[i:i + 1] == b" ":
        i += 1
    c = data[i:i + 1]
    if c == b"(":
        out = []
        i += 1
        while True:
            while data[i:i + 1] == b" ":
                i += 1
            if data[i:i + 1] == b")":
                return out, i + 1
            v, i = imap_parse(data, i)
            out.append(v)
    if c == b'"':
        j, s = i + 1, bytearray()
        while data[j:j + 1] != b'"':
            if data[j:j + 1] == b"\\":
                j += 1
            s += data[j:j + 1]
            j += 1
        return bytes(s), j + 1
    if c == b"{":
        m = re.match(rb"\{(\d+)\}\r\n", data[i:])
        n = int(m.group(1))
        j = i + m.end()
        return data[j:j + n], j + n
    m = re.match(rb"[^ ()\"{\[\]\r\n]+", data[i:])
    assert m, f"IMAP: no value at {data[i:i + 60]!r}"
    j = i + m.end()
    if data[j:j + 1] == b"[":
        j = data.index(b"]", j) + 1
    atom = data[i:j].decode()
    return (None if atom.upper() == "NIL" else atom), j


class Imap:
    """Dovecot's imap binary run directly on a Maildir (no daemon, no
    network): PREAUTH on its stdin/stdout, its index and control files in
    `index_dir`, its own settings in a file of ours (-c)."""

    def __init__(self, conf, env):
        self.proc = subprocess.Popen([DOVECOT_IMAP, "-c", conf], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.pid = self.proc.pid
        self.buf = bytearray()
        self.err = bytearray()
        self.cond = threading.Condition()
        self.eof = False
        self.n = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        try:
            greeting = self._line(WAIT)
            assert greeting.startswith(b"* PREAUTH "), f"Dovecot's greeting: {greeting!r}"
        except BaseException:
            self.kill()
            raise

    def _read(self):
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            with self.cond:
                if not chunk:
                    self.eof = True
                else:
                    self.buf += chunk
                self.cond.notify_all()
            if not chunk:
                return

    def _read_err(self):
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            with self.cond:
                self.err += chunk

    def _line(self, timeout):
        """One response line with its literals (CRLF stripped)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            start = 0
            while True:
                k = self.buf.find(b"\r\n", start)
                if k >= 0:
                    m = re.search(rb"\{(\d+)\}$", self.buf[start:k])
                    if m is None:
                        line = bytes(self.buf[:k])
                        del self.buf[:k + 2]
                        return line
                    end = k + 2 + int(m.group(1))
                    if len(self.buf) >= end:
                        start = end
                        continue
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    raise AssertionError(
                        f"Dovecot imap: no complete line within {timeout}s "
                        f"(eof={self.eof}); have {bytes(self.buf[:300])!r}; "
                        f"stderr {self.err.decode(errors='replace')[-1000:]!r}")
                self.cond.wait(min(left, 1))

    def cmd(self, command, timeout=WAIT):
        """Sends one command; returns its untagged lines (bytes, literals
        inline). The tagged reply must be OK."""
        self.n += 1
        tag = f"t{self.n}"
        self.proc.stdin.write(f"{tag} {command}\r\n".encode())
        self.proc.stdin.flush()
        out = []
        while True:
            line = self._line(timeout)
            if line.startswith(tag.encode() + b" "):
                assert line.startswith(tag.encode() + b" OK "), f"IMAP {command!r}: {line!r}"
                return out
            out.append(line)

    def fetch(self, seqset, items):
        """FETCH: {sequence number: {ITEM: value}}, each message once."""
        got = {}
        for line in self.cmd(f"FETCH {seqset} ({items})"):
            m = re.match(rb"\* (\d+) FETCH ", line)
            if not m:
                continue
            lst, end = imap_parse(line, m.end())
            eq(line[end:], b"", "after a FETCH response")
            n = int(m.group(1))
            assert n not in got, f"message {n} fetched twice: {line[:200]!r}"
            got[n] = {lst[k].upper(): lst[k + 1] for k in range(0, len(lst), 2)}
        return got

    def logout(self):
        self.cmd("LOGOUT")
        rc = self.proc.wait(timeout=WAIT)
        eq(rc, 0, f"Dovecot imap's exit status (stderr {self.err.decode(errors='replace')[-500:]!r})")

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)


def exists(lines):
    """The last `* N EXISTS` in untagged lines, or None."""
    ns = [int(m.group(1)) for l in lines for m in [re.match(rb"\* (\d+) EXISTS$", l)] if m]
    return ns[-1] if ns else None


def crlf_size(data):
    """What IMAP counts (RFC822.SIZE, body sizes): octets with CRLF line
    ends, for a stored file with LF ones."""
    return len(data) + data.count(b"\n")


def text_lines(body):
    return body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)


def dovecot_checks(s, workdir):
    s.peer(f"IMAP: Dovecot imap ({DOVECOT_IMAP}, dovecot-imapd {pkg_version('dovecot-imapd')}) "
           f"on the spool, as user {MAIL_USER}")
    pw = pwd.getpwnam(MAIL_USER)
    tx = Tinymx(workdir, "dovecot-tinymx", ["-u", MAIL_USER])
    d = os.path.join(workdir, "dovecot")
    os.makedirs(d)
    try:
        dovecot_cases(s, tx, d, pw)
    finally:
        tx.stop()


def dovecot_cases(s, tx, d, pw):
    box = os.path.join(tx.spool, "bob")
    index = os.path.join(d, "index")  # Dovecot's index and control files
    conf = os.path.join(d, "dovecot.conf")
    with open(conf, "w") as f:
        # base_dir and state_dir are named so that nothing falls back to
        # /run/dovecot or /var/lib/dovecot; the imap binary alone creates
        # neither (checked below).
        f.write(f"mail_location = maildir:{box}:INDEX={index}:CONTROL={index}\n"
                f"base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = /dev/stderr\n"
                f"mail_uid = {MAIL_USER}\nmail_gid = {grp.getgrgid(pw.pw_gid).gr_name}\n"
                f"first_valid_uid = {pw.pw_uid}\nfirst_valid_gid = {pw.pw_gid}\n")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "USER": "bob", "HOME": d, "LC_ALL": "C"}
    sessions = []

    def imap():
        os.makedirs(index, exist_ok=True)
        os.chown(index, pw.pw_uid, pw.pw_gid)
        c = Imap(conf, env)
        sessions.append(c)
        return c

    def cleanup():
        for c in sessions:
            c.kill()
        sessions.clear()
        tx.clean()
        shutil.rmtree(index, ignore_errors=True)
        # tinymx delivers as MAIL_USER: its mailbox stays that user's.
        for sub in ("new", "cur", "tmp"):
            p = os.path.join(box, sub)
            if os.path.isdir(p):
                os.chown(p, pw.pw_uid, pw.pw_gid)

    def only_maildir_and_index():
        """Dovecot wrote nothing into the spool but its moves (its
        dovecot-uidlist and indexes are under `index`) and nothing of
        its run time state anywhere."""
        eq(sorted(os.listdir(box)), ["cur", "new", "tmp"], f"{box}")
        eq(sorted(os.listdir(tx.spool)), ["bob"], "the spool root")
        eq(sorted(n for n in os.listdir(d) if n not in ("dovecot.conf", "index")), [],
           f"files Dovecot made in {d} besides its index")

    payload = random.Random(17).randbytes(20_000)
    msgs = {
        "d-plain": plain("d-plain", "alice@example.com", ["bob@example.org"]),
        "d-8bit": eight_bit("d-8bit", "carol@example.com", ["bob@example.org"]),
        "d-attach": with_attachment("d-attach", "dave@example.com", ["bob@example.org"], payload),
    }

    def subject_of(data):
        m = re.search(rb"^Subject: ([^\n]*)$", data.split(b"\n\n", 1)[0], re.M)
        return m.group(1)

    def deliver(tags):
        for tag in tags:
            smtp_send(tx.port, email.utils.parseaddr(
                email.message_from_bytes(msgs[tag])["From"])[1], ["bob@example.org"], msgs[tag])

    with s.case("Dovecot: FETCH lists the three messages, exact BODYSTRUCTURE, sizes, \\Recent; "
                "STORE \\Seen → cur/ with :2,S", cleanup):
        deliver(msgs)
        stored = {}
        for data in tx.wait_new("bob", len(msgs)):
            tag = re.search(rb"^Message-ID: <([^@]+)@", data, re.M).group(1).decode()
            stored[tag] = data
        eq(sorted(stored), sorted(msgs), "Message-IDs in new/")
        c = imap()
        sel = c.cmd("SELECT INBOX")
        eq(exists(sel), 3, "EXISTS after SELECT")
        assert b"* 3 RECENT" in sel, sel
        got = c.fetch("1:*", "FLAGS BODYSTRUCTURE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)] "
                      "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]")
        eq(sorted(got), [1, 2, 3], "sequence numbers fetched")
        by_tag = {}
        for n, item in got.items():
            mid = item["BODY[HEADER.FIELDS (MESSAGE-ID)]"]
            tag = re.match(rb"Message-ID: <([^@]+)@interop\.test>\r\n\r\n$", mid).group(1).decode()
            assert tag not in by_tag, f"{tag} listed twice"
            by_tag[tag] = item
        eq(sorted(by_tag), sorted(msgs), "Message-IDs listed by IMAP")
        for tag, item in by_tag.items():
            data = stored[tag]
            eq(item["FLAGS"], ["\\Recent"], f"FLAGS of {tag}")
            eq(int(item["RFC822.SIZE"]), crlf_size(data), f"RFC822.SIZE of {tag} (its file with CRLF)")
            eq(item["BODY[HEADER.FIELDS (SUBJECT)]"], b"Subject: " + subject_of(data) + b"\r\n\r\n",
               f"Subject of {tag}")
        body = stored["d-plain"].split(b"\n\n", 1)[1]
        # type, subtype, parameters, id, description, encoding, size, lines,
        # then md5, disposition, language, location.
        eq(by_tag["d-plain"]["BODYSTRUCTURE"],
           [b"text", b"plain", [b"charset", b"us-ascii"], None, None, b"7bit",
            str(crlf_size(body)), str(text_lines(body)), None, None, None, None],
           "BODYSTRUCTURE of the plain message (no Content-Type: text/plain; charset=us-ascii)")
        body = stored["d-8bit"].split(b"\n\n", 1)[1]
        eq(by_tag["d-8bit"]["BODYSTRUCTURE"],
           [b"text", b"plain", [b"charset", b"utf-8"], None, None, b"8bit",
            str(crlf_size(body)), str(text_lines(body)), None, None, None, None],
           "BODYSTRUCTURE of the 8-bit message")
        # The multipart: its parts' bodies as stored, between the boundaries.
        data = stored["d-attach"]
        boundary = email.message_from_bytes(data).get_boundary().encode()
        segs = data.split(b"\n--" + boundary)
        eq(len(segs), 4, "the stored multipart's segments (preamble, 2 parts, epilogue)")
        parts = [seg.split(b"\n", 1)[1].split(b"\n\n", 1)[1] for seg in segs[1:3]]
        eq(base64.b64decode(parts[1]), payload, "the attachment's base64 as stored")
        bs = by_tag["d-attach"]["BODYSTRUCTURE"]
        eq(bs[2:], [b"mixed", [b"boundary", boundary], None, None, None],
           "BODYSTRUCTURE of the multipart after its parts")
        eq(len(bs), 7, "the multipart's BODYSTRUCTURE: 2 parts, then subtype, parameters, "
           "disposition, language, location")
        eq(bs[0], [b"text", b"plain", [b"charset", b"utf-8"], None, None, b"7bit",
                   str(crlf_size(parts[0])), str(text_lines(parts[0])), None, None, None, None],
           "BODYSTRUCTURE of part 1 (the text)")
        eq(bs[1], [b"application", b"octet-stream", None, None, None, b"base64",
                   str(crlf_size(parts[1])), None, [b"attachment", [b"filename", b"blob.bin"]], None, None],
           "BODYSTRUCTURE of part 2 (the attachment)")
        # SELECT moved the three into cur/ (":2,", no flags yet), unchanged.
        eq(tx.new("bob"), [], "new/ after Dovecot's SELECT")
        cur = files(os.path.join(box, "cur"))
        eq(len(cur), 3, "files in cur/ after SELECT")
        assert all(p.endswith(":2,") for p in cur), cur
        eq(sorted(read(p) for p in cur), sorted(stored.values()), "the files Dovecot moved, byte for byte")
        seen = c.cmd("STORE 1:* +FLAGS (\\Seen)")
        eq(len([l for l in seen if re.match(rb"\* \d FETCH \(FLAGS \(\\Seen \\Recent\)\)$", l)]), 3,
           f"STORE's replies {seen}")
        cur = files(os.path.join(box, "cur"))
        eq(len(cur), 3, "files in cur/ after STORE \\Seen")
        assert all(p.endswith(":2,S") for p in cur), cur
        eq(sorted(read(p) for p in cur), sorted(stored.values()), "the files after STORE, byte for byte")
        c.logout()
        # A second session: nothing recent any more, \Seen kept.
        c = imap()
        sel = c.cmd("SELECT INBOX")
        eq(exists(sel), 3, "EXISTS in a second session")
        assert b"* 0 RECENT" in sel, sel
        eq({n: i["FLAGS"] for n, i in c.fetch("1:*", "FLAGS").items()},
           {1: ["\\Seen"], 2: ["\\Seen"], 3: ["\\Seen"]}, "FLAGS in a second session")
        c.logout()
        only_maildir_and_index()

    with s.case("Dovecot: moves messages to cur/ while tinymx delivers 200 more (NOOP, FETCH, "
                "STORE \\Seen): each Message-ID once in IMAP and on disk", cleanup):
        first, more = 20, 200

        def message(i):
            return text_message(f"imap-{i}", "alice@example.com", ["bob@example.org"],
                                f"imap {i}", [f"message {i}"])

        with smtplib.SMTP("127.0.0.1", tx.port, local_hostname="reader.test", timeout=30) as sm:
            for i in range(first):
                eq(sm.sendmail("alice@example.com", ["bob@example.org"], crlf(message(i))), {}, "refused")
        tx.wait_new("bob", first)
        c = imap()
        eq(exists(c.cmd("SELECT INBOX")), first, "EXISTS after SELECT")
        eq(len(c.fetch("1:*", "FLAGS")), first, "messages fetched")
        errors = []
        sent = [0]
        seen_by_imap = [first]

        def deliver_more():
            try:
                with smtplib.SMTP("127.0.0.1", tx.port, local_hostname="reader.test", timeout=30) as sm:
                    deadline = time.monotonic() + WAIT
                    for i in range(first, first + more):
                        # Never more than 30 ahead of what IMAP has seen:
                        # deliveries and Dovecot's syncs overlap all along.
                        while sent[0] - seen_by_imap[0] > 30:
                            assert time.monotonic() < deadline, "IMAP fell behind for too long"
                            time.sleep(0.005)
                        eq(sm.sendmail("alice@example.com", ["bob@example.org"], crlf(message(i))),
                           {}, "refused")
                        sent[0] += 1
                        assert time.monotonic() < deadline, "delivery loop took too long"
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        t = threading.Thread(target=deliver_more)
        t.start()
        rounds = 0
        in_cur_during = 0  # files in cur/ seen before the 200th was delivered
        deadline = time.monotonic() + WAIT
        try:
            while True:
                done = not t.is_alive()
                n = exists(c.cmd("NOOP"))
                if n is not None:
                    seen_by_imap[0] = n - first
                got = c.fetch("1:*", "FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]")
                total = len(got)
                seen_by_imap[0] = total - first
                if rounds % 3 == 0:
                    c.cmd("STORE 1:* +FLAGS.SILENT (\\Seen)")
                # Beyond the first 20, which SELECT moved.
                moved = len(files(os.path.join(box, "cur"))) - first
                if sent[0] < more:  # tinymx has more to come
                    in_cur_during = max(in_cur_during, moved)
                rounds += 1
                if done:
                    break
                assert time.monotonic() < deadline, f"IMAP loop took too long ({rounds} rounds)"
        finally:
            t.join(WAIT)
        if errors:
            raise errors[0]
        n = first + more
        eq(exists(c.cmd("NOOP")) or len(c.fetch("1:*", "FLAGS")), n, "messages in IMAP at the end")
        c.cmd("STORE 1:* +FLAGS.SILENT (\\Seen)")
        got = c.fetch("1:*", "FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]")
        eq(sorted(got), list(range(1, n + 1)), "sequence numbers at the end")
        mids = sorted(i["BODY[HEADER.FIELDS (MESSAGE-ID)]"] for i in got.values())
        want = sorted(f"Message-ID: <imap-{i}@interop.test>\r\n\r\n".encode() for i in range(n))
        eq(mids, want, "each Message-ID once in IMAP")
        assert all("\\Seen" in i["FLAGS"] for i in got.values()), "all \\Seen"
        c.logout()
        eq(tx.new("bob"), [], "new/ at the end")
        eq(tx.tmp("bob"), [], "tmp/ at the end")
        cur = files(os.path.join(box, "cur"))
        eq(len(cur), n, "files in cur/")
        assert all(p.endswith(":2,S") for p in cur), [p for p in cur if not p.endswith(":2,S")][:5]
        on_disk = sorted(re.search(rb"^Message-ID: <([^>]+)>$", read(p), re.M).group(1) for p in cur)
        eq(on_disk, sorted(f"imap-{i}@interop.test".encode() for i in range(n)),
           "each Message-ID once in cur/")
        for p in cur:
            i = int(re.search(rb"^Message-ID: <imap-(\d+)@", read(p), re.M).group(1))
            bytes_eq(trace(read(p), "alice@example.com", "bob@example.org", "reader.test"),
                     message(i), f"imap-{i} after the moves")
        assert in_cur_during > 0, "Dovecot moved none of the 200 into cur/ while tinymx delivered"
        print(f"       {rounds} IMAP rounds (NOOP, FETCH, STORE) during the deliveries; "
              f"up to {in_cur_during} of the 200 in cur/ before the last was delivered", flush=True)
        only_maildir_and_index()


# ------------------------------------------------------------------ neomutt


def neomutt_checks(s, workdir):
    s.peer(f"neomutt {pkg_version('neomutt')} -f on the spool (under script(1) for its terminal)")
    tx = Tinymx(workdir, "neomutt-tinymx")
    d = os.path.join(workdir, "neomutt")
    os.makedirs(d)
    try:
        neomutt_cases(s, tx, d)
    finally:
        tx.stop()


def neomutt_cases(s, tx, d):
    box = os.path.join(tx.spool, "bob")
    out = os.path.join(d, "piped")
    rc = os.path.join(d, "neomuttrc")
    # Once the folder is read: the status line says how many messages, then
    # every message is tagged and piped, decoded, to a file of ours (one
    # pipe per message), then neomutt exits. -R: read-only, so the spool
    # stays as it is; -n: no system neomuttrc. $folder names an existing
    # folder: without it neomutt first asks whether to create ~/Mail, and
    # that prompt would eat the pushed keys.
    with open(rc, "w") as f:
        f.write(f'set folder="{d}"\n'
                'set status_format="STATUS msgs=%m new=%n"\n'
                "set pipe_split=yes\nset pipe_decode=yes\nset wait_key=no\n"
                "unset mark_old\n"
                "ignore *\nunignore subject message-id\n"
                f'push "<tag-pattern>~A<enter><tag-prefix><pipe-entry>cat >> {out}<enter><exit>"\n')
    payload = random.Random(23).randbytes(10_000)
    msgs = {
        "n-plain": ("alice@example.com", plain("n-plain", "alice@example.com", ["bob@example.org"]),
                    "plain n-plain"),
        "n-8bit": ("carol@example.com", eight_bit("n-8bit", "carol@example.com", ["bob@example.org"]),
                   "8-bit grüße"),
        "n-attach": ("dave@example.com", with_attachment("n-attach", "dave@example.com",
                                                         ["bob@example.org"], payload),
                     "attachment n-attach"),
    }

    def cleanup():
        with contextlib.suppress(FileNotFoundError):
            os.unlink(out)
        tx.clean()

    with s.case("neomutt -R -f: status line counts the three, each piped with its decoded subject; "
                "spool untouched", cleanup):
        for tag, (sender, data, _) in msgs.items():
            smtp_send(tx.port, sender, ["bob@example.org"], data)
        tx.wait_new("bob", len(msgs))
        before = {p: read(p) for p in tx.new("bob")}
        env = {"PATH": "/usr/bin:/bin", "HOME": d, "TERM": "xterm", "LC_ALL": "C.UTF-8",
               "COLUMNS": "100", "LINES": "30", "TZ": "UTC"}
        cmd = f"neomutt -n -F {rc} -R -f {box}"
        p = run(["script", "-qec", cmd, "/dev/null"], env=env, stdin=subprocess.DEVNULL, timeout=WAIT)
        screen = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>]", b"", p.stdout)
        assert b"STATUS msgs=3 new=3" in screen, f"neomutt's status line: {screen[-600:]!r}"
        # A bell is neomutt's error or a key it could not use.
        assert b"\x07" not in screen, f"neomutt rang the bell: {screen[-600:]!r}"
        eq(sorted(os.listdir(d)), ["neomuttrc", "piped"], f"what neomutt left in {d} (its $HOME)")
        piped = read(out).decode()
        # One block per message: its kept headers (Subject, Message-ID),
        # a blank line, the decoded text.
        subjects = re.findall(r"^Subject: (.*)$", piped, re.M)
        mids = re.findall(r"^Message-ID: <([^@]+)@interop\.test>$", piped, re.M)
        eq(sorted(mids), sorted(msgs), "Message-IDs piped by neomutt")
        eq(sorted(subjects), sorted(m[2] for m in msgs.values()), "subjects neomutt decoded")
        assert "Grüße aus Köln — ✓ ½ € 日本語" in piped, "the 8-bit text, decoded"
        assert "A binary file is attached." in piped, "the multipart's text part"
        eq({p: read(p) for p in tx.new("bob")}, before, "new/ after neomutt -R")
        eq(files(os.path.join(box, "cur")), [], "cur/ after neomutt -R")


# --------------------------------------------------------------------- load


def load_checks(s, workdir):
    s.peer(f"load: smtp-source (postfix {pkg_version('postfix')}), 2,000 messages over 20 sessions")
    tx = Tinymx(workdir, "load-tinymx", ["--max-per-ip", "20"])
    try:
        with s.case("smtp-source: 2,000 messages over 20 sessions all land once, whole", tx.clean):
            # -d: each of the 20 sessions sends message after message.
            mark = tx.mark()
            t0 = time.monotonic()
            run(["smtp-source", "-s", "20", "-m", "2000", "-d", "-l", "4096", "-S", "load",
                 "-M", "smtp-source.test", "-f", "a@example.com", "-t", "bob@example.org",
                 f"127.0.0.1:{tx.port}"], timeout=240)
            dt = time.monotonic() - t0
            ends = tx.wait_log(
                lambda ls: (lambda d: d if len(d) >= 20 else None)(
                    [l for l in ls if " disconnect from " in l]),
                "20 disconnect lines", since=mark)
            eq(len(ends), 20, "sessions")
            # How many messages each session (its id) completed, says the log.
            per = {}
            for l in ends:
                m = re.search(r"tinymx: (\S+) disconnect from .* messages=(\d+) .*end=quit", l)
                assert m, f"session did not end with QUIT: {l}"
                per[m.group(1)] = int(m.group(2))
            eq(sum(per.values()), 2000, f"messages over the 20 sessions ({sorted(per.values())})")
            paths = tx.new("bob")
            eq(len(paths), 2000, "files in bob/new")
            eq(tx.tmp("bob"), [], "bob/tmp")
            # Its Date header (in its local zone, possibly folded) goes
            # through check_date.
            head_re = re.compile(
                rb"From: <a@example\.com>\nTo: <bob@example\.org>\nDate:(?P<date>[^\n]*(?:\n[ \t][^\n]*)*)\n"
                rb"Message-Id: <[0-9a-f.]+@smtp-source\.test>\nSubject: load\n\n")
            body0 = None
            stored = {}  # session id -> files whose Received header names it
            for p in paths:
                data = read(p)
                rest = trace(data, "a@example.com", "bob@example.org", "smtp-source.test", "SMTP")
                sid = re.search(rb" id (\S+) for ", data.split(b"\n", 3)[2]).group(1).decode()
                stored[sid] = stored.get(sid, 0) + 1
                m = head_re.match(rest)
                assert m, f"{p}: smtp-source headers: {rest[:300]!r}"
                date = m.group("date").decode()
                check_date(date, f"{p}: smtp-source's Date header")
                body = rest[m.end():]
                if body0 is None:
                    print(f"       smtp-source's Date header: {date!r}", flush=True)
                    body0 = body
                    # 4,096 payload bytes with CRLF line ends, then the CRLF
                    # before the final dot; stored with LF.
                    eq(len(body) + body.count(b"\n"), 4096 + 2, "payload bytes counted with CRLF")
                    assert re.fullmatch(rb"([0-9]?X*\n)+", body), body[-200:]
                bytes_eq(body, body0, f"body of {p}")
            # A lost or a duplicated message shows as a session with one file
            # too few or too many.
            eq(stored, per, "files stored per session vs messages each session sent")
            print(f"       smtp-source took {dt:.1f}s ({2000 / dt:.0f} messages/s); "
                  f"messages per session {min(per.values())}..{max(per.values())}", flush=True)
    finally:
        tx.stop()


# --------------------------------------------------------------------- main


# The groups of checks, each with the logs to print when one of its checks
# fails (path in the run's folder, how many of its last lines).
GROUPS = [
    ("postfix", postfix_checks, [("postfix-tinymx/tinymx.log", 30), ("postfix/maillog", 60)]),
    ("exim", exim_checks, [("exim-tinymx/tinymx.log", 30), ("exim/spool/log/mainlog", 60),
                           ("exim/spool/log/paniclog", 30)]),
    ("clients", client_checks, [("clients-tinymx/tinymx.log", 30), ("clients/msmtp.log", 30)]),
    ("tls", tls_checks, [("tls-tinymx/tinymx.log", 40), ("tls-plain-tinymx/tinymx.log", 20),
                         ("postfix-tls/maillog", 60)]),
    ("readers", reader_checks, [("readers-tinymx/tinymx.log", 30)]),
    ("dovecot", dovecot_checks, [("dovecot-tinymx/tinymx.log", 30)]),
    ("neomutt", neomutt_checks, [("neomutt-tinymx/tinymx.log", 30)]),
    ("load", load_checks, [("load-tinymx/tinymx.log", 30)]),
]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def on_signal(signum, frame):
    """SIGINT, SIGTERM or SIGHUP ends the run: the finally blocks stop
    what was started and main removes the run's folder. Further signals
    are ignored from here on, so that they cannot cut that cleanup short
    (every wait in it has a deadline)."""
    STOPPED.append(signum)
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def print_logs(workdir, groups):
    """What is needed to debug the failed groups once their folder is gone:
    the last lines of tinymx's log and of the peers' logs."""
    logs = {name: paths for name, _, paths in GROUPS}
    for group in groups:
        for rel, n in logs.get(group, ()):
            try:
                lines = read(os.path.join(workdir, rel)).decode(errors="replace").splitlines()
            except FileNotFoundError:
                print(f"--- {rel}: not there", flush=True)
                continue
            print(f"--- {rel} (last {min(n, len(lines))} of {len(lines)} lines)", flush=True)
            for line in lines[-n:]:
                print("    " + line)
    sys.stdout.flush()


def remove_workdir(s, workdir):
    """Removes the run's folder, also after a failure (first printing the
    failed groups' logs) or a signal; KEEP=1 keeps it."""
    if os.environ.get("KEEP"):
        print(f"\ninterop: kept {workdir} (KEEP)", flush=True)
        return
    if s.failed_groups:
        print(f"\ninterop: logs of the failed group(s) ({', '.join(s.failed_groups)}); "
              f"{workdir} is removed next, KEEP=1 keeps it", flush=True)
        print_logs(workdir, s.failed_groups)
    r0 = time.monotonic()
    shutil.rmtree(workdir, ignore_errors=True)
    if os.path.exists(workdir):
        s.fail(f"removing {workdir}")
        print(f"\ninterop: could not remove {workdir}", flush=True)
    else:
        print(f"\ninterop: removed {workdir} ({time.monotonic() - r0:.1f}s)", flush=True)


def main():
    # Output that the terminal's encoding cannot show is escaped, not an
    # error: the checks' names and failures contain UTF-8.
    sys.stdout.reconfigure(errors="backslashreplace")
    sys.stderr.reconfigure(errors="backslashreplace")
    if os.geteuid() != 0:
        print("interop: needs root (Postfix's master and Exim run as root)", file=sys.stderr)
        print("interop: 0 passed, 1 failed")
        return 1
    if not os.access(BIN, os.X_OK):
        print(f"interop: no tinymx binary at {BIN} (run make build)", file=sys.stderr)
        print("interop: 0 passed, 1 failed")
        return 1
    for sig in STOP_SIGNALS:
        # A signal ignored by whoever started us (nohup, `cmd &` in a
        # script) stays ignored.
        if signal.getsignal(sig) != signal.SIG_IGN:
            signal.signal(sig, on_signal)
    t0 = time.monotonic()
    s = Suite()
    workdir = None
    try:
        try:
            subprocess.run(["sh", os.path.join(HERE, "install.sh")], check=True, timeout=900,
                           env=dict(os.environ, EXIM_ROOT=EXIM_ROOT))
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            print(f"interop: installing the peers failed: {e}", file=sys.stderr)
            s.fail("installing the peers")
        else:
            print(f"interop: peers installed ({time.monotonic() - t0:.1f}s)", flush=True)
            version = run([BIN, "--version"]).stdout.decode().strip()
            print(f"interop: {version} ({BIN})", flush=True)
            workdir = tempfile.mkdtemp(prefix="tinymx-interop-")
            os.chmod(workdir, 0o755)  # postfix's user must reach its queue inside
            unknown = sorted(set(ONLY_GROUPS) - {g[0] for g in GROUPS})
            if unknown:
                raise AssertionError(f"INTEROP_GROUPS: no group {', '.join(unknown)}")
            for name, fn, _ in GROUPS:
                if ONLY_GROUPS and name not in ONLY_GROUPS:
                    continue
                s.group = name
                g0 = time.monotonic()
                try:
                    fn(s, workdir)
                except Exception as e:  # noqa: BLE001 - a group that cannot run fails
                    s.fail(fn.__name__)
                    print(f"  FAIL {fn.__name__}\n{indent(describe(e))}", flush=True)
                print(f"   ({time.monotonic() - g0:.1f}s)", flush=True)
                if STOPPED:
                    # A signal whose KeyboardInterrupt a group's cleanup
                    # turned into another exception: stop all the same.
                    break
            s.group = None
    except KeyboardInterrupt:
        if not STOPPED:
            STOPPED.append(signal.SIGINT)
    finally:
        if STOPPED:
            name = signal.Signals(STOPPED[0]).name
            print(f"\ninterop: stopped by {name}", flush=True)
            s.fail(f"stopped by {name}")  # counts for the group that was running
        if workdir is not None:
            remove_workdir(s, workdir)
    print(f"\ninterop: took {time.monotonic() - t0:.0f}s", flush=True)
    if s.failed:
        print("interop: failed: " + "; ".join(s.failed))
    print(f"interop: {s.passed} passed, {len(s.failed)} failed", flush=True)
    return 1 if s.failed else 0


if __name__ == "__main__":
    sys.exit(main())
