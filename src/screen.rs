//! Checks of the client at the door, run in the background from connect:
//! DNS block and allow lists (RFC 5782) and forward-confirmed reverse DNS
//! (`iprev`, RFC 8601 section 2.7.3). Neither ever refuses by itself: the
//! driver turns a DNSBL score into 550 at RCPT, and a DNS failure is
//! `temperror`, which refuses nothing.

use crate::dns::{Answer, Failure, Rdata, RecordType, Resolver};
use crate::smtp::address::is_domain;
use crate::spf::zone::reverse_name;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// At most this many PTR names are checked forward (RFC 8601 leaves it
/// open; SPF's `ptr` uses 10 too).
pub const MAX_PTR_NAMES: usize = 10;

/// A `--dnsbl` or `--dnswl` zone: a listing adds `weight` to the score
/// (negative for an allow list).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub weight: i64,
}

impl Zone {
    /// `ZONE` or `ZONE=WEIGHT` (1 to 1000; a minus sign is allowed and
    /// ignored: `allow` decides the sign).
    pub fn parse(v: &str, allow: bool) -> Option<Zone> {
        let (name, w) = match v.split_once('=') {
            Some((n, w)) => (n, w.strip_prefix('-').unwrap_or(w).parse::<u16>().ok()?),
            None => (v, 1),
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let ok = is_domain(name.as_bytes(), false);
        (ok && (1..=1000).contains(&w)).then(|| Zone {
            name,
            weight: if allow { -i64::from(w) } else { i64::from(w) },
        })
    }
}

/// The name asked for `ip` in `zone`: IPv4 octets or IPv6 nibbles
/// reversed, then the zone (RFC 5782 sections 2.1 and 2.4).
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    let r = reverse_name(ip);
    let base = r
        .strip_suffix("in-addr.arpa")
        .or_else(|| r.strip_suffix("ip6.arpa"))
        .unwrap_or("");
    format!("{base}{zone}")
}

/// What one zone said about the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// No A record (NXDOMAIN, no data).
    No,
    /// An A record in 127.0.0.0/8: listed, with this code.
    Listed(Ipv4Addr),
    /// An answer that is not a listing: outside 127.0.0.0/8 (a
    /// hijacking resolver), 127.255.255.x (query refused, as Spamhaus
    /// answers queries through public resolvers) or 127.0.0.255
    /// (list.dnswl.org's "you are blocked": too many queries).
    Ignored(Ipv4Addr),
    /// No answer: never a reason to refuse.
    TempError,
}

/// Reads a zone's A answer (RFC 5782 section 2.3).
pub fn listing(answer: Result<Answer, Failure>) -> Listing {
    let rs = match answer {
        Ok(Answer::Records(rs)) => rs,
        Ok(_) | Err(Failure::BadName) => return Listing::No,
        Err(_) => return Listing::TempError,
    };
    let mut ignored = None;
    for r in rs {
        if let Rdata::A(a) = r.data {
            let [x, y, z, _] = a.octets();
            let refused = (y, z) == (255, 255) || a.octets() == [127, 0, 0, 255];
            if x == 127 && !refused {
                return Listing::Listed(a);
            }
            ignored.get_or_insert(a);
        }
    }
    ignored.map_or(Listing::No, Listing::Ignored)
}

/// The zones' answers and the score.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dnsbl {
    pub answers: Vec<(String, Listing)>,
    pub score: i64,
    /// The block list with the largest weight that listed the client,
    /// when the score reached the threshold.
    pub blocked_by: Option<String>,
}

impl Dnsbl {
    /// Scores the answers (zones with their weights, in order).
    pub fn score(zones: &[Zone], answers: Vec<Listing>, threshold: i64) -> Dnsbl {
        let listed = |i: &usize| matches!(answers[*i], Listing::Listed(_));
        let idx: Vec<usize> = (0..zones.len().min(answers.len())).filter(listed).collect();
        let score = idx.iter().map(|&i| zones[i].weight).sum::<i64>();
        let blocked_by = idx
            .iter()
            .filter(|&&i| zones[i].weight > 0)
            .max_by_key(|&&i| zones[i].weight)
            .filter(|_| score >= threshold)
            .map(|&i| zones[i].name.clone());
        let answers = zones.iter().map(|z| z.name.clone()).zip(answers).collect();
        Dnsbl {
            answers,
            score,
            blocked_by,
        }
    }

    /// TINYMX_DNSBL and the log's `dnsbl=`: `listed`, `temperror` or
    /// `none`, then `ZONE=CODE` for each zone that listed the client,
    /// `ZONE=ignored:ADDR` for an answer that is not a listing,
    /// `ZONE=temperror` for no answer, then `score=N`.
    pub fn value(&self) -> String {
        let temp = self.answers.iter().any(|a| a.1 == Listing::TempError);
        let mut v = String::from(match (&self.blocked_by, temp) {
            (Some(_), _) => "listed",
            (None, true) => "temperror",
            (None, false) => "none",
        });
        for (zone, l) in &self.answers {
            match l {
                Listing::No => continue,
                Listing::Listed(a) => v += &format!(" {zone}={a}"),
                Listing::Ignored(a) => v += &format!(" {zone}=ignored:{a}"),
                Listing::TempError => v += &format!(" {zone}=temperror"),
            }
        }
        v + &format!(" score={}", self.score)
    }
}

/// The iprev result, and the confirmed name when it passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iprev {
    pub result: &'static str,
    pub name: String,
}

/// Forward-confirmed reverse DNS: the PTR names of `ip`, then each
/// name's A or AAAA records (at most MAX_PTR_NAMES names): `pass` if one
/// leads back to `ip`; `permerror` without a PTR record, `temperror`
/// when DNS did not answer (and nothing passed), else `fail`.
pub fn iprev(resolver: &Resolver, ip: IpAddr, deadline: Instant) -> Iprev {
    let result = |r, name: &str| Iprev {
        result: r,
        name: name.to_string(),
    };
    let ask = |name: &str, t| resolver.lookup_at(name, t, Instant::now(), Some(deadline));
    let names: Vec<String> = match ask(&reverse_name(ip), RecordType::Ptr) {
        Ok(Answer::Records(rs)) => rs
            .into_iter()
            .filter_map(|r| match r.data {
                Rdata::Ptr(n) => n.plain(),
                _ => None,
            })
            // Only host names: the name goes into a header field and the
            // environment, and the zone's owner chose its bytes.
            .filter(|n| is_domain(n.trim_end_matches('.').as_bytes(), false))
            .take(MAX_PTR_NAMES)
            .collect(),
        Ok(_) | Err(Failure::BadName) => Vec::new(),
        Err(_) => return result("temperror", ""),
    };
    if names.is_empty() {
        return result("permerror", "");
    }
    let rtype = if ip.is_ipv4() {
        RecordType::A
    } else {
        RecordType::Aaaa
    };
    let mut temp = false;
    for name in &names {
        match ask(name, rtype) {
            Ok(Answer::Records(rs)) => {
                let back = rs.iter().any(|r| match r.data {
                    Rdata::A(a) => IpAddr::V4(a) == ip,
                    Rdata::Aaaa(a) => IpAddr::V6(a) == ip,
                    _ => false,
                });
                if back {
                    return result("pass", name.trim_end_matches('.'));
                }
            }
            Ok(_) => {}
            Err(f) => temp |= f.is_temporary(),
        }
    }
    result(if temp { "temperror" } else { "fail" }, "")
}

/// A check running in its own thread; `get` waits for it once.
pub struct Pending<T> {
    handle: Option<JoinHandle<T>>,
    /// The result once waited for; until then the one for a failure.
    value: T,
}

impl<T: Send + 'static> Pending<T> {
    /// Starts `f` in a thread; if no thread can be made, `failed` is the
    /// result (a temporary error, never a refusal).
    pub fn spawn(stack_bytes: usize, failed: T, f: impl FnOnce() -> T + Send + 'static) -> Self {
        let handle = std::thread::Builder::new()
            .name("check".into())
            .stack_size(stack_bytes)
            .spawn(f)
            .ok();
        Pending {
            handle,
            value: failed,
        }
    }

    /// The result, waited for the first time (the failure value if the
    /// thread panicked).
    pub fn get(&mut self) -> &T {
        if let Some(Ok(v)) = self.handle.take().map(JoinHandle::join) {
            self.value = v;
        }
        &self.value
    }

    /// The result if it has been waited for.
    pub fn done(&self) -> Option<&T> {
        self.handle.is_none().then_some(&self.value)
    }
}

/// Starts the lookups of `ip` in every zone, one thread each (they run
/// while the greeting delay does).
pub fn start_dnsbl(
    resolver: &Arc<Resolver>,
    ip: IpAddr,
    zones: &[Zone],
    limit: Duration,
    stack_bytes: usize,
) -> Vec<Pending<Listing>> {
    let deadline = Instant::now() + limit;
    zones
        .iter()
        .map(|z| {
            let (r, name) = (Arc::clone(resolver), query_name(ip, &z.name));
            Pending::spawn(stack_bytes, Listing::TempError, move || {
                listing(r.lookup_at(&name, RecordType::A, Instant::now(), Some(deadline)))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{Name, Record};

    #[test]
    fn query_names() {
        let v4: IpAddr = "192.0.2.99".parse().unwrap();
        assert_eq!(query_name(v4, "bl.example"), "99.2.0.192.bl.example");
        let v6: IpAddr = "2001:db8:1:2:3:4:567:89ab".parse().unwrap();
        assert_eq!(
            query_name(v6, "bl.example"),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example"
        );
        let one: IpAddr = "::1".parse().unwrap();
        assert_eq!(query_name(one, "z"), format!("1.{}z", "0.".repeat(31)));
    }

    fn a(x: [u8; 4]) -> Record {
        Record {
            name: Name(String::new()),
            rtype: crate::dns::wire::TYPE_A,
            class: crate::dns::wire::CLASS_IN,
            ttl: 60,
            data: Rdata::A(Ipv4Addr::from(x)),
        }
    }

    #[test]
    fn listings() {
        let l = |rs: Vec<Record>| listing(Ok(Answer::Records(rs)));
        assert_eq!(
            l(vec![a([127, 0, 0, 2])]),
            Listing::Listed([127, 0, 0, 2].into())
        );
        let refused = [127, 255, 255, 254];
        assert_eq!(l(vec![a(refused)]), Listing::Ignored(refused.into()));
        let dnswl_blocked = [127, 0, 0, 255];
        assert_eq!(
            l(vec![a(dnswl_blocked)]),
            Listing::Ignored(dnswl_blocked.into())
        );
        assert_eq!(
            l(vec![a([192, 0, 2, 1])]),
            Listing::Ignored([192, 0, 2, 1].into())
        );
        assert_eq!(
            l(vec![a(refused), a([127, 0, 0, 4])]),
            Listing::Listed([127, 0, 0, 4].into())
        );
        assert_eq!(listing(Ok(Answer::NxDomain)), Listing::No);
        assert_eq!(listing(Err(Failure::Timeout)), Listing::TempError);
    }

    #[test]
    fn scores() {
        let z = |s, allow| Zone::parse(s, allow).unwrap();
        let zones = [z("bl.a=2", false), z("bl.b", false), z("wl.c=-2", true)];
        assert_eq!(zones[2].weight, -2);
        let ok = Listing::Listed([127, 0, 0, 2].into());
        let d = Dnsbl::score(&zones, vec![ok, ok, Listing::No], 2);
        assert_eq!(d.score, 3);
        assert_eq!(d.blocked_by.as_deref(), Some("bl.a"));
        assert_eq!(d.value(), "listed bl.a=127.0.0.2 bl.b=127.0.0.2 score=3");
        let d = Dnsbl::score(&zones, vec![ok, ok, ok], 2);
        assert_eq!((d.score, d.blocked_by), (1, None));
        let d = Dnsbl::score(
            &zones,
            vec![Listing::TempError, Listing::No, Listing::No],
            1,
        );
        assert_eq!(d.value(), "temperror bl.a=temperror score=0");
        assert_eq!(
            Dnsbl::score(&zones, vec![Listing::No; 3], 1).value(),
            "none score=0"
        );
        for bad in ["", "a..b", "x=0", "x=abc", "x=1001", "x y"] {
            assert_eq!(Zone::parse(bad, false), None, "{bad}");
        }
    }
}
