//! Folding one list answer and its tag reads into what the engine believes, without
//! letting one odd answer change that belief. The rules are described in
//! docs/engine-robustness.md; in short:
//!
//! - a known server missing from a list is believed gone only when it is missing from two
//!   consecutive lists, or when a direct look-up of it finds nothing;
//! - a list that lacks most known servers at once is suspect: logged and counted, and it
//!   costs no look-ups;
//! - a row that does not decode is skipped and counted; a known server behind it keeps
//!   its last known state;
//! - a list requested before the engine saw a server go off does not change that
//!   server's power state;
//! - a tag read that lacks the membership tags a member had is believed only when the
//!   next read agrees; so is a first read without membership of a server whose name fits
//!   a group's name prefix, and until it is settled the provider is not ready.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kamatera_api::{CompactServerList, ServerId};
use tokio::time::Instant;

use super::fast_hash::FastSet;
use super::model::{DeleteStep, Phase};
use super::snapshot::FindingKind;
use super::state::{KnownServer, State, TagFacts};
use crate::naming::{name_fits_prefix, provider_id};

/// Counters of odd answers and of parked-pool trimming, exported as metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RobustnessCounters {
    /// List rows that did not decode and were skipped.
    pub(crate) rows_skipped: u64,
    /// Lists that lacked most known servers at once.
    pub(crate) suspect_lists: u64,
    /// Parked servers terminated because the pool was over its cap, by group.
    pub(crate) parked_trimmed: BTreeMap<String, u64>,
}

/// What the reconciler must do after a list was applied.
#[derive(Debug, Default)]
pub(crate) struct ListVerdict {
    /// Servers of instances that the list lacked for the first time: one direct look-up
    /// each tells whether they are gone (none after a suspect list).
    pub(crate) look_up: Vec<ServerId>,
}

impl State {
    /// Records a successful list requested as number `request`. Known servers are
    /// updated; a known server the list lacks is forgotten only the second time in a
    /// row; new servers are remembered. A new server whose name is that of an instance
    /// being created gets the tags the instance was created with, so it needs no tags
    /// call.
    pub(crate) fn apply_list(
        &mut self,
        list: &CompactServerList,
        request: u64,
        now: Instant,
    ) -> ListVerdict {
        self.lists += 1;
        self.applied_request = self.applied_request.max(request);
        let number = self.lists;
        let prefix = self.config.filter_name_prefix.clone();
        let creating: HashMap<&str, &Arc<str>> = self
            .instances
            .summary()
            .creating
            .iter()
            .map(|(name, group)| (name.as_str(), group))
            .collect();
        let mut cursor = 0;
        // Changes nobody here made; rare, so each costs a walk over the instances later.
        let mut renamed: Vec<(ServerId, String)> = Vec::new();
        let mut powered_off: Vec<ServerId> = Vec::new();
        for server in list.rows() {
            if !server.name.starts_with(prefix.as_str()) {
                continue;
            }
            // Lists come in the same order each time, and the servers are kept in the
            // order first listed: the entry after the last one found is nearly always
            // the next row's, and checking it first reads the table in sequence.
            let position = match self.servers.get_index(cursor) {
                Some((id, _)) if id.as_str() == server.id => Some(cursor),
                _ => self.servers.get_index_of(server.id),
            };
            if let Some((_, known)) = position.and_then(|p| {
                cursor = p + 1;
                self.servers.get_index_mut(p)
            }) {
                if known.name != server.name {
                    let old = std::mem::replace(&mut known.name, server.name.to_owned());
                    renamed.push((ServerId::new(server.id), old));
                }
                if request > known.power_pinned_until_request {
                    let on = server.power.is_on();
                    if known.power_on && !on {
                        powered_off.push(ServerId::new(server.id));
                    }
                    known.power_on = on;
                }
                known.last_seen_list = number;
                known.missing_lists = 0;
                continue;
            }
            let created_for = creating
                .get(server.name)
                .map(|group| Arc::clone(group))
                .filter(|group| self.groups.contains_key(&**group));
            let mut known =
                KnownServer::listed(server.name.to_owned(), server.power.is_on(), number);
            if let Some(group) = created_for {
                known.tags = Some(TagFacts::member_of(group));
                known.tags_read_at = Some(now);
            }
            self.servers.insert(ServerId::new(server.id), known);
        }
        self.note_renames(renamed, now);
        self.note_power_offs(powered_off, now);
        self.keep_skipped_rows(list.skipped(), number);
        self.fold_missing(number, now)
    }

    /// Members renamed outside the provider keep their instance, and so the instance id
    /// cluster-autoscaler and the Node know (docs/engine-robustness.md, "Human hands").
    fn note_renames(&mut self, renamed: Vec<(ServerId, String)>, now: Instant) {
        for (id, old) in renamed {
            let Some(instance) = self.owner_of(&id) else {
                continue;
            };
            let group = instance.group.clone();
            let reported = provider_id(&self.config.provider_id_prefix, &instance.name);
            let new = self
                .servers
                .get(&id)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            let detail = format!(
                "member renamed from {old} to {new} outside the provider; still a member by its tags and still reported as {reported}, the id cluster-autoscaler and the Node know (after a restart it is found under its new name)"
            );
            self.record_finding(&group, FindingKind::Renamed, &id, detail, now);
        }
    }

    /// Running members powered off outside the provider stay Running: never powered on
    /// again nor parked on the provider's own (docs/engine-robustness.md, "Human hands").
    fn note_power_offs(&mut self, powered_off: Vec<ServerId>, now: Instant) {
        for id in powered_off {
            let Some(instance) = self.owner_of(&id).filter(|i| i.phase == Phase::Running) else {
                continue;
            };
            let group = instance.group.clone();
            let detail = "running member powered off outside the provider; still reported running and counted in the target, not powered on again nor parked (cluster-autoscaler sees its Node not ready and decides)".to_owned();
            self.record_finding(&group, FindingKind::PoweredOff, &id, detail, now);
        }
    }

    /// Members and parked servers believed gone although the provider never deleted them
    /// were terminated outside it (docs/engine-robustness.md, "Human hands").
    fn note_gone(&mut self, gone: &[ServerId], now: Instant) {
        for id in gone {
            let Some(instance) = self.owner_of(id) else {
                continue;
            };
            let detail = match instance.phase {
                Phase::Running => {
                    "member no longer exists (terminated outside the provider); no longer reported nor counted: the target drops by one and its Node belongs to no group"
                }
                Phase::Parked => {
                    "parked server no longer exists (terminated outside the provider); dropped from the parked pool"
                }
                _ => continue,
            };
            let group = instance.group.clone();
            self.record_finding(&group, FindingKind::Gone, id, detail.to_owned(), now);
        }
    }

    /// Skipped rows are logged and counted; a known server behind one keeps its state.
    fn keep_skipped_rows(&mut self, skipped: &[kamatera_api::SkippedRow], number: u64) {
        if skipped.is_empty() {
            return;
        }
        self.counters.rows_skipped += skipped.len() as u64;
        let mut ours = 0usize;
        for row in skipped {
            if let Some(known) = row.id.as_ref().and_then(|id| self.servers.get_mut(id)) {
                known.last_seen_list = number;
                ours += 1;
            }
        }
        let first = &skipped[0];
        tracing::warn!(
            skipped = skipped.len(),
            known_kept = ours,
            path = %first.path,
            reason = %first.reason,
            id = first.id.as_ref().map(ServerId::as_str),
            name = first.name.as_deref(),
            "server list rows that do not decode were skipped (known servers keep their last state)"
        );
    }

    /// Counts every known server the list `number` lacked: forgotten the second time in
    /// a row, looked up the first time when an instance owns it and the list is not
    /// suspect.
    fn fold_missing(&mut self, number: u64, now: Instant) -> ListVerdict {
        let known = self.servers.len();
        let missing = self
            .servers
            .values()
            .filter(|s| s.last_seen_list != number)
            .count();
        let mut verdict = ListVerdict::default();
        if missing == 0 {
            return verdict;
        }
        // Servers being terminated are expected to leave the list: they do not make it
        // suspect.
        let leaving: FastSet<&ServerId> = self
            .instances
            .values()
            .filter(|i| {
                matches!(
                    i.phase,
                    Phase::Deleting(DeleteStep::Terminating { .. } | DeleteStep::AwaitGone)
                )
            })
            .filter_map(|i| i.server_id.as_ref())
            .collect();
        let unexpected = self
            .servers
            .iter()
            .filter(|(id, s)| s.last_seen_list != number && !leaving.contains(id))
            .count();
        let suspect = unexpected >= 2 && unexpected * 2 > known;
        if suspect {
            self.counters.suspect_lists += 1;
            tracing::warn!(
                missing,
                known,
                "the server list lacks most known servers; not believed until the next list agrees"
            );
        }
        drop(leaving);
        let claimed: FastSet<&ServerId> = self
            .instances
            .values()
            .filter_map(|i| i.server_id.as_ref())
            .collect();
        let mut gone = 0usize;
        for (id, server) in &mut self.servers {
            if server.last_seen_list == number {
                continue;
            }
            server.missing_lists += 1;
            if server.missing_lists >= 2 {
                gone += 1;
            } else if !suspect && claimed.contains(id) {
                verdict.look_up.push(id.clone());
            }
        }
        if gone > 0 {
            let gone: Vec<ServerId> = self
                .servers
                .iter()
                .filter(|(_, server)| server.missing_lists >= 2)
                .map(|(id, _)| id.clone())
                .collect();
            self.note_gone(&gone, now);
            // One walk that keeps the order, however many are gone.
            self.servers.retain(|_, server| {
                let keep = server.missing_lists < 2;
                if !keep {
                    tracing::debug!(server = %server.name, "server missing from two lists in a row; gone");
                }
                keep
            });
        }
        verdict
    }

    /// A direct look-up of `server`, missing from the last list, answered. `exists`
    /// false means it is gone for sure.
    pub(crate) fn apply_lookup(&mut self, server: &ServerId, exists: bool) {
        if exists {
            if let Some(known) = self.servers.get_mut(server) {
                known.missing_lists = 0;
            }
        } else {
            self.note_gone(std::slice::from_ref(server), Instant::now());
            if let Some(known) = self.servers.shift_remove(server) {
                tracing::debug!(server = %known.name, "server missing from the list and not found by id; gone");
            }
        }
    }

    /// Records a tag read of `server`, unless it is doubt rather than a fact: a read that
    /// drops the membership tags of a member, or the first read of a server whose name
    /// fits a group's name prefix that holds none of the provider's tags (empty, or
    /// foreign tags only: docs/engine-robustness.md,
    /// "One empty tag answer at cold start"). A doubted read is not believed; the server's
    /// tags are read again at the next pass, and that read decides.
    pub(crate) fn apply_tags_checked(
        &mut self,
        server: &ServerId,
        tags: Vec<String>,
        now: Instant,
    ) {
        let Some(known) = self.servers.get(server) else {
            return;
        };
        let was = known.tags.as_ref().and_then(|t| t.group.clone());
        let now_in = self.tag_facts(&tags).group;
        let lost_membership = was.is_some() && now_in != was;
        let fitting_group = if known.tags.is_none() && self.holds_none_of_ours(&tags) {
            self.group_fitting_name(&known.name)
        } else {
            None
        };
        if !known.membership_doubt && (lost_membership || fitting_group.is_some()) {
            let group = was.or(fitting_group);
            if let Some(known) = self.servers.get_mut(server) {
                if lost_membership {
                    tracing::warn!(server = %known.name, id = %server, group = group.as_deref(), read = ?tags, "tag read lacks the node group tags; reading again before believing it");
                } else {
                    tracing::warn!(server = %known.name, id = %server, group = group.as_deref(), read = ?tags, "first tag read of a server whose name fits the node group shows no membership; reading again at the next pass before believing it");
                }
                known.membership_doubt = true;
                known.tags_read_at = None;
            }
            return;
        }
        let read_before = known.tags.is_some();
        let doubted = known.membership_doubt;
        let finding = match (&was, &now_in) {
            (Some(group), _) if lost_membership && doubted => Some((
                group.clone(),
                FindingKind::TagsRemoved,
                format!(
                    "member lost its node group tags outside the provider (tags now: {tags:?}); no longer managed nor counted, and never powered off or terminated by the provider"
                ),
            )),
            // A server read before without membership, or first listed after start-up:
            // nobody here created it with these tags.
            (None, Some(group))
                if (read_before || self.last_list_ok.is_some())
                    && self.owner_of(server).is_none() =>
            {
                Some((
                    group.clone(),
                    FindingKind::Adopted,
                    "server given the node group tags outside the provider (the provider did not create it); adopted as a member by the tag rule, counted once".to_owned(),
                ))
            }
            _ => None,
        };
        if let Some((group, kind, detail)) = finding {
            self.record_finding(&group, kind, server, detail, now);
        }
        self.apply_tags(server, tags, now);
        if let Some(known) = self.servers.get_mut(server) {
            known.membership_doubt = false;
        }
    }

    /// The first group whose servers' names `name` fits (`<name-prefix>-…`; any name
    /// when the group's prefix is empty).
    fn group_fitting_name(&self, name: &str) -> Option<Arc<str>> {
        self.groups
            .values()
            .find(|facts| name_fits_prefix(&facts.config.server.name_prefix, name))
            .map(|facts| facts.name.clone())
    }

    /// Why the listed servers cannot be reported yet: some server's membership is not
    /// settled (its tags were never read, or its only read was doubt). `None` when every
    /// listed server's membership is known.
    pub(crate) fn unsettled_membership(&self) -> Option<String> {
        let (mut doubted, mut unread) = (0usize, 0usize);
        for server in self.servers.values().filter(|s| s.tags.is_none()) {
            if server.membership_doubt {
                doubted += 1;
            } else {
                unread += 1;
            }
        }
        match (doubted, unread) {
            (0, 0) => None,
            (doubted, 0) => Some(format!(
                "the node group membership of {doubted} listed servers is in doubt (one empty tag answer each; read again at the next pass)"
            )),
            (0, unread) => Some(format!(
                "the node group membership of {unread} listed servers is not known yet (their tags could not be read)"
            )),
            (doubted, unread) => Some(format!(
                "the node group membership of {} listed servers is not settled: {doubted} in doubt (one empty tag answer each; read again at the next pass), {unread} not known yet (their tags could not be read)",
                doubted + unread
            )),
        }
    }
}

#[cfg(test)]
mod tests {

    use kamatera_api::{PowerState, ServerList, ServerSummary, SkippedRow};

    use super::*;
    use crate::engine::model::Phase;
    use crate::engine::snapshot::FINDINGS_KEPT;
    use crate::engine::test_fixture::state_with_groups;

    const GROUPS: &str = "[nodegroup \"ng1\"]
min-size = 0
max-size = 5
name-prefix = k8s-ng1
";

    fn state() -> State {
        state_with_groups(GROUPS)
    }

    fn row(id: &str, on: bool) -> ServerSummary {
        ServerSummary {
            id: ServerId::new(id),
            name: format!("k8s-ng1-{id}"),
            datacenter: "IL".into(),
            power: if on { PowerState::On } else { PowerState::Off },
        }
    }

    fn list(rows: Vec<ServerSummary>) -> CompactServerList {
        ServerList {
            servers: rows,
            skipped: Vec::new(),
        }
        .into()
    }

    /// `n` servers `s0..`, listed once, each owned by a Running instance.
    fn with_members(n: usize) -> State {
        let mut state = state();
        let now = Instant::now();
        let rows = (0..n).map(|i| row(&format!("s{i}"), true)).collect();
        state.list_requests += 1;
        state.apply_list(&list(rows), state.list_requests, now);
        for i in 0..n {
            let id = ServerId::new(format!("s{i}"));
            let key = state.add_instance("ng1", format!("k8s-ng1-s{i}"), Phase::Running, now);
            state.instances.get_mut(&key).unwrap().server_id = Some(id.clone());
            state.apply_tags(&id, vec!["k8sca-c1".into(), "k8scang-ng1".into()], now);
        }
        state
    }

    fn next_list(state: &mut State, rows: Vec<ServerSummary>) -> ListVerdict {
        state.list_requests += 1;
        let request = state.list_requests;
        state.apply_list(&list(rows), request, Instant::now())
    }

    #[test]
    fn a_server_missing_once_is_looked_up_and_forgotten_only_the_second_time() {
        let mut state = with_members(4);
        let verdict = next_list(
            &mut state,
            vec![row("s0", true), row("s1", true), row("s2", true)],
        );
        assert_eq!(verdict.look_up, vec![ServerId::new("s3")]);
        assert!(state.servers.contains_key(&ServerId::new("s3")));
        let verdict = next_list(
            &mut state,
            vec![row("s0", true), row("s1", true), row("s2", true)],
        );
        assert!(verdict.look_up.is_empty());
        assert!(!state.servers.contains_key(&ServerId::new("s3")));
    }

    #[test]
    fn a_list_in_another_order_updates_every_server_and_keeps_the_first_order() {
        let mut state = with_members(4);
        // Reversed, one new server between known ones, and s1 now off and renamed.
        let mut renamed = row("s1", false);
        renamed.name = "k8s-ng1-renamed".into();
        let verdict = next_list(
            &mut state,
            vec![
                row("s3", true),
                row("s9", true),
                renamed,
                row("s2", true),
                row("s0", true),
            ],
        );
        assert!(verdict.look_up.is_empty());
        let s1 = &state.servers[&ServerId::new("s1")];
        assert!(!s1.power_on);
        assert_eq!(s1.name, "k8s-ng1-renamed");
        assert!(state.servers.values().all(|s| s.missing_lists == 0));
        let order: Vec<&str> = state.servers.keys().map(ServerId::as_str).collect();
        assert_eq!(order, ["s0", "s1", "s2", "s3", "s9"]);
    }

    #[test]
    fn a_lookup_that_finds_nothing_forgets_at_once_and_one_that_finds_resets() {
        let mut state = with_members(3);
        next_list(&mut state, vec![row("s0", true)]);
        state.apply_lookup(&ServerId::new("s1"), true);
        state.apply_lookup(&ServerId::new("s2"), false);
        assert_eq!(state.servers[&ServerId::new("s1")].missing_lists, 0);
        assert!(!state.servers.contains_key(&ServerId::new("s2")));
    }

    #[test]
    fn a_list_lacking_most_servers_is_suspect_and_costs_no_lookups() {
        let mut state = with_members(5);
        let verdict = next_list(&mut state, Vec::new());
        assert!(verdict.look_up.is_empty());
        assert_eq!(state.counters.suspect_lists, 1);
        assert_eq!(
            state.servers.len(),
            5,
            "nothing forgotten on one empty list"
        );
        next_list(&mut state, Vec::new());
        assert!(
            state.servers.is_empty(),
            "two empty lists in a row are believed"
        );
    }

    #[test]
    fn servers_being_terminated_do_not_make_a_list_suspect() {
        let mut state = with_members(3);
        let keys: Vec<_> = state.instances.keys().take(2).copied().collect();
        for key in keys {
            state.instances.get_mut(&key).unwrap().phase =
                Phase::Deleting(crate::engine::model::DeleteStep::AwaitGone);
        }
        let verdict = next_list(&mut state, vec![row("s2", true)]);
        assert_eq!(state.counters.suspect_lists, 0);
        assert_eq!(verdict.look_up.len(), 2);
    }

    #[test]
    fn a_known_server_behind_an_odd_row_keeps_its_state() {
        let mut state = with_members(2);
        state.list_requests += 1;
        let request = state.list_requests;
        let odd = SkippedRow {
            index: 1,
            path: "$[1].datacenter".into(),
            reason: "invalid type: null".into(),
            id: Some(ServerId::new("s1")),
            name: Some("k8s-ng1-s1".into()),
        };
        let verdict = state.apply_list(
            &ServerList {
                servers: vec![row("s0", true)],
                skipped: vec![odd],
            }
            .into(),
            request,
            Instant::now(),
        );
        assert!(verdict.look_up.is_empty());
        assert_eq!(state.servers[&ServerId::new("s1")].missing_lists, 0);
        assert_eq!(state.counters.rows_skipped, 1);
    }

    #[test]
    fn a_list_requested_before_a_power_off_was_seen_cannot_power_the_server_on() {
        let mut state = with_members(1);
        let id = ServerId::new("s0");
        // A list is requested, then the engine sees the server off (parked), then the
        // list's answer (taken before the power-off) arrives.
        state.list_requests += 1;
        let stale = state.list_requests;
        state.note_powered_off(Some(&id));
        state.apply_list(&list(vec![row("s0", true)]), stale, Instant::now());
        assert!(
            !state.servers[&id].power_on,
            "a stale list un-parked the server"
        );
        next_list(&mut state, vec![row("s0", true)]);
        assert!(state.servers[&id].power_on, "a newer list is believed");
    }

    #[test]
    fn a_tag_read_without_the_membership_tags_is_believed_only_twice() {
        let mut state = with_members(1);
        let id = ServerId::new("s0");
        let now = Instant::now();
        state.apply_tags_checked(&id, Vec::new(), now);
        assert!(
            State::group_of(&state.servers[&id]).is_some(),
            "one read is not enough"
        );
        assert!(
            state.servers[&id].tags_read_at.is_none(),
            "read again next pass"
        );
        state.apply_tags_checked(&id, Vec::new(), now);
        assert!(State::group_of(&state.servers[&id]).is_none());
    }

    #[test]
    fn a_first_empty_read_of_a_fitting_name_is_doubt_and_the_second_decides() {
        let mut state = state();
        let now = Instant::now();
        let mut foreign = row("f1", true);
        foreign.name = "web-1".into();
        next_list(&mut state, vec![row("s0", true), row("s1", true), foreign]);
        state.apply_tags_checked(&ServerId::new("f1"), Vec::new(), now);
        assert!(
            state.servers[&ServerId::new("f1")].tags.is_some(),
            "a name that fits no group: one empty answer is a fact"
        );
        state.apply_tags_checked(&ServerId::new("s0"), Vec::new(), now);
        state.apply_tags_checked(
            &ServerId::new("s1"),
            vec!["k8sca-c1".into(), "k8scang-ng1".into()],
            now,
        );
        let s0 = &state.servers[&ServerId::new("s0")];
        assert!(s0.tags.is_none() && s0.membership_doubt, "{s0:?}");
        assert_eq!(
            state.servers_needing_tags(now),
            vec![ServerId::new("s0")],
            "read again at the next pass"
        );
        let unsettled = state.unsettled_membership().unwrap();
        assert!(
            unsettled.contains("of 1 listed servers is in doubt"),
            "{unsettled}"
        );

        // A second empty answer settles it as a non-member (a positive one as a member:
        // `a_doubted_server_answering_its_tags_is_a_member`).
        state.apply_tags_checked(&ServerId::new("s0"), Vec::new(), now);
        let s0 = &state.servers[&ServerId::new("s0")];
        assert!(s0.tags.is_some() && State::group_of(s0).is_none());
        assert!(!s0.membership_doubt);
        assert!(state.unsettled_membership().is_none());
    }

    #[test]
    fn unsettled_membership_names_doubted_and_unread_servers() {
        let mut state = state();
        next_list(&mut state, vec![row("s0", true), row("s1", true)]);
        let unread = state.unsettled_membership().unwrap();
        assert!(
            unread.contains("of 2 listed servers is not known yet"),
            "{unread}"
        );
        state.apply_tags_checked(&ServerId::new("s0"), Vec::new(), Instant::now());
        let both = state.unsettled_membership().unwrap();
        assert!(
            both.contains("of 2 listed servers is not settled: 1 in doubt")
                && both.contains("1 not known yet"),
            "{both}"
        );
    }

    #[test]
    fn a_name_fits_a_group_by_its_prefix_and_a_dash() {
        let state = state();
        assert_eq!(
            state.group_fitting_name("k8s-ng1-0123456789a").as_deref(),
            Some("ng1")
        );
        assert_eq!(state.group_fitting_name("k8s-ng10-0123456789a"), None);
        assert_eq!(state.group_fitting_name("k8s-ng1"), None);
        assert_eq!(state.group_fitting_name("web-1"), None);
    }

    #[test]
    fn a_doubted_server_answering_its_tags_is_a_member() {
        let mut state = state();
        let now = Instant::now();
        next_list(&mut state, vec![row("s0", true)]);
        state.apply_tags_checked(&ServerId::new("s0"), Vec::new(), now);
        assert!(state.unsettled_membership().is_some());
        state.apply_tags_checked(
            &ServerId::new("s0"),
            vec!["k8sca-c1".into(), "k8scang-ng1".into()],
            now,
        );
        let s0 = &state.servers[&ServerId::new("s0")];
        assert_eq!(State::group_of(s0), Some("ng1"));
        assert!(!s0.membership_doubt);
        assert!(state.unsettled_membership().is_none());
    }

    #[test]
    fn a_first_read_with_some_of_our_tags_is_believed_at_once() {
        let mut state = state();
        next_list(&mut state, vec![row("s0", true), row("s1", true)]);
        let now = Instant::now();
        // Half-tagged, and another cluster's: real answers, not an empty glitch.
        state.apply_tags_checked(&ServerId::new("s0"), vec!["k8sca-c1".into()], now);
        state.apply_tags_checked(
            &ServerId::new("s1"),
            vec!["k8sca-c2".into(), "k8scang-ng1".into()],
            now,
        );
        assert!(state.unsettled_membership().is_none());
        assert!(state.servers.values().all(|s| State::group_of(s).is_none()));
    }

    fn kinds(state: &State) -> Vec<(&str, FindingKind)> {
        state
            .findings
            .get("ng1")
            .map(|f| f.iter().map(|f| (f.server.as_str(), f.kind)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn changes_made_outside_the_provider_are_found_once_each() {
        let mut state = with_members(4);
        state.finish_list(Instant::now());
        let now = Instant::now();
        // s0 renamed, s1 powered off, s2 gone (missing twice), a foreign server listed.
        let mut renamed = row("s0", true);
        renamed.name = "k8s-ng1-renamed".into();
        let mut foreign = row("f1", true);
        foreign.name = "web-1".into();
        let rows = || {
            vec![
                renamed.clone(),
                row("s1", false),
                row("s3", true),
                foreign.clone(),
            ]
        };
        next_list(&mut state, rows());
        next_list(&mut state, rows());
        assert_eq!(
            kinds(&state),
            [
                ("k8s-ng1-renamed", FindingKind::Renamed),
                ("k8s-ng1-s1", FindingKind::PoweredOff),
                ("k8s-ng1-s2", FindingKind::Gone),
            ]
        );
        let detail = &state.findings["ng1"][0].detail;
        assert!(
            detail.contains("still reported as kamatera://k8s-ng1-s0"),
            "{detail}"
        );
        // The foreign server is given our tags; s3 loses them (believed the second time).
        let ours = || vec!["k8sca-c1".to_owned(), "k8scang-ng1".to_owned()];
        state.apply_tags_checked(&ServerId::new("f1"), Vec::new(), now);
        state.apply_tags_checked(&ServerId::new("f1"), ours(), now);
        state.apply_tags_checked(&ServerId::new("s3"), Vec::new(), now);
        state.apply_tags_checked(&ServerId::new("s3"), Vec::new(), now);
        let found = kinds(&state);
        assert_eq!(
            found[3..],
            [
                ("web-1", FindingKind::Adopted),
                ("k8s-ng1-s3", FindingKind::TagsRemoved),
            ]
        );
    }

    #[test]
    fn a_group_keeps_its_last_findings() {
        let mut state = with_members(1);
        let id = ServerId::new("s0");
        for i in 0..FINDINGS_KEPT + 3 {
            state.record_finding(
                "ng1",
                FindingKind::Renamed,
                &id,
                format!("{i}"),
                Instant::now(),
            );
        }
        let kept = &state.findings["ng1"];
        assert_eq!(kept.len(), FINDINGS_KEPT);
        assert_eq!(kept[0].detail, "3", "the oldest go first");
    }
}
