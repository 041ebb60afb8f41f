//! One step of the state machine: attach and adopt listed servers, move every instance
//! on, and plan the API calls to make.

use kamatera_api::{CreateServerRequest, ServerId};
use tokio::time::Instant;

use super::actions::Action;
use super::fast_hash::{FastMap, FastSet};
use super::model::{
    DeleteStep, ErrorClass, ErrorCode, Instance, InstanceError, InstanceKey, Phase,
};
use super::state::{GroupFacts, KnownServer, State, adoption_phase};
use crate::naming::PARKED_MARKER;

/// The create request for a new server `name` of `group`.
pub(crate) fn create_request(
    group: &GroupFacts,
    name: &str,
    created_at: std::time::SystemTime,
) -> Result<CreateServerRequest, kamatera_api::Error> {
    // The creation hour travels with the server, for the month-to-date cost after a
    // restart (crate::cost).
    let mut tags = group.tags.to_vec();
    tags.push(kamatera_api::Tag::new(crate::cost::created_tag(
        created_at,
    ))?);
    let server = &group.config.server;
    let mut builder = CreateServerRequest::builder(name, &server.datacenter, &server.image)
        .cpu(server.cpu)
        .ram_mb(server.ram_mb)
        .disks(server.disks.iter().copied())
        .networks(server.networks.iter().cloned())
        .daily_backup(server.daily_backup)
        .managed(server.managed)
        .billing(server.billing.clone())
        .password(server.password.clone())
        .power_on_after_create(true)
        .script(server.script.clone())
        .tags(tags);
    if let Some(key) = &server.ssh_key {
        builder = builder.ssh_key(key.clone());
    }
    builder.build()
}

impl State {
    /// Advances every instance with what the last list and polls showed, and returns the
    /// API calls to make now (none unless a cluster-autoscaler is active).
    pub(crate) fn advance(&mut self, now: Instant) -> Vec<Action> {
        self.give_up_refused(now);
        if self.last_list_ok.is_none() {
            return Vec::new();
        }
        self.attach_servers();
        // Only instances that may change are visited one by one: in the usual pass
        // nearly every instance is settled, and one walk in key order finds the others.
        let mut due = self.claim_servers();
        due.extend(self.adopt_servers(now));
        let active = self.is_active(now);
        if active {
            due.extend(self.trim_parked_pools());
        }
        due.sort_unstable();
        due.dedup();
        let mut actions = Vec::new();
        for key in due {
            self.advance_instance(key, now, active, &mut actions);
        }
        actions
    }

    /// Marks every server an instance owns with a new check number, so that one walk
    /// over the servers finds the unowned ones, and returns the instances that are not
    /// settled (see [`is_settled`]).
    fn claim_servers(&mut self) -> Vec<InstanceKey> {
        self.claim_epoch += 1;
        let epoch = self.claim_epoch;
        let mut due = Vec::new();
        // Instances adopted or created in list order own servers in that order: the entry
        // after the last one found is nearly always the next instance's (as in
        // `apply_list`), and checking it first reads the servers in sequence.
        let mut cursor = 0;
        for instance in self.instances.values() {
            let position =
                instance
                    .server_id
                    .as_ref()
                    .and_then(|id| match self.servers.get_index(cursor) {
                        Some((listed, _)) if listed == id => Some(cursor),
                        _ => self.servers.get_index_of(id),
                    });
            let mut server = position.and_then(|position| {
                cursor = position + 1;
                self.servers
                    .get_index_mut(position)
                    .map(|(_, server)| server)
            });
            if let Some(server) = server.as_mut() {
                server.claimed_in = epoch;
            }
            if !is_settled(instance, server.as_deref()) {
                due.push(instance.key);
            }
        }
        due
    }

    /// Gives instances being created the id of the listed server with their name.
    fn attach_servers(&mut self) {
        // Usually every instance has its server: then there is nothing to index.
        if self.instances.summary().creating.is_empty() {
            return;
        }
        let mut by_name: FastMap<(&str, &str), ServerId> = FastMap::default();
        for (id, server) in &self.servers {
            if let Some(group) = State::group_of(server) {
                by_name.insert((group, server.name.as_str()), id.clone());
            }
        }
        let claimed: FastSet<ServerId> = self
            .instances
            .values()
            .filter_map(|i| i.server_id.clone())
            .collect();
        let mut attach = Vec::new();
        for instance in self.instances.values() {
            if instance.server_id.is_none()
                && let Some(id) = by_name.get(&(&*instance.group, instance.name.as_str()))
                && !claimed.contains(id)
            {
                attach.push((instance.key, id.clone()));
            }
        }
        for (key, id) in attach {
            if let Some(instance) = self.instances.get_mut(&key) {
                instance.server_id = Some(id);
            }
        }
    }

    /// Member servers nobody tracks yet become instances (at start-up, after a restart,
    /// or servers tagged by hand); returns their keys. The servers owned by an instance
    /// carry the number of the last [`claim_servers`](Self::claim_servers).
    fn adopt_servers(&mut self, now: Instant) -> Vec<InstanceKey> {
        let epoch = self.claim_epoch;
        let mut adopt = Vec::new();
        for (id, server) in &self.servers {
            if server.claimed_in == epoch {
                continue;
            }
            if let Some(tags) = server.tags.as_ref()
                && let Some(group) = tags.group.as_ref()
            {
                let phase = adoption_phase(server);
                adopt.push((
                    group.clone(),
                    id.clone(),
                    server.name.clone(),
                    phase,
                    tags.created,
                ));
            }
        }
        let mut adopted = Vec::with_capacity(adopt.len());
        for (group, id, name, phase, created) in adopt {
            tracing::info!(group = &*group, server = %name, state = ?phase, "adopting existing server");
            let parked = phase == Phase::Parked;
            let off = phase == Phase::AwaitRunning;
            let key = self.add_instance(&group, name, phase, now);
            adopted.push(key);
            if let Some(instance) = self.instances.get_mut(&key) {
                instance.server_id = Some(id);
                if let Some(created) = created {
                    instance.created_at = created;
                }
                if parked {
                    instance.parked_at = Some(now);
                }
                // The API tells no creation time, so the provision deadline runs from
                // now, which is never earlier than the real one.
                instance.adopted_off = off;
                instance.boot_pending = off;
            }
        }
        adopted
    }

    /// Fails the creates and power-ons the API kept refusing (rate limit, credentials)
    /// past their provision deadline. Runs even when the list fails, as it does while the
    /// keys are revoked: a failed instance is what lets cluster-autoscaler try elsewhere,
    /// and none of them was carried out, so nothing is left behind.
    pub(crate) fn give_up_refused(&mut self, now: Instant) {
        let ca = self.ca_max_node_provision_time;
        let overdue: Vec<(InstanceKey, ErrorCode, String)> = self
            .instances
            .values()
            .filter(|i| i.waiting.is_some())
            .filter(|i| matches!(i.phase, Phase::CreateQueued | Phase::PowerOnQueued))
            .filter_map(|i| {
                let provision = self.groups.get(&*i.group)?.provision_time(&self.options, ca);
                (now.saturating_duration_since(i.creating_since) > provision).then(|| {
                    let code = if i.phase == Phase::CreateQueued {
                        ErrorCode::CreateRejected
                    } else {
                        ErrorCode::PowerOnFailed
                    };
                    let waiting = i.waiting.clone().unwrap_or_default();
                    (i.key, code, format!("not carried out within {provision:?} (max-node-provision-time): {waiting}"))
                })
            })
            .collect();
        for (key, code, message) in overdue {
            self.fail(key, code, ErrorClass::Other, message);
        }
    }

    /// A scale-down command ran past its deadline: go back to `step` after a back-off.
    fn retry_overdue(&mut self, key: InstanceKey, step: DeleteStep, reason: &str, now: Instant) {
        let options = &self.options;
        if let Some(instance) = self.instances.get_mut(&key) {
            let delay = options.delete_backoff(instance.delete_attempts);
            super::state::schedule_delete_retry(instance, step, reason, delay, now);
        }
    }

    fn fail(&mut self, key: InstanceKey, code: ErrorCode, class: ErrorClass, message: String) {
        // cluster-autoscaler already asked for this instance to go (it is reported
        // Deleting): finish that instead of reporting a failure nobody will clean up.
        if let Some(instance) = self.instances.get_mut(&key)
            && instance.delete_requested
        {
            if instance.server_id.is_some() {
                instance.phase = Phase::Deleting(DeleteStep::Mark);
            } else {
                self.forget(key, "deleted; its create failed");
            }
            return;
        }
        if let Some(instance) = self.instances.get_mut(&key) {
            tracing::warn!(group = %instance.group, server = %instance.name, code = code.as_str(), %message, "scale-up failed");
            instance.error = Some(InstanceError {
                class,
                code,
                message,
            });
            instance.waiting = None;
            instance.phase = Phase::CreateFailed;
        }
    }

    fn forget(&mut self, key: InstanceKey, why: &str) {
        if let Some(instance) = self.instances.remove(&key) {
            tracing::info!(group = %instance.group, server = %instance.name, why, "instance removed");
        }
    }

    #[expect(clippy::too_many_lines)] // one match over the phases reads best as a whole
    fn advance_instance(
        &mut self,
        key: InstanceKey,
        now: Instant,
        active: bool,
        actions: &mut Vec<Action>,
    ) {
        let Some(instance) = self.instances.get(&key) else {
            return;
        };
        let server = instance
            .server_id
            .as_ref()
            .and_then(|id| self.servers.get(id));
        if is_settled(instance, server) {
            return;
        }
        let group_name = instance.group.clone();
        let Some(group) = self.groups.get(&*group_name) else {
            return;
        };
        let provision_time = group.provision_time(&self.options, self.ca_max_node_provision_time);
        let poweroff_mode = group.config.poweroff_on_scale_down;
        let membership = group.tags.clone();
        let listed = instance
            .server_id
            .as_ref()
            .and_then(|id| self.servers.get(id));
        let vanished = instance.server_id.is_some() && listed.is_none();
        let power_on = listed.is_some_and(|s| s.power_on);
        if let Some(server) = listed
            && let Some(tags) = &server.tags
            && !tags.carries(&group_name)
        {
            tracing::warn!(group = &*group_name, server = %server.name, "server lost its node group tags; no longer managed");
            self.instances.remove(&key);
            return;
        }
        let has_parked_marker = listed.is_some_and(KnownServer::has_parked_marker);
        let can_act = active
            && instance.retry_at.is_none_or(|at| now >= at)
            && instance
                .retry_after_list
                .is_none_or(|seen| self.lists > seen);
        let overdue = now.saturating_duration_since(instance.creating_since) > provision_time;
        let command_overdue = instance
            .command_since
            .is_some_and(|at| now.saturating_duration_since(at) > self.options.command_timeout);
        let server_id = instance.server_id.clone();
        let name = instance.name.clone();
        let created_at = instance.created_at;
        let delete_requested = instance.delete_requested;
        let adopted_off = instance.adopted_off;
        let search_after_request = instance.search_after_request;
        let terminate_only = instance.terminate_only;
        // In power-off mode, a server that may still be coming up is powered off (and
        // then parked) once it is seen on, or after the provision time.
        let wait_for_boot = instance.boot_pending && poweroff_mode && !power_on && !overdue;
        let phase = instance.phase.clone();

        // Removing the marker is a change to the cloud: a passive standby leaves it, and
        // the `Running` arm below removes it once this replica is active.
        let clear_marker = |state: &mut State, actions: &mut Vec<Action>| {
            if active
                && has_parked_marker
                && let Some(server) = server_id.clone()
            {
                state.note_marker(Some(&server), None, Some(PARKED_MARKER));
                actions.push(Action::ClearParkedMarker {
                    server,
                    name: name.clone(),
                });
            }
        };
        let set_phase = |state: &mut State, phase: Phase| {
            if let Some(instance) = state.instances.get_mut(&key) {
                if matches!(phase, Phase::Deleting(_)) {
                    instance.command_since = None;
                }
                instance.phase = phase;
            }
        };

        // A create or power-on the API refused without carrying it out waits for its
        // back-off (past the provision deadline, `give_up_refused` fails it).
        let held = instance.waiting.is_some();
        match phase {
            Phase::CreateQueued | Phase::PowerOnQueued if held && !can_act => {}
            Phase::CreateQueued if active => match create_request(group, &name, created_at) {
                Ok(request) => {
                    set_phase(self, Phase::CreateSending);
                    actions.push(Action::Create {
                        key,
                        group: group_name,
                        request: Box::new(request),
                    });
                }
                Err(err) => self.fail(
                    key,
                    ErrorCode::CreateRejected,
                    ErrorClass::Other,
                    err.to_string(),
                ),
            },
            Phase::CreateRunning { .. } | Phase::PowerOnRunning { .. } | Phase::AwaitRunning
                if delete_requested && server_id.is_some() =>
            {
                set_phase(self, Phase::Deleting(DeleteStep::Mark));
            }
            Phase::CreateRunning { .. } | Phase::PowerOnRunning { .. } | Phase::AwaitRunning
                if power_on =>
            {
                tracing::info!(group = &*group_name, server = %name, "instance is running");
                clear_marker(self, actions);
                if let Some(instance) = self.instances.get_mut(&key) {
                    instance.phase = Phase::Running;
                    instance.boot_pending = false;
                    instance.error = None;
                    instance.command_since = None;
                }
            }
            Phase::CreateRunning { .. } | Phase::PowerOnRunning { .. } | Phase::AwaitRunning
                if vanished =>
            {
                self.fail(
                    key,
                    ErrorCode::CreateFailed,
                    ErrorClass::Other,
                    "the server disappeared while it was being created".into(),
                );
            }
            // Adopted off after a restart and never came up: in power-off mode that is a
            // parked server without its marker (parked by hand or an older provider).
            Phase::AwaitRunning if overdue && adopted_off && poweroff_mode && !delete_requested => {
                tracing::info!(group = &*group_name, server = %name, "adopted powered-off server did not come up; parked");
                if let Some(instance) = self.instances.get_mut(&key) {
                    instance.phase = Phase::Parked;
                    instance.boot_pending = false;
                    instance.parked_at = Some(now);
                }
            }
            Phase::CreateRunning { .. } | Phase::AwaitRunning if overdue => {
                if delete_requested {
                    self.forget(key, "deleted before its server appeared");
                } else {
                    self.fail(
                        key,
                        ErrorCode::CreateTimeout,
                        ErrorClass::Other,
                        format!("the server did not come up within {provision_time:?} (max-node-provision-time)"),
                    );
                }
            }
            Phase::PowerOnRunning { .. } if overdue => {
                self.fail(
                    key,
                    ErrorCode::PowerOnFailed,
                    ErrorClass::Other,
                    format!("the server did not power on within {provision_time:?}"),
                );
            }
            Phase::CreateLost { .. } if server_id.is_some() => {
                tracing::info!(group = &*group_name, server = %name, "found the server whose create answer was lost");
                let next = if delete_requested {
                    Phase::Deleting(DeleteStep::Mark)
                } else {
                    Phase::AwaitRunning
                };
                set_phase(self, next);
            }
            Phase::CreateLost { give_up_at } if now >= give_up_at => {
                if delete_requested {
                    self.forget(key, "deleted; its lost create never produced a server");
                } else {
                    self.fail(
                        key,
                        ErrorCode::CreateLost,
                        ErrorClass::Other,
                        "the create answer was lost and no server with this name appeared".into(),
                    );
                }
            }
            Phase::PowerOnQueued if active => {
                if let Some(server) = server_id {
                    set_phase(self, Phase::PowerOnSending);
                    actions.push(Action::PowerOn {
                        key,
                        group: group_name,
                        server,
                        name,
                        tags: membership,
                    });
                }
            }
            Phase::Running | Phase::Parked if vanished => {
                self.forget(key, "the server no longer exists")
            }
            // A running server must not keep a parked marker (adopted powered on after a
            // restart, or a removal that failed): a later restart would take it for a
            // parked server once it is off. The cache is updated when the removal is sent;
            // a failed removal is seen again at the next tag re-read and retried.
            Phase::Running if has_parked_marker => clear_marker(self, actions),
            Phase::Parked if power_on => {
                tracing::info!(group = &*group_name, server = %name, "parked server was powered on; running again");
                clear_marker(self, actions);
                set_phase(self, Phase::Running);
            }
            Phase::Deleting(
                DeleteStep::Mark
                | DeleteStep::PoweringOff { .. }
                | DeleteStep::Finish
                | DeleteStep::Terminating { .. }
                | DeleteStep::AwaitGone,
            ) if vanished => self.forget(key, "scale-down finished"),
            Phase::Deleting(DeleteStep::AwaitGone) if server_id.is_none() => {
                self.forget(key, "scale-down finished (no server was created)")
            }
            Phase::Deleting(DeleteStep::AwaitGone) if command_overdue => {
                // Terminated but still listed: send the terminate again, after a back-off
                // and from a list taken after this point (docs/engine-robustness.md).
                self.retry_overdue(
                    key,
                    DeleteStep::Finish,
                    "server still listed after its terminate completed",
                    now,
                );
                let lists = self.lists;
                if let Some(instance) = self.instances.get_mut(&key) {
                    instance.retry_after_list = Some(lists);
                    // It was to be terminated: finish that, do not park it instead.
                    instance.terminate_only = true;
                }
            }
            Phase::Deleting(DeleteStep::Mark) if server_id.is_none() => {
                // A failed create's server is looked for in one list requested after the
                // failure; any other server that may still appear, until the deadline.
                let search_over = match search_after_request {
                    Some(request) => self.applied_request > request,
                    None => overdue,
                };
                if search_over {
                    self.forget(key, "deleted; its server never appeared");
                }
            }
            Phase::Deleting(DeleteStep::Mark) if can_act && !wait_for_boot => {
                if let Some(server) = server_id {
                    set_phase(self, Phase::Deleting(DeleteStep::InFlight));
                    actions.push(Action::BeginDelete {
                        key,
                        group: group_name,
                        server,
                        name,
                        power_on,
                        tags: membership,
                    });
                }
            }
            Phase::Deleting(DeleteStep::PoweringOff { .. }) if listed.is_some() && !power_on => {
                set_phase(self, Phase::Deleting(DeleteStep::Finish));
            }
            Phase::Deleting(DeleteStep::PoweringOff { .. }) if command_overdue => {
                self.retry_overdue(
                    key,
                    DeleteStep::Mark,
                    "power-off did not finish in time",
                    now,
                );
            }
            Phase::Deleting(DeleteStep::Terminating { .. }) if command_overdue => {
                self.retry_overdue(
                    key,
                    DeleteStep::Finish,
                    "terminate did not finish in time",
                    now,
                );
            }
            Phase::Deleting(DeleteStep::Finish) if can_act => {
                let Some(server) = server_id else { return };
                let config = &self.groups[&*group_name].config;
                let cap = config.poweroff_on_scale_down_max_servers as usize;
                let park = !terminate_only
                    && config.poweroff_on_scale_down
                    && (cap == 0 || self.parked_count(&group_name) < cap);
                if park {
                    set_phase(self, Phase::Deleting(DeleteStep::Parking));
                    actions.push(Action::Park {
                        key,
                        group: group_name,
                        server,
                        name,
                        tags: membership,
                    });
                } else {
                    set_phase(self, Phase::Deleting(DeleteStep::InFlight));
                    actions.push(Action::Terminate {
                        key,
                        group: group_name,
                        server,
                        name,
                        tags: membership,
                    });
                }
            }
            Phase::Deleting(DeleteStep::AfterCommand { .. }) if overdue => {
                // The create or power-on never reported an end: act on what the list shows.
                if server_id.is_some() {
                    set_phase(self, Phase::Deleting(DeleteStep::Mark));
                } else {
                    self.forget(key, "deleted; its create never produced a server");
                }
            }
            _ => {}
        }
    }
}

/// True for an instance [`State::advance_instance`] would leave as it is without
/// planning anything: Running or Parked, its `server` listed with the membership tags of
/// the instance's group (or tags not read yet), no parked marker on a running server and
/// a parked server still off.
fn is_settled(instance: &Instance, server: Option<&KnownServer>) -> bool {
    let running = match instance.phase {
        Phase::Running => true,
        Phase::Parked => false,
        _ => return false,
    };
    let Some(server) = server else {
        return false;
    };
    if let Some(tags) = &server.tags
        && !tags.carries(&instance.group)
    {
        return false;
    }
    if running {
        !server.has_parked_marker()
    } else {
        !server.power_on
    }
}

#[cfg(test)]
mod tests {
    use kamatera_api::{PowerState, ServerList, ServerSummary};

    use super::*;
    use crate::engine::test_fixture::state_with_groups;

    const GROUPS: &str = "[nodegroup \"a\"]
max-size = 5
name-prefix = k8s-a
poweroff-on-scale-down = true
poweroff-on-scale-down-max-servers = 1
[nodegroup \"b\"]
max-size = 5
name-prefix = k8s-b
";

    /// A state that listed `servers` (id, power on) and read each one's tags, with a
    /// cluster-autoscaler active.
    fn listed(servers: &[(&str, bool, &[&str])]) -> State {
        let mut state = state_with_groups(GROUPS);
        let now = Instant::now();
        let rows = servers
            .iter()
            .map(|(id, on, _)| ServerSummary {
                id: ServerId::new(*id),
                name: format!("k8s-{id}"),
                datacenter: "IL".into(),
                power: if *on { PowerState::On } else { PowerState::Off },
            })
            .collect();
        state.list_requests += 1;
        let request = state.list_requests;
        state.apply_list(
            &ServerList {
                servers: rows,
                skipped: Vec::new(),
            }
            .into(),
            request,
            now,
        );
        for (id, _, tags) in servers {
            let tags = tags.iter().map(|t| (*t).to_owned()).collect();
            state.apply_tags(&ServerId::new(*id), tags, now);
        }
        state.finish_list(now);
        state.last_refresh_call = Some(now);
        state
    }

    fn instance_of<'a>(state: &'a State, server: &str) -> Option<&'a Instance> {
        state
            .instances
            .values()
            .find(|i| i.server_id.as_ref().is_some_and(|id| id.as_str() == server))
    }

    #[test]
    fn a_member_is_adopted_into_the_group_its_tags_name_and_then_left_alone() {
        let mut state = listed(&[("s1", true, &["k8sca-c1", "k8scang-b"])]);
        assert!(state.advance(Instant::now()).is_empty());
        assert_eq!(instance_of(&state, "s1").map(|i| &*i.group), Some("b"));
        assert!(state.advance(Instant::now()).is_empty());
        assert_eq!(state.instances.len(), 1);
    }

    #[test]
    fn a_server_tagged_for_two_groups_stays_with_the_instance_of_either() {
        let mut state = listed(&[("s1", true, &["k8sca-c1", "k8scang-a", "k8scang-b"])]);
        state.advance(Instant::now());
        // Adopted into the first group its tags name; move the instance to the other
        // one, whose tags the server carries too: it must not be dropped as untagged.
        let key = instance_of(&state, "s1").map(|i| i.key).unwrap();
        let mut moved = state.instances.remove(&key).unwrap();
        moved.group = state.groups["b"].name.clone();
        state.instances.insert(key, moved);
        state.advance(Instant::now());
        assert_eq!(instance_of(&state, "s1").map(|i| &*i.group), Some("b"));
    }

    #[test]
    fn a_running_instance_whose_server_lost_its_group_tag_is_let_go() {
        let mut state = listed(&[("s1", true, &["k8sca-c1", "k8scang-a"])]);
        state.advance(Instant::now());
        state.apply_tags(
            &ServerId::new("s1"),
            vec!["k8sca-c1".into()],
            Instant::now(),
        );
        state.advance(Instant::now());
        assert!(instance_of(&state, "s1").is_none());
    }

    #[test]
    fn a_settled_parked_server_beyond_the_cap_is_still_sent_to_be_terminated() {
        let parked: &[&str] = &["k8sca-c1", "k8scang-a", crate::naming::PARKED_MARKER];
        let mut state = listed(&[("p1", false, parked), ("p2", false, parked)]);
        // Adopted while no cluster-autoscaler is active: both parked, nothing trimmed.
        state.last_refresh_call = None;
        assert!(state.advance(Instant::now()).is_empty());
        assert_eq!(state.parked_count("a"), 2);
        state.last_refresh_call = Some(Instant::now());
        let actions = state.advance(Instant::now());
        assert!(
            actions
                .iter()
                .any(|a| matches!(a, Action::Terminate { .. })),
            "{actions:?}"
        );
    }
}
