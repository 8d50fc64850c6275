//! The runit and s6 service files (contrib/runit/, contrib/s6/) run by the
//! real supervisors against the real binary: Debian's `runsv` (with the
//! `log/` service, i.e. svlogd) and `s6-supervise`. Each test starts the
//! supervisor on a copy of the service directory (a `conf` file beside
//! `run` points it at the binary, a loopback port and a temporary spool),
//! then: a delivery through Python's smtplib, a reload (`sv hup` /
//! `s6-svc -h`) that a changed config file makes visible, a crash (SIGKILL
//! to the pid the supervisor reports) restarted under a new pid, a second
//! delivery, and a stop (`sv down` / `s6-svc -d`). Every wait is on a
//! condition, bounded by WAIT. The supervisor is stopped when the test
//! ends, also on failure, and any tinymx it left behind is killed by pid.
//! `make test` installs runit and s6 when missing (Makefile, test-deps).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

/// True if `pid` is a live process running the binary under test.
fn is_tinymx(pid: u32) -> bool {
    alive(pid)
        && std::fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|e| e == binary().canonicalize().unwrap())
}

fn copy_script(from: &str, to: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(from);
    std::fs::copy(&src, to).unwrap();
}

/// A running supervisor (runsv or s6-supervise) on `svc`. Dropping it
/// sends it SIGTERM (both take it as "stop the service and exit"), waits,
/// SIGKILLs it if it is still there, then kills any tinymx it started.
struct Supervisor {
    child: Child,
    svc: PathBuf,
    seen: Vec<u32>,
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let _ = tinymx::sys::kill(self.child.id(), libc::SIGTERM);
        let deadline = std::time::Instant::now() + WAIT;
        while self.child.try_wait().ok().flatten().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        for &pid in &self.seen {
            if is_tinymx(pid) {
                let _ = tinymx::sys::kill(pid, libc::SIGKILL);
            }
        }
    }
}

fn run(cmd: &str, args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let out = Command::new(cmd).args(args).output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

fn smtplib_send(addr: std::net::SocketAddr, rcpt: &str) -> Vec<u8> {
    let msg = format!(
        "From: a@client.example\r\nTo: {rcpt}\r\nSubject: supervised\r\n\r\nDelivered under a supervisor.\r\n"
    );
    let script = "import smtplib, sys\n\
        port, rcpt, msg = sys.argv[1], sys.argv[2], sys.argv[3].encode()\n\
        with smtplib.SMTP('127.0.0.1', int(port), local_hostname='client.example', timeout=20) as s:\n\
        \x20   refused = s.sendmail('a@client.example', [rcpt], msg)\n\
        \x20   assert refused == {}, refused\n\
        print('ok')\n";
    let out = Command::new("python3")
        .args(["-c", script, &addr.port().to_string(), rcpt, &msg])
        .output()
        .expect("run python3");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok\n",
        "smtplib: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    msg.into_bytes()
}

fn assert_delivered(spool: &Path, mailbox: &str, n: usize, sent: &[u8]) {
    let new = spool.join(mailbox).join("new");
    wait_until("the delivery", || files(&new).len() == n);
    let stored = std::fs::read(files(&new).last().unwrap()).unwrap();
    let (_, body) = split_trace(&stored);
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&to_lf(sent))
    );
}

/// What a supervisor test needs to know about its supervisor.
struct Kind {
    /// The supervisor's program and the service files to copy (from, to).
    program: &'static str,
    files: &'static [(&'static str, &'static str)],
    /// The pid of tinymx if the supervisor reports it up.
    pid: fn(&Path) -> Option<u32>,
    /// True once the supervisor reports it down (wanted down).
    down: fn(&Path) -> bool,
    /// Control commands: reload, stop.
    hup: fn(&Path),
    stop: fn(&Path),
    /// tinymx's log lines as the supervisor's logging keeps them.
    log: fn(&Path) -> Vec<String>,
}

fn exercise(kind: &Kind) {
    let dir = TempDir::new(kind.program);
    let svc = dir.path().join("tinymx");
    let spool = dir.path().join("spool");
    let conf = dir.path().join("tinymx.conf");
    std::fs::create_dir_all(svc.join("log")).unwrap();
    for (from, to) in kind.files {
        copy_script(from, &svc.join(to));
    }
    std::fs::write(&conf, "domain a.example\n").unwrap();
    std::fs::write(
        svc.join("conf"),
        format!(
            "DAEMON='{}'\nTINYMX_ARGS='-l 127.0.0.1:0 -n mx.test -d {} --config {}'\n",
            binary().display(),
            spool.display(),
            conf.display()
        ),
    )
    .unwrap();
    std::fs::write(
        svc.join("log/conf"),
        format!("LOGDIR='{}'\n", dir.path().join("log").display()),
    )
    .unwrap();
    let out = std::fs::File::create(dir.path().join("supervisor.out")).unwrap();
    let child = Command::new(kind.program)
        .arg(&svc)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (make test installs it)", kind.program));
    let mut sup = Supervisor {
        child,
        svc: svc.clone(),
        seen: Vec::new(),
    };
    let listening = |n: usize| -> std::net::SocketAddr {
        let mut addr = None;
        wait_until("a listening line", || {
            let log = (kind.log)(&svc);
            let lines: Vec<&String> = log
                .iter()
                .filter(|l| l.starts_with("tinymx: listening on "))
                .collect();
            if lines.len() >= n {
                addr = Some(
                    lines[n - 1]["tinymx: listening on ".len()..]
                        .parse()
                        .unwrap(),
                );
            }
            lines.len() >= n
        });
        addr.unwrap()
    };

    // Started: the supervisor reports tinymx's pid; a delivery.
    let mut pid = None;
    // The pid is the run script's until it execs tinymx: wait for that.
    wait_until("the supervisor to report tinymx up", || {
        pid = (kind.pid)(&sup.svc).filter(|&p| is_tinymx(p));
        pid.is_some()
    });
    let pid = pid.unwrap();
    sup.seen.push(pid);
    let addr = listening(1);
    let sent = smtplib_send(addr, "x@a.example");
    assert_delivered(&spool, "x", 1, &sent);

    // Reload: the changed config file applies to new sessions, same pid.
    std::fs::write(&conf, "domain b.example\n").unwrap();
    (kind.hup)(&svc);
    wait_until("the reload", || {
        (kind.log)(&svc)
            .iter()
            .any(|l| l == "tinymx: SIGHUP: configuration reloaded for new sessions")
    });
    let mut c = Client::hello(addr);
    assert_eq!(c.cmd("MAIL FROM:<>"), "250 2.1.0 Sender ok\r\n");
    assert_eq!(c.cmd("RCPT TO:<x@b.example>"), "250 2.1.5 Recipient ok\r\n");
    assert_eq!(
        c.cmd("RCPT TO:<x@a.example>"),
        "550 5.7.1 Relaying denied\r\n"
    );
    drop(c);
    assert_eq!((kind.pid)(&svc), Some(pid), "a reload is not a restart");

    // A crash: restarted under a new pid, with the reloaded config.
    tinymx::sys::kill(pid, libc::SIGKILL).unwrap();
    let mut new_pid = None;
    wait_until("the restart", || {
        new_pid = (kind.pid)(&svc).filter(|&p| p != pid && is_tinymx(p));
        new_pid.is_some()
    });
    let new_pid = new_pid.unwrap();
    sup.seen.push(new_pid);
    assert!(!alive(pid));
    let addr = listening(2);
    let sent = smtplib_send(addr, "x@b.example");
    assert_delivered(&spool, "x", 2, &sent);

    // Stop: SIGTERM, tinymx exits cleanly and stays down.
    (kind.stop)(&svc);
    wait_until("the stop", || (kind.down)(&svc) && !alive(new_pid));
    wait_until("the stopped line", || {
        (kind.log)(&svc).iter().any(|l| l == "tinymx: stopped")
    });
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens"
    );
    assert_eq!((kind.pid)(&svc), None);
    drop(sup);
}

fn runit_status(svc: &Path) -> String {
    run("sv", &[std::ffi::OsStr::new("status"), svc.as_os_str()]).1
}

#[test]
fn runit_runs_reloads_restarts_and_stops_tinymx() {
    exercise(&Kind {
        program: "runsv",
        files: &[
            ("contrib/runit/run", "run"),
            ("contrib/runit/log/run", "log/run"),
        ],
        // "run: DIR: (pid N) 3s; run: log: (pid M) 3s"
        pid: |svc| {
            let s = runit_status(svc);
            let rest = s.strip_prefix(&format!("run: {}: (pid ", svc.display()))?;
            rest.split(')').next()?.parse().ok()
        },
        down: |svc| runit_status(svc).starts_with(&format!("down: {}: ", svc.display())),
        hup: |svc| {
            let r = run("sv", &["hup".as_ref(), svc.as_os_str()]);
            assert_eq!(r.0, Some(0), "sv hup: {}", r.1);
        },
        stop: |svc| {
            let r = run("sv", &["down".as_ref(), svc.as_os_str()]);
            assert_eq!(r.0, Some(0), "sv down: {}", r.1);
        },
        // svlogd -tt: "YYYY-MM-DD_HH:MM:SS.NNNNNNNNN LINE"
        log: |svc| {
            let current = svc.parent().unwrap().join("log/current");
            std::fs::read_to_string(current)
                .unwrap_or_default()
                .lines()
                .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_string())
                .collect()
        },
    });
}

fn s6_status(svc: &Path) -> String {
    run(
        "s6-svstat",
        &["-o".as_ref(), "up,wantedup,pid".as_ref(), svc.as_os_str()],
    )
    .1
}

#[test]
fn s6_runs_reloads_restarts_and_stops_tinymx() {
    exercise(&Kind {
        program: "s6-supervise",
        files: &[("contrib/s6/tinymx/run", "run")],
        // "true true 1234" while up
        pid: |svc| {
            let s = s6_status(svc);
            let mut w = s.split_whitespace();
            (w.next() == Some("true")).then_some(())?;
            w.nth(1)?.parse().ok()
        },
        down: |svc| s6_status(svc) == "false false -1\n",
        hup: |svc| {
            let r = run("s6-svc", &["-h".as_ref(), svc.as_os_str()]);
            assert_eq!(r, (Some(0), String::new()), "s6-svc -h");
        },
        stop: |svc| {
            let r = run("s6-svc", &["-d".as_ref(), svc.as_os_str()]);
            assert_eq!(r, (Some(0), String::new()), "s6-svc -d");
        },
        // run joins stderr to stdout, which is s6-supervise's: a file here.
        log: |svc| {
            let out = svc.parent().unwrap().join("supervisor.out");
            std::fs::read_to_string(out)
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect()
        },
    });
}

/// The children of `pid` (Linux's /proc/PID/task/PID/children).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// busybox init in its own pid, mount and network namespaces (`unshare`):
/// killing its pid ends everything in them. Dropped: that kill.
struct Init {
    unshare: Child,
    /// busybox init's pid as the host sees it, once known.
    pid: u32,
}

impl Drop for Init {
    fn drop(&mut self) {
        // unshare --fork's one child is the namespace's init.
        for pid in children(self.unshare.id()) {
            let _ = tinymx::sys::kill(pid, libc::SIGKILL);
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// contrib/busybox/inittab, its `::respawn:` line unchanged, read by the
/// real busybox init as PID 1 of new pid, mount and network namespaces
/// (root only): in the mount namespace /etc holds that inittab (and the
/// host's passwd and group, for `-u mail`), /usr/sbin the binary under
/// test and /var/spool a temporary directory; the network namespace has
/// only its own loopback, where the line's default `-l :25` listens. A
/// delivery through smtplib (run in that network namespace by nsenter),
/// a SIGKILL of tinymx respawned by init under a new pid, delivering again.
#[test]
fn busybox_init_respawns_the_inittab_line() {
    if !running_as_root("busybox_init_respawns_the_inittab_line") {
        return;
    }
    let busybox = Command::new("sh")
        .args(["-c", "command -v busybox"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_string())
        .expect("busybox is installed by make test (busybox-static)");
    let dir = TempDir::new("bbinit");
    let d = dir.path();
    let inittab = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/busybox/inittab"),
    )
    .unwrap();
    let line = inittab
        .lines()
        .find(|l| !l.starts_with('#'))
        .expect("the inittab line");
    let command = line.strip_prefix("::respawn:").expect("a ::respawn: line");
    for sub in ["sbin", "spool", "etc", "host-etc"] {
        std::fs::create_dir(d.join(sub)).unwrap();
    }
    std::fs::copy(binary(), d.join("sbin/tinymx")).unwrap();
    std::fs::write(d.join("etc/inittab"), format!("{line}\n")).unwrap();
    let setup = format!(
        "set -e; {bb} ip link set lo up; \
         mount --bind /etc {d}/host-etc; mount -t tmpfs tmpfs /etc; \
         cp -a {d}/host-etc/passwd {d}/host-etc/group {d}/etc/inittab /etc/; \
         mount --bind {d}/sbin /usr/sbin; mount --bind {d}/spool /var/spool; \
         exec {bb} init",
        bb = busybox,
        d = d.display()
    );
    let console = std::fs::File::create(d.join("console")).unwrap();
    let unshare = Command::new("unshare")
        .args(["--pid", "--fork", "--mount", "--net", "--mount-proc"])
        .args(["sh", "-c", &setup])
        .stdin(Stdio::null())
        .stdout(console.try_clone().unwrap())
        .stderr(console)
        .spawn()
        .expect("unshare (util-linux)");
    let mut init = Init { pid: 0, unshare };
    wait_until("busybox init", || {
        init.pid = children(init.unshare.id()).first().copied().unwrap_or(0);
        init.pid != 0 && cmdline(init.pid) == format!("{busybox} init")
    });
    let console = || std::fs::read_to_string(d.join("console")).unwrap_or_default();
    let tinymx_pid = |not: u32| -> u32 {
        let mut pid = 0;
        wait_until("tinymx started by init", || {
            pid = children(init.pid)
                .into_iter()
                .find(|&p| p != not && cmdline(p) == command)
                .unwrap_or(0);
            pid != 0
        });
        pid
    };
    let listening = |n: usize| {
        wait_until("the listening line", || {
            console().matches("tinymx: listening on [::]:25\n").count() == n
        })
    };
    let deliver = |n: usize| {
        let msg =
            "From: a@client.example\r\nTo: x@example.org\r\nSubject: init\r\n\r\nRespawned.\r\n";
        let script = "import smtplib, sys\n\
            with smtplib.SMTP('127.0.0.1', 25, local_hostname='client.example', timeout=20) as s:\n\
            \x20   assert s.sendmail('a@client.example', ['x@example.org'], sys.argv[1].encode()) == {}\n\
            print('ok')\n";
        let out = Command::new("nsenter")
            .arg(format!("--net=/proc/{}/ns/net", init.pid))
            .args(["python3", "-c", script, msg])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "ok\n",
            "smtplib: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_delivered(&d.join("spool/tinymx"), "x", n, msg.as_bytes());
    };

    let first = tinymx_pid(0);
    listening(1);
    // `-u mail`: the ids of the host's mail user (the namespace's passwd).
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let mail: Vec<&str> = passwd
        .lines()
        .find(|l| l.starts_with("mail:"))
        .expect("a mail user")
        .split(':')
        .collect();
    let want = format!("tinymx: running as uid {} gid {}\n", mail[2], mail[3]);
    assert!(console().contains(&want), "{}", console());
    deliver(1);

    tinymx::sys::kill(first, libc::SIGKILL).unwrap();
    let second = tinymx_pid(first);
    assert_ne!(second, first);
    listening(2);
    deliver(2);
    drop(init);
    wait_until("the end of the namespace", || !alive(second));
}
