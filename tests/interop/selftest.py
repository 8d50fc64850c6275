#!/usr/bin/env python3
"""Checks the interop harness itself (tests/interop/run.py): a check that
fails must clean up after itself, so that the checks after it still pass,
and the run's folder must be removed after a failure, with the failed
group's logs printed first.

Runs the Postfix group with its first message check failing on purpose
(INTEROP_FAIL, after the message was delivered): the other Postfix checks,
which count the messages in the same mailboxes, must pass. Needs root,
like run.py. Ends with `interop-selftest: N passed, M failed`.
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FAILED = "postfix: plain message, dot lines and a 900-byte line, byte-exact"


def main():
    env = dict(os.environ, INTEROP_GROUPS="postfix", INTEROP_FAIL="postfix: plain message")
    env.pop("KEEP", None)
    p = subprocess.run([sys.executable, os.path.join(HERE, "run.py")], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    out = p.stdout.decode(errors="replace")
    problems = []

    def want(cond, what):
        if not cond:
            problems.append(what)

    want(p.returncode == 1, f"run.py exited {p.returncode}, want 1")
    fails = re.findall(r"^  FAIL (.*) \(\d+\.\ds\)$", out, re.M)
    want(fails == [FAILED], f"failed checks {fails}, want only {FAILED!r}")
    oks = re.findall(r"^  ok   (.*) \(\d+\.\ds\)$", out, re.M)
    # The start, five more message checks, the stop.
    want(len(oks) == 7, f"{len(oks)} other checks passed, want 7: {oks}")
    want("INTEROP_FAIL='postfix: plain message': failed on purpose" in out, "the failure's reason")
    want("interop: logs of the failed group(s) (postfix)" in out, "the failed group's logs")
    removed = re.findall(r"^interop: removed (/\S+) ", out, re.M)
    want(len(removed) == 1 and not os.path.exists(removed[0]),
         f"the run's folder removed after the failure ({removed})")
    want(out.rstrip().endswith(f"interop: {len(oks)} passed, 1 failed"), "run.py's closing line")
    if problems:
        print(out)
        for what in problems:
            print(f"FAIL {what}")
    else:
        print(f"interop-selftest: a failed check was cleaned up, the other {len(oks)} "
              f"passed, {removed[0]} was removed")
    print(f"interop-selftest: {0 if problems else 1} passed, {1 if problems else 0} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
