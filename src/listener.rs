//! Listening sockets, the accept loop, connection caps, one small-stack
//! thread per session, privilege drop and orderly shutdown.

use crate::config::{Config, Listen};
use crate::conn::{self, Shared};
use crate::maildir::Spool;
use crate::smtp::reply::{self, Reply};
use crate::sys::AtomicU64;
use crate::{info, sys, warn};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The kernel's queue of connections not yet accepted, per socket.
const BACKLOG: i32 = 128;

/// A bound, listening socket.
pub struct Listener {
    fd: OwnedFd,
    pub addr: SocketAddr,
}

/// Binds one socket. `v6only` is set on IPv6 sockets.
fn bind_one(addr: SocketAddr, v6only: bool) -> io::Result<Listener> {
    let fd = sys::tcp_socket(addr.is_ipv6())?;
    sys::set_int_option(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if addr.is_ipv6() {
        sys::set_int_option(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, v6only as i32)?;
    }
    sys::bind(&fd, &addr)?;
    sys::listen(&fd, BACKLOG)?;
    // Non-blocking, so a connection reset between poll and accept cannot
    // stall the loop.
    sys::set_nonblocking(&fd, true)?;
    let addr = sys::local_addr(&fd)?;
    Ok(Listener { fd, addr })
}

/// True for errors meaning "this kernel has no IPv6".
fn no_ipv6(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL) | Some(libc::EPROTONOSUPPORT)
    )
}

/// Binds `:PORT`: one dual-stack `[::]` socket, or `0.0.0.0` when the
/// kernel has no IPv6. `bind` is the binding function (a seam for tests).
fn bind_any(
    port: u16,
    bind: &dyn Fn(SocketAddr, bool) -> io::Result<Listener>,
) -> io::Result<Listener> {
    let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
    match bind(v6, false) {
        Err(e) if no_ipv6(&e) => {
            info!("IPv6 is not available ({e}); listening on IPv4 only");
            bind(
                SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
                false,
            )
        }
        other => other,
    }
}

/// Binds every configured address; the error names the address.
pub fn bind_all(cfg: &Config) -> Result<Vec<Listener>, String> {
    let listen = cfg.listen_or_default();
    let mut out = Vec::new();
    for l in &listen {
        let result = match l {
            Listen::Any(port) => bind_any(*port, &bind_one).map_err(|e| (format!(":{port}"), e)),
            Listen::Addr(a) => {
                // An explicit [::] is dual-stack unless IPv4 is also asked for
                // on the same port (then the two would collide).
                let v4_too = listen.iter().any(
                    |o| matches!(o, Listen::Addr(SocketAddr::V4(v4)) if v4.port() == a.port()),
                );
                bind_one(*a, v4_too || !a.ip().is_unspecified()).map_err(|e| (a.to_string(), e))
            }
        };
        match result {
            Ok(l) => out.push(l),
            Err((addr, e)) => return Err(format!("cannot listen on {addr}: {e}")),
        }
    }
    Ok(out)
}

/// `USER[:GROUP]`, names or numeric ids → (uid, gid).
pub fn resolve_user(spec: &str) -> Result<(u32, u32), String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, primary_gid) = match sys::lookup_user(user) {
        Ok(Some(ids)) => ids,
        Ok(None) => match user.parse::<u32>() {
            Ok(uid) => (uid, uid),
            Err(_) => return Err(format!("--user: no such user '{user}'")),
        },
        Err(e) => return Err(format!("--user: cannot look up '{user}': {e}")),
    };
    let gid = match group {
        None => primary_gid,
        Some(g) => match sys::lookup_group(g) {
            Ok(Some(gid)) => gid,
            Ok(None) => g
                .parse::<u32>()
                .map_err(|_| format!("--user: no such group '{g}'"))?,
            Err(e) => return Err(format!("--user: cannot look up group '{g}': {e}")),
        },
    };
    Ok((uid, gid))
}

/// Session counts, total and per client address.
#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

struct Limits {
    counts: Mutex<Counts>,
    /// Signalled whenever a session ends.
    ended: Condvar,
}

/// Stress mode starts when this share of `--max-conn` is in use.
const STRESS_PERCENT: usize = 80;

impl Limits {
    /// Enters or leaves stress mode as the session count crosses
    /// STRESS_PERCENT of `--max-conn` (Postfix's stress mode); logs each
    /// change once.
    fn update_stress(&self, total: usize, shared: &Shared) {
        let cfg = shared.cfg();
        let stressed = total * 100 >= cfg.max_connections * STRESS_PERCENT;
        if shared.stress.swap(stressed, Ordering::SeqCst) != stressed {
            if stressed {
                let limit = cfg.stress_timeout_secs.min(cfg.idle_timeout_secs);
                info!(
                    "stress mode on: {total} of {} sessions in use; idle limit now {limit}s",
                    cfg.max_connections
                );
            } else {
                info!(
                    "stress mode off: {total} of {} sessions in use",
                    cfg.max_connections
                );
            }
        }
    }
}

/// Decrements the counts when a session thread ends, however it ends.
struct Slot {
    limits: Arc<Limits>,
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.limits.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total -= 1;
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
        self.limits.update_stress(c.total, &self.shared);
        self.limits.ended.notify_all();
    }
}

impl Slot {
    /// Takes a session slot for `ip`, or says which limit refuses it.
    fn claim(limits: &Arc<Limits>, shared: &Arc<Shared>, ip: IpAddr) -> Result<Slot, Reply> {
        let cfg = shared.cfg();
        let mut c = limits.counts.lock().unwrap_or_else(|p| p.into_inner());
        if c.total >= cfg.max_connections {
            return Err(reply::TOO_MANY_CONNECTIONS);
        }
        if c.per_ip.get(&ip).copied().unwrap_or(0) >= cfg.max_connections_per_ip {
            return Err(reply::TOO_MANY_FROM_IP);
        }
        c.total += 1;
        *c.per_ip.entry(ip).or_insert(0) += 1;
        limits.update_stress(c.total, shared);
        Ok(Slot {
            limits: Arc::clone(limits),
            shared: Arc::clone(shared),
            ip,
        })
    }
}

/// Runs a session body; a panic ends that session only (its socket and
/// tmp files are released by unwinding, its `Slot` by the caller's drop)
/// and the listener goes on. Returns false after a panic.
fn guarded(sid: &str, body: impl FnOnce()) -> bool {
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).is_ok();
    if !ok {
        warn!("{sid} session ended by an internal error (panic); the server goes on");
    }
    ok
}

/// Per-address connection rate: at most `per_minute` new connections in
/// each fixed one-minute window (as Postfix's anvil counts). Memory is
/// bounded: past `MAX_TRACKED` addresses, expired windows are dropped, and
/// if all are current, new addresses go untracked rather than refused.
struct RateLimit {
    per_minute: usize,
    windows: HashMap<IpAddr, (Instant, usize)>,
}

const MAX_TRACKED: usize = 65_536;
const WINDOW: Duration = Duration::from_secs(60);

impl RateLimit {
    fn new(per_minute: usize) -> Self {
        RateLimit {
            per_minute,
            windows: HashMap::new(),
        }
    }

    fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if !self.windows.contains_key(&ip) && self.windows.len() >= MAX_TRACKED {
            self.windows
                .retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            if self.windows.len() >= MAX_TRACKED {
                return true;
            }
        }
        let (start, count) = self.windows.entry(ip).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            (*start, *count) = (now, 0);
        }
        *count += 1;
        *count <= self.per_minute
    }
}

/// SIGHUP: re-reads the configuration. Domains, mailboxes, catch-all,
/// limits, timeouts and verbosity apply to new sessions; running sessions
/// keep theirs. What was fixed at start-up (the options the table in
/// `cli` marks `Restart`: addresses, spool, host name, user, pid file,
/// logging target, the hook pool) stays, with a warning naming the
/// changed ones. A bad file is logged and the old settings stay.
fn apply_reload(shared: &Shared, reload: &Reload, rates: &mut RateLimit) {
    let mut next = match reload() {
        Ok(c) => c,
        Err(e) => {
            warn!("SIGHUP: configuration not reloaded, keeping the old one: {e}");
            return;
        }
    };
    let old = shared.cfg();
    if next.hostname.is_empty() {
        next.hostname = old.hostname.clone();
    }
    let kept = crate::cli::keep_restart_only(&mut next, &old);
    if !kept.is_empty() {
        warn!("SIGHUP: changes to {kept} need a restart; kept");
    }
    crate::log::set_verbosity(next.verbosity);
    warn_if_short_of_space(&shared.spool, &next, "SIGHUP");
    rates.per_minute = next.max_connections_per_minute;
    #[cfg(not(feature = "tls"))]
    {
        *shared.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
    }
    #[cfg(feature = "tls")]
    {
        let certs = reload_certs(shared, &mut next);
        install(shared, next, certs);
    }
    info!("SIGHUP: configuration reloaded for new sessions");
}

/// The settings and the certificate for new sessions, replaced together
/// (under the configuration's lock, as `Shared::snapshot` reads them).
#[cfg(feature = "tls")]
fn install(shared: &Shared, next: Config, certs: Option<crate::tls::Certs>) {
    let mut slot = shared.config.write().unwrap_or_else(|p| p.into_inner());
    *shared.certs.write().unwrap_or_else(|p| p.into_inner()) = certs;
    *slot = Arc::new(next);
}

/// `--tls-cert` and `--tls-key`, read; None when not given.
#[cfg(feature = "tls")]
fn load_certs(cfg: &Config) -> Result<Option<crate::tls::Certs>, String> {
    match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => crate::tls::load(cert, key).map(Some),
        _ => Ok(None),
    }
}

/// SIGHUP: the certificate pair read again for new sessions (sessions
/// keep the one they started with); a pair that does not load is logged
/// and the old one stays. Sets `next.starttls` to match.
#[cfg(feature = "tls")]
fn reload_certs(shared: &Shared, next: &mut Config) -> Option<crate::tls::Certs> {
    let old = shared
        .certs
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let certs = match load_certs(next) {
        Ok(Some(c)) => {
            let cert = next.tls_cert.as_deref().unwrap_or(std::path::Path::new(""));
            info!("SIGHUP: TLS certificate read from {}", cert.display());
            Some(c)
        }
        Ok(None) => None,
        Err(e) if old.is_some() => {
            warn!("SIGHUP: {e}; the certificate loaded before stays");
            old
        }
        Err(e) => {
            warn!("SIGHUP: {e}; no STARTTLS until it loads");
            None
        }
    };
    next.starttls = certs.is_some();
    certs
}

/// SIGHUP without `--config`: only the certificate pair is read again.
#[cfg(feature = "tls")]
fn reload_certs_alone(shared: &Shared) {
    let mut next = (*shared.cfg()).clone();
    if next.tls_cert.is_none() {
        info!("SIGHUP: no --config file and no --tls-cert; nothing to reload");
        return;
    }
    let certs = reload_certs(shared, &mut next);
    install(shared, next, certs);
}

/// Warns when the spool's file system has less free space than
/// `--min-free` already: every MAIL would get 452 4.3.1 until that
/// changes. (`--max-size 100G` makes the default `--min-free` 200 GiB,
/// which few disks have free.) `when` starts the line.
pub fn warn_if_short_of_space(spool: &Spool, cfg: &Config, when: &str) {
    match spool.free_bytes() {
        Ok(free) if free < cfg.min_free() => warn!(
            "{when}: the spool's file system has {free} bytes free, less than --min-free {} \
             (default: twice --max-size); every MAIL gets 452 4.3.1 until more is free",
            cfg.min_free()
        ),
        Ok(_) => {}
        Err(e) => warn!("{when}: cannot read the spool's free space: {e}"),
    }
}

/// Answers a refused connection without blocking, then closes it.
fn refuse(fd: OwnedFd, r: &Reply) {
    let _ = sys::send(&fd, r.as_bytes(), true);
    sys::shutdown_write(&fd);
}

/// Re-reads the configuration on SIGHUP.
pub type Reload = Box<dyn Fn() -> Result<Config, String>>;

/// Runs until SIGTERM/SIGINT, then shuts down as the README describes.
/// `ready` runs once everything is open and signals are handled (it
/// releases a `--background` parent); `reload` serves SIGHUP.
pub fn run(
    cfg: Config,
    listeners: Vec<Listener>,
    spool: Spool,
    reload: Option<Reload>,
    ready: Box<dyn FnOnce()>,
) -> Result<(), String> {
    let signals =
        sys::install_signal_pipe().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let (stop_read, stop_write) = sys::pipe().map_err(|e| format!("cannot create pipe: {e}"))?;
    let exec = start_exec(&cfg)?;
    // Read here, after the privilege drop, as a reload will read it.
    #[cfg(feature = "tls")]
    let (certs, cfg) = {
        let certs = load_certs(&cfg)?;
        let starttls = certs.is_some();
        (certs, Config { starttls, ..cfg })
    };
    let shared = Arc::new(Shared::new(cfg, spool, stop_read, exec));
    #[cfg(feature = "tls")]
    {
        *shared.certs.write().unwrap_or_else(|p| p.into_inner()) = certs;
    }
    let mut acceptor = Acceptor::new(&shared);
    // Ready: signals are handled and everything is open. Shown even with
    // -q: scripts and tests read the real address here.
    for l in &listeners {
        crate::log::line(
            crate::config::Verbosity::Quiet,
            &format!("listening on {}", l.addr),
        );
    }
    info!("startup: {}", shared.spool.durability());
    ready();

    let mut fds = vec![signals.as_fd()];
    fds.extend(listeners.iter().map(|l| l.fd.as_fd()));
    loop {
        let ready = sys::poll_readable(&fds, -1).map_err(|e| format!("poll: {e}"))?;
        if ready[0] {
            match read_signals(&signals) {
                Signals::Stop => break,
                Signals::None => {}
                Signals::Reload => match &reload {
                    Some(reload) => apply_reload(&shared, reload, &mut acceptor.rates),
                    #[cfg(feature = "tls")]
                    None => reload_certs_alone(&shared),
                    #[cfg(not(feature = "tls"))]
                    None => info!("SIGHUP: no --config file; nothing to reload"),
                },
            }
            continue;
        }
        for (i, l) in listeners.iter().enumerate() {
            if ready[i + 1] {
                acceptor.accept_one(l);
            }
        }
    }

    // Shutdown: stop accepting, wake every session, wait for them.
    drop(fds);
    drop(listeners);
    shut_down(&shared, &acceptor.limits, stop_write);
    Ok(())
}

/// The `--exec` worker pool, if `--exec` is set.
fn start_exec(cfg: &Config) -> Result<Option<crate::hook::ExecPool>, String> {
    let Some(p) = &cfg.exec_program else {
        return Ok(None);
    };
    crate::hook::ExecPool::start(
        p.clone(),
        cfg.exec_max,
        cfg.exec_queue_max,
        Duration::from_secs(cfg.exec_timeout_secs),
    )
    .map(Some)
    .map_err(|e| format!("cannot start the --exec workers: {e}"))
}

/// What the signals that arrived ask for.
#[derive(Debug, PartialEq, Eq)]
enum Signals {
    /// SIGTERM or SIGINT (or the pipe failed: no signal can reach us).
    Stop,
    /// SIGHUP only.
    Reload,
    /// Nothing was there to read after all.
    None,
}

/// Reads the signal pipe. A pipe that cannot be read any more means no
/// SIGTERM could reach the server either: that is logged with its cause
/// and the server shuts down in order, rather than reloading.
fn read_signals(signals: &OwnedFd) -> Signals {
    match sys::drain(signals) {
        Ok(seen) if seen.iter().any(|&s| s as i32 != libc::SIGHUP) => Signals::Stop,
        Ok(seen) if !seen.is_empty() => Signals::Reload,
        Ok(_) => {
            warn!("the signal pipe was closed; shutting down");
            Signals::Stop
        }
        Err(e)
            if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted =>
        {
            Signals::None
        }
        Err(e) => {
            warn!("cannot read the signal pipe: {e}; shutting down");
            Signals::Stop
        }
    }
}

/// After an accept error other than "nothing there" (EMFILE and friends),
/// the listener waits this long before it accepts again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The accept side: connection caps, rates and session ids.
struct Acceptor {
    shared: Arc<Shared>,
    limits: Arc<Limits>,
    rates: RateLimit,
    seq: AtomicU64,
    pid: u32,
}

impl Acceptor {
    fn new(shared: &Arc<Shared>) -> Acceptor {
        Acceptor {
            shared: Arc::clone(shared),
            limits: Arc::new(Limits {
                counts: Mutex::new(Counts::default()),
                ended: Condvar::new(),
            }),
            rates: RateLimit::new(shared.cfg().max_connections_per_minute),
            seq: AtomicU64::new(0),
            pid: sys::getpid(),
        }
    }

    /// Accepts one connection on `l`: refused over a rate or a cap, else
    /// served by a new session thread.
    fn accept_one(&mut self, l: &Listener) {
        let (sock, peer) = match sys::accept(&l.fd) {
            Ok(c) => c,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                return;
            }
            Err(e) => {
                // EMFILE and friends: say so, back off briefly, go on.
                warn!("accept on {}: {e}", l.addr);
                std::thread::sleep(ACCEPT_BACKOFF);
                return;
            }
        };
        let ip = crate::safe::client_ip(peer.ip());
        let claimed = if self.rates.allow(ip, Instant::now()) {
            Slot::claim(&self.limits, &self.shared, ip)
        } else {
            Err(reply::TOO_FAST)
        };
        match claimed {
            Ok(slot) => self.spawn(sock, peer, slot),
            Err(r) => {
                info!(
                    "refused connection from {}: {}",
                    conn::client(peer),
                    r.text()
                );
                refuse(sock, &r);
            }
        }
    }

    /// Serves `sock` on a thread of its own; refuses it if no thread can
    /// be started.
    fn spawn(&self, sock: OwnedFd, peer: SocketAddr, slot: Slot) {
        let secs = crate::date::unix_now();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let sid = format!("{secs:X}-{:X}-{seq}", self.pid);
        let shared = Arc::clone(&self.shared);
        // The socket goes into the thread; if spawning fails we get it
        // back through this shared cell and refuse the client.
        let handoff = Arc::new(Mutex::new(Some(sock)));
        let handoff2 = Arc::clone(&handoff);
        let spawned = std::thread::Builder::new()
            .name(sid.clone())
            .stack_size(self.shared.cfg().thread_stack_bytes)
            .spawn(move || {
                let _slot = slot;
                let sock = handoff2.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some(sock) = sock {
                    guarded(&sid, || conn::serve(&shared, sock, peer, &sid));
                }
            });
        if let Err(e) = spawned {
            warn!("cannot start a session thread: {e}");
            if let Some(sock) = handoff.lock().unwrap_or_else(|p| p.into_inner()).take() {
                refuse(sock, &reply::TOO_MANY_CONNECTIONS);
            }
        }
    }
}

/// Past the grace period and the idle time-out, shutdown waits this much
/// longer for the last sessions before it exits regardless.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(1);

/// Wakes every session (closing `stop_write`), waits for them as the
/// README describes, and reports what was left undone.
fn shut_down(shared: &Shared, limits: &Limits, stop_write: OwnedFd) {
    shared.stopping.store(true, Ordering::SeqCst);
    drop(stop_write);
    let active = limits
        .counts
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .total;
    info!("shutting down; {active} session(s) active");
    // Sessions in DATA get the grace period; a blocked send gives up after
    // the idle time-out at most. Past that, exit regardless.
    let cfg = shared.cfg();
    let limit = Duration::from_secs(cfg.shutdown_grace_secs + cfg.idle_timeout_secs);
    let until = Instant::now() + limit + SHUTDOWN_SLACK;
    let mut c = limits.counts.lock().unwrap_or_else(|p| p.into_inner());
    while c.total > 0 {
        let now = Instant::now();
        if now >= until {
            warn!("{} session(s) still running at exit", c.total);
            break;
        }
        c = limits
            .ended
            .wait_timeout(c, until - now)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    drop(c);
    if let Some(pool) = &shared.exec {
        let n = pool.queued();
        if n > 0 {
            warn!("{n} queued --exec hook(s) not run; their mail is in new/");
        }
    }
    info!("stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(addr: SocketAddr) -> Listener {
        Listener {
            fd: sys::pipe().unwrap().0,
            addr,
        }
    }

    #[test]
    fn any_port_falls_back_to_ipv4_without_ipv6() {
        for errno in [libc::EAFNOSUPPORT, libc::EADDRNOTAVAIL] {
            let tried = std::cell::RefCell::new(Vec::new());
            let bind = |a: SocketAddr, _v6only: bool| {
                tried.borrow_mut().push(a);
                if a.is_ipv6() {
                    Err(io::Error::from_raw_os_error(errno))
                } else {
                    Ok(fake(a))
                }
            };
            let l = bind_any(2525, &bind).unwrap();
            assert_eq!(l.addr, "0.0.0.0:2525".parse().unwrap());
            assert_eq!(
                *tried.borrow(),
                vec![
                    "[::]:2525".parse().unwrap(),
                    "0.0.0.0:2525".parse().unwrap()
                ]
            );
        }
    }

    #[test]
    fn any_port_is_one_dual_stack_socket_with_ipv6() {
        let bind = |a: SocketAddr, v6only: bool| {
            assert!(!v6only);
            Ok(fake(a))
        };
        assert_eq!(
            bind_any(25, &bind).unwrap().addr,
            "[::]:25".parse().unwrap()
        );
    }

    #[test]
    fn other_bind_errors_are_not_hidden_by_the_fallback() {
        let bind = |_: SocketAddr, _: bool| Err(io::Error::from_raw_os_error(libc::EADDRINUSE));
        assert_eq!(
            bind_any(25, &bind).err().unwrap().raw_os_error(),
            Some(libc::EADDRINUSE)
        );
    }

    #[test]
    fn numeric_user_and_group() {
        assert_eq!(resolve_user("12345:678"), Ok((12345, 678)));
        assert_eq!(resolve_user("12345"), Ok((12345, 12345)));
        assert_eq!(resolve_user("root"), Ok((0, 0)));
        assert!(resolve_user("no-such-user-xyz").is_err());
        assert!(resolve_user("root:no-such-group-xyz").is_err());
    }

    fn shared(max_conn: usize) -> (Arc<Limits>, Arc<Shared>) {
        let dir =
            std::env::temp_dir().join(format!("tinymx-listener-{}-{max_conn}", std::process::id()));
        let (spool, _) = Spool::open(&dir, "h").unwrap();
        let cfg = Config {
            max_connections: max_conn,
            max_connections_per_ip: 2,
            ..Config::default()
        };
        let shared = Shared::new(cfg, spool, sys::pipe().unwrap().0, None);
        let limits = Limits {
            counts: Mutex::new(Counts::default()),
            ended: Condvar::new(),
        };
        (Arc::new(limits), Arc::new(shared))
    }

    #[test]
    fn a_panicking_session_frees_its_slot_and_the_server_goes_on() {
        let (limits, shared) = shared(5);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let slot = Slot::claim(&limits, &shared, ip).unwrap();
        let t = std::thread::spawn(move || {
            let _slot = slot;
            guarded("test", || panic!("injected"))
        });
        assert!(!t.join().unwrap(), "guarded reports the panic");
        assert_eq!(limits.counts.lock().unwrap().total, 0);
        assert!(limits.counts.lock().unwrap().per_ip.is_empty());
        assert!(guarded("test", || ()));
        // Slots can be claimed again.
        assert!(Slot::claim(&limits, &shared, ip).is_ok());
    }

    #[test]
    fn slots_enforce_both_limits_and_drive_stress_mode() {
        let (limits, shared) = shared(5);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let s1 = Slot::claim(&limits, &shared, a).unwrap();
        let _s2 = Slot::claim(&limits, &shared, a).unwrap();
        assert_eq!(
            Slot::claim(&limits, &shared, a).err(),
            Some(reply::TOO_MANY_FROM_IP)
        );
        let others: Vec<Slot> = (2..5)
            .map(|i| Slot::claim(&limits, &shared, IpAddr::from([192, 0, 2, i])).unwrap())
            .collect();
        // 5 of 5: full, and stress mode (>= 80%) is on.
        assert_eq!(
            Slot::claim(&limits, &shared, "192.0.2.9".parse().unwrap()).err(),
            Some(reply::TOO_MANY_CONNECTIONS)
        );
        assert!(shared.stress.load(Ordering::SeqCst));
        drop(s1);
        assert!(shared.stress.load(Ordering::SeqCst), "4 of 5 is still 80%");
        drop(others);
        assert!(!shared.stress.load(Ordering::SeqCst));
    }

    #[test]
    fn rate_limit_counts_per_address_per_minute() {
        let mut r = RateLimit::new(3);
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(r.allow(a, t0) && r.allow(a, t0) && r.allow(a, t0));
        assert!(!r.allow(a, t0 + Duration::from_secs(59)));
        assert!(r.allow(b, t0), "other addresses are not affected");
        assert!(
            r.allow(a, t0 + Duration::from_secs(60)),
            "a new window starts"
        );
    }

    #[test]
    fn rate_limit_memory_is_bounded() {
        let mut r = RateLimit::new(1);
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 10) {
            let ip = IpAddr::V6(Ipv6Addr::from(
                0x2001_0db8_0000_0000_0000_0000_0000_0000u128 + i as u128,
            ));
            assert!(r.allow(ip, t0));
        }
        assert_eq!(r.windows.len(), MAX_TRACKED);
        // Once windows expire, they make room.
        let later = t0 + Duration::from_secs(61);
        assert!(r.allow("192.0.2.9".parse().unwrap(), later));
        assert_eq!(r.windows.len(), 1);
    }

    #[test]
    fn the_signal_pipe_says_stop_reload_or_nothing() {
        let (r, w) = sys::pipe().unwrap();
        sys::set_nonblocking(&r, true).unwrap();
        sys::write_fd(&w, &[libc::SIGHUP as u8, libc::SIGHUP as u8]).unwrap();
        assert_eq!(read_signals(&r), Signals::Reload);
        assert_eq!(read_signals(&r), Signals::None, "empty, not closed");
        sys::write_fd(&w, &[libc::SIGHUP as u8, libc::SIGTERM as u8]).unwrap();
        assert_eq!(read_signals(&r), Signals::Stop);
        // A read that fails is no SIGHUP: the server stops, it does not reload.
        let (_, w_only) = sys::pipe().unwrap();
        assert_eq!(read_signals(&w_only), Signals::Stop);
    }

    #[test]
    fn mapped_addresses_count_as_ipv4() {
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(
            crate::safe::client_ip(mapped),
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
    }
}
