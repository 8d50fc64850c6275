//! Command line and configuration file → `Config`. A small pull parser:
//! each argument is taken once, every value is checked in one place
//! (`apply`), and the first problem is reported with the flag's name.
//!
//! The configuration file holds the same long options, one per line
//! (`max-size 10M`, `domain example.org`, `verbose`); `#` starts a comment.
//! Options on the command line win: a single-valued one overrides the
//! file, and a repeatable one (`listen`, `domain`, `mailbox`) given on the
//! command line replaces the file's list.

use crate::config::{Config, Listen, Verbosity};
use crate::smtp::address;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

pub const USAGE: &str = "\
Usage: tinymx [OPTIONS]
       tinymx show [--header NAME]... [--body] [--json] FILE
       tinymx extract FILE DIR

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
      --timeout SECS       time for one command line, or between reads in DATA
                           (default 300); DATA must also average 500 bytes/s
      --session-timeout SECS  limit on a whole session (default 1800)
      --stress-timeout SECS   the --timeout used while sessions are at 80% of
                           --max-conn or more (default 10)
      --max-rate N         new connections per minute from one address
                           (default 60)
      --max-errors N       refused commands before 421 and close (default 10)
      --min-free BYTES     MAIL gets 452 4.3.1 while the spool file system has
                           less free space (default twice --max-size)
  -u, --user USER[:GROUP]  after binding, drop to this user (name or number)
  -b, --background         detach after binding (fork, setsid); the parent
                           exits 0 once tinymx is ready, 1 if start-up failed
      --pidfile FILE       write the pid here once ready; removed on exit
      --syslog             log to syslog (facility mail) instead of stderr
      --syslog-socket PATH the syslog socket (default /dev/log)
      --config FILE        read options from FILE, one 'long-option value'
                           per line ('#' comments); command-line options
                           win. SIGHUP re-reads it for new sessions.
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
                if REPEATABLE.contains(&setting.name.as_str()) && given(&setting.name) {
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
}

/// Options that may be given more than once, adding to a list.
const REPEATABLE: [&str; 3] = ["listen", "domain", "mailbox"];
/// Options that take no value.
const SWITCHES: [&str; 5] = ["verbose", "quiet", "background", "syslog", "help"];
/// Options that take a value.
const VALUED: [&str; 26] = [
    "listen",
    "spool",
    "hostname",
    "domain",
    "mailbox",
    "catch-all",
    "max-size",
    "min-free",
    "max-conn",
    "max-per-ip",
    "max-rcpt",
    "timeout",
    "session-timeout",
    "stress-timeout",
    "max-rate",
    "max-errors",
    "user",
    "pidfile",
    "syslog-socket",
    "config",
    "exec",
    "exec-max",
    "exec-queue",
    "exec-timeout",
    "filter",
    "filter-timeout",
];

fn long_name(short: char) -> Option<&'static str> {
    Some(match short {
        'l' => "listen",
        'd' => "spool",
        'n' => "hostname",
        'D' => "domain",
        'm' => "mailbox",
        'c' => "catch-all",
        'u' => "user",
        'b' => "background",
        'v' => "verbose",
        'q' => "quiet",
        'h' => "help",
        'V' => "version",
        _ => return None,
    })
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
        let (name, attached, flag) = if let Some(long) = a.strip_prefix("--") {
            match long.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string()), format!("--{k}")),
                None => (long.to_string(), None, a.clone()),
            }
        } else if a.len() >= 2 && a.starts_with('-') {
            let mut chars = a[1..].chars();
            let c = chars.next().unwrap_or('-');
            let rest: String = chars.collect();
            let Some(long) = long_name(c) else {
                return Err(format!("-{c}: unknown option"));
            };
            // Switches take no attached text: one switch per argument.
            if (SWITCHES.contains(&long) || long == "version") && !rest.is_empty() {
                return Err(if matches!(a.as_str(), "-vq" | "-qv") {
                    "-v and -q cannot be combined".to_string()
                } else {
                    format!("-{c}: takes no value; give each switch on its own ('{a}')")
                });
            }
            (
                long.to_string(),
                if rest.is_empty() { None } else { Some(rest) },
                format!("--{long}"),
            )
        } else {
            return Err(format!("unexpected argument '{a}'"));
        };
        match name.as_str() {
            "help" => return Ok(Action::Help),
            "version" => return Ok(Action::Version),
            n if !SWITCHES.contains(&n) && !VALUED.contains(&n) => {
                return Err(format!("{flag}: unknown option"));
            }
            _ => {}
        }
        let value = if SWITCHES.contains(&name.as_str()) {
            if attached.is_some() {
                return Err(format!("{flag}: takes no value"));
            }
            None
        } else {
            Some(
                attached
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag}: missing value"))?,
            )
        };
        let setting = Setting { name, value };
        if setting.name == "config" {
            let path = setting.value.unwrap_or_default();
            if path.is_empty() {
                return Err("--config: empty path".into());
            }
            opts.config_file = Some(PathBuf::from(path));
            continue;
        }
        // Check the value now, so a bad flag is reported before anything starts.
        apply(&mut Config::default(), &setting)?;
        opts.settings.push(setting);
    }
    Ok(Action::Run(opts))
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
        if matches!(name, "config" | "help" | "version") {
            return Err(format!(
                "{n}: '{name}' cannot be used in a configuration file"
            ));
        }
        match (SWITCHES.contains(&name), &value) {
            (true, Some(_)) => return Err(format!("{n}: --{name}: takes no value")),
            (false, None) => return Err(format!("{n}: --{name}: missing value")),
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
    let v = s.value.clone().unwrap_or_default();
    match s.name.as_str() {
        "verbose" => cfg.verbosity = Verbosity::Verbose,
        "quiet" => cfg.verbosity = Verbosity::Quiet,
        "background" => cfg.background = true,
        "syslog" => cfg.syslog = true,
        "listen" => cfg.listen.push(parse_listen(&v).ok_or_else(|| {
            format!("{flag}: invalid address '{v}' (use 1.2.3.4:25, [::1]:25 or :25)")
        })?),
        "spool" | "pidfile" | "syslog-socket" | "exec" | "filter" => {
            if v.is_empty() {
                return Err(format!("{flag}: empty path"));
            }
            match s.name.as_str() {
                "spool" => cfg.spool_dir = PathBuf::from(v),
                "pidfile" => cfg.pidfile = Some(PathBuf::from(v)),
                "exec" => cfg.exec_program = Some(PathBuf::from(v)),
                "filter" => cfg.filter_program = Some(PathBuf::from(v)),
                _ => cfg.syslog_socket = PathBuf::from(v),
            }
        }
        "hostname" => {
            if v.is_empty() || v.len() > 255 || !v.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!("{flag}: invalid host name '{v}'"));
            }
            cfg.hostname = v;
        }
        "domain" => {
            if !address::is_domain(v.as_bytes(), true) && !address::is_address_literal(&v) {
                return Err(format!("{flag}: invalid domain '{v}'"));
            }
            cfg.domains.push(v.to_lowercase());
        }
        "mailbox" | "catch-all" => {
            if address::mailbox_name(&v).as_deref() != Some(v.as_str()) {
                return Err(format!(
                    "{flag}: invalid mailbox name '{v}' (a-z 0-9 . _ -, not starting with '.', at most 64 bytes)"
                ));
            }
            if s.name == "mailbox" {
                cfg.mailboxes.push(v)
            } else {
                cfg.catch_all = Some(v)
            }
        }
        "max-size" | "min-free" => {
            let n = parse_size(&v)
                .filter(|&n| n > 0 || s.name == "min-free")
                .ok_or_else(|| {
                    format!(
                        "{flag}: invalid size '{v}' (a positive number with optional k, M or G)"
                    )
                })?;
            if s.name == "max-size" {
                cfg.max_message_bytes = n;
            } else {
                cfg.min_free_bytes = Some(n);
            }
        }
        "max-conn" | "max-per-ip" | "max-rcpt" | "timeout" | "session-timeout"
        | "stress-timeout" | "max-rate" | "max-errors" | "exec-max" | "exec-queue"
        | "exec-timeout" | "filter-timeout" => {
            let n = v.parse::<u32>().ok().filter(|&n| n > 0).ok_or_else(|| {
                format!("{flag}: invalid number '{v}' (a whole number from 1 to 4294967295)")
            })?;
            match s.name.as_str() {
                "max-conn" => cfg.max_connections = n as usize,
                "max-per-ip" => cfg.max_connections_per_ip = n as usize,
                "max-rcpt" => cfg.max_recipients = n as usize,
                "session-timeout" => cfg.session_timeout_secs = n as u64,
                "stress-timeout" => cfg.stress_timeout_secs = n as u64,
                "max-rate" => cfg.max_connections_per_minute = n as usize,
                "max-errors" => cfg.max_errors = n as usize,
                "exec-max" => cfg.exec_max = n as usize,
                "exec-queue" => cfg.exec_queue_max = n as usize,
                "exec-timeout" => cfg.exec_timeout_secs = n as u64,
                "filter-timeout" => cfg.filter_timeout_secs = n as u64,
                _ => cfg.idle_timeout_secs = n as u64,
            }
        }
        "user" => {
            if v.is_empty() || v.starts_with(':') || v.ends_with(':') {
                return Err(format!("{flag}: invalid user '{v}' (USER or USER:GROUP)"));
            }
            cfg.user = Some(v);
        }
        _ => return Err(format!("{flag}: unknown option")),
    }
    Ok(())
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

    fn write(name: &str, text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("tinymx-cli-{}-{name}", std::process::id()));
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
}
