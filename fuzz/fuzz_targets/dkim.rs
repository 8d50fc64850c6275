//! Fuzzes src/dkim/: the DKIM-Signature and key-record parsers, the
//! canonicalizers and the streaming verifier.
//!
//! Input: the first byte picks how the message is cut into pieces; the
//! rest up to the last NUL byte is the message, after it the key record
//! every key lookup returns (so the fuzzer reaches key parsing and the
//! signature checks with keys of its own making).
//!
//! Oracles: no panic; the outcomes and both body hashes do not depend on
//! how the message arrives in pieces; at most one outcome per
//! DKIM-Signature field (one `permerror` when the header section is over
//! the bound); a canonical body is at most twice the input plus CRLF
//! (LF becomes CRLF; nothing else grows); the signature parser agrees
//! with itself on the value alone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinymx::dkim::canon::{Body, Canon};
use tinymx::dkim::signature;
use tinymx::dkim::verify::{Outcome, Verifier};
use tinymx::spf::Answer;

const NOW: u64 = 1_800_000_000;

fn verify(pieces: &[&[u8]], key: &[u8]) -> Vec<Outcome> {
    let mut v = Verifier::new(NOW);
    for p in pieces {
        v.update(p);
    }
    v.finish(&mut |_name| Answer::Records(vec![key.to_vec()]))
}

fn body(c: Canon, pieces: &[&[u8]], limit: Option<u64>) -> ([u8; 32], u64) {
    let mut b = Body::new(c, limit);
    for p in pieces {
        b.update(p);
    }
    b.finish()
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let (msg, key) = match rest.iter().rposition(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &b"v=DKIM1; p=MCowBQYDK2VwAyEA"[..]),
    };
    let step = usize::from(step % 61) + 1;
    let pieces: Vec<&[u8]> = msg.chunks(step).collect();

    let whole = verify(&[msg], key);
    assert_eq!(verify(&pieces, key), whole, "pieces of {step}");
    let fields = msg
        .split(|&b| b == b'\n')
        .filter(|l| {
            let name = l.split(|&b| b == b':').next().unwrap_or(b"");
            l.contains(&b':') && name.trim_ascii_end().eq_ignore_ascii_case(b"dkim-signature")
        })
        .count();
    assert!(whole.len() <= fields.max(1), "{} outcomes for {fields} fields", whole.len());

    for c in [Canon::Simple, Canon::Relaxed] {
        let (h, len) = body(c, &[msg], None);
        assert_eq!(body(c, &pieces, None), (h, len));
        assert!(len <= 2 * msg.len() as u64 + 2);
        // l= only cuts what is hashed, never what is counted.
        assert_eq!(body(c, &pieces, Some(step as u64)).1, len);
    }

    if let Ok(s) = signature::parse(msg, NOW) {
        assert!(s.headers().split(|&b| b == b':').any(|h| h == b"from"));
        assert!(s.b_span.0 <= s.b_span.1 && s.b_span.1 <= msg.len());
        let _ = signature::parse_key(key, &s);
    }
});
