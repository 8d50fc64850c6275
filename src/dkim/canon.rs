//! Canonicalization (RFC 6376 section 3.4): `simple` and `relaxed`, for
//! header fields and for the body. The body canonicalizer is a streaming
//! state machine: bytes go in as they arrive from DATA, canonical bytes
//! come out into the hash, and what it holds is two counters and a flag,
//! whatever the size of the message.

use crate::crypto::sha2::Sha256;

/// Bytes gathered before they go to SHA-256 (see `Body::stage`).
const STAGE: usize = 256;

/// Per byte: 1 for CR and LF, 2 for SP and HTAB (a table lookup scans a
/// body faster than four comparisons).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'\r' as usize] = 1;
    t[b'\n' as usize] = 1;
    t[b' ' as usize] = 2;
    t[b'\t' as usize] = 2;
    t
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Canon {
    Simple,
    Relaxed,
}

fn wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// One header field as the header hash takes it. `field` is the field as
/// stored, name to the end of its last line, without the final line
/// break; the result ends with CRLF (section 3.7: every hashed field is
/// followed by CRLF, except the DKIM-Signature itself, whose caller cuts
/// the last two bytes off).
///
/// - simple (3.4.1): unchanged, lines ending in CRLF however stored.
/// - relaxed (3.4.2): name in lower case, folds removed, runs of WSP one
///   SP, no WSP at the end of the value or around the colon.
pub fn header(canon: Canon, field: &[u8], out: &mut Vec<u8>) {
    match canon {
        Canon::Simple => {
            // The stored form may end lines in LF alone (the spool's
            // choice); the signer saw CRLF.
            let mut prev = 0u8;
            for &b in field {
                if b == b'\n' && prev != b'\r' {
                    out.push(b'\r');
                }
                out.push(b);
                prev = b;
            }
        }
        Canon::Relaxed => {
            let colon = field.iter().position(|&b| b == b':').unwrap_or(field.len());
            let name = &field[..colon];
            let name_end = name.len() - name.iter().rev().take_while(|&&b| wsp(b)).count();
            out.extend(name[..name_end].iter().map(u8::to_ascii_lowercase));
            out.push(b':');
            let mut space = false;
            let mut started = false;
            for &b in field.get(colon + 1..).unwrap_or(&[]) {
                match b {
                    b'\r' | b'\n' => {}
                    b' ' | b'\t' => space = true,
                    _ => {
                        if space && started {
                            out.push(b' ');
                        }
                        space = false;
                        started = true;
                        out.push(b);
                    }
                }
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// The body's canonical form, fed in pieces, counted and hashed. `limit`
/// is the signature's `l=`: only that many canonical bytes are hashed;
/// [`Body::length`] tells how many there were in all, so the caller can
/// see content that `l=` leaves unsigned.
#[derive(Clone)]
pub struct Body {
    canon: Canon,
    limit: Option<u64>,
    hash: Sha256,
    /// Canonical bytes on their way to `hash`: short pieces (a word, a
    /// line end) are gathered here so SHA-256 is fed in runs.
    stage: [u8; STAGE],
    staged: usize,
    /// Canonical bytes produced so far (hashed or beyond `l=`).
    length: u64,
    /// Line ends not yet written: empty lines at the end of the body are
    /// dropped (3.4.3, 3.4.4), so each CRLF waits for the next content.
    held_crlf: u64,
    /// A CR that may be the first half of a CRLF.
    held_cr: bool,
    /// relaxed: white space seen since the last content byte of the line.
    held_wsp: bool,
}

impl Body {
    pub fn new(canon: Canon, limit: Option<u64>) -> Body {
        Body {
            canon,
            limit,
            hash: Sha256::new(),
            stage: [0; STAGE],
            staged: 0,
            length: 0,
            held_crlf: 0,
            held_cr: false,
            held_wsp: false,
        }
    }

    fn emit(&mut self, bytes: &[u8]) {
        let room = match self.limit {
            Some(l) => l.saturating_sub(self.length).min(bytes.len() as u64) as usize,
            None => bytes.len(),
        };
        let hashed = &bytes[..room];
        if self.staged + hashed.len() > STAGE {
            self.hash.update(&self.stage[..self.staged]);
            self.staged = 0;
        }
        if hashed.len() >= STAGE {
            self.hash.update(hashed);
        } else {
            self.stage[self.staged..self.staged + hashed.len()].copy_from_slice(hashed);
            self.staged += hashed.len();
        }
        self.length += bytes.len() as u64;
    }

    /// Writes what is held before content: the line ends of the empty
    /// lines before it, and (relaxed) one SP for the white space.
    fn flush_held(&mut self) {
        while self.held_crlf > 0 {
            self.held_crlf -= 1;
            self.emit(b"\r\n");
        }
        if self.held_wsp {
            self.held_wsp = false;
            self.emit(b" ");
        }
    }

    /// Feeds body bytes: lines end in CRLF or, as the spool stores them,
    /// in LF alone; a CR elsewhere is content. Runs of content go to the
    /// hash as one slice (a byte at a time cost 10× in throughput).
    pub fn update(&mut self, bytes: &[u8]) {
        let relaxed = self.canon == Canon::Relaxed;
        // CR and LF always need a look; SP and HTAB under relaxed only.
        let mask: u8 = if relaxed { 3 } else { 1 };
        let special = |c: u8| CLASS[c as usize] & mask != 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if self.held_cr {
                self.held_cr = false;
                if b != b'\n' {
                    self.flush_held();
                    self.emit(b"\r");
                }
            }
            if !special(b) {
                // A run of content, and under relaxed also each single SP
                // between content bytes: its canonical form is itself.
                let mut j = i + 1;
                loop {
                    j += bytes[j..]
                        .iter()
                        .position(|&c| special(c))
                        .unwrap_or(bytes.len() - j);
                    match bytes.get(j..j + 2) {
                        Some([b' ', d]) if relaxed && !special(*d) => j += 2,
                        _ => break,
                    }
                }
                self.flush_held();
                self.emit(&bytes[i..j]);
                i = j;
                continue;
            }
            match b {
                b'\n' => {
                    self.held_crlf += 1;
                    self.held_wsp = false;
                }
                b'\r' => self.held_cr = true,
                _ => self.held_wsp = true,
            }
            i += 1;
        }
    }

    /// Ends the body: one CRLF after the last content (added when the
    /// body did not end in one); an empty body is CRLF under simple and
    /// nothing under relaxed (3.4.3, 3.4.4 and erratum 3192's reading).
    /// Returns the hash and the canonical length in all.
    pub fn finish(mut self) -> ([u8; 32], u64) {
        if self.held_cr {
            self.held_cr = false;
            self.flush_held();
            self.emit(b"\r");
        }
        if self.length > 0 || self.canon == Canon::Simple {
            self.held_crlf = 0;
            self.held_wsp = false;
            self.emit(b"\r\n");
        }
        self.hash.update(&self.stage[..self.staged]);
        (self.hash.finish(), self.length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sha2::sha256;

    fn canon_body(c: Canon, body: &[u8]) -> Vec<u8> {
        // The canonical form itself, rebuilt by feeding one byte at a
        // time and comparing with the hash of the expected text.
        let mut b = Body::new(c, None);
        for x in body {
            b.update(std::slice::from_ref(x));
        }
        let (h, len) = b.finish();
        let _ = len;
        h.to_vec()
    }

    fn check(c: Canon, body: &str, want: &str) {
        assert_eq!(
            canon_body(c, body.as_bytes()),
            sha256(want.as_bytes()).to_vec(),
            "{c:?} {body:?} should be {want:?}"
        );
        // LF-only storage gives the same.
        let lf = body.replace("\r\n", "\n");
        assert_eq!(
            canon_body(c, lf.as_bytes()),
            sha256(want.as_bytes()).to_vec()
        );
        let mut whole = Body::new(c, None);
        whole.update(body.as_bytes());
        assert_eq!(whole.finish().1, want.len() as u64);
    }

    /// RFC 6376 section 3.4.5's example.
    #[test]
    fn the_rfc_example() {
        let body = " C \r\nD \t E\r\n\r\n\r\n";
        check(Canon::Relaxed, body, " C\r\nD E\r\n");
        check(Canon::Simple, body, " C \r\nD \t E\r\n");
        let mut out = Vec::new();
        header(Canon::Relaxed, b"A: X", &mut out);
        header(Canon::Relaxed, b"B : Y\t\r\n\tZ  ", &mut out);
        assert_eq!(out, b"a:X\r\nb:Y Z\r\n");
        out.clear();
        header(Canon::Simple, b"A: X", &mut out);
        header(Canon::Simple, b"B : Y\t\r\n\tZ  ", &mut out);
        assert_eq!(out, b"A: X\r\nB : Y\t\r\n\tZ  \r\n");
    }

    #[test]
    fn empty_bodies_and_missing_line_ends() {
        check(Canon::Simple, "", "\r\n");
        check(Canon::Relaxed, "", "");
        check(Canon::Simple, "\r\n\r\n", "\r\n");
        check(Canon::Relaxed, "\r\n \r\n\t\r\n", "");
        check(Canon::Simple, "a", "a\r\n");
        check(Canon::Relaxed, "a  ", "a\r\n");
        // A line of only white space is empty under relaxed only.
        check(Canon::Simple, "a\r\n \r\n", "a\r\n \r\n");
        check(Canon::Relaxed, "a\r\n \r\nb\r\n", "a\r\n\r\nb\r\n");
        // Leading white space becomes one SP, it is not removed.
        check(Canon::Relaxed, "\t\tx\r\n", " x\r\n");
        // A CR that does not end a line is content.
        check(Canon::Relaxed, "a\rb\r\n", "a\rb\r\n");
        check(Canon::Simple, "a\r", "a\r\r\n");
    }

    #[test]
    fn length_limit_hashes_a_prefix_and_counts_the_rest() {
        let mut b = Body::new(Canon::Simple, Some(3));
        b.update(b"abcdef\r\n");
        let (h, len) = b.finish();
        assert_eq!(h, sha256(b"abc"));
        assert_eq!(len, 8);
        let mut b = Body::new(Canon::Relaxed, Some(100));
        b.update(b"ab\r\n");
        let (h, len) = b.finish();
        assert_eq!((h, len), (sha256(b"ab\r\n"), 4));
    }

    #[test]
    fn relaxed_header_edges() {
        let mut out = Vec::new();
        header(Canon::Relaxed, b"SUBJECT:", &mut out);
        header(Canon::Relaxed, b"To:  \r\n  x", &mut out);
        header(Canon::Relaxed, b"No-Colon", &mut out);
        assert_eq!(out, b"subject:\r\nto:x\r\nno-colon:\r\n");
        out.clear();
        header(Canon::Simple, b"X: a\n b", &mut out);
        assert_eq!(out, b"X: a\r\n b\r\n");
    }
}
