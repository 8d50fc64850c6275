//! Fuzzes src/crypto/ed25519.rs: `verify` on a key, a signature and a
//! message cut from the input (key = bytes 0..32, signature = 32..96,
//! message = the rest; shorter inputs give a short signature).
//!
//! Oracles: no panic, with overflow checks on (cargo fuzz's default), so
//! an input that breaks a limb bound of the field arithmetic panics too;
//! the same bytes with a key or signature one byte short or long are
//! refused; a signature that verifies (the seeds are RFC 8032's) is
//! refused with S + L (malleability), with any bit of R flipped, and for
//! the message with one more byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinymx::crypto::ed25519::verify;

/// L, the group order (RFC 8032 section 5.1), little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 96 {
        let cut = data.len().min(32);
        assert!(!verify(&data[..cut], b"", &data[cut..]));
        return;
    }
    let (key, rest) = data.split_at(32);
    let (sig, msg) = rest.split_at(64);
    assert!(!verify(&key[..31], msg, sig));
    assert!(!verify(&data[..33], msg, &data[33..96]));
    assert!(!verify(key, msg, &sig[..63]));
    assert!(!verify(key, msg, &data[31..96]));
    if verify(key, msg, sig) {
        // S < L < 2^253, so S + L fits in the 32 bytes.
        let mut malleated = sig.to_vec();
        let mut carry = 0u16;
        for (s, l) in malleated[32..].iter_mut().zip(L) {
            let v = u16::from(*s) + u16::from(l) + carry;
            *s = v as u8;
            carry = v >> 8;
        }
        assert!(!verify(key, msg, &malleated));
        for bit in 0..256 {
            let mut r = sig.to_vec();
            r[bit / 8] ^= 1 << (bit % 8);
            assert!(!verify(key, msg, &r), "R bit {bit}");
        }
        let mut longer = msg.to_vec();
        longer.push(0);
        assert!(!verify(key, &longer, sig));
    }
});
