#!/usr/bin/env python3
"""A slow-flush device for the durability tests and the bench (issue 19).

A FUSE passthrough of one directory (BACKING) at MOUNTPOINT that sleeps
DELAY milliseconds in every fsync/fdatasync before doing the real one, and
counts them. A loop device over an image file in MOUNTPOINT is then a
disk whose every flush costs DELAY ms, like an SD card or a spinning disk:
the loop driver turns each flush (REQ_PREFLUSH, and FUA, which it does not
support natively) into an fsync of its backing file, which reaches us as
FUSE_FSYNC. Writes and reads pass through unchanged (the loop driver's
own buffered I/O on top).

The count is readable in MOUNTPOINT/.flushes (a virtual file: the number
of fsyncs so far, and the milliseconds slept). Needs root (mount) and
fusepy (PyPI, on libfuse2). Runs in the foreground until unmounted.

    python3 tests/slowflush.py BACKING MOUNTPOINT [--delay-ms 5]
"""
import argparse
import errno
import os
import stat
import threading
import time

from fuse import FUSE, FuseOSError, Operations  # fusepy

STATS = "/.flushes"


class SlowFlush(Operations):
    def __init__(self, root, delay):
        self.root = root
        self.delay = delay
        self.lock = threading.Lock()
        self.flushes = 0
        self.slept = 0.0

    def _path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def _stats(self):
        with self.lock:
            return ("%d %.0f\n" % (self.flushes, self.slept * 1000)).encode()

    def getattr(self, path, fh=None):
        if path == STATS:
            now = time.time()
            return {"st_mode": stat.S_IFREG | 0o444, "st_nlink": 1, "st_size": len(self._stats()),
                    "st_atime": now, "st_mtime": now, "st_ctime": now}
        try:
            st = os.lstat(self._path(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        return {k: getattr(st, k) for k in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size",
                                            "st_atime", "st_mtime", "st_ctime", "st_blocks")}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._path(path))

    def open(self, path, flags):
        if path == STATS:
            return 0
        try:
            return os.open(self._path(path), flags)
        except OSError as e:
            raise FuseOSError(e.errno)

    def create(self, path, mode, fi=None):
        return os.open(self._path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def read(self, path, size, offset, fh):
        if path == STATS:
            return self._stats()[offset:offset + size]
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        os.truncate(self._path(path), length)

    def unlink(self, path):
        os.unlink(self._path(path))

    def fsync(self, path, datasync, fh):
        time.sleep(self.delay)
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)
        with self.lock:
            self.flushes += 1
            self.slept += self.delay
        return 0

    def flush(self, path, fh):
        return 0  # close(2), not a durability flush

    def release(self, path, fh):
        if path != STATS:
            os.close(fh)
        return 0

    def statfs(self, path):
        st = os.statvfs(self.root)
        return {k: getattr(st, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                                            "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}

    def chmod(self, path, mode):
        os.chmod(self._path(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._path(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self._path(path), times)

    def access(self, path, amode):
        if path != STATS and not os.access(self._path(path), amode):
            raise FuseOSError(errno.EACCES)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("backing")
    ap.add_argument("mountpoint")
    ap.add_argument("--delay-ms", type=float, default=5.0)
    args = ap.parse_args()
    # Foreground, multithreaded (the loop driver may have a flush and
    # writes outstanding at once); allow_other: the kernel's loop worker is
    # not this process.
    FUSE(SlowFlush(os.path.realpath(args.backing), args.delay_ms / 1000), args.mountpoint,
         foreground=True, allow_other=True, big_writes=True, max_write=1 << 20)


if __name__ == "__main__":
    main()
