//! Sender authentication against the real binary: SPF on MAIL FROM over
//! the resolver, with a DNS server of the tests on 127.0.0.1 (`--dns`),
//! and what lands in the spool: the Authentication-Results and
//! Received-SPF fields byte for byte, forged fields deleted, the hook
//! variables, `--spf-reject`, and no checks for `--auth-skip` clients.
//! The clients are on loopback, so `--auth-skip none` turns checks on.

mod common;

use common::dns_server::{self, Zone};
use common::*;
use std::path::Path;

/// The sender domains and what they publish. 127.0.0.1 and ::1 are the
/// test clients.
fn zone() -> Zone {
    let mut z = Zone::new();
    z.txt("pass.example", "v=spf1 ip4:127.0.0.0/8 ip6:::1 -all")
        .txt("fail.example", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt(
            "exp.example",
            "v=spf1 ip4:192.0.2.0/24 -all exp=why.exp.example",
        )
        .txt("why.exp.example", "%{i} may not send for %{d} (helo %{h})")
        .txt(
            "crlf.example",
            "v=spf1 ip4:192.0.2.0/24 -all exp=why.crlf.example",
        )
        .txt("why.crlf.example", "no\r\n250 ok")
        .txt("soft.example", "v=spf1 ~all")
        .txt("loop-a.example", "v=spf1 include:loop-b.example -all")
        .txt("loop-b.example", "v=spf1 include:loop-a.example -all")
        .timeout("slow.example")
        .txt("client.example", "v=spf1 a -all")
        .a("client.example", "127.0.0.1");
    z
}

/// A server checking every client against `dns`, with `extra` options;
/// iprev is off (its own tests are in tests/defences.rs), so the fields
/// and queries here are SPF's, DKIM's and DMARC's alone.
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

const MSG: &[u8] = b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n";

/// The copy stored for bob: the fields tinymx added above the trace
/// fields, and the rest (trace fields checked by `split_trace`).
fn stored(s: &Server) -> (String, Vec<u8>) {
    let msgs = s.messages("bob");
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    let at = find(m, b"Return-Path: ").expect("Return-Path");
    let (_, rest) = split_trace(&m[at..]);
    (String::from_utf8(m[..at].to_vec()).unwrap(), rest)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn received_spf(result: &str, comment: &str, sender: &str, identity: &str) -> String {
    format!(
        "Received-SPF: {result} (mx.test: {comment})\n\
         \tclient-ip=127.0.0.1; envelope-from=\"{sender}\"; helo=\"client.example\";\n\
         \treceiver=mx.test; identity={identity}\n"
    )
}

#[test]
fn spf_pass_is_the_first_field_of_the_stored_copy() {
    let dns = dns_server::Server::zone(zone());
    let s = server(&dns, &[]);
    let mut c = Client::hello(s.addr());
    let r = c.send_mail("alice@pass.example", &["bob@example.org"], MSG);
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r}");
    let (added, rest) = stored(&s);
    assert_eq!(
        added,
        "Authentication-Results: mx.test; spf=pass smtp.mailfrom=alice@pass.example;\n\tdkim=none;\n\tdmarc=none header.from=example.com\n".to_string()
            + &received_spf(
                "pass",
                "domain of pass.example designates 127.0.0.1 as permitted sender",
                "alice@pass.example",
                "mailfrom"
            )
    );
    assert_eq!(rest, to_lf(MSG));
    s.wait_log(|l| {
        l.iter()
            .any(|l| l.contains(" accepted ") && l.contains(" spf=pass "))
    });
    // SPF's record, then DMARC's tree walk for the From domain
    // (RFC 9989: _dmarc.example.com, then _dmarc.com).
    let txt = |n: &str| (n.to_string(), 16);
    assert_eq!(
        dns.asked(),
        [
            txt("pass.example"),
            txt("_dmarc.example.com"),
            txt("_dmarc.com")
        ]
    );
}

#[test]
fn spf_pass_over_ipv6() {
    let dns = dns_server::Server::zone(zone());
    let at = dns.addr.to_string();
    let s = Server::start_with(
        &["-l", "[::1]:0", "-n", "mx.test"],
        &["--auth-skip", "none", "--no-iprev", "--dns", &at],
    );
    let mut c = Client::hello(s.addr());
    let r = c.send_mail("alice@pass.example", &["bob@example.org"], MSG);
    assert!(r.starts_with("250 "), "{r}");
    let (added, _) = stored(&s);
    assert!(
        added.starts_with(
            "Authentication-Results: mx.test; spf=pass smtp.mailfrom=alice@pass.example;\n\tdkim=none;\n\tdmarc=none header.from=example.com\n\
             Received-SPF: pass (mx.test: domain of pass.example designates ::1 as permitted sender)\n\
             \tclient-ip=::1; "
        ),
        "{added}"
    );
}

/// Each result and its fields, one message each over one session.
#[test]
fn fail_softfail_permerror_and_none_are_recorded_and_the_mail_accepted() {
    let dns = dns_server::Server::zone(zone());
    let s = server(&dns, &[]);
    let cases = [
        (
            "x@fail.example",
            "fail",
            "domain of fail.example does not designate 127.0.0.1 as permitted sender",
        ),
        (
            "x@soft.example",
            "softfail",
            "domain of soft.example discourages use of 127.0.0.1 as permitted sender",
        ),
        (
            "x@loop-a.example",
            "permerror",
            "the SPF record of loop-a.example is invalid",
        ),
        (
            "x@none.example",
            "none",
            "none.example does not publish SPF",
        ),
    ];
    for (sender, result, comment) in cases {
        let mut c = Client::hello(s.addr());
        let r = c.send_mail(sender, &["bob@example.org"], MSG);
        assert!(r.starts_with("250 "), "{sender}: {r}");
        let (added, _) = stored(&s);
        assert_eq!(
            added,
            format!(
                "Authentication-Results: mx.test; spf={result} smtp.mailfrom={sender};\n\tdkim=none;\n\tdmarc=none header.from=example.com\n"
            ) + &received_spf(result, comment, sender, "mailfrom"),
            "{sender}"
        );
        for f in files(&s.spool.join("bob/new")) {
            std::fs::remove_file(f).unwrap();
        }
    }
}

#[test]
fn no_answer_is_temperror_the_mail_is_accepted_and_warned_about_once() {
    let dns = dns_server::Server::zone(zone());
    let s = server(&dns, &[]);
    for i in 0..2 {
        let mut c = Client::hello(s.addr());
        let r = c.send_mail("x@slow.example", &["bob@example.org"], MSG);
        assert!(r.starts_with("250 "), "{i}: {r}");
    }
    let msgs = s.messages("bob");
    assert_eq!(msgs.len(), 2);
    for m in &msgs {
        assert!(
            m.starts_with(
                b"Authentication-Results: mx.test; spf=temperror smtp.mailfrom=x@slow.example;\n\tdkim=none;\n\tdmarc=none header.from=example.com\n\
                  Received-SPF: temperror (mx.test: DNS failed for slow.example)\n"
            ),
            "{}",
            String::from_utf8_lossy(m)
        );
    }
    s.wait_log(|l| l.iter().filter(|l| l.contains(" accepted ")).count() == 2);
    let warnings: Vec<String> = s
        .log_lines()
        .into_iter()
        .filter(|l| l.contains("DNS: no answer for"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("DNS: no answer for Txt slow.example (Timeout)"),
        "{warnings:?}"
    );
    // --dns-timeout 1 and 2 attempts (resolv.conf's default): 2 SPF
    // queries a message, nothing cached; then DMARC's 2 (_dmarc.example.com
    // and _dmarc.com, NXDOMAIN without an SOA: not cached either).
    assert_eq!(dns.queries(), 8);
}

#[test]
fn spf_reject_refuses_a_fail_at_mail_from_with_the_domains_explanation() {
    let dns = dns_server::Server::zone(zone());
    let s = server(&dns, &["--spf-reject"]);
    let mut c = Client::hello(s.addr());
    assert_eq!(
        c.cmd("MAIL FROM:<x@fail.example>"),
        "550 5.7.23 SPF fail: fail.example does not allow 127.0.0.1 to send its mail\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<x@exp.example>"),
        "550 5.7.23 SPF fail: 127.0.0.1 may not send for exp.example (helo client.example)\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<bob@example.org>"),
        "503 5.5.1 Need MAIL command\r\n"
    );
    // An explanation with a CR LF is a syntax error (RFC 7208 section
    // 6.2: then there is none); so no text from DNS can end the reply.
    assert_eq!(
        c.cmd("MAIL FROM:<x@crlf.example>"),
        "550 5.7.23 SPF fail: crlf.example does not allow 127.0.0.1 to send its mail\r\n"
    );
    // The client's HELO name reaches the explanation through %{h}:
    // printable ASCII only, and at most 200 bytes of it.
    let mut c = Client::connect(s.addr());
    c.reply();
    let helo = format!("{}\x01\x1b[2J{}", "h".repeat(150), "j".repeat(150));
    assert!(c.cmd(&format!("EHLO {helo}")).starts_with("250"));
    let r = c.cmd("MAIL FROM:<x@exp.example>");
    let want = format!(
        "127.0.0.1 may not send for exp.example (helo {}[2J{})",
        "h".repeat(150),
        "j".repeat(150)
    );
    assert_eq!(r, format!("550 5.7.23 SPF fail: {}\r\n", &want[..200]));
    // Softfail and the rest are only recorded.
    let r = c.send_mail("x@soft.example", &["bob@example.org"], MSG);
    assert!(r.starts_with("250 "), "{r}");
    assert_eq!(s.messages("bob").len(), 1);
}

#[test]
fn the_null_sender_is_checked_by_its_helo_name() {
    let dns = dns_server::Server::zone(zone());
    let s = server(&dns, &[]);
    let mut c = Client::hello(s.addr());
    let r = c.send_mail("", &["bob@example.org"], MSG);
    assert!(r.starts_with("250 "), "{r}");
    let (added, _) = stored(&s);
    assert_eq!(
        added,
        "Authentication-Results: mx.test; spf=pass smtp.helo=client.example;\n\tdkim=none;\n\tdmarc=none header.from=example.com\n".to_string()
            + &received_spf(
                "pass",
                "domain of client.example designates 127.0.0.1 as permitted sender",
                "",
                "helo"
            )
    );
}

#[test]
fn forged_results_with_our_name_are_deleted_and_others_kept() {
    let dns = dns_server::Server::zone(zone());
    let s = server(&dns, &[]);
    let mut c = Client::hello(s.addr());
    let msg = b"Authentication-Results: MX.TEST; spf=pass smtp.mailfrom=ceo@bank.example\r\n\
Authentication-Results: other.example; spf=fail smtp.mailfrom=x@y.example\r\n\
Authentication-Results: (sneaky\r\n (nested) comment) mx.test;\r\n dkim=pass\r\n\
From: ceo@bank.example\r\n\
Subject: pay\r\n\
\r\n\
Authentication-Results: mx.test; spf=pass (in the body: kept)\r\n";
    let r = c.send_mail("alice@pass.example", &["bob@example.org"], msg);
    assert!(r.starts_with("250 "), "{r}");
    let (added, rest) = stored(&s);
    assert!(added.starts_with(
        "Authentication-Results: mx.test; spf=pass smtp.mailfrom=alice@pass.example;\n\tdkim=none;\n\tdmarc=none header.from=bank.example\n"
    ));
    assert_eq!(
        String::from_utf8(rest).unwrap(),
        "Authentication-Results: other.example; spf=fail smtp.mailfrom=x@y.example\n\
From: ceo@bank.example\n\
Subject: pay\n\
\n\
Authentication-Results: mx.test; spf=pass (in the body: kept)\n"
    );
    s.wait_log(|l| {
        l.iter().any(|l| {
            l.contains("removed 2 Authentication-Results field(s) claiming to be ours (mx.test)")
        })
    });
}

#[test]
fn skipped_clients_and_no_auth_get_no_checks_and_no_fields() {
    let dns = dns_server::Server::zone(zone());
    let at = dns.addr.to_string();
    for args in [
        vec!["--dns", &at],                             // loopback: skipped by default
        vec!["--auth-skip", "127.0.0.1", "--dns", &at], // skipped by name
        vec!["--no-auth", "--auth-skip", "none", "--dns", &at],
    ] {
        let s = Server::start(&args);
        let mut c = Client::hello(s.addr());
        let msg = b"Authentication-Results: mx.test; spf=pass\r\nSubject: x\r\n\r\nhi\r\n";
        let r = c.send_mail("alice@fail.example", &["bob@example.org"], msg);
        assert!(r.starts_with("250 "), "{args:?}: {r}");
        let m = &s.messages("bob")[0];
        let (_, rest) = split_trace(m);
        // The forged field is deleted whatever the checks.
        assert_eq!(rest, b"Subject: x\n\nhi\n", "{args:?}");
    }
    assert_eq!(dns.queries(), 0);
}

/// The hook sees the results in its environment.
#[test]
fn hooks_get_the_results() {
    let dns = dns_server::Server::zone(zone());
    let d = TempDir::new("authhook");
    let out = d.path().join("env");
    let hook = write_script(
        d.path(),
        &format!(
            "env | grep -E '^TINYMX_(SPF|AUTH|DKIM|DMARC|FROM)' | sort > {}\nexit 0\n",
            out.display()
        ),
    );
    let s = server(&dns, &["--filter", hook.to_str().unwrap()]);
    let mut c = Client::hello(s.addr());
    let r = c.send_mail("alice@pass.example", &["bob@example.org"], MSG);
    assert!(r.starts_with("250 "), "{r}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "TINYMX_AUTH=mx.test; spf=pass smtp.mailfrom=alice@pass.example; dkim=none; dmarc=none header.from=example.com\n\
         TINYMX_DKIM=none\n\
         TINYMX_DKIM_DOMAINS=\n\
         TINYMX_DMARC=none\n\
         TINYMX_FROM=a@example.com\n\
         TINYMX_FROM_DOMAIN=example.com\n\
         TINYMX_SPF=pass\n\
         TINYMX_SPF_DOMAIN=pass.example\n"
    );
}

/// An executable busybox sh script.
fn write_script(dir: &Path, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let sh = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox (make test-deps installs busybox-static)");
    let p = dir.join("hook");
    std::fs::write(&p, format!("#!{sh} sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}
