//! One line per event on stderr, each written with a single `write` so
//! lines from concurrent sessions never interleave (a `write` of at most
//! PIPE_BUF bytes is atomic on a pipe, and needs no lock of ours; longer
//! lines, rare, also take std's stderr lock). Lines that concern a
//! session carry its id.

use crate::config::Verbosity;
use std::collections::VecDeque;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

static LEVEL: AtomicU8 = AtomicU8::new(1);

/// A duration as seconds with three decimals (`1.234`), for the log: the
/// text `{:.3}` of `as_secs_f64()` gave, by integer arithmetic, so no
/// float formatting is linked in. Rounded to the nearest millisecond on
/// the nanoseconds, an exact tie (…0005 s) up, where `{:.3}` rounds the
/// f64 value half to even: the two differ only on such ties.
pub struct Secs3(pub Duration);

impl std::fmt::Display for Secs3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = (self.0.as_nanos() + 500_000) / 1_000_000;
        write!(f, "{}.{:03}", ms / 1000, ms % 1000)
    }
}

pub fn set_verbosity(v: Verbosity) {
    LEVEL.store(v as u8, Ordering::Relaxed);
}

pub fn enabled(v: Verbosity) -> bool {
    v as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// The syslog destination once `use_syslog` was called.
static SYSLOG: Mutex<Option<Syslog>> = Mutex::new(None);
/// Whether SYSLOG is set: without syslog, a line takes no lock at all.
static SYSLOG_ON: AtomicBool = AtomicBool::new(false);

/// Linux's PIPE_BUF: a write of at most this many bytes to a pipe is atomic.
const ATOMIC_WRITE: usize = 4096;
/// While the syslog socket cannot be reached, lines are kept (besides
/// going to stderr) and sent once it can: syslogd often starts after
/// the services on busybox systems. At most this many, the first ones.
const BACKLOG_LINES: usize = 100;
/// How often an unreachable syslog socket is tried again, at most.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// What became of one syslog message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sent {
    Yes,
    /// No socket to send to (yet): worth keeping the line.
    Unreachable,
    /// The socket is there but will not take this message.
    Refused,
}

/// An RFC 3164 sender on a local datagram socket (what busybox syslogd,
/// rsyslog and journald read at /dev/log).
struct Syslog {
    /// None while the socket cannot be reached.
    sock: Option<UnixDatagram>,
    path: PathBuf,
    pid: u32,
    /// When the socket was last tried (None: never since it failed).
    last_try: Option<Instant>,
    /// Formatted lines waiting for the socket, and how many did not fit.
    backlog: VecDeque<Vec<u8>>,
    dropped: usize,
}

impl Syslog {
    /// A sender for the socket at `path`, not connected yet.
    fn new(path: &Path, pid: u32) -> Syslog {
        Syslog {
            sock: None,
            path: path.to_path_buf(),
            pid,
            last_try: None,
            backlog: VecDeque::new(),
            dropped: 0,
        }
    }

    /// `<PRI>Mmm dd hh:mm:ss tinymx[PID]: TEXT`, facility mail (2); local
    /// time, as syslog(3) writes it.
    fn format(&self, v: Verbosity, text: &str, unix_secs: i64) -> Vec<u8> {
        let severity = match v {
            Verbosity::Quiet => 4,   // warning
            Verbosity::Normal => 6,  // info
            Verbosity::Verbose => 7, // debug
        };
        let (mon, day, h, m, s) = crate::sys::local_time(unix_secs);
        let month = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ][mon as usize % 12];
        format!(
            "<{}>{month} {day:>2} {h:02}:{m:02}:{s:02} tinymx[{}]: {text}",
            2 * 8 + severity,
            self.pid
        )
        .into_bytes()
    }

    fn connect(path: &Path) -> std::io::Result<UnixDatagram> {
        let sock = UnixDatagram::unbound()?;
        sock.connect(path)?;
        Ok(sock)
    }

    /// Sends one message. A send that fails on a connected socket
    /// (syslogd restarted) reconnects at once; an unreachable socket is
    /// tried once per RETRY_INTERVAL. A message that fails even on a fresh
    /// connection (EMSGSIZE) is `Refused`: retrying it would only hold up
    /// every line behind it.
    fn send_one(&mut self, msg: &[u8], now: Instant) -> Sent {
        if let Some(sock) = &self.sock {
            if sock.send(msg).is_ok() {
                return Sent::Yes;
            }
            self.sock = None;
            self.last_try = None;
        }
        if self
            .last_try
            .is_some_and(|t| now.duration_since(t) < RETRY_INTERVAL)
        {
            return Sent::Unreachable;
        }
        self.last_try = Some(now);
        match Syslog::connect(&self.path) {
            Ok(s) => {
                let sent = s.send(msg).is_ok();
                self.sock = Some(s);
                if sent { Sent::Yes } else { Sent::Refused }
            }
            Err(_) => Sent::Unreachable,
        }
    }

    /// Sends `msg` after whatever waited for the socket; keeps it in the
    /// backlog if the socket cannot be reached. False if it was not sent.
    /// A refused line of the backlog is dropped (it went to stderr when
    /// it was logged); a refused `msg` goes to stderr only.
    fn send(&mut self, msg: Vec<u8>, now: Instant) -> bool {
        while let Some(first) = self.backlog.pop_front() {
            if self.send_one(&first, now) == Sent::Unreachable {
                self.backlog.push_front(first);
                self.keep(msg);
                return false;
            }
            if self.backlog.is_empty() && self.dropped > 0 {
                let note = format!(
                    "syslog: {} line(s) were not kept while {} could not be reached",
                    self.dropped,
                    self.path.display()
                );
                let note = self.format(Verbosity::Quiet, &note, unix_now());
                self.dropped = 0;
                self.send_one(&note, now);
            }
        }
        match self.send_one(&msg, now) {
            Sent::Yes => true,
            Sent::Refused => false,
            Sent::Unreachable => {
                self.keep(msg);
                false
            }
        }
    }

    fn keep(&mut self, msg: Vec<u8>) {
        if self.backlog.len() < BACKLOG_LINES {
            self.backlog.push_back(msg);
        } else {
            self.dropped += 1;
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64
}

/// Sends log lines to the syslog socket at `path` from now on. If it
/// cannot be reached, the error is returned, and lines go to stderr and
/// into a backlog until it can; it is tried again as lines come.
pub fn use_syslog(path: &Path) -> std::io::Result<()> {
    let mut syslog = Syslog::new(path, std::process::id());
    let result = match Syslog::connect(path) {
        Ok(sock) => {
            syslog.sock = Some(sock);
            Ok(())
        }
        Err(e) => {
            syslog.last_try = Some(Instant::now());
            Err(e)
        }
    };
    *SYSLOG.lock().unwrap_or_else(|p| p.into_inner()) = Some(syslog);
    SYSLOG_ON.store(true, Ordering::Release);
    result
}

/// Whether lines go to a reachable syslog socket now (so stderr need
/// not be kept for them).
pub fn syslog_connected() -> bool {
    SYSLOG_ON.load(Ordering::Acquire)
        && SYSLOG
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|s| s.sock.is_some())
}

/// Writes `tinymx: TEXT\n` to stderr, or one syslog message, if `v` is
/// enabled. Warnings and errors use `Verbosity::Quiet`, so `-q` still
/// shows them. With syslog unreachable, the line goes to stderr too.
pub fn line(v: Verbosity, text: &str) {
    if !enabled(v) {
        return;
    }
    // Without syslog, straight to stderr, no lock.
    if SYSLOG_ON.load(Ordering::Acquire)
        && let Some(s) = SYSLOG.lock().unwrap_or_else(|p| p.into_inner()).as_mut()
    {
        let msg = s.format(v, text, unix_now());
        if s.send(msg, Instant::now()) {
            return;
        }
    }
    let mut buf = Vec::with_capacity(text.len() + 9);
    buf.extend_from_slice(b"tinymx: ");
    buf.extend_from_slice(text.as_bytes());
    buf.push(b'\n');
    if buf.len() <= ATOMIC_WRITE {
        let _ = crate::sys::write_stderr(&buf);
    } else {
        let _ = std::io::stderr().lock().write_all(&buf);
    }
}

/// What the log macros call: formats `args` once, out of line, so each of
/// their sites is a call rather than an inlined `format!`.
#[inline(never)]
pub fn line_fmt(v: Verbosity, args: std::fmt::Arguments<'_>) {
    if !enabled(v) {
        return;
    }
    match args.as_str() {
        Some(s) => line(v, s),
        None => line(v, &std::fmt::format(args)),
    }
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::line_fmt($crate::config::Verbosity::Normal, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::log::enabled($crate::config::Verbosity::Verbose) {
            $crate::log::line_fmt($crate::config::Verbosity::Verbose, format_args!($($arg)*))
        }
    };
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::line_fmt($crate::config::Verbosity::Quiet, format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::{Duration, Secs3};
    /// The text `{:.3}` of `as_secs_f64()` gave (test-only f64: the
    /// reference the integer formatting must match).
    #[test]
    fn secs3_prints_what_the_f64_formatting_did() {
        let mut ns: u64 = 0;
        for step in [1u64, 7, 499_999, 500_001, 999_999, 1_234_567, 987_654_321] {
            for _ in 0..200 {
                ns += step;
                let d = Duration::from_nanos(ns);
                let f = format!("{:.3}", d.as_secs_f64());
                // Exact ties (…500_000 ns past a millisecond) may differ.
                if ns % 1_000_000 != 500_000 {
                    assert_eq!(Secs3(d).to_string(), f, "{ns} ns");
                }
            }
        }
        assert_eq!(Secs3(Duration::ZERO).to_string(), "0.000");
        assert_eq!(Secs3(Duration::from_millis(12)).to_string(), "0.012");
        assert_eq!(
            Secs3(Duration::from_nanos(1_999_500_000)).to_string(),
            "2.000"
        );
        assert_eq!(Secs3(Duration::from_secs(3600)).to_string(), "3600.000");
    }

    /// A fresh folder for a socket: (folder, socket path in it).
    fn socket_dir(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("tinymx-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        (dir, path)
    }

    #[test]
    fn syslog_lines_are_rfc3164_with_facility_mail() {
        let (dir, path) = socket_dir("log");
        let server = super::UnixDatagram::bind(&path).unwrap();
        let s = super::Syslog::new(&path, 42);
        let msg =
            String::from_utf8(s.format(crate::config::Verbosity::Normal, "hello", 0)).unwrap();
        // <22> = mail.info; the time is local, so only its shape is fixed.
        assert!(msg.starts_with("<22>"), "{msg}");
        assert!(msg.ends_with(" tinymx[42]: hello"), "{msg}");
        assert_eq!(
            msg.len(),
            "<22>Jan  1 00:00:00 tinymx[42]: hello".len(),
            "{msg}"
        );
        let warn = String::from_utf8(s.format(crate::config::Verbosity::Quiet, "x", 0)).unwrap();
        assert!(warn.starts_with("<20>"));
        // send() connects on demand.
        let mut s = s;
        assert!(s.send(b"<22>test".to_vec(), std::time::Instant::now()));
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"<22>test");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A kept line the socket will never take (larger than a datagram may
    /// be) is dropped once the socket is there; the lines behind it go on.
    #[test]
    fn an_oversized_kept_line_does_not_hold_up_the_others() {
        let (dir, path) = socket_dir("log-big");
        let mut s = super::Syslog::new(&path, 42);
        let t0 = std::time::Instant::now();
        assert!(!s.send(vec![b'x'; 4 << 20], t0));
        assert!(!s.send(b"small".to_vec(), t0));
        let server = super::UnixDatagram::bind(&path).unwrap();
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let later = t0 + super::RETRY_INTERVAL;
        assert!(s.send(b"late".to_vec(), later));
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"small");
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"late");
        assert!(s.backlog.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// syslogd started after tinymx (busybox): lines wait, bounded, and
    /// arrive in order once the socket exists; the socket is tried again
    /// at most once per RETRY_INTERVAL.
    #[test]
    fn lines_wait_for_a_syslog_socket_that_appears_later() {
        let (dir, path) = socket_dir("log-late");
        let mut s = super::Syslog::new(&path, 42);
        let t0 = std::time::Instant::now();
        for i in 0..super::BACKLOG_LINES + 3 {
            assert!(!s.send(format!("line {i}").into_bytes(), t0));
        }
        assert_eq!((s.backlog.len(), s.dropped), (super::BACKLOG_LINES, 3));
        let server = super::UnixDatagram::bind(&path).unwrap();
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        // A datagram socket queues only a few messages: read as they come.
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            while got.last().is_none_or(|l| l != "late") {
                let n = server.recv(&mut buf).expect("a datagram within 60 s");
                got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
            }
            got
        });
        // Within the retry interval the socket is not tried again.
        assert!(!s.send(b"early".to_vec(), t0 + super::RETRY_INTERVAL / 2));
        assert!(s.send(b"late".to_vec(), t0 + super::RETRY_INTERVAL));
        let got = reader.join().unwrap();
        let want: Vec<String> = (0..super::BACKLOG_LINES)
            .map(|i| format!("line {i}"))
            .collect();
        assert_eq!(&got[..want.len()], &want[..]);
        let note = &got[want.len()];
        assert!(note.starts_with("<20>"), "{note}");
        let tail = format!(
            "tinymx[42]: syslog: 4 line(s) were not kept while {} could not be reached",
            path.display()
        );
        assert!(note.ends_with(&tail), "{note}");
        assert_eq!(&got[want.len() + 1..], ["late"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
