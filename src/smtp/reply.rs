//! SMTP replies as values (RFC 5321 §4.2), each with its enhanced status
//! code (RFC 3463, RFC 2034) in the text.

use std::borrow::Cow;

/// One complete reply, possibly multi-line, as sent on the wire (CRLF
/// line endings included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    text: Cow<'static, str>,
}

impl Reply {
    /// A reply whose wire text is fixed at compile time.
    const fn fixed(code: u16, text: &'static str) -> Reply {
        Reply {
            code,
            text: Cow::Borrowed(text),
        }
    }

    /// A one-line reply `CODE TEXT\r\n` built at run time.
    pub fn line(code: u16, text: &str) -> Reply {
        Reply {
            code,
            text: Cow::Owned(format!("{code} {text}\r\n")),
        }
    }

    /// A multi-line reply: `CODE-line` for all but the last, `CODE line`
    /// for the last (RFC 5321 §4.2.1).
    pub fn lines(code: u16, lines: &[&str]) -> Reply {
        let mut text = String::new();
        for (i, l) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            text.push_str(&format!("{code}{sep}{l}\r\n"));
        }
        Reply {
            code,
            text: Cow::Owned(text),
        }
    }

    pub fn code(&self) -> u16 {
        self.code
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// The text without the trailing CRLF, for logs.
    pub fn text(&self) -> &str {
        self.text.trim_end_matches("\r\n")
    }

    /// 221 (QUIT) and 421 (service closing) end the session (RFC 5321 §3.8).
    pub fn closes(&self) -> bool {
        self.code == 221 || self.code == 421
    }

    /// 4xx and 5xx.
    pub fn is_error(&self) -> bool {
        self.code >= 400
    }
}

/// Defines the fixed replies, each as `NAME = CODE "TEXT";`: the wire
/// text `CODE TEXT<CRLF>` is built from it at compile time, so the code is
/// written once. `ALL` lists every one of them for the tests.
macro_rules! replies {
    ($($name:ident = $code:literal $text:literal;)*) => {
        $(pub const $name: Reply = Reply::fixed($code, concat!($code, " ", $text, "\r\n"));)*

        #[cfg(test)]
        const ALL: &[Reply] = &[$($name),*];
    };
}

replies! {
    READY_FOR_TLS = 220 "2.0.0 Ready to start TLS";
    BYE = 221 "2.0.0 Bye";
    OK = 250 "2.0.0 Ok";
    SENDER_OK = 250 "2.1.0 Sender ok";
    RECIPIENT_OK = 250 "2.1.5 Recipient ok";
    VRFY = 252 "2.5.0 Cannot VRFY user, but will accept message";
    HELP = 214 "2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP";
    CHUNK_OK = 250 "2.0.0 Chunk received";
    START_DATA = 354 "End data with <CR><LF>.<CR><LF>";

    SHUTTING_DOWN = 421 "4.3.2 Service shutting down, closing connection";
    TIMEOUT = 421 "4.4.2 Timeout exceeded, closing connection";
    TOO_MANY_CONNECTIONS = 421 "4.7.0 Too many connections, try again later";
    TOO_MANY_FROM_IP = 421 "4.7.0 Too many connections from your address, try again later";
    TOO_FAST = 421 "4.7.0 Too many connections per minute from your address, try again later";
    TOO_MANY_ERRORS = 421 "4.7.0 Too many errors, closing connection";
    BDAT_LOST = 421 "4.5.0 BDAT size unreadable, closing connection";
    NOT_HTTP = 421 "4.7.0 This is an SMTP server, not HTTP; closing connection";
    LOCAL_ERROR = 451 "4.3.0 Local error in processing, try again later";
    NO_SPACE = 452 "4.3.1 Insufficient system storage, try again later";
    TOO_MANY_RECIPIENTS = 452 "4.5.3 Too many recipients";

    UNKNOWN_COMMAND = 500 "5.5.2 Command not recognized";
    LINE_TOO_LONG = 500 "5.5.6 Line too long";
    HELO_SYNTAX = 501 "5.5.4 Syntax: HELO hostname";
    EHLO_SYNTAX = 501 "5.5.4 Syntax: EHLO hostname";
    MAIL_SYNTAX = 501 "5.5.4 Syntax: MAIL FROM:<address>";
    RCPT_SYNTAX = 501 "5.5.4 Syntax: RCPT TO:<address>";
    VRFY_SYNTAX = 501 "5.5.4 Syntax: VRFY address";
    BDAT_SYNTAX = 501 "5.5.4 Syntax: BDAT size [LAST]";
    NO_ARGUMENTS = 501 "5.5.4 This command takes no arguments";
    BAD_SENDER = 501 "5.1.7 Bad sender address syntax";
    BAD_RECIPIENT = 501 "5.1.3 Bad recipient address syntax";
    NOT_IMPLEMENTED = 502 "5.5.1 Command not implemented";
    TLS_ACTIVE = 503 "5.5.1 TLS already active";
    TLS_REQUIRED = 530 "5.7.0 Must issue a STARTTLS command first";
    TLS_IN_TRANSACTION = 503 "5.5.1 STARTTLS not allowed during a mail transaction";
    NEED_HELO = 503 "5.5.1 Send HELO or EHLO first";
    NESTED_MAIL = 503 "5.5.1 Sender already given";
    NEED_MAIL = 503 "5.5.1 Need MAIL command";
    NEED_RCPT = 503 "5.5.1 Need RCPT command";
    AFTER_BDAT = 503 "5.5.1 Only BDAT or RSET may follow BDAT";
    RELAY_DENIED = 550 "5.7.1 Relaying denied";
    UNKNOWN_USER = 550 "5.1.1 No such mailbox here";
    TOO_BIG = 552 "5.3.4 Message size exceeds fixed limit";
    BAD_MAILBOX_NAME = 553 "5.1.3 Mailbox name not allowed";
    NEEDS_SMTPUTF8 = 553 "5.6.7 Non-ASCII address needs the SMTPUTF8 parameter";
    BAD_PARAMETER = 555 "5.5.4 Unsupported or malformed parameter";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_reply_uses_dash_on_all_but_last() {
        let r = Reply::lines(250, &["a", "b", "c"]);
        assert_eq!(r.as_bytes(), b"250-a\r\n250-b\r\n250 c\r\n");
    }

    #[test]
    fn closing_is_derived_from_the_code() {
        assert!(BYE.closes());
        assert!(TIMEOUT.closes());
        assert!(!OK.closes());
        assert!(!LOCAL_ERROR.closes());
    }

    #[test]
    fn every_constant_starts_with_its_code_and_ends_with_crlf() {
        for r in ALL {
            let text = std::str::from_utf8(r.as_bytes()).unwrap();
            assert!(text.starts_with(&format!("{} ", r.code())), "{text}");
            assert!(text.ends_with("\r\n"), "{text}");
            assert_eq!(text.matches("\r\n").count(), 1, "{text}");
            // Enhanced status code class matches the reply class (RFC 3463).
            if r.code() >= 400 {
                let class = text.as_bytes()[4];
                assert_eq!(class, text.as_bytes()[0], "{text}");
            }
        }
    }
}
