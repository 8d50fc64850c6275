//! An in-memory [`Lookup`]: a few records by name, for the unit tests, the
//! fuzz target and anyone trying the evaluator without a network.

use super::{Answer, Lookup};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rr {
    Txt(Vec<u8>),
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Mx(u16, String),
    Ptr(String),
}

/// Records by lower-case name without the trailing dot. A name in
/// `timeouts` answers TempFail to every question.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    pub records: HashMap<String, Vec<Rr>>,
    pub timeouts: HashSet<String>,
    /// Questions asked so far.
    pub queries: usize,
}

impl Zone {
    pub fn add(&mut self, name: &str, rr: Rr) -> &mut Self {
        self.records.entry(key(name)).or_default().push(rr);
        self
    }

    fn get<T>(&mut self, name: &str, pick: impl Fn(&Rr) -> Option<T>) -> Answer<Vec<T>> {
        self.queries += 1;
        let name = key(name);
        if self.timeouts.contains(&name) {
            return Answer::TempFail;
        }
        match self.records.get(&name) {
            None => Answer::NxDomain,
            Some(rrs) => {
                let found: Vec<T> = rrs.iter().filter_map(pick).collect();
                if found.is_empty() {
                    Answer::NoData
                } else {
                    Answer::Records(found)
                }
            }
        }
    }
}

fn key(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// The `in-addr.arpa` / `ip6.arpa` name of an address (RFC 1035 3.5,
/// RFC 3596 2.5).
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{}.in-addr.arpa", Ipv4Addr::new(d, c, b, a))
        }
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(72);
            for b in v6.octets().into_iter().rev() {
                for n in [b & 15, b >> 4] {
                    out.push(char::from_digit(u32::from(n), 16).unwrap_or('0'));
                    out.push('.');
                }
            }
            out.push_str("ip6.arpa");
            out
        }
    }
}

impl Lookup for Zone {
    fn txt(&mut self, name: &str) -> Answer<Vec<Vec<u8>>> {
        self.get(name, |r| {
            if let Rr::Txt(t) = r {
                Some(t.clone())
            } else {
                None
            }
        })
    }
    fn a(&mut self, name: &str) -> Answer<Vec<Ipv4Addr>> {
        self.get(name, |r| if let Rr::A(a) = r { Some(*a) } else { None })
    }
    fn aaaa(&mut self, name: &str) -> Answer<Vec<Ipv6Addr>> {
        self.get(name, |r| if let Rr::Aaaa(a) = r { Some(*a) } else { None })
    }
    fn mx(&mut self, name: &str) -> Answer<Vec<(u16, String)>> {
        self.get(name, |r| {
            if let Rr::Mx(p, h) = r {
                Some((*p, h.clone()))
            } else {
                None
            }
        })
    }
    fn ptr(&mut self, ip: IpAddr) -> Answer<Vec<String>> {
        self.get(&reverse_name(ip), |r| {
            if let Rr::Ptr(p) = r {
                Some(p.clone())
            } else {
                None
            }
        })
    }
}
