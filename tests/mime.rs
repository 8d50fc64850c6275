//! `tinymx show` and `tinymx extract` on messages shaped like what real
//! clients send (tests/fixtures/, made by make_fixtures.py): exact output,
//! and attachments given back byte for byte.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    command().args(args).output().expect("run tinymx")
}

/// Runs tinymx, asserts exit 0 and no stderr, returns stdout.
fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn show(name: &str) -> String {
    ok(&["show", fixture(&format!("{name}.eml")).to_str().unwrap()])
}

/// Extracts NAME.eml and compares the files with NAME.files/ exactly;
/// returns the printed lines with the directory removed.
fn extract_matches_expected(name: &str) -> Vec<String> {
    let tmp = TempDir::new("extract");
    let dir = tmp.path().join("out");
    let out = ok(&[
        "extract",
        fixture(&format!("{name}.eml")).to_str().unwrap(),
        dir.to_str().unwrap(),
    ]);
    let printed: Vec<String> = out
        .lines()
        .map(|l| {
            let p = Path::new(l);
            assert_eq!(p.parent().unwrap(), dir, "{l}");
            p.file_name().unwrap().to_str().unwrap().to_string()
        })
        .collect();
    let expected_dir = fixture(&format!("{name}.files"));
    let mut want: Vec<String> = files(&expected_dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    want.sort();
    let mut got = printed.clone();
    got.sort();
    assert_eq!(got, want, "{name}: extracted names");
    assert_eq!(tree(&dir).len(), want.len(), "{name}: nothing else written");
    for n in &want {
        assert!(
            std::fs::read(dir.join(n)).unwrap() == std::fs::read(expected_dir.join(n)).unwrap(),
            "{name}: {n} differs"
        );
    }
    printed
}

#[test]
fn gmail_message_utf8_subject_qp_body_and_2047_attachment_name() {
    assert_eq!(
        show("gmail"),
        "From: Jürgen Müller <juergen@gmail.com>\n\
         To: home@example.org\n\
         Date: Tue, 3 Mar 2026 09:15:02 +0100\n\
         Subject: Reisekosten März: Übersicht ✈\n\
         Message-ID: <CAF3kq2x+abc123@mail.gmail.com>\n\
         \n\
         Hallo,\n\
         \n\
         anbei die Übersicht der Reisekosten für März (≈ 420 €).\n\
         Eine sehr lange Zeile, die Gmail mit weichen Zeilenumbrüchen umbricht, weil sie länger als sechsundsiebzig Zeichen ist.\n\
         \n\
         Grüße\n\
         Jürgen\n"
    );
    assert_eq!(extract_matches_expected("gmail"), ["Reisekosten März.pdf"]);
}

#[test]
fn outlook_message_latin1_labelled_cp1252_related_inline_image() {
    assert_eq!(
        show("outlook"),
        "From: Renée Dubois <renee@outlook.com>\n\
         To: \"home@example.org\" <home@example.org>\n\
         Cc: François <francois@example.net>\n\
         Date: Tue, 3 Mar 2026 08:00:00 +0000\n\
         Subject: Réunion du 3 mars – ordre du jour\n\
         Message-ID: <AM0PR01MB1234ABCD@AM0PR01MB1234.eurprd01.prod.exchangelabs.com>\n\
         \n\
         Bonjour à tous,\n\
         \n\
         Voici l'ordre du jour – réunion à 14h.\n\
         \n\
         Renée\n"
    );
    assert_eq!(
        extract_matches_expected("outlook"),
        ["image001.png", "Ordre du jour réunion.docx"]
    );
}

#[test]
fn apple_mail_split_subject_words_and_rfc2231_inline_image() {
    assert_eq!(
        show("apple"),
        "From: Ana García <ana@icloud.com>\n\
         To: home@example.org\n\
         Date: Tue, 3 Mar 2026 10:30:00 +0100\n\
         Subject: Fotos de la fiesta 🎉 y más\n\
         Message-ID: <9A8B7C6D-5E4F-4A3B-2C1D-0E9F8A7B6C5D@icloud.com>\n\
         \n\
         ¡Hola!\n\
         \n\
         Aquí van las fotos.\n"
    );
    assert_eq!(extract_matches_expected("apple"), ["fiesta mañana.jpg"]);
}

#[test]
fn thunderbird_rfc2231_continuations_and_attached_message() {
    assert_eq!(
        show("thunderbird"),
        "From: Klaus Weiß <klaus@example.net>\n\
         To: home@example.org\n\
         Date: Tue, 3 Mar 2026 11:45:00 +0100\n\
         Subject: Fwd: Abrechnung\n\
         Message-ID: <4f0e1d2c-3b4a-5968-7a8b-9c0d1e2f3a4b@example.net>\n\
         \n\
         Hier die weitergeleitete Nachricht mit der Abrechnung.\n\
         \n\
         Gruß, Klaus\n"
    );
    // The attached message/rfc822 is walked: its PDF comes out too.
    assert_eq!(
        extract_matches_expected("thunderbird"),
        [
            "Jahresabrechnung für das Geschäftsjahr 2025 – endgültige Fassung.csv",
            "Abrechnung.pdf"
        ]
    );
}

#[test]
fn html_only_windows1252_becomes_text() {
    assert_eq!(
        show("html_only"),
        "From: newsletter@example.com\n\
         To: home@example.org\n\
         Date: Tue, 3 Mar 2026 12:00:00 +0000\n\
         Subject: Angebot “Frühling”\n\
         \n\
         Frühling – 20 % Rabatt\n\
         \n\
         Nur heute: \"alles\" & mehr €\n\
         \n\
         Zeile 1\n\
         Zeile 2\n"
    );
    assert_eq!(extract_matches_expected("html_only"), Vec::<String>::new());
}

#[test]
fn latin1_8bit_body_and_mixed_charset_subject() {
    let f = fixture("latin1.eml");
    let f = f.to_str().unwrap();
    assert_eq!(
        ok(&["show", f]),
        "From: Zoë <zoe@example.com>\nTo: home@example.org\nSubject: Café €\n\nDéjà vu à la café.\n"
    );
    assert_eq!(ok(&["show", "--body", f]), "Déjà vu à la café.\n");
    assert_eq!(ok(&["show", "--header", "Subject", f]), "Café €\n");
    // Several --header values in order, a missing one as an empty line, then the body.
    assert_eq!(
        ok(&[
            "show",
            "--header",
            "from",
            "--header=X-Missing",
            "--header",
            "Subject",
            "--body",
            f
        ]),
        "Zoë <zoe@example.com>\n\nCafé €\nDéjà vu à la café.\n"
    );
}

#[test]
fn json_has_headers_body_and_attachments() {
    let f = fixture("outlook.eml");
    assert_eq!(
        ok(&["show", "--json", f.to_str().unwrap()]),
        "{\"headers\":{\"From\":\"Renée Dubois <renee@outlook.com>\",\
         \"To\":\"\\\"home@example.org\\\" <home@example.org>\",\
         \"Cc\":\"François <francois@example.net>\",\
         \"Date\":\"Tue, 3 Mar 2026 08:00:00 +0000\",\
         \"Subject\":\"Réunion du 3 mars – ordre du jour\",\
         \"Message-ID\":\"<AM0PR01MB1234ABCD@AM0PR01MB1234.eurprd01.prod.exchangelabs.com>\"},\
         \"body\":\"Bonjour à tous,\\n\\nVoici l'ordre du jour – réunion à 14h.\\n\\nRenée\\n\",\
         \"attachments\":[{\"name\":\"image001.png\",\"type\":\"image/png\",\"size\":308},\
         {\"name\":\"Ordre du jour réunion.docx\",\"type\":\"application/vnd.openxmlformats-officedocument.wordprocessingml.document\",\"size\":904}],\
         \"auth\":null}\n"
    );
}

/// A message as tinymx stores it after sender checks: its own
/// Authentication-Results (one as `auth.rs` writes it, one folded with a
/// reason, as later checks may add), Received-SPF and trace above its
/// Received; below, another host's field and a forgery of ours.
const STORED: &str = "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=alice@gmail.com\n\
Authentication-Results: mx.example.org;\n\
\tdkim=fail (not \\) verified) reason=\"bad \\\"sig\\\"\" header.d=gmail.com\n\
\t  header.s=sel\n\
Received-SPF: pass (mx.example.org: domain of gmail.com designates 192.0.2.1 as permitted sender)\n\
\tclient-ip=192.0.2.1; envelope-from=\"alice@gmail.com\"; helo=\"mail.gmail.com\";\n\
\treceiver=mx.example.org; identity=mailfrom\n\
Return-Path: <alice@gmail.com>\n\
Delivered-To: bob@example.org\n\
Received: from mail.gmail.com ([192.0.2.1]) by mx.example.org (tinymx) with ESMTP id S1 for <bob@example.org>; Sat, 28 Nov 2026 14:30:26 +0000\n\
Authentication-Results: mx.google.com;\n\
\tdkim=pass header.i=@gmail.com header.s=20230601 header.b=AbCd/+12;\n\
\tspf=pass (google.com: domain of alice@gmail.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=alice@gmail.com\n\
Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=forged@evil.example\n\
Received: from evil.example by mx.google.com\n\
From: Alice <alice@gmail.com>\n\
To: bob@example.org\n\
Subject: =?UTF-8?Q?caf=C3=A9?=\n\
Message-ID: <1@gmail.com>\n\
\n\
Hello\n";

#[test]
fn json_auth_is_our_authentication_results_above_the_first_received() {
    let tmp = TempDir::new("auth");
    let stored = tmp.path().join("stored.eml");
    std::fs::write(&stored, STORED).unwrap();
    assert_eq!(
        ok(&["show", "--json", stored.to_str().unwrap()]),
        "{\"headers\":{\"From\":\"Alice <alice@gmail.com>\",\"To\":\"bob@example.org\",\
         \"Subject\":\"café\",\"Message-ID\":\"<1@gmail.com>\"},\"body\":\"Hello\\n\",\"attachments\":[],\
         \"auth\":{\"authserv_id\":\"mx.example.org\",\"results\":[\
         {\"method\":\"spf\",\"result\":\"pass\",\"properties\":{\"smtp.mailfrom\":\"alice@gmail.com\"}},\
         {\"method\":\"dkim\",\"result\":\"fail\",\"reason\":\"bad \\\"sig\\\"\",\
         \"properties\":{\"header.d\":\"gmail.com\",\"header.s\":\"sel\"}}]}}\n"
    );
    // The plain view does not change.
    assert_eq!(
        ok(&["show", stored.to_str().unwrap()]),
        "From: Alice <alice@gmail.com>\nTo: bob@example.org\nSubject: café\nMessage-ID: <1@gmail.com>\n\nHello\n"
    );
    // Without sender checks (no field above Received): null. A malformed
    // field of ours gives what could be read; no authserv-id, null.
    let at = STORED.find("Received: from mail.gmail.com").unwrap();
    let spf =
        "{\"method\":\"spf\",\"result\":\"pass\",\"properties\":{\"smtp.mailfrom\":\"a@b.org\"}}";
    let cases = [
        (&STORED[at..], "null".to_string()),
        (
            "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=\"a@b.org\n\nx\n",
            format!("{{\"authserv_id\":\"mx.example.org\",\"results\":[{spf}]}}"),
        ),
        (
            "Authentication-Results: mx.example.org; spf pass\n\nx\n",
            "{\"authserv_id\":\"mx.example.org\",\"results\":[]}".to_string(),
        ),
        (
            "Authentication-Results: ; spf=pass\n\nx\n",
            "null".to_string(),
        ),
    ];
    for (msg, auth) in cases {
        std::fs::write(&stored, msg).unwrap();
        let json = ok(&["show", "--json", stored.to_str().unwrap()]);
        assert!(
            json.ends_with(&format!(",\"auth\":{auth}}}\n")),
            "{msg}\n{json}"
        );
    }
}

/// A message whose names try to escape, hide, collide and inject.
const HOSTILE: &str = "From: x@example.com\n\
Subject: =?UTF-8?Q?evil=0Aline=1B[2J?= \"quote\" \\ back\n\
Content-Type: multipart/mixed; boundary=b\n\
\n\
--b\n\
\n\
body\n\
--b\n\
Content-Type: text/plain; name=\"../../etc/passwd\"\n\
\n\
one\n\
--b\n\
Content-Disposition: attachment; filename=\".profile\"\n\
\n\
two\n\
--b\n\
Content-Disposition: attachment; filename*=utf-8''a%0Ab%00c.txt\n\
\n\
three\n\
--b\n\
Content-Disposition: attachment; filename=\"passwd\"\n\
\n\
four\n\
--b\n\
Content-Disposition: attachment; filename=\"..\"\n\
\n\
five\n\
--b\n\
Content-Type: image/png\n\
Content-Transfer-Encoding: base64\n\
\n\
iVBORw==\n\
--b--\n";

#[test]
fn extract_sanitizes_and_makes_names_unique_without_replacing_files() {
    let tmp = TempDir::new("hostile");
    let msg = tmp.path().join("m.eml");
    std::fs::write(&msg, HOSTILE).unwrap();
    let dir = tmp.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    // Already there: must not be replaced.
    std::fs::write(dir.join("abc.txt"), "keep").unwrap();
    let out = ok(&["extract", msg.to_str().unwrap(), dir.to_str().unwrap()]);
    let d = dir.to_str().unwrap();
    assert_eq!(
        out,
        format!(
            "{d}/passwd\n{d}/profile\n{d}/abc-1.txt\n{d}/passwd-1\n{d}/attachment-5.txt\n{d}/attachment-6.png\n"
        )
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("abc.txt")).unwrap(),
        "keep"
    );
    assert_eq!(std::fs::read_to_string(dir.join("passwd")).unwrap(), "one");
    assert_eq!(std::fs::read_to_string(dir.join("profile")).unwrap(), "two");
    assert_eq!(
        std::fs::read_to_string(dir.join("abc-1.txt")).unwrap(),
        "three"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("passwd-1")).unwrap(),
        "four"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("attachment-5.txt")).unwrap(),
        "five"
    );
    assert_eq!(
        std::fs::read(dir.join("attachment-6.png")).unwrap(),
        b"\x89PNG"
    );
    assert_eq!(tree(tmp.path()).len(), 9, "{:?}", tree(tmp.path()));
    // The subject loses its control characters; JSON escapes the rest.
    assert_eq!(
        ok(&["show", "--header", "Subject", msg.to_str().unwrap()]),
        "evil line [2J \"quote\" \\ back\n"
    );
    let json = ok(&["show", "--json", msg.to_str().unwrap()]);
    assert!(
        json.starts_with(
            "{\"headers\":{\"From\":\"x@example.com\",\"Subject\":\"evil line [2J \\\"quote\\\" \\\\ back\"},\"body\":\"body\\n\",\"attachments\":[{\"name\":\"passwd\",\"type\":\"text/plain\",\"size\":3},{\"name\":\"profile\",\"type\":\"text/plain\",\"size\":3},{\"name\":\"abc.txt\""
        ),
        "{json}"
    );
}

/// Old clients' uuencoded blocks in the text, one with a name that tries
/// to escape DIR, one without a name, and a part sent x-uuencode.
const UUENCODED: &str = "From: old@example.com\n\
Subject: files\n\
Content-Type: multipart/mixed; boundary=b\n\
\n\
--b\n\
\n\
Two files:\n\
\n\
begin 644 ../../../tmp/.evil\n\
#86)C\n\
`\n\
end\n\
begin 600\n\
!>@``\n\
end\n\
Bye.\n\
--b\n\
Content-Type: application/octet-stream; name=\"c.bin\"\n\
Content-Transfer-Encoding: x-uuencode\n\
\n\
begin 644 c.bin\n\
$9&5F\"@``\n\
`\n\
end\n\
--b--\n";

#[test]
fn uuencoded_files_are_extracted_inside_dir() {
    let tmp = TempDir::new("uu");
    let msg = tmp.path().join("m.eml");
    std::fs::write(&msg, UUENCODED).unwrap();
    let dir = tmp.path().join("out");
    let out = ok(&["extract", msg.to_str().unwrap(), dir.to_str().unwrap()]);
    let d = dir.to_str().unwrap();
    assert_eq!(out, format!("{d}/evil\n{d}/attachment-2.bin\n{d}/c.bin\n"));
    assert_eq!(std::fs::read(dir.join("evil")).unwrap(), b"abc");
    assert_eq!(std::fs::read(dir.join("attachment-2.bin")).unwrap(), b"z");
    assert_eq!(std::fs::read(dir.join("c.bin")).unwrap(), b"def\n");
    assert_eq!(tree(tmp.path()).len(), 5, "{:?}", tree(tmp.path()));
    assert_eq!(
        ok(&["show", "--body", msg.to_str().unwrap()]),
        "Two files:\n\nBye.\n"
    );
}

#[test]
fn show_reads_stdin_and_warns_about_unknown_charsets() {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command()
        .args(["show", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            "Subject: =?x-unknown?Q?abc?=\nContent-Type: text/plain; charset=x-unknown\n\nпривет\n"
                .as_bytes(),
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Subject: abc\n\nпривет\n"
    );
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "tinymx show: warning: unknown charset 'x-unknown' in the Subject header, passed through as UTF-8\n\
         tinymx show: warning: unknown charset 'x-unknown' in the body, passed through as UTF-8\n"
    );
}

#[test]
fn usage_errors_exit_2_and_missing_files_exit_1() {
    for args in [
        &["show"][..],
        &["show", "--bogus", "f"],
        &["show", "--json", "--body", "f"],
        &["show", "a", "b"],
        &["extract", "onlyfile"],
        &["extract", "--x", "a", "b"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Try 'tinymx"),
            "{args:?}"
        );
    }
    let out = run(&["show", "/nonexistent/x.eml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "tinymx show: /nonexistent/x.eml: No such file or directory (os error 2)\n"
    );
    assert!(ok(&["show", "--help"]).starts_with("Usage: tinymx show"));
    assert!(ok(&["extract", "--help"]).starts_with("Usage: tinymx extract"));
}

/// A 50 MB attachment is streamed: extract and show stay far below the
/// message's size in memory (peak RSS of the child, from getrusage).
#[test]
fn a_50_megabyte_message_needs_little_memory() {
    use std::io::Write;
    let tmp = TempDir::new("big");
    let path = tmp.path().join("big.eml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    f.write_all(b"Subject: big\nContent-Type: multipart/mixed; boundary=z\n\n--z\n\nsmall body\n--z\nContent-Type: application/octet-stream; name=big.bin\nContent-Transfer-Encoding: base64\n\n").unwrap();
    // 50 MiB of 0x00..0xff repeated: "AAECAwQF…" per 57-byte line.
    let line: Vec<u8> = (0u8..57).collect();
    let enc = {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut e = Vec::new();
        for c in line.chunks(3) {
            let n = (c[0] as u32) << 16 | (c[1] as u32) << 8 | c[2] as u32;
            for i in 0..4 {
                e.push(A[(n >> (18 - 6 * i) & 63) as usize]);
            }
        }
        e.push(b'\n');
        e
    };
    let lines = 50 * 1024 * 1024 / 57 + 1;
    for _ in 0..lines {
        f.write_all(&enc).unwrap();
    }
    f.write_all(b"--z--\n").unwrap();
    drop(f);
    let out_dir = tmp.path().join("out");
    let out = ok(&["extract", path.to_str().unwrap(), out_dir.to_str().unwrap()]);
    assert_eq!(out, format!("{}/big.bin\n", out_dir.display()));
    let size = std::fs::metadata(out_dir.join("big.bin")).unwrap().len();
    assert_eq!(size, lines as u64 * 57);
    assert_eq!(
        ok(&["show", "--json", path.to_str().unwrap()]),
        format!(
            "{{\"headers\":{{\"Subject\":\"big\"}},\"body\":\"small body\\n\",\"attachments\":[{{\"name\":\"big.bin\",\"type\":\"application/octet-stream\",\"size\":{size}}}],\"auth\":null}}\n"
        )
    );
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) },
        0
    );
    // ru_maxrss is in KiB: the largest child of this test binary so far.
    assert!(ru.ru_maxrss < 16 * 1024, "peak RSS {} KiB", ru.ru_maxrss);
}
