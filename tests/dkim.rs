//! DKIM against a real signer: dkimpy (PyPI, in tests/.venv, installed by
//! `make test-deps`) signs messages with fresh RSA-1024/2048/4096 and
//! Ed25519 keys, all four canonicalizations, with and without `l=`, with
//! folded and oversigned headers, and tampers with some; each goes through
//! a real SMTP session into tinymx, which fetches the keys from the tests'
//! DNS server on 127.0.0.1. tinymx's `dkim=` result must be dkimpy's own
//! verdict on every message, except where tinymx is stricter on purpose
//! (README, "Sender authentication"): content appended beyond `l=` and an
//! unsigned extra Subject are `policy`, which dkimpy passes.

mod common;

use common::dns_server::{self, Zone};
use common::*;
use std::path::Path;
use std::process::Command;

/// The `dkim=` results in our Authentication-Results field (the first
/// field of the stored copy), unfolded.
fn dkim_results(stored: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(stored);
    let first = text
        .split("\n")
        .scan(false, |seen, line| {
            // The first field and its continuation lines.
            if line.starts_with("Authentication-Results:") {
                *seen = true;
                Some(Some(line.to_string()))
            } else if *seen && (line.starts_with(' ') || line.starts_with('\t')) {
                Some(Some(line.to_string()))
            } else {
                None
            }
        })
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    first
        .split(';')
        .filter_map(|r| r.trim().strip_prefix("dkim="))
        .map(|r| r.split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn every_dkimpy_message_gets_dkimpys_verdict() {
    let dir = TempDir::new("dkim");
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/.venv/bin/python");
    assert!(
        venv.exists(),
        "{} missing: run make test-deps",
        venv.display()
    );
    let out = Command::new(&venv)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dkim/peer.py"))
        .arg("make")
        .arg(dir.path())
        .output()
        .expect("run dkimpy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut zone = Zone::new();
    let zone_text = std::fs::read_to_string(dir.path().join("zone.txt")).unwrap();
    for line in zone_text.lines() {
        let (name, rec) = line.split_once('\t').unwrap();
        zone.txt(name, rec);
    }
    let dns = dns_server::Server::zone(zone);
    let at = dns.addr.to_string();
    let s = Server::start(&[
        "--auth-skip",
        "none",
        "--dns",
        &at,
        "--dns-timeout",
        "2",
        "--max-rate",
        "1000",
    ]);

    let cases = std::fs::read_to_string(dir.path().join("cases.txt")).unwrap();
    let (mut agree, mut stricter) = (0, 0);
    let mut wrong = Vec::new();
    for line in cases.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let (n, theirs, what) = (f[0], f[1], f[2]);
        let msg = std::fs::read(dir.path().join(format!("{n}.eml"))).unwrap();
        // A mailbox per message, so each stored copy is found for sure.
        let mailbox = format!("c{n}");
        let mut c = Client::hello(s.addr());
        let r = c.send_mail(
            "alice@example.com",
            &[&format!("{mailbox}@example.org")],
            &stuffed(&msg),
        );
        assert!(r.starts_with("250 "), "{what}: {r}");
        c.cmd("QUIT");
        let msgs = s.messages(&mailbox);
        assert_eq!(msgs.len(), 1, "{what}: stored");
        let ours = dkim_results(&msgs[0]);
        let expected_policy =
            what.contains("l= and content appended") || what.contains("unsigned Subject added");
        let ok = if expected_policy {
            theirs == "pass" && ours == ["policy"]
        } else if theirs == "pass" {
            ours == ["pass"]
        } else {
            ours.len() == 1 && ours[0] != "pass"
        };
        if !ok {
            let field = String::from_utf8_lossy(&msgs[0])
                .split("\nReceived-SPF")
                .next()
                .unwrap_or("")
                .to_string();
            wrong.push(format!(
                "{n} {what}: dkimpy {theirs}, tinymx {ours:?}\n  {field}"
            ));
        } else if expected_policy {
            stricter += 1;
        } else {
            agree += 1;
        }
    }
    println!(
        "dkim vs dkimpy: {agree} agree, {stricter} stricter on purpose (policy), {} differ",
        wrong.len()
    );
    assert!(wrong.is_empty(), "differences:\n{}", wrong.join("\n"));
    assert!(agree + stricter >= 90, "too few cases ran");
}
