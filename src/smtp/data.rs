//! The DATA decoder (RFC 5321 §4.1.1.4, §4.5.2): finds the end of the
//! message, undoes dot-stuffing and turns CRLF into LF, across any split of
//! the input into reads.
//!
//! The end of data is exactly `<CRLF>.<CRLF>`, where the first CRLF may be
//! the one that ended the DATA command. Nothing else ends a message: a dot
//! line after a bare LF or with a bare CR (`<LF>.<LF>`, `<CRLF>.<LF>`,
//! `<CR>.<CR>`, …) is content, so a second message cannot be smuggled in.
//!
//! Stored bytes: CRLF → LF; a bare LF stays LF; a bare CR stays CR. A
//! period at the start of a line (that is, after CRLF) is removed unless it
//! begins the terminator — RFC 5321 §4.5.2 ("the first character is
//! deleted"), applied literally, also when the next byte is a bare CR or LF.

/// Writes `b` and then the bytes of `input` from `*i` up to the next CR
/// (as many as fit, leaving one byte of `out` free) at `out[*o..]`,
/// advancing both positions; returns the number of bytes after `b`.
/// `out` must have at least one free byte. Both decoders' fast path.
#[inline]
fn copy_run(b: u8, input: &[u8], i: &mut usize, out: &mut [u8], o: &mut usize) -> usize {
    let avail = (out.len() - *o - 1).min(input.len() - *i);
    let run = input[*i..*i + avail]
        .iter()
        .position(|&c| c == b'\r')
        .unwrap_or(avail);
    out[*o] = b;
    out[*o + 1..*o + 1 + run].copy_from_slice(&input[*i..*i + run]);
    *o += 1 + run;
    *i += run;
    run
}

/// Where the decoder stands in the byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// Just after CRLF (or at the very start).
    LineStart,
    /// After CRLF ".".
    Dot,
    /// After CRLF "." CR.
    DotCr,
    /// Inside a line.
    Middle,
    /// After a CR inside a line; the CR is held back until we know whether
    /// an LF follows.
    Cr,
}

/// Result of one `decode` call.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes used.
    pub consumed: usize,
    /// Bytes written to the output.
    pub produced: usize,
    /// The terminator was consumed; the message is complete.
    pub end: bool,
}

#[derive(Debug)]
pub struct DotDecoder {
    at: At,
    /// Message size as RFC 1870 counts it: bytes after dot-unstuffing,
    /// CRLF counted as two.
    wire_bytes: u64,
}

impl Default for DotDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl DotDecoder {
    pub fn new() -> Self {
        DotDecoder {
            at: At::LineStart,
            wire_bytes: 0,
        }
    }

    pub fn wire_bytes(&self) -> u64 {
        self.wire_bytes
    }

    /// Decodes from `input` into `out` until the input is used up, the
    /// output has fewer than two free bytes, or the terminator is consumed.
    /// `out` must hold at least two bytes.
    pub fn decode(&mut self, input: &[u8], out: &mut [u8]) -> Decoded {
        assert!(out.len() >= 2, "output buffer too small");
        let (mut i, mut o) = (0, 0);
        while i < input.len() && o + 2 <= out.len() {
            let b = input[i];
            i += 1;
            match (self.at, b) {
                (At::Middle | At::LineStart, b'\r') => self.at = At::Cr,
                (At::LineStart, b'.') => self.at = At::Dot,
                (At::Middle | At::LineStart, _) => {
                    // Copy the run of ordinary bytes up to the next CR in one go.
                    let run = copy_run(b, input, &mut i, out, &mut o);
                    self.wire_bytes += 1 + run as u64;
                    self.at = At::Middle;
                }
                (At::Cr, b'\n') => {
                    out[o] = b'\n';
                    o += 1;
                    self.wire_bytes += 2;
                    self.at = At::LineStart;
                }
                (At::Cr, b'\r') => {
                    // The held CR was bare; this one is held in turn.
                    out[o] = b'\r';
                    o += 1;
                    self.wire_bytes += 1;
                }
                (At::Cr, _) => {
                    out[o] = b'\r';
                    out[o + 1] = b;
                    o += 2;
                    self.wire_bytes += 2;
                    self.at = At::Middle;
                }
                (At::Dot, b'\r') => self.at = At::DotCr,
                (At::Dot, _) => {
                    // Dot-stuffing undone: the dot is dropped, `b` is content.
                    self.at = At::Middle;
                    i -= 1;
                }
                (At::DotCr, b'\n') => {
                    self.at = At::LineStart;
                    return Decoded {
                        consumed: i,
                        produced: o,
                        end: true,
                    };
                }
                (At::DotCr, _) => {
                    // "CRLF . CR x": the dot was stuffing, the CR is bare
                    // (or starts a CRLF, which the Cr state will see).
                    self.at = At::Cr;
                    i -= 1;
                }
            }
        }
        Decoded {
            consumed: i,
            produced: o,
            end: false,
        }
    }
}

/// BDAT content (RFC 3030): octets are never dot-unstuffed; the line
/// endings are stored as the DATA path stores them (CRLF → LF, a bare LF
/// stays LF, a bare CR stays CR), across any split into reads and chunks:
/// a CR at the end of a chunk is held until the next octet is known.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    /// The last octet was a CR, not yet written.
    cr: bool,
    /// Octets received over all chunks (RFC 3030's message size).
    octets: u64,
}

impl ChunkDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn octets(&self) -> u64 {
        self.octets
    }

    /// Decodes from `input` into `out` until the input is used up or the
    /// output has fewer than two free bytes; returns (consumed, produced).
    /// `out` must hold at least two bytes.
    pub fn decode(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        assert!(out.len() >= 2, "output buffer too small");
        let (mut i, mut o) = (0, 0);
        while i < input.len() && o + 2 <= out.len() {
            let b = input[i];
            i += 1;
            if std::mem::take(&mut self.cr) && b != b'\n' {
                out[o] = b'\r';
                o += 1;
            }
            if b == b'\r' {
                self.cr = true;
                continue;
            }
            // b, then the run of ordinary bytes up to the next CR.
            copy_run(b, input, &mut i, out, &mut o);
        }
        self.octets += i as u64;
        (i, o)
    }

    /// After the LAST chunk: a held CR was bare and is content.
    pub fn finish(&mut self) -> bool {
        std::mem::take(&mut self.cr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` split into pieces of `step` bytes with an output
    /// buffer of `out_len`; returns (stored bytes, bytes left after the end).
    fn run(input: &[u8], step: usize, out_len: usize) -> (Vec<u8>, Option<Vec<u8>>, u64) {
        let mut d = DotDecoder::new();
        let mut out = vec![0u8; out_len];
        let mut stored = Vec::new();
        let mut pos = 0;
        while pos < input.len() {
            let end = (pos + step).min(input.len());
            let mut chunk = &input[pos..end];
            while !chunk.is_empty() {
                let r = d.decode(chunk, &mut out);
                stored.extend_from_slice(&out[..r.produced]);
                chunk = &chunk[r.consumed..];
                if r.end {
                    let rest = [chunk, &input[end..]].concat();
                    return (stored, Some(rest), d.wire_bytes());
                }
            }
            pos = end;
        }
        (stored, None, d.wire_bytes())
    }

    fn whole(input: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
        let (s, r, _) = run(input, input.len().max(1), 64 * 1024);
        // Every split and every small output buffer gives the same answer.
        for step in [1, 2, 3, 5, 7] {
            for out_len in [2, 3, 4, 17, 4096] {
                let (s2, r2, _) = run(input, step, out_len);
                assert_eq!(
                    (&s2, &r2),
                    (&s, &r),
                    "step {step} out {out_len} on {input:?}"
                );
            }
        }
        (s, r)
    }

    #[test]
    fn crlf_becomes_lf_and_terminator_ends() {
        let (s, r) = whole(b"Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n");
        assert_eq!(s, b"Subject: x\n\nhello\n");
        assert_eq!(r.unwrap(), b"QUIT\r\n");
    }

    #[test]
    fn empty_message_ends_at_once() {
        let (s, r) = whole(b".\r\n");
        assert_eq!(s, b"");
        assert_eq!(r.unwrap(), b"");
    }

    #[test]
    fn dot_stuffing_is_undone() {
        let (s, _) = whole(b"..\r\n..x\r\n.y\r\n...\r\n.\r\n");
        assert_eq!(s, b".\n.x\ny\n..\n");
    }

    #[test]
    fn dot_in_the_middle_of_a_line_stays() {
        let (s, _) = whole(b"a.b\r\nx .\r\n.\r\n");
        assert_eq!(s, b"a.b\nx .\n");
    }

    #[test]
    fn bare_lf_dot_lf_is_content() {
        let (s, r) = whole(b"a\n.\nb\r\n.\r\n");
        assert_eq!(s, b"a\n.\nb\n");
        assert_eq!(r.unwrap(), b"");
    }

    #[test]
    fn every_other_dot_line_variant_is_content() {
        // (input, stored) — none of these ends the message; the final
        // "\r\n.\r\n" does.
        let cases: &[(&[u8], &[u8])] = &[
            (b"a\n.\n", b"a\n.\n"),
            (b"a\r.\r", b"a\r.\r"),
            (b"a\n.\r\n", b"a\n.\n"),
            (b"a\r.\r\n", b"a\r.\n"),
            (b"a\r\n.\n", b"a\n\n"),
            (b"a\r\n.\r", b"a\n\r"),
            (b"a\r\n.\rX", b"a\n\rX"),
            (b"a\r\r\n.\r\r\n", b"a\r\n\r\n"),
        ];
        for (content, want) in cases {
            let input = [*content, b"\r\nMAIL FROM:<evil@x.org>\r\n.\r\n"].concat();
            let (s, r) = whole(&input);
            let want = [*want, b"\nMAIL FROM:<evil@x.org>\n"].concat();
            assert_eq!(s, want, "content {content:?}");
            assert_eq!(r.unwrap(), b"", "content {content:?}");
        }
    }

    #[test]
    fn smuggled_second_message_is_content() {
        let input = b"x\r\n\n.\nMAIL FROM:<a@b.org>\r\nRCPT TO:<c@d.org>\r\nDATA\r\nevil\r\n.\r\n";
        let (s, r) = whole(input);
        assert_eq!(
            s,
            b"x\n\n.\nMAIL FROM:<a@b.org>\nRCPT TO:<c@d.org>\nDATA\nevil\n"
        );
        assert_eq!(r.unwrap(), b"");
    }

    #[test]
    fn bare_cr_stays_a_cr() {
        let (s, _) = whole(b"a\rb\r\r\n\r\r\r\n.\r\n");
        assert_eq!(s, b"a\rb\r\n\r\r\n");
    }

    #[test]
    fn any_byte_value_passes() {
        let body: Vec<u8> = (0..=255u8).filter(|&b| b != b'\r' && b != b'\n').collect();
        let input = [&body[..], b"\r\n.\r\n"].concat();
        let (s, _) = whole(&input);
        assert_eq!(s, [&body[..], b"\n"].concat());
    }

    #[test]
    fn unterminated_input_asks_for_more() {
        let (s, r) = whole(b"abc\r\n.");
        assert_eq!(s, b"abc\n");
        assert_eq!(r, None);
        let (s, r) = whole(b"abc\r\n.\r");
        assert_eq!(s, b"abc\n");
        assert_eq!(r, None);
    }

    #[test]
    fn wire_size_counts_crlf_as_two_and_stuffing_as_nothing() {
        let (_, _, n) = run(b"ab\r\n..\r\n.\r\n", 1, 16);
        // "ab\r\n" + ".\r\n" after unstuffing = 7 bytes.
        assert_eq!(n, 7);
        let (_, _, n) = run(b"a\rb\nc\r\n.\r\n", 100, 4096);
        assert_eq!(n, 7);
    }

    #[test]
    fn long_lines_need_no_buffering() {
        let line = vec![b'x'; 300_000];
        let input = [&line[..], b"\r\n.\r\n"].concat();
        let (s, r, _) = run(&input, 8192, 1000);
        assert_eq!(s.len(), 300_001);
        assert_eq!(r.unwrap(), b"");
    }
}
