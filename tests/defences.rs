//! The defences at the door against the real binary, on loopback: the
//! pregreet test (`--greet-delay`), DNS block and allow lists (`--dnsbl`,
//! `--dnswl`, `--dnsbl-threshold`) and iprev, with the tests' DNS server
//! (`--dns`). Every wait is on a condition (a reply, a log line, a file).
//! The clients are on loopback, which `--auth-skip` exempts from every
//! check by default: `--auth-skip none` screens them.

mod common;

use common::dns_server::{self, Zone};
use common::*;
use std::io::Write;
use std::path::Path;

const MSG: &[u8] = b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n";

/// 127.0.0.1 in the test zones.
const V4: &str = "1.0.0.127";

fn server(dns: &dns_server::Server, extra: &[&str]) -> Server {
    let at = dns.addr.to_string();
    let mut args = vec![
        "--auth-skip",
        "none",
        "--dns",
        &at,
        "--dns-timeout",
        "1",
        "--max-rate",
        "1000",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Greeting, EHLO, MAIL: the reply to one RCPT.
fn rcpt_reply(s: &Server) -> String {
    let mut c = Client::hello(s.addr());
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.com>"),
        "250 2.1.0 Sender ok\r\n"
    );
    let r = c.cmd("RCPT TO:<bob@example.org>");
    c.cmd("QUIT");
    r
}

fn dnsbl_line(s: &Server) -> String {
    s.wait_log(|l| l.iter().any(|l| l.contains(" dnsbl client=")));
    let lines = s.log_lines();
    let l = lines.iter().find(|l| l.contains(" dnsbl client=")).unwrap();
    l.split(" from=<a@example.com> ")
        .nth(1)
        .unwrap()
        .to_string()
}

const BLOCKED: &str = "550 5.7.1 Service unavailable; client [127.0.0.1] blocked using ";

/// Each kind of answer of one block list, as the reply to RCPT and the log.
#[test]
fn listing_cases() {
    let mut z = Zone::new();
    z.a(&format!("{V4}.listed.test"), "127.0.0.2")
        .a(&format!("{V4}.refused.test"), "127.255.255.254")
        .a(&format!("{V4}.outside.test"), "192.0.2.1")
        .a(&format!("{V4}.blocked.test"), "127.0.0.255")
        .timeout(&format!("{V4}.slow.test"));
    let dns = dns_server::Server::zone(z);
    let cases = [
        (
            "listed.test",
            Some("listed.test"),
            "listed listed.test=127.0.0.2 score=1",
        ),
        ("clean.test", None, "none score=0"),
        (
            "refused.test",
            None,
            "none refused.test=ignored:127.255.255.254 score=0",
        ),
        (
            "outside.test",
            None,
            "none outside.test=ignored:192.0.2.1 score=0",
        ),
        (
            "blocked.test",
            None,
            "none blocked.test=ignored:127.0.0.255 score=0",
        ),
        ("slow.test", None, "temperror slow.test=temperror score=0"),
    ];
    for (zone, blocked, logged) in cases {
        let s = server(&dns, &["--dnsbl", zone]);
        let r = rcpt_reply(&s);
        match blocked {
            Some(by) => assert_eq!(r, format!("{BLOCKED}{by}\r\n"), "{zone}"),
            None => assert_eq!(r, "250 2.1.5 Recipient ok\r\n", "{zone}"),
        }
        assert_eq!(dnsbl_line(&s), logged, "{zone}");
    }
}

/// A trusted client (`--auth-skip`, loopback by default) is not looked up.
#[test]
fn trusted_clients_are_not_looked_up() {
    let mut z = Zone::new();
    z.a(&format!("{V4}.listed.test"), "127.0.0.2");
    let dns = dns_server::Server::zone(z);
    let at = dns.addr.to_string();
    let s = Server::start(&["--dns", &at, "--dnsbl", "listed.test"]);
    assert_eq!(rcpt_reply(&s), "250 2.1.5 Recipient ok\r\n");
    assert_eq!(dns.queries(), 0);
    assert!(!s.log_lines().iter().any(|l| l.contains(" dnsbl ")));
}

/// Weights add up, an allow list subtracts, and the threshold decides.
#[test]
fn weights_allow_lists_and_the_threshold() {
    let mut z = Zone::new();
    z.a(&format!("{V4}.a.test"), "127.0.0.2")
        .a(&format!("{V4}.b.test"), "127.0.0.3")
        .a(&format!("{V4}.wl.test"), "127.0.10.1");
    let dns = dns_server::Server::zone(z);
    let cases: [(&[&str], Option<&str>, &str); 5] = [
        (
            &["--dnsbl", "a.test", "--dnsbl-threshold", "2"],
            None,
            "none a.test=127.0.0.2 score=1",
        ),
        (
            &[
                "--dnsbl",
                "a.test",
                "--dnsbl",
                "b.test=3",
                "--dnsbl-threshold",
                "2",
            ],
            Some("b.test"),
            "listed a.test=127.0.0.2 b.test=127.0.0.3 score=4",
        ),
        (
            &["--dnsbl", "a.test=2", "--dnswl", "wl.test=-2"],
            None,
            "none a.test=127.0.0.2 wl.test=127.0.10.1 score=0",
        ),
        (
            &["--dnsbl", "a.test=3", "--dnswl", "wl.test"],
            Some("a.test"),
            "listed a.test=127.0.0.2 wl.test=127.0.10.1 score=2",
        ),
        (
            &["--dnswl", "wl.test"],
            None,
            "none wl.test=127.0.10.1 score=-1",
        ),
    ];
    for (args, blocked, logged) in cases {
        let s = server(&dns, args);
        let r = rcpt_reply(&s);
        match blocked {
            Some(by) => assert_eq!(r, format!("{BLOCKED}{by}\r\n"), "{args:?}"),
            None => assert_eq!(r, "250 2.1.5 Recipient ok\r\n", "{args:?}"),
        }
        assert_eq!(dnsbl_line(&s), logged, "{args:?}");
    }
}

/// The names asked: IPv4 octets and IPv6 nibbles reversed (RFC 5782).
#[test]
fn query_names_for_ipv4_and_ipv6_clients() {
    let dns = dns_server::Server::zone(Zone::new());
    let at = dns.addr.to_string();
    let s = Server::start_with(
        &["-l", "127.0.0.1:0", "-l", "[::1]:0", "-n", "mx.test"],
        &[
            "--auth-skip",
            "none",
            "--no-iprev",
            "--dns",
            &at,
            "--dnsbl",
            "bl.test",
        ],
    );
    for addr in &s.addrs {
        let mut c = Client::hello(*addr);
        assert_eq!(
            c.cmd("MAIL FROM:<a@example.com>"),
            "250 2.1.0 Sender ok\r\n"
        );
        c.cmd("QUIT");
    }
    let v6 = format!("1.{}bl.test", "0.".repeat(31));
    let a_queries = || -> Vec<String> {
        let asked = dns.asked().into_iter();
        asked.filter(|(_, t)| *t == 1).map(|(n, _)| n).collect()
    };
    wait_until("both queries", || a_queries().len() >= 2);
    let mut asked = a_queries();
    asked.sort();
    let mut want = [format!("{V4}.bl.test"), v6];
    want.sort();
    assert_eq!(asked, want);
}

/// A client that talks before the greeting gets 554 and is closed; one
/// that waits is served; without a delay nothing changes.
#[test]
fn pregreet() {
    let s = Server::start(&["--greet-delay", "2", "--auth-skip", "none", "--no-auth"]);
    let mut bot = Client::connect(s.addr());
    bot.send(b"EHLO bot.example\r\n");
    assert_eq!(bot.reply(), "554 5.5.1 Protocol error\r\n");
    assert!(bot.closed());
    s.wait_log(|l| {
        l.iter()
            .any(|l| l.contains("talked before the greeting: EHLO bot.example"))
            && l.iter().any(|l| l.contains("end=pregreet"))
    });
    // A patient client: the greeting comes after the delay.
    let mut c = Client::hello(s.addr());
    let r = c.send_mail("a@example.com", &["bob@example.org"], MSG);
    assert!(r.starts_with("250 "), "{r}");

    // A trusted client (--auth-skip, loopback by default) gets no delay.
    let s = Server::start(&["--greet-delay", "600"]);
    let mut c = Client::connect(s.addr());
    c.stream.write_all(b"EHLO local.example\r\n").unwrap();
    assert_eq!(c.reply(), "220 mx.test ESMTP tinymx\r\n");
    assert!(c.reply().starts_with("250-mx.test\r\n"));

    // No delay: a client may even send before reading the greeting.
    let s = Server::start(&["--auth-skip", "none", "--no-auth"]);
    let mut c = Client::connect(s.addr());
    c.stream.write_all(b"EHLO eager.example\r\n").unwrap();
    assert_eq!(c.reply(), "220 mx.test ESMTP tinymx\r\n");
    assert!(c.reply().starts_with("250-mx.test\r\n"));
}

/// iprev: pass, fail (the name does not lead back), permerror (no PTR),
/// temperror (no answer), in Authentication-Results.
#[test]
fn iprev_results() {
    let ip = "127.0.0.1".parse().unwrap();
    let cases = [
        ("pass", "iprev=pass policy.iprev=127.0.0.1 (client.test)"),
        ("fail", "iprev=fail policy.iprev=127.0.0.1"),
        ("permerror", "iprev=permerror policy.iprev=127.0.0.1"),
        ("temperror", "iprev=temperror policy.iprev=127.0.0.1"),
    ];
    for (case, want) in cases {
        let mut z = Zone::new();
        match case {
            "pass" => {
                z.ptr_for(ip, "other.test")
                    .ptr_for(ip, "client.test")
                    .a("client.test", "127.0.0.1")
                    .a("other.test", "192.0.2.9");
            }
            "fail" => {
                z.ptr_for(ip, "client.test").a("client.test", "192.0.2.9");
            }
            "temperror" => {
                z.timeout(&tinymx::spf::zone::reverse_name(ip));
            }
            _ => {}
        }
        let dns = dns_server::Server::zone(z);
        let s = server(&dns, &[]);
        let mut c = Client::hello(s.addr());
        let r = c.send_mail("a@example.com", &["bob@example.org"], MSG);
        assert!(r.starts_with("250 "), "{case}: {r}");
        let m = String::from_utf8(s.messages("bob").remove(0)).unwrap();
        let ar = m.split("\nReceived-SPF:").next().unwrap();
        assert!(ar.ends_with(&format!(";\n\t{want}")), "{case}: {ar}");
    }
}

/// `--no-iprev`: no PTR query, no iprev result.
#[test]
fn no_iprev_asks_nothing_more() {
    let dns = dns_server::Server::zone(Zone::new());
    let s = server(&dns, &["--no-iprev"]);
    let mut c = Client::hello(s.addr());
    let r = c.send_mail("a@example.com", &["bob@example.org"], MSG);
    assert!(r.starts_with("250 "), "{r}");
    let m = String::from_utf8(s.messages("bob").remove(0)).unwrap();
    assert!(!m.contains("iprev"), "{m}");
    assert!(
        dns.asked().iter().all(|(_, t)| *t != 12),
        "{:?}",
        dns.asked()
    );
}

/// A hook sees TINYMX_DNSBL and TINYMX_CLIENT_NAME.
#[test]
fn hooks_see_the_results() {
    let ip = "127.0.0.1".parse().unwrap();
    let mut z = Zone::new();
    z.ptr_for(ip, "client.test")
        .a("client.test", "127.0.0.1")
        .a(&format!("{V4}.wl.test"), "127.0.10.1");
    let dns = dns_server::Server::zone(z);
    let d = TempDir::new("defhook");
    let out = d.path().join("env");
    let hook = write_script(
        d.path(),
        &format!(
            "env | grep -E '^TINYMX_(DNSBL|CLIENT_NAME)=' | sort > {}.tmp && mv {0}.tmp {0}\n",
            out.display()
        ),
    );
    let s = server(
        &dns,
        &["--dnswl", "wl.test", "--exec", hook.to_str().unwrap()],
    );
    let mut c = Client::hello(s.addr());
    let r = c.send_mail("a@example.com", &["bob@example.org"], MSG);
    assert!(r.starts_with("250 "), "{r}");
    wait_until("the hook's output", || out.exists());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "TINYMX_CLIENT_NAME=client.test\nTINYMX_DNSBL=none wl.test=127.0.10.1 score=-1\n"
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
