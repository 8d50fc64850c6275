//! text/html → plain text, for mail that has no text/plain part: tags
//! removed, `script`/`style`/`head` content dropped, block elements and
//! `<br>` turned into line breaks, white space collapsed as a browser
//! would, basic entities decoded. Not a renderer; enough to read the mail.

/// Elements whose end (and start) is a line break.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "br",
    "tr",
    "li",
    "ul",
    "ol",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "title",
    "dt",
    "dd",
];

/// Elements whose content is not text.
const SKIP: &[&str] = &["script", "style", "head", "template"];

/// The converter's state.
struct Text {
    out: String,
    /// Pending white space: 0 none, 1 a space, 2 a line break, 3 a blank line.
    ws: u32,
    /// Inside this element, whose content is not text (SKIP).
    skipping: Option<String>,
}

/// An HTML body as plain text: tags and the content of SKIP elements
/// dropped, block elements as line breaks, runs of white space as one
/// space, character references decoded.
pub fn to_text(html: &str) -> String {
    let mut t = Text {
        out: String::with_capacity(html.len() / 2),
        ws: 0,
        skipping: None,
    };
    let mut i = 0;
    while i < html.len() {
        i = match html.as_bytes()[i] {
            b'<' => t.markup(html, i),
            _ if t.skipping.is_some() => i + 1,
            c if c.is_ascii_whitespace() => {
                t.ws = t.ws.max(1);
                i + 1
            }
            _ => t.text(html, i),
        };
    }
    if !t.out.is_empty() {
        t.out.push('\n');
    }
    t.out
}

impl Text {
    /// The comment, doctype, CDATA or tag at `i`; returns where the text
    /// goes on.
    fn markup(&mut self, html: &str, i: usize) -> usize {
        if html[i..].starts_with("<!--") {
            return html[i + 4..]
                .find("-->")
                .map_or(html.len(), |e| i + 4 + e + 3);
        }
        let (tag_end, end) = match html[i..].find('>') {
            Some(e) => (i + e, i + e + 1),
            None => (html.len(), html.len()),
        };
        let tag = &html[i + 1..tag_end];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(s) = &self.skipping {
            if closing && *s == name {
                self.skipping = None;
            }
            return end;
        }
        if !closing && SKIP.contains(&name.as_str()) && !tag.ends_with('/') {
            self.skipping = Some(name);
            return end;
        }
        if name == "br" {
            // Each <br> is a line break of its own.
            self.ws = if self.ws >= 2 {
                (self.ws + 1).min(3)
            } else {
                2
            };
        } else if name == "p" || (name.len() == 2 && name.starts_with('h')) {
            self.ws = self.ws.max(3);
        } else if BLOCK.contains(&name.as_str()) {
            self.ws = self.ws.max(2);
        }
        end
    }

    /// The character or character reference at `i`, after the pending
    /// white space; returns where the text goes on.
    fn text(&mut self, html: &str, i: usize) -> usize {
        if !self.out.is_empty() {
            match self.ws {
                0 => {}
                1 => self.out.push(' '),
                2 => self.out.push('\n'),
                _ => self.out.push_str("\n\n"),
            }
        }
        self.ws = 0;
        if html.as_bytes()[i] == b'&'
            && let Some((ch, len)) = entity(&html[i..])
        {
            self.out.push(ch);
            return i + len;
        }
        let ch = html[i..].chars().next().unwrap_or('\u{FFFD}');
        self.out.push(ch);
        i + ch.len_utf8()
    }
}

/// A character reference at the start of `s` (`&amp;`, `&#233;`, `&#xE9;`),
/// with its length. Unknown names are left as text.
fn entity(s: &str) -> Option<(char, usize)> {
    let end = s[1..].char_indices().take(12).find(|&(_, c)| c == ';')?.0 + 1;
    let body = &s[1..end];
    let ch = if let Some(num) = body.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(h) => u32::from_str_radix(h, 16).ok()?,
            None => num.parse::<u32>().ok()?,
        };
        match char::from_u32(n) {
            Some('\0') | None => '\u{FFFD}',
            Some(c) => c,
        }
    } else {
        match body {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => ' ',
            "copy" => '©',
            "reg" => '®',
            "hellip" => '…',
            "mdash" => '—',
            "ndash" => '–',
            "lsquo" => '‘',
            "rsquo" => '’',
            "ldquo" => '“',
            "rdquo" => '”',
            "euro" => '€',
            _ => return None,
        }
    };
    Some((ch, end + 1))
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn html_cases() {
        let cases = [
            ("<p>Hello <b>world</b></p>", "Hello world\n"),
            ("<div>a</div><div>b</div>", "a\nb\n"),
            ("<p>a</p><p>b</p>", "a\n\nb\n"),
            ("a<br>b<br/><br>c", "a\nb\n\nc\n"),
            (
                "<html><head><title>T</title><style>p{x:1}</style></head><body>x  \n y</body></html>",
                "x y\n",
            ),
            ("<script>alert(1)</script>ok", "ok\n"),
            (
                "&lt;tag&gt; &amp; &quot;q&quot; &#233;&#xE9; &euro;5 &bogus; &",
                "<tag> & \"q\" éé €5 &bogus; &\n",
            ),
            ("<!-- hidden -->shown", "shown\n"),
            ("unclosed <b", "unclosed\n"),
            ("", ""),
            (
                "&#0; &#x110000; &#99999999999;",
                "\u{FFFD} \u{FFFD} &#99999999999;\n",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(to_text(input), want, "{input:?}");
        }
    }
}
