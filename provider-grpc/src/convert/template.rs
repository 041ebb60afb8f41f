//! The template `v1.Node` of a node group, for `NodeGroupTemplateNodeInfo`.

use std::collections::BTreeMap;

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kamatera_nodegroups::NodeTemplate;
use kamatera_nodegroups::template::Resources;
use prost::Message as _;

use crate::pb;

/// Annotation on template nodes naming their node group. cluster-autoscaler passes a
/// template node's annotations back in `PricingNodePrice`, and a template node has no
/// provider id and a name no server has yet, so this is how its group is found.
pub const NODE_GROUP_ANNOTATION: &str = "kamatera.com/node-group";

/// CPU as a Kubernetes quantity: whole cores when exact (`2`), millicores otherwise (`1900m`).
fn cpu_quantity(millis: u64) -> Quantity {
    let text = if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    };
    Quantity { string: Some(text) }
}

/// A plain integer quantity (bytes, pods).
fn count_quantity(value: u64) -> Quantity {
    Quantity {
        string: Some(value.to_string()),
    }
}

fn resource_list(resources: &Resources) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_owned(), cpu_quantity(resources.cpu_millis)),
        ("memory".to_owned(), count_quantity(resources.memory_bytes)),
        (
            // Not `storage`: the scheduler only counts `ephemeral-storage`.
            "ephemeral-storage".to_owned(),
            count_quantity(resources.ephemeral_storage_bytes),
        ),
        ("pods".to_owned(), count_quantity(resources.pods)),
    ])
}

/// The template as a Kubernetes `v1.Node`: name, labels, taints, capacity, allocatable and
/// a Ready condition (CA treats a template that is not Ready as unusable).
pub fn template_node(group: &str, template: &NodeTemplate) -> core::Node {
    core::Node {
        metadata: Some(ObjectMeta {
            name: Some(template.name.clone()),
            labels: template.labels.clone(),
            annotations: BTreeMap::from([(NODE_GROUP_ANNOTATION.to_owned(), group.to_owned())]),
            ..ObjectMeta::default()
        }),
        spec: Some(core::NodeSpec {
            taints: template
                .taints
                .iter()
                .map(|taint| core::Taint {
                    key: Some(taint.key.clone()),
                    value: Some(taint.value.clone()),
                    effect: Some(taint.effect.as_str().to_owned()),
                    time_added: None,
                })
                .collect(),
            ..core::NodeSpec::default()
        }),
        status: Some(core::NodeStatus {
            capacity: resource_list(&template.capacity),
            allocatable: resource_list(&template.allocatable),
            phase: Some("Running".to_owned()),
            conditions: vec![core::NodeCondition {
                r#type: Some("Ready".to_owned()),
                status: Some("True".to_owned()),
                reason: Some("KubeletReady".to_owned()),
                message: Some("template node of a Kamatera node group".to_owned()),
                ..core::NodeCondition::default()
            }],
            ..core::NodeStatus::default()
        }),
    }
}

/// The `TemplateNodeInfo` reply: the same node bytes in the current field (2) and in the
/// field CA 1.34 and older read (1). Never empty: a node always has a name.
pub fn template_response(node: &core::Node) -> pb::NodeGroupTemplateNodeInfoResponse {
    let bytes = node.encode_to_vec();
    pb::NodeGroupTemplateNodeInfoResponse {
        node_info_legacy: bytes.clone(),
        node_bytes: bytes,
    }
}

#[cfg(test)]
mod tests {

    use kamatera_nodegroups::{Taint, TaintEffect};

    use super::*;

    fn template() -> NodeTemplate {
        NodeTemplate {
            name: "k8s-ng1-0123456789a".into(),
            labels: BTreeMap::from([("role".into(), "worker".into())]),
            taints: vec![Taint {
                key: "dedicated".into(),
                value: "batch".into(),
                effect: TaintEffect::NoSchedule,
            }],
            capacity: Resources {
                cpu_millis: 2000,
                memory_bytes: 4 << 30,
                ephemeral_storage_bytes: 50 << 30,
                pods: 110,
            },
            allocatable: Resources {
                cpu_millis: 1900,
                memory_bytes: (4 << 30) - (256 << 20),
                ephemeral_storage_bytes: 50 << 30,
                pods: 110,
            },
        }
    }

    #[test]
    fn template_node_round_trips_through_both_fields() {
        let node = template_node("ng1", &template());
        let response = template_response(&node);
        assert!(!response.node_bytes.is_empty());
        assert_eq!(response.node_bytes, response.node_info_legacy);
        let decoded = core::Node::decode(response.node_bytes.as_slice()).unwrap();
        assert_eq!(decoded, node);

        let meta = decoded.metadata.unwrap();
        assert_eq!(meta.name.as_deref(), Some("k8s-ng1-0123456789a"));
        assert_eq!(meta.labels["role"], "worker");
        assert_eq!(meta.annotations[NODE_GROUP_ANNOTATION], "ng1");
        let taint = &decoded.spec.unwrap().taints[0];
        assert_eq!(taint.key.as_deref(), Some("dedicated"));
        assert_eq!(taint.value.as_deref(), Some("batch"));
        assert_eq!(taint.effect.as_deref(), Some("NoSchedule"));
        let status = decoded.status.unwrap();
        let quantity =
            |map: &BTreeMap<String, Quantity>, key: &str| map[key].string.clone().unwrap();
        assert_eq!(quantity(&status.capacity, "cpu"), "2");
        assert_eq!(quantity(&status.allocatable, "cpu"), "1900m");
        assert_eq!(quantity(&status.capacity, "memory"), "4294967296");
        assert_eq!(quantity(&status.allocatable, "memory"), "4026531840");
        assert_eq!(
            quantity(&status.capacity, "ephemeral-storage"),
            "53687091200"
        );
        assert_eq!(quantity(&status.allocatable, "pods"), "110");
        assert_eq!(status.conditions[0].r#type.as_deref(), Some("Ready"));
        assert_eq!(status.conditions[0].status.as_deref(), Some("True"));
    }
}
