//! Shared helpers for the integration tests: start the real binary on a
//! free loopback port (read from its `listening on ADDR` line), talk SMTP
//! over a `TcpStream`, read what landed in the Maildir.
//!
//! The binary is `$TINYMX_BIN` when set (`make test` points it at the
//! static musl build), else the one cargo built for this test run.
//! `$TINYMX_RUNNER` may name a program to run it with (e.g. an emulator).
//!
//! `dns_server`: a DNS server on 127.0.0.1 for the resolver's and SPF's
//! tests.

#![allow(dead_code)]

pub mod dns_server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn binary() -> PathBuf {
    match std::env::var_os("TINYMX_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_tinymx")),
    }
}

/// A command that runs tinymx (through `$TINYMX_RUNNER` if set).
pub fn command() -> Command {
    match std::env::var("TINYMX_RUNNER")
        .ok()
        .filter(|r| !r.is_empty())
    {
        Some(runner) => {
            let mut c = Command::new(runner);
            c.arg(binary());
            c
        }
        None => Command::new(binary()),
    }
}

/// True when the binary under test is a MIPS one (run by an emulator such
/// as qemu-mipsel-static): Linux numbers some errno values differently
/// there. Read from the binary's ELF header (e_machine 8 = EM_MIPS).
pub fn target_is_mips() -> bool {
    let mut head = [0u8; 20];
    let n = std::fs::File::open(binary())
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    if n < 20 || head[..4] != *b"\x7fELF" {
        return false;
    }
    let machine = [head[18], head[19]];
    // EI_DATA (byte 5): 2 is big-endian, else little-endian.
    let machine = if head[5] == 2 {
        u16::from_be_bytes(machine)
    } else {
        u16::from_le_bytes(machine)
    };
    machine == 8
}

/// True as root; otherwise says that `test` is skipped (CI runs as root,
/// so there every such test runs).
pub fn running_as_root(test: &str) -> bool {
    let root = tinymx::sys::geteuid() == 0;
    if !root {
        eprintln!("SKIPPED {test}: needs root (CI runs as root)");
    }
    root
}

/// A temporary directory, removed on success and kept (with its path
/// printed) when the test panics.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "tinymx-test-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept test directory {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Lines the server wrote to stderr, shared with the reader thread.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    changed: Condvar,
}

pub struct Server {
    pub child: Child,
    pub addrs: Vec<SocketAddr>,
    pub dir: TempDir,
    pub spool: PathBuf,
    log: Arc<Log>,
}

impl Server {
    /// Starts tinymx with `-l 127.0.0.1:0 -d DIR/spool -n mx.test` and `args`.
    pub fn start(args: &[&str]) -> Server {
        Self::start_with(&["-l", "127.0.0.1:0", "-n", "mx.test"], args)
    }

    /// Starts tinymx with `base` + `-d DIR/spool` + `args`; waits for every
    /// `listening on` line (one per `-l`, or one for the default).
    pub fn start_with(base: &[&str], args: &[&str]) -> Server {
        Self::start_env(base, args, &[])
    }

    /// `start_with`, with extra environment variables for the server (and
    /// so for its hooks).
    pub fn start_env(base: &[&str], args: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = TempDir::new("srv");
        let spool = dir.path().join("spool");
        Self::spawn(dir, spool, base, args, env)
    }

    /// Starts tinymx on 127.0.0.1:0 with the spool at `spool` (for tests
    /// that restart on the same spool, or want it on tmpfs).
    pub fn start_at(spool: &Path, args: &[&str]) -> Server {
        Self::spawn(
            TempDir::new("srv"),
            spool.to_path_buf(),
            &["-l", "127.0.0.1:0", "-n", "mx.test"],
            args,
            &[],
        )
    }

    fn spawn(
        dir: TempDir,
        spool: PathBuf,
        base: &[&str],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let mut child = command()
            .args(base)
            .arg("-d")
            .arg(&spool)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tinymx");
        let log = Arc::new(Log::default());
        let stderr = child.stderr.take().unwrap();
        let log2 = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[tinymx] {line}");
                log2.lines.lock().unwrap().push(line);
                log2.changed.notify_all();
            }
        });
        let wanted = base
            .iter()
            .chain(args)
            .filter(|a| **a == "-l" || **a == "--listen")
            .count()
            .max(1);
        let mut server = Server {
            child,
            addrs: Vec::new(),
            dir,
            spool,
            log,
        };
        server.wait_log(|lines| {
            lines.iter().filter(|l| l.contains("listening on ")).count() >= wanted
        });
        server.addrs = server
            .log_lines()
            .iter()
            .filter_map(|l| l.split("listening on ").nth(1))
            .map(|a| a.trim().parse().expect("address in log"))
            .collect();
        server
    }

    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.log.lines.lock().unwrap().clone()
    }

    /// Waits until `pred` holds for the log so far; panics after `WAIT`.
    pub fn wait_log(&self, pred: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + WAIT;
        let mut lines = self.log.lines.lock().unwrap();
        while !pred(&lines) {
            let now = Instant::now();
            assert!(
                now < deadline,
                "timed out waiting for the log; have:\n{}",
                lines.join("\n")
            );
            lines = self
                .log
                .changed
                .wait_timeout(lines, deadline - now)
                .unwrap()
                .0;
        }
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.addr())
    }

    /// Sends a signal to the server (by its pid).
    pub fn signal(&self, sig: i32) {
        tinymx::sys::kill(self.child.id(), sig).expect("kill");
    }

    /// Waits for the server to exit; panics after `WAIT`.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The messages in `mailbox/new/`, sorted by file name.
    pub fn messages(&self, mailbox: &str) -> Vec<Vec<u8>> {
        files(&self.spool.join(mailbox).join("new"))
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A line of `/proc/PID/status` such as `VmRSS:` as a number (kB for sizes).
pub fn proc_status(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("{key} in {status}"));
    line[key.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Open file descriptors of a process.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Waits until `pred` holds, polling; panics after `WAIT` with `what`.
pub fn wait_until(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Regular files in a directory, sorted; empty if it does not exist.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Every path below `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// Splits a stored message into its three added trace headers and the
/// message as received. Checks the headers' order and shape.
pub fn split_trace(stored: &[u8]) -> (Vec<String>, Vec<u8>) {
    let mut rest = stored;
    let mut headers = Vec::new();
    for name in ["Return-Path: ", "Delivered-To: ", "Received: "] {
        let nl = rest.iter().position(|&b| b == b'\n').expect("header line");
        let line = String::from_utf8(rest[..nl].to_vec()).expect("UTF-8 header");
        assert!(line.starts_with(name), "expected {name:?}, got {line:?}");
        headers.push(line);
        rest = &rest[nl + 1..];
    }
    (headers, rest.to_vec())
}

/// An SMTP client over a plain `TcpStream`.
pub struct Client {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Client { stream, reader }
    }

    /// Reads one whole reply (all its lines), as sent.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = Vec::new();
            let n = self
                .reader
                .read_until(b'\n', &mut line)
                .expect("read reply");
            assert!(n > 0, "connection closed; got so far {all:?}");
            let line = String::from_utf8(line).expect("UTF-8 reply");
            assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
            let last = line.as_bytes().get(3) == Some(&b' ');
            all.push_str(&line);
            if last {
                return all;
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends one command line (CRLF added) and returns the reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// True once the server has closed the connection (EOF).
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0))
    }

    /// Greeting + EHLO, asserting both.
    pub fn hello(addr: SocketAddr) -> Client {
        let mut c = Client::connect(addr);
        assert_eq!(c.reply(), "220 mx.test ESMTP tinymx\r\n");
        assert!(c.cmd("EHLO client.example").starts_with("250-mx.test\r\n"));
        c
    }

    /// MAIL, RCPT for each of `to`, DATA, asserting 250, 250…, 354.
    pub fn open_data(&mut self, from: &str, to: &[&str]) {
        assert_eq!(
            self.cmd(&format!("MAIL FROM:<{from}>")),
            "250 2.1.0 Sender ok\r\n"
        );
        for t in to {
            assert_eq!(
                self.cmd(&format!("RCPT TO:<{t}>")),
                "250 2.1.5 Recipient ok\r\n"
            );
        }
        assert_eq!(self.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    }

    /// A whole transaction; returns the reply to the final dot.
    pub fn send_mail(&mut self, from: &str, to: &[&str], data: &[u8]) -> String {
        self.open_data(from, to);
        self.send(data);
        self.send(b".\r\n");
        self.reply()
    }

    /// A whole transaction by BDAT (RFC 3030): MAIL, RCPTs, then `msg`
    /// (not dot-stuffed) in chunks cut at `cuts`, all pipelined in one
    /// write, the last chunk with LAST; asserts every reply but the last
    /// one and returns it.
    pub fn send_bdat(&mut self, from: &str, to: &[&str], msg: &[u8], cuts: &[usize]) -> String {
        let mut w = format!("MAIL FROM:<{from}>\r\n").into_bytes();
        for t in to {
            w.extend_from_slice(format!("RCPT TO:<{t}>\r\n").as_bytes());
        }
        let mut last = 0;
        let ends: Vec<usize> = cuts.iter().copied().chain([msg.len()]).collect();
        for (i, &end) in ends.iter().enumerate() {
            let chunk = &msg[last..end];
            let marker = if i + 1 == ends.len() { " LAST" } else { "" };
            w.extend_from_slice(format!("BDAT {}{marker}\r\n", chunk.len()).as_bytes());
            w.extend_from_slice(chunk);
            last = end;
        }
        self.send(&w);
        assert_eq!(self.reply(), "250 2.1.0 Sender ok\r\n");
        for _ in to {
            assert_eq!(self.reply(), "250 2.1.5 Recipient ok\r\n");
        }
        for _ in 1..ends.len() {
            assert_eq!(self.reply(), "250 2.0.0 Chunk received\r\n");
        }
        self.reply()
    }
}

/// Dot-stuffs `msg` for DATA (RFC 5321 section 4.5.2).
pub fn stuffed(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 16);
    let mut line_start = true;
    for &b in msg {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    out
}

/// The bytes as stored: each CRLF becomes LF, everything else stays.
pub fn to_lf(crlf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(crlf.len());
    let mut i = 0;
    while i < crlf.len() {
        if crlf[i] == b'\r' && crlf.get(i + 1) == Some(&b'\n') {
            i += 1;
        }
        out.push(crlf[i]);
        i += 1;
    }
    out
}

/// Runs `python3 tests/SCRIPT args…`; panics with its output on failure.
pub fn python(script: &str, args: &[&str]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let out = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
