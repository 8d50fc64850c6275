//! The SMTP protocol, without I/O: command parsing, replies, the DATA
//! decoder, the session state machine and the trace headers.

pub mod address;
pub mod command;
pub mod data;
pub mod reply;
pub mod session;
pub mod trace;

pub use session::{Abort, Output, Session, TempFailure};
