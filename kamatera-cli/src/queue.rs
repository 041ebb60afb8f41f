//! `kamatera queue …`: the asynchronous commands.

use clap::{Args, Subcommand};
use kamatera_api::{Client, CommandId};

use crate::error::CliError;
use crate::output::Printer;
use crate::views::CommandView;
use crate::wait::{Polling, commands_table, follow};

/// The queue commands.
#[derive(Subcommand)]
pub enum QueueCommand {
    /// Show the status of commands (GET /service/queue?id=…).
    List(QueueListArgs),
    /// Wait for commands to end (polls GET /service/queue); exit 4 when one ends in error,
    /// is cancelled or does not finish in time.
    Wait(QueueWaitArgs),
}

/// The commands to look up.
#[derive(Debug, Args)]
pub struct QueueListArgs {
    /// A command id; repeat for more.
    #[arg(long = "id", value_name = "ID", required = true)]
    ids: Vec<String>,
}

/// The commands to wait for.
#[derive(Debug, Args)]
pub struct QueueWaitArgs {
    /// The command ids, as the mutating commands print them.
    #[arg(value_name = "ID", required = true)]
    ids: Vec<String>,
    #[command(flatten)]
    polling: Polling,
}

impl QueueCommand {
    /// Runs the queue command.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        match self {
            QueueCommand::List(args) => {
                let ids: Vec<CommandId> = args.ids.into_iter().map(CommandId::new).collect();
                let statuses = client.command_statuses(&ids).await?;
                // In the order asked for; a command the queue does not show (yet) is left out.
                let views: Vec<CommandView> = ids
                    .iter()
                    .filter_map(|id| statuses.get(id).map(|item| CommandView::reported(id, item)))
                    .collect();
                printer.print(&views, |views| commands_table(views))
            }
            QueueCommand::Wait(args) => {
                let ids: Vec<CommandId> = args.ids.into_iter().map(CommandId::new).collect();
                let (views, failure) = follow(client, printer, &ids, &args.polling).await?;
                printer.print(&views, |views| commands_table(views))?;
                failure.map_or(Ok(()), Err)
            }
        }
    }
}
