//! The API calls, as methods on [`Client`](crate::Client), grouped by area.

mod catalog;
mod commands;
mod compact_list;
mod queue;
mod server;
mod servers;
mod snapshots;
mod tags;

pub use commands::{CreatedServer, TerminateOptions};
pub use compact_list::{CompactServerList, ServerRow};
pub use queue::{CommandOutcome, CommandStatuses, WaitOptions};
pub use server::ServerHandle;
pub use servers::{ServerList, SkippedRow};
pub use snapshots::{Snapshot, SnapshotId, SnapshotName, SnapshotTree, Snapshots};

/// The private decoders, reachable from the crate's property tests.
#[cfg(test)]
pub(crate) mod decoders_for_tests {
    pub(crate) use super::commands::decoders::{command_ids, created};
}
