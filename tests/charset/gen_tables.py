#!/usr/bin/env python3
"""Generates tinymx's charset tables (src/mime/charset/) from the WHATWG
Encoding Standard. Run once, when the standard changes; the output is
committed and the build never runs Python.

    git clone https://github.com/whatwg/encoding /tmp/whatwg-encoding
    python3 tests/charset/gen_tables.py /tmp/whatwg-encoding

The checkout the committed tables came from is named at the top of each
generated file (commit, and each index file's Identifier and Date lines).
Inputs: encodings.json (the labels) and the index-*.txt files. Python's
own codecs are not read here; tests/charset.rs compares the result with
them.

Outputs:
  labels.rs       every label of every encoding tinymx decodes: WHATWG's
                  (encodings.json) and the extra ones of EXTRA_LABELS below
  single_byte.rs  the 27 single-byte tables: 128 u16 for 0x80..=0xFF each
  cjk/tables.rs   the CJK indexes (jis0208, jis0212, gb18030 with its
                  four-byte ranges, big5, euc-kr) as segments, see below

A CJK index maps a pointer (computed from the bytes) to a code point. It
is stored as a sorted list of segments of consecutive pointers, each one
of:
  lit(start, len, offset)  code points listed in VALUES[offset..offset+len]
                           (0: no code point);
  run(start, len, first)   first, first + 1, ... (consecutive code points);
  out(start, len, rank)    the rank-th, (rank + 1)-th, ... code point of a
                           range that is NOT in the index's set (a bitmap);
  inn(start, len, rank)    the same for code points that ARE in the set.
The sets make the computable parts nearly free: GBK's extension areas list
the CJK Unified Ideographs U+4E00..U+9FA5 missing from GB 2312 in Unicode
order (set: GB 2312's hanzi), and Windows-949 lists the Hangul syllables
missing from KS X 1001 in Unicode order while KS X 1001's own 2,350 are in
Unicode order too (set: KS X 1001's syllables). Big5 has code points in
plane 2: the index stores their low 16 bits and a bitmap of the pointers
whose code point is U+2xxxx.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "src", "mime", "charset")

# WHATWG encoding name -> (SingleByte variant, index file). ISO-8859-8-I
# has ISO-8859-8's index (the I is about display order, not bytes).
SINGLE = [
    ("IBM866", "Ibm866", "ibm866"),
    ("ISO-8859-2", "Iso8859_2", "iso-8859-2"),
    ("ISO-8859-3", "Iso8859_3", "iso-8859-3"),
    ("ISO-8859-4", "Iso8859_4", "iso-8859-4"),
    ("ISO-8859-5", "Iso8859_5", "iso-8859-5"),
    ("ISO-8859-6", "Iso8859_6", "iso-8859-6"),
    ("ISO-8859-7", "Iso8859_7", "iso-8859-7"),
    ("ISO-8859-8", "Iso8859_8", "iso-8859-8"),
    ("ISO-8859-10", "Iso8859_10", "iso-8859-10"),
    ("ISO-8859-13", "Iso8859_13", "iso-8859-13"),
    ("ISO-8859-14", "Iso8859_14", "iso-8859-14"),
    ("ISO-8859-15", "Iso8859_15", "iso-8859-15"),
    ("ISO-8859-16", "Iso8859_16", "iso-8859-16"),
    ("KOI8-R", "Koi8R", "koi8-r"),
    ("KOI8-U", "Koi8U", "koi8-u"),
    ("macintosh", "Macintosh", "macintosh"),
    ("windows-874", "Windows874", "windows-874"),
    ("windows-1250", "Windows1250", "windows-1250"),
    ("windows-1251", "Windows1251", "windows-1251"),
    ("windows-1252", "Windows1252", "windows-1252"),
    ("windows-1253", "Windows1253", "windows-1253"),
    ("windows-1254", "Windows1254", "windows-1254"),
    ("windows-1255", "Windows1255", "windows-1255"),
    ("windows-1256", "Windows1256", "windows-1256"),
    ("windows-1257", "Windows1257", "windows-1257"),
    ("windows-1258", "Windows1258", "windows-1258"),
    ("x-mac-cyrillic", "XMacCyrillic", "x-mac-cyrillic"),
]

# WHATWG encoding name -> the Charset it becomes (None: not decoded, the
# label stays unknown). windows-1252's labels are split three ways (see
# SPLIT_1252), as tinymx did before.
CHARSET = {name: f"Charset::SingleByte(SingleByte::{v})" for name, v, _ in SINGLE}
CHARSET.update({
    "UTF-8": "Charset::Utf8",
    "ISO-8859-8-I": "Charset::SingleByte(SingleByte::Iso8859_8)",
    "ISO-8859-15": "Charset::Latin9",
    "UTF-16BE": "Charset::Utf16Be",
    # WHATWG reads every one of these labels as UTF-16LE; tinymx reads a
    # byte order mark first (utf-16 is the label mail uses, with a BOM).
    "UTF-16LE": "Charset::Utf16",
    "replacement": None,
    "x-user-defined": None,
})
CJK = {
    "GBK": "Charset::Gbk",
    "gb18030": "Charset::Gb18030",
    "Big5": "Charset::Big5",
    "EUC-JP": "Charset::EucJp",
    "ISO-2022-JP": "Charset::Iso2022Jp",
    "Shift_JIS": "Charset::ShiftJis",
    "EUC-KR": "Charset::EucKr",
}
# WHATWG's windows-1252 labels: US-ASCII ones keep valid UTF-8 as UTF-8.
SPLIT_1252 = {
    "ansi_x3.4-1968": "Charset::UsAscii", "ascii": "Charset::UsAscii",
    "us-ascii": "Charset::UsAscii",
    "cp1252": "Charset::Windows1252", "windows-1252": "Charset::Windows1252",
    "x-cp1252": "Charset::Windows1252",
}
LATIN1 = "Charset::Latin1"
# WHATWG's UTF-16LE labels: utf-16le itself is read as UTF-16LE, BOM or not.
SPLIT_UTF16LE = {"utf-16le": "Charset::Utf16Le"}

# Labels WHATWG does not list: Python's aliases of the codec tests/charset.rs
# compares each encoding with (Python 3.11's encodings.aliases, and the codec
# names), names mail software writes, UTF-7, and UTF-16LE. Labels are
# compared ignoring case and everything but ASCII letters and digits, so
# "latin-1" is "latin1" and "iso_8859-2:1987" is "iso-8859-2:1987".
EXTRA_LABELS = {
    "Charset::UsAscii": "us iso646-us 646 ansi_x3.4-1986 cp367 csascii ibm367 "
                        "iso_646.irv:1991 iso-ir-6",
    LATIN1: "latin 8859 iso8859",
    "Charset::Windows1252": "1252 win-1252",
    "Charset::Latin9": "latin9",
    "Charset::Utf8": "u8 utf cp65001",
    "Charset::Utf16": "utf16 u16",
    "Charset::Utf16Be": "unicodebigunmarked",
    "Charset::Utf16Le": "unicodelittleunmarked",
    "Charset::Utf7": "utf-7 u7 unicode-1-1-utf-7 csunicode11utf7",
    "Iso8859_10": "iso_8859-10:1992",
    "Iso8859_13": "l7 latin7",
    "Iso8859_14": "iso_8859-14:1998 iso-celtic iso-ir-199 l8 latin8",
    "Iso8859_16": "iso_8859-16:2001 iso-ir-226 l10 latin10",
    "Windows874": "cp874 thai iso_8859-11:2001 tis-620-0 tis-620-2529-0 "
                  "tis-620-2529-1 iso-ir-166",
    "Macintosh": "macroman",
    "XMacCyrillic": "maccyrillic",
    "Charset::ShiftJis": "shiftjis s_jis cp932 932 mskanji",
    "Charset::EucJp": "ujis u-jis",
    "Charset::Gbk": "cp936 936 ms936 euc-cn eucgb2312-cn gb2312-1980",
    "Charset::Gb18030": "gb18030-2000",
    "Charset::Big5": "big5-tw hkscs cp950 950 ms950",
    "Charset::EucKr": "euckr ks_c_5601 ks_x_1001 cp949 949 ms949 uhc",
}
for n in (1250, 1251, 1253, 1254, 1255, 1256, 1257, 1258):
    EXTRA_LABELS[f"Windows{n}"] = f"{n} win-{n}"


def key(label):
    """How labels are compared: ASCII letters and digits, lower case."""
    return "".join(c for c in label.lower() if c.isascii() and c.isalnum())


def index(whatwg, name):
    """index-NAME.txt as {pointer: code point}, and its header lines."""
    table, head = {}, []
    with open(os.path.join(whatwg, f"index-{name}.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("# Identifier:") or line.startswith("# Date:"):
                head.append(line[2:].strip())
            if line.startswith("#") or not line.strip():
                continue
            pointer, cp = line.split()[:2]
            table[int(pointer)] = int(cp, 16)
    return table, f"index-{name}.txt ({', '.join(head)})"


def header(whatwg, sources, what):
    try:
        commit = subprocess.run(["git", "-C", whatwg, "rev-parse", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown commit"
    lines = [f"//! {what}", "//!",
             "//! @generated by tests/charset/gen_tables.py from the WHATWG Encoding",
             f"//! Standard, https://github.com/whatwg/encoding at {commit}:"]
    lines += [f"//! {s}" for s in sources]
    lines += ["//! Do not edit; run the script again.", ""]
    return "\n".join(lines) + "\n"


def u16_rows(values, per_line=12, indent="        "):
    out = []
    for i in range(0, len(values), per_line):
        out.append(indent + " ".join(f"0x{v:04X}," for v in values[i:i + per_line]))
    return "\n".join(out)


def gen_labels(whatwg):
    with open(os.path.join(whatwg, "encodings.json"), encoding="utf-8") as f:
        groups = json.load(f)
    plain, cjk, seen = {}, {}, {}

    def add(target, cs, label):
        k = key(label)
        if k in seen:
            if seen[k] != cs:
                sys.exit(f"label {label!r} is both {seen[k]} and {cs}")
            return
        seen[k] = cs
        target.setdefault(cs, []).append(label)

    for group in groups:
        for enc in group["encodings"]:
            name = enc["name"]
            for label in enc["labels"]:
                if name == "windows-1252":
                    add(plain, SPLIT_1252.get(label, LATIN1), label)
                elif name == "UTF-16LE":
                    add(plain, SPLIT_UTF16LE.get(label, CHARSET[name]), label)
                elif name in CJK:
                    add(cjk, CJK[name], label)
                elif CHARSET[name] is not None:
                    add(plain, CHARSET[name], label)
    for cs, labels in EXTRA_LABELS.items():
        full = cs if cs.startswith("Charset::") else f"Charset::SingleByte(SingleByte::{cs})"
        target = cjk if full in CJK.values() else plain
        for label in labels.split():
            add(target, full, label)

    def table(name, entries, cfg):
        out = [f"/// {'' if not cfg else 'The CJK encodings: '}each charset with its labels, "
               "space-separated."]
        if cfg:
            out.append('#[cfg(feature = "cjk")]')
        out.append(f"pub(super) static {name}: &[(Charset, &str)] = &[")
        for cs, labels in entries.items():
            out.append(f"    (\n        {cs},\n        \"{' '.join(labels)}\",\n    ),")
        out.append("];")
        return "\n".join(out)

    n = sum(map(len, plain.values())), sum(map(len, cjk.values()))
    text = header(whatwg, ["encodings.json"],
                  f"Charset labels: {n[0]} for {len(plain)} charsets, {n[1]} for the "
                  f"{len(cjk)} CJK ones.")
    text += "use super::{Charset, SingleByte};\n\n"
    text += table("LABELS", plain, False) + "\n\n" + table("CJK_LABELS", cjk, True) + "\n"
    write("labels.rs", text)
    return n


def gen_single(whatwg):
    sources, rows = [], []
    for name, variant, file in SINGLE:
        table, src = index(whatwg, file)
        sources.append(src)
        values = [table.get(i, 0xFFFD) for i in range(128)]
        assert all(v <= 0xFFFF for v in values)
        rows.append((name, variant, values))
    text = header(whatwg, sources, "The WHATWG single-byte encodings: 0x80..=0xFF of each "
                  "(0x00..=0x7F is ASCII);\n//! U+FFFD where a byte has no code point.")
    text += ("/// A single-byte encoding of the WHATWG Encoding Standard.\n"
             "#[derive(Clone, Copy, Debug, PartialEq, Eq)]\n"
             "pub enum SingleByte {\n")
    for name, variant, _ in rows:
        text += f"    /// {name}\n    {variant},\n"
    text += "}\n\n"
    text += ("impl SingleByte {\n"
             "    /// The code points of bytes 0x80..=0xFF.\n"
             "    pub fn high(self) -> &'static [u16; 128] {\n"
             "        &TABLES[self as usize]\n"
             "    }\n}\n\n")
    text += f"static TABLES: [[u16; 128]; {len(rows)}] = [\n"
    for name, _, values in rows:
        text += f"    // {name}\n    [\n{u16_rows(values, 8)}\n    ],\n"
    text += "];\n"
    write("single_byte.rs", text)
    return len(rows)


class Segments:
    """An index cut into segments (see the module comment)."""

    MIN_RUN = 9  # a run or set segment inside a literal one costs two headers
    MAX_GAP = 4  # unmapped pointers a literal segment swallows

    def __init__(self, table, first=0, size=0, members=()):
        self.table = table
        self.first, self.size = first, size
        self.members = set(members)
        inside = [c for c in range(first, first + size) if c in self.members]
        outside = [c for c in range(first, first + size) if c not in self.members]
        self.rank = {c: ("inn", i) for i, c in enumerate(inside)}
        self.rank.update({c: ("out", i) for i, c in enumerate(outside)})
        self.segs, self.values = [], []
        self.cut()

    def low(self, p):
        return self.table[p] & 0xFFFF

    def run_len(self, p, step):
        n = 1
        while p + n in self.table and step(p + n - 1, p + n):
            n += 1
        return n

    def cut(self):
        t, end, p, lit = self.table, max(self.table) + 1, 0, None
        while p < end:
            if p not in t:
                gap = 1
                while p + gap not in t:
                    gap += 1
                if lit is not None and gap <= self.MAX_GAP:
                    lit[2] += gap
                    self.values += [0] * gap
                else:
                    lit = None
                p += gap
                continue
            kind = self.rank.get(t[p], (None,))[0]
            n = 0
            if kind:
                def same_set(a, b):
                    ra, rb = self.rank.get(t[a]), self.rank.get(t[b])
                    return rb is not None and rb[0] == ra[0] and rb[1] == ra[1] + 1
                n = self.run_len(p, same_set)
            if n >= self.MIN_RUN:
                self.segs.append([kind, p, n, self.rank[t[p]][1]])
            else:
                n = self.run_len(p, lambda a, b: t[b] == t[a] + 1 and t[b] >> 16 == t[a] >> 16)
                if n >= self.MIN_RUN:
                    self.segs.append(["run", p, n, self.low(p)])
                else:
                    if lit is None:
                        lit = ["lit", p, 0, len(self.values)]
                        self.segs.append(lit)
                    lit[2] += 1
                    self.values.append(self.low(p))
                    p += 1
                    continue
            lit = None
            p += n
        for _, start, length, arg in self.segs:
            assert start + length <= 0xFFFF and length <= 0xFFFF and arg <= 0xFFFF

    def bits(self):
        words = [0] * ((self.size + 63) // 64)
        for c in self.members:
            i = c - self.first
            words[i // 64] |= 1 << (i % 64)
        return words

    def bytes(self):
        n = len(self.segs) * 8 + len(self.values) * 2
        if self.size:
            n += len(self.bits()) * 10
        return n

    def rust(self, name, doc, plane2=None):
        out = [f"/// {doc}", f"pub(super) static {name}: Index = Index {{", "    segs: &["]
        out += [f"        Seg::{k}({s}, {n}, {f'0x{a:04X}' if k == 'run' else a}),"
                for k, s, n, a in self.segs]
        out += ["    ],", "    values: &["]
        out += [u16_rows(self.values)] if self.values else []
        out += ["    ],"]
        if self.size:
            bits = self.bits()
            before, n = [], 0
            for w in bits:
                before.append(n)
                n += bin(w).count("1")
            out += [f"    set: Some(&Set {{",
                    f"        first: 0x{self.first:04X},",
                    f"        len: {self.size},",
                    "        bits: &["]
            out += [f"            0x{w:016X}," for w in bits]
            out += ["        ],", "        before: &["]
            out += [u16_rows(before, 12, "            ")]
            out += ["        ],", "    }),"]
        else:
            out += ["    set: None,"]
        if plane2:
            out += ["    plane2: &["]
            out += [f"        0x{w:08X}," for w in plane2]
            out += ["    ],"]
        else:
            out += ["    plane2: &[],"]
        out += ["};"]
        return "\n".join(out)


def gen_cjk(whatwg):
    sources, parts, report = [], [], []

    def load(name):
        table, src = index(whatwg, name)
        sources.append(src)
        return table

    def add(name, doc, segs, plane2=None):
        parts.append(segs.rust(name, doc, plane2))
        size = segs.bytes() + (len(plane2) * 4 if plane2 else 0)
        report.append((name, len(segs.table), len(segs.segs), len(segs.values), size))

    jis0208 = load("jis0208")
    add("JIS0208", "index-jis0208: JIS X 0208 with the NEC and IBM extensions "
        "(Shift_JIS, EUC-JP, ISO-2022-JP).", Segments(jis0208))
    jis0212 = load("jis0212")
    add("JIS0212", "index-jis0212: JIS X 0212 (EUC-JP's 0x8F sequences).", Segments(jis0212))

    gb = load("gb18030")

    def gb_pointer(lead, trail):
        return (lead - 0x81) * 190 + trail - (0x40 if trail < 0x7F else 0x41)

    hanzi = {gb[p] for p in (gb_pointer(l, t) for l in range(0xB0, 0xF8) for t in range(0xA1, 0xFF))
             if p in gb and 0x4E00 <= gb[p] <= 0x9FA5}
    add("GB18030", "index-gb18030: GBK and gb18030's two-byte sequences. Set: GB 2312's "
        "hanzi among\n/// U+4E00..=U+9FA5 (GBK/3 and GBK/4 list the others in order).",
        Segments(gb, 0x4E00, 0x9FA6 - 0x4E00, hanzi))

    table, src = index(whatwg, "gb18030-ranges")
    sources.append(src)
    ranges = sorted(table.items())
    # The last range (189000 -> U+10000) is the supplementary planes, in code.
    assert ranges[-1] == (189000, 0x10000)
    ranges = ranges[:-1]
    assert all(p <= 0xFFFF and c <= 0xFFFF for p, c in ranges)
    parts.append("/// index-gb18030-ranges: (pointer, code point) where each run of gb18030's\n"
                 "/// four-byte BMP sequences starts; the last one (189000, U+10000) is in code.\n"
                 f"pub(super) static GB18030_RANGES: [(u16, u16); {len(ranges)}] = [\n"
                 + "\n".join("    " + " ".join(f"({p}, 0x{c:04X}),"
                                              for p, c in ranges[i:i + 6])
                             for i in range(0, len(ranges), 6))
                 + "\n];")
    report.append(("GB18030_RANGES", len(ranges), 0, 0, len(ranges) * 4))

    big5 = load("big5")
    wide = sorted(p for p, c in big5.items() if c > 0xFFFF)
    assert all(0x20000 <= big5[p] <= 0x2FFFF for p in wide)
    plane2 = [0] * ((max(big5) + 32) // 32)
    for p in wide:
        plane2[p // 32] |= 1 << (p % 32)
    add("BIG5", "index-big5: Big5 with HKSCS. plane2: the pointers whose code point is "
        "U+2xxxx.", Segments(big5), plane2)

    kr = load("euc-kr")
    syllables = {kr[(l - 0x81) * 190 + t - 0x41] for l in range(0xB0, 0xC9) for t in range(0xA1, 0xFF)}
    assert len(syllables) == 2350 and all(0xAC00 <= c <= 0xD7A3 for c in syllables)
    add("EUC_KR", "index-euc-kr: Windows-949 (EUC-KR). Set: KS X 1001's 2,350 Hangul "
        "syllables among\n/// U+AC00..=U+D7A3 (Windows-949 lists the others in order).",
        Segments(kr, 0xAC00, 0xD7A4 - 0xAC00, syllables))

    text = header(whatwg, sources, "The CJK indexes, as segments (see the script's comment "
                  "and `super::index`).")
    text += "use super::index::{Index, Seg, Set};\n\n" + "\n\n".join(parts) + "\n"
    write(os.path.join("cjk", "tables.rs"), text)
    return report


def write(rel, text):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(path, ROOT)} ({len(text)} bytes)")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    whatwg = sys.argv[1]
    labels = gen_labels(whatwg)
    print(f"labels: {labels[0]} + {labels[1]} CJK")
    print(f"single-byte tables: {gen_single(whatwg)}")
    total = 0
    for name, entries, segs, values, size in gen_cjk(whatwg):
        print(f"{name}: {entries} code points, {segs} segments, {values} values, ~{size} bytes")
        total += size
    print(f"CJK table data: ~{total} bytes")


if __name__ == "__main__":
    main()
