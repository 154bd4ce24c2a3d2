//! The terminal chat client: the network task, reconnect schedule, server addresses and stats.

pub mod backoff;
pub mod net;
pub mod stats;
pub mod url;
