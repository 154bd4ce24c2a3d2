//! The server under load: its URL, resolved once, and the check that it is on this machine.
//! A load generator aimed at someone else's host is an attack, so anything that does not resolve
//! to loopback (127.0.0.0/8, ::1) is refused unless the caller says `--allow-remote`.

use std::net::{IpAddr, SocketAddr};

use tokio_tungstenite::tungstenite::http::Uri;

use super::BenchError;

/// A resolved WebSocket endpoint.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given, used for the handshake request (Host header, path).
    pub url: String,
    /// The address every client connects to (the host's first IPv4 address, else its first).
    pub addr: SocketAddr,
}

impl Target {
    /// Parses `url` (ws:// or wss://), resolves its host and refuses non-loopback addresses
    /// unless `allow_remote`.
    pub async fn resolve(url: &str, allow_remote: bool) -> Result<Target, BenchError> {
        let bad = |reason: &str| BenchError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let default_port = match uri.scheme_str() {
            Some("ws") => 80,
            Some("wss") => 443,
            _ => return Err(bad("the scheme must be ws:// or wss://")),
        };
        let host = uri.host().ok_or_else(|| bad("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(default_port);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| BenchError::Resolve {
                host: host.to_string(),
                reason: e.to_string(),
            })?
            .collect();
        // Servers commonly bind 0.0.0.0 only, so `localhost` goes to 127.0.0.1 rather than ::1.
        let Some(&addr) = addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()) else {
            return Err(BenchError::Resolve {
                host: host.to_string(),
                reason: "no addresses".into(),
            });
        };
        if !allow_remote && let Some(remote) = addrs.iter().find(|a| !is_loopback(a.ip())) {
            return Err(BenchError::Remote {
                host: host.to_string(),
                addr: remote.ip(),
            });
        }
        Ok(Target {
            url: url.to_string(),
            addr,
        })
    }
}

/// 127.0.0.0/8, ::1, and IPv4-mapped loopback (::ffff:127.x.y.z).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Parses `--source-ips 127.0.0.2,127.0.0.3`; each must be loopback unless `allow_remote`.
pub fn parse_source_ips(list: &str, allow_remote: bool) -> Result<Vec<IpAddr>, BenchError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let ip: IpAddr = s
                .parse()
                .map_err(|_| BenchError::Options(format!("--source-ips: {s:?} is not an IP")))?;
            if !allow_remote && !is_loopback(ip) {
                return Err(BenchError::Options(format!(
                    "--source-ips: {ip} is not a loopback address"
                )));
            }
            Ok(ip)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_names_and_addresses_are_accepted() {
        for url in [
            "ws://127.0.0.1:9/ws",
            "ws://127.3.2.1:9/ws",
            "ws://localhost:9/ws",
            "ws://[::1]:9/ws",
        ] {
            let t = Target::resolve(url, false).await.unwrap();
            assert!(is_loopback(t.addr.ip()), "{url}");
            assert_eq!(t.addr.port(), 9);
        }
    }

    #[tokio::test]
    async fn remote_addresses_are_refused_without_allow_remote() {
        for url in [
            "ws://10.0.0.1:80/ws",
            "ws://192.168.1.1/ws",
            "wss://8.8.8.8/ws",
        ] {
            let err = Target::resolve(url, false).await.unwrap_err();
            assert!(matches!(err, BenchError::Remote { .. }), "{url}: {err}");
            assert!(err.to_string().contains("--allow-remote"));
        }
        // Allowed explicitly: resolution of a literal needs no network.
        let t = Target::resolve("ws://10.0.0.1:81/ws", true).await.unwrap();
        assert_eq!(t.addr.to_string(), "10.0.0.1:81");
    }

    #[tokio::test]
    async fn bad_urls_get_clear_errors() {
        for url in ["http://127.0.0.1/ws", "127.0.0.1:80", "ws://", ""] {
            let err = Target::resolve(url, false).await.unwrap_err();
            assert!(matches!(err, BenchError::BadUrl { .. }), "{url}: {err}");
        }
    }

    #[test]
    fn source_ips_must_be_loopback() {
        assert_eq!(
            parse_source_ips("127.0.0.2, 127.0.0.3", false).unwrap(),
            vec![
                "127.0.0.2".parse::<IpAddr>().unwrap(),
                "127.0.0.3".parse().unwrap()
            ]
        );
        assert!(parse_source_ips("10.1.1.1", false).is_err());
        assert!(parse_source_ips("nope", false).is_err());
    }
}
