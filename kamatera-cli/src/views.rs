//! What the CLI prints, made from the SDK's public answer types.
//!
//! These field names are the `--output json` contract for scripts: they are the CLI's own
//! (snake_case, every key always present, `null` when unknown) so that they stay stable
//! whatever spelling the API uses on the wire.

use kamatera_api::{CommandId, QueueItem, ServerInfo, ServerSummary, Snapshot};
use serde::Serialize;

/// One server of a list.
#[derive(Debug, Serialize)]
pub struct ServerView {
    /// Stable id.
    pub id: String,
    /// Current name.
    pub name: String,
    /// Datacenter id, e.g. `IL`.
    pub datacenter: String,
    /// `on`, `off` or what the API said.
    pub power: String,
}

impl From<&ServerSummary> for ServerView {
    fn from(server: &ServerSummary) -> Self {
        Self {
            id: server.id.to_string(),
            name: server.name.clone(),
            datacenter: server.datacenter.clone(),
            power: server.power.to_string(),
        }
    }
}

/// One network interface of [`ServerDetailsView`].
#[derive(Debug, Serialize)]
pub struct NetworkView {
    /// Network name (`wan-<dc>` or a LAN name).
    pub network: String,
    /// The server's addresses on it.
    pub ips: Vec<String>,
}

/// Full details of one server.
#[derive(Debug, Serialize)]
pub struct ServerDetailsView {
    /// Stable id.
    pub id: String,
    /// Current name.
    pub name: String,
    /// Datacenter id.
    pub datacenter: String,
    /// `on`, `off` or what the API said.
    pub power: String,
    /// `<cores><type>`, e.g. `2B`.
    pub cpu: String,
    /// Memory in MB.
    pub ram_mb: u64,
    /// Disk sizes in GB, in disk order.
    pub disk_sizes_gb: Vec<u64>,
    /// Network interfaces, in interface order.
    pub networks: Vec<NetworkView>,
    /// `hourly` or `monthly`.
    pub billing: Option<String>,
    /// Traffic package code.
    pub traffic: Option<String>,
    /// Managed services.
    pub managed: bool,
    /// Daily backup.
    pub daily_backup: bool,
    /// Monthly price while on.
    pub price_monthly_on: Option<String>,
    /// Hourly price while on.
    pub price_hourly_on: Option<String>,
}

impl From<&ServerInfo> for ServerDetailsView {
    fn from(info: &ServerInfo) -> Self {
        Self {
            id: info.id.to_string(),
            name: info.name.clone(),
            datacenter: info.datacenter.clone(),
            power: info.power.to_string(),
            cpu: info.cpu.clone(),
            ram_mb: info.ram,
            disk_sizes_gb: info.disk_sizes.clone(),
            networks: info
                .networks
                .iter()
                .map(|n| NetworkView {
                    network: n.network.clone(),
                    ips: n.ips.clone(),
                })
                .collect(),
            billing: info.billing.clone(),
            traffic: info.traffic.clone(),
            managed: info.managed,
            daily_backup: info.backup,
            price_monthly_on: info.price_monthly_on.clone(),
            price_hourly_on: info.price_hourly_on.clone(),
        }
    }
}

/// One asynchronous command: just submitted (status `null`), or as the queue reports it.
#[derive(Debug, Clone, Serialize)]
pub struct CommandView {
    /// Command id (for `kamatera queue wait`).
    pub id: String,
    /// `pending`, `progress`, `complete`, `error`, `cancelled`, …; `null` when not looked up.
    pub status: Option<String>,
    /// The server the command acts on.
    pub server: Option<String>,
    /// What the command does.
    pub description: Option<String>,
    /// When it was queued.
    pub added: Option<String>,
    /// When it started.
    pub executed: Option<String>,
    /// When it ended.
    pub completed: Option<String>,
    /// Progress and result text.
    pub log: Option<String>,
}

impl CommandView {
    /// A command that was only submitted.
    pub fn submitted(id: &CommandId) -> Self {
        Self {
            id: id.to_string(),
            status: None,
            server: None,
            description: None,
            added: None,
            executed: None,
            completed: None,
            log: None,
        }
    }

    /// A command as the queue reported it.
    pub fn reported(id: &CommandId, item: &QueueItem) -> Self {
        Self {
            id: item.id.as_ref().unwrap_or(id).to_string(),
            status: item.status.as_ref().map(ToString::to_string),
            server: item.server.clone(),
            description: item.description.clone(),
            added: item.added.clone(),
            executed: item.executed.clone(),
            completed: item.completed.clone(),
            log: item.log.clone(),
        }
    }

    /// The status for a table: `submitted` when it was not looked up.
    pub fn status_text(&self) -> &str {
        self.status.as_deref().unwrap_or("submitted")
    }

    /// The last non-empty line of the log: where the API puts a failure's reason.
    pub fn last_log_line(&self) -> Option<&str> {
        self.log
            .as_deref()?
            .lines()
            .map(str::trim)
            .rfind(|line| !line.is_empty())
    }
}

/// One snapshot of a server.
#[derive(Debug, Serialize)]
pub struct SnapshotView {
    /// Snapshot id (for delete and revert).
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was taken.
    pub date: Option<String>,
    /// Distance from the root of the tree.
    pub depth: u32,
    /// True for the snapshot the server runs from.
    pub active: bool,
    /// The snapshot it was taken from.
    pub parent: Option<String>,
}

impl From<&Snapshot> for SnapshotView {
    fn from(snapshot: &Snapshot) -> Self {
        Self {
            id: snapshot.id.to_string(),
            name: snapshot.name.clone(),
            date: snapshot.date.clone(),
            depth: snapshot.depth,
            active: snapshot.active,
            parent: snapshot.parent.as_ref().map(ToString::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_log_line_skips_trailing_blank_lines() {
        let mut view = CommandView::submitted(&CommandId::new("5"));
        assert_eq!(view.last_log_line(), None);
        view.log = Some("Starting\nInsufficient resources\n  \n".into());
        assert_eq!(view.last_log_line(), Some("Insufficient resources"));
        assert_eq!(view.status_text(), "submitted");
    }
}
