//! The resolver against the tests' DNS server (tests/common/dns_server.rs,
//! on 127.0.0.1 port 0, UDP and TCP): normal answers, TC → TCP, spoofed answers, time-outs,
//! SERVFAIL, NXDOMAIN cached negatively, CNAME chains and loops,
//! resolv.conf re-read; and the zone-serving mode of that server, which
//! the RFC 7208 suite and the binary's tests rely on. Nothing leaves the
//! loopback interface.

mod common;

use common::dns_server::{Query, Reply, Rr, Server, Zone, response, rr, soa, wire_name};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tinymx::dns::{Answer, Failure, Rdata, RecordType, Resolver, ResolverConfig};

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
fn cname_to_a_name_with_odd_bytes_is_followed_across_queries() {
    let srv = Server::start(|q, _| {
        let an = match q.name.as_str() {
            // The target's ':' comes back escaped (odd\058name…) from the
            // wire reader; the next query must carry the ':' itself.
            "alias.example.org" => vec![rr(5, 100, &wire_name("odd:name.example.org"))],
            "odd:name.example.org" => vec![rr(1, 300, &[192, 0, 2, 4])],
            _ => vec![],
        };
        Reply::Packets(vec![(false, response(q, 0, 0, &an, &[]))])
    });
    let a = srv
        .resolver()
        .lookup("alias.example.org", RecordType::A)
        .unwrap();
    assert_eq!(a_records(&a), vec![Ipv4Addr::new(192, 0, 2, 4)]);
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

fn txt_records(a: &Answer) -> Vec<Vec<Vec<u8>>> {
    let Answer::Records(rs) = a else {
        panic!("{a:?}")
    };
    rs.iter()
        .map(|r| match &r.data {
            Rdata::Txt(parts) => parts.clone(),
            d => panic!("{d:?}"),
        })
        .collect()
}

#[test]
fn zone_server_answers_records_nxdomain_and_no_data_uncached() {
    let mut zone = Zone::new();
    zone.a("Mail.Example.org", "192.0.2.7")
        .a("mail.example.org", "192.0.2.8")
        .aaaa("mail.example.org", "2001:db8::7")
        .mx("example.org", 10, "mail.example.org.")
        .txt_strings("example.org", &[b"v=spf1 ", b"mx -all"])
        .ptr_for("192.0.2.7".parse().unwrap(), "mail.example.org");
    let dns = Server::zone(zone);
    let res = dns.resolver();
    let a = res.lookup("MAIL.example.ORG", RecordType::A).unwrap();
    assert_eq!(
        a_records(&a),
        vec![Ipv4Addr::new(192, 0, 2, 7), Ipv4Addr::new(192, 0, 2, 8)]
    );
    let Ok(Answer::Records(rs)) = res.lookup("example.org", RecordType::Mx) else {
        panic!()
    };
    assert_eq!(
        rs[0].data,
        Rdata::Mx(10, tinymx::dns::Name("mail.example.org".into()))
    );
    let t = res.lookup("example.org", RecordType::Txt).unwrap();
    assert_eq!(
        txt_records(&t),
        vec![vec![b"v=spf1 ".to_vec(), b"mx -all".to_vec()]]
    );
    let Ok(Answer::Records(rs)) = res.lookup("7.2.0.192.in-addr.arpa", RecordType::Ptr) else {
        panic!()
    };
    assert_eq!(
        rs[0].data,
        Rdata::Ptr(tinymx::dns::Name("mail.example.org".into()))
    );
    assert_eq!(
        res.lookup("nope.example.org", RecordType::A),
        Ok(Answer::NxDomain)
    );
    assert_eq!(res.lookup("example.org", RecordType::A), Ok(Answer::NoData));
    // TTL 0 everywhere: asked again, not served from the cache.
    assert_eq!(res.lookup("example.org", RecordType::A), Ok(Answer::NoData));
    assert_eq!(
        res.lookup("nope.example.org", RecordType::A),
        Ok(Answer::NxDomain)
    );
    assert_eq!(dns.queries(), 8);
    assert_eq!(dns.asked()[0], ("MAIL.example.ORG".to_string(), 1));
    // The zone can change while the server runs.
    dns.zone_mut().a("nope.example.org", "192.0.2.9");
    let a = res.lookup("nope.example.org", RecordType::A).unwrap();
    assert_eq!(a_records(&a), vec![Ipv4Addr::new(192, 0, 2, 9)]);
}

#[test]
fn zone_server_follows_cnames_in_one_answer_and_shows_loops() {
    let mut zone = Zone::new();
    zone.cname("alias.example.org", "B.example.org.")
        .cname("b.example.org", "c.example.org")
        .a("c.example.org", "192.0.2.3")
        .cname("dangling.example.org", "gone.example.org")
        .cname("loop.example.org", "LOOP.example.org.");
    let dns = Server::zone(zone);
    let res = dns.resolver();
    let a = res.lookup("alias.example.org", RecordType::A).unwrap();
    assert_eq!(a_records(&a), vec![Ipv4Addr::new(192, 0, 2, 3)]);
    assert_eq!(dns.queries(), 1, "the whole chain in one answer");
    assert_eq!(
        res.lookup("alias.example.org", RecordType::Txt),
        Ok(Answer::NoData)
    );
    assert_eq!(
        res.lookup("dangling.example.org", RecordType::A),
        Ok(Answer::NxDomain)
    );
    assert_eq!(
        res.lookup("loop.example.org", RecordType::A),
        Err(Failure::CnameChain)
    );
    assert_eq!(dns.queries(), 4);
}

#[test]
fn zone_server_splits_long_strings_and_truncates_big_udp_answers() {
    let long = "x".repeat(600);
    let mut zone = Zone::new();
    zone.txt("long.example.org", &long)
        .txt_strings("empty.example.org", &[]);
    for i in 0..6 {
        zone.txt("big.example.org", &format!("{i}{}", "y".repeat(254)));
    }
    let dns = Server::zone(zone);
    let res = dns.resolver();
    let t = res.lookup("long.example.org", RecordType::Txt).unwrap();
    let parts = &txt_records(&t)[0];
    assert_eq!(
        parts.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![255, 255, 90]
    );
    assert_eq!(parts.concat(), long.as_bytes());
    assert_eq!(dns.tcp_queries.load(Ordering::SeqCst), 0);
    // 6 x 256 bytes of TXT data: over the 1232 bytes the resolver
    // advertises, so TC over UDP and the whole answer over TCP.
    let t = res.lookup("big.example.org", RecordType::Txt).unwrap();
    assert_eq!(txt_records(&t).len(), 6);
    assert_eq!(dns.udp_queries.load(Ordering::SeqCst), 2);
    assert_eq!(dns.tcp_queries.load(Ordering::SeqCst), 1);
    let t = res.lookup("empty.example.org", RecordType::Txt).unwrap();
    assert_eq!(txt_records(&t), vec![vec![Vec::<u8>::new()]]);
    assert_eq!(res.dropped_answers(), 0, "every answer matched its query");
}

#[test]
fn zone_server_time_outs_and_server_failures() {
    let mut zone = Zone::new();
    zone.txt("part.example.org", "v=spf1 -all")
        .timeout("part.example.org")
        .a("part.example.org", "192.0.2.1") // after the mark: never seen
        .timeout("dead.example.org")
        .a("slowtxt.example.org", "192.0.2.2")
        .timeout_type("slowtxt.example.org", RecordType::Txt)
        .servfail("broken.example.org");
    let dns = Server::zone(zone);
    let res = dns.resolver();
    assert!(matches!(
        res.lookup("part.example.org", RecordType::Txt),
        Ok(Answer::Records(_))
    ));
    let t = Instant::now();
    assert_eq!(
        res.lookup("part.example.org", RecordType::A),
        Err(Failure::Timeout)
    );
    assert!(t.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        res.lookup("dead.example.org", RecordType::Mx),
        Err(Failure::Timeout)
    );
    assert!(matches!(
        res.lookup("slowtxt.example.org", RecordType::A),
        Ok(Answer::Records(_))
    ));
    assert_eq!(
        res.lookup("slowtxt.example.org", RecordType::Txt),
        Err(Failure::Timeout)
    );
    assert_eq!(
        res.lookup("broken.example.org", RecordType::A),
        Err(Failure::ServerFailure)
    );
    assert_eq!(dns.queries(), 6);
}
