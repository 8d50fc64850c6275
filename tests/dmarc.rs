//! DMARC end to end: the real binary, a DNS server of the tests on
//! 127.0.0.1 (`--dns`), and what a script sees: the `dmarc=` result in
//! the stored Authentication-Results field, the hook variables, and
//! `--dmarc-reject` refusing a `fail` under `p=reject` after the final
//! dot (RFC 9989), never under `quarantine` or `t=y`. DKIM alignment uses
//! a message dkimpy signed for example.com (src/dkim/testdata/).

mod common;

use common::dns_server::{self, Zone};
use common::*;
use std::path::Path;

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/dkim/testdata")
            .join(name),
    )
    .unwrap()
}

fn zone() -> Zone {
    let mut z = Zone::new();
    z.txt("pass.example", "v=spf1 ip4:127.0.0.0/8 ip6:::1 -all")
        .txt("_dmarc.pass.example", "v=DMARC1; p=reject")
        .txt("fail.example", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("_dmarc.fail.example", "v=DMARC1; p=reject; sp=quarantine")
        .txt("sub.fail.example", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("testing.example", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("_dmarc.testing.example", "v=DMARC1; p=reject; t=y")
        .txt("_dmarc.example.com", "v=DMARC1; p=reject; adkim=s")
        .txt("bounces.example.net", "v=spf1 ip4:127.0.0.0/8 -all");
    let keys = String::from_utf8(testdata("keys.txt")).unwrap();
    for line in keys.lines() {
        let (n, r) = line.split_once('\t').unwrap();
        z.txt(n, r);
    }
    z
}

fn server(dns: &dns_server::Server, extra: &[&str]) -> Server {
    let at = dns.addr.to_string();
    let mut args = vec![
        "--auth-skip",
        "none",
        "--no-iprev",
        "--dns",
        &at,
        "--dns-timeout",
        "1",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Our Authentication-Results field, unfolded.
fn authres(m: &[u8]) -> String {
    let text = String::from_utf8_lossy(m);
    let end = text.find("\nReceived-SPF:").expect("our fields");
    text[..end].replace("\n\t", " ")
}

fn mail(from_header: &str) -> Vec<u8> {
    format!("From: {from_header}\r\nSubject: dmarc\r\n\r\nhello\r\n").into_bytes()
}

#[test]
fn spf_aligned_pass_and_the_hook_variables() {
    let dns = dns_server::Server::zone(zone());
    let d = TempDir::new("dmarchook");
    let out = d.path().join("env");
    let hook = d.path().join("hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nenv | grep -E '^TINYMX_(DMARC|FROM|DKIM)' | sort > {}\n",
            out.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = server(&dns, &["--filter", hook.to_str().unwrap()]);
    let mut c = Client::hello(s.addr());
    let r = c.send_mail(
        "alice@pass.example",
        &["bob@example.org"],
        &mail("Alice <Alice@Pass.Example>"),
    );
    assert!(r.starts_with("250 "), "{r}");
    let m = &s.messages("bob")[0];
    assert_eq!(
        authres(m),
        "Authentication-Results: mx.test; spf=pass smtp.mailfrom=alice@pass.example; \
         dkim=none; dmarc=pass (p=reject) header.from=pass.example"
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "TINYMX_DKIM=none\nTINYMX_DKIM_DOMAINS=\nTINYMX_DMARC=pass\n\
         TINYMX_FROM=Alice@pass.example\nTINYMX_FROM_DOMAIN=pass.example\n"
    );
}

#[test]
fn dkim_aligned_pass_with_a_failing_envelope() {
    let dns = dns_server::Server::zone(zone());
    let s = server(&dns, &["--dmarc-reject"]);
    let mut c = Client::hello(s.addr());
    // The envelope is a bounce address of another domain (SPF passes for
    // it, but it is not aligned); the dkimpy signature for example.com is.
    // Dot-stuffed for DATA: the body has a line that starts with a dot.
    let msg = stuffed(&testdata("ed25519.eml"));
    let r = c.send_mail("b@bounces.example.net", &["bob@example.org"], &msg);
    assert!(r.starts_with("250 "), "{r}");
    let a = authres(&s.messages("bob")[0]);
    assert!(
        a.contains("; dkim=pass header.d=example.com header.s=ed header.b="),
        "{a}"
    );
    assert!(
        a.ends_with("; dmarc=pass (p=reject) header.from=example.com"),
        "{a}"
    );
}

#[test]
fn reject_only_a_fail_under_p_reject_and_only_with_the_option() {
    let dns = dns_server::Server::zone(zone());
    let on = server(&dns, &["--dmarc-reject"]);
    let mut c = Client::hello(on.addr());
    // p=reject: refused after the final dot, nothing stored.
    let r = c.send_mail(
        "ceo@fail.example",
        &["bob@example.org"],
        &mail("ceo@fail.example"),
    );
    assert_eq!(
        r,
        "550 5.7.1 DMARC: fail.example rejects mail that fails authentication\r\n"
    );
    // sp=quarantine for a subdomain: stored, the result recorded.
    let r = c.send_mail(
        "ceo@sub.fail.example",
        &["bob@example.org"],
        &mail("ceo@sub.fail.example"),
    );
    assert!(r.starts_with("250 "), "{r}");
    // t=y: the policy one level down (quarantine): stored.
    let r = c.send_mail(
        "ceo@testing.example",
        &["bob@example.org"],
        &mail("ceo@testing.example"),
    );
    assert!(r.starts_with("250 "), "{r}");
    let mut got: Vec<String> = on.messages("bob").iter().map(|m| authres(m)).collect();
    got.sort();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].ends_with(
            "; dmarc=fail (sp=quarantine) policy.dmarc=quarantine header.from=sub.fail.example"
        ),
        "{got:?}"
    );
    assert!(
        got[1].ends_with(
            "; dmarc=fail (p=reject t=y) policy.dmarc=quarantine header.from=testing.example"
        ),
        "{got:?}"
    );
    on.wait_log(|l| {
        l.iter()
            .any(|l| l.contains("refused: DMARC fail, the domain's policy is reject"))
    });

    // Without the option: the same mail is stored with its result.
    let off = server(&dns, &[]);
    let mut c = Client::hello(off.addr());
    let r = c.send_mail(
        "ceo@fail.example",
        &["bob@example.org"],
        &mail("ceo@fail.example"),
    );
    assert!(r.starts_with("250 "), "{r}");
    let a = authres(&off.messages("bob")[0]);
    assert!(
        a.ends_with("; dmarc=fail (p=reject) policy.dmarc=reject header.from=fail.example"),
        "{a}"
    );
}

#[test]
fn no_single_author_is_permerror_never_pass() {
    let dns = dns_server::Server::zone(zone());
    let s = server(&dns, &["--dmarc-reject"]);
    let mut c = Client::hello(s.addr());
    let two = b"From: alice@pass.example\r\nFrom: ceo@fail.example\r\n\r\nx\r\n";
    let r = c.send_mail("alice@pass.example", &["bob@example.org"], two);
    // Not a fail, so not refused; the script sees permerror.
    assert!(r.starts_with("250 "), "{r}");
    let a = authres(&s.messages("bob")[0]);
    assert!(
        a.ends_with("; dmarc=permerror reason=\"more than one From field\""),
        "{a}"
    );
}
