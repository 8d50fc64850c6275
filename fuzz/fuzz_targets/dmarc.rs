//! Fuzzes the DMARC Author Domain extraction, the policy record parser and
//! the evaluator (RFC 9989). The input is `FROM\0ZONE`: FROM holds the raw
//! values of the From fields, separated by \x01; each line of ZONE is a
//! TXT record `NAME VALUE` (the bare `NAME` exists without TXT records;
//! `!NAME` times out). The SPF pass is for `mail.example.com`, the DKIM
//! passes are `example.com`, `x.y.example.com` and the Author Domain.
//! Oracles: no panic; a domain from `author_domain` is lower-case, at most
//! 253 bytes, without a trailing dot, and reads back the same; `parse` is
//! Some exactly for what `is_dmarc` accepts; no DNS name is asked twice
//! and at most `MAX_QUERIES` are asked; pass only with an aligned
//! identifier; a policy exactly with pass/fail; `reject` only for a fail
//! without t=y.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::{HashMap, HashSet};
use tinymx::dmarc::{self, DmarcResult, Inputs, MAX_QUERIES, Policy, record};
use tinymx::spf::{Answer, SpfResult};

fuzz_target!(|data: &[u8]| {
    let (from, zone) = match data.iter().position(|&b| b == 0) {
        Some(z) => (&data[..z], &data[z + 1..]),
        None => (data, &b""[..]),
    };
    let fields: Vec<&[u8]> = from.split(|&b| b == 1).collect();
    let author = dmarc::author_domain(&fields);
    if let Ok(d) = &author {
        assert!(!d.is_empty() && d.len() <= 253 && !d.ends_with('.'), "{d:?}");
        assert!(!d.bytes().any(|b| b.is_ascii_uppercase()), "{d:?}");
        let again = format!("x@{d}");
        assert_eq!(dmarc::author_domain(&[again.as_bytes()]).as_ref(), Ok(d));
    }
    assert_eq!(record::parse(from).is_some(), record::is_dmarc(from));

    let mut txt: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    let mut fail: HashSet<String> = HashSet::new();
    for line in zone.split(|&b| b == b'\n') {
        let (name, value) = match line.iter().position(|&b| b == b' ') {
            Some(sp) => (&line[..sp], Some(&line[sp + 1..])),
            None => (line, None),
        };
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        if let Some(n) = name.strip_prefix('!') {
            fail.insert(n.to_string());
            continue;
        }
        let e = txt.entry(name).or_default();
        if let Some(v) = value {
            assert_eq!(record::parse(v).is_some(), record::is_dmarc(v));
            e.push(v.to_vec());
        }
    }
    let from_domain = author.unwrap_or_else(|_| "a.b.example.com".to_string());
    let dkim = ["example.com", "x.y.example.com", from_domain.as_str()];
    let inp = Inputs {
        from_domain: &from_domain,
        spf: Some((SpfResult::Pass, "mail.example.com")),
        dkim_pass_domains: &dkim,
    };
    let mut asked: HashSet<String> = HashSet::new();
    let out = dmarc::evaluate(&inp, &mut |name| {
        assert!(asked.insert(name.to_string()), "{name} asked twice");
        if fail.contains(name) {
            return Answer::TempFail;
        }
        match txt.get(name) {
            Some(v) if !v.is_empty() => Answer::Records(v.clone()),
            Some(_) => Answer::NoData,
            None => Answer::NxDomain,
        }
    });
    assert!(asked.len() <= MAX_QUERIES && out.queries == asked.len(), "{} {}", out.queries, asked.len());
    if out.result == DmarcResult::Pass {
        assert!(out.spf_aligned || out.dkim_aligned.is_some());
    }
    assert_eq!(out.policy.is_some(), matches!(out.result, DmarcResult::Pass | DmarcResult::Fail));
    if out.disposition() == Policy::Reject {
        assert!(out.result == DmarcResult::Fail && !out.testing);
    }
    let _ = out.authres(&from_domain);
});
