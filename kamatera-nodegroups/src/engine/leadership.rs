//! Leader and standby: which replica may change the cloud, and what a new leader needs to
//! know of its predecessor's work (docs/high-availability.md).
//!
//! The cloud shows what was done, not what was decided: a scale-up accepted a moment ago
//! is not a server yet, and a scale-down decided but not yet marked is a server like any
//! other. The leader therefore hands [`InFlight`] to whatever keeps it where the next
//! leader reads it (the provider writes it into the Kubernetes Lease it holds) after every
//! accepted scale request and with every lease renewal; a new leader adopts it before it
//! changes anything, and re-reads the tags of every member first, so that a deleting or
//! parked marker written by its predecessor a moment ago is seen.

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::model::{DeleteStep, Phase};
use super::state::State;

/// What a replica may do with the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Changes the cloud (once its first pass as leader has re-read every member's tags).
    Leader,
    /// Lists and reads tags to keep a warm snapshot; changes nothing.
    Standby,
}

/// One server of a node group, by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupServer {
    /// Node group.
    pub group: String,
    /// Server name.
    pub name: String,
}

/// The leader's work in flight that the cloud does not show yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    /// Servers being created or powered on for a scale-up, counted in the target.
    #[serde(default)]
    pub coming_up: Vec<GroupServer>,
    /// Servers being scaled down (powered off, parked or terminated).
    #[serde(default)]
    pub going_away: Vec<GroupServer>,
}

impl InFlight {
    /// True when nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.coming_up.is_empty() && self.going_away.is_empty()
    }
}

/// What [`Engine::take_leadership`](super::Engine::take_leadership) did with a predecessor's [`InFlight`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Adopted {
    /// Creates whose server is not listed: looked for by name until the lost-create grace.
    pub creates_looked_for: usize,
    /// Parked servers a scale-up was powering on: powered on again.
    pub power_ons_resent: usize,
    /// Servers whose scale-down is finished.
    pub scale_downs_resumed: usize,
}

/// The role and, for a new leader, the list after which it may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leadership {
    /// May act once a list numbered above `after_request` is applied (that pass re-read
    /// every member's tags).
    Leader {
        after_request: u64,
    },
    Standby,
}

impl Leadership {
    pub(crate) fn role(self) -> Role {
        match self {
            Leadership::Leader { .. } => Role::Leader,
            Leadership::Standby => Role::Standby,
        }
    }
}

impl State {
    /// True when this replica leads and has re-read its members since it took over.
    pub(crate) fn may_change_the_cloud(&self) -> bool {
        match self.leadership {
            Leadership::Leader { after_request } => self.applied_request > after_request,
            Leadership::Standby => false,
        }
    }

    /// The work in flight a successor needs, sorted (so that an unchanged state writes
    /// the same record).
    pub(crate) fn in_flight(&self) -> InFlight {
        let mut in_flight = InFlight::default();
        for instance in self.instances.values() {
            let entry = || GroupServer {
                group: instance.group.to_string(),
                name: instance.name.clone(),
            };
            if matches!(instance.phase, Phase::Deleting(_)) || instance.delete_requested {
                in_flight.going_away.push(entry());
            } else if instance.phase.is_coming_up() {
                in_flight.coming_up.push(entry());
            }
        }
        in_flight.coming_up.sort();
        in_flight.going_away.sort();
        in_flight
    }

    /// Becomes the leader: adopts the predecessor's `left` work, and holds every change
    /// until the next pass has listed the servers and re-read every member's tags.
    pub(crate) fn take_leadership(&mut self, left: &InFlight, now: Instant) -> Adopted {
        self.leadership = Leadership::Leader {
            after_request: self.list_requests,
        };
        self.reread_all_tags = true;
        let mut adopted = Adopted::default();
        for server in &left.coming_up {
            if !self.groups.contains_key(&server.group) {
                continue;
            }
            match self.instance_named(&server.group, &server.name) {
                Some(key) => {
                    if let Some(instance) = self.instances.get_mut(&key)
                        && instance.phase == Phase::Parked
                    {
                        // Powering on is idempotent: sending it again is safe, and the
                        // target must keep counting this server.
                        instance.phase = Phase::PowerOnQueued;
                        instance.parked_at = None;
                        adopted.power_ons_resent += 1;
                    }
                }
                None => {
                    // The create may have been sent: never send it again, look for the
                    // server by its name (unique per create) until the grace ends.
                    let give_up_at = now + self.options.lost_create_grace;
                    let key = self.add_instance(
                        &server.group,
                        server.name.clone(),
                        Phase::CreateLost { give_up_at },
                        now,
                    );
                    if let Some(instance) = self.instances.get_mut(&key) {
                        instance.boot_pending = true;
                    }
                    adopted.creates_looked_for += 1;
                }
            }
        }
        for server in &left.going_away {
            let Some(key) = self.instance_named(&server.group, &server.name) else {
                // Not listed: gone already, or a create that never produced a server.
                continue;
            };
            let Some(instance) = self.instances.get_mut(&key) else {
                continue;
            };
            match instance.phase {
                Phase::Deleting(_) => {}
                Phase::CreateLost { .. } => instance.delete_requested = true,
                _ if instance.server_id.is_some() => {
                    instance.phase = Phase::Deleting(DeleteStep::Mark);
                    instance.retry_at = None;
                    instance.delete_attempts = 0;
                    instance.command_since = Some(now);
                    adopted.scale_downs_resumed += 1;
                }
                _ => instance.delete_requested = true,
            }
        }
        adopted
    }

    /// A tag read of a new leader's first pass failed: no change until a later pass has
    /// read every server's tags.
    pub(crate) fn reread_failed(&mut self) {
        if let Leadership::Leader { after_request } = &mut self.leadership {
            *after_request = self.list_requests;
            self.reread_all_tags = true;
        }
    }

    /// Becomes a standby: nothing more is sent (calls already sent finish).
    pub(crate) fn step_down(&mut self) {
        self.leadership = Leadership::Standby;
    }

    fn instance_named(&self, group: &str, name: &str) -> Option<super::model::InstanceKey> {
        self.instances
            .values()
            .find(|i| &*i.group == group && i.name == name)
            .map(|i| i.key)
    }
}

#[cfg(test)]
mod tests {
    use kamatera_api::{PowerState, ServerId, ServerList, ServerSummary};

    use super::*;
    use crate::engine::actions::Action;
    use crate::engine::test_fixture::state_with_groups;
    use crate::naming::PARKED_MARKER;

    const GROUPS: &str = "[nodegroup \"a\"]
max-size = 5
name-prefix = k8s-a
poweroff-on-scale-down = true
";

    const MEMBER: &[&str] = &["k8sca-c1", "k8scang-a"];

    /// Lists `servers` (id, name, power on, tags) as one more list of the state, with a
    /// cluster-autoscaler active.
    fn list(state: &mut State, servers: &[(&str, &str, bool, &[&str])]) {
        let now = Instant::now();
        let rows = servers
            .iter()
            .map(|(id, name, on, _)| ServerSummary {
                id: ServerId::new(*id),
                name: (*name).to_owned(),
                datacenter: "IL".into(),
                power: if *on { PowerState::On } else { PowerState::Off },
            })
            .collect();
        state.list_requests += 1;
        let request = state.list_requests;
        let listed = ServerList {
            servers: rows,
            skipped: Vec::new(),
        };
        state.apply_list(&listed.into(), request, now);
        for (id, _, _, tags) in servers {
            let tags = tags.iter().map(|t| (*t).to_owned()).collect();
            state.apply_tags(&ServerId::new(*id), tags, now);
        }
        state.finish_list(now);
        state.last_refresh_call = Some(now);
    }

    fn standby() -> State {
        let mut state = state_with_groups(GROUPS);
        state.step_down();
        state
    }

    fn creates(actions: &[Action]) -> usize {
        actions
            .iter()
            .filter(|a| matches!(a, Action::Create { .. }))
            .count()
    }

    #[test]
    fn a_standby_sends_nothing_and_a_new_leader_waits_for_a_list_of_its_own() {
        let mut state = standby();
        list(&mut state, &[("s1", "k8s-a-1", true, MEMBER)]);
        state.increase_size("a", 1, Instant::now()).unwrap();
        assert!(state.advance(Instant::now()).is_empty(), "a standby acted");

        state.take_leadership(&InFlight::default(), Instant::now());
        assert!(state.reread_all_tags);
        assert!(
            state.advance(Instant::now()).is_empty(),
            "acted before re-reading the tags"
        );
        list(&mut state, &[("s1", "k8s-a-1", true, MEMBER)]);
        assert_eq!(creates(&state.advance(Instant::now())), 1);
    }

    #[test]
    fn a_failed_tag_read_of_the_first_pass_holds_changes_for_another_pass() {
        let mut state = standby();
        list(&mut state, &[("s1", "k8s-a-1", true, MEMBER)]);
        state.take_leadership(&InFlight::default(), Instant::now());
        state.reread_all_tags = false;
        list(&mut state, &[("s1", "k8s-a-1", true, MEMBER)]);
        state.reread_failed();
        assert!(!state.may_change_the_cloud());
        assert!(state.reread_all_tags);
        list(&mut state, &[("s1", "k8s-a-1", true, MEMBER)]);
        assert!(state.may_change_the_cloud());
    }

    #[test]
    fn the_work_in_flight_names_scale_ups_and_scale_downs() {
        let mut state = state_with_groups(GROUPS);
        list(
            &mut state,
            &[
                ("s1", "k8s-a-1", true, MEMBER),
                ("s2", "k8s-a-2", true, MEMBER),
            ],
        );
        state.advance(Instant::now());
        state.increase_size("a", 2, Instant::now()).unwrap();
        let node = crate::engine::NodeRef {
            provider_id: String::new(),
            name: "k8s-a-2".into(),
        };
        state.delete_nodes("a", &[node], Instant::now()).unwrap();
        let in_flight = state.in_flight();
        assert_eq!(in_flight.coming_up.len(), 2, "{in_flight:?}");
        assert_eq!(
            in_flight.going_away,
            vec![GroupServer {
                group: "a".into(),
                name: "k8s-a-2".into()
            }]
        );
        let text = serde_json::to_string(&in_flight).unwrap();
        let back: InFlight = serde_json::from_str(&text).unwrap();
        assert_eq!(back, in_flight);
    }

    #[test]
    fn a_new_leader_looks_for_unlisted_creates_and_finishes_scale_downs() {
        let parked: &[&str] = &["k8sca-c1", "k8scang-a", PARKED_MARKER];
        let mut state = standby();
        list(
            &mut state,
            &[
                ("s1", "k8s-a-1", true, MEMBER),
                ("s2", "k8s-a-2", true, MEMBER),
                ("p1", "k8s-a-p", false, parked),
            ],
        );
        state.advance(Instant::now());
        assert_eq!(state.target_size("a"), 2);
        let server = |name: &str| GroupServer {
            group: "a".into(),
            name: name.into(),
        };
        let left = InFlight {
            coming_up: vec![server("k8s-a-new"), server("k8s-a-p"), server("k8s-a-1")],
            going_away: vec![server("k8s-a-2"), server("k8s-a-gone")],
        };
        let adopted = state.take_leadership(&left, Instant::now());
        assert_eq!(
            adopted,
            Adopted {
                creates_looked_for: 1,
                power_ons_resent: 1,
                scale_downs_resumed: 1,
            }
        );
        // s1 and the create looked for and the parked server powered on; s2 deleting.
        assert_eq!(state.target_size("a"), 3);
        list(
            &mut state,
            &[
                ("s1", "k8s-a-1", true, MEMBER),
                ("s2", "k8s-a-2", true, MEMBER),
                ("p1", "k8s-a-p", false, parked),
            ],
        );
        let actions = state.advance(Instant::now());
        assert_eq!(
            creates(&actions),
            0,
            "a create of the predecessor was resent"
        );
        assert!(
            actions.iter().any(|a| matches!(a, Action::PowerOn { .. })),
            "{actions:?}"
        );
    }
}
