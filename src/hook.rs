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
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Bytes of a hook's stdout and stderr kept (for the 550 text and the log).
const OUTPUT_HEAD_BYTES: usize = 4096;
/// Lines of stderr logged.
const STDERR_LOG_LINES: usize = 5;
/// Header bytes read to find Subject and Message-ID.
const HEADER_SCAN_BYTES: usize = 256 * 1024;
/// Without pidfd (Linux < 5.3), how often a running hook is checked.
const FALLBACK_POLL_MS: i32 = 50;

/// How a hook ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
    /// Killed after the time-out.
    TimedOut,
    /// Could not be started (missing, not executable, …).
    NotStarted(String),
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Exited(c) => write!(f, "exit={c}"),
            Status::Signaled(s) => write!(f, "signal={s}"),
            Status::TimedOut => write!(f, "timed out, killed"),
            Status::NotStarted(e) => write!(f, "not started: {e}"),
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
    let mut cmd = Command::new(program);
    cmd.envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::from(stdin))
        .stdout(if capture_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match cmd.spawn() {
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
    let pidfd = sys::pidfd_open(child.id()).ok();
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break Some(st);
        }
        let now = Instant::now();
        if now >= deadline {
            break None;
        }
        let mut wait_ms = (deadline - now).as_millis().clamp(1, i32::MAX as u128) as i32;
        if pidfd.is_none() {
            wait_ms = wait_ms.min(FALLBACK_POLL_MS);
        }
        // Watch the pipes (so a chatty hook never blocks on a full pipe)
        // and the pidfd (readable once the hook has exited).
        let mut fds = Vec::new();
        if let Some(p) = &pidfd {
            fds.push(p.as_fd());
        }
        if let Some(o) = &out {
            fds.push(o.as_fd());
        }
        if let Some(e) = &err {
            fds.push(e.as_fd());
        }
        let ready = match sys::poll_readable(&fds, wait_ms) {
            Ok(r) => r,
            Err(_) => continue,
        };
        let mut i = pidfd.is_some() as usize;
        if out.is_some() {
            if ready[i] && !read_head(&mut out, &mut stdout) {
                out = None;
            }
            i += 1;
        }
        if err.is_some() && ready[i] && !read_head(&mut err, &mut stderr) {
            err = None;
        }
    };
    let status = match status {
        Some(st) => match (st.code(), st.signal()) {
            (Some(c), _) => Status::Exited(c),
            (None, Some(s)) => Status::Signaled(s),
            _ => Status::Exited(-1),
        },
        None => {
            let _ = sys::kill_group(child.id(), libc::SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
            Status::TimedOut
        }
    };
    // What the hook wrote just before exiting is still in the pipes.
    drain(&mut out, &mut stdout);
    drain(&mut err, &mut stderr);
    Outcome {
        status,
        stdout,
        stderr,
    }
}

/// Reads what is available from a pipe, keeping the first bytes. False at
/// end of file or on an error.
fn read_head<R: Read>(pipe: &mut Option<R>, head: &mut Vec<u8>) -> bool {
    let Some(p) = pipe else { return false };
    let mut buf = [0u8; 4096];
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
    for _ in 0..64 {
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
        info!("{prefix} stderr: {}", crate::safe::log_text(line, 200));
    }
}

/// Subject (decoded, control characters removed) and Message-ID of the
/// message in `file`, from its header only.
pub fn subject_and_id(file: &Path) -> (String, String) {
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
        let mut buf = vec![0u8; 16 * 1024];
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
    (get("Subject"), get("Message-ID"))
}

// ---------------------------------------------------------------- --exec pool

/// One `--exec` run to do.
pub struct Job {
    pub sid: String,
    pub file: PathBuf,
    /// Variables known in the session; Subject, Message-ID are added by
    /// the worker (reading the file is not the session's job).
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
                .stack_size(256 * 1024)
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
    let (subject, id) = subject_and_id(&job.file);
    job.vars.push(("TINYMX_SUBJECT", subject));
    job.vars.push(("TINYMX_MESSAGE_ID", id));
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
