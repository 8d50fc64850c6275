//! Dialog fixtures: each file in `tests/dialogs/` is one SMTP dialog,
//! replayed twice with the same bytes in and the same replies out:
//! in-process against `tinymx::smtp::Session` (whole, and split every 1
//! to 7 bytes), and over a socket against the binary.
//!
//! The format, one item a line (`NAME.dialog`):
//!
//! - `# text` and empty lines: comments.
//! - `set: NAME VALUE`: a setting, before the first `C:`/`S:` line. The
//!   binary gets `--NAME VALUE`, the in-process session the same field.
//!   NAME is one of `max-size`, `max-rcpt`, `max-errors`, `domain`,
//!   `mailbox` (the last two may repeat). The hostname is always `mx.test`.
//! - `C: text`: the client sends `text` and CRLF (`C: ` alone sends an
//!   empty line). All client lines go out in one write, as a pipelining
//!   client may send them; the replies are the same whatever the split.
//! - `S: text`: the next reply line is exactly `text` and CRLF. A text
//!   ending in `*` matches any line that starts with what comes before it
//!   (the queue id in `250 2.0.0 Ok: queued as *`).
//!
//! If the last reply closes the session (221, 421), the server must then
//! close the connection.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use tinymx::config::Config;
use tinymx::smtp::{Output, Session};

struct Dialog {
    name: String,
    settings: Vec<(String, String)>,
    input: Vec<u8>,
    replies: Vec<String>,
}

fn load(path: &std::path::Path) -> Dialog {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap();
    let mut d = Dialog {
        name,
        settings: Vec::new(),
        input: Vec::new(),
        replies: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", d.name, n + 1);
        if let Some(c) = line.strip_prefix("C: ").or((line == "C:").then_some("")) {
            d.input.extend_from_slice(c.as_bytes());
            d.input.extend_from_slice(b"\r\n");
        } else if let Some(s) = line.strip_prefix("S: ") {
            d.replies.push(s.to_string());
        } else if let Some(set) = line.strip_prefix("set: ") {
            assert!(d.input.is_empty() && d.replies.is_empty(), "{}", at());
            let (k, v) = set.split_once(' ').unwrap_or_else(|| panic!("{}", at()));
            d.settings.push((k.to_string(), v.to_string()));
        } else {
            assert!(
                line.is_empty() || line.starts_with('#'),
                "{}: {line:?}",
                at()
            );
        }
    }
    d
}

fn dialogs() -> Vec<Dialog> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dialogs");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dialog"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "dialog fixtures missing: {paths:?}");
    paths.iter().map(|p| load(p)).collect()
}

/// The settings as the session's `Config`.
fn config(d: &Dialog) -> Config {
    let mut cfg = Config {
        hostname: "mx.test".into(),
        ..Config::default()
    };
    for (k, v) in &d.settings {
        let n = || v.parse().unwrap_or_else(|_| panic!("{}: {k} {v}", d.name));
        match k.as_str() {
            "max-size" => cfg.max_message_bytes = n() as u64,
            "max-rcpt" => cfg.max_recipients = n(),
            "max-errors" => cfg.max_errors = n(),
            "domain" => cfg.domains.push(v.to_ascii_lowercase()),
            "mailbox" => cfg.mailboxes.push(v.clone()),
            _ => panic!("{}: unknown setting {k}", d.name),
        }
    }
    cfg
}

/// Checks the reply lines against the dialog's `S:` lines.
fn check(d: &Dialog, how: &str, got: &[String]) {
    let shown = || format!("{} ({how}): got {got:#?}", d.name);
    assert_eq!(got.len(), d.replies.len(), "{}", shown());
    for (want, line) in d.replies.iter().zip(got) {
        let ok = match want.strip_suffix('*') {
            Some(prefix) => line.starts_with(prefix) && line.ends_with("\r\n"),
            None => *line == format!("{want}\r\n"),
        };
        assert!(ok, "{}: want {want:?}, got {line:?}", shown());
    }
}

/// A driver with working storage: every message is accepted.
fn run_in_process(cfg: &Config, input: &[u8], step: usize) -> Vec<String> {
    let mut s = Session::new(cfg);
    let mut replies = String::new();
    let mut chunks: Vec<&[u8]> = vec![b""];
    chunks.extend(input.chunks(step.max(1)));
    'read: for chunk in chunks {
        let mut pos = 0;
        loop {
            let (n, out) = s.advance(&chunk[pos..]);
            pos += n;
            match out {
                Output::NeedInput => break,
                Output::Reply(r) => {
                    replies.push_str(std::str::from_utf8(r.as_bytes()).unwrap());
                    if r.closes() {
                        break 'read;
                    }
                }
                Output::CheckStorage => s.storage_checked(true),
                Output::StartMessage => s.message_started(Ok(())),
                Output::Body(_) | Output::DropMessage | Output::AbandonMessage => {}
                Output::EndMessage => s.message_done(Ok("ID1")),
                // No dialog offers STARTTLS (the binary cannot).
                Output::StartTls => s.tls_started(),
            }
        }
    }
    replies.split_inclusive("\r\n").map(String::from).collect()
}

#[test]
fn dialogs_replayed_against_the_session() {
    for d in dialogs() {
        let cfg = config(&d);
        for step in [d.input.len(), 1, 2, 3, 4, 5, 6, 7] {
            let got = run_in_process(&cfg, &d.input, step);
            check(&d, &format!("in-process, split every {step} bytes"), &got);
        }
    }
}

#[test]
fn dialogs_replayed_against_the_binary() {
    for d in dialogs() {
        let args: Vec<String> = d
            .settings
            .iter()
            .flat_map(|(k, v)| [format!("--{k}"), v.clone()])
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::start(&args);
        let mut c = Client::connect(server.addr());
        c.stream.write_all(&d.input).unwrap();
        let mut reader = BufReader::new(c.stream.try_clone().unwrap());
        let mut got = Vec::new();
        while got.len() < d.replies.len() {
            let mut line = String::new();
            if reader.read_line(&mut line).expect("read reply") == 0 {
                break;
            }
            got.push(line);
        }
        check(&d, "over a socket", &got);
        let last = d.replies.last().map(String::as_str).unwrap_or("");
        if last.starts_with("221 ") || last.starts_with("421 ") {
            let mut rest = String::new();
            assert_eq!(reader.read_line(&mut rest).unwrap(), 0, "{}", d.name);
        }
    }
}
