//! The node-group engine: which servers belong to which group, what state each is in, and
//! carrying out scale-up and scale-down against the Kamatera API.
//!
//! [`Engine`] is the handle cluster-autoscaler's calls go through. Reads come from an
//! in-memory snapshot and never call the API. Scale requests are checked and recorded at
//! once (the target size reflects them immediately) and carried out in the background by
//! the [`Reconciler`], the one task that talks to the API.
//!
//! # Restart safety
//!
//! All state can be rebuilt from the cloud. Before a server is powered off or terminated
//! for a scale-down it gets the marker tag `k8scam-deleting`; a parked server (kept
//! powered off for reuse) carries `k8scam-parked`. A restarted engine adopts member
//! servers by these rules:
//!
//! | server | adopted as |
//! |---|---|
//! | has `k8scam-deleting` | Deleting: the scale-down is finished |
//! | powered on | Running (a stale parked marker is removed) |
//! | off with `k8scam-parked` | Parked |
//! | off without marker | Creating (its create may still run); if it does not come up within `max-node-provision-time`, counted from adoption (the API tells no creation time): parked in power-off mode, failed in terminate mode so cluster-autoscaler removes it |
//!
//! A server is parked only when it is off (checked with the API just before) and no
//! create or power-on of it can still be running; otherwise it would come up parked and
//! be counted as Running again without any scale-up.
//!
//! # Odd answers and billed servers
//!
//! One odd API answer (an empty or short list, an undecodable row, a tag read without the
//! tags) changes nothing reported; a terminate that leaves its server, a failed create
//! that leaves one, and parked servers beyond the cap are all cleaned up. The rules are
//! in docs/engine-robustness.md.

mod actions;
mod error;
mod fast_hash;
pub mod first_start;
mod instances;
mod leadership;
mod listing;
mod model;
mod name_index;
mod options;
mod outcome;
mod plan;
mod pool;
mod reconciler;
mod scale;
mod snapshot;
mod state;
#[cfg(test)]
mod test_fixture;
mod trouble;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use kamatera_api::Client;
use tokio::sync::Notify;
use tokio::time::Instant;

pub use error::{Error, Result};
pub use leadership::{Adopted, GroupServer, InFlight, Role};
pub use model::{ErrorClass, ErrorCode, InstanceError, InstanceState, InstanceView};
pub use options::EngineOptions;
pub use reconciler::{PassReport, Reconciler};
pub use scale::NodeRef;
pub use snapshot::{FINDINGS_KEPT, Finding, FindingKind, GroupView};
pub use trouble::{ApiTrouble, ApiTroubleKind};

use crate::config::{CloudConfig, NodeGroupConfig};
use crate::naming::new_server_name;
use crate::template::NodeTemplate;
use snapshot::Snapshot;
use state::State;

/// Counters about the reconciler, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Passes that listed the servers.
    pub passes_ok: u64,
    /// Passes that failed.
    pub passes_failed: u64,
    /// How long the last pass took.
    pub last_pass_duration: Duration,
    /// Time since the last successful list, if there was one.
    pub since_last_success: Option<Duration>,
    /// Commands being polled.
    pub commands_in_flight: usize,
    /// Scale-downs whose last step failed and is being retried with back-off.
    pub deletions_retrying: usize,
    /// Instances whose creation (or power-on for reuse) failed since the engine started,
    /// by (group, error class label, error code); each instance counts once.
    pub failed_creates: BTreeMap<(String, &'static str, &'static str), u64>,
    /// Server list rows that did not decode and were skipped, since start.
    pub list_rows_skipped: u64,
    /// Server lists that lacked most known servers at once (not believed), since start.
    pub suspect_lists: u64,
    /// Parked servers terminated because their group's parked pool was over its cap,
    /// by group, since start.
    pub parked_trimmed: std::collections::BTreeMap<String, u64>,
}

/// Counts failed creates once per instance.
#[derive(Default)]
struct FailureCount {
    seen: HashSet<model::InstanceKey>,
    by: BTreeMap<(String, &'static str, &'static str), u64>,
}

/// State shared by the [`Engine`] handles and the [`Reconciler`].
pub(crate) struct EngineCore {
    state: Mutex<State>,
    snapshot: RwLock<Arc<Snapshot>>,
    wake: Notify,
    options: EngineOptions,
    config: Arc<CloudConfig>,
    stats: Mutex<EngineStats>,
    /// The last `max-node-provision-time` cluster-autoscaler sent, in nanoseconds (0 =
    /// none yet): `GetOptions` runs several times per group and loop, and only a change
    /// needs the state lock.
    ca_provision_nanos: AtomicU64,
    failures: Mutex<FailureCount>,
}

impl EngineCore {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-changed in a way
        // that matters more than stopping would, so keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the state without publishing a new snapshot. Failures it records are
    /// counted at the next [`update`](Self::update), which ends every pass: one walk over
    /// the instances per pass, not one per tag read or poll.
    pub(crate) fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.lock();
        f(&mut state)
    }

    /// Counts instances that failed since the last look (for metrics); wherever the error
    /// was set, it is counted here, once per instance.
    fn count_failures(&self, state: &State) {
        // An error is only ever set on an instance that changed.
        if !state.instances.has_changes() {
            return;
        }
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let FailureCount { seen, by } = &mut *failures;
        seen.retain(|key| state.instances.contains_key(key));
        for (key, instance) in &state.instances {
            if let Some(error) = &instance.error
                && seen.insert(*key)
            {
                *by.entry((
                    instance.group.to_string(),
                    error.class.label(),
                    error.code.as_str(),
                ))
                .or_default() += 1;
            }
        }
    }

    /// Runs `f` on the state and publishes the result to readers.
    pub(crate) fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.lock();
        let result = f(&mut state);
        self.count_failures(&state);
        let changed = state.instances.take_changed();
        let snapshot = Arc::new(Snapshot::build(&state, &self.snapshot(), &changed));
        // Published while the state is still locked: two updates publish in the order
        // they changed the state, so an older snapshot can never replace a newer one
        // (a caller would otherwise not see its own accepted scale request). Readers
        // hold this lock only to clone the Arc.
        *self
            .snapshot
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = snapshot;
        drop(state);
        result
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn record_pass(&self, took: Duration, ok: bool) {
        let mut stats = self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stats.last_pass_duration = took;
        if ok {
            stats.passes_ok += 1;
        } else {
            stats.passes_failed += 1;
        }
    }
}

/// The handle cluster-autoscaler's calls go through. Cheap to clone; safe to use from many
/// tasks at once.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<EngineCore>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("groups", &self.shared.config.node_groups.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Creates the engine and its reconciler for `config`, talking to the API through
    /// `client`. Nothing runs until the reconciler is run.
    pub fn new(
        config: Arc<CloudConfig>,
        client: Client,
        options: EngineOptions,
    ) -> Result<(Engine, Reconciler), Error> {
        let state =
            State::new(config.clone(), options.clone()).map_err(|error| Error::Kamatera {
                action: "building node group tags",
                error,
            })?;
        // Every group is built: the empty snapshot has none to share.
        let snapshot = Arc::new(Snapshot::build(
            &state,
            &Snapshot::default(),
            &Default::default(),
        ));
        let shared = Arc::new(EngineCore {
            state: Mutex::new(state),
            snapshot: RwLock::new(snapshot),
            wake: Notify::new(),
            options,
            config,
            stats: Mutex::new(EngineStats::default()),
            ca_provision_nanos: AtomicU64::new(0),
            failures: Mutex::new(FailureCount::default()),
        });
        Ok((
            Engine {
                shared: shared.clone(),
            },
            Reconciler::new(shared, client),
        ))
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &CloudConfig {
        &self.shared.config
    }

    /// Every node group, sorted by name.
    pub fn node_groups(&self) -> Vec<GroupView> {
        self.shared.snapshot().groups.values().cloned().collect()
    }

    /// One node group.
    pub fn node_group(&self, group: &str) -> Result<GroupView, Error> {
        self.shared
            .snapshot()
            .groups
            .get(group)
            .cloned()
            .ok_or_else(|| unknown(group))
    }

    /// The group's target size: instances that are Creating or Running.
    pub fn target_size(&self, group: &str) -> Result<u32, Error> {
        self.shared
            .snapshot()
            .groups
            .get(group)
            .map(|g| g.target_size)
            .ok_or_else(|| unknown(group))
    }

    /// The group's instances with their states and errors, shared with the snapshot (no
    /// copy: cluster-autoscaler asks for every group's nodes at every loop).
    pub fn nodes(&self, group: &str) -> Result<Arc<[InstanceView]>, Error> {
        self.shared
            .snapshot()
            .groups
            .get(group)
            .map(|g| g.instances.clone())
            .ok_or_else(|| unknown(group))
    }

    /// The group a node belongs to: matched by provider id, or by node name when the
    /// node has no provider id. `None` means the node is not managed here.
    pub fn node_group_for_node(&self, provider_id: &str, node_name: &str) -> Option<String> {
        let snapshot = self.shared.snapshot();
        let group = if provider_id.is_empty() {
            snapshot.by_name.get(node_name)
        } else {
            snapshot.group_by_provider_id(&self.shared.config.provider_id_prefix, provider_id)
        };
        group.map(str::to_owned)
    }

    /// The instance id a managed server's Node should carry as `spec.providerID`, when
    /// `server_name` is a reported instance of some group.
    pub fn expected_provider_id(&self, server_name: &str) -> Option<String> {
        let snapshot = self.shared.snapshot();
        snapshot.by_name.contains(server_name).then(|| {
            crate::naming::provider_id(&self.shared.config.provider_id_prefix, server_name)
        })
    }

    /// Names of every parked server (kept powered off for reuse), in all groups.
    pub fn parked_servers(&self) -> Vec<String> {
        let snapshot = self.shared.snapshot();
        snapshot
            .groups
            .values()
            .flat_map(|g| g.parked_servers.iter().cloned())
            .collect()
    }

    /// The group's configuration.
    pub fn group_config(&self, group: &str) -> Result<&NodeGroupConfig, Error> {
        self.shared
            .config
            .node_groups
            .get(group)
            .ok_or_else(|| unknown(group))
    }

    /// A template of the group's next node, for scaling up from zero.
    pub fn template(&self, group: &str) -> Result<NodeTemplate, Error> {
        let config = self.group_config(group)?;
        let name = new_server_name(&config.server.name_prefix, &mut rand::rng());
        Ok(NodeTemplate::for_group(config, &name))
    }

    /// Called at the start of every cluster-autoscaler loop. Marks the caller as active
    /// (so changes are carried out) and fails when the snapshot is missing or older than
    /// `stale_after`, so that no decision is made on old data.
    ///
    /// It also ends a [`Engine::suspend`]: the caller is a (new) cluster-autoscaler.
    pub fn refresh(&self) -> Result<(), Error> {
        let now = Instant::now();
        self.shared.with_state(|state| {
            if state.suspended {
                tracing::info!("a cluster-autoscaler called Refresh; changes resume");
            }
            state.last_refresh_call = Some(now);
            state.suspended = false;
        });
        let snapshot = self.shared.snapshot();
        match snapshot.last_list_ok {
            None => Err(Error::NotReady {
                last_error: snapshot.last_list_error.clone(),
            }),
            Some(at) if now.saturating_duration_since(at) > self.shared.options.stale_after => {
                Err(Error::StaleSnapshot {
                    age: now.saturating_duration_since(at),
                    last_error: snapshot.last_list_error.clone(),
                })
            }
            Some(_) => Ok(()),
        }
    }

    /// Stops every change to the cloud until the next [`Engine::refresh`], keeping every
    /// instance, command and deadline: `Cleanup` from a cluster-autoscaler that shuts
    /// down. The reconciler keeps listing and polling the commands already sent, so the
    /// next cluster-autoscaler sees exactly the target and instances the last one left.
    pub fn suspend(&self) {
        self.shared.with_state(|state| {
            state.suspended = true;
            state.last_refresh_call = None;
        });
    }

    /// True between [`Engine::suspend`] and the next [`Engine::refresh`].
    pub fn is_suspended(&self) -> bool {
        self.shared.with_state(|state| state.suspended)
    }

    /// Records cluster-autoscaler's own `max-node-provision-time` (sent with every
    /// `GetOptions`). It is the provision deadline of groups that set none themselves:
    /// group key, then this, then [`EngineOptions::default_max_node_provision_time`].
    /// Zero means "not sent" and is ignored.
    pub fn set_autoscaler_max_node_provision_time(&self, time: std::time::Duration) {
        let nanos = u64::try_from(time.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0
            || self
                .shared
                .ca_provision_nanos
                .swap(nanos, Ordering::Relaxed)
                == nanos
        {
            return;
        }
        self.shared.with_state(|state| {
            if state.ca_max_node_provision_time != Some(time) {
                tracing::info!(
                    ?time,
                    "following cluster-autoscaler's max-node-provision-time"
                );
                state.ca_max_node_provision_time = Some(time);
            }
        });
    }

    /// The provision deadline of `group`: its own `max-node-provision-time`, else
    /// cluster-autoscaler's, else the engine's default.
    pub fn provision_time(&self, group: &str) -> Result<std::time::Duration, Error> {
        self.shared.with_state(|state| {
            let ca = state.ca_max_node_provision_time;
            state
                .groups
                .get(group)
                .map(|facts| facts.provision_time(&state.options, ca))
                .ok_or_else(|| unknown(group))
        })
    }

    /// What the server lists have been failing with since the last good one (`None` while
    /// they succeed): the reason a snapshot is old, for `/readyz`, `status` and metrics.
    pub fn api_trouble(&self) -> Option<ApiTrouble> {
        self.shared.snapshot().api_trouble.clone()
    }

    /// True once the servers have been listed successfully at least once, with the
    /// membership of every listed server known.
    pub fn is_ready(&self) -> bool {
        self.shared.snapshot().last_list_ok.is_some()
    }

    /// Adds `delta` instances to the group: checked and recorded at once, created in the
    /// background.
    pub fn increase_size(&self, group: &str, delta: i64) -> Result<(), Error> {
        self.shared
            .update(|state| state.increase_size(group, delta, Instant::now()))?;
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Scales the group down by the given nodes: every node is checked first (all or
    /// nothing), then marked and deleted in the background.
    pub fn delete_nodes(&self, group: &str, nodes: &[NodeRef]) -> Result<(), Error> {
        self.shared
            .update(|state| state.delete_nodes(group, nodes, Instant::now()))?;
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Lowers the target by dropping requested instances whose create was not sent yet
    /// (`delta` is negative).
    pub fn decrease_target_size(&self, group: &str, delta: i64) -> Result<(), Error> {
        self.shared
            .update(|state| state.decrease_target_size(group, delta))
    }

    /// Leader or standby.
    pub fn role(&self) -> Role {
        self.shared.with_state(|state| state.leadership.role())
    }

    /// The work in flight that a successor would need: to be kept where the next leader
    /// reads it (see [`InFlight`]).
    pub fn in_flight(&self) -> InFlight {
        self.shared.with_state(|state| state.in_flight())
    }

    /// Becomes the leader after `left` (the predecessor's last [`InFlight`]): its creates
    /// are looked for by name, never sent again; its power-ons are sent again; its
    /// scale-downs are finished. Nothing is changed before the next pass has listed the
    /// servers and re-read every server's tags; that pass starts at once.
    pub fn take_leadership(&self, left: &InFlight) -> Adopted {
        let adopted = self.shared.update(|state| {
            let adopted = state.take_leadership(left, Instant::now());
            state.pass_requested = true;
            adopted
        });
        self.shared.wake.notify_one();
        adopted
    }

    /// Becomes a standby: no new change is sent (calls already sent finish), and passes
    /// only keep the snapshot warm.
    pub fn step_down(&self) {
        self.shared.update(State::step_down);
    }

    /// Reconciler counters.
    pub fn stats(&self) -> EngineStats {
        let snapshot = self.shared.snapshot();
        let mut stats = self
            .shared
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        stats.since_last_success = snapshot.last_list_ok.map(|at| at.elapsed());
        stats.commands_in_flight = snapshot.commands_in_flight;
        stats.deletions_retrying = snapshot.deletions_retrying;
        stats.failed_creates = self
            .shared
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .by
            .clone();
        stats.list_rows_skipped = snapshot.counters.rows_skipped;
        stats.suspect_lists = snapshot.counters.suspect_lists;
        stats.parked_trimmed = snapshot.counters.parked_trimmed.clone();
        stats
    }
}

fn unknown(group: &str) -> Error {
    Error::UnknownNodeGroup {
        group: group.to_owned(),
    }
}
