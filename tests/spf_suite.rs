//! The RFC 7208 test suite (the openspf.org suite, release 2014.04, by
//! Stuart D Gathman, Julian Mehnle, Scott Kitterman and others; BSD-style
//! licence, see rfc7208-tests.LICENSE next to it) against tinymx's SPF
//! evaluator over the real resolver. tests/spf/suite.py fetches it once
//! from the pyspf sdist into target/spf-suite/ (never committed) and
//! prints its zones and tests; each scenario's zone is served by the
//! tests' DNS server (tests/common/dns_server.rs) on 127.0.0.1, and each
//! test is `spf::check` with `auth::DnsLookup` (the production adapter)
//! over a `dns::Resolver` that asks only that server, over UDP, and over
//! TCP when an answer is truncated (none of the suite's answers is over
//! the 1232 bytes the resolver advertises, so all 413 queries go over
//! UDP; tests/dns.rs tests the TCP path of the same server). A test may
//! allow several results; any one passes.
//!
//! The zone data as pyspf's driver (testspf.py) reads it, on the wire:
//! - TXT, A, AAAA, MX, PTR and CNAME records as given; a `TIMEOUT` entry
//!   makes the name not answer at all (no datagram: the resolver's 1 s
//!   time-out, then `temperror`) questions of every type it has no record
//!   of before that entry, as the driver raises its time-out then; a
//!   record whose value is `TIMEOUT` makes that type not answer; the SPF
//!   type (99) is not served: tinymx never asks for it, and suite.py
//!   gives each SPF record as a TXT record too unless the name has TXT
//!   records of its own, as the driver does;
//! - a CNAME: the whole chain within the zone in one answer, as a
//!   recursive server gives it (the driver follows one level; the suite
//!   has no longer chain but the `ptr-cname-loop` self-loop, which the
//!   resolver refuses, a temporary failure, as the driver's error);
//! - `[]` (an SPF/TXT record of no strings, "illegal" says the suite):
//!   one empty string, the closest the wire format has.
//!
//! The driver's two other error rules have no DNS equivalent to serve,
//! and the test checks that neither matters here:
//! - a name under `error.` that is not in the zone is a time-out: the
//!   suite asks no such name (asserted from the server's query log);
//! - a label over 63 octets is a time-out: no query can carry one, so
//!   `DnsLookup` answers NXDOMAIN without asking (RFC 7208 section 4.3,
//!   the `invalid-domain-long` cases allow `fail`); the tests concerned
//!   pass either way (checked once with `DnsLookup` answering TempFail
//!   there instead: 203 of 203 still).
//!
//! Time-outs: every scenario has its own server, every test its own
//! resolver (nothing cached from another test; every TTL is 0 as well),
//! and all of them run at once, each test in a thread, so the suite's six
//! time-outs (1 s each, the resolver's shortest) overlap: about 1 s in
//! all, where one after the other they took 6 s.
//!
//! Known exceptions: none.

mod common;

use common::dns_server::{Data, Server, Zone};
use std::io::Write;
use std::net::IpAddr;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tinymx::auth::{DnsLookup, SPF_BUDGET};
use tinymx::dns::{RecordType, Resolver, ResolverConfig};
use tinymx::spf::{self, Query};

/// A line straight to stderr: libtest captures `println!` and `eprintln!`
/// but not the stream itself, so `cargo test` shows the counts.
macro_rules! say {
    ($($t:tt)*) => {
        let _ = writeln!(std::io::stderr(), $($t)*);
    };
}

fn unhex(s: &str) -> String {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}

fn record_type(t: &str) -> RecordType {
    match t {
        "A" => RecordType::A,
        "AAAA" => RecordType::Aaaa,
        "MX" => RecordType::Mx,
        "TXT" => RecordType::Txt,
        "PTR" => RecordType::Ptr,
        _ => panic!("TIMEOUT value for type {t}"),
    }
}

/// Adds one zone entry of suite.py's output (name, type, fields).
fn add(zone: &mut Zone, name: &str, rtype: &str, f: &[String]) {
    if rtype == "TIMEOUT" {
        zone.timeout(name);
        return;
    }
    if rtype == "SPF" {
        return;
    }
    if f.len() == 1 && f[0] == "TIMEOUT" {
        zone.timeout_type(name, record_type(rtype));
        return;
    }
    fn parse<T: std::str::FromStr>(s: &str) -> T {
        s.parse()
            .unwrap_or_else(|_| panic!("zone entry value {s:?}"))
    }
    let data = match rtype {
        "A" => Data::A(parse(&f[0])),
        "AAAA" => Data::Aaaa(parse(&f[0])),
        "MX" => Data::Mx(parse(&f[0]), f[1].clone()),
        "TXT" => Data::Txt(f.iter().map(|s| s.as_bytes().to_vec()).collect()),
        "PTR" => Data::Ptr(f[0].clone()),
        "CNAME" => Data::Cname(f[0].clone()),
        _ => panic!("zone entry {name} {rtype} {f:?}"),
    };
    zone.add(name, data);
}

/// Runs one test against the server at `dns`; returns a description of
/// the mismatch, if any.
fn run_test(dns: std::net::SocketAddr, f: &[String]) -> Option<String> {
    let (id, host, mailfrom, helo, results, exp) = (&f[0], &f[1], &f[2], &f[3], &f[4], &f[5]);
    let ip: IpAddr = host.parse().unwrap();
    let resolver = Resolver::new(ResolverConfig {
        servers: vec![dns],
        timeout_secs: Some(1),
        attempts: Some(1),
        ..ResolverConfig::default()
    });
    let deadline = Some(Instant::now() + SPF_BUDGET);
    let q = Query {
        ip,
        sender: mailfrom,
        helo,
        receiver: "",
        now_unix: 0,
        deadline,
    };
    let out = spf::check(&q, &mut DnsLookup::new(&resolver, deadline));
    let got = out.result.as_str();
    if !results.split(',').any(|r| r == got) {
        return Some(format!("{id}: {got}, expected {results}"));
    }
    // pyspf's driver sets the default explanation "DEFAULT".
    let explanation = out.explanation.unwrap_or_else(|| "DEFAULT".into());
    (exp != "-" && *exp != explanation)
        .then(|| format!("{id}: explanation {explanation:?}, expected {exp:?}"))
}

/// One scenario's outcome.
struct Run {
    desc: String,
    passed: usize,
    failures: Vec<String>,
    udp: usize,
    tcp: usize,
    /// Names asked under `error.` (see the module doc).
    under_error: Vec<(String, u16)>,
}

/// Serves `zone` and runs the scenario's tests against it, in parallel.
fn run_scenario(desc: String, zone: Zone, tests: &[Vec<String>]) -> Run {
    let dns = Server::zone(zone);
    let failures: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = tests
            .iter()
            .map(|t| s.spawn(|| run_test(dns.addr, t)))
            .collect();
        runs.into_iter().filter_map(|r| r.join().unwrap()).collect()
    });
    let under_error = dns
        .asked()
        .into_iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("error."))
        .collect();
    Run {
        desc,
        passed: tests.len() - failures.len(),
        failures,
        udp: dns.udp_queries.load(Ordering::SeqCst),
        tcp: dns.tcp_queries.load(Ordering::SeqCst),
        under_error,
    }
}

#[test]
fn rfc7208_suite() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .arg("tests/spf/suite.py")
        .current_dir(dir)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "tests/spf/suite.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut scenarios: Vec<(String, Zone, Vec<Vec<String>>)> = Vec::new();
    for l in String::from_utf8(out.stdout).unwrap().lines() {
        let mut it = l.split('\t');
        let kind = it.next().unwrap();
        let f: Vec<String> = it.map(unhex).collect();
        match kind {
            "S" => scenarios.push((f[0].clone(), Zone::new(), Vec::new())),
            "Z" => add(&mut scenarios.last_mut().unwrap().1, &f[0], &f[1], &f[2..]),
            "T" => scenarios.last_mut().unwrap().2.push(f),
            _ => panic!("bad line {l}"),
        }
    }
    // Every scenario at once, each with its own server, and each test in
    // a thread of its own: the suite's time-outs overlap.
    let started = Instant::now();
    let runs: Vec<Run> = std::thread::scope(|s| {
        let runs: Vec<_> = scenarios
            .into_iter()
            .map(|(desc, zone, tests)| s.spawn(move || run_scenario(desc, zone, &tests)))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let took = started.elapsed();
    let (mut passed, mut failed, mut udp, mut tcp) = (0, 0, 0, 0);
    for r in &runs {
        say!(
            "{}: {} passed, {} failed",
            r.desc,
            r.passed,
            r.failures.len()
        );
        for f in &r.failures {
            say!("  FAILED {f}");
        }
        passed += r.passed;
        failed += r.failures.len();
        udp += r.udp;
        tcp += r.tcp;
    }
    say!(
        "rfc7208: {passed} passed, {failed} failed ({udp} queries over UDP, {tcp} over TCP, {:.1} s)",
        took.as_secs_f64()
    );
    for r in &runs {
        assert!(
            r.under_error.is_empty(),
            "{}: asked {:?}, which pyspf's driver fails without asking",
            r.desc,
            r.under_error
        );
    }
    assert_eq!(failed, 0);
}
