//! The headers tinymx adds to each stored copy (RFC 5321 §4.4, RFC 5322
//! §3.6.7): Return-Path, Delivered-To, Received, in that order, with LF
//! line endings as stored in the Maildir.

use super::session::{Envelope, Recipient};
use std::net::IpAddr;

/// What the Received header says about the client and us.
pub struct Trace<'a> {
    /// HELO/EHLO name as sent.
    pub helo: &'a [u8],
    /// EHLO (ESMTP) rather than HELO (SMTP).
    pub extended: bool,
    pub client_ip: IpAddr,
    pub hostname: &'a str,
    pub session_id: &'a str,
    /// RFC 5322 date-time, e.g. from `date::rfc5322`.
    pub date: &'a str,
    /// Over TLS: the protocol and cipher suite, `TLSv1.3
    /// TLS_AES_128_GCM_SHA256` (`tls::Stream::description`).
    pub tls: Option<&'a str>,
}

/// The HELO name and client address as the header shows them.
pub use crate::safe::{header_helo as helo_for_header, ip_literal};

/// The three header lines for one recipient's copy.
pub fn headers(t: &Trace, env: &Envelope, rcpt: &Recipient) -> String {
    // RFC 3848: the S names STARTTLS (whatever the client said after it),
    // and a comment names the protocol version and cipher suite.
    // (Only a build with TLS has a session over it.)
    let over_tls = t.tls.filter(|_| cfg!(feature = "tls"));
    let with = match (over_tls, t.extended, env.smtputf8) {
        (Some(_), _, true) => "UTF8SMTPS",
        (Some(_), _, false) => "ESMTPS",
        (None, _, true) => "UTF8SMTP",
        (None, true, false) => "ESMTP",
        (None, false, false) => "SMTP",
    };
    let tls = match over_tls {
        Some(d) => format!(" ({})", d.replacen("TLSv", "TLS", 1)),
        None => String::new(),
    };
    format!(
        "Return-Path: <{sender}>\nDelivered-To: {rcpt}\nReceived: from {helo} ([{ip}]) by {host} (tinymx) with {with}{tls} id {id} for <{rcpt}>; {date}\n",
        sender = env.sender,
        rcpt = rcpt.address,
        helo = helo_for_header(t.helo),
        ip = ip_literal(t.client_ip),
        host = t.hostname,
        id = t.session_id,
        date = t.date,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace<'a>(helo: &'a [u8], extended: bool, ip: &str) -> Trace<'a> {
        Trace {
            helo,
            extended,
            client_ip: ip.parse().unwrap(),
            hostname: "mx.test",
            session_id: "S1",
            date: "Sat, 28 Nov 2026 14:30:26 +0000",
            tls: None,
        }
    }

    fn env(sender: &str, smtputf8: bool) -> Envelope {
        Envelope {
            sender: sender.into(),
            smtputf8,
            recipients: vec![],
        }
    }

    fn rcpt(a: &str) -> Recipient {
        Recipient {
            address: a.into(),
            mailbox: "bob".into(),
        }
    }

    #[test]
    fn headers_for_an_esmtp_message() {
        let h = headers(
            &trace(b"client.example", true, "192.0.2.7"),
            &env("a@b.org", false),
            &rcpt("Bob+x@x.org"),
        );
        assert_eq!(
            h,
            "Return-Path: <a@b.org>\nDelivered-To: Bob+x@x.org\nReceived: from client.example ([192.0.2.7]) by mx.test (tinymx) with ESMTP id S1 for <Bob+x@x.org>; Sat, 28 Nov 2026 14:30:26 +0000\n"
        );
    }

    #[test]
    fn bounce_helo_smtputf8_and_ipv6() {
        let h = headers(
            &trace(b"c", false, "2001:db8::1"),
            &env("", false),
            &rcpt("b@x.org"),
        );
        assert!(h.starts_with("Return-Path: <>\n"));
        assert!(h.contains("from c ([IPv6:2001:db8::1]) by mx.test (tinymx) with SMTP id"));
        let h = headers(
            &trace(b"c", true, "::ffff:127.0.0.1"),
            &env("a@b.org", true),
            &rcpt("b@x.org"),
        );
        assert!(h.contains("([127.0.0.1]) by mx.test (tinymx) with UTF8SMTP id"));
    }

    #[test]
    #[cfg(feature = "tls")]
    fn over_tls_the_protocol_is_esmtps_and_a_comment_names_the_cipher() {
        let mut t = trace(b"client.example", true, "192.0.2.7");
        t.tls = Some("TLSv1.3 TLS_AES_128_GCM_SHA256");
        let h = headers(&t, &env("a@b.org", false), &rcpt("b@x.org"));
        assert!(h.contains(
            "by mx.test (tinymx) with ESMTPS (TLS1.3 TLS_AES_128_GCM_SHA256) id S1 for <b@x.org>; "
        ));
        let h = headers(&t, &env("a@b.org", true), &rcpt("b@x.org"));
        assert!(h.contains(" with UTF8SMTPS (TLS1.3 TLS_AES_128_GCM_SHA256) id S1 "));
        // HELO after the handshake: still ESMTPS (RFC 3848: STARTTLS was used).
        t.extended = false;
        t.tls = Some("TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        let h = headers(&t, &env("a@b.org", false), &rcpt("b@x.org"));
        assert!(h.contains(" with ESMTPS (TLS1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) id S1 "));
    }

    #[test]
    fn bad_helo_names_become_unknown() {
        for bad in [
            &b"evil\r\nX-Injected: 1"[..],
            b"a b",
            b"my_host",
            b"\xff",
            b"[1.2.3]",
            b"x\0",
        ] {
            assert_eq!(helo_for_header(bad), "unknown", "{bad:?}");
        }
        assert_eq!(helo_for_header(b"[10.0.0.1]"), "[10.0.0.1]");
        assert_eq!(helo_for_header(b"[IPv6:::1]"), "[IPv6:::1]");
        assert_eq!(helo_for_header(b"Mail.Example.org"), "Mail.Example.org");
    }
}
