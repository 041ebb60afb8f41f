//! `server clone`: a new server from an existing one.

use std::path::PathBuf;

use clap::Args;
use kamatera_api::{Client, CloneServerRequest, Cpu, DiskSpec, NetworkSpec, Password, RamMb, Tag};

use super::admin::Switch;
use super::create::{Billing, billing_cycle, password_from_file, report_created};
use crate::error::CliError;
use crate::output::Printer;
use crate::select::OneServer;
use crate::wait::WaitArgs;

/// `server clone`: the source is selected with `--id` or `--name`; every setting left out
/// is the source's.
#[derive(Debug, Args)]
pub struct CloneArgs {
    #[command(flatten)]
    source: OneServer,
    /// Name of the new server.
    #[arg(long)]
    new_name: String,
    /// Read the new server's root password from this file (first line); without it the
    /// API generates one and it is printed once.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// CPU as `<cores><type>`, e.g. 2A.
    #[arg(long)]
    cpu: Option<String>,
    /// Memory in MB (a size Kamatera offers).
    #[arg(long, value_name = "MB")]
    ram: Option<String>,
    /// A disk, `size=<GB>` or `id=<slot>,size=<GB>`; repeat for more.
    #[arg(long = "disk", value_name = "SPEC")]
    disks: Vec<String>,
    /// A network interface, `name=wan,ip=auto`; repeat for more.
    #[arg(long = "network", value_name = "SPEC")]
    networks: Vec<String>,
    /// Daily backup on or off.
    #[arg(long, value_enum)]
    daily_backup: Option<Switch>,
    /// Managed services on or off.
    #[arg(long, value_enum)]
    managed: Option<Switch>,
    /// Billing cycle (monthly needs --traffic).
    #[arg(long, value_enum)]
    billing: Option<Billing>,
    /// Traffic package of monthly billing, e.g. t5000.
    #[arg(long, requires = "billing", value_name = "PACKAGE")]
    traffic: Option<String>,
    /// Leave the clone off once created.
    #[arg(long)]
    no_power_on: bool,
    /// A tag to put on the clone; repeat for more.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    #[command(flatten)]
    wait: WaitArgs,
}

impl CloneArgs {
    fn request(&self) -> Result<CloneServerRequest, CliError> {
        let password = match &self.password_file {
            Some(path) => password_from_file(path)?,
            None => Password::Generate,
        };
        let mut builder =
            CloneServerRequest::builder(self.source.selector(), &*self.new_name, password);
        if let Some(cpu) = &self.cpu {
            builder = builder.cpu(cpu.parse::<Cpu>()?);
        }
        if let Some(ram) = &self.ram {
            builder = builder.ram_mb(ram.parse::<RamMb>()?);
        }
        for disk in &self.disks {
            builder = builder.disk(disk.parse::<DiskSpec>()?);
        }
        for network in &self.networks {
            builder = builder.network(network.parse::<NetworkSpec>()?);
        }
        if let Some(switch) = self.daily_backup {
            builder = builder.daily_backup(switch == Switch::On);
        }
        if let Some(switch) = self.managed {
            builder = builder.managed(switch == Switch::On);
        }
        if let Some(billing) = self.billing {
            builder = builder.billing(billing_cycle(billing, self.traffic.as_deref())?);
        }
        if self.no_power_on {
            builder = builder.power_on_after_create(false);
        }
        for tag in &self.tags {
            builder = builder.tag(Tag::new(tag.as_str())?);
        }
        Ok(builder.build()?)
    }

    /// Sends the clone and reports it like a create.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let request = self.request()?;
        let created = client.clone_server(&request).await?;
        report_created(client, printer, &created, &self.wait).await
    }
}
