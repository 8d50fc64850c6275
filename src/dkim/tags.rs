//! The tag=value list of DKIM-Signature fields and key records (RFC 6376
//! section 3.2), parsed strictly: a tag that appears twice makes the
//! whole list invalid, a tag name must be ALPHA *(ALPHA / DIGIT / "_"),
//! and a value holds only VALCHARs (%x21-3A / %x3C-7E) and folding white
//! space between them. Values are returned as spans into the input, so
//! the caller can blank the `b=` value for the header hash (section 3.7).

/// At most this many tags in one list (a signature has 14 defined ones;
/// beyond that the list is someone's attack, not a signature).
pub const MAX_TAGS: usize = 32;

/// One `name=value`: the name, and the value's span in the input with
/// its leading and trailing white space left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag<'a> {
    pub name: &'a [u8],
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagError {
    /// A tag without `=`, a bad name or a character a value cannot hold.
    Syntax,
    /// The same tag twice (section 3.2: the list is invalid).
    Duplicate,
    /// More than [`MAX_TAGS`].
    TooMany,
}

impl TagError {
    pub fn text(self) -> &'static str {
        match self {
            TagError::Syntax => "tag-list syntax",
            TagError::Duplicate => "duplicate tag",
            TagError::TooMany => "too many tags",
        }
    }
}

/// Folding white space as the field holds it: SP, HTAB, CR, LF (a field
/// as stored keeps its folds; section 3.2 allows FWS around everything).
pub fn fws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Parses `list`; an empty list and a trailing `;` are allowed.
pub fn parse(list: &[u8]) -> Result<Vec<Tag<'_>>, TagError> {
    let mut tags: Vec<Tag> = Vec::new();
    for (off, part) in split(list) {
        let Some(eq) = part.iter().position(|&b| b == b'=') else {
            // Only white space between two `;` (or after the last).
            if part.iter().all(|&b| fws(b)) {
                continue;
            }
            return Err(TagError::Syntax);
        };
        let name = trim(&part[..eq]);
        let ok_name = name.first().is_some_and(u8::is_ascii_alphabetic)
            && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok_name {
            return Err(TagError::Syntax);
        }
        let raw = part.get(eq + 1..).unwrap_or_default();
        let lead = raw.iter().take_while(|&&b| fws(b)).count();
        let value = trim(raw);
        // VALCHARs, with white space only between them.
        if value
            .iter()
            .any(|&b| !(fws(b) || (0x21..=0x7e).contains(&b) && b != b';'))
        {
            return Err(TagError::Syntax);
        }
        if tags.iter().any(|t| t.name == name) {
            return Err(TagError::Duplicate);
        }
        if tags.len() == MAX_TAGS {
            return Err(TagError::TooMany);
        }
        let start = off + eq + 1 + lead;
        tags.push(Tag {
            name,
            start,
            end: start + value.len(),
        });
    }
    Ok(tags)
}

/// The parts between `;`, each with its offset in `list`.
fn split(list: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut off = 0;
    list.split(|&b| b == b';').map(move |p| {
        let at = off;
        off += p.len() + 1;
        (at, p)
    })
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [f, rest @ ..] = b
        && fws(*f)
    {
        b = rest;
    }
    while let [rest @ .., l] = b
        && fws(*l)
    {
        b = rest;
    }
    b
}

/// The value of tag `name` in `list`, if present.
pub fn value<'a>(list: &'a [u8], tags: &[Tag], name: &str) -> Option<&'a [u8]> {
    tags.iter()
        .find(|t| t.name == name.as_bytes())
        .map(|t| &list[t.start..t.end])
}

/// A value with its folding white space removed (for `b=`, `bh=`, `p=`,
/// `h=`, whose FWS carries no meaning).
pub fn compact(value: &[u8]) -> Vec<u8> {
    value.iter().copied().filter(|&b| !fws(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &str) -> Result<Vec<(String, String)>, TagError> {
        let b = list.as_bytes();
        Ok(parse(b)?
            .iter()
            .map(|t| {
                (
                    String::from_utf8_lossy(t.name).into_owned(),
                    String::from_utf8_lossy(&b[t.start..t.end]).into_owned(),
                )
            })
            .collect())
    }

    fn p(pairs_: &[(&str, &str)]) -> Result<Vec<(String, String)>, TagError> {
        Ok(pairs_
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect())
    }

    #[test]
    fn the_rfc_example_and_white_space() {
        assert_eq!(
            pairs(
                "v=1; a=rsa-sha256; d=example.net; s=brisbane;\r\n  c=simple; q=dns/txt; i=@eng.example.net;"
            ),
            p(&[
                ("v", "1"),
                ("a", "rsa-sha256"),
                ("d", "example.net"),
                ("s", "brisbane"),
                ("c", "simple"),
                ("q", "dns/txt"),
                ("i", "@eng.example.net"),
            ])
        );
        assert_eq!(
            pairs(" b = dGhp\r\n\tcyBp cw== ;bh=;x_1=a"),
            p(&[("b", "dGhp\r\n\tcyBp cw=="), ("bh", ""), ("x_1", "a")])
        );
        assert_eq!(pairs(""), p(&[]));
        assert_eq!(pairs(" ; "), p(&[]));
        // A value may hold '=' (base64 padding, the z= encoding).
        assert_eq!(pairs("p=ab=="), p(&[("p", "ab==")]));
    }

    #[test]
    fn invalid_lists() {
        assert_eq!(parse(b"v=1; v=1"), Err(TagError::Duplicate));
        assert_eq!(parse(b"a=1; b=2; a=3"), Err(TagError::Duplicate));
        assert_eq!(parse(b"v"), Err(TagError::Syntax));
        assert_eq!(parse(b"=1"), Err(TagError::Syntax));
        assert_eq!(parse(b"1a=1"), Err(TagError::Syntax));
        assert_eq!(parse(b"a-b=1"), Err(TagError::Syntax));
        assert_eq!(parse(b"a b=1"), Err(TagError::Syntax));
        assert_eq!(parse("a=\u{e9}".as_bytes()), Err(TagError::Syntax));
        assert_eq!(parse(b"a=x\x00y"), Err(TagError::Syntax));
        let many: String = (0..=MAX_TAGS).map(|i| format!("t{i}=x;")).collect();
        assert_eq!(parse(many.as_bytes()), Err(TagError::TooMany));
    }

    #[test]
    fn spans_point_into_the_field() {
        let f = b"v=1; b=abc\r\n def; bh=x";
        let tags = parse(f).unwrap();
        assert_eq!(value(f, &tags, "b"), Some(&b"abc\r\n def"[..]));
        assert_eq!(compact(value(f, &tags, "b").unwrap()), b"abcdef");
        assert_eq!(value(f, &tags, "bh"), Some(&b"x"[..]));
        assert_eq!(value(f, &tags, "h"), None);
    }
}
