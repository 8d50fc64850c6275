//! A DNS server for the tests, on 127.0.0.1 port 0, UDP and TCP on the
//! same port: each query goes to a handler that says what to send back
//! (or to stay silent). Nothing leaves the loopback interface.
//!
//! `Server::start(handler)` takes a closure for tests that shape packets
//! themselves (spoofed answers, truncation, odd RCODEs).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use tinymx::dns::{Resolver, ResolverConfig};

/// One parsed query: its ID and the question bytes (name, type, class).
#[derive(Clone)]
pub struct Query {
    pub id: u16,
    pub question: Vec<u8>,
    pub name: String,
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
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
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
    Some(Query {
        id,
        question,
        name: labels.join("."),
    })
}

impl Server {
    /// Starts the server; `handler(query, over_tcp)` answers each query.
    pub fn start(handler: impl Fn(&Query, bool) -> Reply + Send + Sync + 'static) -> Server {
        let handler: Arc<Handler> = Arc::new(handler);
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap();
        let tcp = TcpListener::bind(addr).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (uq, tq) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (h, s, n) = (handler.clone(), stop.clone(), uq.clone());
        let t1 = std::thread::spawn(move || serve_udp(udp, &*h, &s, &n));
        let (h, s, n) = (handler, stop.clone(), tq.clone());
        let t2 = std::thread::spawn(move || serve_tcp(tcp, &*h, &s, &n));
        Server {
            addr,
            udp_queries: uq,
            tcp_queries: tq,
            stop,
            threads: vec![t1, t2],
        }
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

fn serve_udp(sock: UdpSocket, handler: &Handler, stop: &AtomicBool, count: &AtomicUsize) {
    let mut buf = [0u8; 512];
    while let Ok((n, from)) = sock.recv_from(&mut buf) {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(q) = parse_query(&buf[..n]) else {
            continue;
        };
        count.fetch_add(1, Ordering::SeqCst);
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

fn serve_tcp(listener: TcpListener, handler: &Handler, stop: &AtomicBool, count: &AtomicUsize) {
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
        count.fetch_add(1, Ordering::SeqCst);
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
    let flags = 0x8180 | extra_flags | rcode as u16;
    let mut m = q.id.to_be_bytes().to_vec();
    m.extend_from_slice(&flags.to_be_bytes());
    for c in [1, an.len(), ns.len(), 0] {
        m.extend_from_slice(&(c as u16).to_be_bytes());
    }
    m.extend_from_slice(&q.question);
    for rr in an.iter().chain(ns) {
        match &rr.owner {
            Some(o) => m.extend_from_slice(o),
            None => m.extend_from_slice(&[0xC0, 12]),
        }
        m.extend_from_slice(&rr.rtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(&rr.ttl.to_be_bytes());
        m.extend_from_slice(&(rr.rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&rr.rdata);
    }
    m
}

pub struct Rr {
    pub owner: Option<Vec<u8>>,
    pub rtype: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

pub fn rr(rtype: u16, ttl: u32, rdata: &[u8]) -> Rr {
    Rr {
        owner: None,
        rtype,
        ttl,
        rdata: rdata.to_vec(),
    }
}

pub fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in name.split('.') {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
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
