//! A DMARC Policy Record (RFC 9989 section 4.7, "DMARC Policy Record
//! Format", and 4.8, "Formal Definition").
//!
//! Not `crate::dkim::tags`: that parser follows RFC 6376 section 3.2, where
//! any syntax error or a repeated tag makes the whole list invalid, names
//! are case-sensitive and folding white space (CR, LF) is allowed. Section
//! 4.8 wants the opposite: "Syntax errors in the remainder of the record
//! MUST be discarded in favor of default values (if any) or ignored
//! outright", so one bad tag costs only that tag. Its grammar also differs:
//! `dmarc-sep = *WSP ";" *WSP` (no CR/LF), a tag name is `1*ALPHA`, and a
//! value may hold spaces (`%x20-3A / %x3C-7E`).
//!
//! Case: the ABNF's quoted strings are case-insensitive (RFC 5234 section
//! 2.3), and section 4.8 marks only `DMARC1` as case-sensitive (`%s`, RFC
//! 7405), so tag names and the keyword values (`reject`, `s`, `y`...)
//! are matched without regard to case; `v=dmarc1` is not a DMARC record.
//!
//! Parsing allocates nothing and is linear in the record; the record's
//! size is bounded by the DNS message that carried it (64 KiB), so no
//! separate cap is needed.

/// A Domain Owner Assessment Policy (section 4.7, `p=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// "The Domain Owner offers no expression of preference."
    None,
    /// "The Domain Owner considers such mail to be suspicious."
    Quarantine,
    /// "The Domain Owner considers all such failures to be a clear
    /// indication that the use of the domain name is not valid."
    Reject,
}

impl Policy {
    /// The value as written in a record and in `policy.dmarc=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }

    /// What `t=y` asks for instead (section 4.7, `t`: "one level below the
    /// specified policy"; it "has no effect on any policy ... that is
    /// none").
    pub fn one_below(self) -> Policy {
        match self {
            Policy::Reject => Policy::Quarantine,
            _ => Policy::None,
        }
    }
}

/// The `psd=` flag (section 4.7): `y` a Public Suffix Domain, `n` an
/// Organizational Domain, `u` (the default) not known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Psd {
    /// `psd=y`: the domain is a PSD.
    Yes,
    /// `psd=n`: the domain is an Organizational Domain.
    No,
    /// `psd=u` or absent: the tree walk decides.
    Unknown,
}

/// The tags of one record that tinymx uses. The reporting tags `rua`,
/// `ruf`, `fo` and the RFC 7489 leftovers `pct`, `rf`, `ri` (section 9.3:
/// "historic") are skipped like unknown tags: tinymx sends no reports. Only
/// `rua` matters, through [`Record::rua_ok`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// `p=`; None when absent (section 4.7: then "as if it included
    /// p=none") or invalid.
    pub p: Option<Policy>,
    /// `sp=` (existing subdomains); None when absent or invalid.
    pub sp: Option<Policy>,
    /// `np=` (non-existent subdomains); None when absent or invalid.
    pub np: Option<Policy>,
    /// A `p=`, `sp=` or `np=` that is present with a value outside
    /// `dmarc-request`. Section 4.10.1 decides what then happens, not the
    /// general rule of section 4.8.
    pub bad_policy: bool,
    /// `rua=` holds at least one syntactically valid URI (section 4.10.1's
    /// test for a record with a bad policy).
    pub rua_ok: bool,
    /// `adkim=s`; anything else is the default `r` (relaxed).
    pub adkim_strict: bool,
    /// `aspf=s`; anything else is the default `r` (relaxed).
    pub aspf_strict: bool,
    /// `psd=`.
    pub psd: Psd,
    /// `t=y`.
    pub testing: bool,
}

fn wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [f, rest @ ..] = b
        && wsp(*f)
    {
        b = rest;
    }
    while let [rest @ .., l] = b
        && wsp(*l)
    {
        b = rest;
    }
    b
}

fn request(v: &[u8]) -> Option<Policy> {
    [Policy::None, Policy::Quarantine, Policy::Reject]
        .into_iter()
        .find(|p| v.eq_ignore_ascii_case(p.as_str().as_bytes()))
}

/// `dmarc-uri` (section 4.8), loosely: an RFC 3986 scheme, `:`, and at
/// least one URI character, with the obsolete `!size` suffix allowed.
/// Enough to tell "contains at least one syntactically valid reporting
/// URI" (section 4.10.1) from garbage; tinymx never uses the URI.
fn uri_ok(u: &[u8]) -> bool {
    let u = match u.iter().position(|&b| b == b'!') {
        Some(bang) => {
            let size = &u[bang + 1..];
            let digits = size.iter().take_while(|b| b.is_ascii_digit()).count();
            let unit = &size[digits..];
            if digits == 0 || unit.len() > 1 || !unit.iter().all(|b| b"kmgtKMGT".contains(b)) {
                return false;
            }
            &u[..bang]
        }
        None => u,
    };
    let Some(colon) = u.iter().position(|&b| b == b':') else {
        return false;
    };
    let (scheme, rest) = (&u[..colon], &u[colon + 1..]);
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && !rest.is_empty()
        && rest
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._~:/?#[]@$&'()*+;=%".contains(&b))
}

/// True when `txt` starts with the version tag, `v=DMARC1` (section 4.7,
/// `v`: "MUST be the first tag"; 4.8: `"v" equals %s"DMARC1"`), which
/// makes it a DMARC Policy Record for the tree walk's "records that do not
/// start with a v tag ... are discarded" (section 4.10, step 2). Leading
/// white space is tolerated.
pub fn is_dmarc(txt: &[u8]) -> bool {
    let first = txt.split(|&b| b == b';').next().unwrap_or(b"");
    let Some(eq) = first.iter().position(|&b| b == b'=') else {
        return false;
    };
    trim(&first[..eq]).eq_ignore_ascii_case(b"v") && trim(&first[eq + 1..]) == b"DMARC1"
}

/// Parses a DMARC Policy Record; None when it is not one ([`is_dmarc`]).
/// Tags after `v=` whose name or value is not valid are ignored (section
/// 4.8), so are unknown tags (section 4.7); of a repeated tag the first
/// counts (the RFC does not say; the first is what a reader of the
/// record sees first).
pub fn parse(txt: &[u8]) -> Option<Record> {
    if !is_dmarc(txt) {
        return None;
    }
    let mut r = Record {
        p: None,
        sp: None,
        np: None,
        bad_policy: false,
        rua_ok: false,
        adkim_strict: false,
        aspf_strict: false,
        psd: Psd::Unknown,
        testing: false,
    };
    // Bit per tag already seen: p sp np rua adkim aspf psd t.
    let mut seen = 0u8;
    for part in txt.split(|&b| b == b';').skip(1) {
        let Some(eq) = part.iter().position(|&b| b == b'=') else {
            continue;
        };
        let name = trim(&part[..eq]);
        let value = trim(&part[eq + 1..]);
        // One string, not an array of slices: no table to relocate.
        let mut tags = b"p sp np rua adkim aspf psd t".split(|&b| b == b' ');
        let Some(i) = tags.position(|t| name.eq_ignore_ascii_case(t)) else {
            continue;
        };
        if seen & 1 << i != 0 {
            continue;
        }
        seen |= 1 << i;
        let one = |s: &[u8]| value.eq_ignore_ascii_case(s);
        match i {
            // Any value but a dmarc-request, empty included, is a policy
            // tag "that is not valid" (section 4.10.1).
            0..=2 => {
                let v = request(value);
                r.bad_policy |= v.is_none();
                *[&mut r.p, &mut r.sp, &mut r.np][i] = v;
            }
            // The others fall back to their defaults (section 4.8): any
            // value but the keywords is not one, and a URI list with a
            // byte outside dmarc-value (%x20-3A / %x3C-7E) holds no URI.
            // dmarc-urilist: URIs separated by *WSP "," *WSP.
            3 => {
                r.rua_ok = value.iter().all(|&b| (0x20..=0x7e).contains(&b))
                    && value.split(|&b| b == b',').any(|u| uri_ok(trim(u)))
            }
            4 => r.adkim_strict = one(b"s"),
            5 => r.aspf_strict = one(b"s"),
            6 => {
                r.psd = if one(b"y") {
                    Psd::Yes
                } else if one(b"n") {
                    Psd::No
                } else {
                    Psd::Unknown
                }
            }
            _ => r.testing = one(b"y"),
        }
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(s: &str) -> Record {
        parse(s.as_bytes()).unwrap_or_else(|| panic!("not a record: {s}"))
    }

    #[test]
    fn version_first_and_case_sensitive() {
        for s in [
            "v=DMARC1",
            "v=DMARC1;",
            "v = DMARC1 ; p=none",
            " v=DMARC1;p=reject",
            "V=DMARC1; p=none",
        ] {
            assert!(is_dmarc(s.as_bytes()), "{s}");
        }
        for s in [
            "",
            "v=dmarc1; p=none",
            "v=DMARC10; p=none",
            "p=none; v=DMARC1",
            "v=spf1 -all",
            "v=DMARC1 p=none",
            "vv=DMARC1",
            "v=DMARC1\r\n; p=none",
        ] {
            assert!(!is_dmarc(s.as_bytes()), "{s}");
            assert_eq!(parse(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn defaults() {
        let r = rec("v=DMARC1");
        assert_eq!((r.p, r.sp, r.np), (None, None, None));
        assert!(!r.bad_policy && !r.rua_ok && !r.adkim_strict && !r.aspf_strict && !r.testing);
        assert_eq!(r.psd, Psd::Unknown);
    }

    #[test]
    fn all_tags() {
        let r = rec(
            "v=DMARC1; p=Reject; SP=quarantine ;np=none; adkim=s; aspf=S; psd=y; t=y; rua=mailto:d@example.com; pct=0; fo=1; rf=afrf; ri=3600; x-new=1",
        );
        assert_eq!(r.p, Some(Policy::Reject));
        assert_eq!(r.sp, Some(Policy::Quarantine));
        assert_eq!(r.np, Some(Policy::None));
        assert!(r.adkim_strict && r.aspf_strict && r.testing && r.rua_ok && !r.bad_policy);
        assert_eq!(r.psd, Psd::Yes);
        assert_eq!(rec("v=DMARC1; psd=n").psd, Psd::No);
    }

    #[test]
    fn bad_values_fall_back_to_defaults() {
        // Section 4.8: syntax errors are discarded in favour of defaults.
        let r = rec("v=DMARC1; adkim=x; aspf=strict; t=yes; psd=maybe; p; =s; a\u{e9}=1");
        assert!(!r.adkim_strict && !r.aspf_strict && !r.testing);
        assert_eq!(r.psd, Psd::Unknown);
        assert!(!r.bad_policy);
        // A bad p/sp/np is flagged for section 4.10.1.
        for s in [
            "v=DMARC1; p=rejected",
            "v=DMARC1; p=none; sp=x",
            "v=DMARC1; np=",
            "v=DMARC1; p=\u{e9}",
            "v=DMARC1; p=reject reject",
        ] {
            assert!(rec(s).bad_policy, "{s}");
        }
        assert_eq!(rec("v=DMARC1; p=none; sp=x").p, Some(Policy::None));
    }

    #[test]
    fn first_of_a_repeated_tag_counts() {
        let r = rec("v=DMARC1; p=reject; p=none; t=n; t=y");
        assert_eq!(r.p, Some(Policy::Reject));
        assert!(!r.testing);
    }

    #[test]
    fn rua_uris() {
        for (s, ok) in [
            ("mailto:a@example.com", true),
            ("mailto:a@example.com!10m", true),
            (" mailto:a@example.com , https://r.example/x", true),
            ("bogus, mailto:a@example.com", true),
            ("a@example.com", false),
            ("mailto:", false),
            ("1x:abc", false),
            ("mailto:a@example.com!", false),
            ("mailto:a@example.com!10mb", false),
            ("mailto:a b@example.com", false),
        ] {
            assert_eq!(rec(&format!("v=DMARC1; rua={s}")).rua_ok, ok, "{s}");
        }
    }

    #[test]
    fn policy_one_below() {
        assert_eq!(Policy::Reject.one_below(), Policy::Quarantine);
        assert_eq!(Policy::Quarantine.one_below(), Policy::None);
        assert_eq!(Policy::None.one_below(), Policy::None);
    }
}
