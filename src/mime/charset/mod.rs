//! Charsets → UTF-8: every encoding of the WHATWG Encoding Standard that
//! mail uses, under all of its labels and the aliases Python accepts.
//!
//! - UTF-8, and US-ASCII, ISO-8859-1 and Windows-1252 (all three read as
//!   Windows-1252, see below);
//! - the other single-byte encodings (IBM866, ISO-8859-2..16, KOI8-R and
//!   KOI8-U, macintosh, windows-874 and -1250..1258, x-mac-cyrillic): 27
//!   tables of 0x80..=0xFF (`single_byte`, generated);
//! - UTF-16BE, UTF-16LE and UTF-16 (byte order mark, else little-endian)
//!   and UTF-7 (`utf`);
//! - with the `cjk` feature (on by default): Shift_JIS, EUC-JP,
//!   ISO-2022-JP, GBK, gb18030, Big5 and EUC-KR (`cjk`).
//!
//! Anything else (and the CJK labels without `cjk`) is passed through as
//! UTF-8 with invalid bytes replaced, and the caller is told so it can
//! warn. Invalid input never fails: it becomes U+FFFD, and the output is
//! at most 3 bytes of UTF-8 per input byte. The tables come from the
//! standard's index files through tests/charset/gen_tables.py;
//! tests/charset.rs compares every entry with Python's codecs (the README
//! lists where they differ and why).
//!
//! As in the WHATWG Encoding Standard (and every mail client), US-ASCII
//! and ISO-8859-1 labels are read as Windows-1252: Outlook labels
//! Windows-1252 text as ISO-8859-1, and 8-bit bytes under a US-ASCII label
//! are far more often Windows-1252 than anything else. Valid UTF-8 under a
//! US-ASCII label is kept as UTF-8.

#[cfg(feature = "cjk")]
mod cjk;
#[rustfmt::skip]
mod labels;
#[rustfmt::skip]
mod single_byte;
mod utf;

pub use single_byte::SingleByte;

/// What an invalid sequence becomes.
const REPLACEMENT: char = '\u{FFFD}';

/// The charsets tinymx can convert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    /// US-ASCII labels: UTF-8 if the bytes are valid UTF-8, else
    /// Windows-1252.
    UsAscii,
    /// ISO-8859-1 labels, read as Windows-1252.
    Latin1,
    /// ISO-8859-15.
    Latin9,
    Windows1252,
    /// The other single-byte encodings.
    SingleByte(SingleByte),
    Utf16Be,
    Utf16Le,
    /// UTF-16 in the byte order its byte order mark gives (the mark is
    /// dropped), little-endian without one (as WHATWG and Python on the
    /// usual hosts read it).
    Utf16,
    Utf7,
    #[cfg(feature = "cjk")]
    ShiftJis,
    #[cfg(feature = "cjk")]
    EucJp,
    #[cfg(feature = "cjk")]
    Iso2022Jp,
    /// GBK labels (gb2312 too): read with the gb18030 decoder, as WHATWG
    /// does.
    #[cfg(feature = "cjk")]
    Gbk,
    #[cfg(feature = "cjk")]
    Gb18030,
    #[cfg(feature = "cjk")]
    Big5,
    #[cfg(feature = "cjk")]
    EucKr,
}

impl Charset {
    /// Looks up a MIME charset label: case and everything but ASCII
    /// letters and digits are ignored (so "latin-1" is "latin1", "UTF_8"
    /// is "utf-8"), as is an RFC 2231 language suffix ("utf-8*en").
    pub fn from_label(label: &str) -> Option<Charset> {
        let label = label.split('*').next().unwrap_or("");
        if key(label).next().is_none() {
            return Some(Charset::UsAscii);
        }
        labels::LABELS
            .iter()
            .chain(cjk_labels())
            .find(|(_, names)| names.split(' ').any(|n| key(n).eq(key(label))))
            .map(|&(charset, _)| charset)
    }
}

/// What labels are compared by: their ASCII letters and digits, lower case.
fn key(label: &str) -> impl Iterator<Item = u8> + '_ {
    label
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_lowercase())
}

#[cfg(feature = "cjk")]
fn cjk_labels() -> &'static [(Charset, &'static str)] {
    labels::CJK_LABELS
}

#[cfg(not(feature = "cjk"))]
fn cjk_labels() -> &'static [(Charset, &'static str)] {
    &[]
}

/// Bytes of a single-byte encoding, 0x80..=0xFF through its table.
fn single_byte(bytes: &[u8], table: &[u16; 128], out: &mut String) {
    out.extend(bytes.iter().map(|&b| match b {
        0x00..=0x7F => b as char,
        _ => char::from_u32(table[(b - 0x80) as usize] as u32).unwrap_or(REPLACEMENT),
    }));
}

/// Converts `bytes` in `charset` to UTF-8, appending to `out`.
pub fn decode_into(bytes: &[u8], charset: Charset, out: &mut String) {
    let cp1252 = SingleByte::Windows1252.high();
    match charset {
        Charset::Utf8 => out.push_str(&String::from_utf8_lossy(bytes)),
        Charset::UsAscii => match std::str::from_utf8(bytes) {
            Ok(s) => out.push_str(s),
            Err(_) => single_byte(bytes, cp1252, out),
        },
        Charset::Latin1 | Charset::Windows1252 => single_byte(bytes, cp1252, out),
        Charset::Latin9 => single_byte(bytes, SingleByte::Iso8859_15.high(), out),
        Charset::SingleByte(s) => single_byte(bytes, s.high(), out),
        Charset::Utf16Be => utf::utf16(bytes, true, out),
        Charset::Utf16Le => utf::utf16(bytes, false, out),
        Charset::Utf16 => match bytes {
            [0xFE, 0xFF, rest @ ..] => utf::utf16(rest, true, out),
            [0xFF, 0xFE, rest @ ..] => utf::utf16(rest, false, out),
            _ => utf::utf16(bytes, false, out),
        },
        Charset::Utf7 => utf::utf7(bytes, out),
        #[cfg(feature = "cjk")]
        Charset::ShiftJis => cjk::shift_jis(bytes, out),
        #[cfg(feature = "cjk")]
        Charset::EucJp => cjk::euc_jp(bytes, out),
        #[cfg(feature = "cjk")]
        Charset::Iso2022Jp => cjk::iso_2022_jp(bytes, out),
        #[cfg(feature = "cjk")]
        Charset::Gbk | Charset::Gb18030 => cjk::gb18030(bytes, out),
        #[cfg(feature = "cjk")]
        Charset::Big5 => cjk::big5(bytes, out),
        #[cfg(feature = "cjk")]
        Charset::EucKr => cjk::euc_kr(bytes, out),
    }
}

/// Converts `bytes` labelled `label` to UTF-8. The flag is false when the
/// label is unknown and the bytes were passed through as (lossy) UTF-8.
pub fn decode(bytes: &[u8], label: Option<&str>) -> (String, bool) {
    let mut out = String::with_capacity(bytes.len());
    match label {
        None => {
            decode_into(bytes, Charset::UsAscii, &mut out);
            (out, true)
        }
        Some(l) => match Charset::from_label(l) {
            Some(cs) => {
                decode_into(bytes, cs, &mut out);
                (out, true)
            }
            None => {
                decode_into(bytes, Charset::Utf8, &mut out);
                (out, false)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes under `label`, which must be known.
    fn text(bytes: &[u8], label: &str) -> String {
        let (s, known) = decode(bytes, Some(label));
        assert!(known, "{label} unknown");
        s
    }

    /// Each (label, bytes, text): the bytes decode to the text.
    fn check(cases: &[(&str, &[u8], &str)]) {
        for &(label, bytes, want) in cases {
            assert_eq!(text(bytes, label), want, "{label} {bytes:x?}");
        }
    }

    #[test]
    fn labels_and_aliases() {
        let sb = Charset::SingleByte;
        assert_eq!(Charset::from_label("UTF-8"), Some(Charset::Utf8));
        assert_eq!(Charset::from_label("\"utf8\""), Some(Charset::Utf8));
        assert_eq!(Charset::from_label("utf-8*en"), Some(Charset::Utf8));
        assert_eq!(Charset::from_label(" UTF_8 "), Some(Charset::Utf8));
        assert_eq!(Charset::from_label("ISO-8859-1"), Some(Charset::Latin1));
        assert_eq!(Charset::from_label("latin-1"), Some(Charset::Latin1));
        assert_eq!(Charset::from_label("latin9"), Some(Charset::Latin9));
        assert_eq!(Charset::from_label("CP1252"), Some(Charset::Windows1252));
        assert_eq!(Charset::from_label("us-ascii"), Some(Charset::UsAscii));
        assert_eq!(Charset::from_label(""), Some(Charset::UsAscii));
        assert_eq!(Charset::from_label("koi8-r"), Some(sb(SingleByte::Koi8R)));
        assert_eq!(Charset::from_label("csKOI8R"), Some(sb(SingleByte::Koi8R)));
        assert_eq!(
            Charset::from_label("iso_8859-2:1987"),
            Some(sb(SingleByte::Iso8859_2))
        );
        assert_eq!(
            Charset::from_label("win-1251"),
            Some(sb(SingleByte::Windows1251))
        );
        assert_eq!(
            Charset::from_label("cp1251"),
            Some(sb(SingleByte::Windows1251))
        );
        assert_eq!(
            Charset::from_label("iso-8859-9"),
            Some(sb(SingleByte::Windows1254))
        );
        assert_eq!(
            Charset::from_label("tis-620"),
            Some(sb(SingleByte::Windows874))
        );
        assert_eq!(
            Charset::from_label("ISO-8859-8-I"),
            Some(sb(SingleByte::Iso8859_8))
        );
        assert_eq!(Charset::from_label("utf-16"), Some(Charset::Utf16));
        assert_eq!(Charset::from_label("UTF-16LE"), Some(Charset::Utf16Le));
        assert_eq!(
            Charset::from_label("unicode-1-1-utf-7"),
            Some(Charset::Utf7)
        );
        // WHATWG's "replacement" labels and unknown ones stay unknown.
        assert_eq!(Charset::from_label("iso-2022-kr"), None);
        assert_eq!(Charset::from_label("x-unknown"), None);
    }

    #[cfg(feature = "cjk")]
    #[test]
    fn cjk_labels() {
        assert_eq!(Charset::from_label("x-sjis"), Some(Charset::ShiftJis));
        assert_eq!(Charset::from_label("Windows-31J"), Some(Charset::ShiftJis));
        assert_eq!(Charset::from_label("ks_c_5601-1987"), Some(Charset::EucKr));
        assert_eq!(Charset::from_label("GB_2312-80"), Some(Charset::Gbk));
        assert_eq!(Charset::from_label("gb2312"), Some(Charset::Gbk));
        assert_eq!(Charset::from_label("GB18030"), Some(Charset::Gb18030));
        assert_eq!(Charset::from_label("big5-hkscs"), Some(Charset::Big5));
        assert_eq!(Charset::from_label("ISO-2022-JP"), Some(Charset::Iso2022Jp));
        assert_eq!(Charset::from_label("euc-jp"), Some(Charset::EucJp));
    }

    #[cfg(not(feature = "cjk"))]
    #[test]
    fn cjk_labels_unknown_without_the_feature() {
        let (s, known) = decode("日本語".as_bytes(), Some("shift_jis"));
        assert!(!known);
        assert_eq!(s, "日本語");
    }

    #[test]
    fn single_byte_tables() {
        let all: Vec<u8> = (0x80..=0xFF).collect();
        let w = text(&all, "windows-1252");
        assert!(w.starts_with("€\u{81}‚ƒ„…†‡ˆ‰Š‹Œ\u{8d}Ž\u{8f}\u{90}‘’“”•–—˜™š›œ\u{9d}žŸ\u{a0}¡"));
        assert!(w.ends_with("üýþÿ"));
        assert_eq!(text(b"caf\xe9 \x80", "iso-8859-1"), "café €");
        assert_eq!(
            text(b"\xa4\xa6\xa8\xb4\xb8\xbc\xbd\xbe\xe9", "iso-8859-15"),
            "€ŠšŽžŒœŸé"
        );
        check(&[
            (
                "koi8-r",
                b"\xf0\xd2\xc9\xd7\xc5\xd4, \xcd\xc9\xd2",
                "Привет, мир",
            ),
            ("koi8-u", b"\xbd\xc1\xce\xcf\xcb \xa7\xa7", "Ґанок її"),
            ("windows-1251", b"\xcf\xf0\xe8\xe2\xe5\xf2", "Привет"),
            ("ibm866", b"\x8f\xe0\xa8\xa2\xa5\xe2", "Привет"),
            ("x-mac-cyrillic", b"\x8f\xf0\xe8\xe2\xe5\xf2", "Привет"),
            (
                "iso-8859-2",
                b"\xa3\xf3d\xbc, \xaelu\xbbou\xe8k\xfd",
                "Łódź, Žluťoučký",
            ),
            ("windows-1250", b"\xa3\xf3d\x9f \x84\x8e\x94", "Łódź „Ž”"),
            ("iso-8859-5", b"\xbf\xe0\xd8\xd2\xd5\xe2", "Привет"),
            (
                "iso-8859-7",
                b"\xc5\xeb\xeb\xe7\xed\xe9\xea\xdc",
                "Ελληνικά",
            ),
            (
                "windows-1253",
                b"\xc5\xeb\xeb\xe7\xed\xe9\xea\xdc",
                "Ελληνικά",
            ),
            ("iso-8859-6", b"\xe5\xd1\xcd\xc8\xc7", "مرحبا"),
            ("windows-1256", b"\xe3\xd1\xcd\xc8\xc7", "مرحبا"),
            ("iso-8859-8", b"\xf9\xec\xe5\xed", "שלום"),
            ("windows-1255", b"\xf9\xc8\xd1\xec\xe5\xc9\xed", "שָׁלוֹם"),
            ("windows-874", b"\xc0\xd2\xc9\xd2\xe4\xb7\xc2", "ภาษาไทย"),
            ("windows-1254", b"\xddstanbul \xf0", "İstanbul ğ"),
            ("iso-8859-3", b"\xa1a\xf5ar", "Ħaġar"),
            ("iso-8859-4", b"\xc0\xc8\xaa\xab", "ĀČĒĢ"),
            ("iso-8859-10", b"\xaf\xab\xac", "ŊŦŽ"),
            ("iso-8859-13", b"\xc0\xe8\xe6 \xa5x\xa1", "Ąčę „x”"),
            ("iso-8859-14", b"\xd0\xfe\xa2", "Ŵŷḃ"),
            ("iso-8859-16", b"\xaatefan \xfear\xe3", "Ștefan țară"),
            ("windows-1257", b"\xc0\xe8\xe6", "Ąčę"),
            ("windows-1258", b"Vi\xea\xf2t", "Viê\u{323}t"),
            ("macintosh", b"Caf\x8e \xdb\xaa", "Café €™"),
            (
                "utf-16",
                b"\xff\xfeG\x00r\x00\xfc\x00\xdf\x00e\x00 \x00=\xd8\x00\xde",
                "Grüße 😀",
            ),
            // Bytes without a code point.
            ("iso-8859-3", b"\xa5", "\u{FFFD}"),
            ("windows-874", b"\xfc", "\u{FFFD}"),
            ("koi8-u", b"\xae\xbe", "ўЎ"),
        ]);
    }

    #[test]
    fn utf8_is_lossy_and_ascii_tolerates_8bit() {
        assert_eq!(decode(b"a\xffb", Some("utf-8")).0, "a\u{FFFD}b");
        assert_eq!(decode("Grüße".as_bytes(), Some("us-ascii")).0, "Grüße");
        assert_eq!(decode(b"Gr\xfc\xdfe", Some("us-ascii")).0, "Grüße");
        assert_eq!(decode(b"Gr\xfc\xdfe", None).0, "Grüße");
    }

    #[test]
    fn utf16_and_utf7() {
        check(&[
            (
                "utf-16be",
                b"\x00G\x00r\x00\xfc\x00\xdf\x00e\x00 \xd8=\xde\x00",
                "Grüße 😀",
            ),
            (
                "utf-16le",
                b"G\x00r\x00\xfc\x00\xdf\x00e\x00 \x00=\xd8\x00\xde",
                "Grüße 😀",
            ),
            (
                "utf-7",
                b"A+ImIDkQ. +ZeVnLIqe +2D3eAA +-1",
                "A≢Α. 日本語 😀 +1",
            ),
            ("utf-16", b"\xfe\xff\x00a", "a"),
            ("utf-16", b"a\x00", "a"),
            ("utf-16be", b"\xfe\xff\x00a", "\u{FEFF}a"),
            ("utf-16be", b"\x00a\x00", "a\u{FFFD}"),
            ("utf-16be", b"\xd8\x00\x00a", "\u{FFFD}a"),
            ("utf-16be", b"\xdc\x00\x00a", "\u{FFFD}a"),
            ("utf-16be", b"\xd8\x00\x00", "\u{FFFD}"),
            ("utf-7", b"Hi Mom -+Jjo--!", "Hi Mom -☺-!"),
            ("utf-7", b"+AGE-x", "ax"),
            ("utf-7", b"+AGE.x", "a.x"),
            ("utf-7", b"+AGF-x", "a\u{FFFD}x"),
            ("utf-7", b"+AGEA.x", "a\u{FFFD}x"),
            ("utf-7", b"+!x", "\u{FFFD}x"),
            ("utf-7", b"a+", "a"),
            ("utf-7", b"+ZeV", "日\u{FFFD}"),
            ("utf-7", b"+2D0-abc", "\u{FFFD}abc"),
            ("utf-7", b"+2D3eAA", "😀"),
            ("utf-7", b"caf\xe9", "caf\u{FFFD}"),
        ]);
    }

    #[cfg(feature = "cjk")]
    #[test]
    fn cjk() {
        check(&[
            (
                "shift_jis",
                b"\x93\xfa\x96{\x8c\xea\xb6\xc0\xb6\xc5\x87@",
                "日本語ｶﾀｶﾅ①",
            ),
            (
                "euc-jp",
                b"\xc6\xfc\xcb\xdc\xb8\xec\x8e\xb6\x8e\xc0\x8e\xb6\x8e\xc5",
                "日本語ｶﾀｶﾅ",
            ),
            ("iso-2022-jp", b"\x1b$BF|K\x5c8l\x1b(B text", "日本語 text"),
            ("gbk", b"\xd6\xd0\xce\xc4\xbc\xf2\xcc\xe5", "中文简体"),
            ("gb18030", b"\xd6\xd0\xce\xc4\x952\x826\xa2\xe3", "中文𠀀€"),
            ("big5", b"\xa4\xa4\xa4\xe5\xc1c\xc5\xe9", "中文繁體"),
            (
                "euc-kr",
                b"\xc7\xd1\xb1\xb9\xbe\xee \x8cc\xb9\xe6\xb0\xa2\xc7\xcf",
                "한국어 똠방각하",
            ),
            ("iso-2022-jp", b"\x1b(I1\x1b(J\\~\x1b(B\\~", "ｱ¥‾\\~"),
            ("iso-2022-jp", b"\x1b$@$\"\x1b(B", "あ"),
            ("shift_jis", b"\xf0\x40\x80\xa0", "\u{E000}\u{80}\u{FFFD}"),
            ("euc-jp", b"\x8f\xb0\xa1", "丂"),
            (
                "gb18030",
                b"\x81\x30\x81\x30\x84\x31\xa4\x39\xe3\x32\x9a\x35",
                "\u{80}\u{FFFF}\u{10FFFF}",
            ),
            ("gb18030", b"\x81\x35\xf4\x37\xa8\xbc", "\u{E7C7}ḿ"),
            ("gbk", b"\x81\x40\xfe\x4f\x80", "丂\u{FA29}€"),
            ("big5", b"\x88\x62\x88\x64\x87\x40\x9c\x71", "Ê̄Ê̌䏰𠀡"),
            (
                "euc-kr",
                b"\x81\x41\xb0\xa1\xc8\xfe\xfe\xfe",
                "갂가힝\u{FFFD}",
            ),
        ]);
    }

    #[cfg(feature = "cjk")]
    #[test]
    fn cjk_errors_take_no_ascii_with_them() {
        check(&[
            ("shift_jis", b"\x81\x7f", "\u{FFFD}\u{7F}"),
            ("shift_jis", b"\x81\xfdA", "\u{FFFD}A"),
            ("shift_jis", b"a\x81", "a\u{FFFD}"),
            ("euc-jp", b"\x8fA", "\u{FFFD}A"),
            ("euc-jp", b"\x8f\xa1", "\u{FFFD}"),
            ("euc-jp", b"\x8e\xe0A", "\u{FFFD}A"),
            ("gb18030", b"\x81\x30", "\u{FFFD}"),
            ("gb18030", b"\x81\x30\x81", "\u{FFFD}"),
            ("gb18030", b"\x81\x30A", "\u{FFFD}0A"),
            ("gb18030", b"\x81\x30\x81\x20", "\u{FFFD}0\u{FFFD} "),
            ("gb18030", b"\x84\x31\xa5\x30x", "\u{FFFD}x"),
            ("gb18030", b"\xff\x81\x7f", "\u{FFFD}\u{FFFD}\u{7F}"),
            ("big5", b"\x81\x20", "\u{FFFD} "),
            ("big5", b"\x80\xff", "\u{FFFD}\u{FFFD}"),
            ("euc-kr", b"\xc9\xa1A\xb0", "\u{FFFD}A\u{FFFD}"),
        ]);
    }

    #[cfg(feature = "cjk")]
    #[test]
    fn iso_2022_jp_escapes() {
        check(&[
            // Encoded words joined: an escape right after another is fine.
            ("iso-2022-jp", b"\x1b$B$\"\x1b(B\x1b$B$\"\x1b(B", "ああ"),
            // A line break inside a JIS X 0208 run stays a line break.
            ("iso-2022-jp", b"\x1b$B$\"\r\n$\"\x1b(B", "あ\r\nあ"),
            // Bad or unfinished escapes: one U+FFFD, the rest read again.
            ("iso-2022-jp", b"\x1b$ text", "\u{FFFD}$ text"),
            ("iso-2022-jp", b"\x1b(Z ok", "\u{FFFD}(Z ok"),
            ("iso-2022-jp", b"ok\x1b", "ok\u{FFFD}"),
            ("iso-2022-jp", b"\x1b$B$\x1b(Bx", "\u{FFFD}x"),
            ("iso-2022-jp", b"\x1b$B$", "\u{FFFD}"),
            ("iso-2022-jp", b"a\xe9\x0eb", "a\u{FFFD}\u{FFFD}b"),
            ("iso-2022-jp", b"\x1b$B \x1b(B", "\u{FFFD}"),
        ]);
    }

    /// Every charset: random bytes (biased to escapes, leads and base64)
    /// never panic and give at most 3 bytes of UTF-8 a byte.
    #[test]
    fn any_bytes_are_safe() {
        let labels = [
            "utf-8",
            "us-ascii",
            "iso-8859-1",
            "iso-8859-15",
            "koi8-r",
            "windows-1255",
            "utf-16",
            "utf-16be",
            "utf-16le",
            "utf-7",
            "shift_jis",
            "euc-jp",
            "iso-2022-jp",
            "gbk",
            "gb18030",
            "big5",
            "euc-kr",
        ];
        let alphabet = b"\x1b$(BJI@+-/A09\x80\x81\x8e\x8f\xa1\xd8\xdc\xfe\xff\x00\n ~\\";
        let mut seed = 0x853C_49E6_748F_EA9Bu64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..3000 {
            let len = next(40);
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    if next(4) == 0 {
                        next(256) as u8
                    } else {
                        alphabet[next(alphabet.len())]
                    }
                })
                .collect();
            for label in labels {
                if let Some(cs) = Charset::from_label(label) {
                    let mut out = String::new();
                    decode_into(&bytes, cs, &mut out);
                    assert!(
                        out.len() <= 3 * bytes.len(),
                        "{label} {bytes:x?} -> {out:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn unknown_charsets_pass_through_flagged() {
        let (s, ok) = decode("привет".as_bytes(), Some("x-unknown"));
        assert!(!ok);
        assert_eq!(s, "привет");
    }
}
