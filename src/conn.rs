//! One connection: socket ⇄ `Session`, message content → `maildir`.
//!
//! The driver reads into a fixed buffer, feeds the session, queues its
//! replies and sends them when the session needs more input (so a
//! pipelined group gets its replies in one write, RFC 2920 §3), and
//! carries out the session's storage requests. Time lives here: idle
//! time-outs and the shutdown grace period.

use crate::auth::{self, SpfCheck};
use crate::authres::ForgedFilter;
use crate::config::Config;
use crate::dns::{Resolver, ResolverConfig};
use crate::hook::{self, ExecPool};
use crate::maildir::{Delivery, Spool, StoreError};
use crate::screen::{self, Dnsbl, Iprev, Listing, Pending, Zone};
use crate::smtp::reply::Reply;
use crate::smtp::trace::{self, Trace};
use crate::smtp::{Abort, Output, Session, TempFailure};
use crate::{date, debug, info, safe, sys, warn};
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Replies are sent once this much is queued, even mid-group.
const REPLY_FLUSH_BYTES: usize = 4096;

/// How long a session keeps its input and decode buffers while waiting for
/// the next command: long enough for a client's next command in a busy
/// dialog (no allocation per command), short enough that idle sessions
/// hold none.
const HOLD_BUFFER_MS: u128 = 200;

/// The longest a `poll` waits, so stress mode and shutdown take effect
/// promptly even in a long wait.
const MAX_POLL_MS: u128 = 1000;

/// Room for the replies of a usual pipelined group before it grows.
const REPLY_QUEUE_BYTES: usize = 512;

/// How much of a command line the verbose log shows, and how much of it a
/// `refused:` line quotes.
const LOGGED_COMMAND_BYTES: usize = 600;
const QUOTED_COMMAND_BYTES: usize = 200;

/// `--filter` exit statuses (README, "Handing mail to programs"): 0
/// accepts, these drop or refuse, anything else is a temporary failure.
const FILTER_DROP: i32 = 99;
const FILTER_REFUSE: i32 = 100;
/// How much of the filter's first output line goes into the 550.
const FILTER_TEXT_BYTES: usize = 200;

/// How a session ended, for the `end=` field of its `disconnect` line.
enum End {
    Quit,
    /// A 421 the session sent itself (too many errors, HTTP).
    Closed,
    PeerClosed,
    Timeout,
    Shutdown,
    SendFailed,
    /// Reading or waiting failed; the errno name.
    Error(String),
    /// The client talked before the greeting (`--greet-delay`).
    Pregreet,
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            End::Quit => f.write_str("quit"),
            End::Closed => f.write_str("closed"),
            End::PeerClosed => f.write_str("peer closed"),
            End::Timeout => f.write_str("timeout"),
            End::Shutdown => f.write_str("shutdown"),
            End::SendFailed => f.write_str("send failed"),
            End::Error(cause) => write!(f, "error ({cause})"),
            End::Pregreet => f.write_str("pregreet"),
        }
    }
}

/// Why `read` returned no input.
enum Stop {
    Abort(Abort),
    Failed(std::io::Error),
    /// The TLS handshake or record layer failed (rustls' words).
    #[cfg(feature = "tls")]
    Tls(String),
}

/// The name of an error's errno (`ECONNRESET`), for the log.
fn errno_name(e: &std::io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(libc::ECONNRESET) => "ECONNRESET",
        Some(libc::ETIMEDOUT) => "ETIMEDOUT",
        Some(libc::EPIPE) => "EPIPE",
        Some(libc::ENOTCONN) => "ENOTCONN",
        Some(libc::EHOSTUNREACH) => "EHOSTUNREACH",
        Some(libc::ENETUNREACH) => "ENETUNREACH",
        Some(libc::ENOMEM) => "ENOMEM",
        Some(libc::EBADF) => "EBADF",
        Some(libc::EINVAL) => "EINVAL",
        Some(n) => return format!("errno {n}"),
        None => return format!("{:?}", e.kind()),
    };
    name.to_string()
}

/// The input buffer and the part of it the session has not used yet.
#[derive(Default)]
struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// What every session shares.
pub struct Shared {
    /// The settings for new sessions; SIGHUP may replace them.
    pub config: RwLock<Arc<Config>>,
    pub spool: Spool,
    /// Set on SIGTERM/SIGINT.
    pub stopping: AtomicBool,
    /// Stress mode (sessions ≥ 80% of `--max-conn`): short idle limits.
    pub stress: AtomicBool,
    /// Read end of a pipe whose write end is closed on shutdown: it turns
    /// readable in every session's `poll` at once.
    pub stop_pipe: OwnedFd,
    /// `--exec`: the hook pool.
    pub exec: Option<ExecPool>,
    /// The stub resolver for the sender checks (`--dns`, resolv.conf).
    pub resolver: Arc<Resolver>,
    /// When the last "DNS is not answering" warning was logged: one a
    /// minute at most, however many messages get `temperror`.
    pub dns_warned: Mutex<Option<Instant>>,
    /// `--tls-cert`/`--tls-key` as loaded for new sessions: replaced with
    /// `config`, under its lock (`snapshot`), so the two always agree.
    #[cfg(feature = "tls")]
    pub certs: RwLock<Option<crate::tls::Certs>>,
}

/// How often "DNS is not answering" may be logged.
const DNS_WARNING_EVERY: Duration = Duration::from_secs(60);

/// What `--filter` and the store decided for a message.
enum Outcome {
    Stored(String),
    /// 550 from the filter.
    Refused(Reply),
    Failed(TempFailure),
}

/// What the filter said about one copy.
enum Verdict {
    Accept,
    Drop,
    Refuse(String),
    TempFail,
}

impl Shared {
    /// Everything sessions share, with the resolver `cfg` asks for.
    pub fn new(cfg: Config, spool: Spool, stop_pipe: OwnedFd, exec: Option<ExecPool>) -> Shared {
        let resolver = Arc::new(Resolver::new(ResolverConfig {
            servers: cfg.dns_servers.clone(),
            timeout_secs: cfg.dns_timeout_secs,
            ..ResolverConfig::default()
        }));
        Shared {
            config: RwLock::new(Arc::new(cfg)),
            spool,
            stopping: AtomicBool::new(false),
            stress: AtomicBool::new(false),
            stop_pipe,
            exec,
            resolver,
            dns_warned: Mutex::new(None),
            #[cfg(feature = "tls")]
            certs: RwLock::new(None),
        }
    }

    /// The current settings (a session keeps the ones it started with).
    pub fn cfg(&self) -> Arc<Config> {
        Arc::clone(&self.config.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The settings and the certificate for a new session, read together.
    #[cfg(feature = "tls")]
    pub fn snapshot(&self) -> (Arc<Config>, Option<crate::tls::Certs>) {
        let cfg = self.config.read().unwrap_or_else(|p| p.into_inner());
        let certs = self.certs.read().unwrap_or_else(|p| p.into_inner());
        (Arc::clone(&cfg), certs.clone())
    }
}

/// A message being received, with what its log line needs.
struct Incoming<'s> {
    delivery: Option<Delivery<'s>>,
    /// Deletes Authentication-Results fields that claim our name.
    forged: ForgedFilter,
    /// The filter's output for one piece of content.
    filtered: Vec<u8>,
    /// The SPF result for the log line, when the sender was checked.
    spf: Option<crate::spf::SpfResult>,
    /// DKIM, fed the message as received, when the sender is checked.
    dkim: Option<crate::dkim::verify::Verifier>,
    id: String,
    sender: String,
    recipients: Vec<String>,
    files: Vec<String>,
}

struct Conn<'a> {
    shared: &'a Shared,
    /// This session's settings, fixed for its life.
    cfg: Arc<Config>,
    sock: OwnedFd,
    peer: SocketAddr,
    sid: &'a str,
    out: Vec<u8>,
    /// When shutdown was noticed during DATA: the message must be done by then.
    grace_deadline: Option<Instant>,
    /// Command lines already shown in the verbose log.
    logged_commands: u64,
    messages: u32,
    /// The whole session ends by then (`--session-timeout`).
    session_deadline: Instant,
    /// When the last reply went out: the next command line must be
    /// complete within the idle limit from then.
    request_start: Instant,
    /// During DATA: the deadline, extended as content arrives (below).
    data_deadline: Instant,
    /// `--exec` runs for stored messages, queued once their 250 is sent.
    hooks: Vec<hook::Job>,
    /// The current transaction's SPF check (None: not checked).
    spf: Option<SpfCheck>,
    /// The last message's DKIM (and DMARC) results, for its hooks.
    msg_auth: Option<auth::MessageAuth>,
    /// `--dnsbl`/`--dnswl` lookups running since connect, one per zone
    /// (block lists first), and their score once the first MAIL came.
    dnsbl: Vec<Pending<Listing>>,
    dnsbl_result: Option<Dnsbl>,
    /// iprev, running since connect when on for this client.
    iprev: Option<Pending<Iprev>>,
    /// The client is in `--auth-skip` (loopback by default): no checks,
    /// no greeting delay, no DNS lists (as postscreen permits mynetworks).
    trusted: bool,
    /// The certificate STARTTLS offers in this session, if any.
    #[cfg(feature = "tls")]
    certs: Option<crate::tls::Certs>,
    /// After STARTTLS: every byte in and out goes through it.
    #[cfg(feature = "tls")]
    tls: Option<Box<crate::tls::Stream>>,
}

/// What a check that could not run says.
const IPREV_FAILED: Iprev = Iprev {
    result: "temperror",
    name: String::new(),
};

/// Serves one connection until QUIT, time-out, shutdown or the peer leaves.
pub fn serve(shared: &Shared, sock: OwnedFd, peer: SocketAddr, sid: &str) {
    let started = Instant::now();
    #[cfg(not(feature = "tls"))]
    let cfg = shared.cfg();
    #[cfg(feature = "tls")]
    let (cfg, certs) = shared.snapshot();
    // A send may block only as long as a read may wait.
    if let Err(e) = sys::set_send_timeout(&sock, Duration::from_secs(cfg.idle_timeout_secs)) {
        warn!("{sid} cannot set send timeout: {e}");
    }
    let now = Instant::now();
    let session_limit = Duration::from_secs(cfg.session_timeout_secs);
    let mut conn = Conn {
        cfg,
        session_deadline: now + session_limit,
        request_start: now,
        data_deadline: now,
        shared,
        sock,
        peer,
        sid,
        out: Vec::with_capacity(REPLY_QUEUE_BYTES),
        grace_deadline: None,
        logged_commands: 0,
        messages: 0,
        hooks: Vec::new(),
        spf: None,
        msg_auth: None,
        dnsbl: Vec::new(),
        dnsbl_result: None,
        iprev: None,
        trusted: false,
        #[cfg(feature = "tls")]
        certs,
        #[cfg(feature = "tls")]
        tls: None,
    };
    conn.start_checks();
    debug!("{sid} connect from {}", client(peer));
    let end = conn.run();
    // close_notify, however the session ended (after an error rustls has
    // sent its alert already and sends nothing more).
    #[cfg(feature = "tls")]
    if let Some(t) = conn.tls.as_mut() {
        t.close(&conn.sock);
    }
    // The lookups end by their deadlines; a session's threads end with it.
    conn.dnsbl.iter_mut().for_each(|p| _ = p.get());
    if let Some(p) = &mut conn.iprev {
        p.get();
    }
    info!(
        "{sid} disconnect from {} messages={} duration={}s end={end}",
        client(peer),
        conn.messages,
        crate::log::Secs3(started.elapsed())
    );
}

/// `[ip]:port`, v4-mapped addresses shown as IPv4.
pub fn client(peer: SocketAddr) -> String {
    format!("[{}]:{}", safe::client_ip(peer.ip()), peer.port())
}

/// Local storage trouble is always temporary for the sender.
fn failure(e: &StoreError) -> TempFailure {
    if e.is_no_space() {
        TempFailure::NoSpace
    } else {
        TempFailure::Local
    }
}

impl<'a> Conn<'a> {
    /// Runs the dialog; returns how it ended, for the log. Each session
    /// output is carried out by one method.
    fn run(&mut self) -> End {
        let cfg = Arc::clone(&self.cfg);
        if cfg.greet_delay_secs > 0
            && !self.trusted
            && let Some(end) = self.pregreet()
        {
            return end;
        }
        let mut session = Session::new(&cfg);
        // The input buffer exists only while the client is active: `read`
        // frees it once a command has been awaited for HOLD_BUFFER_MS, so
        // an idle session holds none.
        let mut input = Input::default();
        let mut msg: Option<Incoming<'a>> = None;
        loop {
            self.log_transitions(&mut session);
            let (used, output) = session.advance(&input.buf[input.start..input.end]);
            input.start += used;
            let end = match output {
                Output::Reply(r) => self.on_reply(&session, &mut msg, r),
                Output::NeedInput => self.on_need_input(&mut input, &mut session, &mut msg),
                Output::CheckStorage => {
                    self.check_sender(&mut session);
                    None
                }
                Output::StartMessage => {
                    let started = self.start_message(&session).map(|m| msg = Some(m));
                    session.message_started(started);
                    None
                }
                Output::Body(bytes) => {
                    if let Some(f) = self.on_body(&mut msg, bytes) {
                        session.message_failed(f);
                    }
                    None
                }
                Output::DropMessage => {
                    if let Some(m) = msg.as_mut() {
                        m.delivery = None;
                    }
                    None
                }
                Output::AbandonMessage => {
                    // Dropping the delivery removes its tmp files.
                    if let Some(m) = msg.take() {
                        info!(
                            "{} abandoned id={} from=<{}> size={}: transaction reset during BDAT",
                            self.sid,
                            m.id,
                            m.sender,
                            session.message_bytes()
                        );
                    }
                    None
                }
                Output::EndMessage => {
                    self.on_end_message(&mut session, &mut msg);
                    None
                }
                Output::StartTls => self.start_tls(&mut session),
            };
            if let Some(end) = end {
                self.log_transitions(&mut session);
                return end;
            }
        }
    }

    /// STARTTLS got its 220: sends it in plain text, then every byte goes
    /// through TLS. The session took (and dropped) whatever followed the
    /// STARTTLS line in the input (CVE-2011-0411), and starts over now; the
    /// handshake happens in `read`, within the command time-out that the
    /// 220 started.
    #[cfg(feature = "tls")]
    fn start_tls(&mut self, session: &mut Session) -> Option<End> {
        if !self.flush() {
            return Some(End::SendFailed);
        }
        // rustls writes the session tickets after the handshake, and the
        // next reply on its own: with Nagle the reply would wait for the
        // client's delayed ACK of the tickets (40 ms on Linux), every time.
        if let Err(e) = sys::set_int_option(&self.sock, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1) {
            debug!("{} TCP_NODELAY: {e}", self.sid);
        }
        let stream = self.certs.as_ref().map(crate::tls::Stream::new);
        match stream {
            Some(Ok(t)) => self.tls = Some(t),
            Some(Err(e)) => return Some(End::Error(format!("TLS: {e}"))),
            None => return Some(End::Error("TLS: no certificate".into())),
        }
        session.tls_started();
        None
    }

    /// Without TLS in the build `Config::starttls` is never set: the
    /// session answers STARTTLS with 502 and never asks for it.
    #[cfg(not(feature = "tls"))]
    fn start_tls(&mut self, _session: &mut Session) -> Option<End> {
        Some(End::Error("STARTTLS without TLS in the build".into()))
    }

    /// The session's TLS protocol and cipher suite (`TLSv1.3
    /// TLS_AES_128_GCM_SHA256`), once its handshake is done.
    fn tls_description(&self) -> Option<&str> {
        #[cfg(feature = "tls")]
        return self.tls.as_ref().and_then(|t| t.description());
        #[cfg(not(feature = "tls"))]
        None
    }

    /// Starts the DNSBL and iprev lookups (each only when on, and not
    /// for `--auth-skip` clients).
    fn start_checks(&mut self) {
        let cfg = &self.cfg;
        let ip = safe::client_ip(self.peer.ip());
        self.trusted = auth::skipped(cfg.auth_skip(), ip);
        if self.trusted {
            return;
        }
        let resolver = &self.shared.resolver;
        let stack = cfg.thread_stack_bytes;
        if !cfg.dnsbl.is_empty() || !cfg.dnswl.is_empty() {
            let zones: Vec<Zone> = cfg.dnsbl.iter().chain(&cfg.dnswl).cloned().collect();
            let limit = Duration::from_secs(cfg.dnsbl_timeout_secs);
            self.dnsbl = screen::start_dnsbl(resolver, ip, &zones, limit, stack);
        }
        if cfg.iprev && cfg.auth {
            let r = Arc::clone(resolver);
            let deadline = Instant::now() + Duration::from_secs(cfg.iprev_timeout_secs);
            let f = move || screen::iprev(&r, ip, deadline);
            self.iprev = Some(Pending::spawn(stack, IPREV_FAILED, f));
        }
    }

    /// `--greet-delay`: waits before the greeting; a client that sends
    /// anything first gets 554 and is closed (as Postfix's postscreen).
    fn pregreet(&mut self) -> Option<End> {
        let deadline = Instant::now() + Duration::from_secs(self.cfg.greet_delay_secs);
        loop {
            if self.shared.stopping.load(Ordering::SeqCst) {
                return Some(End::Shutdown);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            let wait_ms = (deadline - now).as_millis().clamp(1, MAX_POLL_MS) as i32;
            let fds = [self.sock.as_fd(), self.shared.stop_pipe.as_fd()];
            match sys::poll_readable(&fds, wait_ms) {
                Ok(r) if r[0] => {
                    let mut buf = Vec::with_capacity(QUOTED_COMMAND_BYTES);
                    match sys::recv(&self.sock, &mut buf) {
                        Ok(0) => return Some(End::PeerClosed),
                        Ok(_) => {
                            info!(
                                "{} refused: client {} talked before the greeting: {}",
                                self.sid,
                                client(self.peer),
                                safe::log_text(&buf, QUOTED_COMMAND_BYTES)
                            );
                            self.out.extend_from_slice(b"554 5.5.1 Protocol error\r\n");
                            self.flush();
                            return Some(End::Pregreet);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => return Some(End::Error(errno_name(&e))),
                    }
                }
                Ok(_) => {}
                Err(e) => return Some(End::Error(errno_name(&e))),
            }
        }
    }

    /// At the first MAIL: the DNSBL score (waiting for the lookups), logged;
    /// at the threshold every RCPT of the session gets 550.
    fn check_dnsbl(&mut self, session: &mut Session) {
        if self.dnsbl.is_empty() || self.dnsbl_result.is_some() {
            return;
        }
        let answers = self.dnsbl.iter_mut().map(|p| *p.get()).collect();
        let cfg = &self.cfg;
        let zones: Vec<Zone> = cfg.dnsbl.iter().chain(&cfg.dnswl).cloned().collect();
        let threshold = i64::try_from(cfg.dnsbl_threshold).unwrap_or(i64::MAX);
        let d = Dnsbl::score(&zones, answers, threshold);
        info!(
            "{} dnsbl client={} from=<{}> {}",
            self.sid,
            client(self.peer),
            session.envelope().map(|e| e.sender.as_str()).unwrap_or(""),
            d.value()
        );
        if let Some(zone) = &d.blocked_by {
            let ip = safe::client_ip(self.peer.ip());
            let text = format!("5.7.1 Service unavailable; client [{ip}] blocked using {zone}");
            session.refuse_recipients(Reply::line(550, &text));
        }
        self.dnsbl_result = Some(d);
    }

    /// The iprev resinfo for Authentication-Results (RFC 8601 section
    /// 2.7.3), waited for; empty when not checked.
    fn iprev_resinfo(&mut self) -> String {
        let ip = safe::client_ip(self.peer.ip());
        let Some(i) = self.iprev.as_mut().map(Pending::get) else {
            return String::new();
        };
        let mut v = format!("iprev={} policy.iprev={ip}", i.result);
        if !i.name.is_empty() {
            v += &format!(" ({})", i.name);
        }
        v
    }

    /// `-v`: each state change of the session, `old -> new`.
    fn log_transitions(&self, session: &mut Session) {
        for t in session.take_transitions() {
            debug!("{} state {:?} -> {:?}", self.sid, t.from, t.to);
        }
    }

    /// Queues a reply (sent once the session needs input) and logs it.
    fn on_reply(
        &mut self,
        session: &Session,
        msg: &mut Option<Incoming<'a>>,
        r: Reply,
    ) -> Option<End> {
        // Each reply starts the clock for the next request.
        self.request_start = Instant::now();
        self.data_deadline = self.request_start + self.idle_limit();
        if session.commands() != self.logged_commands {
            self.logged_commands = session.commands();
            debug!(
                "{} >>> {}",
                self.sid,
                safe::log_text(session.last_command(), LOGGED_COMMAND_BYTES)
            );
        }
        debug!("{} <<< {}", self.sid, r.text().replace("\r\n", " | "));
        if let Some(m) = msg.take_if(|_| !session.in_message()) {
            self.log_message(&m, &r, session.message_bytes());
        } else if r.is_error() && !r.closes() {
            info!(
                "{} refused: {} (command: {})",
                self.sid,
                r.text(),
                safe::log_text(session.last_command(), QUOTED_COMMAND_BYTES)
            );
        }
        self.out.extend_from_slice(r.as_bytes());
        if r.closes() {
            self.flush();
            return Some(if r.code() == 221 {
                End::Quit
            } else {
                End::Closed
            });
        }
        if self.out.len() >= REPLY_FLUSH_BYTES && !self.flush() {
            return Some(End::SendFailed);
        }
        None
    }

    /// Sends the queued replies, then waits for more input.
    fn on_need_input(
        &mut self,
        input: &mut Input,
        session: &mut Session,
        msg: &mut Option<Incoming<'a>>,
    ) -> Option<End> {
        if !self.flush() {
            return Some(End::SendFailed);
        }
        // Dropping a message's delivery (`msg`) removes its tmp files.
        match self.read(&mut input.buf, session) {
            Ok(0) => Some(End::PeerClosed),
            Ok(n) => {
                (input.start, input.end) = (0, n);
                None
            }
            Err(Stop::Failed(e)) => Some(End::Error(errno_name(&e))),
            #[cfg(feature = "tls")]
            Err(Stop::Tls(e)) => Some(End::Error(format!("TLS: {e}"))),
            Err(Stop::Abort(why)) => {
                let r = session.abort(why);
                if let Some(m) = msg.take() {
                    self.log_message(&m, &r, session.message_bytes());
                }
                self.out.extend_from_slice(r.as_bytes());
                self.flush();
                Some(match why {
                    Abort::Timeout => End::Timeout,
                    Abort::Shutdown => End::Shutdown,
                })
            }
        }
    }

    /// MAIL: room in the spool, then the sender's SPF (unless checks are
    /// off or the client is in `--auth-skip`); a fail is refused here
    /// only with `--spf-reject` (RFC 7372: 550 5.7.23).
    fn check_sender(&mut self, session: &mut Session) {
        self.spf = None;
        self.check_dnsbl(session);
        if !self.has_room() {
            session.storage_checked(false);
            return;
        }
        if self.cfg.auth && !auth::skipped(self.cfg.auth_skip(), self.peer.ip()) {
            let check = self.run_spf(session);
            if self.cfg.spf_reject && check.result() == crate::spf::SpfResult::Fail {
                session.sender_refused(Reply::line(550, &check.reject_text()));
                return;
            }
            self.spf = Some(check);
        }
        session.storage_checked(true);
    }

    /// SPF for the transaction MAIL just opened; DNS trouble is logged
    /// once a minute (each message says `temperror` in its fields).
    fn run_spf(&self, session: &Session) -> SpfCheck {
        let started = Instant::now();
        let (helo, _) = session.helo().unwrap_or((b"", false));
        let sender = session.envelope().map(|e| e.sender.as_str()).unwrap_or("");
        let now = date::unix_now();
        let check = auth::check_spf(
            &self.shared.resolver,
            self.peer.ip(),
            helo,
            sender,
            &self.cfg.hostname,
            now,
        );
        debug!(
            "{} spf={} domain={} ({}s)",
            self.sid,
            check.result().as_str(),
            safe::log_text(check.outcome.domain.as_bytes(), 255),
            crate::log::Secs3(started.elapsed())
        );
        if let Some((what, why)) = &check.failed {
            let mut last = self
                .shared
                .dns_warned
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if last.is_none_or(|t| t.elapsed() >= DNS_WARNING_EVERY) {
                *last = Some(Instant::now());
                warn!(
                    "{} DNS: no answer for {} ({why:?}); SPF results are temperror while this lasts (warned at most once a minute)",
                    self.sid,
                    safe::log_text(what.as_bytes(), 300)
                );
            }
        }
        check
    }

    /// MAIL: is there `--min-free` room in the spool? If the check itself
    /// fails, the mail is let through (the store reports real trouble).
    fn has_room(&self) -> bool {
        let min = self.cfg.min_free();
        match self.shared.spool.free_bytes() {
            Ok(free) if free >= min => true,
            Ok(free) => {
                info!(
                    "{} spool has {free} bytes free, below {min}: MAIL deferred",
                    self.sid
                );
                false
            }
            Err(e) => {
                warn!("{} cannot check free space: {e}", self.sid);
                true
            }
        }
    }

    /// Writes content to every copy; the failure, if writing failed (the
    /// copies are rolled back).
    fn on_body(&self, msg: &mut Option<Incoming<'a>>, bytes: &[u8]) -> Option<TempFailure> {
        let m = msg.as_mut()?;
        let d = m.delivery.as_mut()?;
        if let Some(v) = &mut m.dkim {
            v.update(bytes);
        }
        let written = if m.forged.in_body() {
            d.write_all(bytes)
        } else {
            m.filtered.clear();
            m.forged.feed(bytes, &mut m.filtered);
            d.write_all(&m.filtered)
        };
        let e = written.err()?;
        warn!("{} storage error: {e}", self.sid);
        m.delivery = None;
        Some(failure(&e))
    }

    /// The final dot: filter, publish, and tell the session the outcome.
    fn on_end_message(&mut self, session: &mut Session, msg: &mut Option<Incoming<'a>>) {
        let outcome = match msg.as_mut().and_then(|m| m.delivery.take().map(|d| (m, d))) {
            Some((m, d)) => self.finish_message(m, d, session),
            None => Outcome::Failed(TempFailure::Local),
        };
        match outcome {
            Outcome::Stored(id) => session.message_done(Ok(&id)),
            Outcome::Refused(r) => session.message_refused(r),
            Outcome::Failed(f) => session.message_done(Err(f)),
        }
    }

    /// After the final dot: the filter (if any) on each prepared copy,
    /// then publish into new/ and queue the `--exec` hooks.
    fn finish_message(&mut self, m: &mut Incoming, mut d: Delivery, session: &Session) -> Outcome {
        let storage = |e: StoreError, sid: &str| {
            warn!("{sid} storage error: {e}");
            Outcome::Failed(failure(&e))
        };
        m.filtered.clear();
        m.forged.finish(&mut m.filtered);
        if let Err(e) = d.write_all(&m.filtered) {
            return storage(e, self.sid);
        }
        // The results known only now go above the trace fields (RFC 8601
        // section 5, RFC 7208 section 9.1), in front of each copy.
        self.msg_auth = None;
        let iprev = self.iprev_resinfo();
        if let (Some(spf), Some(v)) = (&self.spf, m.dkim.take()) {
            let started = Instant::now();
            let mut checked = auth::check_message(&self.shared.resolver, v, spf);
            checked.iprev = iprev;
            debug!(
                "{} dkim={} dmarc={} ({}s)",
                self.sid,
                checked.dkim_best(),
                checked.dmarc.result.as_str(),
                crate::log::Secs3(started.elapsed())
            );
            // Refused before the fields are put in front of each copy:
            // dropping `d` removes every copy from tmp/.
            if self.cfg.dmarc_reject && checked.dmarc.disposition() == crate::dmarc::Policy::Reject
            {
                info!(
                    "{} refused: DMARC fail, the domain's policy is reject",
                    self.sid
                );
                let text = format!(
                    "5.7.1 DMARC: {} rejects mail that fails authentication",
                    safe::reply_text(checked.from_domain.as_bytes(), 255)
                );
                self.msg_auth = Some(checked);
                return Outcome::Refused(Reply::line(550, &text));
            }
            let fields = auth::headers(spf, &checked, &self.cfg.hostname);
            for i in 0..d.len() {
                if let Err(e) = d.prepend(i, fields.as_bytes()) {
                    return storage(e, self.sid);
                }
            }
            self.msg_auth = Some(checked);
        }
        if let Err(e) = d.prepare() {
            return storage(e, self.sid);
        }
        if m.forged.removed() > 0 {
            info!(
                "{} removed {} Authentication-Results field(s) claiming to be ours ({})",
                self.sid,
                m.forged.removed(),
                self.cfg.hostname
            );
        }
        let cfg = &self.cfg;
        // The per-copy recipients matter only to a filter or a hook; skip
        // the copy of the envelope when neither is configured.
        let copies: Vec<crate::smtp::session::Recipient> =
            if cfg.filter_program.is_some() || self.shared.exec.is_some() {
                session
                    .envelope()
                    .map(|env| env.deliveries().into_iter().cloned().collect())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
        if let Some(filter) = &cfg.filter_program {
            for i in 0..d.len() {
                let path = d.tmp_path(i);
                let vars = self.vars(session, copies.get(i), d.mailbox(i), &path, true);
                match self.filter(filter, &path, &vars) {
                    Verdict::Accept => {}
                    Verdict::Drop => d.drop_copy(i),
                    // Dropping `d` removes every copy from tmp/.
                    Verdict::Refuse(text) => {
                        return Outcome::Refused(Reply::line(550, &format!("5.7.1 {text}")));
                    }
                    Verdict::TempFail => return Outcome::Failed(TempFailure::Local),
                }
            }
        }
        let spool_paths = match d.publish_with_paths() {
            Ok(p) => p,
            Err(e) => return storage(e, self.sid),
        };
        m.files = spool_paths.iter().map(|(_, n, _)| n.clone()).collect();
        self.messages += 1;
        if self.shared.exec.is_some() {
            for (i, _, path) in &spool_paths {
                let rcpt = copies.get(*i);
                let mailbox = rcpt.map(|r| r.mailbox.as_str()).unwrap_or_default();
                let vars = self.vars(session, rcpt, mailbox, path, false);
                self.hooks.push(hook::Job {
                    sid: self.sid.to_string(),
                    file: path.clone(),
                    vars,
                });
            }
        }
        Outcome::Stored(m.id.clone())
    }

    /// The TINYMX_* variables for one copy. Subject, Message-ID and Date are
    /// read from the file here for the filter; the exec worker reads them
    /// itself.
    fn vars(
        &self,
        session: &Session,
        rcpt: Option<&crate::smtp::session::Recipient>,
        mailbox: &str,
        file: &std::path::Path,
        with_header: bool,
    ) -> hook::Vars {
        let (helo, _) = session.helo().unwrap_or((b"", false));
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        let mut v: hook::Vars = vec![
            ("TINYMX_FILE", file.to_string_lossy().into_owned()),
            ("TINYMX_MAILBOX", mailbox.to_string()),
            (
                "TINYMX_RECIPIENT",
                rcpt.map(|r| r.address.clone()).unwrap_or_default(),
            ),
            (
                "TINYMX_SENDER",
                session
                    .envelope()
                    .map(|e| e.sender.clone())
                    .unwrap_or_default(),
            ),
            (
                "TINYMX_CLIENT_IP",
                safe::client_ip(self.peer.ip()).to_string(),
            ),
            ("TINYMX_HELO", safe::env_value(helo)),
            ("TINYMX_SIZE", size.to_string()),
            ("TINYMX_SESSION", self.sid.to_string()),
        ];
        // Empty when the sender was not checked (--no-auth, --auth-skip).
        let spf = self.spf.as_ref();
        v.push((
            "TINYMX_SPF",
            spf.map(|c| c.result().as_str().to_string())
                .unwrap_or_default(),
        ));
        v.push((
            "TINYMX_SPF_DOMAIN",
            spf.map(|c| c.outcome.domain.clone()).unwrap_or_default(),
        ));
        let msg = self.msg_auth.as_ref();
        v.push((
            "TINYMX_AUTH",
            match (spf, msg) {
                (Some(c), Some(m)) => auth::authres_value(c, m, &self.cfg.hostname),
                (Some(c), None) => c.authres_value(&self.cfg.hostname),
                _ => String::new(),
            },
        ));
        v.push((
            "TINYMX_DKIM",
            msg.map(|m| m.dkim_best().to_string()).unwrap_or_default(),
        ));
        v.push((
            "TINYMX_DKIM_DOMAINS",
            msg.map(auth::MessageAuth::dkim_domains).unwrap_or_default(),
        ));
        v.push((
            "TINYMX_DMARC",
            msg.map(|m| m.dmarc.result.as_str().to_string())
                .unwrap_or_default(),
        ));
        v.push((
            "TINYMX_FROM",
            msg.map(|m| safe::env_value(m.from.as_bytes()))
                .unwrap_or_default(),
        ));
        v.push((
            "TINYMX_FROM_DOMAIN",
            msg.map(|m| safe::env_value(m.from_domain.as_bytes()))
                .unwrap_or_default(),
        ));
        v.push((
            "TINYMX_DNSBL",
            self.dnsbl_result
                .as_ref()
                .map(Dnsbl::value)
                .unwrap_or_default(),
        ));
        let name = match self.iprev.as_ref().and_then(Pending::done) {
            Some(i) => safe::env_value(i.name.as_bytes()),
            None => String::new(),
        };
        v.push(("TINYMX_CLIENT_NAME", name));
        v.push((
            "TINYMX_TLS",
            self.tls_description().unwrap_or_default().to_string(),
        ));
        if with_header {
            hook::header_vars(file).push_to(&mut v);
        }
        v
    }

    /// Runs `--filter` on one copy in tmp/ and maps its exit status.
    fn filter(
        &self,
        program: &std::path::Path,
        path: &std::path::Path,
        vars: &hook::Vars,
    ) -> Verdict {
        let stdin = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                warn!("{} filter: cannot open {}: {e}", self.sid, path.display());
                return Verdict::TempFail;
            }
        };
        let timeout = Duration::from_secs(self.cfg.filter_timeout_secs);
        let out = hook::run(program, vars, stdin, timeout, true);
        let verdict = match out.status {
            hook::Status::Exited(0) => Verdict::Accept,
            hook::Status::Exited(FILTER_DROP) => Verdict::Drop,
            hook::Status::Exited(FILTER_REFUSE) => {
                let first = out.stdout.split(|&b| b == b'\n').next().unwrap_or(b"");
                let text = safe::reply_text(first, FILTER_TEXT_BYTES);
                Verdict::Refuse(if text.is_empty() {
                    "Message refused".to_string()
                } else {
                    text
                })
            }
            _ => Verdict::TempFail,
        };
        let what = match &verdict {
            Verdict::Accept => "accept",
            Verdict::Drop => "accept and drop",
            Verdict::Refuse(_) => "refuse",
            Verdict::TempFail => "temporary failure",
        };
        info!(
            "{} filter {} file={} {} -> {what}",
            self.sid,
            program.display(),
            path.display(),
            out.status
        );
        hook::log_stderr(&format!("{} filter", self.sid), &out.stderr);
        verdict
    }

    /// Opens the tmp files and writes each copy's trace headers.
    fn start_message(&self, session: &Session) -> Result<Incoming<'a>, TempFailure> {
        let shared: &'a Shared = self.shared;
        let env = session.envelope().ok_or(TempFailure::Local)?;
        let (helo, extended) = session.helo().unwrap_or((b"", false));
        let id = format!("{}.{}", self.sid, self.messages + 1);
        let copies = env.deliveries();
        let mailboxes: Vec<&str> = copies.iter().map(|r| r.mailbox.as_str()).collect();
        let now = date::unix_now();
        let date = date::rfc5322(now);
        let t = Trace {
            helo,
            extended,
            client_ip: self.peer.ip(),
            hostname: &self.cfg.hostname,
            session_id: self.sid,
            date: &date,
            tls: self.tls_description(),
        };
        let mut delivery = shared.spool.begin(&mailboxes).map_err(|e| {
            warn!("{} storage error: {e}", self.sid);
            failure(&e)
        })?;
        // The authentication fields come at the end (finish_message).
        for (i, rcpt) in copies.iter().enumerate() {
            let fields = trace::headers(&t, env, rcpt);
            delivery.write_to(i, fields.as_bytes()).map_err(|e| {
                warn!("{} storage error: {e}", self.sid);
                failure(&e)
            })?;
        }
        Ok(Incoming {
            delivery: Some(delivery),
            forged: ForgedFilter::new(&self.cfg.hostname),
            filtered: Vec::new(),
            spf: self.spf.as_ref().map(SpfCheck::result),
            dkim: self
                .spf
                .as_ref()
                .map(|_| crate::dkim::verify::Verifier::new(now)),
            id,
            sender: env.sender.clone(),
            recipients: env.recipients.iter().map(|r| r.address.clone()).collect(),
            files: Vec::new(),
        })
    }

    /// One line per accepted or refused message.
    fn log_message(&self, m: &Incoming, r: &Reply, size: u64) {
        let to = m
            .recipients
            .iter()
            .map(|r| format!("<{r}>"))
            .collect::<Vec<_>>()
            .join(",");
        #[cfg(feature = "tls")]
        let tls = match self.tls_description().and_then(|d| d.split_once(' ')) {
            Some((version, cipher)) => format!(" tls={version} cipher={cipher}"),
            None => String::new(),
        };
        #[cfg(not(feature = "tls"))]
        let tls = "";
        if r.code() == 250 {
            info!(
                "{} accepted id={} from=<{}> to={} client={} size={size}{}{}{tls} files={}",
                self.sid,
                m.id,
                m.sender,
                to,
                client(self.peer),
                if m.spf.is_some() { " spf=" } else { "" },
                m.spf.map_or("", |r| r.as_str()),
                m.files.join(",")
            );
        } else {
            info!(
                "{} refused id={} from=<{}> to={} client={} size={size}: {}",
                self.sid,
                m.id,
                m.sender,
                to,
                client(self.peer),
                r.text()
            );
        }
    }

    /// Sends queued replies; false if the peer is gone. Then hands the
    /// hooks of stored messages to the pool: after their 250 went out
    /// (or could not; the mail is stored either way).
    fn flush(&mut self) -> bool {
        let ok = self.send_queued();
        if let Some(pool) = &self.shared.exec {
            for job in self.hooks.drain(..) {
                let file = job.file.display().to_string();
                if !pool.submit(job) {
                    warn!(
                        "{} exec queue full ({} waiting): hook skipped for {file}; the mail stays in new/",
                        self.sid,
                        pool.queued()
                    );
                }
            }
        }
        ok
    }

    fn send_queued(&mut self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(t) = self.tls.as_mut() {
            let sent = t.send(&self.sock, &self.out);
            self.out.clear();
            if let Err(e) = sent {
                debug!("{} send: {e}", self.sid);
                return false;
            }
            return true;
        }
        let mut sent = 0;
        while sent < self.out.len() {
            match sys::send(&self.sock, &self.out[sent..], false) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    debug!("{} send: {e}", self.sid);
                    self.out.clear();
                    return false;
                }
            }
        }
        self.out.clear();
        true
    }

    /// The idle limit now: `--timeout`, or `--stress-timeout` in stress mode.
    fn idle_limit(&self) -> Duration {
        let cfg = &self.cfg;
        let secs = if self.shared.stress.load(Ordering::Relaxed) {
            cfg.stress_timeout_secs.min(cfg.idle_timeout_secs)
        } else {
            cfg.idle_timeout_secs
        };
        Duration::from_secs(secs)
    }

    /// When the current wait must end at the latest:
    /// - a command line must be complete within the idle limit of the last
    ///   reply (a client trickling one byte at a time gains nothing);
    /// - in DATA, as Postfix's smtpd_min_data_rate: each read of N bytes
    ///   extends the deadline by N / `min_data_rate` seconds, but never
    ///   past the idle limit from now;
    /// - the whole session ends at `--session-timeout`.
    fn deadline(&self, in_message: bool) -> Instant {
        let limit = self.idle_limit();
        let request = if in_message {
            self.data_deadline.min(Instant::now() + limit)
        } else {
            self.request_start + limit
        };
        request.min(self.session_deadline)
    }

    /// Credits a read of `n` message bytes to the DATA deadline.
    fn data_progress(&mut self, n: usize) {
        let rate = u128::from(self.cfg.min_data_rate.max(1));
        let nanos = n as u128 * 1_000_000_000 / rate;
        let credit = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        let cap = Instant::now() + self.idle_limit();
        self.data_deadline = (self.data_deadline + credit).min(cap);
    }

    /// Waits for input. Returns bytes read (0: peer closed), or why the
    /// session must end now: an abort, or the error that broke the socket.
    fn read(&mut self, buf: &mut Vec<u8>, session: &mut Session) -> Result<usize, Stop> {
        let in_message = session.in_message();
        loop {
            let idle_deadline = self.deadline(in_message);
            let stopping = self.shared.stopping.load(Ordering::SeqCst);
            if stopping && !in_message {
                return Err(Stop::Abort(Abort::Shutdown));
            }
            if stopping && self.grace_deadline.is_none() {
                let grace = Duration::from_secs(self.cfg.shutdown_grace_secs);
                self.grace_deadline = Some(Instant::now() + grace);
            }
            let deadline = match self.grace_deadline {
                Some(g) => g.min(idle_deadline),
                None => idle_deadline,
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(Stop::Abort(
                    if self.grace_deadline.is_some_and(|g| now >= g) {
                        Abort::Shutdown
                    } else {
                        Abort::Timeout
                    },
                ));
            }
            // Bytes TLS decrypted already need no wait; after the client's
            // close_notify nothing more is read, in TLS or in plain text.
            #[cfg(feature = "tls")]
            if let Some(t) = self.tls.as_mut() {
                if t.has_data() {
                    if buf.capacity() == 0 {
                        buf.reserve_exact(self.cfg.io_buffer_bytes.max(1));
                    }
                    let n = t.read(buf);
                    if in_message {
                        self.data_progress(n);
                    }
                    return Ok(n);
                }
                if t.closed() {
                    return Ok(0);
                }
            }
            // Wake at least once a second so stress mode takes effect
            // promptly, and early while holding a buffer between commands.
            let holding = !in_message && buf.capacity() > 0;
            let cap = if holding { HOLD_BUFFER_MS } else { MAX_POLL_MS };
            let wait_ms = (deadline - now).as_millis().clamp(1, cap) as i32;
            // Watch the stop pipe only until shutdown is noticed; after that
            // it stays readable and would spin.
            let ready = if stopping {
                sys::poll_readable(&[self.sock.as_fd()], wait_ms)
            } else {
                sys::poll_readable(&[self.sock.as_fd(), self.shared.stop_pipe.as_fd()], wait_ms)
            };
            match ready {
                Ok(r) if r[0] => {
                    if buf.capacity() == 0 {
                        buf.reserve_exact(self.cfg.io_buffer_bytes.max(1));
                    }
                    #[cfg(feature = "tls")]
                    if let Some(t) = self.tls.as_mut() {
                        let was_handshaking = t.handshaking();
                        let got = t.receive(&self.sock);
                        if was_handshaking && let Some(d) = t.description() {
                            info!("{} STARTTLS: {d}", self.sid);
                        }
                        // A failure is the disconnect line's `end=error (TLS: …)`.
                        match got {
                            Ok(()) => continue,
                            Err(e) => return Err(Stop::Tls(e)),
                        }
                    }
                    match sys::recv(&self.sock, buf) {
                        Ok(n) => {
                            if in_message {
                                self.data_progress(n);
                            }
                            return Ok(n);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => {
                            debug!("{} recv: {e}", self.sid);
                            return Err(Stop::Failed(e));
                        }
                    }
                }
                // Nothing arrived for a while: an idle session gives its
                // buffer back.
                Ok(_) if holding => {
                    *buf = Vec::new();
                    session.release_buffers();
                }
                Ok(_) => {}
                Err(e) => {
                    warn!("{} poll: {e}", self.sid);
                    return Err(Stop::Failed(e));
                }
            }
        }
    }
}
