//! Fuzzes the SPF record parser and evaluator (RFC 7208). The first byte
//! picks the client (IPv4, IPv6, IPv4-mapped); the first line is the SPF
//! record of `example.com`; each further line is a zone entry
//! `NAME TYPE VALUE` with TYPE one of T (TXT), A, 6 (AAAA), M (MX), P (PTR
//! of the client; NAME ignored), X (NAME times out). Oracles: no panic;
//! at most the lookups section 4.6.4 allows (10 terms, 10 MX names, 10 PTR
//! names); an explanation only with `fail`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;
use tinymx::spf::macros::{self, Mode};
use tinymx::spf::zone::{Rr, Zone, reverse_name};
use tinymx::spf::{self, Query, SpfResult, record};

/// 1 TXT for the first record, 10 terms of at most 11 lookups (an `mx`),
/// the PTR names once (11), the explanation's TXT.
const MAX_QUERIES: usize = 1 + 10 * 11 + 11 + 1;

fn entry(zone: &mut Zone, client: IpAddr, line: &[u8]) {
    let mut f = line.splitn(3, |&b| b == b' ');
    let (Some(name), Some(kind), value) = (f.next(), f.next(), f.next().unwrap_or(b"")) else { return };
    let name = String::from_utf8_lossy(name);
    let text = String::from_utf8_lossy(value).into_owned();
    let rr = match kind {
        b"T" => Rr::Txt(value.to_vec()),
        b"A" => match text.parse() {
            Ok(a) => Rr::A(a),
            Err(_) => return,
        },
        b"6" => match text.parse() {
            Ok(a) => Rr::Aaaa(a),
            Err(_) => return,
        },
        b"M" => Rr::Mx(10, text),
        b"P" => {
            zone.add(&reverse_name(client), Rr::Ptr(text));
            return;
        }
        b"X" => {
            zone.timeouts.insert(name.to_ascii_lowercase());
            return;
        }
        _ => return,
    };
    zone.add(&name, rr);
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let client: IpAddr = match pick % 3 {
        0 => "192.0.2.1".parse().unwrap(),
        1 => "2001:db8::1".parse().unwrap(),
        _ => "::ffff:192.0.2.1".parse().unwrap(),
    };
    let mut lines = rest.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or(b"");
    let _ = record::parse(first);
    if let Ok(s) = std::str::from_utf8(first) {
        for mode in [Mode::Domain, Mode::Explain] {
            if let Ok(ms) = macros::parse(s, mode) {
                let _ = macros::expand(&ms, &mut |l| format!("a.b-c.{}", l as char));
            }
        }
    }
    let mut zone = Zone::default();
    zone.add("example.com", Rr::Txt(first.to_vec()));
    for line in lines {
        entry(&mut zone, client, line);
    }
    let q = Query {
        ip: client,
        sender: "user@example.com",
        helo: "mx.example.org",
        receiver: "mx.example.net",
        now_unix: 1_700_000_000,
        deadline: None,
    };
    let out = spf::check(&q, &mut zone);
    assert!(zone.queries <= MAX_QUERIES, "{} queries", zone.queries);
    assert!(out.explanation.is_none() || out.result == SpfResult::Fail);
});
