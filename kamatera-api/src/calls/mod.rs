//! The API calls, as methods on [`Client`](crate::Client), grouped by area.

mod catalog;
mod clone;
mod commands;
mod compact_list;
mod disk_library;
mod disks;
mod interfaces;
mod networks;
mod queue;
mod recent_commands;
mod server;
mod server_records;
mod server_state;
mod servers;
mod snapshots;
mod statistics;
mod subnets;
mod tags;

pub use clone::{CloneServerRequest, CloneServerRequestBuilder};
pub use commands::{CreatedServer, TerminateOptions};
pub use compact_list::{CompactServerList, ServerRow};
pub use disk_library::{CloneableDisk, CloneableDiskId, DiskLibrary, ImageName};
pub use disks::{Disk, DiskIndex, DiskSize, Disks};
pub use interfaces::{AddInterface, MacAddress, NetworkInterface, NetworkInterfaces};
pub use networks::{
    CreatedNetwork, NetworkId, NetworkName, PrivateNetwork, PrivateNetworks, VlanId,
};
pub use queue::{CommandOutcome, CommandStatuses, WaitOptions};
pub use recent_commands::RecentCommand;
pub use server::ServerHandle;
pub use server_records::{HistoryEntry, MonthlyReport, ServerDescription};
pub use server_state::ConfigChange;
pub use servers::{ServerList, SkippedRow};
pub use snapshots::{Snapshot, SnapshotId, SnapshotName, SnapshotTree, Snapshots};
pub use statistics::{StatisticPoint, StatisticsMetric, StatisticsPeriod, StatisticsRange};
pub use subnets::{CreatedSubnet, Ipv4Subnet, Subnet, SubnetFields, SubnetId, Subnets};

/// The private decoders, reachable from the crate's property tests.
#[cfg(test)]
pub(crate) mod decoders_for_tests {
    pub(crate) use super::commands::decoders::{command_ids, created};
    pub(crate) use super::server_records::DescriptionRow;
    pub(crate) use super::servers::decode_compact;
    pub(crate) use super::snapshots::decode_tree;
    pub(crate) use super::statistics::decode_points;
}
