//! What the engine knows about each server of a node group, and the views it gives out.

use std::sync::Arc;
use std::time::SystemTime;

use kamatera_api::{CommandId, ServerId};
use tokio::time::Instant;

use crate::pricing::ServerPrices;

/// The state of an instance as cluster-autoscaler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceState {
    /// Being created (or powered on for reuse), or failed to be.
    Creating,
    /// Up; its node should be (or become) Ready.
    Running,
    /// Being scaled down.
    Deleting,
}

/// The class of an instance error, as cluster-autoscaler groups them for back-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Quota, capacity or a full datacenter: try another group.
    OutOfResources,
    /// Anything else.
    Other,
}

impl ErrorClass {
    /// `out_of_resources` or `other`, for metrics and status output.
    pub fn label(self) -> &'static str {
        match self {
            ErrorClass::OutOfResources => "out_of_resources",
            ErrorClass::Other => "other",
        }
    }
}

/// Why an instance failed. Codes are stable; messages are for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceError {
    /// The class, for cluster-autoscaler's back-off.
    pub class: ErrorClass,
    /// A stable code, e.g. [`ErrorCode::CreateRejected`].
    pub code: ErrorCode,
    /// What happened, with the API's words where there are any.
    pub message: String,
}

/// The stable error codes of [`InstanceError`]; [`ErrorCode::as_str`] is the spelling sent
/// to cluster-autoscaler and used in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// The API refused the create request.
    CreateRejected,
    /// The create command ended in error.
    CreateFailed,
    /// The create command was cancelled.
    CreateCancelled,
    /// The server did not come up within `max-node-provision-time`.
    CreateTimeout,
    /// The create answer was lost and no server of that name appeared.
    CreateLost,
    /// Powering a parked server on for a scale-up failed.
    PowerOnFailed,
}

impl ErrorCode {
    /// The code on the wire, e.g. `CREATE_REJECTED`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::CreateRejected => "CREATE_REJECTED",
            ErrorCode::CreateFailed => "CREATE_FAILED",
            ErrorCode::CreateCancelled => "CREATE_CANCELLED",
            ErrorCode::CreateTimeout => "CREATE_TIMEOUT",
            ErrorCode::CreateLost => "CREATE_LOST",
            ErrorCode::PowerOnFailed => "POWER_ON_FAILED",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One instance of a node group, as reported to cluster-autoscaler.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceView {
    /// The instance id: `<provider-id-prefix><server name>`.
    pub provider_id: String,
    /// The server (and node) name.
    pub name: String,
    /// The state.
    pub state: InstanceState,
    /// Set when the instance failed (only meaningful while Creating for CA).
    pub error: Option<InstanceError>,
    /// When the engine began tracking the instance: its scale-up, or the list in which
    /// this engine first found the server (after a restart, that list). For status output.
    pub since: Instant,
    /// Why the instance's next API call waits, when the API refused the last one without
    /// carrying it out (rate limit, credentials): it is sent again, it has not failed.
    pub waiting: Option<String>,
    /// The server's own hourly on-price from the API's server info, once read (`None`
    /// before, and when the API's price lookup failed).
    pub hourly_price: Option<f64>,
}

/// Identity of an instance inside the engine (servers being created have no server id yet).
pub(crate) type InstanceKey = u64;

/// Where an instance is in its life.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Phase {
    /// Scale-up recorded; the create request has not been sent.
    CreateQueued,
    /// The create request is being sent.
    CreateSending,
    /// The create was accepted; its command runs.
    CreateRunning { command: CommandId },
    /// The create answer was lost (timeout, dropped connection); looking for the server by
    /// name until `give_up_at`.
    CreateLost { give_up_at: Instant },
    /// A parked server was chosen for reuse; power-on not sent yet.
    PowerOnQueued,
    /// The power-on request is being sent.
    PowerOnSending,
    /// Power-on accepted; its command runs.
    PowerOnRunning { command: CommandId },
    /// The command finished (or the server was adopted powered off); waiting to see the
    /// server listed and powered on.
    AwaitRunning,
    /// Creation failed; the error is set. Waits for cluster-autoscaler to delete it.
    CreateFailed,
    /// Up and serving.
    Running,
    /// Scale-down in progress.
    Deleting(DeleteStep),
    /// Powered off and kept for reuse; not reported to cluster-autoscaler.
    Parked,
}

/// The steps of a scale-down. Each step that calls the API first re-reads the server's
/// tags and refuses to act on a server that no longer carries both membership tags.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DeleteStep {
    /// Waiting for the create (or power-on) command to finish before acting.
    AfterCommand { command: CommandId },
    /// Next: check tags, write the deleting marker, power off when on.
    Mark,
    /// The power-off command runs.
    PoweringOff { command: CommandId },
    /// Next: park (power-off mode, under the cap) or terminate.
    Finish,
    /// The terminate command runs.
    Terminating { command: CommandId },
    /// Terminated: waiting for the server to leave the list.
    AwaitGone,
    /// An API call of the current step is in flight.
    InFlight,
    /// The server is being parked (counts towards the parked cap).
    Parking,
}

impl Phase {
    /// A server on its way up: a create or a power-on under way, or waiting to run.
    pub(crate) fn is_coming_up(&self) -> bool {
        match self {
            Phase::CreateQueued
            | Phase::CreateSending
            | Phase::CreateRunning { .. }
            | Phase::CreateLost { .. }
            | Phase::PowerOnQueued
            | Phase::PowerOnSending
            | Phase::PowerOnRunning { .. }
            | Phase::AwaitRunning => true,
            Phase::CreateFailed | Phase::Running | Phase::Deleting(_) | Phase::Parked => false,
        }
    }

    /// The state reported to cluster-autoscaler, or `None` for parked servers.
    pub(crate) fn reported_state(&self) -> Option<InstanceState> {
        match self {
            Phase::Running => Some(InstanceState::Running),
            Phase::Deleting(_) => Some(InstanceState::Deleting),
            Phase::Parked => None,
            // A failed create stays Creating (with its error) until CA deletes it.
            Phase::CreateFailed => Some(InstanceState::Creating),
            coming_up => {
                debug_assert!(coming_up.is_coming_up(), "{coming_up:?}");
                Some(InstanceState::Creating)
            }
        }
    }

    /// The command this phase waits for, if any.
    pub(crate) fn command(&self) -> Option<&CommandId> {
        match self {
            Phase::CreateRunning { command }
            | Phase::PowerOnRunning { command }
            | Phase::Deleting(
                DeleteStep::AfterCommand { command }
                | DeleteStep::PoweringOff { command }
                | DeleteStep::Terminating { command },
            ) => Some(command),
            _ => None,
        }
    }
}

/// An instance of a node group.
#[derive(Debug, Clone)]
pub(crate) struct Instance {
    pub(crate) key: InstanceKey,
    /// The group's interned name ([`GroupFacts::name`](super::state::GroupFacts::name)).
    pub(crate) group: Arc<str>,
    /// Server name (the requested one until the create log tells the final one).
    pub(crate) name: String,
    /// Known once the server has been listed.
    pub(crate) server_id: Option<ServerId>,
    pub(crate) phase: Phase,
    pub(crate) error: Option<InstanceError>,
    /// When the instance started to be created (for `max-node-provision-time`).
    pub(crate) creating_since: Instant,
    /// When the current command was started (for command deadlines).
    pub(crate) command_since: Option<Instant>,
    /// Failed attempts of the current delete step, for back-off.
    pub(crate) delete_attempts: u32,
    /// Do not retry the current step before this.
    pub(crate) retry_at: Option<Instant>,
    /// Do not retry the current step before the servers were listed again after the
    /// list with this number: the last call's answer was lost, so it may have worked,
    /// and only a fresh list tells (for example that the server is already off).
    pub(crate) retry_after_list: Option<u64>,
    /// Whether cluster-autoscaler asked for the deletion of a still-creating instance.
    pub(crate) delete_requested: bool,
    /// The server may still be coming up: its create or power-on was sent but neither
    /// seen to end nor the server seen on (e.g. the answer was lost). Such a server must
    /// not be parked while off, or it would come up parked and run again by itself.
    pub(crate) boot_pending: bool,
    /// When the instance was parked (most recently parked servers are reused first).
    pub(crate) parked_at: Option<Instant>,
    /// Adopted after a restart as a powered-off member without a marker: it may be a
    /// create still running, or (in power-off mode) a parked server without its marker.
    pub(crate) adopted_off: bool,
    /// A create that failed or was cancelled may have left a half-created server: look
    /// for it by name in every list requested after the list request with this number,
    /// so that it is terminated, not left running.
    pub(crate) search_after_request: Option<u64>,
    /// The scale-down must terminate, never park (a half-created server, or a parked
    /// server beyond the pool's cap).
    pub(crate) terminate_only: bool,
    /// Set while the last create or power-on was refused by the API without being carried
    /// out (HTTP 429, rejected credentials): why it waits to be sent again
    /// (docs/engine-robustness.md, "Refused, not failed").
    pub(crate) waiting: Option<String>,
    /// How many times in a row the API refused that call, for the back-off.
    pub(crate) refusals: u32,
    /// The server's prices from its last server-info read.
    pub(crate) prices: ServerPrices,
    /// When the prices were last read (`None`: never).
    pub(crate) prices_read_at: Option<Instant>,
    /// The last read gave no price (failed call or failed lookup): read again sooner.
    pub(crate) prices_failed: bool,
    /// Since when the server is billed: its creation tag, else when the instance was
    /// made here (scale-up or first list), in wall-clock time.
    pub(crate) created_at: SystemTime,
}

impl Instance {
    /// The state reported to cluster-autoscaler. An instance whose deletion was asked for
    /// while its create or power-on request was in flight is reported Deleting at once,
    /// like any other deleted instance: cluster-autoscaler expects the target size to drop
    /// when `DeleteNodes` returns.
    pub(crate) fn reported_state(&self) -> Option<InstanceState> {
        match self.phase.reported_state() {
            Some(InstanceState::Creating) if self.delete_requested => Some(InstanceState::Deleting),
            other => other,
        }
    }

    pub(crate) fn new(
        key: InstanceKey,
        group: Arc<str>,
        name: String,
        phase: Phase,
        now: Instant,
    ) -> Self {
        let boot_pending = phase == Phase::CreateQueued;
        Self {
            key,
            group,
            name,
            server_id: None,
            phase,
            error: None,
            creating_since: now,
            command_since: None,
            delete_attempts: 0,
            retry_at: None,
            retry_after_list: None,
            delete_requested: false,
            boot_pending,
            parked_at: None,
            adopted_off: false,
            search_after_request: None,
            terminate_only: false,
            waiting: None,
            refusals: 0,
            prices: ServerPrices::default(),
            prices_read_at: None,
            prices_failed: false,
            created_at: SystemTime::now(),
        }
    }
}
