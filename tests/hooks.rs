//! `--filter` and `--exec` against the real binary, with busybox sh
//! scripts (`make test` installs busybox-static when missing).

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn busybox() -> String {
    for p in ["/usr/bin/busybox", "/bin/busybox"] {
        if Path::new(p).exists() {
            return p.to_string();
        }
    }
    panic!("busybox not found (make test-deps installs busybox-static)");
}

/// Writes an executable busybox sh script.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!{} sh\n{body}", busybox())).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Its Date, folded and with a comment, is 2026-12-01 09:00:00 UTC.
const MSG: &[u8] = b"From: a@example.com\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= \x01x\r\nMessage-ID: <m1@example.com>\r\nDate: Tue, 1 Dec 2026\r\n 10:00:00 +0100 (CET)\r\n\r\nhello\r\n";
const MSG_DATE: &str = "1796115600";

fn tmp_and_new(server: &Server, mailbox: &str) -> (usize, usize) {
    let base = server.spool.join(mailbox);
    (
        files(&base.join("tmp")).len(),
        files(&base.join("new")).len(),
    )
}

/// Starts a server with `--filter SCRIPT`; returns it and the script's dir.
fn with_filter(body: &str, extra: &[&str]) -> (Server, TempDir) {
    let d = TempDir::new("filter");
    let f = script(d.path(), "filter", body);
    let mut args = vec!["--filter", f.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = d.path().join("out");
    let server = Server::start_env(
        &["-l", "127.0.0.1:0", "-n", "mx.test"],
        &args,
        &[("OUT", out.to_str().unwrap())],
    );
    (server, d)
}

#[test]
fn filter_exit_0_accepts_and_sees_the_file_in_tmp() {
    let (server, d) = with_filter(
        "cat > \"$OUT.stdin\"\nenv | grep ^TINYMX_ | sort > \"$OUT.env\"\nexit 0\n",
        &[],
    );
    let mut c = Client::hello(server.addr());
    let r = c.send_mail("a@example.com", &["bob@example.org"], MSG);
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r}");
    assert_eq!(tmp_and_new(&server, "bob"), (0, 1));
    let stored = &server.messages("bob")[0];
    let out = d.path().join("out");
    assert_eq!(&std::fs::read(out.with_extension("stdin")).unwrap(), stored);
    let env = std::fs::read_to_string(out.with_extension("env")).unwrap();
    let tmp = server.spool.join("bob/tmp");
    // (`make test` sets TINYMX_BIN for the test binary; the server passes
    // its environment on.)
    let lines: Vec<&str> = env
        .lines()
        .filter(|l| !l.starts_with("TINYMX_BIN=") && !l.starts_with("TINYMX_RUNNER="))
        .collect();
    let file = lines
        .iter()
        .find_map(|l| l.strip_prefix("TINYMX_FILE="))
        .unwrap();
    assert!(file.starts_with(tmp.to_str().unwrap()), "{file}");
    let session = r.trim_end().rsplit(' ').next().unwrap();
    let session = session.rsplit_once('.').unwrap().0;
    assert_eq!(
        lines,
        [
            // The sender-check ones are empty: a loopback client is not
            // checked (--auth-skip).
            "TINYMX_AUTH=".to_string(),
            "TINYMX_CLIENT_IP=127.0.0.1".into(),
            "TINYMX_CLIENT_NAME=".into(),
            format!("TINYMX_DATE={MSG_DATE}"),
            "TINYMX_DKIM=".into(),
            "TINYMX_DKIM_DOMAINS=".into(),
            "TINYMX_DMARC=".into(),
            // No --dnsbl or --dnswl.
            "TINYMX_DNSBL=".into(),
            format!("TINYMX_FILE={file}"),
            "TINYMX_FROM=".into(),
            "TINYMX_FROM_DOMAIN=".into(),
            "TINYMX_HELO=client.example".into(),
            "TINYMX_MAILBOX=bob".into(),
            "TINYMX_MESSAGE_ID=<m1@example.com>".into(),
            "TINYMX_RECIPIENT=bob@example.org".into(),
            "TINYMX_SENDER=a@example.com".into(),
            format!("TINYMX_SESSION={session}"),
            format!("TINYMX_SIZE={}", stored.len()),
            "TINYMX_SPF=".into(),
            "TINYMX_SPF_DOMAIN=".into(),
            "TINYMX_SUBJECT=Grüße x".into(),
            // Not over TLS (and this build has none).
            "TINYMX_TLS=".into(),
        ]
    );
}

#[test]
fn filter_exit_100_refuses_with_its_first_line() {
    let (server, _d) = with_filter(
        "printf 'No thanks \\033[1m\\303\\251here\\nsecond line\\n'\nexit 100\n",
        &[],
    );
    let mut c = Client::hello(server.addr());
    let r = c.send_mail(
        "a@example.com",
        &["bob@example.org", "carol@example.org"],
        MSG,
    );
    assert_eq!(r, "550 5.7.1 No thanks [1mhere\r\n");
    assert_eq!(tmp_and_new(&server, "bob"), (0, 0));
    assert_eq!(tmp_and_new(&server, "carol"), (0, 0));
    // The session goes on.
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 Ok\r\n");
}

#[test]
fn filter_exit_99_accepts_and_stores_nothing() {
    let (server, _d) = with_filter("exit 99\n", &[]);
    let mut c = Client::hello(server.addr());
    let r = c.send_mail("a@example.com", &["bob@example.org"], MSG);
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r}");
    assert_eq!(tmp_and_new(&server, "bob"), (0, 0));
}

#[test]
fn filter_failures_are_temporary() {
    for body in [
        "exit 1\n",
        "exit 2\n",
        "no-such-command-xyz\n",
        "kill -KILL $$\n",
    ] {
        let (server, _d) = with_filter(body, &[]);
        let mut c = Client::hello(server.addr());
        let r = c.send_mail("a@example.com", &["bob@example.org"], MSG);
        assert_eq!(
            r, "451 4.3.0 Local error in processing, try again later\r\n",
            "{body}"
        );
        assert_eq!(tmp_and_new(&server, "bob"), (0, 0), "{body}");
    }
    // A filter that cannot be started at all.
    let server = Server::start(&["--filter", "/nonexistent/filter"]);
    let mut c = Client::hello(server.addr());
    let r = c.send_mail("a@example.com", &["bob@example.org"], MSG);
    assert_eq!(
        r,
        "451 4.3.0 Local error in processing, try again later\r\n"
    );
}

#[test]
fn filter_timeout_is_451_and_the_filter_is_killed() {
    let (server, d) = with_filter(
        "echo $$ > \"$OUT.pid\"\nexec sleep 60\n",
        &["--filter-timeout", "1"],
    );
    let mut c = Client::hello(server.addr());
    let started = std::time::Instant::now();
    let r = c.send_mail("a@example.com", &["bob@example.org"], MSG);
    assert_eq!(
        r,
        "451 4.3.0 Local error in processing, try again later\r\n"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert_eq!(tmp_and_new(&server, "bob"), (0, 0));
    let pid = std::fs::read_to_string(d.path().join("out.pid")).unwrap();
    let pid: i32 = pid.trim().parse().unwrap();
    // SAFETY: kill with signal 0 only checks whether the process exists.
    assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "filter still running");
    server.wait_log(|l| {
        l.iter()
            .any(|l| l.contains("filter") && l.contains("timed out, killed"))
    });
}

/// Starts a server with `--exec SCRIPT`.
fn with_exec(body: &str, extra: &[&str], d: &TempDir) -> Server {
    let f = script(d.path(), "hook", body);
    let mut args = vec!["--exec", f.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = d.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    Server::start_env(
        &["-l", "127.0.0.1:0", "-n", "mx.test"],
        &args,
        &[("OUT", out.to_str().unwrap())],
    )
}

fn exec_done(server: &Server, n: usize) {
    server.wait_log(|l| {
        l.iter()
            .filter(|l| l.contains(" exec ") && l.contains("exit="))
            .count()
            >= n
    });
}

#[test]
fn exec_runs_once_per_mailbox_with_the_stored_file() {
    let d = TempDir::new("exec");
    let server = with_exec(
        "cat > \"$OUT/$TINYMX_MAILBOX.stdin\"\nenv | grep ^TINYMX_ | sort > \"$OUT/$TINYMX_MAILBOX.env\"\necho 'hook says hi' >&2\n",
        &[],
        &d,
    );
    let mut c = Client::hello(server.addr());
    let r = c.send_mail(
        "a@example.com",
        &["bob@example.org", "carol@example.org", "Bob@example.org"],
        MSG,
    );
    assert!(r.starts_with("250 "), "{r}");
    exec_done(&server, 2);
    for mb in ["bob", "carol"] {
        let stored = files(&server.spool.join(mb).join("new"));
        assert_eq!(stored.len(), 1);
        let env = std::fs::read_to_string(d.path().join(format!("out/{mb}.env"))).unwrap();
        assert!(
            env.contains(&format!("TINYMX_FILE={}\n", stored[0].display())),
            "{env}"
        );
        assert!(env.contains(&format!("TINYMX_MAILBOX={mb}\n")));
        assert!(env.contains(&format!("TINYMX_RECIPIENT={mb}@example.org\n")));
        assert!(env.contains("TINYMX_SUBJECT=Grüße x\n"));
        assert!(env.contains("TINYMX_MESSAGE_ID=<m1@example.com>\n"));
        assert!(env.contains(&format!("TINYMX_DATE={MSG_DATE}\n")), "{env}");
        assert_eq!(
            std::fs::read(d.path().join(format!("out/{mb}.stdin"))).unwrap(),
            std::fs::read(&stored[0]).unwrap()
        );
    }
    // Each hook's stderr is logged after its exit line (by the worker
    // that ran it, maybe after the other hook's exit line).
    server.wait_log(|l| l.iter().any(|l| l.ends_with("exec stderr: hook says hi")));
    assert_eq!(tree(&d.path().join("out")).len(), 4, "ran once per mailbox");
}

#[test]
fn a_bdat_message_reaches_the_hook_like_a_data_one() {
    let d = TempDir::new("exec-bdat");
    let server = with_exec(
        "cat > \"$OUT/$TINYMX_MAILBOX.stdin\"\nenv | grep ^TINYMX_ | grep -v -e ^TINYMX_FILE= -e ^TINYMX_MAILBOX= -e ^TINYMX_RECIPIENT= -e ^TINYMX_ID= | sort > \"$OUT/$TINYMX_MAILBOX.env\"\n",
        &[],
        &d,
    );
    let mut c = Client::hello(server.addr());
    let r = c.send_mail("a@example.com", &["bob@example.org"], MSG);
    assert!(r.starts_with("250 "), "{r}");
    let r = c.send_bdat("a@example.com", &["ann@example.org"], MSG, &[1, 20, 21]);
    assert!(r.starts_with("250 "), "{r}");
    exec_done(&server, 2);
    let read = |f: &str| std::fs::read(d.path().join("out").join(f)).unwrap();
    let env = String::from_utf8(read("ann.env")).unwrap();
    assert!(env.contains("TINYMX_SUBJECT=Grüße x\n"), "{env}");
    assert!(env.contains(&format!("TINYMX_DATE={MSG_DATE}\n")), "{env}");
    assert_eq!(env, String::from_utf8(read("bob.env")).unwrap());
    // The same content after the trace header block.
    let (_, bob) = split_trace(&read("bob.stdin"));
    let (_, ann) = split_trace(&read("ann.stdin"));
    assert_eq!(ann, bob);
    assert_eq!(ann, to_lf(MSG));
}

#[test]
fn a_hanging_hook_blocks_nothing_and_is_killed() {
    let d = TempDir::new("hang");
    let server = with_exec(
        "exec sleep 60\n",
        &["--exec-timeout", "8", "--exec-max", "3"],
        &d,
    );
    let mut c = Client::hello(server.addr());
    for _ in 0..3 {
        let r = c.send_mail("a@example.com", &["bob@example.org"], MSG);
        assert!(r.starts_with("250 "), "{r}");
    }
    // Three messages accepted while the first hook still hangs: none has
    // reached its time-out (8 s) yet.
    assert!(
        !server
            .log_lines()
            .iter()
            .any(|l| l.contains("timed out, killed")),
        "the SMTP session waited for a hook"
    );
    assert_eq!(tmp_and_new(&server, "bob"), (0, 3));
    server.wait_log(|l| {
        l.iter()
            .filter(|l| l.contains(" exec ") && l.contains("timed out, killed"))
            .count()
            >= 3
    });
    assert_eq!(tmp_and_new(&server, "bob"), (0, 3), "the mail stays");
}

#[test]
fn a_full_exec_queue_skips_the_hook_and_keeps_the_mail() {
    let d = TempDir::new("queue");
    let release = d.path().join("release");
    let server = with_exec(
        &format!(
            "while [ ! -e {} ]; do sleep 0.05; done\n",
            release.display()
        ),
        &["--exec-max", "1", "--exec-queue", "1"],
        &d,
    );
    let mut c = Client::hello(server.addr());
    for _ in 0..2 {
        assert!(
            c.send_mail("a@example.com", &["bob@example.org"], MSG)
                .starts_with("250 ")
        );
    }
    // One running, one queued (or both still queued): within a few more
    // messages the queue is full and a hook is skipped.
    let mut skipped = false;
    for _ in 0..20 {
        assert!(
            c.send_mail("a@example.com", &["bob@example.org"], MSG)
                .starts_with("250 ")
        );
        if server
            .log_lines()
            .iter()
            .any(|l| l.contains("exec queue full"))
        {
            skipped = true;
            break;
        }
    }
    assert!(skipped);
    std::fs::write(&release, "").unwrap();
    exec_done(&server, 2);
    let n = tmp_and_new(&server, "bob").1;
    assert!(n >= 3, "{n}");
}

/// The "Done when" of issue 5: a 10-line busybox script as --exec reads
/// $TINYMX_SUBJECT and `tinymx show --body`, on mail from Python's email
/// package (UTF-8 subject, quoted-printable body, base64 attachment), and
/// `tinymx extract` gives the attachment back byte for byte.
#[test]
fn done_when_a_ten_line_busybox_hook_reads_subject_body_and_attachment() {
    let d = TempDir::new("donewhen");
    let body = "\
# Called by tinymx --exec for each delivered copy.
set -eu
dir=\"$OUT/$TINYMX_MAILBOX\"
mkdir -p \"$dir\"
printf '%s\\n' \"$TINYMX_SUBJECT\" > \"$dir/subject\"
tinymx show --body \"$TINYMX_FILE\" > \"$dir/body\"
tinymx extract \"$TINYMX_FILE\" \"$dir/files\" > \"$dir/list\"
echo \"from $TINYMX_SENDER via $TINYMX_CLIENT_IP\" > \"$dir/who\"
";
    let bin_dir = binary().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let f = script(d.path(), "hook", body);
    assert!(std::fs::read_to_string(&f).unwrap().lines().count() <= 10);
    let out = d.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let server = Server::start_env(
        &["-l", "127.0.0.1:0", "-n", "mx.test"],
        &["--exec", f.to_str().unwrap()],
        &[("OUT", out.to_str().unwrap()), ("PATH", &path)],
    );
    let attachment = d.path().join("sent.bin");
    let port = server.addr().port().to_string();
    assert_eq!(
        python("hook_mail.py", &[&port, attachment.to_str().unwrap()]).trim(),
        "ok"
    );
    exec_done(&server, 1);
    assert!(
        server
            .log_lines()
            .iter()
            .any(|l| l.contains(" exec ") && l.contains("exit=0"))
    );
    let dir = out.join("house");
    assert_eq!(
        std::fs::read_to_string(dir.join("subject")).unwrap(),
        "Licht an: Küche 💡 – bitte\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("body")).unwrap(),
        "Hallo Haus,\nbitte das Licht in der Küche einschalten.\nDanke — Jürgen\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("list")).unwrap(),
        format!("{}\n", dir.join("files/plan ü.bin").display())
    );
    assert!(
        std::fs::read(dir.join("files/plan ü.bin")).unwrap() == std::fs::read(&attachment).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("who")).unwrap(),
        "from juergen@example.com via 127.0.0.1\n"
    );
}
