//! The CJK decoders of the WHATWG Encoding Standard (the `cjk` feature):
//! Shift_JIS, EUC-JP, ISO-2022-JP, GBK and gb18030, Big5, EUC-KR.
//!
//! Each follows the standard's decoder algorithm over a whole buffer: an
//! invalid sequence becomes one U+FFFD, and a rejected byte after a lead
//! byte is read again when it is ASCII, so a broken character never takes
//! the next ASCII character with it. The output is at most 3 bytes of
//! UTF-8 per input byte.
//! ISO-2022-JP differs from the standard in two places, to read mail as
//! Python and mail clients do (see `iso_2022_jp`).

mod index;
#[rustfmt::skip]
mod tables;

use super::REPLACEMENT;
use tables::{BIG5, EUC_KR, GB18030, GB18030_RANGES, JIS0208, JIS0212};

/// Reads the byte after a lead byte at `bytes[*i]`: `f` pushes its
/// character(s) and says whether there were any. When it fails, or the
/// input ends, one U+FFFD is pushed; a failed byte that is ASCII is left
/// to be read again.
fn trail(bytes: &[u8], i: &mut usize, out: &mut String, f: impl FnOnce(u8, &mut String) -> bool) {
    match bytes.get(*i) {
        Some(&t) if f(t, out) => *i += 1,
        Some(&t) => {
            if !t.is_ascii() {
                *i += 1;
            }
            out.push(REPLACEMENT);
        }
        None => out.push(REPLACEMENT),
    }
}

/// Pushes the code point of `pointer` in `index`, if there is one.
fn push(index: &index::Index, pointer: usize, out: &mut String) -> bool {
    index.get(pointer).map(|c| out.push(c)).is_some()
}

/// Halfwidth katakana U+FF61..=U+FF9F from 0xA1..=0xDF.
fn katakana(b: u8) -> char {
    char::from_u32(0xFF61 - 0xA1 + b as u32).unwrap_or(REPLACEMENT)
}

/// Shift_JIS, as Windows (code page 932) writes it: JIS X 0208 with the
/// NEC and IBM extensions, user-defined characters F040..F9FC as U+E000...
pub fn shift_jis(bytes: &[u8], out: &mut String) {
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            0x00..=0x80 => out.push(b as char),
            0xA1..=0xDF => out.push(katakana(b)),
            0x81..=0x9F | 0xE0..=0xFC => trail(bytes, &mut i, out, |t, out| {
                if !matches!(t, 0x40..=0x7E | 0x80..=0xFC) {
                    return false;
                }
                let lead = (b - if b < 0xA0 { 0x81 } else { 0xC1 }) as usize;
                let p = lead * 188 + (t - if t < 0x7F { 0x40 } else { 0x41 }) as usize;
                match p {
                    8836..=10715 => {
                        out.extend(char::from_u32(0xE000 - 8836 + p as u32));
                        true
                    }
                    _ => push(&JIS0208, p, out),
                }
            }),
            _ => out.push(REPLACEMENT),
        }
    }
}

/// EUC-JP: JIS X 0208 (two bytes), halfwidth katakana (0x8E + one byte)
/// and JIS X 0212 (0x8F + two bytes).
pub fn euc_jp(bytes: &[u8], out: &mut String) {
    let pointer = |l: u8, t: u8| (l - 0xA1) as usize * 94 + (t - 0xA1) as usize;
    let both = |l: u8, t: u8| matches!(l, 0xA1..=0xFE) && matches!(t, 0xA1..=0xFE);
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            0x00..=0x7F => out.push(b as char),
            0x8E => trail(bytes, &mut i, out, |t, out| {
                matches!(t, 0xA1..=0xDF) && {
                    out.push(katakana(t));
                    true
                }
            }),
            0x8F => match bytes.get(i) {
                Some(&l @ 0xA1..=0xFE) => {
                    i += 1;
                    trail(bytes, &mut i, out, |t, out| {
                        both(l, t) && push(&JIS0212, pointer(l, t), out)
                    })
                }
                _ => trail(bytes, &mut i, out, |_, _| false),
            },
            0xA1..=0xFE => trail(bytes, &mut i, out, |t, out| {
                both(b, t) && push(&JIS0208, pointer(b, t), out)
            }),
            _ => out.push(REPLACEMENT),
        }
    }
}

/// ISO-2022-JP's states: what the bytes between escape sequences are.
#[derive(Clone, Copy)]
enum Jis {
    Ascii,
    /// JIS X 0201 Roman: ASCII with ¥ for \ and ‾ for ~.
    Roman,
    /// JIS X 0201 katakana.
    Katakana,
    /// JIS X 0208, two bytes a character.
    Kanji,
}

/// ISO-2022-JP (RFC 1468), the 7-bit Japanese of mail: ESC ( B ASCII,
/// ESC ( J Roman, ESC ( I katakana, ESC $ @ and ESC $ B JIS X 0208.
///
/// As the WHATWG decoder, except that (as Python's iso2022_jp reads it)
/// an escape sequence right after another is no error (RFC 2047 encoded
/// words each end in ESC ( B and the next starts with ESC $ B, and they
/// are joined before decoding), and C0 controls other than SO, SI and ESC
/// stand for themselves in every state (a line break inside a JIS X 0208
/// run stays a line break). A bad or unfinished escape sequence is one
/// U+FFFD and its bytes are read again in the current state.
pub fn iso_2022_jp(bytes: &[u8], out: &mut String) {
    let mut state = Jis::Ascii;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        if b == 0x1B {
            let next = match (bytes.get(i), bytes.get(i + 1)) {
                (Some(b'('), Some(b'B')) => Some(Jis::Ascii),
                (Some(b'('), Some(b'J')) => Some(Jis::Roman),
                (Some(b'('), Some(b'I')) => Some(Jis::Katakana),
                (Some(b'$'), Some(b'@' | b'B')) => Some(Jis::Kanji),
                _ => None,
            };
            match next {
                Some(s) => {
                    state = s;
                    i += 2;
                }
                None => out.push(REPLACEMENT),
            }
            continue;
        }
        if b < 0x20 && b != 0x0E && b != 0x0F {
            out.push(b as char);
            continue;
        }
        match (state, b) {
            (Jis::Roman, b'\\') => out.push('\u{A5}'),
            (Jis::Roman, b'~') => out.push('\u{203E}'),
            (Jis::Ascii | Jis::Roman, 0x20..=0x7F) => out.push(b as char),
            (Jis::Katakana, 0x21..=0x5F) => out.push(katakana(b - 0x21 + 0xA1)),
            (Jis::Kanji, 0x21..=0x7E) => match bytes.get(i) {
                // ESC (or the end) after a lead byte: the character is lost.
                None | Some(0x1B) => out.push(REPLACEMENT),
                Some(&t) => {
                    i += 1;
                    let pointer = || (b - 0x21) as usize * 94 + (t - 0x21) as usize;
                    if !(matches!(t, 0x21..=0x7E) && push(&JIS0208, pointer(), out)) {
                        out.push(REPLACEMENT);
                    }
                }
            },
            _ => out.push(REPLACEMENT),
        }
    }
}

/// The code point of a gb18030 four-byte sequence's pointer
/// (index-gb18030-ranges, and the supplementary planes after 189000).
fn gb18030_range(p: usize) -> Option<char> {
    let cp = match p {
        7457 => 0xE7C7,
        189000..=1237575 => 0x10000 + p as u32 - 189000,
        0..=39419 => {
            let at = GB18030_RANGES.partition_point(|&(start, _)| start as usize <= p);
            let (start, first) = GB18030_RANGES[at.checked_sub(1)?];
            first as u32 + (p - start as usize) as u32
        }
        _ => return None,
    };
    char::from_u32(cp)
}

/// GBK and gb18030 (WHATWG reads GBK labels, gb2312 among them, with the
/// gb18030 decoder): 0x80 is €, two-byte sequences from index-gb18030,
/// four-byte ones (digits as the second and fourth byte) by ranges.
pub fn gb18030(bytes: &[u8], out: &mut String) {
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            0x00..=0x7F => out.push(b as char),
            0x80 => out.push('€'),
            0x81..=0xFE => match (bytes.get(i), bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(&b2 @ 0x30..=0x39), Some(&b3 @ 0x81..=0xFE), Some(&b4 @ 0x30..=0x39)) => {
                    i += 3;
                    let p = (((b - 0x81) as usize * 10 + (b2 - 0x30) as usize) * 126
                        + (b3 - 0x81) as usize)
                        * 10
                        + (b4 - 0x30) as usize;
                    out.push(gb18030_range(p).unwrap_or(REPLACEMENT));
                }
                // A four-byte sequence cut short by the end of the input:
                // one U+FFFD for all of it.
                (Some(0x30..=0x39), None, _) | (Some(0x30..=0x39), Some(0x81..=0xFE), None) => {
                    out.push(REPLACEMENT);
                    i = bytes.len();
                }
                // Broken by a wrong third or fourth byte: U+FFFD for the
                // lead byte, the rest is read again (the digit as ASCII).
                (Some(0x30..=0x39), _, _) => out.push(REPLACEMENT),
                _ => trail(bytes, &mut i, out, |t, out| {
                    matches!(t, 0x40..=0x7E | 0x80..=0xFE) && {
                        let p = (b - 0x81) as usize * 190
                            + (t - if t < 0x7F { 0x40 } else { 0x41 }) as usize;
                        push(&GB18030, p, out)
                    }
                }),
            },
            _ => out.push(REPLACEMENT),
        }
    }
}

/// Big5 with the Hong Kong Supplementary Character Set (index-big5).
pub fn big5(bytes: &[u8], out: &mut String) {
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            0x00..=0x7F => out.push(b as char),
            0x81..=0xFE => trail(bytes, &mut i, out, |t, out| {
                if !matches!(t, 0x40..=0x7E | 0xA1..=0xFE) {
                    return false;
                }
                let p =
                    (b - 0x81) as usize * 157 + (t - if t < 0x7F { 0x40 } else { 0x62 }) as usize;
                // Four pointers are a letter and a combining mark.
                let pair = match p {
                    1133 => "\u{CA}\u{304}",
                    1135 => "\u{CA}\u{30C}",
                    1164 => "\u{EA}\u{304}",
                    1166 => "\u{EA}\u{30C}",
                    _ => return push(&BIG5, p, out),
                };
                out.push_str(pair);
                true
            }),
            _ => out.push(REPLACEMENT),
        }
    }
}

/// EUC-KR as Windows (code page 949, Unified Hangul Code) writes it: KS X
/// 1001 and the other 8,822 Hangul syllables.
pub fn euc_kr(bytes: &[u8], out: &mut String) {
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            0x00..=0x7F => out.push(b as char),
            0x81..=0xFE => trail(bytes, &mut i, out, |t, out| {
                let pointer = || (b - 0x81) as usize * 190 + (t - 0x41) as usize;
                (0x41..=0xFE).contains(&t) && push(&EUC_KR, pointer(), out)
            }),
            _ => out.push(REPLACEMENT),
        }
    }
}
