//! tinymx's dates against a real peer: the formatter against Python's
//! `email.utils`, over every day of 230 years, so that no day of the
//! month, leap day or year boundary is left to the calendar of the day
//! `make test` happens to run on.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs a Python snippet with `input` on stdin; returns its stdout.
fn python_filter(code: &str, input: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", code])
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "python3 failed: {}", out.status);
    String::from_utf8(out.stdout).unwrap()
}

/// Each day from 1970 to 2199 at a second that moves through the day
/// (so every hour, minute and second shows up), plus the edges of the
/// 1st, the 31st and New Year.
fn moments() -> Vec<u64> {
    let mut v: Vec<u64> = (0..84_006u64)
        .map(|day| day * 86_400 + day * 7919 % 86_400)
        .collect();
    for day in [20_423u64, 20_788, 20_818, 20_819] {
        // 2025-12-01, 2026-12-01, 2026-12-31, 2027-01-01
        v.extend([day * 86_400, day * 86_400 + 86_399]);
    }
    v
}

#[test]
fn formatter_writes_what_python_email_utils_writes_on_every_day_1970_to_2199() {
    let moments = moments();
    let input: String = moments.iter().map(|t| format!("{t}\n")).collect();
    let theirs = python_filter(
        "import sys, datetime, email.utils\n\
         for l in sys.stdin:\n\
         \tt = datetime.datetime.fromtimestamp(int(l), datetime.timezone.utc)\n\
         \tprint(email.utils.format_datetime(t))\n",
        &input,
    );
    let theirs: Vec<&str> = theirs.lines().collect();
    assert_eq!(theirs.len(), moments.len());
    for (t, want) in moments.iter().zip(theirs) {
        assert_eq!(tinymx::date::rfc5322(*t), want, "at {t}");
    }
}

#[test]
fn parser_reads_what_python_email_utils_writes_in_other_zones() {
    // Python writes the local time with its offset; tinymx's parser must
    // arrive at the same instant, whatever the zone.
    let moments = moments();
    let sample: Vec<u64> = moments.iter().step_by(97).copied().collect();
    let input: String = sample.iter().map(|t| format!("{t}\n")).collect();
    for offset_minutes in [-720i64, -570, -210, 0, 345, 765, 840] {
        let code = format!(
            "import sys, datetime, email.utils\n\
             z = datetime.timezone(datetime.timedelta(minutes={offset_minutes}))\n\
             for l in sys.stdin:\n\
             \tprint(email.utils.format_datetime(datetime.datetime.fromtimestamp(int(l), z)))\n"
        );
        let dates = python_filter(&code, &input);
        let dates: Vec<&str> = dates.lines().collect();
        assert_eq!(dates.len(), sample.len());
        for (t, date) in sample.iter().zip(dates) {
            assert_eq!(
                tinymx::date::parse(date.as_bytes()),
                Some(*t as i64),
                "{date:?}"
            );
        }
    }
}

/// The Python checker the interop suite uses (tests/rfc5322.py) on the
/// same vectors as `tinymx::date::parse` (src/date.rs unit tests), plus
/// its cross-check with email.utils and its calendar sweep: the two
/// checkers agree on every vector.
#[test]
fn python_checker_passes_on_the_shared_vectors() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rfc5322.py");
    let out = Command::new("python3")
        .arg(script)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let last = text.lines().last().unwrap_or("");
    let n: usize = last
        .strip_prefix("rfc5322: ")
        .and_then(|l| l.strip_suffix(" passed, 0 failed"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("closing line {last:?}"));
    let vectors = include_str!("dates/rfc5322.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count();
    // Every vector, and the calendar sweep.
    assert_eq!(n, vectors + 1, "{text}");
}
