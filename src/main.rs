//! The `clicom` command: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Clicom: terminal chat. Run `clicom host` to start a server and chat on it.
#[derive(Debug, Parser)]
#[command(name = "clicom", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure a Clicom server under load (fan-out, idle connections, reconnect storms).
    Bench(clicom::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Bench(args)) => clicom::bench::main(args),
        None => ExitCode::SUCCESS,
    }
}
