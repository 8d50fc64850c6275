//! An in-memory [`Lookup`]: a few records by name, for the unit tests, the
//! fuzz target and anyone trying the evaluator without a network.

use super::{Answer, Lookup, RecordType};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

pub use super::Rr;

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

    fn get(&mut self, name: &str, rtype: RecordType) -> Answer<Vec<Rr>> {
        self.queries += 1;
        let name = key(name);
        if self.timeouts.contains(&name) {
            return Answer::TempFail;
        }
        match self.records.get(&name) {
            None => Answer::NxDomain,
            Some(rrs) => {
                let found: Vec<Rr> = rrs.iter().filter(|r| kind(r) == rtype).cloned().collect();
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

fn kind(r: &Rr) -> RecordType {
    match r {
        Rr::Txt(_) => RecordType::Txt,
        Rr::A(_) => RecordType::A,
        Rr::Aaaa(_) => RecordType::Aaaa,
        Rr::Mx(..) => RecordType::Mx,
        Rr::Ptr(_) => RecordType::Ptr,
    }
}

impl Lookup for Zone {
    fn lookup(&mut self, name: &str, rtype: RecordType) -> Answer<Vec<Rr>> {
        self.get(name, rtype)
    }
}
