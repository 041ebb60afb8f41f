//! `server create`.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use kamatera_api::secrecy::{ExposeSecret, SecretString};
use kamatera_api::{
    BillingCycle, Client, Cpu, CreateServerRequest, CreatedServer, DiskSpec, NetworkSpec, Password,
    Tag,
};
use serde::Serialize;

use crate::error::CliError;
use crate::output::{Printer, fields, or_dash};
use crate::views::CommandView;
use crate::wait::{WaitArgs, follow};

/// `server create`. Values are checked by the SDK before anything is sent.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name of the new server (4–40 characters; Kamatera may add a suffix when it is taken).
    #[arg(long)]
    name: String,
    /// Datacenter id, e.g. IL.
    #[arg(long)]
    datacenter: String,
    /// Disk image id or name, e.g. ubuntu_server_24.04_64-bit.
    #[arg(long)]
    image: String,
    /// CPU as `<cores><type>`, type A, B, D or T, e.g. 2A (default 1B).
    #[arg(long)]
    cpu: Option<String>,
    /// Memory in MB (default 1024).
    #[arg(long, value_name = "MB")]
    ram: Option<u32>,
    /// A disk, `size=<GB>` or `id=<slot>,size=<GB>`; repeat for more (the first is the OS disk).
    #[arg(long = "disk", value_name = "SPEC")]
    disks: Vec<String>,
    /// A network interface, `name=wan,ip=auto` or `name=<lan>,ip=<address>`; repeat for more.
    #[arg(long = "network", value_name = "SPEC")]
    networks: Vec<String>,
    /// Turn on daily backup.
    #[arg(long)]
    daily_backup: bool,
    /// Turn on managed services.
    #[arg(long)]
    managed: bool,
    /// Billing cycle (monthly needs --traffic).
    #[arg(long, value_enum, default_value_t = Billing::Hourly)]
    billing: Billing,
    /// Traffic package of monthly billing, e.g. t5000.
    #[arg(long, value_name = "PACKAGE")]
    traffic: Option<String>,
    /// Read the root password from this file (first line). Without it and without an SSH
    /// key, the API generates one and it is printed once.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Read the SSH public key to install from this file.
    #[arg(long, value_name = "FILE")]
    ssh_key_file: Option<PathBuf>,
    /// Leave the server off once created.
    #[arg(long)]
    no_power_on: bool,
    /// Run this script on first boot.
    #[arg(long, value_name = "FILE")]
    script_file: Option<PathBuf>,
    /// Hand this user-data file to the first boot.
    #[arg(long, value_name = "FILE")]
    user_data_file: Option<PathBuf>,
    /// A tag to put on the server; repeat for more.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    #[command(flatten)]
    wait: WaitArgs,
}

/// The billing cycle on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Billing {
    /// Billed by the hour.
    Hourly,
    /// Billed by the month, with a traffic package.
    Monthly,
}

/// The SDK's billing cycle from `--billing` and `--traffic`.
pub fn billing_cycle(billing: Billing, traffic: Option<&str>) -> Result<BillingCycle, CliError> {
    match (billing, traffic) {
        (Billing::Hourly, None) => Ok(BillingCycle::Hourly),
        (Billing::Hourly, Some(traffic)) => Err(CliError::InvalidInput {
            flag: "--traffic",
            value: traffic.to_owned(),
            reason: "a traffic package goes with --billing monthly only".into(),
        }),
        (Billing::Monthly, Some(traffic)) => Ok(BillingCycle::monthly(traffic)?),
        (Billing::Monthly, None) => Err(CliError::InvalidInput {
            flag: "--traffic",
            value: String::new(),
            reason: "--billing monthly needs a traffic package, e.g. --traffic t5000".into(),
        }),
    }
}

/// What `server create` prints.
#[derive(Debug, Serialize)]
struct CreatedView {
    /// The create command.
    command: CommandView,
    /// The server's final name, read from the completed command's log (with `--wait`).
    server_name: Option<String>,
    /// The root password the API generated; it is shown this once.
    generated_password: Option<String>,
}

impl CreateArgs {
    /// Builds the request (every value checked), sends it, and follows it with `--wait`.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let request = self.request()?;
        let created = client.create_server(&request).await?;
        report_created(client, printer, &created, &self.wait).await
    }

    fn request(&self) -> Result<CreateServerRequest, CliError> {
        let mut builder =
            CreateServerRequest::builder(&*self.name, &*self.datacenter, &*self.image)
                .daily_backup(self.daily_backup)
                .managed(self.managed)
                .billing(billing_cycle(self.billing, self.traffic.as_deref())?)
                .power_on_after_create(!self.no_power_on);
        if let Some(cpu) = &self.cpu {
            builder = builder.cpu(cpu.parse::<Cpu>()?);
        }
        if let Some(ram) = self.ram {
            builder = builder.ram_mb(ram);
        }
        for disk in &self.disks {
            builder = builder.disk(disk.parse::<DiskSpec>()?);
        }
        for network in &self.networks {
            builder = builder.network(network.parse::<NetworkSpec>()?);
        }
        for tag in &self.tags {
            builder = builder.tag(Tag::new(tag.as_str())?);
        }
        if let Some(path) = &self.password_file {
            builder = builder.password(password_from_file(path)?);
        }
        if let Some(path) = &self.ssh_key_file {
            builder = builder.ssh_key(read_file("--ssh-key-file", path)?.trim());
        }
        if let Some(path) = &self.script_file {
            builder = builder.script(SecretString::from(read_file("--script-file", path)?));
        }
        if let Some(path) = &self.user_data_file {
            builder = builder.user_data(SecretString::from(read_file("--user-data-file", path)?));
        }
        Ok(builder.build()?)
    }
}

/// Prints a create's (or a clone's) command, followed to its end with `--wait`, with the
/// final server name and the generated password; fails when the command did not complete.
pub async fn report_created(
    client: &Client,
    printer: Printer,
    created: &CreatedServer,
    wait: &WaitArgs,
) -> Result<(), CliError> {
    let (command, failure) = if wait.wait {
        let (mut views, failure) = follow(
            client,
            printer,
            std::slice::from_ref(&created.command_id),
            &wait.polling,
        )
        .await?;
        (views.remove(0), failure)
    } else {
        (CommandView::submitted(&created.command_id), None)
    };
    let server_name = command
        .log
        .as_deref()
        .and_then(kamatera_api::model::parse_created_server_name)
        .map(str::to_owned);
    let view = CreatedView {
        command,
        server_name,
        generated_password: created
            .generated_password
            .as_ref()
            .map(|p| p.expose_secret().to_owned()),
    };
    printer.print(&view, |view| {
        let mut rows = vec![
            ("command", view.command.id.clone()),
            ("status", view.command.status_text().to_owned()),
            ("server", or_dash(view.server_name.as_deref())),
        ];
        if let Some(password) = &view.generated_password {
            rows.push(("generated password", password.clone()));
        }
        fields(&rows)
    })?;
    failure.map_or(Ok(()), Err)
}

/// The root password from `--password-file` (its first line).
pub fn password_from_file(path: &Path) -> Result<Password, CliError> {
    Ok(Password::set(secret_first_line(path)?)?)
}

/// The first line of the `--password-file` at `path`, kept secret.
pub fn secret_first_line(path: &Path) -> Result<SecretString, CliError> {
    let text = read_file("--password-file", path)?;
    Ok(SecretString::from(
        text.lines().next().unwrap_or_default().to_owned(),
    ))
}

fn read_file(flag: &'static str, path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|error| CliError::ReadFile {
        flag,
        path: path.to_owned(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_needs_a_traffic_package_exactly_when_monthly() {
        assert_eq!(
            billing_cycle(Billing::Hourly, None).unwrap(),
            BillingCycle::Hourly
        );
        assert!(billing_cycle(Billing::Monthly, Some("t5000")).is_ok());
        let err = billing_cycle(Billing::Monthly, None).unwrap_err();
        assert!(err.to_string().contains("--traffic"), "{err}");
        assert!(billing_cycle(Billing::Hourly, Some("t5000")).is_err());
        let err = billing_cycle(Billing::Monthly, Some("t 5")).unwrap_err();
        assert!(err.to_string().contains("monthlypackage"), "{err}");
    }
}
