//! tinymx's charsets against Python's codecs: every byte of every
//! single-byte encoding, every two-byte sequence (lead and trail byte
//! ranges in full) of the CJK ones and every gb18030 four-byte sequence,
//! every UTF-16 code unit and UTF-7 run of one, and malformed UTF-16 and
//! UTF-7, decoded by `tinymx::mime::charset` and by Python
//! (tests/charset/expect.py), then compared. Each encoding is compared with
//! the Python codec that reads it best (WHATWG's Shift_JIS is Python's
//! cp932, EUC-KR cp949, Big5 big5hkscs); some labels are also compared with
//! the codec Python itself gives them, to show what reading them as WHATWG
//! does changes.
//!
//! Every difference must be one of those documented in `known` (and the
//! README), or the test fails; so does a documented one that no longer
//! occurs. The counts are printed (`cargo test --test charset --
//! --nocapture`; with CHARSET_LIST=1 every documented difference too).
//! Without python3 (or $PYTHON) the test says so and passes.

use std::io::Write;
use std::process::{Command, Stdio};
use tinymx::mime::charset;

/// What a difference is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// tinymx decodes the bytes, Python's codec rejects them.
    Tinymx,
    /// Python decodes them, tinymx gives U+FFFD.
    Python,
    /// Both decode them, to different characters.
    Differ,
    /// Python's text holds a lone surrogate where tinymx has U+FFFD.
    Surrogate,
}

/// A documented difference: its kind, the reason, the inputs it covers.
struct Known {
    kind: Kind,
    why: &'static str,
    covers: fn(&[u8]) -> bool,
}

/// One comparison: tinymx with `label` against Python's `codec`.
struct Case {
    label: &'static str,
    codec: &'static str,
    /// "strict": an input Python rejects is an error; "replace": malformed
    /// input whose U+FFFDs must match.
    errors: &'static str,
    inputs: Vec<Vec<u8>>,
    known: Vec<Known>,
}

fn known(kind: Kind, why: &'static str, covers: fn(&[u8]) -> bool) -> Known {
    Known { kind, why, covers }
}

fn any(_: &[u8]) -> bool {
    true
}

fn singles() -> Vec<Vec<u8>> {
    (0..=255u8).map(|b| vec![b]).collect()
}

#[cfg(feature = "cjk")]
/// Every lead byte of `leads` followed by every trail byte of `trails`.
fn pairs(leads: &[(u8, u8)], trails: (u8, u8)) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for &(lo, hi) in leads {
        for l in lo..=hi {
            for t in trails.0..=trails.1 {
                out.push(vec![l, t]);
            }
        }
    }
    out
}

#[cfg(feature = "cjk")]
/// gb18030's four-byte sequences with a first byte in `first`.
fn four_bytes(first: std::ops::RangeInclusive<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for a in first {
        for b in 0x30..=0x39 {
            for c in 0x81..=0xFE {
                for d in 0x30..=0x39 {
                    out.push(vec![a, b, c, d]);
                }
            }
        }
    }
    out
}

#[cfg(feature = "cjk")]
/// `bytes` between ISO-2022-JP's escape sequence `esc` and ESC ( B.
fn jis(esc: &[u8], bytes: &[u8]) -> Vec<u8> {
    [esc, bytes, b"\x1b(B"].concat()
}

/// UTF-7 for one UTF-16 code unit: "+", three base64 characters, "-".
fn utf7_unit(units: &[u16]) -> Vec<u8> {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_be_bytes()).collect();
    let mut out = vec![b'+'];
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| n << 8 | b as u32) << (8 * (3 - chunk.len()));
        let chars = (chunk.len() * 8).div_ceil(6);
        out.extend((0..chars).map(|i| B64[(n >> (18 - 6 * i) & 63) as usize]));
    }
    out.push(b'-');
    out
}

/// A deterministic pseudo-random generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
    /// `count` strings of up to `max` bytes drawn from `alphabet`.
    fn strings(&mut self, alphabet: &[u8], count: usize, max: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|_| {
                let len = self.below(max + 1);
                (0..len)
                    .map(|_| alphabet[self.below(alphabet.len())])
                    .collect()
            })
            .collect()
    }
}

/// Python's reading of each input: code points, or None if it rejects
/// it. None for all of it when python3 cannot be run.
fn python(codec: &str, errors: &str, inputs: &[Vec<u8>]) -> Option<Vec<Option<Vec<u32>>>> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/charset/expect.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut text = format!("{codec} {errors}\n");
    for input in inputs {
        for b in input {
            text.push_str(&format!("{b:02x}"));
        }
        text.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().expect("python3 runs");
    writer.join().expect("writer").expect("write to python3");
    assert!(out.status.success(), "expect.py {codec} failed");
    let text = String::from_utf8(out.stdout).expect("expect.py prints ASCII");
    let lines: Vec<Option<Vec<u32>>> = text
        .lines()
        .map(|l| match l {
            "ERR" => None,
            _ => Some(
                l.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(|h| u32::from_str_radix(h, 16).expect("hex"))
                    .collect(),
            ),
        })
        .collect();
    assert_eq!(
        lines.len(),
        inputs.len(),
        "expect.py {codec}: one line per input"
    );
    Some(lines)
}

/// How tinymx's reading compares with Python's; None when they agree.
fn compare(ours: &str, theirs: &Option<Vec<u32>>) -> Option<Kind> {
    let ours: Vec<u32> = ours.chars().map(u32::from).collect();
    let rejected = ours.contains(&0xFFFD);
    let Some(theirs) = theirs else {
        return (!rejected).then_some(Kind::Tinymx);
    };
    if *theirs == ours {
        return None;
    }
    let surrogate = |c: &u32| (0xD800..0xE000).contains(c);
    if theirs.iter().any(surrogate)
        && theirs
            .iter()
            .map(|c| if surrogate(c) { 0xFFFD } else { *c })
            .eq(ours.iter().copied())
    {
        return Some(Kind::Surrogate);
    }
    Some(if rejected && !theirs.contains(&0xFFFD) {
        Kind::Python
    } else {
        Kind::Differ
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// What one case found.
#[derive(Default)]
struct Tally {
    equal: usize,
    rejected_by_both: usize,
    /// Hits of each of the case's documented differences.
    documented: Vec<usize>,
    undocumented: Vec<String>,
}

/// Runs one case; None when python3 cannot be run.
fn run(case: &Case, list: bool) -> Option<Tally> {
    let charset = charset::Charset::from_label(case.label)
        .unwrap_or_else(|| panic!("{}: unknown label", case.label));
    let theirs = python(case.codec, case.errors, &case.inputs)?;
    let mut tally = Tally {
        documented: vec![0; case.known.len()],
        ..Tally::default()
    };
    for (input, theirs) in case.inputs.iter().zip(&theirs) {
        let mut ours = String::new();
        charset::decode_into(input, charset, &mut ours);
        let Some(kind) = compare(&ours, theirs) else {
            match theirs {
                Some(_) => tally.equal += 1,
                None => tally.rejected_by_both += 1,
            }
            continue;
        };
        let python = theirs
            .as_ref()
            .map(|t| t.iter().map(|c| format!("U+{c:04X}")).collect::<Vec<_>>());
        let line = format!(
            "{} ({}) {}: {kind:?}, tinymx {ours:?}, Python {python:?}",
            case.label,
            case.codec,
            hex(input)
        );
        match case
            .known
            .iter()
            .position(|k| k.kind == kind && (k.covers)(input))
        {
            Some(i) => {
                tally.documented[i] += 1;
                if list {
                    println!("    {line}");
                }
            }
            None => tally.undocumented.push(line),
        }
    }
    Some(tally)
}

/// CHARSET_LIST=1 prints every documented difference too.
#[test]
fn charsets_match_python() {
    let list = std::env::var_os("CHARSET_LIST").is_some();
    let mut failures = Vec::new();
    let (mut total, mut equal, mut rejected, mut documented) = (0, 0, 0, 0);
    for case in cases() {
        let Some(tally) = run(&case, list) else {
            eprintln!("charset: python3 could not be run, comparison with Python's codecs skipped");
            return;
        };
        let n = case.inputs.len();
        let hits: usize = tally.documented.iter().sum();
        println!(
            "{:>14} ~ {:<10} ({}) {n:>8} compared: {:>8} equal, {:>7} rejected by both, {hits:>6} documented, {} not",
            case.label,
            case.codec,
            case.errors,
            tally.equal,
            tally.rejected_by_both,
            tally.undocumented.len(),
        );
        for (k, hit) in case.known.iter().zip(&tally.documented) {
            println!("{:>20}{hit:>7} {:?}: {}", "", k.kind, k.why);
            if *hit == 0 {
                failures.push(format!(
                    "{} ({}): documented, never seen: {}",
                    case.label, case.codec, k.why
                ));
            }
        }
        total += n;
        equal += tally.equal;
        rejected += tally.rejected_by_both;
        documented += hits;
        failures.extend(tally.undocumented.into_iter().take(20));
    }
    println!(
        "charset: {total} inputs compared, {equal} equal, {rejected} rejected by both, {documented} documented differences"
    );
    assert!(
        failures.is_empty(),
        "undocumented differences (20 a case at most):\n{}",
        failures.join("\n")
    );
}

fn cases() -> Vec<Case> {
    let case = |label, codec, inputs, known| Case {
        label,
        codec,
        errors: "strict",
        inputs,
        known,
    };
    let mut cases = Vec::new();
    // The single-byte encodings, one label each, and their Python codecs.
    let c1 = |why| known(Kind::Tinymx, why, |b| (0x80..=0x9F).contains(&b[0]));
    let holes = "a byte Windows leaves undefined is the C1 control of the same value (WHATWG)";
    for (label, codec) in [
        ("ibm866", "cp866"),
        ("iso-8859-2", "iso8859_2"),
        ("iso-8859-3", "iso8859_3"),
        ("iso-8859-4", "iso8859_4"),
        ("iso-8859-5", "iso8859_5"),
        ("iso-8859-6", "iso8859_6"),
        ("iso-8859-7", "iso8859_7"),
        ("iso-8859-8", "iso8859_8"),
        ("iso-8859-8-i", "iso8859_8"),
        ("iso-8859-10", "iso8859_10"),
        ("iso-8859-13", "iso8859_13"),
        ("iso-8859-14", "iso8859_14"),
        ("iso-8859-15", "iso8859_15"),
        ("iso-8859-16", "iso8859_16"),
        ("koi8-r", "koi8_r"),
        ("koi8-u", "koi8_u"),
        ("macintosh", "mac_roman"),
        ("windows-874", "cp874"),
        ("windows-1250", "cp1250"),
        ("windows-1251", "cp1251"),
        ("windows-1252", "cp1252"),
        ("windows-1253", "cp1253"),
        ("windows-1254", "cp1254"),
        ("windows-1255", "cp1255"),
        ("windows-1256", "cp1256"),
        ("windows-1257", "cp1257"),
        ("windows-1258", "cp1258"),
        ("x-mac-cyrillic", "mac_cyrillic"),
    ] {
        let mut k = Vec::new();
        if label.starts_with("windows-") && label != "windows-1256" {
            k.push(c1(holes));
        }
        if label == "windows-1255" {
            k.push(known(
                Kind::Tinymx,
                "0xCA is U+05BA HEBREW POINT HOLAM HASER FOR VAV (WHATWG, Windows' current table)",
                |b| b == [0xCA],
            ));
        }
        if label == "koi8-u" {
            k.push(known(
                Kind::Differ,
                "0xAE, 0xBE are ў and Ў (WHATWG: KOI8-RU, Belarusian), not box drawing",
                |b| b == [0xAE] || b == [0xBE],
            ));
        }
        cases.push(case(label, codec, singles(), k));
    }

    // Labels whose Python codec is not the one tinymx reads them with.
    let as_1252 = "read as windows-1252, as WHATWG and mail clients do";
    cases.push(case(
        "iso-8859-1",
        "latin_1",
        singles(),
        vec![known(Kind::Differ, as_1252, any)],
    ));
    cases.push(case(
        "us-ascii",
        "ascii",
        singles(),
        vec![known(Kind::Tinymx, as_1252, any)],
    ));
    cases.push(case(
        "iso-8859-9",
        "iso8859_9",
        singles(),
        vec![known(Kind::Differ, "read as windows-1254 (WHATWG)", any)],
    ));
    let as_874 = "read as windows-874 (WHATWG)";
    cases.push(case(
        "iso-8859-11",
        "iso8859_11",
        singles(),
        vec![known(Kind::Differ, as_874, any)],
    ));
    cases.push(case(
        "tis-620",
        "tis_620",
        singles(),
        vec![
            known(Kind::Differ, as_874, any),
            known(Kind::Tinymx, as_874, any),
        ],
    ));
    cases.extend(cjk_cases());
    cases.extend(utf_cases());
    cases
}

#[cfg(not(feature = "cjk"))]
fn cjk_cases() -> Vec<Case> {
    Vec::new()
}

#[cfg(feature = "cjk")]
fn cjk_cases() -> Vec<Case> {
    let case = |label, codec, inputs, known| Case {
        label,
        codec,
        errors: "strict",
        inputs,
        known,
    };
    let with = |mut a: Vec<Vec<u8>>, b: Vec<Vec<u8>>| {
        a.extend(b);
        a
    };
    let mut cases = Vec::new();
    let sjis_leads = [(0x81, 0x9F), (0xE0, 0xFC)];
    cases.push(case(
        "shift_jis",
        "cp932",
        with(singles(), pairs(&sjis_leads, (0x40, 0xFF))),
        vec![known(
            Kind::Python,
            "0xA0, 0xFD..=0xFF: Python's cp932 has U+F8F0..U+F8F3 (Apple's), Windows and WHATWG nothing",
            |b| matches!(b, [0xA0 | 0xFD..=0xFF]),
        )],
    ));
    let euc_jp = with(
        with(
            singles(),
            pairs(&[(0xA1, 0xFE), (0x8E, 0x8E)], (0xA1, 0xFE)),
        ),
        pairs(&[(0xA1, 0xFE)], (0xA1, 0xFE))
            .into_iter()
            .map(|p| [&[0x8F], &p[..]].concat())
            .collect(),
    );
    let jis_x_0208 = "JIS X 0208 A1C1 A1C2 A1DD A1F1 A1F2 A2CC as Windows has them (WHATWG): \
                      ～ ∥ － ￠ ￡ ￢ where Python has 〜 ‖ − ¢ £ ¬";
    let nec_ibm = "row 13 (NEC) and rows 89..=92 (NEC-selected IBM extensions): WHATWG has them, \
                   Python's JIS X 0208 not";
    let row = |b: &[u8]| b.len() == 2 && (b[0] == 0xAD || (0xF9..=0xFC).contains(&b[0]));
    let euc_jp_known = vec![
        known(Kind::Differ, jis_x_0208, |b| b.len() == 2),
        known(
            Kind::Differ,
            "JIS X 0212 8FA2B7 as ～ (WHATWG), where Python has ~",
            |b| b == [0x8F, 0xA2, 0xB7],
        ),
        known(Kind::Tinymx, nec_ibm, row),
    ];
    cases.push(case("euc-jp", "euc_jp", euc_jp, euc_jp_known));
    let mut jp = Vec::new();
    for p in pairs(&[(0x21, 0x7E)], (0x21, 0x7E)) {
        jp.push(jis(b"\x1b$B", &p));
    }
    for b in 0x21..=0x7E {
        jp.push(jis(b"\x1b(J", &[b]));
        jp.push(jis(b"\x1b(I", &[b]));
        jp.push(jis(b"\x1b$@", &[0x30, b]));
    }
    let jp_known = vec![
        known(Kind::Differ, jis_x_0208, |b| b.starts_with(b"\x1b$B")),
        known(Kind::Tinymx, nec_ibm, |b| {
            b.starts_with(b"\x1b$B") && (b[3] == 0x2D || (0x79..=0x7C).contains(&b[3]))
        }),
        known(
            Kind::Tinymx,
            "ESC ( I, JIS X 0201 katakana: WHATWG reads it, Python's iso2022_jp not",
            |b| b.starts_with(b"\x1b(I"),
        ),
    ];
    cases.push(case("iso-2022-jp", "iso2022_jp", jp, jp_known));
    let gb_pairs = with(singles(), pairs(&[(0x81, 0xFE)], (0x40, 0xFF)));
    let euro = "0x80 is € (WHATWG, as Windows' code page 936)";
    let gbk_known = vec![
        known(Kind::Tinymx, euro, |b| b == [0x80]),
        known(
            Kind::Tinymx,
            "two-byte codes GBK leaves unassigned or user-defined, read as gb18030 (WHATWG): \
             mostly the Private Use Area, as Windows reads them",
            |b| b.len() == 2,
        ),
        known(
            Kind::Tinymx,
            "four-byte gb18030 sequences (WHATWG reads GBK labels as gb18030)",
            |b| b.len() == 4,
        ),
    ];
    cases.push(case(
        "gbk",
        "gbk",
        with(gb_pairs.clone(), four_bytes(0x81..=0x81)),
        gbk_known,
    ));
    let mut gb18030 = with(gb_pairs, four_bytes(0x81..=0x85));
    gb18030.extend(four_bytes(0x8F..=0x90));
    gb18030.extend(four_bytes(0x91..=0xE3));
    gb18030.extend(four_bytes(0xE4..=0xE4));
    gb18030.extend(four_bytes(0xFE..=0xFE));
    let gb18030_known = vec![
        known(Kind::Tinymx, euro, |b| b == [0x80]),
        known(
            Kind::Differ,
            "A3A0, A6D9..A6F3, A8BC, FE59..FEA0: GB 18030-2005/2022's code points (WHATWG), where \
             Python's gb18030 (GB 18030-2000) has the Private Use Area",
            |b| b.len() == 2,
        ),
        known(
            Kind::Differ,
            "8135F437 is U+E7C7, the other half of A8BC's change (GB 18030-2005)",
            |b| b == [0x81, 0x35, 0xF4, 0x37],
        ),
    ];
    cases.push(case("gb18030", "gb18030", gb18030, gb18030_known));
    let big5_known = vec![
        known(
            Kind::Differ,
            "A145 A14E A1C2 A1E3 A1F2 A1F3 A241 A242 A244 A246 A247 as Windows' code page 950 has them \
             (WHATWG): ‧ ﹑ ¯ ～ ⊕ ⊙ ∕ ﹨ ￥ ￠ ￡ where Python has • 、 ‾ ∼ ♁ ☉ ／ ＼ ¥ ¢ £",
            |b| matches!(b, [0xA1 | 0xA2, _]),
        ),
        known(
            Kind::Tinymx,
            "A3C0..=A3E1: control pictures ␀..␡ and € (Big5-2003, WHATWG); Python has none",
            |b| b.len() == 2 && b[0] == 0xA3,
        ),
        known(
            Kind::Tinymx,
            "HKSCS codes Python's big5hkscs (HKSCS-2004) rejects: the HKSCS-2008 additions and codes for \
             characters Big5 has elsewhere (WHATWG maps them)",
            |b| b.len() == 2 && matches!(b[0], 0x87..=0xA0 | 0xC6..=0xC8 | 0xF9..=0xFE),
        ),
    ];
    cases.push(case(
        "big5",
        "big5hkscs",
        with(singles(), pairs(&[(0x81, 0xFE)], (0x40, 0xFF))),
        big5_known,
    ));
    cases.push(case(
        "euc-kr",
        "cp949",
        with(singles(), pairs(&[(0x81, 0xFE)], (0x41, 0xFF))),
        vec![],
    ));
    // The labels whose own Python codec is narrower.
    let sjis = with(singles(), pairs(&sjis_leads, (0x40, 0xFF)));
    let as_932 = "read as Windows' code page 932 (WHATWG Shift_JIS), not as JIS X 0208 alone";
    cases.push(case(
        "shift_jis",
        "shift_jis",
        sjis,
        vec![
            known(Kind::Differ, as_932, any),
            known(Kind::Tinymx, as_932, any),
        ],
    ));
    let ks = with(singles(), pairs(&[(0x81, 0xFE)], (0x41, 0xFF)));
    let as_949 =
        "read as Windows' code page 949 (WHATWG EUC-KR): the 8,822 other Hangul syllables, A4D4 ㅤ";
    cases.push(case(
        "ks_c_5601-1987",
        "euc_kr",
        ks,
        vec![known(Kind::Tinymx, as_949, any)],
    ));
    let gb = with(singles(), pairs(&[(0x81, 0xFE)], (0x40, 0xFF)));
    let as_gbk = "read as GBK, as WHATWG does: GBK's 14,240 more ideographs, and A1A4 ·, A1AA —";
    cases.push(case(
        "gb2312",
        "gb2312",
        gb,
        vec![
            known(Kind::Differ, as_gbk, any),
            known(Kind::Tinymx, as_gbk, any),
        ],
    ));
    let big5 = with(singles(), pairs(&[(0x81, 0xFE)], (0x40, 0xFF)));
    let as_hkscs =
        "read with HKSCS (WHATWG Big5): the HKSCS codes, and C6A1..C8FE as HKSCS, not ETEN";
    cases.push(case(
        "big5",
        "big5",
        big5,
        vec![
            known(Kind::Differ, as_hkscs, any),
            known(Kind::Tinymx, as_hkscs, any),
        ],
    ));
    // ISO-2022-JP's escapes, where tinymx reads it as Python does.
    let texts: [&[u8]; 9] = [
        b"\x1b$B$\"\x1b(B\x1b$B$\"\x1b(B",
        b"\x1b$B$\"\r\n$\"\x1b(B",
        b"\x1b$B$\"\t$\"\x1b(B",
        b"\x1b(J\\~\x1b(B\\~",
        b"\x1b$@$\"\x1b(Ba",
        b"a\x80b",
        b"\x1b$B$\x7f$\"",
        b"\x1b$B\x80\x80\x1b(B",
        b"\x1b$B\x1b(Bx",
    ];
    cases.push(Case {
        label: "iso-2022-jp",
        codec: "iso2022_jp",
        errors: "replace",
        inputs: texts.iter().map(|t| t.to_vec()).collect(),
        known: vec![],
    });
    cases
}

fn utf_cases() -> Vec<Case> {
    let case = |label, codec, inputs, known| Case {
        label,
        codec,
        errors: "strict",
        inputs,
        known,
    };
    let replace = |label, codec, inputs, known| Case {
        label,
        codec,
        errors: "replace",
        inputs,
        known,
    };
    let units: Vec<u16> = (0..=0xFFFF).collect();
    let mut pairs: Vec<[u16; 2]> = Vec::new();
    for h in 0xD800..0xDC00 {
        pairs.extend([[h, 0xDC00], [h, 0xDE55], [h, 0xDFFF]]);
    }
    for l in 0xDC00..0xE000 {
        pairs.extend([[0xD800, l], [0xDA55, l], [0xDBFF, l]]);
    }
    let mut cases = Vec::new();
    for (label, codec, big) in [
        ("utf-16be", "utf_16_be", true),
        ("utf-16le", "utf_16_le", false),
    ] {
        let bytes = |us: &[u16]| -> Vec<u8> {
            us.iter()
                .flat_map(|u| {
                    if big {
                        u.to_be_bytes()
                    } else {
                        u.to_le_bytes()
                    }
                })
                .collect()
        };
        let mut inputs: Vec<Vec<u8>> = units.iter().map(|&u| bytes(&[u])).collect();
        inputs.extend(pairs.iter().map(|p| bytes(p)));
        cases.push(case(label, codec, inputs, vec![]));
        // Malformed: odd lengths, lone and reversed surrogates.
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ big as u64);
        let alphabet = [0x00, 0x41, 0xD8, 0xDB, 0xDC, 0xDF, 0xFE, 0xFF, 0x20];
        cases.push(replace(
            label,
            codec,
            rng.strings(&alphabet, 20000, 9),
            vec![],
        ));
    }
    // utf-16: the byte order mark, else little-endian.
    let mut inputs = Vec::new();
    for &u in units.iter().step_by(3) {
        inputs.push([[0xFE, 0xFF], u.to_be_bytes()].concat());
        inputs.push([[0xFF, 0xFE], u.to_le_bytes()].concat());
        inputs.push(u.to_le_bytes().to_vec());
    }
    cases.push(case("utf-16", "utf_16", inputs, vec![]));
    // UTF-7: every code unit as a base64 run, every byte alone, pairs.
    let mut inputs: Vec<Vec<u8>> = units.iter().map(|&u| utf7_unit(&[u])).collect();
    inputs.extend(singles());
    inputs.extend(pairs.iter().map(|p| utf7_unit(p)));
    let lone =
        "a lone surrogate is U+FFFD (Python's utf-7 passes it on; a Rust string cannot hold it)";
    cases.push(case(
        "utf-7",
        "utf_7",
        inputs,
        vec![known(Kind::Surrogate, lone, any)],
    ));
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let alphabet = b"+-AB2D3cdg/+-.! a\x80~";
    let mut inputs = rng.strings(alphabet, 40000, 12);
    // Valid runs cut at every length, with each ending after them.
    let run = utf7_unit(&[0xD83D, 0xDE00, 0x65E5]);
    for n in 1..run.len() {
        for end in [&b""[..], b"-", b"x", b".", b"\x80", b"+"] {
            inputs.push([&run[..n], end].concat());
        }
    }
    cases.push(replace(
        "utf-7",
        "utf_7",
        inputs,
        vec![known(Kind::Surrogate, lone, any)],
    ));
    cases
}
