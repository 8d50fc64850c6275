//! Running the user's programs: `--filter` (synchronously, before the
//! reply to DATA) and `--exec` (after delivery, from a small pool of
//! worker threads fed by a bounded queue).
//!
//! A program is started with `posix_spawn` (`sys::spawn`: an exec of it
//! directly, no shell), with nothing from the message or envelope on its
//! command line: those travel in `TINYMX_*` environment variables, and the
//! message on stdin. It runs as the leader of its own process group, so a
//! time-out kills everything it started.

use crate::mime::{self, Handler, Part};
use crate::{info, sys, warn};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
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
    let (child, out, err) = match spawn(program, vars, stdin, capture_stdout) {
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
        out,
        err: Some(err),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let status = match wait(child, &mut pipes, deadline) {
        Ok(Some(st)) => exit_status(st),
        Ok(None) => {
            kill(child);
            Status::TimedOut
        }
        Err(e) => {
            kill(child);
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
/// can kill whatever it started too), stdout piped or /dev/null, stderr
/// always piped: its pid and the read ends of the pipes.
fn spawn(
    program: &Path,
    vars: &Vars,
    stdin: File,
    capture_stdout: bool,
) -> io::Result<(u32, Option<File>, File)> {
    let (err_read, err_write) = sys::pipe()?;
    let (out_read, out_write) = if capture_stdout {
        let (r, w) = sys::pipe()?;
        (Some(File::from(r)), w)
    } else {
        (
            None,
            OwnedFd::from(File::options().write(true).open("/dev/null")?),
        )
    };
    let pid = sys::spawn(
        program,
        environment(std::env::vars_os(), vars),
        [stdin.as_fd(), out_write.as_fd(), err_write.as_fd()],
    )?;
    // The child's ends (and stdin) close here: the pipes reach end of file
    // once the hook and whatever it started are done with them.
    Ok((pid, out_read, File::from(err_read)))
}

/// The hook's environment, as `NAME=value` strings: the `inherited` one
/// (tinymx's own) with `vars` added, a variable of `vars` replacing an
/// inherited one of the same name (and a later one of `vars` an earlier
/// one), as `Command::envs` did.
fn environment(
    inherited: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    vars: &Vars,
) -> Vec<Vec<u8>> {
    let pair = |k: &[u8], v: &[u8]| [k, b"=", v].concat();
    let mut env: Vec<Vec<u8>> = inherited
        .filter(|(k, _)| !vars.iter().any(|(n, _)| k.as_bytes() == n.as_bytes()))
        .map(|(k, v)| pair(k.as_bytes(), v.as_bytes()))
        .collect();
    for (i, (k, v)) in vars.iter().enumerate() {
        if !vars[i + 1..].iter().any(|(n, _)| n == k) {
            env.push(pair(k.as_bytes(), v.as_bytes()));
        }
    }
    env
}

/// A running hook's output pipes (None once at end of file) and the
/// first bytes read from each.
struct Pipes {
    out: Option<File>,
    err: Option<File>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Waits for hook `child` to exit while reading its pipes: its raw wait
/// status, None at `deadline`, or the error that stopped the wait.
fn wait(child: u32, pipes: &mut Pipes, deadline: Instant) -> io::Result<Option<i32>> {
    let pidfd = sys::pidfd_open(child).ok();
    loop {
        if let Some(st) = sys::try_wait(child)? {
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

/// How an exited hook ended, from its raw wait status.
fn exit_status(st: i32) -> Status {
    if libc::WIFEXITED(st) {
        Status::Exited(libc::WEXITSTATUS(st))
    } else if libc::WIFSIGNALED(st) {
        Status::Signaled(libc::WTERMSIG(st))
    } else {
        // Neither exited nor killed (stopped or continued): report it.
        Status::WaitFailed(format!("unexpected wait status {st:#x}"))
    }
}

/// Kills the hook's process group and the hook, and reaps it.
fn kill(child: u32) {
    let _ = sys::kill_group(child, libc::SIGKILL);
    let _ = sys::kill(child, libc::SIGKILL);
    let _ = sys::wait_child(child);
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
        "{} exec {} file={} {} duration={}s",
        job.sid,
        inner.program.display(),
        job.file.display(),
        out.status,
        crate::log::Secs3(started.elapsed())
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
        // A file of its own per call: tests run concurrently.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self::script(&format!("sh-{n}"), script);
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

    /// A script file for one test (`tag` keeps concurrent tests apart).
    fn script(tag: &str, body: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("tinymx-hook-{}-{tag}", std::process::id()));
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        path
    }

    /// The SigIgn mask of /proc/<pid>/status text.
    fn sig_ign(status: &str) -> u64 {
        let line = status.lines().find(|l| l.starts_with("SigIgn:")).unwrap();
        u64::from_str_radix(line["SigIgn:".len()..].trim(), 16).unwrap()
    }

    #[test]
    fn a_hook_starts_with_sigpipe_at_its_default_disposition() {
        let sigpipe = 1u64 << (libc::SIGPIPE - 1);
        // The test harness ignores SIGPIPE (std's runtime does, as tinymx
        // does), and an ignored signal stays ignored across exec.
        let own = std::fs::read_to_string("/proc/self/status").unwrap();
        assert_ne!(
            sig_ign(&own) & sigpipe,
            0,
            "precondition: SIGPIPE ignored here"
        );
        let path = script("sigign", "grep SigIgn /proc/$$/status");
        let stdin = File::open("/dev/null").unwrap();
        let o = run(&path, &vec![], stdin, Duration::from_secs(10), true);
        let _ = std::fs::remove_file(&path);
        assert_eq!(o.status, Status::Exited(0), "{:?}", o.stderr);
        let hook = String::from_utf8(o.stdout).unwrap();
        assert_eq!(sig_ign(&hook) & sigpipe, 0, "{hook}");
    }

    #[test]
    fn the_environment_is_inherited_with_the_vars_replacing_their_names() {
        use std::ffi::OsString;
        let inherited = [
            ("HOME", "/root"),
            ("TINYMX_SENDER", "inherited"),
            ("LANG", "C"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let vars: Vars = vec![
            ("TINYMX_SENDER", "a@b.example".into()),
            ("TINYMX_SIZE", "1".into()),
            ("TINYMX_SIZE", "2".into()),
        ];
        let env = environment(inherited.into_iter(), &vars);
        let env: Vec<&str> = env
            .iter()
            .map(|e| std::str::from_utf8(e).unwrap())
            .collect();
        assert_eq!(
            env,
            [
                "HOME=/root",
                "LANG=C",
                "TINYMX_SENDER=a@b.example",
                "TINYMX_SIZE=2"
            ]
        );
    }

    #[test]
    fn a_hook_gets_the_inherited_environment_stdin_and_its_vars() {
        // Two variables of this process, one passed as it is, one
        // replaced by a var of the same name.
        let simple = |k: &str, v: &str| {
            k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && !v.contains('\n')
        };
        let mine: Vec<(String, String)> = std::env::vars()
            .filter(|(k, v)| simple(k, v))
            .take(2)
            .collect();
        assert_eq!(mine.len(), 2, "this test needs two environment variables");
        let (kept, replaced) = (&mine[0], &mine[1].0);
        let vars: Vars = vec![
            ("TINYMX_TEST", "v a l".into()),
            (String::leak(replaced.clone()), "replaced".into()),
        ];
        let input = std::env::temp_dir().join(format!("tinymx-hook-{}-in", std::process::id()));
        std::fs::write(&input, "the message\n").unwrap();
        let path = script(
            "env",
            &format!(
                "printf '%s|' \"${}\" \"${replaced}\" \"$TINYMX_TEST\"; cat",
                kept.0
            ),
        );
        let stdin = File::open(&input).unwrap();
        let o = run(&path, &vars, stdin, Duration::from_secs(10), true);
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&input);
        assert_eq!(o.status, Status::Exited(0), "{:?}", o.stderr);
        assert_eq!(
            String::from_utf8(o.stdout).unwrap(),
            format!("{}|replaced|v a l|the message\n", kept.1)
        );
    }

    #[test]
    fn a_hook_that_cannot_start_says_why() {
        let not_started = |program: &Path| {
            let stdin = File::open("/dev/null").unwrap();
            run(program, &vec![], stdin, Duration::from_secs(1), false).status
        };
        let enoent = Status::NotStarted("No such file or directory (os error 2)".into());
        assert_eq!(not_started(Path::new("/nonexistent/hook")), enoent);
        // Without a `/`, looked up in PATH.
        assert_eq!(not_started(Path::new("tinymx-no-such-hook")), enoent);
        let path = script("noexec", "exit 0");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let status = not_started(&path);
        let _ = std::fs::remove_file(&path);
        // Not executable (for root too: exec wants an x bit).
        let eacces = "Permission denied (os error 13)";
        assert_eq!(status, Status::NotStarted(eacces.into()));
        assert_eq!(
            not_started(Path::new("/bin/sh\0x")),
            Status::NotStarted("nul byte found in provided data".into())
        );
        assert_eq!(
            Status::NotStarted("No such file or directory (os error 2)".into()).to_string(),
            "not started: No such file or directory (os error 2)"
        );
        // Found in PATH, it runs.
        assert_eq!(not_started(Path::new("sh")), Status::Exited(0));
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
        assert_eq!(exit_status(3 << 8), Status::Exited(3));
        assert_eq!(exit_status(9), Status::Signaled(9));
        // WIFSTOPPED with SIGSTOP: no exit code was invented.
        let stopped = exit_status(0x137f);
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
