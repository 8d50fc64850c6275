//! End-to-end tests: the real binary on a loopback port, real clients,
//! exact replies and the exact bytes that land in the Maildir.

mod common;

use common::*;
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, Instant};

/// Checks a Received line: everything but the date exactly; the date
/// against the RFC 5322 grammar (`tinymx::date::parse`, tested on the
/// shared vectors), in UTC, and no older than the test run.
fn assert_received(line: &str, helo: &str, ip: &str, with: &str, rcpt: &str) {
    let prefix = format!("Received: from {helo} ([{ip}]) by mx.test (tinymx) with {with} id ");
    assert!(
        line.starts_with(&prefix),
        "{line:?} does not start with {prefix:?}"
    );
    let rest = &line[prefix.len()..];
    let (id, rest) = rest.split_once(' ').unwrap();
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "id {id:?}"
    );
    let date = rest
        .strip_prefix(&format!("for <{rcpt}>; "))
        .unwrap_or_else(|| panic!("{line:?}"));
    let when = tinymx::date::parse(date.as_bytes())
        .unwrap_or_else(|| panic!("{date:?} is not an RFC 5322 date-time"));
    assert!(date.ends_with(" +0000"), "{date:?} is not UTC");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // The whole test binary runs within this hour; the clock only moves on.
    assert!(
        (now - 3600..=now + 1).contains(&when),
        "{date:?} is not the time of this run (now {now})"
    );
}

const MESSAGE: &[u8] = b"From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: plain test\r\n\r\nHello Bob,\r\n..a stuffed dot line\r\nbye\r\n";

#[test]
fn plain_message_lands_byte_exact_in_new() {
    let server = Server::start(&[]);
    let mut c = Client::hello(server.addr());
    let reply = c.send_mail("alice@example.com", &["bob@example.org"], MESSAGE);
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply:?}");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye\r\n");
    assert!(c.closed());

    let msgs = server.messages("bob");
    assert_eq!(msgs.len(), 1);
    let (h, body) = split_trace(&msgs[0]);
    assert_eq!(h[0], "Return-Path: <alice@example.com>");
    assert_eq!(h[1], "Delivered-To: bob@example.org");
    assert_received(
        &h[2],
        "client.example",
        "127.0.0.1",
        "ESMTP",
        "bob@example.org",
    );
    assert_eq!(
        body,
        b"From: Alice <alice@example.com>\nTo: bob@example.org\nSubject: plain test\n\nHello Bob,\n.a stuffed dot line\nbye\n"
    );
    // The 250's id names the session in the Received header.
    let queued = reply.trim_end().rsplit(' ').next().unwrap();
    let sid = h[2]
        .split(" id ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert_eq!(queued, format!("{sid}.1"));
    // Nothing left in tmp/, cur/ exists, and the log has one line for it.
    assert!(files(&server.spool.join("bob/tmp")).is_empty());
    assert!(server.spool.join("bob/cur").is_dir());
    // One log line for the message: session id, sender, recipients, client, size, file.
    let file = files(&server.spool.join("bob/new"))[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let want = format!(
        "tinymx: {sid} accepted id={sid}.1 from=<alice@example.com> to=<bob@example.org> client=[127.0.0.1]:{} size={} files=bob/new/{file}",
        c.stream.local_addr().unwrap().port(),
        MESSAGE.len() - 1
    );
    server.wait_log(|l| l.contains(&want));
    let closed = format!("tinymx: {sid} disconnect from [127.0.0.1]:");
    server.wait_log(|l| {
        l.iter()
            .any(|l| l.starts_with(&closed) && l.contains(" messages=1 "))
    });
}

#[test]
fn spool_and_files_are_private() {
    let server = Server::start(&[]);
    let mut c = Client::hello(server.addr());
    c.send_mail("a@example.com", &["bob@example.org"], b"x\r\n");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&server.spool), 0o700);
    for d in ["bob", "bob/tmp", "bob/new", "bob/cur"] {
        assert_eq!(mode(&server.spool.join(d)), 0o700, "{d}");
    }
    let f = &files(&server.spool.join("bob/new"))[0];
    assert_eq!(mode(f), 0o600);
    // Maildir name: SECONDS.MusecPpidQseq.HOST
    let name = f.file_name().unwrap().to_str().unwrap();
    let pid = server.child.id();
    assert!(name.contains(&format!("P{pid}Q")), "{name}");
    assert!(name.ends_with(".mx.test"), "{name}");
}

#[test]
fn eight_bit_and_binary_content_is_stored_unchanged() {
    let server = Server::start(&[]);
    let mut c = Client::hello(server.addr());
    let mut data = b"Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
    data.extend_from_slice("Grüße aus Köln — ✓\r\n".as_bytes());
    // Every byte value except CR and LF, on one very long line.
    let all: Vec<u8> = (0..=255u8)
        .filter(|&b| b != b'\r' && b != b'\n')
        .cycle()
        .take(20_000)
        .collect();
    data.extend_from_slice(&all);
    data.extend_from_slice(b"\r\n");
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.com> BODY=8BITMIME"),
        "250 2.1.0 Sender ok\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<bob@example.org>"),
        "250 2.1.5 Recipient ok\r\n"
    );
    assert_eq!(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    c.send(&data);
    c.send(b".\r\n");
    assert!(c.reply().starts_with("250 2.0.0 Ok"));
    let (_, body) = split_trace(&server.messages("bob")[0]);
    assert_eq!(body, to_lf(&data));
}

#[test]
fn several_recipients_get_one_copy_each() {
    let server = Server::start(&["-D", "example.org"]);
    let mut c = Client::hello(server.addr());
    let reply = c.send_mail(
        "a@example.com",
        &[
            "bob@example.org",
            "Carol+news@Example.ORG",
            "bob+x@example.org",
        ],
        MESSAGE,
    );
    assert!(reply.starts_with("250 "));
    let bob = server.messages("bob");
    let carol = server.messages("carol");
    assert_eq!(
        (bob.len(), carol.len()),
        (1, 1),
        "bob+x maps to bob: one copy"
    );
    let (hb, bb) = split_trace(&bob[0]);
    let (hc, bc) = split_trace(&carol[0]);
    assert_eq!(bb, bc);
    assert_eq!(bb, to_lf(&MESSAGE.replace_stuffed()));
    assert_eq!(hb[1], "Delivered-To: bob@example.org");
    assert_eq!(hc[1], "Delivered-To: Carol+news@Example.ORG");
    assert_received(
        &hc[2],
        "client.example",
        "127.0.0.1",
        "ESMTP",
        "Carol+news@Example.ORG",
    );
}

trait Unstuff {
    fn replace_stuffed(&self) -> Vec<u8>;
}

impl Unstuff for [u8] {
    /// MESSAGE with its one stuffed line unstuffed.
    fn replace_stuffed(&self) -> Vec<u8> {
        String::from_utf8(self.to_vec())
            .unwrap()
            .replace("\r\n..a stuffed", "\r\n.a stuffed")
            .into_bytes()
    }
}

#[test]
fn oversized_message_gets_552_and_the_session_goes_on() {
    let server = Server::start(&["--max-size", "10k"]);
    let mut c = Client::hello(server.addr());
    assert!(c.cmd("EHLO again").contains("250-SIZE 10240\r\n"));
    // Declared too large: refused at MAIL.
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.com> SIZE=10241"),
        "552 5.3.4 Message size exceeds fixed limit\r\n"
    );
    // Undeclared and too large: read to the end, then refused.
    let big = "x".repeat(998) + "\r\n";
    let reply = c.send_mail(
        "a@example.com",
        &["bob@example.org"],
        big.repeat(11).as_bytes(),
    );
    assert_eq!(reply, "552 5.3.4 Message size exceeds fixed limit\r\n");
    assert!(server.messages("bob").is_empty());
    assert!(files(&server.spool.join("bob/tmp")).is_empty());
    // Exactly at the limit (10 × 1000 + 240 = 10240 bytes with CRLFs): accepted.
    let exact = big.repeat(10) + &"y".repeat(238) + "\r\n";
    assert_eq!(exact.len(), 10240);
    assert!(
        c.send_mail("a@example.com", &["bob@example.org"], exact.as_bytes())
            .starts_with("250 ")
    );
    assert_eq!(server.messages("bob").len(), 1);
    server.wait_log(|l| {
        l.iter()
            .any(|l| l.contains(" refused id=") && l.contains("552 5.3.4"))
    });
}

#[test]
fn relaying_is_refused() {
    let server = Server::start(&["-D", "example.org"]);
    let mut c = Client::hello(server.addr());
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.com>"),
        "250 2.1.0 Sender ok\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<victim@elsewhere.net>"),
        "550 5.7.1 Relaying denied\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<bob@sub.example.org>"),
        "550 5.7.1 Relaying denied\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<postmaster@elsewhere.net>"),
        "550 5.7.1 Relaying denied\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<bob@EXAMPLE.org>"),
        "250 2.1.5 Recipient ok\r\n"
    );
    assert_eq!(c.cmd("RCPT TO:<postmaster>"), "250 2.1.5 Recipient ok\r\n");
}

#[test]
fn mailbox_allow_list_catch_all_and_postmaster() {
    let server = Server::start(&["-D", "example.org", "-m", "alice", "-m", "bob"]);
    let mut c = Client::hello(server.addr());
    assert_eq!(c.cmd("MAIL FROM:<>"), "250 2.1.0 Sender ok\r\n");
    assert_eq!(
        c.cmd("RCPT TO:<zed@example.org>"),
        "550 5.1.1 No such mailbox here\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<PostMaster@example.org>"),
        "250 2.1.5 Recipient ok\r\n"
    );
    drop(c);
    let server2 = Server::start(&["-m", "alice", "-c", "misc"]);
    let mut c = Client::hello(server2.addr());
    assert!(
        c.send_mail(
            "a@example.com",
            &["zed@anything.org", "postmaster@anything.org"],
            b"hi\r\n"
        )
        .starts_with("250 ")
    );
    assert_eq!(server2.messages("misc").len(), 1);
    assert_eq!(server2.messages("postmaster").len(), 1);
    let (h, _) = split_trace(&server2.messages("misc")[0]);
    assert_eq!(h[0], "Return-Path: <a@example.com>");
    assert_eq!(h[1], "Delivered-To: zed@anything.org");
}

#[test]
fn bounce_with_null_sender_is_accepted() {
    let server = Server::start(&[]);
    let mut c = Client::hello(server.addr());
    assert!(
        c.send_mail(
            "",
            &["bob@example.org"],
            b"Subject: bounce\r\n\r\nreturned\r\n"
        )
        .starts_with("250 ")
    );
    let (h, _) = split_trace(&server.messages("bob")[0]);
    assert_eq!(h[0], "Return-Path: <>");
}

#[test]
fn path_traversal_names_never_touch_the_file_system() {
    let server = Server::start(&["--max-errors", "100"]);
    let mut c = Client::hello(server.addr());
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.com>"),
        "250 2.1.0 Sender ok\r\n"
    );
    for bad in [
        "../../etc@example.org",
        "..@example.org",
        ".@example.org",
        ".hidden@example.org",
        "a/b@example.org",
        "\"../x\"@example.org",
        "\"a\\\\b\"@example.org",
        "+x@example.org",
    ] {
        assert_eq!(
            c.cmd(&format!("RCPT TO:<{bad}>")),
            "553 5.1.3 Mailbox name not allowed\r\n",
            "{bad}"
        );
    }
    for bad in [
        "a\x01b@example.org",
        "a b@example.org",
        "<x@example.org",
        "x@",
        "@example.org",
        "\"unterminated@example.org",
    ] {
        assert_eq!(
            c.cmd(&format!("RCPT TO:<{bad}>")),
            "501 5.1.3 Bad recipient address syntax\r\n",
            "{bad:?}"
        );
    }
    // A NUL byte inside the command.
    c.send(b"RCPT TO:<a\0b@example.org>\r\n");
    assert_eq!(c.reply(), "501 5.1.3 Bad recipient address syntax\r\n");
    assert_eq!(c.cmd("DATA"), "503 5.5.1 Need RCPT command\r\n");
    assert_eq!(
        tree(&server.spool),
        Vec::<String>::new(),
        "nothing created in the spool"
    );
    assert_eq!(
        tree(server.dir.path()),
        vec!["spool".to_string()],
        "nothing created beside it"
    );
}

#[test]
fn smtp_smuggling_cannot_inject_a_second_message() {
    let server = Server::start(&[]);
    let mut c = Client::hello(server.addr());
    let mut data = b"Subject: one\r\n\r\nfirst\r\n".to_vec();
    for fake_end in [&b"\n.\n"[..], b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n"] {
        data.extend_from_slice(fake_end);
        data.extend_from_slice(b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n");
    }
    let reply = c.send_mail("a@example.com", &["bob@example.org"], &data);
    assert!(reply.starts_with("250 "), "{reply:?}");
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 Ok\r\n", "no stray replies queued");
    let msgs = server.messages("bob");
    assert_eq!(msgs.len(), 1, "exactly one message");
    let (_, body) = split_trace(&msgs[0]);
    assert_eq!(
        body.windows(18)
            .filter(|w| w == b"Subject: smuggled\n")
            .count(),
        5
    );
}

#[test]
fn pipelined_group_gets_all_replies_in_order() {
    let server = Server::start(&[]);
    let mut c = Client::connect(server.addr());
    assert_eq!(c.reply(), "220 mx.test ESMTP tinymx\r\n");
    c.send(b"EHLO c.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<x@example.org>\r\nRCPT TO:<y@example.org>\r\nDATA\r\n");
    assert!(c.reply().ends_with("250 ENHANCEDSTATUSCODES\r\n"));
    assert_eq!(c.reply(), "250 2.1.0 Sender ok\r\n");
    assert_eq!(c.reply(), "250 2.1.5 Recipient ok\r\n");
    assert_eq!(c.reply(), "250 2.1.5 Recipient ok\r\n");
    assert_eq!(c.reply(), "354 End data with <CR><LF>.<CR><LF>\r\n");
    c.send(b"one\r\n.\r\nRSET\r\nMAIL FROM:<>\r\nRCPT TO:<x@example.org>\r\nDATA\r\n");
    assert!(c.reply().starts_with("250 2.0.0 Ok: queued as "));
    assert_eq!(c.reply(), "250 2.0.0 Ok\r\n");
    assert_eq!(c.reply(), "250 2.1.0 Sender ok\r\n");
    assert_eq!(c.reply(), "250 2.1.5 Recipient ok\r\n");
    assert_eq!(c.reply(), "354 End data with <CR><LF>.<CR><LF>\r\n");
    c.send(b"two\r\n.\r\nQUIT\r\n");
    assert!(c.reply().starts_with("250 2.0.0 Ok: queued as "));
    assert_eq!(c.reply(), "221 2.0.0 Bye\r\n");
    assert_eq!(server.messages("x").len(), 2);
    assert_eq!(server.messages("y").len(), 1);
}

#[test]
fn bdat_stores_the_same_bytes_as_data() {
    let server = Server::start(&[]);
    let mut c = Client::hello(server.addr());
    let r = c.send_mail("a@example.com", &["bob@example.org"], &stuffed(MESSAGE));
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r:?}");
    // Every CRLF cut in two by a chunk boundary at least once.
    let crs: Vec<usize> = (0..MESSAGE.len())
        .filter(|&i| MESSAGE[i] == b'\r')
        .map(|i| i + 1)
        .collect();
    let r = c.send_bdat("a@example.com", &["carol@example.org"], MESSAGE, &crs);
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r:?}");
    // One chunk, and BDAT 0 LAST after it.
    let mut cuts = vec![MESSAGE.len()];
    cuts.insert(0, 5);
    let r = c.send_bdat("a@example.com", &["dave@example.org"], MESSAGE, &cuts);
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r:?}");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye\r\n");
    let body = |mb: &str| {
        let m = server.messages(mb);
        assert_eq!(m.len(), 1, "{mb}");
        let (h, body) = split_trace(&m[0]);
        assert_eq!(h.len(), 3, "{h:?}");
        body
    };
    assert_eq!(body("bob"), to_lf(MESSAGE));
    assert_eq!(body("carol"), to_lf(MESSAGE));
    assert_eq!(body("dave"), to_lf(MESSAGE));
}

#[test]
fn a_refused_bdat_chunk_is_never_read_as_commands() {
    let server = Server::start(&[]);
    let mut c = Client::hello(server.addr());
    let evil = b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<bob@example.org>\r\nBDAT 1 LAST\r\nx";
    c.send(format!("BDAT {}\r\n", evil.len()).as_bytes());
    c.send(evil);
    assert_eq!(c.reply(), "503 5.5.1 Need MAIL command\r\n");
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 Ok\r\n", "no stray replies queued");
    // An unreadable size: 501, then 421 and the connection closes.
    c.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.org>\r\nBDAT 0x10\r\n");
    assert_eq!(c.reply(), "250 2.1.0 Sender ok\r\n");
    assert_eq!(c.reply(), "250 2.1.5 Recipient ok\r\n");
    assert_eq!(c.reply(), "501 5.5.4 Syntax: BDAT size [LAST]\r\n");
    assert_eq!(
        c.reply(),
        "421 4.5.0 BDAT size unreadable, closing connection\r\n"
    );
    assert!(c.closed());
    assert!(server.messages("bob").is_empty());
}

#[test]
fn bdat_over_max_size_is_552_after_last_and_leaves_no_file() {
    let server = Server::start(&["--max-size", "100"]);
    let mut c = Client::hello(server.addr());
    let msg = vec![b'x'; 150];
    let r = c.send_bdat("a@example.com", &["bob@example.org"], &msg, &[60, 120]);
    assert_eq!(r, "552 5.3.4 Message size exceeds fixed limit\r\n");
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 Ok\r\n");
    // An RSET between chunks abandons the message; nothing is left in tmp/.
    c.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<bob@example.org>\r\nBDAT 3\r\nabcRSET\r\n");
    for want in [
        "250 2.1.0 Sender ok\r\n",
        "250 2.1.5 Recipient ok\r\n",
        "250 2.0.0 Chunk received\r\n",
        "250 2.0.0 Ok\r\n",
    ] {
        assert_eq!(c.reply(), want);
    }
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye\r\n");
    server.wait_log(|l| l.iter().any(|l| l.contains("abandoned id=")));
    assert!(server.messages("bob").is_empty());
    assert!(files(&server.spool.join("bob").join("tmp")).is_empty());
}

// The other protocol errors and --max-rcpt: tests/dialogs/protocol-errors.dialog
// and max-rcpt-452.dialog, replayed by tests/dialogs.rs.

#[test]
fn over_long_lines_get_500_and_their_tail_is_skipped() {
    let server = Server::start(&["--max-errors", "100"]);
    let mut c = Client::connect(server.addr());
    c.reply();
    // An over-long line: 500 5.5.6, its tail is not run as a command.
    let long = format!("NOOP {}QUIT", "x".repeat(600));
    assert_eq!(c.cmd(&long), "500 5.5.6 Line too long\r\n");
    let very_long = format!("MAIL FROM:<a@example.com> {}\r\nNOOP", "RSET ".repeat(1000));
    assert_eq!(c.cmd(&very_long), "500 5.5.6 Line too long\r\n");
    assert_eq!(c.reply(), "250 2.0.0 Ok\r\n");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye\r\n");
}

#[test]
fn bad_helo_name_cannot_reach_the_header() {
    let server = Server::start(&[]);
    let mut c = Client::connect(server.addr());
    c.reply();
    assert_eq!(c.cmd("HELO bad_name\x01\x7f"), "250 mx.test\r\n");
    c.send_mail("a@example.com", &["bob@example.org"], b"x\r\n");
    let (h, _) = split_trace(&server.messages("bob")[0]);
    assert_received(&h[2], "unknown", "127.0.0.1", "SMTP", "bob@example.org");
}

#[test]
fn storage_failure_answers_451_and_stores_nothing_anywhere() {
    let server = Server::start(&[]);
    // carol's new/ is a file: linking into it must fail.
    std::fs::create_dir_all(server.spool.join("carol")).unwrap();
    for d in ["tmp", "cur"] {
        std::fs::create_dir(server.spool.join("carol").join(d)).unwrap();
    }
    std::fs::write(server.spool.join("carol/new"), b"not a directory").unwrap();
    let mut c = Client::hello(server.addr());
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.com>"),
        "250 2.1.0 Sender ok\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<bob@example.org>"),
        "250 2.1.5 Recipient ok\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<carol@example.org>"),
        "250 2.1.5 Recipient ok\r\n"
    );
    assert_eq!(
        c.cmd("DATA"),
        "451 4.3.0 Local error in processing, try again later\r\n"
    );
    assert!(server.messages("bob").is_empty(), "all or nothing");
    assert!(files(&server.spool.join("bob/tmp")).is_empty());
    // The session goes on; a message to bob alone works.
    assert!(
        c.send_mail("a@example.com", &["bob@example.org"], b"x\r\n")
            .starts_with("250 ")
    );
}

#[test]
fn connection_limits_answer_421_at_once() {
    let server = Server::start(&["--max-conn", "2", "--max-per-ip", "5"]);
    let mut a = Client::hello(server.addr());
    let _b = Client::hello(server.addr());
    let mut c = Client::connect(server.addr());
    assert_eq!(
        c.reply(),
        "421 4.7.0 Too many connections, try again later\r\n"
    );
    assert!(c.closed());
    // A slot frees when a session ends.
    assert_eq!(a.cmd("QUIT"), "221 2.0.0 Bye\r\n");
    assert!(a.closed());
    let deadline = Instant::now() + WAIT;
    loop {
        let mut d = Client::connect(server.addr());
        let r = d.reply();
        if r.starts_with("220 ") {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed");
        std::thread::sleep(Duration::from_millis(20));
    }

    let server = Server::start(&["--max-per-ip", "1"]);
    let _a = Client::hello(server.addr());
    let mut b = Client::connect(server.addr());
    assert_eq!(
        b.reply(),
        "421 4.7.0 Too many connections from your address, try again later\r\n"
    );
    assert!(b.closed());
}

#[test]
fn idle_session_times_out_with_421() {
    let server = Server::start(&["--timeout", "1"]);
    let mut c = Client::hello(server.addr());
    let start = Instant::now();
    assert_eq!(
        c.reply(),
        "421 4.4.2 Timeout exceeded, closing connection\r\n"
    );
    assert!(c.closed());
    assert!(start.elapsed() >= Duration::from_millis(900));
}

#[test]
fn sigterm_closes_idle_sessions_and_exits_zero() {
    let mut server = Server::start(&[]);
    let mut idle = Client::hello(server.addr());
    let mut partial = Client::hello(server.addr());
    partial.send(b"NOOP"); // half a command
    server.signal(libc::SIGTERM);
    assert_eq!(
        idle.reply(),
        "421 4.3.2 Service shutting down, closing connection\r\n"
    );
    assert_eq!(
        partial.reply(),
        "421 4.3.2 Service shutting down, closing connection\r\n"
    );
    assert!(idle.closed());
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sigint_stops_like_sigterm() {
    let mut server = Server::start(&[]);
    let mut idle = Client::hello(server.addr());
    server.signal(libc::SIGINT);
    assert_eq!(
        idle.reply(),
        "421 4.3.2 Service shutting down, closing connection\r\n"
    );
    assert_eq!(server.wait_exit().code(), Some(0));
    // The port is closed: nothing listens any more.
    assert!(std::net::TcpStream::connect(server.addr()).is_err());
}

#[test]
fn sigterm_lets_a_message_in_progress_finish() {
    let mut server = Server::start(&[]);
    let mut c = Client::hello(server.addr());
    c.open_data("a@example.com", &["bob@example.org"]);
    c.send(b"Subject: late\r\n\r\nfirst half\r\n");
    server.signal(libc::SIGTERM);
    server.wait_log(|l| l.iter().any(|l| l.contains("shutting down")));
    c.send(b"second half\r\n.\r\n");
    assert!(c.reply().starts_with("250 2.0.0 Ok: queued as "));
    // Then the session is closed.
    assert_eq!(
        c.reply(),
        "421 4.3.2 Service shutting down, closing connection\r\n"
    );
    assert_eq!(server.wait_exit().code(), Some(0));
    let (_, body) = split_trace(&server.messages("bob")[0]);
    assert_eq!(body, b"Subject: late\n\nfirst half\nsecond half\n");
}

#[test]
fn sigterm_drops_an_unfinished_message_after_the_grace_period() {
    let mut server = Server::start(&[]);
    let mut c = Client::hello(server.addr());
    c.open_data("a@example.com", &["bob@example.org"]);
    c.send(b"Subject: never finished\r\n\r\npartial");
    // The tmp file exists while the message is open.
    let deadline = Instant::now() + WAIT;
    while files(&server.spool.join("bob/tmp")).is_empty() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    // A file in tmp/ that is not ours must survive.
    std::fs::write(server.spool.join("bob/tmp/other-instance"), b"x").unwrap();
    let start = Instant::now();
    server.signal(libc::SIGTERM);
    assert_eq!(
        c.reply(),
        "421 4.3.2 Service shutting down, closing connection\r\n"
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(9),
        "grace period was {waited:?}"
    );
    assert_eq!(server.wait_exit().code(), Some(0));
    assert!(server.messages("bob").is_empty());
    let tmp: Vec<_> = files(&server.spool.join("bob/tmp"))
        .iter()
        .map(|p| p.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(tmp, vec![std::ffi::OsString::from("other-instance")]);
}

#[test]
fn ipv6_loopback_and_dual_stack() {
    let server = Server::start_with(&["-n", "mx.test"], &["-l", "[::1]:0"]);
    assert!(server.addr().is_ipv6());
    let mut c = Client::hello(server.addr());
    c.send_mail("a@example.com", &["bob@example.org"], b"x\r\n");
    let (h, _) = split_trace(&server.messages("bob")[0]);
    assert_received(
        &h[2],
        "client.example",
        "IPv6:::1",
        "ESMTP",
        "bob@example.org",
    );

    // ":0" is one dual-stack socket: IPv4 and IPv6 clients alike.
    let server = Server::start_with(&["-n", "mx.test"], &["-l", ":0"]);
    assert_eq!(server.addrs.len(), 1);
    let port = server.addr().port();
    for addr in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        let mut c = Client::hello(addr.parse::<SocketAddr>().unwrap());
        assert!(
            c.send_mail("a@example.com", &["bob@example.org"], b"x\r\n")
                .starts_with("250 ")
        );
    }
    let ips: Vec<String> = server
        .messages("bob")
        .iter()
        .map(|m| split_trace(m).0[2].clone())
        .collect();
    assert!(ips.iter().any(|h| h.contains("([127.0.0.1])")), "{ips:?}");
    assert!(ips.iter().any(|h| h.contains("([IPv6:::1])")), "{ips:?}");
}

#[test]
fn several_listen_addresses() {
    let server = Server::start_with(&["-n", "mx.test"], &["-l", "127.0.0.1:0", "-l", "[::1]:0"]);
    assert_eq!(server.addrs.len(), 2);
    for addr in &server.addrs {
        let mut c = Client::connect(*addr);
        assert_eq!(c.reply(), "220 mx.test ESMTP tinymx\r\n");
    }
}

#[test]
fn default_hostname_is_the_system_name() {
    let server = Server::start_with(&["-l", "127.0.0.1:0"], &[]);
    let mut c = Client::connect(server.addr());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(c.reply(), format!("220 {} ESMTP tinymx\r\n", host.trim()));
}

#[test]
fn busy_port_is_a_clear_error_with_status_1() {
    let server = Server::start(&[]);
    let addr = server.addr().to_string();
    let dir = TempDir::new("busy");
    let out = command()
        .args(["-l", &addr, "-d"])
        .arg(dir.path().join("s"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    // The errno text is the C library's (glibc: "Address already in use",
    // musl: "Address in use"); the number is the architecture's: Linux
    // gives EADDRINUSE 98, except on MIPS (125), tested under qemu-mipsel.
    let eaddrinuse = if common::target_is_mips() { 125 } else { 98 };
    let first = err.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("tinymx: cannot listen on {addr}: Address ")),
        "{first}"
    );
    assert!(
        first.ends_with(&format!("in use (os error {eaddrinuse})")),
        "{first}"
    );
}

#[test]
fn bad_flags_exit_2_and_name_the_flag() {
    for (args, first) in [
        (
            &["--max-size", "ten"][..],
            "tinymx: --max-size: invalid size 'ten' (a positive number with optional k, M or G)",
        ),
        (&["--bogus"], "tinymx: --bogus: unknown option"),
        (
            &["-l", "nowhere"],
            "tinymx: --listen: invalid address 'nowhere' (use 1.2.3.4:25, [::1]:25 or :25)",
        ),
        (&["--max-conn"], "tinymx: --max-conn: missing value"),
        (
            &["-u", "no-such-user-here"],
            "tinymx: --user: no such user 'no-such-user-here'",
        ),
    ] {
        let out = command().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().next().unwrap(), first, "{args:?}");
    }
}

#[test]
fn help_and_version() {
    let out = command().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--spool",
        "--hostname",
        "--domain",
        "--mailbox",
        "--catch-all",
        "--max-size",
        "--max-conn",
        "--max-per-ip",
        "--max-rcpt",
        "--timeout",
        "--user",
        "--verbose",
        "--quiet",
        "--help",
        "--version",
    ] {
        assert!(help.contains(flag), "help lacks {flag}");
    }
    let out = command().arg("-V").output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("tinymx {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// `tinymx --help | true`, `tinymx show F | head -1`: the reader is gone
/// before (or while) tinymx writes. The output stops quietly, status 0,
/// nothing on stderr (it used to panic with status 101).
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gmail.eml");
    let dir = TempDir::new("epipe");
    let fixture = fixture.to_str().unwrap();
    let out_dir = dir.path().join("out");
    let out_dir = out_dir.to_str().unwrap();
    for args in [
        &["--help"][..],
        &["--version"],
        &["show", fixture],
        &["show", "--json", fixture],
        &["show", "--help"],
        &["extract", fixture, out_dir],
    ] {
        let (read, write) = tinymx::sys::pipe().unwrap();
        drop(read); // the reader has gone: every write gets EPIPE
        let out = command()
            .args(args)
            .stdout(std::process::Stdio::from(write))
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).as_ref()
            ),
            (Some(0), ""),
            "{args:?}"
        );
    }
    // extract still wrote the attachments it could not list.
    assert!(!files(std::path::Path::new(out_dir)).is_empty());
}

#[test]
fn missing_spool_is_created_with_parents() {
    let dir = TempDir::new("deep");
    let spool = dir.path().join("a/b/spool");
    let mut child = command()
        .args(["-l", "127.0.0.1:0", "-n", "mx.test", "-d"])
        .arg(&spool)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stderr.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(
        line.starts_with("tinymx: listening on 127.0.0.1:"),
        "{line}"
    );
    assert!(spool.is_dir());
    assert_eq!(
        std::fs::metadata(&spool).unwrap().permissions().mode() & 0o777,
        0o700
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn user_flag_drops_privileges_and_owns_the_spool() {
    if !running_as_root("user_flag_drops_privileges_and_owns_the_spool") {
        return;
    }
    let server = Server::start(&["-u", "nobody"]);
    let mut c = Client::hello(server.addr());
    assert!(
        c.send_mail("a@example.com", &["bob@example.org"], b"x\r\n")
            .starts_with("250 ")
    );
    let nobody = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .map(|l| l.split(':').nth(2).unwrap().parse::<u32>().unwrap())
        .unwrap();
    let f = &files(&server.spool.join("bob/new"))[0];
    assert_eq!(std::fs::metadata(f).unwrap().uid(), nobody);
    assert_eq!(std::fs::metadata(&server.spool).unwrap().uid(), nobody);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid_line.split_whitespace().skip(1).collect::<Vec<_>>(),
        vec![nobody.to_string(); 4]
    );
    let groups = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
    assert!(
        !groups.split_whitespace().skip(1).any(|g| g == "0"),
        "{groups}"
    );
    server.wait_log(|l| {
        l.iter()
            .any(|l| l.contains(&format!("running as uid {nobody}")))
    });
}

#[test]
fn a_reset_connection_ends_with_its_cause_in_the_log() {
    use std::os::fd::AsRawFd;
    let server = Server::start(&[]);
    let mut c = Client::connect(server.addr());
    assert_eq!(c.reply(), "220 mx.test ESMTP tinymx\r\n");
    // SO_LINGER 0: closing sends a RST, so the server's recv fails.
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let rc = unsafe {
        libc::setsockopt(
            c.stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(c);
    server.wait_log(|lines| {
        lines
            .iter()
            .any(|l| l.contains(" disconnect from ") && l.ends_with(" end=error (ECONNRESET)"))
    });
}

/// `-v` logs every change of the protocol state, `SID state OLD -> NEW`,
/// in order (the transition function is the only place that changes it).
#[test]
fn verbose_log_shows_each_state_transition() {
    let server = Server::start(&["-v"]);
    let mut c = Client::hello(server.addr());
    let reply = c.send_mail("a@example.com", &["bob@example.org"], b"x\r\n");
    assert!(reply.starts_with("250 "), "{reply}");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye\r\n");
    server.wait_log(|l| l.iter().any(|l| l.ends_with(" state Command -> Closed")));
    let states: Vec<String> = server
        .log_lines()
        .iter()
        .filter_map(|l| l.split_once(" state ").map(|(_, t)| t.to_string()))
        .collect();
    assert_eq!(
        states,
        [
            "Greeting -> Command",
            "Command -> AwaitStorage",
            "AwaitStorage -> Command",
            "Command -> AwaitStart",
            "AwaitStart -> Data",
            "Data -> Ended",
            "Ended -> AwaitEnd",
            "AwaitEnd -> Command",
            "Command -> Closed",
        ]
    );
    // Every state line names the session.
    let sid = server
        .log_lines()
        .iter()
        .find_map(|l| {
            l.strip_prefix("tinymx: ")?
                .split_once(" state ")
                .map(|(s, _)| s.to_string())
        })
        .unwrap();
    assert!(
        sid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
        "{sid}"
    );
}
