//! `kamatera`: a command-line tool for the Kamatera cloud server API, built only on the
//! public API of the `kamatera-api` SDK.
//!
//! Exit codes and the JSON field names are a contract; see the crate's README.

mod cli;
mod error;
mod network;
mod output;
mod queue;
mod select;
mod server;
mod views;
mod wait;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::Cli;
use crate::error::{CliError, EXIT_INVALID_INPUT, EXIT_OK};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return clap_exit(&error),
    };
    match run(cli) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(error) => {
            eprintln!("kamatera: {}", error.one_line());
            ExitCode::from(error.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let client = cli.global.client()?;
    let printer = cli.global.printer();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(cli.command.run(&client, printer))
}

/// Help and version go to stdout with exit 0; a usage error is one line on stderr, exit 2.
fn clap_exit(error: &clap::Error) -> ExitCode {
    if !error.use_stderr() {
        // Printing help can only fail when stdout is gone; there is nothing left to tell.
        let _ = error.print();
        return ExitCode::from(EXIT_OK);
    }
    let message = match error.kind() {
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "a subcommand is missing (see --help)".to_owned()
        }
        _ => {
            // The message is what comes before clap's blank line and usage block.
            let text = error.to_string();
            let message: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).collect();
            let message = message.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            format!("{message} (see --help)")
        }
    };
    eprintln!("kamatera: {}", CliError::Usage(message).one_line());
    ExitCode::from(EXIT_INVALID_INPUT)
}
