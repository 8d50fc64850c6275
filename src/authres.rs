//! RFC 8601 Authentication-Results: removing the fields of a message that
//! claim to come from this host, as the message streams to the spool.
//!
//! Section 5: a receiver "MUST delete or otherwise obscure any instances
//! of this header field that claim, by virtue of their authentication
//! service identifier, to have been added within its trust boundary but
//! that did not come from a host within that boundary". A message from
//! outside carrying `Authentication-Results: mx.example.org; spf=pass`
//! for our own `-n mx.example.org` is a forgery meant for the scripts
//! that read the spool; tinymx deletes it (it does not rename it: a
//! renamed field is one more thing a careless reader may match).
//!
//! The filter sees the message in pieces, with LF line ends (as stored).
//! It holds back only the start of an Authentication-Results field until
//! its authserv-id is read, at most `HOLD_MAX` bytes: a field whose
//! authserv-id does not appear within that much (comments can be padded
//! at will) is deleted as well, so no padding gets a forgery through and
//! memory stays bounded. Everything else passes as it comes. The header
//! section ends at the first empty line; the body is never touched.

/// The most bytes of one Authentication-Results field held back while
/// its authserv-id is not known yet. A real field names it at once.
pub const HOLD_MAX: usize = 1024;

const FIELD: &[u8] = b"authentication-results";

/// Where in the message the filter is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// In the header section, at the start of a line.
    LineStart,
    /// Inside a field that is kept: its bytes pass.
    Keep,
    /// Inside a field that is deleted: its bytes are dropped.
    Drop,
    /// Reading a field's name (held back until it is known).
    Name,
    /// An Authentication-Results field before its authserv-id: white
    /// space, folding and comments (`depth` open parentheses, a pending
    /// backslash in a comment).
    BeforeId { depth: u32, escaped: bool },
    /// Reading the authserv-id, a token (RFC 8601 section 2.2 `value`).
    Id,
    /// Reading a quoted-string authserv-id (`escaped`: after a backslash).
    QuotedId { escaped: bool },
    /// After the empty line: the body passes untouched.
    Body,
}

/// Deletes the Authentication-Results fields whose authserv-id is ours.
pub struct ForgedFilter {
    /// Our authserv-id, lower-cased (`-n`, the host name).
    ours: Vec<u8>,
    phase: Phase,
    /// The phase a line break interrupted (a field goes on if the next
    /// line starts with white space).
    before_break: Phase,
    /// The current field's bytes held back while undecided.
    held: Vec<u8>,
    /// The authserv-id read so far, lower-cased (at most 255 bytes kept).
    id: Vec<u8>,
    removed: usize,
}

impl ForgedFilter {
    pub fn new(authserv_id: &str) -> ForgedFilter {
        ForgedFilter {
            ours: authserv_id.as_bytes().to_ascii_lowercase(),
            phase: Phase::LineStart,
            before_break: Phase::Keep,
            held: Vec::new(),
            id: Vec::new(),
            removed: 0,
        }
    }

    /// Past the header section: what comes now passes unchanged, so a
    /// caller may write it without `feed`.
    pub fn in_body(&self) -> bool {
        self.phase == Phase::Body
    }

    /// How many fields were deleted.
    pub fn removed(&self) -> usize {
        self.removed
    }

    /// Filters the next piece of the message into `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut rest = input;
        while let Some((&b, tail)) = rest.split_first() {
            if self.phase == Phase::Body {
                out.extend_from_slice(rest);
                return;
            }
            self.byte(b, out);
            rest = tail;
        }
    }

    /// The end of the message: a field still undecided is decided on
    /// what was read of it.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.is_held() {
            self.field_ended();
        }
        out.append(&mut self.held);
    }

    fn is_held(&self) -> bool {
        matches!(
            self.phase,
            Phase::Name | Phase::BeforeId { .. } | Phase::Id | Phase::QuotedId { .. }
        ) || (self.phase == Phase::LineStart && !self.held.is_empty())
    }

    fn byte(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.phase == Phase::LineStart {
            self.line_start(b, out);
            return;
        }
        if b == b'\n' {
            // Whether the field goes on is known at the next line's start.
            self.before_break = self.phase;
            self.phase = Phase::LineStart;
            self.emit(b, out);
            return;
        }
        match self.phase {
            Phase::Keep | Phase::Drop => {}
            Phase::Name => self.name_byte(b, out),
            Phase::BeforeId { depth, escaped } => self.before_id_byte(b, depth, escaped, out),
            Phase::Id => self.id_byte(b, out),
            Phase::QuotedId { escaped } => self.quoted_id_byte(b, escaped, out),
            // Handled before this match (the line start above, the body in
            // `feed`); nothing to do for them here.
            Phase::LineStart | Phase::Body => {}
        }
        // After the byte's meaning is known: a field decided on this byte
        // has flushed what it held, so the byte follows it.
        self.emit(b, out);
    }

    /// Appends `b` where the current field's bytes go.
    fn emit(&mut self, b: u8, out: &mut Vec<u8>) {
        match self.phase {
            Phase::Keep | Phase::Body => out.push(b),
            Phase::Drop => {}
            Phase::LineStart => match self.before_break {
                Phase::Keep | Phase::Body => out.push(b),
                Phase::Drop => {}
                _ => self.hold(b),
            },
            _ => self.hold(b),
        }
    }

    fn hold(&mut self, b: u8) {
        self.held.push(b);
        if self.held.len() > HOLD_MAX {
            // No authserv-id within HOLD_MAX bytes: not a field we added.
            self.delete();
        }
    }

    fn line_start(&mut self, b: u8, out: &mut Vec<u8>) {
        if b == b' ' || b == b'\t' {
            // Folding: the field goes on as it was.
            self.phase = self.before_break;
            self.byte(b, out);
            return;
        }
        if self.is_held() {
            self.field_ended();
        }
        out.append(&mut self.held);
        if b == b'\n' {
            // The empty line: the end of the header section.
            out.push(b);
            self.phase = Phase::Body;
            return;
        }
        self.id.clear();
        self.phase = Phase::Name;
        self.before_break = Phase::Keep;
        self.name_byte(b, out);
        self.emit(b, out);
    }

    /// A field's name, held until its colon: an Authentication-Results
    /// field goes on to its authserv-id, any other is kept.
    fn name_byte(&mut self, b: u8, out: &mut Vec<u8>) {
        if b != b':' {
            if self.held.len() > FIELD.len() + 8 {
                self.keep(out);
            }
            return;
        }
        // The held bytes are the name (the colon is not held yet). RFC
        // 5322 section 4.5.3 (obsolete syntax) allows white space before
        // the colon; readers accept it, so it counts.
        if self.held.trim_ascii_end().eq_ignore_ascii_case(FIELD) {
            self.phase = Phase::BeforeId {
                depth: 0,
                escaped: false,
            };
        } else {
            self.keep(out);
        }
    }

    /// CFWS before the authserv-id (RFC 8601 section 2.2:
    /// `authres-header-field = "Authentication-Results:" authres-payload`,
    /// `authres-payload = [CFWS] authserv-id ...`).
    fn before_id_byte(&mut self, b: u8, depth: u32, escaped: bool, out: &mut Vec<u8>) {
        let next = match (b, depth, escaped) {
            (_, d, true) => Phase::BeforeId {
                depth: d,
                escaped: false,
            },
            (b'\\', d, false) if d > 0 => Phase::BeforeId {
                depth: d,
                escaped: true,
            },
            (b'(', d, false) => Phase::BeforeId {
                depth: d.saturating_add(1),
                escaped: false,
            },
            (b')', d, false) if d > 0 => Phase::BeforeId {
                depth: d - 1,
                escaped: false,
            },
            (_, d, false) if d > 0 => self.phase,
            (b' ' | b'\t' | b'\r', _, false) => self.phase,
            (b'"', 0, false) => Phase::QuotedId { escaped: false },
            (b';', 0, false) => {
                // No authserv-id at all: malformed, not ours to vouch for.
                self.keep(out);
                return;
            }
            (_, _, false) => {
                self.phase = Phase::Id;
                self.id_byte(b, out);
                return;
            }
        };
        self.phase = next;
    }

    /// The authserv-id as a token: it ends at white space, `;` or `(`.
    fn id_byte(&mut self, b: u8, out: &mut Vec<u8>) {
        match b {
            b' ' | b'\t' | b'\r' | b';' | b'(' => self.decide(out),
            _ => self.push_id(b),
        }
    }

    fn quoted_id_byte(&mut self, b: u8, escaped: bool, out: &mut Vec<u8>) {
        match (b, escaped) {
            (_, true) => {
                self.push_id(b);
                self.phase = Phase::QuotedId { escaped: false };
            }
            (b'\\', false) => self.phase = Phase::QuotedId { escaped: true },
            (b'"', false) => self.decide(out),
            (_, false) => self.push_id(b),
        }
    }

    fn push_id(&mut self, b: u8) {
        if self.id.len() < 256 {
            self.id.push(b.to_ascii_lowercase());
        }
    }

    /// The authserv-id is complete: delete the field if it is ours.
    fn decide(&mut self, out: &mut Vec<u8>) {
        if self.id == self.ours {
            self.delete();
        } else {
            self.keep(out);
        }
    }

    /// The field ended (a new line that is no continuation, or the end of
    /// the message) while it was undecided.
    fn field_ended(&mut self) {
        let phase = if self.phase == Phase::LineStart {
            self.before_break
        } else {
            self.phase
        };
        if matches!(phase, Phase::Id | Phase::QuotedId { .. }) && self.id == self.ours {
            self.delete();
        }
        // Otherwise kept: the held bytes go out with the next flush.
    }

    fn keep(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.held);
        self.phase = Phase::Keep;
    }

    fn delete(&mut self) {
        self.held.clear();
        self.removed += 1;
        if self.phase == Phase::LineStart {
            self.before_break = Phase::Drop;
        } else {
            self.phase = Phase::Drop;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(msg: &[u8]) -> (Vec<u8>, usize) {
        let mut f = ForgedFilter::new("mx.example.org");
        let mut out = Vec::new();
        f.feed(msg, &mut out);
        f.finish(&mut out);
        (out, f.removed())
    }

    /// The same message fed in every split into two pieces, and byte by
    /// byte, gives the same output.
    fn filter_checked(msg: &[u8]) -> (Vec<u8>, usize) {
        let whole = filter(msg);
        for cut in 0..=msg.len() {
            let mut f = ForgedFilter::new("mx.example.org");
            let mut out = Vec::new();
            f.feed(&msg[..cut], &mut out);
            f.feed(&msg[cut..], &mut out);
            f.finish(&mut out);
            assert_eq!((out, f.removed()), whole, "split at {cut}");
        }
        let mut f = ForgedFilter::new("mx.example.org");
        let mut out = Vec::new();
        for b in msg {
            f.feed(std::slice::from_ref(b), &mut out);
        }
        f.finish(&mut out);
        assert_eq!((out, f.removed()), whole, "byte by byte");
        whole
    }

    #[test]
    fn a_field_with_our_authserv_id_is_deleted_others_stay() {
        let msg = b"Received: by x\nAuthentication-Results: mx.example.org; spf=pass smtp.mailfrom=a@b.org\nAuthentication-Results: mx.google.com; dkim=pass header.i=@b.org\nSubject: hi\n\nAuthentication-Results: mx.example.org; spf=pass\n";
        let (out, n) = filter_checked(msg);
        assert_eq!(n, 1);
        assert_eq!(
            out,
            b"Received: by x\nAuthentication-Results: mx.google.com; dkim=pass header.i=@b.org\nSubject: hi\n\nAuthentication-Results: mx.example.org; spf=pass\n"
        );
    }

    /// Each field between `From:` and `To:`: a forgery (true) must go
    /// whatever its disguise, a near miss (false) must stay as it is.
    #[test]
    fn disguised_forgeries_are_deleted_and_near_misses_kept() {
        let cases: [(&[u8], bool); 14] = [
            (b"authentication-results: MX.Example.ORG; spf=pass\n", true),
            (
                b"Authentication-Results:\n\tmx.example.org;\n\tspf=pass\n",
                true,
            ),
            (
                b"Authentication-Results: (our own (nested) \\) comment) mx.example.org 1; none\n",
                true,
            ),
            (
                b"Authentication-Results: \"mx.example.org\"; spf=pass\n",
                true,
            ),
            (b"Authentication-Results : mx.example.org; spf=pass\n", true),
            (
                b"Authentication-Results: mx.example.org(c); spf=pass\n",
                true,
            ),
            (b"Authentication-Results: mx.example.org\n", true),
            (
                b"Authentication-Results: mx.example.org.evil; spf=pass\n",
                false,
            ),
            (b"Authentication-Results: example.org; spf=pass\n", false),
            (b"Authentication-Results: mx.example.or; spf=pass\n", false),
            (
                b"X-Authentication-Results: mx.example.org; spf=pass\n",
                false,
            ),
            (
                b"Authentication-Results-X: mx.example.org; spf=pass\n",
                false,
            ),
            (b"Authentication-Results:; spf=pass\n", false),
            (
                b"Authentication-Results: (mx.example.org) other.org; spf=pass\n",
                false,
            ),
        ];
        let (head, tail) = (&b"From: a@b.org\n"[..], &b"To: c@d.org\n\nbody\n"[..]);
        for (field, forged) in cases {
            let msg = [head, field, tail].concat();
            let want = if forged {
                ([head, tail].concat(), 1)
            } else {
                (msg.clone(), 0)
            };
            assert_eq!(
                filter_checked(&msg),
                want,
                "{}",
                String::from_utf8_lossy(field)
            );
        }
    }

    #[test]
    fn padding_beyond_the_hold_limit_deletes_the_field() {
        let mut msg = b"Authentication-Results: (".to_vec();
        msg.extend(std::iter::repeat_n(b'x', HOLD_MAX));
        msg.extend_from_slice(b")\n mx.example.org; spf=pass\nSubject: s\n\nb\n");
        let (out, n) = filter(&msg);
        assert_eq!((out, n), (b"Subject: s\n\nb\n".to_vec(), 1));
        // A long field that is not ours streams through, held only briefly.
        let mut long = b"Authentication-Results: other.org; ".to_vec();
        long.extend(std::iter::repeat_n(b'y', 100_000));
        long.extend_from_slice(b"\n\nb\n");
        let mut f = ForgedFilter::new("mx.example.org");
        let mut out = Vec::new();
        for piece in long.chunks(4096) {
            f.feed(piece, &mut out);
            assert!(f.held.len() <= HOLD_MAX);
        }
        f.finish(&mut out);
        assert_eq!((out, f.removed()), (long, 0));
    }

    #[test]
    fn a_message_without_a_body_or_an_end_is_handled() {
        assert_eq!(filter(b""), (Vec::new(), 0));
        assert_eq!(
            filter(b"Authentication-Results: mx.example.org"),
            (Vec::new(), 1)
        );
        assert_eq!(
            filter(b"Authentication-Res"),
            (b"Authentication-Res".to_vec(), 0)
        );
        assert_eq!(filter(b"no colon line\n"), (b"no colon line\n".to_vec(), 0));
    }
}
