//! Content-Transfer-Encoding decoders (RFC 2045 §6), streaming: input
//! arrives in pieces of any size, output goes to a callback, and the state
//! carried between pieces is a few bytes. Both are tolerant the way mail
//! clients are: bad characters are skipped or kept, never an error.

/// Bytes per output flush.
const CHUNK: usize = 4096;

/// A small output buffer that hands full chunks to a callback.
pub struct Out<'f> {
    buf: [u8; CHUNK],
    len: usize,
    f: &'f mut dyn FnMut(&[u8]),
}

impl<'f> Out<'f> {
    fn new(f: &'f mut dyn FnMut(&[u8])) -> Self {
        Out {
            buf: [0; CHUNK],
            len: 0,
            f,
        }
    }

    fn push(&mut self, b: u8) {
        if self.len == CHUNK {
            (self.f)(&self.buf);
            self.len = 0;
        }
        self.buf[self.len] = b;
        self.len += 1;
    }
    fn flush(&mut self) {
        if self.len > 0 {
            (self.f)(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// A streaming decoder: `feed` it the input in pieces of any size, then
/// `finish` once; decoded bytes go to the callback in chunks.
pub trait Decode: Default {
    /// Decodes one input byte.
    fn byte(&mut self, b: u8, out: &mut Out);

    /// End of input: writes or drops what was held back.
    fn end(&mut self, out: &mut Out);

    fn feed(&mut self, input: &[u8], f: &mut dyn FnMut(&[u8])) {
        let mut out = Out::new(f);
        for &b in input {
            self.byte(b, &mut out);
        }
        out.flush();
    }

    fn finish(&mut self, f: &mut dyn FnMut(&[u8])) {
        let mut out = Out::new(f);
        self.end(&mut out);
        out.flush();
    }
}

/// Decodes all of `input` at once; `capacity` is the expected output size.
fn decode_all<D: Decode>(input: &[u8], capacity: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(capacity);
    let mut d = D::default();
    d.feed(input, &mut |b| v.extend_from_slice(b));
    d.finish(&mut |b| v.extend_from_slice(b));
    v
}

/// The longest run of spaces/tabs held back while waiting to see whether
/// it ends the line (RFC 2045 §6.7 rule 3: trailing white space is
/// padding added in transport). Longer runs are real content.
const MAX_HELD_SPACE: usize = 256;

/// Quoted-printable (RFC 2045 §6.7). Input uses LF or CRLF line ends.
#[derive(Default)]
pub struct QuotedPrintable {
    /// Bytes after a `=` not yet resolved (at most 2).
    pending: Vec<u8>,
    /// Spaces/tabs not yet known to be inside the line.
    space: Vec<u8>,
    /// A CR that may be the start of CRLF.
    cr: bool,
}

impl Decode for QuotedPrintable {
    fn byte(&mut self, b: u8, out: &mut Out) {
        if self.cr {
            self.cr = false;
            if b == b'\n' {
                self.step(b'\n', out);
                return;
            }
            // A lone CR is content.
            self.step(b'\r', out);
        }
        if b == b'\r' {
            self.cr = true;
            return;
        }
        self.step(b, out);
    }

    /// End of input: a dangling `=` and its bytes are kept literally;
    /// trailing white space is dropped.
    fn end(&mut self, out: &mut Out) {
        if self.cr {
            self.cr = false;
            self.step(b'\r', out);
        }
        let held = std::mem::take(&mut self.pending);
        if let Some((_, rest)) = held.split_first()
            && !rest.iter().all(|&c| c == b' ' || c == b'\t')
        {
            out.push(b'=');
            for &c in rest {
                out.push(c);
            }
        }
        self.space.clear();
    }
}

impl QuotedPrintable {
    /// One byte with CRLF already folded to LF.
    fn step(&mut self, b: u8, out: &mut Out) {
        if !self.pending.is_empty() {
            // After '=': a soft line break, a hex pair, or (tolerated) junk.
            self.pending.push(b);
            let p = &self.pending;
            if p[1] == b'\n' {
                // "=\n": soft line break.
                self.pending.clear();
                return;
            }
            if p[1] == b' ' || p[1] == b'\t' {
                // "=  \n" is a soft break with transport padding; keep
                // waiting while white space continues (bounded).
                if b == b'\n' {
                    self.pending.clear();
                    return;
                }
                if (b == b' ' || b == b'\t') && self.pending.len() < MAX_HELD_SPACE {
                    return;
                }
                let held = std::mem::take(&mut self.pending);
                out.push(b'=');
                for &c in &held[1..] {
                    self.step(c, out);
                }
                return;
            }
            if p.len() < 3 {
                if hex(p[1]).is_none() {
                    // "=" followed by a non-hex byte: keep both literally.
                    let held = std::mem::take(&mut self.pending);
                    out.push(b'=');
                    self.step(held[1], out);
                }
                return;
            }
            let held = std::mem::take(&mut self.pending);
            match (hex(held[1]), hex(held[2])) {
                (Some(h), Some(l)) => self.content(h << 4 | l, out),
                _ => {
                    out.push(b'=');
                    self.content(held[1], out);
                    self.step(held[2], out);
                }
            }
            return;
        }
        match b {
            b'=' => {
                self.flush_space(out);
                self.pending.push(b'=');
            }
            b' ' | b'\t' => {
                if self.space.len() >= MAX_HELD_SPACE {
                    self.flush_space(out);
                }
                self.space.push(b);
            }
            b'\n' => {
                self.space.clear();
                out.push(b'\n');
            }
            _ => self.content(b, out),
        }
    }

    fn content(&mut self, b: u8, out: &mut Out) {
        self.flush_space(out);
        out.push(b);
    }

    fn flush_space(&mut self, out: &mut Out) {
        for &s in &self.space {
            out.push(s);
        }
        self.space.clear();
    }
}

/// The value of a base64 alphabet character (RFC 4648 table 1), for the
/// lenient MIME decoder here and DKIM's strict one.
pub fn sextet(b: u8) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Base64 (RFC 2045 §6.8). Characters outside the alphabet (line breaks,
/// junk) are skipped. The padding that completes a quantum (`=` after
/// three characters, `==` after two) ends the data: what follows (an
/// epilogue let in by a broken close delimiter) is ignored, as by
/// Python's binascii; a `=` anywhere else is skipped.
#[derive(Default)]
pub struct Base64 {
    acc: u32,
    n: u8,
    /// `=` seen since the last alphabet character.
    pads: u8,
    done: bool,
}

impl Decode for Base64 {
    fn byte(&mut self, b: u8, out: &mut Out) {
        if self.done {
            return;
        }
        if b == b'=' {
            if self.n >= 2 {
                self.pads += 1;
                if self.n + self.pads >= 4 {
                    self.flush_partial(out);
                    self.done = true;
                }
            }
            return;
        }
        let Some(v) = sextet(b) else { return };
        self.pads = 0;
        self.acc = self.acc << 6 | v;
        self.n += 1;
        if self.n == 4 {
            out.push((self.acc >> 16) as u8);
            out.push((self.acc >> 8) as u8);
            out.push(self.acc as u8);
            self.acc = 0;
            self.n = 0;
        }
    }

    fn end(&mut self, out: &mut Out) {
        self.flush_partial(out);
    }
}

impl Base64 {
    /// A quantum cut short (by padding or the end): 2 sextets make one
    /// byte, 3 make two, 1 is not a byte.
    fn flush_partial(&mut self, out: &mut Out) {
        match self.n {
            2 => out.push((self.acc >> 4) as u8),
            3 => {
                out.push((self.acc >> 10) as u8);
                out.push((self.acc >> 2) as u8);
            }
            _ => {}
        }
        self.acc = 0;
        self.n = 0;
    }
}

/// The part of a uuencoded line looked at: a line gives at most 63 bytes,
/// from 84 characters after the length; the rest of a longer line is junk.
const UU_LINE: usize = 128;

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum UuState {
    /// Looking for the `begin` line.
    #[default]
    Begin,
    Data,
    /// After `end`: the rest is ignored.
    End,
}

/// uudecode (Content-Transfer-Encoding x-uuencode, and `begin … end`
/// blocks in plain text). Lines before `begin MODE NAME` are skipped;
/// after it each line gives as many bytes as its first character says
/// ((c − 32) mod 64: space and backtick are 0), 6 bits per character,
/// characters missing (eaten trailing spaces) counting as 0, until `end`.
/// Bytes outside the alphabet are taken mod 64 as by BSD uudecode.
#[derive(Default)]
pub struct Uudecode {
    line: Vec<u8>,
    state: UuState,
}

impl Uudecode {
    /// A decoder already past the `begin` line (a block found in text).
    pub fn in_block() -> Uudecode {
        Uudecode {
            line: Vec::new(),
            state: UuState::Data,
        }
    }

    fn end_line(&mut self, out: &mut Out) {
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        match self.state {
            UuState::Begin if uu_begin(line).is_some() => self.state = UuState::Data,
            UuState::Data if line.trim_ascii() == b"end" => self.state = UuState::End,
            UuState::Data => uu_line(line, out),
            _ => {}
        }
        self.line.clear();
    }
}

impl Decode for Uudecode {
    fn byte(&mut self, b: u8, out: &mut Out) {
        if b == b'\n' {
            self.end_line(out);
        } else if self.line.len() < UU_LINE {
            self.line.push(b);
        }
    }

    fn end(&mut self, out: &mut Out) {
        if !self.line.is_empty() {
            self.end_line(out);
        }
    }
}

/// The name in a `begin MODE NAME` line (MODE in octal; the name may be
/// empty), or None if `line` is not one.
pub fn uu_begin(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"begin ")?;
    let (mode, name) = match rest.iter().position(|&b| b == b' ') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b""[..]),
    };
    let octal = !mode.is_empty() && mode.iter().all(|b| (b'0'..=b'7').contains(b));
    octal.then(|| name.trim_ascii())
}

/// One line of uuencoded data.
fn uu_line(line: &[u8], out: &mut Out) {
    let Some((&len, rest)) = line.split_first() else {
        return;
    };
    let mut chars = rest.iter();
    let (mut left, mut acc, mut bits) = (len.wrapping_sub(b' ') & 63, 0u32, 0);
    while left > 0 {
        let c = chars.next().map_or(0, |&c| c.wrapping_sub(b' ') & 63);
        acc = (acc << 6 | c as u32) & 0xfff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            left -= 1;
        }
    }
}

/// Decodes a whole uuencoded text (begin line, data, end).
pub fn uudecode(input: &[u8]) -> Vec<u8> {
    decode_all::<Uudecode>(input, input.len() * 3 / 4)
}

/// How much of a text part declared base64 is looked at before deciding
/// whether it is base64 at all.
pub const SNIFF: usize = 1024;

/// Whether `sample`, the start of a text part declared base64, is
/// base64: at most one byte in 16 is foreign (neither in the alphabet nor
/// `=`, a line break, or white space before a line break). Text sent
/// under a wrong label has a space between words and punctuation; real
/// base64 has no foreign byte, or a stray one.
pub fn looks_like_base64(sample: &[u8]) -> bool {
    let foreign: usize = sample
        .split(|&b| b == b'\n')
        .map(|line| {
            let end = line
                .iter()
                .rposition(|&b| !matches!(b, b' ' | b'\t' | b'\r'))
                .map_or(0, |i| i + 1);
            line[..end]
                .iter()
                .filter(|&&b| b != b'=' && sextet(b).is_none())
                .count()
        })
        .sum();
    foreign * 16 <= sample.len()
}

/// Decodes a whole base64 string (for RFC 2047 encoded words).
pub fn base64(input: &[u8]) -> Vec<u8> {
    decode_all::<Base64>(input, input.len() * 3 / 4)
}

/// Decodes a whole quoted-printable string.
pub fn quoted_printable(input: &[u8]) -> Vec<u8> {
    decode_all::<QuotedPrintable>(input, input.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` one byte at a time, to exercise the carried state.
    fn qp_bytewise(input: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        let mut d = QuotedPrintable::default();
        for b in input {
            d.feed(std::slice::from_ref(b), &mut |o| v.extend_from_slice(o));
        }
        d.finish(&mut |o| v.extend_from_slice(o));
        v
    }

    /// Decodes each case's input with `decode` (`how` says which way).
    fn check(how: &str, decode: fn(&[u8]) -> Vec<u8>, cases: &[(&[u8], &[u8])]) {
        for (input, want) in cases {
            let shown = String::from_utf8_lossy(input);
            assert_eq!(decode(input), *want, "{how} {shown:?}");
        }
    }

    #[test]
    fn quoted_printable_cases() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"caf=C3=A9", "café".as_bytes()),
            (b"caf=c3=a9", "café".as_bytes()),
            (b"soft=\nbreak", b"softbreak"),
            (b"soft=\r\nbreak", b"softbreak"),
            (b"soft=  \nbreak", b"softbreak"),
            (b"trailing   \nspace", b"trailing\nspace"),
            (b"keep=20\n", b"keep \n"),
            (b"crlf\r\nline", b"crlf\nline"),
            // A final "=" is a soft line break with nothing after it.
            (b"bad=ZZ=", b"bad=ZZ"),
            (b"bad=4", b"bad=4"),
            (b"a=3Db", b"a=b"),
            (b"=\n", b""),
            (b"lone\rcr", b"lone\rcr"),
            (b"eq=\rx", b"eq=\rx"),
            (b"a = b", b"a = b"),
        ];
        check("whole", quoted_printable, cases);
        check("bytewise", qp_bytewise, cases);
    }

    #[test]
    fn base64_cases() {
        // All ASCII, so written as text: (encoded, decoded).
        let cases = [
            ("aGVsbG8=", "hello"),
            ("aGVs\nbG8gd29y\r\nbGQ=", "hello world"),
            ("aGVsbG8", "hello"),
            ("a", ""),
            ("!!aG!k=", "hi"),
            // Padding ends the data (what Python's email gives too): a
            // second encoding run on, or an epilogue after a broken
            // close delimiter, adds nothing.
            ("aGk=\naGk=", "hi"),
            ("aGVsbA==bG8=", "hell"),
            ("aGVsbG8=\n--b-\nThis is the epilogue", "hello"),
            // A `=` that does not complete a quantum is skipped.
            ("a=GVs", "hel"),
            ("aG=k=", "hi"),
            ("=aGk=", "hi"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want.as_bytes(), "{input:?}");
        }
    }

    #[test]
    fn uudecode_cases() {
        let hello = "begin 644 hello.txt\n&:&5L;&\\*\n`\nend\n";
        let cases: &[(&str, &[u8])] = &[
            (hello, b"hello\n"),
            // Lines before `begin` and after `end` are not data.
            (
                "junk\nbegin 0644 x\r\n#86)C\r\n \r\n end \r\n#86)C\n",
                b"abc",
            ),
            // A line without `end`, a space for zero, trailing spaces eaten.
            ("begin 600 x\n#86)C", b"abc"),
            ("begin 600 x\n#0``", b"@\0\0"),
            ("begin 600 x\n#0", b"@\0\0"),
            // A length beyond the characters given, junk past the length.
            ("begin 600 x\n#86)CZZZZ\n", b"abc"),
            ("begin 600 x\n_\n", &[0; 63]),
            // No begin line (or one without an octal mode): nothing.
            ("#86)C\n", b""),
            ("begin 6a4 x\n#86)C\n", b""),
            ("begin 644\n#86)C\n", b"abc"),
        ];
        for (input, want) in cases {
            assert_eq!(uudecode(input.as_bytes()), *want, "{input:?}");
        }
        assert_eq!(uu_begin(b"begin 644 a b.txt "), Some(&b"a b.txt"[..]));
        assert_eq!(uu_begin(b"begin 644"), Some(&b""[..]));
        assert_eq!(uu_begin(b"begin  644 x"), None);
        assert_eq!(uu_begin(b"beginning 644 x"), None);
    }

    #[test]
    fn base64_or_mislabelled_text() {
        assert!(looks_like_base64(b"aGVs\r\nbG8=  \r\n\r\n"));
        assert!(looks_like_base64(b""));
        // One stray byte in 16 is tolerated.
        assert!(looks_like_base64(b"aGVsbG8gd29ybGQ!"));
        assert!(!looks_like_base64(b"aGVsbG8gd29ybG!!"));
        assert!(!looks_like_base64(b"Hello Bob\nSee you\n"));
    }

    #[test]
    fn large_outputs_cross_the_chunk_size() {
        let data: Vec<u8> = (0..20000u32).map(|i| (i * 7) as u8).collect();
        // Encode with a tiny local encoder, decode in odd pieces.
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut enc = Vec::new();
        for c in data.chunks(3) {
            let n = (c[0] as u32) << 16
                | (*c.get(1).unwrap_or(&0) as u32) << 8
                | *c.get(2).unwrap_or(&0) as u32;
            for i in 0..=c.len() {
                enc.push(A[(n >> (18 - 6 * i) & 63) as usize]);
            }
            if enc.len() % 77 == 76 {
                enc.push(b'\n');
            }
        }
        let mut got = Vec::new();
        let mut d = Base64::default();
        for piece in enc.chunks(1001) {
            d.feed(piece, &mut |b| got.extend_from_slice(b));
        }
        d.finish(&mut |b| got.extend_from_slice(b));
        assert_eq!(got, data);
    }
}
