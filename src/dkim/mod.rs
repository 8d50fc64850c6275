//! DKIM verification (RFC 6376; RFC 8301 for the algorithms, RFC 8463
//! for Ed25519).
//!
//! - `tags`: the tag=value lists of signatures and key records.
//! - `canon`: simple and relaxed canonicalization, the body streamed.

pub mod canon;
pub mod signature;
pub mod tags;
pub mod verify;
