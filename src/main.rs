//! The `clicom` command: parses the command line and hands over to the library.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Clicom: terminal chat. Run `clicom host` to start a server and chat on it.
#[derive(Debug, Parser)]
#[command(name = "clicom", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a chat server (WebSocket on /ws).
    Serve(clicom::server::ServeArgs),
    /// Measure a Clicom server under load (fan-out, idle connections, reconnect storms).
    Bench(clicom::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Bench(args)) => return clicom::bench::main(args),
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clicom: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: clicom::server::ServeArgs) -> anyhow::Result<()> {
    init_server_logging(args.save.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(clicom::server::serve(args))
}

/// Human-readable logs on stderr (`RUST_LOG` filters, default `info`); with `--save FILE`,
/// also every event down to `debug` (messages included) as JSON lines appended to FILE.
fn init_server_logging(save: Option<&Path>) -> anyhow::Result<()> {
    let stderr_filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(stderr_filter);
    let file = match save {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the session log {}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(Arc::new(file))
                    .with_filter(EnvFilter::new("info,clicom=debug")),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init()
        .context("cannot set up logging")
}
