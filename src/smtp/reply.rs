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
    pub const fn fixed(code: u16, text: &'static str) -> Reply {
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

pub const BYE: Reply = Reply::fixed(221, "221 2.0.0 Bye\r\n");
pub const OK: Reply = Reply::fixed(250, "250 2.0.0 Ok\r\n");
pub const SENDER_OK: Reply = Reply::fixed(250, "250 2.1.0 Sender ok\r\n");
pub const RECIPIENT_OK: Reply = Reply::fixed(250, "250 2.1.5 Recipient ok\r\n");
pub const VRFY: Reply = Reply::fixed(
    252,
    "252 2.5.0 Cannot VRFY user, but will accept message\r\n",
);
pub const HELP: Reply = Reply::fixed(
    214,
    "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\r\n",
);
pub const START_DATA: Reply = Reply::fixed(354, "354 End data with <CR><LF>.<CR><LF>\r\n");

pub const SHUTTING_DOWN: Reply = Reply::fixed(
    421,
    "421 4.3.2 Service shutting down, closing connection\r\n",
);
pub const TIMEOUT: Reply = Reply::fixed(421, "421 4.4.2 Timeout exceeded, closing connection\r\n");
pub const TOO_MANY_CONNECTIONS: Reply =
    Reply::fixed(421, "421 4.7.0 Too many connections, try again later\r\n");
pub const TOO_MANY_FROM_IP: Reply = Reply::fixed(
    421,
    "421 4.7.0 Too many connections from your address, try again later\r\n",
);
pub const TOO_FAST: Reply = Reply::fixed(
    421,
    "421 4.7.0 Too many connections per minute from your address, try again later\r\n",
);
pub const TOO_MANY_ERRORS: Reply =
    Reply::fixed(421, "421 4.7.0 Too many errors, closing connection\r\n");
pub const NOT_HTTP: Reply = Reply::fixed(
    421,
    "421 4.7.0 This is an SMTP server, not HTTP; closing connection\r\n",
);
pub const LOCAL_ERROR: Reply = Reply::fixed(
    451,
    "451 4.3.0 Local error in processing, try again later\r\n",
);
pub const NO_SPACE: Reply = Reply::fixed(
    452,
    "452 4.3.1 Insufficient system storage, try again later\r\n",
);
pub const TOO_MANY_RECIPIENTS: Reply = Reply::fixed(452, "452 4.5.3 Too many recipients\r\n");

pub const UNKNOWN_COMMAND: Reply = Reply::fixed(500, "500 5.5.2 Command not recognized\r\n");
pub const LINE_TOO_LONG: Reply = Reply::fixed(500, "500 5.5.6 Line too long\r\n");
pub const HELO_SYNTAX: Reply = Reply::fixed(501, "501 5.5.4 Syntax: HELO hostname\r\n");
pub const EHLO_SYNTAX: Reply = Reply::fixed(501, "501 5.5.4 Syntax: EHLO hostname\r\n");
pub const MAIL_SYNTAX: Reply = Reply::fixed(501, "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
pub const RCPT_SYNTAX: Reply = Reply::fixed(501, "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
pub const VRFY_SYNTAX: Reply = Reply::fixed(501, "501 5.5.4 Syntax: VRFY address\r\n");
pub const NO_ARGUMENTS: Reply = Reply::fixed(501, "501 5.5.4 This command takes no arguments\r\n");
pub const BAD_SENDER: Reply = Reply::fixed(501, "501 5.1.7 Bad sender address syntax\r\n");
pub const BAD_RECIPIENT: Reply = Reply::fixed(501, "501 5.1.3 Bad recipient address syntax\r\n");
pub const NOT_IMPLEMENTED: Reply = Reply::fixed(502, "502 5.5.1 Command not implemented\r\n");
pub const NEED_HELO: Reply = Reply::fixed(503, "503 5.5.1 Send HELO or EHLO first\r\n");
pub const NESTED_MAIL: Reply = Reply::fixed(503, "503 5.5.1 Sender already given\r\n");
pub const NEED_MAIL: Reply = Reply::fixed(503, "503 5.5.1 Need MAIL command\r\n");
pub const NEED_RCPT: Reply = Reply::fixed(503, "503 5.5.1 Need RCPT command\r\n");
pub const RELAY_DENIED: Reply = Reply::fixed(550, "550 5.7.1 Relaying denied\r\n");
pub const UNKNOWN_USER: Reply = Reply::fixed(550, "550 5.1.1 No such mailbox here\r\n");
pub const TOO_BIG: Reply = Reply::fixed(552, "552 5.3.4 Message size exceeds fixed limit\r\n");
pub const BAD_MAILBOX_NAME: Reply = Reply::fixed(553, "553 5.1.3 Mailbox name not allowed\r\n");
pub const NEEDS_SMTPUTF8: Reply = Reply::fixed(
    553,
    "553 5.6.7 Non-ASCII address needs the SMTPUTF8 parameter\r\n",
);
pub const BAD_PARAMETER: Reply =
    Reply::fixed(555, "555 5.5.4 Unsupported or malformed parameter\r\n");

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
        for r in [
            BYE,
            OK,
            SENDER_OK,
            RECIPIENT_OK,
            VRFY,
            HELP,
            START_DATA,
            SHUTTING_DOWN,
            TIMEOUT,
            TOO_MANY_CONNECTIONS,
            TOO_MANY_FROM_IP,
            TOO_MANY_ERRORS,
            TOO_FAST,
            NOT_HTTP,
            LOCAL_ERROR,
            NO_SPACE,
            TOO_MANY_RECIPIENTS,
            UNKNOWN_COMMAND,
            LINE_TOO_LONG,
            HELO_SYNTAX,
            EHLO_SYNTAX,
            MAIL_SYNTAX,
            RCPT_SYNTAX,
            VRFY_SYNTAX,
            NO_ARGUMENTS,
            BAD_SENDER,
            BAD_RECIPIENT,
            NOT_IMPLEMENTED,
            NEED_HELO,
            NESTED_MAIL,
            NEED_MAIL,
            NEED_RCPT,
            RELAY_DENIED,
            UNKNOWN_USER,
            TOO_BIG,
            BAD_MAILBOX_NAME,
            NEEDS_SMTPUTF8,
            BAD_PARAMETER,
        ] {
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
