//! Charsets → UTF-8. Five are known (the ones mail actually uses in the
//! West): UTF-8, US-ASCII, ISO-8859-1, ISO-8859-15 and Windows-1252, with
//! the tables written out here. Anything else is passed through as UTF-8
//! with invalid bytes replaced, and the caller is told so it can warn.
//!
//! As in the WHATWG Encoding Standard (and every mail client), US-ASCII
//! and ISO-8859-1 labels are read as Windows-1252: Outlook labels
//! Windows-1252 text as ISO-8859-1, and 8-bit bytes under a US-ASCII label
//! are far more often Windows-1252 than anything else. Valid UTF-8 under a
//! US-ASCII label is kept as UTF-8.

/// The charsets tinymx can convert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    UsAscii,
    Latin1,
    Latin9,
    Windows1252,
}

impl Charset {
    /// Looks up a MIME charset label (case-insensitive, common aliases).
    pub fn from_label(label: &str) -> Option<Charset> {
        let l = label.trim().trim_matches('"').to_ascii_lowercase();
        // RFC 2231 §5 allows a language suffix in encoded words: utf-8*en.
        let l = l.split('*').next().unwrap_or("");
        Some(match l {
            "utf-8" | "utf8" | "unicode-1-1-utf-8" => Charset::Utf8,
            "us-ascii" | "ascii" | "ansi_x3.4-1968" | "iso646-us" | "us" | "" => Charset::UsAscii,
            "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "latin1" | "l1" | "iso-ir-100"
            | "cp819" | "ibm819" | "iso_8859-1:1987" => Charset::Latin1,
            "iso-8859-15" | "iso8859-15" | "iso_8859-15" | "latin9" | "latin-9" | "l9" => {
                Charset::Latin9
            }
            "windows-1252" | "cp1252" | "x-cp1252" => Charset::Windows1252,
            _ => return None,
        })
    }
}

/// Windows-1252 0x80..=0x9F. The five holes map to the C1 control of the
/// same value, as the WHATWG table does.
const CP1252_HIGH: [u16; 32] = [
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, // 80-87
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F, // 88-8F
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, // 90-97
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178, // 98-9F
];

fn cp1252(b: u8) -> char {
    match b {
        0x80..=0x9F => {
            char::from_u32(CP1252_HIGH[(b - 0x80) as usize] as u32).unwrap_or('\u{FFFD}')
        }
        _ => b as char,
    }
}

/// ISO-8859-15 differs from ISO-8859-1 in eight places (the euro sign and
/// letters for French, Finnish and Estonian).
fn latin9(b: u8) -> char {
    match b {
        0xA4 => '\u{20AC}',
        0xA6 => '\u{0160}',
        0xA8 => '\u{0161}',
        0xB4 => '\u{017D}',
        0xB8 => '\u{017E}',
        0xBC => '\u{0152}',
        0xBD => '\u{0153}',
        0xBE => '\u{0178}',
        _ => b as char,
    }
}

/// Converts `bytes` in `charset` to UTF-8, appending to `out`.
pub fn decode_into(bytes: &[u8], charset: Charset, out: &mut String) {
    match charset {
        Charset::Utf8 => out.push_str(&String::from_utf8_lossy(bytes)),
        Charset::UsAscii => match std::str::from_utf8(bytes) {
            Ok(s) => out.push_str(s),
            Err(_) => out.extend(bytes.iter().map(|&b| cp1252(b))),
        },
        Charset::Latin1 | Charset::Windows1252 => out.extend(bytes.iter().map(|&b| cp1252(b))),
        Charset::Latin9 => out.extend(bytes.iter().map(|&b| latin9(b))),
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

    #[test]
    fn labels_and_aliases() {
        assert_eq!(Charset::from_label("UTF-8"), Some(Charset::Utf8));
        assert_eq!(Charset::from_label("\"utf8\""), Some(Charset::Utf8));
        assert_eq!(Charset::from_label("utf-8*en"), Some(Charset::Utf8));
        assert_eq!(Charset::from_label("ISO-8859-1"), Some(Charset::Latin1));
        assert_eq!(Charset::from_label("latin9"), Some(Charset::Latin9));
        assert_eq!(Charset::from_label("CP1252"), Some(Charset::Windows1252));
        assert_eq!(Charset::from_label("koi8-r"), None);
    }

    #[test]
    fn single_byte_tables() {
        let all: Vec<u8> = (0x80..=0xFF).collect();
        let (w, ok) = decode(&all, Some("windows-1252"));
        assert!(ok);
        assert!(w.starts_with("€\u{81}‚ƒ„…†‡ˆ‰Š‹Œ\u{8d}Ž\u{8f}\u{90}‘’“”•–—˜™š›œ\u{9d}žŸ\u{a0}¡"));
        assert!(w.ends_with("üýþÿ"));
        assert_eq!(decode(b"caf\xe9 \x80", Some("iso-8859-1")).0, "café €");
        assert_eq!(
            decode(b"\xa4\xa6\xa8\xb4\xb8\xbc\xbd\xbe\xe9", Some("iso-8859-15")).0,
            "€ŠšŽžŒœŸé"
        );
    }

    #[test]
    fn utf8_is_lossy_and_ascii_tolerates_8bit() {
        assert_eq!(decode(b"a\xffb", Some("utf-8")).0, "a\u{FFFD}b");
        assert_eq!(decode("Grüße".as_bytes(), Some("us-ascii")).0, "Grüße");
        assert_eq!(decode(b"Gr\xfc\xdfe", Some("us-ascii")).0, "Grüße");
        assert_eq!(decode(b"Gr\xfc\xdfe", None).0, "Grüße");
    }

    #[test]
    fn unknown_charsets_pass_through_flagged() {
        let (s, ok) = decode("привет".as_bytes(), Some("koi8-r"));
        assert!(!ok);
        assert_eq!(s, "привет");
    }
}
