//! Fuzz target for the charset decoders (`mime::charset`): message
//! content in any of the labels mail uses, stateful ones (ISO-2022-JP,
//! UTF-7, UTF-16 with its BOM) included. The first input byte picks the
//! label from LABELS, or (past its end) takes the label from the next
//! bytes, so label matching is fuzzed too. It must never panic, and the
//! UTF-8 written is at most 3 bytes per input byte plus one U+FFFD for an
//! unfinished sequence at the end.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tinymx::mime::charset;

/// One label per decoder (and the pass-through of an unknown one).
const LABELS: &[&str] = &[
    "utf-8", "us-ascii", "iso-8859-1", "windows-1252", "iso-8859-2", "iso-8859-5",
    "iso-8859-7", "iso-8859-8-i", "koi8-r", "koi8-u", "windows-1251", "windows-874",
    "ibm866", "macintosh", "x-mac-cyrillic", "utf-16", "utf-16be", "utf-16le", "utf-7",
    "shift_jis", "euc-jp", "iso-2022-jp", "gbk", "gb18030", "gb2312", "big5", "euc-kr",
    "x-unknown",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (label, bytes) = match LABELS.get(pick as usize) {
        Some(l) => (l.to_string(), rest),
        None => {
            let n = rest.len().min(pick as usize % 24);
            (String::from_utf8_lossy(&rest[..n]).into_owned(), &rest[n..])
        }
    };
    let (text, _known) = charset::decode(bytes, Some(&label));
    assert!(
        text.len() <= 3 * bytes.len() + 3,
        "{} bytes of {label} gave {} bytes of UTF-8",
        bytes.len(),
        text.len()
    );
});
