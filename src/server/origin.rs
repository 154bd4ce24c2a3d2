//! Which web pages may open a chat WebSocket: the server's own origin (the `Host` it was
//! reached by, over http or https) and the origins given with `--allow-origin`. Without this a
//! page on any other site could open a socket in its visitor's name. Requests without an
//! `Origin` header (terminal clients, scripts, the original Python client) are not from a
//! browser page and are accepted.

use axum::http::{HeaderMap, header};

/// Whether a WebSocket handshake with these headers may go ahead; `extra` holds the origins
/// allowed besides the server's own, normalised by [`parse_origin`].
pub fn allowed(extra: &[String], headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(origin) = origin.to_str().ok().and_then(|o| parse_origin(o).ok()) else {
        // `null` (sandboxed frames, files) and anything unreadable.
        return false;
    };
    if extra.contains(&origin) {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let (scheme, authority) = origin
        .split_once("://")
        .expect("parse_origin keeps the scheme separator");
    without_default_port(scheme, &host.trim().to_ascii_lowercase())
        == without_default_port(scheme, authority)
}

/// Checks and normalises an origin as browsers send it: `http` or `https`, `://`, a host with
/// an optional port, nothing after it (a trailing `/` is forgiven); lowercased.
pub fn parse_origin(s: &str) -> Result<String, String> {
    let lower = s.trim().trim_end_matches('/').to_ascii_lowercase();
    let Some((scheme, authority)) = lower.split_once("://") else {
        return Err(format!(
            "{s:?} is not an origin like https://chat.example.com"
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("{s:?}: an origin starts with http:// or https://"));
    }
    let valid = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
    if !valid {
        return Err(format!(
            "{s:?}: an origin is a scheme and a host with an optional port, with no path"
        ));
    }
    Ok(lower)
}

/// `host:80` for http and `host:443` for https name the same place as `host`.
fn without_default_port<'a>(scheme: &str, authority: &'a str) -> &'a str {
    let default = if scheme == "https" { ":443" } else { ":80" };
    authority.strip_suffix(default).unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&str>, host: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        if let Some(host) = host {
            h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        }
        h
    }

    #[test]
    fn no_origin_is_not_a_browser_page_and_is_accepted() {
        assert!(allowed(&[], &headers(None, Some("chat:10000"))));
        assert!(allowed(&[], &headers(None, None)));
    }

    #[test]
    fn the_servers_own_origin_is_accepted_over_http_or_https() {
        let p: &[String] = &[];
        assert!(allowed(
            p,
            &headers(Some("http://chat:10000"), Some("chat:10000"))
        ));
        assert!(allowed(
            p,
            &headers(Some("https://Chat.Example.com"), Some("chat.example.com"))
        ));
        assert!(allowed(
            p,
            &headers(
                Some("https://chat.example.com"),
                Some("chat.example.com:443")
            )
        ));
        assert!(allowed(
            p,
            &headers(Some("http://[::1]:8080"), Some("[::1]:8080"))
        ));
    }

    #[test]
    fn foreign_and_opaque_origins_are_refused() {
        let p: &[String] = &[];
        assert!(!allowed(
            p,
            &headers(Some("http://evil.example"), Some("chat:10000"))
        ));
        assert!(!allowed(
            p,
            &headers(Some("http://chat:10001"), Some("chat:10000"))
        ));
        assert!(!allowed(
            p,
            &headers(Some("http://chat.evil"), Some("chat"))
        ));
        assert!(!allowed(p, &headers(Some("null"), Some("chat:10000"))));
        assert!(!allowed(p, &headers(Some("file://"), Some("chat:10000"))));
        assert!(!allowed(p, &headers(Some("http://chat:10000"), None)));
    }

    #[test]
    fn allowed_origins_are_accepted_whatever_the_host() {
        let p = &[parse_origin("https://Chat.Example.com/").unwrap()];
        assert!(allowed(
            p,
            &headers(Some("https://chat.example.com"), Some("10.0.0.5:10000"))
        ));
        assert!(!allowed(
            p,
            &headers(Some("http://chat.example.com"), Some("10.0.0.5:10000"))
        ));
    }

    #[test]
    fn origin_flags_are_checked() {
        assert_eq!(
            parse_origin("HTTPS://Chat.Example.com:8443/").unwrap(),
            "https://chat.example.com:8443"
        );
        for bad in [
            "chat.example.com",
            "ftp://x",
            "https://",
            "https://x/path",
            "https://a b",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
