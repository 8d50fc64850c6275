//! Command line and configuration file → `Config`. Every option is one
//! entry of `OPTIONS`: its `--help` block (whose first line names it), the
//! kind of value it takes together with the `Config` field it sets, and
//! whether a SIGHUP reload may change it. The command-line parser,
//! `--help`, the configuration file and the reload all read that table,
//! so adding an option is adding one entry.
//!
//! The command line is read by a small pull parser: each argument is
//! taken once, every value is checked by its kind (`Kind::set`), and the
//! first problem is reported with the flag's name.
//!
//! The configuration file holds the same long options, one per line
//! (`max-size 10M`, `domain example.org`, `verbose`); `#` starts a comment.
//! Options on the command line win: a single-valued one overrides the
//! file, and a repeatable one (`listen`, `domain`, `mailbox`) given on the
//! command line replaces the file's list.

use crate::config::{Config, Listen, Net, Verbosity};
use crate::smtp::address;
use Kind::*;
use Reload::*;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

/// `--help` before the option blocks.
pub(crate) const USAGE_HEAD: &str = "\
Usage: tinymx [OPTIONS]
       tinymx show [--header NAME]... [--body] [--json] FILE
       tinymx extract FILE DIR

Receive-only SMTP server: accepts mail for local mailboxes and stores each
message durably in a Maildir spool (SPOOL/MAILBOX/new/).

Options:
";

/// `--help` after the option blocks.
const USAGE_TAIL: &str = "
Exit status: 0 after SIGTERM/SIGINT, 1 if a port or the spool cannot be
used, 2 for a bad option.
";

/// The kind of value an option takes, and the `Config` field it sets
/// (as a function returning that field). The kind decides how the value
/// is checked, whether it takes one at all, and whether the option may
/// be repeated (the kinds that add to a list).
#[derive(Clone, Copy)]
pub enum Kind {
    /// A switch: no value; sets the flag.
    Switch(fn(&mut Config) -> &mut bool),
    /// A switch that clears the flag (`--no-auth`).
    SwitchOff(fn(&mut Config) -> &mut bool),
    /// A switch that sets the log level.
    Level(Verbosity),
    /// A whole number from 1 to 4294967295.
    Count(fn(&mut Config) -> &mut usize),
    /// Seconds, from 1 to 4294967295.
    Seconds(fn(&mut Config) -> &mut u64),
    /// Seconds, from 0 (off) to 4294967295.
    SecondsOrOff(fn(&mut Config) -> &mut u64),
    /// `ZONE[=WEIGHT]`, a DNS block list (`false`) or allow list; repeatable.
    Zones(fn(&mut Config) -> &mut Vec<crate::screen::Zone>, bool),
    /// Seconds as for `Seconds`, for a limit that has another source when
    /// not given (resolv.conf).
    MaybeSeconds(fn(&mut Config) -> &mut Option<u64>),
    /// Bytes with an optional k, M or G (binary); more than 0.
    Size(fn(&mut Config) -> &mut u64),
    /// Bytes as for `Size`, where 0 turns the check off.
    SizeOrOff(fn(&mut Config) -> &mut Option<u64>),
    /// `1.2.3.4:25`, `[::1]:25` or `:25`; repeatable.
    Address(fn(&mut Config) -> &mut Vec<Listen>),
    /// Printable ASCII without spaces, 1 to 255 bytes.
    HostName(fn(&mut Config) -> &mut String),
    /// A domain or an address literal, stored lower-cased; repeatable.
    Domain(fn(&mut Config) -> &mut Vec<String>),
    /// A valid mailbox name (`address::mailbox_name`); repeatable.
    Mailboxes(fn(&mut Config) -> &mut Vec<String>),
    /// One valid mailbox name.
    Mailbox(fn(&mut Config) -> &mut Option<String>),
    /// A non-empty path that has a default.
    Path(fn(&mut Config) -> &mut PathBuf),
    /// A non-empty path that is off unless given.
    MaybePath(fn(&mut Config) -> &mut Option<PathBuf>),
    /// `ADDR` or `ADDR/LEN`, or `none` for an empty list; repeatable.
    Nets(fn(&mut Config) -> &mut Option<Vec<Net>>),
    /// A nameserver, `ADDR` or `ADDR:PORT` (`[ADDR]:PORT` for IPv6), port
    /// 53 by default; repeatable.
    Nameserver(fn(&mut Config) -> &mut Vec<SocketAddr>),
    /// `USER` or `USER:GROUP`, resolved at start-up.
    User(fn(&mut Config) -> &mut Option<String>),
    /// `--config FILE`: kept in `Options`, read by `Options::load`.
    ConfigFile,
    /// `--help`.
    Help,
    /// `--version`.
    Version,
}

/// What a SIGHUP reload does with an option.
#[derive(Clone, Copy)]
pub enum Reload {
    /// The new value applies to sessions that start afterwards.
    Live,
    /// Fixed at start-up: a reload keeps the old value, with a warning.
    /// The function puts the old value (second argument) back into the
    /// new configuration, with `keep`, and says whether they differed.
    Restart(fn(&mut Config, &Config) -> bool),
    /// Command line only; refused in a configuration file.
    CommandLineOnly,
}

/// One option.
pub struct Opt {
    pub kind: Kind,
    pub reload: Reload,
    /// The option's block of `--help`, every line ending in a newline. The
    /// first line starts `  -X, --LONG` or `      --LONG`, which is where
    /// `long` and `short` read the names; a stated default reads
    /// `(default VALUE)`, which a unit test checks against
    /// `Config::default`. (The names are not separate fields: each string
    /// in this static table costs a relocation in the static-pie binary.)
    pub help: &'static str,
}

impl Opt {
    /// Where the long name starts: after `  -X, --` or `      --`, which
    /// are both this long. It ends at the first space.
    const NAME_AT: usize = 8;

    /// The long name, without `--`.
    pub fn long(&self) -> &'static str {
        let help: &'static str = self.help;
        let name = &help[Self::NAME_AT..];
        &name[..name.find(' ').unwrap_or(name.len())]
    }

    /// The one-letter name, if there is one.
    pub fn short(&self) -> Option<char> {
        self.help.strip_prefix("  -")?.chars().next()
    }
}

/// `Restart` for a field: a reload puts the old value back (`keep`).
macro_rules! restart {
    ($field:ident) => {
        Restart(|next, old| keep(&mut next.$field, &old.$field))
    };
}

/// Every option, in `--help` order. An entry's `help` is its block of
/// `--help` exactly as printed, and its first line names the option.
/// Laid out by hand, one entry per block (kind and reload, then the help
/// text), so that it reads as the table it is.
#[rustfmt::skip]
pub static OPTIONS: &[Opt] = &[
    Opt { kind: Address(|c| &mut c.listen), reload: restart!(listen),
        help: "  -l, --listen ADDR:PORT   listen here; repeatable. Default [::]:25 as one
                           dual-stack socket, or 0.0.0.0:25 without IPv6.
                           Forms: 1.2.3.4:25, [::1]:2525, :2525 (all addresses).
                           Port 0 picks a free port; the real address is logged
                           as 'listening on ADDR'.
" },
    Opt { kind: Path(|c| &mut c.spool_dir), reload: restart!(spool_dir),
        help: "  -d, --spool DIR          Maildir root (default /var/spool/tinymx); created
                           with mode 0700 if missing
" },
    Opt { kind: HostName(|c| &mut c.hostname), reload: restart!(hostname),
        help: "  -n, --hostname NAME      name in the greeting and Received header
                           (default: the system host name)
" },
    Opt { kind: Domain(|c| &mut c.domains), reload: Live,
        help: "  -D, --domain DOMAIN      accept recipients in this domain; repeatable;
                           none given = any domain
" },
    Opt { kind: Mailboxes(|c| &mut c.mailboxes), reload: Live,
        help: "  -m, --mailbox NAME       accept only these mailboxes; repeatable;
                           none given = any valid name
" },
    Opt { kind: Mailbox(|c| &mut c.catch_all), reload: Live,
        help: "  -c, --catch-all NAME     deliver here when a recipient's mailbox is not
                           accepted
" },
    Opt { kind: Size(|c| &mut c.max_message_bytes), reload: Live,
        help: "      --max-size BYTES     largest message, k/M/G = KiB/MiB/GiB (default 10M)\n" },
    Opt { kind: Count(|c| &mut c.max_connections), reload: Live,
        help: "      --max-conn N         concurrent sessions in all (default 64)\n" },
    Opt { kind: Count(|c| &mut c.max_connections_per_ip), reload: Live,
        help: "      --max-per-ip N       concurrent sessions from one address (default 8)\n" },
    Opt { kind: Count(|c| &mut c.max_recipients), reload: Live,
        help: "      --max-rcpt N         recipients per message (default 100)\n" },
    Opt { kind: Seconds(|c| &mut c.idle_timeout_secs), reload: Live,
        help: "      --timeout SECS       time for one command line, or between reads in DATA
                           (default 300); DATA must also average 500 bytes/s
" },
    Opt { kind: Seconds(|c| &mut c.session_timeout_secs), reload: Live,
        help: "      --session-timeout SECS  limit on a whole session (default 1800)\n" },
    Opt { kind: Seconds(|c| &mut c.stress_timeout_secs), reload: Live,
        help: "      --stress-timeout SECS   the --timeout used while sessions are at 80% of
                           --max-conn or more (default 10)
" },
    Opt { kind: Count(|c| &mut c.max_connections_per_minute), reload: Live,
        help: "      --max-rate N         new connections per minute from one address
                           (default 60)
" },
    Opt { kind: Count(|c| &mut c.max_errors), reload: Live,
        help: "      --max-errors N       refused commands before 421 and close (default 10)\n" },
    Opt { kind: SizeOrOff(|c| &mut c.min_free_bytes), reload: Live,
        help: "      --min-free BYTES     MAIL gets 452 4.3.1 while the spool file system has
                           less free space (default twice --max-size)
" },
    Opt { kind: User(|c| &mut c.user), reload: restart!(user),
        help: "  -u, --user USER[:GROUP]  after binding, drop to this user (name or number)\n" },
    Opt { kind: Switch(|c| &mut c.background), reload: restart!(background),
        help: "  -b, --background         detach after binding (fork, setsid); the parent
                           exits 0 once tinymx is ready, 1 if start-up failed
" },
    Opt { kind: MaybePath(|c| &mut c.pidfile), reload: restart!(pidfile),
        help: "      --pidfile FILE       write the pid here once ready; removed on exit\n" },
    Opt { kind: Switch(|c| &mut c.syslog), reload: restart!(syslog),
        help: "      --syslog             log to syslog (facility mail) instead of stderr\n" },
    Opt { kind: Path(|c| &mut c.syslog_socket), reload: restart!(syslog_socket),
        help: "      --syslog-socket PATH the syslog socket (default /dev/log)\n" },
    Opt { kind: ConfigFile, reload: CommandLineOnly,
        help: "      --config FILE        read options from FILE, one 'long-option value'
                           per line ('#' comments); command-line options
                           win. SIGHUP re-reads it for new sessions.
" },
    Opt { kind: MaybePath(|c| &mut c.exec_program), reload: restart!(exec_program),
        help: "      --exec PROGRAM       after each message is stored, run PROGRAM once per
                           mailbox (no shell, no arguments; message on stdin,
                           details in TINYMX_* variables, see README)
" },
    Opt { kind: Count(|c| &mut c.exec_max), reload: restart!(exec_max),
        help: "      --exec-max N         hooks running at once (default 4)\n" },
    Opt { kind: Count(|c| &mut c.exec_queue_max), reload: restart!(exec_queue_max),
        help: "      --exec-queue N       hooks waiting beyond that; when full a hook is
                           skipped and logged, the mail stays (default 1000)
" },
    Opt { kind: Seconds(|c| &mut c.exec_timeout_secs), reload: restart!(exec_timeout_secs),
        help: "      --exec-timeout SECS  kill a hook after this long (default 60)\n" },
    Opt { kind: MaybePath(|c| &mut c.filter_program), reload: Live,
        help: "      --filter PROGRAM     before replying to DATA, run PROGRAM on each copy:
                           exit 0 accept, 100 refuse (550, first line of its
                           output as the text), 99 accept without storing,
                           anything else 451 (try later)
" },
    Opt { kind: Seconds(|c| &mut c.filter_timeout_secs), reload: Live,
        help: "      --filter-timeout SECS  kill the filter and answer 451 (default 60)\n" },
    Opt { kind: Switch(|c| &mut c.auth), reload: Live,
        help: "      --auth               check each sender (SPF) and message (DKIM, DMARC)
                           and add the results to every copy as
                           Authentication-Results and Received-SPF (the default)
" },
    Opt { kind: SwitchOff(|c| &mut c.auth), reload: Live,
        help: "      --no-auth            no sender checks, no such fields\n" },
    Opt { kind: Nets(|c| &mut c.auth_skip), reload: Live,
        help: "      --auth-skip NET      do not check clients in NET (ADDR or ADDR/LEN): no
                           sender checks, greeting delay or DNS lists;
                           repeatable (default: 127.0.0.0/8 and ::1; 'none'
                           checks every client)
" },
    Opt { kind: Switch(|c| &mut c.spf_reject), reload: Live,
        help: "      --spf-reject         answer an SPF fail with 550 5.7.23 at MAIL FROM
                           (default: the result is only recorded)
" },
    Opt { kind: Switch(|c| &mut c.dmarc_reject), reload: Live,
        help: "      --dmarc-reject       answer a DMARC fail under p=reject with 550 5.7.1
                           after the final dot, nothing stored (default: the
                           result is only recorded; quarantine never refused)
" },
    Opt { kind: Nameserver(|c| &mut c.dns_servers), reload: restart!(dns_servers),
        help: "      --dns ADDR[:PORT]    ask this nameserver instead of those in
                           /etc/resolv.conf; repeatable ([::1]:53 for IPv6)
" },
    Opt { kind: MaybeSeconds(|c| &mut c.dns_timeout_secs), reload: restart!(dns_timeout_secs),
        help: "      --dns-timeout SECS   one DNS query's time limit (default: resolv.conf's
                           timeout:, else 5)
" },
    Opt { kind: SecondsOrOff(|c| &mut c.greet_delay_secs), reload: Live,
        help: "      --greet-delay SECS   wait this long before the greeting; a client that
                           talks first gets 554 and is closed (default 0: off;
                           postscreen uses 6)
" },
    Opt { kind: Zones(|c| &mut c.dnsbl, false), reload: Live,
        help: "      --dnsbl ZONE[=WEIGHT]  look the client up in this DNS block list
                           (weight 1 to 1000, default 1); repeatable
" },
    Opt { kind: Zones(|c| &mut c.dnswl, true), reload: Live,
        help: "      --dnswl ZONE[=WEIGHT]  a DNS allow list: a listing subtracts WEIGHT
                           (default 1; '=-2' means the same as '=2'); repeatable
" },
    Opt { kind: Count(|c| &mut c.dnsbl_threshold), reload: Live,
        help: "      --dnsbl-threshold N  a score this high gets 550 5.7.1 at each RCPT
                           (default 1)
" },
    Opt { kind: Switch(|c| &mut c.iprev), reload: Live,
        help: "      --iprev              with --auth: confirm the client's reverse DNS name
                           forward (iprev) for Authentication-Results and
                           TINYMX_CLIENT_NAME (the default)
" },
    Opt { kind: SwitchOff(|c| &mut c.iprev), reload: Live,
        help: "      --no-iprev           no reverse DNS lookups\n" },
    Opt { kind: MaybePath(|c| &mut c.tls_cert), reload: Live,
        help: "      --tls-cert FILE      offer STARTTLS with this PEM chain (TLS build
                           only: make tls); read again on SIGHUP
" },
    Opt { kind: MaybePath(|c| &mut c.tls_key), reload: Live,
        help: "      --tls-key FILE       its PEM private key\n" },
    Opt { kind: Switch(|c| &mut c.require_tls), reload: Live,
        help: "      --require-tls        MAIL before STARTTLS gets 530 5.7.0\n" },
    Opt { kind: Level(Verbosity::Verbose), reload: Live,
        help: "  -v, --verbose            log every command and reply\n" },
    Opt { kind: Level(Verbosity::Quiet), reload: Live,
        help: "  -q, --quiet              log only warnings and errors\n" },
    Opt { kind: Help, reload: CommandLineOnly,
        help: "  -h, --help               show this help\n" },
    Opt { kind: Version, reload: CommandLineOnly,
        help: "  -V, --version            show the version\n" },
];

impl Kind {
    /// Does the option take a value?
    pub fn takes_value(self) -> bool {
        !matches!(self, Switch(_) | SwitchOff(_) | Level(_) | Help | Version)
    }

    /// Does each use add to a list?
    pub fn repeatable(self) -> bool {
        matches!(
            self,
            Address(_) | Domain(_) | Mailboxes(_) | Nets(_) | Nameserver(_) | Zones(..)
        )
    }

    /// Checks `v`, the value given for `flag`, and stores it in `cfg`.
    fn set(self, cfg: &mut Config, flag: &str, v: String) -> Result<(), String> {
        match self {
            Switch(field) => *field(cfg) = true,
            SwitchOff(field) => *field(cfg) = false,
            Level(level) => cfg.verbosity = level,
            Count(field) => *field(cfg) = parse_count(flag, &v)? as usize,
            Seconds(field) => *field(cfg) = parse_count(flag, &v)? as u64,
            MaybeSeconds(field) => *field(cfg) = Some(parse_count(flag, &v)? as u64),
            SecondsOrOff(field) => {
                *field(cfg) = if v == "0" {
                    0
                } else {
                    parse_count(flag, &v)? as u64
                }
            }
            Zones(field, allow) => field(cfg).push(
                crate::screen::Zone::parse(&v, allow)
                    .ok_or_else(|| format!("{flag}: invalid zone '{v}' (ZONE or ZONE=WEIGHT)"))?,
            ),
            Nets(field) => {
                let list = field(cfg).get_or_insert_default();
                if v != "none" {
                    list.push(Net::parse(&v).ok_or_else(|| {
                        format!("{flag}: invalid network '{v}' (ADDR, ADDR/LEN or none)")
                    })?);
                }
            }
            Nameserver(field) => field(cfg).push(parse_nameserver(&v).ok_or_else(|| {
                format!("{flag}: invalid nameserver '{v}' (1.2.3.4, 1.2.3.4:53, ::1 or [::1]:53)")
            })?),
            Size(_) | SizeOrOff(_) => {
                let n = parse_size(&v)
                    .filter(|&n| n > 0 || matches!(self, SizeOrOff(_)))
                    .ok_or_else(|| {
                        format!(
                            "{flag}: invalid size '{v}' (a positive number with optional k, M or G)"
                        )
                    })?;
                match self {
                    Size(field) => *field(cfg) = n,
                    SizeOrOff(field) => *field(cfg) = Some(n),
                    _ => {}
                }
            }
            Address(field) => field(cfg).push(parse_listen(&v).ok_or_else(|| {
                format!("{flag}: invalid address '{v}' (use 1.2.3.4:25, [::1]:25 or :25)")
            })?),
            HostName(field) => {
                if v.is_empty() || v.len() > 255 || !v.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(format!("{flag}: invalid host name '{v}'"));
                }
                *field(cfg) = v;
            }
            Domain(field) => {
                if !address::is_domain(v.as_bytes(), true) && !address::is_address_literal(&v) {
                    return Err(format!("{flag}: invalid domain '{v}'"));
                }
                field(cfg).push(v.to_lowercase());
            }
            Mailboxes(_) | Mailbox(_) => {
                if address::mailbox_name(&v).as_deref() != Some(v.as_str()) {
                    return Err(format!(
                        "{flag}: invalid mailbox name '{v}' (a-z 0-9 . _ -, not starting with '.', at most 64 bytes)"
                    ));
                }
                match self {
                    Mailboxes(field) => field(cfg).push(v),
                    Mailbox(field) => *field(cfg) = Some(v),
                    _ => {}
                }
            }
            Path(_) | MaybePath(_) => {
                if v.is_empty() {
                    return Err(format!("{flag}: empty path"));
                }
                match self {
                    Path(field) => *field(cfg) = PathBuf::from(v),
                    MaybePath(field) => *field(cfg) = Some(PathBuf::from(v)),
                    _ => {}
                }
            }
            User(field) => {
                if v.is_empty() || v.starts_with(':') || v.ends_with(':') {
                    return Err(format!("{flag}: invalid user '{v}' (USER or USER:GROUP)"));
                }
                *field(cfg) = Some(v);
            }
            // Not settings of `Config`: `parse` handles them.
            ConfigFile | Help | Version => {}
        }
        Ok(())
    }
}

/// Counts and seconds: 1 to 4294967295.
fn parse_count(flag: &str, v: &str) -> Result<u32, String> {
    v.parse::<u32>().ok().filter(|&n| n > 0).ok_or_else(|| {
        format!("{flag}: invalid number '{v}' (a whole number from 1 to 4294967295)")
    })
}

/// The option with this long name.
pub fn find(long: &str) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.long() == long)
}

fn find_short(short: char) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.short() == Some(short))
}

/// The `--help` text.
pub fn usage() -> String {
    let mut s = String::from(USAGE_HEAD);
    for o in OPTIONS {
        s.push_str(o.help);
    }
    s.push_str(USAGE_TAIL);
    s
}

/// SIGHUP: puts the old value back into `next` for every option that
/// needs a restart, and names those whose value `next` had changed
/// (`listen, exec-max`; empty if none).
pub fn keep_restart_only(next: &mut Config, old: &Config) -> String {
    let mut changed = String::new();
    for o in OPTIONS {
        if let Restart(keep_old) = o.reload
            && keep_old(next, old)
        {
            if !changed.is_empty() {
                changed.push_str(", ");
            }
            changed.push_str(o.long());
        }
    }
    changed
}

/// Puts `old` back into `next`; true if they differed.
fn keep<T: PartialEq + Clone>(next: &mut T, old: &T) -> bool {
    let changed = next != old;
    *next = old.clone();
    changed
}

/// The TLS options go together, and only in a build with TLS (checked on
/// the whole configuration, at start-up and on SIGHUP).
pub fn check_tls(cfg: &Config) -> Result<(), String> {
    if !cfg!(feature = "tls") {
        let given = cfg.tls_cert.is_some() || cfg.tls_key.is_some() || cfg.require_tls;
        return match given {
            true => Err(
                "--tls-cert, --tls-key, --require-tls: this tinymx is built without \
                         TLS ('make tls' builds one with it)"
                    .into(),
            ),
            false => Ok(()),
        };
    }
    match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(_), None) => Err("--tls-cert needs --tls-key".into()),
        (None, Some(_)) => Err("--tls-key needs --tls-cert".into()),
        (None, None) if cfg.require_tls => {
            Err("--require-tls needs --tls-cert and --tls-key".into())
        }
        _ => Ok(()),
    }
}

#[derive(Debug, PartialEq)]
pub enum Action {
    Run(Options),
    Help,
    Version,
}

/// One option as given: its long name and its value, if it takes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    pub value: Option<String>,
}

/// The command line, kept so a reload can re-apply it over a new file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub settings: Vec<Setting>,
    pub config_file: Option<PathBuf>,
}

impl Options {
    /// The configuration: the file's options, then the command line's.
    pub fn load(&self) -> Result<Config, String> {
        let mut cfg = Config::default();
        if let Some(path) = &self.config_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--config: cannot read {}: {e}", path.display()))?;
            for (n, setting) in
                parse_config_text(&text).map_err(|e| format!("{}:{e}", path.display()))?
            {
                let given = |name: &str| self.settings.iter().any(|s| s.name == name);
                if find(&setting.name).is_some_and(|o| o.kind.repeatable()) && given(&setting.name)
                {
                    continue;
                }
                apply(&mut cfg, &setting).map_err(|e| format!("{}:{n}: {e}", path.display()))?;
            }
            cfg.config_file = Some(path.clone());
        }
        for s in &self.settings {
            apply(&mut cfg, s)?;
        }
        Ok(cfg)
    }

    /// `load`, then the checks that span options (`check_tls`): what
    /// start-up and a reload use.
    pub fn load_checked(&self) -> Result<Config, String> {
        let cfg = self.load()?;
        check_tls(&cfg)?;
        Ok(cfg)
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Action, String> {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|a| format!("argument is not UTF-8: {}", a.to_string_lossy()))
        })
        .collect::<Result<_, _>>()?;
    let mut args = args.into_iter();
    let mut opts = Options {
        settings: Vec::new(),
        config_file: None,
    };
    while let Some(a) = args.next() {
        let (opt, attached, flag) = split_arg(&a)?;
        let value = match opt.kind {
            Help => return Ok(Action::Help),
            Version => return Ok(Action::Version),
            k if k.takes_value() => Some(
                attached
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag}: missing value"))?,
            ),
            _ if attached.is_some() => return Err(format!("{flag}: takes no value")),
            _ => None,
        };
        if let ConfigFile = opt.kind {
            let path = value.unwrap_or_default();
            if path.is_empty() {
                return Err("--config: empty path".into());
            }
            opts.config_file = Some(PathBuf::from(path));
            continue;
        }
        let setting = Setting {
            name: opt.long().to_string(),
            value,
        };
        // Check the value now, so a bad flag is reported before anything starts.
        apply(&mut Config::default(), &setting)?;
        opts.settings.push(setting);
    }
    Ok(Action::Run(opts))
}

/// One argument: its option, the value attached to it (`--long=V`,
/// `-xV`), and the flag's name for messages.
fn split_arg(a: &str) -> Result<(&'static Opt, Option<String>, String), String> {
    if let Some(long) = a.strip_prefix("--") {
        let (name, attached) = match long.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (long, None),
        };
        let flag = format!("--{name}");
        let opt = find(name).ok_or_else(|| format!("{flag}: unknown option"))?;
        return Ok((opt, attached, flag));
    }
    let Some(short) = a.strip_prefix('-').filter(|s| !s.is_empty()) else {
        return Err(format!("unexpected argument '{a}'"));
    };
    let mut chars = short.chars();
    let c = chars.next().unwrap_or('-');
    let rest = chars.as_str();
    let opt = find_short(c).ok_or_else(|| format!("-{c}: unknown option"))?;
    // Switches take no attached text: one switch per argument.
    if !opt.kind.takes_value() && !rest.is_empty() {
        return Err(if matches!(a, "-vq" | "-qv") {
            "-v and -q cannot be combined".to_string()
        } else {
            format!("-{c}: takes no value; give each switch on its own ('{a}')")
        });
    }
    let attached = (!rest.is_empty()).then(|| rest.to_string());
    Ok((opt, attached, format!("--{}", opt.long())))
}

/// Parses a configuration file's text into (line number, setting) pairs.
pub fn parse_config_text(text: &str) -> Result<Vec<(usize, Setting)>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (name, value) = match line.split_once(char::is_whitespace) {
            Some((k, v)) => (k.trim_start_matches("--"), Some(v.trim().to_string())),
            None => (line.trim_start_matches("--"), None),
        };
        let Some(opt) = find(name) else {
            return Err(format!("{n}: --{name}: unknown option"));
        };
        if let CommandLineOnly = opt.reload {
            return Err(format!(
                "{n}: '{name}' cannot be used in a configuration file"
            ));
        }
        match (opt.kind.takes_value(), &value) {
            (false, Some(_)) => return Err(format!("{n}: --{name}: takes no value")),
            (true, None) => return Err(format!("{n}: --{name}: missing value")),
            _ => {}
        }
        out.push((
            n,
            Setting {
                name: name.to_string(),
                value,
            },
        ));
    }
    Ok(out)
}

/// Checks one option's value and stores it in `cfg`.
pub fn apply(cfg: &mut Config, s: &Setting) -> Result<(), String> {
    let flag = format!("--{}", s.name);
    let opt = find(&s.name).ok_or_else(|| format!("{flag}: unknown option"))?;
    opt.kind
        .set(cfg, &flag, s.value.clone().unwrap_or_default())
}

/// A nameserver: `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353`.
pub fn parse_nameserver(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| Some(SocketAddr::new(s.parse().ok()?, 53)))
        .filter(|a| a.port() != 0)
}

/// `1.2.3.4:25`, `[::1]:2525`, `:2525`.
pub fn parse_listen(s: &str) -> Option<Listen> {
    if let Some(port) = s.strip_prefix(':') {
        return parse_port(port).map(Listen::Any);
    }
    s.parse::<SocketAddr>().ok().map(Listen::Addr)
}

fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `1000`, `512k`, `10M`, `1G` (binary: k = 1024).
pub fn parse_size(s: &str) -> Option<u64> {
    let (digits, mult) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1u64 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        b'G' | b'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, String> {
        match parse(args.iter().map(OsString::from))? {
            Action::Run(o) => o.load(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = run(&[]).unwrap();
        assert_eq!(c.listen_or_default(), vec![Listen::Any(25)]);
        assert_eq!(c.spool_dir, PathBuf::from("/var/spool/tinymx"));
        assert_eq!(c.max_message_bytes, 10 << 20);
        assert_eq!(
            (
                c.max_connections,
                c.max_connections_per_ip,
                c.max_recipients
            ),
            (64, 8, 100)
        );
        assert_eq!(c.idle_timeout_secs, 300);
    }

    #[test]
    fn every_flag_long_and_short() {
        let c = run(&[
            "-l",
            "127.0.0.1:2525",
            "--listen",
            "[::1]:0",
            "--listen=:26",
            "-l:27",
            "-d",
            "/tmp/s",
            "-n",
            "mx.example.org",
            "-D",
            "Example.ORG",
            "--domain=b.org",
            "-m",
            "alice",
            "--mailbox",
            "bob",
            "-c",
            "misc",
            "--max-size",
            "2M",
            "--max-conn",
            "5",
            "--max-per-ip",
            "2",
            "--max-rcpt",
            "7",
            "--timeout",
            "9",
            "-u",
            "nobody:nogroup",
            "-v",
        ])
        .unwrap();
        assert_eq!(
            c.listen,
            vec![
                Listen::Addr("127.0.0.1:2525".parse().unwrap()),
                Listen::Addr("[::1]:0".parse().unwrap()),
                Listen::Any(26),
                Listen::Any(27)
            ]
        );
        assert_eq!(c.spool_dir, PathBuf::from("/tmp/s"));
        assert_eq!(c.hostname, "mx.example.org");
        assert_eq!(c.domains, vec!["example.org", "b.org"]);
        assert_eq!(c.mailboxes, vec!["alice", "bob"]);
        assert_eq!(c.catch_all.as_deref(), Some("misc"));
        assert_eq!(c.max_message_bytes, 2 << 20);
        assert_eq!(
            (
                c.max_connections,
                c.max_connections_per_ip,
                c.max_recipients,
                c.idle_timeout_secs
            ),
            (5, 2, 7, 9)
        );
        assert_eq!(c.user.as_deref(), Some("nobody:nogroup"));
        assert_eq!(c.verbosity, Verbosity::Verbose);
        assert_eq!(run(&["-q"]).unwrap().verbosity, Verbosity::Quiet);
    }

    #[test]
    fn hook_flags() {
        let c = run(&[]).unwrap();
        assert_eq!(c.exec_program, None);
        assert_eq!(c.filter_program, None);
        assert_eq!(
            (
                c.exec_max,
                c.exec_queue_max,
                c.exec_timeout_secs,
                c.filter_timeout_secs
            ),
            (4, 1000, 60, 60)
        );
        let c = run(&[
            "--exec",
            "/usr/local/bin/on-mail",
            "--exec-max=2",
            "--exec-queue",
            "10",
            "--exec-timeout",
            "5",
            "--filter=/etc/tinymx/filter",
            "--filter-timeout",
            "7",
        ])
        .unwrap();
        assert_eq!(
            c.exec_program,
            Some(PathBuf::from("/usr/local/bin/on-mail"))
        );
        assert_eq!(c.filter_program, Some(PathBuf::from("/etc/tinymx/filter")));
        assert_eq!(
            (
                c.exec_max,
                c.exec_queue_max,
                c.exec_timeout_secs,
                c.filter_timeout_secs
            ),
            (2, 10, 5, 7)
        );
        for (args, want) in [
            (&["--exec"][..], "--exec: missing value"),
            (&["--exec="], "--exec: empty path"),
            (&["--filter", ""], "--filter: empty path"),
            (&["--exec-max", "0"], "--exec-max: invalid number '0'"),
            (
                &["--exec-timeout", "x"],
                "--exec-timeout: invalid number 'x'",
            ),
            (
                &["--filter-timeout", "-1"],
                "--filter-timeout: invalid number '-1'",
            ),
            (&["--exec-queue", "0"], "--exec-queue: invalid number '0'"),
        ] {
            let err = run(args).unwrap_err();
            assert!(err.starts_with(want), "{args:?}: {err}");
        }
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse([OsString::from("-h")]), Ok(Action::Help));
        assert_eq!(parse([OsString::from("--help")]), Ok(Action::Help));
        assert_eq!(parse([OsString::from("-V")]), Ok(Action::Version));
        assert_eq!(parse([OsString::from("--version")]), Ok(Action::Version));
    }

    /// A file of its own for each call: tests run in parallel threads, and
    /// two that wrote the same name raced (one removed what the other was
    /// about to read).
    fn write(name: &str, text: &str) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("tinymx-cli-{}-{n}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn config_file_options_and_command_line_precedence() {
        let path = write(
            "ok.conf",
            "# tinymx settings\n\ndomain example.org   # the main one\ndomain example.net\nmax-size 2M\n--mailbox bob\nverbose\ncatch-all misc\n",
        );
        let opts = match parse([
            "--config".into(),
            path.clone().into_os_string(),
            "--max-size".into(),
            "5M".into(),
        ])
        .unwrap()
        {
            Action::Run(o) => o,
            other => panic!("{other:?}"),
        };
        let c = opts.load().unwrap();
        assert_eq!(c.domains, vec!["example.org", "example.net"]);
        assert_eq!(c.max_message_bytes, 5 << 20, "the command line wins");
        assert_eq!(c.mailboxes, vec!["bob"]);
        assert_eq!(c.verbosity, Verbosity::Verbose);
        assert_eq!(c.catch_all.as_deref(), Some("misc"));
        assert_eq!(c.config_file.as_deref(), Some(path.as_path()));
        // A repeatable option on the command line replaces the file's list.
        let c = run(&["--config", path.to_str().unwrap(), "-D", "other.org"]).unwrap();
        assert_eq!(c.domains, vec!["other.org"]);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn config_file_errors_name_file_and_line() {
        let bad = write("bad.conf", "domain example.org\nmax-size lots\n");
        let err = run(&["--config", bad.to_str().unwrap()]).unwrap_err();
        assert_eq!(
            err,
            format!(
                "{}:2: --max-size: invalid size 'lots' (a positive number with optional k, M or G)",
                bad.display()
            )
        );
        for (text, want) in [
            ("frobnicate 1\n", ":1: --frobnicate: unknown option"),
            ("domain\n", ":1: --domain: missing value"),
            ("verbose yes\n", ":1: --verbose: takes no value"),
            (
                "config /etc/x\n",
                ":1: 'config' cannot be used in a configuration file",
            ),
        ] {
            std::fs::write(&bad, text).unwrap();
            let err = run(&["--config", bad.to_str().unwrap()]).unwrap_err();
            assert_eq!(err, format!("{}{want}", bad.display()), "{text:?}");
        }
        let _ = std::fs::remove_file(&bad);
        let err = run(&["--config", "/nonexistent/tinymx.conf"]).unwrap_err();
        assert!(
            err.starts_with("--config: cannot read /nonexistent/tinymx.conf: "),
            "{err}"
        );
    }

    #[test]
    fn service_options() {
        let c = run(&[
            "-b",
            "--pidfile",
            "/run/t.pid",
            "--syslog",
            "--syslog-socket",
            "/tmp/log",
        ])
        .unwrap();
        assert!(c.background && c.syslog);
        assert_eq!(
            c.pidfile.as_deref(),
            Some(std::path::Path::new("/run/t.pid"))
        );
        assert_eq!(c.syslog_socket, PathBuf::from("/tmp/log"));
        assert_eq!(run(&[]).unwrap().syslog_socket, PathBuf::from("/dev/log"));
    }

    #[test]
    fn sizes_are_binary() {
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("10M"), Some(10 * 1024 * 1024));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("k"), None);
        assert_eq!(parse_size("1.5M"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
    }

    #[test]
    fn bad_values_name_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--max-size", "lots"], "--max-size: invalid size 'lots'"),
            (&["--max-size", "0"], "--max-size: invalid size '0'"),
            (&["--max-conn", "0"], "--max-conn: invalid number '0'"),
            (&["--timeout", "-5"], "--timeout: invalid number '-5'"),
            (
                &["-l", "localhost"],
                "--listen: invalid address 'localhost'",
            ),
            (&["-l", "1.2.3.4"], "--listen: invalid address '1.2.3.4'"),
            (&["-l", ":99999"], "--listen: invalid address ':99999'"),
            (&["--listen"], "--listen: missing value"),
            (
                &["-D", "bad_domain"],
                "--domain: invalid domain 'bad_domain'",
            ),
            (
                &["-m", "../etc"],
                "--mailbox: invalid mailbox name '../etc'",
            ),
            (&["-m", "Alice"], "--mailbox: invalid mailbox name 'Alice'"),
            (&["-c", ".x"], "--catch-all: invalid mailbox name '.x'"),
            (&["--frobnicate"], "--frobnicate: unknown option"),
            (&["-x"], "-x: unknown option"),
            (&["stray"], "unexpected argument 'stray'"),
            (&["-u", ""], "--user: invalid user ''"),
            (&["-n", "a b"], "--hostname: invalid host name 'a b'"),
            (&["--verbose=yes"], "--verbose: takes no value"),
            (&["-vq"], "-v and -q cannot be combined"),
            (&["-qv"], "-v and -q cannot be combined"),
            (
                &["-vb"],
                "-v: takes no value; give each switch on its own ('-vb')",
            ),
            (
                &["-V1"],
                "-V: takes no value; give each switch on its own ('-V1')",
            ),
        ];
        for (args, want) in cases {
            let err = run(args).unwrap_err();
            assert!(err.starts_with(want), "{args:?}: {err}");
        }
    }

    /// A valid value of each kind, different from every default.
    fn sample(kind: Kind) -> Option<&'static str> {
        Some(match kind {
            Switch(_) | SwitchOff(_) | Level(_) | Help | Version => return None,
            Count(_) | Seconds(_) | MaybeSeconds(_) | SecondsOrOff(_) => "7",
            Zones(..) => "bl.test.example=2",
            Nets(_) => "192.0.2.0/24",
            Nameserver(_) => "[::1]:5353",
            Size(_) | SizeOrOff(_) => "3M",
            Address(_) => "127.0.0.1:2599",
            HostName(_) => "mx.test.example",
            Domain(_) => "test.example",
            Mailboxes(_) | Mailbox(_) => "sam",
            Path(_) | MaybePath(_) | ConfigFile => "/tmp/tinymx-table-test",
            User(_) => "nobody",
        })
    }

    /// The configuration from a file holding just `line`.
    fn from_file(name: &str, line: &str) -> Result<Config, String> {
        let path = write(&format!("table-{name}.conf"), &format!("{line}\n"));
        let c = run(&["--config", path.to_str().unwrap()]).map(|mut c| {
            c.config_file = None;
            c
        });
        let _ = std::fs::remove_file(path);
        c
    }

    #[test]
    fn every_table_entry_is_in_help_and_parses_by_each_name() {
        let help = usage();
        for o in OPTIONS {
            let long = o.long();
            let flags = match o.short() {
                Some(c) => format!("  -{c}, --{long}"),
                None => format!("      --{long}"),
            };
            let rest = &o.help[flags.len()..];
            assert!(o.help.starts_with(&flags), "{long}: {:?}", o.help);
            assert!(rest.starts_with([' ', '\n']), "{long}: {:?}", o.help);
            assert!(o.help.ends_with('\n') && help.contains(o.help), "{long}");
            assert_eq!(find(long).map(Opt::long), Some(long));
            let value = sample(o.kind);
            let mut by_long = vec![format!("--{long}")];
            by_long.extend(value.map(String::from));
            let mut by_short: Vec<Vec<String>> = Vec::new();
            if let Some(c) = o.short() {
                let mut separate = vec![format!("-{c}")];
                separate.extend(value.map(String::from));
                by_short.push(separate);
                if let Some(v) = value {
                    by_short.push(vec![format!("-{c}{v}")]);
                }
            }
            if let Some(v) = value {
                by_short.push(vec![format!("--{long}={v}")]);
            }
            let parsed = |args: &[String]| parse(args.iter().map(OsString::from));
            match o.kind {
                Help | Version => {
                    for args in by_short.iter().chain([&by_long]) {
                        let action = parsed(args).unwrap();
                        let want = matches!(o.kind, Help) && action == Action::Help
                            || matches!(o.kind, Version) && action == Action::Version;
                        assert!(want, "{args:?}: {action:?}");
                    }
                }
                ConfigFile => {
                    let Ok(Action::Run(opts)) = parsed(&by_long) else {
                        panic!("{long}")
                    };
                    assert_eq!(opts.config_file, value.map(PathBuf::from));
                }
                _ => {
                    let args: Vec<&str> = by_long.iter().map(String::as_str).collect();
                    let c = run(&args).unwrap();
                    if !o.help.contains("(the default)") {
                        assert_ne!(c, Config::default(), "{long} sets nothing");
                    }
                    for args in &by_short {
                        let args: Vec<&str> = args.iter().map(String::as_str).collect();
                        assert_eq!(run(&args).as_ref(), Ok(&c), "{args:?}");
                    }
                    let line = format!("{long} {}", value.unwrap_or(""))
                        .trim_end()
                        .to_string();
                    assert_eq!(from_file(long, &line), Ok(c), "{line:?} in a file");
                }
            }
            if let CommandLineOnly = o.reload {
                let err = from_file(long, &format!("{long} {}", value.unwrap_or("")));
                assert!(
                    err.unwrap_err().ends_with(&format!(
                        ":1: '{long}' cannot be used in a configuration file"
                    )),
                    "{long}"
                );
            }
        }
        let repeatable: Vec<&str> = OPTIONS
            .iter()
            .filter(|o| o.kind.repeatable())
            .map(Opt::long)
            .collect();
        assert_eq!(
            repeatable,
            [
                "listen",
                "domain",
                "mailbox",
                "auth-skip",
                "dns",
                "dnsbl",
                "dnswl"
            ]
        );
    }

    #[test]
    fn every_table_entry_is_classified_for_reload() {
        let mut restart = Vec::new();
        for o in OPTIONS
            .iter()
            .filter(|o| !matches!(o.reload, CommandLineOnly))
        {
            let long = o.long();
            let line = format!("{long} {}", sample(o.kind).unwrap_or(""));
            // What a SIGHUP reads: the file alone, over a server that runs
            // with the defaults.
            let reloaded = from_file(long, line.trim_end()).unwrap();
            let old = Config::default();
            let mut next = reloaded.clone();
            let kept = keep_restart_only(&mut next, &old);
            match o.reload {
                Restart(_) => {
                    assert_eq!(kept, long, "{long} is reported");
                    assert_eq!(next, old, "{long} keeps its old value");
                    restart.push(long);
                }
                _ => {
                    assert_eq!(kept, "", "{long} applies");
                    assert_eq!(next, reloaded, "{long} applies");
                }
            }
        }
        assert_eq!(
            restart,
            [
                "listen",
                "spool",
                "hostname",
                "user",
                "background",
                "pidfile",
                "syslog",
                "syslog-socket",
                "exec",
                "exec-max",
                "exec-queue",
                "exec-timeout",
                "dns",
                "dns-timeout"
            ]
        );
        let mut next = Config {
            exec_max: 9,
            listen: vec![Listen::Any(2525)],
            ..Config::default()
        };
        assert_eq!(
            keep_restart_only(&mut next, &Config::default()),
            "listen, exec-max"
        );
    }

    #[test]
    fn auth_options() {
        let c = run(&[
            "--no-auth",
            "--spf-reject",
            "--dmarc-reject",
            "--dns",
            "192.0.2.53",
            "--dns",
            "[::1]:5353",
        ])
        .unwrap();
        assert!(!c.auth && c.spf_reject && c.dmarc_reject);
        let want: Vec<SocketAddr> = vec![
            "192.0.2.53:53".parse().unwrap(),
            "[::1]:5353".parse().unwrap(),
        ];
        assert_eq!(c.dns_servers, want);
        assert_eq!(parse_nameserver("::1"), "[::1]:53".parse().ok());
        for bad in ["", "host.example", "1.2.3.4:0", "[::1]", "1.2.3.4:99999"] {
            assert_eq!(parse_nameserver(bad), None, "{bad}");
        }
        assert_eq!(
            run(&[]).unwrap().auth_skip(),
            crate::auth::default_skip().to_vec()
        );
        assert_eq!(run(&["--auth-skip", "none"]).unwrap().auth_skip(), vec![]);
        let c = run(&["--auth-skip", "none", "--auth-skip", "10.0.0.0/8"]).unwrap();
        assert_eq!(c.auth_skip(), vec![Net::parse("10.0.0.0/8").unwrap()]);
        let err = run(&["--auth-skip", "10.0.0.1/8"]).unwrap_err();
        assert_eq!(
            err,
            "--auth-skip: invalid network '10.0.0.1/8' (ADDR, ADDR/LEN or none)"
        );
        assert_eq!(
            run(&["--dns-timeout", "2"]).unwrap().dns_timeout_secs,
            Some(2)
        );
    }

    #[test]
    fn defaults_stated_in_help_are_the_real_ones() {
        let mut checked = 0;
        for o in OPTIONS {
            let Some(at) = o.help.find("(default ") else {
                continue;
            };
            let rest = &o.help[at + "(default ".len()..];
            let value = &rest[..rest.find(')').unwrap()];
            if value.contains(' ') {
                continue; // "(default twice --max-size)"
            }
            let mut c = Config::default();
            o.kind.set(&mut c, o.long(), value.to_string()).unwrap();
            assert_eq!(c, Config::default(), "--{}: (default {value})", o.long());
            checked += 1;
        }
        assert_eq!(checked, 16);
    }

    #[test]
    fn the_tls_options_go_together() {
        let check = |args: &[&str]| check_tls(&run(args).unwrap());
        assert_eq!(check(&[]), Ok(()));
        let refused = "--tls-cert, --tls-key, --require-tls: this tinymx is built without TLS \
                       ('make tls' builds one with it)";
        for (args, with_tls) in [
            (
                &["--tls-cert", "c.pem"][..],
                Err("--tls-cert needs --tls-key"),
            ),
            (&["--tls-key", "k.pem"], Err("--tls-key needs --tls-cert")),
            (
                &["--require-tls"],
                Err("--require-tls needs --tls-cert and --tls-key"),
            ),
            (
                &["--tls-cert", "c.pem", "--tls-key", "k.pem", "--require-tls"],
                Ok(()),
            ),
        ] {
            let want = if cfg!(feature = "tls") {
                with_tls
            } else {
                Err(refused)
            };
            assert_eq!(check(args), want.map_err(String::from), "{args:?}");
        }
    }
}
