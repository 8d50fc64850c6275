//! The only module with `unsafe`: thin, safe wrappers around the libc calls
//! tinymx needs and std does not offer, or offers at a cost in binary size
//! (raw sockets, `*at` file calls, signals, credentials, child processes).
//!
//! Every function here is safe to call with any argument, except `fork`,
//! which is `unsafe` (sound only while the process is single-threaded).
//! Each `unsafe` block states the invariant that makes the call sound. File descriptors
//! are owned by `OwnedFd`, so none leaks and none is closed twice.

use std::ffi::CString;
use std::io;
use std::mem::{MaybeUninit, size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Turns a `-1` return into the thread's `errno`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Takes ownership of a descriptor a successful libc call just returned.
fn owned(fd: libc::c_int) -> OwnedFd {
    debug_assert!(fd >= 0);
    // SAFETY: `fd` was just returned by the kernel as a new descriptor that
    // nothing else in the process owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A name as a NUL-terminated C string, on the stack when it is shorter
/// than 256 bytes (every name tinymx makes is), so a path syscall on the
/// delivery path costs no allocation.
#[allow(clippy::large_enum_variant)] // the stack copy is the point
enum CName {
    Stack([u8; 256]),
    Heap(CString),
}

impl CName {
    fn new(s: &str) -> io::Result<CName> {
        if s.as_bytes().contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "NUL byte in name",
            ));
        }
        if s.len() < 256 {
            // The bytes after the name stay 0: the terminator.
            let mut b = [0u8; 256];
            b[..s.len()].copy_from_slice(s.as_bytes());
            Ok(CName::Stack(b))
        } else {
            CString::new(s)
                .map(CName::Heap)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in name"))
        }
    }

    /// Valid (and NUL-terminated) for as long as `self` lives.
    fn as_ptr(&self) -> *const libc::c_char {
        match self {
            CName::Stack(b) => b.as_ptr() as *const libc::c_char,
            CName::Heap(c) => c.as_ptr(),
        }
    }
}

// ---------------------------------------------------------------- sockets

/// A `sockaddr_storage` filled from a `SocketAddr`, with its length.
fn to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is larger than and suitably aligned for
            // sockaddr_in; we only write through the properly typed pointer.
            let sin = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn from_sockaddr(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the kernel said the family is AF_INET, so the storage
            // holds a sockaddr_in.
            let sin = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family is AF_INET6, so it holds a sockaddr_in6.
            let sin6 = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Ok(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "unknown address family",
        )),
    }
}

/// `socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)` for the family of `addr`.
pub fn tcp_socket(v6: bool) -> io::Result<OwnedFd> {
    let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: plain syscall with constant arguments; returns a new fd or -1.
    let fd = check(unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
    Ok(owned(fd))
}

/// `setsockopt` with an `int` value.
pub fn set_int_option(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: we pass a pointer to a live c_int and its exact size.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            &value as *const libc::c_int as *const libc::c_void,
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

pub fn bind(fd: &OwnedFd, addr: &SocketAddr) -> io::Result<()> {
    let (storage, len) = to_sockaddr(addr);
    // SAFETY: `storage` is a valid sockaddr of `len` bytes for the duration of the call.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &storage as *const _ as *const libc::sockaddr,
            len,
        )
    })?;
    Ok(())
}

pub fn listen(fd: &OwnedFd, backlog: i32) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor we own.
    check(unsafe { libc::listen(fd.as_raw_fd(), backlog) })?;
    Ok(())
}

pub fn local_addr(fd: &OwnedFd) -> io::Result<SocketAddr> {
    // SAFETY: all-zero sockaddr_storage is valid; the kernel writes at most `len` bytes.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: pointers to live, correctly sized storage and length.
    check(unsafe {
        libc::getsockname(
            fd.as_raw_fd(),
            &mut storage as *mut _ as *mut libc::sockaddr,
            &mut len,
        )
    })?;
    from_sockaddr(&storage)
}

/// `accept4` with `SOCK_CLOEXEC`; returns the connection and the peer address.
pub fn accept(fd: &OwnedFd) -> io::Result<(OwnedFd, SocketAddr)> {
    // SAFETY: as in `local_addr`.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: pointers to live, correctly sized storage and length.
    let conn = check(unsafe {
        libc::accept4(
            fd.as_raw_fd(),
            &mut storage as *mut _ as *mut libc::sockaddr,
            &mut len,
            libc::SOCK_CLOEXEC,
        )
    })?;
    let conn = owned(conn);
    Ok((conn, from_sockaddr(&storage)?))
}

/// Sets or clears `O_NONBLOCK`.
pub fn set_nonblocking(fd: &OwnedFd, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
    let flags = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    let flags = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) })?;
    Ok(())
}

/// `recv` into `buf`'s allocated capacity (its old contents are
/// discarded, nothing is zeroed first); `buf` then holds exactly the bytes
/// read. 0 means the peer closed.
pub fn recv(fd: &OwnedFd, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.clear();
    let room = buf.capacity();
    // SAFETY: the pointer is valid for writes of `room` bytes (the
    // vector's allocation); recv writes at most `room` bytes.
    let n = check_size(unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            room,
            0,
        )
    })?;
    // SAFETY: recv initialised the first n ≤ room bytes.
    unsafe { buf.set_len(n) };
    Ok(n)
}

/// `sendmsg` of several buffers in one call (`MSG_NOSIGNAL`): what one
/// `send` of them joined would do, without the copy. At most `IOV_MAX`
/// (1024) buffers are passed; the count sent is returned.
pub fn send_vectored(fd: &OwnedFd, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: all-zero msghdr is valid (no name, no control data).
    let mut msg: libc::msghdr = unsafe { zeroed() };
    // IoSlice is ABI-compatible with iovec on Unix (std's guarantee); the
    // kernel only reads through the pointers, and `bufs` outlives the call.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(1024) as _;
    // SAFETY: `msg` is a live msghdr whose iovecs point to live buffers.
    check_size(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) })
}

/// `send` with `MSG_NOSIGNAL` (a closed peer gives EPIPE, not SIGPIPE);
/// `dontwait` adds `MSG_DONTWAIT`.
pub fn send(fd: &OwnedFd, buf: &[u8], dontwait: bool) -> io::Result<usize> {
    let flags = libc::MSG_NOSIGNAL | if dontwait { libc::MSG_DONTWAIT } else { 0 };
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
    check_size(unsafe {
        libc::send(
            fd.as_raw_fd(),
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            flags,
        )
    })
}

/// `shutdown(fd, SHUT_WR)`: sends FIN after queued data.
pub fn shutdown_write(fd: &OwnedFd) {
    // SAFETY: plain syscall on a descriptor we own; failure is harmless.
    unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_WR) };
}

/// Waits until one of `fds` is readable (or hung up). Returns one flag per
/// descriptor; all false on timeout. EINTR counts as a timeout-free wake-up
/// with no descriptor ready.
pub fn poll_readable(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` is a live array of exactly `pfds.len()` pollfd structs.
    let ret = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(err);
    }
    Ok(pfds
        .iter()
        .map(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
        .collect())
}

// ---------------------------------------------------------------- DNS client sockets

/// A non-blocking, close-on-exec client socket of `addr`'s family, UDP or
/// TCP. The resolver waits with `poll_one` before each call, so none of
/// them blocks and every wait is bounded by the query's deadline.
pub fn client_socket(addr: &SocketAddr, udp: bool) -> io::Result<OwnedFd> {
    let family = if addr.is_ipv6() {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    let kind = if udp {
        libc::SOCK_DGRAM
    } else {
        libc::SOCK_STREAM
    };
    // SAFETY: plain syscall with constant arguments; returns a new fd or -1.
    let fd =
        check(unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0) })?;
    Ok(owned(fd))
}

/// `connect` on a non-blocking socket: true when connected at once, false
/// while it is in progress (wait until writable, then `take_error`).
pub fn connect(fd: &OwnedFd, addr: &SocketAddr) -> io::Result<bool> {
    let (storage, len) = to_sockaddr(addr);
    // SAFETY: `storage` is a valid sockaddr of `len` bytes for the duration of the call.
    let ret = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            &storage as *const _ as *const libc::sockaddr,
            len,
        )
    };
    match check(ret) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `SO_ERROR`: how a non-blocking `connect` ended (Ok: connected).
pub fn take_error(fd: &OwnedFd) -> io::Result<()> {
    let mut err: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: pointers to a live c_int and to its exact size.
    check(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            &mut err as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    })?;
    if err == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(err))
    }
}

/// `sendto` with `MSG_NOSIGNAL`: one datagram to `addr`.
pub fn send_to(fd: &OwnedFd, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
    let (storage, len) = to_sockaddr(addr);
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes and `storage`
    // is a valid sockaddr of `len` bytes, both for the duration of the call.
    check_size(unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            libc::MSG_NOSIGNAL,
            &storage as *const _ as *const libc::sockaddr,
            len,
        )
    })
}

/// `recvfrom` with `MSG_DONTWAIT` into `buf`: the bytes read and who sent
/// them (a datagram longer than `buf` is cut to it).
pub fn recv_from(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    // SAFETY: all-zero sockaddr_storage is valid; the kernel writes at most `len` bytes.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes, `storage`
    // and `len` are live and correctly sized.
    let n = check_size(unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT,
            &mut storage as *mut _ as *mut libc::sockaddr,
            &mut len,
        )
    })?;
    Ok((n, from_sockaddr(&storage)?))
}

/// `recv` with `MSG_DONTWAIT` into `buf`; 0 means the peer closed.
pub fn recv_into(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; recv writes
    // at most that many.
    check_size(unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    })
}

/// Waits up to `timeout_ms` until `fd` is readable, or with `write`
/// writable (an error or a hang-up counts: the next call reports it).
/// False on time-out and on EINTR.
pub fn poll_one(fd: &OwnedFd, write: bool, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: if write { libc::POLLOUT } else { libc::POLLIN },
        revents: 0,
    };
    // SAFETY: `p` is one live pollfd, and we pass a count of 1.
    let ret = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(err);
    }
    Ok(p.revents != 0)
}

// ---------------------------------------------------------------- pipes and signals

/// `pipe2(O_CLOEXEC)`: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok((owned(fds[0]), owned(fds[1])))
}

/// Write end of the signal pipe; -1 until `install_signal_pipe` runs.
static SIGNAL_PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(std::sync::atomic::Ordering::Relaxed);
    if fd >= 0 {
        let byte = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the byte lives on our stack.
        // The fd is the non-blocking write end kept open for the process's
        // whole life (leaked on purpose in `install_signal_pipe`).
        unsafe { libc::write(fd, &byte as *const u8 as *const libc::c_void, 1) };
    }
}

/// Routes SIGTERM, SIGINT and SIGHUP to a byte (the signal number) on the
/// returned pipe (the self-pipe trick), so the accept loop can `poll` for
/// them. Ignores SIGPIPE.
pub fn install_signal_pipe() -> io::Result<OwnedFd> {
    let (read, write) = pipe()?;
    set_nonblocking(&write, true)?;
    // The write end must stay valid for as long as a signal can arrive: the
    // whole process lifetime. Leak it deliberately.
    let raw = std::os::fd::IntoRawFd::into_raw_fd(write);
    SIGNAL_PIPE.store(raw, std::sync::atomic::Ordering::Relaxed);
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: all-zero sigaction is a valid "no flags, empty mask" value;
        // the handler only calls async-signal-safe functions.
        let mut action: libc::sigaction = unsafe { zeroed() };
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: `action` is initialised; a null old-action pointer is allowed.
        check(unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) })?;
    }
    // SAFETY: setting SIGPIPE to SIG_IGN has no memory-safety preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    Ok(read)
}

/// Reads the bytes waiting on a readable pipe (at most 64).
pub fn drain(fd: &OwnedFd) -> io::Result<Vec<u8>> {
    let mut buf = [0u8; 64];
    // SAFETY: `buf` is valid for writes of its length.
    let n = check_size(unsafe {
        libc::read(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
        )
    })?;
    Ok(buf[..n].to_vec())
}

/// Writes all of `bytes` to a pipe or file descriptor.
pub fn write_fd(fd: &OwnedFd, bytes: &[u8]) -> io::Result<()> {
    write_all_raw(fd.as_raw_fd(), bytes)
}

/// Writes `bytes` to fd 2 with `write` calls of our own (no lock): one
/// call unless the kernel takes less.
pub fn write_stderr(bytes: &[u8]) -> io::Result<()> {
    write_all_raw(2, bytes)
}

/// `write` until all of `bytes` is written. `fd` is open for the call's
/// duration (an owned or borrowed descriptor, or fd 2, which tinymx never
/// closes).
fn write_all_raw(fd: RawFd, bytes: &[u8]) -> io::Result<()> {
    let mut done = 0;
    while done < bytes.len() {
        // SAFETY: the slice is valid for reads of its length; a bad fd
        // gives EBADF, nothing worse.
        let n = unsafe {
            libc::write(
                fd,
                bytes[done..].as_ptr() as *const libc::c_void,
                bytes.len() - done,
            )
        };
        match check_size(n) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Which side of `fork` we are on.
pub enum Forked {
    Parent { child: u32 },
    Child,
}

/// `fork()` (tinymx forks for `--background` right after binding).
///
/// # Safety
///
/// The process must have only one thread when this is called. The child
/// gets only the calling thread; a lock another thread held at the fork
/// (the allocator's, stdio's, ours) would stay locked in the child for
/// ever, and the child's next use of it would hang or corrupt it.
pub unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: the caller guarantees the process is single-threaded.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        p => Ok(Forked::Parent { child: p as u32 }),
    }
}

/// `setsid()`: a new session without a controlling terminal.
pub fn setsid() -> io::Result<()> {
    // SAFETY: plain syscall without arguments.
    check(unsafe { libc::setsid() })?;
    Ok(())
}

/// Waits for child `pid`; returns its exit status (128 + signal if killed).
pub fn wait_child(pid: u32) -> io::Result<i32> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a live int for waitpid to fill.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        if r == -1 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        break;
    }
    Ok(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    })
}

/// Points the given standard descriptors (0, 1, 2) at /dev/null.
pub fn stdio_to_devnull(which: &[i32]) -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for &fd in which {
        // SAFETY: dup2 onto a standard descriptor number; `null` stays open
        // for the call, and replacing 0/1/2 invalidates nothing we hold.
        check(unsafe { libc::dup2(null.as_raw_fd(), fd) })?;
    }
    Ok(())
}

/// Local time of `unix_secs` as (month 0–11, day, hour, minute, second),
/// from TZ or /etc/localtime as the C library finds them.
pub fn local_time(unix_secs: i64) -> (u32, u32, u32, u32, u32) {
    let t = unix_secs as _;
    // SAFETY: all-zero tm is a valid value to be overwritten.
    let mut tm: libc::tm = unsafe { zeroed() };
    // SAFETY: both pointers refer to live values; localtime_r is thread-safe.
    let ok = !unsafe { libc::localtime_r(&t, &mut tm) }.is_null();
    if !ok {
        return (0, 1, 0, 0, 0);
    }
    (
        tm.tm_mon as u32,
        tm.tm_mday as u32,
        tm.tm_hour as u32,
        tm.tm_min as u32,
        tm.tm_sec as u32,
    )
}

// ---------------------------------------------------------------- files and directories

/// Opens a directory by path (`O_DIRECTORY | O_CLOEXEC`). Used for the
/// spool root only, which the administrator may make a symlink; everything
/// below it is opened with `open_dir_at`, which never follows one.
pub fn open_dir(path: &std::path::Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in path"))?;
    // SAFETY: `c` is a valid NUL-terminated string for the call's duration.
    let fd = check(unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    Ok(owned(fd))
}

/// Opens `name` inside `dir` as a directory, never following a symlink.
pub fn open_dir_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    let c = CName::new(name)?;
    // SAFETY: `dir` is a live descriptor; `c` is NUL-terminated.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    })?;
    Ok(owned(fd))
}

/// `mkdirat(dir, name, mode)`.
pub fn mkdir_at(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<()> {
    let c = CName::new(name)?;
    // SAFETY: `dir` is live; `c` is NUL-terminated.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t) })?;
    Ok(())
}

/// Creates a new file `name` in `dir` for writing (and reading back:
/// `maildir::Delivery::prepend` copies it); fails if it exists
/// (`O_CREAT | O_EXCL`), never follows a symlink.
pub fn create_excl_at(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<std::fs::File> {
    let c = CName::new(name)?;
    // SAFETY: `dir` is live; `c` is NUL-terminated; mode is passed as the
    // variadic third argument open(2) expects with O_CREAT.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    })?;
    Ok(std::fs::File::from(owned(fd)))
}

/// `linkat(from_dir, name, to_dir, name, 0)`: a hard link that never
/// replaces an existing file (EEXIST instead).
pub fn link_at(
    from_dir: BorrowedFd<'_>,
    from: &str,
    to_dir: BorrowedFd<'_>,
    to: &str,
) -> io::Result<()> {
    let (f, t) = (CName::new(from)?, CName::new(to)?);
    // SAFETY: both descriptors are live; both strings NUL-terminated.
    check(unsafe {
        libc::linkat(
            from_dir.as_raw_fd(),
            f.as_ptr(),
            to_dir.as_raw_fd(),
            t.as_ptr(),
            0,
        )
    })?;
    Ok(())
}

/// `unlinkat(dir, name, 0)`.
pub fn unlink_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    let c = CName::new(name)?;
    // SAFETY: `dir` is live; `c` is NUL-terminated.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) })?;
    Ok(())
}

/// The names in directory `dir` (without `.` and `..`), read through a
/// fresh descriptor for it, so `dir`'s own offset is left alone. Names
/// that are not UTF-8 are skipped (tinymx creates none).
pub fn read_dir_names(dir: BorrowedFd<'_>) -> io::Result<Vec<String>> {
    let fd = open_dir_at_dot(dir)?;
    // SAFETY: `fd` is a new directory descriptor; on success fdopendir
    // takes it over (closedir below closes it), on failure it stays ours.
    let d = unsafe { libc::fdopendir(fd.as_raw_fd()) };
    if d.is_null() {
        return Err(io::Error::last_os_error());
    }
    std::mem::forget(fd);
    let mut names = Vec::new();
    let result = loop {
        // SAFETY: errno is thread-local; readdir returns NULL both at the
        // end and on error, told apart only by errno set to 0 before.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `d` is the open stream from fdopendir, used by this
        // thread only and not closed yet.
        let ent = unsafe { libc::readdir(d) };
        if ent.is_null() {
            let e = io::Error::last_os_error();
            break if e.raw_os_error() == Some(0) {
                Ok(())
            } else {
                Err(e)
            };
        }
        // SAFETY: `ent` points at a dirent valid until the next readdir on
        // `d`; d_name is NUL-terminated. The name is copied out at once.
        let name = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) };
        match name.to_str() {
            Ok("." | "..") | Err(_) => {}
            Ok(n) => names.push(n.to_string()),
        }
    };
    // SAFETY: `d` is open and closed exactly once, here (with its descriptor).
    unsafe { libc::closedir(d) };
    result.map(|()| names)
}

/// `dir` opened again as `.`: a new open file description of its own.
fn open_dir_at_dot(dir: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: `dir` is a live descriptor; the name is a NUL-terminated literal.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c".".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    Ok(owned(fd))
}

/// What `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)` says about an entry.
pub struct EntryStat {
    pub is_dir: bool,
    pub is_file: bool,
    /// Last modification time.
    pub modified: std::time::SystemTime,
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: a symlink is reported as
/// itself (neither a directory nor a regular file).
pub fn stat_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<EntryStat> {
    let c = CName::new(name)?;
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { zeroed() };
    // SAFETY: `dir` is live; `c` is NUL-terminated; `st` is writable.
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    let since_epoch = std::time::Duration::new(
        st.st_mtime.max(0) as u64,
        st.st_mtime_nsec.clamp(0, 999_999_999) as u32,
    );
    Ok(EntryStat {
        is_dir: st.st_mode & libc::S_IFMT == libc::S_IFDIR,
        is_file: st.st_mode & libc::S_IFMT == libc::S_IFREG,
        modified: std::time::UNIX_EPOCH + since_epoch,
    })
}

/// `fsync` on any descriptor (files and directories alike).
pub fn fsync(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain syscall on a live descriptor.
    check(unsafe { libc::fsync(fd.as_raw_fd()) })?;
    Ok(())
}

/// `sync_file_range(fd, 0, 0, WAIT_BEFORE | WRITE | WAIT_AFTER)`: writes
/// the whole file's dirty pages out and waits until the device has them
/// (its blocks allocated), without a journal commit or a cache flush. Not
/// durability by itself (maildir.rs uses it to order the data before a
/// link that a later fsync makes durable).
pub fn write_out(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: plain syscall on a live descriptor; offset 0 and length 0
    // mean the whole file.
    check(unsafe { libc::sync_file_range(fd.as_raw_fd(), 0, 0, flags) })?;
    Ok(())
}

/// `fstatfs`: the type (`f_type`, a magic number such as 0xEF53) of the
/// file system `fd` is on.
pub fn fs_type(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut st = MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `st` is writable memory for one statfs; fd is live.
    check(unsafe { libc::fstatfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatfs returned 0, so it filled `st`. Every magic number
    // is 32 bits (f_type is wider on 64-bit targets).
    Ok(unsafe { st.assume_init() }.f_type as u32)
}

/// `fstat`: the (major, minor) device number of the file system `fd` is on.
pub fn device_of(fd: BorrowedFd<'_>) -> io::Result<(u32, u32)> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is writable memory for one stat; fd is live.
    check(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat returned 0, so it filled `st`.
    let dev: u64 = unsafe { st.assume_init() }.st_dev; // dev_t: 64 bits in musl
    // Linux's dev_t encoding (as glibc's and musl's major()/minor()).
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0xff);
    Ok((major as u32, minor as u32))
}

/// `fchown` on a descriptor.
pub fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain syscall on a live descriptor.
    check(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) })?;
    Ok(())
}

// ---------------------------------------------------------------- child processes

/// `pidfd_open(2)`: a descriptor that turns readable when process `pid`
/// exits, so a wait can have a time-out (Linux 5.3 and later).
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned(fd as libc::c_int))
}

/// Turns a returned error number (the `posix_spawn*` calls return one
/// instead of setting `errno`) into a result.
fn check_rc(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// A `posix_spawn` file-actions or attributes object, initialised in place
/// (it is never moved after `init`) and destroyed when dropped.
struct SpawnObject<'a, T> {
    obj: &'a mut MaybeUninit<T>,
    destroy: unsafe extern "C" fn(*mut T) -> libc::c_int,
}

impl<'a, T> SpawnObject<'a, T> {
    /// `init(obj)`; on success `obj` is destroyed by the returned guard.
    /// `init` and `destroy` must be the matching pair of libc calls for
    /// `T` (`posix_spawn_file_actions_init`/`_destroy`,
    /// `posix_spawnattr_init`/`_destroy`).
    fn init(
        obj: &'a mut MaybeUninit<T>,
        init: unsafe extern "C" fn(*mut T) -> libc::c_int,
        destroy: unsafe extern "C" fn(*mut T) -> libc::c_int,
    ) -> io::Result<SpawnObject<'a, T>> {
        // SAFETY: `init` writes a valid object into the live, correctly
        // sized and aligned storage it is given.
        check_rc(unsafe { init(obj.as_mut_ptr()) })?;
        Ok(SpawnObject { obj, destroy })
    }

    fn ptr(&mut self) -> *mut T {
        self.obj.as_mut_ptr()
    }
}

impl<T> Drop for SpawnObject<'_, T> {
    fn drop(&mut self) {
        // SAFETY: `init` succeeded on this storage (see `init`), it was
        // not moved since, and it is destroyed exactly once, here.
        unsafe { (self.destroy)(self.obj.as_mut_ptr()) };
    }
}

/// An empty signal set with `signals` added.
fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the whole set it is given (it cannot
    // fail on a valid pointer); sigaddset only fails, harmlessly, on an
    // invalid signal number.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for &s in signals {
            libc::sigaddset(set.as_mut_ptr(), s);
        }
        set.assume_init()
    }
}

/// The error `std::process::Command` gave for a NUL byte in the program
/// or the environment (the text reaches the hook's "not started" log).
fn nul_in_spawn_data() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "nul byte found in provided data",
    )
}

/// Starts `program` (argv `[program]`) with the environment `env` (each
/// `NAME=value`) and `stdio` as its descriptors 0, 1 and 2, and returns
/// its pid; the caller must reap it (`try_wait`, `wait_child`). What
/// `std::process::Command` did, minus what tinymx never asks of it:
///
/// - `posix_spawn`, or `posix_spawnp` when `program` has no `/` (found
///   in PATH as `execvp` does). musl (`CLONE_VM | CLONE_VFORK` with a
///   stack of its own) and glibc both report an exec failure as the
///   return value, so a missing program is an error here, not a child
///   that exits 127; both are safe to call from a threaded process.
/// - the child leads a new process group (`POSIX_SPAWN_SETPGROUP`, 0),
///   so a time-out can kill whatever it started too;
/// - an empty signal mask, and SIGPIPE (ignored by tinymx, and an ignored
///   disposition survives exec) back at its default, as std did; SIGTERM,
///   SIGINT and SIGHUP too, whose handlers exec resets anyway.
///
/// The descriptors in `stdio` may be close-on-exec (the `dup2` onto
/// 0, 1 and 2 clears the flag on the copies). A NUL byte in `program` or
/// in `env` is an `InvalidInput` error.
pub fn spawn(
    program: &std::path::Path,
    env: Vec<Vec<u8>>,
    stdio: [BorrowedFd<'_>; 3],
) -> io::Result<u32> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = program.as_os_str().as_bytes();
    let path_lookup = !bytes.contains(&b'/');
    let program = CString::new(bytes).map_err(|_| nul_in_spawn_data())?;
    let env = env
        .into_iter()
        .map(CString::new)
        .collect::<Result<Vec<CString>, _>>()
        .map_err(|_| nul_in_spawn_data())?;
    // The C prototypes take `char *const []`: nothing is written through
    // these pointers.
    let argv = [program.as_ptr() as *mut libc::c_char, std::ptr::null_mut()];
    let envp: Vec<*mut libc::c_char> = env
        .iter()
        .map(|e| e.as_ptr() as *mut libc::c_char)
        .chain([std::ptr::null_mut()])
        .collect();

    let mut actions_storage = MaybeUninit::uninit();
    let mut actions = SpawnObject::init(
        &mut actions_storage,
        libc::posix_spawn_file_actions_init,
        libc::posix_spawn_file_actions_destroy,
    )?;
    for (fd, target) in stdio.iter().zip(0..) {
        // SAFETY: `actions` is an initialised file-actions object; the
        // call only records the two numbers (`fd` stays open until the
        // spawn below, through the borrow in `stdio`).
        check_rc(unsafe {
            libc::posix_spawn_file_actions_adddup2(actions.ptr(), fd.as_raw_fd(), target)
        })?;
    }
    let mut attr_storage = MaybeUninit::uninit();
    let mut attr = SpawnObject::init(
        &mut attr_storage,
        libc::posix_spawnattr_init,
        libc::posix_spawnattr_destroy,
    )?;
    let empty = sigset(&[]);
    let default = sigset(&[libc::SIGPIPE, libc::SIGTERM, libc::SIGINT, libc::SIGHUP]);
    let flags =
        libc::POSIX_SPAWN_SETPGROUP | libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
    // SAFETY: `attr` is an initialised attributes object; the signal sets
    // are live, initialised values, copied by the calls.
    check_rc(unsafe { libc::posix_spawnattr_setflags(attr.ptr(), flags as libc::c_short) })?;
    check_rc(unsafe { libc::posix_spawnattr_setpgroup(attr.ptr(), 0) })?;
    check_rc(unsafe { libc::posix_spawnattr_setsigmask(attr.ptr(), &empty) })?;
    check_rc(unsafe { libc::posix_spawnattr_setsigdefault(attr.ptr(), &default) })?;

    let spawn_fn = if path_lookup {
        libc::posix_spawnp
    } else {
        libc::posix_spawn
    };
    let mut pid: libc::pid_t = 0;
    // SAFETY: `pid` is a live pid_t to write; `program`, `argv` (its
    // strings and final NULL), `envp` (likewise, over `env`), `actions`
    // and `attr` are initialised and outlive the call; the descriptors in
    // `stdio` are open for its duration.
    check_rc(unsafe {
        spawn_fn(
            &mut pid,
            program.as_ptr(),
            actions.ptr(),
            attr.ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
        )
    })?;
    Ok(pid as u32)
}

/// `waitpid(pid, WNOHANG)`: the raw wait status once child `pid` has
/// ended (it is then reaped), None while it runs.
pub fn try_wait(pid: u32) -> io::Result<Option<i32>> {
    let mut status: libc::c_int = 0;
    // SAFETY: `status` is a live int for waitpid to fill.
    let r = check(unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) })?;
    Ok((r != 0).then_some(status))
}

/// Sends `sig` to every process in process group `pgid` (a hook started
/// as its own group leader, so its children go too).
pub fn kill_group(pgid: u32, sig: i32) -> io::Result<()> {
    if pgid == 0 || pgid > i32::MAX as u32 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: kill(2) with a negative pid signals a process group; it has
    // no memory-safety preconditions. pgid 0 (our own group) is refused above.
    check(unsafe { libc::kill(-(pgid as libc::pid_t), sig) })?;
    Ok(())
}

// ---------------------------------------------------------------- identity

/// The kernel's node name (what `hostname` prints).
pub fn hostname() -> io::Result<String> {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` has room for `len` bytes; gethostname NUL-terminates
    // when the name fits, and we keep one byte spare so it always does.
    check(unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len() - 1) })?;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// Buffer for the strings of one passwd entry (getpwnam_r).
const PASSWD_BUF_BYTES: usize = 4096;
/// Buffer for the strings of one group entry (getgrnam_r): larger, as it
/// holds the member list.
const GROUP_BUF_BYTES: usize = 16384;

/// A reentrant lookup by name: `getpwnam_r` or `getgrnam_r`.
type ByName<T> = unsafe extern "C" fn(
    *const libc::c_char,
    *mut T,
    *mut libc::c_char,
    libc::size_t,
    *mut *mut T,
) -> libc::c_int;

/// Looks `name` up with `lookup` and a `buf_len`-byte buffer; `pick`
/// takes what is needed from the entry while its buffer is alive.
///
/// `T` must be the C struct `lookup` fills (`passwd`, `group`): plain
/// data for which all-zero bytes are a valid value.
fn lookup_by_name<T, R>(
    name: &str,
    buf_len: usize,
    lookup: ByName<T>,
    pick: impl FnOnce(&T) -> R,
) -> io::Result<Option<R>> {
    let c = CName::new(name)?;
    let mut buf = vec![0u8; buf_len];
    // SAFETY: T is a plain C struct (see above); all-zero is a valid value
    // to be overwritten.
    let mut entry: T = unsafe { zeroed() };
    let mut result: *mut T = std::ptr::null_mut();
    // SAFETY: every pointer refers to live storage of the stated size; the
    // strings the lookup stores point into `buf`, which outlives `pick`.
    let rc = unsafe {
        lookup(
            c.as_ptr(),
            &mut entry,
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok((!result.is_null()).then(|| pick(&entry)))
}

/// A user looked up by name: (uid, primary gid).
pub fn lookup_user(name: &str) -> io::Result<Option<(u32, u32)>> {
    lookup_by_name(
        name,
        PASSWD_BUF_BYTES,
        libc::getpwnam_r,
        |p: &libc::passwd| (p.pw_uid, p.pw_gid),
    )
}

/// A group id looked up by name.
pub fn lookup_group(name: &str) -> io::Result<Option<u32>> {
    lookup_by_name(
        name,
        GROUP_BUF_BYTES,
        libc::getgrnam_r,
        |g: &libc::group| g.gr_gid,
    )
}

/// Drops to `uid`/`gid` for good: supplementary groups cleared to `gid`,
/// then real/effective/saved gid, then uid (the order matters: after the
/// uid changes we may no longer change groups). Verifies the result.
pub fn drop_privileges(uid: u32, gid: u32) -> io::Result<()> {
    let groups = [gid as libc::gid_t];
    // SAFETY: `groups` is a live array of one gid.
    check(unsafe { libc::setgroups(1, groups.as_ptr()) })?;
    // SAFETY: plain syscalls with integer arguments.
    check(unsafe { libc::setresgid(gid, gid, gid) })?;
    check(unsafe { libc::setresuid(uid, uid, uid) })?;
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: pointers to live integers.
    check(unsafe { libc::getresuid(&mut r, &mut e, &mut s) })?;
    if r != uid || e != uid || s != uid {
        return Err(io::Error::other("uid did not change"));
    }
    // SAFETY: pointers to live integers.
    check(unsafe { libc::getresgid(&mut r, &mut e, &mut s) })?;
    if r != gid || e != gid || s != gid {
        return Err(io::Error::other("gid did not change"));
    }
    // Regaining root must now be impossible.
    if uid != 0 {
        // SAFETY: plain syscall; we expect it to fail.
        if unsafe { libc::setuid(0) } == 0 {
            return Err(io::Error::other("could still regain root"));
        }
    }
    Ok(())
}

/// Process id.
pub fn getpid() -> u32 {
    std::process::id()
}

/// Closes a file and reports the error `close` gives (NFS reports
/// delayed write errors here; qmail checks it, so do we).
pub fn close_checked(file: std::fs::File) -> io::Result<()> {
    let fd = std::os::fd::IntoRawFd::into_raw_fd(file);
    // SAFETY: we own `fd` (just taken out of the File) and close it exactly once.
    check(unsafe { libc::close(fd) })?;
    Ok(())
}

/// `SO_SNDTIMEO`: a blocking send gives up (EAGAIN) after `timeout`.
pub fn set_send_timeout(fd: &OwnedFd, timeout: std::time::Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as _,
        tv_usec: timeout.subsec_micros() as _,
    };
    // SAFETY: we pass a pointer to a live timeval and its exact size.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Bytes available to unprivileged users on the file system of `fd`
/// (`fstatvfs`: f_bavail × f_frsize).
pub fn free_bytes(fd: BorrowedFd<'_>) -> io::Result<u64> {
    // SAFETY: all-zero statvfs is a valid value to be overwritten.
    let mut st: libc::statvfs = unsafe { zeroed() };
    // SAFETY: `fd` is live; `st` is a live, correctly sized struct.
    check(unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) })?;
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Effective user id.
pub fn geteuid() -> u32 {
    // SAFETY: geteuid cannot fail and has no preconditions.
    unsafe { libc::geteuid() }
}

/// Sends `sig` to process `pid`.
pub fn kill(pid: u32, sig: i32) -> io::Result<()> {
    let pid = i32::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    // SAFETY: plain syscall with integer arguments.
    check(unsafe { libc::kill(pid, sig) })?;
    Ok(())
}

/// A 64-bit counter (session ids, Maildir names, dropped DNS answers).
/// `std::sync::atomic::AtomicU64` where the target has 64-bit atomics;
/// MIPS32 (mipsel-unknown-linux-musl) has none, so there it is a `u64`
/// behind a mutex with the same `new` / `fetch_add` / `load` interface. No
/// `unsafe` either way.
#[cfg(target_has_atomic = "64")]
pub use std::sync::atomic::AtomicU64;

#[cfg(not(target_has_atomic = "64"))]
pub struct AtomicU64(std::sync::Mutex<u64>);

#[cfg(not(target_has_atomic = "64"))]
impl AtomicU64 {
    pub const fn new(v: u64) -> AtomicU64 {
        AtomicU64(std::sync::Mutex::new(v))
    }

    /// Adds `v` (wrapping, like the atomic) and returns the previous value.
    /// The ordering is irrelevant: the mutex orders everything.
    pub fn fetch_add(&self, v: u64, _order: std::sync::atomic::Ordering) -> u64 {
        let mut n = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let old = *n;
        *n = old.wrapping_add(v);
        old
    }

    /// The current value.
    pub fn load(&self, _order: std::sync::atomic::Ordering) -> u64 {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// ---------------------------------------------------------------- randomness and interfaces

/// Fills `buf` from the kernel's CSPRNG (`getrandom(2)`, flags 0: blocks
/// only until the pool is initialised at boot). Used for DNS query IDs
/// and source ports, which must be unpredictable (RFC 5452 section 9).
///
/// The raw syscall, not libc's `getrandom()`: std refers to that symbol
/// weakly (`syscall!` in its sys/random/linux.rs), and in the LTO'd static
/// musl binary the symbol came out weak and unresolved, so the call jumped
/// to address 0 (SIGSEGV in the session thread at the first DNS query).
pub fn getrandom(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: `rest` is valid for writes of `rest.len()` bytes; the
        // kernel writes at most that many.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getrandom,
                rest.as_mut_ptr() as *mut libc::c_void,
                rest.len(),
                0,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        done += n as usize;
    }
    Ok(())
}

/// Appends every byte of `from` (read from offset 0, whatever its file
/// position) to `to` at its current position: `copy_file_range(2)`, which
/// copies inside the kernel (a reflink on btrfs and XFS), or, where the
/// kernel or file system has no such call (Linux before 4.5, some FUSE
/// and network file systems), `pread` and `write` through a small buffer.
/// The raw syscall, as for `getrandom`: static musl builds must not rely
/// on a libc symbol std refers to weakly.
pub fn copy_all(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<u64> {
    let mut off: i64 = 0;
    loop {
        // SAFETY: both descriptors are live; `off` is a valid i64 the
        // kernel reads and advances; a NULL output offset means "the file
        // position", as for write(2).
        let n = unsafe {
            libc::syscall(
                libc::SYS_copy_file_range,
                from.as_raw_fd(),
                &mut off as *mut i64,
                to.as_raw_fd(),
                std::ptr::null_mut::<i64>(),
                1usize << 30,
                0u32,
            )
        };
        if n > 0 {
            continue;
        }
        if n == 0 {
            return Ok(off as u64);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            // Nothing was copied by the failing call: go on from `off`.
            Some(libc::ENOSYS | libc::EXDEV | libc::EINVAL | libc::EOPNOTSUPP) => break,
            _ => return Err(err),
        }
    }
    copy_by_reading(from, to, off)
}

/// `copy_all`'s fallback, from offset `off` on. Its buffer is on the heap
/// and the function never inlined: a 16 KiB array in the caller's frame
/// would be touched (stack probes) by every session thread, whether it
/// ever copies or not.
#[inline(never)]
fn copy_by_reading(from: BorrowedFd<'_>, to: BorrowedFd<'_>, mut off: i64) -> io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // SAFETY: `buf` is valid for writes of its length; `from` is live.
        let n = unsafe {
            libc::pread(
                from.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                off as libc::off_t,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Ok(off as u64);
        }
        write_all_raw(to.as_raw_fd(), &buf[..n as usize])?;
        off += n as i64;
    }
}

/// CPU time this thread has used, in nanoseconds
/// (`CLOCK_THREAD_CPUTIME_ID`): for bench/dkim_speed.rs, whose figures
/// must not count the time other processes ran on a shared machine.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is; this
    // clock exists on every Linux since 2.6.12.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The index of network interface `name` (`if_nametoindex(3)`), for an
/// IPv6 link-local nameserver's `%scope`; None when there is no such one.
pub fn if_nametoindex(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: `c` is a NUL-terminated string that lives across the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// Both ways of `copy_all`: file to file (copy_file_range) and file to
    /// pipe, where the kernel refuses copy_file_range (EINVAL) and the
    /// pread/write fallback does the work.
    #[test]
    fn copy_all_copies_every_byte_either_way() {
        use std::io::{Read, Write};
        use std::os::fd::AsFd;
        let dir = std::env::temp_dir().join(format!("tinymx-copy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let data: Vec<u8> = (0..40_000u32).map(|i| (i * 31) as u8).collect();
        let mut from = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("from"))
            .unwrap();
        from.write_all(&data).unwrap();
        let mut to = std::fs::File::create(dir.join("to")).unwrap();
        to.write_all(b"head").unwrap();
        assert_eq!(copy_all(from.as_fd(), to.as_fd()).unwrap(), 40_000);
        let got = std::fs::read(dir.join("to")).unwrap();
        assert_eq!(&got[..4], b"head");
        assert_eq!(&got[4..], &data[..]);
        let (r, w) = pipe().unwrap();
        assert_eq!(copy_all(from.as_fd(), w.as_fd()).unwrap(), 40_000);
        drop(w);
        let mut piped = Vec::new();
        std::fs::File::from(r).read_to_end(&mut piped).unwrap();
        assert_eq!(piped, data);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn getrandom_fills_the_buffer() {
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        getrandom(&mut a).unwrap();
        getrandom(&mut b).unwrap();
        assert!(a != [0; 64] && a != b);
        getrandom(&mut []).unwrap();
    }

    #[test]
    fn names_reach_the_kernel_whole_on_the_stack_or_the_heap() {
        let base = std::env::temp_dir().join(format!("tinymx-sys-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        let dir = open_dir(&base).unwrap();
        // 255 bytes: the longest on the stack, and NAME_MAX.
        let long = "n".repeat(255);
        mkdir_at(dir.as_fd(), &long, 0o700).unwrap();
        assert!(base.join(&long).is_dir());
        open_dir_at(dir.as_fd(), &long).unwrap();
        // 300 bytes go through the heap copy; the kernel refuses them whole.
        let longer = "n".repeat(300);
        let e = mkdir_at(dir.as_fd(), &longer, 0o700).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENAMETOOLONG));
        // A NUL is refused before any syscall.
        let e = mkdir_at(dir.as_fd(), "a\0b", 0o700).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = link_at(dir.as_fd(), "x", dir.as_fd(), &format!("{longer}\0")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
