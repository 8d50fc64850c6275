//! Fuzzes the DNS response parser, the name reader at every offset, the
//! CNAME-chain interpretation, the DNSBL reading of an A answer and the
//! resolv.conf parser. Oracles: no
//! panic, no hang; every name read is at most 255 octets in wire form
//! (each escaped byte is 4 characters, so at most 4 * 255 characters);
//! a chain never grows past its bound; a listing is always in 127/8 and
//! never 127.255.255.x or 127.0.0.255.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinymx::dns::wire::{self, Name};
use tinymx::dns::{Chain, Step, interpret, resolv_conf};
use tinymx::screen::{Listing, listing};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = wire::parse_response(data) {
        assert!(m.answers.len() + m.authority.len() <= wire::MAX_RECORDS);
        for r in m.answers.iter().chain(&m.authority) {
            assert!(r.name.0.len() <= 4 * wire::MAX_NAME_WIRE);
            assert!(r.ttl <= i32::MAX as u32);
        }
        for qtype in [wire::TYPE_A, wire::TYPE_TXT, m.question.qtype] {
            let mut chain = Chain { seen: vec![m.question.name.clone()], max: 8, ttl: u32::MAX };
            let step = interpret(&m, qtype, &mut chain);
            assert!(chain.seen.len() <= 9);
            if let (wire::TYPE_A, Ok(Step::Done(a, _))) = (qtype, step) {
                if let Listing::Listed(ip) = listing(Ok(a)) {
                    let [x, y, z, _] = ip.octets();
                    assert!(x == 127 && (y, z) != (255, 255), "{ip}");
                    assert_ne!(ip.octets(), [127, 0, 0, 255]);
                }
            }
        }
    }
    for start in 0..data.len().min(64) {
        if let Ok((Name(n), next)) = wire::read_name(data, start) {
            assert!(n.len() <= 4 * wire::MAX_NAME_WIRE);
            assert!(next <= data.len());
        }
    }
    let _ = resolv_conf::parse(&String::from_utf8_lossy(data));
});
