//! Response types: servers, command ids, queue items and tags.
//!
//! Decoding is lenient where the API is known to vary (command ids as strings or numbers,
//! both tag-row spellings, a missing `status`, `ram` as a number or a string) and strict
//! everywhere else, so that a body of the wrong shape is reported rather than guessed at.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::newtype::string_newtype;
use crate::spec::Tag;

/// A Kamatera server id (a UUID-like string).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServerId(String);

impl ServerId {
    /// Wraps an id known from elsewhere (for example a previous list call).
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
}

string_newtype!(ServerId, "server id");

/// The id of an asynchronous command (a queue item).
///
/// The API sends these as strings in POST answers and as numbers in queue items; both
/// decode to the same value. An empty string or a non-integer number is rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CommandId(String);

impl CommandId {
    /// Wraps a command id known from elsewhere (for example one persisted across restarts).
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
}

string_newtype!(CommandId, "command id");

impl<'de> Deserialize<'de> for CommandId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CommandIdVisitor;
        impl Visitor<'_> for CommandIdVisitor {
            type Value = CommandId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a command id (a non-empty string or an integer)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CommandId, E> {
                if v.trim().is_empty() {
                    return Err(E::invalid_value(de::Unexpected::Str(v), &self));
                }
                Ok(CommandId(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CommandId, E> {
                Ok(CommandId(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CommandId, E> {
                if v < 0 {
                    return Err(E::invalid_value(de::Unexpected::Signed(v), &self));
                }
                Ok(CommandId(v.to_string()))
            }
        }
        deserializer.deserialize_any(CommandIdVisitor)
    }
}

/// Whether a server is running, as list and info answers report it. The state changes
/// only once a power command has completed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PowerState {
    /// `"on"`.
    On,
    /// `"off"`.
    Off,
    /// Any other text (none is known to occur); treat as not running.
    Other(String),
}

impl PowerState {
    /// True only for [`PowerState::On`].
    pub fn is_on(&self) -> bool {
        matches!(self, PowerState::On)
    }
}

impl<'de> Deserialize<'de> for PowerState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A visitor, not a `String`: "on" and "off" (nearly every row of a list) then
        // cost no allocation.
        struct PowerVisitor;
        impl Visitor<'_> for PowerVisitor {
            type Value = PowerState;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a power state string")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<PowerState, E> {
                Ok(match text {
                    "on" => PowerState::On,
                    "off" => PowerState::Off,
                    other => PowerState::Other(other.to_owned()),
                })
            }
        }
        deserializer.deserialize_str(PowerVisitor)
    }
}

impl fmt::Display for PowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PowerState::On => f.write_str("on"),
            PowerState::Off => f.write_str("off"),
            PowerState::Other(other) => f.write_str(other),
        }
    }
}

/// One row of `GET /service/servers`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServerSummary {
    /// Stable identifier; select the server with [`ServerSelector::id`](crate::ServerSelector::id)
    /// to act on exactly this server.
    pub id: ServerId,
    /// The server's current name (it may differ from the name requested at creation).
    pub name: String,
    /// Datacenter id, e.g. `IL`.
    pub datacenter: String,
    /// Whether the server is running.
    pub power: PowerState,
}

/// One network interface in [`ServerInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServerNetworkInfo {
    /// Network name (`wan-<dc>` for public interfaces, `lan-<account>-<name>` for LANs).
    pub network: String,
    /// The server's IP addresses on that network (public ones on `wan-*` networks).
    #[serde(default)]
    pub ips: Vec<String>,
}

/// Full details of one server, from `POST /service/server/info`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    /// Stable identifier of the server.
    pub id: ServerId,
    /// The server's current name.
    pub name: String,
    /// Datacenter id, e.g. `IL`.
    pub datacenter: String,
    /// Whether the server is running.
    pub power: PowerState,
    /// CPU as `<cores><type>`, e.g. `2B`.
    pub cpu: String,
    /// Memory in MB (the API sends a number or a numeric string).
    #[serde(deserialize_with = "crate::lenient::u64_from_number_or_string")]
    pub ram: u64,
    /// Disk sizes in GB, in disk order.
    #[serde(default)]
    pub disk_sizes: Vec<u64>,
    /// The server's network interfaces with their addresses, in interface order.
    #[serde(default)]
    pub networks: Vec<ServerNetworkInfo>,
    /// `hourly` or `monthly`.
    #[serde(default)]
    pub billing: Option<String>,
    /// Traffic package code, e.g. `t5000`.
    #[serde(default)]
    pub traffic: Option<String>,
    /// Managed services (sent as `"0"`/`"1"`).
    #[serde(default, deserialize_with = "crate::lenient::flag")]
    pub managed: bool,
    /// Daily backup (sent as `"0"`/`"1"`).
    #[serde(default, deserialize_with = "crate::lenient::flag")]
    pub backup: bool,
    /// Monthly price while on; `None` when the API's price lookup failed.
    #[serde(default, deserialize_with = "crate::lenient::optional_text")]
    pub price_monthly_on: Option<String>,
    /// Hourly price while on; `None` when the lookup failed.
    #[serde(default, deserialize_with = "crate::lenient::optional_text")]
    pub price_hourly_on: Option<String>,
    /// Hourly price while off. The API fills this from the "on" price (a known proxy bug),
    /// so do not rely on it.
    #[serde(default, deserialize_with = "crate::lenient::optional_text")]
    pub price_hourly_off: Option<String>,
}

impl ServerInfo {
    /// Public addresses: those on networks whose name starts with `wan`.
    pub fn public_ips(&self) -> impl Iterator<Item = &str> {
        self.networks
            .iter()
            .filter(|n| n.network.starts_with("wan"))
            .flat_map(|n| n.ips.iter().map(String::as_str))
    }
}

/// The answer of `POST /service/server/ssh`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SshInfo {
    /// Stable identifier of the server.
    pub id: ServerId,
    /// The server's current name.
    pub name: String,
    /// The public address to connect to.
    pub external_ip: String,
}

/// State of an asynchronous command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CommandStatus {
    /// `pending`: queued, not started yet.
    Pending,
    /// `initializing`: being prepared; not finished.
    Initializing,
    /// `started`: picked up by the cloud; not finished.
    Started,
    /// `executing`: running; not finished.
    Executing,
    /// Running (the state most often seen).
    Progress,
    /// Finished successfully (terminal).
    Complete,
    /// Failed (terminal); details are in the item's `log`.
    Error,
    /// Cancelled (terminal, and a failure).
    Cancelled,
    /// A status this client does not know; treated as still running.
    Unknown(String),
}

impl CommandStatus {
    /// True for `complete`, `error` and `cancelled`.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            CommandStatus::Complete | CommandStatus::Error | CommandStatus::Cancelled
        )
    }

    fn from_wire(text: &str) -> Self {
        match text.to_ascii_lowercase().as_str() {
            "pending" => CommandStatus::Pending,
            "initializing" => CommandStatus::Initializing,
            "started" => CommandStatus::Started,
            "executing" => CommandStatus::Executing,
            "progress" => CommandStatus::Progress,
            "complete" | "completed" => CommandStatus::Complete,
            "error" => CommandStatus::Error,
            "cancelled" | "canceled" => CommandStatus::Cancelled,
            _ => CommandStatus::Unknown(text.to_owned()),
        }
    }
}

impl<'de> Deserialize<'de> for CommandStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(CommandStatus::from_wire(&text))
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            CommandStatus::Pending => "pending",
            CommandStatus::Initializing => "initializing",
            CommandStatus::Started => "started",
            CommandStatus::Executing => "executing",
            CommandStatus::Progress => "progress",
            CommandStatus::Complete => "complete",
            CommandStatus::Error => "error",
            CommandStatus::Cancelled => "cancelled",
            CommandStatus::Unknown(other) => other,
        };
        f.write_str(text)
    }
}

/// One item of `GET /service/queue`: the state of an asynchronous command.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QueueItem {
    /// Command id (the API may leave it out when one id was asked for).
    #[serde(default)]
    pub id: Option<CommandId>,
    /// Status; `None` when the API left it out, which means "not finished yet".
    #[serde(default)]
    pub status: Option<CommandStatus>,
    /// Name of the server the command acts on.
    #[serde(default)]
    pub server: Option<String>,
    /// What the command does, e.g. `Create Server`.
    #[serde(default)]
    pub description: Option<String>,
    /// When it was queued (`YYYY-MM-DD HH:MM:SS`).
    #[serde(default)]
    pub added: Option<String>,
    /// When it started running (`YYYY-MM-DD HH:MM:SS`); absent while queued.
    #[serde(default)]
    pub executed: Option<String>,
    /// When it ended (`YYYY-MM-DD HH:MM:SS`); absent while not finished.
    #[serde(default)]
    pub completed: Option<String>,
    /// Progress and result text; a failed command's reason is here.
    #[serde(default)]
    pub log: Option<String>,
}

impl QueueItem {
    /// True when the command has reached `complete`, `error` or `cancelled`.
    pub fn is_terminal(&self) -> bool {
        self.status.as_ref().is_some_and(CommandStatus::is_terminal)
    }

    /// The final server name from a create command's log (`Name: <name>` line).
    ///
    /// Kamatera may rename a server on a name collision, so this, not the requested
    /// name, is the name the server ends up with.
    pub fn created_server_name(&self) -> Option<&str> {
        self.log.as_deref().and_then(parse_created_server_name)
    }
}

/// Finds the `Name: <server name>` line of a create command's log.
///
/// ```
/// let log = "Name: web-01-1\nZone: IL\nCPU: 1\n";
/// assert_eq!(kamatera_api::model::parse_created_server_name(log), Some("web-01-1"));
/// ```
pub fn parse_created_server_name(log: &str) -> Option<&str> {
    log.lines()
        .find_map(|line| line.trim_start().strip_prefix("Name:"))
        .map(str::trim)
        .filter(|name| !name.is_empty())
}

/// A row of the `POST /server/tags` answer, in either spelling the API has used.
#[derive(Debug, Deserialize)]
pub(crate) struct TagRow {
    #[serde(rename = "tagName", alias = "tag name")]
    pub(crate) tag_name: String,
}

impl From<TagRow> for Tag {
    fn from(row: TagRow) -> Self {
        Tag::from_api(row.tag_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_ids_decode_from_strings_and_numbers() {
        let ids: Vec<CommandId> = serde_json::from_str(r#"["12", 34]"#).unwrap();
        assert_eq!(ids, vec![CommandId::new("12"), CommandId::new("34")]);
        for bad in [r#"[""]"#, "[null]", "[-1]", "[1.5]", "[true]"] {
            assert!(
                serde_json::from_str::<Vec<CommandId>>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn statuses_cover_known_and_unknown_values() {
        let item: QueueItem = serde_json::from_str(r#"{"id": 5, "status": "cancelled"}"#).unwrap();
        assert_eq!(item.status, Some(CommandStatus::Cancelled));
        assert!(item.is_terminal());
        let item: QueueItem = serde_json::from_str(r#"{"id": 5}"#).unwrap();
        assert!(!item.is_terminal());
        let item: QueueItem = serde_json::from_str(r#"{"status": "frobbing"}"#).unwrap();
        assert_eq!(item.status, Some(CommandStatus::Unknown("frobbing".into())));
        assert!(!item.is_terminal());
    }

    #[test]
    fn info_accepts_ram_as_string_and_flags_as_text() {
        let info: ServerInfo = serde_json::from_str(
            r#"{"id":"x","name":"n","datacenter":"IL","power":"on","cpu":"2B","ram":"2048",
                "diskSizes":[15,20],"networks":[{"network":"wan-il","ips":["1.2.3.4"]}],
                "billing":"monthly","traffic":"t5000","managed":"0","backup":"1",
                "priceMonthlyOn":"24.00","priceHourlyOn":"","priceHourlyOff":"0.033"}"#,
        )
        .unwrap();
        assert_eq!(info.ram, 2048);
        assert!(info.backup && !info.managed);
        assert_eq!(info.price_hourly_on, None);
        assert_eq!(info.public_ips().collect::<Vec<_>>(), vec!["1.2.3.4"]);
    }

    #[test]
    fn create_log_name_line_is_found() {
        let log = "Zone: IL\n  Name: k8s-ng1-abc-1 \nCPU: 1";
        assert_eq!(parse_created_server_name(log), Some("k8s-ng1-abc-1"));
        assert_eq!(parse_created_server_name("Zone: IL"), None);
        assert_eq!(parse_created_server_name("Name:   "), None);
    }

    #[test]
    fn tag_rows_accept_both_spellings() {
        let rows: Vec<TagRow> = serde_json::from_str(
            r#"[{"id":"a","tagName":"t1"},{"server id":"a","tag name":"t2"}]"#,
        )
        .unwrap();
        let tags: Vec<Tag> = rows.into_iter().map(Tag::from).collect();
        assert_eq!(tags[0].as_str(), "t1");
        assert_eq!(tags[1].as_str(), "t2");
    }
}
