//! UTF-16 and UTF-7, decoded as Python's codecs decode them with
//! errors="replace", except that a lone surrogate (which Python's UTF-7
//! passes on) becomes U+FFFD: a Rust string cannot hold one.

use super::REPLACEMENT;
use crate::mime::decode::sextet;

/// UTF-16 code units, big- or little-endian. An unpaired surrogate is one
/// U+FFFD and the unit after it is read on its own; an odd last byte is
/// one U+FFFD (together with a high surrogate before it). A byte order
/// mark is kept as U+FEFF, as Python's utf-16-be and utf-16-le keep it.
pub(super) fn utf16(bytes: &[u8], big_endian: bool, out: &mut String) {
    let units = bytes.chunks_exact(2).map(|c| {
        let pair = [c[0], c[1]];
        if big_endian {
            u16::from_be_bytes(pair)
        } else {
            u16::from_le_bytes(pair)
        }
    });
    let last_is_high = units
        .clone()
        .next_back()
        .is_some_and(|u| (0xD800..0xDC00).contains(&u));
    out.extend(char::decode_utf16(units).map(|r| r.unwrap_or(REPLACEMENT)));
    if bytes.len() % 2 == 1 && !last_is_high {
        out.push(REPLACEMENT);
    }
}

/// A base64 run of UTF-7: the bits not yet used and a high surrogate
/// waiting for its low one.
#[derive(Default)]
struct Shift {
    buf: u32,
    bits: u32,
    high: Option<u16>,
}

impl Shift {
    /// Whether the run may end here: no whole base64 character unused, the
    /// bits left over zero (RFC 2152's padding).
    fn clean(&self) -> bool {
        self.bits < 6 && self.buf == 0
    }
}

/// UTF-7 (RFC 2152), with Python's utf-7 codec's rules: "+" starts a run
/// of modified base64 of UTF-16, "+-" is "+", a "-" ending a run is
/// dropped and any other character ends it and stands for itself. A run
/// ending with unused bits is one U+FFFD that takes the character ending
/// it; "+" followed by a character that is neither "-" nor base64 is one
/// U+FFFD for both; a byte over 0x7F is U+FFFD. Nothing else is lost: the
/// decoder returns to plain text at the first character outside base64.
pub(super) fn utf7(bytes: &[u8], out: &mut String) {
    let mut shift: Option<Shift> = None;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let Some(s) = shift.as_mut() else {
            i += 1;
            match b {
                b'+' => match bytes.get(i) {
                    Some(b'-') => {
                        i += 1;
                        out.push('+');
                    }
                    Some(&c) if sextet(c).is_none() => {
                        i += 1;
                        out.push(REPLACEMENT);
                    }
                    _ => shift = Some(Shift::default()),
                },
                0x00..=0x7F => out.push(b as char),
                _ => out.push(REPLACEMENT),
            }
            continue;
        };
        if let Some(v) = sextet(b) {
            i += 1;
            s.buf = s.buf << 6 | v;
            s.bits += 6;
            if s.bits >= 16 {
                s.bits -= 16;
                let unit = (s.buf >> s.bits) as u16;
                s.buf &= (1 << s.bits) - 1;
                if let Some(high) = s.high.take() {
                    if (0xDC00..0xE000).contains(&unit) {
                        let c = 0x10000 + ((high as u32 - 0xD800) << 10) + (unit as u32 - 0xDC00);
                        out.extend(char::from_u32(c));
                        continue;
                    }
                    out.push(REPLACEMENT);
                }
                match unit {
                    0xD800..=0xDBFF => s.high = Some(unit),
                    _ => out.push(char::from_u32(unit as u32).unwrap_or(REPLACEMENT)),
                }
            }
            continue;
        }
        // The run ends at b.
        let clean = s.clean();
        let high = s.high.is_some();
        shift = None;
        if !clean {
            i += 1;
            out.push(REPLACEMENT);
            continue;
        }
        // Python keeps a waiting high surrogate (here U+FFFD) when plain
        // ASCII follows, and drops it before a byte it rejects anyway.
        if high && b.is_ascii() {
            out.push(REPLACEMENT);
        }
        if b == b'-' {
            i += 1;
        }
    }
    if shift.is_some_and(|s| !s.clean() || s.high.is_some()) {
        out.push(REPLACEMENT);
    }
}
