//! STARTTLS's TLS, in the `tls` build only (`cargo build --features tls`,
//! `make tls`): the certificate pair (`--tls-cert`, `--tls-key`), read at
//! start-up and on SIGHUP, and one session's TLS over its socket.
//!
//! rustls with ring as its one crypto provider (README, "TLS"), TLS 1.2
//! and 1.3, no client certificates. The socket is only touched through
//! `sys` (`recv_into`, `send`): the driver in `conn` polls it, then hands
//! what arrived to `Stream::receive`, and sends through `Stream::send`.

use crate::sys;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ProtocolVersion, ServerConfig, ServerConnection};
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;

/// The settings every new TLS session starts from: the certificate chain
/// and its key. A reload builds a new one; sessions keep theirs.
pub type Certs = Arc<ServerConfig>;

/// Reads the PEM pair: a chain (the server's certificate first) and its
/// private key (PKCS#8, PKCS#1 RSA or SEC1 EC). A missing or unreadable
/// file, one without the PEM block it needs, or a key that is not the
/// certificate's: the message names the file.
pub fn load(cert: &Path, key: &Path) -> Result<Certs, String> {
    let cert_err = |e: &dyn std::fmt::Display| format!("--tls-cert {}: {e}", cert.display());
    let key_err = |e: &dyn std::fmt::Display| format!("--tls-key {}: {e}", key.display());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_err(&pem_error(e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(&pem_error(e)))?;
    if chain.is_empty() {
        return Err(cert_err(&"no CERTIFICATE block in it"));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| key_err(&pem_error(e)))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| cert_err(&e))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => key_err(&format_args!(
                "not the key of --tls-cert {}",
                cert.display()
            )),
            e => key_err(&e),
        })?;
    Ok(Arc::new(config))
}

/// A PEM reading error in words (the file's own error for I/O).
fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(e) => e.to_string(),
        Error::NoItemsFound => "no PEM block of the kind needed in it".into(),
        e => format!("not PEM: {e:?}"),
    }
}

/// One session's TLS, from the STARTTLS 220 on. Boxed, and its methods
/// kept out of line, so that a session in plain text carries none of it
/// on its stack (the TLS build's plain sessions use the default build's
/// stack pages).
pub struct Stream {
    conn: ServerConnection,
    /// Decrypted bytes not taken yet.
    plaintext: usize,
    /// The client sent close_notify or closed the connection.
    closed: bool,
    /// Once the handshake is done: "TLSv1.3 TLS_AES_128_GCM_SHA256".
    description: Option<String>,
}

impl Stream {
    #[inline(never)]
    pub fn new(certs: &Certs) -> Result<Box<Stream>, String> {
        let conn = ServerConnection::new(Arc::clone(certs)).map_err(|e| e.to_string())?;
        Ok(Box::new(Stream {
            conn,
            plaintext: 0,
            closed: false,
            description: None,
        }))
    }

    /// Still in the handshake?
    pub fn handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Are decrypted bytes waiting (no need to wait for the socket)?
    pub fn has_data(&self) -> bool {
        self.plaintext > 0
    }

    /// Did the client end TLS (close_notify) or the connection? Once the
    /// waiting bytes are taken, the session reads nothing more.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// The protocol and cipher suite once the handshake is done, as
    /// `TINYMX_TLS` gives them: `TLSv1.3 TLS_AES_128_GCM_SHA256`.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The socket is readable: takes what arrived and processes it
    /// (handshake records are answered at once); then `has_data` and
    /// `closed` say what came. An error is the handshake's or the record
    /// layer's failure; the alert, if any, is sent before it returns.
    #[inline(never)]
    pub fn receive(&mut self, sock: &OwnedFd) -> Result<(), String> {
        let n = match self.conn.read_tls(&mut Socket(sock)) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        let state = match self.conn.process_new_packets() {
            Ok(s) => s,
            Err(e) => {
                // The alert rustls queued for the error, sent without waiting.
                let _ = self.write_out(sock);
                return Err(e.to_string());
            }
        };
        self.plaintext = state.plaintext_bytes_to_read();
        self.closed = state.peer_has_closed() || n == 0;
        if self.description.is_none() && !self.conn.is_handshaking() {
            self.description = Some(self.negotiated());
        }
        self.write_out(sock).map_err(|e| e.to_string())
    }

    /// Moves decrypted bytes into `buf` (up to its capacity, which must
    /// not be 0); the count.
    #[inline(never)]
    pub fn read(&mut self, buf: &mut Vec<u8>) -> usize {
        use std::io::Read;
        buf.clear();
        buf.resize(buf.capacity(), 0);
        let n = self.conn.reader().read(buf).unwrap_or(0);
        buf.truncate(n);
        self.plaintext = self.plaintext.saturating_sub(n);
        n
    }

    /// Encrypts `bytes` and sends them and anything else queued (a
    /// blocking send, bounded by the socket's send time-out).
    #[inline(never)]
    pub fn send(&mut self, sock: &OwnedFd, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        self.conn.writer().write_all(bytes)?;
        self.write_out(sock)
    }

    /// Sends close_notify (at QUIT and when the server closes).
    #[inline(never)]
    pub fn close(&mut self, sock: &OwnedFd) {
        self.conn.send_close_notify();
        let _ = self.write_out(sock);
    }

    fn write_out(&mut self, sock: &OwnedFd) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut Socket(sock)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn negotiated(&self) -> String {
        let version = match self.conn.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "TLS",
        };
        // rustls names the TLS 1.3 suites TLS13_*; the IANA name is TLS_*.
        let suite = self
            .conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .unwrap_or("unknown");
        let suite = suite
            .strip_prefix("TLS13_")
            .map_or(suite.to_string(), |s| format!("TLS_{s}"));
        format!("{version} {suite}")
    }
}

/// The socket as rustls' reader and writer: reads never wait (the driver
/// polled first), writes wait as the plain session's do.
struct Socket<'a>(&'a OwnedFd);

impl io::Read for Socket<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys::recv_into(self.0, buf)
    }
}

impl io::Write for Socket<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::send(self.0, buf, false)
    }
    /// rustls hands over its queued records together: one `sendmsg`, so
    /// a handshake flight (ServerHello, ChangeCipherSpec, the encrypted
    /// rest) leaves in one segment.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        sys::send_vectored(self.0, bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{ServerName, UnixTime};
    use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    #[test]
    fn a_pair_loads_in_every_key_encoding_and_mismatches_name_the_file() {
        for (cert, key) in [
            ("rsa.pem", "rsa.key"),
            ("rsa.pem", "rsa-pkcs1.key"),
            ("ec.pem", "ec.key"),
            ("ec.pem", "ec-sec1.key"),
        ] {
            load(&fixture(cert), &fixture(key)).unwrap_or_else(|e| panic!("{cert} {key}: {e}"));
        }
        let (rsa, ec) = (fixture("rsa.pem"), fixture("ec.key"));
        let err = load(&rsa, &ec).err().unwrap();
        let want = format!(
            "--tls-key {}: not the key of --tls-cert {}",
            ec.display(),
            rsa.display()
        );
        assert_eq!(err, want);
        let err = load(&rsa, &rsa).err().unwrap();
        let want = format!(
            "--tls-key {}: no PEM block of the kind needed in it",
            rsa.display()
        );
        assert_eq!(err, want);
        let missing = fixture("missing.pem");
        let err = load(&missing, &ec).err().unwrap();
        assert!(
            err.starts_with(&format!("--tls-cert {}: ", missing.display())),
            "{err}"
        );
        let key = fixture("rsa.key");
        let err = load(&key, &key).err().unwrap();
        assert_eq!(
            err,
            format!("--tls-cert {}: no CERTIFICATE block in it", key.display())
        );
    }

    /// Accepts exactly the fixture's certificate, whatever today's date
    /// (the tests must not depend on it), and checks the handshake's
    /// signatures with ring.
    #[derive(Debug)]
    struct Pinned(CertificateDer<'static>);

    impl ServerCertVerifier for Pinned {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            assert_eq!(end_entity.as_ref(), self.0.as_ref());
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
            rustls::crypto::verify_tls12_signature(message, cert, dss, &algs)
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
            rustls::crypto::verify_tls13_signature(message, cert, dss, &algs)
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    /// A rustls client and `Stream` over a socket pair, in one thread:
    /// the handshake, data both ways (more than the read buffer holds, so
    /// `has_data` carries the rest), then close_notify.
    fn handshake_and_talk(
        cert: &str,
        key: &str,
        version: &'static rustls::SupportedProtocolVersion,
    ) {
        let certs = load(&fixture(cert), &fixture(key)).unwrap();
        let chain = CertificateDer::pem_file_iter(fixture(cert))
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client_cfg = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned(chain)))
            .with_no_client_auth();
        let name = ServerName::try_from("mx.test").unwrap();
        let mut client = ClientConnection::new(Arc::new(client_cfg), name).unwrap();
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let ours: OwnedFd = ours.into();
        let mut server = Stream::new(&certs).unwrap();
        let mut rounds = 0;
        while client.is_handshaking() || server.handshaking() {
            rounds += 1;
            assert!(rounds < 10, "handshake stuck");
            while client.wants_write() {
                client.write_tls(&mut theirs).unwrap();
            }
            server.receive(&ours).unwrap();
            if client.is_handshaking() {
                client.read_tls(&mut theirs).unwrap();
                client.process_new_packets().unwrap();
            }
        }
        let want = if version.version == ProtocolVersion::TLSv1_3 {
            "TLSv1.3 TLS_"
        } else {
            "TLSv1.2 TLS_ECDHE_"
        };
        let got = server.description().unwrap().to_string();
        assert!(got.starts_with(want), "{got}");
        assert!(!got.contains("TLS13_"), "{got}");
        // Client to server: 40 KiB, taken 16 KiB at a time.
        let sent: Vec<u8> = (0..40 * 1024u32).map(|i| (i % 251) as u8).collect();
        client.writer().write_all(&sent).unwrap();
        while client.wants_write() {
            client.write_tls(&mut theirs).unwrap();
        }
        let mut got = Vec::new();
        let mut buf = Vec::with_capacity(16 * 1024);
        while got.len() < sent.len() {
            if !server.has_data() {
                server.receive(&ours).unwrap();
            }
            let n = server.read(&mut buf);
            assert!(n <= 16 * 1024);
            got.extend_from_slice(&buf);
        }
        assert_eq!(got, sent);
        assert!(!server.has_data());
        // Server to client.
        server.send(&ours, b"250 2.0.0 Ok\r\n").unwrap();
        client.read_tls(&mut theirs).unwrap();
        client.process_new_packets().unwrap();
        let mut reply = [0u8; 64];
        let n = client.reader().read(&mut reply).unwrap();
        assert_eq!(&reply[..n], b"250 2.0.0 Ok\r\n");
        // close_notify: closed, and no data.
        client.send_close_notify();
        client.write_tls(&mut theirs).unwrap();
        server.receive(&ours).unwrap();
        assert!(server.closed() && !server.has_data());
        server.close(&ours);
        client.read_tls(&mut theirs).unwrap();
        assert!(client.process_new_packets().unwrap().peer_has_closed());
    }

    #[test]
    fn tls13_with_rsa_and_tls12_with_ecdsa() {
        handshake_and_talk("rsa.pem", "rsa.key", &rustls::version::TLS13);
        handshake_and_talk("ec.pem", "ec.key", &rustls::version::TLS12);
        handshake_and_talk("rsa.pem", "rsa-pkcs1.key", &rustls::version::TLS12);
    }

    #[test]
    fn garbage_is_an_error_with_rustls_words() {
        let certs = load(&fixture("rsa.pem"), &fixture("rsa.key")).unwrap();
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let ours: OwnedFd = ours.into();
        let mut server = Stream::new(&certs).unwrap();
        theirs
            .write_all(b"EHLO c\r\nMAIL FROM:<a@b.org>\r\n")
            .unwrap();
        let err = server.receive(&ours).err().unwrap();
        assert!(!err.is_empty());
        assert!(server.description().is_none());
    }
}
