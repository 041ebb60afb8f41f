//! `server terminate` and `server power on|off|reboot`: calls that act on every server the
//! selection matches, one command per server.

use clap::{Args, Subcommand};
use kamatera_api::{Client, ServerSelector, TerminateOptions};
use serde::Serialize;

use crate::error::CliError;
use crate::output::{Printer, columns};
use crate::select::Servers;
use crate::wait::{WaitArgs, report};

/// `server terminate`.
#[derive(Debug, Args)]
pub struct TerminateArgs {
    #[command(flatten)]
    servers: Servers,
    /// Ask the API which servers would be terminated (server-side dry run); nothing is removed.
    #[arg(long)]
    dry_run: bool,
    /// Confirm the termination: the servers and their disks are gone for good.
    #[arg(long, required_unless_present = "dry_run")]
    yes: bool,
    /// Do not force: the API then refuses to terminate a server that is powered on.
    #[arg(long)]
    no_force: bool,
    #[command(flatten)]
    wait: WaitArgs,
}

/// What `server terminate --dry-run` prints.
#[derive(Debug, Serialize)]
struct DryRunView {
    /// Always true: nothing was terminated.
    dry_run: bool,
    /// The names of the servers a terminate would remove.
    would_terminate: Vec<String>,
}

impl TerminateArgs {
    /// Terminates, or with `--dry-run` only asks which servers would go.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let selector = self.servers.selector();
        if self.dry_run {
            return dry_run(client, printer, &selector).await;
        }
        let options = TerminateOptions {
            force: !self.no_force,
        };
        let ids = client.terminate(&selector, options).await?;
        report(client, printer, &ids, &self.wait).await
    }
}

async fn dry_run(
    client: &Client,
    printer: Printer,
    selector: &ServerSelector,
) -> Result<(), CliError> {
    let mut names = client.terminate_dry_run(selector).await?;
    // The API names the servers only for a name selection; an id selection is named
    // through a read of that server, so the dry run still says which server would go.
    if names.is_empty() && matches!(selector, ServerSelector::Id(_)) {
        names = client
            .find_server_info(selector)
            .await?
            .into_iter()
            .map(|info| info.name)
            .collect();
    }
    let view = DryRunView {
        dry_run: true,
        would_terminate: names,
    };
    printer.print(&view, |view| {
        columns(
            &["WOULD TERMINATE"],
            view.would_terminate.iter().map(|name| [name.clone()]),
        )
    })
}

/// `server power …`.
#[derive(Debug, Subcommand)]
pub enum PowerCommand {
    /// Power the servers on (POST /service/server/poweron).
    On(PowerArgs),
    /// Power the servers off (POST /service/server/poweroff).
    Off(PowerArgs),
    /// Reboot the servers (POST /service/server/reboot).
    Reboot(PowerArgs),
    /// Suspend the servers (POST /service/server/suspend).
    Suspend(PowerArgs),
    /// Resume suspended servers (POST /service/server/resume).
    Resume(PowerArgs),
}

/// The selection and `--wait` of a power command.
#[derive(Debug, Args)]
pub struct PowerArgs {
    #[command(flatten)]
    servers: Servers,
    #[command(flatten)]
    wait: WaitArgs,
}

impl PowerCommand {
    /// Sends the power call and reports its commands.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let (args, ids) = match &self {
            PowerCommand::On(args) => (args, client.power_on(&args.servers.selector()).await?),
            PowerCommand::Off(args) => (args, client.power_off(&args.servers.selector()).await?),
            PowerCommand::Reboot(args) => (args, client.reboot(&args.servers.selector()).await?),
            PowerCommand::Suspend(args) => (args, client.suspend(&args.servers.selector()).await?),
            PowerCommand::Resume(args) => (args, client.resume(&args.servers.selector()).await?),
        };
        report(client, printer, &ids, &args.wait).await
    }
}
