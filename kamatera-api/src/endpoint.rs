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
}

impl Endpoint {
    /// Every endpoint, for metrics that want to pre-register labels.
    pub const ALL: [Endpoint; 12] = [
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
    ];

    /// HTTP method.
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::Health
            | Endpoint::ListServers
            | Endpoint::Queue
            | Endpoint::ServerOptions => "GET",
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
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method(), self.path())
    }
}
