//! `--wait`: following the commands a call started until they end, with a spinner.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kamatera_api::{Client, CommandId, CommandOutcome, WaitOptions};
use tokio::time::Instant;

use crate::error::CliError;
use crate::output::{Printer, columns, or_dash};
use crate::views::CommandView;

/// How long and how often to follow commands (shared by `--wait` and `queue wait`).
#[derive(Debug, Clone, Args)]
pub struct Polling {
    /// How long to wait for the command(s) at most.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = humantime::parse_duration)]
    pub wait_timeout: Duration,
    /// Time between two looks at the queue (GET /service/queue).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,
}

/// The `--wait` flag of a command that starts asynchronous commands.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Follow the started command(s) in the queue (GET /service/queue) until they end;
    /// fail (exit 4) when one ends in error or is cancelled.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub polling: Polling,
}

/// Follows `ids` one after the other (the API runs them in parallel anyway) and returns
/// how each ended, plus the error for the first that did not complete.
pub async fn follow(
    client: &Client,
    printer: Printer,
    ids: &[CommandId],
    polling: &Polling,
) -> Result<(Vec<CommandView>, Option<CliError>), CliError> {
    let deadline = Instant::now() + polling.wait_timeout;
    let options = WaitOptions {
        poll_interval: polling.poll_interval,
        ..WaitOptions::until(deadline)
    };
    let mut views = Vec::with_capacity(ids.len());
    let mut first_failure = None;
    for id in ids {
        let spinner = spinner(printer, id);
        let outcome = client.wait_for_command_with(id, options).await;
        let (view, failure) = match outcome {
            Ok(outcome) => judge(id, outcome, polling.wait_timeout),
            Err(error) => {
                spinner.finish_and_clear();
                return Err(error.into());
            }
        };
        spinner.finish_with_message(format!("command {id}: {}", view.status_text()));
        views.push(view);
        if first_failure.is_none() {
            first_failure = failure;
        }
    }
    Ok((views, first_failure))
}

/// The view of a command that ended, and the error when it did not complete.
fn judge(
    id: &CommandId,
    outcome: CommandOutcome,
    waited: Duration,
) -> (CommandView, Option<CliError>) {
    let failed = |view: CommandView| {
        let about = match (&view.description, &view.server) {
            (Some(what), Some(server)) => format!(" ({what} {server})"),
            (Some(what), None) => format!(" ({what})"),
            (None, Some(server)) => format!(" (server {server})"),
            (None, None) => String::new(),
        };
        let error = CliError::CommandFailed {
            id: view.id.clone(),
            about,
            status: view.status_text().to_owned(),
            last_log_line: view
                .last_log_line()
                .unwrap_or("the queue log is empty")
                .to_owned(),
        };
        (view, Some(error))
    };
    match outcome {
        CommandOutcome::Complete(item) => (CommandView::reported(id, &item), None),
        CommandOutcome::Failed(item) | CommandOutcome::Cancelled(item) => {
            failed(CommandView::reported(id, &item))
        }
        CommandOutcome::DeadlineExceeded { last } => {
            let view = match &last {
                Some(item) => CommandView::reported(id, item),
                None => CommandView::submitted(id),
            };
            let error = CliError::WaitTimedOut {
                id: id.to_string(),
                after: waited,
                last_status: view
                    .status
                    .clone()
                    .unwrap_or_else(|| "not in the queue yet".into()),
            };
            (view, Some(error))
        }
    }
}

/// A spinner on stderr, hidden when stderr is not a terminal or the output is JSON.
fn spinner(printer: Printer, id: &CommandId) -> ProgressBar {
    let target = if printer.is_json() || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
        bar.set_style(style);
    }
    bar.set_message(format!("waiting for command {id}"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Prints the commands a call started (followed to their end with `--wait`) and fails when
/// one of them did not complete.
pub async fn report(
    client: &Client,
    printer: Printer,
    ids: &[CommandId],
    wait: &WaitArgs,
) -> Result<(), CliError> {
    let (views, failure) = if wait.wait {
        follow(client, printer, ids, &wait.polling).await?
    } else {
        (ids.iter().map(CommandView::submitted).collect(), None)
    };
    printer.print(&views, |views| commands_table(views))?;
    failure.map_or(Ok(()), Err)
}

/// The table of commands: id, status, server, description.
pub fn commands_table(views: &[CommandView]) -> String {
    columns(
        &["COMMAND", "STATUS", "SERVER", "DESCRIPTION"],
        views.iter().map(|view| {
            [
                view.id.clone(),
                view.status_text().to_owned(),
                or_dash(view.server.as_deref()),
                or_dash(view.description.as_deref()),
            ]
        }),
    )
}
