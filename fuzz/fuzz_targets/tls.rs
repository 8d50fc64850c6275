//! Fuzzes src/tls.rs: what a client sends after STARTTLS's 220, in
//! pieces, to one session's `Stream` (rustls underneath), as the driver
//! hands it over: receive, then take the decrypted bytes.
//!
//! Input: pieces, each a length byte and that many bytes, written to the
//! session's socket one at a time (so records and handshake messages are
//! split anywhere). Seeds: real ClientHellos (TLS 1.3 and 1.2, from
//! Python's ssl) in fuzz/seeds/tls/.
//!
//! Oracles: no panic; no decrypted byte before the handshake is done (a
//! client cannot get plain text read as commands by sending it in place
//! of TLS); at most the buffer's capacity per read; after an error the
//! session ends (the driver drops the stream), so the run stops there.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use tinymx::tls::{self, Certs, Stream};

fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tls");
        tls::load(&dir.join("rsa.pem"), &dir.join("rsa.key")).expect("the fixture pair")
    })
}

fuzz_target!(|data: &[u8]| {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    theirs.set_nonblocking(true).unwrap();
    let ours: OwnedFd = ours.into();
    let mut stream = Stream::new(&Arc::clone(certs())).unwrap();
    let mut buf = Vec::with_capacity(1024);
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let piece = &tail[..(n as usize).min(tail.len())];
        rest = &tail[piece.len()..];
        if theirs.write_all(piece).is_err() {
            return;
        }
        if stream.receive(&ours).is_err() {
            return;
        }
        // What the server answered (handshake messages, alerts): read and
        // thrown away, so its sends never fill the socket.
        let mut sink = [0u8; 4096];
        while std::io::Read::read(&mut theirs, &mut sink).is_ok_and(|n| n > 0) {}
        while stream.has_data() {
            assert!(stream.description().is_some(), "plain text before the handshake");
            let got = stream.read(&mut buf);
            assert!(got <= buf.capacity());
            if got == 0 {
                break;
            }
        }
        if stream.closed() {
            return;
        }
    }
});
