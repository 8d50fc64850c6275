//! The SPF evaluator (RFC 7208): `check_host()` of section 4 over a small
//! [`Lookup`] trait, so that it runs against the real resolver, an
//! in-memory zone in the tests, or the fuzzer's input. Pure: no sockets,
//! no clock but the deadline given in the [`Query`].

pub mod macros;
pub mod record;
#[cfg(test)]
mod tests;
pub mod zone;

pub use crate::dns::RecordType;
use record::{Cidr, Mechanism, Qualifier, Record};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

/// The answer to one DNS question, as SPF needs it (sections 2.6, 4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    /// At least one record of the type asked for.
    Records(T),
    /// RCODE 3: the name does not exist.
    NxDomain,
    /// The name exists, without records of this type.
    NoData,
    /// A server failure, a time-out, anything else: SPF `temperror`.
    TempFail,
}

/// One record of an answer, of the type asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rr {
    /// A TXT record's strings joined without a separator (section 3.3).
    Txt(Vec<u8>),
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// Preference, exchange.
    Mx(u16, String),
    Ptr(String),
}

/// The DNS question SPF asks: the records of `rtype` at `name` (for PTR,
/// the reverse name of an address, `in-addr.arpa`/`ip6.arpa`). CNAMEs
/// are followed by the implementation; every name is absolute, without
/// the trailing dot. One method, not one per type: one copy of the
/// adapter and of the evaluator's guard, not five.
pub trait Lookup {
    fn lookup(&mut self, name: &str, rtype: RecordType) -> Answer<Vec<Rr>>;
}

/// The result of `check_host()` (section 2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpfResult {
    None,
    Neutral,
    Pass,
    Fail,
    SoftFail,
    TempError,
    PermError,
}

impl SpfResult {
    /// The result's name as in `Received-SPF:` and `Authentication-Results:`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

/// The inputs of one check (section 4.1).
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// The SMTP client's address; an IPv4-mapped IPv6 address is taken as
    /// the IPv4 address (section 5, "ip6" and 4.6 of RFC 4291).
    pub ip: IpAddr,
    /// The MAIL FROM address without `<>`; empty for the null path, when
    /// the HELO identity is checked instead (section 2.3).
    pub sender: &'a str,
    /// The HELO/EHLO argument.
    pub helo: &'a str,
    /// This host's name, the `%{r}` macro of explanations (section 7.2).
    pub receiver: &'a str,
    /// Seconds since the epoch, the `%{t}` macro.
    pub now_unix: u64,
    /// No lookup starts at or after this instant; the check is then a
    /// `temperror`. The caller sets it 20 s after the transaction's start
    /// (issue 13, section 2); one lookup's own time-out is the resolver's.
    pub deadline: Option<Instant>,
}

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub result: SpfResult,
    /// The domain checked (the sender's, or the HELO name's).
    pub domain: String,
    /// For `fail` with a usable `exp=` (section 6.2): the expanded text.
    pub explanation: Option<String>,
}

/// Section 4.6.4: terms that cause DNS queries, in the whole evaluation.
pub const MAX_DNS_TERMS: u32 = 10;
/// Section 4.6.4: lookups answering NXDOMAIN or no records.
pub const MAX_VOID_LOOKUPS: u32 = 2;
/// Section 4.6.4: MX names looked up by one `mx`.
pub const MAX_MX_NAMES: usize = 10;
/// Section 4.6.4: PTR names validated by one `ptr` or `%{p}`.
pub const MAX_PTR_NAMES: usize = 10;
/// Section 4.3/7.3: the longest domain name.
const MAX_NAME: usize = 253;

/// Checks the identity section 2.3 calls for: MAIL FROM, or the HELO name
/// (as `postmaster@HELO`) when MAIL FROM is the null path.
pub fn check(q: &Query, dns: &mut dyn Lookup) -> Outcome {
    let helo_sender;
    let sender = if q.sender.is_empty() {
        helo_sender = format!("postmaster@{}", q.helo);
        &helo_sender
    } else {
        q.sender
    };
    let domain = sender.rsplit_once('@').map_or(sender, |(_, d)| d);
    check_host(q, domain, sender, dns)
}

/// `check_host(ip, domain, sender)` of section 4, with `q` for the rest.
pub fn check_host(q: &Query, domain: &str, sender: &str, dns: &mut dyn Lookup) -> Outcome {
    let (local, sender_domain) = match sender.rsplit_once('@') {
        // Section 4.3: a sender without a local-part is "postmaster".
        Some(("", d)) => ("postmaster", d),
        Some((l, d)) => (l, d),
        None => ("postmaster", sender),
    };
    let ip = match q.ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let mut e = Eval {
        q,
        ip,
        local,
        sender_domain,
        dns,
        terms: 0,
        voids: 0,
        ptr_names: None,
    };
    let (result, explanation) = e.check_host(domain, true);
    Outcome {
        result,
        domain: domain.to_owned(),
        explanation,
    }
}

/// One evaluation: the inputs and the counters of section 4.6.4, shared by
/// every record of an `include`/`redirect` chain.
struct Eval<'a> {
    q: &'a Query<'a>,
    ip: IpAddr,
    local: &'a str,
    sender_domain: &'a str,
    dns: &'a mut dyn Lookup,
    terms: u32,
    voids: u32,
    /// The validated PTR names, looked up once per evaluation: `%{p}` does
    /// not count as a DNS term (section 4.6.4), so without this a record
    /// full of `%{p}` would cost 11 lookups each.
    ptr_names: Option<Vec<String>>,
}

/// A mechanism's outcome: whether it matched, or the error that ends the
/// evaluation.
type Matched = Result<bool, SpfResult>;

impl Eval<'_> {
    /// Section 4: one domain's record; `top` is false inside `include`,
    /// where no explanation is used (section 6.2).
    fn check_host(&mut self, domain: &str, top: bool) -> (SpfResult, Option<String>) {
        // Section 4.3: a malformed or single-label domain is "none".
        if !valid_domain(domain) {
            return (SpfResult::None, None);
        }
        let txt = match self.select(domain) {
            Ok(txt) => txt,
            Err(result) => return (result, None),
        };
        let Ok(rec) = record::parse(&txt) else {
            return (SpfResult::PermError, None);
        };
        for d in &rec.directives {
            match self.matches(&d.mechanism, domain) {
                Ok(false) => {}
                Ok(true) => {
                    let result = qualifier_result(d.qualifier);
                    let exp = if top && result == SpfResult::Fail {
                        self.explain(&rec, domain)
                    } else {
                        None
                    };
                    return (result, exp);
                }
                Err(e) => return (e, None),
            }
        }
        // Section 6.1: redirect applies only when nothing matched; a target
        // without a record (or not a valid name) is a permerror.
        let Some(redirect) = &rec.redirect else {
            return (SpfResult::Neutral, None);
        };
        if let Err(e) = self.count_term() {
            return (e, None);
        }
        let target = self.expand_name(redirect, domain);
        match self.check_host(&target, top) {
            (SpfResult::None, _) => (SpfResult::PermError, None),
            other => other,
        }
    }

    /// Section 4.5: the single `v=spf1` record of `domain`, unparsed.
    fn select(&mut self, domain: &str) -> Result<Vec<u8>, SpfResult> {
        let records = match self.ask(domain, RecordType::Txt) {
            Answer::Records(r) => r,
            Answer::TempFail => return Err(SpfResult::TempError),
            Answer::NxDomain | Answer::NoData => return Err(SpfResult::None),
        };
        let mut spf = records.into_iter().filter_map(|r| match r {
            Rr::Txt(t) if record::is_spf1(&t) => Some(t),
            _ => None,
        });
        match (spf.next(), spf.next()) {
            (None, _) => Err(SpfResult::None),
            (Some(r), None) => Ok(r),
            (Some(_), Some(_)) => Err(SpfResult::PermError),
        }
    }

    /// Section 5: does `m` match the client?
    fn matches(&mut self, m: &Mechanism, domain: &str) -> Matched {
        match m {
            Mechanism::All => Ok(true),
            Mechanism::Ip4(net, len) => Ok(in_net(self.ip, IpAddr::V4(*net), *len)),
            Mechanism::Ip6(net, len) => Ok(in_net(self.ip, IpAddr::V6(*net), *len)),
            Mechanism::Include(spec) => {
                self.count_term()?;
                let target = self.expand_name(spec, domain);
                // Section 5.2: the table of include results.
                match self.check_host(&target, false).0 {
                    SpfResult::Pass => Ok(true),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
                    SpfResult::TempError => Err(SpfResult::TempError),
                    SpfResult::PermError | SpfResult::None => Err(SpfResult::PermError),
                }
            }
            Mechanism::A(spec, cidr) => {
                self.count_term()?;
                let target = self.target(*spec, domain);
                self.address_match(&target, *cidr, true)
            }
            Mechanism::Mx(spec, cidr) => {
                self.count_term()?;
                let target = self.target(*spec, domain);
                self.mx_match(&target, *cidr)
            }
            Mechanism::Ptr(spec) => {
                self.count_term()?;
                let target = self.target(*spec, domain);
                let names = self.validated_names();
                Ok(names.iter().any(|n| is_within(n, &target)))
            }
            Mechanism::Exists(spec) => {
                self.count_term()?;
                let target = self.expand_name(spec, domain);
                // Section 5.7: always an A query, whatever the client's family.
                match self.ask(&target, RecordType::A) {
                    Answer::Records(_) => Ok(true),
                    Answer::TempFail => Err(SpfResult::TempError),
                    Answer::NxDomain | Answer::NoData => self.void().map(|_| false),
                }
            }
        }
    }

    /// Section 5.3: an address of `name` (A or AAAA by the client's
    /// family) within the prefix. `void` counts an empty answer.
    fn address_match(&mut self, name: &str, cidr: Cidr, void: bool) -> Matched {
        let rtype = if self.ip.is_ipv4() {
            RecordType::A
        } else {
            RecordType::Aaaa
        };
        match self.ask(name, rtype) {
            Answer::Records(rs) => Ok(rs.iter().any(|r| match *r {
                Rr::A(a) => in_net(self.ip, IpAddr::V4(a), cidr.v4),
                Rr::Aaaa(a) => in_net(self.ip, IpAddr::V6(a), cidr.v6),
                _ => false,
            })),
            Answer::TempFail => Err(SpfResult::TempError),
            Answer::NxDomain | Answer::NoData if void => self.void().map(|_| false),
            Answer::NxDomain | Answer::NoData => Ok(false),
        }
    }

    /// Section 5.4: the addresses of `name`'s MX hosts, at most 10 of them
    /// (section 4.6.4: more is a permerror).
    fn mx_match(&mut self, name: &str, cidr: Cidr) -> Matched {
        let hosts = match self.ask(name, RecordType::Mx) {
            Answer::Records(h) => h,
            Answer::TempFail => return Err(SpfResult::TempError),
            Answer::NxDomain | Answer::NoData => return self.void().map(|_| false),
        };
        if hosts.len() > MAX_MX_NAMES {
            return Err(SpfResult::PermError);
        }
        for h in &hosts {
            if let Rr::Mx(_, host) = h
                && self.address_match(host, cidr, false)?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Section 5.5: the client's PTR names whose forward lookup gives the
    /// client's address back; the first 10 names only, lookup errors skip.
    fn validated_names(&mut self) -> &[String] {
        if self.ptr_names.is_none() {
            let mut valid = Vec::new();
            let reverse = zone::reverse_name(self.ip);
            if let Answer::Records(names) = self.ask(&reverse, RecordType::Ptr) {
                for rr in names.into_iter().take(MAX_PTR_NAMES) {
                    if let Rr::Ptr(name) = rr
                        && let Ok(true) = self.address_match(&name, record::HOST, false)
                    {
                        valid.push(name);
                    }
                }
            }
            self.ptr_names = Some(valid);
        }
        self.ptr_names.as_deref().unwrap_or_default()
    }

    /// Section 6.2: the expanded explanation of a `fail`, or none when
    /// anything about it goes wrong.
    fn explain(&mut self, rec: &Record, domain: &str) -> Option<String> {
        let name = self.expand_name(rec.exp?, domain);
        if !valid_domain(&name) {
            return None;
        }
        let Answer::Records(mut txt) = self.ask(&name, RecordType::Txt) else {
            return None;
        };
        if txt.len() != 1 {
            return None;
        }
        let Some(Rr::Txt(t)) = txt.pop() else {
            return None;
        };
        let text = String::from_utf8(t).ok().filter(|t| t.is_ascii())?;
        let ms = macros::parse(&text, macros::Mode::Explain).ok()?;
        Some(macros::expand(&ms, &mut |l| self.macro_value(l, domain)))
    }

    /// A domain-spec's target, or the current domain when there is none.
    fn target(&mut self, spec: Option<&str>, domain: &str) -> String {
        spec.map_or_else(|| domain.to_owned(), |s| self.expand_name(s, domain))
    }

    /// Expands a domain-spec; section 7.3: longer than 253 characters, the
    /// left-hand labels go until it fits. The pieces are expanded right to
    /// left and stop once more than 253 characters are there, so a record
    /// of many long macros costs no more than the name it makes: cutting
    /// that suffix at its first dots gives the same name as cutting all.
    fn expand_name(&mut self, spec: &str, domain: &str) -> String {
        // Checked when the record was parsed (`record::domain_spec`).
        let Ok(spec) = macros::parse(spec, macros::Mode::Domain) else {
            return String::new();
        };
        let mut parts = Vec::new();
        let mut len = 0;
        for piece in spec.pieces.iter().rev() {
            let part = match piece {
                macros::Piece::Literal(l) => (*l).to_owned(),
                macros::Piece::Expand(m) => {
                    macros::transform(&self.macro_value(m.letter, domain), m)
                }
            };
            len += part.len();
            parts.push(part);
            if len > MAX_NAME {
                break;
            }
        }
        let mut name = String::with_capacity(len);
        for part in parts.iter().rev() {
            name.push_str(part);
        }
        // Where the kept labels start: after the first dot that leaves at
        // most 253 characters, or past the end when no dot does.
        let mut start = 0;
        while name.len() - start > MAX_NAME {
            let rest = name.as_bytes().get(start..).unwrap_or_default();
            start = match rest.iter().position(|&b| b == b'.') {
                Some(dot) => start + dot + 1,
                None => name.len(),
            };
        }
        if start > 0 {
            name = name.get(start..).unwrap_or_default().to_owned();
        }
        name
    }

    /// Section 7.2: the value of one macro letter.
    fn macro_value(&mut self, letter: u8, domain: &str) -> String {
        match letter {
            b's' => format!("{}@{}", self.local, self.sender_domain),
            b'l' => self.local.to_owned(),
            b'o' => self.sender_domain.to_owned(),
            b'd' => domain.to_owned(),
            b'i' => dotted(self.ip),
            b'p' => self.p_macro(domain),
            b'v' => if self.ip.is_ipv4() { "in-addr" } else { "ip6" }.to_owned(),
            b'h' => self.q.helo.to_owned(),
            // format! rather than to_string: one shared formatter, not a
            // copy of ToString per type.
            b'c' => format!("{}", self.ip),
            b'r' if !self.q.receiver.is_empty() => self.q.receiver.to_owned(),
            b'r' => "unknown".to_owned(),
            b't' => format!("{}", self.q.now_unix),
            _ => String::new(),
        }
    }

    /// Section 7.2 `%{p}`: a validated name, `domain` or below it
    /// preferred, else any; "unknown" when there is none.
    fn p_macro(&mut self, domain: &str) -> String {
        let names = self.validated_names();
        let best = names
            .iter()
            .find(|n| is_within(n, domain))
            .or(names.first());
        best.cloned().unwrap_or_else(|| "unknown".to_owned())
    }

    fn count_term(&mut self) -> Result<(), SpfResult> {
        self.terms += 1;
        if self.terms > MAX_DNS_TERMS {
            Err(SpfResult::PermError)
        } else {
            Ok(())
        }
    }

    fn void(&mut self) -> Result<(), SpfResult> {
        self.voids += 1;
        if self.voids > MAX_VOID_LOOKUPS {
            Err(SpfResult::PermError)
        } else {
            Ok(())
        }
    }

    /// True once the deadline has passed: every lookup is then a TempFail.
    fn expired(&self) -> bool {
        self.q.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Asks one question, unless `name` cannot be asked ([`query_name`])
    /// or the deadline has passed. (A reverse name always can be.)
    fn ask(&mut self, name: &str, rtype: RecordType) -> Answer<Vec<Rr>> {
        if !query_name(name) {
            Answer::NxDomain
        } else if self.expired() {
            Answer::TempFail
        } else {
            match self.dns.lookup(name, rtype) {
                // An empty list of records is the "no data" of section 4.6.4.
                Answer::Records(r) if r.is_empty() => Answer::NoData,
                other => other,
            }
        }
    }
}

fn qualifier_result(q: Qualifier) -> SpfResult {
    match q {
        Qualifier::Pass => SpfResult::Pass,
        Qualifier::Fail => SpfResult::Fail,
        Qualifier::SoftFail => SpfResult::SoftFail,
        Qualifier::Neutral => SpfResult::Neutral,
    }
}

/// Section 4.3: at least two labels of 1 to 63 octets, 253 in all (one
/// trailing dot allowed).
pub fn valid_domain(domain: &str) -> bool {
    // A name that can be asked for, with a dot: so two labels at least.
    let name = domain.strip_suffix('.').unwrap_or(domain);
    name.as_bytes().contains(&b'.') && query_name(domain)
}

/// A name a DNS query can be made of: labels of 1 to 63 octets, 253 in
/// all. Others (from a valid domain-spec, or made by macro expansion) are
/// taken as names that do not exist (suite: invalid-domain-*; section 4.8
/// leaves it open), so no query goes out with them.
fn query_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

/// `name` is `domain` or a name below it (section 5.5), ignoring case.
fn is_within(name: &str, domain: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).as_bytes();
    let domain = domain.strip_suffix('.').unwrap_or(domain).as_bytes();
    // Compared in place, without lower-cased copies: the tail as long as
    // `domain`, and what is before it.
    let split = (name.len().checked_sub(domain.len())).and_then(|cut| name.split_at_checked(cut));
    split.is_some_and(|(head, tail)| {
        tail.eq_ignore_ascii_case(domain) && (head.is_empty() || head.ends_with(b"."))
    })
}

/// Is `ip` in `net`/`len`? (`config::Net`'s test: the same family, the
/// prefix's bits equal.)
fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    crate::config::Net { addr: net, len }.contains(ip)
}

/// Section 7.3 `%{i}`: dotted quad, or 32 dot-separated hex nibbles (upper
/// case, as in the section 7.4 examples).
fn dotted(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}"),
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(63);
            for b in v6.octets() {
                for n in [b >> 4, b & 15] {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push(
                        char::from_digit(u32::from(n), 16).map_or('0', |c| c.to_ascii_uppercase()),
                    );
                }
            }
            out
        }
    }
}
