//! Running the user's programs: `--filter` (synchronously, before the
//! reply to DATA) and `--exec` (after delivery, from a small pool of
//! worker threads fed by a bounded queue).
//!
//! A program is started with `execve` directly (std's `Command`, no
//! shell), with nothing from the message or envelope on its command line:
//! those travel in `TINYMX_*` environment variables, and the message on
//! stdin. It runs as the leader of its own process group, so a time-out
//! kills everything it started.

use crate::mime::{self, Handler, Part};
use crate::{info, sys, warn};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Bytes of a hook's stdout and stderr kept (for the 550 text and the log).
const OUTPUT_HEAD_BYTES: usize = 4096;
/// Lines of stderr logged.
const STDERR_LOG_LINES: usize = 5;
/// Header bytes read to find Subject, Message-ID and Date.
const HEADER_SCAN_BYTES: usize = 256 * 1024;
/// Without pidfd (Linux < 5.3), how often a running hook is checked.
const FALLBACK_POLL_MS: i32 = 50;
/// Bytes read from a hook's pipe at a time.
const PIPE_READ_BYTES: usize = 4096;
/// After the hook exited, at most this many reads of what is left in a
/// pipe (a grandchild may keep writing to it).
const DRAIN_READS: usize = 64;
/// Bytes of each stderr line logged.
const STDERR_LINE_BYTES: usize = 200;
/// Bytes of the message read at a time while looking for its header.
const HEADER_READ_BYTES: usize = 16 * 1024;
/// Stack of an `--exec` worker thread (it runs a hook and parses a header).
const WORKER_STACK_BYTES: usize = 256 * 1024;

/// How a hook ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
    /// Killed after the time-out.
    TimedOut,
    /// Could not be started (missing, not executable, …).
    NotStarted(String),
    /// Started, but waiting for it failed (it was killed): the error.
    WaitFailed(String),
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Exited(c) => write!(f, "exit={c}"),
            Status::Signaled(s) => write!(f, "signal={s}"),
            Status::TimedOut => write!(f, "timed out, killed"),
            Status::NotStarted(e) => write!(f, "not started: {e}"),
            Status::WaitFailed(e) => write!(f, "wait failed: {e}"),
        }
    }
}

pub struct Outcome {
    pub status: Status,
    /// The first bytes of stdout (only when captured).
    pub stdout: Vec<u8>,
    /// The first bytes of stderr.
    pub stderr: Vec<u8>,
}

/// The `TINYMX_*` variables for one mailbox's copy.
pub type Vars = Vec<(&'static str, String)>;

/// Runs `program` with `vars` added to the environment and `stdin` as
/// its standard input; kills its process group after `timeout`.
pub fn run(
    program: &Path,
    vars: &Vars,
    stdin: File,
    timeout: Duration,
    capture_stdout: bool,
) -> Outcome {
    let mut child = match spawn(program, vars, stdin, capture_stdout) {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                status: Status::NotStarted(e.to_string()),
                stdout: Vec::new(),
                stderr: Vec::new(),
            };
        }
    };
    let deadline = Instant::now() + timeout;
    let mut pipes = Pipes {
        out: child.stdout.take(),
        err: child.stderr.take(),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let status = match wait(&mut child, &mut pipes, deadline) {
        Ok(Some(st)) => exit_status(st),
        Ok(None) => {
            kill(&mut child);
            Status::TimedOut
        }
        Err(e) => {
            kill(&mut child);
            Status::WaitFailed(e.to_string())
        }
    };
    // What the hook wrote just before exiting is still in the pipes.
    drain(&mut pipes.out, &mut pipes.stdout);
    drain(&mut pipes.err, &mut pipes.stderr);
    Outcome {
        status,
        stdout: pipes.stdout,
        stderr: pipes.stderr,
    }
}

/// Starts `program` as the leader of its own process group (so a time-out
/// can kill whatever it started too), stderr always piped.
fn spawn(program: &Path, vars: &Vars, stdin: File, capture_stdout: bool) -> io::Result<Child> {
    Command::new(program)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::from(stdin))
        .stdout(if capture_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
}

/// A running hook's output pipes (None once at end of file) and the
/// first bytes read from each.
struct Pipes {
    out: Option<ChildStdout>,
    err: Option<ChildStderr>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Waits for the hook to exit while reading its pipes: its exit status,
/// None at `deadline`, or the error that stopped the wait.
fn wait(child: &mut Child, pipes: &mut Pipes, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    let pidfd = sys::pidfd_open(child.id()).ok();
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        let mut wait_ms = (deadline - now).as_millis().clamp(1, i32::MAX as u128) as i32;
        if pidfd.is_none() {
            wait_ms = wait_ms.min(FALLBACK_POLL_MS);
        }
        pipes.read_ready(pidfd.as_ref(), wait_ms)?;
    }
}

impl Pipes {
    /// Waits up to `wait_ms` for output or for the pidfd (readable once
    /// the hook has exited), and reads what came, so a chatty hook never
    /// blocks on a full pipe (an interrupted wait reads nothing).
    fn read_ready(&mut self, pidfd: Option<&OwnedFd>, wait_ms: i32) -> io::Result<()> {
        let mut fds = Vec::new();
        fds.extend(pidfd.map(|p| p.as_fd()));
        fds.extend(self.out.as_ref().map(|o| o.as_fd()));
        fds.extend(self.err.as_ref().map(|e| e.as_fd()));
        let ready = sys::poll_readable(&fds, wait_ms)?;
        let mut i = pidfd.is_some() as usize;
        if self.out.is_some() {
            if ready[i] && !read_head(&mut self.out, &mut self.stdout) {
                self.out = None;
            }
            i += 1;
        }
        if self.err.is_some() && ready[i] && !read_head(&mut self.err, &mut self.stderr) {
            self.err = None;
        }
        Ok(())
    }
}

/// How an exited hook ended, from its wait status.
fn exit_status(st: ExitStatus) -> Status {
    match (st.code(), st.signal()) {
        (Some(c), _) => Status::Exited(c),
        (None, Some(s)) => Status::Signaled(s),
        // Neither exited nor killed (stopped or continued): report it.
        _ => Status::WaitFailed(format!("unexpected wait status {:#x}", st.into_raw())),
    }
}

/// Kills the hook's process group and the hook, and reaps it.
fn kill(child: &mut Child) {
    let _ = sys::kill_group(child.id(), libc::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads what is available from a pipe, keeping the first bytes. False at
/// end of file or on an error.
fn read_head<R: Read>(pipe: &mut Option<R>, head: &mut Vec<u8>) -> bool {
    let Some(p) = pipe else { return false };
    let mut buf = [0u8; PIPE_READ_BYTES];
    match p.read(&mut buf) {
        Ok(0) => false,
        Ok(n) => {
            let room = OUTPUT_HEAD_BYTES.saturating_sub(head.len());
            head.extend_from_slice(&buf[..n.min(room)]);
            true
        }
        Err(e) => e.kind() == io::ErrorKind::Interrupted,
    }
}

/// After exit: reads what is left without waiting (a grandchild may keep
/// the pipe open; it is not waited for).
fn drain<R: Read + AsFd>(pipe: &mut Option<R>, head: &mut Vec<u8>) {
    for _ in 0..DRAIN_READS {
        let Some(p) = pipe else { return };
        match sys::poll_readable(&[p.as_fd()], 0) {
            Ok(r) if r[0] => {}
            _ => return,
        }
        if !read_head(pipe, head) {
            return;
        }
    }
}

/// The first lines of a hook's stderr, safe for the log.
pub fn log_stderr(prefix: &str, stderr: &[u8]) {
    for line in stderr
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .take(STDERR_LOG_LINES)
    {
        info!(
            "{prefix} stderr: {}",
            crate::safe::log_text(line, STDERR_LINE_BYTES)
        );
    }
}

/// What a hook gets from the header of the message in `file`.
pub struct HeaderVars {
    /// Decoded, control characters removed.
    pub subject: String,
    /// As written, control characters removed.
    pub message_id: String,
    /// The Date field as seconds since the epoch (`date::parse`); empty
    /// when absent, unparsable or present more than once.
    pub date: String,
}

impl HeaderVars {
    pub fn push_to(self, vars: &mut Vars) {
        vars.push(("TINYMX_SUBJECT", self.subject));
        vars.push(("TINYMX_MESSAGE_ID", self.message_id));
        vars.push(("TINYMX_DATE", self.date));
    }
}

/// Subject, Message-ID and Date of the message in `file`, from its header
/// only.
pub fn header_vars(file: &Path) -> HeaderVars {
    struct Root(Option<Vec<mime::header::Field>>);
    impl Handler for Root {
        fn start(&mut self, p: &Part) {
            if self.0.is_none() {
                self.0 = Some(p.headers.clone());
            }
        }
        fn data(&mut self, _: &[u8]) {}
        fn end(&mut self) {}
    }
    let mut root = Root(None);
    if let Ok(mut f) = File::open(file) {
        let mut r = mime::Reader::new();
        let mut buf = vec![0u8; HEADER_READ_BYTES];
        let mut total = 0;
        while root.0.is_none() && total < HEADER_SCAN_BYTES {
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    total += n;
                    r.feed(&buf[..n], &mut root);
                }
            }
        }
        if root.0.is_none() {
            r.finish(&mut root);
        }
    }
    let headers = root.0.unwrap_or_default();
    let get = |name: &str| {
        headers
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| mime::header::display(&f.value))
            .unwrap_or_default()
    };
    let mut dates = headers
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case("Date"));
    let date = match (dates.next(), dates.next()) {
        (Some(f), None) => crate::date::parse(&f.value),
        _ => None,
    };
    HeaderVars {
        subject: get("Subject"),
        message_id: get("Message-ID"),
        date: date.map(|t| t.to_string()).unwrap_or_default(),
    }
}

// ---------------------------------------------------------------- --exec pool

/// One `--exec` run to do.
pub struct Job {
    pub sid: String,
    pub file: PathBuf,
    /// Variables known in the session; Subject, Message-ID, Date are added
    /// by the worker (reading the file is not the session's job).
    pub vars: Vars,
}

struct Queue {
    jobs: VecDeque<Job>,
}

struct Inner {
    program: PathBuf,
    timeout: Duration,
    queue_max: usize,
    queue: Mutex<Queue>,
    ready: Condvar,
}

/// `--exec`: `workers` threads run jobs from a queue of at most
/// `queue_max`; a full queue refuses new jobs (the mail is already safe in
/// new/, only the hook is skipped, and the log says so).
#[derive(Clone)]
pub struct ExecPool {
    inner: Arc<Inner>,
}

impl ExecPool {
    pub fn start(
        program: PathBuf,
        workers: usize,
        queue_max: usize,
        timeout: Duration,
    ) -> io::Result<ExecPool> {
        let pool = ExecPool {
            inner: Arc::new(Inner {
                program,
                timeout,
                queue_max,
                queue: Mutex::new(Queue {
                    jobs: VecDeque::new(),
                }),
                ready: Condvar::new(),
            }),
        };
        for n in 0..workers.max(1) {
            let inner = Arc::clone(&pool.inner);
            std::thread::Builder::new()
                .name(format!("exec-{n}"))
                .stack_size(WORKER_STACK_BYTES)
                .spawn(move || worker(&inner))?;
        }
        Ok(pool)
    }

    /// Queues a job; false (and the job dropped) when the queue is full.
    pub fn submit(&self, job: Job) -> bool {
        let mut q = self.inner.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.jobs.len() >= self.inner.queue_max {
            return false;
        }
        q.jobs.push_back(job);
        self.inner.ready.notify_one();
        true
    }

    /// Jobs waiting (for the shutdown log).
    pub fn queued(&self) -> usize {
        self.inner
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .jobs
            .len()
    }
}

fn worker(inner: &Inner) {
    loop {
        let job = {
            let mut q = inner.queue.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(j) = q.jobs.pop_front() {
                    break j;
                }
                q = inner.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        run_job(inner, job);
    }
}

fn run_job(inner: &Inner, mut job: Job) {
    let started = Instant::now();
    // The mail user agent may have moved the file to cur/ already.
    let stdin = match File::open(&job.file) {
        Ok(f) => f,
        Err(e) => {
            warn!("{} exec skipped for {}: {e}", job.sid, job.file.display());
            return;
        }
    };
    header_vars(&job.file).push_to(&mut job.vars);
    let out = run(&inner.program, &job.vars, stdin, inner.timeout, false);
    let line = format!(
        "{} exec {} file={} {} duration={:.3}s",
        job.sid,
        inner.program.display(),
        job.file.display(),
        out.status,
        started.elapsed().as_secs_f64()
    );
    if out.status == Status::Exited(0) {
        info!("{line}");
    } else {
        warn!("{line}");
    }
    log_stderr(&format!("{} exec", job.sid), &out.stderr);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout_ms: u64, capture: bool) -> Outcome {
        let vars: Vars = vec![("TINYMX_TEST", "v a l".into())];
        let stdin = File::open("/dev/null").unwrap();
        let path = std::env::temp_dir().join(format!(
            "tinymx-hook-{}-{}",
            std::process::id(),
            script.len()
        ));
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        let o = run(
            &path,
            &vars,
            stdin,
            Duration::from_millis(timeout_ms),
            capture,
        );
        let _ = std::fs::remove_file(&path);
        o
    }

    #[test]
    fn header_vars_date_is_unix_seconds_of_the_one_date_field() {
        let path = std::env::temp_dir().join(format!("tinymx-hdr-{}", std::process::id()));
        let date = |head: &str| {
            std::fs::write(&path, format!("{head}Subject: s\n\nbody\n")).unwrap();
            header_vars(&path).date
        };
        assert_eq!(date("Date: Thu, 1 Jan 1970 01:00:01 +0100\n"), "1");
        assert_eq!(
            date("date: Tue, 01 Dec 2026\n 10:00:00 -0000\n"),
            "1796119200"
        );
        assert_eq!(date("Date: Wed, 31 Dec 1969 23:59:59 +0000\n"), "-1");
        assert_eq!(date(""), "", "absent");
        assert_eq!(date("Date: yesterday\n"), "", "unparsable");
        assert_eq!(
            date("Date: Tue, 01 Dec 2026 10:00:00 GMT\n"),
            "",
            "obsolete zone"
        );
        let two = "Date: Tue, 01 Dec 2026 10:00:00 +0000\nDate: Tue, 01 Dec 2026 10:00:00 +0000\n";
        assert_eq!(date(two), "", "two Date fields");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_wait_status_neither_exit_nor_signal_is_reported_as_such() {
        assert_eq!(exit_status(ExitStatus::from_raw(3 << 8)), Status::Exited(3));
        assert_eq!(exit_status(ExitStatus::from_raw(9)), Status::Signaled(9));
        // WIFSTOPPED with SIGSTOP: no exit code was invented.
        let stopped = exit_status(ExitStatus::from_raw(0x137f));
        assert_eq!(
            stopped,
            Status::WaitFailed("unexpected wait status 0x137f".into())
        );
        assert_eq!(
            stopped.to_string(),
            "wait failed: unexpected wait status 0x137f"
        );
    }

    #[test]
    fn status_output_and_timeout() {
        let o = sh(
            "echo \"out $TINYMX_TEST\"; echo err >&2; exit 3",
            10_000,
            true,
        );
        assert_eq!(o.status, Status::Exited(3));
        assert_eq!(o.stdout, b"out v a l\n");
        assert_eq!(o.stderr, b"err\n");
        let o = sh("kill -TERM $$", 10_000, false);
        assert_eq!(o.status, Status::Signaled(libc::SIGTERM));
        let t = Instant::now();
        let o = sh("sleep 30 & sleep 30", 300, false);
        assert_eq!(o.status, Status::TimedOut);
        assert!(t.elapsed() < Duration::from_secs(10));
        let o = run(
            Path::new("/nonexistent/hook"),
            &vec![],
            File::open("/dev/null").unwrap(),
            Duration::from_secs(1),
            false,
        );
        assert!(matches!(o.status, Status::NotStarted(_)));
    }
}
