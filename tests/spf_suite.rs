//! The RFC 7208 test suite (the openspf.org suite, release 2014.04, by
//! Stuart D Gathman, Julian Mehnle, Scott Kitterman and others; BSD-style
//! licence, see rfc7208-tests.LICENSE next to it) against tinymx's SPF
//! evaluator. tests/spf/suite.py fetches it once from the pyspf sdist into
//! target/spf-suite/ (never committed) and prints its zones and tests; each
//! scenario's zone is served by an in-memory `Lookup` that answers as
//! pyspf's own test driver does (TIMEOUT → TempFail, names under `error.`
//! that are not in the zone → TempFail, a label over 63 octets → TempFail,
//! one level of CNAME). A test may allow several results; any one passes.
//!
//! Known exceptions: none.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use tinymx::spf::{self, Answer, Lookup, Query, zone};

/// A line straight to stderr: libtest captures `println!` and `eprintln!`
/// but not the stream itself, so `cargo test` shows the counts.
macro_rules! say {
    ($($t:tt)*) => {
        let _ = writeln!(std::io::stderr(), $($t)*);
    };
}

/// One zone entry: the record type and its fields (none for TIMEOUT).
struct Entry {
    rtype: String,
    fields: Vec<String>,
}

#[derive(Default)]
struct Zone(HashMap<String, Vec<Entry>>);

impl Zone {
    /// The fields of `name`'s records of `rtype`, as pyspf's testspf.py
    /// DNSLookup gives them.
    fn query(&self, name: &str, rtype: &str, level: u8) -> Answer<Vec<Vec<String>>> {
        let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
        if labels.iter().any(|l| l.len() > 63) {
            return Answer::TempFail;
        }
        let name = labels.join(".").to_ascii_lowercase();
        let Some(entries) = self.0.get(&name) else {
            return if name.starts_with("error.") {
                Answer::TempFail
            } else {
                Answer::NxDomain
            };
        };
        let mut timeout = true;
        let mut out = Vec::new();
        for e in entries {
            if e.rtype == "TIMEOUT" {
                if timeout {
                    return Answer::TempFail;
                }
                break;
            }
            if e.rtype == rtype {
                timeout = false;
            }
            if e.fields.len() == 1 && e.fields[0] == "TIMEOUT" {
                if e.rtype == rtype {
                    return Answer::TempFail;
                }
                continue;
            }
            if e.rtype == rtype {
                out.push(e.fields.clone());
            } else if e.rtype == "CNAME"
                && level == 0
                && let Answer::Records(r) = self.query(&e.fields[0], rtype, 1)
            {
                out.extend(r);
            }
        }
        if out.is_empty() {
            Answer::NoData
        } else {
            Answer::Records(out)
        }
    }
}

fn parsed<T: std::str::FromStr>(a: Answer<Vec<Vec<String>>>) -> Answer<Vec<T>> {
    a.map(|r| r.iter().filter_map(|f| f[0].parse().ok()).collect())
}

impl Lookup for Zone {
    fn txt(&mut self, name: &str) -> Answer<Vec<Vec<u8>>> {
        self.query(name, "TXT", 0)
            .map(|r| r.iter().map(|f| f.concat().into_bytes()).collect())
    }
    fn a(&mut self, name: &str) -> Answer<Vec<Ipv4Addr>> {
        parsed(self.query(name, "A", 0))
    }
    fn aaaa(&mut self, name: &str) -> Answer<Vec<Ipv6Addr>> {
        parsed(self.query(name, "AAAA", 0))
    }
    fn mx(&mut self, name: &str) -> Answer<Vec<(u16, String)>> {
        self.query(name, "MX", 0).map(|r| {
            r.iter()
                .map(|f| (f[0].parse().unwrap_or(0), f[1].clone()))
                .collect()
        })
    }
    fn ptr(&mut self, ip: IpAddr) -> Answer<Vec<String>> {
        let name = zone::reverse_name(ip);
        self.query(&name, "PTR", 0)
            .map(|r| r.into_iter().map(|mut f| f.remove(0)).collect())
    }
}

fn unhex(s: &str) -> String {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// Runs one test; returns a description of the mismatch, if any.
fn run_test(zone: &mut Zone, f: &[String]) -> Option<String> {
    let (id, host, mailfrom, helo, results, exp) = (&f[0], &f[1], &f[2], &f[3], &f[4], &f[5]);
    let ip: IpAddr = host.parse().unwrap();
    let q = Query {
        ip,
        sender: mailfrom,
        helo,
        receiver: "",
        now_unix: 0,
        deadline: None,
    };
    let out = spf::check(&q, zone);
    let got = out.result.as_str();
    if !results.split(',').any(|r| r == got) {
        return Some(format!("{id}: {got}, expected {results}"));
    }
    // pyspf's driver sets the default explanation "DEFAULT".
    let explanation = out.explanation.unwrap_or_else(|| "DEFAULT".into());
    (exp != "-" && *exp != explanation)
        .then(|| format!("{id}: explanation {explanation:?}, expected {exp:?}"))
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
            "S" => scenarios.push((f[0].clone(), Zone::default(), Vec::new())),
            "Z" => {
                let s = scenarios.last_mut().unwrap();
                let entry = Entry {
                    rtype: f[1].clone(),
                    fields: f[2..].to_vec(),
                };
                s.1.0.entry(f[0].clone()).or_default().push(entry);
            }
            "T" => scenarios.last_mut().unwrap().2.push(f),
            _ => panic!("bad line {l}"),
        }
    }
    let (mut passed, mut failed) = (0, 0);
    for (desc, mut zone, tests) in scenarios {
        let failures: Vec<String> = tests
            .iter()
            .filter_map(|t| run_test(&mut zone, t))
            .collect();
        say!(
            "{desc}: {} passed, {} failed",
            tests.len() - failures.len(),
            failures.len()
        );
        for f in &failures {
            say!("  FAILED {f}");
        }
        passed += tests.len() - failures.len();
        failed += failures.len();
    }
    say!("rfc7208: {passed} passed, {failed} failed");
    assert_eq!(failed, 0);
}
