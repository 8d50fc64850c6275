//! The evaluator against an in-memory zone that counts the questions and
//! fails the test if a name is asked twice.

use super::*;
use std::collections::{HashMap, HashSet};

/// TXT records by name; a name listed with no records answers NODATA, a
/// name with listed names below it is an empty non-terminal (NODATA),
/// others NXDOMAIN; names in `fail` time out.
#[derive(Default)]
struct Zone {
    txt: HashMap<String, Vec<String>>,
    fail: HashSet<String>,
    asked: Vec<String>,
}

impl Zone {
    fn new(recs: &[(&str, &str)]) -> Zone {
        let mut z = Zone::default();
        for &(n, r) in recs {
            let e = z.txt.entry(n.to_string()).or_default();
            if !r.is_empty() {
                e.push(r.to_string());
            }
        }
        z
    }

    fn answer(&mut self, name: &str) -> Answer<Vec<Vec<u8>>> {
        assert!(!self.asked.iter().any(|n| n == name), "{name} asked twice");
        self.asked.push(name.to_string());
        if self.fail.contains(name) {
            return Answer::TempFail;
        }
        match self.txt.get(name) {
            Some(v) if !v.is_empty() => {
                Answer::Records(v.iter().map(|s| s.as_bytes().to_vec()).collect())
            }
            Some(_) => Answer::NoData,
            None if self.txt.keys().any(|k| k.ends_with(&format!(".{name}"))) => Answer::NoData,
            None => Answer::NxDomain,
        }
    }
}

fn run(z: &mut Zone, from: &str, spf: Option<(SpfResult, &str)>, dkim: &[&str]) -> DmarcOutcome {
    let inp = Inputs {
        from_domain: from,
        spf,
        dkim_pass_domains: dkim,
    };
    let out = evaluate(&inp, &mut |n| z.answer(n));
    assert_eq!(out.queries, z.asked.len());
    assert!(out.queries <= MAX_QUERIES);
    out
}

fn pass(d: &str) -> Option<(SpfResult, &str)> {
    Some((SpfResult::Pass, d))
}

fn org_of(z: &mut Zone, start: &str) -> String {
    let mut f = |n: &str| z.answer(n);
    let mut ev = Eval {
        txt: &mut f,
        cache: Vec::new(),
        queries: 0,
    };
    match ev.walk(start) {
        Ok(w) => start[w.org..].to_string(),
        Err(_) => "error".to_string(),
    }
}

/// Section 4.10's example: 8 questions, the 7-label jump after the first.
#[test]
fn tree_walk_of_a_long_name_asks_eight() {
    let mut z = Zone::new(&[]);
    let out = run(&mut z, "a.b.c.d.e.f.g.h.i.j.mail.example.com", None, &[]);
    assert_eq!(out.result, DmarcResult::None);
    assert_eq!(
        z.asked,
        [
            "_dmarc.a.b.c.d.e.f.g.h.i.j.mail.example.com",
            "_dmarc.g.h.i.j.mail.example.com",
            "_dmarc.h.i.j.mail.example.com",
            "_dmarc.i.j.mail.example.com",
            "_dmarc.j.mail.example.com",
            "_dmarc.mail.example.com",
            "_dmarc.example.com",
            "_dmarc.com",
        ]
    );
    assert_eq!(
        out.authres("a.b.c.d.e.f.g.h.i.j.mail.example.com"),
        "dmarc=none header.from=a.b.c.d.e.f.g.h.i.j.mail.example.com"
    );
    // Eight labels: no jump, eight questions; one label: one.
    let mut z = Zone::new(&[]);
    run(&mut z, "a.b.c.d.e.f.example.com", None, &[]);
    assert_eq!(z.asked.len(), 8);
    let mut z = Zone::new(&[]);
    run(&mut z, "a.b.c.d.e.f.g.example.com", None, &[]);
    assert_eq!(z.asked[1], "_dmarc.c.d.e.f.g.example.com");
    assert_eq!(z.asked.len(), 8);
    let mut z = Zone::new(&[]);
    run(&mut z, "localhost", None, &[]);
    assert_eq!(z.asked, ["_dmarc.localhost"]);
}

/// Section 4.10.2's three examples for a.mail.example.com, and
/// Appendix B.4.3's Organizational Domains.
#[test]
fn organizational_domain_examples() {
    let r = "v=DMARC1; p=none";
    for (zone, start, org) in [
        (
            vec![("_dmarc.mail.example.com", r), ("_dmarc.example.com", r)],
            "a.mail.example.com",
            "example.com",
        ),
        (
            vec![
                ("_dmarc.mail.example.com", "v=DMARC1; psd=n"),
                ("_dmarc.example.com", r),
            ],
            "a.mail.example.com",
            "mail.example.com",
        ),
        (
            vec![("_dmarc.com", "v=DMARC1; psd=y")],
            "a.mail.example.com",
            "example.com",
        ),
        (vec![], "a.mail.example.com", "a.mail.example.com"),
        (
            vec![("_dmarc.a.mail.example.com", "v=DMARC1; psd=y")],
            "a.mail.example.com",
            "a.mail.example.com",
        ),
        (
            vec![("_dmarc.mail.example.com", "v=DMARC1; psd=y")],
            "a.mail.example.com",
            "a.mail.example.com",
        ),
        (
            vec![
                ("_dmarc.a.mail.example.com", r),
                ("_dmarc.mail.example.com", "v=DMARC1; psd=n"),
            ],
            "a.mail.example.com",
            "mail.example.com",
        ),
        (
            vec![
                ("_dmarc.bank.example", "v=DMARC1; psd=y"),
                ("_dmarc.giant.bank.example", r),
            ],
            "giant.bank.example",
            "giant.bank.example",
        ),
        (
            vec![
                ("_dmarc.bank.example", "v=DMARC1; psd=y"),
                ("_dmarc.giant.bank.example", r),
            ],
            "mail.giant.bank.example",
            "giant.bank.example",
        ),
        (
            vec![
                ("_dmarc.bank.example", "v=DMARC1; psd=y"),
                ("_dmarc.giant.bank.example", r),
            ],
            "mail.mega.bank.example",
            "mega.bank.example",
        ),
        // An invalid record is still a record for the walk (only psd counts).
        (
            vec![("_dmarc.example.com", "v=DMARC1; p=bogus")],
            "a.mail.example.com",
            "example.com",
        ),
        // Two records at one name: none there.
        (
            vec![
                ("_dmarc.example.com", r),
                ("_dmarc.mail.example.com", r),
                ("_dmarc.example.com", r),
            ],
            "a.mail.example.com",
            "mail.example.com",
        ),
    ] {
        let mut z = Zone::new(&zone);
        assert_eq!(org_of(&mut z, start), org, "{zone:?} {start}");
    }
}

/// Appendix B.4.1: the question count shows the cache at work.
#[test]
fn simple_organizational_and_policy_example() {
    let mut z = Zone::new(&[
        ("_dmarc.example.com", "v=DMARC1; p=reject"),
        ("_dmarc.signing.example.com", "v=DMARC1; p=none"),
    ]);
    let out = run(
        &mut z,
        "example.com",
        pass("example.com"),
        &["signing.example.com"],
    );
    assert_eq!(out.result, DmarcResult::Pass);
    assert!(out.spf_aligned);
    assert_eq!(out.dkim_aligned.as_deref(), Some("signing.example.com"));
    assert_eq!(out.org_domain, "example.com");
    assert_eq!(out.record_domain, "example.com");
    assert_eq!((out.policy, out.policy_tag), (Some(Policy::Reject), "p"));
    assert_eq!(
        z.asked,
        [
            "_dmarc.example.com",
            "_dmarc.com",
            "_dmarc.signing.example.com"
        ]
    );
    assert_eq!(
        out.authres("example.com"),
        "dmarc=pass (p=reject) header.from=example.com"
    );
}

/// Appendix B.4.2.
#[test]
fn deep_tree_walk_example() {
    let mut z = Zone::new(&[
        ("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine"),
        ("_dmarc.signing.example.com", "v=DMARC1; p=none"),
    ]);
    let author = "a.b.c.d.e.f.g.h.i.j.k.example.com";
    let out = run(
        &mut z,
        author,
        pass("example.com"),
        &["signing.example.com"],
    );
    assert_eq!(out.result, DmarcResult::Pass);
    assert!(out.spf_aligned);
    assert_eq!(out.dkim_aligned.as_deref(), Some("signing.example.com"));
    assert_eq!(
        (out.org_domain.as_str(), out.record_domain.as_str()),
        ("example.com", "example.com")
    );
    assert_eq!(
        (out.policy, out.policy_tag),
        (Some(Policy::Quarantine), "sp")
    );
    // The SPF domain's walk is all cached: one question more, for DKIM.
    assert_eq!(z.asked.len(), 8 + 1, "{:?}", z.asked);
    // Without SPF and DKIM: the policy domain's sp= for a fail.
    let mut z = Zone::new(&[("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine")]);
    let out = run(&mut z, author, Some((SpfResult::Fail, "example.com")), &[]);
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(out.disposition(), Policy::Quarantine);
}

/// Appendix B.4.3.
#[test]
fn example_with_a_psd_record() {
    let zone = [
        ("_dmarc.bank.example", "v=DMARC1; p=reject; psd=y"),
        ("_dmarc.giant.bank.example", "v=DMARC1; p=quarantine"),
    ];
    let mut z = Zone::new(&zone);
    let out = run(
        &mut z,
        "giant.bank.example",
        pass("mail.giant.bank.example"),
        &["mail.mega.bank.example"],
    );
    assert_eq!(out.result, DmarcResult::Pass);
    assert!(out.spf_aligned);
    assert_eq!(out.dkim_aligned, None);
    assert_eq!(out.org_domain, "giant.bank.example");
    assert_eq!(
        (out.policy, out.record_domain.as_str()),
        (Some(Policy::Quarantine), "giant.bank.example")
    );
    // The DKIM domain is outside the Organizational Domain: not walked.
    assert!(!z.asked.iter().any(|n| n.contains("mega")), "{:?}", z.asked);
    let mut z = Zone::new(&zone);
    let out = run(
        &mut z,
        "giant.bank.example",
        None,
        &["mail.mega.bank.example"],
    );
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(
        out.authres("giant.bank.example"),
        "dmarc=fail (p=quarantine) policy.dmarc=quarantine header.from=giant.bank.example"
    );
}

/// The PSD's policy when the Organizational Domain has no record
/// (section 4.10.1), with sp= and np=.
#[test]
fn psd_policy() {
    let zone = [
        (
            "_dmarc.gov.example",
            "v=DMARC1; p=none; sp=quarantine; np=reject; psd=y",
        ),
        ("agency.gov.example", ""),
        ("www.agency.gov.example", ""),
    ];
    for (author, policy, tag, org) in [
        (
            "agency.gov.example",
            Policy::Quarantine,
            "sp",
            "agency.gov.example",
        ),
        (
            "www.agency.gov.example",
            Policy::Quarantine,
            "sp",
            "agency.gov.example",
        ),
        (
            "mail.agency.gov.example",
            Policy::Reject,
            "np",
            "agency.gov.example",
        ),
        ("nx.gov.example", Policy::Reject, "np", "nx.gov.example"),
        ("gov.example", Policy::None, "p", "gov.example"),
    ] {
        let mut z = Zone::new(&zone);
        let out = run(&mut z, author, None, &[]);
        assert_eq!(out.result, DmarcResult::Fail, "{author}");
        assert_eq!(
            (out.policy, out.policy_tag),
            (Some(policy), tag),
            "{author}"
        );
        assert_eq!(
            (out.record_domain.as_str(), out.org_domain.as_str()),
            ("gov.example", org),
            "{author}"
        );
    }
    // The Organizational Domain's own record wins over the PSD's.
    let mut z = Zone::new(&[
        ("_dmarc.gov.example", "v=DMARC1; p=reject; psd=y"),
        ("_dmarc.agency.gov.example", "v=DMARC1; p=none"),
    ]);
    let out = run(&mut z, "mail.agency.gov.example", None, &[]);
    assert_eq!(
        (out.policy, out.record_domain.as_str()),
        (Some(Policy::None), "agency.gov.example")
    );
}

/// psd=n stops the walk: the record there is the Organizational
/// Domain's, and names above are not asked.
#[test]
fn psd_n() {
    let mut z = Zone::new(&[("_dmarc.example.com", "v=DMARC1; p=reject; sp=none; psd=n")]);
    let out = run(&mut z, "mail.example.com", pass("bounce.example.com"), &[]);
    assert_eq!(out.result, DmarcResult::Pass);
    assert_eq!(out.org_domain, "example.com");
    assert_eq!((out.policy, out.policy_tag), (Some(Policy::None), "sp"));
    assert!(!z.asked.iter().any(|n| n == "_dmarc.com"), "{:?}", z.asked);
}

/// Appendix B.1 and strict/relaxed per adkim=/aspf=.
#[test]
fn alignment() {
    let r = |tags: &str| format!("v=DMARC1; p=reject; {tags}");
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<(SpfResult, &'a str)>,
        &'a [&'a str],
        bool,
        bool,
    );
    let cases: &[Case] = &[
        // (record tags, author, spf, dkim, spf aligned, dkim aligned)
        ("", "example.com", pass("example.com"), &[], true, false),
        (
            "aspf=s",
            "example.com",
            pass("example.com"),
            &[],
            true,
            false,
        ),
        (
            "",
            "example.com",
            pass("child.example.com"),
            &[],
            true,
            false,
        ),
        (
            "aspf=s",
            "example.com",
            pass("child.example.com"),
            &[],
            false,
            false,
        ),
        (
            "",
            "child.example.com",
            pass("example.net"),
            &[],
            false,
            false,
        ),
        ("", "example.com", pass("EXAMPLE.com."), &[], true, false),
        (
            "",
            "example.com",
            Some((SpfResult::SoftFail, "example.com")),
            &[],
            false,
            false,
        ),
        (
            "",
            "example.com",
            Some((SpfResult::Neutral, "example.com")),
            &[],
            false,
            false,
        ),
        ("", "example.com", None, &["example.com"], false, true),
        (
            "adkim=s",
            "example.com",
            None,
            &["example.com"],
            false,
            true,
        ),
        ("", "child.example.com", None, &["example.com"], false, true),
        (
            "adkim=s",
            "child.example.com",
            None,
            &["example.com"],
            false,
            false,
        ),
        (
            "adkim=s; aspf=r",
            "child.example.com",
            pass("example.com"),
            &["example.com"],
            true,
            false,
        ),
        (
            "",
            "child.example.com",
            None,
            &["example.net"],
            false,
            false,
        ),
        (
            "",
            "child.example.com",
            None,
            &["evil.com", "x.child.example.com"],
            false,
            true,
        ),
        ("", "example.com", None, &["notexample.com"], false, false),
        (
            "",
            "sub.example.com",
            None,
            &["other.example.com"],
            false,
            true,
        ),
    ];
    for &(tags, author, spf, dkim, sa, da) in cases {
        let mut z = Zone::new(&[("_dmarc.example.com", &r(tags))]);
        let out = run(&mut z, author, spf, dkim);
        assert_eq!(
            (out.spf_aligned, out.dkim_aligned.is_some()),
            (sa, da),
            "{tags} {author} {spf:?} {dkim:?}"
        );
        let want = if sa || da {
            DmarcResult::Pass
        } else {
            DmarcResult::Fail
        };
        assert_eq!(out.result, want);
    }
}

/// A record published for a subdomain with psd=n makes that subdomain an
/// Organizational Domain of its own: relaxed alignment with the parent
/// fails.
#[test]
fn alignment_across_an_organizational_boundary() {
    let mut z = Zone::new(&[
        ("_dmarc.example.com", "v=DMARC1; p=reject"),
        ("_dmarc.dept.example.com", "v=DMARC1; p=reject; psd=n"),
    ]);
    let out = run(&mut z, "dept.example.com", None, &["example.com"]);
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(out.org_domain, "dept.example.com");
    let mut z = Zone::new(&[
        ("_dmarc.example.com", "v=DMARC1; p=reject"),
        ("_dmarc.dept.example.com", "v=DMARC1; p=reject; psd=n"),
    ]);
    let out = run(&mut z, "example.com", None, &["dept.example.com"]);
    assert_eq!(out.result, DmarcResult::Fail);
}

/// p=, sp=, np= (section 4.10.1) and the existence question.
#[test]
fn policy_selection() {
    for (rec, author, policy, tag, queries) in [
        (
            "p=reject; sp=quarantine; np=none",
            "example.com",
            Policy::Reject,
            "p",
            1,
        ),
        (
            "p=reject; sp=quarantine; np=none",
            "www.example.com",
            Policy::Quarantine,
            "sp",
            4,
        ),
        (
            "p=reject; sp=quarantine; np=none",
            "nx.example.com",
            Policy::None,
            "np",
            4,
        ),
        (
            "p=reject; sp=quarantine",
            "nx.example.com",
            Policy::Quarantine,
            "sp",
            3,
        ),
        ("p=reject", "nx.example.com", Policy::Reject, "p", 3),
        (
            "p=none; np=reject",
            "nx.example.com",
            Policy::Reject,
            "np",
            4,
        ),
        ("p=none; np=reject", "www.example.com", Policy::None, "p", 4),
        // np= equal to the fallback: no existence question.
        (
            "p=reject; np=reject",
            "nx.example.com",
            Policy::Reject,
            "p",
            3,
        ),
        ("np=none", "nx.example.com", Policy::None, "p", 3),
        // p= absent: none (section 4.7).
        ("sp=reject", "example.com", Policy::None, "p", 1),
        ("sp=reject", "www.example.com", Policy::Reject, "sp", 3),
        // A name below the Author Domain exists: so does it (NODATA at
        // _dmarc.<author>), no further question.
        ("p=none; np=reject", "ent.example.com", Policy::None, "p", 3),
    ] {
        let mut z = Zone::new(&[
            ("_dmarc.example.com", &format!("v=DMARC1; {rec}")),
            ("www.example.com", ""),
            ("x._dmarc.ent.example.com", "whatever"),
        ]);
        let out = run(&mut z, author, None, &[]);
        assert_eq!(out.result, DmarcResult::Fail);
        assert_eq!(
            (out.policy, out.policy_tag, out.queries),
            (Some(policy), tag, queries),
            "{rec} {author} {:?}",
            z.asked
        );
    }
}

#[test]
fn testing_mode() {
    for (rec, result, disp, ar) in [
        (
            "p=reject; t=y",
            DmarcResult::Fail,
            Policy::Quarantine,
            "dmarc=fail (p=reject t=y) policy.dmarc=quarantine header.from=example.com",
        ),
        (
            "p=quarantine; t=y",
            DmarcResult::Fail,
            Policy::None,
            "dmarc=fail (p=quarantine t=y) policy.dmarc=none header.from=example.com",
        ),
        (
            "p=reject; t=n",
            DmarcResult::Fail,
            Policy::Reject,
            "dmarc=fail (p=reject) policy.dmarc=reject header.from=example.com",
        ),
        (
            "p=reject; t=bogus",
            DmarcResult::Fail,
            Policy::Reject,
            "dmarc=fail (p=reject) policy.dmarc=reject header.from=example.com",
        ),
    ] {
        let mut z = Zone::new(&[("_dmarc.example.com", &format!("v=DMARC1; {rec}"))]);
        let out = run(&mut z, "example.com", None, &[]);
        assert_eq!((out.result, out.disposition()), (result, disp), "{rec}");
        assert_eq!(out.authres("example.com"), ar);
    }
    let mut z = Zone::new(&[("_dmarc.example.com", "v=DMARC1; p=reject; t=y")]);
    let out = run(&mut z, "example.com", pass("example.com"), &[]);
    assert_eq!(
        (out.result, out.disposition(), out.testing),
        (DmarcResult::Pass, Policy::None, true)
    );
    assert_eq!(
        out.authres("example.com"),
        "dmarc=pass (p=reject t=y) header.from=example.com"
    );
}

/// Section 4.10.1 on invalid p=/sp=/np=, and what is not a record.
#[test]
fn invalid_and_multiple_records() {
    for (recs, result, policy) in [
        (vec!["v=DMARC1; p=bogus"], DmarcResult::PermError, None),
        (
            vec!["v=DMARC1; p=reject; sp=bogus"],
            DmarcResult::PermError,
            None,
        ),
        (
            vec!["v=DMARC1; p=reject; np=bogus"],
            DmarcResult::PermError,
            None,
        ),
        (
            vec!["v=DMARC1; p=bogus; rua=mailto:d@example.com"],
            DmarcResult::Fail,
            Some(Policy::None),
        ),
        (
            vec!["v=DMARC1; p=bogus; rua=bogus"],
            DmarcResult::PermError,
            None,
        ),
        (
            vec!["v=DMARC1; p=reject; rua=bogus"],
            DmarcResult::Fail,
            Some(Policy::Reject),
        ),
        (vec!["v=DMARC1"], DmarcResult::Fail, Some(Policy::None)),
        (
            vec!["v=DMARC1; p=reject; pct=0"],
            DmarcResult::Fail,
            Some(Policy::Reject),
        ),
        (
            vec!["v=DMARC1; p=reject; pct=bogus; ri=x; rf=x; fo=x; ruf=x; zz=1"],
            DmarcResult::Fail,
            Some(Policy::Reject),
        ),
        (
            vec!["v=DMARC1; p=reject", "v=spf1 -all"],
            DmarcResult::Fail,
            Some(Policy::Reject),
        ),
        (
            vec!["v=DMARC1; p=reject", "v=DMARC1; p=none"],
            DmarcResult::None,
            None,
        ),
        (
            vec!["v=DMARC1; p=reject", "v=DMARC1; p=reject"],
            DmarcResult::None,
            None,
        ),
        (vec!["p=reject; v=DMARC1"], DmarcResult::None, None),
        (vec!["v=dmarc1; p=reject"], DmarcResult::None, None),
        (vec!["v=spf1 -all"], DmarcResult::None, None),
    ] {
        let zone: Vec<(&str, &str)> = recs.iter().map(|r| ("_dmarc.example.com", *r)).collect();
        let mut z = Zone::new(&zone);
        let out = run(&mut z, "example.com", None, &[]);
        assert_eq!((out.result, out.policy), (result, policy), "{recs:?}");
        if result == DmarcResult::PermError {
            assert_eq!(
                out.authres("example.com"),
                "dmarc=permerror reason=\"invalid policy in the DMARC record\" header.from=example.com"
            );
        }
    }
    // Two records at the Author Domain: none there, the walk goes on.
    let mut z = Zone::new(&[
        ("_dmarc.mail.example.com", "v=DMARC1; p=none"),
        ("_dmarc.mail.example.com", "v=DMARC1; p=none"),
        ("_dmarc.example.com", "v=DMARC1; p=reject"),
    ]);
    let out = run(&mut z, "mail.example.com", None, &[]);
    assert_eq!(
        (out.result, out.policy, out.record_domain.as_str()),
        (DmarcResult::Fail, Some(Policy::Reject), "example.com")
    );
}

/// Section 5.3.6: a DNS failure that matters gives temperror; one that
/// does not (an identifier aligned anyway) does not.
#[test]
fn dns_failures() {
    let zone = [("_dmarc.example.com", "v=DMARC1; p=reject")];
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<(SpfResult, &'a str)>,
        &'a [&'a str],
        DmarcResult,
    );
    let cases: &[Case] = &[
        // Policy discovery.
        (
            "_dmarc.example.com",
            "example.com",
            pass("example.com"),
            &[],
            DmarcResult::TempError,
        ),
        (
            "_dmarc.mail.example.com",
            "mail.example.com",
            None,
            &[],
            DmarcResult::TempError,
        ),
        (
            "_dmarc.com",
            "mail.example.com",
            None,
            &[],
            DmarcResult::TempError,
        ),
        // Alignment: the Author Domain's walk goes on above its record.
        (
            "_dmarc.com",
            "example.com",
            None,
            &["mail.example.com"],
            DmarcResult::TempError,
        ),
        (
            "_dmarc.com",
            "example.com",
            pass("example.com"),
            &["mail.example.com"],
            DmarcResult::Pass,
        ),
        (
            "_dmarc.mail.example.com",
            "example.com",
            None,
            &["mail.example.com"],
            DmarcResult::TempError,
        ),
        (
            "_dmarc.mail.example.com",
            "example.com",
            None,
            &["mail.example.com", "example.com"],
            DmarcResult::Pass,
        ),
        // Strict: no walk, no failure.
        (
            "_dmarc.com",
            "example.com",
            None,
            &["example.com"],
            DmarcResult::Pass,
        ),
        // Not below the Organizational Domain: never asked.
        (
            "_dmarc.evil.com",
            "example.com",
            None,
            &["evil.com"],
            DmarcResult::Fail,
        ),
        // The existence question.
        (
            "nx.example.com",
            "nx.example.com",
            None,
            &[],
            DmarcResult::Fail,
        ),
    ];
    for &(fail, author, spf, dkim, want) in cases {
        let mut z = Zone::new(&zone);
        z.fail.insert(fail.to_string());
        let out = run(&mut z, author, spf, dkim);
        assert_eq!(
            out.result, want,
            "{fail} {author} {spf:?} {dkim:?} {:?}",
            z.asked
        );
    }
    let mut z = Zone::new(&[("_dmarc.example.com", "v=DMARC1; p=reject; np=none")]);
    z.fail.insert("nx.example.com".into());
    let out = run(&mut z, "nx.example.com", None, &[]);
    assert_eq!(out.result, DmarcResult::TempError);
    assert_eq!(
        out.authres("nx.example.com"),
        "dmarc=temperror reason=\"DNS failure\" header.from=nx.example.com"
    );
    // A pass needs no policy: the failure is not fatal.
    let mut z = Zone::new(&[("_dmarc.example.com", "v=DMARC1; p=reject; np=none")]);
    z.fail.insert("nx.example.com".into());
    let out = run(&mut z, "nx.example.com", pass("example.com"), &[]);
    assert_eq!((out.result, out.policy_tag), (DmarcResult::Pass, "p"));
}

/// Many deep DKIM domains below the Author Domain's Organizational Domain
/// but each an Organizational Domain of its own (psd=n): the walks stop at
/// the bound, none is asked twice.
#[test]
fn question_bound() {
    let mut zone = vec![(
        "_dmarc.example.com".to_string(),
        "v=DMARC1; p=reject".to_string(),
    )];
    zone.extend((0..20).map(|i| {
        (
            format!("_dmarc.g{i}.example.com"),
            "v=DMARC1; psd=n".to_string(),
        )
    }));
    let zone: Vec<(&str, &str)> = zone.iter().map(|(n, r)| (n.as_str(), r.as_str())).collect();
    let mut z = Zone::new(&zone);
    let dkim: Vec<String> = (0..20)
        .map(|i| format!("a.b.c.d.e.f.g{i}.example.com"))
        .collect();
    let dkim: Vec<&str> = dkim.iter().map(|s| s.as_str()).collect();
    let out = run(&mut z, "x.example.com", None, &dkim);
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(out.queries, MAX_WALK_QUERIES, "{:?}", z.asked);
    // A From domain too long for "_dmarc." in front: no question for it.
    let a63 = "a".repeat(63);
    let long = format!("{a63}.{a63}.{a63}.{}.example.com", "d".repeat(45));
    assert_eq!(long.len(), 249);
    let mut z = Zone::new(&[("_dmarc.example.com", "v=DMARC1; p=reject")]);
    let out = run(&mut z, &long, None, &[]);
    assert_eq!(out.result, DmarcResult::Fail);
    assert!(!z.asked.iter().any(|n| n.len() > 253));
}

#[test]
fn authres_forms() {
    let mut z = Zone::new(&[(
        "_dmarc.gmail.com",
        "v=DMARC1; p=none; sp=quarantine; rua=mailto:mailauth-reports@google.com",
    )]);
    let out = run(&mut z, "gmail.com", pass("gmail.com"), &["gmail.com"]);
    assert_eq!(
        out.authres("gmail.com"),
        "dmarc=pass (p=none) header.from=gmail.com"
    );
    let out =
        DmarcOutcome::without_policy(DmarcResult::PermError, Some("more than one From field"));
    assert_eq!(
        out.authres(""),
        "dmarc=permerror reason=\"more than one From field\""
    );
    for bad in ["", ".", "a..example.com", "a b.example.com", "[192.0.2.1]"] {
        let mut z = Zone::new(&[]);
        let out = run(&mut z, bad, None, &[]);
        assert_eq!(out.result, DmarcResult::PermError, "{bad}");
        assert!(z.asked.is_empty());
    }
}
