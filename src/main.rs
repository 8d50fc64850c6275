//! tinymx: a receive-only SMTP server that stores each message in a
//! Maildir spool. See README.md.

use std::path::Path;
use std::process::ExitCode;
use tinymx::config::Config;
use tinymx::{cli, info, listener, log, maildir, sys, tool, warn};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // The MIME tools are subcommands; everything else is the server.
    match args.first().and_then(|a| a.to_str()) {
        Some("show") => return tool::show(&args[1..]),
        Some("extract") => return tool::extract(&args[1..]),
        _ => {}
    }
    let opts = match cli::parse(args) {
        Ok(cli::Action::Run(opts)) => opts,
        Ok(cli::Action::Help) => return tool::write_stdout(cli::usage().as_bytes(), "--help"),
        Ok(cli::Action::Version) => {
            let v = format!("tinymx {}\n", env!("CARGO_PKG_VERSION"));
            return tool::write_stdout(v.as_bytes(), "--version");
        }
        Err(msg) => return usage_error(&msg),
    };
    let cfg = match opts.load_checked() {
        Ok(cfg) => cfg,
        Err(msg) => return usage_error(&msg),
    };
    match run(cfg, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            tool::stderr_line(&format!("tinymx: {msg}"));
            ExitCode::from(code)
        }
    }
}

fn usage_error(msg: &str) -> ExitCode {
    tool::stderr_line(&format!(
        "tinymx: {msg}\nTry 'tinymx --help' for more information."
    ));
    ExitCode::from(EXIT_USAGE)
}

/// Exit status when start-up fails: a port, the spool, the pid file.
const EXIT_FAILURE: u8 = 1;
/// Exit status for a bad option or value (also an unknown `--user`).
const EXIT_USAGE: u8 = 2;
/// The host name when `--hostname` is not given and the system has none.
const FALLBACK_HOSTNAME: &str = "localhost";
/// What a `--background` child writes to its parent once it is ready.
const READY_BYTE: &[u8] = b"R";
/// Mode of a pid-file directory that tinymx creates (`/run/tinymx/`).
const PIDFILE_DIR_MODE: u32 = 0o755;

/// A start-up failure: the exit status and the message.
type Failure = (u8, String);

/// The server: start-up in the order the README gives (bind, detach,
/// spool, privilege drop, pid file), the accept loop, then clean-up.
fn run(mut cfg: Config, opts: cli::Options) -> Result<(), Failure> {
    start_logging(&cfg);
    if cfg.hostname.is_empty() {
        cfg.hostname = sys::hostname()
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| FALLBACK_HOSTNAME.into());
    }
    // A user that does not exist is a bad value: exit 2 before binding.
    let ids = match &cfg.user {
        Some(spec) => Some(listener::resolve_user(spec).map_err(|e| (EXIT_USAGE, e))?),
        None => None,
    };
    let listeners = listener::bind_all(&cfg).map_err(|e| (EXIT_FAILURE, e))?;
    // Detach only now, so that bind errors still reached the terminal;
    // the parent waits until the child says it is ready (or failed).
    let ready_pipe = if cfg.background {
        Some(detach()?)
    } else {
        None
    };
    let spool = open_spool_as_user(&cfg, ids)?;
    let pidfile = cfg.pidfile.clone();
    if let Some(p) = &pidfile {
        write_pidfile_as_user(p, ids)?;
    }
    listener::warn_if_short_of_space(&spool, &cfg, "startup");
    remove_stale_tmp(&spool, &cfg);
    let reload: Option<listener::Reload> = opts.config_file.is_some().then(|| {
        let opts = opts.clone();
        Box::new(move || opts.load_checked()) as listener::Reload
    });
    let ready = Box::new(move || signal_ready(ready_pipe));
    let result = listener::run(cfg, listeners, spool, reload, ready).map_err(|e| (EXIT_FAILURE, e));
    if let Some(p) = &pidfile
        && let Err(e) = std::fs::remove_file(p)
    {
        warn!("--pidfile: cannot remove {}: {e}", p.display());
    }
    result
}

/// The log level, and one log line per panic (the session thread's name
/// is its id); the listener catches the unwind and goes on.
fn start_logging(cfg: &Config) {
    log::set_verbosity(cfg.verbosity);
    std::panic::set_hook(Box::new(|p| {
        let thread = std::thread::current().name().unwrap_or("main").to_string();
        tinymx::warn!("{thread} panic: {p}");
    }));
}

/// Opens (or creates) the spool, connects to syslog, and with `--user`
/// hands the spool and pid-file directory to the user and drops to it.
/// Then checks as the final user that the spool is writable: what it
/// cannot write is an error now, not a 451 on every DATA.
fn open_spool_as_user(cfg: &Config, ids: Option<(u32, u32)>) -> Result<maildir::Spool, Failure> {
    let (spool, created) = maildir::Spool::open(&cfg.spool_dir, &cfg.hostname).map_err(|e| {
        (
            EXIT_FAILURE,
            format!("cannot use spool {}: {e}", cfg.spool_dir.display()),
        )
    })?;
    if cfg.syslog
        && let Err(e) = log::use_syslog(&cfg.syslog_socket)
    {
        warn!(
            "--syslog: cannot use {}: {e}; logging to stderr",
            cfg.syslog_socket.display()
        );
    }
    if let (Some(p), Some((uid, gid))) = (&cfg.pidfile, ids) {
        make_pidfile_dir(p, uid, gid)?;
    }
    if let Some((uid, gid)) = ids {
        if created {
            spool.chown(uid, gid).map_err(|e| {
                let msg = format!("cannot chown spool to {uid}:{gid}: {e}");
                (EXIT_FAILURE, msg)
            })?;
        }
        sys::drop_privileges(uid, gid).map_err(|e| {
            let msg = format!("cannot drop privileges to {uid}:{gid}: {e}");
            (EXIT_FAILURE, msg)
        })?;
        info!("running as uid {uid} gid {gid}");
    }
    spool.probe().map_err(|e| {
        let dir = cfg.spool_dir.display();
        let as_user = as_user(ids);
        (
            EXIT_FAILURE,
            format!("cannot write to spool {dir}{as_user}: {e}"),
        )
    })?;
    Ok(spool)
}

/// ` as uid N` after a `--user` drop, for messages about what failed.
fn as_user(ids: Option<(u32, u32)>) -> String {
    ids.map_or(String::new(), |(uid, _)| format!(" as uid {uid}"))
}

/// `--pidfile`, written after the privilege drop; a failure names the
/// user and, with `--user`, says which directory would work.
fn write_pidfile_as_user(p: &Path, ids: Option<(u32, u32)>) -> Result<(), Failure> {
    write_pidfile(p).map_err(|e| {
        let hint = if ids.is_some() {
            " (with --user the pid file is written as that user, so that it can be \
             removed on exit: use a directory the user can write, such as /run/tinymx/, \
             which tinymx creates when it is missing)"
        } else {
            ""
        };
        let (p, as_user) = (p.display(), as_user(ids));
        (
            EXIT_FAILURE,
            format!("--pidfile: cannot write {p}{as_user}: {e}{hint}"),
        )
    })
}

/// Maildir: tmp/ files untouched for `stale_tmp_secs` are leftovers of a
/// crash; younger ones may belong to another instance and stay.
fn remove_stale_tmp(spool: &maildir::Spool, cfg: &Config) {
    let age = std::time::Duration::from_secs(cfg.stale_tmp_secs);
    let (removed, kept) = spool.remove_stale_tmp(age);
    if removed > 0 || kept > 0 {
        let hours = cfg.stale_tmp_secs / 3600;
        info!(
            "startup: removed {removed} stale tmp file(s) older than {hours} hours; left {kept} younger one(s)"
        );
    }
}

/// Once the server is ready: with `--background`, points stdio at
/// /dev/null and releases the waiting parent.
fn signal_ready(ready_pipe: Option<std::os::fd::OwnedFd>) {
    if let Some(pipe) = ready_pipe {
        // stdin and stdout are never used. stderr carries the log
        // unless syslog does; while the syslog socket cannot be
        // reached, lines go there too, so it stays open.
        let fds: &[i32] = if log::syslog_connected() {
            &[0, 1, 2]
        } else {
            &[0, 1]
        };
        if let Err(e) = sys::stdio_to_devnull(fds) {
            warn!("--background: cannot redirect to /dev/null: {e}");
        }
        let _ = sys::write_fd(&pipe, READY_BYTE);
    }
}

/// With `--user`, the pid file is written as that user, so that the same
/// user can remove it on exit (unlinking needs write access to the
/// directory at that moment; a descriptor kept from before the drop
/// grants none). A missing directory, such as /run/tinymx/ on a /run
/// that boot empties, is created for the user, as the spool is.
fn make_pidfile_dir(pidfile: &Path, uid: u32, gid: u32) -> Result<(), Failure> {
    use std::os::unix::fs::DirBuilderExt;
    let Some(dir) = pidfile.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    let fail = |e: std::io::Error| {
        (
            EXIT_FAILURE,
            format!("--pidfile: cannot create {}: {e}", dir.display()),
        )
    };
    match std::fs::DirBuilder::new()
        .mode(PIDFILE_DIR_MODE)
        .create(dir)
    {
        Ok(()) => std::os::unix::fs::lchown(dir, Some(uid), Some(gid)).map_err(fail),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(fail(e)),
    }
}

/// Writes the pid under a temporary name beside the pid file and renames
/// it into place: a reader never sees a half-written file, and a stale
/// file of an earlier run (even one owned by root) is replaced.
fn write_pidfile(p: &Path) -> std::io::Result<()> {
    let name = p.file_name().unwrap_or_default().to_string_lossy();
    let tmp = p.with_file_name(format!(".{name}.{}", sys::getpid()));
    std::fs::write(&tmp, format!("{}\n", sys::getpid()))?;
    std::fs::rename(&tmp, p).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// `--background`: forks; the parent waits for the child's "ready" byte
/// and exits 0, or exits with the child's status if it failed first. The
/// child starts a new session and returns the pipe to signal readiness on.
fn detach() -> Result<std::os::fd::OwnedFd, Failure> {
    let (read, write) =
        sys::pipe().map_err(|e| (EXIT_FAILURE, format!("--background: pipe: {e}")))?;
    // SAFETY: main calls detach before any thread is started.
    match unsafe { sys::fork() }.map_err(|e| (EXIT_FAILURE, format!("--background: fork: {e}")))? {
        sys::Forked::Child => {
            drop(read);
            sys::setsid().map_err(|e| (EXIT_FAILURE, format!("--background: setsid: {e}")))?;
            Ok(write)
        }
        sys::Forked::Parent { child } => {
            drop(write);
            // One byte means ready; end of file means the child exited.
            let ok = matches!(sys::drain(&read), Ok(b) if b == READY_BYTE);
            let code = if ok {
                0
            } else {
                sys::wait_child(child).map_or(EXIT_FAILURE.into(), |c| c.clamp(1, 255))
            };
            std::process::exit(code);
        }
    }
}
