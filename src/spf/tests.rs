//! The parser, the macro examples of RFC 7208 section 7.4, the limits of
//! section 4.6.4 and the deadline.

use super::record::{self, Cidr, Mechanism, Qualifier};
use super::zone::{Rr, Zone};
use super::*;
use std::time::Duration;

fn query(ip: &str) -> Query<'static> {
    Query {
        ip: ip.parse().unwrap(),
        sender: "strong-bad@email.example.com",
        helo: "mx.example.org",
        receiver: "mx.example.net",
        now_unix: 1_700_000_000,
        deadline: None,
    }
}

/// Expands `spec` as a domain-spec for `q` with `domain` current.
fn expand(q: &Query, spec: &str, domain: &str) -> String {
    record::domain_spec(spec).unwrap();
    let mut zone = Zone::default();
    let ip = q.ip;
    let mut e = Eval {
        q,
        ip,
        local: "strong-bad",
        sender_domain: "email.example.com",
        dns: &mut zone,
        terms: 0,
        voids: 0,
        ptr_names: None,
    };
    e.expand_name(spec, domain)
}

#[test]
fn macro_examples_of_section_7_4() {
    let q = query("192.0.2.3");
    let d = "email.example.com";
    for (spec, want) in [
        ("%{s}", "strong-bad@email.example.com"),
        ("%{o}", "email.example.com"),
        ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"),
        ("%{d3}", "email.example.com"),
        ("%{d2}", "example.com"),
        ("%{d1}", "com"),
        ("%{dr}", "com.example.email"),
        ("%{d2r}", "example.email"),
        ("%{l}", "strong-bad"),
        ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"),
        ("%{lr-}", "bad.strong"),
        ("%{l1r-}", "strong"),
        (
            "%{ir}.%{v}._spf.%{d2}",
            "3.2.0.192.in-addr._spf.example.com",
        ),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        (
            "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
            "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
        ),
        (
            "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
            "3.2.0.192.in-addr.strong.lp._spf.example.com",
        ),
        (
            "%{d2}.trusted-domains.example.net",
            "example.com.trusted-domains.example.net",
        ),
        // Upper case: URL-escaped (section 7.3).
        ("%{S}", "strong-bad%40email.example.com"),
        ("%{h}.%%.%_.%-", "mx.example.org.%. .%20"),
    ] {
        assert_eq!(expand(&q, spec, d), want, "{spec}");
    }
    let q6 = query("2001:db8::cb01");
    assert_eq!(
        expand(&q6, "%{ir}.%{v}._spf.%{d2}", d),
        "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com"
    );
}

#[test]
fn expansion_longer_than_253_drops_left_labels() {
    let q = query("192.0.2.3");
    let long = format!("{}.example.com", vec!["a".repeat(60); 5].join("."));
    let out = expand(&q, "%{d}", &long);
    assert!(out.len() <= 253 && out.ends_with(".example.com"), "{out}");
}

#[test]
fn long_expansion_is_cut_like_the_whole_one() {
    let q = query("192.0.2.3");
    let spec = format!("{}.example.com", ["%{d}"; 300].join(".x-"));
    let domain = "a.bb.ccc";
    let whole: String = format!("{}.example.com", vec![domain; 300].join(".x-"));
    let mut want = whole.as_str();
    while want.len() > 253 {
        want = want.split_once('.').unwrap().1;
    }
    assert_eq!(expand(&q, &spec, domain), want);
}

#[test]
fn parses_every_mechanism_and_modifier() {
    let rec = record::parse(
        b"v=spf1 +all -include:a.example ~a ?a:b.example/24//64 mx/16 ptr ptr:c.example \
          ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{ir}.x.example redirect=r.example exp=e.example x-y=z",
    )
    .unwrap();
    let m: Vec<&Mechanism> = rec.directives.iter().map(|d| &d.mechanism).collect();
    assert_eq!(rec.directives[1].qualifier, Qualifier::Fail);
    assert_eq!(rec.directives[2].qualifier, Qualifier::SoftFail);
    assert_eq!(rec.directives[3].qualifier, Qualifier::Neutral);
    assert!(matches!(
        m[3],
        Mechanism::A(Some(_), Cidr { v4: 24, v6: 64 })
    ));
    assert!(matches!(
        m[4],
        Mechanism::Mx(None, Cidr { v4: 16, v6: 128 })
    ));
    assert!(matches!(m[7], Mechanism::Ip4(_, 24)));
    assert!(matches!(m[8], Mechanism::Ip6(_, 32)));
    assert_eq!(m.len(), 10);
    assert!(rec.redirect.is_some() && rec.exp.is_some());
}

#[test]
fn syntax_errors_are_rejected() {
    for bad in [
        "v=spf1 foo",
        "v=spf1 all:x",
        "v=spf1 ip4:192.0.2.0/33",
        "v=spf1 ip4:192.0.2.0/024",
        "v=spf1 ip6:2001:db8::/129",
        "v=spf1 ip4:1.2.3",
        "v=spf1 a:example.123",
        "v=spf1 a:example",
        "v=spf1 include:",
        "v=spf1 exists",
        "v=spf1 a:%{x}.example.com",
        "v=spf1 a:%{t}.example.com",
        "v=spf1 a:%{d0}.example.com",
        "v=spf1 a:%{d",
        "v=spf1 a:%x.example.com",
        "v=spf1 redirect=a.example redirect=b.example",
        "v=spf1 exp=a.example exp=b.example",
        "v=spf1 x=%",
        "v=spf1 -all\tfoo",
        "v=spf1 a:ex\u{e9}.com",
    ] {
        assert!(record::parse(bad.as_bytes()).is_err(), "{bad}");
    }
    assert!(!record::is_spf1(b"v=spf10"));
    assert!(record::is_spf1(b"V=SPF1"));
    assert!(record::parse(b"v=spf1   -all   ").is_ok());
}

/// A zone where `example.com` has the record `rec`.
fn zone_with(rec: &str) -> Zone {
    let mut z = Zone::default();
    z.add("example.com", Rr::Txt(rec.as_bytes().to_vec()));
    z
}

fn run(z: &mut Zone, ip: &str) -> SpfResult {
    let q = Query {
        sender: "a@example.com",
        ..query(ip)
    };
    check(&q, z).result
}

#[test]
fn ten_dns_terms_pass_the_eleventh_is_a_permerror() {
    let chain = |n: usize| {
        let mut z = zone_with("v=spf1 include:n0.example.com -all");
        for i in 0..n {
            z.add(
                &format!("n{i}.example.com"),
                Rr::Txt(format!("v=spf1 include:n{}.example.com", i + 1).into()),
            );
        }
        z.add(
            &format!("n{n}.example.com"),
            Rr::Txt(b"v=spf1 +all".to_vec()),
        );
        z
    };
    assert_eq!(run(&mut chain(9), "192.0.2.1"), SpfResult::Pass);
    assert_eq!(run(&mut chain(10), "192.0.2.1"), SpfResult::PermError);
    // A loop of includes ends on the same limit.
    let mut z = zone_with("v=spf1 include:example.com");
    assert_eq!(run(&mut z, "192.0.2.1"), SpfResult::PermError);
    assert!(z.queries <= 11, "{}", z.queries);
}

#[test]
fn two_void_lookups_pass_the_third_is_a_permerror() {
    let mut z = zone_with("v=spf1 a:v1.example.com a:v2.example.com -all");
    assert_eq!(run(&mut z, "192.0.2.1"), SpfResult::Fail);
    let mut z = zone_with("v=spf1 a:v1.example.com a:v2.example.com exists:v3.example.com -all");
    assert_eq!(run(&mut z, "192.0.2.1"), SpfResult::PermError);
}

#[test]
fn more_than_ten_mx_names_is_a_permerror() {
    for (n, want) in [(10, SpfResult::Pass), (11, SpfResult::PermError)] {
        let mut z = zone_with("v=spf1 mx -all");
        for i in 0..n {
            z.add("example.com", Rr::Mx(10, format!("mx{i}.example.com")));
        }
        z.add(
            &format!("mx{}.example.com", n - 1),
            Rr::A("192.0.2.1".parse().unwrap()),
        );
        assert_eq!(run(&mut z, "192.0.2.1"), want, "{n} MX");
    }
}

#[test]
fn only_ten_ptr_names_are_validated() {
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    for (n, want) in [(10, SpfResult::Pass), (11, SpfResult::Fail)] {
        let mut z = zone_with("v=spf1 ptr -all");
        for i in 0..n {
            z.add(
                &zone::reverse_name(ip),
                Rr::Ptr(format!("h{i}.example.com")),
            );
        }
        z.add(
            &format!("h{}.example.com", n - 1),
            Rr::A("192.0.2.1".parse().unwrap()),
        );
        assert_eq!(run(&mut z, "192.0.2.1"), want, "{n} PTR");
    }
}

#[test]
fn ipv4_mapped_client_is_checked_as_ipv4() {
    let mut z = zone_with("v=spf1 ip4:192.0.2.0/24 -all");
    assert_eq!(run(&mut z, "::ffff:192.0.2.7"), SpfResult::Pass);
    assert_eq!(run(&mut z, "2001:db8::1"), SpfResult::Fail);
}

#[test]
fn past_deadline_is_a_temperror() {
    let mut z = zone_with("v=spf1 +all");
    let q = Query {
        deadline: Some(Instant::now() - Duration::from_millis(1)),
        ..query("192.0.2.1")
    };
    assert_eq!(check(&q, &mut z).result, SpfResult::TempError);
    let q = Query {
        deadline: Some(Instant::now() + Duration::from_secs(20)),
        ..query("192.0.2.1")
    };
    assert_eq!(
        check(
            &Query {
                sender: "a@example.com",
                ..q
            },
            &mut z
        )
        .result,
        SpfResult::Pass
    );
}

#[test]
fn fail_carries_the_expanded_explanation() {
    let mut z = zone_with("v=spf1 -all exp=why.example.com");
    z.add(
        "why.example.com",
        Rr::Txt(b"%{i} is not %{d}'s; see %{r} at %{t}".to_vec()),
    );
    let q = Query {
        sender: "a@example.com",
        ..query("192.0.2.1")
    };
    let out = check(&q, &mut z);
    assert_eq!(out.result, SpfResult::Fail);
    let want = "192.0.2.1 is not example.com's; see mx.example.net at 1700000000";
    assert_eq!(out.explanation.as_deref(), Some(want));
}

#[test]
fn helo_identity_when_mail_from_is_null() {
    let mut z = Zone::default();
    z.add("mx.example.org", Rr::Txt(b"v=spf1 a -all".to_vec()));
    z.add("mx.example.org", Rr::A("192.0.2.1".parse().unwrap()));
    let q = Query {
        sender: "",
        ..query("192.0.2.1")
    };
    let out = check(&q, &mut z);
    assert_eq!(
        (out.result, out.domain.as_str()),
        (SpfResult::Pass, "mx.example.org")
    );
}

#[test]
fn percent_p_is_looked_up_once() {
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let spec = ["%{p}"; 40].join(".");
    let mut z = zone_with(&format!("v=spf1 exists:{spec}.example.com -all"));
    z.add(&zone::reverse_name(ip), Rr::Ptr("h.example.com".into()));
    z.add("h.example.com", Rr::A("192.0.2.1".parse().unwrap()));
    run(&mut z, "192.0.2.1");
    assert!(z.queries <= 4, "{}", z.queries);
}
