//! Client bytes made safe for the place tinymx writes them: one function
//! per destination, each saying what it guarantees. Everything the client
//! chose (HELO name, command lines, a filter's answer, the file names in
//! its mail, its address) goes through here before it reaches a log line, a
//! stored header, a reply, a file name or a hook's environment.

use crate::smtp::address;
use std::net::IpAddr;

/// For a log line: at most `max` input bytes; printable ASCII other than
/// `\` kept, every other byte written `\xNN` (so the line stays one line,
/// shows no terminal escapes, and the original bytes can be read back);
/// `...` appended when bytes were cut.
pub fn log_text(bytes: &[u8], max: usize) -> String {
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

/// For the text of an SMTP reply (a `--filter`'s refusal): printable
/// ASCII only (other bytes dropped, so no CR or LF can end the reply
/// early and no 8-bit byte reaches a 7-bit client), at most `max` bytes
/// kept, surrounding spaces trimmed. May be empty.
pub fn reply_text(bytes: &[u8], max: usize) -> String {
    let s: String = bytes
        .iter()
        .filter(|b| (0x20..0x7f).contains(*b))
        .take(max)
        .map(|&b| b as char)
        .collect();
    s.trim().to_string()
}

/// For one line of display text (a decoded header value shown by
/// `tinymx show`, a hook variable): no control character (C0, DEL, C1)
/// is left, a tab becomes a space, surrounding white space is trimmed.
/// Other Unicode text is kept as it is.
pub fn one_line(s: &str) -> String {
    let s: String = s
        .chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    s.trim().to_string()
}

/// For the value of an environment variable given to a hook: valid UTF-8
/// (invalid sequences become U+FFFD), then as [`one_line`], so it holds
/// no NUL, no newline and no other control character.
pub fn env_value(bytes: &[u8]) -> String {
    one_line(&String::from_utf8_lossy(bytes))
}

/// The longest file name kept, in bytes.
const MAX_NAME_BYTES: usize = 200;

/// For a file name from a message, to create in a directory: only
/// the last path component (after `/` or `\`), control characters
/// removed, leading dots and white space removed (no hidden files, no
/// `..`), at most 200 bytes (keeping a short extension). None if nothing
/// is left.
pub fn file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let clean = clean
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end();
    if clean.is_empty() {
        return None;
    }
    if clean.len() <= MAX_NAME_BYTES {
        return Some(clean.to_string());
    }
    let ext = match clean.rfind('.') {
        Some(d) if clean.len() - d <= 16 => &clean[d..],
        _ => "",
    };
    let mut cut = MAX_NAME_BYTES - ext.len();
    while !clean.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(format!("{}{ext}", &clean[..cut]))
}

/// For the HELO name in the Received header: the name as sent if it is a
/// valid domain or address literal (RFC 5321 §4.1.3), else "unknown". So
/// no byte the client chose can break or extend the header.
pub fn header_helo(helo: &[u8]) -> &str {
    match std::str::from_utf8(helo) {
        Ok(s) if address::is_domain(helo, false) || address::is_address_literal(s) => s,
        _ => "unknown",
    }
}

/// The one normal form of a client's address, used wherever it is shown,
/// passed on or counted: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
/// how a dual-stack socket reports an IPv4 client) becomes that IPv4
/// address; every other address stays as it is.
pub fn client_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        IpAddr::V4(_) => ip,
    }
}

/// The client's address as an RFC 5321 address literal body (§4.1.3):
/// `1.2.3.4` or `IPv6:::1`, after [`client_ip`].
pub fn ip_literal(ip: IpAddr) -> String {
    match client_ip(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("IPv6:{v6}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_text_escapes_and_reply_text_drops_the_rest() {
        // (input, max, log_text, reply_text)
        let cases: &[(&[u8], usize, &str, &str)] = &[
            (
                b"a\r\n\x00\xff\\b",
                100,
                "a\\x0d\\x0a\\x00\\xff\\x5cb",
                "a\\b",
            ),
            (
                b"  No \x1b[1mthanks\xc3\xa9\r\n",
                100,
                "  No \\x1b[1mthanks\\xc3\\xa9\\x0d\\x0a",
                "No [1mthanks",
            ),
            (b"abcdef", 3, "abc...", "abc"),
        ];
        for &(input, max, log, reply) in cases {
            assert_eq!(log_text(input, max), log, "{input:?}");
            assert_eq!(reply_text(input, max), reply, "{input:?}");
        }
    }

    #[test]
    fn one_line_and_env_value_leave_no_control_character() {
        assert_eq!(one_line("\t a\tb\u{7f}\u{85}c\r\n"), "a bc");
        assert_eq!(one_line("Grüße"), "Grüße");
        assert_eq!(env_value(b" host\0\xff\n"), "host\u{fffd}");
    }

    #[test]
    fn file_names_stay_in_the_directory() {
        let cases: &[(&str, Option<&str>)] = &[
            ("report.pdf", Some("report.pdf")),
            ("../../etc/passwd", Some("passwd")),
            ("C:\\Users\\bob\\My File.docx", Some("My File.docx")),
            ("..", None),
            ("...", None),
            ("/", None),
            (".bashrc", Some("bashrc")),
            (" . hidden", Some("hidden")),
            ("a\u{0}b\nc\u{1b}[31m\u{7f}\u{85}.txt", Some("abc[31m.txt")),
            ("dir/", None),
            ("Grüße ✓.txt", Some("Grüße ✓.txt")),
        ];
        for (input, want) in cases {
            assert_eq!(file_name(input).as_deref(), *want, "{input:?}");
        }
        let long = format!("{}.pdf", "é".repeat(150));
        let s = file_name(&long).unwrap();
        assert!(s.len() <= 200 && s.ends_with("é.pdf"), "{s}");
    }

    #[test]
    fn header_helo_keeps_only_valid_names() {
        assert_eq!(header_helo(b"evil\r\nX-Injected: 1"), "unknown");
        assert_eq!(header_helo(b"[192.0.2.1]"), "[192.0.2.1]");
        assert_eq!(header_helo(b"mx.example"), "mx.example");
    }

    #[test]
    fn mapped_addresses_are_ipv4() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_ip(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(client_ip(ip("2001:db8::1")), ip("2001:db8::1"));
        assert_eq!(ip_literal(ip("::ffff:127.0.0.1")), "127.0.0.1");
        assert_eq!(ip_literal(ip("::1")), "IPv6:::1");
        assert_eq!(client_ip(ip("::ffff:10.1.2.3")).to_string(), "10.1.2.3");
    }
}
