#!/usr/bin/env python3
"""`make bench`: tinymx side by side with Postfix (smtpd → virtual →
Maildir), aiosmtpd (→ Maildir with fsync), Postfix's smtp-sink (stores
nothing) and the file system's own limit (the "ceiling"), with Postfix's
smtp-source as the client; and tinymx's own cost of checking senders
(SPF against bench/dns_server.py, with --no-auth as the peer). Writes
bench/results.md and prints it.

  python3 bench/run.py           the full run: 3 runs, medians (≤ 15 min)
  python3 bench/run.py --smoke   tiny counts, tinymx + ceiling + smtp-sink
                                 only; checks that every measurement gave a
                                 number and every mail arrived (make test)
  python3 bench/run.py --auth-only   the sender-check row alone (SPF against
                                 bench/dns_server.py; --no-auth, warm and
                                 cold cache), 3 runs, printed (~1-2 min)
  python3 bench/run.py --defences-only   the defences row alone: mail/s with
                                 all off and with two DNSBL zones (local
                                 DNS server), one connection per message

Everything runs on 127.0.0.1; every server gets its own temporary
directory (under $BENCH_DIR, default /var/tmp, which should be a disk; the
tmpfs runs use /dev/shm) and is stopped by its pid afterwards; every wait
has a bound. Needs root for Postfix (make bench uses sudo when not root).

Environment: TINYMX_BIN (default target/x86_64-unknown-linux-musl/release/
tinymx), BENCH_DIR, BENCH_RUNS.
"""
import argparse
import ctypes
import datetime
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import dns_server  # bench/dns_server.py: the sender checks' DNS

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
import loopfs  # noqa: E402  tests/loopfs.py: ext4/XFS/btrfs/slow-flush on loop devices

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.environ.get("TINYMX_BIN") or os.path.join(
    ROOT, "target/x86_64-unknown-linux-musl/release/tinymx")
# dkimpy's Python (make test-deps), which signs the DKIM row's messages,
# and the DKIM microbenchmark (cargo build --release --example dkim_speed).
DKIM_PY = os.environ.get("DKIM_PY") or os.path.join(ROOT, "tests/.venv/bin/python")
DKIM_SPEED = os.environ.get("DKIM_SPEED_BIN") or os.path.join(
    ROOT, "target/x86_64-unknown-linux-musl/release/examples/dkim_speed")
VENV_PY = os.path.join(os.environ.get("BENCH_VENV") or os.path.join(HERE, ".venv"), "bin/python")
BASE = os.environ.get("BENCH_DIR", "/var/tmp")
TMPFS = "/dev/shm"
SENDER = "a@example.com"
RCPT = "bob@bench.test"
MAILBOX = "bob"
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
KIB = 1024
MIB = 1024 * 1024

# Workloads: (messages, payload bytes, sessions).
FULL = {
    "runs": int(os.environ.get("BENCH_RUNS", "3")),
    "a": (5000, 4 * KIB, 20),
    "b": (500, MIB, 4),
    "c": (2000, KIB, 1),
    "idle": 1000,
    "ceil1": 2000,       # operations, 1 thread (as many as (c) sends)
    "ceil20": 5000,      # operations over 20 threads (as many as (a) sends)
    "callgrind": (50, 250),  # mails for the two runs whose difference counts
    "peers": ("tinymx", "postfix", "aiosmtpd", "smtp-sink"),
    "auth": (5000, 4 * KIB, 20),  # sender checks: as (a), spool on tmpfs
    "defences": (2000, 4 * KIB, 20),  # one connection per message, tmpfs
    "dkim": (5000, 20),  # DKIM-signed 4 KiB messages, sessions; tmpfs
    # The microbenchmarks, each run: the body file, dkim_speed's rounds
    # over it, sha256sum's tries; verifications per round, rounds.
    "dkim_micro": {"hash_mib": 10, "hash_rounds": 5, "sha_tries": 7,
                   "iters": 200, "rounds": 7},
    # aiosmtpd waits for each fsync in its one event loop, so it is by far
    # the slowest on disk: fewer mails there keep the whole run within 15
    # minutes (rates are per second; the report says so).
    "fewer": {("aiosmtpd", "a_disk"): 2000, ("aiosmtpd", "b_disk"): 200,
              ("aiosmtpd", "c_disk"): 1000},
    # Issue 19: the spool on the file systems users have, once per run of
    # make bench (its own section): the issue's counts; ceilings of as many
    # operations; the sequential-write ceiling in MiB; the strace'd runs'
    # mails (fsync calls per mail; strace slows them, so not timed).
    "fs": {"kinds": ("ext4", "xfs", "btrfs", "slow-ext4"),
           "a": (2000, 4 * KIB, 20), "b": (200, MIB, 4), "c": (800, KIB, 1),
           "ceil1": 800, "ceil20": 2000, "ceilb": 200, "seq_mib": 200, "strace": {"a": 500, "c": 200},
           "peers": ("tinymx", "postfix")},
}
SMOKE = {
    "runs": 1,
    "a": (200, 4 * KIB, 20),
    "b": (8, MIB, 2),
    "c": (100, KIB, 1),
    "idle": 50,
    "ceil1": 50,
    "ceil20": 200,
    "callgrind": None,
    "peers": ("tinymx", "smtp-sink"),
    "auth": (50, 4 * KIB, 4),
    "defences": (50, 4 * KIB, 4),
    "dkim": (50, 4),
    "dkim_micro": {"hash_mib": 1, "hash_rounds": 1, "sha_tries": 1, "iters": 3, "rounds": 1},
    "fewer": {},
    "fs": {"kinds": ("ext4",), "a": (100, 4 * KIB, 20), "b": (4, MIB, 2), "c": (50, KIB, 1),
           "ceil1": 50, "ceil20": 100, "ceilb": 4, "seq_mib": 8, "strace": {"a": 40, "c": 20},
           "peers": ("tinymx", "postfix")},
}
NAMES = {"tinymx": "tinymx", "postfix": "Postfix", "aiosmtpd": "aiosmtpd",
         "smtp-sink": "smtp-sink", "ceiling": "ceiling"}


T0 = time.monotonic()


def log(msg):
    print(f"bench: [{time.monotonic() - T0:5.0f}s] {msg}", flush=True)


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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_on(port):
    """True when some socket listens on 127.0.0.1:port (or 0.0.0.0)."""
    want = f":{port:04X}"
    try:
        with open("/proc/net/tcp") as f:
            rows = f.read().splitlines()[1:]
    except OSError:
        return False
    for row in rows:
        fields = row.split()
        if fields[3] == "0A" and fields[1].endswith(want):
            return True
    return False


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def descendants(pid):
    """pid and every process below it (one pass over /proc)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parent[int(d)] = int(stat_fields(d)[1])
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [pid], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def cpu_ticks(pids):
    """(user+sys, user) of pids, each with its waited-for children (the
    Postfix master's cutime/cstime hold the smtpd and virtual processes
    that ended)."""
    total = user = 0
    for pid in pids:
        try:
            f = [int(x) for x in stat_fields(pid)[11:15]]  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            continue
        total += sum(f)
        user += f[0] + f[2]
    return total, user


def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def count_files(d):
    try:
        with os.scandir(d) as it:
            return sum(1 for _ in it)
    except FileNotFoundError:
        return 0


def make_workdir(base, name):
    d = tempfile.mkdtemp(prefix=f"tinymx-bench-{name}-", dir=base)
    os.chmod(d, 0o755)  # Postfix's unprivileged processes look inside
    return d


# Disk work directories are removed at the end of the whole run, not after
# each workload, so that no workload inherits thousands of just-freed
# inodes (see settle()).
DEFERRED = []
DEFER = {"on": False}


def remove_tree(d):
    if DEFER["on"] and os.path.realpath(d).startswith(os.path.realpath(BASE) + os.sep):
        DEFERRED.append(d)
        return
    shutil.rmtree(d, ignore_errors=True)


def remove_deferred():
    while DEFERRED:
        shutil.rmtree(DEFERRED.pop(), ignore_errors=True)


def ext4_without_journal(path):
    """True if PATH is on ext4 with no jbd2 journal (nothing in /proc/fs/jbd2
    for its device)."""
    fstype, source = df_fields(path)
    if fstype != "ext4":
        return False
    dev = os.path.basename(os.path.realpath(source))
    try:
        return not any(j.rsplit("-", 1)[0] == dev for j in os.listdir("/proc/fs/jbd2"))
    except OSError:
        return True


# On ext4 without a journal, creating a file skips inode numbers freed
# in the last minute (5 minutes while their inode table block is dirty)
# if that block is still in the buffer cache: recently_deleted() in
# fs/ext4/ialloc.c. After a bulk deletion (an earlier program, Postfix's
# queue) every create scans past thousands of them: the next workload,
# whichever peer or the ceiling it is, runs several times slower (perf:
# 41% of tinymx's CPU in that scan). Writing the blocks back and dropping
# clean caches before each disk measurement removes that inheritance.
SETTLE = {"needed": False, "since": 0.0, "waited": 0.0, "how": ""}
RECENTLY_DELETED_SECS = 62


def freed_inodes_now():
    SETTLE["since"] = time.monotonic()


def settle():
    """Before a measurement that creates files on the disk."""
    if not SETTLE["needed"]:
        return
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
        SETTLE["how"] = "sync + drop_caches"
        return
    except OSError:
        pass
    # Not allowed to drop caches: wait until the last bulk deletion is
    # older than the window instead.
    SETTLE["how"] = "waiting"
    left = SETTLE["since"] + RECENTLY_DELETED_SECS - time.monotonic()
    if left > 0:
        log(f"  (waiting {left:.0f}s until freed inodes are reusable: ext4 without a journal)")
        time.sleep(left)
        SETTLE["waited"] += left


def df_fields(path):
    """(file system type, source) of the file system holding PATH."""
    p = subprocess.run(["df", "--output=fstype,source", path], capture_output=True, text=True)
    fields = (p.stdout.splitlines()[1:] or ["? ?"])[0].split()
    return fields[0], fields[-1]


def fs_type(path):
    return "%s (%s)" % df_fields(path)


# ------------------------------------------------------------------ servers


class Server:
    """A peer in its own temporary directory, on its own loopback port."""

    durable = True
    multi_process = False

    def __init__(self, base, name):
        self.name = name
        self.on_disk = os.path.realpath(base) == os.path.realpath(BASE)
        self.dir = make_workdir(base, name)
        self.port = free_port()
        self.proc = None
        self.pid = None
        self.rusage = None

    # The Maildir whose new/ receives the messages (None: stores nothing).
    def new_dir(self):
        return None

    def pids(self):
        return [self.pid] if self.pid and alive(self.pid) else []

    def rss_kib(self):
        return sum(status_kib(p, "VmRSS") for p in self.pids())

    def pss_kib(self):
        return sum(pss_kib(p) for p in self.pids())

    def hwm_kib(self):
        return status_kib(self.pid, "VmHWM")

    def cpu(self):
        return cpu_ticks(self.pids())

    def wait_ready(self, timeout=30):
        def ready():
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode} at start: {self.tail()}")
            return listening_on(self.port)
        wait_until(ready, f"{self.name} listening on 127.0.0.1:{self.port}", timeout)

    def tail(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()[-1500:]
        except OSError:
            return ""

    def spawn(self, argv):
        self.logf = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        self.pid = self.proc.pid

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            # Reap it ourselves for its resource usage (all its threads):
            # voluntary context switches = how often it slept.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                pid, status, usage = os.wait4(self.pid, os.WNOHANG)
                if pid:
                    self.rusage = usage
                    self.proc.returncode = os.waitstatus_to_exitcode(status)
                    break
                time.sleep(0.01)
            else:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self.logf.close()

    def cleanup(self):
        remove_tree(self.dir)


class Tinymx(Server):
    def __init__(self, base, extra=(), wrapper=()):
        super().__init__(base, "tinymx")
        self.spool = os.path.join(self.dir, "spool")
        self.spawn([*wrapper, BIN, "-l", f"127.0.0.1:{self.port}", "-n", "tinymx.bench",
                    "-d", self.spool, *extra])

    def new_dir(self):
        return os.path.join(self.spool, MAILBOX, "new")


class Aiosmtpd(Server):
    def __init__(self, base):
        super().__init__(base, "aiosmtpd")
        self.spool = os.path.join(self.dir, "spool")
        self.spawn([VENV_PY, os.path.join(HERE, "aiosmtpd_maildir.py"), str(self.port), self.spool])

    def new_dir(self):
        return os.path.join(self.spool, MAILBOX, "new")


class SmtpSink(Server):
    durable = False

    def __init__(self, base, wrapper=(), extra=()):
        super().__init__(base, "smtp-sink")
        user = ["-u", "nobody"] if os.geteuid() == 0 and not wrapper else []
        # -c: counters on stdout (how many messages arrived); -m: up to
        # 1,100 sessions at once; 1,024: the listen backlog.
        self.spawn([*wrapper, "smtp-sink", "-c", *user, *extra, "-m", "1100",
                    f"127.0.0.1:{self.port}", "1024"])

    def received(self):
        counts = re.findall(r"mesg=(\d+)", self.tail())
        return int(counts[-1]) if counts else 0


class Postfix(Server):
    multi_process = True

    def __init__(self, base):
        super().__init__(base, "postfix")
        self.etc = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.maildir = os.path.join(self.dir, "maildir")
        os.makedirs(self.etc)
        os.mkdir(self.queue, 0o755)
        import pwd
        pw = pwd.getpwnam("postfix")
        os.mkdir(self.maildir, 0o700)
        os.chown(self.maildir, pw.pw_uid, pw.pw_gid)
        defaults = {}
        p = subprocess.run(["postconf", "-d", "daemon_directory", "command_directory",
                            "meta_directory", "shlib_directory"],
                           capture_output=True, text=True, check=True)
        for line in p.stdout.splitlines():
            k, _, v = line.partition(" = ")
            defaults[k.strip()] = v.strip()
        subst = {
            "@DIR@": self.dir, "@PORT@": str(self.port),
            "@UID@": str(pw.pw_uid), "@GID@": str(pw.pw_gid),
            "@DAEMON_DIRECTORY@": defaults["daemon_directory"],
            "@COMMAND_DIRECTORY@": defaults["command_directory"],
            "@META_DIRECTORY@": defaults["meta_directory"],
            "@SHLIB_DIRECTORY@": defaults.get("shlib_directory", "/usr/lib/postfix"),
        }
        for name, src in (("main.cf", "main.cf.in"), ("master.cf", "master.cf")):
            with open(os.path.join(HERE, "postfix", src)) as f:
                text = f.read()
            for k, v in subst.items():
                text = text.replace(k, v)
            with open(os.path.join(self.etc, name), "w") as f:
                f.write(text)
        pidfile = os.path.join(self.queue, "pid/master.pid")

        def master():
            try:
                with open(pidfile) as f:
                    pid = int(f.read().strip() or 0)
                return pid if pid and alive(pid) else 0
            except (OSError, ValueError):
                return 0
        try:
            p = subprocess.run(["postfix", "-c", self.etc, "start"], capture_output=True,
                               text=True, timeout=60)
            if p.returncode != 0:
                raise RuntimeError(f"postfix start exited {p.returncode}: {p.stderr[-1500:]}")
            self.pid = wait_until(master, "postfix's master.pid", 30)
        except BaseException:
            # A master that started half-way is stopped by its pid file.
            pid = master()
            if pid:
                os.kill(pid, signal.SIGTERM)
            raise

    def new_dir(self):
        return os.path.join(self.maildir, MAILBOX, "new")

    def pids(self):
        return [p for p in descendants(self.pid) if alive(p)] if self.pid else []

    def hwm_kib(self):
        return None  # sampled: the sum of RSS over its processes

    def tail(self):
        try:
            with open(os.path.join(self.dir, "maillog"), errors="replace") as f:
                return f.read()[-1500:]
        except OSError:
            return ""

    def stop(self):
        if not self.pid:
            return
        pids = self.pids()
        subprocess.run(["postfix", "-c", self.etc, "stop"], capture_output=True, timeout=60)
        try:
            wait_until(lambda: not any(alive(p) for p in pids), "postfix's processes to exit", 30, 0.1)
        except TimeoutError:
            for p in pids:
                if alive(p):
                    os.kill(p, signal.SIGKILL)
        self.pid = None
        if self.on_disk:
            freed_inodes_now()  # its queue files, deleted after delivery


def start(kind, base, extra=()):
    if kind == "tinymx":
        # Enough for 20 sessions from one address and 1 MiB messages, and
        # a connection rate that never throttles the client.
        srv = Tinymx(base, ["--max-per-ip", "25", "--max-size", "20M",
                            "--max-rate", "100000", *extra])
    elif kind == "postfix":
        srv = Postfix(base)
    elif kind == "aiosmtpd":
        srv = Aiosmtpd(base)
    elif kind == "smtp-sink":
        srv = SmtpSink(base)
    else:
        raise ValueError(kind)
    try:
        srv.wait_ready()
        time.sleep(0.3)  # settle before idle measurements
    except BaseException:
        stop(srv)
        raise
    return srv


def stop(srv):
    try:
        srv.stop()
    finally:
        srv.cleanup()


# ------------------------------------------------------------------ ceiling


# Kernel CPU milliseconds per operation of the last ceiling run, by (base, threads).
CEILING_SYS = {}


LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]


def written_out(fd):
    """sync_file_range(WAIT_BEFORE|WRITE|WAIT_AFTER): tinymx's sys::write_out."""
    if LIBC.sync_file_range(fd, 0, 0, 1 | 2 | 4) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def ceiling(base, threads, ops, size=4 * KIB, timeout=120, order="fsync-first"):
    """tinymx's durable steps and nothing else, on BASE's file system:
    create in tmp/ (O_EXCL), write SIZE bytes, fsync, close, link into new/,
    fsync new/, unlink the tmp name. ORDER "written-first" is tinymx's
    order on journaled ext4 and XFS: write, write out and wait
    (sync_file_range), link into new/, fsync, close, fsync new/. Python
    threads (each syscall releases the GIL). Returns operations per second."""
    if os.path.realpath(base) == os.path.realpath(BASE):
        settle()
    d = make_workdir(base, f"ceiling{threads}")
    try:
        for sub in ("tmp", "new"):
            os.mkdir(os.path.join(d, sub))
        data = (b"x" * 76 + b"\n") * (size // 77) + b"y" * (size % 77)
        per = [ops // threads + (1 if i < ops % threads else 0) for i in range(threads)]
        done = [0] * threads
        errors = []
        deadline = time.monotonic() + timeout
        barrier = threading.Barrier(threads + 1)

        def worker(t):
            tmp = os.open(os.path.join(d, "tmp"), os.O_RDONLY | os.O_DIRECTORY)
            new = os.open(os.path.join(d, "new"), os.O_RDONLY | os.O_DIRECTORY)
            try:
                barrier.wait(30)
                for i in range(per[t]):
                    if time.monotonic() > deadline:
                        break
                    name = f"{t}.{i}"
                    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                                 0o600, dir_fd=tmp)
                    os.write(fd, data)
                    if order == "written-first":
                        written_out(fd)
                        os.link(name, name, src_dir_fd=tmp, dst_dir_fd=new)
                        os.fsync(fd)
                        os.close(fd)
                    else:
                        os.fsync(fd)
                        os.close(fd)
                        os.link(name, name, src_dir_fd=tmp, dst_dir_fd=new)
                    os.fsync(new)
                    os.unlink(name, dir_fd=tmp)
                    done[t] += 1
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                os.close(tmp)
                os.close(new)

        ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        barrier.wait(30)
        t0 = time.monotonic()
        sys0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
        for t in ts:
            t.join(timeout + 30)
        dt = time.monotonic() - t0
        # Kernel time of the durable steps alone (the threads are ours;
        # Python's own work is user time).
        CEILING_SYS[(base, threads)] = \
            (resource.getrusage(resource.RUSAGE_SELF).ru_stime - sys0) / ops * 1000
        if errors:
            raise errors[0]
        n = sum(done)
        stored = count_files(os.path.join(d, "new"))
        if stored != ops or n != ops:
            raise RuntimeError(f"ceiling: {n} of {ops} operations done, {stored} files in new/")
        return ops / dt
    finally:
        remove_tree(d)


# ------------------------------------------------------------------ workloads


class PeakSampler(threading.Thread):
    """Samples the sum of RSS over a multi-process server's processes."""

    def __init__(self, srv, interval=0.25):
        super().__init__(daemon=True)
        self.srv, self.interval = srv, interval
        self.peak = srv.rss_kib()
        self.halt = threading.Event()

    def run(self):
        while not self.halt.wait(self.interval):
            self.peak = max(self.peak, self.srv.rss_kib())

    def finish(self):
        self.halt.set()
        self.join(10)
        self.peak = max(self.peak, self.srv.rss_kib())
        return self.peak


def smtp_source(port, n, size, sessions, subject, timeout, sender=SENDER, file=None,
                reconnect=False):
    # -d: each session sends message after message (no reconnect), unless
    # RECONNECT (one connection per message). -F: the message is FILE,
    # each line sent + CRLF, instead of smtp-source's own header and SIZE
    # bytes of payload.
    content = ["-F", file] if file else ["-l", str(size), "-S", subject]
    return subprocess.run(
        ["smtp-source", "-s", str(sessions), "-m", str(n), *([] if reconnect else ["-d"]),
         *content,
         "-M", "smtp-source.bench", "-f", sender, "-t", RCPT,
         f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def workload(srv, n, size, sessions, timeout, sender=SENDER, already=0, file=None,
             reconnect=False):
    """smtp-source → srv; timed until the last file is in new/ (durable
    servers) or until smtp-source is done (smtp-sink). ALREADY: files
    that were in new/ before (not counted)."""
    sampler = PeakSampler(srv) if srv.multi_process else None
    if sampler:
        sampler.start()
    cpu0 = srv.cpu()
    t0 = time.monotonic()
    try:
        p = smtp_source(srv.port, n, size, sessions, f"bench {srv.name}", timeout, sender, file,
                        reconnect)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"smtp-source → {srv.name}: not done within {timeout}s")
    finally:
        sent = time.monotonic()
    if p.returncode != 0 or p.stderr.strip():
        raise RuntimeError(f"smtp-source → {srv.name} exited {p.returncode}: {p.stderr[-800:]}\n"
                           f"server log: {srv.tail()}")
    new = srv.new_dir()
    if new:
        left = max(30.0, timeout - (sent - t0))
        try:
            wait_until(lambda: count_files(new) >= already + n, f"{n} files in {srv.name}'s new/",
                       left, 0.01)
        except TimeoutError:
            pass
        end = time.monotonic()
        arrived = count_files(new) - already
    else:
        end = sent
        arrived = wait_until(lambda: srv.received() >= n and srv.received(), "smtp-sink's count", 10) \
            if n else 0
    cpu1 = srv.cpu()
    peak = sampler.finish() if sampler else srv.hwm_kib()
    if arrived != n:
        raise RuntimeError(f"{srv.name}: {arrived} of {n} messages arrived; log: {srv.tail()}")
    dt = end - t0
    return {
        "secs": dt,
        "rate": n / dt,
        "mbps": n * size / dt / 1e6,
        "cpu_per_1000": (cpu1[0] - cpu0[0]) / TICK / n * 1000,
        "user_per_1000": (cpu1[1] - cpu0[1]) / TICK / n * 1000,
        "peak_kib": peak,
    }


def open_idle_sessions(port, count, batch=50, timeout=60):
    """COUNT sessions that read the greeting and then say nothing."""
    socks = []
    deadline = time.monotonic() + timeout
    try:
        while len(socks) < count:
            sel = selectors.DefaultSelector()
            pending = {}
            for _ in range(min(batch, count - len(socks))):
                s = socket.create_connection(("127.0.0.1", port), timeout=30)
                s.setblocking(False)
                socks.append(s)
                pending[s] = b""
                sel.register(s, selectors.EVENT_READ)
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"greetings for {count} idle sessions within {timeout}s")
                for key, _ in sel.select(min(left, 1.0)):
                    s = key.fileobj
                    chunk = s.recv(4096)
                    if not chunk:
                        raise RuntimeError(f"session {len(socks)} closed before its greeting")
                    pending[s] += chunk
                    if re.search(rb"(^|\n)220 [^\n]*\n", pending[s]):
                        sel.unregister(s)
                        del pending[s]
            sel.close()
        return socks
    except BaseException:
        for s in socks:
            s.close()
        raise


def still_open(socks):
    n = 0
    for s in socks:
        try:
            if s.recv(1) == b"":
                continue  # closed by the server
        except BlockingIOError:
            pass
        except OSError:
            continue
        n += 1
    return n


def idle_memory(kind, base, count):
    extra = []
    if kind == "tinymx":
        # 1,000 sessions are past 80% of --max-conn: keep the normal idle
        # limit in that stress mode, so none is dropped while we measure.
        extra = ["--max-conn", str(count + 100), "--max-per-ip", str(count + 100),
                 "--stress-timeout", "300"]
    srv = start(kind, base, extra)
    try:
        idle = srv.rss_kib()
        idle_pss = srv.pss_kib()
        socks = open_idle_sessions(srv.port, count)
        try:
            time.sleep(1.0)
            rss = srv.rss_kib()
            pss = srv.pss_kib()
            open_n = still_open(socks)
            if open_n != count:
                raise RuntimeError(f"{srv.name}: only {open_n} of {count} idle sessions stayed open")
        finally:
            for s in socks:
                s.close()
        return {"idle_kib": idle, "per_session_kib": (rss - idle) / count,
                "idle_pss_kib": idle_pss, "per_session_pss_kib": (pss - idle_pss) / count}
    finally:
        stop(srv)


# ------------------------------------------------------------------ sender checks


AUTH_SENDER = f"a@{dns_server.SENDER_DOMAIN}"
AUTH_HOST = "tinymx.bench"  # tinymx's -n, the authserv-id
# (phase, tinymx's option, TTL of every DNS answer). Warm: normal TTLs,
# and one message before the timed ones fills the cache. Cold: TTL 0,
# which the resolver does not keep (dns::cache::Cache::put), so every
# message asks the DNS server again.
AUTH_PHASES = (("no-auth", "--no-auth", 3600),
               ("warm", "--auth", 3600),
               ("cold", "--auth", 0))
AUTH_LABEL = {"no-auth": "--no-auth", "warm": "--auth, warm cache",
              "cold": "--auth, cold cache"}
# TXT for the sender's domain, TXT for its include, and DMARC's TXT at
# _dmarc.example.test: after the final dot tinymx also verifies DKIM (the
# smtp-source message has no signature: dkim=none, no key lookup) and
# evaluates DMARC for the From domain, which SPF aligns with (dmarc=pass).
AUTH_LOOKUPS = 3


# What every message of the sender-check row gets (unsigned; From: the
# sender, so SPF's pass aligns).
AUTH_FIELD = (f"Authentication-Results: {AUTH_HOST}; spf=pass smtp.mailfrom={AUTH_SENDER};\n"
              f"\tdkim=none;\n\tdmarc=pass (p=reject) header.from={dns_server.SENDER_DOMAIN}\n")


def auth_fields(new):
    """(files whose header has our AUTH_FIELD, files with any
    Authentication-Results or Received-SPF field) in NEW."""
    want = AUTH_FIELD.encode()
    passed = fields = 0
    with os.scandir(new) as it:
        for e in it:
            with open(e.path, "rb") as f:
                head = b"\n" + f.read(8192).split(b"\n\n", 1)[0] + b"\n"
            passed += (b"\n" + want) in head
            fields += b"\nAuthentication-Results:" in head or b"\nReceived-SPF:" in head
    return passed, fields


def auth_options(flag, dns):
    # iprev off: the row measures SPF (and DKIM, DMARC) as before issue 16.
    return [flag, "--auth-skip", "none", "--no-iprev", "--dns", f"127.0.0.1:{dns.port}"]


def auth_instructions(dns, n1, n2):
    """Instructions per mail under callgrind (one session, the difference
    between an N2- and an N1-mail run), by phase: exact where the CPU
    times of a shared machine are not."""
    out = {}
    for phase, flag, ttl in AUTH_PHASES:
        dns.ttl = ttl
        i1, i2 = (callgrind_instructions("tinymx", TMPFS, n, auth_options(flag, dns), AUTH_SENDER)
                  for n in (n1, n2))
        out[phase] = (i2 - i1) / (n2 - n1)
        log(f"  callgrind tinymx {AUTH_LABEL[phase]}: {out[phase]:,.0f} instructions per mail")
    return out


def sender_checks(cfg, dns, run):
    """tinymx with --no-auth, then --auth with a warm and a cold cache
    (rotated by run), each on a fresh server whose spool is on tmpfs,
    against DNS, the fixed zone answering at once on 127.0.0.1. The
    clients are on loopback, which --auth skips by default: --auth-skip
    none checks them."""
    n, size, sessions = cfg["auth"]
    out = {}
    k = run % len(AUTH_PHASES)
    for phase, flag, ttl in AUTH_PHASES[k:] + AUTH_PHASES[:k]:
        dns.ttl = ttl
        srv = start("tinymx", TMPFS, auth_options(flag, dns))
        try:
            dns.reset()
            # The first message alone, untimed: it fills the warm cache
            # (and is sent in every phase, so all three start alike).
            p = smtp_source(srv.port, 1, size, 1, "bench first", 60, AUTH_SENDER)
            if p.returncode != 0 or p.stderr.strip():
                raise RuntimeError(f"smtp-source → tinymx {flag}: {p.stderr[-800:]}\n{srv.tail()}")
            wait_until(lambda: count_files(srv.new_dir()) >= 1, "the first message", 30)
            first, dns_cpu0 = dns.queries, dns.cpu
            res = workload(srv, n, size, sessions, timeout=300, sender=AUTH_SENDER, already=1)
            res["dns_first"] = first
            res["dns_queries"] = dns.queries - first
            res["dns_cpu_ms"] = (dns.cpu - dns_cpu0) / n * 1000
            res["dns_errors"] = dns.errors
            passed, fields = auth_fields(srv.new_dir())
        finally:
            stop(srv)
        if srv.rusage:
            res["ctx_per_mail"] = srv.rusage.ru_nvcsw / (n + 1)
        # The row must measure what it says: every message checked and
        # passed with --auth, none touched with --no-auth.
        if flag == "--auth" and passed != n + 1:
            raise RuntimeError(f"tinymx --auth ({phase}): {passed} of {n + 1} messages have "
                               f"{AUTH_FIELD!r}")
        if flag == "--no-auth" and (fields or first or res["dns_queries"]):
            raise RuntimeError(f"tinymx --no-auth: {fields} messages with an "
                               f"Authentication-Results or Received-SPF field, "
                               f"{first + res['dns_queries']} DNS queries")
        out[phase] = res
        log(f"  sender checks {AUTH_LABEL[phase]}: {res['rate']:,.0f} mail/s, cpu "
            f"{res['cpu_per_1000']:.3f} ms/mail, {res.get('ctx_per_mail', -1):.2f} sleeps/mail, "
            f"DNS queries {first} + {res['dns_queries']:,} "
            f"(DNS server cpu {res['dns_cpu_ms']:.3f} ms/mail)")
    base = out["no-auth"]
    for phase in ("warm", "cold"):
        r = out[phase]
        r["vs_no_auth"] = r["rate"] / base["rate"]
        r["spf_cpu_ms"] = r["cpu_per_1000"] - base["cpu_per_1000"]
        r["spf_user_ms"] = r["user_per_1000"] - base["user_per_1000"]
    base["vs_no_auth"] = 1.0
    return out


# ------------------------------------------------------------ defences


# The defences row (issue 16): one message per connection (the lists are
# asked once per connection), spool on tmpfs, --no-auth in both phases so
# only the defence differs: (a) all off, --greet-delay 0; (b) two DNSBL
# zones on the local DNS server, nothing listed (NXDOMAIN, the usual
# answer), cold cache: every connection asks both zones.
DEF_ZONES = ("bl1.test", "bl2.test")
DEF_PHASES = (("off", ["--greet-delay", "0"]),
              ("dnsbl", ["--dnsbl", DEF_ZONES[0], "--dnsbl", DEF_ZONES[1]]))


def defence_checks(cfg, dns, run):
    n, size, sessions = cfg["defences"]
    out = {}
    k = run % len(DEF_PHASES)
    for phase, extra in DEF_PHASES[k:] + DEF_PHASES[:k]:
        dns.ttl = 0
        # --auth-skip none: the client is on loopback, which is trusted
        # (no defences) by default.
        srv = start("tinymx", TMPFS, ["--no-auth", "--auth-skip", "none",
                                      "--dns", f"127.0.0.1:{dns.port}", *extra])
        try:
            dns.reset()
            res = workload(srv, n, size, sessions, timeout=300, reconnect=True)
            res["dns_queries"] = dns.queries
        finally:
            stop(srv)
        # The row must measure what it says: both zones asked for every
        # connection with the lists on, nothing asked without.
        want = n * len(DEF_ZONES) if phase == "dnsbl" else 0
        if res["dns_queries"] != want:
            raise RuntimeError(f"defences {phase}: {res['dns_queries']} DNS queries, not {want}")
        out[phase] = res
    for phase in out:
        out[phase]["vs_off"] = out[phase]["rate"] / out["off"]["rate"]
        log(f"  defences {phase}: {out[phase]['rate']:,.0f} mail/s "
            f"({out[phase]['vs_off']:.2f} of all off), cpu "
            f"{out[phase]['cpu_per_1000']:.3f} ms/mail, DNS queries {out[phase]['dns_queries']:,}")
    return out


def defences_report(cfg, runs):
    n, size, sessions = cfg["defences"]
    med = lambda phase, k: median([r[("def", phase, k)] for r in runs])
    lines = ["## Defences at the door (issue 16)\n",
             f"{n:,} messages of {size // KIB} KiB, one per connection, {sessions} sessions at "
             f"once, spool on tmpfs, --no-auth --auth-skip none; the DNSBL zones on bench/dns_server.py at "
             f"127.0.0.1 with TTL 0 (every connection asks them). Medians of {len(runs)} run(s).\n",
             "| tinymx | mail/s | vs all off | cpu ms/mail | DNS queries |",
             "|---|---:|---:|---:|---:|"]
    label = {"off": "(a) all off (`--greet-delay 0`)",
             "dnsbl": f"(b) `--dnsbl {DEF_ZONES[0]} --dnsbl {DEF_ZONES[1]}`"}
    for phase, _ in DEF_PHASES:
        lines.append(f"| {label[phase]} | {med(phase, 'rate'):,.0f} | {med(phase, 'vs_off'):.2f} "
                     f"| {med(phase, 'cpu_per_1000'):.3f} | {med(phase, 'dns_queries'):,.0f} |")
    return lines + [""]


def measure_defences_only(args, cfg, dns):
    runs = []
    for run in range(cfg["runs"]):
        log(f"run {run + 1} of {cfg['runs']}")
        runs.append({("def", phase, k): v for phase, res in defence_checks(cfg, dns, run).items()
                     for k, v in res.items()})
    text = "\n".join(defences_report(cfg, runs)) + "\n"
    print()
    print(text, end="")


# ------------------------------------------------------------------ DKIM


# The DKIM row (issue 14): the same sender and domain as the sender-check
# row, the messages signed by dkimpy with keys made fresh by each run
# (bench/dkim_sign.py), the key records added to the DNS server's zone.
DKIM_DOMAIN = dns_server.SENDER_DOMAIN
DKIM_SIZE = 4 * KIB
# (phase, tinymx's option, the message: rsa.eml or ed.eml). The --no-auth
# peer gets the RSA-signed message, which it stores unchecked.
DKIM_PHASES = (("no-auth", "--no-auth", "rsa"),
               ("rsa", "--auth", "rsa"),
               ("ed", "--auth", "ed"))
DKIM_LABEL = {"no-auth": "--no-auth", "rsa": "--auth, RSA-2048 signature",
              "ed": "--auth, Ed25519 signature"}
DKIM_SELECTOR = {"rsa": "rsa2048", "ed": "ed25519"}
# The first message's lookups: SPF's two TXT, the key, _dmarc.
DKIM_LOOKUPS = 4


def dkim_material(base):
    """A directory of keys, key records and signed messages
    (bench/dkim_sign.py under dkimpy's Python); the records go into the
    DNS server's zone by the caller."""
    d = make_workdir(base, "dkim")
    p = subprocess.run([DKIM_PY, os.path.join(HERE, "dkim_sign.py"), d, DKIM_DOMAIN,
                        str(DKIM_SIZE)], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        shutil.rmtree(d, ignore_errors=True)
        raise RuntimeError(f"dkim_sign.py exited {p.returncode}: {p.stderr[-800:]}")
    os.chmod(d, 0o755)
    return d


def dkim_zone(material):
    zone = {}
    with open(os.path.join(material, "zone.txt")) as f:
        for line in f:
            name, value = line.rstrip("\n").split("\t")
            zone[name] = [dns_server.long_txt(value)]
    return zone


def dkim_field(kind):
    """The start of the Authentication-Results field of a checked message
    of KIND (the rest: the signature's header.b, the DMARC result)."""
    return (f"Authentication-Results: {AUTH_HOST}; spf=pass smtp.mailfrom={AUTH_SENDER};\n"
            f"\tdkim=pass header.d={DKIM_DOMAIN} header.s={DKIM_SELECTOR[kind]} header.b=")


DMARC_PASS = f";\n\tdmarc=pass (p=reject) header.from={DKIM_DOMAIN}\n"


def dkim_fields(new, kind):
    """(files with KIND's dkim=pass and dmarc=pass, files with any
    Authentication-Results or Received-SPF field) in NEW."""
    want = b"\n" + dkim_field(kind).encode()
    passed = fields = 0
    with os.scandir(new) as it:
        for e in it:
            with open(e.path, "rb") as f:
                head = b"\n" + f.read(8192).split(b"\n\n", 1)[0] + b"\n"
            passed += want in head and DMARC_PASS.encode() in head
            fields += b"\nAuthentication-Results:" in head or b"\nReceived-SPF:" in head
    return passed, fields


def dkim_checks(cfg, dns, run, material):
    """Mail/s of DKIM-signed 4 KiB messages with every check on (SPF at
    MAIL FROM, DKIM and DMARC after the final dot), RSA-2048 and Ed25519,
    against --no-auth; as sender_checks, warm cache (the first message
    fills it), spool on tmpfs, phases rotated by run."""
    n, sessions = cfg["dkim"]
    dns.ttl = 3600
    out = {}
    k = run % len(DKIM_PHASES)
    for phase, flag, kind in DKIM_PHASES[k:] + DKIM_PHASES[:k]:
        msg = os.path.join(material, kind + ".eml")
        srv = start("tinymx", TMPFS, auth_options(flag, dns))
        try:
            dns.reset()
            p = smtp_source(srv.port, 1, 0, 1, "", 60, AUTH_SENDER, msg)
            if p.returncode != 0 or p.stderr.strip():
                raise RuntimeError(f"smtp-source → tinymx {flag}: {p.stderr[-800:]}\n{srv.tail()}")
            wait_until(lambda: count_files(srv.new_dir()) >= 1, "the first message", 30)
            first = dns.queries
            res = workload(srv, n, DKIM_SIZE, sessions, timeout=300, sender=AUTH_SENDER,
                           already=1, file=msg)
            res["dns_first"] = first
            res["dns_queries"] = dns.queries - first
            res["dns_errors"] = dns.errors
            passed, fields = dkim_fields(srv.new_dir(), kind)
        finally:
            stop(srv)
        if srv.rusage:
            res["ctx_per_mail"] = srv.rusage.ru_nvcsw / (n + 1)
        if flag == "--auth" and passed != n + 1:
            raise RuntimeError(f"tinymx --auth ({phase}): {passed} of {n + 1} messages have "
                               f"{dkim_field(kind)!r}… and {DMARC_PASS!r}")
        if flag == "--no-auth" and (fields or first or res["dns_queries"]):
            raise RuntimeError(f"tinymx --no-auth: {fields} messages with an "
                               f"Authentication-Results or Received-SPF field, "
                               f"{first + res['dns_queries']} DNS queries")
        out[phase] = res
        log(f"  DKIM row {DKIM_LABEL[phase]}: {res['rate']:,.0f} mail/s, cpu "
            f"{res['cpu_per_1000']:.3f} ms/mail, DNS queries {first} + {res['dns_queries']:,}")
    base = out["no-auth"]
    for phase in ("rsa", "ed"):
        r = out[phase]
        r["vs_no_auth"] = r["rate"] / base["rate"]
        r["checks_cpu_ms"] = r["cpu_per_1000"] - base["cpu_per_1000"]
    base["vs_no_auth"] = 1.0
    return out


def write_body(path, size):
    """SIZE bytes of a base64 attachment's body (76 characters and LF per
    line, as the spool stores it), the same bytes every run."""
    import base64
    import random
    rnd = random.Random(14)
    line = 57  # bytes per 76-character base64 line
    raw = rnd.randbytes(size * 3 // 4 + line)
    with open(path, "wb") as f:
        left = size
        for i in range(0, len(raw), line):
            chunk = base64.b64encode(raw[i:i + line]) + b"\n"
            if len(chunk) >= left:
                f.write(chunk[:left - 1] + b"\n")
                break
            f.write(chunk)
            left -= len(chunk)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def sha256sum_secs(path, tries):
    """The least CPU time (user+sys, of the child) `sha256sum PATH` took
    in TRIES, less the least that `sha256sum /dev/null` took (its start-up),
    and its digest."""
    def best(p):
        least, digest = None, None
        for _ in range(tries):
            c0 = children_cpu()
            out = subprocess.run(["sha256sum", p], capture_output=True, text=True, check=True,
                                 timeout=60).stdout
            c = children_cpu() - c0
            least = c if least is None else min(least, c)
            digest = out.split()[0]
        return least, digest
    secs, digest = best(path)
    start, _ = best("/dev/null")
    return max(secs - start, 1e-6), start, digest


def dkim_speed(*args, timeout=300):
    p = subprocess.run([DKIM_SPEED, *map(str, args)], capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"dkim_speed {' '.join(map(str, args))} exited {p.returncode}: "
                           f"{p.stderr[-800:]}")
    return {f[0]: f[1:] for f in (line.split() for line in p.stdout.splitlines()) if f}


def dkim_micro(cfg, material):
    """dkim_speed's figures and sha256sum's on the same body file (on
    tmpfs), one after the other."""
    m = cfg["dkim_micro"]
    d = tempfile.mkdtemp(prefix="tinymx-bench-body-", dir=TMPFS)
    try:
        body = os.path.join(d, "body")
        size = m["hash_mib"] * MIB
        write_body(body, size)
        h = dkim_speed("hash", body, m["hash_rounds"])
        secs, start, digest = sha256sum_secs(body, m["sha_tries"])
        if h["hash-raw"][1] != digest:
            raise RuntimeError(f"dkim_speed's SHA-256 of {body} is {h['hash-raw'][1]}, "
                               f"sha256sum's {digest}")
        v = dkim_speed("verify", material, m["iters"], m["rounds"])
    finally:
        shutil.rmtree(d, ignore_errors=True)
    out = {"body_bytes": size, "sha256sum": size / secs / 1e6, "sha256sum_start_ms": start * 1e3}
    for k in ("raw", "simple", "relaxed"):
        out[k] = float(h[f"hash-{k}"][0])
    for k in ("verify-rsa", "verify-ed", "op-rsa", "op-ed"):
        out[k] = float(v[k][0])
    log(f"  DKIM microbenchmarks: SHA-256 {out['raw']:.0f} MB/s, body simple {out['simple']:.1f}, "
        f"relaxed {out['relaxed']:.1f}, sha256sum {out['sha256sum']:.0f} MB/s; verify RSA-2048 "
        f"{out['verify-rsa']:.0f} µs, Ed25519 {out['verify-ed']:.0f} µs")
    return out


def dkim_instructions(dns, material, n1, n2):
    """Instructions under callgrind: per verification in dkim_speed (the
    difference between 25 and 5 verifications), and per mail in tinymx
    (one session, N2 − N1 mails) by phase."""
    out = {}
    for kind in ("rsa", "ed"):
        counts = []
        for n in (5, 25):
            d = tempfile.mkdtemp(prefix="tinymx-bench-callgrind-dkim-", dir=TMPFS)
            try:
                cg = os.path.join(d, "callgrind.out")
                p = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}",
                                    DKIM_SPEED, "count", material, kind, str(n)],
                                   capture_output=True, text=True, timeout=600)
                if p.returncode != 0:
                    raise RuntimeError(f"dkim_speed count under callgrind: {p.stderr[-500:]}")
                counts.append(callgrind_total(cg))
            finally:
                shutil.rmtree(d, ignore_errors=True)
        out[("verify", kind)] = (counts[1] - counts[0]) / 20
        log(f"  callgrind dkim_speed {kind}: {out[('verify', kind)]:,.0f} instructions per "
            f"verification")
    dns.ttl = 3600
    for phase, flag, kind in DKIM_PHASES:
        msg = os.path.join(material, kind + ".eml")
        i1, i2 = (callgrind_instructions("tinymx", TMPFS, n, auth_options(flag, dns), AUTH_SENDER,
                                         msg) for n in (n1, n2))
        out[("mail", phase)] = (i2 - i1) / (n2 - n1)
        log(f"  callgrind tinymx {DKIM_LABEL[phase]}: {out[('mail', phase)]:,.0f} instructions "
            f"per mail")
    return out


# Issue 14's goals for the microbenchmarks.
GOAL_HASH_RATIO = 0.5   # body hash ≥ 0.5 × sha256sum's speed
GOAL_RSA_US = 500       # RSA-2048 verification ≤ 0.5 ms
GOAL_ED_US = 1000       # Ed25519 verification ≤ 1 ms


def dkim_best(runs):
    """The microbenchmarks' best over the runs (each already the best of
    its rounds): the most MB/s, the fewest µs."""
    best = {}
    for r in runs:
        m = r.get("dkim_micro")
        if not m:
            continue
        for k, v in m.items():
            if k.startswith(("verify-", "op-")):
                best[k] = min(best.get(k, v), v)
            else:
                best[k] = max(best.get(k, v), v)
    return best


def dkim_report(cfg, runs, g, once):
    """The DKIM section: the microbenchmarks (best over the runs), the
    mail/s row (medians), the goals."""
    b = dkim_best(runs)
    if not b:
        return []
    instr = once.get("dkim_instr") or {}
    m = cfg["dkim_micro"]
    mib = b["body_bytes"] / MIB
    sha = b["sha256sum"]

    def goal(ok):
        return "met" if ok else "missed"
    lines = ["## DKIM and DMARC (issue 14)\n",
             f"Microbenchmarks: `bench/dkim_speed.rs`, an example program on the tinymx library "
             f"built with the shipped binary's release profile (opt-level z, LTO; "
             f"`cargo build --release --example dkim_speed`), one thread, timed by its own "
             f"CPU time (`CLOCK_THREAD_CPUTIME_ID`); best of {m['hash_rounds']} rounds (hash) or "
             f"of {m['rounds']} rounds of {m['iters']} (verification) in each run, then the best "
             f"of the {len(runs)} run(s). Body hash: a {mib:g} MiB base64 body (76 characters + "
             f"LF per line, as the spool stores it), in 16 KiB pieces. `sha256sum` (GNU "
             f"coreutils) on the same file on tmpfs in the same run: the child's CPU time "
             f"(user+sys), best of {m['sha_tries']}, less its start-up (`sha256sum /dev/null`, "
             f"{b['sha256sum_start_ms']:.1f} ms); the two digests are compared. Verification: "
             f"a {DKIM_SIZE:,}-byte message signed by dkimpy (relaxed/relaxed, fresh keys each "
             f"run), the whole `Verifier` (`new`, `update`, `finish` with the key record from "
             f"a closure: no DNS), and the public-key operation alone.\n",
             "| measure | tinymx | sha256sum | tinymx/sha256sum | goal | |",
             "|---|---:|---:|---:|---|---|"]
    for k, label in (("raw", "SHA-256 alone (`crypto::sha2::Sha256`), MB/s"),
                     ("simple", "body hash, simple (`dkim::canon::Body`), MB/s"),
                     ("relaxed", "body hash, relaxed (`dkim::canon::Body`), MB/s")):
        r = b[k] / sha
        g_ = (f"≥ {GOAL_HASH_RATIO} × sha256sum", goal(r >= GOAL_HASH_RATIO)) \
            if k != "raw" else ("—", "")
        lines.append(f"| {label} | {fmt(b[k])} | {fmt(sha)} | {r:.2f} | {g_[0]} | {g_[1]} |")
    for kind, name, lim in (("rsa", "RSA-2048", GOAL_RSA_US), ("ed", "Ed25519", GOAL_ED_US)):
        us = b[f"verify-{kind}"]
        lines.append(f"| {name}: verification of a 4 KiB message, µs CPU | {us:,.0f} | — | — | "
                     f"≤ {lim / 1000:g} ms | {goal(us <= lim)} |")
        lines.append(f"| … of which the public-key operation alone, µs | "
                     f"{b[f'op-{kind}']:,.0f} | — | — | — | |")
        if instr.get(("verify", kind)):
            lines.append(f"| … instructions per verification (callgrind) | "
                         f"{fmt(instr[('verify', kind)])} | — | — | — | |")
    lines.append("")
    n, sessions = cfg["dkim"]
    a = lambda phase, k: g("dkim", phase, k)  # noqa: E731
    lines += [f"Mail/s with every check on: {n:,} DKIM-signed {DKIM_SIZE // KIB} KiB messages "
              f"(the same file each time, sent by smtp-source -F) over {sessions} sessions from "
              f"127.0.0.1, spool on tmpfs, each phase on a fresh tinymx with `--auth-skip none "
              f"--dns 127.0.0.1:PORT` against `bench/dns_server.py`: SPF at MAIL FROM (2 TXT), "
              f"after the final dot DKIM (the key at `SELECTOR._domainkey.{DKIM_DOMAIN}`) and "
              f"DMARC (`_dmarc.{DKIM_DOMAIN}`: `{dns_server.DMARC_RECORD}`); TTL 3600, the first, "
              f"untimed message fills the cache. `--no-auth` stores the RSA-signed message "
              f"unchecked. Every stored message was read back: with `--auth` each has "
              f"`spf=pass`, `dkim=pass header.d={DKIM_DOMAIN} header.s=SELECTOR` and "
              f"`dmarc=pass (p=reject)`; with `--no-auth` none has a field. Medians of "
              f"{len(runs)} run(s).\n",
              "| tinymx | mail/s | vs --no-auth | CPU ms/mail (server) | checks' CPU ms/mail | "
              "instructions/mail | checks' instructions/mail | DNS queries (first mail + timed "
              "ones) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for phase, _, _ in DKIM_PHASES:
        on = phase != "no-auth"
        i, i0 = instr.get(("mail", phase)), instr.get(("mail", "no-auth"))
        lines.append(f"| {DKIM_LABEL[phase]} | {fmt(a(phase, 'rate'))} | "
                     f"{ratio(a(phase, 'vs_no_auth'), 1)} | {fmt3(a(phase, 'cpu_per_1000'))} | "
                     f"{fmt3(a(phase, 'checks_cpu_ms')) if on else '—'} | {fmt(i)} | "
                     f"{fmt(i - i0) if on and i is not None and i0 is not None else '—'} | "
                     f"{queries(a(phase, 'dns_first'), a(phase, 'dns_queries'))} |")
    lines.append("")
    lines.append("Checks' CPU = the server's CPU (user+sys) per mail minus that with `--no-auth` "
                 "in the same run, then the median; so is the ratio."
                 + (f" Instructions: callgrind, one session, ({once['instr_n'][1]} − "
                    f"{once['instr_n'][0]} mails) ÷ {once['instr_n'][1] - once['instr_n'][0]}."
                    if instr.get(("mail", "no-auth")) else ""))
    odd = [DKIM_LABEL[ph] for ph, flag, _ in DKIM_PHASES
           if (a(ph, "dns_first"), a(ph, "dns_queries")) !=
           ((DKIM_LOOKUPS, 0) if flag == "--auth" else (0, 0))]
    if odd:
        lines.append(f"**DNS queries not as expected** ({DKIM_LOOKUPS} + 0) for: {', '.join(odd)}.")
    lines.append("")
    return lines


def dkim_runs(runs):
    lines = ["| run | SHA-256 MB/s | body simple MB/s | body relaxed MB/s | sha256sum MB/s | "
             "RSA-2048 µs | Ed25519 µs | --no-auth mail/s | RSA-2048 mail/s | Ed25519 mail/s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for i, r in enumerate(runs, 1):
        m = r.get("dkim_micro") or {}
        lines.append(f"| {i} | {fmt(m.get('raw'))} | {fmt(m.get('simple'))} | "
                     f"{fmt(m.get('relaxed'))} | {fmt(m.get('sha256sum'))} | "
                     f"{fmt(m.get('verify-rsa'))} | {fmt(m.get('verify-ed'))} | " +
                     " | ".join(fmt(r.get(("dkim", ph, "rate"))) for ph, _, _ in DKIM_PHASES)
                     + " |")
    return lines


# ------------------------------------------------------------------ callgrind


def callgrind_total(path):
    total = 0
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    return total


def callgrind_instructions(kind, base, n, extra=(), sender=SENDER, file=None):
    """Instructions (user space, all threads) of one server process that
    receives N × 4 KiB mails over one session, start to stop. EXTRA:
    more tinymx options."""
    d = make_workdir(base, f"callgrind-{kind}")
    os.chmod(d, 0o777)  # smtp-sink drops to nobody before it writes the output
    out = os.path.join(d, "callgrind.out")
    wrapper = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    try:
        if kind == "tinymx":
            srv = Tinymx(base, ["--max-per-ip", "25", "--max-rate", "100000", *extra],
                         wrapper=wrapper)
        else:
            # As root, smtp-sink must drop to a user (-u), after which
            # callgrind cannot write its output: run it all as nobody.
            if os.geteuid() == 0:
                wrapper = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           *wrapper]
            srv = SmtpSink(base, wrapper=wrapper)
        try:
            srv.wait_ready(timeout=120)
            p = smtp_source(srv.port, n, 4 * KIB, 1, "callgrind", 300, sender, file)
            if p.returncode != 0:
                raise RuntimeError(f"smtp-source under callgrind: {p.stderr[-500:]}")
            if srv.new_dir():
                wait_until(lambda: count_files(srv.new_dir()) >= n, "callgrind mails", 120)
            else:
                wait_until(lambda: srv.received() >= n, "smtp-sink's count", 60)
        finally:
            stop(srv)
        return callgrind_total(out)
    finally:
        remove_tree(d)


# ------------------------------------------------------------------ report


# ------------------------------------------------------------------ file systems


def seq_ceiling(base, mib):
    """The file system's sequential-write ceiling: MIB MiB into one new
    file in 1 MiB writes, then one fsync; MB/s."""
    d = make_workdir(base, "seq")
    try:
        data = b"x" * MIB
        fd = os.open(os.path.join(d, "seq"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        t0 = time.monotonic()
        for _ in range(mib):
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        os.fsync(fd)
        dt = time.monotonic() - t0
        os.close(fd)
        return mib * MIB / dt / 1e6
    finally:
        remove_tree(d)


SYNC_CALLS = ("fsync", "fdatasync", "sync_file_range", "syncfs", "sync")


def traced_syncs(kind, base, n, size, sessions):
    """KIND's flush calls per mail over N mails (strace -c -f on every
    thread of every process it has, and what they start): {call: per mail}.
    Untimed: strace slows every traced call."""
    srv = start(kind, base)
    out = os.path.join(srv.dir, "strace.out")
    try:
        tasks = []
        for pid in srv.pids():
            try:
                tasks += os.listdir(f"/proc/{pid}/task")
            except OSError:
                pass
        st = subprocess.Popen(["strace", "-f", "-c", "-o", out, "-e", "trace=" + ",".join(SYNC_CALLS),
                               *[a for t in tasks for a in ("-p", t)]],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        attached = 0
        deadline = time.monotonic() + 30
        while attached < len(tasks) and time.monotonic() < deadline:
            line = st.stderr.readline()
            if not line:
                break
            attached += "attached" in line
        if attached < len(tasks):
            st.kill()
            raise RuntimeError(f"strace attached to {attached} of {len(tasks)} tasks of {kind}")
        threading.Thread(target=st.stderr.read, daemon=True).start()
        workload(srv, n, size, sessions, timeout=300)
        st.send_signal(signal.SIGINT)
        st.wait(timeout=60)
        calls = {c: 0 for c in SYNC_CALLS}
        with open(out) as f:
            for line in f:
                # % time, seconds, usecs/call, calls, [errors,] syscall
                fields = line.split()
                if len(fields) >= 5 and fields[-1] in calls:
                    calls[fields[-1]] = int(fields[3])
        return {c: v / n for c, v in calls.items()}
    finally:
        stop(srv)


def fs_rows(cfg):
    """Issue 19's section: for each loop file system, (a), (b) and (c) for
    tinymx and Postfix with the file system's own flush counts, the
    ceilings in both orders, the sequential-write ceiling, strace'd flush
    calls per mail; smtp-sink (memory only) once per workload.
    {(kind, what, ...): value}."""
    fc = cfg["fs"]
    r = {}
    for wl in ("a", "b", "c"):
        n, size, sessions = fc[wl]
        srv = start("smtp-sink", TMPFS)
        try:
            res = workload(srv, n, size, sessions, timeout=300)
        finally:
            stop(srv)
        r[("sink", wl, "rate")], r[("sink", wl, "mbps")] = res["rate"], res["mbps"]
        log(f"  fs: smtp-sink {wl}: {res['rate']:,.0f} mail/s")
    for i, kind in enumerate(fc["kinds"]):
        with loopfs.LoopFs(kind, size_mib=2048, fuse_python=DKIM_PY) as fs:
            r[(kind, "options")] = fs.options()
            r[(kind, "order")] = fs.order
            for order in ("fsync-first", "written-first"):
                r[(kind, "ceil", "c", order)] = ceiling(fs.mnt, 1, fc["ceil1"], size=KIB, order=order)
                r[(kind, "ceil", "a", order)] = ceiling(fs.mnt, 20, fc["ceil20"], order=order)
                # (b)'s: 1 MiB files on 4 threads, in MB/s.
                r[(kind, "ceil", "b", order)] = ceiling(fs.mnt, 4, fc["ceilb"], size=MIB,
                                                        order=order) * MIB / 1e6
            r[(kind, "ceil", "b", "seq")] = seq_ceiling(fs.mnt, fc["seq_mib"])
            log(f"  fs: {kind} ({fs.options()}): ceilings "
                + ", ".join(f"{k[2]} {k[3]} {v:,.0f}" for k, v in r.items() if k[:2] == (kind, "ceil")))
            peers = list(fc["peers"])
            if i % 2:
                peers.reverse()
            for wl in ("a", "b", "c"):
                n, size, sessions = fc[wl]
                for peer in peers:
                    srv = start(peer, fs.mnt)
                    try:
                        os.sync()
                        c0 = fs.counters()
                        res = workload(srv, n, size, sessions, timeout=600)
                        c1 = fs.counters()
                    finally:
                        stop(srv)
                    for k, v in res.items():
                        r[(kind, wl, peer, k)] = v
                    for k in c1:
                        if k in c0:
                            r[(kind, wl, peer, "fs:" + k)] = (c1[k] - c0[k]) / n
                    log(f"  fs: {kind} {wl} {peer}: {res['rate']:,.0f} mail/s, {res['mbps']:.1f} MB/s, "
                        + ", ".join(f"{(c1[k] - c0[k]) / n:.2f} {k}/mail" for k in c1 if k in c0))
            if shutil.which("strace"):
                for wl in ("a", "c"):
                    _, size, sessions = fc[wl]
                    n = fc["strace"][wl]
                    for peer in peers:
                        calls = traced_syncs(peer, fs.mnt, n, size, sessions)
                        for c, v in calls.items():
                            r[(kind, wl, peer, "strace", c)] = v
                        log(f"  fs: {kind} {wl} {peer} (strace, {n} mails): "
                            + ", ".join(f"{v:.2f} {c}" for c, v in calls.items() if v))
    return r


FS_NAMES = {"ext4": "ext4 (data=ordered)", "xfs": "XFS", "btrfs": "btrfs",
            "slow-ext4": "ext4 on the slow-flush device"}
FS_TARGETS = {"a": ("tinymx/Postfix", 3.0), "b": ("tinymx/sequential ceiling", 0.9),
              "c": ("tinymx/Postfix", 1.0)}


def fs_report(cfg, r):
    fc = cfg["fs"]
    lines = ["## Spool on the file systems users have (issue 19)\n"]
    lines.append(
        "Each file system is made by this run on a loop device, an image file on the machine's disk "
        "(tests/loopfs.py), fresh for each; the spool of tinymx and Postfix's queue and Maildir both "
        "live there. The slow-flush device is ext4 on a loop device whose image lies on "
        "tests/slowflush.py, a FUSE passthrough that sleeps 5 ms in every flush before doing it (the "
        "loop driver turns each flush and each FUA write into an fsync of its image, so a journal "
        "commit costs two such flushes, about 10 ms: an SD card or a spinning disk). smtp-sink stores "
        "nothing, so it ran once per workload. Workloads: "
        + "; ".join(f"({wl}) {fc[wl][0]:,} × {fc[wl][1] // KIB:,} KiB, {fc[wl][2]} session(s)"
                    for wl in ("a", "b", "c")) + ". One run.\n")
    for kind in fc["kinds"]:
        lines.append(f"- {FS_NAMES.get(kind, kind)}: `{r.get((kind, 'options'), '?')}`; "
                     f"tinymx's order there: {r.get((kind, 'order'), '?')}")
    lines.append("")
    lines.append("| file system | workload | tinymx | Postfix | smtp-sink | ceiling, fsync first "
                 "| ceiling, written out first | sequential write | tinymx/Postfix | tinymx/smtp-sink "
                 "| tinymx/ceiling | tinymx/sequential | issue 19's target |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for kind in fc["kinds"]:
        written = r.get((kind, "order")) == "written out"
        for wl in ("a", "b", "c"):
            unit = "mbps" if wl == "b" else "rate"
            t = r.get((kind, wl, "tinymx", unit))
            p = r.get((kind, wl, "postfix", unit))
            sink = r.get(("sink", wl, unit))
            c1 = r.get((kind, "ceil", wl, "fsync-first"))
            c2 = r.get((kind, "ceil", wl, "written-first"))
            seq = r.get((kind, "ceil", "b", "seq")) if wl == "b" else None
            mine = c2 if written else c1
            what, want = FS_TARGETS[wl]
            base = p if what == "tinymx/Postfix" else seq
            got = t / base if t and base else None
            verdict = "—" if got is None else f"≥ {want} × {what.split('/')[1]}: " \
                f"{'met' if got >= want else 'NOT met'} ({got:.2f})"
            label = "MB/s" if wl == "b" else "mail/s"
            lines.append(f"| {FS_NAMES.get(kind, kind)} | ({wl}) {label} | {fmt(t)} | {fmt(p)} | {fmt(sink)} "
                         f"| {fmt(c1)} | {fmt(c2)} | {fmt(seq)} | {ratio(t, p)} | {ratio(t, sink)} "
                         f"| {ratio(t, mine)} | {ratio(t, seq)} | {verdict} |")
    lines.append("")
    lines.append("The ceilings are Python threads doing only the durable steps of a delivery in each order "
                 f"(1 thread of 1 KiB files for (c), {fc['ceil1']:,} of them; 20 threads of 4 KiB for (a), "
                 f"{fc['ceil20']:,}; 4 threads of 1 MiB for (b), {fc['ceilb']:,}, in MB/s); tinymx/ceiling "
                 "divides by the ceiling of the order tinymx uses on that file system (tinymx's group commit "
                 "of new/ can beat the 20-thread one). Sequential write: "
                 f"{fc['seq_mib']} MiB into one file in 1 MiB writes, then one fsync, in MB/s: what the "
                 "device gives without a flush per message, the bar issue 19 sets for (b).\n")
    lines.append("Flushes per mail: the file system's own count over the timed run (jbd2 commits from "
                 "/proc/fs/jbd2/DEV-8/info, XFS log forces from /proc/fs/xfs/stat — machine-wide —, btrfs "
                 "transaction commits from /sys/fs/btrfs/UUID/commit_stats; its fsync writes the tree log "
                 "instead), the slow device's flushes (its own count), and the flush calls per mail from "
                 f"`strace -c -f` on every thread and process of the server (a separate, untimed run of "
                 f"{fc['strace']['a']:,} mails for (a), {fc['strace']['c']:,} for (c)).\n")
    lines.append("| file system | workload | server | journal commits or log forces / mail | device flushes / mail "
                 "| fsync / mail | fdatasync / mail | sync_file_range / mail |")
    lines.append("|---|---|---|---:|---:|---:|---:|---:|")
    for kind in fc["kinds"]:
        for wl in ("a", "b", "c"):
            for peer in fc["peers"]:
                fsc = [r.get((kind, wl, peer, "fs:" + k)) for k in ("journal commits", "log forces",
                                                                    "transaction commits")]
                fsc = next((v for v in fsc if v is not None), None)
                dev = r.get((kind, wl, peer, "fs:device flushes"))
                st = [r.get((kind, wl, peer, "strace", c)) for c in ("fsync", "fdatasync", "sync_file_range")]
                lines.append(f"| {FS_NAMES.get(kind, kind)} | ({wl}) | {NAMES[peer]} | {fmt(fsc)} | {fmt(dev)} | "
                             + " | ".join(fmt(v) for v in st) + " |")
    lines.append("")
    return lines


def median(xs):
    xs = [x for x in xs if isinstance(x, (int, float))]
    return statistics.median(xs) if xs else None


def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if abs(v) >= 100:
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}"


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def version(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            return (p.stdout or p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    rev = version(["git", "-C", ROOT, "describe", "--always", "--dirty"])
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "disk_fs": fs_type(BASE),
        "tmpfs_fs": fs_type(TMPFS),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "tinymx": f"{version([BIN, '--version'])} (git {rev})",
        "postfix": version(["dpkg-query", "-W", "-f=${Version}", "postfix"]),
        "aiosmtpd": version([VENV_PY, "-c", "import aiosmtpd; print(aiosmtpd.__version__)"])
        if os.path.exists(VENV_PY) else "not installed",
        "python": platform.python_version(),
    }


def stripped_size():
    d = tempfile.mkdtemp(prefix="tinymx-bench-strip-")
    try:
        dst = os.path.join(d, "tinymx")
        if shutil.which("strip"):
            subprocess.run(["strip", "-o", dst, BIN], check=True, capture_output=True)
        else:
            shutil.copy(BIN, dst)
        return os.path.getsize(dst)
    finally:
        remove_tree(d)


def report(cfg, info, runs, once, elapsed, smoke):
    """The results as Markdown: medians, ratios, then every run's figures."""
    peers = cfg["peers"]
    med = {}
    keys = set()
    for r in runs:
        keys |= set(r)
    for k in keys:
        med[k] = median([r.get(k) for r in runs])
    g = lambda *k: med.get(k)  # noqa: E731
    an, asz, ases = cfg["a"]
    bn, bsz, bses = cfg["b"]
    cn, csz, cses = cfg["c"]
    idle_n = cfg["idle"]

    rows = []  # (label, better, {peer: value}, ceiling value, unit)

    def row(label, better, metric, workload=None, ceil=None, unit=""):
        vals = {p: (g(workload, p, metric) if workload else g(metric, p)) for p in peers}
        rows.append((label, better, vals, ceil, unit))

    row(f"(a) {an:,} × {asz // KIB} KiB, {ases} sessions, disk: mail/s", "↑", "rate", "a_disk",
        g("ceiling", "disk", 20))
    row(f"(a) same, spool on tmpfs: mail/s", "↑", "rate", "a_tmpfs", g("ceiling", "tmpfs", 20))
    row(f"(b) {bn:,} × {bsz // MIB} MiB, {bses} sessions, disk: MB/s", "↑", "mbps", "b_disk")
    row(f"(c) {cn:,} × {csz // KIB} KiB, {cses} session, disk: mail/s", "↑", "rate", "c_disk",
        g("ceiling", "disk", 1))
    row("idle RSS, KiB", "↓", "idle_kib")
    row(f"RSS per idle session ({idle_n:,} open), KiB", "↓", "per_session_kib")
    row("idle PSS (shared pages split), KiB", "↓", "idle_pss_kib")
    row(f"PSS per idle session ({idle_n:,} open), KiB", "↓", "per_session_pss_kib")
    row("peak RSS during (a) disk, KiB", "↓", "peak_kib", "a_disk")
    row("peak RSS during (b), KiB", "↓", "peak_kib", "b_disk")
    row("CPU (user+sys) s per 1,000 mails, (a) disk", "↓", "cpu_per_1000", "a_disk")
    row("… of which user space, (a) disk", "↓", "user_per_1000", "a_disk")
    row("CPU (user+sys) s per 1,000 mails, (a) tmpfs", "↓", "cpu_per_1000", "a_tmpfs")
    row("CPU (user+sys) s per 1,000 mails, (c)", "↓", "cpu_per_1000", "c_disk")
    row("CPU (user+sys) s per 1,000 mails of 1 MiB, (b)", "↓", "cpu_per_1000", "b_disk")
    row("times the server slept (voluntary context switches) per mail, (a) tmpfs", "↓",
        "ctx_per_mail", "a_tmpfs")
    if once.get("instr"):
        rows.append((f"instructions per 4 KiB mail (callgrind, one session, "
                     f"{once['instr_n'][1] - once['instr_n'][0]} mails)", "↓",
                     {p: once["instr"].get(p) for p in peers}, None, ""))
    rows.append(("stripped static binary, bytes", "↓", {"tinymx": once.get("size")}, None, ""))

    others = [p for p in peers if p != "tinymx"]
    head = ["measure", "better"] + [NAMES[p] for p in peers] + ["ceiling"] + \
        [f"tinymx/{NAMES[p]}" for p in others] + ["tinymx/ceiling"]
    lines = []
    title = "bench-smoke (tiny counts, not a measurement)" if smoke else "make bench"
    lines.append(f"# tinymx {title}: results\n")
    lines.append(f"- date: {info['date']}; whole run {elapsed / 60:.1f} min; "
                 f"{len(runs)} run(s), medians")
    lines.append(f"- machine: {info['nproc']} CPUs, {info['cpu']}, Linux {info['kernel']}; "
                 f"load average {info['load']} at the start, {info['load_end']} at the end")
    lines.append(f"- spool file system: disk runs {info['disk_fs']} under {BASE}; "
                 f"tmpfs runs {info['tmpfs_fs']} under {TMPFS}")
    lines.append(f"- {info['tinymx']}; Postfix {info['postfix']} (smtpd → cleanup → qmgr → virtual → "
                 f"Maildir, default fsyncs); aiosmtpd {info['aiosmtpd']} (Python "
                 f"{info['python']}'s venv; synchronous handler: tmp → fsync → link → "
                 f"fsync new/); smtp-sink {info['postfix']} (stores nothing)")
    lines.append("- client: Postfix's smtp-source on 127.0.0.1, one connection per session "
                 "(-d); durable servers timed until the last file is in new/")
    lines.append("- ceiling: Python threads doing only tinymx's durable steps per 4 KiB "
                 "file (create in tmp/, write, fsync, close, link into new/, fsync new/, "
                 "unlink tmp/): 1 thread for (c), 20 threads for (a)")
    if cfg["fewer"]:
        lines.append("- fewer mails, to keep the whole run within 15 minutes: " + "; ".join(
            f"{NAMES[k]} {wl[0]} on disk {n:,}" for (k, wl), n in sorted(cfg["fewer"].items()))
            + " (rates are per second, so they compare)")
    lines.append("- ratios: tinymx ÷ peer; ↑ = higher is better (want > 1), "
                 "↓ = lower is better (want < 1)\n")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|")
    for label, better, vals, ceil, unit in rows:
        t = vals.get("tinymx")
        cells = [label, better] + [fmt(vals.get(p)) for p in peers] + [fmt(ceil)] + \
            [ratio(t, vals.get(p)) for p in others] + [ratio(t, ceil)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    c = {k: g("ceiling", *k) for k in (("disk", 1), ("disk", 20), ("tmpfs", 20))}
    lines.append(f"Ceiling (ops/s, median): disk 1 thread {fmt(c[('disk', 1)])}, "
                 f"disk 20 threads {fmt(c[('disk', 20)])}, tmpfs 20 threads "
                 f"{fmt(c[('tmpfs', 20)])}.")
    ks = {k: g("ceiling_sys_ms", *k) for k in (("disk", 1), ("disk", 20), ("tmpfs", 20))}
    lines.append(f"Kernel CPU of the ceiling's durable steps alone (ms per operation, median; "
                 f"compare with the servers' CPU per mail): disk 1 thread "
                 f"{fmt(ks[('disk', 1)])}, disk 20 threads {fmt(ks[('disk', 20)])}, "
                 f"tmpfs 20 threads {fmt(ks[('tmpfs', 20)])}.")
    if "smtp-sink" in peers:
        # Client and server share the CPUs, and the ceiling has no dialog:
        # a server that must both hold the dialog (smtp-sink shows what the
        # dialog alone costs) and store durably (the ceiling shows what
        # that alone costs), one after the other, gets 1/(1/sink + 1/ceil).
        lines.append("")
        lines.append("The dialog and the storage, one after the other: smtp-sink's rate is "
                     "what the SMTP dialog alone allows (client and loopback included), the "
                     "ceiling's what the durable steps alone allow; a server doing both in "
                     "sequence on the same CPUs gets at most 1 / (1/smtp-sink + 1/ceiling) "
                     "unless it overlaps them.\n")
        lines.append("| workload | smtp-sink | ceiling | both in sequence | tinymx | "
                     "tinymx/both |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for wl, label, ck in (("a_disk", "(a) disk", ("disk", 20)),
                              ("a_tmpfs", "(a) tmpfs", ("tmpfs", 20)),
                              ("c_disk", "(c) disk", ("disk", 1))):
            sink, ceil, t = g(wl, "smtp-sink", "rate"), c[ck], g(wl, "tinymx", "rate")
            both = 1 / (1 / sink + 1 / ceil) if sink and ceil else None
            lines.append(f"| {label} | {fmt(sink)} | {fmt(ceil)} | {fmt(both)} | {fmt(t)} | "
                         f"{ratio(t, both)} |")
        lines.append("")
    if info.get("no_journal") and not smoke:
        how = ("runs `sync` and drops clean caches (`vm.drop_caches=1`)"
               if SETTLE["how"] != "waiting" else
               f"waits until the last bulk deletion is {RECENTLY_DELETED_SECS} s old "
               f"({info.get('settle_waited', 0) / 60:.1f} min of waiting in all)")
        lines.append("The disk's file system is ext4 without a journal: there, creating a "
                     "file skips inode numbers freed in the last minute whose inode table "
                     "block is still cached (`recently_deleted()`, fs/ext4/ialloc.c), so "
                     "after thousands of deletions every create scans past them and the next "
                     "workload runs several times slower. This run removes its work "
                     f"directories only at the end, and before each disk measurement {how}.")
    elif not info.get("deferred", True):
        lines.append("Work directories were removed after each workload (not enough free "
                     "space to keep them to the end).")
    if "postfix" in peers:
        lines.append("Postfix's RSS is the sum over its processes (master, qmgr, pickup, "
                     "smtpd, cleanup, virtual, …), which counts their shared pages (libraries) "
                     "once per process; PSS splits shared pages between the processes that "
                     "map them. Its peak RSS is sampled every 0.25 s.")
    lines.append("Peak RSS of the single-process servers is VmHWM (from start to the end "
                 "of the workload, each workload on a fresh server).")
    if once.get("instr"):
        lines.append(f"Instructions: callgrind's user-space total for the server process, "
                     f"({once['instr_n'][1]} mails − {once['instr_n'][0]} mails) ÷ "
                     f"{once['instr_n'][1] - once['instr_n'][0]}, so start-up cancels out; "
                     f"Postfix and aiosmtpd were not run under callgrind. "
                     f"`perf stat -e instructions`: {once.get('perf', '?')}.")
    lines.append("")
    lines += auth_report(cfg, g, once)
    lines += dkim_report(cfg, runs, g, once)
    lines.append("## Every run\n")
    lines.append("| run | measure | " + " | ".join(NAMES[p] for p in peers) + " | ceiling |")
    lines.append("|---|---|" + "---:|" * (len(peers) + 1))
    for i, r in enumerate(runs, 1):
        for wl, metric, label in (("a_disk", "rate", "(a) disk mail/s"),
                                  ("a_tmpfs", "rate", "(a) tmpfs mail/s"),
                                  ("b_disk", "mbps", "(b) MB/s"),
                                  ("c_disk", "rate", "(c) mail/s")):
            ceil = {"a_disk": r.get(("ceiling", "disk", 20)),
                    "a_tmpfs": r.get(("ceiling", "tmpfs", 20)),
                    "c_disk": r.get(("ceiling", "disk", 1))}.get(wl)
            lines.append(f"| {i} | {label} | " + " | ".join(fmt(r.get((wl, p, metric)))
                                                          for p in peers) + f" | {fmt(ceil)} |")
    lines.append("")
    lines.append("Sender checks:\n")
    lines += auth_runs(runs)
    lines.append("")
    lines.append("DKIM (microbenchmarks: each run's best of its rounds; mail/s):\n")
    lines += dkim_runs(runs)
    return "\n".join(lines) + "\n"


def auth_runs(runs):
    lines = ["| run | tinymx | mail/s | vs --no-auth | CPU ms/mail | SPF CPU ms/mail | "
             "sleeps/mail | DNS queries |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for i, r in enumerate(runs, 1):
        for phase, _, _ in AUTH_PHASES:
            a = lambda k: r.get(("auth", phase, k))  # noqa: E731
            lines.append(f"| {i} | {AUTH_LABEL[phase]} | {fmt(a('rate'))} | "
                         f"{ratio(a('vs_no_auth'), 1)} | {fmt3(a('cpu_per_1000'))} | "
                         f"{fmt3(a('spf_cpu_ms'))} | {fmt(a('ctx_per_mail'))} | "
                         f"{queries(a('dns_first'), a('dns_queries'))} |")
    return lines


def auth_only_report(cfg, info, runs, once, elapsed):
    """`--auth-only`: the sender-check row alone, with its run's facts."""
    med = {k: median([r.get(k) for r in runs]) for k in set().union(*runs)}
    lines = ["# tinymx sender checks (run.py --auth-only): results\n",
             f"- date: {info['date']}; whole run {elapsed / 60:.1f} min; {len(runs)} run(s), medians",
             f"- machine: {info['nproc']} CPUs, {info['cpu']}, Linux {info['kernel']}; "
             f"load average {info['load']} at the start, {info['load_end']} at the end",
             f"- {info['tinymx']}; client: Postfix's smtp-source {info['postfix']} on 127.0.0.1\n"]
    lines += auth_report(cfg, lambda *k: med.get(k), once)
    lines.append("## Every run\n")
    lines += auth_runs(runs)
    return "\n".join(lines) + "\n"


def fmt3(v):
    """Milliseconds per mail: three decimals (the SPF parts are small)."""
    return "—" if v is None else f"{v:.3f}"


def queries(first, timed):
    if first is None or timed is None:
        return "—"
    return f"{first:,.0f} + {timed:,.0f}"


def auth_report(cfg, g, once):
    """The sender-check table (medians over the runs; the ratios and the
    SPF CPU are per run, then the median)."""
    n, size, sessions = cfg["auth"]
    a = lambda phase, k: g("auth", phase, k)  # noqa: E731
    instr = once.get("auth_instr") or {}
    lines = [f"## Sender checks (SPF, and DMARC of an unsigned message; a local DNS server "
             f"answering at once)\n",
             f"{n:,} × {size // KIB} KiB over {sessions} sessions from 127.0.0.1, spool on tmpfs "
             f"(so the checks are not hidden behind fsyncs), each phase on a fresh tinymx with "
             f"`--auth-skip none --dns 127.0.0.1:PORT` (loopback clients are skipped by default). "
             f"The DNS server is `bench/dns_server.py`, a thread of the runner answering UDP at "
             f"once from a fixed zone and never forwarding. Sender {AUTH_SENDER}: "
             f"`{dns_server.SENDER_SPF}`, `_spf.{dns_server.SENDER_DOMAIN}`: `{dns_server.INCLUDE_SPF}`, so "
             f"a pass after 2 TXT lookups; smtp-source's message is unsigned (dkim=none) with "
             f"From: {AUTH_SENDER}, so DMARC asks `_dmarc.{dns_server.SENDER_DOMAIN}` "
             f"(`{dns_server.DMARC_RECORD}`) and passes through SPF: {AUTH_LOOKUPS} TXT lookups "
             f"per message. The \"SPF\" columns are all of these checks. Warm: TTL 3600, and one message before the "
             f"timed ones fills the cache; cold: TTL 0, which the resolver does not cache, so every "
             f"message asks again. Every stored message was checked: with `--auth` each has "
             f"`{AUTH_FIELD.strip().replace(chr(10) + chr(9), ' ')}` (folded), with "
             f"`--no-auth` none has an Authentication-Results or Received-SPF field.\n",
             "| tinymx | mail/s | vs --no-auth | CPU ms/mail (server) | SPF CPU ms/mail | "
             "… of which user | instructions/mail | SPF instructions/mail | "
             "DNS queries (first mail + timed ones) | DNS server CPU ms/mail |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for phase, _, _ in AUTH_PHASES:
        spf = phase != "no-auth"
        i, i0 = instr.get(phase), instr.get("no-auth")
        lines.append(f"| {AUTH_LABEL[phase]} | {fmt(a(phase, 'rate'))} | "
                     f"{ratio(a(phase, 'vs_no_auth'), 1)} | {fmt3(a(phase, 'cpu_per_1000'))} | "
                     f"{fmt3(a(phase, 'spf_cpu_ms')) if spf else '—'} | "
                     f"{fmt3(a(phase, 'spf_user_ms')) if spf else '—'} | {fmt(i)} | "
                     f"{fmt(i - i0) if spf and i is not None and i0 is not None else '—'} | "
                     f"{queries(a(phase, 'dns_first'), a(phase, 'dns_queries'))} | "
                     f"{fmt3(a(phase, 'dns_cpu_ms')) if spf else '—'} |")
    lines.append("")
    lines.append("SPF CPU = the server's CPU (user+sys, `/proc/PID/stat`) per mail with `--auth` "
                 "minus that with `--no-auth` in the same run, then the median; so is the ratio. "
                 "The DNS server's CPU (`time.thread_time()` of its thread) is not tinymx's; it "
                 "shares the same CPUs with tinymx and smtp-source, so the cold rate pays for it "
                 "too, as it would with a resolver on the same host.")
    if instr:
        n1, n2 = once["instr_n"]
        lines.append(f"Instructions: callgrind's user-space total for tinymx over one session, "
                     f"({n2} mails − {n1} mails) ÷ {n2 - n1} (the first mail, which fills the "
                     f"warm cache, cancels out); SPF instructions = that minus --no-auth's. "
                     f"Unlike the CPU times they do not depend on the machine's load.")
    expect = {"no-auth": (0, 0), "warm": (AUTH_LOOKUPS, 0), "cold": (AUTH_LOOKUPS, AUTH_LOOKUPS * n)}
    odd = [AUTH_LABEL[ph] for ph, (f, t) in expect.items()
           if (a(ph, "dns_first"), a(ph, "dns_queries")) != (f, t)]
    if odd:
        lines.append(f"**DNS queries not as expected** (warm: {AUTH_LOOKUPS} + 0; cold: "
                     f"{AUTH_LOOKUPS} + {AUTH_LOOKUPS * n:,}) for: {', '.join(odd)}.")
    bad = [AUTH_LABEL[ph] for ph, _, _ in AUTH_PHASES if a(ph, "dns_errors")]
    if bad:
        lines.append(f"**The DNS server dropped malformed queries** in: {', '.join(bad)}.")
    lines.append("")
    return lines


# ------------------------------------------------------------------ main


def check_tools(cfg):
    missing = []
    if not os.access(BIN, os.X_OK):
        missing.append(f"{BIN} (make build)")
    for tool in ("smtp-source", "smtp-sink"):
        if not shutil.which(tool):
            missing.append(tool)
    if "postfix" in cfg["peers"] and not shutil.which("postfix"):
        missing.append("postfix")
    if "aiosmtpd" in cfg["peers"] and not os.path.exists(VENV_PY):
        missing.append(f"{VENV_PY} with aiosmtpd (bench/install.sh)")
    if cfg.get("dkim"):
        if not os.access(DKIM_SPEED, os.X_OK):
            missing.append(f"{DKIM_SPEED} (cargo build --release --example dkim_speed)")
        if not os.path.exists(DKIM_PY):
            missing.append(f"{DKIM_PY} with dkimpy (make test-deps)")
        if not shutil.which("sha256sum"):
            missing.append("sha256sum")
    if cfg["callgrind"] and not shutil.which("valgrind"):
        missing.append("valgrind")
    if missing:
        sys.exit("bench: missing: " + ", ".join(missing) + " (bench/install.sh installs them)")
    if "postfix" in cfg["peers"] and os.geteuid() != 0:
        sys.exit("bench: Postfix needs root (make bench runs this with sudo)")


def perf_instructions():
    try:
        p = subprocess.run(["perf", "stat", "-x,", "-e", "instructions", "true"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return "not supported on this machine (no counters)" if "not supported" in p.stderr \
        or p.returncode != 0 else "supported (callgrind used anyway: exact and repeatable)"


def main():
    # The report has arrows and dashes: escaped, not an error, where the
    # locale's encoding cannot show them (it is written as UTF-8 below).
    sys.stdout.reconfigure(errors="backslashreplace")
    sys.stderr.reconfigure(errors="backslashreplace")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--auth-only", action="store_true",
                    help="only the sender checks (SPF against a local DNS server), full counts")
    ap.add_argument("--defences-only", action="store_true",
                    help="only the defences row (DNSBL against a local DNS server vs all off)")
    ap.add_argument("--dkim-only", action="store_true",
                    help="only the DKIM figures (microbenchmarks and mail/s with every check "
                    "on), full counts")
    ap.add_argument("--fs-only", action="store_true",
                    help="only the file-system section (issue 19: loop devices, the slow-flush "
                    "device), full counts")
    ap.add_argument("--no-fs", action="store_true", help="without the file-system section")
    ap.add_argument("--out", default=None, help="results file (default bench/results.md; "
                    "--smoke, --auth-only: none)")
    args = ap.parse_args()
    cfg = SMOKE if args.smoke else FULL
    if args.auth_only:
        cfg = dict(cfg, peers=("tinymx",), callgrind=None, dkim=None)
    if args.dkim_only:
        cfg = dict(cfg, peers=("tinymx",), callgrind=None)
    if args.defences_only:
        cfg = dict(cfg, peers=("tinymx",), callgrind=None, dkim=None)
    if args.fs_only:
        cfg = dict(cfg, peers=("tinymx", "postfix"), callgrind=None, dkim=None)
    check_tools(cfg)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = cfg["idle"] + 1000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY
                                                    else want, hard))
    for d in (BASE, TMPFS):
        if not os.path.isdir(d):
            sys.exit(f"bench: {d} does not exist")
    # The binary is copied once, so that a rebuild during the run (others
    # work in this tree) does not change it half-way.
    global BIN
    bindir = tempfile.mkdtemp(prefix="tinymx-bench-bin-")
    os.chmod(bindir, 0o755)
    shutil.copy2(BIN, os.path.join(bindir, "tinymx"))
    BIN = os.path.join(bindir, "tinymx")
    if cfg.get("dkim"):
        global DKIM_SPEED
        shutil.copy2(DKIM_SPEED, os.path.join(bindir, "dkim_speed"))
        DKIM_SPEED = os.path.join(bindir, "dkim_speed")
    # The sender checks' DNS server: a thread of this process on
    # 127.0.0.1, a fixed zone, no upstream.
    dns = dns_server.ZoneServer(dns_server.BENCH_ZONE).start()
    material = None
    try:
        if cfg.get("dkim"):
            # Keys and signed messages, fresh for this run; their records
            # join the zone.
            material = dkim_material(TMPFS)
            dns.add(dkim_zone(material))
        measure(args, cfg, dns, material)
    finally:
        dns.stop()
        if material:
            shutil.rmtree(material, ignore_errors=True)
        remove_tree(bindir)
        remove_deferred()


def emit(text, out):
    """Writes a report to OUT (if given) and prints it."""
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    print()
    print(text, end="")


def measure_fs_only(args, cfg):
    """`--fs-only`: the file-system section alone, with its run's facts."""
    info = machine_info()
    t_start = time.monotonic()
    r = fs_rows(cfg)
    info["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = ["# tinymx on the file systems users have (run.py --fs-only): results\n",
             f"- date: {info['date']}; whole run {(time.monotonic() - t_start) / 60:.1f} min",
             f"- machine: {info['nproc']} CPUs, {info['cpu']}, Linux {info['kernel']}; "
             f"load average {info['load']} at the start, {info['load_end']} at the end; images on "
             f"{fs_type(loopfs.ROOT if os.path.isdir(loopfs.ROOT) else ROOT)}",
             f"- {info['tinymx']}; Postfix {info['postfix']}; client: Postfix's smtp-source on 127.0.0.1\n"]
    lines += fs_report(cfg, r)
    text = "\n".join(lines) + "\n"
    emit(text, args.out)


def measure_auth_only(args, cfg, dns):
    info = machine_info()
    t_start = time.monotonic()
    runs = []
    for run in range(cfg["runs"]):
        log(f"run {run + 1} of {cfg['runs']}")
        runs.append({("auth", phase, k): v for phase, res in sender_checks(cfg, dns, run).items()
                     for k, v in res.items()})
    once = {}
    if shutil.which("valgrind"):
        n1, n2 = FULL["callgrind"]
        once["instr_n"] = (n1, n2)
        once["auth_instr"] = auth_instructions(dns, n1, n2)
    info["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    text = auth_only_report(cfg, info, runs, once, time.monotonic() - t_start)
    emit(text, args.out)


def measure_dkim_only(args, cfg, dns, material):
    """`--dkim-only`: the DKIM section alone, with its run's facts."""
    info = machine_info()
    t_start = time.monotonic()
    runs = []
    for run in range(cfg["runs"]):
        log(f"run {run + 1} of {cfg['runs']}")
        r = {("dkim", phase, k): v for phase, res in dkim_checks(cfg, dns, run, material).items()
             for k, v in res.items()}
        r["dkim_micro"] = dkim_micro(cfg, material)
        runs.append(r)
    once = {}
    if shutil.which("valgrind"):
        n1, n2 = FULL["callgrind"]
        once["instr_n"] = (n1, n2)
        once["dkim_instr"] = dkim_instructions(dns, material, n1, n2)
    info["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    med = {k: median([r.get(k) for r in runs]) for k in set().union(*runs)}
    lines = ["# tinymx DKIM (run.py --dkim-only): results\n",
             f"- date: {info['date']}; whole run {(time.monotonic() - t_start) / 60:.1f} min; "
             f"{len(runs)} run(s)",
             f"- machine: {info['nproc']} CPUs, {info['cpu']}, Linux {info['kernel']}; "
             f"load average {info['load']} at the start, {info['load_end']} at the end",
             f"- {info['tinymx']}; client: Postfix's smtp-source {info['postfix']} on 127.0.0.1\n"]
    lines += dkim_report(cfg, runs, lambda *k: med.get(k), once)
    lines.append("## Every run\n")
    lines += dkim_runs(runs)
    text = "\n".join(lines) + "\n"
    emit(text, args.out)


def measure(args, cfg, dns, material=None):
    if args.auth_only:
        return measure_auth_only(args, cfg, dns)
    if args.dkim_only:
        return measure_dkim_only(args, cfg, dns, material)
    if args.defences_only:
        return measure_defences_only(args, cfg, dns)
    if args.fs_only:
        return measure_fs_only(args, cfg)
    info = machine_info()
    if "tmpfs" in info["disk_fs"]:
        log(f"warning: {BASE} is tmpfs, so the 'disk' runs are not on a disk; set BENCH_DIR")
    t_start = time.monotonic()
    runs = []
    once = {}
    peers = cfg["peers"]
    # Keep the disk work directories until the end (see remove_tree) if
    # there is room: about 1.3 GB per run, mostly (b)'s 1 MiB messages.
    need = 1.5e9 * cfg["runs"] if not args.smoke else 0.1e9
    DEFER["on"] = shutil.disk_usage(BASE).free > 2 * need
    info["deferred"] = DEFER["on"]
    if not DEFER["on"]:
        log(f"warning: less than {2 * need / 1e9:.0f} GB free under {BASE}: "
            "work directories are removed after each workload")
    info["no_journal"] = ext4_without_journal(BASE)
    SETTLE["needed"] = info["no_journal"] and not args.smoke
    if SETTLE["needed"]:
        freed_inodes_now()  # whatever ran before us (make test, say) may have deleted files
    workloads = (("a_disk", cfg["a"], BASE), ("a_tmpfs", cfg["a"], TMPFS),
                 ("b_disk", cfg["b"], BASE), ("c_disk", cfg["c"], BASE))
    for run in range(cfg["runs"]):
        r = {}
        log(f"run {run + 1} of {cfg['runs']}")
        for where, base, threads, ops in (("disk", BASE, 1, cfg["ceil1"]),
                                          ("disk", BASE, 20, cfg["ceil20"]),
                                          ("tmpfs", TMPFS, 20, cfg["ceil20"])):
            v = ceiling(base, threads, ops)
            r[("ceiling", where, threads)] = v
            r[("ceiling_sys_ms", where, threads)] = CEILING_SYS[(base, threads)]
            log(f"  ceiling {where} {threads} thread(s): {v:,.0f} ops/s")
        # Rotate the order of the peers from run to run, so a load change on
        # the shared machine does not always hit the same one.
        order = list(peers[run % len(peers):] + peers[:run % len(peers)])
        for wl, (n, size, sessions), base in workloads:
            for kind in order:
                if base == BASE:
                    settle()
                srv = start(kind, base)
                try:
                    res = workload(srv, cfg["fewer"].get((kind, wl), n), size, sessions,
                                   timeout=300)
                finally:
                    stop(srv)
                if srv.rusage and not srv.multi_process:
                    res["ctx_per_mail"] = srv.rusage.ru_nvcsw / cfg["fewer"].get((kind, wl), n)
                for k, v in res.items():
                    r[(wl, kind, k)] = v
                log(f"  {wl} {kind}: {res['secs']:.2f}s, {res['rate']:,.0f} mail/s, "
                    f"{res['mbps']:.1f} MB/s, cpu {res['cpu_per_1000']:.2f} s/1000, "
                    f"peak {res['peak_kib']:,} KiB")
        for phase, res in sender_checks(cfg, dns, run).items():
            for k, v in res.items():
                r[("auth", phase, k)] = v
        for phase, res in dkim_checks(cfg, dns, run, material).items():
            for k, v in res.items():
                r[("dkim", phase, k)] = v
        r["dkim_micro"] = dkim_micro(cfg, material)
        for phase, res in defence_checks(cfg, dns, run).items():
            for k, v in res.items():
                r[("def", phase, k)] = v
        for kind in order:
            res = idle_memory(kind, BASE, cfg["idle"])
            for k, v in res.items():
                r[(k, kind)] = v
            log(f"  idle {kind}: {res['idle_kib']:,} KiB, {res['per_session_kib']:.1f} KiB/session")
        runs.append(r)
    if not args.no_fs:
        log("file systems (issue 19)")
        once["fs"] = fs_rows(cfg)
    if cfg["callgrind"]:
        n1, n2 = cfg["callgrind"]
        once["instr"], once["instr_n"] = {}, (n1, n2)
        for kind in ("tinymx", "smtp-sink"):
            i1 = callgrind_instructions(kind, TMPFS, n1)
            i2 = callgrind_instructions(kind, TMPFS, n2)
            once["instr"][kind] = (i2 - i1) / (n2 - n1)
            log(f"  callgrind {kind}: {once['instr'][kind]:,.0f} instructions per mail")
        once["auth_instr"] = auth_instructions(dns, n1, n2)
        once["dkim_instr"] = dkim_instructions(dns, material, n1, n2)
        once["perf"] = perf_instructions()
    once["size"] = stripped_size()
    elapsed = time.monotonic() - t_start
    info["settle_waited"] = SETTLE["waited"]
    info["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    text = report(cfg, info, runs, once, elapsed, args.smoke)
    text += "\n" + "\n".join(defences_report(cfg, runs)) + "\n"
    if "fs" in once:
        text += "\n" + "\n".join(fs_report(cfg, once["fs"])) + "\n"
    out = args.out or (None if args.smoke else os.path.join(HERE, "results.md"))
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    print()
    print(text, end="")
    if out:
        log(f"written to {out}")
    if args.smoke:
        # The harness produced a number for each measurement (every mail
        # arrived, or workload() would have failed already).
        r = runs[0]
        need = [("ceiling", w, t) for w, t in (("disk", 1), ("disk", 20), ("tmpfs", 20))]
        for wl, _, _ in workloads:
            for kind in peers:
                need += [(wl, kind, "rate"), (wl, kind, "cpu_per_1000"), (wl, kind, "peak_kib")]
        for kind in peers:
            need += [("idle_kib", kind), ("per_session_kib", kind)]
        for phase, _, _ in AUTH_PHASES:
            need += [("auth", phase, k) for k in ("rate", "cpu_per_1000", "vs_no_auth")]
        need += [("auth", phase, "spf_cpu_ms") for phase in ("warm", "cold")]
        for phase, _, _ in DKIM_PHASES:
            need += [("dkim", phase, k) for k in ("rate", "cpu_per_1000", "vs_no_auth")]
        for phase, _ in DEF_PHASES:
            need += [("def", phase, k) for k in ("rate", "cpu_per_1000", "vs_off")]
        bad = [k for k in need if not isinstance(r.get(k), (int, float))
               or r.get(k) < 0 and k[-1] != "spf_cpu_ms"
               or (k[-1] in ("rate", "idle_kib", "peak_kib") or k[0] == "ceiling") and not r.get(k) > 0]
        micro = r.get("dkim_micro") or {}
        bad += [("dkim_micro", k) for k in ("raw", "simple", "relaxed", "sha256sum", "verify-rsa",
                                            "verify-ed", "op-rsa", "op-ed")
                if not isinstance(micro.get(k), float) or not micro[k] > 0]
        if "fs" in once:
            fr = once["fs"]
            fc = cfg["fs"]
            need_fs = [("sink", wl, "rate") for wl in "abc"]
            for kind in fc["kinds"]:
                need_fs += [(kind, "ceil", wl, o) for wl in "abc" for o in ("fsync-first", "written-first")]
                need_fs += [(kind, "ceil", "b", "seq")]
                need_fs += [(kind, wl, peer, k) for wl in "abc" for peer in fc["peers"]
                            for k in ("rate", "fs:journal commits")]
                need_fs += [(kind, wl, peer, "strace", "fsync") for wl in "ac" for peer in fc["peers"]]
            bad += [k for k in need_fs if not isinstance(fr.get(k), (int, float)) or not fr[k] > 0]
        if bad or not once["size"] > 0:
            sys.exit(f"bench-smoke: no number for {bad}")
        # Cold and warm are what they say: the DNS server's counts.
        an = cfg["auth"][0]
        want = {"no-auth": (0, 0), "warm": (AUTH_LOOKUPS, 0), "cold": (AUTH_LOOKUPS, AUTH_LOOKUPS * an)}
        got = {ph: (r.get(("auth", ph, "dns_first")), r.get(("auth", ph, "dns_queries")))
               for ph in want}
        if got != want:
            sys.exit(f"bench-smoke: DNS queries (first message, the {an} after it) {got}, "
                     f"want {want}")
        want = {ph: (DKIM_LOOKUPS, 0) if flag == "--auth" else (0, 0) for ph, flag, _ in DKIM_PHASES}
        got = {ph: (r.get(("dkim", ph, "dns_first")), r.get(("dkim", ph, "dns_queries")))
               for ph in want}
        if got != want:
            sys.exit(f"bench-smoke: DKIM row's DNS queries (first message, the rest) {got}, "
                     f"want {want}")
        log(f"bench-smoke: ok ({len(need) + 1} numbers, every mail arrived) in {elapsed:.0f}s")


if __name__ == "__main__":
    main()
