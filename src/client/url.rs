//! What the user may type where a server is expected (`clicom URL`, `/server URL`, the `server`
//! setting) and the WebSocket URL it means: `ws://…`/`wss://…` as given, `host:port`, or an alias
//! (`default`, `local`, or one of the user's `[servers]`). Pure: no lookups, no sockets.

use tokio_tungstenite::tungstenite::http::Uri;

use crate::config::Settings;
use crate::text;

/// The alias `local`: a server on this machine at the default port.
pub const LOCAL_URL: &str = "ws://127.0.0.1:10000/ws";

/// How deep aliases may refer to aliases before we call it a loop.
const MAX_ALIAS_DEPTH: usize = 8;

/// Why an input names no server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("no server given: use ws://host:port/ws, wss://host/ws, host:port, or an alias")]
    Empty,
    #[error("{0:?} is not a WebSocket address: use ws://… or wss://… (wss for TLS)")]
    UnsupportedScheme(String),
    #[error("{input:?} is not a valid server URL: {reason}")]
    Invalid { input: String, reason: String },
    #[error("unknown server {alias:?}: use ws://…, wss://…, host:port, or one of: {}", known.join(", "))]
    UnknownAlias { alias: String, known: Vec<String> },
    #[error("server aliases refer to each other in a loop: {}", .0.join(" → "))]
    AliasLoop(Vec<String>),
}

/// Resolves a server as the user wrote it into the `ws://` or `wss://` URL to connect to.
///
/// User aliases in `settings.servers` win over the built-in `local`; `default` always means
/// `settings.server`. Aliases may name other aliases; a loop is an error, not a hang.
pub fn resolve_server(input: &str, settings: &Settings) -> Result<String, UrlError> {
    let mut chain = Vec::new();
    resolve(input, settings, &mut chain)
}

fn resolve(input: &str, settings: &Settings, chain: &mut Vec<String>) -> Result<String, UrlError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(UrlError::Empty);
    }
    if let Some((scheme, _)) = input.split_once("://") {
        return match scheme.to_ascii_lowercase().as_str() {
            "ws" | "wss" => validate_url(input),
            _ => Err(UrlError::UnsupportedScheme(shown(input))),
        };
    }
    let target = if input == "default" {
        Some(settings.server.as_str())
    } else if let Some(url) = settings.servers.get(input) {
        Some(url.as_str())
    } else if input == "local" {
        Some(LOCAL_URL)
    } else {
        None
    };
    if let Some(target) = target {
        if chain.iter().any(|seen| seen == input) || chain.len() >= MAX_ALIAS_DEPTH {
            chain.push(input.to_string());
            return Err(UrlError::AliasLoop(
                chain.iter().map(|a| shown(a)).collect(),
            ));
        }
        chain.push(input.to_string());
        return resolve(target, settings, chain);
    }
    if let Some(url) = host_port(input)? {
        return Ok(url);
    }
    let mut known: Vec<String> = ["default", "local"].map(String::from).into();
    known.extend(settings.servers.keys().filter(|k| *k != "local").cloned());
    Err(UrlError::UnknownAlias {
        alias: shown(input),
        known,
    })
}

/// Checks a `ws://` or `wss://` URL: it must parse and name a host.
fn validate_url(input: &str) -> Result<String, UrlError> {
    let invalid = |reason: &str| UrlError::Invalid {
        input: shown(input),
        reason: reason.to_string(),
    };
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it contains spaces or control characters"));
    }
    let uri: Uri =
        input
            .parse()
            .map_err(|e: tokio_tungstenite::tungstenite::http::uri::InvalidUri| {
                invalid(&e.to_string())
            })?;
    match uri.host() {
        Some(host) if !host.is_empty() => {}
        _ => return Err(invalid("it names no host")),
    }
    // `Uri::port` hides a port that does not fit in 16 bits, so look at the authority itself.
    let authority = uri.authority().map_or("", |a| a.as_str());
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let port = host_port
        .rsplit_once(':')
        .map(|(_, p)| p)
        .filter(|p| !p.contains(']'));
    if port.is_some_and(|p| !p.parse::<u16>().is_ok_and(|p| p != 0)) {
        return Err(invalid("the port must be a number from 1 to 65535"));
    }
    Ok(input.to_string())
}

/// `host:port` or `host:port/path` → `ws://host:port/ws` (or that path); `None` if the input
/// has no `:port` at all (then it was meant as an alias).
fn host_port(input: &str) -> Result<Option<String>, UrlError> {
    let (authority, path) = match input.find('/') {
        Some(i) => input.split_at(i),
        None => (input, "/ws"),
    };
    let Some((host, port)) = authority.rsplit_once(':') else {
        return Ok(None);
    };
    if host.is_empty() || (host.contains(':') && !(host.starts_with('[') && host.ends_with(']'))) {
        return Ok(None);
    }
    let port_ok = !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p != 0);
    if !port_ok {
        return Err(UrlError::Invalid {
            input: shown(input),
            reason: format!("{:?} is not a port number (1-65535)", shown(port)),
        });
    }
    validate_url(&format!("ws://{host}:{port}{path}")).map(Some)
}

/// User input as it may appear in an error message: one line, no terminal controls, bounded.
fn shown(s: &str) -> String {
    text::truncate_to_width(&text::sanitize_line(s), 80).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        let mut s = Settings {
            server: "work".into(),
            ..Settings::default()
        };
        s.servers
            .insert("work".into(), "wss://chat.example.com/ws".into());
        s.servers.insert("lan".into(), "192.168.1.20:10000".into());
        s.servers.insert("office".into(), "work".into());
        s
    }

    #[test]
    fn urls_are_kept_as_given() {
        let s = settings();
        for url in [
            "ws://example.com:10000/ws",
            "wss://chat.example.com/ws",
            "ws://127.0.0.1:9/ws?x=1",
            "wss://[::1]:8443/ws",
            "WSS://Example.com/ws",
        ] {
            assert_eq!(resolve_server(url, &s).as_deref(), Ok(url));
        }
        assert_eq!(
            resolve_server("  ws://a:1/ws \n", &s).as_deref(),
            Ok("ws://a:1/ws")
        );
    }

    #[test]
    fn host_port_means_the_ws_endpoint_there() {
        let s = settings();
        assert_eq!(
            resolve_server("example.com:10000", &s).as_deref(),
            Ok("ws://example.com:10000/ws")
        );
        assert_eq!(
            resolve_server("127.0.0.1:4000", &s).as_deref(),
            Ok("ws://127.0.0.1:4000/ws")
        );
        assert_eq!(
            resolve_server("[::1]:4000", &s).as_deref(),
            Ok("ws://[::1]:4000/ws")
        );
        assert_eq!(
            resolve_server("host:81/chat", &s).as_deref(),
            Ok("ws://host:81/chat")
        );
    }

    #[test]
    fn aliases_resolve_through_the_settings() {
        let s = settings();
        assert_eq!(resolve_server("local", &s).as_deref(), Ok(LOCAL_URL));
        assert_eq!(
            resolve_server("work", &s).as_deref(),
            Ok("wss://chat.example.com/ws")
        );
        assert_eq!(
            resolve_server("lan", &s).as_deref(),
            Ok("ws://192.168.1.20:10000/ws")
        );
        assert_eq!(
            resolve_server("default", &s).as_deref(),
            Ok("wss://chat.example.com/ws"),
            "default is the configured server, itself resolved"
        );
        assert_eq!(
            resolve_server("office", &s).as_deref(),
            Ok("wss://chat.example.com/ws"),
            "an alias may name another alias"
        );
        let defaults = Settings::default();
        assert_eq!(
            resolve_server("default", &defaults).as_deref(),
            Ok(LOCAL_URL)
        );
    }

    #[test]
    fn a_user_alias_named_local_overrides_the_built_in_one() {
        let mut s = settings();
        s.servers
            .insert("local".into(), "ws://127.0.0.1:9999/ws".into());
        assert_eq!(
            resolve_server("local", &s).as_deref(),
            Ok("ws://127.0.0.1:9999/ws")
        );
    }

    #[test]
    fn alias_loops_are_errors_not_hangs() {
        let mut s = settings();
        s.server = "a".into();
        s.servers.insert("a".into(), "b".into());
        s.servers.insert("b".into(), "a".into());
        let err = resolve_server("default", &s).unwrap_err();
        assert_eq!(
            err,
            UrlError::AliasLoop(vec!["default".into(), "a".into(), "b".into(), "a".into()])
        );
        assert!(err.to_string().contains("default → a → b → a"), "{err}");
        s.server = "default".into();
        assert!(matches!(
            resolve_server("default", &s),
            Err(UrlError::AliasLoop(_))
        ));
        s.servers.insert("self".into(), "self".into());
        assert!(matches!(
            resolve_server("self", &s),
            Err(UrlError::AliasLoop(_))
        ));
    }

    #[test]
    fn bad_inputs_get_clear_errors() {
        let s = settings();
        assert_eq!(resolve_server("  ", &s), Err(UrlError::Empty));
        let err = resolve_server("https://example.com/ws", &s).unwrap_err();
        assert!(matches!(err, UrlError::UnsupportedScheme(_)));
        assert!(err.to_string().contains("wss://"), "{err}");
        let err = resolve_server("nowhere", &s).unwrap_err();
        assert_eq!(
            err,
            UrlError::UnknownAlias {
                alias: "nowhere".into(),
                known: ["default", "local", "lan", "office", "work"]
                    .map(String::from)
                    .into(),
            }
        );
        assert!(
            err.to_string()
                .contains("default, local, lan, office, work"),
            "{err}"
        );
        for bad in [
            "example.com:http",
            "example.com:0",
            "example.com:70000",
            "ws://",
            "ws://exa mple.com/ws",
            "ws://:80/ws",
            "ws://host:0/ws",
            "wss://host:99999/ws",
        ] {
            assert!(
                matches!(resolve_server(bad, &s), Err(UrlError::Invalid { .. })),
                "{bad:?} -> {:?}",
                resolve_server(bad, &s)
            );
        }
    }

    #[test]
    fn errors_never_echo_terminal_controls() {
        let s = settings();
        let err = resolve_server("evil\u{1b}[2J", &s).unwrap_err();
        assert!(!err.to_string().contains('\u{1b}'), "{err}");
    }
}
