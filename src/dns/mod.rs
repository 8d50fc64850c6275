//! A stub resolver: asks the configured recursive nameservers for TXT, A,
//! AAAA, MX and PTR records, follows CNAME chains, caches answers, and
//! says plainly when it got no answer (for SPF's `temperror`).
//!
//! - `wire`: the packet format, parsed as hostile input.
//! - `transport`: one query to one server, UDP then TCP, spoofing checks.
//! - `resolv_conf`: `/etc/resolv.conf`, re-read when it changes.
//! - `cache`: TTLs, bounds, negative answers (RFC 2308).

pub mod cache;
pub mod resolv_conf;
pub mod transport;
pub mod wire;

use crate::sys::AtomicU64;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};
pub use wire::{Name, Rdata, Record};

/// Resolver settings. `servers` and `timeout_secs` are what `--dns` and
/// `--dns-timeout` will set; the rest are limits with their defaults in
/// `Default` below.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverConfig {
    /// `--dns ADDR[:PORT]` (repeatable): these servers, in order, instead
    /// of resolv.conf's. Empty (the default): resolv.conf's.
    pub servers: Vec<SocketAddr>,
    /// `--dns-timeout SECS`: how long one query to one server may take.
    /// None (the default): resolv.conf's `timeout:`, else 5 s.
    pub timeout_secs: Option<u64>,
    /// Rounds over the server list. None (the default): resolv.conf's
    /// `attempts:`, else 2.
    pub attempts: Option<u32>,
    /// Default `/etc/resolv.conf`; read when `servers` is empty, and read
    /// again when its mtime, size or inode change (checked at most once
    /// a second).
    pub resolv_conf: PathBuf,
    /// CNAMEs followed for one lookup (default 8, as many resolvers do).
    pub max_cname_hops: usize,
    /// Cache bounds (defaults 1,024 entries and 256 KiB).
    pub cache_max_entries: usize,
    pub cache_max_bytes: usize,
}

pub const DEFAULT_TIMEOUT_SECS: u64 = 5;
pub const DEFAULT_ATTEMPTS: u32 = 2;

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            servers: Vec::new(),
            timeout_secs: None,
            attempts: None,
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            max_cname_hops: 8,
            cache_max_entries: 1024,
            cache_max_bytes: 256 * 1024,
        }
    }
}

/// The record types tinymx asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordType {
    A,
    Aaaa,
    Mx,
    Txt,
    Ptr,
}

impl RecordType {
    pub fn code(self) -> u16 {
        match self {
            RecordType::A => wire::TYPE_A,
            RecordType::Aaaa => wire::TYPE_AAAA,
            RecordType::Mx => wire::TYPE_MX,
            RecordType::Txt => wire::TYPE_TXT,
            RecordType::Ptr => wire::TYPE_PTR,
        }
    }
}

/// What the DNS said. Records are those of the asked type at the end of
/// any CNAME chain, their TTLs no longer than the chain's shortest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Records(Vec<Record>),
    /// RCODE 3: the name (or a CNAME target) does not exist.
    NxDomain,
    /// The name exists but has no record of this type (RFC 2308 2.2).
    NoData,
}

impl Answer {
    /// The answer with each record's TTL at most `left` seconds.
    pub fn ttl_cut(mut self, left: u32) -> Answer {
        if let Answer::Records(rs) = &mut self {
            for r in rs {
                r.ttl = r.ttl.min(left);
            }
        }
        self
    }

    /// An estimate of the memory an answer takes, for the cache bound.
    pub fn size(&self) -> usize {
        let Answer::Records(rs) = self else { return 16 };
        rs.iter().map(record_size).sum::<usize>() + 16
    }
}

fn record_size(r: &Record) -> usize {
    let data = match &r.data {
        Rdata::Mx(_, n) | Rdata::Ptr(n) | Rdata::Cname(n) => n.0.len(),
        Rdata::Txt(parts) => parts.iter().map(|p| p.len() + 24).sum(),
        Rdata::Soa { mname, .. } => mname.0.len(),
        _ => 16,
    };
    r.name.0.len() + data + 48
}

/// Why there is no answer. All but `BadName` are temporary conditions:
/// SPF maps them to `temperror` (RFC 7208 section 5), never `fail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// RCODE 2 (or another error code) from every server.
    ServerFailure,
    /// RCODE 5 from every server.
    Refused,
    /// No matching answer before the time-outs ran out.
    Timeout,
    /// Answers that could not be parsed, a local socket error, or no
    /// server to ask.
    Network,
    /// A CNAME loop, or a chain longer than `max_cname_hops`.
    CnameChain,
    /// The name cannot be put in a query (empty label, over 63/255).
    BadName,
}

impl Failure {
    pub fn is_temporary(self) -> bool {
        self != Failure::BadName
    }
}

pub type LookupResult = Result<Answer, Failure>;

/// The servers and limits in effect, from the config or resolv.conf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Servers {
    pub addrs: Vec<SocketAddr>,
    pub timeout: Duration,
    pub attempts: u32,
}

/// resolv.conf as last read, and how to tell that it changed.
struct ConfState {
    conf: resolv_conf::ResolvConf,
    stamp: Option<(SystemTime, u64, u64)>,
    checked: Option<Instant>,
}

/// The resolver: shareable between threads (`&self` everywhere).
pub struct Resolver {
    config: ResolverConfig,
    conf: Mutex<ConfState>,
    cache: Mutex<cache::Cache>,
    dropped: AtomicU64,
}

/// The answer of glibc and musl when resolv.conf names no server.
const FALLBACK_SERVER: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 53));

impl Resolver {
    pub fn new(config: ResolverConfig) -> Resolver {
        let cache = cache::Cache::new(config.cache_max_entries, config.cache_max_bytes);
        Resolver {
            config,
            conf: Mutex::new(ConfState {
                conf: Default::default(),
                stamp: None,
                checked: None,
            }),
            cache: Mutex::new(cache),
            dropped: AtomicU64::new(0),
        }
    }

    /// Answers that arrived for a query but did not match it (source,
    /// ID or question) and were dropped: possible spoofing attempts.
    pub fn dropped_answers(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Looks `name` up now, with no limit beyond the per-query time-outs.
    pub fn lookup(&self, name: &str, rtype: RecordType) -> LookupResult {
        self.lookup_at(name, rtype, Instant::now(), None)
    }

    /// Looks `name` up; `now` is the cache's clock, and no query runs past
    /// `deadline` (for a caller's overall limit, like SPF's 20 s).
    pub fn lookup_at(
        &self,
        name: &str,
        rtype: RecordType,
        now: Instant,
        deadline: Option<Instant>,
    ) -> LookupResult {
        let mut copy = Answer::NoData;
        self.lookup_with(name, rtype, now, deadline, &mut |a, left| {
            copy = a.clone().ttl_cut(left)
        })?;
        Ok(copy)
    }

    /// `lookup_at`, the answer shown to `f` where it lies (in the cache,
    /// or fresh before it is stored) with the seconds it has left: SPF
    /// takes what it needs from it, and no copy of the records is made.
    pub fn lookup_with(
        &self,
        name: &str,
        rtype: RecordType,
        now: Instant,
        deadline: Option<Instant>,
        f: &mut dyn FnMut(&Answer, u32),
    ) -> Result<(), Failure> {
        let qtype = rtype.code();
        let key = wire::presentation(name).key();
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((a, left)) = cache.find_live(&key, qtype, now) {
                f(a, left);
                return Ok(());
            }
        }
        let (answer, ttl) = self.resolve(name, qtype, now, deadline)?;
        // Fresh: the records' TTLs are already the chain's (`interpret`).
        f(&answer, u32::MAX);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.put(&key, qtype, answer, ttl, now);
        Ok(())
    }

    /// Queries until the CNAME chain ends: usually one query, as a
    /// recursive server puts the whole chain in its answer.
    fn resolve(
        &self,
        name: &str,
        qtype: u16,
        now: Instant,
        deadline: Option<Instant>,
    ) -> Result<(Answer, u32), Failure> {
        let servers = self.servers(now);
        let mut chain = Chain {
            seen: vec![wire::presentation(name)],
            max: self.config.max_cname_hops,
            ttl: u32::MAX,
        };
        let mut current = name.to_string();
        loop {
            let m = query(&servers, &current, qtype, deadline, &self.dropped)?;
            match interpret(&m, qtype, &mut chain)? {
                Step::Done(answer, ttl) => return Ok((answer, ttl)),
                // Plain labels again (odd\058name → odd:name); a '.'
                // inside a label cannot be asked for.
                Step::Follow(target) => current = target.plain().ok_or(Failure::BadName)?,
            }
        }
    }

    /// The servers to ask and the limits, re-reading resolv.conf when it
    /// changed (dnsmasq on routers rewrites it as uplinks come and go).
    pub fn servers(&self, now: Instant) -> Servers {
        let mut st = self.conf.lock().unwrap_or_else(|e| e.into_inner());
        if self.config.servers.is_empty()
            && st
                .checked
                .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1))
        {
            st.checked = Some(now);
            let stamp = std::fs::metadata(&self.config.resolv_conf).ok().map(|m| {
                (
                    m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    m.len(),
                    m.ino(),
                )
            });
            if stamp != st.stamp {
                st.stamp = stamp;
                let text = std::fs::read_to_string(&self.config.resolv_conf).unwrap_or_default();
                st.conf = resolv_conf::parse(&text);
            }
        }
        let mut addrs = if self.config.servers.is_empty() {
            st.conf.servers.clone()
        } else {
            self.config.servers.clone()
        };
        if addrs.is_empty() {
            addrs.push(FALLBACK_SERVER);
        }
        let secs = self
            .config
            .timeout_secs
            .or(st.conf.timeout_secs)
            .unwrap_or(DEFAULT_TIMEOUT_SECS);
        let attempts = self
            .config
            .attempts
            .or(st.conf.attempts)
            .unwrap_or(DEFAULT_ATTEMPTS);
        Servers {
            addrs,
            timeout: Duration::from_secs(secs.max(1)),
            attempts: attempts.max(1),
        }
    }
}

/// Asks the servers in order, `attempts` rounds (as resolv.conf(5)
/// describes), each query limited to `timeout` and to `deadline`. NOERROR
/// and NXDOMAIN are answers; SERVFAIL, REFUSED and the rest send us to the
/// next server (RFC 1035 7.2), and the last failure is the result.
fn query(
    servers: &Servers,
    name: &str,
    qtype: u16,
    deadline: Option<Instant>,
    dropped: &AtomicU64,
) -> Result<wire::Message, Failure> {
    wire::build_query(0, name, qtype).map_err(|_| Failure::BadName)?;
    let mut last = Failure::Timeout;
    for _ in 0..servers.attempts {
        for &server in &servers.addrs {
            let mut until = Instant::now() + servers.timeout;
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return Err(Failure::Timeout);
                }
                until = until.min(d);
            }
            last = match transport::exchange(server, name, qtype, until, dropped) {
                Ok(m) if m.rcode == wire::RCODE_NOERROR || m.rcode == wire::RCODE_NXDOMAIN => {
                    return Ok(m);
                }
                Ok(m) if m.rcode == wire::RCODE_REFUSED => Failure::Refused,
                Ok(_) => Failure::ServerFailure,
                Err(transport::ExchangeError::Timeout) => Failure::Timeout,
                Err(_) => Failure::Network,
            };
        }
    }
    Err(last)
}

/// The names met so far in one lookup's CNAME chain.
pub struct Chain {
    pub seen: Vec<Name>,
    pub max: usize,
    /// The shortest TTL along the chain.
    pub ttl: u32,
}

/// What one response means for the lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The answer and how long it may be cached (0: not at all).
    Done(Answer, u32),
    /// The chain goes on to a name this response has nothing for.
    Follow(Name),
}

/// Reads one response for the last name in `chain`: its records of type
/// `qtype`, else a CNAME to follow within the response (RFC 1034 4.3.2
/// step 3a; RFC 2181 10.1 — a name with a CNAME has no other data).
/// NXDOMAIN and no-data are cached for min(SOA TTL, SOA MINIMUM) from the
/// authority section (RFC 2308 section 5), and not at all without a SOA.
pub fn interpret(m: &wire::Message, qtype: u16, chain: &mut Chain) -> Result<Step, Failure> {
    // The names are borrowed from the chain as it grows, not copied: the
    // current one is its last (or the question, for an empty chain).
    let start = chain.seen.len();
    loop {
        let cur = chain.seen.last().unwrap_or(&m.question.name);
        let owned = |r: &Record| r.name == *cur && r.class == wire::CLASS_IN;
        // One pass: the records of the type, and the shortest TTL of
        // the chain and of them, which each record's TTL is then cut to.
        let mut ttl = chain.ttl;
        let mut recs = Vec::new();
        for r in m.answers.iter().filter(|r| owned(r) && r.rtype == qtype) {
            ttl = ttl.min(r.ttl);
            recs.push(r.clone());
        }
        if !recs.is_empty() {
            for r in &mut recs {
                r.ttl = r.ttl.min(ttl);
            }
            return Ok(Step::Done(Answer::Records(recs), ttl));
        }
        let Some((target, ttl)) = m.answers.iter().find_map(|r| match &r.data {
            Rdata::Cname(t) if owned(r) => Some((t.clone(), r.ttl)),
            _ => None,
        }) else {
            break;
        };
        if chain.seen.contains(&target) || chain.seen.len() > chain.max {
            return Err(Failure::CnameChain);
        }
        chain.ttl = chain.ttl.min(ttl);
        chain.seen.push(target);
    }
    let soa_ttl = m.authority.iter().find_map(|r| match r.data {
        Rdata::Soa { minimum, .. } => Some(r.ttl.min(minimum)),
        _ => None,
    });
    if m.rcode == wire::RCODE_NXDOMAIN {
        return Ok(Step::Done(
            Answer::NxDomain,
            chain.ttl.min(soa_ttl.unwrap_or(0)),
        ));
    }
    let first = start.checked_sub(1).and_then(|i| chain.seen.get(i));
    let first = first.unwrap_or(&m.question.name);
    let cur = chain.seen.last().unwrap_or(&m.question.name);
    if cur != first && soa_ttl.is_none() {
        // The server gave the CNAME but not what it points to: ask again.
        return Ok(Step::Follow(cur.clone()));
    }
    Ok(Step::Done(
        Answer::NoData,
        chain.ttl.min(soa_ttl.unwrap_or(0)),
    ))
}
