//! tinymx as a library: the modules behind the `tinymx` binary, public so
//! that the fuzz targets and tests can drive them directly.

pub mod auth;
pub mod authres;
pub mod cli;
pub mod config;
pub mod conn;
pub mod crypto;
pub mod date;
pub mod dkim;
pub mod dmarc;
pub mod dns;
pub mod groupsync;
pub mod hook;
pub mod json;
pub mod listener;
pub mod log;
pub mod maildir;
pub mod man;
pub mod mime;
pub mod safe;
pub mod screen;
pub mod smtp;
pub mod spf;
pub mod sys;
#[cfg(feature = "tls")]
pub mod tls;
pub mod tool;
