//! The reader against small messages: a trace of events per message.

use super::*;

/// Records events as lines: `start INDEX DEPTH TYPE KIND`, `data …`, `end`.
#[derive(Default)]
struct Trace {
    out: Vec<String>,
}

impl Handler for Trace {
    fn start(&mut self, p: &Part) {
        self.out.push(format!(
            "start {} {} {} {:?}{}",
            p.index,
            p.depth,
            p.mime_type(),
            p.kind,
            if p.in_attached_message { " nested" } else { "" }
        ));
    }
    fn data(&mut self, bytes: &[u8]) {
        // Adjacent data events are merged: only the bytes matter.
        let s = String::from_utf8_lossy(bytes).into_owned();
        match self.out.last_mut() {
            Some(l) if l.starts_with("data ") => l.push_str(&s),
            _ => self.out.push(format!("data {s}")),
        }
    }
    fn end(&mut self) {
        self.out.push("end".into());
    }
}

fn trace(msg: &str) -> Vec<String> {
    let mut t = Trace::default();
    read_all(msg.as_bytes(), &mut t);
    t.out
}

/// The same message fed one byte at a time gives the same events.
fn trace_bytewise(msg: &[u8]) -> Vec<String> {
    let mut t = Trace::default();
    let mut r = Reader::new();
    for b in msg {
        r.feed(std::slice::from_ref(b), &mut t);
    }
    r.finish(&mut t);
    t.out
}

fn check(msg: &str, want: &[&str]) {
    assert_eq!(trace(msg), want, "{msg:?}");
    assert_eq!(trace_bytewise(msg.as_bytes()), want, "bytewise {msg:?}");
    let crlf = msg.replace('\n', "\r\n");
    assert_eq!(trace(&crlf), want, "CRLF {msg:?}");
}

#[test]
fn a_plain_message() {
    check(
        "Subject: hi\n\nline 1\nline 2\n",
        &["start 0 0 text/plain Leaf", "data line 1\nline 2\n", "end"],
    );
    check("Subject: hi\n", &["start 0 0 text/plain Leaf", "end"]);
    check("", &["start 0 0 text/plain Leaf", "end"]);
    check(
        "From alice@example.com Sat Jan  1 00:00:00 2026\nSubject: x\n\nbody",
        &["start 0 0 text/plain Leaf", "data body", "end"],
    );
}

#[test]
fn multipart_with_preamble_and_epilogue() {
    check(
        "Content-Type: multipart/mixed; boundary=XX\n\npreamble\n--XX\n\none\n--XX\nContent-Type: text/html\n\n<b>two</b>\n\n--XX--\nepilogue\n",
        &[
            "start 0 0 multipart/mixed Multipart",
            "start 1 1 text/plain Leaf",
            "data one",
            "end",
            "start 2 1 text/html Leaf",
            "data <b>two</b>\n",
            "end",
            "end",
        ],
    );
}

#[test]
fn nested_alternative_inside_mixed_and_encodings() {
    check(
        "Content-Type: multipart/mixed; boundary=\"outer\"\n\n--outer\nContent-Type: multipart/alternative; boundary=inner\n\n--inner\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nGr=C3=BC=C3=9Fe, a long=\n line\n--inner\nContent-Type: text/html\n\n<p>x</p>\n--inner--\n--outer\nContent-Type: application/octet-stream; name=a.bin\nContent-Transfer-Encoding: base64\n\naGVs\nbG8=\n--outer--\n",
        &[
            "start 0 0 multipart/mixed Multipart",
            "start 1 1 multipart/alternative Multipart",
            "start 2 2 text/plain Leaf",
            "data Grüße, a long line",
            "end",
            "start 3 2 text/html Leaf",
            "data <p>x</p>",
            "end",
            "end",
            "start 4 1 application/octet-stream Leaf",
            "data hello",
            "end",
            "end",
        ],
    );
}

#[test]
fn attached_message_is_walked() {
    check(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nsee attached\n--b\nContent-Type: message/rfc822\n\nSubject: inner\nContent-Type: multipart/mixed; boundary=c\n\n--c\n\ninner text\n--c\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\nAAEC\n--c--\n--b--\n",
        &[
            "start 0 0 multipart/mixed Multipart",
            "start 1 1 text/plain Leaf",
            "data see attached",
            "end",
            "start 2 1 message/rfc822 Message",
            "start 3 2 multipart/mixed Multipart nested",
            "start 4 3 text/plain Leaf nested",
            "data inner text",
            "end",
            "start 5 3 image/png Leaf nested",
            "data \u{0}\u{1}\u{2}",
            "end",
            "end",
            "end",
            "end",
        ],
    );
}

#[test]
fn tolerant_boundaries() {
    // White space after a boundary; an inner multipart never closed (the
    // outer boundary closes it); no close delimiter at all; a line that
    // only starts like the boundary is content.
    check(
        "Content-Type: multipart/mixed; boundary=b\n\n--b  \n\n--bx is text\n--b\nContent-Type: multipart/alternative; boundary=bb\n\n--bb\n\ninner\n--b\n\nlast",
        &[
            "start 0 0 multipart/mixed Multipart",
            "start 1 1 text/plain Leaf",
            "data --bx is text",
            "end",
            "start 2 1 multipart/alternative Multipart",
            "start 3 2 text/plain Leaf",
            "data inner",
            "end",
            "end",
            "start 4 1 text/plain Leaf",
            "data last",
            "end",
            "end",
        ],
    );
}

#[test]
fn parts_without_blank_line_or_headers() {
    check(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nno header here\n--b\nContent-Type: text/html\n--b\n--b--\n",
        &[
            "start 0 0 multipart/mixed Multipart",
            "start 1 1 text/plain Leaf",
            "data no header here",
            "end",
            "start 2 1 text/html Leaf",
            "end",
            "end",
        ],
    );
}

#[test]
fn digest_defaults() {
    check(
        "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: a\n\nA\n--d--\n",
        &[
            "start 0 0 multipart/digest Multipart",
            "start 1 1 message/rfc822 Message",
            "start 2 2 text/plain Leaf nested",
            "data A",
            "end",
            "end",
            "end",
        ],
    );
    check(
        "Content-Type: bogus\n\nx",
        &["start 0 0 text/plain Leaf", "data x", "end"],
    );
}

#[test]
fn long_lines_stream_through() {
    let long = "a".repeat(3 * MAX_LINE + 5);
    let msg = format!(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n{long}\n--b{long}\nend\n--b--\n"
    );
    let want_data = format!("data {long}\n--b{long}\nend");
    let want = vec![
        "start 0 0 multipart/mixed Multipart".to_string(),
        "start 1 1 text/plain Leaf".into(),
        want_data,
        "end".into(),
        "end".into(),
    ];
    assert_eq!(trace(&msg), want);
    assert_eq!(trace_bytewise(msg.as_bytes()), want);
    // A CRLF split by the line limit is still a line end.
    let msg = format!("\n{}\r\n--x", "b".repeat(MAX_LINE - 1));
    assert_eq!(
        trace(&msg)[1],
        format!("data {}\n--x", "b".repeat(MAX_LINE - 1))
    );
}

#[test]
fn huge_headers_are_bounded() {
    let mut msg = String::from("Subject: x\n");
    for _ in 0..2000 {
        msg.push_str(&format!("X-Pad: {}\n", "p".repeat(500)));
    }
    msg.push_str("\nbody");
    struct Count(usize, usize);
    impl Handler for Count {
        fn start(&mut self, p: &Part) {
            self.0 = p.headers.len();
            self.1 = p.headers.iter().map(|f| f.value.len()).sum();
        }
        fn data(&mut self, _: &[u8]) {}
        fn end(&mut self) {}
    }
    let mut c = Count(0, 0);
    read_all(msg.as_bytes(), &mut c);
    assert!(
        c.0 <= MAX_HEADER_FIELDS && c.1 <= MAX_HEADER_BYTES,
        "{} {}",
        c.0,
        c.1
    );
}

#[test]
fn deep_nesting_is_capped() {
    let mut msg = String::new();
    for i in 0..100 {
        msg.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n"
        ));
    }
    msg.push_str("\ndeep\n");
    let t = trace(&msg);
    let starts = t.iter().filter(|l| l.starts_with("start")).count();
    let ends = t.iter().filter(|l| *l == "end").count();
    assert_eq!(starts, ends);
    assert!(starts <= MAX_DEPTH, "{starts}");
}

/// Deterministic pseudo-random messages built from MIME-ish pieces: the
/// reader must never panic, and events must balance. (cargo fuzz does
/// the thorough version; see fuzz/.)
#[test]
fn random_inputs_never_panic() {
    let pieces: &[&str] = &[
        "Content-Type: multipart/mixed; boundary=a\n",
        "Content-Type: message/rfc822\n",
        "Content-Type: multipart/alternative; boundary=\"b\"\n",
        "Content-Transfer-Encoding: base64\n",
        "Content-Transfer-Encoding: quoted-printable\n",
        "Content-Disposition: attachment; filename*0*=utf-8''%E2%82; filename*1*=%AC\n",
        "\n",
        "\r\n",
        "--a\n",
        "--a--\n",
        "--b\n",
        "--b--\n",
        "=\n",
        "=C3",
        "=?utf-8?b?w7w=?=",
        " folded\n",
        "aGVsbG8=\n",
        "text\n",
        "\r",
        "=",
        "From x\n",
        "Subject: =?x?q?",
        "?=\n",
        "Content-Transfer-Encoding: x-uuencode\n",
        "begin 644 ../a\n",
        "M86)C\n",
        "#86)C\n",
        "end\n",
    ];
    let mut seed: u64 = 0x2545F4914F6CDD1D;
    for _ in 0..3000 {
        let mut msg = Vec::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (seed % 40) as usize;
        for _ in 0..n {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if seed.is_multiple_of(11) {
                msg.push((seed >> 8) as u8);
            } else {
                msg.extend_from_slice(pieces[(seed >> 16) as usize % pieces.len()].as_bytes());
            }
        }
        let t = trace_bytewise(&msg);
        let mut s = summary::Summary::new();
        read_all(&msg, &mut s);
        let _ = s.body();
        let starts = t.iter().filter(|l| l.starts_with("start")).count();
        let ends = t.iter().filter(|l| *l == "end").count();
        assert_eq!(starts, ends, "{:?}", String::from_utf8_lossy(&msg));
        assert!(starts >= 1);
    }
}

/// The message's header fields (`Name: value`) and body, as `show` gets them.
fn fields_and_body(msg: impl AsRef<[u8]>) -> (Vec<String>, String) {
    let mut s = summary::Summary::new();
    read_all(msg.as_ref(), &mut s);
    let fields = s
        .headers
        .iter()
        .map(|f| format!("{}: {}", f.name, String::from_utf8_lossy(&f.value)))
        .collect();
    (fields, s.body())
}

/// Python's email.feedparser on the same messages gives the same fields
/// and body (it records a MisplacedEnvelopeHeaderDefect and goes on).
#[test]
fn mbox_from_lines_in_a_header_are_skipped() {
    // A stray separator after a few fields (a mail client's mbox store).
    let msg = "Forwarded: by x\nReplied: yes\nFrom sender@example.com  Mon Jan  1 10:00:00 2001\nFrom: Alice <a@example.com>\nSubject: hi\n\nbody\n";
    check(msg, &["start 0 0 text/plain Leaf", "data body\n", "end"]);
    let fields = [
        "Forwarded: by x",
        "Replied: yes",
        "From: Alice <a@example.com>",
        "Subject: hi",
    ];
    assert_eq!(
        fields_and_body(msg),
        (fields.map(String::from).to_vec(), "body\n".into())
    );
    // A folded line after it continues nothing: dropped with it.
    let msg = "Subject: hi\nFrom x\n cont\nTo: b\n\nbody\n";
    assert_eq!(
        fields_and_body(msg),
        (vec!["Subject: hi".into(), "To: b".into()], "body\n".into())
    );
    // The first line of a part's header is a separator whatever follows;
    // as the header's last line it is the first line of the body.
    check(
        "From a@b  Mon Jan  1 10:00:00 2001\nSubject: hi\nFrom x\n\nbody\n",
        &["start 0 0 text/plain Leaf", "data From x\nbody\n", "end"],
    );
    check(
        "Subject: hi\nFrom x\nnot a header\nbody\n",
        &[
            "start 0 0 text/plain Leaf",
            "data From x\nnot a header\nbody\n",
            "end",
        ],
    );
    check(
        "Subject: hi\nFrom x",
        &["start 0 0 text/plain Leaf", "data From x", "end"],
    );
    check(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nFrom x\nContent-Type: text/html\n\n<p>x</p>\n--b\nSubject: y\nFrom z\n--b--\n",
        &[
            "start 0 0 multipart/mixed Multipart",
            "start 1 1 text/html Leaf",
            "data <p>x</p>",
            "end",
            "start 2 1 text/plain Leaf",
            "data From z",
            "end",
            "end",
        ],
    );
    // A colon after the name and white space: a field (RFC 822 allowed
    // the space; Python takes it for a separator).
    assert_eq!(
        fields_and_body("Subject: hi\nFrom : x\n\nbody"),
        (
            vec!["Subject: hi".into(), "From: x".into()],
            "body\n".into()
        )
    );
}

/// A close delimiter cut short (`--b-`) lets the epilogue into the last
/// part; its base64 ends at the padding, so the attachment stays exact
/// (Python's email gives b"hello" too).
#[test]
fn base64_ends_at_its_padding() {
    check(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n--b\nContent-Type: application/octet-stream; name=a.bin\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n--b-\nThis is the epilogue. Junk follows\n",
        &[
            "start 0 0 multipart/mixed Multipart",
            "start 1 1 text/plain Leaf",
            "data body",
            "end",
            "start 2 1 application/octet-stream Leaf",
            "data hello",
            "end",
            "end",
        ],
    );
}

/// An encoded line break or tab in a Subject is a space, never a line
/// break (Python keeps "line\nbreak and tab\txa\r\nb", which a one-line
/// display cannot show).
#[test]
fn encoded_control_characters_in_a_subject_are_spaces() {
    let mut s = summary::Summary::new();
    read_all(
        b"Subject: =?UTF-8?Q?line=0Abreak?= and =?UTF-8?B?dGFiCXg=?= =?UTF-8?Q?a=0D=0Ab?=\n\nx\n",
        &mut s,
    );
    assert_eq!(
        s.header("Subject").as_deref(),
        Some("line break and tab xa b")
    );
}

/// Text declared base64 that is not base64 is shown as it is (Python's
/// email decodes it to binary garbage: it skips the bytes outside the
/// alphabet and decodes the letters).
#[test]
fn text_mislabelled_base64_is_shown_as_it_is() {
    let head = "Subject: bad b64\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n";
    for text in [
        "Hello Bob,\n\nthis is plain text, not base64!\nRegards\n",
        "Hello Bob\nSee you\n",
    ] {
        let want = format!("data {text}");
        check(
            &format!("{head}{text}"),
            &["start 0 0 text/plain Leaf", &want, "end"],
        );
    }
    // Real base64 in a text part is decoded, past the part looked at too.
    let line = "SGVsbG8gQm9iLCB0aGlzIGlzIHJlYWwgYmFzZTY0IHRleHQsIGRlY29kZWQgaW4gZnVsbC4K\n";
    let want = format!(
        "data {}",
        "Hello Bob, this is real base64 text, decoded in full.\n".repeat(40)
    );
    check(
        &format!("{head}{}", line.repeat(40)),
        &["start 0 0 text/plain Leaf", &want, "end"],
    );
}

/// A multipart without a boundary, with an empty one, or whose delimiter
/// never comes is text/plain in its charset, as mail clients show it
/// (Python's email keeps the type, and get_body finds no body).
#[test]
fn multipart_without_a_usable_boundary_is_text() {
    let (_, body) = fields_and_body(
        b"Subject: nb\nContent-Type: multipart/mixed; charset=iso-8859-1\n\nCaf\xe9 text\n",
    );
    assert_eq!(body, "Café text\n");
    check(
        "Content-Type: multipart/alternative; boundary=\"\"\n\nplain text\n",
        &["start 0 0 text/plain Leaf", "data plain text\n", "end"],
    );
    check(
        "Content-Type: multipart/mixed; boundary=\"zz\"\n\nno delimiter here\nat all\n",
        &[
            "start 0 0 text/plain Leaf",
            "data no delimiter here\nat all\n",
            "end",
        ],
    );
    // Closed by its parent's delimiter before its own came.
    check(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/alternative; boundary=c\n\ninner text\n--b\n\nsecond\n--b--\n",
        &[
            "start 0 0 multipart/mixed Multipart",
            "start 1 1 text/plain Leaf",
            "data inner text",
            "end",
            "start 2 1 text/plain Leaf",
            "data second",
            "end",
            "end",
        ],
    );
    // Not within MAX_PREAMBLE bytes: text from there on, delimiter and all.
    let preamble = "pre\n".repeat(MAX_PREAMBLE / 4 + 1);
    let msg = format!("Content-Type: multipart/mixed; boundary=b\n\n{preamble}--b\n\nx\n--b--\n");
    let want = format!("data {preamble}--b\n\nx\n--b--\n");
    check(&msg, &["start 0 0 text/plain Leaf", &want, "end"]);
}

/// Three lines of "Hello, uuencoded world!" as uuencode writes them.
const UU_DATA: &str = "M2&5L;&\\L('5U96YC;V1E9\"!W;W)L9\"$*2&5L;&\\L('5U96YC;V1E9\"!W;W)L\n;9\"$*2&5L;&\\L('5U96YC;V1E9\"!W;W)L9\"$*\n`\nend\n";

/// Content-Transfer-Encoding x-uuencode (and its other names) is undone
/// (Python's email gives the same bytes).
#[test]
fn uuencoded_parts_are_decoded() {
    let hello = "Hello, uuencoded world!\n".repeat(3);
    for cte in ["x-uuencode", "uuencode", "X-UUE", "uue"] {
        check(
            &format!(
                "Content-Type: application/octet-stream; name=hello.txt\nContent-Transfer-Encoding: {cte}\n\nbegin 644 hello.txt\n{UU_DATA}"
            ),
            &[
                "start 0 0 application/octet-stream Leaf",
                &format!("data {hello}"),
                "end",
            ],
        );
    }
}

/// A `begin … end` block in a plain text body (old clients) is an
/// attachment named by its begin line; the text around it is the body.
/// Python's email leaves the block in the body.
#[test]
fn uuencoded_blocks_in_text_are_attachments() {
    let hello = "Hello, uuencoded world!\n".repeat(3);
    let msg = format!(
        "Subject: inline\n\nHi, file below.\n\nbegin 644 ../../evil name.txt\n{UU_DATA}\nBye.\n"
    );
    check(
        &msg,
        &[
            "start 0 0 text/plain Leaf",
            "data Hi, file below.\n\n",
            "start 1 1 application/octet-stream Leaf",
            &format!("data {hello}"),
            "end",
            "data \nBye.\n",
            "end",
        ],
    );
    let mut s = summary::Summary::new();
    read_all(msg.as_bytes(), &mut s);
    assert_eq!(s.body(), "Hi, file below.\n\n\nBye.\n");
    let a = &s.attachments[0];
    assert_eq!((a.name.as_str(), a.size), ("evil name.txt", 72));
    // No `end`: a line that is not uuencoded ends the block.
    check(
        "\nbegin 600 a.bin\n#86)C\nthanks\n",
        &[
            "start 0 0 text/plain Leaf",
            "start 1 1 application/octet-stream Leaf",
            "data abc",
            "end",
            "data thanks\n",
            "end",
        ],
    );
    // Not followed by a uuencoded line, or last: text.
    for text in [
        "begin 10 minutes late\nthe meeting starts\n",
        "see:\nbegin 644 x",
        "see:\nbegin 644 x\n",
        "begin 644 x\nbegin 644 y\nend\n",
    ] {
        check(
            &format!("\n{text}"),
            &["start 0 0 text/plain Leaf", &format!("data {text}"), "end"],
        );
    }
    check(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbegin 644 x\n--b--\n",
        &[
            "start 0 0 multipart/mixed Multipart",
            "start 1 1 text/plain Leaf",
            "data begin 644 x",
            "end",
            "end",
        ],
    );
    // Only in plain text that is shown: not in an attachment.
    check(
        "Content-Disposition: attachment; filename=a.txt\n\nbegin 644 x\n#86)C\nend\n",
        &[
            "start 0 0 text/plain Leaf",
            "data begin 644 x\n#86)C\nend\n",
            "end",
        ],
    );
}
