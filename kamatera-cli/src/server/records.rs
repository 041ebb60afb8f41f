//! `server password`, `server description`, `server reports`, `server sshkey` and
//! `server disk-library`: the server calls beyond its lifecycle and resources.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use kamatera_api::{ChosenPassword, Client, CloneableDiskId, ImageName, ServerDescription};
use serde::Serialize;

use super::create::secret_first_line;
use crate::error::CliError;
use crate::output::{Printer, columns, fields, or_dash};
use crate::select::{OneServer, Servers};
use crate::wait::{WaitArgs, report};

/// `server password`.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    #[command(flatten)]
    servers: Servers,
    /// Read the new root password from this file (first line); never given on the
    /// command line, where process lists would show it.
    #[arg(long, value_name = "FILE")]
    password_file: PathBuf,
    #[command(flatten)]
    wait: WaitArgs,
}

impl PasswordArgs {
    /// Sends the password reset, one command per matched server.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let password = ChosenPassword::new(secret_first_line(&self.password_file)?)?;
        let ids = client
            .reset_password(&self.servers.selector(), &password)
            .await?;
        report(client, printer, &ids, &self.wait).await
    }
}

/// `server description`.
#[derive(Debug, Args)]
pub struct DescriptionArgs {
    #[command(flatten)]
    server: OneServer,
    /// Replace the description with this text (1–250 characters).
    #[arg(long, value_name = "TEXT")]
    set: Option<String>,
}

/// A server's description, as printed.
#[derive(Debug, Serialize)]
struct DescriptionView {
    /// The text (empty when the server has none).
    description: String,
}

impl DescriptionArgs {
    /// Reads the description, or sets it and prints what the API stored.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let server = client.server(self.server.selector());
        let description = match &self.set {
            Some(text) => {
                server
                    .set_description(&ServerDescription::new(text.as_str())?)
                    .await?
            }
            None => server.description().await?,
        };
        let view = DescriptionView { description };
        printer.print(&view, |view| {
            fields(&[("description", view.description.clone())])
        })
    }
}

/// `server reports`.
#[derive(Debug, Args)]
pub struct ReportsArgs {
    #[command(flatten)]
    server: OneServer,
}

/// One month of usage, as printed.
#[derive(Debug, Serialize)]
struct ReportView {
    year: u16,
    month: u8,
    cpu: Option<f64>,
    ram: Option<f64>,
    disk: Option<f64>,
    disk_traffic: Option<f64>,
    wan_received: Option<f64>,
    wan_transmitted: Option<f64>,
    lan_received: Option<f64>,
    lan_transmitted: Option<f64>,
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

impl ReportsArgs {
    /// Lists the server's monthly usage reports.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let reports = client
            .server(self.server.selector())
            .monthly_reports()
            .await?;
        let views: Vec<ReportView> = reports
            .iter()
            .map(|r| ReportView {
                year: r.year,
                month: r.month,
                cpu: r.cpu,
                ram: r.ram,
                disk: r.disk,
                disk_traffic: r.disk_traffic,
                wan_received: r.wan_received,
                wan_transmitted: r.wan_transmitted,
                lan_received: r.lan_received,
                lan_transmitted: r.lan_transmitted,
            })
            .collect();
        printer.print(&views, |views| {
            columns(
                &["MONTH", "CPU", "RAM", "DISK", "WAN IN", "WAN OUT"],
                views.iter().map(|r| {
                    [
                        format!("{}-{:02}", r.year, r.month),
                        number(r.cpu),
                        number(r.ram),
                        number(r.disk),
                        number(r.wan_received),
                        number(r.wan_transmitted),
                    ]
                }),
            )
        })
    }
}

/// `server sshkey`.
#[derive(Debug, Args)]
pub struct SshKeyArgs {
    #[command(flatten)]
    server: OneServer,
}

/// Where to install an SSH key, as printed.
#[derive(Debug, Serialize)]
struct SshTargetView {
    id: String,
    name: String,
    external_ip: String,
}

impl SshKeyArgs {
    /// Prints the server's id, name and the public address to install a key over.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let target = client
            .server(self.server.selector())
            .ssh_key_target()
            .await?;
        let view = SshTargetView {
            id: target.id.to_string(),
            name: target.name,
            external_ip: target.external_ip,
        };
        printer.print(&view, |view| {
            fields(&[
                ("id", view.id.clone()),
                ("name", view.name.clone()),
                ("external ip", view.external_ip.clone()),
            ])
        })
    }
}

/// `server disk-library`.
#[derive(Debug, Subcommand)]
pub enum DiskLibraryCommand {
    /// The server's disks that can be cloned (POST /server/hdlib).
    List(DiskLibraryListArgs),
    /// Clone one of them into a private image that `server create --image` accepts
    /// (POST /server/hdlib with clone and image-name).
    Clone(DiskLibraryCloneArgs),
}

/// `server disk-library list`.
#[derive(Debug, Args)]
pub struct DiskLibraryListArgs {
    #[command(flatten)]
    server: OneServer,
}

/// `server disk-library clone`.
#[derive(Debug, Args)]
pub struct DiskLibraryCloneArgs {
    #[command(flatten)]
    server: OneServer,
    /// The disk's id, as `server disk-library list` shows it.
    #[arg(long, value_name = "UUID")]
    disk: String,
    /// The new image's name (1–100 characters).
    #[arg(long, value_name = "NAME")]
    image_name: String,
    #[command(flatten)]
    wait: WaitArgs,
}

/// A cloneable disk, as printed.
#[derive(Debug, Serialize)]
struct CloneableDiskView {
    uuid: String,
    name: Option<String>,
    size_gb: Option<u64>,
}

impl DiskLibraryCommand {
    /// Runs the command.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        match self {
            DiskLibraryCommand::List(args) => {
                let disks = client
                    .server(args.server.selector())
                    .disk_library()
                    .list()
                    .await?;
                let views: Vec<CloneableDiskView> = disks
                    .iter()
                    .map(|d| CloneableDiskView {
                        uuid: d.uuid.to_string(),
                        name: d.name.clone(),
                        size_gb: d.size_gb,
                    })
                    .collect();
                printer.print(&views, |views| {
                    columns(
                        &["UUID", "NAME", "SIZE GB"],
                        views.iter().map(|d| {
                            [
                                d.uuid.clone(),
                                or_dash(d.name.as_deref()),
                                d.size_gb.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                            ]
                        }),
                    )
                })
            }
            DiskLibraryCommand::Clone(args) => {
                let disk = CloneableDiskId::new(args.disk.as_str())?;
                let image = ImageName::new(args.image_name.as_str())?;
                let id = client
                    .server(args.server.selector())
                    .disk_library()
                    .clone_disk(&disk, &image)
                    .await?;
                report(client, printer, &[id], &args.wait).await
            }
        }
    }
}
