//! `/etc/resolv.conf` (resolv.conf(5)): the nameservers and the
//! `timeout:`/`attempts:` options; everything else is ignored.
//!
//! Files written by glibc systems, busybox, OpenWrt (dnsmasq's
//! `/tmp/resolv.conf.d/...`, often `nameserver 127.0.0.1` only) and
//! systemd-resolved all have this shape. Unknown keywords and malformed
//! lines are skipped, as the C resolvers do, so one odd line never leaves
//! the machine without DNS.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// glibc's caps (resolv.h: RES_MAXRETRANS 30 s, RES_MAXRETRY 5).
pub const MAX_TIMEOUT_SECS: u64 = 30;
pub const MAX_ATTEMPTS: u32 = 5;
/// More nameservers than glibc's 3 (MAXNS) are kept, as busybox and musl
/// keep up to their own limits, but not without bound.
pub const MAX_SERVERS: usize = 8;

/// What a resolv.conf file says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvConf {
    /// In file order, port 53.
    pub servers: Vec<SocketAddr>,
    /// `options timeout:N`, capped at `MAX_TIMEOUT_SECS`.
    pub timeout_secs: Option<u64>,
    /// `options attempts:N`, capped at `MAX_ATTEMPTS`.
    pub attempts: Option<u32>,
}

/// Parses the text of a resolv.conf file.
pub fn parse(text: &str) -> ResolvConf {
    let mut conf = ResolvConf::default();
    // A '\r' before the '\n' is white space to the word splitter below.
    for line in text.split('\n') {
        // '#' and ';' start a comment, at the start of a line or after a
        // value (busybox accepts both; neither can occur in an address).
        let end = line.bytes().position(|b| b == b'#' || b == b';');
        let line = end.and_then(|e| line.get(..e)).unwrap_or(line);
        let mut words = line.split_ascii_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(addr) = words.next().and_then(server)
                    && conf.servers.len() < MAX_SERVERS
                {
                    conf.servers.push(addr);
                }
            }
            Some("options") => {
                for opt in words {
                    option(&mut conf, opt);
                }
            }
            _ => {}
        }
    }
    conf
}

/// One `options` word; the last one of a kind wins, as in glibc.
fn option(conf: &mut ResolvConf, opt: &str) {
    if let Some(n) = opt
        .strip_prefix("timeout:")
        .and_then(|v| v.parse::<u64>().ok())
    {
        conf.timeout_secs = Some(n.clamp(1, MAX_TIMEOUT_SECS));
    } else if let Some(n) = opt
        .strip_prefix("attempts:")
        .and_then(|v| v.parse::<u32>().ok())
    {
        conf.attempts = Some(n.clamp(1, MAX_ATTEMPTS));
    }
}

/// `1.2.3.4`, `2001:db8::1` or `fe80::1%eth0` (a scope by interface name
/// or number, needed for link-local servers) → port 53.
fn server(word: &str) -> Option<SocketAddr> {
    let (addr, scope) = match word.split_once('%') {
        Some((a, s)) => (a, Some(s)),
        None => (word, None),
    };
    match (addr.parse::<IpAddr>().ok()?, scope) {
        (IpAddr::V4(ip), None) => Some(SocketAddr::new(IpAddr::V4(ip), 53)),
        (IpAddr::V6(ip), None) => Some(SocketAddr::new(IpAddr::V6(ip), 53)),
        (IpAddr::V6(ip), Some(s)) => Some(scoped(ip, s)?),
        (IpAddr::V4(_), Some(_)) => None,
    }
}

fn scoped(ip: Ipv6Addr, scope: &str) -> Option<SocketAddr> {
    let id = match scope.parse::<u32>() {
        Ok(n) => n,
        Err(_) => crate::sys::if_nametoindex(scope)?,
    };
    Some(SocketAddr::V6(SocketAddrV6::new(ip, 53, 0, id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_file_with_comments_and_options() {
        let c = parse(
            "# generated\n; another comment\nsearch lan\nnameserver 192.0.2.1\n\
             nameserver 2001:db8::53 # v6\noptions rotate timeout:3 attempts:4\n",
        );
        assert_eq!(
            c.servers,
            vec![
                "192.0.2.1:53".parse().unwrap(),
                "[2001:db8::53]:53".parse().unwrap()
            ]
        );
        assert_eq!((c.timeout_secs, c.attempts), (Some(3), Some(4)));
    }

    #[test]
    fn busybox_openwrt_file() {
        // dnsmasq on OpenWrt writes just this (tabs included on some).
        let c = parse("search lan\nnameserver\t127.0.0.1\nnameserver ::1\n");
        assert_eq!(
            c.servers,
            vec!["127.0.0.1:53".parse().unwrap(), "[::1]:53".parse().unwrap()]
        );
        assert_eq!((c.timeout_secs, c.attempts), (None, None));
    }

    #[test]
    fn ipv6_scope_by_number_and_by_name() {
        let c =
            parse("nameserver fe80::1%7\nnameserver fe80::2%lo\nnameserver fe80::3%nosuchif0\n");
        let SocketAddr::V6(a) = c.servers[0] else {
            panic!()
        };
        assert_eq!(a.scope_id(), 7);
        let SocketAddr::V6(b) = c.servers[1] else {
            panic!()
        };
        assert_ne!(b.scope_id(), 0, "lo has an index");
        assert_eq!(c.servers.len(), 2, "an unknown interface is skipped");
    }

    #[test]
    fn malformed_lines_are_skipped_and_options_capped() {
        let c = parse(
            "nameserver\nnameserver 300.1.1.1\nnameserver 1.2.3.4%eth0\noptions timeout:999 attempts:0 ndots:2\n",
        );
        assert!(c.servers.is_empty());
        assert_eq!((c.timeout_secs, c.attempts), (Some(30), Some(1)));
    }

    #[test]
    fn server_count_is_bounded() {
        let text: String = (0..20)
            .map(|i| format!("nameserver 10.0.0.{i}\n"))
            .collect();
        assert_eq!(parse(&text).servers.len(), MAX_SERVERS);
    }
}
