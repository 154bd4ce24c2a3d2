//! Host mode: a chat server and the terminal client in one process, so one command gives a
//! working chat. The server runs on this runtime with history in the data dir; the client joins
//! it over loopback like any other client, and when the client quits the server shuts down
//! gracefully (others get a goodbye and close 1001, history is flushed).

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::client::{ClientArgs, ClientOptions, SessionArgs};
use crate::server::{self, ServeArgs};

/// `clicom host`: every `serve` option, plus the client's name, colour, room and settings file.
#[derive(clap::Args, Debug, Clone)]
pub struct HostArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(flatten)]
    pub session: SessionArgs,
}

/// Runs the server and the client until the user quits. Must run inside a tokio runtime.
pub async fn run(args: HostArgs) -> anyhow::Result<()> {
    let opts = args.serve.options();
    let web = opts.web;
    let history = opts.open_history().with_context(|| {
        format!(
            "cannot open the history database {} (pass --db PATH, or --db :memory:)",
            opts.db
        )
    })?;
    let (listener, moved) = bind_or_fallback(args.serve.addr(), port_is_explicit(&args.serve))?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, db = %opts.db, "hosting");

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(server::run_with_history(
        listener,
        opts,
        Box::new(history),
        async {
            let _ = stop_rx.await;
        },
    ));

    let mut notices = Vec::new();
    if let Some(wanted) = moved {
        notices.push(format!(
            "Port {wanted} is in use, so this chat is hosted on port {} instead.",
            local.port()
        ));
    }
    notices.extend(join_notices(local, web));
    let client_url = format!("ws://{}/ws", loopback_for(local));
    let client = crate::client::run_with(ClientOptions {
        args: ClientArgs {
            url: Some(client_url),
            ca_file: None,
            session: args.session,
        },
        notices,
    })
    .await;

    let _ = stop_tx.send(());
    let served = server.await.context("the server task failed")?;
    client?;
    served
}

/// The port counts as chosen by the user when `--port` or `PORT` differs from the default.
fn port_is_explicit(args: &ServeArgs) -> bool {
    args.port != ServeArgs::DEFAULT_PORT || std::env::var_os("PORT").is_some()
}

/// Binds the requested address; if the default port is taken (another chat already runs here),
/// any free port will do, and the caller is told which port was wanted.
fn bind_or_fallback(
    addr: SocketAddr,
    explicit: bool,
) -> anyhow::Result<(TcpListener, Option<u16>)> {
    match server::bind(addr) {
        Ok(listener) => Ok((listener, None)),
        Err(e) if !explicit && is_addr_in_use(&e) => {
            let listener = server::bind(SocketAddr::new(addr.ip(), 0))?;
            Ok((listener, Some(addr.port())))
        }
        Err(e) => Err(anyhow::anyhow!(
            "{} (pass --port N for another port, or --port 0 for any free one)",
            crate::error_report(&e)
        )),
    }
}

fn is_addr_in_use(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::AddrInUse)
    })
}

/// Where this process's own client connects: loopback, whatever the server is bound to.
fn loopback_for(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

/// Lines telling the user how others can join: the loopback address, and each of this
/// machine's network addresses when the server listens on all of them; with the web page, its
/// address for a browser too.
fn join_notices(local: SocketAddr, web: bool) -> Vec<String> {
    let port = local.port();
    let mut addrs: Vec<IpAddr> = Vec::new();
    if local.ip().is_unspecified() {
        if let Ok(interfaces) = if_addrs::get_if_addrs() {
            addrs.extend(
                interfaces
                    .iter()
                    .map(|i| i.ip())
                    .filter(|ip| !ip.is_loopback() && ip.is_ipv4() == local.is_ipv4()),
            );
        }
    } else if !local.ip().is_loopback() {
        addrs.push(local.ip());
    }
    let here = loopback_for(local);
    let mut lines = vec![format!(
        "Hosting a Clicom chat: others join with `clicom ws://{here}/ws`"
    )];
    if web {
        lines.push(format!("  or in a browser: http://{here}/"));
    }
    for ip in addrs {
        let shown = SocketAddr::new(ip, port);
        let browser = if web {
            format!(" (browser: http://{shown}/)")
        } else {
            String::new()
        };
        lines.push(format!(
            "  from another machine: clicom ws://{shown}/ws{browser}"
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_client_uses_loopback_for_wildcard_binds() {
        let any: SocketAddr = "0.0.0.0:10000".parse().unwrap();
        assert_eq!(loopback_for(any), "127.0.0.1:10000".parse().unwrap());
        let lan: SocketAddr = "192.0.2.7:10000".parse().unwrap();
        assert_eq!(loopback_for(lan), lan);
    }

    #[test]
    fn notices_name_the_address_to_join() {
        let lines = join_notices("127.0.0.1:4321".parse().unwrap(), false);
        assert_eq!(
            lines,
            vec!["Hosting a Clicom chat: others join with `clicom ws://127.0.0.1:4321/ws`"]
        );
        let lines = join_notices("127.0.0.1:4321".parse().unwrap(), true);
        assert_eq!(lines[1], "  or in a browser: http://127.0.0.1:4321/");
    }

    #[tokio::test]
    async fn a_taken_default_port_falls_back_to_a_free_one() {
        let taken = server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = taken.local_addr().unwrap();
        let (listener, moved) = bind_or_fallback(addr, false).unwrap();
        assert_eq!(moved, Some(addr.port()));
        assert_ne!(listener.local_addr().unwrap().port(), addr.port());
        let err = bind_or_fallback(addr, true).unwrap_err();
        assert!(format!("{err:#}").contains("--port"), "{err:#}");
    }
}
