//! RFC 8601 Authentication-Results: removing the fields of a message that
//! claim to come from this host, as the message streams to the spool;
//! and reading the fields back (`parse`, `ours`) for `tinymx show --json`.
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

use crate::mime::header::Field;

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
            match self.phase {
                Phase::Body => {
                    out.extend_from_slice(rest);
                    return;
                }
                // Inside a field already decided, every byte up to the
                // line's end passes (or goes) as it is: at once, not one
                // by one (the header of every message comes through here).
                Phase::Keep | Phase::Drop if b != b'\n' => {
                    let n = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
                    if self.phase == Phase::Keep {
                        out.extend_from_slice(&rest[..n]);
                    }
                    rest = &rest[n..];
                    continue;
                }
                _ => {}
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

/// The most results kept from one field, and from our fields together.
pub const MAX_RESULTS: usize = 16;
/// The most properties kept per result.
pub const MAX_PROPS: usize = 16;
/// The longest authserv-id, method, result or value kept, in bytes of
/// the field; longer ones are cut.
pub const MAX_TEXT: usize = 512;

/// One Authentication-Results field, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthResults {
    /// As written (a quoted-string unquoted).
    pub authserv_id: String,
    /// In the field's order; empty for `none` (or nothing readable).
    pub results: Vec<MethodResult>,
}

/// One `method=result` with its reason and properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MethodResult {
    /// Lower-cased, without a `/version`: "spf", "dkim".
    pub method: String,
    /// Lower-cased: "pass", "fail".
    pub result: String,
    /// `reason=`, the first one given.
    pub reason: Option<String>,
    /// ("smtp.mailfrom", "alice@gmail.com"): the name lower-cased, the
    /// value as written; a repeated name keeps its first value.
    pub props: Vec<(String, String)>,
}

/// Parses an Authentication-Results value (RFC 8601 section 2.2:
/// `authserv-id [CFWS authres-version] ( no-result / 1*resinfo )`).
/// None when it has no authserv-id. The value comes from the network:
/// malformed input ends the parse, and the results read up to there
/// (each with the properties before the fault) are returned. One pass
/// over the bytes, no recursion (comments nest to any depth: counted);
/// at most `MAX_RESULTS` results of `MAX_PROPS` properties are kept, each
/// string at most `MAX_TEXT` bytes. Line breaks count as white space, so
/// a folded value reads as unfolded.
pub fn parse(value: &str) -> Option<AuthResults> {
    let mut ar = AuthResults::default();
    read(value.as_bytes(), &mut ar).then_some(ar)
}

/// What ends a method, result, ptype or property name.
const KEY: &[u8] = b"=./";

/// `parse` into `ar`, after the results it has (`MAX_RESULTS` in all):
/// the first value read sets the authserv-id, a later one must name the
/// same (in any case). False, and nothing read, for a value without an
/// authserv-id or with another one.
fn read(value: &[u8], ar: &mut AuthResults) -> bool {
    let mut c = Cursor { s: value, i: 0 };
    let id = c.value();
    if id.is_empty() || !(ar.authserv_id.is_empty() || ar.authserv_id.eq_ignore_ascii_case(&id)) {
        return false;
    }
    if ar.authserv_id.is_empty() {
        ar.authserv_id = id;
    }
    c.cfws();
    if c.peek().is_some_and(|b| b.is_ascii_digit()) {
        c.word(b""); // authres-version
    }
    while ar.results.len() < MAX_RESULTS && c.eat(b';') {
        let method = c.word(KEY);
        if c.eat(b'/') {
            c.word(b"="); // method-version
        }
        // `none` (no-result) has no "=" either: nothing follows it.
        if method.is_empty() || !c.eat(b'=') {
            break;
        }
        let result = c.word(KEY);
        if result.is_empty() {
            break;
        }
        let mut r = MethodResult {
            method: lower(method),
            result: lower(result),
            ..MethodResult::default()
        };
        let complete = r.props(&mut c);
        ar.results.push(r);
        if !complete {
            break;
        }
    }
    true
}

impl MethodResult {
    /// `[CFWS reasonspec] [CFWS 1*propspec]`, up to the next `;` or the
    /// end; false if something malformed stopped it.
    fn props(&mut self, c: &mut Cursor) -> bool {
        loop {
            let ptype = c.word(KEY);
            if ptype.is_empty() {
                return true;
            }
            if ptype.eq_ignore_ascii_case(b"reason") && c.eat(b'=') {
                let v = c.value();
                self.reason.get_or_insert(v);
                continue;
            }
            let property = if c.eat(b'.') { c.word(KEY) } else { b"" };
            if property.is_empty() || !c.eat(b'=') {
                return false;
            }
            let v = c.pvalue();
            let mut name = ptype.to_vec();
            name.push(b'.');
            name.extend_from_slice(property);
            let name = lower(&name);
            if self.props.len() < MAX_PROPS && !self.props.iter().any(|(n, _)| *n == name) {
                self.props.push((name, v));
            }
        }
    }
}

/// The results of our own Authentication-Results fields in a stored
/// message's header `fields` (in order), or None if it has none. `show`
/// does not know the `-n` host name, so "ours" is by position: the
/// fields above the first Received field. tinymx writes its own above its
/// own Received: and deletes incoming ones bearing its authserv-id (see
/// `ForgedFilter`), so any below are other hosts' claims. Several of ours
/// are merged in order (at most `MAX_RESULTS` results); a field without
/// an authserv-id, or with another one than the first, is skipped.
pub fn ours(fields: &[Field]) -> Option<AuthResults> {
    let mut ar = AuthResults::default();
    for f in fields {
        if f.name.eq_ignore_ascii_case("Received") {
            break;
        }
        if f.name.eq_ignore_ascii_case("Authentication-Results") {
            read(&f.value, &mut ar);
        }
    }
    (!ar.authserv_id.is_empty()).then_some(ar)
}

/// A position in the value being parsed; never past its end.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips CFWS: white space, line breaks and comments. Nesting is a
    /// count; an unclosed comment runs to the end.
    fn cfws(&mut self) {
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            match b {
                b'(' => depth += 1,
                b')' if depth > 0 => depth -= 1,
                b'\\' if depth > 0 => self.i += 1,
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ if depth > 0 => {}
                _ => return,
            }
            self.i = (self.i + 1).min(self.s.len());
        }
    }

    /// After CFWS: consumes `b` if it is next.
    fn eat(&mut self, b: u8) -> bool {
        self.cfws();
        let next = self.peek() == Some(b);
        self.i += usize::from(next);
        next
    }

    /// After CFWS: the bytes up to white space, a comment, `;`, `"` or
    /// one of `stop`.
    fn word(&mut self, stop: &[u8]) -> &'a [u8] {
        self.cfws();
        let (s, start) = (self.s, self.i);
        while let Some(b) = self.peek() {
            if b" \t\r\n();\"".contains(&b) || stop.contains(&b) {
                break;
            }
            self.i += 1;
        }
        &s[start..self.i]
    }

    /// After CFWS: a token, or a quoted-string's content unescaped (an
    /// unclosed one runs to the end).
    fn value(&mut self) -> String {
        if !self.eat(b'"') {
            return text(self.word(b""));
        }
        let mut v = Vec::new();
        while let Some(mut b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\r' | b'\n' => continue,
                b'\\' => match self.peek() {
                    Some(n) => {
                        self.i += 1;
                        b = n;
                    }
                    None => break,
                },
                _ => {}
            }
            if v.len() < MAX_TEXT {
                v.push(b);
            }
        }
        text(&v)
    }

    /// A `pvalue`: a value, or an address whose local-part is quoted
    /// (`"a b"@example.org`, kept as written).
    fn pvalue(&mut self) -> String {
        self.cfws();
        let start = self.i;
        let v = self.value();
        if self.peek() != Some(b'@') {
            return v;
        }
        self.word(b"");
        text(&self.s[start..self.i])
    }
}

/// At most `MAX_TEXT` bytes of `b` as text; what is not UTF-8 (a
/// character the cut splits, raw 8-bit bytes) becomes U+FFFD.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(MAX_TEXT)]).into_owned()
}

/// `text`, ASCII lower-cased (the names RFC 8601 compares so).
fn lower(b: &[u8]) -> String {
    let mut s = text(b);
    s.make_ascii_lowercase();
    s
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

    fn res(
        method: &str,
        result: &str,
        reason: Option<&str>,
        props: &[(&str, &str)],
    ) -> MethodResult {
        MethodResult {
            method: method.into(),
            result: result.into(),
            reason: reason.map(Into::into),
            props: props.iter().map(|&(n, v)| (n.into(), v.into())).collect(),
        }
    }

    fn ar(id: &str, results: Vec<MethodResult>) -> Option<AuthResults> {
        Some(AuthResults {
            authserv_id: id.into(),
            results,
        })
    }

    /// RFC 8601 appendix B, each field's value as the RFC folds it.
    #[test]
    fn the_rfc_8601_examples() {
        let cases = [
            // B.2: service provided, no authentication done.
            ("example.org 1; none", ar("example.org", vec![])),
            // B.3
            (
                "example.com;\r\n          spf=pass smtp.mailfrom=example.net",
                ar(
                    "example.com",
                    vec![res(
                        "spf",
                        "pass",
                        None,
                        &[("smtp.mailfrom", "example.net")],
                    )],
                ),
            ),
            // B.4: several results from one MTA, in two fields.
            (
                "example.com;\n          auth=pass (cram-md5) smtp.auth=sender@example.net;\n          spf=pass smtp.mailfrom=example.net",
                ar(
                    "example.com",
                    vec![
                        res("auth", "pass", None, &[("smtp.auth", "sender@example.net")]),
                        res("spf", "pass", None, &[("smtp.mailfrom", "example.net")]),
                    ],
                ),
            ),
            (
                "example.com; iprev=pass\n          policy.iprev=192.0.2.200",
                ar(
                    "example.com",
                    vec![res(
                        "iprev",
                        "pass",
                        None,
                        &[("policy.iprev", "192.0.2.200")],
                    )],
                ),
            ),
            // B.5: different MTAs.
            (
                "example.com;\n          dkim=pass (good signature) header.d=example.com",
                ar(
                    "example.com",
                    vec![res("dkim", "pass", None, &[("header.d", "example.com")])],
                ),
            ),
            (
                "example.com;\n          auth=pass (cram-md5) smtp.auth=sender@example.com;\n          spf=fail smtp.mailfrom=example.com",
                ar(
                    "example.com",
                    vec![
                        res("auth", "pass", None, &[("smtp.auth", "sender@example.com")]),
                        res("spf", "fail", None, &[("smtp.mailfrom", "example.com")]),
                    ],
                ),
            ),
            // B.6: reasons, two signatures.
            (
                "example.com;\n      dkim=pass reason=\"good signature\"\n        header.i=@mail-router.example.net;\n      dkim=fail reason=\"bad signature\"\n        header.i=@newyork.example.com",
                ar(
                    "example.com",
                    vec![
                        res(
                            "dkim",
                            "pass",
                            Some("good signature"),
                            &[("header.i", "@mail-router.example.net")],
                        ),
                        res(
                            "dkim",
                            "fail",
                            Some("bad signature"),
                            &[("header.i", "@newyork.example.com")],
                        ),
                    ],
                ),
            ),
            (
                "example.net;\n      dkim=pass (good signature) header.i=@newyork.example.com",
                ar(
                    "example.net",
                    vec![res(
                        "dkim",
                        "pass",
                        None,
                        &[("header.i", "@newyork.example.com")],
                    )],
                ),
            ),
            // B.7: comment-heavy, with versions.
            (
                "foo.example.net (foobar) 1 (baz);\n    dkim (Because I like it) / 1 (One yay) = (wait for it) fail\n      policy (A dot can go here) . (like that) expired\n      (this surprised me) = (as I wasn't expecting it) 1362471462",
                ar(
                    "foo.example.net",
                    vec![res(
                        "dkim",
                        "fail",
                        None,
                        &[("policy.expired", "1362471462")],
                    )],
                ),
            ),
        ];
        for (value, want) in cases {
            assert_eq!(parse(value), want, "{value}");
        }
    }

    /// What tinymx writes (src/auth.rs), now and with DKIM and DMARC.
    #[test]
    fn our_own_fields() {
        assert_eq!(
            parse("mx.example.org; spf=pass smtp.mailfrom=alice@gmail.com"),
            ar(
                "mx.example.org",
                vec![res(
                    "spf",
                    "pass",
                    None,
                    &[("smtp.mailfrom", "alice@gmail.com")]
                )],
            )
        );
        assert_eq!(
            parse("mx; spf=none smtp.mailfrom=\"\\\"a b\\\"@x.org\""),
            ar(
                "mx",
                vec![res(
                    "spf",
                    "none",
                    None,
                    &[("smtp.mailfrom", "\"a b\"@x.org")]
                )],
            )
        );
        assert_eq!(
            parse(
                "mx.example.org; spf=pass smtp.mailfrom=a@b.org; dkim=pass header.d=b.org header.s=sel header.b=abcd1234; dmarc=pass header.from=b.org"
            ),
            ar(
                "mx.example.org",
                vec![
                    res("spf", "pass", None, &[("smtp.mailfrom", "a@b.org")]),
                    res(
                        "dkim",
                        "pass",
                        None,
                        &[
                            ("header.d", "b.org"),
                            ("header.s", "sel"),
                            ("header.b", "abcd1234")
                        ],
                    ),
                    res("dmarc", "pass", None, &[("header.from", "b.org")]),
                ],
            )
        );
    }

    #[test]
    fn quoted_strings_case_and_nested_comments() {
        assert_eq!(
            parse(
                "(a (nested \\) (comment)) here) \"MX \\\"q\\\"\r\n x\" ; SPF/2=Pass reason (r) = (s) \"it \\\\ is\" Smtp.MailFrom=\"a;b\" SMTP.mailfrom=second smtp.helo=\"q\"@h.org"
            ),
            ar(
                "MX \"q\" x",
                vec![res(
                    "spf",
                    "pass",
                    Some("it \\ is"),
                    &[("smtp.mailfrom", "a;b"), ("smtp.helo", "\"q\"@h.org")],
                )],
            )
        );
    }

    /// Malformed input ends the parse; what came before it stays.
    #[test]
    fn malformed_values_give_what_was_read() {
        let spf = |props: &[(&str, &str)]| ar("mx", vec![res("spf", "pass", None, props)]);
        for v in [
            "",
            "   ",
            "; spf=pass",
            "\"\"; spf=pass",
            "(unclosed mx; spf=pass",
            "(\\",
        ] {
            assert_eq!(parse(v), None, "{v}");
        }
        let cases = [
            ("mx", ar("mx", vec![])),
            ("mx (\\", ar("mx", vec![])),
            ("\"mx\\", ar("mx", vec![])),
            ("mx; spf=", ar("mx", vec![])),
            ("mx; =pass", ar("mx", vec![])),
            ("mx spf=pass", ar("mx", vec![])),
            ("mx; spf pass", ar("mx", vec![])),
            (
                "mx; spf=pass smtp.mailfrom=\"unclosed",
                spf(&[("smtp.mailfrom", "unclosed")]),
            ),
            ("mx; spf=pass (unclosed smtp.mailfrom=a", spf(&[])),
            ("mx; spf=pass) smtp.mailfrom=a; dkim=pass", spf(&[])),
            ("mx; spf=pass smtp=a; dkim=pass", spf(&[])),
            (
                "mx; spf=pass smtp.mailfrom=a smtp.=b; dkim=pass",
                spf(&[("smtp.mailfrom", "a")]),
            ),
            ("mx; spf=pass smtp.mailfrom a", spf(&[])),
            ("mx; spf=pass;", spf(&[])),
            ("mx; spf=pass; none", spf(&[])),
        ];
        for (v, want) in cases {
            assert_eq!(parse(v), want, "{v}");
        }
    }

    #[test]
    fn hostile_sizes_stay_bounded() {
        let long = "a".repeat(100_000);
        let got = parse(&format!(
            "{long}; spf=pass smtp.mailfrom=\"{long}\" x.y={long}"
        ))
        .unwrap();
        assert_eq!(got.authserv_id.len(), MAX_TEXT);
        assert_eq!(got.results[0].props[0].1.len(), MAX_TEXT);
        assert_eq!(got.results[0].props[1].1.len(), MAX_TEXT);
        // "x", 255 two-byte characters and half of one.
        let got = parse(&format!("x{}", "é".repeat(50_000))).unwrap();
        assert_eq!(got.authserv_id, format!("x{}\u{fffd}", "é".repeat(255)));
        // Comments nested 100,000 deep, closed or not: no recursion.
        let deep = format!("{}{}mx; spf=pass", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(parse(&deep), ar("mx", vec![res("spf", "pass", None, &[])]));
        assert_eq!(parse(&"(".repeat(100_000)), None);
        // Many results and properties: the first ones are kept.
        let many = format!("mx{}", "; spf=pass".repeat(10_000));
        assert_eq!(parse(&many).unwrap().results.len(), MAX_RESULTS);
        let props: String = (0..10_000).map(|i| format!(" p.n{i}=v")).collect();
        let got = parse(&format!("mx; spf=pass{props}")).unwrap();
        assert_eq!(got.results[0].props.len(), MAX_PROPS);
        assert_eq!(got.results[0].props[15], ("p.n15".into(), "v".into()));
    }

    fn field(name: &str, value: &str) -> Field {
        Field {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn ours_are_the_fields_above_the_first_received() {
        let fields = [
            field(
                "Authentication-Results",
                "mx.example.org; spf=pass smtp.mailfrom=a@b.org",
            ),
            field("Received-SPF", "pass (mx.example.org: ...)"),
            field("authentication-results", "; unparsable"),
            field(
                "Authentication-Results",
                "MX.example.org; dkim=pass header.d=b.org",
            ),
            field("Authentication-Results", "other.org; dmarc=pass"),
            field("Return-Path", "<a@b.org>"),
            field("Received", "from x by mx.example.org"),
            field(
                "Authentication-Results",
                "mx.example.org; spf=pass forged.x=1",
            ),
        ];
        assert_eq!(
            ours(&fields),
            ar(
                "mx.example.org",
                vec![
                    res("spf", "pass", None, &[("smtp.mailfrom", "a@b.org")]),
                    res("dkim", "pass", None, &[("header.d", "b.org")]),
                ],
            )
        );
        assert_eq!(ours(&fields[5..]), None);
        assert_eq!(ours(&[]), None);
        // Merged, still at most MAX_RESULTS.
        let many = field(
            "Authentication-Results",
            &format!("mx{}", "; spf=pass".repeat(10)),
        );
        assert_eq!(
            ours(&[many.clone(), many]).unwrap().results.len(),
            MAX_RESULTS
        );
    }
}
