//! Sender authentication for one transaction: SPF (RFC 7208) over the
//! resolver, and the two header fields that record it for every program
//! that reads the spool, Authentication-Results (RFC 8601) and
//! Received-SPF (RFC 7208 section 9.1). DKIM and DMARC join here next.
//!
//! The connection driver calls [`check_spf`] after a valid MAIL FROM and
//! writes [`SpfCheck::headers`] above its trace fields; the resolver is
//! the only I/O, bounded by its per-query time-outs and by the deadline.

use crate::config::Net;
use crate::dkim::verify as dkim;
use crate::dmarc::{self, DmarcOutcome, DmarcResult};
use crate::dns::{self, Failure, Rdata, RecordType, Resolver};
use crate::safe;
use crate::spf::{self, Answer, Lookup, Outcome, Query, Rr, SpfResult};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// All the lookups of one transaction's SPF check end by then (issue 13:
/// a legitimate session is never held up longer).
pub const SPF_BUDGET: Duration = Duration::from_secs(20);

/// The longest SPF explanation (`exp=`) quoted in a 550.
pub const EXPLANATION_BYTES: usize = 200;

/// The addresses whose clients are not checked when `--auth-skip` is not
/// given: the loopback networks (local programs, the tests of a fresh
/// install, fetchmail).
pub const fn default_skip() -> [Net; 2] {
    [
        Net {
            addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
            len: 8,
        },
        Net {
            addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
            len: 128,
        },
    ]
}

/// The resolver as SPF's [`Lookup`]: every failure that is not an
/// answer (time-out, SERVFAIL, REFUSED, a network error, a CNAME loop)
/// is `TempFail`, so SPF says `temperror`, never `fail` (RFC 7208
/// section 2.6.6). A name no query can carry (a label over 63 octets,
/// an empty label) does not exist: the RFC 7208 test suite's
/// `invalid-domain-long` cases and section 4.3 treat it so.
pub struct DnsLookup<'r> {
    resolver: &'r Resolver,
    deadline: Option<Instant>,
    /// The first lookup that failed, for the driver's warning.
    pub failed: Option<(String, Failure)>,
}

impl<'r> DnsLookup<'r> {
    pub fn new(resolver: &'r Resolver, deadline: Option<Instant>) -> DnsLookup<'r> {
        DnsLookup {
            resolver,
            deadline,
            failed: None,
        }
    }
}

impl Lookup for DnsLookup<'_> {
    /// Looks `name` up; each record's data as SPF takes it (TXT strings
    /// joined, names in plain form: see `plain_name`).
    fn lookup(&mut self, name: &str, rtype: RecordType) -> Answer<Vec<Rr>> {
        let mut got = Answer::NoData;
        let result =
            self.resolver
                .lookup_with(name, rtype, Instant::now(), self.deadline, &mut |a, _| {
                    got = match a {
                        dns::Answer::Records(rs) => {
                            Answer::Records(rs.iter().filter_map(|r| spf_rr(&r.data)).collect())
                        }
                        dns::Answer::NxDomain => Answer::NxDomain,
                        dns::Answer::NoData => Answer::NoData,
                    }
                });
        match result {
            Ok(()) => got,
            Err(Failure::BadName) => Answer::NxDomain,
            Err(f) => {
                if self.failed.is_none() {
                    self.failed = Some((format!("{rtype:?} {name}"), f));
                }
                Answer::TempFail
            }
        }
    }
}

/// A record's data as SPF takes it. MX exchanges and PTR names in plain
/// form, as SPF will ask for them again (`foo:bar.example.com`, not the
/// resolver's escaped `foo\058bar.example.com`); a name no query can
/// carry is skipped. (The resolver gives only records of the type asked.)
fn spf_rr(d: &Rdata) -> Option<Rr> {
    Some(match d {
        Rdata::Txt(parts) => Rr::Txt(parts.concat()),
        Rdata::A(a) => Rr::A(*a),
        Rdata::Aaaa(a) => Rr::Aaaa(*a),
        Rdata::Mx(pref, n) => Rr::Mx(*pref, n.plain()?),
        Rdata::Ptr(n) => Rr::Ptr(n.plain()?),
        _ => return None,
    })
}

/// Which identity SPF checked (RFC 7208 section 2.3, 2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    MailFrom,
    Helo,
}

/// One transaction's SPF result and what the header fields say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpfCheck {
    pub outcome: Outcome,
    pub identity: Identity,
    /// The MAIL FROM address (without `<>`; empty for the null path).
    pub sender: String,
    /// The HELO/EHLO name as the header shows it (`safe::header_helo`).
    pub helo: String,
    pub client_ip: IpAddr,
    /// The first lookup that failed, if any (for the one-a-minute warning).
    pub failed: Option<(String, Failure)>,
}

/// Runs SPF for a transaction: the MAIL FROM identity, or the HELO
/// identity for the null reverse-path (section 2.3). `receiver` is this
/// host's name (`%{r}`); `now_unix` the `%{t}` macro.
pub fn check_spf(
    resolver: &Resolver,
    client: IpAddr,
    helo: &[u8],
    sender: &str,
    receiver: &str,
    now_unix: u64,
) -> SpfCheck {
    let client_ip = safe::client_ip(client);
    let helo_name = String::from_utf8_lossy(helo);
    let q = Query {
        ip: client_ip,
        sender,
        helo: &helo_name,
        receiver,
        now_unix,
        deadline: Some(Instant::now() + SPF_BUDGET),
    };
    let mut dns = DnsLookup::new(resolver, q.deadline);
    let outcome = spf::check(&q, &mut dns);
    SpfCheck {
        outcome,
        identity: if sender.is_empty() {
            Identity::Helo
        } else {
            Identity::MailFrom
        },
        sender: sender.to_string(),
        helo: safe::header_helo(helo).to_string(),
        client_ip,
        failed: dns.failed,
    }
}

impl SpfCheck {
    pub fn result(&self) -> SpfResult {
        self.outcome.result
    }

    /// The Authentication-Results value (RFC 8601 section 2.2), without
    /// the field name: `mx.example.org; spf=pass smtp.mailfrom=a@b.org`.
    /// `authserv_id` is this host's name (`-n`).
    pub fn authres_value(&self, authserv_id: &str) -> String {
        let (ptype, value) = match self.identity {
            Identity::MailFrom => ("smtp.mailfrom", pvalue(&self.sender)),
            Identity::Helo => ("smtp.helo", pvalue(&self.helo)),
        };
        format!(
            "{authserv_id}; spf={} {ptype}={value}",
            self.result().as_str()
        )
    }

    /// The 550 5.7.23 text for `--spf-reject` (RFC 7372 section 3.2): the
    /// domain's own explanation if it gave one, cleaned and capped
    /// (it comes from DNS: any byte the domain's owner chose).
    pub fn reject_text(&self) -> String {
        let domain = safe::reply_text(self.outcome.domain.as_bytes(), 255);
        let why = match &self.outcome.explanation {
            Some(e) => safe::reply_text(e.as_bytes(), EXPLANATION_BYTES),
            None => String::new(),
        };
        if why.is_empty() {
            format!(
                "5.7.23 SPF fail: {domain} does not allow {} to send its mail",
                self.client_ip
            )
        } else {
            format!("5.7.23 SPF fail: {why}")
        }
    }

    /// The header fields added to each stored copy, above the trace
    /// fields: Authentication-Results, then Received-SPF (LF line ends,
    /// folded so no line is long whatever the names).
    pub fn headers(&self, host: &str) -> String {
        let domain = &self.outcome.domain;
        let ip = self.client_ip;
        // Each result's comment as a template, `%d` for the domain and `%i`
        // for the client's address: seven constants and one loop are less
        // code than seven formats.
        let template = match self.result() {
            SpfResult::Pass => "domain of %d designates %i as permitted sender",
            SpfResult::Fail => "domain of %d does not designate %i as permitted sender",
            SpfResult::SoftFail => "domain of %d discourages use of %i as permitted sender",
            SpfResult::Neutral => "%i is neither permitted nor denied by %d",
            SpfResult::None => "%d does not publish SPF",
            SpfResult::TempError => "DNS failed for %d",
            SpfResult::PermError => "the SPF record of %d is invalid",
        };
        let ip_text = format!("{ip}");
        let mut comment = String::new();
        let mut rest = template;
        while let Some((head, tail)) = rest.split_once('%') {
            comment.push_str(head);
            let (var, tail) = tail.split_at_checked(1).unwrap_or(("", tail));
            comment.push_str(if var == "d" { domain } else { &ip_text });
            rest = tail;
        }
        comment.push_str(rest);
        let identity = match self.identity {
            Identity::MailFrom => "mailfrom",
            Identity::Helo => "helo",
        };
        format!(
            "Authentication-Results: {}\n\
             Received-SPF: {} ({host}: {comment})\n\
             \tclient-ip={ip}; envelope-from={}; helo={};\n\
             \treceiver={host}; identity={identity}\n",
            self.authres_value(host),
            self.result().as_str(),
            quoted(&self.sender),
            quoted(&self.helo),
        )
    }
}

/// An RFC 8601 `pvalue`: an address or a name as it is when it is one
/// (`local-part@domain` is allowed bare), else a quoted-string.
fn pvalue(s: &str) -> String {
    let mut q = String::new();
    push_pvalue(&mut q, s);
    q
}

/// [`pvalue`], appended to `out`.
fn push_pvalue(out: &mut String, s: &str) {
    let plain = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || b >= 0x80 || b"!#$%&'*+-/=?^_`{|}~.@".contains(&b)
        })
        && s.bytes().filter(|&b| b == b'@').count() <= 1;
    if plain {
        out.push_str(s)
    } else {
        push_quoted(out, s)
    }
}

/// An RFC 5322 quoted-string of `s` (whose bytes are printable: it is a
/// checked address or HELO name).
fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    push_quoted(&mut q, s);
    q
}

/// [`quoted`], appended to `out`.
fn push_quoted(q: &mut String, s: &str) {
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
}

/// All the lookups after the final dot (DKIM keys, DMARC records) end
/// by then: the client waits for its reply meanwhile.
pub const MESSAGE_BUDGET: Duration = Duration::from_secs(20);

/// What was checked about one message, beyond its envelope's SPF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageAuth {
    /// One outcome per DKIM-Signature field, in the message's order.
    pub dkim: Vec<dkim::Outcome>,
    pub dmarc: DmarcOutcome,
    /// The From address and its domain (RFC 9989's Author Domain), empty
    /// unless the message has exactly one From with one address.
    pub from: String,
    pub from_domain: String,
    /// The iprev result as a resinfo (`iprev=pass policy.iprev=IP`), or
    /// empty when the client was not checked.
    pub iprev: String,
}

impl MessageAuth {
    /// The best DKIM result (pass, then policy, fail, neutral,
    /// temperror, permerror), `none` for an unsigned message: what
    /// TINYMX_DKIM says.
    pub fn dkim_best(&self) -> &'static str {
        use dkim::Verdict::*;
        [Pass, Policy, Fail, Neutral, TempError, PermError]
            .into_iter()
            .find(|v| self.dkim.iter().any(|o| o.verdict == *v))
            .map_or("none", dkim::Verdict::as_str)
    }

    /// The `d=` of every signature that passed, once each, space-separated
    /// (TINYMX_DKIM_DOMAINS).
    pub fn dkim_domains(&self) -> String {
        self.passed().join(" ")
    }

    /// The `d=` of every signature that passed, once each, in order.
    fn passed(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for o in &self.dkim {
            if o.verdict == dkim::Verdict::Pass && !out.contains(&o.domain.as_str()) {
                out.push(&o.domain);
            }
        }
        out
    }

    /// Appends the resinfo of each result for Authentication-Results
    /// (RFC 8601 section 2.2; `reason` before the properties, as its
    /// grammar says; RFC 6008 for `header.b`), each after `sep`. Pieces
    /// are pushed onto the one String rather than formatted apart.
    fn resinfos(&self, sep: &str, out: &mut String) {
        if self.dkim.is_empty() {
            out.push_str(sep);
            out.push_str("dkim=none");
        }
        for o in &self.dkim {
            out.push_str(sep);
            out.push_str("dkim=");
            out.push_str(o.verdict.as_str());
            if let Some(why) = &o.reason {
                out.push_str(" reason=");
                push_quoted(out, why);
            }
            if !o.domain.is_empty() {
                out.push_str(" header.d=");
                out.push_str(&o.domain);
                out.push_str(" header.s=");
                out.push_str(&o.selector);
                out.push_str(" header.b=");
                push_pvalue(out, &o.b);
            }
        }
        out.push_str(sep);
        self.dmarc.authres_to(&self.from_domain, out);
        if !self.iprev.is_empty() {
            out.push_str(sep);
            out.push_str(&self.iprev);
        }
    }
}

/// Checks what only the whole message shows: DKIM (`verifier` has been
/// fed the message), then DMARC over the From domain, `spf` and the DKIM
/// results. All lookups end within MESSAGE_BUDGET.
pub fn check_message(resolver: &Resolver, verifier: dkim::Verifier, spf: &SpfCheck) -> MessageAuth {
    let mut dns = DnsLookup::new(resolver, Some(Instant::now() + MESSAGE_BUDGET));
    let author = dmarc::author(&verifier.field_values("from"));
    let dkim = verifier.finish(&mut |name| txt(&mut dns, name));
    let mut msg = MessageAuth {
        dkim,
        dmarc: DmarcOutcome::without_policy(DmarcResult::None, None),
        from: String::new(),
        from_domain: String::new(),
        iprev: String::new(),
    };
    match author {
        Ok((from, domain)) => {
            let passed = msg.passed();
            let inputs = dmarc::Inputs {
                from_domain: &domain,
                spf: Some((spf.result(), &spf.outcome.domain)),
                dkim_pass_domains: &passed,
            };
            let dmarc = dmarc::evaluate(&inputs, &mut |name| txt(&mut dns, name));
            msg.dmarc = dmarc;
            msg.from = from;
            msg.from_domain = domain;
        }
        // RFC 9989 section 5.3.1: no single Author Domain, no pass.
        Err(why) => msg.dmarc = DmarcOutcome::without_policy(DmarcResult::PermError, Some(why)),
    }
    msg
}

/// The TXT records at `name`, each one's strings joined (for DKIM keys
/// and DMARC records), through SPF's adapter and its failure mapping.
pub fn txt(dns: &mut DnsLookup, name: &str) -> Answer<Vec<Vec<u8>>> {
    match dns.lookup(name, RecordType::Txt) {
        Answer::Records(rs) => {
            let t: Vec<Vec<u8>> = rs
                .into_iter()
                .filter_map(|r| match r {
                    spf::Rr::Txt(t) => Some(t),
                    _ => None,
                })
                .collect();
            if t.is_empty() {
                Answer::NoData
            } else {
                Answer::Records(t)
            }
        }
        Answer::NxDomain => Answer::NxDomain,
        Answer::NoData => Answer::NoData,
        Answer::TempFail => Answer::TempFail,
    }
}

/// The Authentication-Results value for `spf` and `msg`, unfolded (for
/// TINYMX_AUTH): `host; spf=… smtp.mailfrom=…; dkim=… header.d=…`.
pub fn authres_value(spf: &SpfCheck, msg: &MessageAuth, host: &str) -> String {
    let mut v = spf.authres_value(host);
    msg.resinfos("; ", &mut v);
    v
}

/// The fields added above the trace fields of each copy: the
/// Authentication-Results field, one result per line, then Received-SPF.
pub fn headers(spf: &SpfCheck, msg: &MessageAuth, host: &str) -> String {
    let all = spf.headers(host);
    let (first, rest) = all.split_once('\n').unwrap_or((&all, ""));
    let mut out = String::with_capacity(all.len() + 128);
    out.push_str(first);
    msg.resinfos(";\n\t", &mut out);
    out.push('\n');
    out.push_str(rest);
    out
}

/// Is the client in one of the `--auth-skip` networks?
pub fn skipped(nets: &[Net], client: IpAddr) -> bool {
    let ip = safe::client_ip(client);
    nets.iter().any(|n| n.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(result: SpfResult, sender: &str, helo: &str) -> SpfCheck {
        SpfCheck {
            outcome: Outcome {
                result,
                domain: "gmail.com".into(),
                explanation: None,
            },
            identity: if sender.is_empty() {
                Identity::Helo
            } else {
                Identity::MailFrom
            },
            sender: sender.into(),
            helo: helo.into(),
            client_ip: "192.0.2.1".parse().unwrap(),
            failed: None,
        }
    }

    #[test]
    fn headers_for_a_pass() {
        let c = check(SpfResult::Pass, "alice@gmail.com", "mail.gmail.com");
        assert_eq!(
            c.headers("mx.example.org"),
            "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=alice@gmail.com\n\
             Received-SPF: pass (mx.example.org: domain of gmail.com designates 192.0.2.1 as permitted sender)\n\
             \tclient-ip=192.0.2.1; envelope-from=\"alice@gmail.com\"; helo=\"mail.gmail.com\";\n\
             \treceiver=mx.example.org; identity=mailfrom\n"
        );
    }

    #[test]
    fn null_sender_reports_the_helo_identity() {
        let c = check(SpfResult::Fail, "", "mail.gmail.com");
        assert_eq!(
            c.authres_value("mx"),
            "mx; spf=fail smtp.helo=mail.gmail.com"
        );
    }

    #[test]
    fn quoted_local_parts_stay_one_value() {
        let c = check(SpfResult::None, "\"a b\"@x.org", "[192.0.2.1]");
        assert_eq!(
            c.authres_value("mx"),
            "mx; spf=none smtp.mailfrom=\"\\\"a b\\\"@x.org\""
        );
        assert!(
            c.headers("mx")
                .contains("envelope-from=\"\\\"a b\\\"@x.org\"; helo=\"[192.0.2.1]\";")
        );
    }

    #[test]
    fn reject_text_is_cleaned_and_capped() {
        let mut c = check(SpfResult::Fail, "a@gmail.com", "h");
        assert_eq!(
            c.reject_text(),
            "5.7.23 SPF fail: gmail.com does not allow 192.0.2.1 to send its mail"
        );
        c.outcome.explanation = Some(format!("go away\r\n250 ok{}", "x".repeat(500)));
        let t = c.reject_text();
        assert!(t.starts_with("5.7.23 SPF fail: go away"), "{t}");
        assert!(!t.contains('\r') && !t.contains('\n'), "{t}");
        assert!(
            t.len() <= "5.7.23 SPF fail: ".len() + EXPLANATION_BYTES,
            "{t}"
        );
    }

    #[test]
    fn mx_and_ptr_names_reach_spf_unescaped() {
        use crate::dns::Name;
        // The RFC 7208 suite's mx-colon-domain: the exchange comes back
        // from the wire as foo\058bar\047baz.example.com.
        let odd = || Name("foo\\058bar\\047baz.example.com".into());
        assert_eq!(
            spf_rr(&Rdata::Mx(0, odd())),
            Some(Rr::Mx(0, "foo:bar/baz.example.com".to_string()))
        );
        assert_eq!(
            spf_rr(&Rdata::Ptr(odd())),
            Some(Rr::Ptr("foo:bar/baz.example.com".to_string()))
        );
        // A '.' inside a label cannot be asked for: skipped.
        assert_eq!(spf_rr(&Rdata::Mx(5, Name("a\\046b.example".into()))), None);
        assert_eq!(spf_rr(&Rdata::Other), None);
    }

    #[test]
    fn loopback_is_skipped_by_default() {
        let nets = default_skip();
        for ip in ["127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1"] {
            assert!(skipped(&nets, ip.parse().unwrap()), "{ip}");
        }
        for ip in ["192.0.2.1", "::2", "128.0.0.1", "::ffff:192.0.2.1"] {
            assert!(!skipped(&nets, ip.parse().unwrap()), "{ip}");
        }
    }
}
