//! `server disk list|add|remove|resize`: calls on exactly one server.

use clap::{Args, Subcommand};
use kamatera_api::{Client, DiskIndex, DiskSize};
use serde::Serialize;

use crate::error::CliError;
use crate::output::{Printer, columns};
use crate::select::OneServer;
use crate::wait::{WaitArgs, report};

/// `server disk …`.
#[derive(Debug, Subcommand)]
pub enum DiskCommand {
    /// List a server's disks (POST /server/disk).
    List(DiskListArgs),
    /// Add a disk (POST /server/disk, add).
    Add(DiskAddArgs),
    /// Remove a disk; the boot disk (0) is refused (POST /server/disk, remove).
    Remove(DiskRemoveArgs),
    /// Resize a disk (POST /server/disk, resize and size).
    Resize(DiskResizeArgs),
}

/// The server whose disks to list.
#[derive(Debug, Args)]
pub struct DiskListArgs {
    #[command(flatten)]
    server: OneServer,
}

/// The server and the new disk's size.
#[derive(Debug, Args)]
pub struct DiskAddArgs {
    #[command(flatten)]
    server: OneServer,
    /// Size of the new disk in GB (`50` or `50gb`).
    #[arg(long)]
    size: String,
    #[command(flatten)]
    wait: WaitArgs,
}

/// The server and the disk to remove.
#[derive(Debug, Args)]
pub struct DiskRemoveArgs {
    #[command(flatten)]
    server: OneServer,
    /// The disk's index (1 to 3), as `server disk list` shows it.
    #[arg(long)]
    index: u8,
    #[command(flatten)]
    wait: WaitArgs,
}

/// The server, the disk and its new size.
#[derive(Debug, Args)]
pub struct DiskResizeArgs {
    #[command(flatten)]
    server: OneServer,
    /// The disk's index (0 to 3), as `server disk list` shows it.
    #[arg(long)]
    index: u8,
    /// The new size in GB (`100` or `100gb`).
    #[arg(long)]
    size: String,
    #[command(flatten)]
    wait: WaitArgs,
}

/// One disk, as printed.
#[derive(Debug, Serialize)]
struct DiskView {
    /// Its index (0 is the boot disk).
    index: u8,
    /// Its size in GB.
    size_gb: u32,
}

impl DiskCommand {
    /// Sends the disk call.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        match self {
            DiskCommand::List(args) => {
                let disks = client.server(args.server.selector()).disks().list().await?;
                let views: Vec<DiskView> = disks
                    .iter()
                    .map(|d| DiskView {
                        index: d.index.get(),
                        size_gb: d.size_gb,
                    })
                    .collect();
                printer.print(&views, |views| {
                    columns(
                        &["INDEX", "SIZE GB"],
                        views
                            .iter()
                            .map(|d| [d.index.to_string(), d.size_gb.to_string()]),
                    )
                })
            }
            DiskCommand::Add(args) => {
                let size: DiskSize = args.size.parse()?;
                let disks = client.server(args.server.selector()).disks();
                let id = disks.add(size).await?;
                report(client, printer, &[id], &args.wait).await
            }
            DiskCommand::Remove(args) => {
                let index = DiskIndex::new(args.index)?;
                let disks = client.server(args.server.selector()).disks();
                let id = disks.remove(index).await?;
                report(client, printer, &[id], &args.wait).await
            }
            DiskCommand::Resize(args) => {
                let index = DiskIndex::new(args.index)?;
                let size: DiskSize = args.size.parse()?;
                let disks = client.server(args.server.selector()).disks();
                let id = disks.resize(index, size).await?;
                report(client, printer, &[id], &args.wait).await
            }
        }
    }
}
