//! What `tinymx show` and `tinymx extract` need from a message, gathered
//! by one pass of the reader: the message's own header fields, the
//! readable body, and the attachments with safe, unique file names.

use super::header::{self, Field};
use super::{Handler, Part, charset, html};

/// One attachment (or inline non-text part).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// Safe and unique within the message (see `safe::file_name`).
    pub name: String,
    /// e.g. "application/pdf".
    pub mime_type: String,
    /// Decoded size in bytes.
    pub size: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Current {
    None,
    Plain,
    Html,
    Attachment,
}

/// A `Handler` that keeps the summary. Only the body text is held in
/// memory (it is the output); attachments are only counted.
#[derive(Default)]
pub struct Summary {
    /// The message's own header fields (not those of its parts).
    pub headers: Vec<Field>,
    pub attachments: Vec<Attachment>,
    /// Problems worth a warning (unknown charsets).
    pub warnings: Vec<String>,
    plain: Option<(Vec<u8>, Option<String>)>,
    plain_done: bool,
    html: Option<(Vec<u8>, Option<String>)>,
    html_done: bool,
    /// What each open part is; the last is the one data goes to (a
    /// uuencoded block is a leaf inside a text leaf).
    current: Vec<Current>,
    /// The attachment just started, for a caller that stores content.
    started_attachment: Option<usize>,
    /// Do not keep the body text (`extract` needs only the attachments).
    skip_body: bool,
}

impl Summary {
    pub fn new() -> Summary {
        Summary::default()
    }

    /// A summary that keeps no body text, so memory stays small whatever
    /// the size of the message.
    pub fn attachments_only() -> Summary {
        Summary {
            skip_body: true,
            ..Summary::default()
        }
    }

    /// The first field called `name`, decoded for display on one line.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| header::display(&f.value))
    }

    /// Index into `attachments` of the part `start` just reported, if it
    /// is an attachment (cleared by the next `start`).
    pub fn started_attachment(&self) -> Option<usize> {
        self.started_attachment
    }

    /// The readable body as UTF-8 with LF line ends: the first text/plain
    /// part, else the first text/html part turned into text. Ends with a
    /// line break unless empty. Unknown charsets are added to `warnings`.
    pub fn body(&self) -> String {
        let (text, html) = match (&self.plain, &self.html) {
            (Some((b, cs)), _) => (self.convert(b, cs.as_deref()), false),
            (None, Some((b, cs))) => (self.convert(b, cs.as_deref()), true),
            (None, None) => (String::new(), false),
        };
        let mut text = text.replace("\r\n", "\n");
        if html {
            text = html::to_text(&text);
        }
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text
    }

    fn convert(&self, bytes: &[u8], cs: Option<&str>) -> String {
        charset::decode(bytes, cs).0
    }

    /// Warnings for the body's charset, if it is not one tinymx knows.
    pub fn body_warnings(&self) -> Vec<String> {
        let cs = match (&self.plain, &self.html) {
            (Some((_, cs)), _) | (None, Some((_, cs))) => cs.clone(),
            _ => None,
        };
        match cs {
            Some(c) if charset::Charset::from_label(&c).is_none() => {
                vec![format!(
                    "unknown charset '{c}' in the body, passed through as UTF-8"
                )]
            }
            _ => Vec::new(),
        }
    }

    fn unique(&self, name: String) -> String {
        let taken = |n: &str| self.attachments.iter().any(|a| a.name == n);
        if !taken(&name) {
            return name;
        }
        (1..)
            .map(|k| numbered(&name, k))
            .find(|n| !taken(n))
            .unwrap_or(name)
    }
}

impl Handler for Summary {
    fn start(&mut self, part: &Part) {
        self.started_attachment = None;
        if part.index == 0 {
            self.headers = part.headers.clone();
            for f in &self.headers {
                let (_, unknown) = header::decode_value(&f.value);
                for u in unknown {
                    self.warnings.push(format!(
                        "unknown charset '{u}' in the {} header, passed through as UTF-8",
                        f.name
                    ));
                }
            }
        }
        let cs = part.charset().map(str::to_string);
        self.current.push(if part.is_attachment() {
            let n = self.attachments.len() + 1;
            let name = part
                .filename()
                .and_then(crate::safe::file_name)
                .unwrap_or_else(|| format!("attachment-{n}.{}", extension(part.mime_type())));
            let name = self.unique(name);
            self.attachments.push(Attachment {
                name,
                mime_type: part.mime_type().to_string(),
                size: 0,
            });
            self.started_attachment = Some(self.attachments.len() - 1);
            Current::Attachment
        } else if self.skip_body {
            Current::None
        } else if part.is_body_text() && part.mime_type() == "text/plain" && !self.plain_done {
            self.plain_done = true;
            self.plain = Some((Vec::new(), cs));
            // A plain part makes any HTML one unnecessary.
            self.html = None;
            self.html_done = true;
            Current::Plain
        } else if part.is_body_text() && part.mime_type() == "text/html" && !self.html_done {
            self.html_done = true;
            self.html = Some((Vec::new(), cs));
            Current::Html
        } else {
            Current::None
        });
    }

    fn data(&mut self, bytes: &[u8]) {
        match self.current.last() {
            Some(Current::Plain) => {
                if let Some((b, _)) = &mut self.plain {
                    b.extend_from_slice(bytes)
                }
            }
            Some(Current::Html) => {
                if let Some((b, _)) = &mut self.html {
                    b.extend_from_slice(bytes)
                }
            }
            Some(Current::Attachment) => {
                if let Some(a) = self.attachments.last_mut() {
                    a.size += bytes.len() as u64;
                }
            }
            _ => {}
        }
    }

    fn end(&mut self) {
        self.current.pop();
    }
}

/// `name.ext` → `name-K.ext` (`name-K` without an extension).
pub fn numbered(name: &str, k: u32) -> String {
    match name.rfind('.') {
        Some(dot) if dot > 0 => format!("{}-{k}{}", &name[..dot], &name[dot..]),
        _ => format!("{name}-{k}"),
    }
}

/// A file name extension for a part without a name.
fn extension(mime_type: &str) -> &'static str {
    match mime_type {
        "text/plain" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "text/csv" => "csv",
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        "message/rfc822" | "message/global" => "eml",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names() {
        assert_eq!(numbered("a.pdf", 1), "a-1.pdf");
        assert_eq!(numbered("a.tar.gz", 2), "a.tar-2.gz");
        assert_eq!(numbered("README", 3), "README-3");
    }
}
