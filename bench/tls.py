#!/usr/bin/env python3
"""`make bench-tls`: what STARTTLS costs tinymx, in one run: mail/s and
the server's CPU per mail with and without STARTTLS, handshakes per
second, RSS per idle and per streaming TLS session, and the TLS build's
size per architecture. Writes nothing but --out; prints the section.

  python3 bench/tls.py                 the full run: 3 runs, medians (~2-4 min)
  python3 bench/tls.py --smoke         tiny counts (< 20 s): every message
                                       must arrive and every figure exist;
                                       no speed thresholds
  python3 bench/tls.py --out FILE      also write the section to FILE

Both sides run against the same TLS binary (make tls) with the same
certificate loaded (RSA-2048, self-signed, made here by openssl in a
temporary directory): "STARTTLS" is a client that issues STARTTLS and EHLO
again before its mail, "plain" one that does not. The client is this
script's own driver for both (smtp-source has no TLS): raw sockets and the
ssl module, PIPELINING (MAIL, RCPT and DATA in one write; the message, its
final dot and the next MAIL, RCPT, DATA in the next), one thread per
session (--driver processes: one forked process each; measured on 2 CPUs,
the threads cost less CPU per mail, and the GIL is released in every
socket and ssl call, so it is not what limits the rate). Like bench/run.py, every server is
started fresh in its own temporary directory, on 127.0.0.1 only, waited
for by its "listening on" line, and stopped by its pid; the spools are on
disk (under target/ unless --spool-dir), as users have them, and are
removed at the end.

Environment: TINYMX_TLS_BIN (default target/tls/x86_64-unknown-linux-musl/
release/tinymx), TINYMX_BIN (the plain build, for the size table), BENCH_RUNS.
"""
import argparse
import datetime
import multiprocessing
import os
import platform
import re
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET = "x86_64-unknown-linux-musl"
TLS_BIN = os.environ.get("TINYMX_TLS_BIN") or os.path.join(ROOT, "target/tls", TARGET, "release/tinymx")
PLAIN_BIN = os.environ.get("TINYMX_BIN") or os.path.join(ROOT, "target", TARGET, "release/tinymx")
# The cross builds: (arch, triple, the GNU binutils prefix for its strip).
ARCHES = (("aarch64", "aarch64-unknown-linux-musl", "aarch64-linux-gnu"),
          ("armv7", "armv7-unknown-linux-musleabihf", "arm-linux-gnueabihf"),
          ("mipsel", "mipsel-unknown-linux-musl", "mipsel-linux-gnu"))
HOST = "tinymx.bench"  # tinymx's -n and the certificate's name
SENDER = "a@example.com"
RCPT = "bob@bench.test"
MAILBOX = "bob"
TICK = os.sysconf("SC_CLK_TCK")
KIB = 1024
MIB = 1024 * 1024

# Workloads: (messages, payload bytes, sessions, messages per connection).
# (a) and (c) are bench/run.py's file-system section's counts, and like
# its smtp-source -d each session keeps one connection for all its mails;
# (h) is (a) with a new connection (and handshake) for every message.
FULL = {
    "runs": int(os.environ.get("BENCH_RUNS", "3")),
    "a": (2000, 4 * KIB, 20, 100),
    "c": (800, KIB, 1, 800),
    "h": (1000, 4 * KIB, 20, 1),
    "idle": 50,            # idle sessions held open
    "stream": (8, 20 * MIB),  # sessions streaming one message each, its size
    "latency": 10,         # sessions one after the other, for the setup time
}
SMOKE = {
    "runs": 1,
    "a": (40, 4 * KIB, 4, 10),
    "c": (40, KIB, 1, 40),
    "h": (20, 4 * KIB, 4, 1),
    "idle": 5,
    "stream": (1, MIB),
    "latency": 3,
}
MODES = ("plain", "tls")
LABEL = {"plain": "plain", "tls": "STARTTLS"}

T0 = time.monotonic()


def log(msg):
    print(f"bench-tls: [{time.monotonic() - T0:5.0f}s] {msg}", flush=True)


# ------------------------------------------------------------------ helpers


def wait_until(pred, what, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout}s")
        time.sleep(interval)


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_ticks(pid):
    """utime + stime of PID (all its threads, ended ones included)."""
    f = stat_fields(pid)
    return int(f[11]) + int(f[12])


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def count_files(d):
    try:
        with os.scandir(d) as it:
            return sum(1 for _ in it)
    except FileNotFoundError:
        return 0


def df_fields(path):
    p = subprocess.run(["df", "--output=fstype,source", path], capture_output=True, text=True)
    fields = (p.stdout.splitlines()[1:] or ["? ?"])[0].split()
    return fields[0], fields[-1]


def ext4_without_journal(path):
    fstype, source = df_fields(path)
    if fstype != "ext4":
        return False
    dev = os.path.basename(os.path.realpath(source))
    try:
        return not any(j.rsplit("-", 1)[0] == dev for j in os.listdir("/proc/fs/jbd2"))
    except OSError:
        return True


# bench/README.md, "Fair disk runs on ext4 without a journal": a create
# there skips inode numbers freed in the last minute while their block is
# cached, so whatever deleted files before (other work on this machine)
# slows the next workload. As in run.py: spools stay until the end, and
# before each disk measurement sync + drop clean caches, where allowed.
SETTLE = {"needed": False, "how": "no settling (journaled, or --smoke)"}


def settle():
    if not SETTLE["needed"]:
        return
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
        SETTLE["how"] = ("ext4 without a journal: sync + drop_caches before each disk "
                         "measurement, spools kept until the end (bench/README.md)")
    except OSError:
        SETTLE["how"] = ("ext4 without a journal: sync before each disk measurement "
                         "(drop_caches not allowed), spools kept until the end")


def median(xs):
    xs = [x for x in xs if isinstance(x, (int, float))]
    return statistics.median(xs) if xs else None


def fmt(v, digits=None):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if digits is not None:
        return f"{v:,.{digits}f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}"


# ------------------------------------------------------------------ certificate


def make_cert(d):
    """RSA-2048, self-signed, for HOST; (cert, key) paths."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                        "-days", "2", "-subj", f"/CN={HOST}",
                        "-addext", f"subjectAltName=DNS:{HOST}",
                        "-keyout", key, "-out", cert],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"openssl req: {p.stderr}")
    return cert, key


# ------------------------------------------------------------------ the server


class Server:
    """The TLS tinymx with the certificate loaded (PLAIN_BUILD: the plain
    build, no certificate), fresh spool on BASE."""

    def __init__(self, base, cert, key, extra=(), plain_build=False):
        self.dir = tempfile.mkdtemp(prefix="tinymx-bench-tls-", dir=base)
        self.spool = os.path.join(self.dir, "spool")
        self.logpath = os.path.join(self.dir, "server.log")
        self.logf = open(self.logpath, "w")
        # As run.py's tinymx: enough sessions from one address, a
        # connection rate that never throttles, and room for the stream.
        tls = [] if plain_build else ["--tls-cert", cert, "--tls-key", key]
        argv = [PLAIN_BIN if plain_build else TLS_BIN, "-l", "127.0.0.1:0", "-n", HOST,
                "-d", self.spool, "--max-per-ip", "1000", "--max-size", "30M",
                "--max-rate", "1000000", *tls, *extra]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        self.pid = self.proc.pid
        try:
            self.port = wait_until(self._listening, "'listening on' from tinymx", 30)
        except BaseException:
            self.stop()
            raise

    def _listening(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"tinymx exited {self.proc.returncode} at start: {self.tail()}")
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.tail())
        return int(m.group(1)) if m else None

    def tail(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()[-1500:]
        except OSError:
            return ""

    def new_dir(self):
        return os.path.join(self.spool, MAILBOX, "new")

    def cpu(self):
        return cpu_ticks(self.pid)

    def rss(self):
        return status_kib(self.pid, "VmRSS")

    def hwm(self):
        return status_kib(self.pid, "VmHWM")

    def steady_rss(self, timeout=10):
        """VmRSS once three readings 0.1 s apart agree."""
        seen = []

        def steady():
            seen.append(self.rss())
            return len(seen) >= 3 and len(set(seen[-3:])) == 1 and seen[-1]
        return wait_until(steady, "steady RSS", timeout, 0.1)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self.logf.close()


# ------------------------------------------------------------------ the client

LINE = b"x" * 62 + b"\r\n"  # 64 bytes: 4 KiB = 64 lines, 64 KiB = 1,024
EHLO = b"EHLO client.bench\r\n"
GROUP = f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RCPT}>\r\nDATA\r\n".encode()


def message(size, subject):
    head = (f"From: <{SENDER}>\r\nTo: <{RCPT}>\r\nSubject: {subject}\r\n"
            f"Message-Id: <bench.tls@client.bench>\r\n\r\n").encode()
    return head + LINE * (size // len(LINE)) + b"y" * (size % len(LINE)) + b"\r\n.\r\n"


class Replies:
    """SMTP replies off a socket (plain or SSLSocket), buffered."""

    def __init__(self, sock):
        self.sock, self.buf, self.pos = sock, b"", 0

    def reply(self):
        """(code, text of its lines)."""
        start = self.pos
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i < 0:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise RuntimeError(f"connection closed; unanswered: {self.buf[start:]!r}")
                self.buf = self.buf[start:] + chunk
                self.pos -= start
                start = 0
                continue
            last = self.buf[self.pos + 3:self.pos + 4] != b"-"
            self.pos = i + 2
            if last:
                text = self.buf[start:self.pos]
                if self.pos == len(self.buf):
                    self.buf, self.pos = b"", 0
                return int(text[:3]), text

    def expect(self, code, what):
        got, text = self.reply()
        if got != code:
            raise RuntimeError(f"{what}: wanted {code}, got {text!r}")
        return text


def client_context(cert):
    ctx = ssl.create_default_context(cafile=cert)  # verifies the chain and HOST
    return ctx


def open_session(port, tls, ctx, timeout=120, marks=None, offered=True):
    """Connected, greeted, EHLO done (and with TLS: STARTTLS, the
    handshake, EHLO again). (socket, reader). MARKS, if given, gets the
    seconds of the handshake and of the EHLO after it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    r = Replies(s)
    r.expect(220, "greeting")
    s.sendall(EHLO)
    ehlo = r.expect(250, "EHLO")
    if b"PIPELINING" not in ehlo or (b"STARTTLS" in ehlo) != offered:
        raise RuntimeError(f"EHLO offers no PIPELINING, or STARTTLS is {'not ' * offered}"
                           f"offered: {ehlo!r}")
    if tls:
        s.sendall(b"STARTTLS\r\n")
        r.expect(220, "STARTTLS")
        if r.buf:
            raise RuntimeError(f"bytes after STARTTLS's 220: {r.buf!r}")
        t0 = time.monotonic()
        s = ctx.wrap_socket(s, server_hostname=HOST)
        t1 = time.monotonic()
        r.sock = s
        s.sendall(EHLO)
        ehlo = r.expect(250, "EHLO after STARTTLS")
        if marks is not None:
            marks["handshake"], marks["ehlo"] = t1 - t0, time.monotonic() - t1
        if b"STARTTLS" in ehlo:
            raise RuntimeError("STARTTLS offered again over TLS")
    return s, r


def send_messages(s, r, msg, count):
    """COUNT messages over an open session, pipelined: MAIL RCPT DATA in
    one write, then each message with its final dot and the next group
    (or QUIT) in one write. Closes the connection; messages accepted."""
    try:
        s.sendall(GROUP)
        ok = 0
        for i in range(count):
            r.expect(250, "MAIL")
            r.expect(250, "RCPT")
            r.expect(354, "DATA")
            s.sendall(msg + (GROUP if i + 1 < count else b"QUIT\r\n"))
            r.expect(250, "final dot")
            ok += 1
        r.expect(221, "QUIT")
        return ok
    finally:
        s.close()


def describe(s, tls):
    return f"{s.version()} {s.cipher()[0]}" if tls else "plain"


def stream_connection(port, tls, ctx, size):
    """One message of SIZE payload bytes, sent in 64 KiB writes."""
    s, r = open_session(port, tls, ctx)
    try:
        s.sendall(GROUP)
        r.expect(250, "MAIL")
        r.expect(250, "RCPT")
        r.expect(354, "DATA")
        s.sendall(f"From: <{SENDER}>\r\nTo: <{RCPT}>\r\nSubject: stream\r\n\r\n".encode())
        chunk = LINE * 1024
        for _ in range(size // len(chunk)):
            s.sendall(chunk)
        s.sendall(LINE * (size % len(chunk) // len(LINE)) + b"\r\n.\r\nQUIT\r\n")
        r.expect(250, "final dot")
        r.expect(221, "QUIT")
        return 1, None
    finally:
        s.close()


def session_worker(idx, job, port, tls, cert, go, setup, results, offered=True):
    """One session: a thread (or a forked process, --driver processes).
    JOB: ("mail", message bytes, [messages per connection]) or
    ("stream", size). With one connection, its setup (connect, EHLO, and
    STARTTLS, handshake, EHLO) comes before the SETUP barrier, the mail
    after it; otherwise SETUP is passed at once."""
    try:
        ctx = client_context(cert) if tls else None
        go.wait(timeout=60)
        t0, c0 = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
        ok, desc = 0, None
        if job[0] == "mail" and len(job[2]) == 1:
            s, r = open_session(port, tls, ctx, offered=offered)
            desc = describe(s, tls)
            setup.wait(timeout=120)
            ok = send_messages(s, r, job[1], job[2][0])
        elif job[0] == "mail":
            setup.wait(timeout=120)
            for count in job[2]:
                s, r = open_session(port, tls, ctx)
                desc = describe(s, tls)
                ok += send_messages(s, r, job[1], count)
        else:
            setup.wait(timeout=120)
            ok, desc = stream_connection(port, tls, ctx, job[1])
        c1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
        results.put((idx, ok, desc, cpu, t0, time.monotonic(), None))
    except BaseException:
        results.put((idx, 0, None, 0.0, 0.0, 0.0, traceback.format_exc()))
        for b in (go, setup):
            try:
                b.abort()  # a failed session wakes the others and the driver
            except Exception:
                pass


DRIVER = {"kind": "threads"}
# The plain build (make build) as a reference, if it is one: why not.
BUILD = {"ok": False, "why": ""}


def drive(port, tls, cert, jobs, timeout, during=None, at_setup=None, offered=True):
    """Runs JOBS (one per session) at once; DURING(), if given, is called
    in a loop meanwhile (the RSS sampler), AT_SETUP() when every session
    is set up. Returns (start, setup done, end of the last session,
    messages accepted, client CPU seconds, TLS description)."""
    n = len(jobs)
    if DRIVER["kind"] == "threads":
        import queue
        go, setup, results = threading.Barrier(n + 1), threading.Barrier(n + 1), queue.Queue()
        workers = [threading.Thread(target=session_worker, daemon=True,
                                    args=(i, j, port, tls, cert, go, setup, results, offered))
                   for i, j in enumerate(jobs)]
        c0 = resource.getrusage(resource.RUSAGE_SELF)
    else:
        mp = multiprocessing.get_context("fork")
        go, setup, results = mp.Barrier(n + 1), mp.Barrier(n + 1), mp.Queue()
        workers = [mp.Process(target=session_worker, daemon=True,
                              args=(i, j, port, tls, cert, go, setup, results, offered))
                   for i, j in enumerate(jobs)]
    for w in workers:
        w.start()
    try:
        try:
            go.wait(timeout=60)
            start = time.monotonic()
            setup.wait(timeout=120)
            setup_done = time.monotonic()
        except threading.BrokenBarrierError:
            raise RuntimeError(f"a session failed before its mail:\n{results.get(timeout=10)[6]}")
        if at_setup:
            at_setup()
        got = []
        deadline = start + timeout
        while len(got) < n:
            if during:
                during()
            try:
                got.append(results.get(timeout=0.002 if during else 1.0))
            except Exception:  # queue.Empty, from either kind of queue
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{n - len(got)} of {n} sessions not done within {timeout}s")
        errors = [g[6] for g in got if g[6]]
        if errors:
            raise RuntimeError(f"{len(errors)} session(s) failed; the first:\n{errors[0]}")
        if DRIVER["kind"] == "threads":
            c1 = resource.getrusage(resource.RUSAGE_SELF)
            client_cpu = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
        else:
            client_cpu = sum(g[3] for g in got)
        descs = {g[2] for g in got}
        return (start, setup_done, max(g[5] for g in got), sum(g[1] for g in got), client_cpu,
                "/".join(sorted(d for d in descs if d)))
    finally:
        for w in workers:
            w.join(10)
            if DRIVER["kind"] != "threads" and w.is_alive():
                w.kill()
                w.join(10)


def split(total, parts):
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def per_connection(count, per_conn):
    return [per_conn] * (count // per_conn) + ([count % per_conn] if count % per_conn else [])


# ------------------------------------------------------------------ measurements


def workload(base, cert, key, mode, spec, what, timeout=300):
    """MODE "plain", "tls", or "build": plain against the plain build."""
    """SPEC = (messages, size, sessions, per connection) over a fresh
    server; timed from the sessions' start until the last 250 (tinymx
    answers after the file is in new/, which is checked). With one
    connection per session also from the moment every session is set up
    (connected, EHLO, and STARTTLS, handshake, EHLO) to the last 250."""
    n, size, sessions, per_conn = spec
    settle()
    srv = Server(base, cert, key, plain_build=mode == "build")
    try:
        msg = message(size, f"bench tls {what}")
        jobs = [("mail", msg, per_connection(k, per_conn)) for k in split(n, sessions)]
        conns = sum(len(j[2]) for j in jobs)
        cpu = [srv.cpu()]
        start, setup, end, ok, client_cpu, desc = drive(
            srv.port, mode == "tls", cert, jobs, timeout, at_setup=lambda: cpu.append(srv.cpu()),
            offered=mode != "build")
        wait_until(lambda: count_files(srv.new_dir()) >= n, f"{n} files in new/", 30, 0.01)
        cpu.append(srv.cpu())
        arrived = count_files(srv.new_dir())
        if ok != n or arrived != n:
            raise RuntimeError(f"{what} {mode}: {ok} accepted, {arrived} of {n} in new/; "
                               f"log: {srv.tail()}")
        secs = end - start
        server_cpu = (cpu[2] - cpu[0]) / TICK
        res = {"secs": secs, "rate": n / secs, "conn_rate": conns / secs, "conns": conns,
               "cpu_ms": server_cpu / n * 1000, "cpu_ms_conn": server_cpu / conns * 1000,
               "client_cpu_ms": client_cpu / n * 1000,
               "client_busy": client_cpu / secs / (sessions if DRIVER["kind"] == "processes" else 1),
               "client_cores": client_cpu / secs, "server_cores": server_cpu / secs,
               "desc": desc}
        if conns == sessions:
            res["setup_secs"] = setup - start
            res["mail_rate"] = n / (end - setup)
            res["mail_cpu_ms"] = (cpu[2] - cpu[1]) / TICK / n * 1000
        return res
    finally:
        srv.stop()


def latency(base, cert, key, count):
    """COUNT sessions one after the other: connect to EHLO answered (with
    STARTTLS: then STARTTLS, the handshake, EHLO answered again), and the
    handshake alone and the EHLO after it; median milliseconds."""
    srv = Server(base, cert, key)
    out = {}
    try:
        for mode in MODES:
            ctx = client_context(cert) if mode == "tls" else None
            total, hs, ehlo = [], [], []
            for _ in range(count):
                marks = {}
                t0 = time.monotonic()
                s, r = open_session(srv.port, mode == "tls", ctx, marks=marks)
                total.append(time.monotonic() - t0)
                if marks:
                    hs.append(marks["handshake"])
                    ehlo.append(marks["ehlo"])
                s.sendall(b"QUIT\r\n")
                r.expect(221, "QUIT")
                s.close()
            out[mode] = {"setup_ms": median(total) * 1000}
            if hs:
                out[mode]["handshake_ms"] = median(hs) * 1000
                out[mode]["ehlo_tls_ms"] = median(ehlo) * 1000
    finally:
        srv.stop()
    return out


def still_open(socks):
    """How many of SOCKS the server has not closed (nothing may be waiting)."""
    n = 0
    for s in socks:
        try:
            s.setblocking(False)
            if s.recv(1) == b"":
                continue
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
        except OSError:
            continue
        finally:
            try:
                s.setblocking(True)
            except OSError:
                pass
        n += 1
    return n


def idle_memory(base, cert, key, count):
    """RSS of the idle server, then per idle session: COUNT sessions each
    greeted and past EHLO (TLS: STARTTLS, handshake, EHLO), silent for
    more than 0.5 s (the server gives an idle session's input buffers
    back after 200 ms), until the RSS is steady."""
    out = {}
    for mode in MODES + (("build",) if BUILD["ok"] else ()):
        # More than 80% of --max-conn is stress mode: keep the normal
        # limits, so no session is dropped while we measure.
        srv = Server(base, cert, key, ["--max-conn", str(count + 100), "--stress-timeout", "300"],
                     plain_build=mode == "build")
        try:
            idle = srv.steady_rss()
            ctx = client_context(cert) if mode == "tls" else None
            socks = []
            try:
                for _ in range(count):
                    socks.append(open_session(srv.port, mode == "tls", ctx, timeout=30,
                                              offered=mode != "build")[0])
                time.sleep(0.6)  # the sessions' idle time before the buffers go
                rss = srv.steady_rss()
                n_open = still_open(socks)
                if n_open != count:
                    raise RuntimeError(f"only {n_open} of {count} idle {mode} sessions stayed open")
            finally:
                for s in socks:
                    s.close()
            out[mode] = {"idle_kib": idle, "per_idle_kib": (rss - idle) / count}
        finally:
            srv.stop()
    return out


def stream_memory(base, cert, key, mode, sessions, size, timeout=600):
    """SESSIONS at once each sending one SIZE message: RSS per session
    above the idle server's, as the peak of VmRSS sampled every 10 ms and
    as VmHWM."""
    settle()
    srv = Server(base, cert, key)
    try:
        idle = srv.steady_rss()
        hwm0 = srv.hwm()
        peak = [idle]
        last = [0.0]

        def sample():
            now = time.monotonic()
            if now - last[0] >= 0.002:
                last[0] = now
                peak[0] = max(peak[0], srv.rss())
        start, _, end, ok, client_cpu, desc = drive(srv.port, mode == "tls", cert,
                                                 [("stream", size)] * sessions, timeout, sample)
        sample()
        hwm = srv.hwm()
        arrived = count_files(srv.new_dir())
        if ok != sessions or arrived != sessions:
            raise RuntimeError(f"stream {mode}: {ok} accepted, {arrived} of {sessions} in new/")
        return {"per_stream_kib": (peak[0] - idle) / sessions,
                "per_stream_hwm_kib": (hwm - idle) / sessions if hwm > hwm0 else None,
                "stream_mbps": sessions * size / (end - start) / 1e6,
                "stream_idle_kib": idle}
    finally:
        srv.stop()
        shutil.rmtree(srv.dir, ignore_errors=True)  # a few large files: no inode churn


def smtp_source_a(base, cert, key, spec, timeout=300):
    """Plain (a) with Postfix's smtp-source as the client (-d: one
    connection per session), to see what the Python driver costs."""
    n, size, sessions, _ = spec
    settle()
    srv = Server(base, cert, key)
    try:
        cpu0 = srv.cpu()
        t0 = time.monotonic()
        p = subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(n), "-d", "-l", str(size),
                            "-S", "bench tls smtp-source", "-M", "smtp-source.bench",
                            "-f", SENDER, "-t", RCPT, f"127.0.0.1:{srv.port}"],
                           capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        wait_until(lambda: count_files(srv.new_dir()) >= n, f"{n} files in new/", 30, 0.01)
        secs = time.monotonic() - t0
        cpu1 = srv.cpu()
        if p.returncode != 0 or p.stderr.strip() or count_files(srv.new_dir()) != n:
            raise RuntimeError(f"smtp-source: exit {p.returncode} {p.stderr[-500:]}")
        return {"rate": n / secs, "cpu_ms": (cpu1 - cpu0) / TICK / n * 1000}
    finally:
        srv.stop()


# ------------------------------------------------------------------ sizes


def has_tls(path):
    with open(path, "rb") as f:
        return b"rustls" in f.read()


def stripped(path, prefix):
    """Stripped size of PATH (the arch's strip, else llvm-strip), or None."""
    if not os.path.exists(path):
        return None
    d = tempfile.mkdtemp(prefix="tinymx-bench-strip-")
    try:
        dst = os.path.join(d, "tinymx")
        for tool in (f"{prefix}-strip", "llvm-strip", "strip"):
            if shutil.which(tool) and subprocess.run([tool, "-o", dst, path],
                                                     capture_output=True).returncode == 0:
                return os.path.getsize(dst)
        return os.path.getsize(path)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def sizes():
    rows = [("x86_64 (stable, make tls / make build)", TLS_BIN, PLAIN_BIN, "x86_64-linux-gnu")]
    for arch, triple, prefix in ARCHES:
        rows.append((f"{arch} (router-sized, make tls-{arch} / make {arch})",
                     os.path.join(ROOT, "target/tls", arch, triple, "release/tinymx"),
                     os.path.join(ROOT, "target/tiny", arch, triple, "release/tinymx"), prefix))
    out = []
    for label, tls, plain, prefix in rows:
        t, p = stripped(tls, prefix), stripped(plain, prefix)
        note = ""
        if p is not None and has_tls(plain):
            note = "plain binary contains rustls: not a plain build"
        if t is not None and not has_tls(tls):
            note = "TLS binary has no rustls: not a TLS build"
        out.append((label, t, p, note))
    return out


# ------------------------------------------------------------------ report


def version(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def machine_info(base):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
        "fs": "%s (%s)" % df_fields(base),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "tinymx": version([TLS_BIN, "--version"]),
        "git": version(["git", "-C", ROOT, "describe", "--always", "--dirty"]),
        "python": platform.python_version(), "openssl": ssl.OPENSSL_VERSION,
    }


def report(cfg, info, runs, size_rows, elapsed, smoke):
    keys = set()
    for r in runs:
        keys |= set(r)
    med = {k: median([r.get(k) for r in runs]) for k in keys}
    g = med.get
    an, asz, ases, aper = cfg["a"]
    cn, csz, cses, cper = cfg["c"]
    hn, hsz, hses, hper = cfg["h"]
    sn, ssz = cfg["stream"]
    k = cfg["idle"]
    desc = sorted({r.get("desc") for r in runs if r.get("desc")})
    L = []
    title = "bench-tls smoke (tiny counts, not a measurement)" if smoke else "TLS (make bench-tls)"
    L.append(f"## {title}\n")
    L.append(f"- date: {info['date']}; whole run {elapsed:.0f} s; {len(runs)} run(s), medians")
    L.append(f"- machine: {info['nproc']} CPUs, {info['cpu']}, Linux {info['kernel']}; load average "
             f"{info['load']} at the start, {info['load_end']} at the end")
    L.append(f"- {info['tinymx']} (git {info['git']}): `make tls`'s binary for the plain and the "
             f"STARTTLS column, the same certificate loaded (RSA-2048, self-signed); negotiated "
             f"{', '.join(desc) or '?'}, no resumption (every connection a full handshake); "
             f"`make build`'s binary (no TLS in it) as the reference column")
    L.append(f"- spools on disk: {info['fs']} under {info['base']}/; {SETTLE['how']}")
    L.append(f"- client: bench/tls.py's driver for every column (Python {info['python']}, "
             f"{info['openssl']}): raw sockets + ssl, PIPELINING (MAIL/RCPT/DATA in one write; "
             f"the message, its final dot and the next MAIL/RCPT/DATA in the next), one "
             f"{'forked process' if DRIVER['kind'] == 'processes' else 'thread'} per session; "
             f"STARTTLS = STARTTLS, handshake, EHLO again, then the same dialog; plain = no "
             f"STARTTLS. Timed from the sessions' start to the last 250; every file is counted "
             f"in new/")
    L.append("")
    L.append("| measure | better | `make build`, plain | `make tls`, plain | `make tls`, STARTTLS "
             "| STARTTLS/plain |")
    L.append("|---|:-:|---:|---:|---:|---:|")

    def row(label, better, key, digits=None):
        b, p, t = g(("build",) + key), g(("plain",) + key), g(("tls",) + key)
        L.append(f"| {label} | {better} | {fmt(b, digits)} | {fmt(p, digits)} | {fmt(t, digits)} "
                 f"| {ratio(t, p)} |")
    row(f"(a) {an:,} × {asz // KIB} KiB, {ases} sessions, {aper} mails per connection: mail/s",
        "↑", ("a", "rate"))
    row("(a) … the mail alone, once every session is set up: mail/s", "↑", ("a", "mail_rate"))
    row(f"(a) … the setup of the {ases} sessions at once, s", "↓", ("a", "setup_secs"), 3)
    row("(a) tinymx CPU (utime+stime), ms per mail", "↓", ("a", "cpu_ms"), 3)
    row("(a) … the mail alone, ms per mail", "↓", ("a", "mail_cpu_ms"), 3)
    row("(a) the driver's CPU, ms per mail", "↓", ("a", "client_cpu_ms"), 3)
    row(f"(c) {cn:,} × {csz // KIB} KiB, {cses} session, one connection: mail/s", "↑", ("c", "rate"))
    row("(c) … the mail alone, once the session is set up: mail/s", "↑", ("c", "mail_rate"))
    row("(c) tinymx CPU, ms per mail", "↓", ("c", "cpu_ms"), 3)
    row("(c) the driver's CPU, ms per mail", "↓", ("c", "client_cpu_ms"), 3)
    row(f"(a′) {hn:,} × {hsz // KIB} KiB, {hses} sessions, a new connection for every "
        f"{'message' if hper == 1 else f'{hper} messages'}: connections/s (STARTTLS: handshakes/s)",
        "↑", ("h", "conn_rate"))
    row("(a′) tinymx CPU, ms per connection", "↓", ("h", "cpu_ms_conn"), 3)
    row("(a′) the driver's CPU, ms per connection", "↓", ("h", "client_cpu_ms"), 3)
    row(f"one session's setup alone, {cfg['latency']} one after another: connect → EHLO answered "
        "(STARTTLS: → STARTTLS, handshake, EHLO answered), ms", "↓", ("setup_ms",), 1)
    row("idle server, RSS KiB", "↓", ("idle_kib",))
    row(f"RSS per idle session ({k} open, past EHLO, silent ≥ 0.6 s), KiB", "↓", ("per_idle_kib",), 1)
    row(f"{sn} session{'s' * (sn > 1)} streaming one {ssz // MIB} MiB message each at once: MB/s",
        "↑", ("stream_mbps",))
    row(f"… RSS per streaming session: (VmRSS peak, sampled every 2 ms, − idle) / {sn}, KiB", "↓",
        ("per_stream_kib",), 1)
    row(f"… the same from VmHWM: (VmHWM − idle) / {sn}, KiB", "↓", ("per_stream_hwm_kib",), 1)
    L.append("")
    for mode in ("build",) + MODES:
        if mode == "build" and not BUILD["ok"]:
            continue
        name = {"build": "`make build`, plain", "plain": "`make tls`, plain",
                "tls": "`make tls`, STARTTLS"}[mode]
        parts = [f"(a) {', '.join(fmt(r.get((mode, 'a', 'rate'))) for r in runs)} mail/s, "
                 f"{', '.join(fmt(r.get((mode, 'a', 'cpu_ms')), 3) for r in runs)} ms CPU/mail"]
        if mode != "build":
            parts += [f"(c) {', '.join(fmt(r.get((mode, 'c', 'rate'))) for r in runs)} mail/s",
                      f"(a′) {', '.join(fmt(r.get((mode, 'h', 'conn_rate'))) for r in runs)} conn/s"]
        L.append(f"- per run, {name}: " + "; ".join(parts))
    if not BUILD["ok"]:
        L.append(f"- `make build`'s column is empty: {BUILD['why']}")
    L.append(f"- (a) and (c) keep one connection per session, as bench/run.py's smtp-source -d "
             f"does ({aper} and {cper} mails per connection): {ases} and {cses} handshake(s) per "
             f"run, so what STARTTLS costs there is the record layer (the mail alone) plus the "
             f"setup; (a′) makes a connection, with STARTTLS a full handshake, for every "
             f"{'message' if hper == 1 else f'{hper} messages'}. tinymx's CPU is from "
             f"/proc/PID/stat ({TICK} ticks/s: ± {1000 / TICK / an:.3f} ms per mail in (a), "
             f"± {1000 / TICK / cn:.3f} in (c))")
    hs, eh = g(("tls", "handshake_ms")), g(("tls", "ehlo_tls_ms"))
    hcpu = g(("tls", "h", "cpu_ms_conn"))
    L.append(f"- one STARTTLS setup's handshake took {fmt(hs, 1)} ms and the EHLO after it "
             f"{fmt(eh, 1)} ms (medians), while tinymx's CPU per (a′) STARTTLS connection is "
             f"{fmt(hcpu, 3)} ms: enough for {fmt(info['nproc'] * 1000 / hcpu if hcpu else None)} "
             f"handshakes/s on {info['nproc']} CPUs if nothing else waited")
    if hs and eh and hs > 30 and eh > 30:
        L.append("- both are about Linux's 40 ms delayed ACK: tinymx sets no TCP_NODELAY and sends "
                 "its handshake flight in three writes (ServerHello, ChangeCipherSpec, the "
                 "encrypted rest) and the session tickets and the EHLO reply in two, so Nagle "
                 "holds the later write until the client's delayed ACK of the first (strace of "
                 "the server). (a′)'s handshakes/s is about sessions / setup time, not CPU")
    cores_p, cores_t = g(("plain", "a", "client_cores")), g(("tls", "a", "client_cores"))
    srv_p, srv_t = g(("plain", "a", "server_cores")), g(("tls", "a", "server_cores"))
    L.append(f"- CPUs busy during (a) (CPU s / wall s): tinymx {fmt(srv_p)} plain, {fmt(srv_t)} "
             f"STARTTLS; the driver {fmt(cores_p)} plain, {fmt(cores_t)} STARTTLS, of "
             f"{info['nproc']}: the client shares the CPUs with the server")
    if g(("ss", "rate")) is not None:
        L.append(f"- the driver against Postfix's smtp-source (C; no pipelining, no TLS) in the "
                 f"same run, (a) against `make tls` in plain text: smtp-source "
                 f"{fmt(g(('ss', 'rate')))} mail/s (tinymx CPU {fmt(g(('ss', 'cpu_ms')), 3)} ms/mail), "
                 f"the driver {fmt(g(('plain', 'a', 'rate')))} mail/s: driver/smtp-source "
                 f"{ratio(g(('plain', 'a', 'rate')), g(('ss', 'rate')))}")
    else:
        L.append("- smtp-source is not installed (bench/install.sh): the driver is not compared "
                 "with it")
    low = [m for m in MODES if (g((m, "per_stream_hwm_kib")) or 0) < (g((m, "per_stream_kib")) or 0)]
    if low:
        L.append(f"- VmHWM read below the sampled VmRSS peak ({', '.join(LABEL[m] for m in low)}): "
                 f"the kernel raises its high-water mark only at certain events (such as an "
                 f"unmap), from an approximate counter, so the sampled peak is the figure to use")
    L.append("")
    L.append("Stripped static binaries, bytes (each architecture's binutils strip; cross builds "
             "as found, not built by this script):\n")
    L.append("| build | TLS | plain | TLS − plain | TLS/plain |")
    L.append("|---|---:|---:|---:|---:|")
    for label, t, p, note in size_rows:
        diff = f"{t - p:+,}" if t is not None and p is not None else "—"
        L.append(f"| {label} | {f'{t:,}' if t is not None else 'not built'} | "
                 f"{f'{p:,}' if p is not None else 'not built'} | {diff} | {ratio(t, p)} |"
                 + (f" ({note})" if note else ""))
    return "\n".join(L) + "\n"


# ------------------------------------------------------------------ main


def check(cfg, runs, size_rows):
    """--smoke: every figure is a number (speed is never judged)."""
    need = [(m, wl, k) for m in MODES for wl in "ach"
            for k in ("rate", "cpu_ms", "client_cpu_ms", "conn_rate")]
    need += [(m, wl, k) for m in MODES for wl in "ac" for k in ("mail_rate", "setup_secs")]
    need += [(m, k) for m in MODES for k in ("idle_kib", "per_idle_kib", "per_stream_kib",
                                             "stream_mbps", "setup_ms")]
    need += [("tls", "handshake_ms"), ("tls", "ehlo_tls_ms")]
    if BUILD["ok"]:
        need += [("build", "a", "rate"), ("build", "a", "cpu_ms"), ("build", "idle_kib"),
                 ("build", "per_idle_kib")]
    bad = []
    for r in runs:
        for key in need:
            v = r.get(key)
            if not isinstance(v, (int, float)) or v < 0 or \
                    (key[-1] in ("rate", "conn_rate", "mail_rate", "idle_kib", "stream_mbps",
                                 "setup_ms", "handshake_ms") and not v > 0):
                bad.append(key)
        if not r.get("desc", "").startswith("TLSv"):
            bad.append("TLS description")
    if size_rows[0][1] is None or size_rows[0][2] is None:
        bad.append("x86_64 sizes")
    assert not bad, f"bench-tls smoke: no number for {bad}"


def main():
    global TLS_BIN, PLAIN_BIN
    sys.stdout.reconfigure(errors="backslashreplace")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny counts; checks, no thresholds")
    ap.add_argument("--out", help="also write the section here")
    ap.add_argument("--spool-dir", default=os.path.join(ROOT, "target"),
                    help="the directory on disk for the temporary spools (default target/)")
    ap.add_argument("--driver", choices=("threads", "processes"), default="threads",
                    help="one thread per session (default: less client CPU per mail than "
                    "forked processes, measured) or one forked process")
    ap.add_argument("--runs", type=int, help="runs (default 3, --smoke 1; BENCH_RUNS)")
    args = ap.parse_args()
    cfg = dict(SMOKE if args.smoke else FULL)
    if args.runs:
        cfg["runs"] = args.runs
    DRIVER["kind"] = args.driver
    for tool in ("openssl",):
        if not shutil.which(tool):
            sys.exit(f"bench-tls: {tool} is needed")
    if not os.path.exists(TLS_BIN):
        sys.exit(f"bench-tls: no {TLS_BIN} (make tls)")
    os.makedirs(args.spool_dir, exist_ok=True)
    base = tempfile.mkdtemp(prefix="bench-tls-", dir=args.spool_dir)
    if "tmpfs" in df_fields(base)[0]:
        log(f"warning: {base} is on tmpfs, not a disk")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < cfg["idle"] + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(cfg["idle"] + 200, hard), hard))
    # The binary is copied once, so that a rebuild during the run (others
    # work in this tree) does not change it half-way.
    size_rows = sizes()
    shutil.copy2(TLS_BIN, os.path.join(base, "tinymx"))
    TLS_BIN = os.path.join(base, "tinymx")
    if not os.path.exists(PLAIN_BIN):
        BUILD["why"] = f"no {os.path.relpath(PLAIN_BIN, ROOT)} (make build)"
    elif has_tls(PLAIN_BIN):
        BUILD["why"] = f"{os.path.relpath(PLAIN_BIN, ROOT)} has TLS in it: not the plain build"
    else:
        shutil.copy2(PLAIN_BIN, os.path.join(base, "tinymx-plain"))
        PLAIN_BIN = os.path.join(base, "tinymx-plain")
        BUILD["ok"] = True
    info = machine_info(base)
    info["base"] = os.path.relpath(args.spool_dir, ROOT) if args.spool_dir.startswith(ROOT) \
        else args.spool_dir
    SETTLE["needed"] = ext4_without_journal(base) and not args.smoke
    have_ss = shutil.which("smtp-source") is not None
    t_start = time.monotonic()
    runs = []
    try:
        cert, key = make_cert(base)
        for run in range(cfg["runs"]):
            log(f"run {run + 1} of {cfg['runs']}")
            r = {}
            # Alternate which mode goes first, so a load change does not
            # always hit the same one.
            order = MODES if run % 2 == 0 else MODES[::-1]
            for wl in "ach":
                for mode in order:
                    res = workload(base, cert, key, mode, cfg[wl], wl)
                    for kk, v in res.items():
                        r[(mode, wl, kk)] = v
                    if mode == "tls":
                        r["desc"] = res["desc"]
                    log(f"  ({wl}) {mode:5}: {res['secs']:.2f}s, {res['rate']:,.0f} mail/s, "
                        f"{res['conn_rate']:,.0f} conn/s, tinymx {res['cpu_ms']:.3f} ms/mail, "
                        f"driver {res['client_cpu_ms']:.3f} ms/mail "
                        f"(CPUs: tinymx {res['server_cores']:.2f}, driver {res['client_cores']:.2f})")
            if BUILD["ok"]:
                res = workload(base, cert, key, "build", cfg["a"], "a")
                for kk, v in res.items():
                    r[("build", "a", kk)] = v
                log(f"  (a) plain build: {res['rate']:,.0f} mail/s, tinymx {res['cpu_ms']:.3f} ms/mail")
            if have_ss:
                res = smtp_source_a(base, cert, key, cfg["a"])
                r[("ss", "rate")], r[("ss", "cpu_ms")] = res["rate"], res["cpu_ms"]
                log(f"  (a) plain, smtp-source: {res['rate']:,.0f} mail/s, tinymx {res['cpu_ms']:.3f} ms/mail")
            for mode, res in latency(base, cert, key, cfg["latency"]).items():
                for kk, v in res.items():
                    r[(mode, kk)] = v
                log(f"  setup {mode:5}: " + ", ".join(f"{kk} {v:.1f}" for kk, v in res.items()))
            for mode, res in idle_memory(base, cert, key, cfg["idle"]).items():
                for kk, v in res.items():
                    r[(mode, kk)] = v
                log(f"  idle {mode:5}: server {res['idle_kib']:,} KiB, "
                    f"{res['per_idle_kib']:.1f} KiB per idle session")
            for mode in order:
                res = stream_memory(base, cert, key, mode, *cfg["stream"])
                for kk, v in res.items():
                    r[(mode, kk)] = v
                log(f"  stream {mode:5}: {res['stream_mbps']:.1f} MB/s, "
                    f"{res['per_stream_kib']:.1f} KiB per session (sampled), "
                    f"HWM {fmt(res['per_stream_hwm_kib'])}")
            runs.append(r)
        elapsed = time.monotonic() - t_start
        info["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
        text = report(cfg, info, runs, size_rows, elapsed, args.smoke)
        if args.smoke:
            check(cfg, runs, size_rows)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    print()
    print(text, end="")
    if args.out:
        log(f"written to {args.out}")
    if args.smoke:
        log(f"bench-tls smoke: ok (every message arrived, every figure a number) in {elapsed:.0f}s")


if __name__ == "__main__":
    main()
