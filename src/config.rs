//! Run-time settings. Every limit and timeout is a named field with its
//! unit in the name; the defaults live in `Default` right below.

use std::net::{IpAddr, SocketAddr};
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

/// An address block, `192.0.2.0/24`, `2001:db8::/32` or one address
/// (`--auth-skip`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    pub addr: IpAddr,
    /// The prefix length: up to 32 for IPv4, 128 for IPv6.
    pub len: u8,
}

impl Net {
    /// `ADDR/LEN` or `ADDR` (a whole address); bits past the prefix must
    /// be zero, as in Postfix's mynetworks, so a typo is not a wider net.
    pub fn parse(s: &str) -> Option<Net> {
        let (a, len) = match s.split_once('/') {
            Some((a, l)) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => {
                // As u16, whose parser the binary has anyway, then cut.
                (a, Some(u8::try_from(l.parse::<u16>().ok()?).ok()?))
            }
            Some(_) => return None,
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let len = len.unwrap_or(bits);
        let net = Net { addr, len };
        (len <= bits && net.masked(addr) == bits_of(addr)).then_some(net)
    }

    /// Is `ip` inside? An IPv4 block holds only IPv4 addresses (callers
    /// pass IPv4-mapped clients as IPv4: `safe::client_ip`).
    pub fn contains(&self, ip: IpAddr) -> bool {
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        self.masked(ip) == self.masked(self.addr)
    }

    fn masked(&self, ip: IpAddr) -> u128 {
        let (v, width) = match ip {
            IpAddr::V4(a) => (u32::from(a) as u128, 32u32),
            IpAddr::V6(a) => (u128::from(a), 128u32),
        };
        let host_bits = width - u32::from(self.len).min(width);
        if host_bits >= 128 {
            0
        } else {
            v >> host_bits << host_bits
        }
    }
}

fn bits_of(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
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
    /// `--auth` / `--no-auth`: SPF on every transaction, and the
    /// Authentication-Results and Received-SPF fields.
    pub auth: bool,
    /// `--auth-skip`: clients not checked. None: `auth::default_skip()`
    /// (loopback); `--auth-skip none` gives an empty list.
    pub auth_skip: Option<Vec<Net>>,
    /// `--spf-reject`: an SPF `fail` gets 550 5.7.23 at MAIL FROM.
    pub spf_reject: bool,
    /// `--dmarc-reject`: a DMARC `fail` whose policy (after `t=y`) is
    /// `reject` gets 550 5.7.1 after the final dot; nothing is stored.
    pub dmarc_reject: bool,
    /// `--dns`: these nameservers instead of resolv.conf's.
    pub dns_servers: Vec<SocketAddr>,
    /// `--dns-timeout`: one query's limit; None: resolv.conf's, else 5 s.
    pub dns_timeout_secs: Option<u64>,
    /// `--greet-delay`: wait this long before the 220; a client that
    /// talks first gets 554 and is closed. 0: no wait.
    pub greet_delay_secs: u64,
    /// `--dnsbl` and `--dnswl`: the zones the client is looked up in;
    /// a listing adds the weight (negative for `dnswl`) to the score.
    pub dnsbl: Vec<crate::screen::Zone>,
    pub dnswl: Vec<crate::screen::Zone>,
    /// `--dnsbl-threshold`: a score this high gets 550 at RCPT.
    pub dnsbl_threshold: usize,
    /// All the zone lookups of one connection end by then.
    pub dnsbl_timeout_secs: u64,
    /// `--iprev` / `--no-iprev`: forward-confirmed reverse DNS of each
    /// checked client (with `auth`, not for `--auth-skip` clients).
    pub iprev: bool,
    /// The PTR and A/AAAA lookups of one connection end by then.
    pub iprev_timeout_secs: u64,
    /// EHLO offers STARTTLS (RFC 3207) and the session accepts it. Not an
    /// option: only a driver that can do the handshake (a build with TLS
    /// and a certificate loaded) sets it; otherwise STARTTLS gets 502.
    pub starttls: bool,
    /// `--tls-cert` and `--tls-key` (the `tls` build): the PEM chain and
    /// its key, read after the privilege drop and again on SIGHUP.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `--require-tls`: MAIL before STARTTLS gets 530 5.7.0.
    pub require_tls: bool,
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
            auth: true,
            auth_skip: None,
            spf_reject: false,
            dmarc_reject: false,
            dns_servers: Vec::new(),
            dns_timeout_secs: None,
            greet_delay_secs: 0,
            dnsbl: Vec::new(),
            dnswl: Vec::new(),
            dnsbl_threshold: 1,
            dnsbl_timeout_secs: 10,
            iprev: true,
            iprev_timeout_secs: 10,
            starttls: false,
            tls_cert: None,
            tls_key: None,
            require_tls: false,
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

    /// The clients not checked (`--auth-skip`, or loopback).
    pub fn auth_skip(&self) -> &[Net] {
        const LOOPBACK: [Net; 2] = crate::auth::default_skip();
        self.auth_skip.as_deref().unwrap_or(&LOOPBACK)
    }

    /// Is `domain` one we receive for? Exact, case-insensitive.
    pub fn accepts_domain(&self, domain: &str) -> bool {
        self.domains.is_empty() || self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}

#[cfg(test)]
mod tests {
    use super::Net;

    #[test]
    fn nets() {
        let n = |s: &str| Net::parse(s);
        assert_eq!(n("127.0.0.0/8").unwrap().to_string(), "127.0.0.0/8");
        assert_eq!(n("::1").unwrap().to_string(), "::1/128");
        assert_eq!(n("192.0.2.7").unwrap().to_string(), "192.0.2.7/32");
        assert_eq!(n("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
        assert_eq!(n("::/0").unwrap().to_string(), "::/0");
        for bad in [
            "127.0.0.1/8",
            "10.0.0.0/33",
            "::1/129",
            "10.0.0.0/",
            "10/8",
            "x",
            "",
            "1.2.3.4/+8",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
        let net = n("2001:db8::/32").unwrap();
        assert!(net.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!net.contains("2001:db9::1".parse().unwrap()));
        assert!(!n("0.0.0.0/0").unwrap().contains("::1".parse().unwrap()));
        assert!(
            n("0.0.0.0/0")
                .unwrap()
                .contains("203.0.113.9".parse().unwrap())
        );
    }
}
