#!/usr/bin/env python3
"""Python's reading of byte sequences, for tests/charset.rs.

stdin: a first line "CODEC ERRORS" (ERRORS: strict or replace), then one
byte sequence a line, in hex. stdout: one line for each, the code points
Python's codec decodes it to (hex, space-separated; empty for none), or
ERR when strict decoding fails. Lone surrogates (Python's utf-7 passes
them on) are printed as they are; the test decides what they mean.
"""

import sys


def main():
    codec, errors = sys.stdin.readline().split()
    out = []
    for line in sys.stdin:
        data = bytes.fromhex(line.strip())
        try:
            text = data.decode(codec, errors)
        except UnicodeDecodeError:
            out.append("ERR")
            continue
        out.append(" ".join(f"{ord(c):X}" for c in text))
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))


if __name__ == "__main__":
    main()
