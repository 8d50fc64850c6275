//! One command line → one typed `Command` (RFC 5321 §4.1.1). Parsing is
//! pure and happens once; every syntax problem becomes the reply to send.

use super::address::{self, Path};
use super::reply::{self, Reply};

/// Parameters of MAIL FROM (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailFrom {
    pub path: Path,
    pub size: Option<u64>,
    pub smtputf8: bool,
}

/// The verb of a command line, recognised once by `parse` (RFC 5321
/// §4.1.1, case-insensitive). The session's order checks (§4.1.4) work on
/// this value, whatever the arguments were.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    /// RFC 3030 CHUNKING.
    Bdat,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    /// RFC 3207; offered only by a build with TLS and a certificate
    /// (`Config::starttls`), else refused as not implemented.
    StartTls,
    /// Known verbs tinymx does not offer.
    NotImplemented,
    /// An HTTP method, if the rest of the line looks like HTTP.
    Http,
    /// Anything else, including an empty line.
    Unknown,
}

/// Every verb tinymx recognises, from the command's first word in any
/// case; matching is on the whole word. (A `match` rather than a table of
/// `&str`: a table of pointers needs a relocation per entry in the static
/// PIE binary.)
fn verb_of(word: &[u8]) -> Verb {
    let mut buf = [0u8; 8];
    let Some(up) = buf.get_mut(..word.len()) else {
        return Verb::Unknown;
    };
    up.copy_from_slice(word);
    up.make_ascii_uppercase();
    match &*up {
        b"HELO" => Verb::Helo,
        b"EHLO" => Verb::Ehlo,
        b"MAIL" => Verb::Mail,
        b"RCPT" => Verb::Rcpt,
        b"DATA" => Verb::Data,
        b"BDAT" => Verb::Bdat,
        b"RSET" => Verb::Rset,
        b"NOOP" => Verb::Noop,
        b"QUIT" => Verb::Quit,
        b"VRFY" => Verb::Vrfy,
        b"HELP" => Verb::Help,
        b"STARTTLS" => Verb::StartTls,
        b"EXPN" | b"AUTH" | b"ETRN" | b"TURN" | b"ATRN" | b"SEND" | b"SOML" | b"SAML" => {
            Verb::NotImplemented
        }
        b"GET" | b"POST" | b"HEAD" | b"PUT" | b"DELETE" | b"OPTIONS" | b"CONNECT" => Verb::Http,
        _ => Verb::Unknown,
    }
}

impl Verb {
    /// The longest line allowed for this verb, without its line ending:
    /// 512 octets with CRLF (RFC 5321 §4.5.3.1.4), 2048 for MAIL and RCPT,
    /// whose ESMTP parameters and UTF-8 addresses need more (extensions
    /// may raise the limit, same section).
    pub fn max_line(self) -> usize {
        match self {
            Verb::Mail | Verb::Rcpt => MAX_ADDRESS_LINE,
            _ => MAX_COMMAND_LINE,
        }
    }
}

/// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with its CRLF.
pub const MAX_COMMAND_LINE: usize = 512 - 2;
/// MAIL and RCPT may be longer (see `Verb::max_line`).
pub const MAX_ADDRESS_LINE: usize = 2048 - 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// HELO/EHLO with the client's name exactly as sent (it may be invalid;
    /// see `address::is_domain`).
    Helo {
        name: Vec<u8>,
        extended: bool,
    },
    Mail(MailFrom),
    Rcpt(address::Address),
    /// `BDAT size [LAST]` (RFC 3030): `size` octets follow the line.
    Bdat {
        size: u64,
        last: bool,
    },
    /// BDAT with a readable size but other arguments wrong: refused with
    /// 501 after its `size` octets are read and discarded. (A BDAT whose
    /// size cannot be read is an `Invalid`: nobody knows where it ends.)
    BadBdat {
        size: u64,
    },
    /// A valid command whose arguments, if any, are not needed: DATA, RSET,
    /// NOOP, QUIT, VRFY, HELP, a verb tinymx does not offer, or an HTTP
    /// request line (a browser, a proxy scanner, a cross-protocol attack).
    Bare(Verb),
    /// A syntax error for this verb, with the reply that says so.
    Invalid(Verb, Reply),
}

impl Command {
    /// The verb the line started with (for an invalid line too).
    pub fn verb(&self) -> Verb {
        match self {
            Command::Helo {
                extended: false, ..
            } => Verb::Helo,
            Command::Helo { extended: true, .. } => Verb::Ehlo,
            Command::Mail(_) => Verb::Mail,
            Command::Rcpt(_) => Verb::Rcpt,
            Command::Bdat { .. } | Command::BadBdat { .. } => Verb::Bdat,
            Command::Bare(verb) | Command::Invalid(verb, _) => *verb,
        }
    }
}

/// Parses one line, without its line ending: the verb, then its arguments.
pub fn parse(line: &[u8]) -> Command {
    let (word, arg) = match line.iter().position(|&b| b == b' ') {
        Some(sp) => (&line[..sp], trim(&line[sp + 1..])),
        None => (line, &line[line.len()..]),
    };
    let verb = verb_of(word);
    let invalid = |r: Reply| Command::Invalid(verb, r);
    match verb {
        Verb::Helo | Verb::Ehlo if arg.is_empty() => invalid(if verb == Verb::Ehlo {
            reply::EHLO_SYNTAX
        } else {
            reply::HELO_SYNTAX
        }),
        Verb::Helo | Verb::Ehlo => Command::Helo {
            name: arg.to_vec(),
            extended: verb == Verb::Ehlo,
        },
        Verb::Mail => parse_mail(arg).unwrap_or_else(invalid),
        Verb::Rcpt => parse_rcpt(arg).unwrap_or_else(invalid),
        Verb::Bdat => parse_bdat(arg),
        // RFC 3207 §4: STARTTLS has no parameters.
        Verb::Data | Verb::Rset | Verb::Quit | Verb::StartTls if !arg.is_empty() => {
            invalid(reply::NO_ARGUMENTS)
        }
        Verb::Vrfy if arg.is_empty() => invalid(reply::VRFY_SYNTAX),
        // RFC 5321 §4.1.1.9: a NOOP argument is ignored; so is HELP's.
        Verb::Data
        | Verb::Rset
        | Verb::Quit
        | Verb::Noop
        | Verb::Help
        | Verb::Vrfy
        | Verb::StartTls
        | Verb::NotImplemented => Command::Bare(verb),
        Verb::Http
            if arg.ends_with(b"HTTP/1.0")
                || arg.ends_with(b"HTTP/1.1")
                || arg.starts_with(b"/") =>
        {
            Command::Bare(verb)
        }
        Verb::Http | Verb::Unknown => Command::Invalid(Verb::Unknown, reply::UNKNOWN_COMMAND),
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// Strips a case-insensitive keyword such as `FROM:`, then any spaces
/// (`MAIL FROM: <a@b>` is common and harmless).
fn keyword<'a>(arg: &'a [u8], kw: &str) -> Option<&'a [u8]> {
    if arg.len() >= kw.len() && arg[..kw.len()].eq_ignore_ascii_case(kw.as_bytes()) {
        Some(trim(&arg[kw.len()..]))
    } else {
        None
    }
}

fn parse_mail(arg: &[u8]) -> Result<Command, Reply> {
    let Some(rest) = keyword(arg, "FROM:") else {
        return Err(reply::MAIL_SYNTAX);
    };
    let Some((path, params)) = address::split_path(rest) else {
        return Err(reply::BAD_SENDER);
    };
    let mut mail = MailFrom {
        path: Path::Null,
        size: None,
        smtputf8: false,
    };
    for param in params.split(|&b| b == b' ').filter(|p| !p.is_empty()) {
        let (key, value) = match param.iter().position(|&b| b == b'=') {
            Some(eq) => (&param[..eq], Some(&param[eq + 1..])),
            None => (param, None),
        };
        let key = key.to_ascii_uppercase();
        match (key.as_slice(), value) {
            (b"SIZE", Some(v))
                if !v.is_empty() && v.len() <= 20 && v.iter().all(u8::is_ascii_digit) =>
            {
                // 20 digits may exceed u64; saturate, it is over any limit anyway.
                mail.size = Some(
                    std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(u64::MAX),
                );
            }
            (b"BODY", Some(v))
                if v.eq_ignore_ascii_case(b"7BIT") || v.eq_ignore_ascii_case(b"8BITMIME") => {}
            (b"SMTPUTF8", None) => mail.smtputf8 = true,
            _ => return Err(reply::BAD_PARAMETER),
        }
    }
    match address::parse_path(path, true) {
        Some(Path::Mailbox(a)) if a.utf8 && !mail.smtputf8 => Err(reply::NEEDS_SMTPUTF8),
        Some(p) => {
            mail.path = p;
            Ok(Command::Mail(mail))
        }
        None => Err(reply::BAD_SENDER),
    }
}

/// RFC 3030 §2: `"BDAT" SP chunk-size [ SP end-marker ]`, chunk-size
/// `1*DIGIT`, end-marker `"LAST"` (case-insensitive). A size that is
/// missing, not all digits or over u64 is `Invalid` (the session closes).
fn parse_bdat(arg: &[u8]) -> Command {
    let mut words = arg.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let size = words
        .next()
        .filter(|w| w.iter().all(u8::is_ascii_digit))
        .and_then(|w| std::str::from_utf8(w).ok())
        .and_then(|w| w.parse::<u64>().ok());
    let Some(size) = size else {
        return Command::Invalid(Verb::Bdat, reply::BDAT_SYNTAX);
    };
    match (words.next(), words.next()) {
        (None, _) => Command::Bdat { size, last: false },
        (Some(w), None) if w.eq_ignore_ascii_case(b"LAST") => Command::Bdat { size, last: true },
        _ => Command::BadBdat { size },
    }
}

fn parse_rcpt(arg: &[u8]) -> Result<Command, Reply> {
    let Some(rest) = keyword(arg, "TO:") else {
        return Err(reply::RCPT_SYNTAX);
    };
    let Some((path, params)) = address::split_path(rest) else {
        return Err(reply::BAD_RECIPIENT);
    };
    // No RCPT parameters are advertised (no DSN), so none is accepted.
    if params.iter().any(|&b| b != b' ') {
        return Err(reply::BAD_PARAMETER);
    }
    match address::parse_path(path, false) {
        Some(Path::Mailbox(a)) => Ok(Command::Rcpt(a)),
        _ => Err(reply::BAD_RECIPIENT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(line: &str) -> Reply {
        match parse(line.as_bytes()) {
            Command::Invalid(_, r) => r,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(parse(b"quit"), Command::Bare(Verb::Quit));
        assert_eq!(parse(b"QuIt"), Command::Bare(Verb::Quit));
        assert_eq!(parse(b"rset"), Command::Bare(Verb::Rset));
        assert_eq!(parse(b"data"), Command::Bare(Verb::Data));
        assert_eq!(parse(b"noop"), Command::Bare(Verb::Noop));
        assert_eq!(parse(b"help"), Command::Bare(Verb::Help));
    }

    #[test]
    fn helo_and_ehlo_keep_the_name() {
        assert_eq!(
            parse(b"EHLO mx.example.org"),
            Command::Helo {
                name: b"mx.example.org".to_vec(),
                extended: true
            }
        );
        assert_eq!(
            parse(b"helo  [10.0.0.1] "),
            Command::Helo {
                name: b"[10.0.0.1]".to_vec(),
                extended: false
            }
        );
        assert_eq!(invalid("EHLO"), reply::EHLO_SYNTAX);
        assert_eq!(invalid("HELO   "), reply::HELO_SYNTAX);
    }

    #[test]
    fn mail_from_with_parameters() {
        let Command::Mail(m) = parse(b"MAIL FROM:<a@b.org> SIZE=1234 BODY=8BITMIME SMTPUTF8")
        else {
            panic!()
        };
        assert_eq!(m.size, Some(1234));
        assert!(m.smtputf8);
        assert!(matches!(m.path, Path::Mailbox(ref a) if a.raw == "a@b.org"));
    }

    #[test]
    fn mail_from_tolerates_space_after_colon_and_lowercase() {
        assert!(matches!(parse(b"mail from: <a@b.org>"), Command::Mail(_)));
        assert!(matches!(parse(b"MAIL FROM:a@b.org"), Command::Mail(_)));
    }

    #[test]
    fn null_sender_is_accepted() {
        let Command::Mail(m) = parse(b"MAIL FROM:<>") else {
            panic!()
        };
        assert_eq!(m.path, Path::Null);
    }

    #[test]
    fn bad_mail_arguments() {
        assert_eq!(invalid("MAIL"), reply::MAIL_SYNTAX);
        assert_eq!(invalid("MAIL TO:<a@b.org>"), reply::MAIL_SYNTAX);
        assert_eq!(invalid("MAIL FROM:<a@b.org"), reply::BAD_SENDER);
        assert_eq!(invalid("MAIL FROM:<a@@b.org>"), reply::BAD_SENDER);
        assert_eq!(
            invalid("MAIL FROM:<a@b.org> SIZE=abc"),
            reply::BAD_PARAMETER
        );
        assert_eq!(invalid("MAIL FROM:<a@b.org> SIZE="), reply::BAD_PARAMETER);
        assert_eq!(
            invalid("MAIL FROM:<a@b.org> BODY=BINARYMIME"),
            reply::BAD_PARAMETER
        );
        assert_eq!(
            invalid("MAIL FROM:<a@b.org> RET=FULL"),
            reply::BAD_PARAMETER
        );
        assert_eq!(
            invalid("MAIL FROM:<a@b.org> SMTPUTF8=yes"),
            reply::BAD_PARAMETER
        );
        assert_eq!(invalid("MAIL FROM:<jösé@b.org>"), reply::NEEDS_SMTPUTF8);
    }

    #[test]
    fn huge_size_saturates() {
        let Command::Mail(m) = parse(b"MAIL FROM:<> SIZE=99999999999999999999") else {
            panic!()
        };
        assert_eq!(m.size, Some(u64::MAX));
        assert_eq!(
            invalid("MAIL FROM:<> SIZE=999999999999999999999"),
            reply::BAD_PARAMETER
        );
    }

    #[test]
    fn rcpt_to() {
        let Command::Rcpt(a) = parse(b"RCPT TO:<Bob@Example.org>") else {
            panic!()
        };
        assert_eq!(a.local, "Bob");
        assert_eq!(invalid("RCPT"), reply::RCPT_SYNTAX);
        assert_eq!(invalid("RCPT TO:<>"), reply::BAD_RECIPIENT);
        assert_eq!(invalid("RCPT TO:<bob>"), reply::BAD_RECIPIENT);
        assert_eq!(
            invalid("RCPT TO:<bob@x.org> NOTIFY=NEVER"),
            reply::BAD_PARAMETER
        );
        assert!(matches!(parse(b"RCPT TO:<postmaster>"), Command::Rcpt(_)));
    }

    #[test]
    fn commands_that_take_no_arguments() {
        assert_eq!(invalid("DATA x"), reply::NO_ARGUMENTS);
        assert_eq!(invalid("RSET x"), reply::NO_ARGUMENTS);
        assert_eq!(invalid("QUIT now"), reply::NO_ARGUMENTS);
        assert_eq!(parse(b"NOOP anything"), Command::Bare(Verb::Noop));
        assert_eq!(parse(b"HELP MAIL"), Command::Bare(Verb::Help));
    }

    #[test]
    fn vrfy_needs_an_argument() {
        assert_eq!(parse(b"VRFY bob"), Command::Bare(Verb::Vrfy));
        assert_eq!(invalid("VRFY"), reply::VRFY_SYNTAX);
    }

    #[test]
    fn unknown_and_unimplemented_verbs() {
        assert_eq!(invalid("FOO"), reply::UNKNOWN_COMMAND);
        assert_eq!(parse(b"GET / HTTP/1.0"), Command::Bare(Verb::Http));
        assert_eq!(
            parse(b"CONNECT mx.example.org:25 HTTP/1.1"),
            Command::Bare(Verb::Http)
        );
        assert_eq!(parse(b"POST /cgi-bin/x"), Command::Bare(Verb::Http));
        assert_eq!(invalid("GET"), reply::UNKNOWN_COMMAND);
        assert_eq!(invalid(""), reply::UNKNOWN_COMMAND);
        assert_eq!(invalid("MAIL\0FROM:<a@b>"), reply::UNKNOWN_COMMAND);
        assert_eq!(parse(b"EXPN list"), Command::Bare(Verb::NotImplemented));
        assert_eq!(parse(b"STARTTLS"), Command::Bare(Verb::StartTls));
        assert_eq!(parse(b"starttls"), Command::Bare(Verb::StartTls));
        assert_eq!(
            parse(b"STARTTLS now"),
            Command::Invalid(Verb::StartTls, reply::NO_ARGUMENTS)
        );
        assert_eq!(parse(b"AUTH PLAIN"), Command::Bare(Verb::NotImplemented));
    }

    #[test]
    fn bdat_size_and_last() {
        let chunk = |size, last| Command::Bdat { size, last };
        assert_eq!(parse(b"BDAT 10 LAST"), chunk(10, true));
        assert_eq!(parse(b"bdat 0 last"), chunk(0, true));
        assert_eq!(parse(b"BDAT  7 "), chunk(7, false));
        assert_eq!(parse(b"BDAT 18446744073709551615"), chunk(u64::MAX, false));
        assert_eq!(parse(b"BDAT 3 LASTX"), Command::BadBdat { size: 3 });
        assert_eq!(parse(b"BDAT 3 LAST LAST"), Command::BadBdat { size: 3 });
        for bad in [
            "BDAT",
            "BDAT x",
            "BDAT +1",
            "BDAT 18446744073709551616",
            "BDAT LAST",
        ] {
            assert_eq!(invalid(bad), reply::BDAT_SYNTAX, "{bad}");
        }
    }
}
