//! The engine's state: the node groups, their instances, and the servers last listed.
//! Owned behind one mutex; every method here is synchronous and quick (no I/O).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kamatera_api::{CommandStatus, CommandStatuses, QueueItem, ServerId};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::time::Instant;

use super::fast_hash::FastIndexMap;
use super::instances::Instances;
use super::model::{
    DeleteStep, ErrorClass, ErrorCode, Instance, InstanceError, InstanceKey, Phase,
};
use super::options::EngineOptions;
use super::snapshot::{FINDINGS_KEPT, Finding, FindingKind};
use crate::config::{CloudConfig, NodeGroupConfig};
use crate::naming::{CLUSTER_TAG_PREFIX, DELETING_MARKER, MembershipTags, PARKED_MARKER};

/// A server from the last successful list, with its tags once read.
#[derive(Debug, Clone)]
pub(crate) struct KnownServer {
    pub(crate) name: String,
    pub(crate) power_on: bool,
    /// What the server's tags say, `None` until read. Only what the engine asks of
    /// them is kept, not the tags themselves: a pass asks it of every server, and the
    /// tag strings of 10,000 servers cost megabytes and a trip to memory per tag.
    pub(crate) tags: Option<TagFacts>,
    pub(crate) tags_read_at: Option<Instant>,
    /// Number of the last list that showed this server (or kept it: an undecodable row).
    pub(crate) last_seen_list: u64,
    /// Consecutive lists that lacked this server (see docs/engine-robustness.md).
    pub(crate) missing_lists: u32,
    /// Lists requested up to this number predate a power-off the engine saw for itself,
    /// so they may not change the power state.
    pub(crate) power_pinned_until_request: u64,
    /// The last tag read lacked the membership tags this server had; one more read
    /// decides.
    pub(crate) membership_doubt: bool,
    /// The last adoption check that found an instance owning this server (see
    /// `State::claim_epoch`).
    pub(crate) claimed_in: u64,
}

impl KnownServer {
    /// A server first seen in list `list`, tags not read yet.
    pub(crate) fn listed(name: String, power_on: bool, list: u64) -> Self {
        Self {
            name,
            power_on,
            tags: None,
            tags_read_at: None,
            last_seen_list: list,
            missing_lists: 0,
            power_pinned_until_request: 0,
            membership_doubt: false,
            claimed_in: 0,
        }
    }

    /// True when its tags were read and hold the parked marker.
    pub(crate) fn has_parked_marker(&self) -> bool {
        self.tags.as_ref().is_some_and(|t| t.parked_marker)
    }

    /// True when its tags were read and hold the deleting marker.
    pub(crate) fn has_deleting_marker(&self) -> bool {
        self.tags.as_ref().is_some_and(|t| t.deleting_marker)
    }
}

/// What a server's tags say to the engine (see [`State::tag_facts`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TagFacts {
    /// The group whose membership tags the server carries (the first one in tag order
    /// when it carries several), as interned in [`GroupFacts::name`].
    pub(crate) group: Option<Arc<str>>,
    /// The other groups whose membership tags it carries (none but by mistake).
    pub(crate) other_groups: Box<[Arc<str>]>,
    pub(crate) parked_marker: bool,
    pub(crate) deleting_marker: bool,
    /// The creation hour its `k8scat-` tag records.
    pub(crate) created: Option<std::time::SystemTime>,
}

impl TagFacts {
    /// The facts of a server created with the membership tags of `group` alone.
    pub(crate) fn member_of(group: Arc<str>) -> Self {
        Self {
            group: Some(group),
            ..Self::default()
        }
    }

    /// True when the tags hold both membership tags of `group`. An interned name is
    /// recognised by its address first.
    pub(crate) fn carries(&self, group: &Arc<str>) -> bool {
        self.group
            .iter()
            .chain(self.other_groups.iter())
            .any(|g| Arc::ptr_eq(g, group) || g == group)
    }
}

/// A node group's fixed facts.
#[derive(Debug, Clone)]
pub(crate) struct GroupFacts {
    /// The group's name, shared by every instance of the group: comparing and reading
    /// it stays in the cache however many instances there are.
    pub(crate) name: Arc<str>,
    pub(crate) config: NodeGroupConfig,
    pub(crate) tags: MembershipTags,
}

impl GroupFacts {
    /// How long an instance may take to come up before it is reported failed: the
    /// group's `max-node-provision-time`, else cluster-autoscaler's own setting (`ca`,
    /// learnt from its `GetOptions` defaults), else the engine's default.
    pub(crate) fn provision_time(&self, options: &EngineOptions, ca: Option<Duration>) -> Duration {
        self.config
            .autoscaling
            .max_node_provision_time
            .or(ca)
            .unwrap_or(options.default_max_node_provision_time)
    }
}

/// Everything the engine knows.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: Arc<CloudConfig>,
    pub(crate) options: EngineOptions,
    pub(crate) groups: BTreeMap<String, GroupFacts>,
    /// `k8sca-<cluster>`, carried by every member.
    cluster_tag: String,
    /// `k8scang-<group>` → the group's interned name ([`GroupFacts::name`]).
    group_by_tag: HashMap<String, Arc<str>>,
    pub(crate) instances: Instances,
    pub(crate) next_key: InstanceKey,
    pub(crate) servers: FastIndexMap<ServerId, KnownServer>,
    /// Number of the last adoption check: it marks every owned server with it, so that
    /// one walk over the servers finds the unowned ones.
    pub(crate) claim_epoch: u64,
    pub(crate) last_list_ok: Option<Instant>,
    /// Successful lists so far, to tell whether the servers were listed again since some
    /// event.
    pub(crate) lists: u64,
    pub(crate) last_list_error: Option<String>,
    pub(crate) last_refresh_call: Option<Instant>,
    /// cluster-autoscaler's `--max-node-provision-time`, once it has sent it.
    pub(crate) ca_max_node_provision_time: Option<Duration>,
    /// Set by `Cleanup`: no change to the cloud until the next `refresh()`.
    pub(crate) suspended: bool,
    pub(crate) rng: StdRng,
    /// List requests started so far (a list's number is taken before it is sent).
    pub(crate) list_requests: u64,
    /// The request number of the last list applied.
    pub(crate) applied_request: u64,
    /// Counters of odd answers and pool trimming, for metrics.
    pub(crate) counters: super::listing::RobustnessCounters,
    /// The failure server lists are meeting, logged without repeating itself.
    pub(crate) trouble: super::trouble::TroubleLog,
    /// By group, the last changes found made to its servers outside the provider.
    pub(crate) findings: BTreeMap<String, Arc<[Finding]>>,
    /// Leader or standby (see `leadership.rs`).
    pub(crate) leadership: super::leadership::Leadership,
    /// The next pass reads the tags of every server, not only the unread and stale ones:
    /// a new leader must see the markers its predecessor wrote.
    pub(crate) reread_all_tags: bool,
    /// Set when a pass should run at once rather than at the next interval.
    pub(crate) pass_requested: bool,
}

impl State {
    pub(crate) fn new(
        config: Arc<CloudConfig>,
        options: EngineOptions,
    ) -> Result<Self, kamatera_api::Error> {
        let mut groups = BTreeMap::new();
        for (name, group) in &config.node_groups {
            let tags = MembershipTags::new(&config.cluster_name, name)?;
            groups.insert(
                name.clone(),
                GroupFacts {
                    name: Arc::from(name.as_str()),
                    config: group.clone(),
                    tags,
                },
            );
        }
        let cluster_tag = format!("{CLUSTER_TAG_PREFIX}{}", config.cluster_name);
        let group_by_tag = groups
            .values()
            .map(|facts| (facts.tags.group.to_string(), facts.name.clone()))
            .collect();
        let rng = match options.name_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let leadership = if options.start_as_standby {
            super::leadership::Leadership::Standby
        } else {
            super::leadership::Leadership::Leader { after_request: 0 }
        };
        Ok(Self {
            config,
            options,
            groups,
            cluster_tag,
            group_by_tag,
            instances: Instances::default(),
            next_key: 1,
            servers: FastIndexMap::default(),
            claim_epoch: 0,
            last_list_ok: None,
            lists: 0,
            last_list_error: None,
            last_refresh_call: None,
            ca_max_node_provision_time: None,
            suspended: false,
            rng,
            list_requests: 0,
            applied_request: 0,
            counters: Default::default(),
            trouble: Default::default(),
            findings: BTreeMap::new(),
            leadership,
            reread_all_tags: false,
            pass_requested: false,
        })
    }

    pub(crate) fn add_instance(
        &mut self,
        group: &str,
        name: String,
        phase: Phase,
        now: Instant,
    ) -> InstanceKey {
        let key = self.next_key;
        self.next_key += 1;
        let group = self
            .groups
            .get(group)
            .map_or_else(|| Arc::from(group), |facts| facts.name.clone());
        self.instances
            .insert(key, Instance::new(key, group, name, phase, now));
        key
    }

    /// True while a cluster-autoscaler has called `Refresh` recently (or when the engine
    /// is configured not to wait for one).
    pub(crate) fn is_active(&self, now: Instant) -> bool {
        if self.suspended || !self.may_change_the_cloud() {
            return false;
        }
        !self.options.require_active_caller
            || self
                .last_refresh_call
                .is_some_and(|at| now.saturating_duration_since(at) <= self.options.active_window)
    }

    /// Marks the list taken at `listed_at` as fully applied: its servers have their tags
    /// and are adopted, so readers may now trust the snapshot (and `refresh()` succeed).
    pub(crate) fn finish_list(&mut self, listed_at: Instant) {
        self.last_list_ok = Some(listed_at);
        self.last_list_error = None;
    }

    /// Servers whose tags must be read: never read, or read longer ago than the refresh
    /// interval (at most `budget` of those per pass, so re-reads spread out); every
    /// server once after this replica became the leader.
    pub(crate) fn servers_needing_tags(&self, now: Instant) -> Vec<ServerId> {
        let mut unread = Vec::new();
        let mut stale = Vec::new();
        for (id, server) in &self.servers {
            if self.reread_all_tags {
                unread.push(id.clone());
                continue;
            }
            match server.tags_read_at {
                None => unread.push(id.clone()),
                Some(at)
                    if now.saturating_duration_since(at) >= self.options.tag_refresh_interval =>
                {
                    stale.push((at, id.clone()))
                }
                Some(_) => {}
            }
        }
        stale.sort();
        unread.extend(
            stale
                .into_iter()
                .take(self.options.tag_refresh_budget)
                .map(|(_, id)| id),
        );
        unread
    }

    /// Members whose prices should be read now: never read, read longer ago than
    /// `price_refresh_interval`, or failed longer ago than `tag_refresh_interval`; the
    /// never-read first, then the oldest, at most `price_read_budget` of them.
    pub(crate) fn members_needing_prices(&self, now: Instant) -> Vec<(InstanceKey, ServerId)> {
        let mut due: Vec<(Option<Instant>, InstanceKey, ServerId)> = self
            .instances
            .values()
            .filter_map(|instance| {
                let id = instance.server_id.as_ref()?;
                let is_due = instance.prices_read_at.is_none_or(|at| {
                    let wait = if instance.prices_failed {
                        self.options.tag_refresh_interval
                    } else {
                        self.options.price_refresh_interval
                    };
                    now.saturating_duration_since(at) >= wait
                });
                is_due.then(|| (instance.prices_read_at, instance.key, id.clone()))
            })
            .collect();
        // `None` (never read) sorts first.
        due.sort_by_key(|(at, key, _)| (*at, *key));
        due.into_iter()
            .take(self.options.price_read_budget)
            .map(|(_, key, id)| (key, id))
            .collect()
    }

    /// Records a price read of instance `key`: `None` when the call failed. Prices known
    /// from an earlier read are kept when this one tells none.
    pub(crate) fn apply_prices(
        &mut self,
        key: InstanceKey,
        prices: Option<crate::pricing::ServerPrices>,
        now: Instant,
    ) {
        let Some(instance) = self.instances.get_mut(&key) else {
            return;
        };
        let known = prices.filter(|p| !p.is_unknown());
        instance.prices_failed = known.is_none();
        if let Some(prices) = known {
            instance.prices = prices;
        }
        instance.prices_read_at = Some(now);
    }

    /// Records tags read for `server`, unconditionally.
    pub(crate) fn apply_tags(&mut self, server: &ServerId, tags: Vec<String>, now: Instant) {
        let facts = self.tag_facts(&tags);
        if let Some(known) = self.servers.get_mut(server) {
            known.tags = Some(facts);
            known.tags_read_at = Some(now);
        }
    }

    /// What `tags` say: the groups they make a server a member of, and the markers.
    pub(crate) fn tag_facts(&self, tags: &[String]) -> TagFacts {
        let mut facts = TagFacts {
            parked_marker: tags.iter().any(|t| t == PARKED_MARKER),
            deleting_marker: tags.iter().any(|t| t == DELETING_MARKER),
            created: crate::cost::created_from_tags(tags.iter().map(String::as_str)),
            ..TagFacts::default()
        };
        // A look-up by the group tag keeps this O(tags), not O(groups), per server.
        if tags.contains(&self.cluster_tag) {
            let mut groups = tags
                .iter()
                .filter_map(|t| self.group_by_tag.get(t))
                .cloned();
            facts.group = groups.next();
            facts.other_groups = groups.collect();
        }
        facts
    }

    /// True when `tags` hold none of the provider's own tags (cluster, group or marker
    /// tags): an empty answer, or one with only foreign tags.
    pub(crate) fn holds_none_of_ours(&self, tags: &[String]) -> bool {
        !tags.iter().any(|t| {
            *t == self.cluster_tag
                || self.group_by_tag.contains_key(t)
                || t == PARKED_MARKER
                || t == DELETING_MARKER
        })
    }

    /// Records that `server` is off, as the engine just saw for itself. The last list may
    /// predate it, and a parked server listed "on" would look powered on again: only a
    /// list requested from now on may change its power state.
    pub(crate) fn note_powered_off(&mut self, server: Option<&ServerId>) {
        let requested = self.list_requests;
        if let Some(known) = server.and_then(|id| self.servers.get_mut(id)) {
            known.power_on = false;
            known.power_pinned_until_request = requested;
        }
    }

    /// Keeps what the engine knows of the tags of `server` in step with a marker change
    /// it made (`add` and `remove` are [`PARKED_MARKER`] or [`DELETING_MARKER`]).
    pub(crate) fn note_marker(
        &mut self,
        server: Option<&ServerId>,
        add: Option<&str>,
        remove: Option<&str>,
    ) {
        let Some(facts) = server
            .and_then(|id| self.servers.get_mut(id))
            .and_then(|known| known.tags.as_mut())
        else {
            return;
        };
        for (marker, present) in [(remove, false), (add, true)] {
            match marker {
                Some(PARKED_MARKER) => facts.parked_marker = present,
                Some(DELETING_MARKER) => facts.deleting_marker = present,
                Some(other) => debug_assert!(false, "not a marker: {other}"),
                None => {}
            }
        }
    }

    /// Every command some instance waits for.
    pub(crate) fn outstanding_commands(&self) -> Vec<kamatera_api::CommandId> {
        self.instances.summary().commands.clone()
    }

    /// Routes command results to the instances that own them and moves those instances
    /// on. A command the queue does not show (yet) or a failed poll changes nothing: only
    /// a command's own deadline can fail an instance.
    pub(crate) fn apply_statuses(&mut self, statuses: &CommandStatuses, now: Instant) {
        let keys: Vec<InstanceKey> = self.instances.keys().copied().collect();
        for key in keys {
            let Some(command) = self
                .instances
                .get(&key)
                .and_then(|i| i.phase.command().cloned())
            else {
                continue;
            };
            let Some(item) = statuses.get(&command) else {
                continue;
            };
            if item.is_terminal() {
                self.command_finished(key, item, now);
            }
        }
    }

    fn command_finished(&mut self, key: InstanceKey, item: &QueueItem, now: Instant) {
        let Some(instance) = self.instances.get_mut(&key) else {
            return;
        };
        let status = item.status.clone().unwrap_or(CommandStatus::Pending);
        let log = item.log.clone().unwrap_or_default();
        let group = instance.group.clone();
        instance.command_since = None;
        // A create or power-on that ended (either way) no longer brings the server up.
        instance.boot_pending = false;
        match (&instance.phase, status) {
            (Phase::CreateRunning { .. }, CommandStatus::Complete) => {
                if let Some(final_name) = item.created_server_name()
                    && final_name != instance.name
                {
                    tracing::info!(group = &*group, requested = %instance.name, server = final_name, "Kamatera renamed the new server");
                    instance.name = final_name.to_owned();
                }
                tracing::info!(group = &*group, server = %instance.name, "create command completed");
                instance.phase = Phase::AwaitRunning;
            }
            (Phase::CreateRunning { command }, status) => {
                let (code, what) = if status == CommandStatus::Cancelled {
                    (ErrorCode::CreateCancelled, "was cancelled")
                } else {
                    (ErrorCode::CreateFailed, "failed")
                };
                let message = format!("create command {command} {what}: {}", summarize_log(&log));
                tracing::warn!(group = &*group, server = %instance.name, %message, "scale-up failed");
                instance.error = Some(InstanceError {
                    class: classify(&log),
                    code,
                    message,
                });
                instance.phase = Phase::CreateFailed;
                instance.search_after_request = Some(self.list_requests);
            }
            (Phase::PowerOnRunning { .. }, CommandStatus::Complete) => {
                tracing::info!(group = &*group, server = %instance.name, "power-on for reuse completed");
                instance.phase = Phase::AwaitRunning;
            }
            (Phase::PowerOnRunning { command }, _) => {
                let message = format!(
                    "power-on command {command} did not complete: {}",
                    summarize_log(&log)
                );
                tracing::warn!(group = &*group, server = %instance.name, %message, "scale-up by power-on failed");
                instance.error = Some(InstanceError {
                    class: ErrorClass::Other,
                    code: ErrorCode::PowerOnFailed,
                    message,
                });
                instance.phase = Phase::CreateFailed;
            }
            (Phase::Deleting(DeleteStep::AfterCommand { .. }), status) => {
                // The create or power-on that was running when the deletion was asked for
                // has ended; if it produced a server, delete that.
                if status == CommandStatus::Complete {
                    if let Some(final_name) = item.created_server_name() {
                        instance.name = final_name.to_owned();
                    }
                } else {
                    // A failed create can leave a half-created server: find it by name
                    // and terminate it (docs/engine-robustness.md).
                    instance.search_after_request = Some(self.list_requests);
                    instance.terminate_only = true;
                }
                instance.phase = Phase::Deleting(DeleteStep::Mark);
            }
            (Phase::Deleting(DeleteStep::PoweringOff { command }), CommandStatus::Complete) => {
                tracing::info!(group = &*group, server = %instance.name, %command, "power-off completed");
                instance.phase = Phase::Deleting(DeleteStep::Finish);
                instance.delete_attempts = 0;
            }
            (Phase::Deleting(DeleteStep::Terminating { command }), CommandStatus::Complete) => {
                tracing::info!(group = &*group, server = %instance.name, %command, "terminate completed");
                instance.phase = Phase::Deleting(DeleteStep::AwaitGone);
                // The deadline for the server to leave the list; past it the terminate is
                // sent again (docs/engine-robustness.md).
                instance.command_since = Some(now);
            }
            (
                Phase::Deleting(
                    step @ (DeleteStep::PoweringOff { .. } | DeleteStep::Terminating { .. }),
                ),
                _,
            ) => {
                let retry = if matches!(step, DeleteStep::PoweringOff { .. }) {
                    DeleteStep::Mark
                } else {
                    DeleteStep::Finish
                };
                let reason = format!("command ended without completing: {}", summarize_log(&log));
                let delay = self.options.delete_backoff(instance.delete_attempts);
                schedule_delete_retry(instance, retry, &reason, delay, now);
            }
            _ => {}
        }
    }

    /// Logs a change found made to `server` of `group` outside the provider (one line,
    /// with what was done) and keeps it for the group's view, the last
    /// [`FINDINGS_KEPT`] per group. Rare, so the group's list is copied each time.
    pub(crate) fn record_finding(
        &mut self,
        group: &str,
        kind: FindingKind,
        server: &ServerId,
        detail: String,
        now: Instant,
    ) {
        let name = self
            .servers
            .get(server)
            .map(|known| known.name.clone())
            .unwrap_or_default();
        tracing::warn!(group, server = %name, id = %server, finding = kind.as_str(), "{detail}");
        let finding = Finding {
            kind,
            server: name,
            server_id: server.as_str().to_owned(),
            detail,
            at: now,
        };
        let kept = self.findings.entry(group.to_owned()).or_default();
        let skip = (kept.len() + 1).saturating_sub(FINDINGS_KEPT);
        *kept = kept
            .iter()
            .skip(skip)
            .cloned()
            .chain(std::iter::once(finding))
            .collect();
    }

    /// The instance that owns `server`, if any (a walk over the instances: for the rare
    /// findings only).
    pub(crate) fn owner_of(&self, server: &ServerId) -> Option<&Instance> {
        self.instances
            .values()
            .find(|i| i.server_id.as_ref() == Some(server))
    }

    /// The group whose membership tags `server` carries.
    pub(crate) fn group_of(server: &KnownServer) -> Option<&str> {
        server.tags.as_ref()?.group.as_deref()
    }

    /// Number of parked servers in `group` (including those being parked right now).
    pub(crate) fn parked_count(&self, group: &str) -> usize {
        self.instances
            .values()
            .filter(|i| &*i.group == group)
            .filter(|i| {
                matches!(
                    i.phase,
                    Phase::Parked | Phase::Deleting(DeleteStep::Parking)
                )
            })
            .count()
    }
}

/// Moves a failed delete step back to `retry` after a back-off, keeping it visible.
pub(crate) fn schedule_delete_retry(
    instance: &mut Instance,
    retry: DeleteStep,
    reason: &str,
    delay: Duration,
    now: Instant,
) {
    instance.delete_attempts += 1;
    instance.retry_at = Some(now + delay);
    instance.phase = Phase::Deleting(retry);
    tracing::warn!(
        group = %instance.group,
        server = %instance.name,
        attempt = instance.delete_attempts,
        retry_in = ?delay,
        reason,
        "scale-down step failed; will retry"
    );
}

/// Quota, capacity and "datacenter full" messages mean "try elsewhere" to
/// cluster-autoscaler; everything else is a plain failure.
pub(crate) fn classify(message: &str) -> ErrorClass {
    let lower = message.to_ascii_lowercase();
    const OUT_OF_RESOURCES: [&str; 7] = [
        "quota",
        "insufficient",
        "capacity",
        "limit",
        "out of resources",
        "not enough",
        "no available",
    ];
    if OUT_OF_RESOURCES.iter().any(|word| lower.contains(word)) {
        ErrorClass::OutOfResources
    } else {
        ErrorClass::Other
    }
}

/// The first lines of a command log, enough to say why it failed.
pub(crate) fn summarize_log(log: &str) -> String {
    let text: String = log.lines().take(3).collect::<Vec<_>>().join(" / ");
    if text.is_empty() {
        "no log".to_owned()
    } else if text.chars().count() > 300 {
        text.chars().take(300).collect::<String>() + "…"
    } else {
        text
    }
}

/// Markers that decide how a member server found without an instance is adopted.
pub(crate) fn adoption_phase(server: &KnownServer) -> Phase {
    if server.has_deleting_marker() {
        Phase::Deleting(DeleteStep::Mark)
    } else if server.power_on {
        Phase::Running
    } else if server.has_parked_marker() {
        Phase::Parked
    } else {
        // Powered off without a marker: most likely a create that was running when the
        // provider restarted (a server is listed off while its create runs). Report it
        // as creating. In terminate mode it fails if it does not come up within the
        // provision time, so cluster-autoscaler removes it; in power-off mode it may
        // also be a server parked by hand or by an older provider, so it is parked then
        // (see `Instance::adopted_off`). Never parked at once: a server whose create
        // still runs would come up parked and be running outside the target.
        Phase::AwaitRunning
    }
}
