//! A DKIM-Signature field (RFC 6376 section 3.5) and a key record
//! (section 3.6.1), parsed into what verification needs. Anything the
//! RFC makes an error is one here, with the reason that goes into the
//! Authentication-Results `reason="…"`.

use super::canon::Canon;
use super::tags::{self, Tag};

/// The signing algorithms (`a=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    RsaSha256,
    /// Still parsed, so the result can say why it is not a pass: RFC
    /// 8301 section 3.1, verifiers MUST NOT consider it valid.
    RsaSha1,
    /// RFC 8463.
    Ed25519Sha256,
}

/// A signature's tags, checked. Strings are lower-cased where the RFC
/// compares them case-insensitively (domains, selector, header names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub algorithm: Algorithm,
    /// `b=`, decoded.
    pub b: Vec<u8>,
    /// `b=` as written, white space removed (for `header.b=`).
    pub b_text: String,
    /// `bh=`, decoded.
    pub bh: Vec<u8>,
    pub header_canon: Canon,
    pub body_canon: Canon,
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `h=`, lower-cased, in order.
    pub headers: Vec<String>,
    /// `i=` (the AUID); None when absent (then `@d`, section 3.5).
    pub auid: Option<String>,
    /// `l=`.
    pub length: Option<u64>,
    /// `t=`, `x=`.
    pub timestamp: Option<u64>,
    pub expiration: Option<u64>,
    /// The span of `b=`'s value in the field's value: emptied for the
    /// header hash (section 3.7).
    pub b_span: (usize, usize),
}

/// Allowed clock difference for `t=` in the future (a signer whose clock
/// runs a little fast is not a forger).
pub const CLOCK_SKEW_SECS: u64 = 300;

/// Parses the value of a DKIM-Signature field (everything after the
/// colon, folds included). `now` checks `x=` and `t=`.
pub fn parse(value: &[u8], now: u64) -> Result<Signature, &'static str> {
    let tags = tags::parse(value).map_err(|e| e.text())?;
    let get = |name: &str| tags::value(value, &tags, name);
    let need = |name: &'static str| get(name).ok_or(name);
    let missing = |name: &'static str| -> &'static str {
        match name {
            "v" => "missing v= tag",
            "a" => "missing a= tag",
            "b" => "missing b= tag",
            "bh" => "missing bh= tag",
            "d" => "missing d= tag",
            "h" => "missing h= tag",
            _ => "missing s= tag",
        }
    };
    if need("v").map_err(missing)? != b"1" {
        return Err("unsupported version (v= is not 1)");
    }
    let algorithm = match need("a").map_err(missing)? {
        b"rsa-sha256" => Algorithm::RsaSha256,
        b"rsa-sha1" => Algorithm::RsaSha1,
        b"ed25519-sha256" => Algorithm::Ed25519Sha256,
        _ => return Err("unknown algorithm"),
    };
    let b_text = tags::compact(need("b").map_err(missing)?);
    let b = base64(&b_text).ok_or("b= is not base64")?;
    let bh = base64(&tags::compact(need("bh").map_err(missing)?)).ok_or("bh= is not base64")?;
    if b.is_empty() || bh.is_empty() {
        return Err("empty b= or bh=");
    }
    let (header_canon, body_canon) = match get("c") {
        None => (Canon::Simple, Canon::Simple),
        Some(c) => {
            let mut parts = c.splitn(2, |&x| x == b'/');
            let h = canon(parts.next().unwrap_or(b""))?;
            let body = match parts.next() {
                Some(p) => canon(p)?,
                None => Canon::Simple,
            };
            (h, body)
        }
    };
    let domain = lower(need("d").map_err(missing)?);
    if !is_domain(&domain) {
        return Err("d= is not a domain name");
    }
    let selector = lower(need("s").map_err(missing)?);
    // A selector is one or more labels (section 3.1).
    if !is_domain(&selector) {
        return Err("s= is not a selector");
    }
    let headers: Vec<String> = tags::compact(need("h").map_err(missing)?)
        .split(|&x| x == b':')
        .map(lower)
        .collect();
    if headers.iter().any(|h| !is_field_name(h)) {
        return Err("h= holds a bad field name");
    }
    if !headers.iter().any(|h| h == "from") {
        return Err("h= does not include From");
    }
    let auid = match get("i") {
        None => None,
        Some(i) => {
            let i = String::from_utf8(i.to_vec()).map_err(|_| "i= is not text")?;
            let at = i.rfind('@').ok_or("i= has no @")?;
            let idom = i[at + 1..].to_ascii_lowercase();
            // Section 3.5: the same as d= or a subdomain of it.
            if !(idom == domain || idom.ends_with(&format!(".{domain}"))) {
                return Err("i= is not within d=");
            }
            Some(i)
        }
    };
    if let Some(q) = get("q")
        && !q.split(|&x| x == b':').any(|m| tags::compact(m) == b"dns/txt") {
            return Err("q= has no dns/txt");
        }
    let length = number(get("l"), "l= is not a number")?;
    let timestamp = number(get("t"), "t= is not a number")?;
    let expiration = number(get("x"), "x= is not a number")?;
    if let (Some(t), Some(x)) = (timestamp, expiration)
        && x <= t {
            return Err("x= is not after t=");
        }
    if expiration.is_some_and(|x| x < now) {
        return Err("signature expired");
    }
    if timestamp.is_some_and(|t| t > now.saturating_add(CLOCK_SKEW_SECS)) {
        return Err("signature timestamp in the future");
    }
    let b_tag: &Tag = tags.iter().find(|t| t.name == b"b").ok_or("missing b= tag")?;
    Ok(Signature {
        algorithm,
        b,
        b_text: String::from_utf8_lossy(&b_text).into_owned(),
        bh,
        header_canon,
        body_canon,
        domain,
        selector,
        headers,
        auid,
        length,
        timestamp,
        expiration,
        b_span: (b_tag.start, b_tag.end),
    })
}

fn canon(c: &[u8]) -> Result<Canon, &'static str> {
    match c {
        b"simple" => Ok(Canon::Simple),
        b"relaxed" => Ok(Canon::Relaxed),
        _ => Err("unknown canonicalization"),
    }
}

/// A decimal of at most 18 digits (l=, t=, x=; section 3.5 allows 76
/// digits for l=, but no message or clock reaches 10^18).
fn number(v: Option<&[u8]>, err: &'static str) -> Result<Option<u64>, &'static str> {
    let Some(v) = v else { return Ok(None) };
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return Err(err);
    }
    Ok(Some(v.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0'))))
}

fn lower(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

/// Labels of letters, digits, `-` and `_` (selectors and real domains
/// use `_`), each 1–63 octets, 253 in all.
fn is_domain(d: &str) -> bool {
    d.len() <= 253
        && d.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// RFC 5322 section 3.6.8: printable ASCII except colon.
fn is_field_name(h: &str) -> bool {
    !h.is_empty() && h.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b':')
}

/// Strict base64 (section 2.4 via RFC 4648): the alphabet only (white
/// space already removed), at most two `=` and only at the end, no bits
/// left over in a final quantum. None for anything else.
pub fn base64(text: &[u8]) -> Option<Vec<u8>> {
    let pad = text.iter().rev().take_while(|&&b| b == b'=').count();
    let data = &text[..text.len() - pad];
    if pad > 2 || (pad > 0 && !(data.len() + pad).is_multiple_of(4)) {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let (mut acc, mut n) = (0u32, 0u32);
    for &b in data {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = acc << 6 | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((acc >> n) as u8);
        }
    }
    // 6 bits left is not a byte; leftover bits must be zero.
    if n >= 6 || acc & ((1 << n) - 1) != 0 {
        return None;
    }
    Some(out)
}

/// A key record (section 3.6.1), checked for use with `sig`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    pub kind: KeyKind,
    /// `p=`, decoded; empty: the key was revoked.
    pub public: Vec<u8>,
    /// `t=y`: the domain is testing DKIM; section 3.6.1 says such mail
    /// is to be treated as unsigned.
    pub testing: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    Ed25519,
}

/// Parses a key record (the TXT strings joined) and checks it against
/// the signature: `v=DKIM1` first when present, `h=` allowing sha256,
/// `k=` matching `a=`, `s=` allowing email, `t=s` (the AUID's domain must
/// be `d=` itself).
pub fn parse_key(record: &[u8], sig: &Signature) -> Result<KeyRecord, &'static str> {
    let tags = tags::parse(record).map_err(|e| e.text())?;
    let get = |name: &str| tags::value(record, &tags, name);
    if let Some(v) = get("v")
        && (tags[0].name != b"v" || v != b"DKIM1") {
            return Err("key record v= is not DKIM1 first");
        }
    let kind = match get("k") {
        None | Some(b"rsa") => KeyKind::Rsa,
        Some(b"ed25519") => KeyKind::Ed25519,
        Some(_) => return Err("unknown key type"),
    };
    let want = match sig.algorithm {
        Algorithm::RsaSha256 | Algorithm::RsaSha1 => KeyKind::Rsa,
        Algorithm::Ed25519Sha256 => KeyKind::Ed25519,
    };
    if kind != want {
        return Err("key type does not match a=");
    }
    let list = |v: &[u8]| -> Vec<Vec<u8>> { v.split(|&b| b == b':').map(tags::compact).collect() };
    if let Some(h) = get("h") {
        let hash = if sig.algorithm == Algorithm::RsaSha1 { &b"sha1"[..] } else { b"sha256" };
        if !list(h).iter().any(|x| x == hash) {
            return Err("key h= does not allow the hash");
        }
    }
    if let Some(s) = get("s")
        && !list(s).iter().any(|x| x == b"*" || x == b"email") {
            return Err("key is not for email");
        }
    let flags = get("t").map(list).unwrap_or_default();
    if flags.iter().any(|f| f == b"s")
        && let Some(i) = &sig.auid {
            let idom = i.rsplit('@').next().unwrap_or("");
            if !idom.eq_ignore_ascii_case(&sig.domain) {
                return Err("key t=s: i= domain is not d=");
            }
        }
    let p = get("p").ok_or("key record has no p=")?;
    let public = base64(&tags::compact(p)).ok_or("key p= is not base64")?;
    Ok(KeyRecord {
        kind,
        public,
        testing: flags.iter().any(|f| f == b"y"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn sig(extra: &str) -> Result<Signature, &'static str> {
        let v = format!("v=1; a=rsa-sha256; d=Example.COM; s=Sel; h=From:To; bh=YWJj; b=ZG\r\n\tVm{extra}");
        parse(v.as_bytes(), NOW)
    }

    #[test]
    fn a_minimal_signature_and_its_defaults() {
        let s = sig("").unwrap();
        assert_eq!(s.algorithm, Algorithm::RsaSha256);
        assert_eq!(s.b, b"def");
        assert_eq!(s.b_text, "ZGVm");
        assert_eq!(s.bh, b"abc");
        assert_eq!((s.header_canon, s.body_canon), (Canon::Simple, Canon::Simple));
        assert_eq!((s.domain.as_str(), s.selector.as_str()), ("example.com", "sel"));
        assert_eq!(s.headers, ["from", "to"]);
        assert_eq!((s.auid, s.length, s.timestamp, s.expiration), (None, None, None, None));
        let v = "v=1; a=rsa-sha256; d=Example.COM; s=Sel; h=From:To; bh=YWJj; b=ZG\r\n\tVm";
        assert_eq!(&v[s.b_span.0..s.b_span.1], "ZG\r\n\tVm");
    }

    #[test]
    fn the_tags_that_change_things() {
        let s = sig("; c=relaxed; l=10; t=1699999000; x=1700000100; i=a@sub.example.com; q=dns/txt").unwrap();
        assert_eq!((s.header_canon, s.body_canon), (Canon::Relaxed, Canon::Simple));
        assert_eq!(s.length, Some(10));
        assert_eq!(s.auid.as_deref(), Some("a@sub.example.com"));
        assert_eq!(sig("; c=simple/relaxed").unwrap().body_canon, Canon::Relaxed);
        assert_eq!(sig("; i=@EXAMPLE.com").unwrap().auid.as_deref(), Some("@EXAMPLE.com"));
    }

    #[test]
    fn errors_say_why() {
        let cases = [
            ("; v=1", "duplicate tag"),
            ("; c=fancy", "unknown canonicalization"),
            ("; c=relaxed/fancy", "unknown canonicalization"),
            ("; i=a@example.org", "i= is not within d="),
            ("; i=a@badexample.com", "i= is not within d="),
            ("; l=x", "l= is not a number"),
            ("; l=1234567890123456789", "l= is not a number"),
            ("; x=1699999999", "signature expired"),
            ("; t=1700000301", "signature timestamp in the future"),
            ("; t=10; x=10", "x= is not after t="),
            ("; q=dns", "q= has no dns/txt"),
        ];
        for (extra, why) in cases {
            assert_eq!(sig(extra), Err(why), "{extra}");
        }
        let p = |v: &str| parse(v.as_bytes(), NOW);
        assert_eq!(p("v=2; a=rsa-sha256; d=a.b; s=s; h=from; bh=YQ==; b=YQ=="), Err("unsupported version (v= is not 1)"));
        assert_eq!(p("v=1; a=rsa-md5; d=a.b; s=s; h=from; bh=YQ==; b=YQ=="), Err("unknown algorithm"));
        assert_eq!(p("v=1; a=rsa-sha256; d=a.b; s=s; h=to; bh=YQ==; b=YQ=="), Err("h= does not include From"));
        assert_eq!(p("v=1; a=rsa-sha256; d=a.b; s=s; h=from; bh=YQ==; b=Y!=="), Err("b= is not base64"));
        assert_eq!(p("v=1; a=rsa-sha256; d=a..b; s=s; h=from; bh=YQ==; b=YQ=="), Err("d= is not a domain name"));
        assert_eq!(p("v=1; a=rsa-sha256; s=s; h=from; bh=YQ==; b=YQ=="), Err("missing d= tag"));
        assert_eq!(p("v=1; a=rsa-sha256; d=a.b; h=from; bh=YQ==; b=YQ=="), Err("missing s= tag"));
        assert_eq!(p("v=1; a=rsa-sha256; d=a.b; s=s; h=from; b=YQ=="), Err("missing bh= tag"));
        assert_eq!(p("v=1; a=rsa-sha256; d=a.b; s=s; h=from; bh=YQ==; b="), Err("empty b= or bh="));
        assert_eq!(p("a=rsa-sha256; d=a.b; s=s; h=from; bh=YQ==; b=YQ=="), Err("missing v= tag"));
    }

    #[test]
    fn strict_base64() {
        assert_eq!(base64(b""), Some(vec![]));
        assert_eq!(base64(b"YQ=="), Some(b"a".to_vec()));
        assert_eq!(base64(b"YWI="), Some(b"ab".to_vec()));
        assert_eq!(base64(b"YWJj"), Some(b"abc".to_vec()));
        // Unpadded is accepted (the length says where it ends).
        assert_eq!(base64(b"YQ"), Some(b"a".to_vec()));
        for bad in [&b"Y"[..], b"YQ=", b"YQ===", b"YR==", b"Y=Q=", b"YQ==YQ==", b"YW J", b"\xc3\xa9"] {
            assert_eq!(base64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn key_records() {
        let s = sig("").unwrap();
        let k = parse_key(b"v=DKIM1; k=rsa; p=YWJj", &s).unwrap();
        assert_eq!((k.kind, k.public.as_slice(), k.testing), (KeyKind::Rsa, &b"abc"[..], false));
        assert_eq!(parse_key(b"p=", &s).unwrap().public, b"");
        assert!(parse_key(b"t=y:s; p=YWJj", &s).unwrap().testing);
        assert_eq!(parse_key(b"k=rsa; v=DKIM1; p=YWJj", &s), Err("key record v= is not DKIM1 first"));
        assert_eq!(parse_key(b"v=DKIM2; p=YWJj", &s), Err("key record v= is not DKIM1 first"));
        assert_eq!(parse_key(b"k=ed25519; p=YWJj", &s), Err("key type does not match a="));
        assert_eq!(parse_key(b"k=dsa; p=YWJj", &s), Err("unknown key type"));
        assert_eq!(parse_key(b"h=sha1; p=YWJj", &s), Err("key h= does not allow the hash"));
        assert!(parse_key(b"h=sha1:sha256; p=YWJj", &s).is_ok());
        assert_eq!(parse_key(b"s=web; p=YWJj", &s), Err("key is not for email"));
        assert!(parse_key(b"s=email:web; p=YWJj", &s).is_ok());
        assert_eq!(parse_key(b"v=DKIM1", &s), Err("key record has no p="));
        let sub = sig("; i=x@sub.example.com").unwrap();
        assert_eq!(parse_key(b"t=s; p=YWJj", &sub), Err("key t=s: i= domain is not d="));
        assert!(parse_key(b"t=s; p=YWJj", &s).is_ok());
    }
}
