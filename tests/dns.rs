//! The resolver against a DNS server written here, on 127.0.0.1 port 0
//! (UDP and TCP): normal answers, TC → TCP, spoofed answers, time-outs,
//! SERVFAIL, NXDOMAIN cached negatively, CNAME chains and loops,
//! resolv.conf re-read. Nothing leaves the loopback interface.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tinymx::dns::{Answer, Failure, Rdata, RecordType, Resolver, ResolverConfig};

/// One parsed query: its ID and the question bytes (name, type, class).
#[derive(Clone)]
struct Query {
    id: u16,
    question: Vec<u8>,
    name: String,
}

/// What the server sends back for a query on one transport.
enum Reply {
    /// Datagrams to send in order, each from the server socket, or from
    /// another socket (a different source port) when the flag is set.
    Packets(Vec<(bool, Vec<u8>)>),
    Silence,
}

type Handler = dyn Fn(&Query, bool) -> Reply + Send + Sync;

struct Server {
    addr: SocketAddr,
    udp_queries: Arc<AtomicUsize>,
    tcp_queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

fn parse_query(b: &[u8]) -> Option<Query> {
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
    fn start(handler: impl Fn(&Query, bool) -> Reply + Send + Sync + 'static) -> Server {
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

    fn resolver(&self) -> Resolver {
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
fn response(q: &Query, extra_flags: u16, rcode: u8, an: &[Rr], ns: &[Rr]) -> Vec<u8> {
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

struct Rr {
    owner: Option<Vec<u8>>,
    rtype: u16,
    ttl: u32,
    rdata: Vec<u8>,
}

fn rr(rtype: u16, ttl: u32, rdata: &[u8]) -> Rr {
    Rr {
        owner: None,
        rtype,
        ttl,
        rdata: rdata.to_vec(),
    }
}

fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in name.split('.') {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
    out
}

fn soa(ttl: u32, minimum: u32) -> Rr {
    let mut d = b"\x02ns\xc0\x0c\x02hm\xc0\x0c".to_vec();
    for v in [1u32, 2, 3, 4, minimum] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    rr(6, ttl, &d)
}

fn a_records(a: &Answer) -> Vec<Ipv4Addr> {
    let Answer::Records(rs) = a else {
        panic!("{a:?}")
    };
    rs.iter()
        .map(|r| {
            if let Rdata::A(ip) = r.data {
                ip
            } else {
                panic!("{r:?}")
            }
        })
        .collect()
}

#[test]
fn normal_answer_over_udp() {
    let srv = Server::start(|q, _| {
        Reply::Packets(vec![(
            false,
            response(q, 0, 0, &[rr(1, 300, &[192, 0, 2, 7])], &[]),
        )])
    });
    let res = srv.resolver();
    let a = res.lookup("mail.example.org", RecordType::A).unwrap();
    assert_eq!(a_records(&a), vec![Ipv4Addr::new(192, 0, 2, 7)]);
    let Answer::Records(rs) = &a else {
        unreachable!()
    };
    assert_eq!(
        (rs[0].name.0.as_str(), rs[0].ttl),
        ("mail.example.org", 300)
    );
    // Cached: the second lookup asks nobody.
    res.lookup("MAIL.example.org", RecordType::A).unwrap();
    assert_eq!(srv.udp_queries.load(Ordering::SeqCst), 1);
    assert_eq!(res.dropped_answers(), 0);
}

#[test]
fn truncated_answer_is_retried_over_tcp() {
    let long = vec![b'x'; 200];
    let srv = Server::start(move |q, tcp| {
        if !tcp {
            return Reply::Packets(vec![(false, response(q, 0x0200, 0, &[], &[]))]);
        }
        let mut txt = vec![200u8];
        txt.extend_from_slice(&long);
        let an: Vec<Rr> = (0..10).map(|_| rr(16, 60, &txt)).collect();
        Reply::Packets(vec![(false, response(q, 0, 0, &an, &[]))])
    });
    let a = srv
        .resolver()
        .lookup("example.org", RecordType::Txt)
        .unwrap();
    let Answer::Records(rs) = a else { panic!() };
    assert_eq!(rs.len(), 10);
    assert_eq!(rs[0].data, Rdata::Txt(vec![vec![b'x'; 200]]));
    assert_eq!(srv.udp_queries.load(Ordering::SeqCst), 1);
    assert_eq!(srv.tcp_queries.load(Ordering::SeqCst), 1);
}

#[test]
fn spoofed_answers_are_dropped_and_the_real_one_is_taken() {
    let srv = Server::start(|q, _| {
        let fake = [rr(1, 300, &[6, 6, 6, 6])];
        let wrong_id = Query {
            id: q.id ^ 0x5A5A,
            ..q.clone()
        };
        let mut other_question = q.clone();
        let last = other_question.question.len() - 3;
        other_question.question[last] ^= 0x01; // another QTYPE
        Reply::Packets(vec![
            (false, response(&wrong_id, 0, 0, &fake, &[])),
            (false, response(&other_question, 0, 0, &fake, &[])),
            (true, response(q, 0, 0, &fake, &[])), // right ID, wrong port
            (false, b"\x00garbage".to_vec()),
            (
                false,
                response(q, 0, 0, &[rr(1, 300, &[192, 0, 2, 1])], &[]),
            ),
        ])
    });
    let res = srv.resolver();
    let a = res.lookup("example.org", RecordType::A).unwrap();
    assert_eq!(a_records(&a), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    assert_eq!(res.dropped_answers(), 4);
}

#[test]
fn no_answer_is_a_timeout_after_the_configured_time() {
    let srv = Server::start(|_, _| Reply::Silence);
    let res = Resolver::new(ResolverConfig {
        servers: vec![srv.addr, srv.addr],
        timeout_secs: Some(1),
        attempts: Some(2),
        ..ResolverConfig::default()
    });
    let t = Instant::now();
    assert_eq!(
        res.lookup("example.org", RecordType::Txt),
        Err(Failure::Timeout)
    );
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert_eq!(
        srv.udp_queries.load(Ordering::SeqCst),
        4,
        "2 attempts x 2 servers"
    );
    // A caller's deadline cuts it short.
    let t = Instant::now();
    let soon = Some(t + Duration::from_millis(300));
    assert_eq!(
        res.lookup_at("example.net", RecordType::Txt, t, soon),
        Err(Failure::Timeout)
    );
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(Failure::Timeout.is_temporary());
}

#[test]
fn servfail_and_refused_are_failures_and_the_next_server_is_asked() {
    let bad = Server::start(|q, _| Reply::Packets(vec![(false, response(q, 0, 2, &[], &[]))]));
    assert_eq!(
        bad.resolver().lookup("example.org", RecordType::Mx),
        Err(Failure::ServerFailure)
    );
    let refusing = Server::start(|q, _| Reply::Packets(vec![(false, response(q, 0, 5, &[], &[]))]));
    assert_eq!(
        refusing.resolver().lookup("example.org", RecordType::Mx),
        Err(Failure::Refused)
    );
    let good = Server::start(|q, _| {
        Reply::Packets(vec![(
            false,
            response(q, 0, 0, &[rr(15, 60, b"\x00\x05\x02mx\xc0\x0c")], &[]),
        )])
    });
    let res = Resolver::new(ResolverConfig {
        servers: vec![bad.addr, good.addr],
        timeout_secs: Some(1),
        attempts: Some(1),
        ..ResolverConfig::default()
    });
    let Ok(Answer::Records(rs)) = res.lookup("example.org", RecordType::Mx) else {
        panic!()
    };
    assert_eq!(
        rs[0].data,
        Rdata::Mx(5, tinymx::dns::Name("mx.example.org".into()))
    );
    // Each resolver asked the failing server once: failures are not
    // believed as answers.
    assert_eq!(bad.udp_queries.load(Ordering::SeqCst), 2);
}

#[test]
fn nxdomain_is_cached_for_the_soa_minimum() {
    let srv = Server::start(|q, _| {
        Reply::Packets(vec![(false, response(q, 0, 3, &[], &[soa(3600, 60)]))])
    });
    let res = srv.resolver();
    let t0 = Instant::now();
    for s in [0, 30, 59] {
        let now = t0 + Duration::from_secs(s);
        assert_eq!(
            res.lookup_at("nope.example.org", RecordType::Txt, now, None),
            Ok(Answer::NxDomain)
        );
    }
    assert_eq!(srv.udp_queries.load(Ordering::SeqCst), 1);
    // After min(SOA TTL 3600, MINIMUM 60) the server is asked again.
    let later = t0 + Duration::from_secs(61);
    assert_eq!(
        res.lookup_at("nope.example.org", RecordType::Txt, later, None),
        Ok(Answer::NxDomain)
    );
    assert_eq!(srv.udp_queries.load(Ordering::SeqCst), 2);
}

#[test]
fn no_data_without_soa_is_not_cached() {
    let srv = Server::start(|q, _| Reply::Packets(vec![(false, response(q, 0, 0, &[], &[]))]));
    let res = srv.resolver();
    assert_eq!(
        res.lookup("example.org", RecordType::Aaaa),
        Ok(Answer::NoData)
    );
    assert_eq!(
        res.lookup("example.org", RecordType::Aaaa),
        Ok(Answer::NoData)
    );
    assert_eq!(srv.udp_queries.load(Ordering::SeqCst), 2);
}

#[test]
fn cname_chain_is_followed_in_one_answer_and_across_queries() {
    let srv = Server::start(|q, _| {
        let an = match q.name.as_str() {
            // alias → b.example.org (in the same answer) → c.example.org
            // (not in it: asked for separately).
            "alias.example.org" => vec![
                rr(5, 100, &wire_name("b.example.org")),
                Rr {
                    owner: Some(wire_name("b.example.org")),
                    ..rr(5, 50, &wire_name("c.example.org"))
                },
            ],
            "c.example.org" => vec![rr(1, 300, &[192, 0, 2, 3])],
            _ => vec![],
        };
        Reply::Packets(vec![(false, response(q, 0, 0, &an, &[]))])
    });
    let a = srv
        .resolver()
        .lookup("alias.example.org", RecordType::A)
        .unwrap();
    assert_eq!(a_records(&a), vec![Ipv4Addr::new(192, 0, 2, 3)]);
    let Answer::Records(rs) = a else {
        unreachable!()
    };
    assert_eq!(
        (rs[0].name.0.as_str(), rs[0].ttl),
        ("c.example.org", 50),
        "the chain's shortest TTL"
    );
    assert_eq!(srv.udp_queries.load(Ordering::SeqCst), 2);
}

#[test]
fn cname_loops_and_long_chains_fail() {
    let srv = Server::start(|q, _| {
        let an = match q.name.as_str() {
            "loop.example.org" => vec![
                rr(5, 100, &wire_name("b.example.org")),
                Rr {
                    owner: Some(wire_name("b.example.org")),
                    ..rr(5, 100, &wire_name("loop.example.org"))
                },
            ],
            // n0 → n1 → n2 … each in its own answer.
            n => match n
                .strip_prefix('n')
                .and_then(|r| r.split('.').next()?.parse::<u32>().ok())
            {
                Some(i) => vec![rr(5, 100, &wire_name(&format!("n{}.example.org", i + 1)))],
                None => vec![],
            },
        };
        Reply::Packets(vec![(false, response(q, 0, 0, &an, &[]))])
    });
    let res = srv.resolver();
    assert_eq!(
        res.lookup("loop.example.org", RecordType::Txt),
        Err(Failure::CnameChain)
    );
    assert_eq!(srv.udp_queries.load(Ordering::SeqCst), 1);
    assert_eq!(
        res.lookup("n0.example.org", RecordType::Txt),
        Err(Failure::CnameChain)
    );
    assert_eq!(
        srv.udp_queries.load(Ordering::SeqCst),
        1 + 9,
        "8 hops, then the 9th is refused"
    );
}

#[test]
fn bad_names_are_refused_before_any_query() {
    let srv = Server::start(|_, _| Reply::Silence);
    let res = srv.resolver();
    assert_eq!(res.lookup("a..b", RecordType::A), Err(Failure::BadName));
    assert_eq!(
        res.lookup(&"x".repeat(64), RecordType::A),
        Err(Failure::BadName)
    );
    assert!(!Failure::BadName.is_temporary());
    assert_eq!(srv.udp_queries.load(Ordering::SeqCst), 0);
}

#[test]
fn resolv_conf_is_read_and_read_again_when_it_changes() {
    let dir = std::env::temp_dir().join(format!("tinymx-dns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("resolv.conf");
    std::fs::write(&path, "nameserver 127.0.0.1\noptions timeout:3\n").unwrap();
    let res = Resolver::new(ResolverConfig {
        resolv_conf: path.clone(),
        ..ResolverConfig::default()
    });
    let t0 = Instant::now();
    let s = res.servers(t0);
    assert_eq!(s.addrs, vec!["127.0.0.1:53".parse().unwrap()]);
    assert_eq!((s.timeout, s.attempts), (Duration::from_secs(3), 2));
    // dnsmasq rewrites it: a different size is noticed a second later.
    std::fs::write(
        &path,
        "# dnsmasq\nnameserver ::1\nnameserver 127.0.0.2\noptions attempts:1\n",
    )
    .unwrap();
    assert_eq!(
        res.servers(t0).addrs.len(),
        1,
        "not checked again within a second"
    );
    let s = res.servers(t0 + Duration::from_secs(2));
    assert_eq!(
        s.addrs,
        vec!["[::1]:53".parse().unwrap(), "127.0.0.2:53".parse().unwrap()]
    );
    assert_eq!((s.timeout, s.attempts), (Duration::from_secs(5), 1));
    // An explicit list (--dns) replaces the file.
    let explicit: SocketAddr = "127.0.0.9:5353".parse().unwrap();
    let res = Resolver::new(ResolverConfig {
        servers: vec![explicit],
        resolv_conf: path,
        ..ResolverConfig::default()
    });
    assert_eq!(res.servers(t0).addrs, vec![explicit]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_lookups_share_one_resolver() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let srv = Server::start(move |q, _| {
        s2.lock().unwrap().push(q.id);
        Reply::Packets(vec![(
            false,
            response(q, 0, 0, &[rr(1, 300, &[192, 0, 2, 9])], &[]),
        )])
    });
    let res = Arc::new(srv.resolver());
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let res = res.clone();
            std::thread::spawn(move || {
                res.lookup(&format!("h{i}.example.org"), RecordType::A)
                    .unwrap()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(
            a_records(&t.join().unwrap()),
            vec![Ipv4Addr::new(192, 0, 2, 9)]
        );
    }
    let ids = seen.lock().unwrap().clone();
    assert_eq!(ids.len(), 4);
}
