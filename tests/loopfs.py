"""The file systems users' spools sit on, made on loop devices (issue 19).

Shared by tests/disks.py (`make test-disks`: the durability tests on each)
and bench/run.py (`make bench`'s file-system rows). Root only. Each file
system is an image file under ROOT (the machine's disk) on a loop device,
formatted and mounted by `LoopFs`, and removed again on exit, also on
failure:

  ext4            mkfs.ext4's defaults: a journal, mounted data=ordered
  ext4-writeback  the same, mounted data=writeback
  ext4-journal    the same, mounted data=journal
  ext4-nojournal  mkfs.ext4 -O ^has_journal
  xfs, btrfs      mkfs's defaults
  slow-ext4       ext4 (data=ordered) on a loop device whose image lies on
                  tests/slowflush.py, a FUSE passthrough that sleeps
                  DELAY ms in every flush (an SD card, a spinning disk)
  tmpfs           memory, for comparison

`order` is what tinymx must pick there (see src/maildir.rs `order_for`):
"written out" (one journal commit per message) or "fsynced before" (the
file's fsync before its link).
"""
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "target", "loopfs")

KINDS = {
    # kind: (mkfs argv, mount options, the order tinymx picks)
    "ext4": (["mkfs.ext4", "-q", "-F"], None, "written out"),
    "ext4-writeback": (["mkfs.ext4", "-q", "-F"], "data=writeback", "written out"),
    "ext4-journal": (["mkfs.ext4", "-q", "-F"], "data=journal", "fsynced before"),
    "ext4-nojournal": (["mkfs.ext4", "-q", "-F", "-O", "^has_journal"], None, "fsynced before"),
    "xfs": (["mkfs.xfs", "-q", "-f"], None, "written out"),
    "btrfs": (["mkfs.btrfs", "-q", "-f"], None, "fsynced before"),
    "slow-ext4": (["mkfs.ext4", "-q", "-F"], None, "written out"),
    "tmpfs": (None, None, "fsynced before"),
}

def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"loopfs: {' '.join(argv)} exited {p.returncode}: {p.stderr.strip()[-500:]}")
    return p.stdout.strip()


def release(mnt, dev):
    """Unmounts MNT and detaches the loop device DEV (either may be None).
    A file still open under MNT (a test that failed half-way) keeps it
    busy: it is detached lazily then, and the loop device is freed when the
    last user closes (losetup -d sets autoclear)."""
    if mnt and subprocess.run(["umount", mnt], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", mnt], capture_output=True)
    if dev:
        subprocess.run(["losetup", "-d", dev], capture_output=True)


def wait_for(pred, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"loopfs: {what} within {timeout}s")
        time.sleep(0.02)


class LoopFs:
    # XFS wants at least 300 MB.
    def __init__(self, kind, size_mib=1024, delay_ms=5.0, fuse_python=None):
        if kind not in KINDS:
            raise ValueError(f"loopfs: unknown kind {kind}")
        self.kind, self.size_mib, self.delay_ms = kind, size_mib, delay_ms
        self.fuse_python = fuse_python or sys.executable
        self.order = KINDS[kind][2]
        self.dir = os.path.realpath(os.path.join(ROOT, f"{kind}-{os.getpid()}"))
        self.mnt = os.path.join(self.dir, "mnt")
        self.dev = None
        self.fuse = None  # (process, mount point) of the slow-flush passthrough
        self.mounted = False

    def __enter__(self):
        try:
            self._setup()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _setup(self):
        os.makedirs(self.mnt)
        mkfs, opts, _ = KINDS[self.kind]
        if mkfs is None:
            run(["mount", "-t", "tmpfs", "-o", f"size={self.size_mib}m", "tmpfs", self.mnt])
            self.mounted = True
            return
        imgdir = os.path.join(self.dir, "backing")
        os.makedirs(imgdir)
        if self.kind == "slow-ext4":
            slow = os.path.join(self.dir, "slow")
            os.makedirs(slow)
            log = open(os.path.join(self.dir, "slowflush.log"), "w")
            proc = subprocess.Popen([self.fuse_python, os.path.join(HERE, "slowflush.py"), imgdir, slow,
                                     "--delay-ms", str(self.delay_ms)],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            self.fuse = (proc, slow)

            def up():
                if proc.poll() is not None:
                    raise RuntimeError(f"slowflush.py exited {proc.returncode}: "
                                       f"{open(log.name).read()[-800:]}")
                return os.path.ismount(slow)
            wait_for(up, "the slow-flush passthrough mounted")
            imgdir = slow
        img = os.path.join(imgdir, "disk.img")
        with open(img, "wb") as f:
            f.truncate(self.size_mib << 20)
        self.dev = run(["losetup", "--find", "--show", img])
        run(mkfs + [self.dev])
        run(["mount", *(["-o", opts] if opts else []), self.dev, self.mnt])
        self.mounted = True
        os.chmod(self.mnt, 0o755)

    def __exit__(self, *exc):
        release(self.mnt if self.mounted else None, self.dev)
        self.mounted, self.dev = False, None
        if self.fuse:
            proc, slow = self.fuse
            # The loop device lets go of its image a moment after it is
            # detached (sooner or later, after a lazy unmount above):
            # retry, then detach the passthrough lazily, so that it is
            # never left mounted without its daemon.
            deadline = time.monotonic() + 15
            while os.path.ismount(slow) and time.monotonic() < deadline:
                if subprocess.run(["umount", slow], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
            if os.path.ismount(slow):
                subprocess.run(["umount", "-l", slow], capture_output=True)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()  # our own child, by its pid
                proc.wait(timeout=10)
            self.fuse = None
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def options(self):
        """FSTYPE and mount options, as findmnt prints them."""
        return run(["findmnt", "-no", "FSTYPE,OPTIONS", self.mnt])

    def counters(self):
        """The file system's own flush counts now, by name: jbd2 commits
        (ext4 with a journal), XFS log forces (machine-wide), btrfs
        transaction commits, and the slow device's flushes."""
        out = {}
        if self.kind.startswith("ext4") or self.kind == "slow-ext4":
            info = f"/proc/fs/jbd2/{os.path.basename(self.dev)}-8/info"
            if os.path.exists(info):
                with open(info) as f:
                    out["journal commits"] = int(f.readline().split()[0])
        elif self.kind == "xfs":
            with open("/proc/fs/xfs/stat") as f:
                for line in f:
                    if line.startswith("log "):
                        out["log forces"] = int(line.split()[4])
        elif self.kind == "btrfs":
            uuid = run(["findmnt", "-no", "UUID", self.mnt])
            try:
                with open(f"/sys/fs/btrfs/{uuid}/commit_stats") as f:
                    for line in f:
                        if line.startswith("commits "):
                            out["transaction commits"] = int(line.split()[1])
            except OSError:
                pass
        if self.fuse:
            with open(os.path.join(self.fuse[1], ".flushes")) as f:
                out["device flushes"] = int(f.read().split()[0])
        return out
