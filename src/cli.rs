//! Command line → `Config`. A small pull parser: each argument is taken
//! once, values are checked here, and the first problem is reported with
//! the flag's name.

use crate::config::{Config, Listen, Verbosity};
use crate::smtp::address;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

pub const USAGE: &str = "\
Usage: tinymx [OPTIONS]

Receive-only SMTP server: accepts mail for local mailboxes and stores each
message durably in a Maildir spool (SPOOL/MAILBOX/new/).

Options:
  -l, --listen ADDR:PORT   listen here; repeatable. Default [::]:25 as one
                           dual-stack socket, or 0.0.0.0:25 without IPv6.
                           Forms: 1.2.3.4:25, [::1]:2525, :2525 (all addresses).
                           Port 0 picks a free port; the real address is logged
                           as 'listening on ADDR'.
  -d, --spool DIR          Maildir root (default /var/spool/tinymx); created
                           with mode 0700 if missing
  -n, --hostname NAME      name in the greeting and Received header
                           (default: the system host name)
  -D, --domain DOMAIN      accept recipients in this domain; repeatable;
                           none given = any domain
  -m, --mailbox NAME       accept only these mailboxes; repeatable;
                           none given = any valid name
  -c, --catch-all NAME     deliver here when a recipient's mailbox is not
                           accepted
      --max-size BYTES     largest message, k/M/G = KiB/MiB/GiB (default 10M)
      --max-conn N         concurrent sessions in all (default 64)
      --max-per-ip N       concurrent sessions from one address (default 8)
      --max-rcpt N         recipients per message (default 100)
      --timeout SECS       idle limit waiting for a command or data (default 300)
  -u, --user USER[:GROUP]  after binding, drop to this user (name or number)
      --exec PROGRAM       after each message is stored, run PROGRAM once per
                           mailbox (no shell, no arguments; message on stdin,
                           details in TINYMX_* variables, see README)
      --exec-max N         hooks running at once (default 4)
      --exec-queue N       hooks waiting beyond that; when full a hook is
                           skipped and logged, the mail stays (default 1000)
      --exec-timeout SECS  kill a hook after this long (default 60)
      --filter PROGRAM     before replying to DATA, run PROGRAM on each copy:
                           exit 0 accept, 100 refuse (550, first line of its
                           output as the text), 99 accept without storing,
                           anything else 451 (try later)
      --filter-timeout SECS  kill the filter and answer 451 (default 60)
  -v, --verbose            log every command and reply
  -q, --quiet              log only warnings and errors
  -h, --help               show this help
  -V, --version            show the version

Exit status: 0 after SIGTERM/SIGINT, 1 if a port or the spool cannot be
used, 2 for a bad option.
";

#[derive(Debug, PartialEq)]
pub enum Action {
    Run(Config),
    Help,
    Version,
}

/// An argument that takes a value: `-x V`, `-xV`, `--long V`, `--long=V`.
enum Arg {
    Short(char, Option<String>),
    Long(String, Option<String>),
    Positional(String),
}

struct Parser {
    args: std::vec::IntoIter<String>,
}

impl Parser {
    fn next(&mut self) -> Option<Arg> {
        let a = self.args.next()?;
        if let Some(long) = a.strip_prefix("--") {
            return Some(match long.split_once('=') {
                Some((k, v)) => Arg::Long(k.to_string(), Some(v.to_string())),
                None => Arg::Long(long.to_string(), None),
            });
        }
        if a.len() >= 2 && a.starts_with('-') {
            let mut chars = a[1..].chars();
            let c = chars.next().unwrap_or('-');
            let rest: String = chars.collect();
            return Some(Arg::Short(
                c,
                if rest.is_empty() { None } else { Some(rest) },
            ));
        }
        Some(Arg::Positional(a))
    }

    /// The value of `flag`: attached, or the next argument.
    fn value(&mut self, flag: &str, attached: Option<String>) -> Result<String, String> {
        attached
            .or_else(|| self.args.next())
            .ok_or_else(|| format!("{flag}: missing value"))
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
    let mut p = Parser {
        args: args.into_iter(),
    };
    let mut cfg = Config::default();
    while let Some(arg) = p.next() {
        let (name, attached) = match arg {
            Arg::Positional(a) => return Err(format!("unexpected argument '{a}'")),
            Arg::Short(c, v) => {
                let long = match c {
                    'l' => "listen",
                    'd' => "spool",
                    'n' => "hostname",
                    'D' => "domain",
                    'm' => "mailbox",
                    'c' => "catch-all",
                    'u' => "user",
                    'v' => "verbose",
                    'q' => "quiet",
                    'h' => "help",
                    'V' => "version",
                    _ => return Err(format!("-{c}: unknown option")),
                };
                // Flags without a value take no attached text (-vq is not supported).
                if matches!(c, 'v' | 'q' | 'h' | 'V') && v.is_some() {
                    return Err(format!(
                        "-{c}: unknown option '-{c}{}'",
                        v.unwrap_or_default()
                    ));
                }
                (long.to_string(), v)
            }
            Arg::Long(name, v) => (name, v),
        };
        let flag = format!("--{name}");
        match name.as_str() {
            "help" => return Ok(Action::Help),
            "version" => return Ok(Action::Version),
            "verbose" | "quiet" if attached.is_some() => {
                return Err(format!("{flag}: takes no value"));
            }
            "verbose" => cfg.verbosity = Verbosity::Verbose,
            "quiet" => cfg.verbosity = Verbosity::Quiet,
            "listen" => {
                let v = p.value(&flag, attached)?;
                cfg.listen.push(parse_listen(&v).ok_or_else(|| {
                    format!("{flag}: invalid address '{v}' (use 1.2.3.4:25, [::1]:25 or :25)")
                })?);
            }
            "spool" => {
                let v = p.value(&flag, attached)?;
                if v.is_empty() {
                    return Err(format!("{flag}: empty path"));
                }
                cfg.spool_dir = PathBuf::from(v);
            }
            "hostname" => {
                let v = p.value(&flag, attached)?;
                if v.is_empty() || v.len() > 255 || !v.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(format!("{flag}: invalid host name '{v}'"));
                }
                cfg.hostname = v;
            }
            "domain" => {
                let v = p.value(&flag, attached)?;
                if !address::is_domain(v.as_bytes(), true) && !address::is_address_literal(&v) {
                    return Err(format!("{flag}: invalid domain '{v}'"));
                }
                cfg.domains.push(v.to_lowercase());
            }
            "mailbox" | "catch-all" => {
                let v = p.value(&flag, attached)?;
                if address::mailbox_name(&v).as_deref() != Some(v.as_str()) {
                    return Err(format!(
                        "{flag}: invalid mailbox name '{v}' (a-z 0-9 . _ -, not starting with '.', at most 64 bytes)"
                    ));
                }
                if name == "mailbox" {
                    cfg.mailboxes.push(v)
                } else {
                    cfg.catch_all = Some(v)
                }
            }
            "max-size" => {
                let v = p.value(&flag, attached)?;
                cfg.max_message_bytes = parse_size(&v).filter(|&n| n > 0).ok_or_else(|| {
                    format!(
                        "{flag}: invalid size '{v}' (a positive number with optional k, M or G)"
                    )
                })?;
            }
            "exec" | "filter" => {
                let v = p.value(&flag, attached)?;
                if v.is_empty() {
                    return Err(format!("{flag}: empty path"));
                }
                if name == "exec" {
                    cfg.exec_program = Some(PathBuf::from(v));
                } else {
                    cfg.filter_program = Some(PathBuf::from(v));
                }
            }
            "max-conn" | "max-per-ip" | "max-rcpt" | "timeout" | "exec-max" | "exec-queue"
            | "exec-timeout" | "filter-timeout" => {
                let v = p.value(&flag, attached)?;
                let n = v.parse::<u32>().ok().filter(|&n| n > 0).ok_or_else(|| {
                    format!("{flag}: invalid number '{v}' (a whole number from 1 to 4294967295)")
                })?;
                match name.as_str() {
                    "max-conn" => cfg.max_connections = n as usize,
                    "max-per-ip" => cfg.max_connections_per_ip = n as usize,
                    "max-rcpt" => cfg.max_recipients = n as usize,
                    "exec-max" => cfg.exec_max = n as usize,
                    "exec-queue" => cfg.exec_queue_max = n as usize,
                    "exec-timeout" => cfg.exec_timeout_secs = n as u64,
                    "filter-timeout" => cfg.filter_timeout_secs = n as u64,
                    _ => cfg.idle_timeout_secs = n as u64,
                }
            }
            "user" => {
                let v = p.value(&flag, attached)?;
                if v.is_empty() || v.starts_with(':') || v.ends_with(':') {
                    return Err(format!("{flag}: invalid user '{v}' (USER or USER:GROUP)"));
                }
                cfg.user = Some(v);
            }
            _ => return Err(format!("{flag}: unknown option")),
        }
    }
    Ok(Action::Run(cfg))
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
            Action::Run(c) => Ok(c),
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
        ];
        for (args, want) in cases {
            let err = run(args).unwrap_err();
            assert!(err.starts_with(want), "{args:?}: {err}");
        }
    }
}
