//! The manual page, tinymx(8), in man(7) roff. The options and the
//! subcommands' options come from the texts `--help` prints
//! (`cli::OPTIONS`, `tool::SHOW_USAGE`, `tool::EXTRACT_USAGE`), so the
//! page and `--help` cannot drift; the prose sections (DESCRIPTION, FILES,
//! SIGNALS, EXIT STATUS, ENVIRONMENT, EXAMPLES) are written once, here.
//!
//! The binary never calls this module (link-time optimisation drops it:
//! the page costs the shipped binary no byte). `make man` runs the example
//! `man` (contrib/man.rs), which prints `page()` into `contrib/tinymx.8`; `tests/man.rs`
//! checks that the committed file is `page()`, that its options read as
//! the binary's `--help`, and that `mandoc -Tlint` and `man` accept it.

use crate::cli::{self, OPTIONS};
use crate::tool;

/// The date in the page's title line: the last change of its text (a
/// fixed string, so that the page does not depend on when it was made).
pub const DATE: &str = "2026-12-02";

/// Text as roff: `\` as `\e`, every `-` as `\-` (so that options copied
/// from the page are ASCII), and a `\&` before a leading `.` or `'`, which
/// would start a request.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive('\n') {
        if line.starts_with(['.', '\'']) {
            out.push_str("\\&");
        }
        for c in line.chars() {
            match c {
                '\\' => out.push_str("\\e"),
                '-' => out.push_str("\\-"),
                c => out.push(c),
            }
        }
    }
    out
}

/// `--help`-style option tag: names in bold, the value in italics.
fn tag(names: &str, value: Option<&str>) -> String {
    let mut s = String::new();
    for (i, name) in names.split(", ").enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&format!("\\fB{}\\fR", escape(name)));
    }
    if let Some(v) = value {
        s.push_str(&format!(" \\fI{}\\fR", escape(v)));
    }
    s
}

/// An option's description: the lines of its help block after the tag,
/// trimmed, as roff text lines (roff fills them).
fn body(first_rest: &str, more: &[&str]) -> String {
    let mut s = String::new();
    for line in std::iter::once(first_rest).chain(more.iter().copied()) {
        let line = line.trim();
        if !line.is_empty() {
            s.push_str(&escape(line));
            s.push('\n');
        }
    }
    s
}

/// One entry of `cli::OPTIONS` as a `.TP` paragraph.
fn server_option(o: &cli::Opt) -> String {
    let mut lines = o.help.lines();
    let first = lines.next().unwrap_or("").trim_start();
    let more: Vec<&str> = lines.collect();
    let names_len = match o.short() {
        Some(_) => "-X, --".len() + o.long().len(),
        None => "--".len() + o.long().len(),
    };
    let (names, mut rest) = first.split_at(names_len);
    let mut value = None;
    if o.kind.takes_value() {
        let r = rest.trim_start();
        let end = r.find(' ').unwrap_or(r.len());
        value = Some(&r[..end]);
        rest = &r[end..];
    }
    format!(".TP\n{}\n{}", tag(names, value), body(rest, &more))
}

/// A subcommand's usage text (`tool::SHOW_USAGE`): its description
/// paragraphs, then its options (lines starting `  --`, the tag ending at
/// two spaces, continuation lines indented).
struct Usage<'a> {
    paragraphs: Vec<String>,
    options: Vec<(&'a str, Option<&'a str>, Vec<&'a str>)>,
}

fn parse_usage(text: &str) -> Usage<'_> {
    let mut paragraphs = Vec::new();
    let mut options: Vec<(&str, Option<&str>, Vec<&str>)> = Vec::new();
    let mut para = String::new();
    for line in text
        .lines()
        .skip_while(|l| l.starts_with("Usage:") || l.is_empty())
    {
        if line.starts_with("  --") {
            let opt = &line[2..];
            let (t, rest) = opt.split_once("  ").unwrap_or((opt, ""));
            let (name, value) = match t.split_once(' ') {
                Some((n, v)) => (n, Some(v)),
                None => (t, None),
            };
            options.push((name, value, vec![rest]));
        } else if line.starts_with("   ") && !options.is_empty() {
            options.last_mut().unwrap().2.push(line);
        } else if line.is_empty() {
            if !para.is_empty() {
                paragraphs.push(std::mem::take(&mut para));
            }
        } else {
            para.push_str(line);
            para.push('\n');
        }
    }
    if !para.is_empty() {
        paragraphs.push(para);
    }
    Usage {
        paragraphs,
        options,
    }
}

fn subcommand(synopsis: &str, usage: &str) -> String {
    let u = parse_usage(usage);
    let mut s = format!(".SS {synopsis}\n");
    for (i, p) in u.paragraphs.iter().enumerate() {
        if i > 0 {
            s.push_str(".PP\n");
        }
        s.push_str(&escape(p));
    }
    for (name, value, lines) in &u.options {
        s.push_str(&format!(
            ".TP\n{}\n{}",
            tag(name, *value),
            body(lines[0], &lines[1..])
        ));
    }
    s
}

/// The description in `--help` (`cli::USAGE_HEAD`, after the usage lines
/// and before "Options:").
fn help_description() -> String {
    let head = cli::USAGE_HEAD;
    let start = head.find("\n\n").map_or(0, |i| i + 2);
    let end = head.find("\n\nOptions:").unwrap_or(head.len());
    format!("{}\n", &head[start..end])
}

/// The page.
pub fn page() -> String {
    let version = env!("CARGO_PKG_VERSION");
    let mut s = String::new();
    s.push_str(
        ".\\\" tinymx(8). Generated by `make man` from src/man.rs and the option\n\
         .\\\" table of src/cli.rs; edit those, not this file.\n",
    );
    s.push_str(&format!(
        ".TH TINYMX 8 {DATE} \"tinymx {version}\" \"System Manager's Manual\"\n"
    ));
    s.push_str(NAME_SYNOPSIS);
    s.push_str(".SH DESCRIPTION\n");
    s.push_str(&escape(&help_description()));
    s.push_str(DESCRIPTION);
    s.push_str(".SH OPTIONS\n");
    s.push_str(OPTIONS_INTRO);
    for o in OPTIONS {
        s.push_str(&server_option(o));
    }
    s.push_str(".SH COMMANDS\n");
    s.push_str(COMMANDS_INTRO);
    s.push_str(&subcommand(
        "tinymx show [\\-\\-header NAME]... [\\-\\-body] [\\-\\-json] FILE",
        tool::SHOW_USAGE,
    ));
    s.push_str(&subcommand("tinymx extract FILE DIR", tool::EXTRACT_USAGE));
    s.push_str(REST);
    s
}

const NAME_SYNOPSIS: &str = r#".SH NAME
tinymx \- receive\-only SMTP server that stores mail in a Maildir spool
.SH SYNOPSIS
.B tinymx
.RI [ options ]
.br
.B tinymx show
.RB [ \-\-header
.IR NAME ]...\&
.RB [ \-\-body ]
.RB [ \-\-json ]
.I FILE
.br
.B tinymx extract
.I FILE DIR
"#;

const DESCRIPTION: &str = r#".PP
Each accepted message is one file in
.IR SPOOL / MAILBOX /new/ ,
written, synced and linked there before tinymx answers 250 (RFC 5321, the
receiving side).
It never relays and never sends mail.
.PP
A mailbox is the local part of a recipient address, lower\-cased and cut
at the first + (Bob+lists is bob): a to z, 0 to 9, dot, underscore and
hyphen, not starting with a dot, 1 to 64 bytes.
Mail for postmaster always goes to the mailbox postmaster.
.BR \-D " and " \-m
restrict the domains and mailboxes accepted;
.B \-c
collects the rest.
A message for several mailboxes is stored once per mailbox, all copies or
none.
.PP
Unless
.B \-\-no\-auth
is given, each sender is checked (SPF, DKIM, DMARC) and the results are
added to every copy as Authentication\-Results and Received\-SPF fields;
clients in
.B \-\-auth\-skip
(loopback by default) are not checked.
.PP
tinymx stays in the foreground and logs one line per event to standard
error, as busybox init, runit, s6, procd and systemd expect;
.B \-b
detaches once it is ready and
.B \-\-syslog
logs to syslog instead.
It starts in this order: bind the listening sockets, detach, open or
create the spool, drop privileges
.RB ( \-u ),
write the pid file.
"#;

const OPTIONS_INTRO: &str = r#"Values may be given as
.BI \- "x V" ,
.BI \- xV ,
.BI \-\- "long V"
or
.BI \-\- long = V\fR.
Switches are one per argument.
The configuration file
.RB ( \-\-config )
takes the same long options without the dashes, one per line.
"#;

const COMMANDS_INTRO: &str = r#"Given as the first argument, these read one message and exit; they do
not start the server.
"#;

const REST: &str = r#".SH FILES
.TP
.I /etc/tinymx.conf
the configuration file of the service files
.RB ( \-\-config ),
one long option and its value per line,
.B #
starts a comment
.TP
.I /var/spool/tinymx
the default spool: one Maildir per mailbox,
.IR MAILBOX /tmp/,
.IR MAILBOX /new/
and
.IR MAILBOX /cur/
(modes 0700), each message a file of mode 0600 named
.IR SECONDS .M MICROS P PID Q SEQ . HOST
.TP
.I /etc/default/tinymx
read by the init script: DAEMON, PIDFILE and TINYMX_ARGS
.TP
.I /var/run/tinymx/tinymx.pid
the init script's pid file
.RB ( \-\-pidfile ),
written once tinymx is ready and removed when it exits
.TP
.I /dev/log
the syslog socket
.RB ( \-\-syslog\-socket )
.TP
.I /etc/resolv.conf
the nameservers and time\-out of the sender checks unless
.B \-\-dns
is given; re\-read when it changes
.SH SIGNALS
.TP
.BR SIGTERM ", " SIGINT
stop: the listening sockets are closed, sessions waiting for a command get
421 4.3.2, a session in DATA has 10 seconds to reach its final dot (a
message finished in time is stored and answered 250); then tinymx exits
with status 0.
.TP
.B SIGHUP
re\-read the
.B \-\-config
file: domains, mailboxes, limits, time\-outs and the log level apply to
sessions that start afterwards.
Options that need a restart (listen addresses, spool, host name, user,
pid file, logging, the
.B \-\-exec
pool, nameservers) keep their old values, with a warning naming them; a
bad file is logged with its line and the old settings stay.
Without
.BR \-\-config ,
SIGHUP is logged and ignored.
.SH EXIT STATUS
.TP
.B 0
stopped by SIGTERM or SIGINT; also after
.BR \-\-help " and " \-\-version .
.TP
.B 1
start\-up failed: a port cannot be bound, the spool cannot be created,
opened, chowned or written as the running user, privileges cannot be
dropped, or the pid file cannot be written.
With
.BR \-b ,
the waiting parent exits 1 (or with the child's status).
.TP
.B 2
a bad option or value, or an unknown
.B \-\-user
user or group; nothing is bound.
The first line on standard error names the option.
.PP
.B tinymx show
and
.B tinymx extract
exit 0 on success, 1 when the file cannot be read or written and 2 for a
bad argument.
.SH ENVIRONMENT
The programs of
.B \-\-exec
and
.B \-\-filter
are started without a shell and without arguments, the message on standard
input, tinymx's own environment passed on, and these variables (their
values come from the sender: quote them in scripts):
.TP
.B TINYMX_FILE
absolute path of the stored file
.RI ( new/ ,
or
.I tmp/
for a filter)
.TP
.B TINYMX_MAILBOX
the mailbox
.TP
.B TINYMX_RECIPIENT
the first RCPT address that mapped to it
.TP
.B TINYMX_SENDER
the envelope sender, empty for <>
.TP
.B TINYMX_CLIENT_IP
the client's address
.TP
.B TINYMX_HELO
the HELO or EHLO name, control characters removed
.TP
.B TINYMX_MESSAGE_ID
the Message\-ID field as written, control characters removed
.TP
.B TINYMX_SUBJECT
the Subject decoded to UTF\-8, without line breaks or other control
characters
.TP
.B TINYMX_DATE
the Date field as seconds since 1970 (UTC); empty when there is none, more
than one, or one that is not RFC 5322 syntax
.TP
.B TINYMX_SIZE
bytes of the stored file, with tinymx's trace fields
.TP
.B TINYMX_SESSION
the session id of the log lines
.TP
.B TINYMX_DNSBL
the DNS list result
.RB ( \-\-dnsbl ", " \-\-dnswl ),
empty when no list is configured:
.BR listed ", " temperror " or " none ,
then
.IB ZONE = CODE
for each zone that lists the client,
.IB ZONE =ignored: ADDR
for an answer that is not a listing,
.IB ZONE =temperror
for no answer, then
.BI score= N
.TP
.B TINYMX_CLIENT_NAME
the client's forward\-confirmed reverse DNS name (iprev pass); empty
otherwise or when not checked
.TP
.B TINYMX_TLS
the TLS protocol and cipher suite the message came over
(TLSv1.3 TLS_AES_128_GCM_SHA256); empty for plain text, and always in a
build without TLS
.TP
.B TINYMX_SPF
the SPF result (pass, fail, softfail, neutral, none, temperror,
permerror); empty when the sender was not checked, as are the six below
.TP
.B TINYMX_SPF_DOMAIN
the domain SPF checked: the sender's, or the HELO name for <>
.TP
.B TINYMX_AUTH
the value of tinymx's Authentication\-Results field, unfolded
.TP
.B TINYMX_DKIM
the best DKIM result (pass, policy, fail, neutral, temperror, permerror),
none when the message has no signature
.TP
.B TINYMX_DKIM_DOMAINS
the d= domains whose signature passed, separated by spaces
.TP
.B TINYMX_DMARC
the DMARC result (pass, fail, none, temperror, permerror)
.TP
.B TINYMX_FROM
the From address, when the message has exactly one From field with one
address
.TP
.B TINYMX_FROM_DOMAIN
its domain, the one DMARC checked
.SH EXAMPLES
A test instance on a local port, the spool in the current directory:
.PP
.RS 4
.EX
tinymx \-l 127.0.0.1:2525 \-d ./spool
.EE
.RE
.PP
Port 25 as root, dropping to the user mail, for one domain, in the
background with a pid file, logging to syslog:
.PP
.RS 4
.EX
tinymx \-l :25 \-d /var/spool/tinymx \-u mail \-D example.org \e
    \-\-config /etc/tinymx.conf \-\-syslog \-b \e
    \-\-pidfile /run/tinymx/tinymx.pid
kill \-HUP "$(cat /run/tinymx/tinymx.pid)"    # re\-read the file
.EE
.RE
.PP
Reading a stored message from a script:
.PP
.RS 4
.EX
tinymx show \-\-header Subject \-\-header From "$TINYMX_FILE"
tinymx show \-\-json "$TINYMX_FILE"
tinymx extract "$TINYMX_FILE" /srv/share/attachments
.EE
.RE
.SH SEE ALSO
.BR maildir (5),
.BR dovecot (1),
.BR start\-stop\-daemon (8),
.BR systemd.service (5),
.BR swaks (1)
.PP
The README, installed as
.IR /usr/share/doc/tinymx/README.md ,
describes every behaviour in detail.
"#;
