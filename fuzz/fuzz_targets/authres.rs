//! Fuzzes src/authres.rs: the filter that deletes forged
//! Authentication-Results fields, and the parser of their values.
//!
//! Filter: the first input byte picks where the message is cut into
//! pieces. Oracles: no panic; the output does not depend on how the
//! message arrives in pieces; nothing is added (the output is never
//! longer than the input); the body after the first empty line passes
//! unchanged; what the filter holds back stays within HOLD_MAX.
//!
//! Parser: the rest of the input as text (lossy UTF-8), whole and from
//! after its first colon (a message's first field value). Oracles: no
//! panic; at most MAX_RESULTS results of MAX_PROPS properties, every
//! string within MAX_TEXT bytes (plus a U+FFFD for a character the cut
//! splits); names non-empty and lower-cased, a property's with its dot,
//! none repeated; `ours` on one such field agrees with `parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinymx::authres::{self, ForgedFilter, MAX_PROPS, MAX_RESULTS, MAX_TEXT};
use tinymx::mime::header::Field;

fn run(pieces: &[&[u8]]) -> (Vec<u8>, usize) {
    let mut f = ForgedFilter::new("mx.example.org");
    let mut out = Vec::new();
    for p in pieces {
        f.feed(p, &mut out);
    }
    f.finish(&mut out);
    (out, f.removed())
}

fn check_parse(value: &str) {
    let got = authres::parse(value);
    let field = Field {
        name: "Authentication-Results".into(),
        value: value.as_bytes().to_vec(),
    };
    assert_eq!(authres::ours(&[field]), got);
    let Some(ar) = got else {
        return;
    };
    let short = |s: &str| s.len() <= MAX_TEXT + 2;
    let name = |s: &str| !s.is_empty() && short(s) && !s.bytes().any(|b| b.is_ascii_uppercase());
    assert!(!ar.authserv_id.is_empty() && short(&ar.authserv_id));
    assert!(ar.results.len() <= MAX_RESULTS);
    for r in &ar.results {
        assert!(name(&r.method) && name(&r.result), "{r:?}");
        assert!(r.reason.as_deref().is_none_or(short));
        assert!(r.props.len() <= MAX_PROPS);
        for (i, (n, v)) in r.props.iter().enumerate() {
            // The dot is lost only when the cut falls before it.
            let dotted = n.contains('.') || n.len() >= MAX_TEXT;
            assert!(name(n) && dotted && short(v), "{n:?}={v:?}");
            assert!(r.props[..i].iter().all(|(m, _)| m != n), "{n} repeated");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, msg)) = data.split_first() else {
        return;
    };
    let whole = run(&[msg]);
    let step = usize::from(step % 61) + 1;
    let pieces: Vec<&[u8]> = msg.chunks(step).collect();
    assert_eq!(run(&pieces), whole, "pieces of {step}");
    assert!(whole.0.len() <= msg.len());
    if let Some(at) = msg.windows(2).position(|w| w == b"\n\n") {
        let body = &msg[at + 2..];
        assert!(whole.0.ends_with(body), "the body changed");
    }

    let text = String::from_utf8_lossy(msg);
    check_parse(&text);
    if let Some(colon) = text.find(':') {
        check_parse(&text[colon + 1..]);
    }
});
