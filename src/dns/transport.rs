//! One query to one nameserver: UDP first, TCP when the answer is
//! truncated (RFC 1035 4.2, RFC 7766 section 5).
//!
//! Spoofing defence (RFC 5452 sections 4 and 9): every query gets a
//! random ID and goes out from a random source port; an answer counts
//! only when its source address and port, its ID and its question all
//! match. Anything else is dropped and counted, and we keep waiting for
//! the real answer until the query's deadline.

use super::wire::{self, Message};
use crate::sys;
use crate::sys::AtomicU64;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Room for one UDP answer. We advertise 1232 bytes; a server that sends
/// more than that anyway still fits, up to this size.
const UDP_BUFFER: usize = 4096;
/// Tries at a random source port before leaving the choice to the kernel
/// (the port may be in use by another socket).
const PORT_TRIES: usize = 8;

/// Why one exchange gave no usable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeError {
    /// Nothing that matched before the deadline.
    Timeout,
    /// The server answered with something we could not parse.
    Malformed,
    /// A local socket error or a refused connection.
    Io,
}

/// 16 random bits.
fn random_u16() -> io::Result<u16> {
    let mut b = [0u8; 2];
    sys::getrandom(&mut b)?;
    Ok(u16::from_be_bytes(b))
}

/// A UDP socket on a random port ≥ 1024 of the server's address family.
fn random_port_socket(server: &SocketAddr) -> io::Result<OwnedFd> {
    let ip = match server {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let sock = sys::client_socket(server, true)?;
    for _ in 0..PORT_TRIES {
        let port = 1024 + random_u16()? % (65535 - 1024);
        // A failed bind (the port is in use) leaves the socket unbound.
        if sys::bind(&sock, &SocketAddr::new(ip, port)).is_ok() {
            return Ok(sock);
        }
    }
    // The kernel's ephemeral ports are randomised too (Linux since 2.6.24).
    sys::bind(&sock, &SocketAddr::new(ip, 0))?;
    Ok(sock)
}

/// Does `m` answer our question? The name is compared in presentation
/// form, case-insensitively (RFC 4343).
fn matches(m: &Message, id: u16, name: &str, qtype: u16) -> bool {
    m.id == id
        && m.question.qtype == qtype
        && m.question.qclass == wire::CLASS_IN
        && m.question.name == wire::presentation(name)
}

/// Sends `name`/`qtype` to `server` and returns its matching answer,
/// over TCP when the UDP answer has TC set. `dropped` counts answers that
/// did not match (spoofing attempts, late answers to earlier queries).
pub fn exchange(
    server: SocketAddr,
    name: &str,
    qtype: u16,
    deadline: Instant,
    dropped: &AtomicU64,
) -> Result<Message, ExchangeError> {
    let id = random_u16().map_err(|_| ExchangeError::Io)?;
    let query = wire::build_query(id, name, qtype).map_err(|_| ExchangeError::Malformed)?;
    let ask = Ask {
        server,
        name,
        qtype,
        deadline,
        dropped,
    };
    let m = udp(&ask, &query, id)?;
    if !m.truncated {
        return Ok(m);
    }
    // A fresh ID for the TCP query: the UDP one has been seen on the wire.
    let id = random_u16().map_err(|_| ExchangeError::Io)?;
    let query = wire::build_query(id, name, qtype).map_err(|_| ExchangeError::Malformed)?;
    tcp(&ask, &query, id)
}

/// What one exchange is about, shared by its UDP and TCP halves.
struct Ask<'a> {
    server: SocketAddr,
    name: &'a str,
    qtype: u16,
    deadline: Instant,
    dropped: &'a AtomicU64,
}

/// Time left until `deadline`, or None when it has passed.
fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

/// Waits until `sock` is readable (`write`: writable), at most until
/// `deadline`. The wait is rounded up to whole milliseconds, so it never
/// wakes just before the deadline and spins.
fn wait(sock: &OwnedFd, write: bool, deadline: Instant) -> Result<(), ExchangeError> {
    loop {
        let left = remaining(deadline).ok_or(ExchangeError::Timeout)?;
        let ms = left
            .as_secs()
            .saturating_mul(1000)
            .saturating_add(u64::from(left.subsec_nanos().div_ceil(1_000_000)))
            .min(i32::MAX as u64) as i32;
        if sys::poll_one(sock, write, ms).map_err(|_| ExchangeError::Io)? {
            return Ok(());
        }
    }
}

/// Did a non-blocking call find nothing to do yet (or get interrupted)?
fn again(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

fn udp(ask: &Ask<'_>, query: &[u8], id: u16) -> Result<Message, ExchangeError> {
    let (server, deadline, dropped) = (ask.server, ask.deadline, ask.dropped);
    let sock = random_port_socket(&server).map_err(|_| ExchangeError::Io)?;
    sys::send_to(&sock, query, &server).map_err(|_| ExchangeError::Io)?;
    let mut buf = vec![0u8; UDP_BUFFER];
    loop {
        wait(&sock, false, deadline)?;
        let (n, from) = match sys::recv_from(&sock, &mut buf) {
            Ok(x) => x,
            Err(e) if again(&e) => continue,
            Err(_) => return Err(ExchangeError::Io),
        };
        if from != server {
            drop_answer(dropped, server, "source address");
            continue;
        }
        // n ≤ the buffer's length (the kernel wrote it); `get` saves a
        // panic path the compiler cannot see is dead.
        match wire::parse_response(buf.get(..n).unwrap_or_default()) {
            Ok(m) if matches(&m, id, ask.name, ask.qtype) => return Ok(m),
            Ok(_) => drop_answer(dropped, server, "ID or question"),
            // Unparseable but from the right address: could be a spoofed
            // packet as well, so keep waiting for a good one.
            Err(_) => drop_answer(dropped, server, "malformed"),
        }
    }
}

fn drop_answer(dropped: &AtomicU64, server: SocketAddr, why: &str) {
    dropped.fetch_add(1, Ordering::Relaxed);
    crate::debug!("dns: dropped an answer for the query to {server}: {why} does not match");
}

fn tcp(ask: &Ask<'_>, query: &[u8], id: u16) -> Result<Message, ExchangeError> {
    let (server, deadline, dropped) = (ask.server, ask.deadline, ask.dropped);
    remaining(deadline).ok_or(ExchangeError::Timeout)?;
    let s = sys::client_socket(&server, false).map_err(|_| ExchangeError::Io)?;
    if !sys::connect(&s, &server).map_err(|_| ExchangeError::Io)? {
        wait(&s, true, deadline)?;
        sys::take_error(&s).map_err(|_| ExchangeError::Io)?;
    }
    // RFC 1035 4.2.2: a two-octet length, then the message.
    let mut out = (query.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(query);
    let mut rest = &out[..];
    while !rest.is_empty() {
        wait(&s, true, deadline)?;
        match sys::send(&s, rest, true) {
            Ok(n) => rest = rest.get(n..).unwrap_or_default(),
            Err(e) if again(&e) => {}
            Err(_) => return Err(ExchangeError::Io),
        }
    }
    let mut len = [0u8; 2];
    read_exact_until(&s, &mut len, deadline)?;
    // The length is at most 65535: a fixed, small bound on this buffer.
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    read_exact_until(&s, &mut buf, deadline)?;
    match wire::parse_response(&buf) {
        Ok(m) if matches(&m, id, ask.name, ask.qtype) && !m.truncated => Ok(m),
        Ok(_) => {
            drop_answer(dropped, server, "ID or question (TCP)");
            Err(ExchangeError::Malformed)
        }
        Err(_) => Err(ExchangeError::Malformed),
    }
}

/// Fills `buf` from the stream, each read waiting at most until
/// `deadline`, so a slow sender cannot stretch it.
fn read_exact_until(
    s: &OwnedFd,
    mut buf: &mut [u8],
    deadline: Instant,
) -> Result<(), ExchangeError> {
    while !buf.is_empty() {
        wait(s, false, deadline)?;
        match sys::recv_into(s, buf) {
            Ok(0) => return Err(ExchangeError::Io),
            Ok(n) => buf = buf.get_mut(n..).unwrap_or_default(),
            Err(e) if again(&e) => {}
            Err(_) => return Err(ExchangeError::Io),
        }
    }
    Ok(())
}
