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
    /// `--timeout`: idle limit while waiting for a command or for data.
    pub idle_timeout_secs: u64,
    /// `--user`: drop to this user (and group) after binding.
    pub user: Option<String>,
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
            hostname: String::new(),
            domains: Vec::new(),
            mailboxes: Vec::new(),
            catch_all: None,
            max_message_bytes: 10 * 1024 * 1024,
            max_connections: 64,
            max_connections_per_ip: 8,
            max_recipients: 100,
            idle_timeout_secs: 300,
            user: None,
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

    /// Is `domain` one we receive for? Exact, case-insensitive.
    pub fn accepts_domain(&self, domain: &str) -> bool {
        self.domains.is_empty() || self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}
