//! The API endpoints this client calls, as a closed list so that errors, logs and metrics
//! can name them without strings.

use std::fmt;

/// One Kamatera API endpoint (method and path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET /` (health).
    Health,
    /// `GET /service/servers`.
    ListServers,
    /// `POST /service/server/info`.
    ServerInfo,
    /// `POST /service/server` (create).
    CreateServer,
    /// `POST /service/server/terminate`.
    Terminate,
    /// `POST /service/server/poweron`.
    PowerOn,
    /// `POST /service/server/poweroff`.
    PowerOff,
    /// `POST /service/server/reboot`.
    Reboot,
    /// `POST /server/tags` (note: no `/service` prefix).
    ServerTags,
    /// `GET /service/queue`.
    Queue,
    /// `GET /service/server` (server options and their `datacenter`, `images`,
    /// `capabilities` and `sizes` variants).
    ServerOptions,
    /// `POST /service/server/ssh`.
    ServerSsh,
    /// `POST /service/server/suspend`.
    Suspend,
    /// `POST /service/server/resume`.
    Resume,
    /// `POST /service/server/rename`.
    Rename,
    /// `POST /service/server/password`.
    PasswordReset,
    /// `POST /server/configure`.
    Configure,
    /// `POST /server/disk`.
    ServerDisks,
    /// `POST /server/network`.
    ServerNetworks,
    /// `POST /server/snapshot`.
    Snapshots,
    /// `POST /server/hdlib`.
    DiskLibrary,
    /// `POST /service/cloneServer`.
    CloneServer,
    /// `POST /server/description`.
    Description,
    /// `POST /server/history`.
    History,
    /// `POST /server/report`.
    Reports,
    /// `POST /server/statistics`.
    Statistics,
    /// `POST /service/server/sshkey`.
    SshKey,
    /// `GET /svc/queue`.
    RecentCommands,
    /// `GET /service/networks`.
    Networks,
    /// `POST /service/network/create`.
    NetworkCreate,
    /// `POST /service/network/delete`.
    NetworkDelete,
    /// `GET /service/network/subnets`.
    Subnets,
    /// `POST /service/network/subnet/create`.
    SubnetCreate,
    /// `POST /service/network/subnet/edit`.
    SubnetEdit,
    /// `POST /service/network/subnet/delete`.
    SubnetDelete,
}

impl Endpoint {
    /// Every endpoint, for metrics that want to pre-register labels.
    pub const ALL: [Endpoint; 35] = [
        Endpoint::Health,
        Endpoint::ListServers,
        Endpoint::ServerInfo,
        Endpoint::CreateServer,
        Endpoint::Terminate,
        Endpoint::PowerOn,
        Endpoint::PowerOff,
        Endpoint::Reboot,
        Endpoint::ServerTags,
        Endpoint::Queue,
        Endpoint::ServerOptions,
        Endpoint::ServerSsh,
        Endpoint::Suspend,
        Endpoint::Resume,
        Endpoint::Rename,
        Endpoint::PasswordReset,
        Endpoint::Configure,
        Endpoint::ServerDisks,
        Endpoint::ServerNetworks,
        Endpoint::Snapshots,
        Endpoint::DiskLibrary,
        Endpoint::CloneServer,
        Endpoint::Description,
        Endpoint::History,
        Endpoint::Reports,
        Endpoint::Statistics,
        Endpoint::SshKey,
        Endpoint::RecentCommands,
        Endpoint::Networks,
        Endpoint::NetworkCreate,
        Endpoint::NetworkDelete,
        Endpoint::Subnets,
        Endpoint::SubnetCreate,
        Endpoint::SubnetEdit,
        Endpoint::SubnetDelete,
    ];

    /// HTTP method.
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::Health
            | Endpoint::ListServers
            | Endpoint::Queue
            | Endpoint::ServerOptions
            | Endpoint::RecentCommands
            | Endpoint::Networks
            | Endpoint::Subnets => "GET",
            _ => "POST",
        }
    }

    /// Path below the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Health => "/",
            Endpoint::ListServers => "/service/servers",
            Endpoint::ServerInfo => "/service/server/info",
            Endpoint::CreateServer | Endpoint::ServerOptions => "/service/server",
            Endpoint::Terminate => "/service/server/terminate",
            Endpoint::PowerOn => "/service/server/poweron",
            Endpoint::PowerOff => "/service/server/poweroff",
            Endpoint::Reboot => "/service/server/reboot",
            Endpoint::ServerTags => "/server/tags",
            Endpoint::Queue => "/service/queue",
            Endpoint::ServerSsh => "/service/server/ssh",
            Endpoint::Suspend => "/service/server/suspend",
            Endpoint::Resume => "/service/server/resume",
            Endpoint::Rename => "/service/server/rename",
            Endpoint::PasswordReset => "/service/server/password",
            Endpoint::Configure => "/server/configure",
            Endpoint::ServerDisks => "/server/disk",
            Endpoint::ServerNetworks => "/server/network",
            Endpoint::Snapshots => "/server/snapshot",
            Endpoint::DiskLibrary => "/server/hdlib",
            Endpoint::CloneServer => "/service/cloneServer",
            Endpoint::Description => "/server/description",
            Endpoint::History => "/server/history",
            Endpoint::Reports => "/server/report",
            Endpoint::Statistics => "/server/statistics",
            Endpoint::SshKey => "/service/server/sshkey",
            Endpoint::RecentCommands => "/svc/queue",
            Endpoint::Networks => "/service/networks",
            Endpoint::NetworkCreate => "/service/network/create",
            Endpoint::NetworkDelete => "/service/network/delete",
            Endpoint::Subnets => "/service/network/subnets",
            Endpoint::SubnetCreate => "/service/network/subnet/create",
            Endpoint::SubnetEdit => "/service/network/subnet/edit",
            Endpoint::SubnetDelete => "/service/network/subnet/delete",
        }
    }

    /// A short stable name, for metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Health => "health",
            Endpoint::ListServers => "list_servers",
            Endpoint::ServerInfo => "server_info",
            Endpoint::CreateServer => "create_server",
            Endpoint::Terminate => "terminate",
            Endpoint::PowerOn => "power_on",
            Endpoint::PowerOff => "power_off",
            Endpoint::Reboot => "reboot",
            Endpoint::ServerTags => "server_tags",
            Endpoint::Queue => "queue",
            Endpoint::ServerOptions => "server_options",
            Endpoint::ServerSsh => "server_ssh",
            Endpoint::Suspend => "suspend",
            Endpoint::Resume => "resume",
            Endpoint::Rename => "rename",
            Endpoint::PasswordReset => "password_reset",
            Endpoint::Configure => "configure",
            Endpoint::ServerDisks => "server_disks",
            Endpoint::ServerNetworks => "server_networks",
            Endpoint::Snapshots => "snapshots",
            Endpoint::DiskLibrary => "disk_library",
            Endpoint::CloneServer => "clone_server",
            Endpoint::Description => "description",
            Endpoint::History => "history",
            Endpoint::Reports => "reports",
            Endpoint::Statistics => "statistics",
            Endpoint::SshKey => "ssh_key",
            Endpoint::RecentCommands => "recent_commands",
            Endpoint::Networks => "networks",
            Endpoint::NetworkCreate => "network_create",
            Endpoint::NetworkDelete => "network_delete",
            Endpoint::Subnets => "subnets",
            Endpoint::SubnetCreate => "subnet_create",
            Endpoint::SubnetEdit => "subnet_edit",
            Endpoint::SubnetDelete => "subnet_delete",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method(), self.path())
    }
}
