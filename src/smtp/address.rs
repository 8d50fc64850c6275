//! Envelope addresses (RFC 5321 §4.1.2, RFC 6531 for UTF-8) and the
//! mapping from a recipient's local part to a mailbox name.
//!
//! Parsing is deliberately a little more tolerant than the grammar where
//! real senders deviate harmlessly (dots anywhere in a dot-string, a
//! missing pair of angle brackets), and strict wherever a byte could reach
//! a header or the file system (no control bytes, no invalid UTF-8).

/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle
/// brackets.
pub const MAX_PATH_BYTES: usize = 256;
/// RFC 5321 §4.5.3.1.1: a local part is at most 64 octets; so is a mailbox name.
pub const MAX_MAILBOX_NAME_BYTES: usize = 64;

/// A parsed mailbox address, as it stood between the angle brackets
/// (any source route removed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The address as the client sent it (source route removed).
    pub raw: String,
    /// The local part with any quoting undone.
    pub local: String,
    /// The domain or address literal; `None` only for `<postmaster>` and
    /// for domain-less senders.
    pub domain: Option<String>,
    /// True when any byte is non-ASCII (needs SMTPUTF8, RFC 6531 §3.3).
    pub utf8: bool,
}

impl Address {
    /// `postmaster` with or without a domain (RFC 5321 §4.5.1: case-insensitive).
    pub fn is_postmaster(&self) -> bool {
        self.local.eq_ignore_ascii_case("postmaster")
    }
}

/// What a path argument parsed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Path {
    /// `<>`: the null reverse-path of bounces (RFC 5321 §4.5.5).
    Null,
    Mailbox(Address),
}

/// Splits `<path> params` (or a tolerated bare `path params`) into the
/// path and the rest. Returns `None` if the brackets do not close.
pub fn split_path(arg: &[u8]) -> Option<(&[u8], &[u8])> {
    if arg.first() == Some(&b'<') {
        let mut quoted = false;
        let mut i = 1;
        while i < arg.len() {
            match arg[i] {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b'>' if !quoted => return Some((&arg[..=i], &arg[i + 1..])),
                _ => {}
            }
            i += 1;
        }
        None
    } else {
        let end = arg.iter().position(|&b| b == b' ').unwrap_or(arg.len());
        Some((&arg[..end], &arg[end..]))
    }
}

/// Parses a path as returned by `split_path`: `<>`, `<addr>`, `<@route:addr>`
/// or a bare `addr`. `allow_no_domain` admits `<user>` (used for senders;
/// recipients admit only `<postmaster>`).
pub fn parse_path(path: &[u8], allow_no_domain: bool) -> Option<Path> {
    if path.len() > MAX_PATH_BYTES {
        return None;
    }
    let inner = match path {
        [b'<', inner @ .., b'>'] => inner,
        _ if path.first() == Some(&b'<') => return None,
        _ => path,
    };
    if inner.is_empty() {
        return if path.first() == Some(&b'<') {
            Some(Path::Null)
        } else {
            None
        };
    }
    // RFC 5321 §4.1.2 A-d-l: "@one,@two:" — accepted and ignored (§C).
    let inner = if inner[0] == b'@' {
        let colon = inner.iter().position(|&b| b == b':')?;
        if !inner[..colon]
            .split(|&b| b == b',')
            .all(|hop| hop.first() == Some(&b'@') && is_domain(&hop[1..], false))
        {
            return None;
        }
        &inner[colon + 1..]
    } else {
        inner
    };
    parse_mailbox(inner, allow_no_domain).map(Path::Mailbox)
}

fn parse_mailbox(bytes: &[u8], allow_no_domain: bool) -> Option<Address> {
    let text = std::str::from_utf8(bytes).ok()?;
    let utf8 = !text.is_ascii();
    let (local, rest) = if bytes.first() == Some(&b'"') {
        // Quoted-string = DQUOTE *QcontentSMTP DQUOTE
        let mut local = String::new();
        let mut chars = text[1..].char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i + 2);
                    break;
                }
                '\\' => {
                    let (_, q) = chars.next()?;
                    if !(' '..='~').contains(&q) {
                        return None;
                    }
                    local.push(q);
                }
                ' '..='~' => local.push(c),
                c if !c.is_ascii() && !c.is_control() => local.push(c),
                _ => return None,
            }
        }
        (local, &text[end?..])
    } else {
        let at = text.find('@').unwrap_or(text.len());
        let local = &text[..at];
        if local.is_empty() || !local.chars().all(|c| c == '.' || is_atext(c)) {
            return None;
        }
        (local.to_string(), &text[at..])
    };
    if local.len() > MAX_MAILBOX_NAME_BYTES {
        return None;
    }
    let domain = match rest.strip_prefix('@') {
        Some(d) if is_domain(d.as_bytes(), true) || is_address_literal(d) => Some(d.to_string()),
        Some(_) => return None,
        None if rest.is_empty()
            && (allow_no_domain || local.eq_ignore_ascii_case("postmaster")) =>
        {
            None
        }
        None => return None,
    };
    Some(Address {
        raw: text.to_string(),
        local,
        domain,
        utf8,
    })
}

/// RFC 5322 atext, widened by RFC 6531 to non-ASCII characters.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && !c.is_control())
}

/// RFC 5321 Domain: dot-separated labels of letters, digits and inner
/// hyphens, each 1–63 octets, 255 in all. `utf8` also admits U-labels
/// (RFC 6531 §3.3).
pub fn is_domain(d: &[u8], utf8: bool) -> bool {
    if d.is_empty() || d.len() > 255 {
        return false;
    }
    // U-labels must be valid UTF-8 without control characters (C1 controls
    // such as U+0085 are non-ASCII but must not reach a header).
    if utf8 && !std::str::from_utf8(d).is_ok_and(|s| !s.chars().any(char::is_control)) {
        return false;
    }
    d.split(|&b| b == b'.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-')
            && label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || (utf8 && b >= 0x80))
    })
}

/// RFC 5321 §4.1.3 address literal: `[IPv4]` or `[IPv6:...]`.
pub fn is_address_literal(d: &str) -> bool {
    let Some(inner) = d.strip_prefix('[').and_then(|d| d.strip_suffix(']')) else {
        return false;
    };
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
            inner[5..].parse::<std::net::Ipv6Addr>().is_ok()
        }
        _ => {
            // Strict dotted quad: std rejects leading zeros and out-of-range parts.
            inner.parse::<std::net::Ipv4Addr>().is_ok()
        }
    }
}

/// The mailbox a local part maps to: ASCII-lowercased, `+detail` removed
/// (from the first `+`), then only `a-z 0-9 . _ -`, not starting with `.`,
/// 1–64 bytes. `None` means the name is not allowed; such a name never
/// reaches the file system.
pub fn mailbox_name(local: &str) -> Option<String> {
    let base = match local.find('+') {
        Some(plus) => &local[..plus],
        None => local,
    };
    let name = base.to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= MAX_MAILBOX_NAME_BYTES
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    ok.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Option<Path> {
        let (p, rest) = split_path(s.as_bytes())?;
        assert!(rest.is_empty());
        parse_path(p, false)
    }

    fn mailbox(s: &str) -> Address {
        match addr(s) {
            Some(Path::Mailbox(a)) => a,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn plain_address_splits_into_local_and_domain() {
        let a = mailbox("<Alice+news@Example.ORG>");
        assert_eq!(a.local, "Alice+news");
        assert_eq!(a.domain.as_deref(), Some("Example.ORG"));
        assert_eq!(a.raw, "Alice+news@Example.ORG");
        assert!(!a.utf8);
    }

    #[test]
    fn null_path_is_recognised() {
        assert_eq!(addr("<>"), Some(Path::Null));
    }

    #[test]
    fn source_route_is_ignored() {
        let a = mailbox("<@relay.example,@b.example:bob@example.org>");
        assert_eq!(a.raw, "bob@example.org");
    }

    #[test]
    fn quoted_local_part_is_unquoted() {
        let a = mailbox(r#"<"john\"doe smith"@example.org>"#);
        assert_eq!(a.local, "john\"doe smith");
    }

    #[test]
    fn quoted_string_may_hold_a_closing_bracket() {
        let (p, rest) = split_path(br#"<"a>b"@x.org> SIZE=10"#).unwrap();
        assert_eq!(p, br#"<"a>b"@x.org>"#);
        assert_eq!(rest, b" SIZE=10");
    }

    #[test]
    fn bare_address_without_brackets_is_tolerated() {
        let (p, rest) = split_path(b"bob@example.org SIZE=5").unwrap();
        assert_eq!(
            parse_path(p, false),
            Some(Path::Mailbox(mailbox("<bob@example.org>")))
        );
        assert_eq!(rest, b" SIZE=5");
    }

    #[test]
    fn invalid_syntax_is_refused() {
        for bad in [
            "<bob@>",
            "<@example.org>",
            "<bob@exa mple.org>",
            "<bob@-example.org>",
            "<bob@example..org>",
            "<bob@example.org.>",
            "<bo b@example.org>",
            "<bob@@example.org>",
            "<bob\0@example.org>",
            "<bob\r@example.org>",
            "<bob@ex\u{1}ample.org>",
            "<bob@[300.1.1.1]>",
            "<bob@[IPv6:zz::1]>",
            "<\"unterminated@example.org>",
            "<bob>",
            "<bob@example.org",
        ] {
            let parsed = split_path(bad.as_bytes()).and_then(|(p, _)| parse_path(p, false));
            assert_eq!(parsed, None, "{bad:?}");
        }
        assert!(split_path(b"<bob@example.org").is_none());
        assert!(parse_path(b"<bob>", false).is_none());
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert!(parse_path(b"<b\xffob@example.org>", false).is_none());
    }

    #[test]
    fn utf8_address_is_marked() {
        let a = mailbox("<josé@exämple.org>");
        assert!(a.utf8);
        assert_eq!(a.domain.as_deref(), Some("exämple.org"));
    }

    #[test]
    fn address_literals_are_domains() {
        assert_eq!(
            mailbox("<bob@[127.0.0.1]>").domain.as_deref(),
            Some("[127.0.0.1]")
        );
        assert_eq!(
            mailbox("<bob@[IPv6:::1]>").domain.as_deref(),
            Some("[IPv6:::1]")
        );
    }

    #[test]
    fn postmaster_without_domain_is_allowed_for_recipients() {
        let a = mailbox("<PostMaster>");
        assert!(a.is_postmaster());
        assert_eq!(a.domain, None);
    }

    #[test]
    fn sender_without_domain_is_tolerated_only_when_asked() {
        assert!(parse_path(b"<scanner>", true).is_some());
        assert!(parse_path(b"<scanner>", false).is_none());
    }

    #[test]
    fn over_long_path_is_refused() {
        let long = format!("<{}@{}.org>", "a".repeat(60), "b".repeat(200));
        assert!(long.len() > MAX_PATH_BYTES);
        assert!(parse_path(long.as_bytes(), false).is_none());
        let long_local = format!("<{}@x.org>", "a".repeat(65));
        assert!(parse_path(long_local.as_bytes(), false).is_none());
    }

    #[test]
    fn mailbox_names_follow_the_rules() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Alice", Some("alice")),
            ("alice+news", Some("alice")),
            ("alice+news+more", Some("alice")),
            ("a..b", Some("a..b")),
            ("first.last", Some("first.last")),
            ("under_score-dash", Some("under_score-dash")),
            ("x1", Some("x1")),
            (".", None),
            ("..", None),
            (".hidden", None),
            ("+detail", None),
            ("../etc", None),
            ("a/b", None),
            ("a b", None),
            ("a\0b", None),
            ("a\nb", None),
            ("josé", None),
            ("a=b", None),
            ("a%b", None),
        ];
        for (local, want) in cases {
            assert_eq!(mailbox_name(local).as_deref(), *want, "{local:?}");
        }
        assert_eq!(
            mailbox_name(&"a".repeat(64)).as_deref(),
            Some("a".repeat(64).as_str())
        );
        assert_eq!(mailbox_name(&"a".repeat(65)), None);
    }

    #[test]
    fn domains_follow_ldh_rules() {
        assert!(is_domain(b"mail.example.org", false));
        assert!(is_domain(b"localhost", false));
        assert!(is_domain(b"DESKTOP-AB12", false));
        assert!(!is_domain(b"my_host", false));
        assert!(!is_domain(b"a..b", false));
        assert!(!is_domain(b"", false));
        assert!(!is_domain(&[b'a'; 64], false));
        assert!(!is_domain("exämple.org".as_bytes(), false));
        assert!(is_domain("exämple.org".as_bytes(), true));
        // Found by the address fuzzer: a C1 control character in a U-label.
        assert!(!is_domain("exxx\u{90}rg".as_bytes(), true));
        assert!(!is_domain("a\u{85}b".as_bytes(), true));
    }
}
