//! The terminal client: a full-screen chat UI over one WebSocket connection. `App` (app.rs) owns
//! everything the user sees and changes only through `update(Msg) -> Vec<Effect>`; this file
//! runs the loop that feeds it terminal and network events and carries out its effects. The
//! network task (net.rs) owns the socket and the reconnect schedule.

pub mod backoff;
pub mod command;
pub mod editor;
pub mod layout;
pub mod links;
pub mod net;
pub mod stats;
pub mod url;
