//! Public data types: servers, commands, rules and request records as tests see them.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::PhaseDurations;

/// The kind of an asynchronous operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OpKind {
    /// `POST /service/server`.
    Create,
    /// `POST /service/server/terminate`.
    Terminate,
    /// `POST /service/server/poweron`.
    PowerOn,
    /// `POST /service/server/poweroff`.
    PowerOff,
    /// `POST /service/server/reboot`.
    Reboot,
    /// `POST /service/server/suspend`.
    Suspend,
    /// `POST /service/server/resume`.
    Resume,
    /// `POST /service/server/rename`.
    Rename,
    /// `POST /service/server/password`.
    PasswordReset,
    /// `POST /server/configure` (one change per command).
    Configure,
    // ---- server resources (disks, NICs, snapshots, disk library) ----
    /// `POST /server/disk` with `add`.
    DiskAdd,
    /// `POST /server/disk` with `remove`.
    DiskRemove,
    /// `POST /server/disk` with `resize` and `size`.
    DiskResize,
    /// `POST /server/network` with `add`.
    NicAdd,
    /// `POST /server/network` with `connect`.
    NicConnect,
    /// `POST /server/network` with `disconnect`.
    NicDisconnect,
    /// `POST /server/snapshot` with `create`.
    SnapshotCreate,
    /// `POST /server/snapshot` with `delete`.
    SnapshotDelete,
    /// `POST /server/snapshot` with `revert`.
    SnapshotRevert,
    /// `POST /server/hdlib` with `clone`.
    HdlibClone,
}

impl OpKind {
    /// The queue item `description` for this kind.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Self::Create => "Create Server",
            Self::Terminate => "Terminate Server",
            Self::PowerOn => "Power On Server",
            Self::PowerOff => "Power Off Server",
            Self::Reboot => "Reboot Server",
            Self::Suspend => "Suspend Server",
            Self::Resume => "Resume Server",
            Self::Rename => "Rename Server",
            Self::PasswordReset => "Reset Server Password",
            Self::Configure => "Configure Server",
            Self::DiskAdd => "Add Disk",
            Self::DiskRemove => "Remove Disk",
            Self::DiskResize => "Resize Disk",
            Self::NicAdd => "Add Network Interface",
            Self::NicConnect => "Connect Network Interface",
            Self::NicDisconnect => "Disconnect Network Interface",
            Self::SnapshotCreate => "Create Snapshot",
            Self::SnapshotDelete => "Delete Snapshot",
            Self::SnapshotRevert => "Revert Snapshot",
            Self::HdlibClone => "Clone Disk To Library",
        }
    }

    /// Whether this kind changes a server's disks, NICs, snapshots or disk library; such
    /// commands carry a payload in the resource state and run one at a time per server.
    #[must_use]
    pub fn is_resource_change(self) -> bool {
        matches!(
            self,
            Self::DiskAdd
                | Self::DiskRemove
                | Self::DiskResize
                | Self::NicAdd
                | Self::NicConnect
                | Self::NicDisconnect
                | Self::SnapshotCreate
                | Self::SnapshotDelete
                | Self::SnapshotRevert
                | Self::HdlibClone
        )
    }
}

/// Power state of a server (`"on"` / `"off"` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Power {
    /// Running.
    #[default]
    On,
    /// Stopped.
    Off,
}

impl Power {
    /// The wire string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::On => "on",
            Self::Off => "off",
        }
    }
}

/// One NIC of a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nic {
    /// Network name (`wan-il`, `lan-123-x`).
    pub network: String,
    /// Assigned addresses.
    pub ips: Vec<String>,
    /// MAC address, unique in the simulator (`00:50:56:xx:xx:xx`).
    #[serde(default)]
    pub mac: String,
    /// Whether the NIC is connected (`POST /server/network` `connect` / `disconnect`).
    #[serde(default = "connected_by_default")]
    pub connected: bool,
}

fn connected_by_default() -> bool {
    true
}

/// A NIC of a seeded server: `wan` or a full LAN name, and `auto` or an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedNic {
    /// `wan` or `lan-<account>-<name>`.
    pub name: String,
    /// `auto` (the default) or an address.
    #[serde(default = "auto_ip")]
    pub ip: String,
}

fn auto_ip() -> String {
    "auto".to_owned()
}

/// A private network to put into state (`POST /__sim/networks`): like
/// `POST /service/network/create`, with its first subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SeedNetwork {
    /// Datacenter id.
    pub datacenter: String,
    /// Short name; the LAN is called `lan-<account>-<name>`.
    pub name: String,
    /// Network address of the first subnet, e.g. `172.16.0.0`.
    pub subnet_ip: String,
    /// Prefix length of the first subnet.
    pub subnet_bit: u8,
    /// Optional gateway inside the subnet (reserved: never given to a NIC).
    pub gateway: String,
}

impl Default for SeedNetwork {
    fn default() -> Self {
        Self {
            datacenter: "IL".to_owned(),
            name: String::new(),
            subnet_ip: "172.16.0.0".to_owned(),
            subnet_bit: 24,
            gateway: String::new(),
        }
    }
}

impl SeedNetwork {
    /// A network in `datacenter` named `name` with the subnet `subnet_ip/subnet_bit`.
    #[must_use]
    pub fn new(
        datacenter: impl Into<String>,
        name: impl Into<String>,
        subnet_ip: impl Into<String>,
        subnet_bit: u8,
    ) -> Self {
        Self {
            datacenter: datacenter.into(),
            name: name.into(),
            subnet_ip: subnet_ip.into(),
            subnet_bit,
            gateway: String::new(),
        }
    }

    /// Sets the gateway.
    #[must_use]
    pub fn gateway(mut self, gateway: impl Into<String>) -> Self {
        self.gateway = gateway.into();
        self
    }
}

/// A server in simulator state, as returned by inspection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SimServer {
    /// Server UUID.
    pub id: String,
    /// Final server name.
    pub name: String,
    /// Datacenter id.
    pub datacenter: String,
    /// Current power state.
    pub power: Power,
    /// CPU string such as `2B`.
    pub cpu: String,
    /// RAM in MB.
    pub ram_mb: u32,
    /// Disk sizes in GB, in slot order.
    pub disks_gb: Vec<u32>,
    /// NICs in slot order.
    pub networks: Vec<Nic>,
    /// Tags in the order they were added.
    pub tags: Vec<String>,
    /// `hourly` or `monthly`.
    pub billing: String,
    /// Traffic package (empty when hourly).
    pub traffic: String,
    /// Managed services enabled.
    pub managed: bool,
    /// Daily backup enabled.
    pub backup: bool,
    /// Image id.
    pub image: String,
    /// Whether the server is visible to the API yet (false while an invisible create runs).
    pub visible: bool,
    /// The full create request as received (after merging query and body), if created via the API.
    pub creation_request: Option<Value>,
    /// Suspended by a completed `suspend` (listed as powered off until resumed).
    pub suspended: bool,
    /// Free text set through `POST /server/description`.
    pub description: String,
    /// Every action taken on the server, oldest first (`POST /server/history`).
    pub history: Vec<HistoryEntry>,
}

/// One row of a server's action history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// What was done: a queue description such as `Power On Server`, or `Add Tag`.
    pub action: String,
    /// When it was requested, as `YYYY-MM-DD HH:MM:SS`.
    pub date: String,
    /// Simulated milliseconds since start of the same instant.
    pub at_ms: u64,
    /// The `AuthClientId` the request carried.
    pub user: String,
}

/// A pre-existing server to put into state (`POST /__sim/servers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SeedServer {
    /// Server id; a UUID is generated when absent.
    pub id: Option<String>,
    /// Name (required, must not be empty).
    pub name: String,
    /// Datacenter id.
    pub datacenter: String,
    /// Power state.
    pub power: Power,
    /// Tags.
    pub tags: Vec<String>,
    /// CPU string.
    pub cpu: String,
    /// RAM in MB.
    pub ram_mb: u32,
    /// Disk sizes in GB.
    pub disks_gb: Vec<u32>,
    /// `hourly` or `monthly`.
    pub billing: String,
    /// Description text.
    pub description: String,
    /// NICs in slot order; empty means one `wan` NIC with an automatic address.
    pub networks: Vec<SeedNic>,
}

impl Default for SeedServer {
    fn default() -> Self {
        Self {
            id: None,
            name: String::new(),
            datacenter: "IL".to_owned(),
            power: Power::On,
            tags: Vec::new(),
            cpu: "2B".to_owned(),
            ram_mb: 2048,
            disks_gb: vec![20],
            billing: "hourly".to_owned(),
            description: String::new(),
            networks: Vec::new(),
        }
    }
}

impl SeedServer {
    /// A powered-on server in IL with the given name and no tags.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Sets the power state.
    #[must_use]
    pub fn power(mut self, power: Power) -> Self {
        self.power = power;
        self
    }

    /// Adds tags.
    #[must_use]
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Sets the datacenter.
    #[must_use]
    pub fn datacenter(mut self, dc: impl Into<String>) -> Self {
        self.datacenter = dc.into();
        self
    }

    /// Sets the CPU string (e.g. `4D`).
    #[must_use]
    pub fn cpu(mut self, cpu: impl Into<String>) -> Self {
        self.cpu = cpu.into();
        self
    }

    /// Sets the RAM in MB.
    #[must_use]
    pub fn ram_mb(mut self, ram_mb: u32) -> Self {
        self.ram_mb = ram_mb;
        self
    }

    /// Sets the disk sizes in GB.
    #[must_use]
    pub fn disks_gb(mut self, disks: impl Into<Vec<u32>>) -> Self {
        self.disks_gb = disks.into();
        self
    }

    /// Sets the billing cycle (`hourly` or `monthly`).
    #[must_use]
    pub fn billing(mut self, billing: impl Into<String>) -> Self {
        self.billing = billing.into();
        self
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Adds a NIC: `wan` or a full LAN name, with `auto` or an address.
    #[must_use]
    pub fn network(mut self, name: impl Into<String>, ip: impl Into<String>) -> Self {
        self.networks.push(SeedNic {
            name: name.into(),
            ip: ip.into(),
        });
        self
    }

    /// Sets the server id.
    #[must_use]
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

/// How a command ends.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// `complete`; the operation takes effect.
    #[default]
    Complete,
    /// `error` with this log; nothing changes (a failed create removes its server).
    Error {
        /// The queue item `log`.
        log: String,
    },
    /// `cancelled` with this log; like `Error` otherwise.
    Cancelled {
        /// The queue item `log`.
        log: String,
    },
    /// The queue item never carries a `status` key; the operation still takes effect on time.
    MissingStatus,
    /// Stays in `progress` for ever.
    Stuck,
    /// `error` with this log, but the server stays (listed, powered off, with its tags):
    /// a create that failed half-way and left a billed server behind.
    ErrorKeepsServer {
        /// The queue item `log`.
        log: String,
    },
    /// `complete`, but nothing changes: a terminate that reports success while the
    /// server stays listed (a later terminate works as usual).
    CompleteKeepsServer,
}

/// Chooses the outcome of future commands by kind and/or server-name pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OutcomeRule {
    /// Operation kind to match; `None` matches every kind.
    #[serde(default)]
    pub kind: Option<OpKind>,
    /// Full-match regex on the (final) server name; `None` matches every name.
    #[serde(default)]
    pub name: Option<String>,
    /// The outcome to apply.
    pub outcome: Outcome,
    /// Apply to the next N matching commands only; `None` means for ever.
    #[serde(default)]
    pub times: Option<u32>,
}

impl OutcomeRule {
    /// A rule applying `outcome` to every command.
    #[must_use]
    pub fn new(outcome: Outcome) -> Self {
        Self {
            kind: None,
            name: None,
            outcome,
            times: None,
        }
    }

    /// Restricts the rule to one operation kind.
    #[must_use]
    pub fn kind(mut self, kind: OpKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Restricts the rule to server names fully matching `pattern`.
    #[must_use]
    pub fn name(mut self, pattern: impl Into<String>) -> Self {
        self.name = Some(pattern.into());
        self
    }

    /// Limits the rule to the next `n` matching commands.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
}

/// Overrides phase durations by kind and/or server-name pattern (the last matching rule wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TimingRule {
    /// Operation kind to match; `None` matches every kind.
    #[serde(default)]
    pub kind: Option<OpKind>,
    /// Full-match regex on the server name; `None` matches every name.
    #[serde(default)]
    pub name: Option<String>,
    /// Durations to use.
    pub durations: PhaseDurations,
}

impl TimingRule {
    /// A rule for every command.
    #[must_use]
    pub fn new(pending: Duration, progress: Duration) -> Self {
        Self {
            kind: None,
            name: None,
            durations: PhaseDurations::new(pending, progress),
        }
    }

    /// Commands of `kind` stay `pending` for ever on either clock: their effect never
    /// happens (a create whose server never comes up, a terminate that never ends). Unlike
    /// [`Outcome::Stuck`] (in `progress` for ever) they never even start.
    #[must_use]
    pub fn never_completes(kind: OpKind) -> Self {
        Self::new(Duration::MAX, Duration::ZERO).kind(kind)
    }

    /// Restricts the rule to one operation kind.
    #[must_use]
    pub fn kind(mut self, kind: OpKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Restricts the rule to server names fully matching `pattern`.
    #[must_use]
    pub fn name(mut self, pattern: impl Into<String>) -> Self {
        self.name = Some(pattern.into());
        self
    }
}

/// One status transition of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusChange {
    /// Status entered (`pending`, `progress`, `complete`, `error`, `cancelled`, or `(none)`).
    pub status: String,
    /// Simulated milliseconds since start.
    pub at_ms: u64,
    /// The same instant as `YYYY-MM-DD HH:MM:SS`.
    pub at: String,
}

/// A command as returned by inspection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SimCommand {
    /// Command id (a number in queue items, a string in POST responses).
    pub id: u64,
    /// Operation kind.
    pub kind: OpKind,
    /// Target server id.
    pub server_id: String,
    /// Target server name.
    pub server_name: String,
    /// Planned outcome.
    pub outcome: Outcome,
    /// Current status (`None` for `MissingStatus` outcomes).
    pub status: Option<String>,
    /// Transitions that have happened so far.
    pub history: Vec<StatusChange>,
}

/// One logged API request (control calls are not logged).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    /// Sequence number, from 1.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Parameters after merging query and body.
    pub params: Value,
    /// Response status (0 when the connection was dropped).
    pub status: u16,
    /// Simulated milliseconds since start when it arrived.
    pub at_ms: u64,
}
