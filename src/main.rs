//! The `clicom` command: parses the command line and hands over to the library.

use clap::Parser;

/// Clicom: terminal chat. Run `clicom host` to start a server and chat on it.
#[derive(Debug, Parser)]
#[command(name = "clicom", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
