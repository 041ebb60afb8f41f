//! `server list` and `server info`.

use clap::Args;
use kamatera_api::Client;

use crate::error::CliError;
use crate::output::{Printer, columns, fields, or_dash};
use crate::select::Servers;
use crate::views::{ServerDetailsView, ServerView};

/// `server list`.
#[derive(Debug, Args)]
pub struct ListArgs {}

impl ListArgs {
    /// Lists the servers; rows the SDK could not read are reported on stderr, not hidden.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let list = client.list_servers_lenient().await?;
        for row in &list.skipped {
            eprintln!(
                "kamatera: warning: skipped server row {} (name {}): {}",
                row.path,
                row.name.as_deref().unwrap_or("unknown"),
                row.reason
            );
        }
        let views: Vec<ServerView> = list.servers.iter().map(ServerView::from).collect();
        printer.print(&views, |views| {
            columns(
                &["ID", "NAME", "DATACENTER", "POWER"],
                views.iter().map(|s| {
                    [
                        s.id.clone(),
                        s.name.clone(),
                        s.datacenter.clone(),
                        s.power.clone(),
                    ]
                }),
            )
        })
    }
}

/// `server info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    servers: Servers,
}

impl InfoArgs {
    /// Shows every selected server, one block each.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let infos = client.server_info(&self.servers.selector()).await?;
        let views: Vec<ServerDetailsView> = infos.iter().map(ServerDetailsView::from).collect();
        printer.print(&views, |views| {
            views
                .iter()
                .map(details_table)
                .collect::<Vec<_>>()
                .join("\n\n")
        })
    }
}

fn details_table(server: &ServerDetailsView) -> String {
    let yes_no = |on: bool| if on { "yes" } else { "no" }.to_owned();
    let disks = server
        .disk_sizes_gb
        .iter()
        .map(|gb| format!("{gb} GB"))
        .collect::<Vec<_>>()
        .join(", ");
    let networks = server
        .networks
        .iter()
        .map(|n| {
            format!("{} {}", n.network, n.ips.join(" "))
                .trim()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join(", ");
    fields(&[
        ("id", server.id.clone()),
        ("name", server.name.clone()),
        ("datacenter", server.datacenter.clone()),
        ("power", server.power.clone()),
        ("cpu", server.cpu.clone()),
        ("ram", format!("{} MB", server.ram_mb)),
        ("disks", disks),
        ("networks", networks),
        ("billing", or_dash(server.billing.as_deref())),
        ("traffic", or_dash(server.traffic.as_deref())),
        ("managed", yes_no(server.managed)),
        ("daily backup", yes_no(server.daily_backup)),
        ("price monthly", or_dash(server.price_monthly_on.as_deref())),
        ("price hourly", or_dash(server.price_hourly_on.as_deref())),
    ])
}
