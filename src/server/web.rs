//! The browser client: the page at `/` and its assets under `/assets/`, embedded in the
//! binary from `web/`. Every answer carries a strict Content-Security-Policy (scripts and
//! styles from this server only, no inline code, no framing) and `nosniff`; the assets are
//! revalidated by ETag, so a new binary's page is never mixed with an old one's scripts.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file.
pub(crate) struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// A quoted hash of `body`, computed at compile time.
    pub etag: &'static str,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {{
        const BODY: &[u8] = include_bytes!(concat!("../../web/", $name));
        const HEX: [u8; 18] = etag(BODY);
        Asset {
            name: $name,
            content_type: $type,
            body: BODY,
            etag: match std::str::from_utf8(&HEX) {
                Ok(s) => s,
                Err(_) => panic!("an etag is ASCII"),
            },
        }
    }};
}

const JS: &str = "text/javascript; charset=utf-8";

/// The page itself, served at `/`.
pub(crate) const PAGE: Asset = asset!("index.html", "text/html; charset=utf-8");

/// What the page loads, served at `/assets/<name>`.
pub(crate) const ASSETS: &[Asset] = &[
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("main.js", JS),
    asset!("conn.js", JS),
    asset!("outbox.js", JS),
    asset!("command.js", JS),
    asset!("text.js", JS),
    asset!("view.js", JS),
    asset!("input.js", JS),
    asset!("settings.js", JS),
    asset!("setup.js", JS),
    asset!("favicon.svg", "image/svg+xml"),
];

/// FNV-1a of `body` as a quoted 16-digit hex ETag.
const fn etag(body: &[u8]) -> [u8; 18] {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < body.len() {
        hash ^= body[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    let mut out = [b'"'; 18];
    let mut d = 0;
    while d < 16 {
        let nibble = ((hash >> (60 - 4 * d)) & 0xf) as u8;
        out[1 + d] = if nibble < 10 {
            b'0' + nibble
        } else {
            b'a' + nibble - 10
        };
        d += 1;
    }
    out
}

pub(crate) fn page(headers: &HeaderMap) -> Response {
    serve(&PAGE, headers)
}

pub(crate) fn asset(name: &str, headers: &HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => serve(asset, headers),
        None => (StatusCode::NOT_FOUND, "Not found.\n").into_response(),
    }
}

fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == asset.etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    // Always ask whether it changed: cheap (a 304), and never stale after an upgrade.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        content_security_policy(request.get(header::HOST)),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Everything from this server only; no inline script or style; no plugins, frames, forms or
/// `<base>`. `connect-src` names the WebSocket URLs of the host the page came from, as older
/// browsers do not count `ws:` under `'self'`.
fn content_security_policy(host: Option<&HeaderValue>) -> HeaderValue {
    let sockets = host
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .map(|h| format!(" ws://{h} wss://{h}"))
        .unwrap_or_default();
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'{sockets}; object-src 'none'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).expect("the policy is built from checked ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page's budget: HTML, scripts, styles and icon together, uncompressed.
    const PAGE_BUDGET: usize = 60_000;

    #[test]
    fn the_whole_page_weighs_at_most_60_kb() {
        let total: usize = PAGE.body.len() + ASSETS.iter().map(|a| a.body.len()).sum::<usize>();
        assert!(total > 10_000, "the assets are embedded: {total} bytes");
        assert!(
            total <= PAGE_BUDGET,
            "the page weighs {total} bytes, over its budget of {PAGE_BUDGET}"
        );
    }

    #[test]
    fn every_asset_the_page_names_is_embedded_and_nothing_else_is_fetched() {
        let all: Vec<&Asset> = std::iter::once(&PAGE).chain(ASSETS).collect();
        let mut named = Vec::new();
        for a in &all {
            let text = std::str::from_utf8(a.body).unwrap();
            for (i, _) in text.match_indices("/assets/") {
                let rest = &text[i + "/assets/".len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                    .unwrap_or(rest.len());
                named.push(rest[..end].to_owned());
            }
            for (i, _) in text.match_indices("from './") {
                let rest = &text[i + "from './".len()..];
                named.push(rest[..rest.find('\'').unwrap()].to_owned());
            }
            if a.name.ends_with(".html") || a.name.ends_with(".css") {
                assert!(
                    !text.contains("http:") && !text.contains("https:"),
                    "{} names an outside address",
                    a.name
                );
            }
        }
        assert!(named.len() >= ASSETS.len(), "{named:?}");
        for name in &named {
            assert!(
                ASSETS.iter().any(|a| a.name == name.as_str()),
                "{name} is named but not embedded"
            );
        }
        for a in ASSETS {
            assert!(
                named.iter().any(|n| n == a.name),
                "{} is never used",
                a.name
            );
        }
    }

    #[test]
    fn etags_differ_with_content_and_are_quoted() {
        let a = etag(b"a");
        let b = etag(b"b");
        assert_ne!(a, b);
        assert_eq!(a[0], b'"');
        assert_eq!(a[17], b'"');
        let mut tags: Vec<&str> = ASSETS.iter().map(|a| a.etag).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), ASSETS.len());
    }

    #[test]
    fn the_policy_names_only_a_well_formed_host() {
        let ok = content_security_policy(Some(&HeaderValue::from_static("chat:10000")));
        let ok = ok.to_str().unwrap();
        assert!(ok.contains("connect-src 'self' ws://chat:10000 wss://chat:10000;"));
        assert!(ok.contains("frame-ancestors 'none'"));
        let hostile = content_security_policy(Some(&HeaderValue::from_static(
            "x; script-src 'unsafe-inline'",
        )));
        let hostile = hostile.to_str().unwrap();
        assert!(!hostile.contains("unsafe-inline"), "{hostile}");
        assert!(hostile.contains("connect-src 'self';"));
    }
}
