//! Signature verification for DKIM (RFC 6376, RFC 8463): SHA-2, RSA
//! PKCS#1 v1.5 and Ed25519. Verification only: no secret ever passes
//! through here, so constant time is not a goal; correctness on hostile
//! input (keys and signatures come from DNS and the message) is.

pub mod ed25519;
pub mod rsa;
pub mod sha2;

#[cfg(test)]
pub mod testjson;

/// The vector files (tests/vectors/wycheproof/, Apache-2.0), read at test
/// time from the source tree. Under qemu the tests run from the same
/// checkout, so the path holds there too.
#[cfg(test)]
pub fn vector_file(name: &str) -> testjson::Json {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/wycheproof/");
    let text = std::fs::read_to_string(format!("{path}{name}"))
        .unwrap_or_else(|e| panic!("{path}{name}: {e}"));
    testjson::Json::parse(&text)
}
