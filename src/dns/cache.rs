//! A small answer cache: TTLs honoured, bounded in entries and in bytes,
//! negative answers kept per RFC 2308. The clock is an argument, so the
//! tests step time without sleeping.

use super::Answer;
use std::time::{Duration, Instant};

/// Longest time anything stays cached, whatever the TTL says: one day
/// (RFC 2308 section 5 suggests capping; BIND caps positive answers at a
/// week, negative ones at 3 hours — see `MAX_NEGATIVE_SECS`).
pub const MAX_TTL_SECS: u32 = 86_400;
/// Cap for NXDOMAIN / no-data entries (RFC 2308 section 5: 1-3 hours).
pub const MAX_NEGATIVE_SECS: u32 = 3 * 3600;

struct Entry {
    /// The name as given to `put`; matched ignoring ASCII case.
    name: String,
    qtype: u16,
    answer: Answer,
    expires: Instant,
    bytes: usize,
}

/// Keyed by the name (ignoring case) and the type. A plain list: at most
/// `max_entries` (1,024 by default) short names, scanned in a few
/// microseconds, against the milliseconds of the query it saves; a hash
/// table would cost more code than it saves time here.
pub struct Cache {
    max_entries: usize,
    max_bytes: usize,
    bytes: usize,
    entries: Vec<Entry>,
}

impl Cache {
    pub fn new(max_entries: usize, max_bytes: usize) -> Cache {
        Cache {
            max_entries,
            max_bytes,
            bytes: 0,
            entries: Vec::new(),
        }
    }

    fn find(&self, name: &str, qtype: u16) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.qtype == qtype && e.name.eq_ignore_ascii_case(name))
    }

    /// The cached answer, its TTLs lowered by the time it has spent here.
    pub fn get(&mut self, name: &str, qtype: u16, now: Instant) -> Option<Answer> {
        let (a, left) = self.find_live(name, qtype, now)?;
        Some(a.clone().ttl_cut(left))
    }

    /// The cached answer where it lies and the seconds it has left, for a
    /// caller that needs no copy; an expired entry is removed when met.
    pub fn find_live(&mut self, name: &str, qtype: u16, now: Instant) -> Option<(&Answer, u32)> {
        let i = self.find(name, qtype)?;
        let e = self.entries.get(i)?;
        if now >= e.expires {
            self.remove(i);
            return None;
        }
        let left = (e.expires - now).as_secs() as u32;
        let e = self.entries.get(i)?;
        Some((&e.answer, left))
    }

    /// Stores `answer` for `ttl` seconds (0: not stored). When full, the
    /// entries closest to expiry go first (expired ones among them).
    pub fn put(&mut self, name: &str, qtype: u16, answer: Answer, ttl: u32, now: Instant) {
        let cap = if matches!(answer, Answer::Records(_)) {
            MAX_TTL_SECS
        } else {
            MAX_NEGATIVE_SECS
        };
        let ttl = ttl.min(cap);
        let bytes = name.len() + answer.size();
        if ttl == 0 || bytes > self.max_bytes || self.max_entries == 0 {
            return;
        }
        if let Some(i) = self.find(name, qtype) {
            self.remove(i);
        }
        while self.entries.len() >= self.max_entries || self.bytes + bytes > self.max_bytes {
            let Some(i) = (self.entries.iter().enumerate())
                .min_by_key(|(_, e)| e.expires)
                .map(|(i, _)| i)
            else {
                break;
            };
            self.remove(i);
        }
        self.bytes += bytes;
        self.entries.push(Entry {
            name: name.to_owned(),
            qtype,
            answer,
            expires: now + Duration::from_secs(ttl as u64),
            bytes,
        });
    }

    /// Removes entry `i`. The callers found `i` in the list; the test
    /// only lets the compiler drop `swap_remove`'s panic path.
    fn remove(&mut self, i: usize) {
        if i < self.entries.len() {
            let e = self.entries.swap_remove(i);
            self.bytes -= e.bytes;
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes accounted for (names and record data, estimated).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{Name, Rdata, Record};

    fn a(ttl: u32) -> Answer {
        let r = Record {
            name: Name("h.example".into()),
            rtype: 1,
            class: 1,
            ttl,
            data: Rdata::A([192, 0, 2, 1].into()),
        };
        Answer::Records(vec![r])
    }

    fn secs(t: Instant, s: u64) -> Instant {
        t + Duration::from_secs(s)
    }

    #[test]
    fn entries_expire_after_their_ttl_and_ttls_count_down() {
        let t0 = Instant::now();
        let mut c = Cache::new(10, 10_000);
        c.put("h.example", 1, a(300), 300, t0);
        let Some(Answer::Records(rs)) = c.get("H.EXAMPLE", 1, secs(t0, 100)) else {
            panic!()
        };
        assert_eq!(rs[0].ttl, 200);
        assert!(c.get("h.example", 1, secs(t0, 299)).is_some());
        assert!(c.get("h.example", 1, secs(t0, 300)).is_none());
        assert!(
            c.is_empty() && c.bytes() == 0,
            "an expired entry is removed when met"
        );
        assert!(c.get("h.example", 28, t0).is_none(), "keyed by type too");
    }

    #[test]
    fn zero_ttl_is_not_stored_and_ttls_are_capped() {
        let t0 = Instant::now();
        let mut c = Cache::new(10, 10_000);
        c.put("z.example", 1, a(0), 0, t0);
        assert!(c.is_empty());
        c.put("n.example", 16, Answer::NxDomain, u32::MAX, t0);
        assert!(
            c.get("n.example", 16, secs(t0, MAX_NEGATIVE_SECS as u64 - 1))
                .is_some()
        );
        assert!(
            c.get("n.example", 16, secs(t0, MAX_NEGATIVE_SECS as u64))
                .is_none()
        );
        c.put("p.example", 1, a(u32::MAX), u32::MAX, t0);
        assert!(
            c.get("p.example", 1, secs(t0, MAX_TTL_SECS as u64))
                .is_none()
        );
    }

    #[test]
    fn entry_bound_evicts_the_soonest_to_expire() {
        let t0 = Instant::now();
        let mut c = Cache::new(2, 10_000);
        c.put("a.example", 1, a(100), 100, t0);
        c.put("b.example", 1, a(10), 10, t0);
        c.put("c.example", 1, a(50), 50, t0);
        assert_eq!(c.len(), 2);
        assert!(c.get("b.example", 1, t0).is_none());
        assert!(c.get("a.example", 1, t0).is_some() && c.get("c.example", 1, t0).is_some());
    }

    #[test]
    fn byte_bound_is_kept() {
        let t0 = Instant::now();
        let one = "x.example".len() + a(1).size();
        let mut c = Cache::new(100, one * 3);
        for i in 0..10u64 {
            c.put(&format!("{i}.example"), 1, a(100), 100 + i as u32, t0);
            assert!(c.bytes() <= one * 3);
        }
        assert_eq!(c.len(), 3);
        // Bigger than the whole cache: not stored, nothing evicted.
        let mut tiny = Cache::new(100, 10);
        tiny.put("h.example", 1, a(5), 5, t0);
        assert!(tiny.is_empty());
    }

    #[test]
    fn replacing_an_entry_keeps_the_byte_count_right() {
        let t0 = Instant::now();
        let mut c = Cache::new(10, 10_000);
        c.put("h.example", 1, a(5), 5, t0);
        let b = c.bytes();
        c.put("h.example", 1, a(5), 5, t0);
        assert_eq!((c.len(), c.bytes()), (1, b));
    }
}
