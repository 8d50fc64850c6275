//! RFC 5322 §3.3 dates in UTC, from seconds since the epoch, without
//! a time zone database; and a strict parser of the same grammar.

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Seconds since the epoch now (0 if the clock is before 1970), for
/// `rfc5322`, session ids and SPF's `%{t}`.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// `Sat, 28 Nov 2026 14:30:26 +0000`. The day always has two digits:
/// §3.3 allows one or two (`1*2DIGIT`), two is the form every reader
/// knows. The caller passes the clock, so tests can pick any moment.
pub fn rfc5322(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let secs = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[weekday(days)],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Parses an RFC 5322 §3.3 `date-time` into seconds since the epoch (UTC,
/// the zone applied; a leap second `:60` counts as the next second).
///
/// The grammar is the one a program may generate, not the obsolete forms
/// of §4.3 (two-digit years, zone names, comments between the parts):
///
/// ```text
/// date-time   = [ day-of-week "," ] date time [CFWS]
/// day-of-week = ([FWS] day-name)
/// date        = day month year
/// day         = ([FWS] 1*2DIGIT FWS)
/// year        = (FWS 4*DIGIT FWS)
/// time        = time-of-day zone
/// time-of-day = hour ":" minute [ ":" second ]      each 2DIGIT
/// zone        = (FWS ( "+" / "-" ) 4DIGIT)
/// ```
///
/// Names are case-insensitive, as quoted strings in ABNF are (RFC 5234
/// §2.3). A folding line break may be CRLF (the wire) or LF (a Maildir
/// file). Beyond the syntax, §3.3 asks that the date exist and that the
/// day of the week be the one the date implies; years before 1900 and
/// years of more than 9 digits are refused too.
pub fn parse(text: &[u8]) -> Option<i64> {
    // Everything but a comment is ASCII; a comment may hold UTF-8, and
    // only valid UTF-8 (RFC 6532 §3.2, UTF8-non-ascii).
    std::str::from_utf8(text).ok()?;
    let mut c = Cursor { s: text, i: 0 };
    let start = c.i;
    c.fws();
    let wday = match c.name(&DAYS) {
        Some(w) => {
            c.eat(b',').then_some(())?;
            Some(w)
        }
        None => {
            // No day of the week: the white space belongs to the day.
            c.i = start;
            None
        }
    };
    c.fws();
    let day = c.digits(1, 2)?;
    c.fws().then_some(())?;
    let month = c.name(&MONTHS)? as u32 + 1;
    c.fws().then_some(())?;
    let year = c.digits(4, 9)? as i64;
    c.fws().then_some(())?;
    let hour = c.digits(2, 2)?;
    c.eat(b':').then_some(())?;
    let minute = c.digits(2, 2)?;
    let second = if c.eat(b':') { c.digits(2, 2)? } else { 0 };
    c.fws().then_some(())?;
    let east = match c.next()? {
        b'+' => true,
        b'-' => false,
        _ => return None,
    };
    let zone = c.digits(4, 4)?;
    c.cfws()?;
    if c.i != text.len() {
        return None;
    }
    let (zh, zm) = (zone / 100, zone % 100);
    if year < 1900
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
        || zm > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if wday.is_some_and(|w| w != weekday(days)) {
        return None;
    }
    let offset = (zh * 3600 + zm * 60) as i64;
    let local = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64;
    Some(if east { local - offset } else { local + offset })
}

/// A position in the text being parsed.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.i += hit as usize;
        hit
    }

    fn wsp(&mut self) -> usize {
        let from = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i - from
    }

    /// FWS = ([*WSP CRLF] 1*WSP): true if any was there. A line break not
    /// followed by white space is not folding and is left unread.
    fn fws(&mut self) -> bool {
        let lead = self.wsp();
        let after_lead = self.i;
        let crlf = self.s[self.i..].starts_with(b"\r\n");
        if crlf || self.peek() == Some(b'\n') {
            self.i += 1 + crlf as usize;
            if self.wsp() > 0 {
                return true;
            }
            self.i = after_lead;
        }
        lead > 0
    }

    /// CFWS = (1*([FWS] comment) [FWS]) / FWS, optional here. None for a
    /// malformed comment.
    fn cfws(&mut self) -> Option<()> {
        loop {
            self.fws();
            if self.peek() != Some(b'(') {
                return Some(());
            }
            self.comment()?;
        }
    }

    /// comment = "(" *([FWS] ccontent) [FWS] ")", ccontent = ctext /
    /// quoted-pair / comment. Read with a depth counter, not recursion, so
    /// deep nesting costs no stack. Bytes of 0x80 and above count as ctext
    /// and may follow a backslash (RFC 6532 §3.2: UTF-8 in header fields;
    /// `parse` has checked that they are valid UTF-8).
    fn comment(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            self.fws();
            match self.next()? {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(());
                    }
                }
                b'\\' => match self.next()? {
                    b' ' | b'\t' | 0x21..=0x7e | 0x80.. => {}
                    _ => return None,
                },
                0x21..=0x27 | 0x2a..=0x5b | 0x5d..=0x7e | 0x80.. => {}
                _ => return None,
            }
        }
    }

    /// `min` to `max` decimal digits, not followed by another digit.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let from = self.i;
        let mut n: u32 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            if self.i - from == max {
                return None;
            }
            n = n * 10 + (d - b'0') as u32;
            self.i += 1;
        }
        (self.i - from >= min).then_some(n)
    }

    /// One of three-letter `names`, any case: its index.
    fn name(&mut self, names: &[&str]) -> Option<usize> {
        let word = self.s.get(self.i..self.i + 3)?;
        let k = names
            .iter()
            .position(|n| n.as_bytes().eq_ignore_ascii_case(word))?;
        self.i += 3;
        Some(k)
    }
}

/// Monday = 0 for a count of days since 1970-01-01, a Thursday.
fn weekday(days: i64) -> usize {
    (days + 3).rem_euclid(7) as usize
}

fn days_in_month(y: i64, m: u32) -> u32 {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31), proleptic
/// Gregorian (the well-known era-based algorithms by Howard Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

/// (year, month, day) → days since 1970-01-01; the inverse of the above.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc5322(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(rfc5322(1_795_530_626), "Tue, 24 Nov 2026 14:30:26 +0000");
        assert_eq!(rfc5322(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 +0000");
    }

    /// The vectors in tests/dates/rfc5322.txt, shared with the Python
    /// checker of the interop suite (tests/rfc5322.py).
    fn vectors() -> Vec<(Option<i64>, String, String)> {
        let text = include_str!("../tests/dates/rfc5322.txt");
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = line.splitn(3, " | ").collect();
            assert_eq!(f.len(), 3, "{line:?}");
            let want = match f[0] {
                "-" => None,
                plus => Some(plus.strip_prefix("+ ").unwrap().parse().unwrap()),
            };
            let date = f[1]
                .replace("\\n", "\n")
                .replace("\\r", "\r")
                .replace("\\t", "\t");
            out.push((want, date, f[2].to_string()));
        }
        out
    }

    #[test]
    fn parse_follows_the_grammar_on_every_shared_vector() {
        let v = vectors();
        assert!(v.len() >= 40, "{} vectors", v.len());
        for (want, date, why) in v {
            assert_eq!(parse(date.as_bytes()), want, "{date:?}: {why}");
        }
    }

    /// A fake clock: the formatter at the moments where day and year
    /// formats change, each output read back by the strict parser.
    #[test]
    fn formatter_output_parses_back_on_the_1st_the_31st_and_at_new_year() {
        let at = |y, m, d, secs| (days_from_civil(y, m, d) * 86_400 + secs) as u64;
        let cases = [
            (at(2026, 12, 1, 0), "Tue, 01 Dec 2026 00:00:00 +0000"),
            (at(2026, 12, 9, 86_399), "Wed, 09 Dec 2026 23:59:59 +0000"),
            (at(2026, 12, 10, 0), "Thu, 10 Dec 2026 00:00:00 +0000"),
            (at(2026, 12, 31, 86_399), "Thu, 31 Dec 2026 23:59:59 +0000"),
            (at(2027, 1, 1, 0), "Fri, 01 Jan 2027 00:00:00 +0000"),
            (at(2027, 1, 31, 43_200), "Sun, 31 Jan 2027 12:00:00 +0000"),
            (at(2028, 2, 29, 3_661), "Tue, 29 Feb 2028 01:01:01 +0000"),
            (at(2099, 12, 31, 86_399), "Thu, 31 Dec 2099 23:59:59 +0000"),
            (at(2100, 1, 1, 0), "Fri, 01 Jan 2100 00:00:00 +0000"),
            (at(2100, 3, 1, 0), "Mon, 01 Mar 2100 00:00:00 +0000"),
        ];
        for (t, want) in cases {
            let got = rfc5322(t);
            assert_eq!(got, want, "at {t}");
            assert_eq!(parse(got.as_bytes()), Some(t as i64), "{got}");
        }
        // Every day from 1970 to 2199, at a second that moves through the day.
        for day in 0..days_from_civil(2200, 1, 1) {
            let t = (day * 86_400 + day * 7919 % 86_400) as u64;
            let got = rfc5322(t);
            assert_eq!(parse(got.as_bytes()), Some(t as i64), "{got}");
            assert_eq!(civil_from_days(day).2, got[5..7].parse::<u32>().unwrap());
        }
    }

    #[test]
    fn civil_conversions_are_inverse() {
        for day in -800_000..800_000 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn deep_and_long_input_is_refused_without_recursion() {
        let mut s = b"Tue, 01 Dec 2026 20:47:12 +0000 ".to_vec();
        s.extend(std::iter::repeat_n(b'(', 100_000));
        assert_eq!(parse(&s), None);
        s.extend(std::iter::repeat_n(b')', 100_000));
        assert_eq!(parse(&s), Some(1_796_158_032));
        assert_eq!(parse(b"Tue, 01 Dec 99999999999 20:47:12 +0000"), None);
        // UTF-8 in a comment, but only valid UTF-8 (RFC 6532).
        assert_eq!(parse(b"Tue, 01 Dec 2026 20:47:12 +0000 (\xff)"), None);
        assert_eq!(parse(b"Tue, 01 Dec 2026 20:47:12 +0000 (\\\xc3)"), None);
        assert_eq!(parse(b"Tue, 01 Dec 2026 20:47:12 +0000 (\x00)"), None);
    }
}
