//! The terminal chat client.
pub mod snake;
pub mod ui;
