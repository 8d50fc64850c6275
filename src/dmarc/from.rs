//! The Author Domain: the domain of the one mailbox in the one
//! RFC5322.From field (RFC 9989 section 3.2.2, "Author Domain", and 5.3.1,
//! "Extract Author Domain").
//!
//! RFC 5322 section 3.6.2: `from = "From:" mailbox-list`, and section
//! 3.6 allows exactly one From field. Section 5.3.1 of RFC 9989: with zero
//! or more than one domain "DMARC validation is not possible" (tinymx
//! does not take up the MAY to go on with several: section 11.5 warns
//! of the cost), so anything but one field holding one mailbox is an
//! error, reported as `dmarc=permerror`.
//!
//! The parse follows RFC 5322 section 3.4 (with the obsolete forms of
//! section 4.4 that real mail uses: a `.` in a display name, a route in
//! the angle brackets, empty list members): the domain is the one of the
//! real addr-spec, so `"ceo@bank.com" <evil@evil.com>` is evil.com's,
//! and `ceo@bank.com <evil@evil.com>` (an `@` outside quotes in a display
//! name) is no mailbox at all. Comments and white space may sit between
//! any two tokens (CFWS). RFC 2047 encoded words are read as one atom
//! even when sloppy encoders put specials in them, so the text of a
//! display name never becomes an address.

use crate::smtp::address::is_domain;

/// RFC 1035 section 2.3.4 / RFC 9989's DNS names: a domain longer than
/// this cannot be looked up.
pub const MAX_DOMAIN: usize = 253;

/// One lexical token of a field value (RFC 5322 section 3.2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// An atom (its span), or an encoded word.
    Atom(usize, usize),
    /// A quoted-string (its span, quotes included: a local part's, for
    /// TINYMX_FROM).
    Quoted(usize, usize),
    /// A domain-literal `[...]`.
    Literal,
    /// One of `< > @ , : ; .`.
    Special(u8),
}

fn atext(b: u8) -> bool {
    // RFC 5322 section 3.2.3, and RFC 6532 section 3.2's UTF-8.
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) || b >= 0x80
}

/// The length of an RFC 2047 encoded word at the start of `s`
/// (`=?charset?B|Q?text?=`, no white space), if there is one.
fn encoded_word(s: &[u8]) -> Option<usize> {
    let rest = s.strip_prefix(b"=?")?;
    let q1 = rest.iter().position(|&b| b == b'?')?;
    let (charset, rest) = rest.split_at(q1);
    let [b'?', b'B' | b'b' | b'Q' | b'q', b'?', text @ ..] = rest else {
        return None;
    };
    if q1 == 0 {
        return None;
    }
    let end = text.windows(2).position(|w| w == b"?=")?;
    if !text[..end].iter().all(u8::is_ascii_graphic) || !charset.iter().all(|&b| atext(b)) {
        return None;
    }
    Some(2 + q1 + 3 + end + 2)
}

/// Skips a quoted-string, comment or domain-literal that starts at `i`
/// (the opening byte), honouring quoted-pairs and, for comments, nesting.
/// Returns the index after its end; None when it is not closed.
fn skip_delimited(v: &[u8], mut i: usize, close: u8) -> Option<usize> {
    let open = v[i];
    let mut depth = 1u32;
    i += 1;
    while i < v.len() {
        match v[i] {
            b'\\' => i += 1,
            b if b == close => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'(' if open == b'(' => depth += 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Splits a field value into tokens, dropping CFWS.
fn tokens(v: &[u8]) -> Result<Vec<Tok>, &'static str> {
    const UNCLOSED: &str = "From: unclosed quote, comment or literal";
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let b = v[i];
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        } else if b == b'(' {
            i = skip_delimited(v, i, b')').ok_or(UNCLOSED)?;
        } else if b == b'"' {
            let start = i;
            i = skip_delimited(v, i, b'"').ok_or(UNCLOSED)?;
            out.push(Tok::Quoted(start, i));
        } else if b == b'[' {
            i = skip_delimited(v, i, b']').ok_or(UNCLOSED)?;
            out.push(Tok::Literal);
        } else if b"<>@,:;.".contains(&b) {
            out.push(Tok::Special(b));
            i += 1;
        } else if atext(b) {
            let start = i;
            match encoded_word(&v[i..]) {
                Some(n) => i += n,
                None => i += v[i..].iter().take_while(|&&c| atext(c)).count(),
            }
            out.push(Tok::Atom(start, i));
        } else {
            return Err("From: a byte no address can hold");
        }
    }
    Ok(out)
}

/// An addr-spec `local-part "@" domain`: the address as written (CFWS
/// left out) and the domain, lower-cased.
fn addr_spec(v: &[u8], t: &[Tok]) -> Result<(String, String), &'static str> {
    let Some(at) = t.iter().position(|&x| x == Tok::Special(b'@')) else {
        return Err("From: no domain");
    };
    let (local, domain) = (&t[..at], &t[at + 1..]);
    // The local part matters not to DMARC: any words and dots will do
    // (obs-local-part, and the "john..doe" that RFC 5322 forbids).
    if local.is_empty()
        || !local
            .iter()
            .all(|&x| matches!(x, Tok::Atom(..) | Tok::Quoted(..) | Tok::Special(b'.')))
    {
        return Err("From: not an address");
    }
    if domain.contains(&Tok::Literal) {
        return Err("From: a domain literal");
    }
    // dot-atom (obs-domain: CFWS between the parts, already dropped): atom
    // *("." atom). One trailing dot names the same domain in the DNS; it
    // is taken off rather than made an error, so that a forger cannot
    // turn a policy off with one dot.
    let domain = match domain {
        [rest @ .., Tok::Special(b'.')] if !rest.is_empty() => rest,
        d => d,
    };
    let mut name = Vec::new();
    for (k, &x) in domain.iter().enumerate() {
        match (k % 2, x) {
            (0, Tok::Atom(s, e)) => name.extend_from_slice(&v[s..e]),
            (1, Tok::Special(b'.')) => name.push(b'.'),
            _ => return Err("From: not a domain"),
        }
    }
    if name.is_empty() {
        return Err("From: no domain");
    }
    name.make_ascii_lowercase();
    // Host-name syntax (U-labels as UTF-8, RFC 6531): the name goes into
    // DNS questions and the Authentication-Results field.
    if name.len() > MAX_DOMAIN || !is_domain(&name, true) {
        return Err("From: not a domain");
    }
    let domain = String::from_utf8(name).map_err(|_| "From: not a domain")?;
    let mut address = Vec::new();
    for &x in local {
        match x {
            Tok::Atom(s, e) | Tok::Quoted(s, e) => address.extend_from_slice(&v[s..e]),
            _ => address.push(b'.'),
        }
    }
    address.push(b'@');
    address.extend_from_slice(domain.as_bytes());
    Ok((String::from_utf8_lossy(&address).into_owned(), domain))
}

/// The Author Domain (RFC 9989 section 5.3.1) of a message whose From
/// fields have the raw values `from_fields` (the bytes after the colon,
/// folds included): lower-cased (ASCII only; a U-label stays UTF-8,
/// tinymx has no IDNA to make the A-label section 5.3.1 asks for), without
/// a trailing dot. An error, with the reason for the
/// Authentication-Results field, unless there is exactly one field with
/// exactly one mailbox: no field, two fields, two mailboxes, a group, no
/// domain, a domain literal, a syntax error.
pub fn author_domain(from_fields: &[&[u8]]) -> Result<String, &'static str> {
    author(from_fields).map(|(_, domain)| domain)
}

/// [`author_domain`], with the address as written (its local part as
/// the message has it, CFWS left out, and the lower-cased domain): what
/// TINYMX_FROM gives a script.
pub fn author(from_fields: &[&[u8]]) -> Result<(String, String), &'static str> {
    let v = match from_fields {
        [] => return Err("no From field"),
        [v] => *v,
        _ => return Err("more than one From field"),
    };
    let t = tokens(v)?;
    // Mailboxes are separated by commas outside the angle brackets (an
    // obs-route inside them has its own). A `:` outside them starts a
    // group, which From cannot hold (RFC 5322 section 3.6.2).
    let mut angle = false;
    let members = t.split(|&x| {
        match x {
            Tok::Special(b'<') => angle = true,
            Tok::Special(b'>') => angle = false,
            _ => {}
        }
        x == Tok::Special(b',') && !angle
    });
    let mut mailbox = None;
    for m in members {
        if m.is_empty() {
            continue; // obs-mbox-list's empty members
        }
        if mailbox.replace(m).is_some() {
            return Err("From: more than one mailbox");
        }
    }
    let m = mailbox.ok_or("From: no mailbox")?;
    let Some(lt) = m.iter().position(|&x| x == Tok::Special(b'<')) else {
        if m.iter().any(|&x| matches!(x, Tok::Special(b':' | b';'))) {
            return Err("From: a group");
        }
        return addr_spec(v, m);
    };
    // name-addr: [display-name] "<" [obs-route] addr-spec ">".
    let (name, angle) = (&m[..lt], &m[lt + 1..]);
    if !name
        .iter()
        .all(|&x| matches!(x, Tok::Atom(..) | Tok::Quoted(..) | Tok::Special(b'.')))
    {
        return Err(if name.contains(&Tok::Special(b':')) {
            "From: a group"
        } else {
            "From: not an address"
        });
    }
    let [inner @ .., Tok::Special(b'>')] = angle else {
        return Err("From: not an address");
    };
    if inner
        .iter()
        .any(|&x| matches!(x, Tok::Special(b'<' | b'>' | b';')))
    {
        return Err("From: not an address");
    }
    // obs-route: "@domain,@domain:" before the addr-spec.
    let inner = match inner.iter().rposition(|&x| x == Tok::Special(b':')) {
        Some(c) if inner.first() == Some(&Tok::Special(b'@')) => &inner[c + 1..],
        Some(_) => return Err("From: not an address"),
        None => inner,
    };
    addr_spec(v, inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: &str) -> Result<String, &'static str> {
        author_domain(&[v.as_bytes()])
    }

    #[test]
    fn the_address_for_scripts_keeps_the_local_part_as_written() {
        let a = |v: &str| author(&[v.as_bytes()]);
        assert_eq!(
            a(" Alice (home) <Alice.Smith@Example.COM>"),
            Ok(("Alice.Smith@example.com".into(), "example.com".into()))
        );
        assert_eq!(
            a("\"J. Doe\" <\"j d\"@x.example.>"),
            Ok(("\"j d\"@x.example".into(), "x.example".into()))
        );
        assert_eq!(
            a("bob @ b.example (Bob)"),
            Ok(("bob@b.example".into(), "b.example".into()))
        );
        assert_eq!(
            a("a@b.example, c@d.example"),
            Err("From: more than one mailbox")
        );
    }

    #[test]
    fn one_mailbox() {
        for (v, d) in [
            ("user@example.com", "example.com"),
            (" User@Example.COM ", "example.com"),
            ("<user@example.com>", "example.com"),
            ("John Doe <jd@example.org>", "example.org"),
            ("John Q. Public <jqp@example.org>", "example.org"),
            ("\"Doe, John\" <jd@example.org>", "example.org"),
            ("\"ceo@bank.com\" <evil@evil.com>", "evil.com"),
            ("\"ceo@bank.com, x\" <evil@evil.com>", "evil.com"),
            ("(ceo@bank.com) evil@evil.com", "evil.com"),
            ("evil@evil.com (ceo@bank.com, a <b@c.d>)", "evil.com"),
            ("x (a (nested) comment) <x@example.net>", "example.net"),
            ("x@example.com.", "example.com"),
            ("=?UTF-8?Q?J=C3=B6rg?= <j@example.de>", "example.de"),
            (
                "=?utf-8?q?Doe,_John_<ceo@bank.com>?= <evil@evil.com>",
                "evil.com",
            ),
            ("=?utf-8?b?Y2VvQGJhbmsuY29t?= <evil@evil.com>", "evil.com"),
            ("\"a\\\"b\" <x@example.com>", "example.com"),
            ("\"quoted local\"@example.com", "example.com"),
            ("x@ example . com", "example.com"),
            ("Name\r\n <x@example.com>", "example.com"),
            (
                "<@relay.example,@other.example:x@example.com>",
                "example.com",
            ),
            ("x@example.com,", "example.com"),
            (", x@example.com", "example.com"),
            ("J\u{f6}rg <j@B\u{dc}CHER.example>", "b\u{dc}cher.example"),
            ("j@xn--bcher-kva.Example", "xn--bcher-kva.example"),
        ] {
            assert_eq!(one(v), Ok(d.to_string()), "{v}");
        }
    }

    #[test]
    fn not_one_mailbox() {
        for v in [
            "",
            "   ",
            "(only a comment)",
            "a@example.com, b@example.org",
            "a@example.com, b@example.com",
            "<a@example.com>, <b@example.com>",
            "ceo@bank.com <evil@evil.com>",
            "undisclosed-recipients:;",
            "friends: a@example.com;",
            "friends: a@example.com, b@example.com;",
            "user",
            "user@",
            "@example.com",
            "<>",
            "<user>",
            "user@[192.0.2.1]",
            "user@example..com",
            "user@.example.com",
            "user@example.com..",
            "user@exa mple.com",
            "user@-example.com",
            "user@exa_mple.com",
            "\"unclosed <x@example.com>",
            "(unclosed x@example.com",
            "<x@example.com",
            "x@example.com>",
            "<x@example.com> trailing",
            "<<x@example.com>>",
            "a\u{1}b@example.com",
            "a@b@example.com",
            "<route:x@example.com>",
            "x@example.com\\",
        ] {
            assert!(one(v).is_err(), "{v:?} gave {:?}", one(v));
        }
    }

    #[test]
    fn fields() {
        assert_eq!(author_domain(&[]), Err("no From field"));
        assert_eq!(
            author_domain(&[b"a@example.com", b"a@example.com"]),
            Err("more than one From field")
        );
    }

    #[test]
    fn long_domains() {
        let label = "a".repeat(63);
        let d = [label.as_str(); 4].join(".");
        assert_eq!(d.len(), 255);
        assert!(one(&format!("x@{d}")).is_err());
        let d = format!("{}.{}", "b".repeat(61), [label.as_str(); 3].join("."));
        assert_eq!(d.len(), 253);
        assert_eq!(one(&format!("x@{d}")), Ok(d));
        assert!(one(&format!("x@{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn invalid_utf8_domain() {
        assert!(author_domain(&[b"x@\xff.example"]).is_err());
        assert!(author_domain(&[b"x@\xc2\x85.example"]).is_err());
    }
}
