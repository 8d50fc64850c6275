//! Fuzzes the SMTP state machine. Input bytes are mapped onto an SMTP
//! alphabet (whole commands, dot lines, line endings) so the fuzzer gets
//! deep into transactions; the first bytes choose limits and read splits.
//! Oracles: no panic; every reply is well-formed; the same input delivered
//! whole and in pieces gives the same replies and the same messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinymx::config::Config;
use tinymx::smtp::{Output, Session};

const TOKENS: &[&[u8]] = &[
    b"EHLO c\r\n", b"HELO x.org\r\n", b"MAIL FROM:<a@b.org>\r\n", b"MAIL FROM:<>\r\n",
    b"MAIL FROM:<a@b.org> SIZE=10 BODY=8BITMIME SMTPUTF8\r\n", b"RCPT TO:<bob@x.org>\r\n",
    b"RCPT TO:<b+x@x.org>\r\n", b"RCPT TO:<postmaster>\r\n", b"RCPT TO:<j\xc3\xb6@x.org>\r\n",
    b"DATA\r\n", b"RSET\r\n", b"NOOP\r\n", b"QUIT\r\n", b"VRFY a\r\n", b"\r\n", b"\n", b"\r", b".",
    b"\r\n.\r\n", b"\n.\n", b"\r.\r", b"..", b"MAIL FROM:", b"RCPT TO:", b"<", b">", b"@", b" ",
    b"SIZE=", b"\"", b"\\", b"[127.0.0.1]", b"x.org", b"GET / HTTP/1.0\r\n",
    // RFC 3030 CHUNKING: whole BDAT lines of small sizes, and pieces.
    b"BDAT 0 LAST\r\n", b"BDAT 1\r\n", b"BDAT 3 LAST\r\n", b"BDAT 5\r\n", b"BDAT ", b" LAST\r\n",
    b"BDAT x\r\n",
    // RFC 3207, offered when the configuration byte says so.
    b"STARTTLS\r\n", b"STARTTLS x\r\n",
];

fn expand(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in data {
        if (b as usize) < TOKENS.len() * 6 {
            out.extend_from_slice(TOKENS[b as usize % TOKENS.len()]);
        } else {
            out.push(b);
        }
    }
    out
}

#[derive(PartialEq, Debug, Default)]
struct Run {
    replies: Vec<u8>,
    stored: Vec<Vec<u8>>,
}

fn run(cfg: &Config, input: &[u8], step: usize) -> Run {
    let mut s = Session::new(cfg);
    let mut r = Run::default();
    let mut current: Option<Vec<u8>> = None;
    let mut chunks: Vec<&[u8]> = vec![b""];
    chunks.extend(input.chunks(step.max(1)));
    'outer: for chunk in chunks {
        let mut pos = 0;
        loop {
            let (n, out) = s.advance(&chunk[pos..]);
            pos += n;
            assert!(pos <= chunk.len());
            match out {
                Output::NeedInput => {
                    assert_eq!(pos, chunk.len(), "NeedInput left input unread");
                    break;
                }
                Output::Reply(rep) => {
                    let b = rep.as_bytes();
                    assert!(b.len() >= 6 && b.ends_with(b"\r\n") && b[..3].iter().all(u8::is_ascii_digit));
                    assert!(b.iter().all(|&c| c == b'\r' || c == b'\n' || (0x20..0x7f).contains(&c)));
                    r.replies.extend_from_slice(b);
                    if rep.closes() {
                        break 'outer;
                    }
                }
                Output::CheckStorage => s.storage_checked(true),
                Output::StartMessage => {
                    assert!(current.is_none());
                    current = Some(Vec::new());
                    s.message_started(Ok(()));
                }
                Output::Body(b) => {
                    assert!(!b.is_empty());
                    current.as_mut().expect("body outside a message").extend_from_slice(b);
                }
                Output::DropMessage => {
                    current.take().expect("drop outside a message");
                }
                Output::AbandonMessage => {
                    // (Maybe dropped already, for its size.)
                    current = None;
                }
                Output::EndMessage => {
                    let m = current.take().expect("end outside a message");
                    assert!(m.len() as u64 <= cfg.max_message_bytes);
                    r.stored.push(m);
                    s.message_done(Ok("ID"));
                }
                // The handshake is the driver's; what follows would come
                // over TLS, split differently, so the run ends here (the
                // rest of this read was taken and dropped by the session).
                Output::StartTls => {
                    assert!(cfg.starttls);
                    assert_eq!(pos, chunk.len(), "StartTls left input unread");
                    break 'outer;
                }
            }
        }
    }
    r
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let cfg = Config {
        hostname: "mx.test".into(),
        max_message_bytes: 16 + (data[0] as u64) * 8,
        max_recipients: 1 + (data[1] % 4) as usize,
        io_buffer_bytes: 2 + (data[2] % 32) as usize,
        max_errors: 20,
        starttls: data[2] & 0x80 != 0,
        ..Config::default()
    };
    let input = expand(&data[3..]);
    let whole = run(&Config { io_buffer_bytes: 64 * 1024, ..cfg.clone() }, &input, input.len());
    let split = run(&cfg, &input, 1 + (data[1] as usize % 13));
    assert_eq!(whole, split);
});
