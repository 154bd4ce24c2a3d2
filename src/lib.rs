//! Clicom: a full-screen terminal chat client and the WebSocket chat server it talks to.
//!
//! Map of the crate:
//! - [`protocol`]: the JSON wire types both sides speak (compatible with the original Clicom).
//! - [`text`]: making remote text safe to draw, display width, name and room rules.
//! - [`bench`]: `clicom bench`, the load generator that measures a server over real WebSockets.
//! - [`paths`]: where settings, history, stats and logs live on this platform.

pub mod bench;
pub mod paths;
pub mod protocol;
pub mod text;
