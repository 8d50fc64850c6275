//! One line per event on stderr, each written with a single `write` so
//! lines from concurrent sessions never interleave. Lines that concern a
//! session carry its id.

use crate::config::Verbosity;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(1);

pub fn set_verbosity(v: Verbosity) {
    LEVEL.store(v as u8, Ordering::Relaxed);
}

pub fn enabled(v: Verbosity) -> bool {
    v as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes `tinymx: TEXT\n` if `v` is enabled. Warnings and errors use
/// `Verbosity::Quiet`, so `-q` still shows them.
pub fn line(v: Verbosity, text: &str) {
    if !enabled(v) {
        return;
    }
    let mut buf = Vec::with_capacity(text.len() + 9);
    buf.extend_from_slice(b"tinymx: ");
    buf.extend_from_slice(text.as_bytes());
    buf.push(b'\n');
    let _ = std::io::stderr().lock().write_all(&buf);
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
    fn sanitize_escapes_control_and_high_bytes() {
        assert_eq!(
            super::sanitize(b"a\r\n\x00\xff\\b", 100),
            "a\\x0d\\x0a\\x00\\xff\\x5cb"
        );
        assert_eq!(super::sanitize(b"abcdef", 3), "abc...");
    }
}
