//! One line per event on stderr, each written with a single `write` so
//! lines from concurrent sessions never interleave (a `write` of at most
//! PIPE_BUF bytes is atomic on a pipe, and needs no lock of ours; longer
//! lines, rare, also take std's stderr lock). Lines that concern a
//! session carry its id.

use crate::config::Verbosity;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(1);

pub fn set_verbosity(v: Verbosity) {
    LEVEL.store(v as u8, Ordering::Relaxed);
}

pub fn enabled(v: Verbosity) -> bool {
    v as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Where lines go once `use_syslog` succeeded.
static SYSLOG: Mutex<Option<Syslog>> = Mutex::new(None);
/// Whether SYSLOG is set: without syslog, a line takes no lock at all.
static SYSLOG_ON: AtomicBool = AtomicBool::new(false);

/// Linux's PIPE_BUF: a write of at most this many bytes to a pipe is atomic.
const ATOMIC_WRITE: usize = 4096;

/// An RFC 3164 sender on a local datagram socket (what busybox syslogd,
/// rsyslog and journald read at /dev/log).
struct Syslog {
    sock: UnixDatagram,
    path: PathBuf,
    pid: u32,
}

impl Syslog {
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

    fn send(&mut self, msg: &[u8]) -> bool {
        if self.sock.send(msg).is_ok() {
            return true;
        }
        // syslogd may have restarted: reconnect once.
        match UnixDatagram::unbound().and_then(|s| s.connect(&self.path).map(|()| s)) {
            Ok(s) => {
                self.sock = s;
                self.sock.send(msg).is_ok()
            }
            Err(_) => false,
        }
    }
}

/// Sends log lines to the syslog socket at `path` from now on. On failure
/// lines keep going to stderr and the error is returned.
pub fn use_syslog(path: &Path) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    sock.connect(path)?;
    let syslog = Syslog {
        sock,
        path: path.to_path_buf(),
        pid: std::process::id(),
    };
    *SYSLOG.lock().unwrap_or_else(|p| p.into_inner()) = Some(syslog);
    SYSLOG_ON.store(true, Ordering::Release);
    Ok(())
}

/// Writes `tinymx: TEXT\n` to stderr, or one syslog message, if `v` is
/// enabled. Warnings and errors use `Verbosity::Quiet`, so `-q` still
/// shows them.
pub fn line(v: Verbosity, text: &str) {
    if !enabled(v) {
        return;
    }
    // Without syslog, straight to stderr, no lock.
    if SYSLOG_ON.load(Ordering::Acquire)
        && let Some(s) = SYSLOG.lock().unwrap_or_else(|p| p.into_inner()).as_mut()
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        if s.send(&s.format(v, text, now.as_secs() as i64)) {
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

/// Client-supplied bytes made safe for a log line: printable ASCII kept,
/// everything else as `\xNN`, at most `max` input bytes.
pub fn sanitize(bytes: &[u8], max: usize) -> String {
    let mut s = String::new();
    for &b in bytes.iter().take(max) {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    if bytes.len() > max {
        s.push_str("...");
    }
    s
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::line($crate::config::Verbosity::Normal, &format!($($arg)*)) };
}

#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::log::enabled($crate::config::Verbosity::Verbose) {
            $crate::log::line($crate::config::Verbosity::Verbose, &format!($($arg)*))
        }
    };
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::line($crate::config::Verbosity::Quiet, &format!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn syslog_lines_are_rfc3164_with_facility_mail() {
        let dir = std::env::temp_dir().join(format!("tinymx-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        let _ = std::fs::remove_file(&path);
        let server = super::UnixDatagram::bind(&path).unwrap();
        let s = super::Syslog {
            sock: super::UnixDatagram::unbound().unwrap(),
            path: path.clone(),
            pid: 42,
        };
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
        assert!(s.send(b"<22>test"));
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"<22>test");
        let _ = std::fs::remove_dir_all(&dir);
    }
    #[test]
    fn sanitize_escapes_control_and_high_bytes() {
        assert_eq!(
            super::sanitize(b"a\r\n\x00\xff\\b", 100),
            "a\\x0d\\x0a\\x00\\xff\\x5cb"
        );
        assert_eq!(super::sanitize(b"abcdef", 3), "abc...");
    }
}
