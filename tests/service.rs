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

/// Starts tinymx with `-b --pidfile PIDFILE` and `args` (stdin and stdout
/// /dev/null, stderr piped); waits for the parent's exit status, which
/// must be 0, and returns the parent (its stderr is the daemon's) and the
/// daemon's pid from the pid file, as a `Daemon` that stops it when dropped.
fn start_daemon(args: &[&std::ffi::OsStr], pidfile: &Path) -> Daemon {
    let mut parent = command()
        .arg("-b")
        .arg("--pidfile")
        .arg(pidfile)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(exits_within_wait(&mut parent, "the parent").code(), Some(0));
    let pid: u32 = std::fs::read_to_string(pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(pid, parent.id());
    Daemon { parent, pid }
}

/// A `-b` daemon a test started: killed when the test ends, also when it
/// fails half-way (a daemon must not outlive its test).
struct Daemon {
    parent: std::process::Child,
    pid: u32,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if alive(self.pid) {
            let _ = tinymx::sys::kill(self.pid, libc::SIGKILL);
        }
    }
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
    server.wait_log(|l| l.contains(&want));
    let mut third = Client::hello(server.addr());
    assert_eq!(third.cmd("MAIL FROM:<>"), "250 2.1.0 Sender ok\r\n");
    assert_eq!(
        rcpt(&mut third, "x@b.example"),
        "250 2.1.5 Recipient ok\r\n"
    );
}

#[test]
fn sighup_keeps_restart_only_options_and_names_them() {
    let dir = TempDir::new("reload-restart");
    let conf = dir.path().join("tinymx.conf");
    std::fs::write(&conf, "max-rcpt 5\n").unwrap();
    let server = Server::start(&["--config", conf.to_str().unwrap()]);
    let sock = dir.path().join("no-syslog");
    let text = format!("max-rcpt 1\nexec-max 2\nsyslog-socket {}\n", sock.display());
    std::fs::write(&conf, text).unwrap();
    server.signal(libc::SIGHUP);
    server.wait_log(|l| {
        l.iter()
            .any(|l| l == "tinymx: SIGHUP: configuration reloaded for new sessions")
    });
    let log = server.log_lines();
    let want = "tinymx: SIGHUP: changes to syslog-socket, exec-max need a restart; kept";
    assert!(log.iter().any(|l| l == want), "{log:?}");
    // The reloadable option in the same file applies to new sessions.
    let mut c = Client::hello(server.addr());
    assert_eq!(c.cmd("MAIL FROM:<>"), "250 2.1.0 Sender ok\r\n");
    assert_eq!(rcpt(&mut c, "a@x.example"), "250 2.1.5 Recipient ok\r\n");
    assert_eq!(
        rcpt(&mut c, "b@x.example"),
        "452 4.5.3 Too many recipients\r\n"
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
    let spool = dir.path().join("spool");
    // The parent returns 0 once the child is ready.
    let args = ["-l", "127.0.0.1:0", "-n", "mx.test", "-d"].map(std::ffi::OsStr::new);
    let mut daemon = start_daemon(&[&args[..], &[spool.as_os_str()]].concat(), &pidfile);
    let pid = daemon.pid;
    // The child's stderr (not redirected: no --syslog) still has the address.
    let mut line = String::new();
    BufReader::new(daemon.parent.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("tinymx: listening on ")
        .unwrap()
        .parse()
        .unwrap();
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
    // Then the spool's durable order (mail.info), once, at start-up.
    let startup = recv();
    assert!(
        startup.starts_with("<22>")
            && startup.contains(&format!(" tinymx[{pid}]: startup: spool on ")),
        "{startup}"
    );
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
    if !running_as_root("privileged_port_then_user_drop") {
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
            // Not the machine's /etc/default/tinymx (a package may have
            // left one): only what this test sets.
            .env("TINYMX_DEFAULTS", dir.path().join("no-defaults"))
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

/// Waits up to WAIT for `child` to exit; kills it (and fails) if it does not.
fn exits_within_wait(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() >= deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{what}: still running after {WAIT:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Runs tinymx with `args` until it exits by itself (it must, within
/// WAIT): its status and what it wrote to stderr.
fn exit_of(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let mut child = command().args(args).stderr(Stdio::piped()).spawn().unwrap();
    let status = exits_within_wait(&mut child, "tinymx");
    (status.code(), stderr_of(&mut child))
}

fn stderr_of(child: &mut std::process::Child) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut s).unwrap();
    s
}

fn nobody() -> u32 {
    tinymx::sys::lookup_user("nobody")
        .unwrap()
        .expect("a user 'nobody'")
        .0
}

/// `-u` with `--pidfile`: the pid file is written as the final user, in
/// a directory that user can write (created for it when missing, as
/// /run/tinymx/ after boot), so the same user removes it on exit. It used
/// to be written as root and left behind ("cannot remove …: Permission
/// denied"). A directory the user cannot write is refused at start-up.
#[test]
fn with_user_the_pid_file_is_written_as_that_user_and_removed_on_exit() {
    use std::os::unix::fs::MetadataExt;
    if !running_as_root("with_user_the_pid_file_is_written_as_that_user_and_removed_on_exit") {
        return;
    }
    let dir = TempDir::new("pid-user");
    let pidfile = dir.path().join("run/tinymx.pid");
    let spool = dir.path().join("spool");
    let args =
        ["-u", "nobody", "-l", "127.0.0.1:0", "-n", "mx.test", "-d"].map(std::ffi::OsStr::new);
    let mut daemon = start_daemon(&[&args[..], &[spool.as_os_str()]].concat(), &pidfile);
    let pid = daemon.pid;
    assert!(alive(pid));
    let uid = nobody();
    assert_eq!(
        std::fs::metadata(dir.path().join("run")).unwrap().uid(),
        uid
    );
    assert_eq!(std::fs::metadata(&pidfile).unwrap().uid(), uid);
    tinymx::sys::kill(pid, libc::SIGTERM).unwrap();
    wait_until("the daemon to exit", || !alive(pid));
    wait_until("the pid file to go", || !pidfile.exists());
    // The daemon kept the pipe as its stderr: EOF once it is gone.
    let log = stderr_of(&mut daemon.parent);
    assert!(log.contains("tinymx: stopped"), "{log}");
    assert!(!log.contains("cannot remove"), "{log}");
    assert_eq!(tree(&dir.path().join("run")), Vec::<String>::new());

    // A pid file where that user cannot write: refused, status 1.
    let pidfile = dir.path().join("tinymx.pid");
    let args = ["-u", "nobody", "-l", "127.0.0.1:0", "--pidfile"].map(std::ffi::OsStr::new);
    let rest = [pidfile.as_os_str(), "-d".as_ref(), spool.as_os_str()];
    let (code, err) = exit_of(&[&args[..], &rest[..]].concat());
    assert_eq!(code, Some(1), "{err}");
    let want = format!(
        "tinymx: --pidfile: cannot write {} as uid {uid}: Permission denied (os error 13) (with --user the pid file is written as that user",
        pidfile.display()
    );
    assert!(err.lines().last().unwrap().starts_with(&want), "{err}");
    assert!(!pidfile.exists());
}

/// A spool the running user cannot write fails the start (status 1, the
/// reason on stderr) instead of answering 451 to every DATA.
#[test]
fn a_spool_the_user_cannot_write_is_refused_at_start_up() {
    use std::os::unix::fs::PermissionsExt;
    if !running_as_root("a_spool_the_user_cannot_write_is_refused_at_start_up") {
        return;
    }
    let dir = TempDir::new("spool-perm");
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o700)).unwrap();
    let start = |spool: &Path, user: &[&str]| {
        let args = ["-l", "127.0.0.1:0", "-n", "mx.test"].map(std::ffi::OsStr::new);
        let user: Vec<&std::ffi::OsStr> = user.iter().map(std::ffi::OsStr::new).collect();
        exit_of(&[&args[..], &user[..], &["-d".as_ref(), spool.as_os_str()]].concat())
    };
    let (code, err) = start(&spool, &["-u", "nobody"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        err.lines().last().unwrap(),
        format!(
            "tinymx: cannot write to spool {} as uid {}: Permission denied (os error 13)",
            spool.display(),
            nobody()
        )
    );
    assert_eq!(tree(&spool), Vec::<String>::new(), "no probe file left");

    // A read-only file system, as root.
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "ro,size=1m", "tinymx-test-ro"])
        .arg(&ro)
        .status()
        .is_ok_and(|s| s.success());
    assert!(mounted, "mount -t tmpfs -o ro (root can mount here)");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&ro);
    let (code, err) = start(&ro, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        err.lines().last().unwrap(),
        format!(
            "tinymx: cannot write to spool {}: Read-only file system (os error 30)",
            ro.display()
        )
    );
}

/// `--syslog` with `-b` and no syslog socket yet (busybox syslogd starts
/// later): lines keep going to stderr, not /dev/null, and once the socket
/// appears the lines logged meanwhile arrive there first, in order.
#[test]
fn syslog_that_appears_after_start_up_gets_the_lines_kept_for_it() {
    let dir = TempDir::new("late-syslog");
    let sock_path = dir.path().join("log");
    let pidfile = dir.path().join("pid");
    let spool = dir.path().join("spool");
    let args = [
        "--syslog",
        "-l",
        "127.0.0.1:0",
        "-n",
        "mx.test",
        "--syslog-socket",
    ]
    .map(std::ffi::OsStr::new);
    let rest = [sock_path.as_os_str(), "-d".as_ref(), spool.as_os_str()];
    let mut daemon = start_daemon(&[&args[..], &rest[..]].concat(), &pidfile);
    let pid = daemon.pid;
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = daemon.parent.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || rx.recv_timeout(WAIT).expect("a line on stderr");
    let first = next();
    let want = format!(
        "tinymx: --syslog: cannot use {}: No such file or directory (os error 2); logging to stderr",
        sock_path.display()
    );
    assert_eq!(first, want);
    let listening = next();
    let addr: std::net::SocketAddr = listening
        .strip_prefix("tinymx: listening on ")
        .unwrap()
        .parse()
        .unwrap();
    // After the parent returned, a session's lines still reach stderr.
    let mut c = Client::hello(addr);
    assert!(
        c.send_mail("a@example.com", &["bob@example.org"], b"x\r\n")
            .starts_with("250 ")
    );
    drop(c);
    loop {
        let l = next();
        if l.contains(" accepted id=") {
            break;
        }
    }

    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 2048];
    let mut got: Vec<String> = Vec::new();
    // Sessions make lines; the socket is tried again at most once a second.
    let deadline = std::time::Instant::now() + WAIT;
    while !got.iter().any(|l| l.contains(" accepted id=")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no backlog on the socket: {got:?}"
        );
        let mut c = Client::connect(addr);
        c.reply();
        c.cmd("QUIT");
        while let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    let pre = format!(" tinymx[{pid}]: ");
    assert!(
        got[0].starts_with("<20>") && got[0].ends_with(&format!("{pre}{}", &want[8..])),
        "{got:?}"
    );
    assert!(
        got[1].ends_with(&format!("{pre}{}", &listening[8..])),
        "{got:?}"
    );
    tinymx::sys::kill(pid, libc::SIGTERM).unwrap();
    wait_until("the daemon to exit", || !alive(pid));
}

/// `--max-size 100G` makes the default `--min-free` 200 GiB: every MAIL
/// would get 452. tinymx says so at start-up and on reload.
#[test]
fn min_free_above_the_free_space_is_a_warning_at_start_up_and_on_reload() {
    // 2 PiB of --min-free: no test machine has that free.
    let server = Server::start(&["--max-size", "1048576G"]);
    let want = "tinymx: startup: the spool's file system has ";
    let tail = " bytes free, less than --min-free 2251799813685248 (default: twice --max-size); every MAIL gets 452 4.3.1 until more is free";
    server.wait_log(|l| l.iter().any(|l| l.starts_with(want) && l.ends_with(tail)));
    let mut c = Client::hello(server.addr());
    assert_eq!(
        c.cmd("MAIL FROM:<>"),
        "452 4.3.1 Insufficient system storage, try again later\r\n"
    );

    let dir = TempDir::new("minfree-reload");
    let conf = dir.path().join("tinymx.conf");
    std::fs::write(&conf, "max-size 10M\n").unwrap();
    let server = Server::start(&["--config", conf.to_str().unwrap()]);
    std::fs::write(&conf, "max-size 10M\nmin-free 1048576G\n").unwrap();
    server.signal(libc::SIGHUP);
    server.wait_log(|l| {
        l.iter()
            .any(|l| l == "tinymx: SIGHUP: configuration reloaded for new sessions")
    });
    let lines = server.log_lines();
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("tinymx: startup: the spool's")),
        "{lines:?}"
    );
    let warned = lines.iter().any(|l| {
        l.starts_with("tinymx: SIGHUP: the spool's file system has ")
            && l.ends_with(" bytes free, less than --min-free 1125899906842624 (default: twice --max-size); every MAIL gets 452 4.3.1 until more is free")
    });
    assert!(warned, "{lines:?}");
}
