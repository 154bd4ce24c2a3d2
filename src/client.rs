//! The terminal chat client.
pub mod snake;
