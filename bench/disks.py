#!/usr/bin/env python3
"""The durable steps of one delivery, alone, on the file systems users have.

Issue 19's first measurement: how many flushes (journal commits) a
message costs, in which order of the steps, on each file system. For each
of ext4 (default journal, data=ordered), XFS and btrfs, an image file on
the machine's disk is attached to a loop device, formatted and mounted
under target/loopfs/ by tests/loopfs.py (tmpfs beside them); then, on one
thread, COUNT times each order of a 1 KiB delivery into a Maildir:

  tinymx        today's order: write, fsync the file, close, link into
                new/, fsync new/, unlink the tmp name (two commits on a
                journaled file system: the file's, then new/'s);
  link-first    write, link into new/, fsync the file, fsync new/: one
                commit (the issue's 1,281 ops/s), but NOT safe on ext4
                with delayed allocation: a commit between the link and the
                fsync can make the name durable before the data, and a
                power cut then leaves an empty file in new/;
  written-first write, sync_file_range(WAIT_BEFORE|WRITE|WAIT_AFTER) (the
                data written and its blocks allocated, no commit), link,
                fsync the file, fsync new/: the candidate for one commit
                that never shows a name before its data.

It prints ops/s, fsync calls per op (counted here, by the loop itself)
and the file system's own flush count per op where the kernel exposes
one: ext4's jbd2 transactions (/proc/fs/jbd2/DEV-8/info), XFS's log
forces (/proc/fs/xfs/stat, machine-wide), btrfs's commits
(/sys/fs/btrfs/UUID/commit_stats). Root only (loop devices, mount).
Everything it creates is removed at the end, also on failure.

    python3 bench/disks.py [--count N] [--size-mib M] [--fs ext4,xfs,btrfs,tmpfs]
"""
import argparse
import ctypes
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
import loopfs  # noqa: E402  tests/loopfs.py: the loop devices and their flush counters

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
SYNC_FILE_RANGE_WAIT_BEFORE, SYNC_FILE_RANGE_WRITE, SYNC_FILE_RANGE_WAIT_AFTER = 1, 2, 4
BODY = (b"x" * 75 + b"\r\n") * 13 + b"." * 10  # 1,024 bytes


def sync_file_range(fd):
    flags = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER
    if LIBC.sync_file_range(fd, 0, 0, flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def deliver(order, tmp, new, newfd, name, counts):
    """One delivery of BODY as NAME in ORDER; counts['fsync'] += calls."""
    fd = os.open(os.path.join(tmp, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.write(fd, BODY)
    if order == "tinymx":
        os.fsync(fd)
        os.close(fd)
        os.link(os.path.join(tmp, name), os.path.join(new, name))
        os.fsync(newfd)
        counts["fsync"] += 2
    else:
        if order == "written-first":
            sync_file_range(fd)
        os.link(os.path.join(tmp, name), os.path.join(new, name))
        os.fsync(fd)
        os.close(fd)
        os.fsync(newfd)
        counts["fsync"] += 2
    os.unlink(os.path.join(tmp, name))


def run_orders(fs, lfs, count):
    rows = []
    mnt = lfs.mnt
    for order in ("tinymx", "link-first", "written-first"):
        box = os.path.join(mnt, "box-" + order)
        for d in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(box, d), exist_ok=True)
        tmp, new = os.path.join(box, "tmp"), os.path.join(box, "new")
        newfd = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
        os.sync()
        counts = {"fsync": 0}
        before = lfs.counters()
        start = time.monotonic()
        for i in range(count):
            deliver(order, tmp, new, newfd, "%d.%s" % (i, order), counts)
        elapsed = time.monotonic() - start
        after = lfs.counters()
        os.close(newfd)
        flushes = "; ".join("%.2f %s" % ((after[k] - before[k]) / count, k) for k in after if k in before) or "-"
        rows.append((fs, order, count / elapsed, counts["fsync"] / count, flushes))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--size-mib", type=int, default=512)
    ap.add_argument("--fs", default="ext4,xfs,btrfs,tmpfs")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("disks.py: needs root (loop devices, mount)")
    rows = []
    for fs in args.fs.split(","):
        with loopfs.LoopFs(fs, size_mib=args.size_mib) as lfs:
            print("disks: %s on %s (%s)" % (fs, lfs.dev or "memory", lfs.options()), flush=True)
            rows += run_orders(fs, lfs, args.count)
    print()
    print("| file system | order | ops/s | fsync calls / op | the file system's flushes / op |")
    print("| --- | --- | ---: | ---: | ---: |")
    for fs, order, rate, fsyncs, flushes in rows:
        print("| %s | %s | %.0f | %.0f | %s |" % (fs, order, rate, fsyncs, flushes))


if __name__ == "__main__":
    main()
