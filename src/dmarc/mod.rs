//! DMARC verification on receipt (RFC 9989, which obsoletes RFC 7489 and
//! RFC 9091).
//!
//! - `from`: the Author Domain from the RFC5322.From field.
//! - `record`: the DMARC Policy Record.
//!
//! Section numbers are those of draft-ietf-dmarc-dmarcbis-41, the text
//! published as RFC 9989; the section titles are quoted where it matters.

pub mod from;
pub mod record;

pub use from::author_domain;
pub use record::{Policy, Psd, Record};
