//! `kamatera server …`: the server commands, one module per kind of call.

mod admin;
mod clone;
mod create;
mod disks;
mod interfaces;
mod lifecycle;
mod read;
mod records;
mod snapshots;
mod tags;

use clap::Subcommand;
use kamatera_api::Client;

use crate::error::CliError;
use crate::output::Printer;

/// The server commands.
#[derive(Subcommand)]
pub enum ServerCommand {
    /// List every server (GET /service/servers).
    List(read::ListArgs),
    /// Show the details of servers (POST /service/server/info).
    Info(read::InfoArgs),
    /// Create a server (POST /service/server).
    Create(Box<create::CreateArgs>),
    /// Clone a server into a new one (POST /service/cloneServer).
    Clone(Box<clone::CloneArgs>),
    /// Terminate servers (POST /service/server/terminate; --dry-run asks the API which
    /// servers would go, without removing any).
    Terminate(lifecycle::TerminateArgs),
    /// Power servers on, off, reboot, suspend or resume them (POST
    /// /service/server/poweron|poweroff|reboot|suspend|resume).
    #[command(subcommand)]
    Power(lifecycle::PowerCommand),
    /// Rename a server (POST /service/server/rename).
    Rename(admin::RenameArgs),
    /// Change one setting of a server: --cpu, --ram, --daily-backup, --managed or
    /// --billing (POST /server/configure).
    Configure(admin::ConfigureArgs),
    /// What was done to a server (POST /server/history).
    History(admin::HistoryArgs),
    /// Reset the root password of servers (POST /service/server/password).
    Password(records::PasswordArgs),
    /// Show a server's description, or set it with --set (POST /server/description).
    Description(records::DescriptionArgs),
    /// A server's monthly usage reports (POST /server/report).
    Reports(records::ReportsArgs),
    /// Where to install an SSH key on a server: its id, name and public address (POST
    /// /service/server/sshkey).
    Sshkey(records::SshKeyArgs),
    /// Clone a server's disks into private images (POST /server/hdlib, the API's disk
    /// library).
    #[command(subcommand)]
    DiskLibrary(records::DiskLibraryCommand),
    /// Usage samples of a server (POST /server/statistics).
    Statistics(admin::StatisticsArgs),
    /// A server's disks (POST /server/disk).
    #[command(subcommand)]
    Disk(disks::DiskCommand),
    /// A server's network interfaces (POST /server/network).
    #[command(subcommand)]
    Network(interfaces::InterfaceCommand),
    /// A server's tags (POST /server/tags).
    #[command(subcommand)]
    Tags(tags::TagsCommand),
    /// A server's snapshots (POST /server/snapshot).
    #[command(subcommand)]
    Snapshot(snapshots::SnapshotCommand),
}

impl ServerCommand {
    /// Runs the command.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        match self {
            ServerCommand::List(args) => args.run(client, printer).await,
            ServerCommand::Info(args) => args.run(client, printer).await,
            ServerCommand::Create(args) => args.run(client, printer).await,
            ServerCommand::Clone(args) => args.run(client, printer).await,
            ServerCommand::Terminate(args) => args.run(client, printer).await,
            ServerCommand::Rename(args) => args.run(client, printer).await,
            ServerCommand::Configure(args) => args.run(client, printer).await,
            ServerCommand::History(args) => args.run(client, printer).await,
            ServerCommand::Password(args) => args.run(client, printer).await,
            ServerCommand::Description(args) => args.run(client, printer).await,
            ServerCommand::Reports(args) => args.run(client, printer).await,
            ServerCommand::Sshkey(args) => args.run(client, printer).await,
            ServerCommand::DiskLibrary(command) => command.run(client, printer).await,
            ServerCommand::Statistics(args) => args.run(client, printer).await,
            ServerCommand::Power(command) => command.run(client, printer).await,
            ServerCommand::Disk(command) => command.run(client, printer).await,
            ServerCommand::Network(command) => command.run(client, printer).await,
            ServerCommand::Tags(command) => command.run(client, printer).await,
            ServerCommand::Snapshot(command) => command.run(client, printer).await,
        }
    }
}
