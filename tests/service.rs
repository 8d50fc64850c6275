//! tinymx as a service: configuration file and SIGHUP reload, pid file,
//! background mode, syslog, privileged ports.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Stdio;

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

fn rcpt(c: &mut Client, to: &str) -> String {
    c.cmd(&format!("RCPT TO:<{to}>"))
}

#[test]
fn sighup_reloads_the_config_file_for_new_sessions() {
    let dir = TempDir::new("reload");
    let conf = dir.path().join("tinymx.conf");
    std::fs::write(&conf, "# first\ndomain a.example\nmax-rcpt 5\n").unwrap();
    let server = Server::start(&["--config", conf.to_str().unwrap()]);
    let mut old = Client::hello(server.addr());
    assert_eq!(old.cmd("MAIL FROM:<>"), "250 2.1.0 Sender ok\r\n");

    std::fs::write(&conf, "domain b.example\nmax-rcpt 5\n").unwrap();
    server.signal(libc::SIGHUP);
    server.wait_log(|l| {
        l.iter()
            .any(|l| l == "tinymx: SIGHUP: configuration reloaded for new sessions")
    });
    let mut new = Client::hello(server.addr());
    assert_eq!(new.cmd("MAIL FROM:<>"), "250 2.1.0 Sender ok\r\n");
    assert_eq!(rcpt(&mut new, "x@b.example"), "250 2.1.5 Recipient ok\r\n");
    assert_eq!(
        rcpt(&mut new, "x@a.example"),
        "550 5.7.1 Relaying denied\r\n"
    );
    // The running session keeps the settings it started with.
    assert_eq!(rcpt(&mut old, "x@a.example"), "250 2.1.5 Recipient ok\r\n");
    assert_eq!(
        rcpt(&mut old, "x@b.example"),
        "550 5.7.1 Relaying denied\r\n"
    );

    // A bad file is logged; the last good settings stay.
    std::fs::write(&conf, "domain b.example\nmax-size lots\n").unwrap();
    server.signal(libc::SIGHUP);
    let want = format!(
        "tinymx: SIGHUP: configuration not reloaded, keeping the old one: {}:2: --max-size: invalid size 'lots' (a positive number with optional k, M or G)",
        conf.display()
    );
    server.wait_log(|l| l.iter().any(|l| *l == want));
    let mut third = Client::hello(server.addr());
    assert_eq!(third.cmd("MAIL FROM:<>"), "250 2.1.0 Sender ok\r\n");
    assert_eq!(
        rcpt(&mut third, "x@b.example"),
        "250 2.1.5 Recipient ok\r\n"
    );
}

#[test]
fn sighup_without_a_config_file_is_harmless() {
    let server = Server::start(&[]);
    server.signal(libc::SIGHUP);
    server.wait_log(|l| {
        l.iter()
            .any(|l| l == "tinymx: SIGHUP: no --config file; nothing to reload")
    });
    let mut c = Client::hello(server.addr());
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 Ok\r\n");
}

#[test]
fn background_mode_detaches_writes_the_pidfile_and_stops_cleanly() {
    let dir = TempDir::new("bg");
    let pidfile = dir.path().join("tinymx.pid");
    let mut parent = command()
        .args(["-b", "-l", "127.0.0.1:0", "-n", "mx.test", "--pidfile"])
        .arg(&pidfile)
        .arg("-d")
        .arg(dir.path().join("spool"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The parent returns 0 once the child is ready.
    let status = parent.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    // The child's stderr (not redirected: no --syslog) still has the address.
    let mut line = String::new();
    BufReader::new(parent.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("tinymx: listening on ")
        .unwrap()
        .parse()
        .unwrap();
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(pid, parent.id());
    assert!(alive(pid));
    // setsid: the daemon leads its own session.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit(") ").next().unwrap().split(' ').collect();
    assert_eq!(fields[3], pid.to_string(), "session id is its own pid");
    let mut c = Client::hello(addr);
    assert!(
        c.send_mail("a@example.com", &["bob@example.org"], b"x\r\n")
            .starts_with("250 ")
    );
    drop(c);
    tinymx::sys::kill(pid, libc::SIGTERM).unwrap();
    wait_until("the daemon to exit", || !alive(pid));
    wait_until("the pid file to go", || !pidfile.exists());
}

#[test]
fn background_mode_reports_start_up_failures_to_the_caller() {
    let dir = TempDir::new("bgfail");
    // A port in use fails before forking.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let out = command()
        .args(["-b", "-l", &busy.local_addr().unwrap().to_string(), "-d"])
        .arg(dir.path().join("spool"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("tinymx: cannot listen on "));
    // A spool that cannot be created fails after forking: the parent
    // passes the child's status on, and the message reached stderr.
    std::fs::write(dir.path().join("file"), b"").unwrap();
    let out = command()
        .args(["-b", "-l", "127.0.0.1:0", "-d"])
        .arg(dir.path().join("file/spool"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "tinymx: cannot use spool {}/file/spool: ",
            dir.path().display()
        )),
        "{err}"
    );
}

#[test]
fn syslog_gets_rfc3164_lines_with_facility_mail() {
    let dir = TempDir::new("syslog");
    let sock_path = dir.path().join("log");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let mut child = command()
        .args(["--syslog", "--syslog-socket"])
        .arg(&sock_path)
        .args(["-l", "127.0.0.1:0", "-n", "mx.test", "-d"])
        .arg(dir.path().join("spool"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let recv = || {
        let mut buf = [0u8; 2048];
        let n = sock.recv(&mut buf).expect("a syslog datagram");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    };
    let first = recv();
    // "<20>" = mail.warning: the listening line is shown at every level.
    let prefix = format!(" tinymx[{pid}]: listening on 127.0.0.1:");
    assert!(
        first.starts_with("<20>") && first.contains(&prefix),
        "{first}"
    );
    let month = &first[4..7];
    assert!(
        [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
        ]
        .contains(&month)
    );
    let addr: std::net::SocketAddr = first
        .split("listening on ")
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut c = Client::hello(addr);
    assert!(
        c.send_mail("a@example.com", &["bob@example.org"], b"x\r\n")
            .starts_with("250 ")
    );
    let accepted = recv();
    // "<22>" = mail.info.
    assert!(
        accepted.starts_with("<22>") && accepted.contains(" accepted id="),
        "{accepted}"
    );
    tinymx::sys::kill(pid, libc::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn syslog_without_a_socket_falls_back_to_stderr() {
    let dir = TempDir::new("nosyslog");
    let mut child = command()
        .args(["--syslog", "--syslog-socket"])
        .arg(dir.path().join("missing"))
        .args(["-l", "127.0.0.1:0", "-d"])
        .arg(dir.path().join("spool"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.starts_with(&format!(
            "tinymx: --syslog: cannot use {}/missing: ",
            dir.path().display()
        )),
        "{first}"
    );
    assert!(first.ends_with("; logging to stderr"), "{first}");
    assert!(
        lines
            .next()
            .unwrap()
            .unwrap()
            .starts_with("tinymx: listening on 127.0.0.1:")
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Port 25 without running as root: bind as root, then `--user`. A free
/// port below 1024 stands in for 25 (which a system MTA may hold).
#[test]
fn privileged_port_then_user_drop() {
    if tinymx::sys::geteuid() != 0 {
        eprintln!("SKIPPED privileged_port_then_user_drop: needs root (CI runs as root)");
        return;
    }
    let port = (900..1024)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below 1024");
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start_with(&["-l", &listen, "-n", "mx.test"], &["-u", "nobody"]);
    assert_eq!(server.addr().port(), port);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(!uid.split_whitespace().skip(1).any(|u| u == "0"), "{uid}");
    let mut c = Client::hello(server.addr());
    assert!(
        c.send_mail("a@example.com", &["bob@example.org"], b"x\r\n")
            .starts_with("250 ")
    );
}

/// The sysvinit script (contrib/init.d/tinymx) run by busybox `sh` with
/// busybox's `start-stop-daemon`: start, status, reload, stop.
#[test]
fn init_script_starts_reloads_and_stops_tinymx_under_busybox() {
    let busybox = std::process::Command::new("sh")
        .args(["-c", "command -v busybox"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_string())
        .expect("busybox is installed by make test (busybox-static)");
    let dir = TempDir::new("initd");
    // A PATH where start-stop-daemon, sleep and cat are busybox's applets.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for applet in ["start-stop-daemon", "sleep", "cat"] {
        std::os::unix::fs::symlink(&busybox, bin.join(applet)).unwrap();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/init.d/tinymx");
    let pidfile = dir.path().join("tinymx.pid");
    let conf = dir.path().join("tinymx.conf");
    std::fs::write(&conf, "domain a.example\n").unwrap();
    let log = dir.path().join("stderr.log");
    let args = format!(
        "-l 127.0.0.1:0 -n mx.test -d {} --config {}",
        dir.path().join("spool").display(),
        conf.display()
    );
    let run = |action: &str| {
        let out = std::process::Command::new(&busybox)
            .args(["sh"])
            .arg(&script)
            .arg(action)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("DAEMON", binary())
            .env("PIDFILE", &pidfile)
            .env("TINYMX_ARGS", &args)
            // The daemon keeps the script's stderr: collect it in a file.
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            )
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let log_lines = || std::fs::read_to_string(&log).unwrap_or_default();

    assert_eq!(run("start"), (Some(0), "Starting tinymx: OK\n".to_string()));
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/exe")).unwrap(),
        binary().canonicalize().unwrap()
    );
    assert_eq!(
        run("start"),
        (Some(0), "Starting tinymx: already running\n".to_string())
    );
    assert_eq!(
        run("status"),
        (Some(0), format!("tinymx is running (pid {pid})\n"))
    );

    let addr: std::net::SocketAddr = log_lines()
        .lines()
        .find_map(|l| l.strip_prefix("tinymx: listening on "))
        .expect("listening line")
        .parse()
        .unwrap();
    let mut c = Client::hello(addr);
    assert_eq!(c.cmd("MAIL FROM:<>"), "250 2.1.0 Sender ok\r\n");
    assert_eq!(
        c.cmd("RCPT TO:<x@b.example>"),
        "550 5.7.1 Relaying denied\r\n"
    );
    drop(c);

    std::fs::write(&conf, "domain b.example\n").unwrap();
    assert_eq!(
        run("reload"),
        (Some(0), "Reloading tinymx: OK\n".to_string())
    );
    wait_until("the reload", || {
        log_lines().contains("tinymx: SIGHUP: configuration reloaded for new sessions")
    });
    let mut c = Client::hello(addr);
    assert_eq!(c.cmd("MAIL FROM:<>"), "250 2.1.0 Sender ok\r\n");
    assert_eq!(c.cmd("RCPT TO:<x@b.example>"), "250 2.1.5 Recipient ok\r\n");
    drop(c);

    assert_eq!(run("stop"), (Some(0), "Stopping tinymx: OK\n".to_string()));
    assert!(!alive(pid));
    assert!(!pidfile.exists(), "tinymx removes its pid file");
    assert_eq!(
        run("status"),
        (Some(3), "tinymx is not running\n".to_string())
    );
    assert_eq!(
        run("stop"),
        (Some(0), "Stopping tinymx: not running\n".to_string())
    );
    assert!(log_lines().contains("tinymx: stopped"));
}
