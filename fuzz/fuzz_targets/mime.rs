//! Fuzz target for the MIME reader: any bytes, fed in pieces whose size
//! comes from the first input byte, through the reader and everything
//! `tinymx show` / `extract` call on what it finds. It must never panic,
//! and every part started must be ended.
//!

#![no_main]

use libfuzzer_sys::fuzz_target;
use tinymx::mime;
use mime::summary::Summary;
use mime::{Handler, Part, Reader};

/// Checks that events balance and data only comes inside a leaf, and
/// runs the summary's work on each part too.
struct Check {
    open: Vec<mime::Kind>,
    summary: Summary,
}

impl Handler for Check {
    fn start(&mut self, p: &Part) {
        // Only a uuencoded block in plain text is a part inside a leaf.
        assert!(
            self.open.last() != Some(&mime::Kind::Leaf)
                || (p.kind == mime::Kind::Leaf && p.encoding == mime::Encoding::Uuencode),
            "part inside a leaf"
        );
        assert_eq!(p.depth, self.open.len());
        assert!(p.depth < mime::MAX_DEPTH);
        for f in &p.headers {
            let _ = mime::header::display(&f.value);
            let _ = mime::header::parse_structured(&f.value);
        }
        if let Some(n) = p.filename() {
            if let Some(safe) = tinymx::safe::file_name(n) {
                assert!(!safe.contains('/') && !safe.starts_with('.') && !safe.is_empty());
                assert!(!safe.chars().any(|c| c.is_control()));
            }
        }
        self.open.push(p.kind);
        self.summary.start(p);
    }
    fn data(&mut self, bytes: &[u8]) {
        assert_eq!(
            self.open.last(),
            Some(&mime::Kind::Leaf),
            "data outside a leaf"
        );
        self.summary.data(bytes);
    }
    fn end(&mut self) {
        assert!(self.open.pop().is_some(), "end without start");
        self.summary.end();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let piece = (first as usize % 97) + 1;
    let mut check = Check {
        open: Vec::new(),
        summary: Summary::new(),
    };
    let mut r = Reader::new();
    for chunk in rest.chunks(piece) {
        r.feed(chunk, &mut check);
    }
    r.finish(&mut check);
    assert!(check.open.is_empty(), "parts left open");
    let _ = check.summary.body();
    let _ = check.summary.body_warnings();
    for a in &check.summary.attachments {
        assert!(!a.name.is_empty() && !a.name.contains('/') && !a.name.starts_with('.'));
    }
    // The pieces on their own, on raw input.
    let _ = mime::header::decode_value(rest);
    let _ = mime::header::parse_structured(rest);
    let _ = mime::html::to_text(&String::from_utf8_lossy(rest));
    let _ = mime::decode::quoted_printable(rest);
    let _ = mime::decode::base64(rest);
    let _ = mime::decode::uudecode(rest);
});
