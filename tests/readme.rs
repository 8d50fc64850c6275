//! The README against the binary: its usage text is `tinymx --help`, and
//! every `tinymx: …` message it quotes is one the binary prints, so the
//! README cannot drift from the program (it once quoted glibc's
//! "Address already in use" where the musl binary says "Address in use").

mod common;

use common::*;
use std::path::Path;
use std::process::Stdio;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// Every inline code span of the README that starts with `tinymx: `, with
/// its line breaks read as spaces (as Markdown does).
fn quoted_messages(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("`tinymx: ") {
        let span = &rest[at + 1..];
        let end = span.find('`').expect("closing backtick");
        let msg: Vec<&str> = span[..end].split('\n').map(str::trim).collect();
        let msg = msg.join(" ");
        if msg != "tinymx:" {
            out.push(msg);
        }
        rest = &span[end + 1..];
    }
    out
}

/// Every run of digits as `#`: for messages whose numbers are the
/// machine's (free bytes) or the test's (a port).
fn digits_masked(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn stderr_lines(args: &[&str]) -> (Option<i32>, Vec<String>) {
    let out = command().args(args).stdin(Stdio::null()).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    (out.status.code(), err.lines().map(String::from).collect())
}

#[test]
fn readme_usage_block_is_the_binarys_help() {
    let text = readme();
    let start = text
        .find("```\nUsage: tinymx [OPTIONS]\n")
        .expect("the usage block")
        + 4;
    let len = text[start..].find("```\n").unwrap();
    let out = command().arg("--help").output().unwrap();
    assert_eq!(
        &text[start..start + len],
        String::from_utf8(out.stdout).unwrap()
    );
}

#[test]
fn every_message_the_readme_quotes_is_what_the_binary_prints() {
    let text = readme();
    let dir = TempDir::new("readme");
    // Each case: the README's form of a line the binary printed (the
    // machine's own values put back to the README's example values).
    let mut printed: Vec<String> = Vec::new();

    // A busy port: the README's example is 127.0.0.1:2525.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let (code, lines) = stderr_lines(&["-l", &addr, "-d", dir.path().join("s1").to_str().unwrap()]);
    assert_eq!(code, Some(1));
    printed.push(lines[0].replace(&addr, "127.0.0.1:2525"));

    // A bad value: the flag's line, then the hint.
    let (code, lines) = stderr_lines(&["--max-size", "1.5M"]);
    assert_eq!(code, Some(2));
    printed.push(lines[0].clone());
    assert_eq!(lines[1], "Try 'tinymx --help' for more information.");
    assert!(text.contains("`Try 'tinymx --help' for more information.`"));

    // The TLS options in the build without TLS.
    let (code, lines) = stderr_lines(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]);
    assert_eq!(code, Some(2));
    printed.push(lines[0].clone());

    let (code, lines) = stderr_lines(&["-vq"]);
    assert_eq!(code, Some(2));
    printed.push(lines[0].clone());

    // A missing syslog socket (the README's is the default, /dev/log).
    let missing = dir.path().join("missing");
    let server = Server::start(&["--syslog", "--syslog-socket", missing.to_str().unwrap()]);
    let line = server
        .log_lines()
        .into_iter()
        .find(|l| l.starts_with("tinymx: --syslog: "))
        .expect("the --syslog line");
    printed.push(line.replace(missing.to_str().unwrap(), "/dev/log"));
    drop(server);

    // Less free space than --min-free: the numbers are the machine's.
    let server = Server::start(&["--max-size", "1048576G"]);
    server.wait_log(|l| {
        l.iter()
            .any(|l| l.starts_with("tinymx: startup: the spool's"))
    });
    let line = server
        .log_lines()
        .into_iter()
        .find(|l| l.starts_with("tinymx: startup: the spool's"))
        .unwrap();
    printed.push(digits_masked(&line));
    drop(server);

    // A spool the final user cannot write (as root: CI runs as root).
    let root = tinymx::sys::geteuid() == 0;
    if root {
        use std::os::unix::fs::PermissionsExt;
        let spool = dir.path().join("private");
        std::fs::create_dir(&spool).unwrap();
        std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o700)).unwrap();
        let (code, lines) = stderr_lines(&[
            "-l",
            "127.0.0.1:0",
            "-u",
            "8",
            "-d",
            spool.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(1), "{lines:?}");
        printed.push(
            lines
                .last()
                .unwrap()
                .replace(spool.to_str().unwrap(), "/var/spool/tinymx"),
        );
    } else {
        eprintln!("SKIPPED the spool-permission quote: needs root (CI runs as root)");
    }

    let quoted = quoted_messages(&text);
    for q in &quoted {
        let covered = printed.contains(q) || printed.contains(&digits_masked(q));
        let root_only = q.starts_with("tinymx: cannot write to spool ");
        assert!(
            covered || (root_only && !root),
            "the README quotes {q:?}, which no case here prints; printed: {printed:#?}"
        );
    }
    for p in &printed {
        assert!(
            quoted.contains(p) || quoted.iter().any(|q| digits_masked(q) == *p),
            "the binary prints {p:?}, which the README does not quote as such"
        );
    }
}
