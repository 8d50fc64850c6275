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

/// A signature's tags, checked. The values are borrowed from the field
/// as written (folding white space inside, case as the signer wrote it):
/// checking them allocates nothing, and the verifier parses the field
/// again at the end of the message rather than keeping copies.
/// Comparisons are case-insensitive where the RFC says so (domains,
/// selector, header names); [`Signature::headers`] and the verifier's
/// outcome give the lower-cased forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature<'a> {
    pub algorithm: Algorithm,
    /// `b=` as written: base64 with FWS (checked; [`base64`] decodes it).
    pub b: &'a [u8],
    /// `bh=` as written, likewise.
    pub bh: &'a [u8],
    pub header_canon: Canon,
    pub body_canon: Canon,
    /// `d=`, as written (a checked domain name: ASCII).
    pub domain: &'a [u8],
    /// `s=`, as written (checked, ASCII).
    pub selector: &'a [u8],
    /// `h=` as written; [`Signature::headers`] gives the names.
    pub h: &'a [u8],
    /// `i=` (the AUID), as written; None when absent (then `@d`,
    /// section 3.5).
    pub auid: Option<&'a [u8]>,
    /// `l=`.
    pub length: Option<u64>,
    /// `t=`, `x=`.
    pub timestamp: Option<u64>,
    pub expiration: Option<u64>,
    /// The span of `b=`'s value in the field's value: emptied for the
    /// header hash (section 3.7).
    pub b_span: (usize, usize),
}

impl Signature<'_> {
    /// `h=` without its folding white space and lower-cased: the signed
    /// field names separated by `:` (checked: none empty, From among
    /// them).
    pub fn headers(&self) -> Vec<u8> {
        let mut h = tags::compact(self.h);
        h.make_ascii_lowercase();
        h
    }
}

/// Names in one `h=` at most (real signers list 10 to 40, oversigned
/// names included).
pub const MAX_SIGNED_FIELDS: usize = 100;

/// Allowed clock difference for `t=` in the future (a signer whose clock
/// runs a little fast is not a forger).
pub const CLOCK_SKEW_SECS: u64 = 300;

/// Parses the value of a DKIM-Signature field (everything after the
/// colon, folds included). `now` checks `x=` and `t=`.
pub fn parse(value: &[u8], now: u64) -> Result<Signature<'_>, &'static str> {
    let tags = tags::parse(value).map_err(|e| e.text())?;
    let get = |name: &str| tags::value(value, &tags, name);
    // Each check in turn, so that the first problem is the reason.
    if get("v").ok_or("missing v= tag")? != b"1" {
        return Err("unsupported version (v= is not 1)");
    }
    let algorithm = match get("a").ok_or("missing a= tag")? {
        b"rsa-sha256" => Algorithm::RsaSha256,
        b"rsa-sha1" => Algorithm::RsaSha1,
        b"ed25519-sha256" => Algorithm::Ed25519Sha256,
        _ => return Err("unknown algorithm"),
    };
    let b = get("b").ok_or("missing b= tag")?;
    let b_len = base64(b).ok_or("b= is not base64")?.len();
    let bh = get("bh").ok_or("missing bh= tag")?;
    let bh_len = base64(bh).ok_or("bh= is not base64")?.len();
    if b_len == 0 || bh_len == 0 {
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
    let domain = get("d").ok_or("missing d= tag")?;
    if !is_domain(domain) {
        return Err("d= is not a domain name");
    }
    let selector = get("s").ok_or("missing s= tag")?;
    // A selector is one or more labels (section 3.1).
    if !is_domain(selector) {
        return Err("s= is not a selector");
    }
    let h = get("h").ok_or("missing h= tag")?;
    let names = tags::compact(h);
    if names.split(|&x| x == b':').any(|h| !is_field_name(h)) {
        return Err("h= holds a bad field name");
    }
    // The header hash looks each name up among the message's fields: a
    // bound keeps a hostile `h=` from costing names × fields.
    if names.split(|&x| x == b':').count() > MAX_SIGNED_FIELDS {
        return Err("h= names more than 100 fields");
    }
    if !names
        .split(|&x| x == b':')
        .any(|h| h.eq_ignore_ascii_case(b"from"))
    {
        return Err("h= does not include From");
    }
    let auid = get("i");
    if let Some(i) = auid {
        std::str::from_utf8(i).map_err(|_| "i= is not text")?;
        let at = i.iter().rposition(|&b| b == b'@').ok_or("i= has no @")?;
        let idom = &i[at + 1..];
        // Section 3.5: the same as d= or a subdomain of it.
        let sub = idom.len() > domain.len()
            && idom[idom.len() - domain.len() - 1] == b'.'
            && idom[idom.len() - domain.len()..].eq_ignore_ascii_case(domain);
        if !(idom.eq_ignore_ascii_case(domain) || sub) {
            return Err("i= is not within d=");
        }
    }
    if let Some(q) = get("q")
        && !has(q, b"dns/txt")
    {
        return Err("q= has no dns/txt");
    }
    let length = number(get("l"), "l= is not a number")?;
    let timestamp = number(get("t"), "t= is not a number")?;
    let expiration = number(get("x"), "x= is not a number")?;
    if let (Some(t), Some(x)) = (timestamp, expiration)
        && x <= t
    {
        return Err("x= is not after t=");
    }
    if expiration.is_some_and(|x| x < now) {
        return Err("signature expired");
    }
    if timestamp.is_some_and(|t| t > now.saturating_add(CLOCK_SKEW_SECS)) {
        return Err("signature timestamp in the future");
    }
    let b_tag: &Tag = tags
        .iter()
        .find(|t| t.name == b"b")
        .ok_or("missing b= tag")?;
    Ok(Signature {
        algorithm,
        b,
        bh,
        header_canon,
        body_canon,
        domain,
        selector,
        h,
        auid,
        length,
        timestamp,
        expiration,
        b_span: (b_tag.start, b_tag.end),
    })
}

/// Whether the `:`-separated list `v` (FWS allowed anywhere, RFC 6376
/// section 3.2) holds `want`, compared byte for byte without the FWS.
fn has(v: &[u8], want: &[u8]) -> bool {
    v.split(|&b| b == b':').any(|x| {
        x.iter()
            .copied()
            .filter(|&b| !tags::fws(b))
            .eq(want.iter().copied())
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

/// Labels of letters, digits, `-` and `_` (selectors and real domains
/// use `_`), each 1–63 octets, 253 in all.
fn is_domain(d: &[u8]) -> bool {
    d.len() <= 253
        && d.split(|&b| b == b'.').all(|l| {
            (1..=63).contains(&l.len())
                && l.iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// RFC 5322 section 3.6.8: printable ASCII except colon.
fn is_field_name(h: &[u8]) -> bool {
    !h.is_empty() && h.iter().all(|&b| (0x21..=0x7e).contains(&b) && b != b':')
}

/// Strict base64 (section 2.4 via RFC 4648) of a tag value: its folding
/// white space removed, the alphabet only, at most two `=` and only at
/// the end, no bits left over in a final quantum. None for anything else.
pub fn base64(value: &[u8]) -> Option<Vec<u8>> {
    let text = tags::compact(value);
    let pad = text.iter().rev().take_while(|&&b| b == b'=').count();
    let data = &text[..text.len() - pad];
    if pad > 2 || (pad > 0 && !(data.len() + pad).is_multiple_of(4)) {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let (mut acc, mut n) = (0u32, 0u32);
    for &b in data {
        acc = acc << 6 | crate::mime::decode::sextet(b)?;
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
        && (tags[0].name != b"v" || v != b"DKIM1")
    {
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
    if let Some(h) = get("h") {
        let hash = if sig.algorithm == Algorithm::RsaSha1 {
            &b"sha1"[..]
        } else {
            b"sha256"
        };
        if !has(h, hash) {
            return Err("key h= does not allow the hash");
        }
    }
    if let Some(s) = get("s")
        && !(has(s, b"*") || has(s, b"email"))
    {
        return Err("key is not for email");
    }
    let flags = get("t").unwrap_or(b"");
    if has(flags, b"s")
        && let Some(i) = sig.auid
    {
        let idom = i.rsplit(|&b| b == b'@').next().unwrap_or(b"");
        if !idom.eq_ignore_ascii_case(sig.domain) {
            return Err("key t=s: i= domain is not d=");
        }
    }
    let p = get("p").ok_or("key record has no p=")?;
    let public = base64(p).ok_or("key p= is not base64")?;
    Ok(KeyRecord {
        kind,
        public,
        testing: has(flags, b"y"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn sig(extra: &str) -> Result<Signature<'static>, &'static str> {
        let v = format!(
            "v=1; a=rsa-sha256; d=Example.COM; s=Sel; h=From:To; bh=YWJj; b=ZG\r\n\tVm{extra}"
        );
        // The signature borrows the field; the test keeps it.
        parse(v.leak().as_bytes(), NOW)
    }

    #[test]
    fn a_minimal_signature_and_its_defaults() {
        let s = sig("").unwrap();
        assert_eq!(s.algorithm, Algorithm::RsaSha256);
        assert_eq!(base64(s.b).unwrap(), b"def");
        assert_eq!(s.b, b"ZG\r\n\tVm");
        assert_eq!(base64(s.bh).unwrap(), b"abc");
        assert_eq!(
            (s.header_canon, s.body_canon),
            (Canon::Simple, Canon::Simple)
        );
        assert_eq!((s.domain, s.selector), (&b"Example.COM"[..], &b"Sel"[..]));
        assert_eq!(s.headers(), b"from:to");
        assert_eq!(
            (s.auid, s.length, s.timestamp, s.expiration),
            (None, None, None, None)
        );
        let v = "v=1; a=rsa-sha256; d=Example.COM; s=Sel; h=From:To; bh=YWJj; b=ZG\r\n\tVm";
        assert_eq!(&v[s.b_span.0..s.b_span.1], "ZG\r\n\tVm");
    }

    #[test]
    fn the_tags_that_change_things() {
        let s =
            sig("; c=relaxed; l=10; t=1699999000; x=1700000100; i=a@sub.example.com; q=dns/txt")
                .unwrap();
        assert_eq!(
            (s.header_canon, s.body_canon),
            (Canon::Relaxed, Canon::Simple)
        );
        assert_eq!(s.length, Some(10));
        assert_eq!(s.auid, Some(&b"a@sub.example.com"[..]));
        assert_eq!(
            sig("; c=simple/relaxed").unwrap().body_canon,
            Canon::Relaxed
        );
        assert_eq!(
            sig("; i=@EXAMPLE.com").unwrap().auid,
            Some(&b"@EXAMPLE.com"[..])
        );
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
        let p = |v: &'static str| parse(v.as_bytes(), NOW);
        assert_eq!(
            p("v=2; a=rsa-sha256; d=a.b; s=s; h=from; bh=YQ==; b=YQ=="),
            Err("unsupported version (v= is not 1)")
        );
        assert_eq!(
            p("v=1; a=rsa-md5; d=a.b; s=s; h=from; bh=YQ==; b=YQ=="),
            Err("unknown algorithm")
        );
        assert_eq!(
            p("v=1; a=rsa-sha256; d=a.b; s=s; h=to; bh=YQ==; b=YQ=="),
            Err("h= does not include From")
        );
        assert_eq!(
            p("v=1; a=rsa-sha256; d=a.b; s=s; h=from; bh=YQ==; b=Y!=="),
            Err("b= is not base64")
        );
        assert_eq!(
            p("v=1; a=rsa-sha256; d=a..b; s=s; h=from; bh=YQ==; b=YQ=="),
            Err("d= is not a domain name")
        );
        assert_eq!(
            p("v=1; a=rsa-sha256; s=s; h=from; bh=YQ==; b=YQ=="),
            Err("missing d= tag")
        );
        assert_eq!(
            p("v=1; a=rsa-sha256; d=a.b; h=from; bh=YQ==; b=YQ=="),
            Err("missing s= tag")
        );
        assert_eq!(
            p("v=1; a=rsa-sha256; d=a.b; s=s; h=from; b=YQ=="),
            Err("missing bh= tag")
        );
        assert_eq!(
            p("v=1; a=rsa-sha256; d=a.b; s=s; h=from; bh=YQ==; b="),
            Err("empty b= or bh=")
        );
        assert_eq!(
            p("a=rsa-sha256; d=a.b; s=s; h=from; bh=YQ==; b=YQ=="),
            Err("missing v= tag")
        );
        let many = format!(
            "v=1; a=rsa-sha256; d=a.b; s=s; h={}to; bh=YQ==; b=YQ==",
            "from:".repeat(100)
        );
        assert_eq!(
            parse(many.as_bytes(), NOW).err(),
            Some("h= names more than 100 fields")
        );
    }

    #[test]
    fn strict_base64() {
        assert_eq!(base64(b""), Some(vec![]));
        assert_eq!(base64(b"YQ=="), Some(b"a".to_vec()));
        assert_eq!(base64(b"YWI="), Some(b"ab".to_vec()));
        assert_eq!(base64(b"YWJj"), Some(b"abc".to_vec()));
        // Unpadded is accepted (the length says where it ends).
        assert_eq!(base64(b"YQ"), Some(b"a".to_vec()));
        // Folding white space is not part of the value (section 3.2).
        assert_eq!(base64(b"YW\r\n\tJ j"), Some(b"abc".to_vec()));
        for bad in [
            &b"Y"[..],
            b"YQ=",
            b"YQ===",
            b"YR==",
            b"Y=Q=",
            b"YQ==YQ==",
            b"YW-J",
            b"\xc3\xa9",
        ] {
            assert_eq!(base64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn key_records() {
        let s = sig("").unwrap();
        let k = parse_key(b"v=DKIM1; k=rsa; p=YWJj", &s).unwrap();
        assert_eq!(
            (k.kind, k.public.as_slice(), k.testing),
            (KeyKind::Rsa, &b"abc"[..], false)
        );
        assert_eq!(parse_key(b"p=", &s).unwrap().public, b"");
        assert!(parse_key(b"t=y:s; p=YWJj", &s).unwrap().testing);
        assert_eq!(
            parse_key(b"k=rsa; v=DKIM1; p=YWJj", &s),
            Err("key record v= is not DKIM1 first")
        );
        assert_eq!(
            parse_key(b"v=DKIM2; p=YWJj", &s),
            Err("key record v= is not DKIM1 first")
        );
        assert_eq!(
            parse_key(b"k=ed25519; p=YWJj", &s),
            Err("key type does not match a=")
        );
        assert_eq!(parse_key(b"k=dsa; p=YWJj", &s), Err("unknown key type"));
        assert_eq!(
            parse_key(b"h=sha1; p=YWJj", &s),
            Err("key h= does not allow the hash")
        );
        assert!(parse_key(b"h=sha1:sha256; p=YWJj", &s).is_ok());
        assert_eq!(parse_key(b"s=web; p=YWJj", &s), Err("key is not for email"));
        assert!(parse_key(b"s=email:web; p=YWJj", &s).is_ok());
        assert_eq!(parse_key(b"v=DKIM1", &s), Err("key record has no p="));
        let sub = sig("; i=x@sub.example.com").unwrap();
        assert_eq!(
            parse_key(b"t=s; p=YWJj", &sub),
            Err("key t=s: i= domain is not d=")
        );
        assert!(parse_key(b"t=s; p=YWJj", &s).is_ok());
    }
}
