//! The command line: global flags, the command groups, and the client they configure.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use kamatera_api::{Client, DEFAULT_BASE_URL, RetryPolicy};

use crate::error::{CliError, EXIT_CODES_HELP};
use crate::output::{Format, Printer};
use crate::{network, queue, server};

/// Manage Kamatera cloud servers from the command line.
///
/// Every command says which API call it makes. Calls that start asynchronous commands print
/// the command ids; add --wait to follow them until they end.
#[derive(Parser)]
#[command(name = "kamatera", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes. No `Debug`: the secret must never be printed.
#[derive(Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// API client id (Kamatera console, "API keys").
    #[arg(
        long,
        global = true,
        env = "KAMATERA_API_CLIENT_ID",
        hide_env_values = true
    )]
    api_client_id: Option<String>,
    /// API secret. Prefer the environment variable: flags show up in process lists.
    #[arg(
        long,
        global = true,
        env = "KAMATERA_API_SECRET",
        hide_env_values = true
    )]
    api_secret: Option<String>,
    /// API base URL (a simulator or a proxy in tests).
    #[arg(long, global = true, env = "KAMATERA_API_URL", default_value = DEFAULT_BASE_URL)]
    api_url: String,
    /// Time allowed for each API request.
    #[arg(long, global = true, env = "KAMATERA_API_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Retries of a read after a transient failure (changes are never retried).
    #[arg(
        long,
        global = true,
        env = "KAMATERA_API_RETRIES",
        value_name = "N",
        default_value_t = 4
    )]
    retries: u32,
    /// Output format on stdout.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Table)]
    output: Format,
}

impl GlobalArgs {
    /// The client these flags describe. Nothing is sent yet.
    pub fn client(&self) -> Result<Client, CliError> {
        let (Some(client_id), Some(secret)) = (&self.api_client_id, &self.api_secret) else {
            return Err(CliError::MissingCredentials);
        };
        Ok(Client::builder()
            .base_url(self.api_url.clone())
            .credentials(client_id.clone(), secret.clone())
            .timeout(self.timeout)
            .retry_policy(RetryPolicy {
                max_attempts: self.retries.saturating_add(1),
                ..RetryPolicy::default()
            })
            .user_agent(concat!("kamatera-cli/", env!("CARGO_PKG_VERSION")))
            .build()?)
    }

    /// Where results go.
    pub fn printer(&self) -> Printer {
        Printer::new(self.output)
    }
}

/// The command groups.
#[derive(Subcommand)]
pub enum Command {
    /// Servers: list, inspect, create, power, tag, snapshot, terminate.
    #[command(subcommand)]
    Server(server::ServerCommand),
    /// Private networks of a datacenter and their subnets.
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// The queue of asynchronous commands.
    #[command(subcommand)]
    Queue(queue::QueueCommand),
}

impl Command {
    /// Runs the command with `client`, printing with `printer`.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        match self {
            Command::Server(command) => command.run(client, printer).await,
            Command::Network(command) => command.run(client, printer).await,
            Command::Queue(command) => command.run(client, printer).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
