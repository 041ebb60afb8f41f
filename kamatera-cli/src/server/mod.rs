//! `kamatera server …`: the server commands, one module per kind of call.

mod create;
mod lifecycle;
mod read;
mod snapshots;
mod tags;

use clap::Subcommand;
use kamatera_api::Client;

use crate::error::CliError;
use crate::output::Printer;

/// The server commands.
#[derive(Subcommand)]
pub enum ServerCommand {
    /// List every server (GET /service/servers).
    List(read::ListArgs),
    /// Show the details of servers (POST /service/server/info).
    Info(read::InfoArgs),
    /// Create a server (POST /service/server).
    Create(Box<create::CreateArgs>),
    /// Terminate servers (POST /service/server/terminate; --dry-run asks the API which
    /// servers would go, without removing any).
    Terminate(lifecycle::TerminateArgs),
    /// Power servers on, off, or reboot them (POST /service/server/poweron|poweroff|reboot).
    #[command(subcommand)]
    Power(lifecycle::PowerCommand),
    /// A server's tags (POST /server/tags).
    #[command(subcommand)]
    Tags(tags::TagsCommand),
    /// A server's snapshots (POST /server/snapshot).
    #[command(subcommand)]
    Snapshot(snapshots::SnapshotCommand),
}

impl ServerCommand {
    /// Runs the command.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        match self {
            ServerCommand::List(args) => args.run(client, printer).await,
            ServerCommand::Info(args) => args.run(client, printer).await,
            ServerCommand::Create(args) => args.run(client, printer).await,
            ServerCommand::Terminate(args) => args.run(client, printer).await,
            ServerCommand::Power(command) => command.run(client, printer).await,
            ServerCommand::Tags(command) => command.run(client, printer).await,
            ServerCommand::Snapshot(command) => command.run(client, printer).await,
        }
    }
}
