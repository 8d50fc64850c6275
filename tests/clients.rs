//! Real clients against the real binary: Python's smtplib and swaks.
//! (`make test` installs swaks when it is missing.)

mod common;

use common::*;
use std::process::Command;

/// The message as stored minus the three trace headers equals what the
/// client sent, with CRLF turned into LF.
fn assert_stored_as_sent(server: &Server, mailbox: &str, sent: &[u8]) -> Vec<String> {
    let msgs = server.messages(mailbox);
    assert_eq!(msgs.len(), 1);
    let (headers, body) = split_trace(&msgs[0]);
    assert!(
        body == to_lf(sent),
        "stored body differs from what was sent ({} vs {} bytes)",
        body.len(),
        sent.len()
    );
    headers
}

/// Runs one mode of tests/smtp_client.py against a fresh server (it checks
/// the parsed result itself); returns the server and the bytes it sent.
fn smtplib(mode: &str) -> (Server, Vec<u8>) {
    let server = Server::start(&[]);
    let expected = server.dir.path().join("expected.eml");
    let port = server.addr().port().to_string();
    let newdir = server.spool.join("bob/new");
    let args = [
        mode,
        &port,
        newdir.to_str().unwrap(),
        expected.to_str().unwrap(),
    ];
    assert_eq!(python("smtp_client.py", &args).trim(), "ok");
    let sent = std::fs::read(&expected).unwrap();
    (server, sent)
}

#[test]
fn smtplib_multi_megabyte_base64_attachment() {
    let (server, sent) = smtplib("attachment");
    assert!(
        sent.len() > 4_000_000,
        "attachment is multi-megabyte once encoded: {}",
        sent.len()
    );
    let h = assert_stored_as_sent(&server, "bob", &sent);
    assert_eq!(h[0], "Return-Path: <alice@example.com>");
}

#[test]
fn smtplib_smtputf8_addresses_and_subject() {
    let (server, sent) = smtplib("smtputf8");
    let h = assert_stored_as_sent(&server, "bob", &sent);
    assert_eq!(h[0], "Return-Path: <jörg@exämple.org>");
    assert_eq!(h[1], "Delivered-To: bob@exämple.org");
}

fn swaks(server: &Server, extra: &[&str]) -> String {
    let out = Command::new("swaks")
        .args([
            "--server",
            &server.addr().to_string(),
            "--helo",
            "client.example",
        ])
        .args(["--from", "alice@example.com", "--to", "bob@example.org"])
        .args(extra)
        .output()
        .expect("swaks is installed by make test (apt-get install swaks)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "swaks failed: {}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn swaks_pipelined_message_is_stored_byte_exact() {
    let server = Server::start(&[]);
    let msg = b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: via swaks\r\n\r\nline one\r\n.dot line\r\n\r\nlast line\r\n";
    let path = server.dir.path().join("msg.eml");
    // swaks reads the file as lines and sends each with CRLF.
    std::fs::write(&path, to_lf(msg)).unwrap();
    let transcript = swaks(&server, &["--pipeline", "--data", path.to_str().unwrap()]);
    assert!(
        transcript.contains("<-  250 2.0.0 Ok: queued as "),
        "{transcript}"
    );
    // swaks pipelined MAIL, RCPT and DATA in one write.
    assert!(
        transcript.contains(
            " -> MAIL FROM:<alice@example.com>\n -> RCPT TO:<bob@example.org>\n -> DATA\n"
        ),
        "{transcript}"
    );
    // swaks sends its own CRLF before the final dot (its transcript shows
    // the empty line), so the message on the wire is msg + CRLF.
    assert!(
        transcript.contains(" -> last line\r\n -> \r\n -> .\n"),
        "{transcript}"
    );
    assert_stored_as_sent(&server, "bob", &[&msg[..], b"\r\n"].concat());
}

#[test]
fn swaks_attachment_arrives_intact() {
    let server = Server::start(&[]);
    let att = server.dir.path().join("report.bin");
    let blob: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&att, &blob).unwrap();
    swaks(
        &server,
        &[
            "--attach",
            &format!("@{}", att.display()),
            "--attach-type",
            "application/octet-stream",
            "--attach-name",
            "report.bin",
        ],
    );
    let stored = files(&server.spool.join("bob/new"));
    assert_eq!(stored.len(), 1);
    let out = python(
        "smtp_client.py",
        &[
            "check-attachment",
            stored[0].to_str().unwrap(),
            att.to_str().unwrap(),
        ],
    );
    assert_eq!(out.trim(), "ok");
}
