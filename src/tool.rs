//! `tinymx show` and `tinymx extract`: the MIME reader for scripts.
//! These read a file and write to stdout or a directory; the parsing
//! itself is in `mime`, which does no I/O.

use crate::authres;
use crate::json;
use crate::mime::summary::{self, Summary};
use crate::mime::{Handler, Part, Reader};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub const SHOW_USAGE: &str = "\
Usage: tinymx show [--header NAME]... [--body] [--json] FILE

Prints a message's main header fields decoded (From, To, Cc, Date,
Subject, Message-ID), a blank line, and its readable body: the text/plain
part, or the text/html part as text when there is no plain one, with
quoted-printable and base64 undone and the charset converted to UTF-8.
FILE may be '-' for standard input.

  --header NAME   print only this field's decoded value (one line each;
                  an empty line if it is missing); repeatable
  --body          print only the body (after any --header values)
  --json          print one JSON object: headers, body, attachments
                  (name, type, size) and auth: the results of the
                  Authentication-Results fields above the first Received
                  field (tinymx's own), or null; not combined with others
";

pub const EXTRACT_USAGE: &str = "\
Usage: tinymx extract FILE DIR

Writes every attachment (and inline non-text part) of the message in FILE
to DIR (created if missing) under its decoded, sanitized file name, never
replacing an existing file, and prints one path per line. FILE may be '-'
for standard input.
";

/// Bytes read per call.
const READ_CHUNK: usize = 64 * 1024;

/// The main fields `show` prints, in order.
const MAIN_HEADERS: [&str; 6] = ["From", "To", "Cc", "Date", "Subject", "Message-ID"];

fn usage_error(cmd: &str, msg: &str) -> ExitCode {
    stderr_line(&format!(
        "tinymx {cmd}: {msg}\nTry 'tinymx {cmd} --help' for more information."
    ));
    ExitCode::from(2)
}

/// Writes all of `bytes` to stdout. A reader that has gone away (EPIPE:
/// `tinymx --help | true`, `tinymx show FILE | head -1`) is not an
/// error: the rest of the output is no longer wanted, as for any filter.
/// (Rust ignores SIGPIPE, so the write fails instead of killing us, and
/// `print!` would panic on that failure.)
pub fn stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// One line on stderr. Never panics (`eprintln!` does when stderr is a
/// closed pipe); there is nowhere left to report a failure to.
pub fn stderr_line(text: &str) {
    let _ = io::stderr()
        .lock()
        .write_all(format!("{text}\n").as_bytes());
}

fn strings(args: &[OsString], cmd: &str) -> Result<Vec<String>, ExitCode> {
    args.iter()
        .map(|a| {
            a.clone().into_string().map_err(|a| {
                usage_error(
                    cmd,
                    &format!("argument is not UTF-8: {}", a.to_string_lossy()),
                )
            })
        })
        .collect()
}

/// Feeds the whole of `path` (or stdin for "-") through the reader.
fn read_message(path: &str, h: &mut dyn Handler) -> io::Result<()> {
    let mut input: Box<dyn Read> = if path == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path)?)
    };
    let mut reader = Reader::new();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => reader.feed(&buf[..n], h),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    reader.finish(h);
    Ok(())
}

/// What `tinymx show` was asked for.
struct ShowArgs {
    headers: Vec<String>,
    body: bool,
    json: bool,
    file: String,
}

/// Parses show's arguments; Err is the exit code to end with (after
/// `--help`, or a usage error).
fn show_args(args: Vec<String>) -> Result<ShowArgs, ExitCode> {
    let mut headers: Vec<String> = Vec::new();
    let (mut body, mut json_out) = (false, false);
    let mut file: Option<String> = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => {
                return Err(write_stdout(SHOW_USAGE.as_bytes(), "show"));
            }
            "--header" => match it.next() {
                Some(n) if !n.is_empty() => headers.push(n),
                _ => return Err(usage_error("show", "--header: missing value")),
            },
            "--body" => body = true,
            "--json" => json_out = true,
            s if s.starts_with("--header=") => headers.push(s["--header=".len()..].to_string()),
            s if s.starts_with('-') && s != "-" => {
                return Err(usage_error("show", &format!("{s}: unknown option")));
            }
            _ if file.is_some() => {
                return Err(usage_error("show", &format!("unexpected argument '{a}'")));
            }
            _ => file = Some(a),
        }
    }
    let Some(file) = file else {
        return Err(usage_error("show", "missing FILE"));
    };
    if json_out && (body || !headers.is_empty()) {
        return Err(usage_error(
            "show",
            "--json cannot be combined with --header or --body",
        ));
    }
    Ok(ShowArgs {
        headers,
        body,
        json: json_out,
        file,
    })
}

/// `tinymx show`: reads the message, warns about what could not be
/// decoded, prints the view asked for.
pub fn show(args: &[OsString]) -> ExitCode {
    let a = match strings(args, "show").and_then(show_args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let mut s = Summary::new();
    if let Err(e) = read_message(&a.file, &mut s) {
        stderr_line(&format!("tinymx show: {}: {e}", a.file));
        return ExitCode::from(1);
    }
    let text = s.body();
    for w in s.warnings.iter().chain(&s.body_warnings()) {
        stderr_line(&format!("tinymx show: warning: {w}"));
    }
    let out = if a.json {
        show_json(&s, &text)
    } else if a.body || !a.headers.is_empty() {
        show_selected(&s, &a, &text)
    } else {
        show_all(&s, &text)
    };
    write_stdout(out.as_bytes(), "show")
}

/// `--json`: the main headers, the body text, the attachments and
/// `auth`: our Authentication-Results (`authres::ours`: the fields above
/// the first Received field) as `{"authserv_id":…,"results":[{"method":
/// "spf","result":"pass","reason":…,"properties":{"smtp.mailfrom":…}}]}`
/// (`reason` only when given), or null if there are none. A field that
/// is malformed gives the results read before the fault, an empty list
/// if only its authserv-id could be read; `show` itself never fails on it.
fn show_json(s: &Summary, text: &str) -> String {
    let mut out = String::from("{\"headers\":{");
    let mut first = true;
    for name in MAIN_HEADERS {
        if let Some(v) = s.header(name) {
            if !first {
                out.push(',');
            }
            first = false;
            json::string(name, &mut out);
            out.push(':');
            json::string(&v, &mut out);
        }
    }
    out.push_str("},\"body\":");
    json::string(text, &mut out);
    out.push_str(",\"attachments\":[");
    for (i, a) in s.attachments.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        json::string(&a.name, &mut out);
        out.push_str(",\"type\":");
        json::string(&a.mime_type, &mut out);
        out.push_str(&format!(",\"size\":{}}}", a.size));
    }
    out.push_str("],\"auth\":");
    let Some(auth) = authres::ours(&s.headers) else {
        out.push_str("null}\n");
        return out;
    };
    // A key (with the punctuation before it) and a string value.
    let pair = |out: &mut String, key: &str, v: &str| {
        out.push_str(key);
        json::string(v, out);
    };
    pair(&mut out, "{\"authserv_id\":", &auth.authserv_id);
    out.push_str(",\"results\":[");
    for (i, r) in auth.results.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        pair(&mut out, "{\"method\":", &r.method);
        pair(&mut out, ",\"result\":", &r.result);
        if let Some(reason) = &r.reason {
            pair(&mut out, ",\"reason\":", reason);
        }
        out.push_str(",\"properties\":{");
        for (j, (name, v)) in r.props.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            json::string(name, &mut out);
            pair(&mut out, ":", v);
        }
        out.push_str("}}");
    }
    out.push_str("]}}\n");
    out
}

/// `--header NAME` and `--body`: each asked-for header's value on a line
/// (empty if absent), then the body text.
fn show_selected(s: &Summary, a: &ShowArgs, text: &str) -> String {
    let mut out = String::new();
    for name in &a.headers {
        out.push_str(&s.header(name).unwrap_or_default());
        out.push('\n');
    }
    if a.body {
        out.push_str(text);
    }
    out
}

/// The default view: the main headers, a blank line, the body text.
fn show_all(s: &Summary, text: &str) -> String {
    let mut out = String::new();
    for name in MAIN_HEADERS {
        if let Some(v) = s.header(name) {
            out.push_str(&format!("{name}: {v}\n"));
        }
    }
    out.push('\n');
    out.push_str(text);
    out
}

/// `stdout`, with a write error reported and turned into exit status 1.
pub fn write_stdout(bytes: &[u8], cmd: &str) -> ExitCode {
    match stdout(bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            stderr_line(&format!("tinymx {cmd}: cannot write: {e}"));
            ExitCode::from(1)
        }
    }
}

/// Writes each attachment to its file as the reader decodes it.
struct Extractor {
    summary: Summary,
    dir: PathBuf,
    file: Option<(BufWriter<File>, PathBuf)>,
    error: Option<String>,
}

impl Extractor {
    /// Creates `name` in the directory, or `name-1`, `name-2`, … if taken
    /// (O_EXCL: an existing file or symlink is never opened).
    fn create(&self, name: &str) -> io::Result<(File, PathBuf)> {
        for k in 0..10_000 {
            let candidate = if k == 0 {
                name.to_string()
            } else {
                summary::numbered(name, k)
            };
            let path = self.dir.join(&candidate);
            match File::options().write(true).create_new(true).open(&path) {
                Ok(f) => return Ok((f, path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free name"))
    }

    fn fail(&mut self, path: &Path, e: io::Error) {
        if self.error.is_none() {
            self.error = Some(format!("{}: {e}", path.display()));
        }
        self.file = None;
    }
}

impl Handler for Extractor {
    fn start(&mut self, part: &Part) {
        self.summary.start(part);
        if self.error.is_some() {
            return;
        }
        if let Some(i) = self.summary.started_attachment() {
            let name = self.summary.attachments[i].name.clone();
            match self.create(&name) {
                Ok((f, path)) => self.file = Some((BufWriter::new(f), path)),
                Err(e) => {
                    let p = self.dir.join(name);
                    self.fail(&p, e)
                }
            }
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        self.summary.data(bytes);
        if let Some((f, path)) = &mut self.file
            && let Err(e) = f.write_all(bytes)
        {
            let path = path.clone();
            self.fail(&path, e);
        }
    }

    fn end(&mut self) {
        self.summary.end();
        if let Some((f, path)) = self.file.take() {
            match f
                .into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all())
            {
                Ok(()) => {
                    let mut line = path.into_os_string().into_encoded_bytes();
                    line.push(b'\n');
                    if let Err(e) = stdout(&line)
                        && self.error.is_none()
                    {
                        self.error = Some(format!("cannot write: {e}"));
                    }
                }
                Err(e) => self.fail(&path, e),
            }
        }
    }
}

pub fn extract(args: &[OsString]) -> ExitCode {
    let args = match strings(args, "extract") {
        Ok(a) => a,
        Err(code) => return code,
    };
    if args.iter().any(|a| a == "-h" || a == "--help") {
        return write_stdout(EXTRACT_USAGE.as_bytes(), "extract");
    }
    if let Some(a) = args.iter().find(|a| a.starts_with('-') && *a != "-") {
        return usage_error("extract", &format!("{a}: unknown option"));
    }
    let [file, dir] = args.as_slice() else {
        return usage_error("extract", "expected FILE and DIR");
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        stderr_line(&format!("tinymx extract: cannot create {dir}: {e}"));
        return ExitCode::from(1);
    }
    let mut x = Extractor {
        summary: Summary::attachments_only(),
        dir: PathBuf::from(dir),
        file: None,
        error: None,
    };
    if let Err(e) = read_message(file, &mut x) {
        stderr_line(&format!("tinymx extract: {file}: {e}"));
        return ExitCode::from(1);
    }
    match x.error {
        Some(e) => {
            stderr_line(&format!("tinymx extract: {e}"));
            ExitCode::from(1)
        }
        None => ExitCode::SUCCESS,
    }
}
