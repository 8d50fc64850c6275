#!/usr/bin/env python3
"""`make test-powerloss`: power cuts under load, in a virtual machine.

The claim: tinymx answers 250 to DATA only once the message and its
Maildir new/ entry are durable, so that after a power cut at any moment
(1) every message that got a 250 is in new/ and complete, and (2) no
partial or empty file is ever in new/. A SIGKILL of tinymx cannot show
that (the page cache survives it); this test cuts the power of a whole
machine instead:

  - a qemu-system-x86_64 guest boots Debian's own kernel (the package
    behind linux-image-amd64, fetched once with apt-get download into
    /var/cache/tinymx-powerloss/ and unpacked there with dpkg-deb -x;
    nothing is installed; started as its uncompressed vmlinux through PVH
    when it has that) and an initramfs made here: busybox
    (busybox-static), the static tinymx (TINYMX_BIN), the kernel modules
    it needs in dependency order (read from each module's .modinfo:
    Debian's .deb has no modules.dep) and tests/powerloss/init, which
    mounts /dev/vda and starts tinymx on port 2525. KVM when a probe boot
    reaches /init with it, else software emulation (TCG): a kvm-pvm host
    (nested clouds) opens /dev/kvm but runs only PVM guest kernels;
  - the guest's disk is a file system image made on the host (mkfs.ext4's
    defaults: a journal, mounted data=ordered; mkfs.xfs's defaults);
    tinymx must report the order under test ("each message written out,
    linked into new/, then fsynced") and the guest's disk a write cache;
  - the host sends mail through qemu's user network (a forward from
    127.0.0.1 only, restrict=on: the guest reaches nothing) in 8 sessions
    at once, distinct messages of 1 KiB..200 KiB written in pieces, and
    records every message that got 250 after its final dot;
  - after a random number of 250s (--min..--max) it SIGKILLs qemu (by the
    pid it started): the power cut. Whatever the guest had only in its
    memory, page cache included, is gone;
  - then the image is mounted on the host (a normal rw mount, which
    replays the journal or log as the next boot would) and checked: every
    250'd message has exactly one file in new/ whose content, after
    tinymx's three trace header lines, is what was sent (CRLF as LF);
    every file in new/ is a complete message that was sent (one whose 250
    the cut swallowed is allowed); cur/ is empty; leftovers in tmp/ are
    counted (they are allowed); then fsck (e2fsck -fn, xfs_repair -n)
    must find the file system clean.

What a cut loses depends on the disk under the guest; each round names one:

  direct  the image file opened with cache=none (O_DIRECT on the host):
          every write the guest's disk completed is on the host's disk,
          flushed or not (a disk without a write cache). The cut comes at
          a random moment up to 0.3 s after the chosen 250.
  drop    a disk with a volatile write cache: the image is served by an
          NBD server in this script (`--nbd-serve`), which keeps every
          write in memory until the guest's next FLUSH and, at the cut,
          throws away every write not yet flushed. The disk picks the cut
          point: after the chosen 250 it completes 1..30 more write
          requests (at random), then answers nothing more and the power
          is cut, so that there is always unflushed data to lose.
  random  the same cache and cut point, but each 4 KiB block written since
          the last flush ends up in any one of its states since then (the
          old one, the newest, or one in between), chosen at random per
          block: the disk wrote part of its cache out, in any order.

Rounds (default): ext4 and XFS each on direct, drop and twice random, each
a fresh boot on a fresh image with its own cut point (XFS only when the
kernel has its module). Then two controls that must fail, so that a pass
means something: once the last round's image is found clean, damage is
planted in its new/ (a truncated copy, an empty file, a duplicate, a
250'd message removed) and the checker must report exactly those; and a
round with ext4 mounted nobarrier (no flushes) on the drop disk must lose
250'd messages.

One line per round: file system, disk, messages with a 250 before the
cut, complete files in new/, tmp/ leftovers, seconds. Root only (loop
devices, mount). Exits 1 with the violations on any failure. Everything it
starts is stopped by its pid, everything it mounts is unmounted and its
folder target/powerloss/run-PID is removed, also on failure (--keep keeps
the folder: images, console logs). --seed N repeats a run's choices.

    TINYMX_BIN=target/x86_64-unknown-linux-musl/release/tinymx python3 tests/powerloss.py
        [--rounds ext4:direct,xfs:random,...] [--seed N] [--min N --max N]
        [--no-controls] [--keep]
"""
import argparse
import glob
import hashlib
import json
import lzma
import gzip
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loopfs  # noqa: E402  tests/loopfs.py: release()

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.realpath(os.path.join(HERE, "..", "target", "powerloss"))
CACHE = "/var/cache/tinymx-powerloss"
INIT = os.path.join(HERE, "powerloss", "init")
MAILBOX = "power"
GUEST_PORT = 2525
SESSIONS = 8
IMAGE_MIB = 320  # mkfs.xfs wants at least 300 MB
DEFAULT_ROUNDS = "ext4:direct,ext4:drop,ext4:random,ext4:random,xfs:direct,xfs:drop,xfs:random,xfs:random"
# The modules the guest loads (their dependencies are added): crc32c
# first, which ext4, jbd2 and libcrc32c only ask for by alias (softdep).
MODULES = ["crc32c_generic", "virtio_pci", "virtio_blk", "virtio_net", "ext4", "xfs"]
ENV = dict(os.environ, LC_ALL="C", TZ="UTC")


class Failure(Exception):
    pass


def log(msg):
    print(f"test-powerloss: {msg}", flush=True)


def run(argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, env=ENV, **kw)
    if p.returncode != 0:
        raise Failure(f"{' '.join(argv)} exited {p.returncode}: {(p.stderr or p.stdout).strip()[-800:]}")
    return p.stdout


def wait_for(pred, what, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------
# The guest: kernel, modules, initramfs
# --------------------------------------------------------------------------

def fetch_kernel():
    """The guest's kernel and modules: from the package behind Debian's
    linux-image-amd64, downloaded once into CACHE; its files are unpacked
    once into a temporary folder there, from which the kernel and the
    modules of MODULES (with what they depend on) are kept in a kit
    (CACHE/PACKAGE.kit, a few MiB, remade when MODULES changes) and the
    rest removed. Returns (package file name, kernel path, kit dict)."""
    os.makedirs(CACHE, exist_ok=True)
    pattern = os.path.join(CACHE, "linux-image-*-amd64_*_amd64.deb")
    debs = sorted(glob.glob(pattern))
    if not debs:
        out = run(["apt-cache", "depends", "linux-image-amd64"])
        m = re.search(r"Depends: (linux-image-\S+-amd64)\b", out)
        if not m:
            run(["apt-get", "update", "-qq"])
            out = run(["apt-cache", "depends", "linux-image-amd64"])
            m = re.search(r"Depends: (linux-image-\S+-amd64)\b", out)
        if not m:
            raise Failure(f"no kernel package behind linux-image-amd64: {out.strip()}")
        log(f"fetching {m.group(1)} into {CACHE} (apt-get download, once)")
        try:
            run(["apt-get", "download", "-q", m.group(1)], cwd=CACHE)
        except Failure:
            run(["apt-get", "update", "-qq"])
            run(["apt-get", "download", "-q", m.group(1)], cwd=CACHE)
        debs = sorted(glob.glob(pattern))
        if not debs:
            raise Failure(f"apt-get download left no linux-image .deb in {CACHE}")
    deb = debs[-1]
    kitdir = deb[:-len(".deb")] + ".kit"
    try:
        with open(os.path.join(kitdir, "kit.json")) as f:
            kit = json.load(f)
        if kit["wanted"] == MODULES:
            return os.path.basename(deb), os.path.join(kitdir, kit["kernel"]), kitdir, kit
    except (OSError, ValueError, KeyError):
        pass
    tree = deb[:-len(".deb")] + ".unpacked"
    tmp = kitdir + ".tmp"
    for d in (tree, tmp):
        shutil.rmtree(d, ignore_errors=True)
    try:
        run(["dpkg-deb", "-x", deb, tree])
        vmlinuz = glob.glob(os.path.join(tree, "boot", "vmlinuz-*"))[0]
        moddir = glob.glob(os.path.join(tree, "lib", "modules", "*"))[0]
        os.makedirs(os.path.join(tmp, "modules"))
        kernel = pvh_kernel(tree, vmlinuz, os.path.join(tmp, "vmlinux.pvh"))
        if kernel == vmlinuz:
            shutil.copyfile(vmlinuz, os.path.join(tmp, "vmlinuz"))
        order, builtin, missing = modules(moddir, MODULES)
        for name, data in order:
            with open(os.path.join(tmp, "modules", name + ".ko"), "wb") as f:
                f.write(data)
        kit = {"wanted": MODULES, "kernel": "vmlinuz" if kernel == vmlinuz else "vmlinux.pvh",
               "order": [n for n, _ in order], "builtin": sorted(builtin & set(MODULES)),
               "missing": missing, "version": os.path.basename(moddir)}
        with open(os.path.join(tmp, "kit.json"), "w") as f:
            json.dump(kit, f)
        shutil.rmtree(kitdir, ignore_errors=True)
        os.rename(tmp, kitdir)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return os.path.basename(deb), os.path.join(kitdir, kit["kernel"]), kitdir, kit


def pvh_kernel(root, vmlinuz, out):
    """The uncompressed ELF vmlinux out of an xz bzImage, written to OUT,
    when the kernel has PVH: qemu then starts it directly, which saves the
    seconds the decompressor takes under emulation. Else the bzImage."""
    config = glob.glob(os.path.join(root, "boot", "config-*"))
    if not config or "\nCONFIG_PVH=y\n" not in open(config[0]).read():
        return vmlinuz
    data = open(vmlinuz, "rb").read()
    at = data.find(b"\xfd7zXZ\x00")
    if at < 0:
        return vmlinuz
    try:
        elf = lzma.LZMADecompressor().decompress(data[at:])
    except lzma.LZMAError:
        return vmlinuz
    if elf[:4] != b"\x7fELF":
        return vmlinuz
    with open(out, "wb") as f:
        f.write(elf)
    return out


def modinfo(data):
    """The key=value pairs of an ELF64 kernel module's .modinfo section."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise Failure("not an ELF64 module")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    secs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = secs[shstrndx][4]
    info = {}
    for s in secs:
        name = data[names + s[0]:data.index(b"\0", names + s[0])]
        if name == b".modinfo":
            for kv in data[s[4]:s[4] + s[5]].split(b"\0"):
                if b"=" in kv:
                    k, v = kv.decode().split("=", 1)
                    info.setdefault(k, []).append(v)
    return info


def read_module(path):
    if path.endswith(".xz"):
        return lzma.decompress(open(path, "rb").read())
    if path.endswith(".gz"):
        return gzip.decompress(open(path, "rb").read())
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    return open(path, "rb").read()


def modules(moddir, want):
    """[(name, bytes)] in load order: each module after what it depends on.
    Built-in modules are skipped; a missing one is left out (and so its
    file system's rounds)."""
    norm = lambda n: n.replace("-", "_")  # noqa: E731
    files = {}
    for p in glob.glob(os.path.join(moddir, "kernel", "**", "*.ko*"), recursive=True):
        files[norm(re.sub(r"\.ko(\.(xz|gz|zst))?$", "", os.path.basename(p)))] = p
    builtin = set()
    with open(os.path.join(moddir, "modules.builtin")) as f:
        for line in f:
            builtin.add(norm(re.sub(r"\.ko$", "", os.path.basename(line.strip()))))
    order, done, missing = [], set(), []

    def visit(m):
        if m in done or m in builtin:
            return
        done.add(m)
        if m not in files:
            missing.append(m)
            return
        data = read_module(files[m])
        for dep in ",".join(modinfo(data).get("depends", [""])).split(","):
            if dep:
                visit(norm(dep))
        order.append((m, data))
    for m in want:
        visit(m)
    return order, builtin, missing


def cpio_newc(entries):
    """An uncompressed initramfs: entries of (path, mode, bytes or None,
    rdev (major, minor))."""
    out = bytearray()

    def pad():
        out.extend(b"\0" * (-len(out) % 4))
    for ino, (name, mode, data, rdev) in enumerate(entries + [("TRAILER!!!", 0, None, (0, 0))], 1):
        data = data or b""
        nameb = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 2 if mode & 0o040000 else 1, 0, len(data), 0, 0,
                  rdev[0], rdev[1], len(nameb), 0)
        out += b"070701" + b"".join(b"%08X" % v for v in fields) + nameb
        pad()
        out += data
        pad()
    return bytes(out)


def build_initramfs(path, tinymx, mods):
    d, f, c = 0o040755, 0o100755, 0o020600
    entries = [(n, d, None, (0, 0)) for n in ("bin", "dev", "proc", "sys", "mnt", "tmp", "lib", "lib/modules")]
    entries.append(("dev/console", c, None, (5, 1)))
    entries.append(("bin/busybox", f, open("/bin/busybox", "rb").read(), (0, 0)))
    entries.append(("bin/tinymx", f, open(tinymx, "rb").read(), (0, 0)))
    entries.append(("init", f, open(INIT, "rb").read(), (0, 0)))
    for name, data in mods:
        entries.append((f"lib/modules/{name}.ko", 0o100644, data, (0, 0)))
    order = "".join(f"{name}\n" for name, _ in mods).encode()
    entries.append(("lib/modules/order", 0o100644, order, (0, 0)))
    with open(path, "wb") as out:
        out.write(cpio_newc(entries))


# --------------------------------------------------------------------------
# The disk with a volatile write cache: an NBD server (--nbd-serve)
# --------------------------------------------------------------------------

NBD_MAGIC, IHAVEOPT, OPT_REPLY = 0x4E42444D41474943, 0x49484156454F5054, 0x3E889045565A9
REQUEST, SIMPLE_REPLY = 0x25609513, 0x67446698
OPT_EXPORT_NAME, OPT_ABORT, OPT_INFO, OPT_GO = 1, 2, 6, 7
REP_ACK, REP_INFO, REP_ERR_UNSUP = 1, 3, 0x80000001
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH = 0, 1, 2, 3
# HAS_FLAGS | SEND_FLUSH; no FUA (qemu then writes and flushes), no trim.
TRANSMISSION_FLAGS = 1 | 4
SECTOR, BLOCK = 512, 4096


class VolatileCache:
    """A disk's write cache over the image file: writes stay in memory
    (newest copy of each sector, and the log of writes in order) until a
    FLUSH writes them to the file."""

    def __init__(self, fd):
        self.fd = fd
        self.latest = {}  # sector -> 512 bytes
        self.log = []     # (offset, bytes) since the last flush
        self.flushes = self.writes = 0

    def write(self, off, data):
        if off % SECTOR or len(data) % SECTOR:
            raise ValueError(f"unaligned write {off}+{len(data)}")
        s0 = off // SECTOR
        for i in range(len(data) // SECTOR):
            self.latest[s0 + i] = data[i * SECTOR:(i + 1) * SECTOR]
        self.log.append((off, data))
        self.writes += 1

    def read(self, off, n):
        buf = bytearray(os.pread(self.fd, n, off))
        buf.extend(b"\0" * (n - len(buf)))
        if self.latest and off % SECTOR == 0:
            s0 = off // SECTOR
            for i in range(n // SECTOR):
                v = self.latest.get(s0 + i)
                if v is not None:
                    buf[i * SECTOR:(i + 1) * SECTOR] = v
        return bytes(buf)

    def _write_sectors(self, sectors):
        run_start, chunks = None, []
        for s in sorted(sectors):
            if run_start is not None and s == run_start + len(chunks):
                chunks.append(sectors[s])
                continue
            if chunks:
                os.pwrite(self.fd, b"".join(chunks), run_start * SECTOR)
            run_start, chunks = s, [sectors[s]]
        if chunks:
            os.pwrite(self.fd, b"".join(chunks), run_start * SECTOR)

    def flush(self):
        self._write_sectors(self.latest)
        self.latest.clear()
        self.log.clear()
        self.flushes += 1

    def cut(self, mode, rng):
        """The power cut: what becomes of the unflushed writes."""
        blocks = {}
        for off, data in self.log:
            for b in range(off // BLOCK, (off + len(data) - 1) // BLOCK + 1):
                blocks[b] = blocks.get(b, 0) + 1
        stats = {"unflushed_writes": len(self.log), "unflushed_blocks": len(blocks),
                 "blocks_newest": 0, "blocks_older": 0, "blocks_lost": len(blocks)}
        if mode == "drop" or not blocks:
            return stats
        # random: block b keeps the state after its first keep[b] writes.
        keep = {b: rng.randint(0, n) for b, n in blocks.items()}
        stats["blocks_newest"] = sum(1 for b in blocks if keep[b] == blocks[b])
        stats["blocks_lost"] = sum(1 for b in blocks if keep[b] == 0)
        stats["blocks_older"] = len(blocks) - stats["blocks_newest"] - stats["blocks_lost"]
        seen, out = {}, {}
        for off, data in self.log:
            s0 = off // SECTOR
            for i in range(len(data) // SECTOR):
                b = (s0 + i) * SECTOR // BLOCK
                if i == 0 or (s0 + i) % (BLOCK // SECTOR) == 0:
                    seen[b] = seen.get(b, 0) + 1
                if seen[b] <= keep[b]:
                    out[s0 + i] = data[i * SECTOR:(i + 1) * SECTOR]
        self._write_sectors(out)
        return stats


def nbd_serve(listen_fd, arm_fd, cut_fd, image, mode, seed, report):
    """Serves IMAGE to one NBD client (qemu) until it is gone, then applies
    the cut and writes a JSON report. The cut point is the disk's: once
    ARM_FD brings a number K, the K-th write request after it is completed
    (its reply sent: it is in the cache, unflushed), then the disk stops:
    nothing more is done or answered, a byte on CUT_FD tells the test to
    cut the power, and what arrives until qemu is gone is thrown away."""
    os.set_blocking(arm_fd, False)
    armed = None
    ignored = 0
    ls = socket.socket(fileno=listen_fd)
    ls.settimeout(120)
    conn, _ = ls.accept()
    ls.close()
    conn.settimeout(None)
    rf = conn.makefile("rb", buffering=1 << 20)
    fd = os.open(image, os.O_RDWR)
    size = os.fstat(fd).st_size
    cache = VolatileCache(fd)
    alive = True

    def send(b):
        nonlocal alive
        if alive:
            try:
                conn.sendall(b)
            except OSError:
                alive = False

    def read(n):
        try:
            b = rf.read(n)
        except OSError:  # qemu is gone
            return None
        return b if b is not None and len(b) == n else None

    def opt_reply(opt, typ, data=b""):
        send(struct.pack(">QIII", OPT_REPLY, opt, typ, len(data)) + data)

    send(struct.pack(">QQH", NBD_MAGIC, IHAVEOPT, 1 | 2))  # FIXED_NEWSTYLE | NO_ZEROES
    cflags = read(4)
    no_zeroes = cflags is not None and struct.unpack(">I", cflags)[0] & 2
    transmission = cflags is not None
    while transmission:
        h = read(16)
        if h is None:
            transmission = False
            break
        _, opt, n = struct.unpack(">QII", h)
        data = read(n) if n else b""
        if opt == OPT_EXPORT_NAME:
            send(struct.pack(">QH", size, TRANSMISSION_FLAGS) + (b"" if no_zeroes else bytes(124)))
            break
        if opt in (OPT_GO, OPT_INFO):
            opt_reply(opt, REP_INFO, struct.pack(">HQH", 0, size, TRANSMISSION_FLAGS))
            opt_reply(opt, REP_INFO, struct.pack(">HIII", 3, SECTOR, BLOCK, 32 << 20))
            opt_reply(opt, REP_ACK)
            if opt == OPT_GO:
                break
        elif opt == OPT_ABORT:
            opt_reply(opt, REP_ACK)
            transmission = False
        else:  # structured replies, meta contexts, TLS, lists: not offered
            opt_reply(opt, REP_ERR_UNSUP)
    reads = 0
    while transmission:
        h = read(28)
        if h is None:
            break
        magic, _flags, typ, handle, off, n = struct.unpack(">IHHQQI", h)
        if magic != REQUEST:
            raise SystemExit(f"nbd: bad request magic {magic:#x}")
        if typ == CMD_WRITE:
            data = read(n)
            if data is None:
                break  # the cut came mid-request: never completed
            cache.write(off, data)
            send(struct.pack(">IIQ", SIMPLE_REPLY, 0, handle))
            if armed is None:
                try:
                    got = os.read(arm_fd, 64)
                except BlockingIOError:
                    got = b""
                if got:
                    armed = int(got.decode())
            if armed is not None:
                armed -= 1
                if armed <= 0:
                    os.write(cut_fd, b"c")
                    while read(1):  # until qemu is gone
                        ignored += 1
                    break
        elif typ == CMD_READ:
            reads += 1
            send(struct.pack(">IIQ", SIMPLE_REPLY, 0, handle) + cache.read(off, n))
        elif typ == CMD_FLUSH:
            cache.flush()
            send(struct.pack(">IIQ", SIMPLE_REPLY, 0, handle))
        elif typ == CMD_DISC:
            cache.flush()  # an orderly disconnect
            break
        else:
            send(struct.pack(">IIQ", SIMPLE_REPLY, 22, handle))  # EINVAL
    stats = cache.cut(mode, random.Random(seed))
    stats.update(flushes=cache.flushes, writes=cache.writes, reads=reads, ignored_after_cut=ignored,
                 frozen=armed is not None and armed <= 0)
    os.close(fd)
    with open(report + ".tmp", "w") as f:
        json.dump(stats, f)
    os.rename(report + ".tmp", report)


# --------------------------------------------------------------------------
# The mail
# --------------------------------------------------------------------------

def message(mid, size, rng):
    """A message of about SIZE bytes with CRLF line ends, no line starting
    with a dot; its id in the Message-ID and on every body line."""
    head = (f"Message-ID: <{mid}@powerloss.test>\r\nSubject: power cut test {mid}\r\n"
            f"From: <sender@example.com>\r\nTo: <{MAILBOX}@example.org>\r\n\r\n")
    lines, n, total = [head.encode()], 0, len(head)
    while total < size:
        line = f"{mid} {n:06d} {rng.randbytes(24).hex()}\r\n".encode()
        lines.append(line)
        total += len(line)
        n += 1
    return b"".join(lines)


def lf_digest(crlf):
    lf = crlf.replace(b"\r\n", b"\n")
    return hashlib.sha256(lf).hexdigest(), len(lf)


class Load:
    """SESSIONS concurrent SMTP sessions through the forwarded port."""

    def __init__(self, port, tag, seed, target, timeout):
        self.port, self.tag, self.seed, self.target, self.timeout = port, tag, seed, target, timeout
        self.lock = threading.Lock()
        self.accepted = []     # ids that got 250 after the final dot
        self.sent = {}         # id -> (sha256, length) of its LF form, once DATA got 354
        self.refused = []      # unexpected replies before the cut
        self.errors = []       # sessions that broke before the cut
        self.reached = threading.Event()
        self.cut = threading.Event()
        self.socks = {}        # session -> its socket, for unstick()
        self.greeted = set()   # sessions that got their 220
        self.threads = [threading.Thread(target=self.session, args=(k,), daemon=True)
                        for k in range(SESSIONS)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        return [t.name for t in self.threads if t.is_alive()]

    def unstick(self):
        """After the cut: ends the sessions still waiting. A connection
        that qemu's forward never accepted (its listen queue was full when
        the power went) got no RST when qemu died: on loopback the client
        saw its handshake complete, the listener only a half-open request,
        dropped silently. Such a session never got its greeting, so it
        holds no 250; its socket is shut down here so its thread ends."""
        with self.lock:
            socks = [(k, s) for k, s in self.socks.items() if self.threads[k].is_alive()]
        for _, s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return [(k, k in self.greeted) for k, _ in socks]

    def session(self, k):
        rng = random.Random(self.seed * 1000 + k)
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
            with self.lock:
                self.socks[k] = s
            f = s.makefile("rb")

            def reply():
                lines = []
                while True:
                    line = f.readline()
                    if not line:
                        raise ConnectionError(f"closed after {lines!r}")
                    lines.append(line.decode(errors="replace").rstrip("\r\n"))
                    if len(line) < 4 or line[3:4] != b"-":
                        return "\n".join(lines)

            def cmd(text, want):
                if text is not None:
                    s.sendall(text.encode() + b"\r\n")
                r = reply()
                if not r.startswith(want):
                    raise RuntimeError(f"{text!r} got {r!r}, wanted {want}")
                return r

            cmd(None, "220")
            with self.lock:
                self.greeted.add(k)
            cmd("EHLO host.test", "250")
            i = 0
            while not self.cut.is_set():
                mid = f"{self.tag}.{k}.{i}"
                i += 1
                body = message(mid, rng.randint(1024, 200 * 1024), rng)
                cmd("MAIL FROM:<sender@example.com>", "250")
                cmd(f"RCPT TO:<{MAILBOX}@example.org>", "250")
                cmd("DATA", "354")
                with self.lock:
                    self.sent[mid] = lf_digest(body)
                pos = 0
                while pos < len(body):
                    n = rng.randint(512, 32 * 1024)
                    s.sendall(body[pos:pos + n])
                    pos += n
                s.sendall(b".\r\n")
                r = reply()
                if r.startswith("250"):
                    with self.lock:
                        self.accepted.append(mid)
                        if len(self.accepted) >= self.target:
                            self.reached.set()
                else:
                    raise RuntimeError(f"final dot of {mid} got {r!r}")
        except (OSError, ConnectionError, RuntimeError) as e:
            if not self.cut.is_set():
                with self.lock:
                    self.errors.append(f"session {k}: {type(e).__name__}: {e}")
                self.reached.set()  # nothing more to wait for


# --------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------

TRACE = (b"Return-Path: ", b"Delivered-To: ", b"Received: ")
MID = re.compile(rb"Message-ID: <([^@>]+)@powerloss\.test>\n")


def inspect(mnt, sent, accepted):
    """(violations, complete files in new/, tmp leftovers) of a mounted image."""
    v = []
    spool = os.path.join(mnt, "spool")
    box = os.path.join(spool, MAILBOX)
    if os.path.isdir(spool):
        others = sorted(set(os.listdir(spool)) - {MAILBOX})
        if others:
            v.append(f"unexpected entries in the spool: {others}")
    found = {}
    newdir = os.path.join(box, "new")
    names = sorted(os.listdir(newdir)) if os.path.isdir(newdir) else []
    for name in names:
        path = os.path.join(newdir, name)
        if not os.path.isfile(path) or os.path.islink(path):
            v.append(f"new/{name}: not a regular file")
            continue
        with open(path, "rb") as fh:
            data = fh.read()
        if not data:
            v.append(f"new/{name}: empty file")
            continue
        rest = data
        for want in TRACE:
            nl = rest.find(b"\n")
            if nl < 0 or not rest.startswith(want):
                rest = None
                break
            rest = rest[nl + 1:]
        if rest is None:
            v.append(f"new/{name}: damaged: no trace headers ({len(data)} bytes, starts {data[:40]!r})")
            continue
        m = MID.match(rest)
        mid = m.group(1).decode() if m else None
        if mid not in sent:
            v.append(f"new/{name}: damaged: not a message that was sent ({len(rest)} bytes, "
                     f"starts {rest[:60]!r})")
            continue
        digest, length = sent[mid]
        if (hashlib.sha256(rest).hexdigest(), len(rest)) != (digest, length):
            v.append(f"new/{name}: partial or damaged: message {mid}, {len(rest)} bytes where "
                     f"{length} were sent")
            continue
        if mid in found:
            v.append(f"message {mid} stored twice: new/{found[mid]} and new/{name}")
            continue
        found[mid] = name
    for mid in accepted:
        if mid not in found:
            v.append(f"message {mid} got 250 but is not complete in new/")
    tmpdir = os.path.join(box, "tmp")
    tmp = len(os.listdir(tmpdir)) if os.path.isdir(tmpdir) else 0
    curdir = os.path.join(box, "cur")
    if os.path.isdir(curdir) and os.listdir(curdir):
        v.append(f"cur/ is not empty: {sorted(os.listdir(curdir))[:5]}")
    return v, len(found), tmp


class Mounted:
    """The image on a loop device, mounted rw (journal/log replay)."""

    def __init__(self, image, fs, mnt):
        self.image, self.fs, self.mnt, self.dev, self.mounted = image, fs, mnt, None, False

    def __enter__(self):
        os.makedirs(self.mnt, exist_ok=True)
        try:
            self.dev = run(["losetup", "--find", "--show", self.image]).strip()
            run(["mount", "-t", self.fs, self.dev, self.mnt])
            self.mounted = True
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        loopfs.release(self.mnt if self.mounted else None, self.dev)
        self.mounted, self.dev = False, None
        try:
            os.rmdir(self.mnt)
        except OSError:
            pass
        return False


def fsck(image, fs):
    if fs == "ext4":
        argv = ["e2fsck", "-fn", image]
    else:
        argv = ["xfs_repair", "-n", "-f", image]
    p = subprocess.run(argv, capture_output=True, text=True, env=ENV)
    if p.returncode != 0:
        return [f"{argv[0]} found the file system damaged (exit {p.returncode}): "
                f"{(p.stdout + p.stderr).strip()[-600:]}"]
    return []


# --------------------------------------------------------------------------
# A round: boot, load, cut, check
# --------------------------------------------------------------------------

class Run:
    def __init__(self, args):
        self.args = args
        self.dir = os.path.join(ROOT, f"run-{os.getpid()}")
        self.children = []  # Popen objects this run started
        self.fds = []       # pipes to the NBD servers
        self.kvm = False

    def setup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        deb, self.vmlinuz, kitdir, kit = fetch_kernel()
        names, builtin, missing = kit["order"], set(kit["builtin"]), kit["missing"]
        mods = []
        for name in names:
            with open(os.path.join(kitdir, "modules", name + ".ko"), "rb") as f:
                mods.append((name, f.read()))
        self.have = {"ext4": "ext4" in names or "ext4" in builtin,
                     "xfs": "xfs" in names or "xfs" in builtin}
        for need in ("virtio_pci", "virtio_blk", "virtio_net", "ext4"):
            if need in missing:
                raise Failure(f"the kernel of {deb} has no {need}")
        self.initrd = os.path.join(self.dir, "initramfs.cpio")
        build_initramfs(self.initrd, self.args.tinymx, mods)
        self.kvm = self.kvm_boots()
        self.scale = 1 if self.kvm else 3
        log(f"guest: {deb}, {'KVM' if self.kvm else 'TCG'}, modules {' '.join(names)}; "
            f"initramfs {os.path.getsize(self.initrd) // 1024} KiB")

    def qemu_argv(self, kvm, console, append, *extra):
        return ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
                "-monitor", "none", "-no-reboot", "-m", "256M", "-smp", "2",
                *(["-accel", "kvm", "-cpu", "host"] if kvm else ["-accel", "tcg"]),
                "-kernel", self.vmlinuz, "-initrd", self.initrd,
                "-append", f"console=ttyS0 panic=-1 quiet {append}",
                "-serial", f"file:{console}", *extra]

    def kvm_boots(self):
        """Whether KVM boots this guest: /dev/kvm must open, and a boot
        without disk or network must reach /init. (A kvm-pvm host, as in
        some nested clouds, opens /dev/kvm but runs only PVM guest kernels.)"""
        try:
            os.close(os.open("/dev/kvm", os.O_RDWR))
        except OSError as e:
            log(f"/dev/kvm unusable ({e.strerror}): software emulation (TCG), slower")
            return False
        if os.path.exists("/sys/module/kvm_pvm") and not any(
                os.path.exists(f"/sys/module/{m}") for m in ("kvm_intel", "kvm_amd")):
            log("this host's KVM is kvm-pvm (nested, runs only PVM guest kernels), "
                "not Debian's: software emulation (TCG), slower")
            return False
        console = os.path.join(self.dir, "kvm-probe.log")
        p = subprocess.Popen(self.qemu_argv(True, console, "plfs=none"), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        self.children.append(p)
        try:
            wait_for(lambda: p.poll() is not None or "POWERLOSS: init started" in read_text(console),
                     "a KVM guest to reach /init", 20, 0.05)
            ok = "POWERLOSS: init started" in read_text(console)
        except Failure:
            ok = False
        self.stop(p)
        if not ok:
            log("KVM does not boot the guest: software emulation (TCG), slower")
        return ok

    def stop(self, p):
        """Kills a child of ours (by its pid) and reaps it."""
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass

    def cleanup(self):
        for p in self.children:
            self.stop(p)
        for fd in self.fds:
            os.close(fd)
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            log(f"kept {self.dir}")

    def round(self, no, fs, disk, mopts, rng, plant=None):
        """Returns (violations, summary dict)."""
        t0 = time.monotonic()
        d = os.path.join(self.dir, f"round{no}")
        os.makedirs(d)
        image = os.path.join(d, "disk.img")
        with open(image, "wb") as f:
            f.truncate(IMAGE_MIB << 20)
        run(["mkfs.ext4", "-q", "-F", image] if fs == "ext4" else ["mkfs.xfs", "-q", "-f", image])
        console = os.path.join(d, "console.log")
        seed = rng.randrange(1 << 30)
        target = rng.randint(self.args.min, self.args.max)
        nbd = report = None
        if disk == "direct":
            drive = f"file={image},format=raw,if=virtio,cache=none"
        else:
            sock_path = os.path.join(d, "nbd.sock")
            report = os.path.join(d, "nbd.json")
            ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            ls.bind(sock_path)
            ls.listen(1)
            arm_r, arm_w = os.pipe()
            cut_r, cut_w = os.pipe()
            with open(os.path.join(d, "nbd.log"), "w") as nlog:
                nbd = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--nbd-serve",
                                        str(ls.fileno()), str(arm_r), str(cut_w), image, disk, str(seed), report],
                                       pass_fds=[ls.fileno(), arm_r, cut_w], stdin=subprocess.DEVNULL,
                                       stdout=nlog, stderr=subprocess.STDOUT)
            ls.close()
            os.close(arm_r)
            os.close(cut_w)
            self.fds += [arm_w, cut_r]
            self.children.append(nbd)
            # No caching in qemu (the nbd driver has none); writeback: the
            # guest sees a disk with a write cache and sends flushes.
            drive = f"file=nbd+unix:///pl?socket={sock_path},format=raw,if=virtio,cache=writeback"
        qemu = None
        for _attempt in range(3):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            argv = self.qemu_argv(
                self.kvm, console, f"plfs={fs} plopts={mopts or '-'}",
                "-netdev", f"user,id=n,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:{GUEST_PORT}",
                "-device", "virtio-net-pci,netdev=n,romfile=",
                "-drive", drive)
            with open(os.path.join(d, "qemu.log"), "w") as qlog:
                qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=qlog, stderr=subprocess.STDOUT,
                                        env=ENV)
            self.children.append(qemu)

            def up():
                if qemu.poll() is not None:
                    return "exited"
                text = read_text(console)
                if "POWERLOSS: FAILED" in text:
                    return "failed"
                return "up" if "startup: spool on" in text else None
            state = wait_for(up, "the guest's tinymx to start", 60 * self.scale, 0.05)
            if state == "up":
                break
            if state == "exited" and "host forwarding" in read_text(qlog.name) and disk == "direct":
                continue  # the port was taken meanwhile: another one
            raise Failure(f"the guest did not start tinymx ({state}):\n{tail(qlog.name)}\n{tail(console)}")
        else:
            raise Failure("qemu could not forward a port")
        text = read_text(console)
        startup = re.search(r"startup: spool on (.*)", text).group(1)
        if "each message written out" not in startup:
            raise Failure(f"tinymx chose another order than the one under test: {startup}")
        wc = re.search(r"POWERLOSS: vda write cache: (.*)", text)
        if not wc or wc.group(1).strip() != "write back":
            raise Failure(f"the guest's disk has no write cache ({wc and wc.group(1)}): flushes untested")
        mounted = re.search(r"POWERLOSS: mounted: (.*)", text).group(1)
        boot = time.monotonic() - t0

        load = Load(port, f"r{no}x{seed}", seed, target, 20 * self.scale)
        load.start()
        if not load.reached.wait(90 * self.scale):
            raise Failure(f"only {len(load.accepted)} of {target} messages accepted in time")
        if load.errors:
            raise Failure("sessions failed before the cut:\n  " + "\n  ".join(load.errors))
        # The cut point: direct, a random moment up to 0.3 s after the
        # target-th 250; on the NBD disk, a random write request (1st to
        # 30th from now), which the disk completes and then stops.
        if nbd:
            os.write(arm_w, b"%d" % rng.randint(1, 30))
            ready, _, _ = select.select([cut_r], [], [], 30 * self.scale)
            if not ready:
                raise Failure("the armed disk saw no write request to cut at")
        else:
            load.cut.wait(rng.uniform(0, 0.3))  # a random delay, not a synchronisation
        load.cut.set()
        os.kill(qemu.pid, signal.SIGKILL)  # the power cut
        qemu.wait(timeout=30)
        with load.lock:
            accepted_at_cut = len(load.accepted)
        # Every session whose connection qemu had taken ends at once (EOF
        # or RST); one it never accepted waits for a greeting that cannot
        # come (see Load.unstick).
        stuck = load.join(5)
        unstuck = []
        if stuck:
            unstuck = load.unstick()
            greeted = [k for k, g in unstuck if g]
            if greeted:
                raise Failure(f"session(s) {greeted} had their greeting, yet their connection "
                              "did not end when qemu died")
            stuck = load.join(30)
        if stuck:
            raise Failure(f"client threads still running 30 s after the cut: {stuck}")
        if load.errors:
            raise Failure("sessions failed before the cut:\n  " + "\n  ".join(load.errors))
        accepted, sent = list(load.accepted), dict(load.sent)
        nstats = None
        if nbd:
            nbd.wait(timeout=120)
            if nbd.returncode != 0 or not os.path.exists(report):
                raise Failure(f"the NBD server failed (exit {nbd.returncode}):\n"
                              f"{tail(os.path.join(d, 'nbd.log'))}")
            with open(report) as f:
                nstats = json.load(f)

        planted = None
        with Mounted(image, fs, os.path.join(d, "mnt")) as m:
            violations, complete, tmp = inspect(m.mnt, sent, accepted)
            if plant and not violations:
                want = plant(m.mnt, accepted)
                planted = (want, inspect(m.mnt, sent, accepted)[0])
        violations += fsck(image, fs)
        if not self.args.keep:
            os.unlink(image)
        secs = time.monotonic() - t0
        info = dict(fs=fs, disk=disk, mopts=mopts, accepted=len(accepted), at_cut=accepted_at_cut,
                    target=target, sent=len(sent), complete=complete, tmp=tmp, secs=secs, boot=boot,
                    nbd=nstats, mounted=mounted, console=console, planted=planted,
                    unstuck=len(unstuck))
        return violations, info


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def tail(path, n=25):
    return f"--- {os.path.basename(path)} ---\n" + "\n".join(read_text(path).splitlines()[-n:])


def describe(no, info):
    disk = {"direct": "direct (cache=none)", "drop": "volatile cache, unflushed writes dropped",
            "random": "volatile cache, unflushed blocks at random"}[info["disk"]]
    if info["mopts"]:
        disk += f", mounted {info['mopts']}"
    extra = ""
    if info.get("unstuck"):
        extra += f"; {info['unstuck']} session(s) never greeted (their connection not yet accepted)"
    n = info["nbd"]
    if n:
        extra += (f"; disk: {n['flushes']} flushes, at the cut {n['unflushed_blocks']} unflushed blocks "
                 f"({n['blocks_newest']} newest, {n['blocks_older']} older, {n['blocks_lost']} lost)")
    return (f"round {no}: {info['fs']:<4} {disk}: {info['accepted']} accepted before the cut "
            f"({info['sent']} sent), {info['complete']} complete files in new/, {info['tmp']} tmp leftovers, "
            f"{info['secs']:.1f}s (boot {info['boot']:.1f}s){extra}")


def plant_damage(mnt, accepted):
    """The checker's own test, on an image it found clean: damage of each
    kind it must report. Returns {kind: the text its report must have}."""
    newdir = os.path.join(mnt, "spool", MAILBOX, "new")
    files = {}
    for name in sorted(os.listdir(newdir)):
        with open(os.path.join(newdir, name), "rb") as f:
            files[name] = MID.search(f.read()).group(1).decode()
    acked = [n for n in files if files[n] in set(accepted)]
    if len(acked) < 3:
        raise Failure("too few 250'd files in new/ to plant damage in")
    a, b, c = acked[:3]
    with open(os.path.join(newdir, a), "rb") as f:
        data = f.read()
    with open(os.path.join(newdir, "planted.truncated"), "wb") as f:
        f.write(data[:len(data) // 2])
    open(os.path.join(newdir, "planted.empty"), "wb").close()
    shutil.copyfile(os.path.join(newdir, b), os.path.join(newdir, "planted.duplicate"))
    os.unlink(os.path.join(newdir, c))
    return {"truncated": "new/planted.truncated: partial or damaged",
            "empty": "new/planted.empty: empty file",
            "duplicate": f"message {files[b]} stored twice",
            "missing": f"message {files[c]} got 250 but is not complete in new/"}


def is_static(path):
    """An ELF64 executable without a program interpreter (PT_INTERP)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:
                return False
            phoff, = struct.unpack_from("<Q", head, 0x20)
            phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
            f.seek(phoff)
            ph = f.read(phentsize * phnum)
    except OSError:
        return False
    return all(struct.unpack_from("<I", ph, i * phentsize)[0] != 3 for i in range(phnum))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--nbd-serve":
        fd, arm, cut, image, mode, seed, report = sys.argv[2:9]
        nbd_serve(int(fd), int(arm), int(cut), image, mode, int(seed), report)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", default=DEFAULT_ROUNDS, help="FS:DISK[:MOUNTOPTS],... (DISK: direct, drop, random)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--min", type=int, default=50, help="fewest 250s before the cut")
    ap.add_argument("--max", type=int, default=300, help="most 250s before the cut")
    ap.add_argument("--no-controls", action="store_true", help="skip the two runs that must fail")
    ap.add_argument("--keep", action="store_true", help="keep target/powerloss/run-PID")
    args = ap.parse_args()
    args.tinymx = os.environ.get("TINYMX_BIN")
    if os.geteuid() != 0:
        sys.exit("test-powerloss: needs root (loop devices, mount)")
    if not args.tinymx or not os.access(args.tinymx, os.X_OK):
        sys.exit("test-powerloss: set TINYMX_BIN to the static release binary")
    for tool in ("qemu-system-x86_64", "mkfs.ext4", "e2fsck", "mkfs.xfs", "xfs_repair", "losetup", "dpkg-deb"):
        if not shutil.which(tool):
            sys.exit(f"test-powerloss: {tool} is missing (make test-powerloss installs it)")
    if not is_static("/bin/busybox"):
        sys.exit("test-powerloss: /bin/busybox is missing or not static (busybox-static)")
    if not is_static(args.tinymx):
        sys.exit(f"test-powerloss: {args.tinymx} is not a static binary")
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    rounds = []
    for spec in args.rounds.split(","):
        parts = spec.split(":")
        if len(parts) not in (2, 3) or parts[0] not in ("ext4", "xfs") or parts[1] not in ("direct", "drop", "random"):
            sys.exit(f"test-powerloss: bad round {spec!r}")
        rounds.append((parts[0], parts[1], parts[2] if len(parts) == 3 else None))
    t0 = time.monotonic()
    r = Run(args)
    failed = []

    def terminated(signum, _frame):
        raise Failure(f"stopped by signal {signum}")
    signal.signal(signal.SIGTERM, terminated)
    signal.signal(signal.SIGHUP, terminated)
    try:
        r.setup()
        log(f"seed {seed} (--seed {seed} repeats this run's cut points)")
        todo = [(no, spec) for no, spec in enumerate(rounds, 1)]
        for i, (no, (fs, disk, mopts)) in enumerate(todo):
            if not r.have[fs]:
                log(f"round {no}: {fs} skipped: the guest kernel has no {fs} module")
                continue
            # The last round also tests the checker: once its image is
            # found clean, damage is planted in new/ and must be reported.
            plant = plant_damage if not args.no_controls and i == len(todo) - 1 else None
            v, info = r.round(no, fs, disk, mopts, rng, plant=plant)
            log(describe(no, info))
            if v:
                failed.append(f"round {no} ({fs}, {disk})")
                log(f"round {no}: {len(v)} VIOLATIONS:")
                for line in v[:30]:
                    print(f"    {line}", flush=True)
                print(tail(info["console"]), flush=True)
            elif plant:
                want, got = info["planted"]
                missed = [k for k, w in want.items() if not any(w in line for line in got)]
                extra = [line for line in got if not any(w in line for w in want.values())]
                if missed or extra:
                    failed.append(f"control (planted damage on round {no})")
                    log(f"control: the checker missed planted damage {missed}; unexpected: {extra[:10]}")
                else:
                    log(f"control: damage planted in new/ of round {no}'s image ({', '.join(want)}): "
                        f"the checker reported all {len(want)} ({len(got)} violations)")
        if not args.no_controls:
            no = len(rounds) + 1
            if r.have["ext4"]:
                v, info = r.round(no, "ext4", "drop", "nobarrier", rng)
                missing = [line for line in v if "got 250 but is not complete" in line]
                log(f"control {no}: ext4 mounted nobarrier on the volatile cache (must lose mail): "
                    f"{info['accepted']} accepted, {info['complete']} complete files in new/, "
                    f"{len(missing)} 250'd messages lost, {len(v)} violations; disk: {info['nbd']['flushes']} flushes")
                if not missing:
                    failed.append(f"control {no} (nobarrier)")
                    log(f"control {no}: a disk that never flushes lost no 250'd message: "
                        f"the test cannot see a power cut")
    except Failure as e:
        failed.append(str(e))
        log(f"FAILED: {e}")
    finally:
        r.cleanup()
    secs = time.monotonic() - t0
    if failed:
        log(f"FAILED in {secs:.0f}s (seed {seed}): " + "; ".join(f.splitlines()[0] for f in failed))
        return 1
    controls = "" if args.no_controls else " and the controls"
    log(f"ok, {len(rounds)} rounds{controls} in {secs:.0f}s (seed {seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
