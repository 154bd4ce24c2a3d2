//! The `clicom` command: parses the command line and hands over to the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use clicom::server::{LogFormat, Settings};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Clicom: terminal chat. Run `clicom host` to start a server and chat on it.
#[derive(Debug, Parser)]
#[command(
    name = "clicom",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a subcommand: the chat client.
    #[command(flatten)]
    client: clicom::client::ClientArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a chat server (WebSocket on /ws).
    #[command(after_help = concat!(
        "Settings can also come from a TOML file (--config, or $CLICOM_SERVER_CONFIG): ",
        "see server.example.toml. SIGHUP reads it again."
    ))]
    Serve(clicom::server::ServeCommand),
    /// Start a server and chat on it, in one process (others can join it).
    #[command(after_help = concat!(
        "Host mode serves plain ws://. For wss://, run ",
        "`clicom serve --tls-cert PATH --tls-key PATH`."
    ))]
    Host(clicom::host::HostArgs),
    /// Measure a Clicom server under load (fan-out, idle connections, reconnect storms).
    Bench(clicom::bench::BenchArgs),
    /// Print a shell completion script (see the README for where to put it).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages for clicom and each subcommand (clicom.1, clicom-serve.1, …).
    Man {
        /// The directory to write them to.
        #[arg(value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    // A flag pair may be split between the command line and the config file: serve's
    // requirements are checked once both are read (see `Settings`).
    let matches = Cli::command()
        .mut_subcommand("serve", clicom::server::settings::defer_requirements)
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Some(Command::Serve(_)) => match matches.subcommand_matches("serve") {
            Some(serve_matches) => serve(serve_matches),
            None => unreachable!("clap parsed the serve subcommand"),
        },
        Some(Command::Host(args)) => host(args),
        Some(Command::Bench(args)) => return clicom::bench::main(args),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "clicom", &mut std::io::stdout());
            Ok(())
        }
        Some(Command::Man { dir }) => man(&dir),
        None => client(cli.client),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clicom: {}", clicom::error_report(&e));
            ExitCode::FAILURE
        }
    }
}

fn serve(matches: &clap::ArgMatches) -> anyhow::Result<()> {
    let settings = Settings::from_matches(matches)?;
    init_server_logging(
        settings.command.log_format,
        settings.command.args.save.as_deref(),
    )?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(clicom::server::serve(settings))
}

fn man(dir: &Path) -> anyhow::Result<()> {
    for page in clicom::manual::write_pages(Cli::command(), dir)? {
        println!("{}", page.display());
    }
    Ok(())
}

fn client(args: clicom::client::ClientArgs) -> anyhow::Result<()> {
    init_client_logging();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let result = runtime.block_on(clicom::client::run(args));
    // Don't wait for an opener or a closing socket: the user asked to leave.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    result
}

fn host(args: clicom::host::HostArgs) -> anyhow::Result<()> {
    init_client_logging();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let result = runtime.block_on(clicom::host::run(args));
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    result
}

/// The client logs to `clicom.log` in the data dir — never to the screen it draws on. A log
/// past 10 MiB is started afresh. Without a writable data dir, nothing is logged.
fn init_client_logging() {
    let dir = clicom::paths::data_dir();
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let path = dir.join("clicom.log");
    let too_big = std::fs::metadata(&path).is_ok_and(|m| m.len() > 10 << 20);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(!too_big)
        .write(true)
        .truncate(too_big)
        .open(&path);
    let Ok(file) = file else {
        return;
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Arc::new(file))
        .try_init();
}

/// Logs on stderr (`RUST_LOG` filters, default `info`): human-readable, or with
/// `--log-format json` one JSON object per line. With `--save FILE`, also every event down to
/// `debug` (messages included) as JSON lines appended to FILE.
fn init_server_logging(format: LogFormat, save: Option<&Path>) -> anyhow::Result<()> {
    let stderr_filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (text, json) = match format {
        LogFormat::Text => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr)
                    .with_filter(stderr_filter()),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(std::io::stderr)
                    .with_filter(stderr_filter()),
            ),
        ),
    };
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
        .with(text)
        .with(json)
        .with(file)
        .try_init()
        .context("cannot set up logging")
}
