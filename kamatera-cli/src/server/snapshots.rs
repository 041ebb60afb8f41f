//! `server snapshot list|create|delete|revert`: calls on exactly one server.

use clap::{Args, Subcommand};
use kamatera_api::{Client, SnapshotId, SnapshotName};

use crate::error::CliError;
use crate::output::{Printer, columns, or_dash};
use crate::select::OneServer;
use crate::views::SnapshotView;
use crate::wait::{WaitArgs, report};

/// `server snapshot …`.
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// List a server's snapshot tree (POST /server/snapshot).
    List(SnapshotListArgs),
    /// Take a snapshot (POST /server/snapshot, create).
    Create(SnapshotCreateArgs),
    /// Delete a snapshot (POST /server/snapshot, delete).
    Delete(SnapshotChangeArgs),
    /// Revert the server's disks to a snapshot (POST /server/snapshot, revert).
    Revert(SnapshotChangeArgs),
}

/// The server whose snapshots to list.
#[derive(Debug, Args)]
pub struct SnapshotListArgs {
    #[command(flatten)]
    server: OneServer,
}

/// The server and the new snapshot's name.
#[derive(Debug, Args)]
pub struct SnapshotCreateArgs {
    #[command(flatten)]
    server: OneServer,
    /// The snapshot's name (1–64 characters).
    snapshot_name: String,
    #[command(flatten)]
    wait: WaitArgs,
}

/// The server and the snapshot to delete or revert to.
#[derive(Debug, Args)]
pub struct SnapshotChangeArgs {
    #[command(flatten)]
    server: OneServer,
    /// The snapshot's id, as `server snapshot list` shows it.
    snapshot_id: String,
    #[command(flatten)]
    wait: WaitArgs,
}

impl SnapshotCommand {
    /// Sends the snapshot call.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        match self {
            SnapshotCommand::List(args) => {
                let tree = client
                    .server(args.server.selector())
                    .snapshots()
                    .list()
                    .await?;
                let views: Vec<SnapshotView> = tree.iter().map(SnapshotView::from).collect();
                printer.print(&views, |views| snapshots_table(views))
            }
            SnapshotCommand::Create(args) => {
                let name = SnapshotName::new(args.snapshot_name)?;
                let snapshots = client.server(args.server.selector()).snapshots();
                let id = snapshots.create(&name).await?;
                report(client, printer, &[id], &args.wait).await
            }
            SnapshotCommand::Delete(args) => {
                let snapshot = SnapshotId::new(args.snapshot_id)?;
                let snapshots = client.server(args.server.selector()).snapshots();
                let id = snapshots.delete(&snapshot).await?;
                report(client, printer, &[id], &args.wait).await
            }
            SnapshotCommand::Revert(args) => {
                let snapshot = SnapshotId::new(args.snapshot_id)?;
                let snapshots = client.server(args.server.selector()).snapshots();
                let id = snapshots.revert(&snapshot).await?;
                report(client, printer, &[id], &args.wait).await
            }
        }
    }
}

/// The tree as an indented NAME column, the active snapshot marked with `*`.
fn snapshots_table(views: &[SnapshotView]) -> String {
    columns(
        &["ID", "NAME", "DATE", "ACTIVE", "PARENT"],
        views.iter().map(|s| {
            [
                s.id.clone(),
                format!("{}{}", "  ".repeat(s.depth as usize), s.name),
                or_dash(s.date.as_deref()),
                if s.active { "*" } else { "" }.to_owned(),
                or_dash(s.parent.as_deref()),
            ]
        }),
    )
}
