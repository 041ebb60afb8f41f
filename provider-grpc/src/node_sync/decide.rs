//! The pure part of node sync: given a Node and what the engine knows about the server of
//! the same name, what (if anything) should change. Kept free of I/O so every rule is unit
//! tested.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Taint};

use super::settings::ParkedNodeAction;

/// Taint cluster-autoscaler puts on a node it is about to delete.
pub(crate) const TO_BE_DELETED_TAINT: &str = "ToBeDeletedByClusterAutoscaler";
/// Taint cluster-autoscaler puts on a node it considers for deletion.
pub(crate) const DELETION_CANDIDATE_TAINT: &str = "DeletionCandidateOfClusterAutoscaler";

/// What the engine knows about the server named like a Node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerFacts<'a> {
    /// Not a server of a managed node group (or not known yet).
    Unknown,
    /// A reported instance of a managed group; its Node should carry this provider id and
    /// these labels.
    Managed {
        /// `<provider-id-prefix><server name>`.
        expected_provider_id: &'a str,
        /// The group's template labels a kubelet does not set by itself (instance type,
        /// region, `template-label`s).
        labels: &'a BTreeMap<String, String>,
    },
    /// A parked server (powered off, kept for reuse).
    Parked {
        /// The provider id its Node had, or would have had, while it was running.
        provider_id: &'a str,
    },
}

/// The change to make to one Node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// Nothing to do.
    Nothing,
    /// Fill in what a managed server's Node lacks, in one patch.
    Complete {
        /// The value for an empty `spec.providerID`; `None` when it is already right.
        provider_id: Option<String>,
        /// Template labels the Node does not have at all (never one it has with another
        /// value).
        labels: BTreeMap<String, String>,
    },
    /// The Node has another provider id than the one the server would have; it is never
    /// overwritten, only reported.
    Mismatch {
        /// What the provider reports as the instance id.
        expected: String,
        /// What the Node carries.
        actual: String,
    },
    /// The server is parked but its Node still reports Ready: wait until the node
    /// controller notices the power-off (a later Node event or resync acts), so a stale
    /// engine view can never delete the Node of a running server.
    WaitUntilNotReady,
    /// Delete the parked server's Node.
    DeleteParked,
    /// Make the parked server's Node schedulable and replace its taints with these (the
    /// autoscaler's two taints removed, the rest kept in order).
    ClearAutoscalerMarks {
        /// The taints to keep.
        taints: Vec<Taint>,
    },
}

/// Decides what to do with `node` given the engine's `facts` about the server of the same
/// name and the configured `action` for parked servers.
pub(crate) fn plan(node: &Node, facts: ServerFacts<'_>, action: ParkedNodeAction) -> Plan {
    let current = provider_id(node);
    match facts {
        ServerFacts::Unknown => Plan::Nothing,
        ServerFacts::Managed {
            expected_provider_id,
            labels,
        } => match current {
            // Bound to another machine, or the prefix is wrong: not ours to change at all.
            Some(actual) if actual != expected_provider_id => Plan::Mismatch {
                expected: expected_provider_id.to_owned(),
                actual: actual.to_owned(),
            },
            _ => {
                let provider_id = current.is_none().then(|| expected_provider_id.to_owned());
                let present = node.metadata.labels.as_ref();
                let missing: BTreeMap<String, String> = labels
                    .iter()
                    .filter(|(key, _)| !present.is_some_and(|p| p.contains_key(*key)))
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
                if provider_id.is_none() && missing.is_empty() {
                    Plan::Nothing
                } else {
                    Plan::Complete {
                        provider_id,
                        labels: missing,
                    }
                }
            }
        },
        ServerFacts::Parked { provider_id } => match current {
            // A Node named like a parked server but bound to another machine (another
            // provider's id) is not ours to delete or change.
            Some(actual) if actual != provider_id => Plan::Mismatch {
                expected: provider_id.to_owned(),
                actual: actual.to_owned(),
            },
            _ => match action {
                ParkedNodeAction::Delete if is_ready(node) => Plan::WaitUntilNotReady,
                ParkedNodeAction::Delete => Plan::DeleteParked,
                ParkedNodeAction::ClearMarks => clear_autoscaler_marks(node),
            },
        },
    }
}

/// A template label the Node carries with another value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelConflict<'a> {
    /// The label key.
    pub key: &'a str,
    /// The template's value.
    pub wanted: &'a str,
    /// The Node's value, which is left as is.
    pub actual: &'a str,
}

/// The template labels in `wanted` that `node` has with a different value (an empty
/// value counts as different: it is a value).
pub(crate) fn label_conflicts<'a>(
    node: &'a Node,
    wanted: &'a BTreeMap<String, String>,
) -> Vec<LabelConflict<'a>> {
    let Some(present) = node.metadata.labels.as_ref() else {
        return Vec::new();
    };
    wanted
        .iter()
        .filter_map(|(key, want)| {
            let actual = present.get(key)?;
            (actual != want).then_some(LabelConflict {
                key,
                wanted: want,
                actual,
            })
        })
        .collect()
}

/// The Node's provider id; an empty string counts as none (the API server treats it so).
pub(crate) fn provider_id(node: &Node) -> Option<&str> {
    node.spec
        .as_ref()
        .and_then(|spec| spec.provider_id.as_deref())
        .filter(|id| !id.is_empty())
}

/// True when the Node's `Ready` condition is `True`. A missing status or condition counts as
/// not ready (the kubelet has not reported, or the node controller marked it `Unknown`).
pub(crate) fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

fn is_autoscaler_taint(taint: &Taint) -> bool {
    taint.key == TO_BE_DELETED_TAINT || taint.key == DELETION_CANDIDATE_TAINT
}

fn clear_autoscaler_marks(node: &Node) -> Plan {
    let spec = node.spec.as_ref();
    let unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
    let taints = spec.and_then(|s| s.taints.as_deref()).unwrap_or_default();
    let has_autoscaler_taint = taints.iter().any(is_autoscaler_taint);
    if !unschedulable && !has_autoscaler_taint {
        return Plan::Nothing;
    }
    Plan::ClearAutoscalerMarks {
        taints: taints
            .iter()
            .filter(|t| !is_autoscaler_taint(t))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{NodeCondition, NodeSpec, NodeStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    const ID: &str = "kamatera://k8s-ng1-a";

    fn node(provider_id: Option<&str>) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some("k8s-ng1-a".to_owned()),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                provider_id: provider_id.map(str::to_owned),
                ..NodeSpec::default()
            }),
            status: None,
        }
    }

    fn with_ready(mut node: Node, ready: &str) -> Node {
        node.status = Some(NodeStatus {
            conditions: Some(vec![
                NodeCondition {
                    type_: "MemoryPressure".to_owned(),
                    status: "False".to_owned(),
                    ..NodeCondition::default()
                },
                NodeCondition {
                    type_: "Ready".to_owned(),
                    status: ready.to_owned(),
                    ..NodeCondition::default()
                },
            ]),
            ..NodeStatus::default()
        });
        node
    }

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.to_owned(),
            effect: effect.to_owned(),
            ..Taint::default()
        }
    }

    fn marked(mut node: Node, unschedulable: bool, taints: Vec<Taint>) -> Node {
        let spec = node.spec.get_or_insert_with(NodeSpec::default);
        spec.unschedulable = Some(unschedulable);
        spec.taints = Some(taints);
        node
    }

    /// No template labels to add (the labels have tests of their own).
    static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();
    const MANAGED: ServerFacts<'static> = ServerFacts::Managed {
        expected_provider_id: ID,
        labels: &NO_LABELS,
    };
    const PARKED: ServerFacts<'static> = ServerFacts::Parked { provider_id: ID };

    #[test]
    fn a_managed_node_without_provider_id_gets_one() {
        let expected = Plan::Complete {
            provider_id: Some(ID.to_owned()),
            labels: BTreeMap::new(),
        };
        for n in [node(None), node(Some(""))] {
            assert_eq!(plan(&n, MANAGED, ParkedNodeAction::Delete), expected);
        }
        // No spec at all (a Node object as minimal as the API allows).
        let mut bare = node(None);
        bare.spec = None;
        assert_eq!(plan(&bare, MANAGED, ParkedNodeAction::Delete), expected);
    }

    #[test]
    fn a_matching_provider_id_needs_nothing() {
        assert_eq!(
            plan(&node(Some(ID)), MANAGED, ParkedNodeAction::Delete),
            Plan::Nothing
        );
    }

    #[test]
    fn a_different_provider_id_is_reported_never_overwritten() {
        assert_eq!(
            plan(
                &node(Some("rke2://k8s-ng1-a")),
                MANAGED,
                ParkedNodeAction::Delete
            ),
            Plan::Mismatch {
                expected: ID.to_owned(),
                actual: "rke2://k8s-ng1-a".to_owned(),
            }
        );
    }

    #[test]
    fn nodes_of_unknown_servers_are_left_alone() {
        for n in [
            node(None),
            node(Some("aws:///x")),
            with_ready(node(None), "False"),
        ] {
            for action in [ParkedNodeAction::Delete, ParkedNodeAction::ClearMarks] {
                assert_eq!(plan(&n, ServerFacts::Unknown, action), Plan::Nothing);
            }
        }
    }

    #[test]
    fn a_parked_servers_not_ready_node_is_deleted() {
        for n in [
            with_ready(node(Some(ID)), "False"),
            with_ready(node(Some(ID)), "Unknown"),
            with_ready(node(None), "Unknown"),
            node(Some(ID)), // no status yet
        ] {
            assert_eq!(
                plan(&n, PARKED, ParkedNodeAction::Delete),
                Plan::DeleteParked
            );
        }
    }

    #[test]
    fn a_parked_servers_node_still_ready_is_kept_for_now() {
        assert_eq!(
            plan(
                &with_ready(node(Some(ID)), "True"),
                PARKED,
                ParkedNodeAction::Delete
            ),
            Plan::WaitUntilNotReady
        );
    }

    #[test]
    fn a_node_named_like_a_parked_server_with_a_foreign_id_is_not_touched() {
        let n = with_ready(node(Some("rke2://k8s-ng1-a")), "False");
        for action in [ParkedNodeAction::Delete, ParkedNodeAction::ClearMarks] {
            assert!(matches!(plan(&n, PARKED, action), Plan::Mismatch { .. }));
        }
    }

    #[test]
    fn clear_marks_mode_clears_the_autoscaler_marks_and_keeps_other_taints() {
        let n = marked(
            with_ready(node(Some(ID)), "True"),
            true,
            vec![
                taint("dedicated", "NoSchedule"),
                taint(TO_BE_DELETED_TAINT, "NoSchedule"),
                taint(DELETION_CANDIDATE_TAINT, "PreferNoSchedule"),
                taint("node.kubernetes.io/unreachable", "NoExecute"),
            ],
        );
        assert_eq!(
            plan(&n, PARKED, ParkedNodeAction::ClearMarks),
            Plan::ClearAutoscalerMarks {
                taints: vec![
                    taint("dedicated", "NoSchedule"),
                    taint("node.kubernetes.io/unreachable", "NoExecute"),
                ],
            }
        );
    }

    #[test]
    fn clear_marks_mode_makes_the_node_schedulable_even_without_taints() {
        let n = marked(node(Some(ID)), true, vec![]);
        assert_eq!(
            plan(&n, PARKED, ParkedNodeAction::ClearMarks),
            Plan::ClearAutoscalerMarks { taints: vec![] }
        );
    }

    #[test]
    fn clear_marks_mode_does_nothing_when_already_clear() {
        let clean = marked(
            node(Some(ID)),
            false,
            vec![taint("dedicated", "NoSchedule")],
        );
        assert_eq!(
            plan(&clean, PARKED, ParkedNodeAction::ClearMarks),
            Plan::Nothing
        );
        assert_eq!(
            plan(&node(None), PARKED, ParkedNodeAction::ClearMarks),
            Plan::Nothing
        );
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn labelled(mut node: Node, pairs: &[(&str, &str)]) -> Node {
        node.metadata.labels = Some(labels(pairs));
        node
    }

    #[test]
    fn missing_template_labels_come_with_the_provider_id_in_one_plan() {
        let wanted = labels(&[
            ("node.kubernetes.io/instance-type", "2A-4096"),
            ("topology.kubernetes.io/region", "IL"),
            ("pool", "web"),
        ]);
        let facts = ServerFacts::Managed {
            expected_provider_id: ID,
            labels: &wanted,
        };
        // Nothing yet: everything in one plan.
        let bare = labelled(node(None), &[("kubernetes.io/hostname", "k8s-ng1-a")]);
        assert_eq!(
            plan(&bare, facts, ParkedNodeAction::Delete),
            Plan::Complete {
                provider_id: Some(ID.to_owned()),
                labels: wanted.clone(),
            }
        );
        // The provider id is right; one label is there, one has another value (kept).
        let partly = labelled(
            node(Some(ID)),
            &[("pool", "web"), ("topology.kubernetes.io/region", "EU")],
        );
        assert_eq!(
            plan(&partly, facts, ParkedNodeAction::Delete),
            Plan::Complete {
                provider_id: None,
                labels: labels(&[("node.kubernetes.io/instance-type", "2A-4096")]),
            }
        );
        assert_eq!(
            label_conflicts(&partly, &wanted),
            [LabelConflict {
                key: "topology.kubernetes.io/region",
                wanted: "IL",
                actual: "EU",
            }]
        );
        // Complete already: nothing to do.
        let complete = labelled(
            node(Some(ID)),
            &[
                ("node.kubernetes.io/instance-type", "2A-4096"),
                ("topology.kubernetes.io/region", "IL"),
                ("pool", "web"),
            ],
        );
        assert_eq!(
            plan(&complete, facts, ParkedNodeAction::Delete),
            Plan::Nothing
        );
        assert!(label_conflicts(&complete, &wanted).is_empty());
        // An empty value is a value: never replaced.
        let empty = labelled(node(Some(ID)), &[("pool", "")]);
        assert_eq!(label_conflicts(&empty, &wanted).len(), 1);
        assert!(matches!(
            plan(&empty, facts, ParkedNodeAction::Delete),
            Plan::Complete { labels, .. } if !labels.contains_key("pool")
        ));
    }

    #[test]
    fn a_node_with_a_foreign_provider_id_gets_no_labels() {
        let wanted = labels(&[("pool", "web")]);
        let facts = ServerFacts::Managed {
            expected_provider_id: ID,
            labels: &wanted,
        };
        assert!(matches!(
            plan(
                &node(Some("rke2://k8s-ng1-a")),
                facts,
                ParkedNodeAction::Delete
            ),
            Plan::Mismatch { .. }
        ));
    }

    #[test]
    fn readiness_reads_the_ready_condition_only() {
        assert!(is_ready(&with_ready(node(None), "True")));
        assert!(!is_ready(&with_ready(node(None), "False")));
        assert!(!is_ready(&node(None)));
    }
}
