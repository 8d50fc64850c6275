//! tinymx: a receive-only SMTP server that stores each message in a
//! Maildir spool. See README.md.

mod cli;
mod config;
mod conn;
mod date;
mod hook;
mod json;
mod listener;
mod log;
mod maildir;
mod mime;
mod smtp;
mod sys;
mod tool;

use config::Config;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // The MIME tools are subcommands; everything else is the server.
    match args.first().and_then(|a| a.to_str()) {
        Some("show") => return tool::show(&args[1..]),
        Some("extract") => return tool::extract(&args[1..]),
        _ => {}
    }
    let cfg = match cli::parse(args) {
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
    for l in &listeners {
        info!("listening on {}", l.addr);
    }
    listener::run(cfg, listeners, spool).map_err(|e| (1, e))
}
