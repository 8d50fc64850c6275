//! Signature verification for DKIM (RFC 6376, RFC 8463): SHA-2, RSA
//! PKCS#1 v1.5 and Ed25519. Verification only: no secret ever passes
//! through here, so constant time is not a goal; correctness on hostile
//! input (keys and signatures come from DNS and the message) is.

pub mod sha2;
