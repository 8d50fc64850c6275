#!/usr/bin/env python3
"""`make test-corpus`: `tinymx show --json` and `tinymx extract` over real
messages nobody on the team wrote, compared with Python's `email` package
(policy.default) on Subject, From, body text and attachments (count,
names, exact bytes).

The corpus is the test data of other projects, fetched by this script's
own set-up (never committed):

* CPython's own test_email data (Debian's libpython3.11-testsuite, which
  `make test-deps` installs): /usr/lib/python3.11/test/test_email/data.
* flufl.bounce 6.0.0 (PyPI sdist, Apache-2.0): tests/data, bounces from
  many MTAs and years.
* mail-parser 4.8.0 (PyPI sdist, Apache-2.0): tests/mails, spam and
  malformed mail as received.
* mailman 3.3.9 (PyPI sdist, GPL-3.0, data only read): the messages under
  its tests/data directories.
* HyperKitty 1.3.12 (PyPI sdist, GPL-3.0, data only read): the list
  archiver's tests/testdata, mail that broke it (bad encodings, folding).
* salmon-mail 3.3.0 (PyPI sdist, GPL-3.0, data only read): tests/data,
  a bounce, a signed mail, spam and a broken one.
* django-mailbox 4.10.1 (PyPI sdist, MIT): tests/messages, mail its users
  reported (charsets, encodings, attachments).

The sdists are downloaded with pip into tests/.corpus/ (pinned versions,
--no-binary, --no-deps), once; nothing is installed.

For every message and every aspect the result is `same` or one of the
documented categories in CATEGORIES (the README's "Handing mail to
programs" lists them); anything else is a failure. So is a crash (a
non-zero exit or a signal), a hang (TIMEOUT seconds), output that is not
UTF-8 or not JSON, a file written anywhere but DIR, or a file in DIR that
extract did not name. Times are printed, never asserted (speed is
measured by `make bench`).

Usage: run.py [--bin TINYMX] [--show-diffs] [--list] [FILE...]
  --show-diffs  every failure, not the first 40
  --list        every message × aspect that is not `same`, with its category
"""

import codecs
import email
import email.header
import email.policy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = ROOT / "tests" / ".corpus"
TIMEOUT = 10

SDISTS = [
    # (requirement, directory inside the sdist, file pattern)
    ("flufl.bounce==6.0.0", "flufl_bounce-6.0.0/tests/data", r".*\.txt$"),
    ("mail-parser==4.8.0", "mail_parser-4.8.0/tests/mails", r".*"),
    ("mailman==3.3.9", "mailman-3.3.9/src", r".*/tests/data/.*\.eml$"),
    ("HyperKitty==1.3.12", "hyperkitty-1.3.12/hyperkitty/tests/testdata", r".*\.txt$"),
    ("salmon-mail==3.3.0", "salmon_mail-3.3.0/tests/data", r"[^/]*\.msg$|spam"),
    ("django-mailbox==4.10.1", "django-mailbox-4.10.1/django_mailbox/tests/messages", r".*\.eml$"),
]
CPYTHON_DATA = Path("/usr/lib/python3.11/test/test_email/data")

# Where tinymx differs from Python on purpose. Each key is the category
# name printed in the counts; the README explains each.
CATEGORIES = {
    "windows-1252": "text under an ISO-8859-1 label is read as "
                    "Windows-1252, and under US-ASCII or none as UTF-8 when "
                    "valid, else Windows-1252, as mail clients do; Python "
                    "reads ISO-8859-1 or replaces the 8-bit bytes",
    "charset-tables": "a label read as the WHATWG Encoding Standard reads "
                      "it where that differs from Python's codec: gb2312 as "
                      "GBK/gb18030, Shift_JIS as Windows-932, EUC-KR as "
                      "Windows-949, Big5 with HKSCS, ISO-8859-9 as "
                      "Windows-1254, TIS-620 as Windows-874, a lone UTF-16 "
                      "surrogate as U+FFFD (the README lists each table "
                      "difference)",
    "html-to-text": "no text/plain part: tinymx renders the first text/html "
                    "to text, Python's get_content() returns the HTML",
    "safe-name": "file names are made safe (last path component, no "
                 "control characters, no leading dots, unique in DIR)",
    "control-chars": "header values lose control characters (Python keeps "
                     "them)",
    "python-error": "Python's email raises on the part (an unknown charset "
                    "label, say): tinymx's reading is only checked for being "
                    "valid UTF-8",
    "malformed-mime": "Python records a structural defect (a boundary never "
                      "found or never closed, a multipart without parts): "
                      "no reading is the right one, the two may differ",
}

# Python's defects that change which parts a message has.
STRUCTURAL = {
    "StartBoundaryNotFoundDefect", "CloseBoundaryNotFoundDefect",
    "MultipartInvariantViolationDefect", "NoBoundaryInMultipartDefect",
    "MissingHeaderBodySeparatorDefect", "FirstHeaderLineIsContinuationDefect",
    "MisplacedEnvelopeHeaderDefect",
}
# US-ASCII and no label: valid UTF-8 stays UTF-8, else Windows-1252.
ASCII_LABELS = {None, "us-ascii", "ascii"}
# Serializing parsed header blocks back without refolding them.
AS_IS = email.policy.default.clone(refold_source="none", max_line_length=0)
LEGACY_LABELS = {None, "us-ascii", "ascii", "iso-8859-1", "iso8859-1", "latin1",
                 "latin-1", "l1", "windows-1252", "cp1252"}


def ensure_corpus():
    """Downloads the pinned sdists into CACHE (once) and unpacks them.
    Returns the message files, sorted, with a label for each source."""
    CACHE.mkdir(parents=True, exist_ok=True)
    files = []
    if CPYTHON_DATA.is_dir():
        files += [("cpython", p) for p in sorted(CPYTHON_DATA.glob("msg_*.txt"))]
    else:
        sys.exit(f"corpus: {CPYTHON_DATA} missing (make test-deps installs "
                 "libpython3.11-testsuite)")
    for req, sub, pattern in SDISTS:
        name = req.split("==")[0]
        unpacked = CACHE / name
        if not unpacked.is_dir():
            tmp = CACHE / (name + ".download")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet",
                            "--no-deps", "--no-binary", ":all:", "--dest", str(tmp), req],
                           check=True)
            archives = list(tmp.iterdir())
            if len(archives) != 1:
                sys.exit(f"corpus: pip download {req} gave {archives}")
            staging = CACHE / (name + ".unpack")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.unpack_archive(str(archives[0]), str(staging))
            staging.rename(unpacked)
            shutil.rmtree(tmp)
        rx = re.compile(pattern)
        base = unpacked / sub
        for p in sorted(base.rglob("*")):
            rel = str(p.relative_to(base))
            if p.is_file() and rx.fullmatch(rel) and p.name != "__init__.py":
                files.append((name, p))
    return files


# --- Python's reading -------------------------------------------------

def py_header(msg, name):
    try:
        v = msg[name]
    except Exception as e:  # a header Python's policy cannot parse
        return f"<python error: {type(e).__name__}>"
    return None if v is None else str(v)


TEXT = ("text/plain", "text/html")


def py_leaves(msg, inside_rfc822=False):
    """Leaf parts in order, walking attached messages as tinymx does:
    (part, inside an attached message). Python holds a message/* part's
    content as a list too, so the type is looked at before the payload."""
    ctype = msg.get_content_type()
    payload = msg.get_payload()
    if ctype == "message/rfc822" and isinstance(payload, list) and payload:
        yield from py_leaves(payload[0], True)
    elif ctype.startswith("multipart/") and isinstance(payload, list) and payload:
        for p in payload:
            if isinstance(p, email.message.Message):
                yield from py_leaves(p, inside_rfc822)
    else:
        yield msg, inside_rfc822


def py_content_bytes(p):
    """A leaf's decoded content; for the message/* types Python keeps as
    parsed header blocks (delivery-status and the like), the serialized
    body."""
    data = p.get_payload(decode=True)
    if data is not None:
        return data
    payload = p.get_payload()
    if isinstance(payload, list):
        # Each block comes back as its fields and a blank line; between
        # blocks that is the blank line of the original, after the last
        # one the line break belongs to the next delimiter (RFC 2046 5.1.1).
        data = b"".join(m.as_bytes(policy=AS_IS) for m in payload if isinstance(m, email.message.Message))
        return data[:-1] if data.endswith(b"\n\n") else data
    return b""


def py_body(msg):
    """The part tinymx's show would print, chosen the same way (the first
    text/plain leaf that is not an attachment outside attached messages,
    else the first such text/html; a multipart in which no part was found
    counts as text/plain, RFC 2045 section 5.2), and Python's text for it."""
    leaves = [p for p, inner in py_leaves(msg) if not inner]
    for want in TEXT:
        for p in leaves:
            ctype = p.get_content_type()
            if ctype.startswith("multipart/"):
                ctype = "text/plain"
            if ctype == want and not is_attachment(p):
                try:
                    if p.get_content_maintype() == "multipart":
                        data = p.get_payload(decode=True) or b""
                        return want, p, data.decode(p.get_content_charset() or "ascii", "replace")
                    return want, p, p.get_content()
                except Exception:
                    return want, p, None
    return None, None, ""


def whatwg_1252(data):
    """Windows-1252 as the WHATWG reads it: its five holes are the C1
    controls of the same value."""
    return "".join(chr(b) if b in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else bytes([b]).decode("cp1252")
                   for b in data)


# Labels tinymx reads as the WHATWG Encoding Standard does, where that is
# a superset of Python's codec for the same label: the codec to compare
# with instead.
SUPERSET = {
    "gb2312": "gb18030", "gb_2312-80": "gb18030", "csgb2312": "gb18030", "euc-cn": "gb18030",
    "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "ms_kanji": "cp932", "windows-31j": "cp932",
    "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949",
    "big5": "big5hkscs", "big5-hkscs": "big5hkscs", "x-x-big5": "big5hkscs",
    "iso-8859-9": "cp1254", "latin5": "cp1254", "tis-620": "cp874", "iso-8859-11": "cp874",
}
def _gbk_euro(err):
    """WHATWG's GBK and gb18030 read the single byte 0x80 as the euro sign
    (as Windows-936 does); Python's gb18030 refuses it."""
    bad = err.object[err.start:err.end]
    if bad[:1] == b"\x80":
        return "\u20ac", err.start + 1
    return "\ufffd", err.end


codecs.register_error("corpus-whatwg", _gbk_euro)
SURROGATE = re.compile("[\ud800-\udfff]")


def charset_reading(label, data):
    """`data` under `label` as tinymx reads it where it differs from
    Python on purpose (see CATEGORIES), or None for Python's own reading."""
    label = (label or "").lower() or None
    if label in ASCII_LABELS:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return whatwg_1252(data)
    if label in LEGACY_LABELS:
        return whatwg_1252(data)
    codec = SUPERSET.get(label, label)
    try:
        text = data.decode(codec, "corpus-whatwg" if codec == "gb18030" else "replace")
    except LookupError:
        return None
    return SURROGATE.sub("\ufffd", text)


def is_attachment(p):
    disp = (p.get("Content-Disposition") or "").split(";")[0].strip().lower()
    return disp == "attachment" or p.get_filename() is not None


def py_attachments(msg):
    """tinymx extract's definition applied to Python's parse: every leaf
    marked attachment, with a file name, or not text/plain or text/html.
    (name, bytes, parsed): `parsed` when Python keeps the part only as
    parsed header blocks (message/delivery-status and the like), whose
    bytes are then compared line by line, blank lines left out."""
    out = []
    for p, _ in py_leaves(msg):
        ctype = p.get_content_type()
        if ctype.startswith("multipart/"):
            ctype = "text/plain"
        if is_attachment(p) or ctype not in TEXT:
            out.append((p.get_filename(), py_content_bytes(p),
                        isinstance(p.get_payload(), list)))
    return out


def same_content(got, want):
    if len(got) != len(want):
        return False
    for (_, mine), (_, theirs, parsed) in zip(got, want):
        if parsed:
            lines = lambda b: [l.rstrip() for l in b.replace(b"\r\n", b"\n").split(b"\n") if l.strip()]
            if lines(mine) != lines(theirs):
                return False
        elif mine != theirs:
            return False
    return True


# --- comparison -------------------------------------------------------

def norm_text(s):
    """Line ends and the end of the text, which neither side promises."""
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    return s.rstrip("\n ") + "\n" if s.strip() else ""


def norm_header(s):
    if s is None:
        return None
    return " ".join(s.split())


def strip_controls(s):
    return "".join(c for c in s if unicodedata.category(c) != "Cc" or c in "\t\n")


def subject_verdict(mine, theirs, msg):
    if mine == theirs or (mine is None and theirs == ""):
        return "same"
    if theirs is not None and mine == norm_header(strip_controls(theirs)):
        return "control-chars"
    if theirs is not None and theirs.startswith("<python error"):
        return "python-error"
    raw = raw_field(msg, "Subject")
    if raw and mine == norm_header(strip_controls(legacy_header(raw))):
        labels = {c for _, c in email.header.decode_header(raw)}
        return "windows-1252" if labels <= LEGACY_LABELS else "charset-tables"
    return ("diff", mine, theirs)


def legacy_header(raw):
    """A field's value decoded as tinymx decodes it where the two differ
    on purpose: raw 8-bit bytes and encoded words labelled US-ASCII or
    ISO-8859-1 read as UTF-8 when valid, else Windows-1252; other labels
    as charset_reading reads them."""
    out = []
    for data, charset in email.header.decode_header(raw):
        if isinstance(data, str):
            data = data.encode("ascii", "surrogateescape")
        text = charset_reading(charset, data)
        out.append(data.decode("ascii", "replace") if text is None else text)
    return "".join(out)


def mailboxes(header):
    """(display name, address) of each mailbox in a parsed address field:
    quoting, comments and spacing do not count, what a script reads from
    From is who and which address."""
    return [(a.display_name, a.addr_spec) for a in header.addresses]


def raw_field(msg, name):
    """The first `name` field's value as it stands in the message."""
    for k, v in msg.raw_items():
        if k.lower() == name.lower():
            return v
    return ""


def from_verdict(mine, msg):
    try:
        theirs = msg["From"]
        want = mailboxes(theirs) if theirs else []
    except Exception:
        return "python-error"
    if theirs is None:
        return "same" if mine is None else ("diff", mine, None)
    if mine is None:
        return ("diff", None, str(theirs))
    # tinymx shows the field decoded, not re-rendered: compare with the
    # raw value decoded as unstructured text first.
    flat = norm_header(str(email.policy.default.header_factory("X-Decoded", raw_field(msg, "From"))))
    if norm_header(mine) == flat:
        return "same"
    try:
        got = mailboxes(email.policy.default.header_factory("From", mine))
    except Exception as e:
        return ("diff", mine, str(theirs))
    if got == want:
        return "same"
    return ("diff", f"{mine!r} = {got}", f"{str(theirs)!r} = {want}")


def run_tool(args, stdin=None):
    t0 = time.monotonic()
    try:
        r = subprocess.run(args, capture_output=True, timeout=TIMEOUT, input=stdin)
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - t0
    return r, time.monotonic() - t0


def check_one(tinymx, path, work):
    """Returns (problems, {aspect: category}, (tool seconds in all, the
    longer of the two runs))."""
    raw = path.read_bytes()
    problems = []
    verdict = {}
    r, secs = run_tool([tinymx, "show", "--json", str(path)])
    if r is None:
        return [f"show hung (> {TIMEOUT} s)"], verdict, secs
    if r.returncode != 0:
        return [f"show exited {r.returncode}: {r.stderr[:200]!r}"], verdict, secs
    try:
        text = r.stdout.decode("utf-8")
    except UnicodeDecodeError as e:
        return [f"show --json output is not UTF-8: {e}"], verdict, secs
    try:
        shown = json.loads(text)
    except ValueError as e:
        return [f"show --json output is not JSON: {e}"], verdict, secs

    parent = Path(tempfile.mkdtemp(dir=work))
    out_dir = parent / "DIR"
    r2, secs2 = run_tool([tinymx, "extract", str(path), str(out_dir)])
    secs = (secs, secs2)
    if r2 is None:
        return [f"extract hung (> {TIMEOUT} s)"], verdict, secs
    if r2.returncode != 0:
        return [f"extract exited {r2.returncode}: {r2.stderr[:200]!r}"], verdict, secs
    try:
        listed = [Path(line) for line in r2.stdout.decode("utf-8").splitlines()]
    except UnicodeDecodeError as e:
        return [f"extract output is not UTF-8: {e}"], verdict, secs
    outside = [p for p in parent.iterdir() if p.name != "DIR"]
    if outside:
        problems.append(f"extract wrote outside DIR: {outside}")
    present = sorted(out_dir.iterdir()) if out_dir.exists() else []
    if sorted(listed) != present:
        problems.append(f"extract listed {listed}, DIR holds {present}")
    for p in present:
        if p.is_symlink() or not p.is_file():
            problems.append(f"extract made {p}, not a regular file")
    got = [(p.name, p.read_bytes()) for p in listed if p.is_file()]
    shutil.rmtree(parent)

    msg = email.message_from_bytes(raw, policy=email.policy.default)
    heads = shown.get("headers", {})

    mine = norm_header(heads.get("Subject"))
    theirs = norm_header(py_header(msg, "Subject"))
    verdict["Subject"] = subject_verdict(mine, theirs, msg)
    verdict["From"] = from_verdict(heads.get("From"), msg)

    # A structural defect anywhere, or a Content-Type Python cannot parse.
    structural = any(type(d).__name__ in STRUCTURAL for p in msg.walk() for d in p.defects) \
        or any(getattr(p.get("Content-Type"), "defects", None) for p in msg.walk())
    kind, part, theirs = py_body(msg)
    mine = shown.get("body", "")
    if theirs is None:
        verdict["body"] = "python-error"
    elif norm_text(mine) == norm_text(theirs):
        verdict["body"] = "same"
    elif kind == "text/html":
        verdict["body"] = "html-to-text"
    elif part is not None and (other := charset_reading(
            part.get_content_charset(), part.get_payload(decode=True) or b"")) is not None \
            and norm_text(mine) == norm_text(other):
        legacy = (part.get_content_charset() or "us-ascii") in LEGACY_LABELS
        verdict["body"] = "windows-1252" if legacy else "charset-tables"
    elif structural:
        verdict["body"] = "malformed-mime"
    else:
        verdict["body"] = ("diff", mine[:300], theirs[:300])

    want = py_attachments(msg)
    if same_content(got, want):
        names_same = all(n == (w or n) for (n, _), (w, _, _) in zip(got, want))
        verdict["attachments"] = "same" if names_same else "safe-name"
    elif structural:
        verdict["attachments"] = "malformed-mime"
    else:
        verdict["attachments"] = ("diff", [(n, len(d)) for n, d in got],
                                  [(n, len(d)) for n, d, _ in want])
    return problems, verdict, secs


def main():
    args = sys.argv[1:]
    tinymx = os.environ.get("TINYMX_BIN", str(ROOT / "target/release/tinymx"))
    show_diffs = False
    list_all = False
    while args and args[0].startswith("--"):
        a = args.pop(0)
        if a == "--bin":
            tinymx = args.pop(0)
        elif a == "--show-diffs":
            show_diffs = True
        elif a == "--list":
            list_all = True
        else:
            sys.exit(__doc__)
    files = [("given", Path(a)) for a in args] if args else ensure_corpus()
    counts = {}
    failures = []
    total_secs = 0.0
    slowest = (0.0, None)
    with tempfile.TemporaryDirectory() as work:
        for source, path in files:
            problems, verdict, secs = check_one(tinymx, path, work)
            runs = secs if isinstance(secs, tuple) else (secs,)
            total_secs += sum(runs)
            slowest = max(slowest, (max(runs), str(path)))
            for p in problems:
                failures.append(f"{path}: {p}")
            for aspect, v in verdict.items():
                cat = v if isinstance(v, str) else "differs"
                assert cat in CATEGORIES or cat in ("same", "differs"), f"undocumented {cat}"
                counts.setdefault(aspect, {}).setdefault(cat, 0)
                counts[aspect][cat] += 1
                if isinstance(v, str) and v != "same" and list_all:
                    print(f"  {cat:15} {aspect:12} {path}")
                if not isinstance(v, str):
                    failures.append(f"{path}: {aspect} differs:\n  tinymx: {v[1]!r}\n  python: {v[2]!r}")
    print(f"corpus: {len(files)} messages "
          f"({', '.join(f'{s} {n}' for s, n in sorted(count_sources(files).items()))})")
    for aspect in ("Subject", "From", "body", "attachments"):
        c = counts.get(aspect, {})
        print(f"  {aspect:12} " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    print(f"  tool time: {total_secs:.2f} s for show + extract of all; the slowest run "
          f"{slowest[0] * 1000:.0f} ms ({slowest[1]})")
    if failures:
        shown = failures if show_diffs else failures[:40]
        print(f"corpus: {len(failures)} failures:", file=sys.stderr)
        for f in shown:
            print("  " + f, file=sys.stderr)
        sys.exit(1)
    print("corpus: ok")


def count_sources(files):
    c = {}
    for s, _ in files:
        c[s] = c.get(s, 0) + 1
    return c


if __name__ == "__main__":
    main()
