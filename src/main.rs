//! tinymx: a receive-only SMTP server that stores each message in a
//! Maildir spool. See README.md.

use std::process::ExitCode;
use tinymx::config::Config;
use tinymx::{cli, info, listener, log, maildir, sys};

fn main() -> ExitCode {
    let cfg = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli::Action::Run(cfg)) => cfg,
        Ok(cli::Action::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(cli::Action::Version) => {
            println!("tinymx {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("tinymx: {msg}\nTry 'tinymx --help' for more information.");
            return ExitCode::from(2);
        }
    };
    match run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("tinymx: {msg}");
            ExitCode::from(code)
        }
    }
}

fn run(mut cfg: Config) -> Result<(), (u8, String)> {
    log::set_verbosity(cfg.verbosity);
    // One log line per panic (the session thread's name is its id); the
    // listener catches the unwind and goes on.
    std::panic::set_hook(Box::new(|p| {
        let thread = std::thread::current().name().unwrap_or("main").to_string();
        tinymx::warn!("{thread} panic: {p}");
    }));
    if cfg.hostname.is_empty() {
        cfg.hostname = sys::hostname()
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
    }
    // A user that does not exist is a bad value: exit 2 before binding.
    let ids = match &cfg.user {
        Some(spec) => Some(listener::resolve_user(spec).map_err(|e| (2, e))?),
        None => None,
    };
    let listeners = listener::bind_all(&cfg).map_err(|e| (1, e))?;
    let (spool, created) = maildir::Spool::open(&cfg.spool_dir, &cfg.hostname).map_err(|e| {
        (
            1,
            format!("cannot use spool {}: {e}", cfg.spool_dir.display()),
        )
    })?;
    if let Some((uid, gid)) = ids {
        if created {
            spool
                .chown(uid, gid)
                .map_err(|e| (1, format!("cannot chown spool to {uid}:{gid}: {e}")))?;
        }
        sys::drop_privileges(uid, gid)
            .map_err(|e| (1, format!("cannot drop privileges to {uid}:{gid}: {e}")))?;
        info!("running as uid {uid} gid {gid}");
    }
    // Maildir: tmp/ files untouched for 36 hours are leftovers of a crash.
    let (removed, kept) = spool.remove_stale_tmp(std::time::Duration::from_secs(36 * 3600));
    if removed > 0 || kept > 0 {
        info!(
            "startup: removed {removed} stale tmp file(s) older than 36 hours; left {kept} younger one(s)"
        );
    }
    listener::run(cfg, listeners, spool).map_err(|e| (1, e))
}
