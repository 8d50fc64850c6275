//! Header fields: unfolding (RFC 5322 §2.2.3), encoded words (RFC 2047),
//! and `type/subtype; name=value` fields with RFC 2231 parameters.

use super::charset;
use super::decode;

/// One header field, unfolded: the name as sent and the raw value (the
/// bytes after the colon, leading white space removed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: Vec<u8>,
}

/// Splits an unfolded header line at its colon. None if it is not a field
/// (no colon, or a name with bytes RFC 5322 §3.6.8 does not allow).
pub fn split_field(line: &[u8]) -> Option<Field> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    // Tolerate white space between the name and the colon (RFC 822 did).
    let name = trim_end(name);
    if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
        return None;
    }
    let value = trim(&line[colon + 1..]);
    Some(Field {
        name: String::from_utf8_lossy(name).into_owned(),
        value: value.to_vec(),
    })
}

fn is_wsp(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| !is_wsp(c)).unwrap_or(b.len());
    trim_end(&b[start..])
}

fn trim_end(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| !is_wsp(c)).map_or(0, |i| i + 1);
    &b[..end]
}

/// Removes folding: every CRLF or LF (RFC 5322 §2.2.3 unfolding keeps the
/// white space that follows).
pub fn unfold(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect()
}

/// Raw header bytes (not encoded words) as text: UTF-8 if valid (RFC 6532
/// allows it), else Windows-1252 — what 8-bit headers usually are.
fn raw_text(bytes: &[u8], out: &mut String) {
    charset::decode_into(bytes, charset::Charset::UsAscii, out);
}

/// One parsed encoded word `=?charset?enc?text?=`: its charset and the
/// decoded bytes, and how long it was.
fn encoded_word(s: &[u8]) -> Option<(&[u8], Vec<u8>, usize)> {
    let rest = s.strip_prefix(b"=?")?;
    let q1 = rest.iter().position(|&b| b == b'?')?;
    let cs = &rest[..q1];
    if cs.is_empty() || cs.len() > 64 || !cs.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let rest = &rest[q1 + 1..];
    let (&enc, rest) = rest.split_first()?;
    let rest = rest.strip_prefix(b"?")?;
    // The text runs to the next "?=" and holds no white space.
    let end = rest.windows(2).position(|w| w == b"?=")?;
    let text = &rest[..end];
    if text.iter().any(|&b| is_wsp(b)) {
        return None;
    }
    let bytes = match enc {
        b'B' | b'b' => decode::base64(text),
        b'Q' | b'q' => q_decode(text),
        _ => return None,
    };
    let len = 2 + q1 + 1 + 2 + end + 2;
    Some((cs, bytes, len))
}

/// RFC 2047 §4.2: quoted-printable where `_` is a space.
fn q_decode(text: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'_' => v.push(b' '),
            b'=' if i + 2 < text.len() => match (hexval(text[i + 1]), hexval(text[i + 2])) {
                (Some(h), Some(l)) => {
                    v.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => v.push(b'='),
            },
            b => v.push(b),
        }
        i += 1;
    }
    v
}

fn hexval(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes a header value to UTF-8: unfolds it and decodes RFC 2047
/// encoded words wherever they appear (real mail puts them inside quoted
/// strings and next to other text too). White space between two encoded
/// words is dropped (§6.2); adjacent words in one charset are joined
/// before conversion, so a character split across two words survives.
/// Returns the text and the unknown charsets met.
pub fn decode_value(value: &[u8]) -> (String, Vec<String>) {
    let value = unfold(value);
    let mut out = String::with_capacity(value.len());
    let mut unknown: Vec<String> = Vec::new();
    // Encoded bytes waiting for conversion, with their charset.
    let mut held: Vec<u8> = Vec::new();
    let mut held_cs: Vec<u8> = Vec::new();
    // White space seen after an encoded word, emitted only if plain text follows.
    let mut gap_start: Option<usize> = None;
    let mut plain_start = 0;
    let mut i = 0;
    let flush = |held: &mut Vec<u8>, cs: &[u8], out: &mut String, unknown: &mut Vec<String>| {
        if held.is_empty() {
            return;
        }
        let label = String::from_utf8_lossy(cs);
        let (text, known) = charset::decode(held, Some(&label));
        if !known && !unknown.iter().any(|u| u.eq_ignore_ascii_case(&label)) {
            unknown.push(label.into_owned());
        }
        push_spaced(&text, out);
        held.clear();
    };
    while i < value.len() {
        if value[i] == b'='
            && value.get(i + 1) == Some(&b'?')
            && let Some((cs, bytes, len)) = encoded_word(&value[i..])
        {
            // Plain text before this word (a gap of only white space
            // between two encoded words is dropped).
            let plain_end = i;
            let between = &value[plain_start..plain_end];
            let only_gap = gap_start.is_some() && between.iter().all(|&b| is_wsp(b));
            if !only_gap && !between.is_empty() {
                flush(&mut held, &held_cs, &mut out, &mut unknown);
                raw_text(between, &mut out);
            }
            if !held.is_empty() && !cs.eq_ignore_ascii_case(&held_cs) {
                flush(&mut held, &held_cs, &mut out, &mut unknown);
            }
            if held.is_empty() {
                held_cs = cs.to_vec();
            }
            held.extend_from_slice(&bytes);
            i += len;
            plain_start = i;
            gap_start = Some(i);
            continue;
        }
        i += 1;
    }
    flush(&mut held, &held_cs, &mut out, &mut unknown);
    raw_text(&value[plain_start..], &mut out);
    (out, unknown)
}

/// Appends the decoded text of encoded words with each run of control
/// characters (an encoded `=0A`, `=0D=0A`, a tab) as one space: the words
/// stay apart, and no line break gets into a header value.
fn push_spaced(text: &str, out: &mut String) {
    let mut after_control = false;
    for c in text.chars() {
        if !c.is_control() {
            out.push(c);
        } else if !after_control {
            out.push(' ');
        }
        after_control = c.is_control();
    }
}

/// A decoded header value for display on one line: control characters
/// removed (tabs become spaces), surrounding white space trimmed.
pub fn display(value: &[u8]) -> String {
    let (s, _) = decode_value(value);
    crate::safe::one_line(&s)
}

/// A `type/subtype; a=b` field (Content-Type, Content-Disposition).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Structured {
    /// Lower-cased value before the first `;` (e.g. "text/plain", "attachment").
    pub value: String,
    /// Parameters, names lower-cased, RFC 2231 segments joined and decoded.
    pub params: Vec<(String, String)>,
}

impl Structured {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Removes RFC 5322 comments `( … )`, nested, outside quoted strings.
fn strip_comments(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut depth = 0u32;
    let mut quoted = false;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if quoted {
            out.push(b);
            if b == b'\\' && i + 1 < s.len() {
                out.push(s[i + 1]);
                i += 1;
            } else if b == b'"' {
                quoted = false;
            }
        } else if depth > 0 {
            match b {
                b'\\' => i += 1,
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
        } else {
            match b {
                b'"' => {
                    quoted = true;
                    out.push(b);
                }
                b'(' => depth = 1,
                _ => out.push(b),
            }
        }
        i += 1;
    }
    out
}

/// One raw parameter before RFC 2231 assembly.
struct RawParam {
    name: String,
    /// Section number for `name*N`, None for a plain `name`.
    section: Option<u32>,
    /// Written `name*` or `name*N*`: percent-encoded, maybe with charset'lang'.
    extended: bool,
    value: Vec<u8>,
}

/// Parses `value; a=b; c="d e"; f*=utf-8''%C3%A9; g*0=x; g*1=y`.
pub fn parse_structured(raw: &[u8]) -> Structured {
    let s = strip_comments(&unfold(raw));
    let mut parts = split_params(&s).into_iter();
    let value = parts
        .next()
        .map(|v| String::from_utf8_lossy(trim(&v)).to_ascii_lowercase())
        .unwrap_or_default();
    let mut raws: Vec<RawParam> = Vec::new();
    for p in parts {
        let Some(eq) = p.iter().position(|&b| b == b'=') else {
            continue;
        };
        let name = String::from_utf8_lossy(trim(&p[..eq])).to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        let v = trim(&p[eq + 1..]);
        let quoted = v.first() == Some(&b'"');
        let v = if quoted { unquote(v) } else { v.to_vec() };
        let (base, section, extended) = match name.strip_suffix('*') {
            Some(n) => match n.rsplit_once('*') {
                Some((b, num)) if is_number(num) => (b.to_string(), num.parse().ok(), true),
                _ => (n.to_string(), None, true),
            },
            None => match name.rsplit_once('*') {
                Some((b, num)) if is_number(num) => (b.to_string(), num.parse().ok(), false),
                _ => (name.clone(), None, false),
            },
        };
        raws.push(RawParam {
            name: base,
            section,
            extended,
            value: v,
        });
    }
    Structured {
        value,
        params: assemble(raws),
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Splits at `;` outside quoted strings.
fn split_params(s: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if quoted && b == b'\\' && i + 1 < s.len() {
            cur.push(b);
            cur.push(s[i + 1]);
            i += 2;
            continue;
        }
        if b == b'"' {
            quoted = !quoted;
        }
        if b == b';' && !quoted {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(b);
        }
        i += 1;
    }
    out.push(cur);
    out
}

/// `"a \"b\""` → `a "b"`. An unterminated quote runs to the end.
fn unquote(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 1;
    while i < v.len() {
        match v[i] {
            b'\\' if i + 1 < v.len() => {
                out.push(v[i + 1]);
                i += 2;
                continue;
            }
            b'"' => break,
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn percent_decode(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%'
            && i + 2 < v.len()
            && let (Some(h), Some(l)) = (hexval(v[i + 1]), hexval(v[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(v[i]);
        i += 1;
    }
    out
}

/// RFC 2231 §3–4: joins `name*0`, `name*1`, … in order, percent-decodes
/// the extended sections, converts from the charset named in the first.
/// A plain `name` is used when no RFC 2231 form exists; RFC 2047 words
/// inside a plain value (Outlook, Gmail) are decoded too.
fn assemble(raws: Vec<RawParam>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for r in &raws {
        if !names.contains(&r.name.as_str()) {
            names.push(&r.name);
        }
    }
    for name in names {
        let mut sections: Vec<&RawParam> = raws
            .iter()
            .filter(|r| r.name == name && (r.section.is_some() || r.extended))
            .collect();
        if sections.is_empty() {
            let plain = raws.iter().find(|r| r.name == name).map(|r| &r.value);
            let v = plain.map(|v| decode_value(v).0).unwrap_or_default();
            out.push((name.to_string(), v));
            continue;
        }
        sections.sort_by_key(|r| r.section.unwrap_or(0));
        sections.dedup_by_key(|r| r.section.unwrap_or(0));
        let mut bytes = Vec::new();
        let mut label: Option<String> = None;
        for (i, r) in sections.iter().enumerate() {
            if r.extended {
                let mut v: &[u8] = &r.value;
                if i == 0 {
                    // charset'language'value
                    let mut it = v.splitn(3, |&b| b == b'\'');
                    if let (Some(cs), Some(_lang), Some(rest)) = (it.next(), it.next(), it.next()) {
                        if !cs.is_empty() {
                            label = Some(String::from_utf8_lossy(cs).into_owned());
                        }
                        v = rest;
                    }
                }
                bytes.extend_from_slice(&percent_decode(v));
            } else {
                bytes.extend_from_slice(&r.value);
            }
        }
        let text = match label {
            Some(l) => charset::decode(&bytes, Some(&l)).0,
            None => decode_value(&bytes).0,
        };
        out.push((name.to_string(), text));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> String {
        decode_value(s.as_bytes()).0
    }

    #[test]
    fn split_field_cases() {
        let f = split_field(b"Subject:  hello world ").unwrap();
        assert_eq!(
            (f.name.as_str(), f.value.as_slice()),
            ("Subject", &b"hello world"[..])
        );
        assert_eq!(split_field(b"Subject : x").unwrap().name, "Subject");
        assert!(split_field(b"no colon here").is_none());
        assert!(split_field(b": empty name").is_none());
        assert!(split_field(b"bad name: x").is_none());
    }

    #[test]
    fn encoded_words() {
        let cases = [
            ("plain text", "plain text"),
            ("=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße"),
            ("=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_Berlin?=", "Grüße aus Berlin"),
            ("=?ISO-8859-1?Q?Caf=E9?=", "Café"),
            ("=?iso-8859-15?q?=A4uro?=", "€uro"),
            // Adjacent words: the white space (even folded) between them goes.
            ("=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab"),
            ("=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=", "ab"),
            // A character split across two words is rejoined.
            ("=?UTF-8?B?w7w=?= =?UTF-8?B?w58=?=", "üß"),
            ("=?UTF-8?B?4oK=?= =?UTF-8?B?rA==?=", "€"),
            ("=?UTF-8?Q?=E2=82?= =?UTF-8?Q?=AC?=", "€"),
            // Mixed: plain text around encoded words keeps its spaces.
            (
                "Re: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= from me",
                "Re: Grüße from me",
            ),
            ("=?UTF-8?Q?a?= b =?UTF-8?Q?c?=", "a b c"),
            (
                "=?UTF-8?Q?caf=C3=A9?= =?ISO-8859-1?Q?_Caf=E9?=",
                "café Café",
            ),
            ("\"=?UTF-8?Q?Ren=C3=A9?=\" <r@x.org>", "\"René\" <r@x.org>"),
            ("=?utf-8*en?q?hi?=", "hi"),
            // Not encoded words: kept as they are.
            ("=?UTF-8?X?abc?=", "=?UTF-8?X?abc?="),
            ("=?UTF-8?Q?no end", "=?UTF-8?Q?no end"),
            ("=?UTF-8?Q?a b?=", "=?UTF-8?Q?a b?="),
            ("=??Q?x?=", "=??Q?x?="),
            // Folding is removed, the white space after it kept.
            ("a\r\n\tb\n c", "a\tb c"),
            // Raw 8-bit: UTF-8 if valid, else Windows-1252.
            ("Grüße", "Grüße"),
        ];
        for (input, want) in cases {
            assert_eq!(d(input), want, "{input:?}");
        }
        assert_eq!(d("Gr\u{fc}\u{df}e"), "Grüße");
        assert_eq!(decode_value(b"Gr\xfc\xdfe").0, "Grüße");
    }

    #[test]
    fn unknown_charsets_are_reported() {
        let (s, unknown) = decode_value("=?X-UNKNOWN?Q?abc?= =?x-unknown?Q?d?=".as_bytes());
        assert_eq!(s, "abcd");
        assert_eq!(unknown, vec!["X-UNKNOWN".to_string()]);
    }

    #[test]
    fn display_removes_control_characters() {
        // Encoded: each run a space. Raw: a tab is a space, others go.
        assert_eq!(display(b"=?UTF-8?Q?a=0Ab=09c=1B[31m?= "), "a b c [31m");
        assert_eq!(display(b"=?UTF-8?Q?a=0D=0A=09b?="), "a b");
        assert_eq!(display(b"a\x01b\tc"), "ab c");
        assert_eq!(display(b"=?UTF-8?B?wp8=?=x"), "x");
    }

    #[test]
    fn structured_fields() {
        let s =
            parse_structured(b"Text/Plain; charset=\"UTF-8\"; format=flowed (comment); delsp=yes");
        assert_eq!(s.value, "text/plain");
        assert_eq!(s.param("charset"), Some("UTF-8"));
        assert_eq!(s.param("format"), Some("flowed"));
        assert_eq!(s.param("delsp"), Some("yes"));
        let s = parse_structured(b"multipart/mixed;\r\n boundary=\"=_a;b (c)\"");
        assert_eq!(s.param("boundary"), Some("=_a;b (c)"));
        let s = parse_structured(b"attachment; filename=\"a \\\"q\\\".txt\"");
        assert_eq!(s.param("filename"), Some("a \"q\".txt"));
        let s = parse_structured(b"attachment; filename=\"unterminated");
        assert_eq!(s.param("filename"), Some("unterminated"));
    }

    #[test]
    fn rfc2231_parameters() {
        let s = parse_structured(b"attachment; filename*=utf-8''%E2%82%AC%20rates.pdf");
        assert_eq!(s.param("filename"), Some("€ rates.pdf"));
        let s = parse_structured(b"attachment; filename*=iso-8859-1'fr'caf%E9.txt");
        assert_eq!(s.param("filename"), Some("café.txt"));
        // Continuations, out of order, mixing encoded and plain sections.
        let s = parse_structured(
            b"attachment;\n filename*1=\" part two\";\n filename*0*=UTF-8''%C3%BCber;\n filename*2*=%20%E2%9C%93.txt",
        );
        assert_eq!(s.param("filename"), Some("über part two ✓.txt"));
        let s = parse_structured(b"application/pdf; name*0=\"long\"; name*1=\"name.pdf\"");
        assert_eq!(s.param("name"), Some("longname.pdf"));
        // The RFC 2231 form wins over a plain fallback given next to it.
        let s = parse_structured(
            b"attachment; filename=\"fallback.txt\"; filename*=UTF-8''r%C3%A9el.txt",
        );
        assert_eq!(s.param("filename"), Some("réel.txt"));
        // RFC 2047 inside a quoted name (Outlook, Gmail).
        let s = parse_structured(b"image/png; name=\"=?UTF-8?B?R3LDvMOfZS5wbmc=?=\"");
        assert_eq!(s.param("name"), Some("Grüße.png"));
        // Bad percent escapes are kept.
        let s = parse_structured(b"x; a*=utf-8''100%25%zz%");
        assert_eq!(s.param("a"), Some("100%%zz%"));
    }
}
