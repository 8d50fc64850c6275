//! Fuzzes the address parser, the mailbox-name mapping and the trace
//! headers. Oracles: no panic; a mailbox name is always a safe file name;
//! nothing from the client can add a line to the stored headers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinymx::config::Config;
use tinymx::smtp::address::{self, Path};
use tinymx::smtp::command::{self, Command};
use tinymx::smtp::session::{Envelope, Recipient, resolve};
use tinymx::smtp::trace::{self, Trace};

fn safe_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && !n.starts_with('.')
        && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

fuzz_target!(|data: &[u8]| {
    if let Some((path, _rest)) = address::split_path(data) {
        for allow in [false, true] {
            if let Some(Path::Mailbox(a)) = address::parse_path(path, allow) {
                assert!(!a.raw.chars().any(char::is_control), "{:?}", a.raw);
                if let Some(n) = address::mailbox_name(&a.local) {
                    assert!(safe_name(&n), "{n:?}");
                }
            }
        }
    }
    let mut line = b"RCPT TO:".to_vec();
    line.extend_from_slice(data);
    let cfg = Config { catch_all: Some("misc".into()), mailboxes: vec!["bob".into()], ..Config::default() };
    if let Command::Rcpt(a) = command::parse(&line) {
        if let Ok(mailbox) = resolve(&cfg, &a) {
            assert!(safe_name(&mailbox), "{mailbox:?}");
            let env = Envelope { sender: a.raw.clone(), smtputf8: true, recipients: vec![] };
            let rcpt = Recipient { address: a.raw.clone(), mailbox };
            let t = Trace {
                helo: data,
                extended: true,
                client_ip: "::1".parse().unwrap(),
                hostname: "mx.test",
                session_id: "S",
                date: "Sat, 28 Nov 2026 14:30:26 +0000",
                tls: None,
            };
            let h = trace::headers(&t, &env, &rcpt);
            assert_eq!(h.matches('\n').count(), 3, "{h:?}");
            assert!(!h.contains('\r'));
        }
    }
});
