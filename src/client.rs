//! The terminal client: a full-screen chat UI over one WebSocket connection. `App` (app.rs) owns
//! everything the user sees and changes only through `update(Msg) -> Vec<Effect>`; this file
//! runs the loop that feeds it terminal and network events and carries out its effects.

pub mod command;
pub mod editor;
pub mod layout;
pub mod links;
