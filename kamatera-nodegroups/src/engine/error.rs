//! What the engine's operations can fail with.

/// Why an [`Engine`](super::Engine) operation was refused or could not be carried out.
///
/// Every variant is a reason a caller (cluster-autoscaler, through the gRPC layer) can act
/// on; the gRPC layer maps each to a status code without a catch-all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No node group of that name is configured.
    #[error("node group {group:?} is not configured")]
    UnknownNodeGroup {
        /// The name asked for.
        group: String,
    },

    /// A size change was zero, of the wrong sign, or out of range.
    #[error("node group {group:?}: invalid size change {delta}: {reason}")]
    InvalidDelta {
        /// The group.
        group: String,
        /// The change asked for.
        delta: i64,
        /// What is accepted.
        reason: &'static str,
    },

    /// An increase would take the group above its maximum size.
    #[error(
        "node group {group:?}: size increase is too large: target {target} + {delta} exceeds max-size {max}"
    )]
    MaxSizeExceeded {
        /// The group.
        group: String,
        /// The current target size.
        target: u32,
        /// The increase asked for.
        delta: i64,
        /// The configured maximum.
        max: u32,
    },

    /// A deletion would take the group's healthy running instances below its minimum size.
    #[error(
        "node group {group:?}: deleting {deleting} running node(s) of {running} would go below min-size {min}"
    )]
    MinSizeViolated {
        /// The group.
        group: String,
        /// Healthy running instances now.
        running: u32,
        /// Healthy running instances asked to be deleted.
        deleting: u32,
        /// The configured minimum.
        min: u32,
    },

    /// A node to delete is not an instance of the group.
    #[error(
        "node group {group:?}: node {node:?} (provider id {provider_id:?}) is not an instance of this group"
    )]
    NodeNotInGroup {
        /// The group.
        group: String,
        /// The node's name.
        node: String,
        /// The node's provider id.
        provider_id: String,
    },

    /// A decrease asked for more than the requested instances not created yet.
    #[error(
        "node group {group:?}: cannot decrease target size by {delta}: only {unsent} requested node(s) have not been created yet"
    )]
    DecreaseTooLarge {
        /// The group.
        group: String,
        /// The decrease asked for (negative).
        delta: i64,
        /// Requested instances whose create was not sent.
        unsent: u32,
    },

    /// The servers have not been listed successfully yet.
    #[error("the Kamatera servers have not been listed yet{}", last_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    NotReady {
        /// The last listing error, if any.
        last_error: Option<String>,
    },

    /// The last successful list is too old to decide on.
    #[error("the server list is stale (last successful list {age:?} ago){}", last_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    StaleSnapshot {
        /// Age of the last successful list.
        age: std::time::Duration,
        /// The last listing error, if any.
        last_error: Option<String>,
    },

    /// A Kamatera API call failed.
    // The API error is shown in the text, not as `source`: this message goes out on its own
    // as a gRPC status and a log line.
    #[error("{action}: {error}")]
    Kamatera {
        /// What was being done.
        action: &'static str,
        /// The API error.
        error: kamatera_api::Error,
    },
}

/// The result of an engine operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
