#!/usr/bin/env python3
"""`make test-disks`: the durability tests on each file system users have.

Issue 19: the order of a delivery's durable steps is picked per file
system (src/maildir.rs `order_for`), so the tests that prove "a 250 means
a complete file in new/, and no partial file is ever in new/" run on each
of them, not only on the build machine's disk. For each kind of
tests/loopfs.py (ext4 with its journal in data=ordered, writeback and
journal mode, ext4 without a journal, XFS, btrfs, and ext4 on the
slow-flush device), on a fresh loop device, with TMPDIR there:

  - the spool unit tests (`cargo test --lib maildir`): every step's fault
    injection in both orders, the same bytes in both orders, the order
    picked for the test's own directory;
  - the SIGKILL test (`tests/hardening.rs`
    kill_9_mid_stream_loses_no_accepted_message): 20 clients, a kill -9
    mid-stream, every 250 complete in new/, no partial file, the restart;
    it first checks that tinymx's start-up line names the order this file
    system must get (TINYMX_TEST_ORDER).

Root only (loop devices, mount). Everything it mounts is removed at the
end, also on failure. Prints one line per file system.

    python3 tests/disks.py [--kinds ext4,xfs,...]
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import loopfs  # noqa: E402

KINDS = ["ext4", "ext4-writeback", "ext4-journal", "ext4-nojournal", "xfs", "btrfs", "slow-ext4"]
CARGO = os.environ.get("CARGO", "cargo")


def cargo_test(args, env, what, kind):
    t0 = time.monotonic()
    p = subprocess.run([CARGO, "test", "--locked", *args], env=env, capture_output=True, text=True,
                       timeout=600, cwd=os.path.join(HERE, ".."))
    passed = sum(int(n) for n in re.findall(r"test result: ok\. (\d+) passed", p.stdout))
    if p.returncode != 0 or passed == 0:
        sys.stdout.write(p.stdout[-4000:] + p.stderr[-4000:])
        sys.exit(f"test-disks: {what} failed on {kind} (exit {p.returncode}, {passed} passed)")
    return passed, time.monotonic() - t0, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--fuse-python", default=os.path.join(HERE, ".venv", "bin", "python"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("test-disks: needs root (loop devices, mount)")
    if not os.environ.get("TINYMX_BIN"):
        sys.exit("test-disks: set TINYMX_BIN to the release binary")
    kinds = args.kinds.split(",")
    # Build the test binaries first, once, outside any loop device.
    subprocess.run([CARGO, "test", "--locked", "--no-run", "--lib", "--test", "hardening"],
                   check=True, cwd=os.path.join(HERE, ".."), capture_output=True)
    for kind in kinds:
        with loopfs.LoopFs(kind, size_mib=512, fuse_python=args.fuse_python) as fs:
            env = dict(os.environ, TMPDIR=fs.mnt, TINYMX_TEST_ORDER=fs.order)
            before = fs.counters()
            n1, t1, _ = cargo_test(["--lib", "maildir"], env, "the spool unit tests", kind)
            n2, t2, err = cargo_test(["--test", "hardening", "kill_9_mid_stream_loses_no_accepted_message",
                                      "--", "--nocapture"], env, "the SIGKILL test", kind)
            after = fs.counters()
            killed = [line for line in err.splitlines() if "before SIGKILL" in line]
            flushes = ", ".join(f"{after[k] - before[k]:,} {k}" for k in after if k in before)
            print(f"test-disks: {kind} ({fs.options()}; {fs.order}): {n1} spool unit tests "
                  f"{t1:.1f}s, SIGKILL test {t2:.1f}s ({killed[0].strip() if killed else '?'}); "
                  f"{flushes}", flush=True)
            leftover = [n for n in os.listdir(fs.mnt) if n.startswith("tinymx-")]
            if leftover:
                sys.exit(f"test-disks: the tests left {leftover} on {kind}")
    print(f"test-disks: ok, {len(kinds)} file systems")


if __name__ == "__main__":
    main()
