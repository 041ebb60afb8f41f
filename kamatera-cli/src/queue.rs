//! `kamatera queue …`: the asynchronous commands.

use clap::{Args, Subcommand};
use kamatera_api::{Client, CommandId, RecentCommand};
use serde::Serialize;

use crate::error::CliError;
use crate::output::{Printer, columns, or_dash};
use crate::views::CommandView;
use crate::wait::{Polling, commands_table, follow};

/// The queue commands.
#[derive(Subcommand)]
pub enum QueueCommand {
    /// The account's recent commands (GET /svc/queue), or with --id the status of those
    /// commands (GET /service/queue?id=…).
    List(QueueListArgs),
    /// Wait for commands to end (polls GET /service/queue); exit 4 when one ends in error,
    /// is cancelled or does not finish in time.
    Wait(QueueWaitArgs),
}

/// The commands to look up.
#[derive(Debug, Args)]
pub struct QueueListArgs {
    /// A command id; repeat for more. Without it, the recent commands are listed.
    #[arg(long = "id", value_name = "ID")]
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
            QueueCommand::List(args) if args.ids.is_empty() => {
                let commands = client.recent_commands().await?;
                let views: Vec<RecentCommandView> =
                    commands.iter().map(RecentCommandView::from).collect();
                printer.print(&views, |views| recent_table(views))
            }
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

/// One of the account's recent commands, as printed.
#[derive(Debug, Serialize)]
struct RecentCommandView {
    /// Command id (for `queue wait`).
    id: String,
    /// What it does.
    info: Option<String>,
    /// The service (server) it belongs to.
    service_name: Option<String>,
    /// When it was queued.
    created: Option<String>,
    /// When it started.
    executed: Option<String>,
    /// When it ended; `null` while it runs.
    completed: Option<String>,
    /// Its exit code once ended (0 is success).
    exit_code: Option<i64>,
    /// Its progress in percent.
    progress: Option<f64>,
}

impl From<&RecentCommand> for RecentCommandView {
    fn from(command: &RecentCommand) -> Self {
        Self {
            id: command.id.to_string(),
            info: command.info.clone(),
            service_name: command.service_name.clone(),
            created: command.created.clone(),
            executed: command.executed.clone(),
            completed: command.completed.clone(),
            exit_code: command.exit_code,
            progress: command.progress,
        }
    }
}

fn recent_table(views: &[RecentCommandView]) -> String {
    columns(
        &["COMMAND", "CREATED", "COMPLETED", "EXIT", "INFO"],
        views.iter().map(|c| {
            [
                c.id.clone(),
                or_dash(c.created.as_deref()),
                or_dash(c.completed.as_deref()),
                or_dash(c.exit_code.map(|code| code.to_string()).as_deref()),
                or_dash(c.info.as_deref()),
            ]
        }),
    )
}
