//! The SMTP server dialog as a pure state machine (RFC 5321 §3, §4).
//!
//! No sockets, files or clocks here. The connection driver feeds input
//! bytes to `advance` and acts on each `Output`: send a reply, read more,
//! open/write/commit/drop the message. Delivery results come back through
//! `message_started`, `message_failed` and `message_done`; time-outs and
//! shutdown through `abort`. Every reply, including the one after DATA,
//! comes out of `advance`, so replies are never sent in the middle of a
//! message (RFC 5321 §4.2.5) and pipelined input is answered in order.

use super::address::{self, Address, Path};
use super::command::{self, Command, MAX_ADDRESS_LINE, Verb};
use super::data::{ChunkDecoder, DotDecoder};
use super::reply::{self, Reply};
use crate::config::Config;

/// One accepted recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The address as the client sent it, without angle brackets.
    pub address: String,
    /// The mailbox it is delivered to.
    pub mailbox: String,
}

/// The envelope of the message being received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path without brackets; empty for `<>`.
    pub sender: String,
    /// MAIL FROM carried SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    pub recipients: Vec<Recipient>,
}

impl Envelope {
    /// The distinct mailboxes, each with the first recipient that mapped to
    /// it, in order: one copy per mailbox.
    pub fn deliveries(&self) -> Vec<&Recipient> {
        let mut seen: Vec<&Recipient> = Vec::new();
        for r in &self.recipients {
            if !seen.iter().any(|s| s.mailbox == r.mailbox) {
                seen.push(r);
            }
        }
        seen
    }
}

/// Why local storage failed; both are temporary (the sender retries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TempFailure {
    /// 451 4.3.0
    Local,
    /// 452 4.3.1: disk full or quota.
    NoSpace,
}

impl TempFailure {
    pub fn reply(self) -> Reply {
        match self {
            TempFailure::Local => reply::LOCAL_ERROR,
            TempFailure::NoSpace => reply::NO_SPACE,
        }
    }
}

/// Why the driver ends a session early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abort {
    Timeout,
    Shutdown,
}

/// What the driver must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Output<'s> {
    /// All input was used; read more (flush queued replies first).
    NeedInput,
    /// Send this reply. If `closes()`, send it and close.
    Reply(Reply),
    /// MAIL was valid: check that the spool has room (and, with sender
    /// checks on, the sender's SPF), then call `storage_checked`, or
    /// `sender_refused` to refuse this sender.
    CheckStorage,
    /// DATA was accepted: prepare storage for `envelope()`, then call
    /// `message_started`.
    StartMessage,
    /// Message content, already unstuffed and with LF line endings (from
    /// DATA or BDAT alike).
    Body(&'s [u8]),
    /// The final dot arrived: make the message durable, then call
    /// `message_done`.
    EndMessage,
    /// Throw away what was written for this message (it is too large);
    /// the refusal comes after the final dot (or the LAST chunk).
    DropMessage,
    /// RSET, HELO, EHLO or QUIT between BDAT chunks ended the transaction: drop
    /// the message (nothing is stored or replied for it); the command's
    /// reply comes next.
    AbandonMessage,
    /// STARTTLS was accepted and its 220 is the last reply out: send the
    /// queued replies, then do the TLS handshake on the connection and call
    /// `tls_started`, or end the session if it fails. Whatever the client
    /// sent after the STARTTLS line was taken by this `advance` and thrown
    /// away unread (CVE-2011-0411: plain-text commands pipelined after
    /// STARTTLS must never be answered as if they came over TLS).
    StartTls,
}

/// Where the dialog is. Only `Session::enter` changes it; each change is
/// recorded as a `Transition` for the driver's verbose log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The 220 greeting has not been sent.
    Greeting,
    /// Reading command lines.
    Command,
    /// CheckStorage was returned for MAIL; waiting for `storage_checked`.
    AwaitStorage,
    /// StartMessage was returned; waiting for `message_started`.
    AwaitStart,
    /// Reading message content.
    Data,
    /// Reading the octets of a BDAT chunk (RFC 3030), as content or, for
    /// a refused BDAT, to discard them.
    Chunk,
    /// The final dot was read and content handed out; EndMessage (or the
    /// sticky error's reply) is next.
    Ended,
    /// EndMessage was returned; waiting for `message_done`.
    AwaitEnd,
    /// STARTTLS got its 220; waiting for `tls_started` (the handshake).
    AwaitTls,
    /// QUIT, a 421 or an abort: nothing more is read; `advance` repeats
    /// the closing reply (a driver must close, not read on).
    Closed,
}

/// One state change, `from -> to`, for the driver to log
/// (`Session::take_transitions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
}

/// Transitions kept until the driver takes them; a driver that never
/// does (tests, the fuzz target) keeps only the latest ones.
const KEPT_TRANSITIONS: usize = 8;

/// How far the mail transaction has got (RFC 5321 §4.1.4), read off what
/// the session holds in `State::Command`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No HELO/EHLO yet.
    Connected,
    /// HELO/EHLO done, no transaction.
    Greeted,
    /// MAIL accepted, no recipient yet.
    Sender,
    /// At least one recipient accepted.
    Recipients,
    /// BDAT chunks received, LAST not yet (RFC 3030).
    Chunks,
}

/// RFC 5321 §4.1.4, one rule a row: may this command come now? `Some` is
/// the 503 for a command out of sequence, sent whatever its arguments
/// (so this is checked before the syntax). The match has no catch-all:
/// a new verb must get its row.
fn out_of_order(verb: Verb, phase: Phase) -> Option<Reply> {
    use Phase::*;
    match (verb, phase) {
        // "A session that will contain mail transactions MUST first be
        // initialized by the use of the EHLO command" (HELO accepted too).
        (Verb::Mail | Verb::Rcpt | Verb::Data | Verb::Bdat, Connected) => Some(reply::NEED_HELO),
        // MAIL "MUST NOT be sent if a mail transaction is already open".
        (Verb::Mail, Sender | Recipients | Chunks) => Some(reply::NESTED_MAIL),
        (Verb::Mail, Greeted) => None,
        // RCPT only after MAIL, and not once the content has begun.
        (Verb::Rcpt, Greeted) => Some(reply::NEED_MAIL),
        (Verb::Rcpt, Sender | Recipients) => None,
        (Verb::Rcpt, Chunks) => Some(reply::AFTER_BDAT),
        // DATA and BDAT only after MAIL and at least one accepted RCPT;
        // RFC 3030 §2: no DATA in a transaction that used BDAT.
        (Verb::Data | Verb::Bdat, Greeted) => Some(reply::NEED_MAIL),
        (Verb::Data | Verb::Bdat, Sender) => Some(reply::NEED_RCPT),
        (Verb::Data | Verb::Bdat, Recipients) => None,
        (Verb::Data, Chunks) => Some(reply::AFTER_BDAT),
        (Verb::Bdat, Chunks) => None,
        // RFC 3207 §4.2: the session starts over after the handshake, so
        // STARTTLS comes after EHLO and outside a transaction.
        (Verb::StartTls, Connected) => Some(reply::NEED_HELO),
        (Verb::StartTls, Greeted) => None,
        (Verb::StartTls, Sender | Recipients | Chunks) => Some(reply::TLS_IN_TRANSACTION),
        // EHLO/HELO, RSET, NOOP, QUIT, VRFY and HELP may come at any time.
        (
            Verb::Helo
            | Verb::Ehlo
            | Verb::Rset
            | Verb::Noop
            | Verb::Quit
            | Verb::Vrfy
            | Verb::Help,
            _,
        ) => None,
        // Refused by their own reply (502, 421, 500) in any phase.
        (Verb::NotImplemented | Verb::Http | Verb::Unknown, _) => None,
    }
}

/// What one pass through the Data state decided, before borrowing `out`.
enum DataStep {
    Body(usize),
    Drop,
    End,
    NeedInput,
}

/// What one pass through the Chunk state decided, before borrowing `out`.
enum ChunkStep {
    Body(usize),
    Drop,
    Done,
    NeedInput,
}

pub struct Session<'c> {
    cfg: &'c Config,
    state: State,
    /// The command line being assembled (never longer than MAX_ADDRESS_LINE + 1).
    line: Vec<u8>,
    /// The current line went over the limit; skip to its LF.
    overflow: bool,
    /// `line` holds a finished line (kept for `last_command`); the next
    /// input starts a new one.
    line_complete: bool,
    /// HELO/EHLO name as sent, and whether it was EHLO.
    helo: Option<(Vec<u8>, bool)>,
    envelope: Option<Envelope>,
    decoder: DotDecoder,
    /// BDAT content's line endings, across chunks.
    chunks: ChunkDecoder,
    /// A BDAT transaction is open: the driver holds a message that later
    /// chunks add to (until LAST, RSET, HELO/EHLO or the end).
    chunking: bool,
    /// Octets of the current chunk not read yet, whether it ends with
    /// LAST, and, for a refused BDAT, the reply sent after its octets
    /// were read and thrown away.
    chunk_left: u64,
    chunk_last: bool,
    chunk_discard: Option<Reply>,
    /// Sticky error for the message being received, replied after the dot.
    data_error: Option<Reply>,
    /// Decoded message content, handed out as `Output::Body`.
    /// Allocated by the first message and kept for the next ones until
    /// the driver calls `release_buffers` (an idle session holds none).
    out: Vec<u8>,
    /// A reply decided outside `advance`, sent by the next `advance`.
    pending: Option<Reply>,
    /// Commands refused so far (5xx); at `max_errors` the session ends.
    errors: usize,
    /// Command lines read so far (for logs).
    commands: u64,
    /// The reply that closed the session, repeated if `advance` is called
    /// again (the driver must close, never read on).
    farewell: Reply,
    /// State changes not yet taken by the driver (at most KEPT_TRANSITIONS).
    transitions: Vec<Transition>,
    /// The driver's answer to every RCPT (a DNSBL listing).
    rcpt_refusal: Option<Reply>,
    /// The dialog runs over TLS (after STARTTLS and its handshake).
    tls: bool,
}

impl<'c> Session<'c> {
    pub fn new(cfg: &'c Config) -> Self {
        Session {
            cfg,
            state: State::Greeting,
            line: Vec::new(),
            overflow: false,
            line_complete: false,
            helo: None,
            envelope: None,
            decoder: DotDecoder::new(),
            chunks: ChunkDecoder::new(),
            chunking: false,
            chunk_left: 0,
            chunk_last: false,
            chunk_discard: None,
            data_error: None,
            out: Vec::new(),
            pending: None,
            errors: 0,
            commands: 0,
            farewell: reply::BYE,
            transitions: Vec::new(),
            rcpt_refusal: None,
            tls: false,
        }
    }

    /// The only place the state changes; records the change for the log.
    fn enter(&mut self, to: State) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        if self.transitions.len() == KEPT_TRANSITIONS {
            self.transitions.remove(0);
        }
        self.transitions.push(Transition { from, to });
    }

    /// Ends the session with `r`, the last reply it sends.
    fn close(&mut self, r: Reply) -> Reply {
        self.farewell = r.clone();
        self.chunking = false;
        self.enter(State::Closed);
        r
    }

    /// The state changes since the last call, oldest first.
    pub fn take_transitions(&mut self) -> std::vec::Drain<'_, Transition> {
        self.transitions.drain(..)
    }

    /// How far the transaction has got (meaningful in `State::Command`).
    fn phase(&self) -> Phase {
        match (&self.helo, &self.envelope) {
            (None, _) => Phase::Connected,
            _ if self.chunking => Phase::Chunks,
            (Some(_), None) => Phase::Greeted,
            (Some(_), Some(e)) if e.recipients.is_empty() => Phase::Sender,
            (Some(_), Some(_)) => Phase::Recipients,
        }
    }

    /// Frees the message buffer kept between messages (the driver calls
    /// this when the client has gone quiet between commands).
    pub fn release_buffers(&mut self) {
        if !self.in_message() {
            self.out = Vec::new();
        }
    }

    /// The HELO/EHLO name as sent and whether it was EHLO.
    pub fn helo(&self) -> Option<(&[u8], bool)> {
        self.helo.as_ref().map(|(n, e)| (n.as_slice(), *e))
    }

    pub fn envelope(&self) -> Option<&Envelope> {
        self.envelope.as_ref()
    }

    /// How many command lines have been read (a new one means
    /// `last_command` changed).
    pub fn commands(&self) -> u64 {
        self.commands
    }

    /// The last command line read (for verbose logs).
    pub fn last_command(&self) -> &[u8] {
        &self.line
    }

    /// Size of the current (or last) message as RFC 1870 counts it.
    /// (For BDAT, RFC 3030: the octets of all chunks.)
    pub fn message_bytes(&self) -> u64 {
        self.decoder.wire_bytes() + self.chunks.octets()
    }

    /// True from DATA's (or the first BDAT's) StartMessage until the
    /// reply after the final dot (or the LAST chunk), also between chunks.
    pub fn in_message(&self) -> bool {
        self.chunking
            || matches!(
                self.state,
                State::AwaitStart | State::Data | State::Ended | State::AwaitEnd
            )
    }

    /// Feeds input; returns how many bytes were used and what to do.
    pub fn advance<'s>(&'s mut self, input: &[u8]) -> (usize, Output<'s>) {
        if let Some(r) = self.pending.take() {
            return (0, Output::Reply(r));
        }
        match self.state {
            State::Greeting => {
                self.enter(State::Command);
                (
                    0,
                    Output::Reply(Reply::line(
                        220,
                        &format!("{} ESMTP tinymx", self.cfg.hostname),
                    )),
                )
            }
            State::Command => self.command(input),
            State::Data => self.data(input),
            State::Chunk => self.chunk(input),
            State::Ended => (0, self.end_of_data()),
            // The driver owes us an answer; repeat the request.
            State::AwaitStorage => (0, Output::CheckStorage),
            State::AwaitStart => (0, Output::StartMessage),
            State::AwaitEnd => (0, Output::EndMessage),
            // Every byte that came after the STARTTLS line is dropped.
            State::AwaitTls => (input.len(), Output::StartTls),
            State::Closed => (0, Output::Reply(self.farewell.clone())),
        }
    }

    /// The driver's answer to CheckStorage: is there room for a message?
    pub fn storage_checked(&mut self, room: bool) {
        debug_assert_eq!(self.state, State::AwaitStorage);
        self.enter(State::Command);
        if room {
            self.pending = Some(reply::SENDER_OK);
        } else {
            // RFC 3463 X.3.1: the sender keeps the mail and retries later.
            self.envelope = None;
            self.pending = Some(reply::NO_SPACE);
        }
    }

    /// The driver's other answer to CheckStorage: the sender is refused
    /// with `reply` (an SPF fail under `--spf-reject`); no transaction.
    pub fn sender_refused(&mut self, reply: Reply) {
        debug_assert_eq!(self.state, State::AwaitStorage);
        self.enter(State::Command);
        self.envelope = None;
        self.pending = Some(reply);
    }

    /// Every later RCPT of the session gets `reply` (a DNSBL listing).
    pub fn refuse_recipients(&mut self, reply: Reply) {
        self.rcpt_refusal = Some(reply);
    }

    /// The driver's answer to StartMessage.
    pub fn message_started(&mut self, result: Result<(), TempFailure>) {
        debug_assert_eq!(self.state, State::AwaitStart);
        match result {
            Ok(()) => {
                self.decoder = DotDecoder::new();
                self.chunks = ChunkDecoder::new();
                self.data_error = None;
                if self.chunking {
                    // The first chunk is read now; its 250 comes after it.
                    self.enter(State::Chunk);
                } else {
                    self.enter(State::Data);
                    self.pending = Some(reply::START_DATA);
                }
            }
            Err(f) if self.chunking => {
                // The first chunk's octets are still read, then refused.
                self.chunking = false;
                self.envelope = None;
                self.chunk_discard = Some(f.reply());
                self.enter(State::Chunk);
            }
            Err(f) => {
                self.enter(State::Command);
                self.envelope = None;
                self.pending = Some(f.reply());
            }
        }
    }

    /// Storage failed while content was being written: discard the rest
    /// and refuse after the final dot.
    pub fn message_failed(&mut self, failure: TempFailure) {
        if self.data_error.is_none() {
            self.data_error = Some(failure.reply());
        }
    }

    /// The driver's answer to EndMessage: `Ok(id)` once the message is durable.
    pub fn message_done(&mut self, result: Result<&str, TempFailure>) {
        debug_assert_eq!(self.state, State::AwaitEnd);
        self.enter(State::Command);
        self.envelope = None;
        self.pending = Some(match result {
            Ok(id) => Reply::line(250, &format!("2.0.0 Ok: queued as {id}")),
            Err(f) => f.reply(),
        });
    }

    /// The driver's answer to EndMessage when the message was refused for
    /// good (a `--filter` said no): `reply` is sent, nothing was stored.
    pub fn message_refused(&mut self, reply: Reply) {
        debug_assert_eq!(self.state, State::AwaitEnd);
        self.enter(State::Command);
        self.envelope = None;
        self.pending = Some(reply);
    }

    /// The driver's answer to StartTls: the handshake succeeded. RFC 3207
    /// §4.2: the session starts over, knowing nothing the client said in
    /// plain text (no HELO/EHLO name, no transaction); a second STARTTLS
    /// gets 503.
    pub fn tls_started(&mut self) {
        debug_assert_eq!(self.state, State::AwaitTls);
        self.tls = true;
        self.helo = None;
        self.envelope = None;
        self.line.clear();
        self.overflow = false;
        self.line_complete = false;
        self.enter(State::Command);
    }

    /// The dialog runs over TLS.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// Ends the session now (idle time-out or shutdown); returns the 421 to send.
    pub fn abort(&mut self, why: Abort) -> Reply {
        self.pending = None;
        self.close(match why {
            Abort::Timeout => reply::TIMEOUT,
            Abort::Shutdown => reply::SHUTTING_DOWN,
        })
    }

    // ------------------------------------------------------------ commands

    fn command<'s>(&'s mut self, input: &[u8]) -> (usize, Output<'s>) {
        if self.line_complete {
            self.line.clear();
            self.line_complete = false;
        }
        let Some(lf) = input.iter().position(|&b| b == b'\n') else {
            self.take_partial(input);
            return (input.len(), Output::NeedInput);
        };
        let used = lf + 1;
        self.commands += 1;
        if !self.overflow {
            self.take_partial(&input[..lf]);
        }
        if self.overflow {
            // RFC 5321 §4.5.3.1.4: refuse the line; its tail is not a command.
            self.overflow = false;
            self.line.clear();
            return (used, self.count_errors(Output::Reply(reply::LINE_TOO_LONG)));
        }
        // A bare LF is tolerated as a command line ending (only the end of
        // DATA is strict about CRLF).
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        let line = std::mem::take(&mut self.line);
        let out = self.line_to_output(&line);
        self.line = line;
        self.line_complete = true;
        if self.state == State::Chunk {
            // A BDAT line: its octets follow at once, whatever was decided.
            let (n, out) = self.chunk(&input[used..]);
            return (used + n, out);
        }
        (used, self.count_errors(out))
    }

    /// Counts refused commands; the one that reaches `max_errors` is
    /// followed by 421 and the end of the session (as Postfix's
    /// smtpd_hard_error_limit), so a bot cannot probe forever.
    fn count_errors<'s>(&mut self, out: Output<'s>) -> Output<'s> {
        if let Output::Reply(r) = &out {
            // 221 and 421 are below 500: a closing reply is never counted.
            if r.code() >= 500 {
                self.errors += 1;
                if self.errors >= self.cfg.max_errors {
                    self.pending = Some(self.close(reply::TOO_MANY_ERRORS));
                }
            }
        }
        out
    }

    /// Appends part of a command line, or marks it over-long.
    fn take_partial(&mut self, bytes: &[u8]) {
        if self.overflow {
            return;
        }
        // +1: a CR may still precede the LF.
        if self.line.len() + bytes.len() > MAX_ADDRESS_LINE + 1 {
            self.overflow = true;
            self.line.clear();
        } else {
            self.line.extend_from_slice(bytes);
        }
    }

    /// One command line: parsed once, then its length, its order and its
    /// syntax are checked, in that order, and it is carried out.
    fn line_to_output(&mut self, line: &[u8]) -> Output<'static> {
        let cmd = match command::parse(line) {
            // Not offered: a verb like any other tinymx does not have
            // (502 whatever its arguments and wherever it comes).
            Command::Bare(Verb::StartTls) | Command::Invalid(Verb::StartTls, _)
                if !self.cfg.starttls =>
            {
                Command::Bare(Verb::NotImplemented)
            }
            cmd => cmd,
        };
        let refused = if line.len() > cmd.verb().max_line() {
            Some(reply::LINE_TOO_LONG)
        } else {
            out_of_order(cmd.verb(), self.phase())
        };
        match (refused, &cmd) {
            // A refused BDAT of known size: its octets are read and thrown
            // away, never parsed as commands; the refusal comes after them.
            (Some(r), &Command::Bdat { size, .. } | &Command::BadBdat { size }) => {
                self.discard_chunk(size, r)
            }
            (Some(r), _) => Output::Reply(r),
            (None, _) => self.execute(cmd),
        }
    }

    /// Reads the next `size` octets to discard them, then replies `r`.
    fn discard_chunk(&mut self, size: u64, r: Reply) -> Output<'static> {
        self.chunk_left = size;
        self.chunk_discard = Some(r);
        self.enter(State::Chunk);
        Output::NeedInput
    }

    /// RSET, HELO/EHLO: the transaction ends; a message begun by BDAT is
    /// abandoned first (`r` follows).
    fn reset_transaction(&mut self, r: Reply) -> Output<'static> {
        self.envelope = None;
        if std::mem::take(&mut self.chunking) {
            self.pending = Some(r);
            return Output::AbandonMessage;
        }
        Output::Reply(r)
    }

    /// What each command does (RFC 5321 §4.1.1), once it passed the
    /// order check.
    fn execute(&mut self, cmd: Command) -> Output<'static> {
        let reply = Output::Reply;
        match cmd {
            // The size is unreadable, so is where the chunk ends: 501, 421.
            Command::Invalid(Verb::Bdat, r) => {
                self.pending = Some(self.close(reply::BDAT_LOST));
                reply(r)
            }
            Command::Invalid(_, r) => reply(r),
            Command::Bare(Verb::NotImplemented) => reply(reply::NOT_IMPLEMENTED),
            // RFC 3207 §4: 220, then the handshake (see Output::StartTls).
            Command::Bare(Verb::StartTls) if self.tls => reply(reply::TLS_ACTIVE),
            Command::Bare(Verb::StartTls) => {
                self.enter(State::AwaitTls);
                reply(reply::READY_FOR_TLS)
            }
            Command::Bare(Verb::Http) => reply(self.close(reply::NOT_HTTP)),
            // §4.1.1.1, §4.1.4: HELO/EHLO also reset any transaction.
            Command::Helo { name, extended } => {
                self.helo = Some((name, extended));
                let r = self.helo_reply(extended);
                self.reset_transaction(r)
            }
            // RFC 3207 §4: a server that needs TLS refuses mail without it.
            // (Only a build with TLS can have --require-tls.)
            Command::Mail(_) if cfg!(feature = "tls") && self.cfg.require_tls && !self.tls => {
                reply(reply::TLS_REQUIRED)
            }
            // §4.1.1.2: the 250 waits for the driver's storage check.
            Command::Mail(m) => match self.mail(m) {
                Some(r) => reply(r),
                None => {
                    self.enter(State::AwaitStorage);
                    Output::CheckStorage
                }
            },
            // §4.1.1.3
            Command::Rcpt(a) => reply(self.rcpt(a)),
            // §4.1.1.4: the 354 waits for the driver's tmp files.
            Command::Bare(Verb::Data) => {
                self.enter(State::AwaitStart);
                Output::StartMessage
            }
            // RFC 3030 §2: the chunk follows at once. The first chunk
            // opens the message, like DATA; its 250 comes after its octets.
            Command::Bdat { size, last } => {
                self.chunk_left = size;
                self.chunk_last = last;
                self.chunk_discard = None;
                if self.chunking {
                    self.enter(State::Chunk);
                    Output::NeedInput
                } else {
                    self.chunking = true;
                    self.enter(State::AwaitStart);
                    Output::StartMessage
                }
            }
            Command::BadBdat { size } => self.discard_chunk(size, reply::BDAT_SYNTAX),
            // §4.1.1.5
            Command::Bare(Verb::Rset) => self.reset_transaction(reply::OK),
            // §4.1.1.9, §4.1.1.6, §4.1.1.8
            Command::Bare(Verb::Noop) => reply(reply::OK),
            Command::Bare(Verb::Vrfy) => reply(reply::VRFY),
            Command::Bare(Verb::Help) => reply(reply::HELP),
            // §4.1.1.10
            Command::Bare(Verb::Quit) if self.chunking => {
                // Between BDAT chunks: the message is abandoned, then 221.
                self.pending = Some(self.close(reply::BYE));
                Output::AbandonMessage
            }
            Command::Bare(Verb::Quit) => reply(self.close(reply::BYE)),
            // `parse` gives these their own variant or an Invalid.
            Command::Bare(
                Verb::Helo | Verb::Ehlo | Verb::Mail | Verb::Rcpt | Verb::Bdat | Verb::Unknown,
            ) => reply(reply::UNKNOWN_COMMAND),
        }
    }

    fn helo_reply(&self, extended: bool) -> Reply {
        let host = self.cfg.hostname.as_str();
        if !extended {
            return Reply::line(250, host);
        }
        let size = format!("SIZE {}", self.cfg.max_message_bytes);
        let mut keywords = vec![host, "PIPELINING", &size, "8BITMIME", "CHUNKING"];
        if self.cfg.starttls && !self.tls {
            keywords.push("STARTTLS");
        }
        keywords.extend(["SMTPUTF8", "ENHANCEDSTATUSCODES"]);
        Reply::lines(250, &keywords)
    }

    /// Starts a transaction; `None` means "valid, pending the storage check".
    fn mail(&mut self, m: command::MailFrom) -> Option<Reply> {
        // RFC 1870 §6.2: a declared size over the limit is refused at MAIL.
        if m.size.is_some_and(|s| s > self.cfg.max_message_bytes) {
            return Some(reply::TOO_BIG);
        }
        let sender = match m.path {
            Path::Null => String::new(),
            Path::Mailbox(a) => a.raw,
        };
        self.envelope = Some(Envelope {
            sender,
            smtputf8: m.smtputf8,
            recipients: Vec::new(),
        });
        None
    }

    fn rcpt(&mut self, a: Address) -> Reply {
        let Some(env) = &mut self.envelope else {
            return reply::NEED_MAIL; // unreachable: out_of_order checked
        };
        if let Some(r) = &self.rcpt_refusal {
            return r.clone();
        }
        if a.utf8 && !env.smtputf8 {
            return reply::NEEDS_SMTPUTF8;
        }
        if env.recipients.len() >= self.cfg.max_recipients {
            // RFC 5321 §4.5.3.1.10: 452, the client retries the rest later.
            return reply::TOO_MANY_RECIPIENTS;
        }
        match resolve(self.cfg, &a) {
            Ok(mailbox) => {
                env.recipients.push(Recipient {
                    address: a.raw,
                    mailbox,
                });
                reply::RECIPIENT_OK
            }
            Err(r) => r,
        }
    }

    // ------------------------------------------------------------ data

    fn data<'s>(&'s mut self, input: &[u8]) -> (usize, Output<'s>) {
        let mut used = 0;
        let step = loop {
            if self.out.is_empty() {
                self.out = vec![0u8; self.cfg.io_buffer_bytes.max(2)];
            }
            let r = self.decoder.decode(&input[used..], &mut self.out);
            used += r.consumed;
            let mut dropped = false;
            if self.data_error.is_none() && self.decoder.wire_bytes() > self.cfg.max_message_bytes {
                // Keep reading to the final dot so the dialog stays in step,
                // then refuse once (RFC 1870 §6.3).
                self.data_error = Some(reply::TOO_BIG);
                dropped = true;
            }
            if r.end {
                self.enter(State::Ended);
            }
            if dropped {
                break DataStep::Drop;
            }
            if self.data_error.is_none() && r.produced > 0 {
                break DataStep::Body(r.produced);
            }
            if r.end {
                break DataStep::End;
            }
            if used == input.len() {
                break DataStep::NeedInput;
            }
        };
        match step {
            DataStep::Body(n) => (used, Output::Body(&self.out[..n])),
            DataStep::Drop => (used, Output::DropMessage),
            DataStep::End => (used, self.end_of_data()),
            DataStep::NeedInput => (used, Output::NeedInput),
        }
    }

    // ------------------------------------------------------------ bdat

    /// The octets of a BDAT chunk: content through `chunks` (to the
    /// driver as Body, like DATA's), or thrown away for a refused BDAT.
    /// Then the chunk's reply; after LAST, the same end as DATA's dot.
    fn chunk<'s>(&'s mut self, input: &[u8]) -> (usize, Output<'s>) {
        let mut used = 0;
        let step = loop {
            let avail = (input.len() - used) as u64;
            let take = avail.min(self.chunk_left) as usize;
            if self.chunk_left == 0 {
                break ChunkStep::Done;
            }
            if take == 0 {
                break ChunkStep::NeedInput;
            }
            if self.chunk_discard.is_some() {
                used += take;
                self.chunk_left -= take as u64;
                continue;
            }
            if self.out.is_empty() {
                self.out = vec![0u8; self.cfg.io_buffer_bytes.max(2)];
            }
            let (consumed, produced) = self.chunks.decode(&input[used..used + take], &mut self.out);
            used += consumed;
            self.chunk_left -= consumed as u64;
            if self.data_error.is_none() && self.message_bytes() > self.cfg.max_message_bytes {
                // Read on to the LAST chunk, then refuse (RFC 1870 §6.3).
                self.data_error = Some(reply::TOO_BIG);
                break ChunkStep::Drop;
            }
            if self.data_error.is_none() && produced > 0 {
                break ChunkStep::Body(produced);
            }
        };
        match step {
            ChunkStep::Body(n) => (used, Output::Body(&self.out[..n])),
            ChunkStep::Drop => (used, Output::DropMessage),
            ChunkStep::NeedInput => (used, Output::NeedInput),
            ChunkStep::Done => (used, self.end_of_chunk()),
        }
    }

    fn end_of_chunk(&mut self) -> Output<'static> {
        if let Some(r) = self.chunk_discard.take() {
            self.enter(State::Command);
            return self.count_errors(Output::Reply(r));
        }
        if !self.chunk_last {
            self.enter(State::Command);
            return Output::Reply(reply::CHUNK_OK);
        }
        if self.chunks.finish() && self.data_error.is_none() {
            // A bare CR ended the message; the next call ends it.
            return Output::Body(b"\r");
        }
        self.chunking = false;
        self.end_of_data()
    }

    fn end_of_data(&mut self) -> Output<'static> {
        match self.data_error.take() {
            Some(r) => {
                self.enter(State::Command);
                self.envelope = None;
                Output::Reply(r)
            }
            None => {
                self.enter(State::AwaitEnd);
                Output::EndMessage
            }
        }
    }
}

/// Maps a recipient to a mailbox, or the reply that refuses it.
pub fn resolve(cfg: &Config, a: &Address) -> Result<String, Reply> {
    let postmaster = || Ok("postmaster".to_string());
    let Some(domain) = &a.domain else {
        // Only <postmaster> may come without a domain (RFC 5321 §4.5.1).
        return if a.is_postmaster() {
            postmaster()
        } else {
            Err(reply::BAD_RECIPIENT)
        };
    };
    if !cfg.accepts_domain(domain) {
        // Never a relay, not even for postmaster@elsewhere.
        return Err(reply::RELAY_DENIED);
    }
    let Some(name) = address::mailbox_name(&a.local) else {
        return Err(reply::BAD_MAILBOX_NAME);
    };
    if name == "postmaster" {
        return postmaster();
    }
    if cfg.mailboxes.is_empty() || cfg.mailboxes.contains(&name) {
        return Ok(name);
    }
    match &cfg.catch_all {
        Some(c) => Ok(c.clone()),
        None => Err(reply::UNKNOWN_USER),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config {
            hostname: "mx.test".into(),
            max_message_bytes: 1000,
            max_recipients: 3,
            ..Config::default()
        }
    }

    /// A fake driver: records what a real one would send and store.
    #[derive(Default, Debug)]
    struct Driver {
        replies: Vec<u8>,
        /// Content of the message being received.
        current: Option<Vec<u8>>,
        /// Completed messages: (recipients' mailboxes, content).
        stored: Vec<(Vec<String>, Vec<u8>)>,
        drops: usize,
        abandoned: usize,
        closed: bool,
        fail_start: Option<TempFailure>,
        fail_end: Option<TempFailure>,
        fail_write: Option<TempFailure>,
        disk_low: bool,
        /// Refuse every sender with this (as `--spf-reject` does a fail).
        refuse_sender: Option<Reply>,
        /// Handshakes done (each StartTls is answered by `tls_started`).
        tls_starts: usize,
    }

    impl Driver {
        fn feed(&mut self, s: &mut Session, input: &[u8]) {
            let mut pos = 0;
            loop {
                if self.closed {
                    return;
                }
                let (n, out) = s.advance(&input[pos..]);
                pos += n;
                match out {
                    Output::NeedInput => {
                        assert_eq!(pos, input.len());
                        return;
                    }
                    Output::Reply(r) => {
                        self.replies.extend_from_slice(r.as_bytes());
                        self.closed = r.closes();
                    }
                    Output::CheckStorage => match &self.refuse_sender {
                        Some(r) => s.sender_refused(r.clone()),
                        None => s.storage_checked(!self.disk_low),
                    },
                    Output::StartMessage => match self.fail_start {
                        Some(f) => s.message_started(Err(f)),
                        None => {
                            self.current = Some(Vec::new());
                            s.message_started(Ok(()));
                        }
                    },
                    Output::Body(b) => {
                        let b = b.to_vec();
                        match self.fail_write {
                            Some(f) => {
                                self.current = None;
                                s.message_failed(f);
                            }
                            None => self
                                .current
                                .as_mut()
                                .expect("body without start")
                                .extend_from_slice(&b),
                        }
                    }
                    Output::DropMessage => {
                        self.current = None;
                        self.drops += 1;
                    }
                    Output::AbandonMessage => {
                        // (None if it was dropped already, for its size.)
                        self.current = None;
                        self.abandoned += 1;
                    }
                    Output::StartTls => {
                        // The session took the rest of this input.
                        assert_eq!(pos, input.len());
                        self.tls_starts += 1;
                        s.tls_started();
                    }
                    Output::EndMessage => match self.fail_end {
                        Some(f) => s.message_done(Err(f)),
                        None => {
                            let env = s.envelope().unwrap();
                            let boxes =
                                env.deliveries().iter().map(|r| r.mailbox.clone()).collect();
                            self.stored.push((boxes, self.current.take().unwrap()));
                            s.message_done(Ok("ID1"));
                        }
                    },
                }
            }
        }

        fn text(&self) -> String {
            String::from_utf8_lossy(&self.replies).into_owned()
        }
    }

    /// Runs the whole input in one piece and in pieces of every size
    /// from 1 to 7, and checks all runs agree; returns the whole-piece run.
    fn dialog_with(cfg: &Config, input: &[u8]) -> Driver {
        let run = |step: usize| {
            let mut s = Session::new(cfg);
            let mut d = Driver::default();
            d.feed(&mut s, b"");
            for chunk in input.chunks(step.max(1)) {
                d.feed(&mut s, chunk);
            }
            d
        };
        let whole = run(input.len());
        for step in 1..=7 {
            let d = run(step);
            assert_eq!(d.text(), whole.text(), "split every {step} bytes");
            assert_eq!(d.stored, whole.stored, "split every {step} bytes");
        }
        whole
    }

    fn dialog(input: &str) -> Driver {
        dialog_with(&cfg(), input.as_bytes())
    }

    const GREETING: &str = "220 mx.test ESMTP tinymx\r\n";
    const EHLO: &str = "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250-CHUNKING\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n";

    fn expect(input: &str, replies: &[&str]) -> Driver {
        let d = dialog(input);
        assert_eq!(d.text(), replies.concat(), "dialog {input:?}");
        d
    }

    #[test]
    fn the_message_buffer_is_kept_between_messages_until_released() {
        let cfg = cfg();
        let mut s = Session::new(&cfg);
        let mut d = Driver::default();
        d.feed(&mut s, b"");
        assert_eq!(s.out.capacity(), 0, "no buffer before a message");
        let txn = b"MAIL FROM:<a@b.org>\r\nRCPT TO:<bob@x.org>\r\nDATA\r\nhi\r\n.\r\n";
        d.feed(&mut s, b"EHLO c\r\n");
        d.feed(&mut s, txn);
        let kept = s.out.capacity();
        assert_eq!(
            kept, cfg.io_buffer_bytes,
            "one buffer of the configured size"
        );
        d.feed(&mut s, txn);
        assert_eq!(s.out.capacity(), kept, "reused by the next message");
        assert_eq!(d.stored.len(), 2);
        // Mid-message the buffer stays whatever the driver asks.
        d.feed(
            &mut s,
            b"MAIL FROM:<a@b.org>\r\nRCPT TO:<bob@x.org>\r\nDATA\r\npart",
        );
        s.release_buffers();
        assert_eq!(s.out.capacity(), kept);
        d.feed(&mut s, b"\r\n.\r\n");
        s.release_buffers();
        assert_eq!(s.out.capacity(), 0, "released once the session is idle");
        assert_eq!(d.stored[2].1, b"part\n".to_vec());
        // And allocated again on demand.
        d.feed(&mut s, txn);
        assert_eq!(d.stored.len(), 4);
        assert!(d.text().ends_with("250 2.0.0 Ok: queued as ID1\r\n"));
    }

    #[test]
    fn a_whole_transaction_stores_the_message() {
        // The replies: tests/dialogs/whole-transaction.dialog.
        let d = dialog(
            "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@x.org>\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n",
        );
        assert!(
            d.text()
                .ends_with("250 2.0.0 Ok: queued as ID1\r\n221 2.0.0 Bye\r\n")
        );
        assert_eq!(
            d.stored,
            vec![(vec!["bob".to_string()], b"Subject: hi\n\nbody\n".to_vec())]
        );
        assert!(d.closed);
    }

    #[test]
    fn pipelined_group_is_answered_in_order() {
        // RFC 2920: all commands in one write, DATA last; then the content.
        // The replies: tests/dialogs/pipelined-group.dialog.
        let d = dialog(
            "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<x@x.org>\r\nRCPT TO:<../x@x.org>\r\nRCPT TO:<y@x.org>\r\nDATA\r\nhi\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<z@x.org>\r\nDATA\r\n..dot\r\n.\r\nQUIT\r\n",
        );
        assert_eq!(
            d.stored,
            vec![
                (vec!["x".to_string(), "y".to_string()], b"hi\n".to_vec()),
                (vec!["z".to_string()], b".dot\n".to_vec()),
            ]
        );
    }

    #[test]
    fn resolve_maps_names_and_catch_all() {
        let mut cfg = Config {
            mailboxes: vec!["alice".into()],
            ..cfg()
        };
        let a = |s: &str| match command::parse(format!("RCPT TO:<{s}>").as_bytes()) {
            Command::Rcpt(a) => a,
            other => panic!("{other:?}"),
        };
        assert_eq!(resolve(&cfg, &a("Alice+x@any.org")), Ok("alice".into()));
        assert_eq!(resolve(&cfg, &a("zed@any.org")), Err(reply::UNKNOWN_USER));
        assert_eq!(
            resolve(&cfg, &a("postmaster@any.org")),
            Ok("postmaster".into())
        );
        assert_eq!(
            resolve(&cfg, &a("postmaster+x@any.org")),
            Ok("postmaster".into())
        );
        cfg.catch_all = Some("misc".into());
        assert_eq!(resolve(&cfg, &a("zed@any.org")), Ok("misc".into()));
        assert_eq!(
            resolve(&cfg, &a("postmaster@any.org")),
            Ok("postmaster".into())
        );
        // A name that is not allowed is refused even with a catch-all.
        assert_eq!(
            resolve(&cfg, &a("../zed@any.org")),
            Err(reply::BAD_MAILBOX_NAME)
        );
        // No allow-list: any valid name.
        let open = Config {
            ..Config::default()
        };
        assert_eq!(resolve(&open, &a("zed@any.org")), Ok("zed".into()));
    }

    #[test]
    fn same_mailbox_twice_is_stored_once() {
        let d = dialog(
            "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<a+1@x.org>\r\nRCPT TO:<A+2@x.org>\r\nRCPT TO:<b@x.org>\r\nDATA\r\nx\r\n.\r\n",
        );
        assert_eq!(
            d.stored,
            vec![(vec!["a".to_string(), "b".to_string()], b"x\n".to_vec())]
        );
    }

    #[test]
    fn smtputf8_addresses_need_the_parameter() {
        expect(
            "EHLO c\r\nMAIL FROM:<jösé@b.org>\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<björn@x.org>\r\nRSET\r\nMAIL FROM:<jösé@b.org> SMTPUTF8\r\nRCPT TO:<björn@x.org>\r\nRCPT TO:<bob@exämple.org>\r\n",
            &[
                GREETING,
                EHLO,
                "553 5.6.7 Non-ASCII address needs the SMTPUTF8 parameter\r\n",
                "250 2.1.0 Sender ok\r\n",
                "553 5.6.7 Non-ASCII address needs the SMTPUTF8 parameter\r\n",
                "250 2.0.0 Ok\r\n",
                "250 2.1.0 Sender ok\r\n",
                "553 5.1.3 Mailbox name not allowed\r\n",
                "250 2.1.5 Recipient ok\r\n",
            ],
        );
    }

    const TXN: &str = "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@x.org>\r\nDATA\r\n";
    const TXN_REPLIES: [&str; 5] = [
        GREETING,
        EHLO,
        "250 2.1.0 Sender ok\r\n",
        "250 2.1.5 Recipient ok\r\n",
        "354 End data with <CR><LF>.<CR><LF>\r\n",
    ];

    fn message(body: &[u8]) -> Driver {
        dialog_with(
            &Config {
                max_message_bytes: 100_000,
                ..cfg()
            },
            &[TXN.as_bytes(), body].concat(),
        )
    }

    #[test]
    fn dot_stuffing_is_undone_across_reads() {
        let d = message(b"..one\r\n..\r\n.two\r\n.\r\n");
        assert_eq!(d.stored[0].1, b".one\n.\ntwo\n");
    }

    #[test]
    fn only_crlf_dot_crlf_ends_the_message() {
        for variant in [
            &b"\n.\n"[..],
            b"\r.\r",
            b"\n.\r\n",
            b"\r\n.\n",
            b"\r.\r\n",
            b"\r\n.\r",
        ] {
            let body = [
                b"a",
                variant,
                b"MAIL FROM:<x@y.org>\r\nRCPT TO:<bob@x.org>\r\nDATA\r\nsmuggled\r\n.\r\n",
            ]
            .concat();
            let d = message(&body);
            assert_eq!(d.stored.len(), 1, "variant {variant:?}");
            assert!(
                d.stored[0].1.ends_with(b"DATA\nsmuggled\n"),
                "variant {variant:?}"
            );
            assert!(d.text().ends_with(
                "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as ID1\r\n"
            ));
            assert_eq!(d.text().matches("354").count(), 1, "variant {variant:?}");
        }
    }

    #[test]
    fn empty_message_is_stored_empty() {
        let d = message(b".\r\n");
        assert_eq!(d.stored[0].1, b"");
    }

    #[test]
    fn oversized_message_is_read_to_the_end_then_refused() {
        let cfg = cfg(); // 1000 bytes
        let body = [&vec![b'x'; 2000][..], b"\r\n.\r\nNOOP\r\n"].concat();
        let d = dialog_with(&cfg, &[TXN.as_bytes(), &body].concat());
        let want = [
            &TXN_REPLIES[..],
            &[
                "552 5.3.4 Message size exceeds fixed limit\r\n",
                "250 2.0.0 Ok\r\n",
            ],
        ]
        .concat();
        assert_eq!(d.text(), want.concat());
        assert!(d.stored.is_empty());
        assert_eq!(d.drops, 1);
    }

    #[test]
    fn size_limit_is_exact() {
        // 998 x + CRLF = 1000 bytes: exactly the limit.
        let body = [&vec![b'x'; 998][..], b"\r\n.\r\n"].concat();
        let d = dialog_with(&cfg(), &[TXN.as_bytes(), &body].concat());
        assert_eq!(d.stored.len(), 1);
        let body = [&vec![b'x'; 999][..], b"\r\n.\r\n"].concat();
        let d = dialog_with(&cfg(), &[TXN.as_bytes(), &body].concat());
        assert_eq!(d.stored.len(), 0);
    }

    #[test]
    fn the_session_goes_on_after_an_oversized_message() {
        let big = [TXN.as_bytes(), &vec![b'y'; 5000], b"\r\n.\r\n"].concat();
        let small = b"MAIL FROM:<a@b.org>\r\nRCPT TO:<bob@x.org>\r\nDATA\r\nsmall\r\n.\r\n";
        let d = dialog_with(&cfg(), &[&big[..], small].concat());
        assert_eq!(
            d.stored,
            vec![(vec!["bob".to_string()], b"small\n".to_vec())]
        );
    }

    /// A session that has been fed `TXN` through driver `d` (the config is
    /// leaked so the session may outlive this call; tests only).
    fn after_txn(mut d: Driver) -> (Session<'static>, Driver) {
        let mut s = Session::new(Box::leak(Box::new(cfg())));
        d.feed(&mut s, TXN.as_bytes());
        (s, d)
    }

    /// The first `n` replies to `TXN`, then `more`.
    fn txn_replies(n: usize, more: &[&str]) -> String {
        [&TXN_REPLIES[..n], more].concat().concat()
    }

    #[test]
    fn storage_failure_at_start_refuses_data() {
        let (mut s, mut d) = after_txn(Driver {
            fail_start: Some(TempFailure::NoSpace),
            ..Driver::default()
        });
        d.feed(&mut s, b"RCPT TO:<bob@x.org>\r\n");
        assert_eq!(
            d.text(),
            txn_replies(
                4,
                &[
                    "452 4.3.1 Insufficient system storage, try again later\r\n",
                    "503 5.5.1 Need MAIL command\r\n"
                ]
            )
        );
    }

    #[test]
    fn storage_failure_while_writing_is_replied_after_the_dot() {
        let (mut s, mut d) = after_txn(Driver {
            fail_write: Some(TempFailure::Local),
            ..Driver::default()
        });
        d.feed(&mut s, b"line one\r\nline two\r\n");
        assert_eq!(d.text(), TXN_REPLIES.concat());
        d.feed(&mut s, b".\r\nNOOP\r\n");
        assert_eq!(
            d.text(),
            txn_replies(
                TXN_REPLIES.len(),
                &[
                    "451 4.3.0 Local error in processing, try again later\r\n",
                    "250 2.0.0 Ok\r\n"
                ]
            )
        );
        assert!(d.stored.is_empty());
    }

    #[test]
    fn storage_failure_at_commit_is_temporary() {
        let (mut s, mut d) = after_txn(Driver {
            fail_end: Some(TempFailure::Local),
            ..Driver::default()
        });
        d.feed(&mut s, b"x\r\n.\r\n");
        assert!(d.text().ends_with("354 End data with <CR><LF>.<CR><LF>\r\n451 4.3.0 Local error in processing, try again later\r\n"));
    }

    #[test]
    fn over_long_command_line_is_refused_and_skipped() {
        let long = "NOOP ".to_string() + &"x".repeat(600) + "\r\n";
        let very_long =
            "MAIL FROM:<a@b.org> ".to_string() + &"RCPT TO:<evil@x.org> ".repeat(200) + "\r\n";
        let d = dialog(&format!("{long}{very_long}EHLO c\r\n"));
        assert_eq!(
            d.text(),
            [
                GREETING,
                "500 5.5.6 Line too long\r\n",
                "500 5.5.6 Line too long\r\n",
                EHLO
            ]
            .concat()
        );
    }

    #[test]
    fn line_limits_are_exact() {
        let noop = |n: usize| format!("NOOP {}\r\n", "x".repeat(n - 7));
        assert_eq!(noop(512).len(), 512);
        let d = dialog(&(noop(512) + &noop(513)));
        assert_eq!(
            d.text(),
            [GREETING, "250 2.0.0 Ok\r\n", "500 5.5.6 Line too long\r\n"].concat()
        );
        // MAIL may use 2048 bytes with its CRLF.
        let mail = |n: usize| format!("MAIL FROM:<a@b.org>{}\r\n", " ".repeat(n - 21));
        assert_eq!(mail(2048).len(), 2048);
        let d = dialog(&format!("EHLO c\r\n{}RSET\r\n{}", mail(2048), mail(2049)));
        assert_eq!(
            d.text(),
            [
                GREETING,
                EHLO,
                "250 2.1.0 Sender ok\r\n",
                "250 2.0.0 Ok\r\n",
                "500 5.5.6 Line too long\r\n"
            ]
            .concat()
        );
    }

    #[test]
    fn bare_lf_ends_a_command_line() {
        expect("EHLO c\nNOOP\n", &[GREETING, EHLO, "250 2.0.0 Ok\r\n"]);
    }

    #[test]
    fn binary_content_passes_unchanged() {
        let body: Vec<u8> = (0..=255u8)
            .cycle()
            .take(10_000)
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect();
        let d = message(&[&body[..], b"\r\n.\r\n"].concat());
        assert_eq!(d.stored[0].1, [&body[..], b"\n"].concat());
    }

    #[test]
    fn abort_gives_421_and_closes() {
        let c = cfg();
        let mut s = Session::new(&c);
        let mut d = Driver::default();
        d.feed(&mut s, TXN.as_bytes());
        assert!(s.in_message());
        let r = s.abort(Abort::Shutdown);
        assert_eq!(
            r.as_bytes(),
            b"421 4.3.2 Service shutting down, closing connection\r\n"
        );
        assert!(r.closes());
        assert_eq!(
            s.abort(Abort::Timeout).as_bytes(),
            b"421 4.4.2 Timeout exceeded, closing connection\r\n"
        );
    }

    #[test]
    fn low_disk_space_defers_mail_from() {
        let c = cfg();
        let mut s = Session::new(&c);
        let mut d = Driver {
            disk_low: true,
            ..Driver::default()
        };
        d.feed(
            &mut s,
            b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<b@x.org>\r\n",
        );
        assert_eq!(
            d.text(),
            [
                GREETING,
                EHLO,
                "452 4.3.1 Insufficient system storage, try again later\r\n",
                "503 5.5.1 Need MAIL command\r\n"
            ]
            .concat()
        );
    }

    #[test]
    fn a_refused_sender_opens_no_transaction() {
        let c = cfg();
        let mut s = Session::new(&c);
        let mut d = Driver {
            refuse_sender: Some(Reply::line(550, "5.7.23 SPF fail: no")),
            ..Driver::default()
        };
        d.feed(
            &mut s,
            b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<b@x.org>\r\nDATA\r\n",
        );
        assert_eq!(
            d.text(),
            [
                GREETING,
                EHLO,
                "550 5.7.23 SPF fail: no\r\n",
                "503 5.5.1 Need MAIL command\r\n",
                "503 5.5.1 Need MAIL command\r\n"
            ]
            .concat()
        );
        assert!(s.envelope().is_none());
    }

    #[test]
    fn ten_refused_commands_close_the_session() {
        let d = dialog(
            "EHLO c\r\nFOO\r\nBAR\r\nMAIL FROM:<>\r\nRCPT TO:<../x@x.org>\r\nRCPT TO:<a@x.org>\r\nRCPT TO:<../x@x.org>\r\nNOOP\r\nA\r\nB\r\nC\r\nD\r\nE\r\nF\r\nG\r\nNOOP\r\n",
        );
        let t = d.text();
        assert_eq!(t.matches("500 5.5.2").count(), 8, "{t}");
        assert_eq!(t.matches("553 5.1.3").count(), 2, "{t}");
        assert!(t.ends_with("500 5.5.2 Command not recognized\r\n421 4.7.0 Too many errors, closing connection\r\n"), "{t}");
        assert!(d.closed);
    }

    #[test]
    fn a_452_for_too_many_recipients_is_not_an_error() {
        let cfg = Config {
            max_recipients: 1,
            ..cfg()
        };
        let many = "RCPT TO:<b@x.org>\r\n".repeat(20);
        let d = dialog_with(
            &cfg,
            format!("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@x.org>\r\n{many}NOOP\r\n").as_bytes(),
        );
        assert!(
            d.text()
                .ends_with("452 4.5.3 Too many recipients\r\n250 2.0.0 Ok\r\n")
        );
    }

    /// xorshift64*: a tiny seeded generator, so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// An input stream built from SMTP-shaped fragments and raw bytes.
    fn random_stream(rng: &mut Rng) -> Vec<u8> {
        const FRAGMENTS: &[&[u8]] = &[
            b"EHLO c\r\n",
            b"HELO x.org\r\n",
            b"MAIL FROM:<a@b.org>\r\n",
            b"MAIL FROM:<> SIZE=10\r\n",
            b"MAIL FROM:<a@b.org> SIZE=100000\r\n",
            b"RCPT TO:<bob@x.org>\r\n",
            b"RCPT TO:<b+x@x.org>\r\n",
            b"RCPT TO:<../x@x.org>\r\n",
            b"RCPT TO:<postmaster>\r\n",
            b"DATA\r\n",
            b"RSET\r\n",
            b"NOOP\r\n",
            b"VRFY x\r\n",
            b"HELP\r\n",
            b"BDAT 1\r\n",
            b"BDAT 3\r\nabc",
            b"BDAT 2\r\n\r\n",
            b"BDAT 1\r\n\r",
            b"BDAT 0 LAST\r\n",
            b"BDAT 4 LAST\r\n.\r\n\n",
            b"BDAT 20\r\n",
            b"BDAT x\r\n",
            b"BDAT 2 FOO\r\nQU",
            b"\r\n",
            b"\n",
            b"\r",
            b".",
            b"..",
            b".\r\n",
            b"..\r\n",
            b"\r\n.\r\n",
            b"\n.\n",
            b"\r.\r",
            b"\r\n.\n",
            b"hello world\r\n",
            b"MAIL",
            b" FROM:<x@y.org>",
            b"\x00\xff\x80",
            b"GET / HTTP/1.0\r\n",
            b"QUIT\r\n",
        ];
        const BODY: &[&[u8]] = &[
            b"\r\n",
            b"\n",
            b"\r",
            b".",
            b"..",
            b"\r\n.",
            b"\r\n..",
            b"\n.\n",
            b"\r.\r",
            b"\r\n.\n",
            b"\r\n.\r",
            b"Subject: x\r\n",
            b"text",
            b"\x00\x80\xff",
        ];
        let mut s = Vec::new();
        if rng.below(4) > 0 {
            s.extend_from_slice(b"EHLO c\r\n");
        }
        for _ in 0..rng.below(60) + 1 {
            match rng.below(20) {
                0 => s.extend((0..rng.below(40)).map(|_| rng.next() as u8)),
                1 => s.extend(std::iter::repeat_n(b'x', rng.below(3000))),
                2..=5 => {
                    // A whole transaction with a body of edge cases.
                    s.extend_from_slice(b"MAIL FROM:<a@b.org>\r\nRCPT TO:<bob@x.org>\r\nDATA\r\n");
                    for _ in 0..rng.below(12) {
                        match rng.below(8) {
                            0 => s.extend(std::iter::repeat_n(b'y', rng.below(300))),
                            _ => s.extend_from_slice(BODY[rng.below(BODY.len())]),
                        }
                    }
                    s.extend_from_slice(b"\r\n.\r\n");
                }
                6..=8 => {
                    // A BDAT transaction of edge-case chunks.
                    s.extend_from_slice(b"MAIL FROM:<a@b.org>\r\nRCPT TO:<bob@x.org>\r\n");
                    let n = rng.below(5);
                    for i in 0..=n {
                        let mut c = Vec::new();
                        for _ in 0..rng.below(6) {
                            match rng.below(8) {
                                0 => c.extend(std::iter::repeat_n(b'z', rng.below(300))),
                                _ => c.extend_from_slice(BODY[rng.below(BODY.len())]),
                            }
                        }
                        let last = if i == n { " LAST" } else { "" };
                        s.extend_from_slice(format!("BDAT {}{last}\r\n", c.len()).as_bytes());
                        s.extend_from_slice(&c);
                    }
                }
                _ => s.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())]),
            }
        }
        s
    }

    fn run_split(cfg: &Config, input: &[u8], cuts: &[usize]) -> Driver {
        let mut s = Session::new(cfg);
        let mut d = Driver::default();
        d.feed(&mut s, b"");
        let mut last = 0;
        for &c in cuts.iter().chain(std::iter::once(&input.len())) {
            d.feed(&mut s, &input[last..c]);
            last = c;
        }
        d
    }

    /// Property: any input, split into reads at random places and decoded
    /// through buffers of any size, gives exactly the same replies and the
    /// same stored messages as the same input delivered whole.
    #[test]
    fn any_split_gives_the_same_replies_and_messages() {
        let mut rng = Rng(0x7469_6e79_6d78_2525);
        let (mut stored, mut refused) = (0, 0);
        for case in 0..5000 {
            let input = random_stream(&mut rng);
            let cfg = Config {
                hostname: "mx.test".into(),
                max_message_bytes: [50, 200, 5000][rng.below(3)],
                max_recipients: 3,
                max_errors: 1000,
                io_buffer_bytes: [2, 3, 7, 64, 4096][rng.below(5)],
                ..Config::default()
            };
            let whole_cfg = Config {
                io_buffer_bytes: 16 * 1024,
                ..cfg.clone()
            };
            let whole = run_split(&whole_cfg, &input, &[]);
            stored += whole.stored.len();
            refused += whole.text().matches("552 5.3.4").count();
            for _ in 0..3 {
                let mut cuts: Vec<usize> = (0..rng.below(20))
                    .map(|_| rng.below(input.len() + 1))
                    .collect();
                cuts.sort();
                let split = run_split(&cfg, &input, &cuts);
                assert_eq!(
                    split.text(),
                    whole.text(),
                    "case {case}: input {input:?} cuts {cuts:?}"
                );
                assert_eq!(
                    split.stored, whole.stored,
                    "case {case}: input {input:?} cuts {cuts:?}"
                );
            }
        }
        // The generator reaches deep states: many messages stored and refused.
        assert!(
            stored > 500 && refused > 100,
            "stored {stored}, refused {refused}"
        );
    }

    #[test]
    fn every_state_change_is_recorded_in_order() {
        use State::*;
        let c = cfg();
        let mut s = Session::new(&c);
        let mut d = Driver::default();
        let taken = |s: &mut Session| -> Vec<(State, State)> {
            s.take_transitions().map(|t| (t.from, t.to)).collect()
        };
        d.feed(
            &mut s,
            b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@x.org>\r\n",
        );
        assert_eq!(
            taken(&mut s),
            [
                (Greeting, Command),
                (Command, AwaitStorage),
                (AwaitStorage, Command)
            ]
        );
        d.feed(&mut s, b"DATA\r\nhi\r\n.\r\nQUIT\r\n");
        assert_eq!(
            taken(&mut s),
            [
                (Command, AwaitStart),
                (AwaitStart, Data),
                (Data, Ended),
                (Ended, AwaitEnd),
                (AwaitEnd, Command),
                (Command, Closed)
            ]
        );
        assert!(taken(&mut s).is_empty());
    }

    #[test]
    fn a_closed_session_repeats_its_last_reply_instead_of_reading() {
        let c = cfg();
        let mut s = Session::new(&c);
        let mut d = Driver::default();
        d.feed(&mut s, b"QUIT\r\n");
        assert_eq!(s.advance(b"NOOP\r\n"), (0, Output::Reply(reply::BYE)));
        s.abort(Abort::Timeout);
        assert_eq!(s.advance(b""), (0, Output::Reply(reply::TIMEOUT)));
    }

    // ------------------------------------------------------------ BDAT

    const RCPT: &str = "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@x.org>\r\n";
    const RCPT_REPLIES: [&str; 4] = [
        GREETING,
        EHLO,
        "250 2.1.0 Sender ok\r\n",
        "250 2.1.5 Recipient ok\r\n",
    ];
    const CHUNK: &str = "250 2.0.0 Chunk received\r\n";
    const QUEUED: &str = "250 2.0.0 Ok: queued as ID1\r\n";

    fn bdat(input: &[u8], more: &[&str]) -> Driver {
        let d = dialog_with(&cfg(), &[RCPT.as_bytes(), input].concat());
        assert_eq!(d.text(), [&RCPT_REPLIES[..], more].concat().concat());
        d
    }

    fn bob(body: &[u8]) -> Vec<(Vec<String>, Vec<u8>)> {
        vec![(vec!["bob".to_string()], body.to_vec())]
    }

    #[test]
    fn ehlo_offers_chunking() {
        assert!(dialog("EHLO c\r\n").text().contains("250-CHUNKING\r\n"));
    }

    #[test]
    fn bdat_chunks_are_stored_like_data() {
        // No un-stuffing: ".." and a lone "." line are content; CRLF → LF
        // as DATA stores it, also when the CRLF is split over two chunks.
        let d = bdat(
            b"BDAT 10\r\nSubj: x\r\n\rBDAT 11\r\n\n..dot\r\n.\r\nBDAT 6 LAST\r\nend\r\na",
            &[CHUNK, CHUNK, QUEUED],
        );
        assert_eq!(d.stored, bob(b"Subj: x\n\n..dot\n.\nend\na"));
        let via_data = dialog_with(
            &cfg(),
            format!("{RCPT}DATA\r\nSubj: x\r\n\r\n...dot\r\n..\r\nend\r\na\r\n.\r\n").as_bytes(),
        );
        // DATA cannot end without a line ending; otherwise the same bytes.
        assert_eq!(via_data.stored, bob(b"Subj: x\n\n..dot\n.\nend\na\n"));
    }

    #[test]
    fn bare_cr_and_lf_are_content_and_a_cr_may_end_the_message() {
        let d = bdat(b"BDAT 4\r\na\rb\nBDAT 2 LAST\r\nc\r", &[CHUNK, QUEUED]);
        assert_eq!(d.stored, bob(b"a\rb\nc\r"));
        // A CR at a chunk's end followed by a non-LF stays a bare CR.
        let d = bdat(b"BDAT 2\r\na\rBDAT 1 LAST\r\nb", &[CHUNK, QUEUED]);
        assert_eq!(d.stored, bob(b"a\rb"));
    }

    #[test]
    fn bdat_0_last_is_valid() {
        let d = bdat(b"BDAT 0 LAST\r\n", &[QUEUED]);
        assert_eq!(d.stored, bob(b""));
        let d = bdat(
            b"BDAT 3\r\nabcbdat 0 last\r\nNOOP\r\n",
            &[CHUNK, QUEUED, "250 2.0.0 Ok\r\n"],
        );
        assert_eq!(d.stored, bob(b"abc"));
    }

    #[test]
    fn every_split_of_a_pipelined_bdat_stream_gives_the_same_result() {
        let input = [
            RCPT.as_bytes(),
            b"BDAT 7\r\nab\r\n.\r\rBDAT 3\r\n\nQUBDAT 0\r\nBDAT 2 LAST\r\nx\r",
            b"MAIL FROM:<>\r\nBDAT 6\r\nQUIT\r\nRCPT TO:<bob@x.org>\r\n",
            b"BDAT 1 LAST\r\n\rDATA\r\nQUIT\r\n",
        ]
        .concat();
        let want = [
            &RCPT_REPLIES[..],
            &[CHUNK, CHUNK, CHUNK, QUEUED],
            &["250 2.1.0 Sender ok\r\n", "503 5.5.1 Need RCPT command\r\n"],
            &["250 2.1.5 Recipient ok\r\n", QUEUED],
            &["503 5.5.1 Need MAIL command\r\n", "221 2.0.0 Bye\r\n"],
        ]
        .concat()
        .concat();
        let whole = run_split(&cfg(), &input, &[]);
        assert_eq!(whole.text(), want);
        for a in 0..=input.len() {
            let split = run_split(&cfg(), &input, &[a]);
            assert_eq!(split.text(), whole.text(), "cut at {a}");
            assert_eq!(split.stored, whole.stored, "cut at {a}");
        }
        let bytes: Vec<usize> = (1..input.len()).collect();
        let split = run_split(&cfg(), &input, &bytes);
        assert_eq!(split.text(), whole.text(), "byte by byte");
        assert_eq!(split.stored, whole.stored, "byte by byte");
        assert_eq!(
            whole.stored[0],
            (vec!["bob".into()], b"ab\n.\r\nQUx\r".to_vec())
        );
        assert_eq!(whole.stored[1].1, b"\r");
    }

    #[test]
    fn pipelined_chunks_are_answered_in_order() {
        let d = bdat(
            b"BDAT 3\r\nQUIBDAT 3\r\nT\r\nBDAT 0 LAST\r\nQUIT\r\n",
            &[CHUNK, CHUNK, QUEUED, "221 2.0.0 Bye\r\n"],
        );
        assert_eq!(d.stored, bob(b"QUIT\n"));
    }

    #[test]
    fn a_refused_bdat_discards_its_octets() {
        // No transaction: 503, and "QUIT\r\n" inside the chunk is not a command.
        expect(
            "EHLO c\r\nBDAT 6\r\nQUIT\r\nNOOP\r\n",
            &[
                GREETING,
                EHLO,
                "503 5.5.1 Need MAIL command\r\n",
                "250 2.0.0 Ok\r\n",
            ],
        );
        expect(
            "BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n",
            &[
                GREETING,
                "503 5.5.1 Send HELO or EHLO first\r\n",
                "250 2.0.0 Ok\r\n",
            ],
        );
        expect(
            "EHLO c\r\nMAIL FROM:<>\r\nBDAT 6\r\nQUIT\r\nNOOP\r\n",
            &[
                GREETING,
                EHLO,
                "250 2.1.0 Sender ok\r\n",
                "503 5.5.1 Need RCPT command\r\n",
                "250 2.0.0 Ok\r\n",
            ],
        );
        // After LAST the transaction is over.
        let d = bdat(
            b"BDAT 1 LAST\r\nxBDAT 6\r\nQUIT\r\nNOOP\r\n",
            &[
                QUEUED,
                "503 5.5.1 Need MAIL command\r\n",
                "250 2.0.0 Ok\r\n",
            ],
        );
        assert_eq!(d.stored, bob(b"x"));
        // Bad arguments with a readable size: 501 after the octets.
        let d = bdat(
            b"BDAT 6 FIRST\r\nQUIT\r\nBDAT 1 LAST X\r\nQBDAT 1 LAST\r\ny",
            &[
                "501 5.5.4 Syntax: BDAT size [LAST]\r\n",
                "501 5.5.4 Syntax: BDAT size [LAST]\r\n",
                QUEUED,
            ],
        );
        assert_eq!(d.stored, bob(b"y"));
    }

    #[test]
    fn data_after_bdat_is_refused_and_the_transaction_goes_on() {
        let d = bdat(
            b"BDAT 2\r\nabDATA\r\nRCPT TO:<x@x.org>\r\nMAIL FROM:<>\r\nBDAT 1 LAST\r\nc",
            &[
                CHUNK,
                "503 5.5.1 Only BDAT or RSET may follow BDAT\r\n",
                "503 5.5.1 Only BDAT or RSET may follow BDAT\r\n",
                "503 5.5.1 Sender already given\r\n",
                QUEUED,
            ],
        );
        assert_eq!(d.stored, bob(b"abc"));
    }

    #[test]
    fn an_unreadable_bdat_size_is_501_then_421() {
        let bye = "421 4.5.0 BDAT size unreadable, closing connection\r\n";
        let syntax = "501 5.5.4 Syntax: BDAT size [LAST]\r\n";
        for line in [
            "BDAT\r\n",
            "BDAT x\r\n",
            "BDAT -1\r\n",
            "BDAT 1x LAST\r\n",
            "BDAT 18446744073709551616\r\n",
            "BDAT LAST\r\n",
        ] {
            let d = bdat(format!("{line}NOOP\r\n").as_bytes(), &[syntax, bye]);
            assert!(d.closed && d.stored.is_empty(), "{line}");
        }
        // The largest size parses (and allocates nothing).
        let d = bdat(b"BDAT 18446744073709551615\r\nabc", &[]);
        assert!(!d.closed);
    }

    #[test]
    fn max_size_is_enforced_across_chunks() {
        let c600 = vec![b'x'; 600];
        let input = [
            RCPT.as_bytes(),
            b"BDAT 600\r\n",
            &c600,
            b"BDAT 600\r\n",
            &c600,
            b"BDAT 600 LAST\r\n",
            &c600,
            b"NOOP\r\n",
        ]
        .concat();
        let d = dialog_with(&cfg(), &input);
        assert_eq!(
            d.text(),
            [
                &RCPT_REPLIES[..],
                &[
                    CHUNK,
                    CHUNK,
                    "552 5.3.4 Message size exceeds fixed limit\r\n",
                    "250 2.0.0 Ok\r\n"
                ]
            ]
            .concat()
            .concat()
        );
        assert!(d.stored.is_empty());
        assert_eq!(d.drops, 1);
        // Exactly the limit is accepted.
        let d = bdat(
            &[&b"BDAT 1000 LAST\r\n"[..], &[b'y'; 1000]].concat(),
            &[QUEUED],
        );
        assert_eq!(d.stored[0].1.len(), 1000);
    }

    #[test]
    fn rset_between_chunks_abandons_the_message() {
        let d = bdat(
            b"BDAT 2\r\nabRSET\r\nBDAT 1 LAST\r\nx",
            &[CHUNK, "250 2.0.0 Ok\r\n", "503 5.5.1 Need MAIL command\r\n"],
        );
        assert!(d.stored.is_empty());
        assert_eq!(d.abandoned, 1);
        // Also after the message was dropped for its size (found by the
        // fuzzer: the driver may hold no message any more).
        let big = [&b"BDAT 1001\r\n"[..], &[b'x'; 1001], b"RSET\r\nNOOP\r\n"].concat();
        let d = bdat(&big, &[CHUNK, "250 2.0.0 Ok\r\n", "250 2.0.0 Ok\r\n"]);
        assert_eq!((d.drops, d.abandoned, d.stored.len()), (1, 1, 0));
        let d = bdat(b"BDAT 1\r\nxQUIT\r\n", &[CHUNK, "221 2.0.0 Bye\r\n"]);
        assert_eq!((d.abandoned, d.stored.len()), (1, 0));
        assert!(d.closed);
    }

    #[test]
    fn storage_failure_before_the_first_chunk_still_reads_it() {
        let mut s = Session::new(Box::leak(Box::new(cfg())));
        let mut d = Driver {
            fail_start: Some(TempFailure::NoSpace),
            ..Driver::default()
        };
        d.feed(&mut s, RCPT.as_bytes());
        d.feed(&mut s, b"BDAT 6\r\nQUIT\r\nNOOP\r\n");
        assert_eq!(
            d.text(),
            [
                &RCPT_REPLIES[..],
                &[
                    "452 4.3.1 Insufficient system storage, try again later\r\n",
                    "250 2.0.0 Ok\r\n"
                ]
            ]
            .concat()
            .concat()
        );
    }

    // ------------------------------------------------------------ STARTTLS

    const EHLO_TLS: &str = "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250-CHUNKING\r\n250-STARTTLS\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n";
    const READY: &str = "220 2.0.0 Ready to start TLS\r\n";

    fn tls_cfg() -> &'static Config {
        Box::leak(Box::new(Config {
            starttls: true,
            ..cfg()
        }))
    }

    #[test]
    fn starttls_is_refused_where_the_driver_cannot_do_tls() {
        expect(
            "STARTTLS\r\nEHLO c\r\nSTARTTLS\r\nSTARTTLS now\r\nMAIL FROM:<a@b.org>\r\nSTARTTLS\r\n",
            &[
                GREETING,
                "502 5.5.1 Command not implemented\r\n",
                EHLO,
                "502 5.5.1 Command not implemented\r\n",
                "502 5.5.1 Command not implemented\r\n",
                "250 2.1.0 Sender ok\r\n",
                "502 5.5.1 Command not implemented\r\n",
            ],
        );
    }

    #[test]
    fn ehlo_offers_starttls_when_the_driver_can_and_the_order_is_checked() {
        let d = dialog_with(
            tls_cfg(),
            b"STARTTLS\r\nEHLO c\r\nMAIL FROM:<a@b.org>\r\nSTARTTLS\r\nSTARTTLS x\r\n",
        );
        assert_eq!(
            d.text(),
            [
                GREETING,
                "503 5.5.1 Send HELO or EHLO first\r\n",
                EHLO_TLS,
                "250 2.1.0 Sender ok\r\n",
                "503 5.5.1 STARTTLS not allowed during a mail transaction\r\n",
                "503 5.5.1 STARTTLS not allowed during a mail transaction\r\n",
            ]
            .concat()
        );
        assert_eq!(d.tls_starts, 0);
    }

    /// CVE-2011-0411: commands pipelined after STARTTLS in plain text are
    /// never answered; after the handshake the session starts over (RFC
    /// 3207 §4.2): no HELO name, no transaction, no second STARTTLS.
    #[test]
    fn starttls_drops_what_was_pipelined_after_it_and_starts_over() {
        let mut s = Session::new(tls_cfg());
        let mut d = Driver::default();
        d.feed(&mut s, b"");
        d.feed(
            &mut s,
            b"EHLO c\r\nSTARTTLS\r\nRSET\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@x.org>\r\n",
        );
        assert_eq!(d.text(), [GREETING, EHLO_TLS, READY].concat());
        assert_eq!(d.tls_starts, 1);
        assert!(s.tls());
        assert!(s.envelope().is_none());
        // Over TLS now: the EHLO name from before is gone.
        d.feed(
            &mut s,
            b"MAIL FROM:<a@b.org>\r\nEHLO c\r\nSTARTTLS\r\nQUIT\r\n",
        );
        assert_eq!(
            d.text(),
            [
                GREETING,
                EHLO_TLS,
                READY,
                "503 5.5.1 Send HELO or EHLO first\r\n",
                EHLO,
                "503 5.5.1 TLS already active\r\n",
                "221 2.0.0 Bye\r\n",
            ]
            .concat()
        );
        assert_eq!(d.tls_starts, 1);
    }

    /// `--require-tls`: MAIL before the handshake gets 530 (RFC 3207 §4),
    /// everything else as usual; after it, mail goes through.
    #[test]
    #[cfg(feature = "tls")]
    fn require_tls_refuses_mail_until_the_handshake() {
        let cfg: &'static Config = Box::leak(Box::new(Config {
            require_tls: true,
            ..tls_cfg().clone()
        }));
        let mut s = Session::new(cfg);
        let mut d = Driver::default();
        d.feed(&mut s, b"");
        d.feed(
            &mut s,
            b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nNOOP\r\nSTARTTLS\r\n",
        );
        assert_eq!(
            d.text(),
            [
                GREETING,
                EHLO_TLS,
                "530 5.7.0 Must issue a STARTTLS command first\r\n",
                "250 2.0.0 Ok\r\n",
                READY,
            ]
            .concat()
        );
        assert_eq!(d.tls_starts, 1);
        d.feed(&mut s, b"EHLO c\r\nMAIL FROM:<a@b.org>\r\n");
        assert!(
            d.text()
                .ends_with(&[EHLO, "250 2.1.0 Sender ok\r\n"].concat())
        );
    }

    /// A STARTTLS split over reads: the 220 comes at its line end, and the
    /// rest of the read that holds the line end is dropped.
    #[test]
    fn starttls_in_pieces() {
        let mut s = Session::new(tls_cfg());
        let mut d = Driver::default();
        d.feed(&mut s, b"");
        d.feed(&mut s, b"EHLO c\r\nSTART");
        d.feed(&mut s, b"TLS\r");
        assert_eq!(d.tls_starts, 0);
        d.feed(&mut s, b"\nNOOP\r\n");
        assert_eq!(d.text(), [GREETING, EHLO_TLS, READY].concat());
        assert_eq!(d.tls_starts, 1);
        d.feed(&mut s, b"NOOP\r\n");
        assert_eq!(
            d.text(),
            [GREETING, EHLO_TLS, READY, "250 2.0.0 Ok\r\n"].concat()
        );
    }
}
