//! A streaming MIME reader (RFC 2045, 2046, 2047, 2231, 5322): feed it the
//! bytes of a message in pieces of any size and it reports each part's
//! headers, the part's content with the transfer encoding undone, and
//! the end of each part, to a `Handler`.
//!
//! Pure and bounded: no I/O, no recursion; it keeps one line (at most
//! `MAX_LINE` bytes — longer lines stream through in pieces), the headers
//! of one part (at most `MAX_HEADER_BYTES`), a multipart's preamble
//! until its first delimiter line (at most `MAX_PREAMBLE`; a multipart is
//! reported once that line comes), and a stack of at most `MAX_DEPTH`
//! open parts. Malformed input never makes it fail; it does
//! what mail clients do (RFC 2046 §5.1.1 with their tolerance: bare LF
//! line ends, white space after a boundary, missing close delimiters,
//! parts without headers, mbox `From ` lines in a header).
//!
//! The fuzz target (`fuzz/fuzz_targets/mime.rs`) drives it through the
//! library; what makes client bytes safe for display lives in `safe`.

pub mod charset;
pub mod decode;
pub mod header;
pub mod html;
pub mod summary;

use decode::Decode;
use header::{Field, Structured};

/// The longest line kept whole. Boundary lines (at most 70 + 4 bytes,
/// RFC 2046 §5.1.1) and header lines fit; longer body lines are passed on
/// in pieces.
pub const MAX_LINE: usize = 8192;
/// Header bytes kept per part; the rest are dropped.
pub const MAX_HEADER_BYTES: usize = 256 * 1024;
/// Header fields kept per part.
pub const MAX_HEADER_FIELDS: usize = 1000;
/// Open parts (multiparts, attached messages and the leaf inside). Deeper
/// containers are treated as leaves.
pub const MAX_DEPTH: usize = 40;
/// Longest boundary accepted (RFC 2046 allows 70; be generous).
pub const MAX_BOUNDARY: usize = 200;
/// Preamble kept while a multipart's first delimiter line is awaited. A
/// multipart without one in its first `MAX_PREAMBLE` bytes is text.
pub const MAX_PREAMBLE: usize = 64 * 1024;

/// Content-Transfer-Encoding, reduced to what needs decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// 7bit, 8bit, binary, absent or unknown: as is.
    Identity,
    QuotedPrintable,
    Base64,
    /// x-uuencode, uuencode, x-uue, uue (those Python's email decodes);
    /// also a uuencoded block found in plain text.
    Uuencode,
}

/// What a part is to the walker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Content: data events follow.
    Leaf,
    /// multipart/*: its children follow.
    Multipart,
    /// message/rfc822 (or message/global): the attached message's root
    /// part follows.
    Message,
}

/// One part, as reported at its start.
#[derive(Clone, Debug)]
pub struct Part {
    /// 0 for the message itself, then 1, 2, … in order of appearance.
    pub index: usize,
    /// Number of enclosing parts.
    pub depth: usize,
    /// Inside an attached message/rfc822.
    pub in_attached_message: bool,
    /// The fields, unfolded, in order.
    pub headers: Vec<Field>,
    /// Content-Type, defaulted per RFC 2045 §5.2 (text/plain; or
    /// message/rfc822 inside multipart/digest, RFC 2046 §5.1.5).
    pub content_type: Structured,
    /// Content-Disposition; `value` is empty when there is none.
    pub disposition: Structured,
    pub encoding: Encoding,
    pub kind: Kind,
}

impl Part {
    /// The first field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&Field> {
        self.headers
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// e.g. "text/plain", lower-case.
    pub fn mime_type(&self) -> &str {
        &self.content_type.value
    }

    pub fn charset(&self) -> Option<&str> {
        self.content_type.param("charset").filter(|c| !c.is_empty())
    }

    /// The file name: Content-Disposition's `filename`, else Content-Type's
    /// `name` (decoded; not yet safe for a file system).
    pub fn filename(&self) -> Option<&str> {
        self.disposition
            .param("filename")
            .filter(|n| !n.trim().is_empty())
            .or_else(|| {
                self.content_type
                    .param("name")
                    .filter(|n| !n.trim().is_empty())
            })
    }

    fn is_readable_text(&self) -> bool {
        matches!(self.mime_type(), "text/plain" | "text/html")
    }

    /// An attachment or an inline non-text part: a leaf that is marked
    /// `attachment`, has a file name, or is not plain text or HTML.
    pub fn is_attachment(&self) -> bool {
        self.kind == Kind::Leaf
            && (self.disposition.value == "attachment"
                || self.filename().is_some()
                || !self.is_readable_text())
    }

    /// A candidate for the readable body: text/plain or text/html that is
    /// not an attachment and not inside an attached message.
    pub fn is_body_text(&self) -> bool {
        self.kind == Kind::Leaf
            && !self.in_attached_message
            && self.is_readable_text()
            && !self.is_attachment()
    }
}

/// Receives what the reader finds. `end` closes the part most recently
/// started and not yet ended; `data` belongs to the open leaf. A
/// uuencoded block in plain text (`begin 644 NAME` … `end`, from old
/// clients) is a leaf inside the text's leaf: an attachment named by its
/// begin line, after whose end the text goes on.
pub trait Handler {
    fn start(&mut self, part: &Part);
    fn data(&mut self, bytes: &[u8]);
    fn end(&mut self);
}

enum Decoder {
    Identity,
    Qp(decode::QuotedPrintable),
    B64(decode::Base64),
    /// Base64 in a text/* part: its first `decode::SNIFF` bytes are held
    /// until they show whether it is base64 at all; text sent under that
    /// label by mistake is passed on as it is (`decode::looks_like_base64`
    /// has the rule).
    B64Text(Vec<u8>),
    Uu(decode::Uudecode),
}

impl Decoder {
    fn new(e: Encoding, text: bool) -> Decoder {
        match e {
            Encoding::Identity => Decoder::Identity,
            Encoding::QuotedPrintable => Decoder::Qp(decode::QuotedPrintable::default()),
            Encoding::Base64 if text => Decoder::B64Text(Vec::new()),
            Encoding::Base64 => Decoder::B64(decode::Base64::default()),
            Encoding::Uuencode => Decoder::Uu(decode::Uudecode::default()),
        }
    }

    fn feed(&mut self, bytes: &[u8], h: &mut dyn Handler) {
        match self {
            Decoder::Identity => {
                if !bytes.is_empty() {
                    h.data(bytes)
                }
            }
            Decoder::Qp(d) => d.feed(bytes, &mut |b| h.data(b)),
            Decoder::B64(d) => d.feed(bytes, &mut |b| h.data(b)),
            Decoder::Uu(d) => d.feed(bytes, &mut |b| h.data(b)),
            Decoder::B64Text(held) => {
                held.extend_from_slice(bytes);
                if held.len() >= decode::SNIFF {
                    self.settle(h);
                }
            }
        }
    }

    /// Base64 in a text part: decides from what is held, and passes it on.
    fn settle(&mut self, h: &mut dyn Handler) {
        if let Decoder::B64Text(held) = self {
            let held = std::mem::take(held);
            *self = if decode::looks_like_base64(&held) {
                Decoder::B64(decode::Base64::default())
            } else {
                Decoder::Identity
            };
            self.feed(&held, h);
        }
    }

    fn finish(&mut self, h: &mut dyn Handler) {
        self.settle(h);
        match self {
            Decoder::Identity | Decoder::B64Text(_) => {}
            Decoder::Qp(d) => d.finish(&mut |b| h.data(b)),
            Decoder::B64(d) => d.finish(&mut |b| h.data(b)),
            Decoder::Uu(d) => d.finish(&mut |b| h.data(b)),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the first boundary.
    Preamble,
    /// Inside a child.
    Child,
    /// After the close delimiter.
    Epilogue,
}

/// What a leaf's lines are watched for, besides boundaries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Watch {
    Nothing,
    /// Plain text (7bit or 8bit, not an attachment): a `begin MODE NAME`
    /// line followed by a uuencoded line opens an inline block.
    UuBegin,
    /// An inline block: `end`, or a line that is not uuencoded, closes it.
    UuEnd,
}

enum Open {
    Leaf(Decoder, Watch),
    Multipart {
        boundary: Vec<u8>,
        phase: Phase,
        digest: bool,
        /// Until the first delimiter line: the part, not yet reported.
        waiting: Option<Box<Waiting>>,
    },
    Message,
}

/// A multipart before its first delimiter line. Without one (a wrong or
/// missing boundary) it is reported as text/plain with the preamble as
/// its content, as mail clients show it (RFC 2045 §5.2).
struct Waiting {
    part: Part,
    preamble: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reading the header of a new part (its parent is the stack top).
    Headers,
    /// Inside the stack top's content.
    Body,
}

pub struct Reader {
    stack: Vec<Open>,
    mode: Mode,
    /// Fields of the part whose header is being read.
    fields: Vec<Field>,
    field_bytes: usize,
    /// The field being unfolded.
    field: Vec<u8>,
    /// The current line, without its LF.
    line: Vec<u8>,
    /// Part of the current line was already passed on (it was too long):
    /// it is not a boundary.
    line_spilled: bool,
    /// A body line ended; its line break is passed on only if the next
    /// line is not a boundary (RFC 2046 §5.1.1: that CRLF belongs to the
    /// boundary).
    pending_newline: bool,
    next_index: usize,
    root_started: bool,
    /// The next line is the first of a part's header, where a `From `
    /// line is an mbox separator (dropped).
    header_start: bool,
    /// A `From ` line met later in a header: dropped if more header lines
    /// follow, else the first line of the body (as Python's
    /// email.feedparser does).
    held_from: Vec<u8>,
    /// A `begin` line in plain text, until the next line shows whether a
    /// uuencoded block follows.
    held_begin: Vec<u8>,
}

impl Default for Reader {
    fn default() -> Self {
        Self::new()
    }
}

impl Reader {
    pub fn new() -> Reader {
        Reader {
            stack: Vec::new(),
            mode: Mode::Headers,
            fields: Vec::new(),
            field_bytes: 0,
            field: Vec::new(),
            line: Vec::new(),
            line_spilled: false,
            pending_newline: false,
            next_index: 0,
            root_started: false,
            header_start: true,
            held_from: Vec::new(),
            held_begin: Vec::new(),
        }
    }

    /// Feeds the next piece of the message.
    pub fn feed(&mut self, mut input: &[u8], h: &mut dyn Handler) {
        while !input.is_empty() {
            match input.iter().position(|&b| b == b'\n') {
                Some(lf) => {
                    self.append(&input[..lf], h);
                    self.end_line(h);
                    input = &input[lf + 1..];
                }
                None => {
                    self.append(input, h);
                    break;
                }
            }
        }
    }

    /// The end of the message: finishes the last line and closes every
    /// open part (a missing close delimiter is not an error).
    pub fn finish(&mut self, h: &mut dyn Handler) {
        let unterminated = !self.line.is_empty() || self.line_spilled;
        if unterminated {
            self.end_line(h);
        }
        if self.mode == Mode::Headers && (!self.root_started || self.header_begun()) {
            self.finish_headers(h);
        }
        self.release_begin(h);
        if unterminated {
            // A last line without a line break adds none.
            self.pending_newline = false;
        }
        // At the end of input the last line break is content: no boundary follows.
        if self.pending_newline {
            self.emit(b"", h);
        }
        while !self.stack.is_empty() {
            self.close_top(h);
        }
    }

    fn append(&mut self, mut bytes: &[u8], h: &mut dyn Handler) {
        while !bytes.is_empty() {
            let room = MAX_LINE - self.line.len();
            if room == 0 {
                if !self.spill(h) {
                    return; // header line: the rest is dropped
                }
                continue;
            }
            let n = room.min(bytes.len());
            self.line.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
    }

    /// The line buffer is full. In a body, pass it on (or drop it outside
    /// a leaf) and go on; in a header, keep it and drop the rest (false).
    fn spill(&mut self, h: &mut dyn Handler) -> bool {
        if self.mode == Mode::Headers {
            return false;
        }
        self.release_begin(h);
        // Keep a final CR: it may be half of the CRLF that ends the line.
        let keep_cr = self.line.last() == Some(&b'\r');
        let upto = self.line.len() - keep_cr as usize;
        let line = std::mem::take(&mut self.line);
        self.emit(&line[..upto], h);
        self.line = line;
        self.line.drain(..upto);
        self.line_spilled = true;
        true
    }

    /// Passes bytes of the current line to the open leaf, after a pending
    /// line break.
    fn emit(&mut self, bytes: &[u8], h: &mut dyn Handler) {
        match self.stack.last_mut() {
            Some(Open::Leaf(d, _)) => {
                if self.pending_newline {
                    d.feed(b"\n", h);
                    self.pending_newline = false;
                }
                d.feed(bytes, h);
            }
            Some(Open::Multipart {
                waiting: Some(w), ..
            }) => {
                if self.pending_newline {
                    w.preamble.push(b'\n');
                    self.pending_newline = false;
                }
                w.preamble.extend_from_slice(bytes);
                if w.preamble.len() > MAX_PREAMBLE {
                    self.as_text(h);
                }
            }
            _ => {}
        }
    }

    /// The multipart on top of the stack has had no delimiter line:
    /// reports it as text/plain and passes its preamble on.
    fn as_text(&mut self, h: &mut dyn Handler) {
        let Some(Open::Multipart { waiting, .. }) = self.stack.last_mut() else {
            return;
        };
        let Some(w) = waiting.take() else { return };
        let Waiting { mut part, preamble } = *w;
        part.content_type.value = "text/plain".into();
        part.kind = Kind::Leaf;
        h.start(&part);
        let mut d = Decoder::new(part.encoding, true);
        d.feed(&preamble, h);
        self.stack.pop();
        self.stack.push(Open::Leaf(d, Watch::Nothing));
    }

    fn end_line(&mut self, h: &mut dyn Handler) {
        let mut line = std::mem::take(&mut self.line);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let spilled = std::mem::replace(&mut self.line_spilled, false);
        match self.mode {
            Mode::Headers => self.header_line(&line, h),
            Mode::Body => self.body_line(&line, spilled, h),
        }
        line.clear();
        self.line = line;
    }

    /// Which open multipart's boundary is `line`, and is it the close
    /// delimiter? Inner boundaries are checked first.
    fn boundary(&self, line: &[u8]) -> Option<(usize, bool)> {
        let rest = line.strip_prefix(b"--")?;
        for (i, open) in self.stack.iter().enumerate().rev() {
            if let Open::Multipart {
                boundary, phase, ..
            } = open
            {
                if *phase == Phase::Epilogue {
                    continue;
                }
                let Some(after) = rest.strip_prefix(boundary.as_slice()) else {
                    continue;
                };
                let close = after.starts_with(b"--");
                let tail = if close { &after[2..] } else { after };
                // Transport padding after a boundary is allowed (§5.1.1).
                if tail.iter().all(|&b| b == b' ' || b == b'\t') {
                    return Some((i, close));
                }
            }
        }
        None
    }

    /// Some of the current part's header has been read.
    fn header_begun(&self) -> bool {
        !self.field.is_empty() || !self.fields.is_empty() || !self.held_from.is_empty()
    }

    fn on_boundary(&mut self, at: usize, close: bool, h: &mut dyn Handler) {
        self.release_begin(h);
        if self.mode == Mode::Headers && self.header_begun() {
            // A part whose header ran into the next boundary: report it, empty.
            self.finish_headers(h);
        }
        while self.stack.len() > at + 1 {
            self.close_top(h);
        }
        self.pending_newline = false;
        self.fields.clear();
        self.field.clear();
        self.field_bytes = 0;
        self.held_from.clear();
        if let Some(Open::Multipart { phase, waiting, .. }) = self.stack.last_mut() {
            if let Some(w) = waiting.take() {
                h.start(&w.part);
            }
            if close {
                *phase = Phase::Epilogue;
                self.mode = Mode::Body;
            } else {
                *phase = Phase::Child;
                self.mode = Mode::Headers;
                self.header_start = true;
            }
        }
    }

    fn close_top(&mut self, h: &mut dyn Handler) {
        self.as_text(h);
        if let Some(open) = self.stack.pop() {
            if let Open::Leaf(mut d, _) = open {
                d.finish(h);
            }
            self.pending_newline = false;
            h.end();
        }
    }

    fn header_line(&mut self, line: &[u8], h: &mut dyn Handler) {
        let first = std::mem::replace(&mut self.header_start, false);
        if let Some((at, close)) = self.boundary(line) {
            self.on_boundary(at, close, h);
            return;
        }
        if line.is_empty() {
            self.finish_headers(h);
            return;
        }
        let folded = line[0] == b' ' || line[0] == b'\t';
        let is_field = !folded && header::split_field(line).is_some();
        if !folded && !is_field && line.starts_with(b"From ") {
            // An mbox `From ` line (RFC 4155): not a field, and not the
            // end of the header either.
            self.push_field();
            self.held_from.clear();
            if !first {
                self.held_from.extend_from_slice(line);
            }
            return;
        }
        if folded {
            // Folded: the white space stays, the line break goes (RFC 5322 §2.2.3).
            self.held_from.clear();
            if !self.field.is_empty() && self.field_bytes + line.len() <= MAX_HEADER_BYTES {
                self.field.extend_from_slice(line);
                self.field_bytes += line.len();
            }
            return;
        }
        self.push_field();
        if is_field {
            self.held_from.clear();
            if self.field_bytes + line.len() <= MAX_HEADER_BYTES {
                self.field.extend_from_slice(line);
                self.field_bytes += line.len();
            }
        } else {
            // Not a header field: the header is over and this is content
            // (a part that starts without its blank line).
            self.finish_headers(h);
            self.body_line(line, false, h);
        }
    }

    fn push_field(&mut self) {
        if self.field.is_empty() {
            return;
        }
        if self.fields.len() < MAX_HEADER_FIELDS
            && let Some(f) = header::split_field(&self.field)
        {
            self.fields.push(f);
        }
        self.field.clear();
    }

    /// The header of a part is complete: report the part and open it.
    fn finish_headers(&mut self, h: &mut dyn Handler) {
        self.push_field();
        let fields = std::mem::take(&mut self.fields);
        self.field_bytes = 0;
        let in_digest = matches!(
            self.stack.last(),
            Some(Open::Multipart { digest: true, .. })
        );
        let content_type = content_type(field(&fields, "Content-Type"), in_digest);
        let disposition = field(&fields, "Content-Disposition")
            .map(header::parse_structured)
            .unwrap_or_default();
        let encoding = transfer_encoding(field(&fields, "Content-Transfer-Encoding"));
        let depth = self.stack.len();
        let (kind, mut open) = opening(&content_type, encoding, depth + 1 < MAX_DEPTH);
        let part = Part {
            index: self.next_index,
            depth,
            in_attached_message: self.in_attached_message(),
            headers: fields,
            content_type,
            disposition,
            encoding,
            kind,
        };
        if let Open::Leaf(_, watch) = &mut open
            && part.mime_type() == "text/plain"
            && part.encoding == Encoding::Identity
            && !part.is_attachment()
        {
            *watch = Watch::UuBegin;
        }
        self.next_index += 1;
        self.root_started = true;
        if let Open::Multipart { waiting, .. } = &mut open {
            let preamble = Vec::new();
            *waiting = Some(Box::new(Waiting { part, preamble }));
        } else {
            h.start(&part);
        }
        self.mode = match open {
            Open::Message => Mode::Headers,
            _ => Mode::Body,
        };
        self.header_start = self.mode == Mode::Headers;
        self.pending_newline = false;
        self.stack.push(open);
        let from = std::mem::take(&mut self.held_from);
        if !from.is_empty() && self.mode == Mode::Body {
            // The header's last line looked like an mbox `From ` line: it
            // is the body's first line.
            self.body_line(&from, false, h);
        }
    }

    fn body_line(&mut self, line: &[u8], spilled: bool, h: &mut dyn Handler) {
        if !spilled && let Some((at, close)) = self.boundary(line) {
            self.on_boundary(at, close, h);
            return;
        }
        if !spilled && self.uu_line(line, h) {
            return;
        }
        self.emit(line, h);
        self.pending_newline = true;
    }

    fn in_attached_message(&self) -> bool {
        self.stack.iter().any(|o| matches!(o, Open::Message))
    }

    fn watch(&self) -> Watch {
        match self.stack.last() {
            Some(Open::Leaf(_, w)) => *w,
            _ => Watch::Nothing,
        }
    }

    /// Inline uuencoded blocks in plain text: a `begin` line is held,
    /// then opens a block or is text; `end` or a line that is not
    /// uuencoded closes it. True if `line` was taken here; else it is
    /// passed to the top leaf (text, or the block's data).
    fn uu_line(&mut self, line: &[u8], h: &mut dyn Handler) -> bool {
        if self.watch() == Watch::UuEnd {
            let end = line.trim_ascii() == b"end";
            if !end && (line.is_empty() || is_uu(line)) {
                return false;
            }
            self.close_top(h);
            if end {
                return true;
            }
        }
        if self.watch() != Watch::UuBegin {
            return false;
        }
        if !self.held_begin.is_empty() {
            if is_uu(line) {
                let begin = std::mem::take(&mut self.held_begin);
                self.open_block(&begin, h);
                return false;
            }
            self.release_begin(h);
        }
        if self.stack.len() < MAX_DEPTH && decode::uu_begin(line).is_some() {
            self.held_begin.extend_from_slice(line);
            return true;
        }
        false
    }

    /// A held `begin` line that opened no block is a line of text.
    fn release_begin(&mut self, h: &mut dyn Handler) {
        let begin = std::mem::take(&mut self.held_begin);
        if !begin.is_empty() {
            self.emit(&begin, h);
            self.pending_newline = true;
        }
    }

    /// Opens a uuencoded block in the text on top of the stack: a leaf
    /// inside it, an attachment named by the `begin` line.
    fn open_block(&mut self, begin: &[u8], h: &mut dyn Handler) {
        // The line break before `begin` is the text's.
        self.emit(b"", h);
        let name = decode::uu_begin(begin).unwrap_or_default();
        let part = Part {
            index: self.next_index,
            depth: self.stack.len(),
            in_attached_message: self.in_attached_message(),
            headers: Vec::new(),
            content_type: Structured {
                value: "application/octet-stream".into(),
                params: Vec::new(),
            },
            disposition: Structured {
                value: "attachment".into(),
                params: vec![("filename".into(), String::from_utf8_lossy(name).into())],
            },
            encoding: Encoding::Uuencode,
            kind: Kind::Leaf,
        };
        self.next_index += 1;
        h.start(&part);
        let d = Decoder::Uu(decode::Uudecode::in_block());
        self.stack.push(Open::Leaf(d, Watch::UuEnd));
    }
}

/// The value of the first field called `name` (any case).
fn field<'a>(fields: &'a [Field], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
        .map(|f| f.value.as_slice())
}

/// A part's Content-Type from its field's value. RFC 2045 §5.2: missing
/// or invalid means text/plain (and message/rfc822 inside a digest); so
/// does a multipart without a usable boundary, as mail clients show it.
fn content_type(value: Option<&[u8]>, in_digest: bool) -> Structured {
    let mut content_type = value.map(header::parse_structured).unwrap_or_default();
    let valid_type = {
        let v = &content_type.value;
        match v.split_once('/') {
            Some((t, s)) => !t.is_empty() && !s.is_empty() && !v.contains(char::is_whitespace),
            None => false,
        }
    };
    if !valid_type {
        content_type.value = if in_digest {
            "message/rfc822".into()
        } else {
            "text/plain".into()
        };
    }
    if content_type.value.starts_with("multipart/") && boundary_of(&content_type).is_none() {
        content_type.value = "text/plain".into();
    }
    content_type
}

/// A multipart's boundary, if it is one the reader can use.
fn boundary_of(content_type: &Structured) -> Option<Vec<u8>> {
    content_type
        .param("boundary")
        .map(|b| b.as_bytes().to_vec())
        .filter(|b| !b.is_empty() && b.len() <= MAX_BOUNDARY)
}

/// The Content-Transfer-Encoding a decoder exists for; anything else
/// (7bit, 8bit, binary, unknown) is passed through as it is.
fn transfer_encoding(value: Option<&[u8]>) -> Encoding {
    let Some(v) = value else {
        return Encoding::Identity;
    };
    match String::from_utf8_lossy(v)
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "quoted-printable" => Encoding::QuotedPrintable,
        "base64" => Encoding::Base64,
        "x-uuencode" | "uuencode" | "x-uue" | "uue" => Encoding::Uuencode,
        _ => Encoding::Identity,
    }
}

/// How a part is opened: a multipart with a usable boundary or an
/// attached message (while `room` is left below MAX_DEPTH), else a leaf
/// whose content is decoded.
fn opening(content_type: &Structured, encoding: Encoding, room: bool) -> (Kind, Open) {
    match (content_type.value.as_str(), boundary_of(content_type)) {
        (t, Some(b)) if t.starts_with("multipart/") && room => (
            Kind::Multipart,
            Open::Multipart {
                boundary: b,
                phase: Phase::Preamble,
                digest: t == "multipart/digest",
                waiting: None,
            },
        ),
        ("message/rfc822" | "message/global", _) if room && encoding == Encoding::Identity => {
            (Kind::Message, Open::Message)
        }
        (t, _) => {
            let d = Decoder::new(encoding, t.starts_with("text/"));
            (Kind::Leaf, Open::Leaf(d, Watch::Nothing))
        }
    }
}

/// A line of uuencoded data: only characters from space to backtick.
fn is_uu(line: &[u8]) -> bool {
    !line.is_empty() && line.iter().all(|b| (b' '..=b'`').contains(b))
}

/// Reads a whole message held in memory (tests, small inputs).
pub fn read_all(message: &[u8], h: &mut dyn Handler) {
    let mut r = Reader::new();
    r.feed(message, h);
    r.finish(h);
}

#[cfg(test)]
mod tests;
