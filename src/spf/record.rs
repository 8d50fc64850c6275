//! SPF record syntax (RFC 7208 sections 4.5, 4.6 and 12). The record comes
//! from the network: the parser is linear in its length, allocates only
//! in proportion to it, and answers any byte string with a value.

use super::macros::{self, Mode, SyntaxError};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The qualifier of a directive (section 4.6.2); `+` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

/// The prefix lengths of `a` and `mx` (section 5.6, `dual-cidr-length`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub v4: u8,
    pub v6: u8,
}

/// The full-length default: the address itself.
pub const HOST: Cidr = Cidr { v4: 32, v6: 128 };

/// A mechanism (section 5) with its arguments. A domain-spec is the
/// record's own text, checked by [`domain_spec`] and parsed again as it
/// is expanded: the parsed record owns nothing but its list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism<'a> {
    All,
    Include(&'a str),
    A(Option<&'a str>, Cidr),
    Mx(Option<&'a str>, Cidr),
    Ptr(Option<&'a str>),
    Ip4(Ipv4Addr, u8),
    Ip6(Ipv6Addr, u8),
    Exists(&'a str),
}

/// A qualified mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive<'a> {
    pub qualifier: Qualifier,
    pub mechanism: Mechanism<'a>,
}

/// A parsed `v=spf1` record: directives in order and the two modifiers
/// of section 6 (unknown modifiers are checked for syntax, then dropped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record<'a> {
    pub directives: Vec<Directive<'a>>,
    pub redirect: Option<&'a str>,
    pub exp: Option<&'a str>,
}

/// True when a TXT record is an SPF version 1 record (section 4.5):
/// `v=spf1` (any case) followed by a space or the end of the record.
pub fn is_spf1(txt: &[u8]) -> bool {
    txt.len() >= 6
        && txt[..6].eq_ignore_ascii_case(b"v=spf1")
        && txt.get(6).is_none_or(|&b| b == b' ')
}

/// Parses a whole record; any syntax error makes it a `permerror`
/// (section 4.6), found before a single term is evaluated.
pub fn parse(txt: &[u8]) -> Result<Record<'_>, SyntaxError> {
    if !is_spf1(txt) {
        return Err(SyntaxError); // not a v=spf1 record
    }
    let rest = txt.get(6..).unwrap_or_default(); // is_spf1: 6 bytes at least
    let text = std::str::from_utf8(rest).map_err(|_| SyntaxError)?; // not ASCII
    if !text.is_ascii() {
        return Err(SyntaxError); // not ASCII
    }
    let mut rec = Record::default();
    // Section 4.6.1: terms are separated by one or more spaces.
    for term in text.split(' ').filter(|t| !t.is_empty()) {
        match modifier_name(term) {
            Some((name, value)) => modifier(&mut rec, name, value)?,
            None => rec.directives.push(directive(term)?),
        }
    }
    Ok(rec)
}

/// `name "=" value` when the term is a modifier (section 4.6.1).
fn modifier_name(term: &str) -> Option<(&str, &str)> {
    let (name, value) = term.split_once('=')?;
    let mut b = name.bytes();
    let first = b.next()?;
    let ok =
        first.is_ascii_alphabetic() && b.all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c));
    ok.then_some((name, value))
}

fn modifier<'a>(rec: &mut Record<'a>, name: &str, value: &'a str) -> Result<(), SyntaxError> {
    let slot = if name.eq_ignore_ascii_case("redirect") {
        &mut rec.redirect
    } else if name.eq_ignore_ascii_case("exp") {
        &mut rec.exp
    } else {
        // Section 6: unknown modifiers are ignored, but their value must
        // still be a macro-string (section 12, `unknown-modifier`).
        macros::parse(value, Mode::Domain)?;
        return Ok(());
    };
    // Section 6: redirect and exp each appear at most once.
    if slot.is_some() {
        return Err(SyntaxError); // modifier given twice
    }
    *slot = Some(domain_spec(value)?);
    Ok(())
}

fn directive(term: &str) -> Result<Directive<'_>, SyntaxError> {
    let (qualifier, rest) = match term.split_at_checked(1) {
        Some(("+", rest)) => (Qualifier::Pass, rest),
        Some(("-", rest)) => (Qualifier::Fail, rest),
        Some(("~", rest)) => (Qualifier::SoftFail, rest),
        Some(("?", rest)) => (Qualifier::Neutral, rest),
        _ => (Qualifier::Pass, term),
    };
    let end = rest
        .bytes()
        .position(|b| b == b':' || b == b'/')
        .unwrap_or(rest.len());
    let (name, arg) = rest.split_at(end);
    Ok(Directive {
        qualifier,
        mechanism: mechanism(name, arg)?,
    })
}

/// A mechanism by its name (in any case: section 4.6.1) and the rest of
/// the term. Tested by kind of argument, so each parser is called once.
fn mechanism<'a>(name: &str, arg: &'a str) -> Result<Mechanism<'a>, SyntaxError> {
    let is = |m: &str| name.eq_ignore_ascii_case(m);
    if is("a") || is("mx") {
        let (spec, cidr) = spec_and_cidr(arg)?;
        return Ok(if is("a") {
            Mechanism::A(spec, cidr)
        } else {
            Mechanism::Mx(spec, cidr)
        });
    }
    if arg.is_empty() {
        return if is("all") {
            Ok(Mechanism::All)
        } else if is("ptr") {
            Ok(Mechanism::Ptr(None))
        } else {
            Err(SyntaxError) // unknown, or a mechanism that needs an argument
        };
    }
    let arg = colon(arg)?;
    if is("ip4") {
        let (addr, len) = network(arg, 32)?;
        return Ok(Mechanism::Ip4(addr.parse().map_err(|_| SyntaxError)?, len)); // bad ip4 address
    }
    if is("ip6") {
        let (addr, len) = network(arg, 128)?;
        return Ok(Mechanism::Ip6(addr.parse().map_err(|_| SyntaxError)?, len)); // bad ip6 address
    }
    let spec = domain_spec(arg)?;
    if is("include") {
        Ok(Mechanism::Include(spec))
    } else if is("exists") {
        Ok(Mechanism::Exists(spec))
    } else if is("ptr") {
        Ok(Mechanism::Ptr(Some(spec)))
    } else {
        Err(SyntaxError) // unknown mechanism ("all" takes no argument)
    }
}

fn colon(arg: &str) -> Result<&str, SyntaxError> {
    arg.strip_prefix(':').ok_or(SyntaxError) // mechanism needs an argument
}

/// `[":" domain-spec] [dual-cidr-length]` of `a` and `mx` (section 5.3).
fn spec_and_cidr(arg: &str) -> Result<(Option<&str>, Cidr), SyntaxError> {
    let mut cidr = HOST;
    let mut rest = arg;
    // The last "//" (a byte search: a str pattern costs its own searcher).
    if let Some(i) = rest.as_bytes().windows(2).rposition(|w| w == b"//")
        && let (Some(head), Some(len)) = (rest.get(..i), rest.get(i + 2..))
        && is_digits(len)
    {
        cidr.v6 = prefix(len, 128)?;
        rest = head;
    }
    if let Some((head, len)) = rest.rsplit_once('/')
        && is_digits(len)
    {
        cidr.v4 = prefix(len, 32)?;
        rest = head;
    }
    if rest.is_empty() {
        return Ok((None, cidr));
    }
    let spec = rest.strip_prefix(':').ok_or(SyntaxError)?; // bad mechanism argument
    Ok((Some(domain_spec(spec)?), cidr))
}

/// `address ["/" length]` of `ip4` and `ip6` (sections 5.6).
fn network(arg: &str, max: u8) -> Result<(&str, u8), SyntaxError> {
    match arg.split_once('/') {
        Some((addr, len)) => Ok((addr, prefix(len, max)?)),
        None => Ok((arg, max)),
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A CIDR length: decimal without leading zeros, at most `max` (section 12).
fn prefix(s: &str, max: u8) -> Result<u8, SyntaxError> {
    if !is_digits(s) || (s.len() > 1 && s.starts_with('0')) || s.len() > 3 {
        return Err(SyntaxError); // bad CIDR length
    }
    let n: u16 = s.parse().map_err(|_| SyntaxError)?; // bad CIDR length
    u8::try_from(n)
        .ok()
        .filter(|&n| n <= max)
        .ok_or(SyntaxError) // CIDR length too large
}

/// A `domain-spec` (section 7.1): a macro string that ends in a macro
/// expansion or in `"." toplabel ["."]`.
pub fn domain_spec(s: &str) -> Result<&str, SyntaxError> {
    let ms = macros::parse(s, Mode::Domain)?;
    if ms.pieces.is_empty() {
        return Err(SyntaxError); // empty domain-spec
    }
    // A tail that is the whole string is a name without any expansion.
    let ends_in_expansion = ms.tail.is_empty();
    if !ends_in_expansion {
        let tail = ms.tail.strip_suffix('.').unwrap_or(ms.tail);
        let (_, top) = tail.rsplit_once('.').ok_or(SyntaxError)?; // domain-spec without a top label
        if !is_toplabel(top) {
            return Err(SyntaxError); // bad top label
        }
    }
    Ok(s)
}

/// `toplabel` (section 7.1): letters, digits and inner hyphens, not all
/// digits (so that an address is never taken for a name).
fn is_toplabel(s: &str) -> bool {
    let b = s.as_bytes();
    let (Some(first), Some(last)) = (b.first(), b.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b.iter().any(|c| c.is_ascii_alphabetic() || *c == b'-')
}
