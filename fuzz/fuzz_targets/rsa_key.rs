//! Fuzzes src/crypto/rsa.rs: DER key parsing, and verification under any
//! key that parses. Keys come from DNS and signatures from the message,
//! so both are hostile.
//!
//! Input: a flags byte, two bytes of key length (big-endian), the key,
//! 32 bytes of digest, then the signature. The flags' low bit picks
//! whether the signature is the rest as it is, or the rest cut or
//! zero-padded to the modulus' length (so that most inputs get through
//! the length check to the arithmetic).
//!
//! Oracles: no panic; a parsed key is 512 to 4096 bits; a key that parses
//! wrapped in a SubjectPublicKeyInfo parses bare too, to the same key; a
//! signature of the wrong length never verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinymx::crypto::rsa::PublicKey;

/// A DER element with a minimal definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let n = content.len();
    let mut v = vec![tag];
    match n {
        0..=0x7f => v.push(n as u8),
        0x80..=0xff => v.extend([0x81, n as u8]),
        _ => v.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    v.extend_from_slice(content);
    v
}

/// SubjectPublicKeyInfo { rsaEncryption, NULL } around `key`.
fn spki(key: &[u8]) -> Vec<u8> {
    let oid = [6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 1, 5, 0];
    let bits = tlv(3, &[&[0][..], key].concat());
    tlv(0x30, &[tlv(0x30, &oid), bits].concat())
}

fuzz_target!(|data: &[u8]| {
    let Some((&[flags, hi, lo], rest)) = data.split_first_chunk::<3>() else { return };
    let klen = (u16::from_be_bytes([hi, lo]) as usize).min(rest.len());
    let (der, rest) = rest.split_at(klen);
    let key = PublicKey::from_der(der);
    // Below 0xfff0 bytes the wrapping still fits two length bytes.
    if klen < 0xfff0
        && let Ok(wrapped) = PublicKey::from_der(&spki(der))
    {
        assert_eq!(key.as_ref(), Ok(&wrapped));
    }
    let Ok(key) = key else { return };
    assert!((512..=4096).contains(&key.bits()), "{}", key.bits());
    let mut digest = [0u8; 32];
    let n = rest.len().min(32);
    digest[..n].copy_from_slice(&rest[..n]);
    let sig = &rest[n..];
    let k = key.bits().div_ceil(8);
    if flags & 1 == 1 {
        let ok = key.verify_pkcs1_sha256(&digest, sig);
        assert!(!ok || sig.len() == k);
    } else {
        let mut fixed = sig.to_vec();
        fixed.resize(k, 0);
        key.verify_pkcs1_sha256(&digest, &fixed);
    }
});
