//! The SPF macro language (RFC 7208 section 7): parsed once when the
//! record is parsed, so a syntax error is a `permerror` before any lookup,
//! and expanded later with the values of the evaluation in progress.

/// Where a macro string stands: a domain-spec (and the value of a
/// modifier) or the explanation text fetched for `exp` (section 6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No spaces; the letters `c`, `r`, `t` are not allowed (section 7.2).
    Domain,
    /// Spaces are literal and every letter is allowed (`explain-string`).
    Explain,
}

/// A syntax error in a record or a macro string: a `permerror` before
/// any lookup (section 4.6). The evaluator needs only that it failed; the
/// comment at each `Err` says which rule it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError;

/// One `%{...}` expansion (section 7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Macro<'a> {
    /// The macro letter, in lower case.
    pub letter: u8,
    /// An upper-case letter asks for URL escaping (section 7.3).
    pub url_escape: bool,
    /// The DIGIT transformer: keep this many right-hand parts.
    pub keep: Option<usize>,
    /// The `r` transformer: reverse the parts.
    pub reverse: bool,
    /// The delimiters to split on; empty means `.`.
    pub delimiters: &'a [u8],
}

/// A piece of a macro string: literal text or an expansion. Both borrow
/// the string parsed (or are the constant text of `%%`, `%_`, `%-`), so
/// a parsed macro string owns no text of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Literal(&'a str),
    Expand(Macro<'a>),
}

/// A parsed macro string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString<'a> {
    pub pieces: Vec<Piece<'a>>,
    /// The plain text after the last `macro-expand` (which in the grammar
    /// includes `%%`, `%_`, `%-`), for the `domain-end` check.
    pub tail: &'a str,
}

/// The letters valid anywhere, and those valid only in explanations.
const LETTERS: &[u8] = b"slodiphv";
const EXPLAIN_LETTERS: &[u8] = b"crt";
/// Section 7.1 delimiter.
const DELIMITERS: &[u8] = b".-+,/_=";
/// A DIGIT transformer larger than any name has parts is the same as none;
/// parsing stops growing the number here, so any length of digits is safe.
const MAX_KEEP: usize = 1000;

/// Parses `s` (section 7.1). Errors are syntax errors (→ `permerror`).
/// A run of plain characters is one literal piece, a slice of `s`.
pub fn parse(s: &str, mode: Mode) -> Result<MacroString<'_>, SyntaxError> {
    let b = s.as_bytes();
    let mut out = MacroString {
        pieces: Vec::new(),
        tail: "",
    };
    // Where the current run of plain characters, and the tail, start.
    let mut run = 0;
    let mut tail = 0;
    let mut i = 0;
    loop {
        let c = b.get(i).copied();
        if c.is_some_and(|c| c != b'%') {
            let literal = c.is_some_and(|c| (0x21..=0x7e).contains(&c))
                || (c == Some(b' ') && mode == Mode::Explain);
            if !literal {
                return Err(SyntaxError); // character not allowed in a macro string
            }
            i += 1;
            continue;
        }
        // The end, or a '%': the plain run before it is one piece. (`i`
        // is at an ASCII byte or the end, so `get` never fails.)
        if i > run {
            out.pieces
                .push(Piece::Literal(s.get(run..i).unwrap_or_default()));
        }
        if c.is_none() {
            break;
        }
        let literal = match b.get(i + 1) {
            Some(b'%') => "%",
            Some(b'_') => " ",
            Some(b'-') => "%20",
            Some(b'{') => {
                let (m, used) = expansion(b.get(i + 2..).unwrap_or_default(), mode)?;
                out.pieces.push(Piece::Expand(m));
                i += used + 2;
                run = i;
                tail = i;
                continue;
            }
            _ => return Err(SyntaxError), // a % not followed by %, _, - or {
        };
        out.pieces.push(Piece::Literal(literal));
        i += 2;
        run = i;
        tail = i;
    }
    out.tail = s.get(tail..).unwrap_or_default();
    Ok(out)
}

/// Parses what follows `%{` up to and with the `}`; returns the macro and
/// the bytes used.
fn expansion(b: &[u8], mode: Mode) -> Result<(Macro<'_>, usize), SyntaxError> {
    let letter = *b.first().ok_or(SyntaxError)?; // unterminated macro
    let lower = letter.to_ascii_lowercase();
    let allowed =
        LETTERS.contains(&lower) || (mode == Mode::Explain && EXPLAIN_LETTERS.contains(&lower));
    if !allowed {
        return Err(SyntaxError); // unknown macro letter
    }
    let mut m = Macro {
        letter: lower,
        url_escape: letter.is_ascii_uppercase(),
        keep: None,
        reverse: false,
        delimiters: &[],
    };
    let mut i = 1;
    let mut digits = false;
    let mut keep = 0usize;
    while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        keep = (keep * 10 + usize::from(d - b'0')).min(MAX_KEEP);
        digits = true;
        i += 1;
    }
    if digits {
        // Section 7.3: the number of parts to keep is never zero.
        if keep == 0 {
            return Err(SyntaxError); // macro transformer 0
        }
        m.keep = Some(keep);
    }
    if matches!(b.get(i), Some(b'r' | b'R')) {
        m.reverse = true;
        i += 1;
    }
    let start = i;
    while b.get(i).is_some_and(|d| DELIMITERS.contains(d)) {
        i += 1;
    }
    m.delimiters = b.get(start..i).unwrap_or_default();
    if b.get(i) != Some(&b'}') {
        return Err(SyntaxError); // bad macro expansion
    }
    Ok((m, i + 1))
}

/// Expands `ms`, asking `value` for each macro letter's value.
pub fn expand(ms: &MacroString, value: &mut dyn FnMut(u8) -> String) -> String {
    let mut out = String::new();
    for piece in &ms.pieces {
        match piece {
            Piece::Literal(l) => out.push_str(l),
            Piece::Expand(m) => out.push_str(&transform(&value(m.letter), m)),
        }
    }
    out
}

/// Applies the transformers and the URL escaping of section 7.3.
pub fn transform(value: &str, m: &Macro) -> String {
    let delims: &[u8] = if m.delimiters.is_empty() {
        b"."
    } else {
        m.delimiters
    };
    // Split at the delimiter bytes: they are ASCII, so never inside a
    // character, and each cut is a char boundary (`get` never fails).
    let mut parts: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, b) in value.bytes().enumerate() {
        if delims.contains(&b) {
            parts.push(value.get(start..i).unwrap_or_default());
            start = i + 1;
        }
    }
    parts.push(value.get(start..).unwrap_or_default());
    if m.reverse {
        parts.reverse();
    }
    let skip = m.keep.map_or(0, |keep| parts.len().saturating_sub(keep));
    // Joined with '.', which URL escaping keeps: each part can be escaped
    // on its own as it is appended.
    let mut out = String::with_capacity(value.len());
    for (i, part) in parts.iter().skip(skip).enumerate() {
        if i > 0 {
            out.push('.');
        }
        if m.url_escape {
            url_escape(&mut out, part);
        } else {
            out.push_str(part);
        }
    }
    out
}

/// Appends `s` with RFC 3986 percent-encoding of everything but the
/// unreserved characters.
fn url_escape(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            for n in [b >> 4, b & 15] {
                out.push(
                    char::from_digit(u32::from(n), 16).map_or('0', |c| c.to_ascii_uppercase()),
                );
            }
        }
    }
}
