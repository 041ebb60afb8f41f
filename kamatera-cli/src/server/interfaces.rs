//! `server network list|add|connect|disconnect`: a server's network interfaces, on
//! exactly one server.

use std::net::Ipv4Addr;

use clap::{Args, Subcommand};
use kamatera_api::{AddInterface, Client, Ipv4Subnet, MacAddress};
use serde::Serialize;

use crate::error::CliError;
use crate::output::{Printer, columns, or_dash};
use crate::select::OneServer;
use crate::wait::{WaitArgs, report};

/// `server network …`.
#[derive(Debug, Subcommand)]
pub enum InterfaceCommand {
    /// List a server's network interfaces (POST /server/network).
    List(InterfaceListArgs),
    /// Add an interface on the public network or a private one (POST /server/network, add).
    Add(InterfaceAddArgs),
    /// Connect an interface (POST /server/network, connect).
    Connect(InterfaceMacArgs),
    /// Disconnect an interface; it stays on the server (POST /server/network, disconnect).
    Disconnect(InterfaceMacArgs),
}

/// The server whose interfaces to list.
#[derive(Debug, Args)]
pub struct InterfaceListArgs {
    #[command(flatten)]
    server: OneServer,
}

/// The server and the interface to add.
#[derive(Debug, Args)]
pub struct InterfaceAddArgs {
    #[command(flatten)]
    server: OneServer,
    /// A private network's full name `lan-<account>-<name>` (the API cannot add a public
    /// interface this way: it would read `wan` as `lan-<account>-wan`).
    #[arg(long)]
    network: String,
    /// The address to ask for on a private network.
    #[arg(long)]
    ip: Option<Ipv4Addr>,
    /// Create the private network with this subnet (`172.16.0.0/23`) when it does not exist.
    #[arg(long, value_name = "ADDRESS/BITS")]
    create_subnet: Option<String>,
    #[command(flatten)]
    wait: WaitArgs,
}

/// The server and the interface, by MAC address.
#[derive(Debug, Args)]
pub struct InterfaceMacArgs {
    #[command(flatten)]
    server: OneServer,
    /// The interface's MAC address, as `server network list` shows it.
    #[arg(long)]
    mac: String,
    #[command(flatten)]
    wait: WaitArgs,
}

/// One interface, as printed.
#[derive(Debug, Serialize)]
struct InterfaceView {
    /// The network it is on.
    network: String,
    /// Its addresses.
    ips: Vec<String>,
    /// Whether it is connected.
    connected: bool,
    /// Its MAC address.
    mac: Option<String>,
}

impl InterfaceCommand {
    /// Sends the network-interface call.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        match self {
            InterfaceCommand::List(args) => {
                let server = client.server(args.server.selector());
                let nics = server.network_interfaces().list().await?;
                let views: Vec<InterfaceView> = nics
                    .iter()
                    .map(|nic| InterfaceView {
                        network: nic.network.clone(),
                        ips: nic.ips.iter().map(ToString::to_string).collect(),
                        connected: nic.connected,
                        mac: nic.mac.as_ref().map(ToString::to_string),
                    })
                    .collect();
                printer.print(&views, |views| {
                    columns(
                        &["NETWORK", "IPS", "CONNECTED", "MAC"],
                        views.iter().map(|nic| {
                            [
                                nic.network.clone(),
                                nic.ips.join(" "),
                                if nic.connected { "yes" } else { "no" }.to_owned(),
                                or_dash(nic.mac.as_deref()),
                            ]
                        }),
                    )
                })
            }
            InterfaceCommand::Add(args) => {
                let mut interface = AddInterface::lan(args.network.as_str())?;
                if let Some(ip) = args.ip {
                    interface = interface.ip(ip);
                }
                if let Some(subnet) = &args.create_subnet {
                    let subnet: Ipv4Subnet = subnet.parse()?;
                    interface =
                        interface.creating_network(subnet.address(), subnet.prefix_len())?;
                }
                let server = client.server(args.server.selector());
                let id = server.network_interfaces().add(&interface).await?;
                report(client, printer, &[id], &args.wait).await
            }
            InterfaceCommand::Connect(args) => {
                let mac = MacAddress::new(args.mac)?;
                let server = client.server(args.server.selector());
                let id = server.network_interfaces().connect(&mac).await?;
                report(client, printer, &[id], &args.wait).await
            }
            InterfaceCommand::Disconnect(args) => {
                let mac = MacAddress::new(args.mac)?;
                let server = client.server(args.server.selector());
                let id = server.network_interfaces().disconnect(&mac).await?;
                report(client, printer, &[id], &args.wait).await
            }
        }
    }
}
