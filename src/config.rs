//! Run-time settings. Every limit and timeout is a named field with its
//! unit in the name; the defaults live in `Default` right below.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where to listen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// All addresses on a port (`:PORT` or the default): one dual-stack
    /// IPv6 socket, or IPv4 0.0.0.0 when the kernel has no IPv6.
    Any(u16),
    /// One address.
    Addr(SocketAddr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `--listen`; empty means `[::]:25` (dual-stack, IPv4 fallback).
    pub listen: Vec<Listen>,
    /// `--spool`: the Maildir root.
    pub spool_dir: PathBuf,
    /// At start-up, files in the spool's `tmp/` directories untouched for
    /// this long are leftovers of a crash and are removed (36 hours, the
    /// age the Maildir description gives); younger ones may belong to
    /// another instance writing to the same spool.
    pub stale_tmp_secs: u64,
    /// `--hostname`: greeting and Received header.
    pub hostname: String,
    /// `--domain`, lower-cased; empty means any domain.
    pub domains: Vec<String>,
    /// `--mailbox`; empty means any valid name.
    pub mailboxes: Vec<String>,
    /// `--catch-all`.
    pub catch_all: Option<String>,
    /// `--max-size`: message bytes after dot-unstuffing, CRLF counted as two.
    pub max_message_bytes: u64,
    /// `--max-conn`: concurrent sessions in all.
    pub max_connections: usize,
    /// `--max-per-ip`: concurrent sessions from one client address.
    pub max_connections_per_ip: usize,
    /// `--max-rcpt`: recipients per message.
    pub max_recipients: usize,
    /// `--timeout`: time allowed for one whole command line, counted from
    /// the previous reply; in DATA, the limit between reads (extended by
    /// `min_data_rate`).
    pub idle_timeout_secs: u64,
    /// `--session-timeout`: upper bound on a whole session.
    pub session_timeout_secs: u64,
    /// `--stress-timeout`: the idle limit in stress mode (sessions at 80%
    /// of `max_connections` or more).
    pub stress_timeout_secs: u64,
    /// In DATA, each N bytes read extend the deadline by N / this many
    /// seconds (bytes per second, as Postfix's smtpd_min_data_rate).
    pub min_data_rate: u64,
    /// `--max-rate`: new connections per minute from one client address.
    pub max_connections_per_minute: usize,
    /// `--max-errors`: refused commands before the session is closed with 421.
    pub max_errors: usize,
    /// `--min-free`: MAIL gets 452 4.3.1 while the spool has less free space;
    /// `None` means twice `max_message_bytes`.
    pub min_free_bytes: Option<u64>,
    /// `--user`: drop to this user (and group) after binding.
    pub user: Option<String>,
    /// `--background`: fork after binding, setsid, stdio to /dev/null.
    pub background: bool,
    /// `--pidfile`: written once ready, removed on exit.
    pub pidfile: Option<PathBuf>,
    /// `--syslog`: log lines go to `syslog_socket` (RFC 3164, facility mail).
    pub syslog: bool,
    /// `--syslog-socket`: the syslog datagram socket.
    pub syslog_socket: PathBuf,
    /// `--config`: the file SIGHUP re-reads.
    pub config_file: Option<PathBuf>,
    pub verbosity: Verbosity,
    /// On SIGTERM, how long a session in the middle of DATA may take to finish.
    pub shutdown_grace_secs: u64,
    /// Size of each session's input buffer and of its decoded-data buffer.
    pub io_buffer_bytes: usize,
    /// Stack size of each session thread.
    pub thread_stack_bytes: usize,
    /// `--exec`: run after each mailbox delivery.
    pub exec_program: Option<PathBuf>,
    /// `--exec-max`: hooks running at once.
    pub exec_max: usize,
    /// `--exec-queue`: hooks waiting to run; past this a hook is skipped
    /// (logged; the mail stays in new/).
    pub exec_queue_max: usize,
    /// `--exec-timeout`: a hook is killed after this long.
    pub exec_timeout_secs: u64,
    /// `--filter`: decides on each message before the reply to DATA.
    pub filter_program: Option<PathBuf>,
    /// `--filter-timeout`: past this the filter is killed and the sender
    /// gets 451.
    pub filter_timeout_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: Vec::new(),
            spool_dir: PathBuf::from("/var/spool/tinymx"),
            stale_tmp_secs: 36 * 3600,
            hostname: String::new(),
            domains: Vec::new(),
            mailboxes: Vec::new(),
            catch_all: None,
            max_message_bytes: 10 * 1024 * 1024,
            max_connections: 64,
            max_connections_per_ip: 8,
            max_recipients: 100,
            max_errors: 10,
            min_free_bytes: None,
            idle_timeout_secs: 300,
            session_timeout_secs: 1800,
            stress_timeout_secs: 10,
            min_data_rate: 500,
            max_connections_per_minute: 60,
            user: None,
            background: false,
            pidfile: None,
            syslog: false,
            syslog_socket: PathBuf::from("/dev/log"),
            config_file: None,
            verbosity: Verbosity::Normal,
            shutdown_grace_secs: 10,
            io_buffer_bytes: 16 * 1024,
            thread_stack_bytes: 64 * 1024,
            exec_program: None,
            exec_max: 4,
            exec_queue_max: 1000,
            exec_timeout_secs: 60,
            filter_program: None,
            filter_timeout_secs: 60,
        }
    }
}

impl Config {
    /// The listen addresses, with the default filled in.
    pub fn listen_or_default(&self) -> Vec<Listen> {
        if self.listen.is_empty() {
            vec![Listen::Any(25)]
        } else {
            self.listen.clone()
        }
    }

    /// Free spool space below which MAIL is refused for now.
    pub fn min_free(&self) -> u64 {
        self.min_free_bytes
            .unwrap_or(self.max_message_bytes.saturating_mul(2))
    }

    /// Is `domain` one we receive for? Exact, case-insensitive.
    pub fn accepts_domain(&self, domain: &str) -> bool {
        self.domains.is_empty() || self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}
