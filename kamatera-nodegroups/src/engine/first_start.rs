//! What the engine would do on its first start over an account, worked out without any
//! I/O: the core of `migrate-plan`.
//!
//! The servers and their tags, as listed and read once, are fed to the engine's own state
//! (the same list filter, tag rules, adoption rules and first pass as a starting
//! provider, with a cluster-autoscaler active), so the plan cannot drift from what the
//! engine does. Only the explanations of why a server is left alone are worked out here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kamatera_api::{PowerState, ServerId, ServerList, ServerSummary};
use tokio::time::Instant;

use super::actions::Action;
use super::model::Phase;
use super::options::EngineOptions;
use super::snapshot::Snapshot;
use super::state::{KnownServer, State, adoption_phase};
use crate::config::CloudConfig;
use crate::naming::{
    CLUSTER_TAG_PREFIX, DELETING_MARKER, GROUP_TAG_PREFIX, PARKED_MARKER, name_fits_prefix,
};

/// One server of the account, as listed, with its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedServer {
    /// Kamatera id.
    pub id: ServerId,
    /// Name.
    pub name: String,
    /// Whether it is powered on.
    pub power_on: bool,
    /// Its tags (only read for servers inside `filter-name-prefix`; empty otherwise).
    pub tags: Vec<String>,
}

/// How a member is taken over (the engine's adoption rules, `engine` module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adoption {
    /// Powered on: a running instance.
    Running,
    /// Off with `k8scam-parked`: kept for reuse, not reported.
    Parked,
    /// Off without a marker: reported as creating until `max-node-provision-time`.
    OffUnmarked,
    /// With `k8scam-deleting`: the scale-down it marks is finished.
    Deleting,
}

impl Adoption {
    /// A stable label (`running`, `parked`, `creating`, `deleting`).
    pub fn as_str(self) -> &'static str {
        match self {
            Adoption::Running => "running",
            Adoption::Parked => "parked",
            Adoption::OffUnmarked => "creating",
            Adoption::Deleting => "deleting",
        }
    }
}

/// A change the first start makes to a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A marker tag is written.
    AddTag(&'static str),
    /// A marker tag is removed.
    RemoveTag(&'static str),
    /// Powered off (the first step of a scale-down).
    PowerOff,
    /// Terminated.
    Terminate,
    /// Powered on.
    PowerOn,
    /// Reported as creating, then, past `max-node-provision-time`, parked (power-off
    /// mode) or failed, so that cluster-autoscaler deletes it (terminate mode).
    CreatingUntilTimeout {
        /// True in power-off mode.
        then_parked: bool,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::AddTag(tag) => write!(f, "add tag {tag}"),
            Change::RemoveTag(tag) => write!(f, "remove tag {tag}"),
            Change::PowerOff => f.write_str("power off"),
            Change::Terminate => f.write_str("terminate"),
            Change::PowerOn => f.write_str("power on"),
            Change::CreatingUntilTimeout { then_parked: true } => f.write_str(
                "reported creating and counted in the target until max-node-provision-time, then parked",
            ),
            Change::CreatingUntilTimeout { then_parked: false } => f.write_str(
                "reported creating and counted in the target until max-node-provision-time, then failed (cluster-autoscaler deletes it)",
            ),
        }
    }
}

/// A server the group takes over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Kamatera id.
    pub id: ServerId,
    /// Name.
    pub name: String,
    /// Whether it is powered on.
    pub power_on: bool,
    /// The tags that made it a member (cluster tag, group tag).
    pub matched: Vec<String>,
    /// How it is taken over.
    pub adoption: Adoption,
    /// Whether it counts in the target size.
    pub counted: bool,
    /// What the first start changes on it, in order.
    pub changes: Vec<Change>,
}

/// Why a listed server is no member of any group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftAloneReason {
    /// Its name does not start with `filter-name-prefix`: never looked at.
    OutsideFilter {
        /// The filter.
        filter: String,
    },
    /// It carries another cluster's tag and not this one's.
    ForeignCluster {
        /// The other cluster's tag.
        tag: String,
    },
    /// It carries a group's tag but not the cluster tag.
    MissingClusterTag {
        /// The group tag it carries.
        group_tag: String,
    },
    /// It carries the cluster tag, and the tag of no configured group.
    MissingGroupTag {
        /// The group tags it carries, of groups not in the config.
        unknown_group_tags: Vec<String>,
    },
    /// Its name fits a group's `name-prefix`, but it carries none of the provider's tags.
    NameFitsPrefix {
        /// The prefix.
        prefix: String,
    },
    /// None of the provider's tags and no fitting name.
    Unrelated,
}

impl LeftAloneReason {
    /// A stable label.
    pub fn as_str(&self) -> &'static str {
        match self {
            LeftAloneReason::OutsideFilter { .. } => "outside_filter",
            LeftAloneReason::ForeignCluster { .. } => "foreign_cluster",
            LeftAloneReason::MissingClusterTag { .. } => "missing_cluster_tag",
            LeftAloneReason::MissingGroupTag { .. } => "missing_group_tag",
            LeftAloneReason::NameFitsPrefix { .. } => "name_fits_prefix_without_tags",
            LeftAloneReason::Unrelated => "unrelated",
        }
    }
}

impl std::fmt::Display for LeftAloneReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeftAloneReason::OutsideFilter { filter } => {
                write!(f, "name does not start with filter-name-prefix {filter:?}")
            }
            LeftAloneReason::ForeignCluster { tag } => {
                write!(f, "tagged {tag}: another cluster's server")
            }
            LeftAloneReason::MissingClusterTag { group_tag } => {
                write!(f, "tagged {group_tag} but without the cluster tag")
            }
            LeftAloneReason::MissingGroupTag { unknown_group_tags }
                if unknown_group_tags.is_empty() =>
            {
                f.write_str("has the cluster tag but no node group tag")
            }
            LeftAloneReason::MissingGroupTag { unknown_group_tags } => write!(
                f,
                "has the cluster tag, and group tags of no configured group: {}",
                unknown_group_tags.join(", ")
            ),
            LeftAloneReason::NameFitsPrefix { prefix } => write!(
                f,
                "name fits name-prefix {prefix:?} but carries neither membership tag"
            ),
            LeftAloneReason::Unrelated => f.write_str("none of the provider's tags"),
        }
    }
}

/// A server no group takes over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftAlone {
    /// Kamatera id.
    pub id: ServerId,
    /// Name.
    pub name: String,
    /// Whether it is powered on.
    pub power_on: bool,
    /// Why.
    pub reason: LeftAloneReason,
}

/// What makes the switch unsafe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    /// The server carries the tags of several groups; the engine takes it into the first.
    ClaimedByGroups {
        /// The server.
        server: String,
        /// Every group whose tags it carries.
        groups: Vec<String>,
    },
    /// More members count than the group's `max-size` allows.
    OverMax {
        /// The target size the engine reports.
        target: u32,
        /// The group's `max-size`.
        max: u32,
    },
    /// A member the in-tree provider parked (powered off, no marker): counted as creating,
    /// then parked or deleted.
    ParkedWithoutMarker {
        /// The server.
        server: String,
        /// True in power-off mode, where tagging it parked keeps it.
        poweroff_mode: bool,
    },
    /// A member marked `k8scam-deleting` by an earlier run of this provider: its
    /// scale-down is finished at once, whether or not it is in use now.
    MarkedDeleting {
        /// The server.
        server: String,
    },
    /// A parked member beyond the group's parked cap (0 in terminate mode): terminated.
    ParkedOverCap {
        /// The server.
        server: String,
    },
}

impl Blocker {
    /// A stable label.
    pub fn as_str(&self) -> &'static str {
        match self {
            Blocker::ClaimedByGroups { .. } => "claimed_by_two_groups",
            Blocker::OverMax { .. } => "over_max_size",
            Blocker::ParkedWithoutMarker { .. } => "parked_without_marker",
            Blocker::MarkedDeleting { .. } => "marked_deleting",
            Blocker::ParkedOverCap { .. } => "parked_over_cap",
        }
    }

    /// The server it is about, if one.
    pub fn server(&self) -> Option<&str> {
        match self {
            Blocker::OverMax { .. } => None,
            Blocker::ClaimedByGroups { server, .. }
            | Blocker::ParkedWithoutMarker { server, .. }
            | Blocker::MarkedDeleting { server }
            | Blocker::ParkedOverCap { server } => Some(server),
        }
    }
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocker::ClaimedByGroups { server, groups } => write!(
                f,
                "{server} carries the tags of node groups {}: the in-tree provider counts it in each, this provider in {} only; remove all but one group tag",
                groups.join(" and "),
                groups.first().map_or("", String::as_str)
            ),
            Blocker::OverMax { target, max } => write!(
                f,
                "{target} members count in the target, more than max-size {max}: raise max-size or remove servers before the switch"
            ),
            Blocker::ParkedWithoutMarker {
                server,
                poweroff_mode,
            } => {
                write!(
                    f,
                    "{server} is a member powered off without the {PARKED_MARKER} tag (how the in-tree provider parks): it would be reported creating and counted in the target, then "
                )?;
                if *poweroff_mode {
                    write!(
                        f,
                        "parked; tag it {PARKED_MARKER} to keep it parked, power it on, or terminate it"
                    )
                } else {
                    f.write_str("deleted; power it on or terminate it")
                }
            }
            Blocker::MarkedDeleting { server } => write!(
                f,
                "{server} carries {DELETING_MARKER} from an earlier run of this provider: the first start would power it off and terminate or park it; remove the tag if it is in use"
            ),
            Blocker::ParkedOverCap { server } => write!(
                f,
                "{server} is parked beyond the group's parked cap (poweroff-on-scale-down-max-servers, none in terminate mode): the first start would terminate it"
            ),
        }
    }
}

/// One group on the first start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOutlook {
    /// Group name.
    pub name: String,
    /// `min-size`.
    pub min_size: u32,
    /// `max-size`.
    pub max_size: u32,
    /// `poweroff-on-scale-down`.
    pub poweroff_on_scale_down: bool,
    /// The target size cluster-autoscaler would see.
    pub target_size: u32,
    /// The powered-on members: the target size the in-tree provider reports for them.
    pub in_tree_target_size: u32,
    /// The members, in list order.
    pub members: Vec<Member>,
    /// Servers related to the group (by a tag or a fitting name) left alone, in list order.
    pub left_alone: Vec<LeftAlone>,
    /// What blocks a safe switch.
    pub blockers: Vec<Blocker>,
}

/// The first start over an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstStart {
    /// Every configured group, by name.
    pub groups: Vec<GroupOutlook>,
    /// Servers left alone that relate to no group, in list order.
    pub others: Vec<LeftAlone>,
}

impl FirstStart {
    /// True when nothing blocks the switch.
    pub fn is_safe(&self) -> bool {
        self.groups.iter().all(|g| g.blockers.is_empty())
    }
}

/// What the engine would do on its first start over `servers`, with `config`.
///
/// Fails only when a name in `config` makes no valid tag (a loaded config never does).
pub fn first_start(
    config: Arc<CloudConfig>,
    servers: &[ListedServer],
) -> Result<FirstStart, kamatera_api::Error> {
    let now = Instant::now();
    let mut state = State::new(Arc::clone(&config), EngineOptions::default())?;
    let list: kamatera_api::CompactServerList = ServerList {
        servers: servers
            .iter()
            .map(|s| ServerSummary {
                id: s.id.clone(),
                name: s.name.clone(),
                datacenter: String::new(),
                power: if s.power_on {
                    PowerState::On
                } else {
                    PowerState::Off
                },
            })
            .collect(),
        skipped: Vec::new(),
    }
    .into();
    state.list_requests += 1;
    let request = state.list_requests;
    state.apply_list(&list, request, now);
    for server in servers {
        // The engine reads the tags of the listed servers only.
        if state.servers.contains_key(&server.id) {
            state.apply_tags(&server.id, server.tags.clone(), now);
        }
    }
    state.finish_list(now);
    // As with a cluster-autoscaler calling: the first pass then plans every change.
    state.last_refresh_call = Some(now);
    // How each member is taken over, read before the pass moves it on.
    let adoptions: BTreeMap<ServerId, Adoption> = state
        .servers
        .iter()
        .filter(|(_, known)| State::group_of(known).is_some())
        .map(|(id, known)| (id.clone(), adoption_of(known)))
        .collect();
    let actions = state.advance(now);
    let mut changes: BTreeMap<ServerId, Vec<Change>> = BTreeMap::new();
    for action in &actions {
        let (server, change) = match action {
            Action::ClearParkedMarker { server, .. } => (server, Change::RemoveTag(PARKED_MARKER)),
            Action::BeginDelete {
                server, power_on, ..
            } => {
                let entry = changes.entry(server.clone()).or_default();
                if !adoptions
                    .get(server)
                    .is_some_and(|a| *a == Adoption::Deleting)
                {
                    entry.push(Change::AddTag(DELETING_MARKER));
                }
                if *power_on {
                    entry.push(Change::PowerOff);
                }
                // A marked deletion ends in a terminate or a park, decided after the
                // power-off; the plan names the end the group's mode leads to.
                let group = state.servers.get(server).and_then(State::group_of);
                let parks = group
                    .and_then(|g| state.groups.get(g))
                    .is_some_and(|g| g.config.poweroff_on_scale_down);
                entry.push(if parks {
                    Change::AddTag(PARKED_MARKER)
                } else {
                    Change::Terminate
                });
                continue;
            }
            Action::Park { server, .. } => (server, Change::AddTag(PARKED_MARKER)),
            Action::Terminate { server, .. } => (server, Change::Terminate),
            Action::PowerOn { server, .. } => (server, Change::PowerOn),
            Action::Create { .. } => continue,
        };
        changes.entry(server.clone()).or_default().push(change);
    }
    let changed: BTreeSet<Arc<str>> = state.groups.values().map(|g| g.name.clone()).collect();
    let snapshot = Snapshot::build(&state, &Snapshot::default(), &changed);

    let mut outlooks: BTreeMap<String, GroupOutlook> = state
        .groups
        .iter()
        .map(|(name, facts)| {
            let target_size = snapshot.groups.get(name).map_or(0, |g| g.target_size);
            let mut blockers = Vec::new();
            if target_size > facts.config.max_size {
                blockers.push(Blocker::OverMax {
                    target: target_size,
                    max: facts.config.max_size,
                });
            }
            let outlook = GroupOutlook {
                name: name.clone(),
                min_size: facts.config.min_size,
                max_size: facts.config.max_size,
                poweroff_on_scale_down: facts.config.poweroff_on_scale_down,
                target_size,
                in_tree_target_size: 0,
                members: Vec::new(),
                left_alone: Vec::new(),
                blockers,
            };
            (name.clone(), outlook)
        })
        .collect();
    let mut others = Vec::new();
    for server in servers {
        let Some(known) = state.servers.get(&server.id) else {
            others.push(left_alone(
                server,
                LeftAloneReason::OutsideFilter {
                    filter: config.filter_name_prefix.clone(),
                },
            ));
            continue;
        };
        if let Some(tags) = known.tags.as_ref()
            && let Some(group) = tags.group.as_deref()
            && let Some(outlook) = outlooks.get_mut(group)
        {
            let adoption = adoptions
                .get(&server.id)
                .copied()
                .unwrap_or(Adoption::Running);
            let mut server_changes = changes.remove(&server.id).unwrap_or_default();
            if adoption == Adoption::OffUnmarked {
                server_changes.push(Change::CreatingUntilTimeout {
                    then_parked: outlook.poweroff_on_scale_down,
                });
                outlook.blockers.push(Blocker::ParkedWithoutMarker {
                    server: server.name.clone(),
                    poweroff_mode: outlook.poweroff_on_scale_down,
                });
            }
            if adoption == Adoption::Deleting {
                outlook.blockers.push(Blocker::MarkedDeleting {
                    server: server.name.clone(),
                });
            } else if adoption == Adoption::Parked && server_changes.contains(&Change::Terminate) {
                outlook.blockers.push(Blocker::ParkedOverCap {
                    server: server.name.clone(),
                });
            }
            if !tags.other_groups.is_empty() {
                let groups = std::iter::once(group)
                    .chain(tags.other_groups.iter().map(|g| &**g))
                    .map(str::to_owned)
                    .collect();
                outlook.blockers.push(Blocker::ClaimedByGroups {
                    server: server.name.clone(),
                    groups,
                });
            }
            let matched = state
                .groups
                .get(group)
                .map(|g| {
                    g.tags
                        .to_vec()
                        .iter()
                        .map(|t| t.as_str().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            outlook.in_tree_target_size += u32::from(server.power_on);
            outlook.members.push(Member {
                id: server.id.clone(),
                name: server.name.clone(),
                power_on: server.power_on,
                matched,
                adoption,
                counted: matches!(adoption, Adoption::Running | Adoption::OffUnmarked),
                changes: server_changes,
            });
            continue;
        }
        let (group, reason) = why_left_alone(&state, &config, server);
        let entry = left_alone(server, reason);
        match group.and_then(|g| outlooks.get_mut(&g)) {
            Some(outlook) => outlook.left_alone.push(entry),
            None => others.push(entry),
        }
    }
    Ok(FirstStart {
        groups: outlooks.into_values().collect(),
        others,
    })
}

fn adoption_of(known: &KnownServer) -> Adoption {
    match adoption_phase(known) {
        Phase::Running => Adoption::Running,
        Phase::Parked => Adoption::Parked,
        Phase::Deleting(_) => Adoption::Deleting,
        _ => Adoption::OffUnmarked,
    }
}

fn left_alone(server: &ListedServer, reason: LeftAloneReason) -> LeftAlone {
    LeftAlone {
        id: server.id.clone(),
        name: server.name.clone(),
        power_on: server.power_on,
        reason,
    }
}

/// Why a listed server the engine took into no group is left alone, and the group it
/// relates to (by a group tag, else by a fitting non-empty name prefix).
fn why_left_alone(
    state: &State,
    config: &CloudConfig,
    server: &ListedServer,
) -> (Option<String>, LeftAloneReason) {
    let cluster_tag = format!("{CLUSTER_TAG_PREFIX}{}", config.cluster_name);
    let tagged_group = state
        .groups
        .values()
        .find(|g| server.tags.iter().any(|t| t == g.tags.group.as_str()))
        .map(|g| g.name.to_string());
    let fitting_group = || {
        state
            .groups
            .values()
            .find(|g| {
                let prefix = g.config.server.name_prefix.as_str();
                !prefix.is_empty() && name_fits_prefix(prefix, &server.name)
            })
            .map(|g| (g.name.to_string(), g.config.server.name_prefix.clone()))
    };
    let related = tagged_group
        .clone()
        .or_else(|| fitting_group().map(|(group, _)| group));
    let has_cluster_tag = server.tags.contains(&cluster_tag);
    let foreign = server
        .tags
        .iter()
        .find(|t| t.starts_with(CLUSTER_TAG_PREFIX) && **t != cluster_tag);
    if has_cluster_tag {
        let unknown_group_tags = server
            .tags
            .iter()
            .filter(|t| t.starts_with(GROUP_TAG_PREFIX))
            .cloned()
            .collect();
        return (
            related,
            LeftAloneReason::MissingGroupTag { unknown_group_tags },
        );
    }
    if let Some(tag) = foreign {
        return (
            related,
            LeftAloneReason::ForeignCluster { tag: tag.clone() },
        );
    }
    if let Some(group) = tagged_group {
        let group_tag = format!("{GROUP_TAG_PREFIX}{group}");
        return (
            Some(group),
            LeftAloneReason::MissingClusterTag { group_tag },
        );
    }
    match fitting_group() {
        Some((group, prefix)) => (Some(group), LeftAloneReason::NameFitsPrefix { prefix }),
        None => (None, LeftAloneReason::Unrelated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_fixture;

    /// Extra `[global]` lines of the tests' config.
    const GLOBAL_EXTRA: &str = "filter-name-prefix = k8s\n";
    const GROUPS: &str = "[nodegroup \"ng1\"]
min-size = 0
max-size = 2
name-prefix = k8s-ng1
[nodegroup \"ng2\"]
max-size = 5
name-prefix = k8s-ng2
poweroff-on-scale-down = true
";

    fn server(name: &str, on: bool, tags: &[&str]) -> ListedServer {
        ListedServer {
            id: ServerId::new(format!("id-{name}")),
            name: name.to_owned(),
            power_on: on,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    fn plan(servers: &[ListedServer]) -> FirstStart {
        let config = test_fixture::config_with(GLOBAL_EXTRA, GROUPS);
        first_start(Arc::new(config), servers).unwrap()
    }

    fn group<'a>(plan: &'a FirstStart, name: &str) -> &'a GroupOutlook {
        plan.groups.iter().find(|g| g.name == name).unwrap()
    }

    const NG1: &[&str] = &["k8sca-c1", "k8scang-ng1"];
    const NG2: &[&str] = &["k8sca-c1", "k8scang-ng2"];

    #[test]
    fn a_clean_in_tree_cluster_is_adopted_as_it_is() {
        let plan = plan(&[
            server("k8s-ng1-aaaaaaaaaa1", true, NG1),
            server("k8s-ng1-aaaaaaaaaa2", true, NG1),
            server("k8s-ng2-bbbbbbbbbb1", true, NG2),
        ]);
        assert!(plan.is_safe(), "{plan:#?}");
        let ng1 = group(&plan, "ng1");
        assert_eq!((ng1.target_size, ng1.in_tree_target_size), (2, 2));
        assert_eq!(ng1.members[0].matched, ["k8sca-c1", "k8scang-ng1"]);
        assert!(
            ng1.members
                .iter()
                .all(|m| m.adoption == Adoption::Running && m.counted && m.changes.is_empty())
        );
        assert_eq!(group(&plan, "ng2").target_size, 1);
        assert!(plan.others.is_empty());
    }

    #[test]
    fn servers_left_alone_say_why_and_relate_to_their_group() {
        let plan = plan(&[
            server("web-1", true, NG1),
            server("k8s-ng1-foreign0001", true, &["k8sca-c2", "k8scang-ng1"]),
            server("k8s-ng1-nocluster01", true, &["k8scang-ng1"]),
            server("k8s-ng2-untagged001", true, &[]),
            server("k8s-other-0000001", true, &["k8sca-c1", "k8scang-old"]),
            server("k8s-db", true, &["backup"]),
        ]);
        assert!(plan.is_safe());
        let reasons = |list: &[LeftAlone]| {
            list.iter()
                .map(|l| (l.name.clone(), l.reason.as_str()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            reasons(&group(&plan, "ng1").left_alone),
            [
                ("k8s-ng1-foreign0001".to_owned(), "foreign_cluster"),
                ("k8s-ng1-nocluster01".to_owned(), "missing_cluster_tag"),
            ]
        );
        assert_eq!(
            reasons(&group(&plan, "ng2").left_alone),
            [(
                "k8s-ng2-untagged001".to_owned(),
                "name_fits_prefix_without_tags"
            )]
        );
        assert_eq!(
            reasons(&plan.others),
            [
                ("web-1".to_owned(), "outside_filter"),
                ("k8s-other-0000001".to_owned(), "missing_group_tag"),
                ("k8s-db".to_owned(), "unrelated"),
            ]
        );
        assert_eq!(
            plan.others[1].reason.to_string(),
            "has the cluster tag, and group tags of no configured group: k8scang-old"
        );
    }

    #[test]
    fn a_server_two_groups_claim_blocks() {
        let plan = plan(&[server(
            "k8s-ng1-aaaaaaaaaa1",
            true,
            &["k8sca-c1", "k8scang-ng1", "k8scang-ng2"],
        )]);
        assert!(!plan.is_safe());
        let ng1 = group(&plan, "ng1");
        assert_eq!(
            ng1.blockers,
            [Blocker::ClaimedByGroups {
                server: "k8s-ng1-aaaaaaaaaa1".into(),
                groups: vec!["ng1".into(), "ng2".into()],
            }]
        );
        assert!(group(&plan, "ng2").members.is_empty());
    }

    #[test]
    fn a_group_over_its_max_blocks() {
        let plan = plan(&[
            server("k8s-ng1-aaaaaaaaaa1", true, NG1),
            server("k8s-ng1-aaaaaaaaaa2", true, NG1),
            server("k8s-ng1-aaaaaaaaaa3", true, NG1),
        ]);
        assert_eq!(
            group(&plan, "ng1").blockers,
            [Blocker::OverMax { target: 3, max: 2 }]
        );
    }

    #[test]
    fn an_in_tree_parked_server_blocks_and_is_counted_until_the_timeout() {
        let plan = plan(&[
            server("k8s-ng2-bbbbbbbbbb1", true, NG2),
            server("k8s-ng2-bbbbbbbbbb2", false, NG2),
        ]);
        let ng2 = group(&plan, "ng2");
        assert_eq!((ng2.target_size, ng2.in_tree_target_size), (2, 1));
        let parked = &ng2.members[1];
        assert_eq!(parked.adoption, Adoption::OffUnmarked);
        assert_eq!(
            parked.changes,
            [Change::CreatingUntilTimeout { then_parked: true }]
        );
        assert_eq!(
            ng2.blockers,
            [Blocker::ParkedWithoutMarker {
                server: "k8s-ng2-bbbbbbbbbb2".into(),
                poweroff_mode: true,
            }]
        );
    }

    #[test]
    fn markers_decide_the_first_start() {
        let marked = |group: &[&'static str], marker: &'static str| {
            let mut tags = group.to_vec();
            tags.push(marker);
            tags
        };
        let plan = plan(&[
            // Parked by hand the way the plan advises: parked, not counted, safe.
            server("k8s-ng2-bbbbbbbbbb1", false, &marked(NG2, PARKED_MARKER)),
            // Running with a stale parked marker: the marker goes.
            server("k8s-ng1-aaaaaaaaaa1", true, &marked(NG1, PARKED_MARKER)),
            // Parked in terminate mode: over the cap of none.
            server("k8s-ng1-aaaaaaaaaa2", false, &marked(NG1, PARKED_MARKER)),
            // Marked deleting by an earlier run.
            server("k8s-ng1-aaaaaaaaaa3", true, &marked(NG1, DELETING_MARKER)),
        ]);
        let ng2 = group(&plan, "ng2");
        assert!(ng2.blockers.is_empty(), "{:?}", ng2.blockers);
        assert_eq!(ng2.members[0].adoption, Adoption::Parked);
        assert!(!ng2.members[0].counted && ng2.members[0].changes.is_empty());
        assert_eq!(ng2.target_size, 0);

        let ng1 = group(&plan, "ng1");
        let changes: Vec<&[Change]> = ng1.members.iter().map(|m| &m.changes[..]).collect();
        assert_eq!(
            changes,
            [
                &[Change::RemoveTag(PARKED_MARKER)][..],
                &[Change::Terminate][..],
                &[Change::PowerOff, Change::Terminate][..],
            ]
        );
        assert_eq!(ng1.target_size, 1, "only the running member counts");
        let kinds: Vec<&str> = ng1.blockers.iter().map(Blocker::as_str).collect();
        assert_eq!(kinds, ["parked_over_cap", "marked_deleting"]);
    }
}
