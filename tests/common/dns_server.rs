//! A DNS server for the tests, on 127.0.0.1 port 0, UDP and TCP on the
//! same port: each query goes to a handler that says what to send back
//! (or to stay silent). Nothing leaves the loopback interface.
//!
//! - `Server::start(handler)` takes a closure, for tests that shape the
//!   packets themselves (spoofed answers, truncation, odd RCODEs).
//! - `Server::zone(zone)` serves a [`Zone`], answering as a recursive
//!   server would for names it knows the whole truth about:
//!
//! ```ignore
//! let mut zone = Zone::new();
//! zone.txt("example.org", "v=spf1 mx -all")
//!     .mx("example.org", 10, "mx.example.org")
//!     .a("mx.example.org", "192.0.2.1")
//!     .timeout("slow.example.org"); // never answers
//! let dns = Server::zone(zone);
//! // … point tinymx at dns.addr (--dns 127.0.0.1:PORT) …
//! assert_eq!(dns.queries(), 3);
//! ```
//!
//! How a zone answers (RFC 1034 4.3.2, RFC 2308, RFC 6604, RFC 6891):
//! - the records of the asked type at the name;
//! - a CNAME at the name (when it has none of the asked type): the CNAME,
//!   then the target's answer in the same message, along the chain while
//!   the targets are in the zone; a loop ends the chain (the CNAMEs so far
//!   are sent and the resolver sees the loop);
//! - an unknown name (also at the end of a CNAME chain): NXDOMAIN with an
//!   SOA in the authority section;
//! - a known name without records of the type: NOERROR, no answer, an SOA
//!   in the authority section ("no data");
//! - a name marked `timeout`: no answer at all, on UDP and TCP, for every
//!   type without a record added before the mark (pyspf's `TIMEOUT`
//!   entry: records listed before it are still answered); `timeout_type`:
//!   no answer for that one type; `servfail`: RCODE 2 for every type;
//! - every TTL is 0, so nothing is cached (RFC 2308 section 5: the SOA's
//!   TTL and MINIMUM are 0 too);
//! - TXT character-strings longer than 255 bytes are sent split into
//!   255-byte strings; a TXT record of no strings is sent as one empty
//!   string (RFC 1035 3.3.14 has no way to send zero);
//! - the query's EDNS0 OPT record is answered with one (RFC 6891 7), and
//!   a UDP answer bigger than the size the query advertised (512 without
//!   EDNS0; tinymx's resolver advertises 1232) is sent with TC set and no
//!   records, so the resolver asks again over TCP, which gets it whole.
//!
//! Every query is counted (`udp_queries`, `tcp_queries`, `queries()`) and
//! logged by name and type (`asked()`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;
use tinymx::dns::{RecordType, Resolver, ResolverConfig};

/// One parsed query: its ID, the question bytes (name, type, class), the
/// name's labels joined by '.', the type, and the UDP payload size its
/// EDNS0 OPT record advertises (None without one).
#[derive(Clone)]
pub struct Query {
    pub id: u16,
    pub question: Vec<u8>,
    pub name: String,
    pub qtype: u16,
    pub edns: Option<u16>,
}

/// What the server sends back for a query on one transport.
pub enum Reply {
    /// Datagrams to send in order, each from the server socket, or from
    /// another socket (a different source port) when the flag is set.
    Packets(Vec<(bool, Vec<u8>)>),
    Silence,
}

pub type Handler = dyn Fn(&Query, bool) -> Reply + Send + Sync;

pub struct Server {
    pub addr: SocketAddr,
    pub udp_queries: Arc<AtomicUsize>,
    pub tcp_queries: Arc<AtomicUsize>,
    /// Every query received, as (name, type), UDP and TCP alike.
    asked: Arc<Mutex<Vec<(String, u16)>>>,
    /// The zone a `Server::zone` serves (empty for `Server::start`).
    zone: Arc<Mutex<Zone>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// The counters the two serving threads update.
#[derive(Clone)]
struct Counters {
    queries: Arc<AtomicUsize>,
    asked: Arc<Mutex<Vec<(String, u16)>>>,
}

impl Counters {
    fn count(&self, q: &Query) {
        self.queries.fetch_add(1, Ordering::SeqCst);
        let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        asked.push((q.name.clone(), q.qtype));
    }
}

pub fn parse_query(b: &[u8]) -> Option<Query> {
    let id = u16::from_be_bytes([*b.first()?, *b.get(1)?]);
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = *b.get(pos)? as usize;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(b.get(pos + 1..pos + 1 + len)?).into_owned());
        pos += 1 + len;
    }
    let question = b.get(12..pos + 5)?.to_vec();
    let qtype = u16::from_be_bytes([*b.get(pos + 1)?, *b.get(pos + 2)?]);
    // An OPT record first in the additional section (ARCOUNT ≥ 1): root
    // owner, type 41, its CLASS the payload size (RFC 6891 6.1.2).
    let arcount = u16::from_be_bytes([*b.get(10)?, *b.get(11)?]);
    let opt = b.get(pos + 5..pos + 10);
    let edns = match opt {
        Some([0, 0, 41, hi, lo]) if arcount > 0 => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    };
    Some(Query {
        id,
        question,
        name: labels.join("."),
        qtype,
        edns,
    })
}

impl Server {
    /// Starts the server; `handler(query, over_tcp)` answers each query.
    pub fn start(handler: impl Fn(&Query, bool) -> Reply + Send + Sync + 'static) -> Server {
        Self::serve(Arc::new(Mutex::new(Zone::new())), Arc::new(handler))
    }

    /// Starts a server that answers from `zone` (see the module doc).
    pub fn zone(zone: Zone) -> Server {
        let zone = Arc::new(Mutex::new(zone));
        let z = zone.clone();
        Self::serve(
            zone,
            Arc::new(move |q: &Query, tcp: bool| {
                answer(&z.lock().unwrap_or_else(|e| e.into_inner()), q, tcp)
            }),
        )
    }

    fn serve(zone: Arc<Mutex<Zone>>, handler: Arc<Handler>) -> Server {
        let (udp, tcp) = bind_pair();
        let addr = udp.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (uq, tq) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let counters = |queries: &Arc<AtomicUsize>| Counters {
            queries: queries.clone(),
            asked: asked.clone(),
        };
        let (h, s, n) = (handler.clone(), stop.clone(), counters(&uq));
        let t1 = std::thread::spawn(move || serve_udp(udp, &*h, &s, &n));
        let (h, s, n) = (handler, stop.clone(), counters(&tq));
        let t2 = std::thread::spawn(move || serve_tcp(tcp, &*h, &s, &n));
        Server {
            addr,
            udp_queries: uq,
            tcp_queries: tq,
            asked,
            zone,
            stop,
            threads: vec![t1, t2],
        }
    }

    /// Queries received so far, over UDP and TCP (a truncated answer
    /// retried over TCP counts twice).
    pub fn queries(&self) -> usize {
        self.udp_queries.load(Ordering::SeqCst) + self.tcp_queries.load(Ordering::SeqCst)
    }

    /// Every query received so far, as (name, type code), in order.
    pub fn asked(&self) -> Vec<(String, u16)> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The zone being served, to change while the server runs (a
    /// `Server::zone` server answers from it as it is at each query).
    pub fn zone_mut(&self) -> MutexGuard<'_, Zone> {
        self.zone.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A resolver that asks only this server: 1 s per query, 1 attempt.
    pub fn resolver(&self) -> Resolver {
        Resolver::new(ResolverConfig {
            servers: vec![self.addr],
            timeout_secs: Some(1),
            attempts: Some(1),
            ..ResolverConfig::default()
        })
    }
}

/// A UDP socket on a free port of 127.0.0.1 and a TCP listener on the
/// same port. The kernel picks the UDP port; the TCP port of that number
/// may be in use (by any connection's local end on the machine), so
/// another UDP port is tried then.
fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        match TcpListener::bind(udp.local_addr().unwrap()) {
            Ok(tcp) => return (udp, tcp),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => panic!("TCP listener: {e}"),
        }
    }
    panic!("no port of 127.0.0.1 free for both UDP and TCP after 100 tries");
}

impl Drop for Server {
    /// Wakes both threads (a datagram, a connection) and waits for them.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = UdpSocket::bind("127.0.0.1:0").and_then(|s| s.send_to(b"", self.addr));
        let _ = TcpStream::connect(self.addr);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn serve_udp(sock: UdpSocket, handler: &Handler, stop: &AtomicBool, count: &Counters) {
    let mut buf = [0u8; 512];
    while let Ok((n, from)) = sock.recv_from(&mut buf) {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(q) = parse_query(&buf[..n]) else {
            continue;
        };
        count.count(&q);
        if let Reply::Packets(ps) = handler(&q, false) {
            for (other_port, p) in ps {
                if other_port {
                    UdpSocket::bind("127.0.0.1:0")
                        .unwrap()
                        .send_to(&p, from)
                        .unwrap();
                } else {
                    sock.send_to(&p, from).unwrap();
                }
            }
        }
    }
}

fn serve_tcp(listener: TcpListener, handler: &Handler, stop: &AtomicBool, count: &Counters) {
    while let Ok((mut s, _)) = listener.accept() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).is_err() {
            continue;
        }
        let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
        if s.read_exact(&mut q).is_err() {
            continue;
        }
        let Some(q) = parse_query(&q) else { continue };
        count.count(&q);
        if let Reply::Packets(ps) = handler(&q, true) {
            for (_, p) in ps {
                let mut out = (p.len() as u16).to_be_bytes().to_vec();
                out.extend_from_slice(&p);
                let _ = s.write_all(&out);
            }
        }
    }
}

/// A response to `q`: flags (QR RD RA + extra), the answer and authority
/// records as (type, ttl, rdata), all owned by the question name (a
/// pointer to offset 12) unless `owner` bytes are given.
pub fn response(q: &Query, extra_flags: u16, rcode: u8, an: &[Rr], ns: &[Rr]) -> Vec<u8> {
    message(q, extra_flags, rcode, an, ns, &[])
}

/// `response` with an additional section as well.
pub fn message(q: &Query, extra_flags: u16, rcode: u8, an: &[Rr], ns: &[Rr], ar: &[Rr]) -> Vec<u8> {
    let flags = 0x8180 | extra_flags | rcode as u16;
    let mut m = q.id.to_be_bytes().to_vec();
    m.extend_from_slice(&flags.to_be_bytes());
    for c in [1, an.len(), ns.len(), ar.len()] {
        m.extend_from_slice(&(c as u16).to_be_bytes());
    }
    m.extend_from_slice(&q.question);
    for rr in an.iter().chain(ns).chain(ar) {
        match &rr.owner {
            Some(o) => m.extend_from_slice(o),
            None => m.extend_from_slice(&[0xC0, 12]),
        }
        m.extend_from_slice(&rr.rtype.to_be_bytes());
        m.extend_from_slice(&rr.class.to_be_bytes());
        m.extend_from_slice(&rr.ttl.to_be_bytes());
        m.extend_from_slice(&(rr.rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&rr.rdata);
    }
    m
}

pub struct Rr {
    pub owner: Option<Vec<u8>>,
    pub rtype: u16,
    /// IN (1); an OPT record's payload size.
    pub class: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

pub fn rr(rtype: u16, ttl: u32, rdata: &[u8]) -> Rr {
    Rr {
        owner: None,
        rtype,
        class: 1,
        ttl,
        rdata: rdata.to_vec(),
    }
}

/// `name` in wire form, uncompressed; one trailing dot allowed, "" is
/// the root. Panics on a label no message can carry (over 63 octets).
pub fn wire_name(name: &str) -> Vec<u8> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut out = Vec::new();
    if !name.is_empty() {
        for l in name.split('.') {
            assert!(l.len() <= 63, "label over 63 octets in {name:?}");
            out.push(l.len() as u8);
            out.extend_from_slice(l.as_bytes());
        }
    }
    out.push(0);
    out
}

pub fn soa(ttl: u32, minimum: u32) -> Rr {
    let mut d = b"\x02ns\xc0\x0c\x02hm\xc0\x0c".to_vec();
    for v in [1u32, 2, 3, 4, minimum] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    rr(6, ttl, &d)
}

/// One record's data in a [`Zone`]. Names are as written (a trailing dot
/// allowed); TXT holds the character-strings as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Mx(u16, String),
    Txt(Vec<Vec<u8>>),
    Ptr(String),
    Cname(String),
}

impl Data {
    pub fn rtype(&self) -> u16 {
        match self {
            Data::A(_) => 1,
            Data::Aaaa(_) => 28,
            Data::Mx(..) => 15,
            Data::Txt(_) => 16,
            Data::Ptr(_) => 12,
            Data::Cname(_) => 5,
        }
    }

    /// The RDATA on the wire (names uncompressed).
    fn rdata(&self) -> Vec<u8> {
        match self {
            Data::A(a) => a.octets().to_vec(),
            Data::Aaaa(a) => a.octets().to_vec(),
            Data::Mx(pref, host) => {
                let mut d = pref.to_be_bytes().to_vec();
                d.extend_from_slice(&wire_name(host));
                d
            }
            Data::Ptr(n) | Data::Cname(n) => wire_name(n),
            Data::Txt(strings) => {
                let mut d = Vec::new();
                for s in strings {
                    if s.is_empty() {
                        d.push(0);
                    }
                    for chunk in s.chunks(255) {
                        d.push(chunk.len() as u8);
                        d.extend_from_slice(chunk);
                    }
                }
                if d.is_empty() {
                    d.push(0); // no strings: one empty one
                }
                d
            }
        }
    }
}

/// What a name holds, in the order it was added.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Record(Data),
    /// No answer to questions of this type (None: of any type without a
    /// record before this entry).
    Timeout(Option<u16>),
    ServFail,
}

/// Records by lower-case name (without the trailing dot).
#[derive(Clone, Debug, Default)]
pub struct Zone {
    names: HashMap<String, Vec<Entry>>,
}

fn key(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl Zone {
    pub fn new() -> Zone {
        Zone::default()
    }

    fn push(&mut self, name: &str, e: Entry) -> &mut Zone {
        self.names.entry(key(name)).or_default().push(e);
        self
    }

    pub fn add(&mut self, name: &str, data: Data) -> &mut Zone {
        self.push(name, Entry::Record(data))
    }

    pub fn a(&mut self, name: &str, ip: &str) -> &mut Zone {
        self.add(name, Data::A(ip.parse().expect("IPv4 address")))
    }

    pub fn aaaa(&mut self, name: &str, ip: &str) -> &mut Zone {
        self.add(name, Data::Aaaa(ip.parse().expect("IPv6 address")))
    }

    pub fn mx(&mut self, name: &str, pref: u16, host: &str) -> &mut Zone {
        self.add(name, Data::Mx(pref, host.into()))
    }

    /// A TXT record of one string (sent as 255-byte pieces if longer).
    pub fn txt(&mut self, name: &str, text: &str) -> &mut Zone {
        self.add(name, Data::Txt(vec![text.as_bytes().to_vec()]))
    }

    /// A TXT record of these character-strings.
    pub fn txt_strings(&mut self, name: &str, strings: &[&[u8]]) -> &mut Zone {
        self.add(
            name,
            Data::Txt(strings.iter().map(|s| s.to_vec()).collect()),
        )
    }

    pub fn ptr(&mut self, name: &str, target: &str) -> &mut Zone {
        self.add(name, Data::Ptr(target.into()))
    }

    /// A PTR record at the reverse name of `ip` (in-addr.arpa, ip6.arpa).
    pub fn ptr_for(&mut self, ip: IpAddr, target: &str) -> &mut Zone {
        self.ptr(&tinymx::spf::zone::reverse_name(ip), target)
    }

    pub fn cname(&mut self, name: &str, target: &str) -> &mut Zone {
        self.add(name, Data::Cname(target.into()))
    }

    /// From here on `name` does not answer questions of a type it has no
    /// record of yet: on a name without records, it never answers.
    pub fn timeout(&mut self, name: &str) -> &mut Zone {
        self.push(name, Entry::Timeout(None))
    }

    /// `name` does not answer questions of type `rtype`.
    pub fn timeout_type(&mut self, name: &str, rtype: RecordType) -> &mut Zone {
        self.push(name, Entry::Timeout(Some(rtype.code())))
    }

    /// `name` answers every question with SERVFAIL.
    pub fn servfail(&mut self, name: &str) -> &mut Zone {
        self.push(name, Entry::ServFail)
    }
}

/// What one name holds for one type.
enum Found<'z> {
    Records(Vec<&'z Data>),
    Cname(&'z str),
    Nothing,
    Silence,
    ServFail,
}

fn find(entries: &[Entry], qtype: u16) -> Found<'_> {
    let mut records = Vec::new();
    let mut cname = None;
    for e in entries {
        match e {
            Entry::Timeout(None) if records.is_empty() => return Found::Silence,
            Entry::Timeout(None) => break,
            Entry::Timeout(Some(t)) if *t == qtype => return Found::Silence,
            Entry::Timeout(Some(_)) => {}
            Entry::ServFail => return Found::ServFail,
            Entry::Record(d) if d.rtype() == qtype => records.push(d),
            Entry::Record(Data::Cname(t)) => {
                cname.get_or_insert(t.as_str());
            }
            Entry::Record(_) => {}
        }
    }
    match (records.is_empty(), cname) {
        (false, _) => Found::Records(records),
        (true, Some(t)) => Found::Cname(t),
        (true, None) => Found::Nothing,
    }
}

/// CNAMEs followed within one answer before giving up (a loop stops
/// sooner: a name already in the chain is not followed again).
const MAX_CHAIN: usize = 16;

/// The zone's answer to `q` (see the module doc).
fn answer(zone: &Zone, q: &Query, tcp: bool) -> Reply {
    let mut an = Vec::new();
    let mut owner: Option<Vec<u8>> = None; // None: the question name
    let mut seen = vec![key(&q.name)];
    let rcode = loop {
        let cur = seen.last().unwrap();
        let Some(entries) = zone.names.get(cur) else {
            break 3;
        };
        match find(entries, q.qtype) {
            Found::Silence => return Reply::Silence,
            Found::ServFail => {
                an.clear();
                break 2;
            }
            Found::Nothing => break 0,
            Found::Records(ds) => {
                for d in ds {
                    an.push(Rr {
                        owner: owner.clone(),
                        ..rr(d.rtype(), 0, &d.rdata())
                    });
                }
                break 0;
            }
            Found::Cname(target) => {
                let data = Data::Cname(target.into());
                an.push(Rr {
                    owner: owner.clone(),
                    ..rr(5, 0, &data.rdata())
                });
                if seen.contains(&key(target)) || seen.len() > MAX_CHAIN {
                    break 0;
                }
                seen.push(key(target));
                owner = Some(wire_name(target));
            }
        }
    };
    // NXDOMAIN, or no data: the SOA of the root, the zone served here.
    let negative = rcode == 3 || (rcode == 0 && an.last().is_none_or(|r| r.rtype == 5));
    let ns = if negative { vec![soa_record()] } else { vec![] };
    let ar: Vec<Rr> = q.edns.iter().map(|_| opt_record()).collect();
    let m = message(q, 0, rcode, &an, &ns, &ar);
    let limit = q.edns.map_or(512, |n| n.max(512)) as usize;
    if !tcp && m.len() > limit {
        return Reply::Packets(vec![(false, message(q, 0x0200, rcode, &[], &[], &ar))]);
    }
    Reply::Packets(vec![(false, m)])
}

/// The root's SOA, TTL and MINIMUM 0: negative answers are not cached.
fn soa_record() -> Rr {
    let mut d = wire_name("ns.test");
    d.extend_from_slice(&wire_name("hostmaster.test"));
    for v in [1u32, 3600, 600, 86400, 0] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    Rr {
        owner: Some(wire_name("")),
        ..rr(6, 0, &d)
    }
}

/// The OPT record of an EDNS0 answer: the payload size tinymx's
/// resolver advertises, version 0, no options.
fn opt_record() -> Rr {
    Rr {
        owner: Some(wire_name("")),
        class: 1232,
        ..rr(41, 0, &[])
    }
}
