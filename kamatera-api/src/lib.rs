//! A typed, async client for the Kamatera cloud server API — the "cloudcli" API at
//! `https://cloudcli.cloudwm.com` that every official Kamatera tool uses.
//!
//! # Quick start
//!
//! ```no_run
//! use kamatera_api::{Client, CreateServerRequest, DiskSpec, NetworkSpec, Tag};
//! use std::time::Duration;
//!
//! # async fn demo() -> Result<(), kamatera_api::Error> {
//! let client = Client::builder()
//!     .credentials(
//!         std::env::var("KAMATERA_API_CLIENT_ID").unwrap_or_default(),
//!         std::env::var("KAMATERA_API_SECRET").unwrap_or_default(),
//!     )
//!     .build()?;
//!
//! // Reads are retried on transient failures.
//! let servers = client.list_servers().await?;
//! println!("{} servers", servers.len());
//!
//! // Mutations are validated before sending and sent exactly once.
//! let request = CreateServerRequest::builder("web-0001", "IL", "ubuntu_server_24.04_64-bit")
//!     .cpu("2A".parse()?)
//!     .ram_mb(4096)
//!     .disk(DiskSpec::new(50)?)
//!     .network(NetworkSpec::wan())
//!     .tag(Tag::new("web")?)
//!     .build()?;
//! let created = client.create_server(&request).await?;
//!
//! // Commands are asynchronous: wait for the outcome.
//! let deadline = tokio::time::Instant::now() + Duration::from_secs(30 * 60);
//! let outcome = client.wait_for_command(&created.command_id, deadline).await?;
//! if let kamatera_api::CommandOutcome::Complete(item) = outcome {
//!     println!("created {:?}", item.created_server_name());
//! }
//! # Ok(()) }
//! ```
//!
//! # What the client takes care of
//!
//! - **Validation before sending**: names, CPU, disk and network specs (cloudcli syntax,
//!   at most 4 each), tags, billing, passwords ([`spec`]).
//! - **Exact wire format**: the API's case-sensitive keys (`billingcycle`, `ssh-key`, …),
//!   `yes`/`no` values, space-joined lists, regex-escaped name selection
//!   ([`ServerSelector`]).
//! - **Lenient decoding where the API varies** (command ids as strings or numbers, both tag
//!   row spellings, missing statuses, `cancelled`) and **strict decoding elsewhere**: a body
//!   of the wrong shape is an [`Error::InvalidResponse`] naming the JSON path.
//! - **Errors that say what happened**: transport, timeout, API error (status and message,
//!   also for non-JSON bodies), authentication, invalid response, invalid request; with
//!   predicates such as [`Error::is_retryable`] and [`Error::is_not_found`].
//! - **Retries only where safe**: idempotent reads are retried with jittered exponential
//!   backoff ([`RetryPolicy`]); a change is sent again only after a 429, which means it
//!   was not carried out ([`Error::RateLimited`]). After an [`Error::outcome_unknown`] on a
//!   mutation, look the result up instead of resending.
//! - **Hostile answers are errors, never values**: HTML pages, cut JSON and answers over
//!   [`ClientBuilder::max_response_bytes`] are refused; a 429 pauses every request of the
//!   client for its `Retry-After`; [`Client::set_credentials`] takes rotated keys.
//! - **Secrets stay secret**: credentials, passwords and init scripts are
//!   [`secrecy::SecretString`] and never appear in `Debug` output, errors or logs.

mod answer;
pub mod calls;
pub mod catalog;
mod client;
mod decode;
pub mod endpoint;
pub mod error;
#[cfg(test)]
mod input_properties;
mod lenient;
pub mod model;
mod newtype;
mod observe;
pub mod request;
mod retry;
pub mod spec;

pub use answer::ApiMessage;
pub use calls::{
    AddInterface, CloneableDisk, CloneableDiskId, CreatedNetwork, CreatedSubnet, Disk, DiskIndex,
    DiskLibrary, DiskSize, Disks, ImageName, Ipv4Subnet, MacAddress, NetworkId, NetworkInterface,
    NetworkInterfaces, NetworkName, PrivateNetwork, PrivateNetworks, RecentCommand, Subnet,
    SubnetFields, SubnetId, Subnets, VlanId,
};
pub use calls::{
    CloneServerRequest, CloneServerRequestBuilder, ConfigChange, HistoryEntry, MonthlyReport,
    ServerDescription, StatisticPoint, StatisticsMetric, StatisticsPeriod, StatisticsRange,
};
pub use calls::{
    CommandOutcome, CommandStatuses, CompactServerList, CreatedServer, ServerHandle, ServerList,
    ServerRow, SkippedRow, Snapshot, SnapshotId, SnapshotName, SnapshotTree, Snapshots,
    TerminateOptions, WaitOptions,
};
pub use client::{
    Client, ClientBuilder, DEFAULT_BASE_URL, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_TIMEOUT,
};
pub use endpoint::Endpoint;
pub use error::{ApiError, Error};
pub use model::{
    CommandId, CommandStatus, PowerState, QueueItem, ServerId, ServerInfo, ServerSummary, SshInfo,
};
pub use observe::{RequestEvent, RequestObserver, RequestOutcome};
pub use request::{CreateServerRequest, CreateServerRequestBuilder, ServerSelector};
pub use retry::RetryPolicy;
pub use secrecy;
pub use spec::{BillingCycle, Cpu, CpuType, DiskSpec, NetworkSpec, Password, ServerName, Tag};
pub use spec::{ChosenPassword, RamMb};

/// Compiles the crate README's example as a doctest, so the README cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
