//! The examples/ hooks, run under busybox sh the way tinymx --exec runs
//! them: TINYMX_* variables, the message on stdin.

mod common;

use common::dns_server::{self, Zone};
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn busybox() -> &'static str {
    ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox (make test-deps installs busybox-static)")
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs an example with the hook variables and `env`; returns (status, stdout).
fn run_hook(
    name: &str,
    subject: &str,
    sender: &str,
    file: &Path,
    env: &[(&str, &str)],
) -> (bool, String) {
    let out = Command::new(busybox())
        .arg("sh")
        .arg(example(name))
        .env("TINYMX_FILE", file)
        .env("TINYMX_MAILBOX", "house")
        .env("TINYMX_RECIPIENT", "house@example.org")
        .env("TINYMX_SENDER", sender)
        .env("TINYMX_SUBJECT", subject)
        .env("TINYMX_MESSAGE_ID", "<m@example.com>")
        .env("TINYMX_SESSION", "S1")
        .env("TINYMX", binary())
        .envs(env.iter().copied())
        .stdin(std::fs::File::open(file).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A gateway set up in `dir`: allow-list, the command `lights-on` (it
/// appends a line to `dir/ran`), a non-executable `reboot`; the GATEWAY_*
/// settings (`secret` as GATEWAY_SECRET's file when given).
fn gateway_env(dir: &Path, secret: Option<&str>) -> Vec<(String, String)> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(dir.join("allow"), "Alice@Example.com\nops@other.example\n").unwrap();
    std::fs::create_dir(dir.join("cmds")).unwrap();
    let cmd = dir.join("cmds/lights-on");
    std::fs::write(
        &cmd,
        format!(
            "#!{} sh\necho on >> {}\n",
            busybox(),
            dir.join("ran").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cmd, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A file that is in the directory but not executable is not a command.
    std::fs::write(dir.join("cmds/reboot"), "").unwrap();
    let mut env = vec![
        ("GATEWAY_ALLOW", dir.join("allow")),
        ("GATEWAY_COMMANDS", dir.join("cmds")),
        ("GATEWAY_LOG", dir.join("log")),
        ("GATEWAY_SEEN", dir.join("seen")),
    ];
    if let Some(secret) = secret {
        std::fs::write(dir.join("secret"), format!("{secret}\n")).unwrap();
        env.push(("GATEWAY_SECRET", dir.join("secret")));
    }
    env.into_iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect()
}

/// The gateway log's lines without their time stamp and session.
fn gateway_log(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("log"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.splitn(3, ' ').nth(2).unwrap().to_string())
        .collect()
}

/// Its decisions: every line but the `mail from=` ones.
fn decisions(dir: &Path) -> Vec<String> {
    gateway_log(dir)
        .into_iter()
        .filter(|l| !l.starts_with("mail from="))
        .collect()
}

fn now() -> i64 {
    tinymx::date::unix_now() as i64
}

#[test]
fn gateway_with_a_secret_runs_only_listed_commands_for_allowed_from_addresses() {
    let d = TempDir::new("gateway");
    let p = d.path();
    let env = gateway_env(p, Some("s3cret"));
    let fresh = now().to_string();
    let cases = [
        ("s3cret lights-on", "alice@example.com", "pass", true),
        ("wrong lights-on", "alice@example.com", "pass", false),
        ("s3cret lights-on", "mallory@example.com", "pass", false),
        ("s3cret lights-on", "", "pass", false),
        ("s3cret lights-on", "alice@example.com", "fail", false),
        ("s3cret lights-on", "alice@example.com", "", false),
        ("s3cret reboot", "alice@example.com", "pass", false),
        (
            "s3cret ../cmds/lights-on",
            "alice@example.com",
            "pass",
            false,
        ),
        ("s3cret *", "alice@example.com", "pass", false),
        ("s3cret", "alice@example.com", "pass", false),
        ("", "alice@example.com", "pass", false),
    ];
    for (i, (subject, from, dmarc, runs)) in cases.iter().enumerate() {
        let _ = std::fs::remove_file(p.join("ran"));
        let id = format!("<m{i}@example.com>");
        let mut vars: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // The envelope sender is in the list but is not looked at.
        vars.extend([
            ("TINYMX_FROM", *from),
            ("TINYMX_DMARC", *dmarc),
            ("TINYMX_DATE", fresh.as_str()),
            ("TINYMX_MESSAGE_ID", id.as_str()),
        ]);
        let (ok, output) = run_hook(
            "gateway.sh",
            subject,
            "alice@example.com",
            &fixture("latin1.eml"),
            &vars,
        );
        assert!(ok, "{subject}");
        assert_eq!(output, "", "replies and prints nothing");
        assert_eq!(
            p.join("ran").exists(),
            *runs,
            "{subject:?} from {from} dmarc={dmarc}"
        );
    }
    assert_eq!(
        decisions(p),
        [
            "running lights-on",
            "lights-on exited with status 0",
            "ignored: wrong or missing secret",
            "ignored: From not in the allow-list",
            "ignored: From not in the allow-list",
            "ignored: DMARC fail, not pass",
            "ignored: DMARC not checked, not pass",
            "ignored: command 'reboot' is not in the list",
            "ignored: bad command name",
            "ignored: bad command name",
            "ignored: bad command name",
            "ignored: wrong or missing secret",
        ]
    );
    let log = std::fs::read_to_string(p.join("log")).unwrap();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains(" S1 mail from=<"))
            .count(),
        cases.len()
    );
    assert!(!log.contains("s3cret"), "the secret is never logged");
    assert_eq!(
        std::fs::read_to_string(p.join("seen")).unwrap(),
        "<m0@example.com>\n"
    );

    // A secret file that cannot be read: nothing runs, exit 1.
    let mut vars: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| {
            (
                k.as_str(),
                if k == "GATEWAY_SECRET" {
                    "/nonexistent"
                } else {
                    v.as_str()
                },
            )
        })
        .collect();
    vars.extend([
        ("TINYMX_FROM", "alice@example.com"),
        ("TINYMX_DMARC", "pass"),
        ("TINYMX_DATE", fresh.as_str()),
    ]);
    let (ok, _) = run_hook(
        "gateway.sh",
        "s3cret lights-on",
        "a@example.com",
        &fixture("latin1.eml"),
        &vars,
    );
    assert!(!ok);
    assert_eq!(
        decisions(p).last().unwrap(),
        "error: GATEWAY_SECRET is set but its file cannot be read or is empty"
    );
}

/// Hooks run concurrently (--exec-max): of eight deliveries of one
/// Message-ID at once, one runs the command; the store keeps the newest
/// GATEWAY_SEEN_MAX IDs.
#[test]
fn gateway_acts_once_per_message_id_under_concurrency_and_keeps_the_newest_ids() {
    let d = TempDir::new("gatewayrace");
    let p = d.path();
    let env = gateway_env(p, None);
    let fresh = now().to_string();
    let spawn = |id: &str| {
        Command::new(busybox())
            .arg("sh")
            .arg(example("gateway.sh"))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("GATEWAY_SEEN_MAX", "3")
            .env("TINYMX_SESSION", "S1")
            .env("TINYMX_FROM", "ALICE@example.com")
            .env("TINYMX_DMARC", "pass")
            .env("TINYMX_DATE", &fresh)
            .env("TINYMX_SUBJECT", "lights-on")
            .env("TINYMX_MESSAGE_ID", id)
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..8).map(|_| spawn("<same@example.com>")).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(std::fs::read_to_string(p.join("ran")).unwrap(), "on\n");
    let mut got = decisions(p);
    got.sort();
    let mut want = vec!["ignored: Message-ID already acted on (replay)"; 7];
    want.extend(["lights-on exited with status 0", "running lights-on"]);
    assert_eq!(got, want);
    // White space in the ID does not make it new (relaxed canonicalization
    // lets a replayer add it).
    assert!(spawn(" <same@example.com>\t").wait().unwrap().success());
    assert_eq!(
        decisions(p).last().unwrap(),
        "ignored: Message-ID already acted on (replay)"
    );
    for n in 1..=4 {
        assert!(
            spawn(&format!("<n{n}@example.com>"))
                .wait()
                .unwrap()
                .success()
        );
    }
    assert_eq!(
        std::fs::read_to_string(p.join("seen")).unwrap(),
        "<n2@example.com>\n<n3@example.com>\n<n4@example.com>\n"
    );
    assert_eq!(
        std::fs::read_to_string(p.join("ran")).unwrap(),
        "on\n".repeat(5)
    );
    assert!(!p.join("seen.lock").exists());
    // A store that cannot be written: nothing runs, exit 1.
    let st = Command::new(busybox())
        .arg("sh")
        .arg(example("gateway.sh"))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("GATEWAY_SEEN", p.join("missing/seen"))
        .env("TINYMX_FROM", "alice@example.com")
        .env("TINYMX_DMARC", "pass")
        .env("TINYMX_DATE", &fresh)
        .env("TINYMX_SUBJECT", "lights-on")
        .env("TINYMX_MESSAGE_ID", "<new@example.com>")
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(!st.success());
    assert_eq!(
        decisions(p).last().unwrap(),
        &format!(
            "error: cannot write in the directory of {}; not run",
            p.join("missing/seen").display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(p.join("ran")).unwrap(),
        "on\n".repeat(5)
    );
}

/// Runs `tests/dkim/peer.py` (dkimpy, in tests/.venv); returns its stdout.
fn peer(args: &[&str]) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("tests/.venv/bin/python");
    assert!(
        venv.exists(),
        "{} missing: run make test-deps",
        venv.display()
    );
    let out = Command::new(&venv)
        .arg(root.join("tests/dkim/peer.py"))
        .args(args)
        .output()
        .expect("run dkimpy");
    assert!(
        out.status.success(),
        "peer.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn replace(msg: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = String::from_utf8(msg.to_vec()).unwrap();
    assert!(s.contains(from), "{from:?} in {s}");
    s.replacen(from, to, 1).into_bytes()
}

/// Issue 14's gateway through the real binary: messages dkimpy signs now
/// (so the Date is fresh whenever the test runs), DKIM keys and DMARC
/// policy from the tests' DNS server, `--exec examples/gateway.sh`. Only
/// the signed mail from an allowed address runs the command, once.
#[test]
fn gateway_through_tinymx_runs_a_fresh_signed_mail_once_and_nothing_else() {
    let d = TempDir::new("gatewaye2e");
    let p = d.path();
    let keys = p.join("keys");
    let record = String::from_utf8(peer(&["key", keys.to_str().unwrap()])).unwrap();
    let (name, value) = record.trim_end().split_once('\t').unwrap();
    let mut zone = Zone::new();
    zone.txt(name, value)
        .txt("_dmarc.example.com", "v=DMARC1; p=reject");
    let dns = dns_server::Server::zone(zone);
    let at = dns.addr.to_string();
    let env = gateway_env(p, None);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let gateway = example("gateway.sh");
    let s = Server::start_env(
        &["-l", "127.0.0.1:0", "-n", "mx.test"],
        &[
            "--auth-skip",
            "none",
            "--dns",
            &at,
            "--dns-timeout",
            "2",
            "--max-rate",
            "1000",
            "--exec",
            gateway.to_str().unwrap(),
        ],
        &env,
    );
    let sign = |from: &str, date: i64, id: &str, subject: &str| {
        let date = date.to_string();
        peer(&[
            "sign",
            keys.to_str().unwrap(),
            from,
            &date,
            id,
            subject,
            ".lights, please",
        ])
    };
    let t = now();
    let good = sign(
        "Alice <alice@example.com>",
        t,
        "<g1@example.com>",
        "lights-on now",
    );
    let forged = replace(
        &sign("mallory@example.com", t, "<g3@example.com>", "lights-on"),
        "From: mallory@example.com",
        "From: alice@example.com",
    );
    let tampered = replace(
        &sign("alice@example.com", t, "<g6@example.com>", "lights-on"),
        ".lights, please",
        ".lights, please, and reboot",
    );
    let unsigned = format!(
        "From: alice@example.com\r\nTo: bob@example.org\r\nSubject: lights-on\r\n\
         Date: {}\r\nMessage-ID: <g7@example.com>\r\n\r\nhi\r\n",
        tinymx::date::rfc5322(t as u64)
    )
    .into_bytes();
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "signed, allowed",
            good.clone(),
            &["running lights-on", "lights-on exited with status 0"],
        ),
        (
            "the same bytes again",
            good,
            &["ignored: Message-ID already acted on (replay)"],
        ),
        (
            "From: changed after signing",
            forged,
            &["ignored: DMARC fail, not pass"],
        ),
        (
            "signed, From not allowed",
            sign("mallory@example.com", t, "<g4@example.com>", "lights-on"),
            &["ignored: From not in the allow-list"],
        ),
        (
            "signed by example.com, From: another domain (in the allow-list)",
            sign("ops@other.example", t, "<g5@example.com>", "lights-on"),
            &["ignored: DMARC none, not pass"],
        ),
        (
            "body changed after signing",
            tampered,
            &["ignored: DMARC fail, not pass"],
        ),
        ("no signature", unsigned, &["ignored: DMARC fail, not pass"]),
        (
            "signed, Date older than a day",
            sign(
                "alice@example.com",
                t - 86_400 - 600,
                "<g8@example.com>",
                "lights-on",
            ),
            &["ignored: Date more than 86400 s old"],
        ),
        (
            "signed, Date an hour ahead",
            sign(
                "alice@example.com",
                t + 3600,
                "<g9@example.com>",
                "lights-on",
            ),
            &["ignored: Date more than 900 s ahead of the clock"],
        ),
        (
            "signed, no Message-ID",
            sign("alice@example.com", t, "", "lights-on"),
            &["ignored: no Message-ID (a replay could not be told apart)"],
        ),
        (
            "signed, a command not in the list",
            sign("alice@example.com", t, "<g11@example.com>", "reboot"),
            &["ignored: command 'reboot' is not in the list"],
        ),
    ];
    let mut want: Vec<String> = Vec::new();
    for (n, (what, msg, decided)) in cases.iter().enumerate() {
        let mut c = Client::hello(s.addr());
        let r = c.send_mail("alice@example.com", &["bob@example.org"], &stuffed(msg));
        assert!(r.starts_with("250 "), "{what}: {r}");
        c.cmd("QUIT");
        // The hook runs after the 250: wait for it to finish.
        s.wait_log(|l| {
            l.iter()
                .filter(|l| l.contains(" exec ") && l.contains("exit=0"))
                .count()
                > n
        });
        want.extend(decided.iter().map(|d| d.to_string()));
        assert_eq!(decisions(p), want, "after {what}");
    }
    assert_eq!(
        std::fs::read_to_string(p.join("ran")).unwrap(),
        "on\n",
        "ran once"
    );
    let mails: Vec<String> = gateway_log(p)
        .into_iter()
        .filter(|l| l.starts_with("mail from="))
        .collect();
    assert_eq!(mails.len(), cases.len());
    assert_eq!(
        mails[0],
        "mail from=<alice@example.com> header.from=<alice@example.com> dmarc=pass \
         to=<bob@example.org> id=<g1@example.com>"
    );
    assert!(mails[2].contains(" dmarc=fail "), "{}", mails[2]);
}

#[test]
fn save_attachments_writes_them_to_the_share() {
    let d = TempDir::new("save");
    let share = d.path().join("share");
    let (ok, output) = run_hook(
        "save-attachments.sh",
        "x",
        "a@example.com",
        &fixture("outlook.eml"),
        &[("SAVE_TO", share.to_str().unwrap())],
    );
    assert!(ok, "{output}");
    let dir = share.join("house");
    assert_eq!(
        output,
        format!(
            "saved {}\nsaved {}\n",
            dir.join("image001.png").display(),
            dir.join("Ordre du jour réunion.docx").display()
        )
    );
    for n in ["image001.png", "Ordre du jour réunion.docx"] {
        assert!(
            std::fs::read(dir.join(n)).unwrap()
                == std::fs::read(fixture("outlook.files").join(n)).unwrap()
        );
    }
}

#[test]
fn notify_posts_the_subject_on_stdin() {
    use std::os::unix::fs::PermissionsExt;
    let d = TempDir::new("notify");
    let got = d.path().join("got");
    let prog = d.path().join("notify");
    std::fs::write(
        &prog,
        format!("#!{} sh\ncat > {}\n", busybox(), got.display()),
    )
    .unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (ok, output) = run_hook(
        "notify.sh",
        "Grüße; $(reboot) `x`",
        "a@example.com",
        &fixture("latin1.eml"),
        &[("NOTIFY_PROGRAM", prog.to_str().unwrap())],
    );
    assert!(ok, "{output}");
    assert_eq!(
        std::fs::read_to_string(&got).unwrap(),
        "New mail for house from <a@example.com>: Grüße; $(reboot) `x`\n"
    );
}
