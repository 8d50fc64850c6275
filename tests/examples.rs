//! The examples/ hooks, run under busybox sh the way tinymx --exec runs
//! them: TINYMX_* variables, the message on stdin.

mod common;

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

#[test]
fn gateway_runs_only_listed_commands_for_allowed_senders_with_the_secret() {
    use std::os::unix::fs::PermissionsExt;
    let d = TempDir::new("gateway");
    let p = d.path();
    std::fs::write(p.join("allow"), "Juergen@Example.com\n").unwrap();
    std::fs::write(p.join("secret"), "s3cret\n").unwrap();
    std::fs::create_dir(p.join("cmds")).unwrap();
    let cmd = p.join("cmds/lights-on");
    std::fs::write(
        &cmd,
        format!(
            "#!{} sh\necho on >> {}\n",
            busybox(),
            p.join("ran").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cmd, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A file that is in the directory but not executable is not a command.
    std::fs::write(p.join("cmds/reboot"), "").unwrap();
    let log = p.join("log");
    let env = [
        ("GATEWAY_ALLOW", p.join("allow")),
        ("GATEWAY_SECRET", p.join("secret")),
        ("GATEWAY_COMMANDS", p.join("cmds")),
        ("GATEWAY_LOG", log.clone()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.to_str().unwrap())).collect();
    let msg = fixture("latin1.eml");
    let cases = [
        ("s3cret lights-on", "juergen@example.com", true),
        ("wrong lights-on", "juergen@example.com", false),
        ("s3cret lights-on", "mallory@example.com", false),
        ("s3cret reboot", "juergen@example.com", false),
        ("s3cret ../cmds/lights-on", "juergen@example.com", false),
        ("s3cret *", "juergen@example.com", false),
        ("s3cret", "juergen@example.com", false),
        ("", "juergen@example.com", false),
    ];
    for (subject, sender, runs) in cases {
        let _ = std::fs::remove_file(p.join("ran"));
        let (ok, output) = run_hook("gateway.sh", subject, sender, &msg, &env);
        assert!(ok, "{subject}");
        assert_eq!(output, "", "replies and prints nothing");
        assert_eq!(p.join("ran").exists(), runs, "{subject:?} from {sender}");
    }
    let log = std::fs::read_to_string(&log).unwrap();
    let decisions: Vec<&str> = log
        .lines()
        .map(|l| l.splitn(3, ' ').nth(2).unwrap())
        .filter(|l| !l.starts_with("mail from="))
        .collect();
    assert_eq!(
        decisions,
        [
            "running lights-on",
            "lights-on exited with status 0",
            "ignored: wrong or missing secret",
            "ignored: sender not in the allow-list",
            "ignored: command 'reboot' is not in the list",
            "ignored: bad command name",
            "ignored: bad command name",
            "ignored: bad command name",
            "ignored: wrong or missing secret",
        ]
    );
    assert_eq!(
        log.lines()
            .filter(|l| l.contains(" S1 mail from=<"))
            .count(),
        cases.len()
    );
    assert!(!log.contains("s3cret"), "the secret is never logged");
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
