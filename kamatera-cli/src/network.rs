//! `kamatera network …`: private networks (VLANs) of a datacenter and their subnets. These
//! calls change things at once (the API answers a confirmation, not a command): there is
//! nothing to `--wait` for.

use std::net::Ipv4Addr;

use clap::{Args, Subcommand};
use kamatera_api::{
    Client, Ipv4Subnet, NetworkId, NetworkName, PrivateNetworks, SubnetFields, SubnetId, VlanId,
};
use serde::Serialize;

use crate::error::CliError;
use crate::output::{Printer, columns, fields, or_dash};

/// The private-network commands.
#[derive(Subcommand)]
pub enum NetworkCommand {
    /// List a datacenter's private networks (GET /service/networks).
    List(DatacenterArgs),
    /// Create a private network with its first subnet (POST /service/network/create).
    Create(NetworkCreateArgs),
    /// Delete a private network; delete its subnets first (POST /service/network/delete).
    Delete(NetworkDeleteArgs),
    /// A private network's subnets.
    #[command(subcommand)]
    Subnet(SubnetCommand),
}

/// The datacenter a command acts in.
#[derive(Debug, Args)]
pub struct DatacenterArgs {
    /// Datacenter id, e.g. IL.
    #[arg(long)]
    datacenter: String,
}

impl DatacenterArgs {
    fn networks<'c>(&self, client: &'c Client) -> Result<PrivateNetworks<'c>, CliError> {
        Ok(client.private_networks(&self.datacenter)?)
    }
}

/// A subnet's fields, as `create` and `edit` take them.
#[derive(Debug, Args)]
pub struct SubnetFieldArgs {
    /// The subnet, `<network address>/<bits>`, e.g. 172.16.0.0/23.
    #[arg(long, value_name = "ADDRESS/BITS")]
    subnet: String,
    /// The gateway (inside the subnet).
    #[arg(long)]
    gateway: Option<Ipv4Addr>,
    /// The first DNS server.
    #[arg(long)]
    dns1: Option<Ipv4Addr>,
    /// The second DNS server.
    #[arg(long)]
    dns2: Option<Ipv4Addr>,
    /// A description (at most 255 characters).
    #[arg(long)]
    description: Option<String>,
}

impl SubnetFieldArgs {
    fn fields(&self) -> Result<SubnetFields, CliError> {
        let subnet: Ipv4Subnet = self.subnet.parse()?;
        let mut fields = SubnetFields::new(subnet);
        if let Some(gateway) = self.gateway {
            fields = fields.gateway(gateway)?;
        }
        if let Some(dns) = self.dns1 {
            fields = fields.dns1(dns);
        }
        if let Some(dns) = self.dns2 {
            fields = fields.dns2(dns);
        }
        if let Some(description) = &self.description {
            fields = fields.description(description.as_str())?;
        }
        Ok(fields)
    }
}

/// `network create`.
#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    #[command(flatten)]
    datacenter: DatacenterArgs,
    /// The network's name (3–20 characters of a-z 0-9 - .); servers attach to it as
    /// `lan-<account>-<name>`.
    #[arg(long)]
    name: String,
    #[command(flatten)]
    subnet: SubnetFieldArgs,
}

/// `network delete`.
#[derive(Debug, Args)]
pub struct NetworkDeleteArgs {
    #[command(flatten)]
    datacenter: DatacenterArgs,
    /// The network's id, as `network list` shows it.
    #[arg(long)]
    id: String,
}

/// One private network, as printed.
#[derive(Debug, Serialize)]
struct NetworkView {
    /// The VLAN id (for `network subnet`).
    vlan_id: u64,
    /// The network ids on the VLAN (for `network delete`).
    ids: Vec<u64>,
    /// The full names servers attach to.
    names: Vec<String>,
}

/// What a network or subnet change answered.
#[derive(Debug, Serialize)]
struct ChangeView {
    /// The API's confirmation.
    message: String,
    /// The new network's VLAN id, when the API reported it.
    vlan_id: Option<u64>,
    /// The new subnet's id, when the API reported it.
    subnet_id: Option<u64>,
}

fn print_change(printer: Printer, view: &ChangeView) -> Result<(), CliError> {
    printer.print(view, |view| {
        let number = |n: Option<u64>| or_dash(n.map(|n| n.to_string()).as_deref());
        fields(&[
            ("message", view.message.clone()),
            ("vlan id", number(view.vlan_id)),
            ("subnet id", number(view.subnet_id)),
        ])
    })
}

impl NetworkCommand {
    /// Runs the network command.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        match self {
            NetworkCommand::List(args) => {
                let networks = args.networks(client)?.list().await?;
                let views: Vec<NetworkView> = networks
                    .iter()
                    .map(|n| NetworkView {
                        vlan_id: n.vlan_id.get(),
                        ids: n.network_ids.iter().map(|id| id.get()).collect(),
                        names: n.names.clone(),
                    })
                    .collect();
                printer.print(&views, |views| {
                    let join =
                        |ids: &[u64]| ids.iter().map(u64::to_string).collect::<Vec<_>>().join(" ");
                    columns(
                        &["VLAN", "IDS", "NAMES"],
                        views
                            .iter()
                            .map(|n| [n.vlan_id.to_string(), join(&n.ids), n.names.join(" ")]),
                    )
                })
            }
            NetworkCommand::Create(args) => {
                let name = NetworkName::new(args.name.as_str())?;
                let fields = args.subnet.fields()?;
                let created = args
                    .datacenter
                    .networks(client)?
                    .create(&name, &fields)
                    .await?;
                print_change(
                    printer,
                    &ChangeView {
                        message: created.message,
                        vlan_id: created.vlan_id.map(VlanId::get),
                        subnet_id: created.subnet_id.map(SubnetId::get),
                    },
                )
            }
            NetworkCommand::Delete(args) => {
                let id: NetworkId = args.id.parse()?;
                let answer = args.datacenter.networks(client)?.delete(id).await?;
                print_change(
                    printer,
                    &ChangeView {
                        message: answer.message,
                        vlan_id: None,
                        subnet_id: None,
                    },
                )
            }
            NetworkCommand::Subnet(command) => command.run(client, printer).await,
        }
    }
}

/// `network subnet …`.
#[derive(Debug, Subcommand)]
pub enum SubnetCommand {
    /// List a network's subnets (GET /service/network/subnets).
    List(VlanArgs),
    /// Add a subnet to a network (POST /service/network/subnet/create).
    Create(SubnetCreateArgs),
    /// Replace every field of a subnet (POST /service/network/subnet/edit).
    Edit(SubnetEditArgs),
    /// Delete a subnet (POST /service/network/subnet/delete).
    Delete(SubnetDeleteArgs),
}

/// The network (by datacenter and VLAN) a subnet command acts on.
#[derive(Debug, Args)]
pub struct VlanArgs {
    #[command(flatten)]
    datacenter: DatacenterArgs,
    /// The network's VLAN id, as `network list` shows it.
    #[arg(long)]
    vlan_id: String,
}

impl VlanArgs {
    fn subnets<'c>(&self, client: &'c Client) -> Result<kamatera_api::Subnets<'c>, CliError> {
        let vlan: VlanId = self.vlan_id.parse()?;
        Ok(self.datacenter.networks(client)?.subnets(vlan))
    }
}

/// `network subnet create`.
#[derive(Debug, Args)]
pub struct SubnetCreateArgs {
    #[command(flatten)]
    network: VlanArgs,
    #[command(flatten)]
    fields: SubnetFieldArgs,
}

/// `network subnet edit`.
#[derive(Debug, Args)]
pub struct SubnetEditArgs {
    #[command(flatten)]
    network: VlanArgs,
    /// The subnet's id, as `network subnet list` shows it.
    #[arg(long)]
    subnet_id: String,
    #[command(flatten)]
    fields: SubnetFieldArgs,
}

/// `network subnet delete`.
#[derive(Debug, Args)]
pub struct SubnetDeleteArgs {
    #[command(flatten)]
    network: VlanArgs,
    /// The subnet's id, as `network subnet list` shows it.
    #[arg(long)]
    subnet_id: String,
}

/// One subnet, as printed.
#[derive(Debug, Serialize)]
struct SubnetView {
    /// Its id.
    id: u64,
    /// `<address>/<bits>`, when the API gave both.
    subnet: Option<String>,
    /// The gateway.
    gateway: Option<String>,
    /// The DNS servers.
    dns: Vec<String>,
    /// How many addresses it has.
    total: Option<u64>,
    /// How many of them are in use.
    in_use: Option<u64>,
    /// Its description.
    description: Option<String>,
}

impl SubnetCommand {
    /// Runs the subnet command.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        match self {
            SubnetCommand::List(args) => {
                let subnets = args.subnets(client)?.list().await?;
                let views: Vec<SubnetView> = subnets
                    .iter()
                    .map(|s| SubnetView {
                        id: s.id.get(),
                        subnet: s
                            .address
                            .zip(s.prefix_len)
                            .map(|(address, bits)| format!("{address}/{bits}")),
                        gateway: s.gateway.map(|g| g.to_string()),
                        dns: [s.dns1, s.dns2]
                            .into_iter()
                            .flatten()
                            .map(|d| d.to_string())
                            .collect(),
                        total: s.total,
                        in_use: s.in_use,
                        description: s.description.clone(),
                    })
                    .collect();
                printer.print(&views, |views| {
                    let number = |n: Option<u64>| or_dash(n.map(|n| n.to_string()).as_deref());
                    columns(
                        &[
                            "ID",
                            "SUBNET",
                            "GATEWAY",
                            "DNS",
                            "IN USE",
                            "TOTAL",
                            "DESCRIPTION",
                        ],
                        views.iter().map(|s| {
                            [
                                s.id.to_string(),
                                or_dash(s.subnet.as_deref()),
                                or_dash(s.gateway.as_deref()),
                                s.dns.join(" "),
                                number(s.in_use),
                                number(s.total),
                                or_dash(s.description.as_deref()),
                            ]
                        }),
                    )
                })
            }
            SubnetCommand::Create(args) => {
                let fields = args.fields.fields()?;
                let created = args.network.subnets(client)?.create(&fields).await?;
                print_change(
                    printer,
                    &ChangeView {
                        message: created.message,
                        vlan_id: None,
                        subnet_id: created.subnet_id.map(SubnetId::get),
                    },
                )
            }
            SubnetCommand::Edit(args) => {
                let id: SubnetId = args.subnet_id.parse()?;
                let fields = args.fields.fields()?;
                let answer = args.network.subnets(client)?.edit(id, &fields).await?;
                print_change(
                    printer,
                    &ChangeView {
                        message: answer.message,
                        vlan_id: None,
                        subnet_id: Some(id.get()),
                    },
                )
            }
            SubnetCommand::Delete(args) => {
                let id: SubnetId = args.subnet_id.parse()?;
                let answer = args.network.subnets(client)?.delete(id).await?;
                print_change(
                    printer,
                    &ChangeView {
                        message: answer.message,
                        vlan_id: None,
                        subnet_id: Some(id.get()),
                    },
                )
            }
        }
    }
}
