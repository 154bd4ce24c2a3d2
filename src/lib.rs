//! Clicom: a full-screen terminal chat client and the WebSocket chat server it talks to.
//!
//! Map of the crate:
//! - [`protocol`]: the JSON wire types both sides speak (compatible with the original Clicom).
//! - [`text`]: making remote text safe to draw, display width, name and room rules.
//! - [`game`]: the rules of the games players play against each other (Connect Four), shared
//!   so the server can check moves and tell who won; the computer opponent.
//! - [`bench`]: `clicom bench`, the load generator that measures a server over real WebSockets.
//! - [`paths`]: where settings, history, stats and logs live on this platform.
//! - [`server`]: the chat server (`clicom serve`): hub, connections, limits, history, TLS;
//!   `server::settings` merges flags and the config file, `server::reload` applies SIGHUP;
//!   it also serves the browser client (`web/`, embedded) at `/` and checks pages' `Origin`.
//! - [`config`]: the client's settings file, edited in place so comments and unknown keys survive.
//! - [`files`]: sending files: safe names, folders packed and unpacked with every entry checked,
//!   SHA-256, the resumable HTTP transfer (client side) and the server's file endpoints and
//!   store (not mounted yet); the client's viewers are `client::viewer`.
//! - [`client`]: the terminal client: UI state, rendering, terminal and event loop; `client::net`
//!   owns the WebSocket and reconnects, `client::tls` decides which certificates it trusts.
//! - [`host`]: server and client in one process (`clicom host`).
//! - [`manual`]: the man pages (`clicom man`), from the same command-line description as `--help`.

pub mod bench;
pub mod client;
pub mod config;
pub mod files;
pub mod game;
pub mod host;
pub mod manual;
pub mod paths;
pub mod protocol;
pub mod server;
pub mod text;

/// The error and its causes on one line, `: `-separated, skipping a cause whose words the line
/// already holds (many errors name their cause in their own message as well).
pub fn error_report(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::error_report;

    #[test]
    fn causes_already_named_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let named = crate::client::tls::load_ca_file(std::path::Path::new("/nonexistent/ca.pem"))
            .map_err(anyhow::Error::new)
            .unwrap_err();
        let text = error_report(&named);
        assert_eq!(text.matches("No such file").count(), 1, "{text}");
        let wrapped = anyhow::Error::new(io).context("cannot open the settings");
        assert_eq!(
            error_report(&wrapped),
            "cannot open the settings: no such file"
        );
    }
}
