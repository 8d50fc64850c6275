//! A stub resolver (issue 13): the packet format first.

pub mod resolv_conf;
pub mod wire;
