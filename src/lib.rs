//! Clicom: a full-screen terminal chat client and the WebSocket chat server it talks to.
//!
//! Map of the crate:
//! - [`protocol`]: the JSON wire types both sides speak (compatible with the original Clicom).
//! - [`text`]: making remote text safe to draw, display width, name and room rules.
//! - [`bench`]: `clicom bench`, the load generator that measures a server over real WebSockets.
//! - [`paths`]: where settings, history, stats and logs live on this platform.
//! - [`server`]: the chat server (`clicom serve`): hub, connections, limits, history, TLS.
//! - [`config`]: the client's settings file, edited in place so comments and unknown keys survive.
//! - [`client`]: the terminal client: UI state, rendering, terminal and event loop; `client::net`
//!   owns the WebSocket and reconnects, `client::tls` decides which certificates it trusts.
//! - [`host`]: server and client in one process (`clicom host`).

pub mod bench;
pub mod client;
pub mod config;
pub mod host;
pub mod paths;
pub mod protocol;
pub mod server;
pub mod text;
