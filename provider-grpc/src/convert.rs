//! Domain values as protobuf messages, and the little arithmetic the protocol needs
//! (durations in two encodings, option merging, prices). No decisions about node groups
//! are made here.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kamatera_nodegroups::engine::{ErrorClass, GroupView, InstanceState, InstanceView};
use kamatera_nodegroups::template::Resources;
use kamatera_nodegroups::{AutoscalingOptions, NodeTemplate, PodRequests};
use prost::Message as _;

use crate::pb;

/// Annotation on template nodes naming their node group. cluster-autoscaler passes a
/// template node's annotations back in `PricingNodePrice`, and a template node has no
/// provider id and a name no server has yet, so this is how its group is found.
pub const NODE_GROUP_ANNOTATION: &str = "kamatera.com/node-group";

/// `InstanceErrorInfo.instanceErrorClass` for out-of-resources errors (CA's value).
pub const ERROR_CLASS_OUT_OF_RESOURCES: i32 = 1;
/// `InstanceErrorInfo.instanceErrorClass` for every other error (CA's value).
pub const ERROR_CLASS_OTHER: i32 = 99;

/// Saturates a size at `i32::MAX`: the protocol's sizes are `int32`.
fn size(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// A node group as `NodeGroups` and `NodeGroupForNode` report it.
pub fn node_group(view: &GroupView) -> pb::NodeGroup {
    pb::NodeGroup {
        id: view.name.clone(),
        min_size: size(view.min_size),
        max_size: size(view.max_size),
        debug: format!(
            "kamatera node group {} (min {}, max {}, target {}, parked {})",
            view.name, view.min_size, view.max_size, view.target_size, view.parked
        ),
    }
}

/// The target size as `NodeGroupTargetSize` reports it.
pub fn target_size(target: u32) -> i32 {
    size(target)
}

/// One instance as `NodeGroupNodes` reports it.
pub fn instance(view: &InstanceView) -> pb::Instance {
    use pb::instance_status::InstanceState as Wire;
    let state = match view.state {
        InstanceState::Creating => Wire::InstanceCreating,
        InstanceState::Running => Wire::InstanceRunning,
        InstanceState::Deleting => Wire::InstanceDeleting,
    };
    let error_info = view.error.as_ref().map(|error| pb::InstanceErrorInfo {
        error_code: error.code.to_owned(),
        error_message: error.message.clone(),
        instance_error_class: match error.class {
            ErrorClass::OutOfResources => ERROR_CLASS_OUT_OF_RESOURCES,
            ErrorClass::Other => ERROR_CLASS_OTHER,
        },
    });
    pb::Instance {
        id: view.provider_id.clone(),
        status: Some(pb::InstanceStatus {
            instance_state: state as i32,
            error_info,
        }),
    }
}

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

/// A duration as `google.protobuf.Duration` (saturating at the type's range).
pub fn to_proto_duration(duration: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        // Always below 1e9, so it fits.
        nanos: i32::try_from(duration.subsec_nanos()).unwrap_or(0),
    }
}

/// A duration as CA 1.34's `meta.v1.Duration`: nanoseconds, saturating.
pub fn to_legacy_duration(duration: Duration) -> pb::LegacyDuration {
    pb::LegacyDuration {
        duration: i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX),
    }
}

/// A `google.protobuf.Duration` as a std duration; negative values count as zero.
pub fn from_proto_duration(duration: &prost_types::Duration) -> Duration {
    let seconds = u64::try_from(duration.seconds).unwrap_or(0);
    let nanos = u32::try_from(duration.nanos).unwrap_or(0);
    if duration.seconds < 0 {
        return Duration::ZERO;
    }
    Duration::new(seconds, 0).saturating_add(Duration::from_nanos(u64::from(nanos)))
}

/// A legacy nanosecond duration as a std duration; negative values count as zero.
pub fn from_legacy_duration(duration: &pb::LegacyDuration) -> Duration {
    Duration::from_nanos(u64::try_from(duration.duration).unwrap_or(0))
}

/// Reads one duration of CA's defaults: the current field when present, else the legacy
/// one (CA 1.34.1 and older only send the legacy fields), else zero.
fn pick_duration(
    current: Option<&prost_types::Duration>,
    legacy: Option<&pb::LegacyDuration>,
) -> Duration {
    match (current, legacy) {
        (Some(current), _) => from_proto_duration(current),
        (None, Some(legacy)) => from_legacy_duration(legacy),
        (None, None) => Duration::ZERO,
    }
}

/// CA's `max-node-provision-time` from its defaults, in whichever encoding it sent (zero
/// when it sent none).
pub fn max_node_provision_time(defaults: &pb::NodeGroupAutoscalingOptions) -> Duration {
    pick_duration(
        defaults.max_node_provision_duration.as_ref(),
        defaults.max_node_provision_time.as_ref(),
    )
}

/// True when the group overrides at least one option; otherwise `GetOptions` answers
/// `Unimplemented` and CA uses its own flags, including the ones the protocol cannot carry.
pub fn has_overrides(options: &AutoscalingOptions) -> bool {
    *options != AutoscalingOptions::default()
}

/// CA's defaults with the group's overrides on top, every duration in both encodings.
///
/// Every field is filled: CA takes every option from the reply, so an option left out
/// would become zero (a zero unneeded time removes nodes at once), and CA 1.34.1 and older
/// crash on a reply without the legacy durations.
pub fn merge_options(
    defaults: &pb::NodeGroupAutoscalingOptions,
    overrides: &AutoscalingOptions,
) -> pb::NodeGroupAutoscalingOptions {
    let unneeded = overrides.scale_down_unneeded_time.unwrap_or_else(|| {
        pick_duration(
            defaults.scale_down_unneeded_duration.as_ref(),
            defaults.scale_down_unneeded_time.as_ref(),
        )
    });
    let unready = overrides.scale_down_unready_time.unwrap_or_else(|| {
        pick_duration(
            defaults.scale_down_unready_duration.as_ref(),
            defaults.scale_down_unready_time.as_ref(),
        )
    });
    let provision = overrides.max_node_provision_time.unwrap_or_else(|| {
        pick_duration(
            defaults.max_node_provision_duration.as_ref(),
            defaults.max_node_provision_time.as_ref(),
        )
    });
    pb::NodeGroupAutoscalingOptions {
        scale_down_utilization_threshold: overrides
            .scale_down_utilization_threshold
            .unwrap_or(defaults.scale_down_utilization_threshold),
        scale_down_gpu_utilization_threshold: overrides
            .scale_down_gpu_utilization_threshold
            .unwrap_or(defaults.scale_down_gpu_utilization_threshold),
        zero_or_max_node_scaling: overrides
            .zero_or_max_node_scaling
            .unwrap_or(defaults.zero_or_max_node_scaling),
        ignore_daemon_sets_utilization: overrides
            .ignore_daemonsets_utilization
            .unwrap_or(defaults.ignore_daemon_sets_utilization),
        scale_down_unneeded_time: Some(to_legacy_duration(unneeded)),
        scale_down_unready_time: Some(to_legacy_duration(unready)),
        max_node_provision_time: Some(to_legacy_duration(provision)),
        scale_down_unneeded_duration: Some(to_proto_duration(unneeded)),
        scale_down_unready_duration: Some(to_proto_duration(unready)),
        max_node_provision_duration: Some(to_proto_duration(provision)),
    }
}

/// Why a price cannot be computed from the request's time span.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    /// A timestamp is missing.
    #[error("the start and end timestamps are required")]
    Missing,
    /// The span ends before it starts.
    #[error("the end timestamp is before the start timestamp")]
    Negative,
}

/// Seconds between two timestamps (fractional).
pub fn span_seconds(
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
) -> Result<f64, SpanError> {
    let (Some(start), Some(end)) = (start, end) else {
        return Err(SpanError::Missing);
    };
    let nanos =
        |t: &prost_types::Timestamp| i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
    let diff = nanos(end) - nanos(start);
    if diff < 0 {
        return Err(SpanError::Negative);
    }
    // Precision beyond a nanosecond per hour does not matter for a price comparison.
    #[expect(clippy::cast_precision_loss)]
    Ok(diff as f64 / 1e9)
}

/// A Kubernetes quantity (`500m`, `1.5`, `256Mi`, `524288k`, `1e3`) in its base unit
/// (cores, bytes), or `None` when it cannot be read. Only for prices: f64 precision.
pub fn quantity_value(quantity: &Quantity) -> Option<f64> {
    let text = quantity.string.as_deref()?.trim();
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    let base: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0f64.powi(4),
        "Pi" => 1024.0f64.powi(5),
        "Ei" => 1024.0f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => {
            10f64.powi(exponent[1..].parse::<i32>().ok()?)
        }
        _ => return None,
    };
    let value = base * factor;
    (value.is_finite() && value >= 0.0).then_some(value)
}

/// CPU (millicores) and memory (bytes) of a resource list; missing or unreadable
/// entries count as zero.
fn cpu_and_memory(resources: &BTreeMap<String, Quantity>) -> (f64, f64) {
    let read = |name: &str| resources.get(name).and_then(quantity_value).unwrap_or(0.0);
    (read("cpu") * 1000.0, read("memory"))
}

fn container_requests(container: &core::Container) -> (f64, f64) {
    container
        .resources
        .as_ref()
        .map_or((0.0, 0.0), |r| cpu_and_memory(&r.requests))
}

/// What the scheduler reserves for a pod: the sum over its containers (and sidecar init
/// containers, which keep running), or the largest regular init container when that is
/// larger, plus the pod overhead. Per resource, as the scheduler counts it.
pub fn pod_requests(pod: &core::Pod) -> PodRequests {
    let Some(spec) = pod.spec.as_ref() else {
        return PodRequests::default();
    };
    let add = |a: (f64, f64), b: (f64, f64)| (a.0 + b.0, a.1 + b.1);
    let max = |a: (f64, f64), b: (f64, f64)| (a.0.max(b.0), a.1.max(b.1));
    let mut running = spec
        .containers
        .iter()
        .map(container_requests)
        .fold((0.0, 0.0), add);
    let mut sidecars = (0.0, 0.0);
    let mut init_peak = (0.0, 0.0);
    for init in &spec.init_containers {
        let requests = container_requests(init);
        if init.restart_policy.as_deref() == Some("Always") {
            sidecars = add(sidecars, requests);
            init_peak = max(init_peak, sidecars);
        } else {
            // Runs alone, next to the sidecars started before it.
            init_peak = max(init_peak, add(sidecars, requests));
        }
    }
    running = max(add(running, sidecars), init_peak);
    let (cpu, memory) = add(running, cpu_and_memory(&spec.overhead));
    // Saturating float-to-int casts; prices need no more than whole millicores and bytes.
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    PodRequests {
        cpu_millis: cpu.ceil() as u64,
        memory_bytes: memory.ceil() as u64,
    }
}

#[cfg(test)]
mod tests {
    use kamatera_nodegroups::engine::{InstanceError, codes};
    use kamatera_nodegroups::{Taint, TaintEffect};

    use super::*;

    fn view(state: InstanceState, error: Option<InstanceError>) -> InstanceView {
        InstanceView {
            provider_id: "kamatera://ng1-abc".into(),
            name: "ng1-abc".into(),
            state,
            error,
            since: tokio::time::Instant::now(),
        }
    }

    #[test]
    fn instances_carry_state_and_error_class() {
        use pb::instance_status::InstanceState as Wire;
        let running = instance(&view(InstanceState::Running, None));
        assert_eq!(running.id, "kamatera://ng1-abc");
        let status = running.status.unwrap();
        assert_eq!(status.instance_state(), Wire::InstanceRunning);
        assert!(status.error_info.is_none());

        assert_eq!(
            instance(&view(InstanceState::Deleting, None))
                .status
                .unwrap()
                .instance_state(),
            Wire::InstanceDeleting
        );

        let failed = instance(&view(
            InstanceState::Creating,
            Some(InstanceError {
                class: ErrorClass::OutOfResources,
                code: codes::CREATE_FAILED,
                message: "Insufficient resources".into(),
            }),
        ));
        let status = failed.status.unwrap();
        assert_eq!(status.instance_state(), Wire::InstanceCreating);
        let info = status.error_info.unwrap();
        assert_eq!(info.error_code, "CREATE_FAILED");
        assert_eq!(info.error_message, "Insufficient resources");
        assert_eq!(info.instance_error_class, 1);

        let other = instance(&view(
            InstanceState::Creating,
            Some(InstanceError {
                class: ErrorClass::Other,
                code: codes::CREATE_TIMEOUT,
                message: "slow".into(),
            }),
        ));
        assert_eq!(
            other
                .status
                .unwrap()
                .error_info
                .unwrap()
                .instance_error_class,
            99
        );
    }

    #[test]
    fn node_group_sizes_saturate() {
        let group = node_group(&GroupView {
            name: "ng1".into(),
            min_size: 0,
            max_size: u32::MAX,
            target_size: 2,
            instances: std::sync::Arc::from([]),
            parked: 1,
            parked_servers: vec!["k8s-ng1-parked".into()],
        });
        assert_eq!(group.id, "ng1");
        assert_eq!(group.min_size, 0);
        assert_eq!(group.max_size, i32::MAX);
        assert!(group.debug.contains("target 2"), "{}", group.debug);
        assert_eq!(target_size(7), 7);
    }

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

    #[test]
    fn durations_convert_both_ways_and_saturate() {
        let d = Duration::new(90, 5);
        assert_eq!(
            to_proto_duration(d),
            prost_types::Duration {
                seconds: 90,
                nanos: 5
            }
        );
        assert_eq!(to_legacy_duration(d).duration, 90_000_000_005);
        assert_eq!(from_proto_duration(&to_proto_duration(d)), d);
        assert_eq!(from_legacy_duration(&to_legacy_duration(d)), d);
        assert_eq!(to_legacy_duration(Duration::MAX).duration, i64::MAX);
        assert_eq!(
            from_proto_duration(&prost_types::Duration {
                seconds: -1,
                nanos: 0
            }),
            Duration::ZERO
        );
        assert_eq!(
            from_legacy_duration(&pb::LegacyDuration { duration: -5 }),
            Duration::ZERO
        );
    }

    fn ca_defaults(legacy_only: bool) -> pb::NodeGroupAutoscalingOptions {
        let unneeded = Duration::from_secs(600);
        let unready = Duration::from_secs(1200);
        let provision = Duration::from_secs(900);
        let (new, old) = if legacy_only {
            (false, true)
        } else {
            (true, false)
        };
        pb::NodeGroupAutoscalingOptions {
            scale_down_utilization_threshold: 0.5,
            scale_down_gpu_utilization_threshold: 0.5,
            zero_or_max_node_scaling: false,
            ignore_daemon_sets_utilization: true,
            scale_down_unneeded_duration: new.then(|| to_proto_duration(unneeded)),
            scale_down_unready_duration: new.then(|| to_proto_duration(unready)),
            max_node_provision_duration: new.then(|| to_proto_duration(provision)),
            scale_down_unneeded_time: old.then(|| to_legacy_duration(unneeded)),
            scale_down_unready_time: old.then(|| to_legacy_duration(unready)),
            max_node_provision_time: old.then(|| to_legacy_duration(provision)),
        }
    }

    #[test]
    fn options_echo_defaults_with_overrides_in_both_encodings() {
        let overrides = AutoscalingOptions {
            scale_down_unneeded_time: Some(Duration::from_secs(300)),
            scale_down_utilization_threshold: Some(0.7),
            zero_or_max_node_scaling: Some(true),
            ..AutoscalingOptions::default()
        };
        assert!(has_overrides(&overrides));
        assert!(!has_overrides(&AutoscalingOptions::default()));
        for legacy_only in [false, true] {
            let merged = merge_options(&ca_defaults(legacy_only), &overrides);
            assert_eq!(merged.scale_down_utilization_threshold, 0.7);
            assert_eq!(merged.scale_down_gpu_utilization_threshold, 0.5);
            assert!(merged.zero_or_max_node_scaling);
            assert!(merged.ignore_daemon_sets_utilization);
            assert_eq!(
                merged.scale_down_unneeded_duration,
                Some(to_proto_duration(Duration::from_secs(300)))
            );
            assert_eq!(
                merged.scale_down_unneeded_time,
                Some(pb::LegacyDuration {
                    duration: 300_000_000_000
                })
            );
            assert_eq!(
                merged.scale_down_unready_duration,
                Some(to_proto_duration(Duration::from_secs(1200)))
            );
            assert_eq!(
                merged.scale_down_unready_time,
                Some(to_legacy_duration(Duration::from_secs(1200)))
            );
            assert_eq!(
                merged.max_node_provision_duration,
                Some(to_proto_duration(Duration::from_secs(900)))
            );
            assert_eq!(
                merged.max_node_provision_time,
                Some(to_legacy_duration(Duration::from_secs(900)))
            );
        }
    }

    #[test]
    fn options_without_defaults_still_fill_every_duration() {
        let overrides = AutoscalingOptions {
            max_node_provision_time: Some(Duration::from_secs(1800)),
            ..AutoscalingOptions::default()
        };
        let merged = merge_options(&pb::NodeGroupAutoscalingOptions::default(), &overrides);
        assert_eq!(
            merged.max_node_provision_time,
            Some(to_legacy_duration(Duration::from_secs(1800)))
        );
        assert_eq!(
            merged.scale_down_unneeded_time,
            Some(pb::LegacyDuration { duration: 0 })
        );
        assert!(merged.scale_down_unready_duration.is_some());
    }

    #[test]
    fn spans_are_fractional_seconds_and_never_negative() {
        let start = prost_types::Timestamp {
            seconds: 1_000,
            nanos: 0,
        };
        let end = prost_types::Timestamp {
            seconds: 1_000 + 5_400,
            nanos: 0,
        };
        let seconds = span_seconds(Some(&start), Some(&end)).unwrap();
        assert_eq!(seconds, 5_400.0);
        assert_eq!(span_seconds(Some(&start), Some(&start)), Ok(0.0));
        assert_eq!(
            span_seconds(Some(&end), Some(&start)),
            Err(SpanError::Negative)
        );
        assert_eq!(span_seconds(None, Some(&start)), Err(SpanError::Missing));
        let half = prost_types::Timestamp {
            seconds: 1_000,
            nanos: 500_000_000,
        };
        assert_eq!(span_seconds(Some(&start), Some(&half)), Ok(0.5));
    }

    fn q(text: &str) -> Quantity {
        Quantity {
            string: Some(text.to_owned()),
        }
    }

    #[test]
    fn quantities_read_every_kubernetes_suffix() {
        let cases = [
            ("500m", 0.5),
            ("2", 2.0),
            ("1.5", 1.5),
            ("256Mi", 268_435_456.0),
            ("524288k", 524_288_000.0),
            ("1Gi", 1_073_741_824.0),
            ("1e3", 1000.0),
            ("100u", 0.0001),
        ];
        for (text, value) in cases {
            let read = quantity_value(&q(text)).unwrap();
            assert!((read - value).abs() < 1e-9, "{text}: {read}");
        }
        assert_eq!(quantity_value(&q("lots")), None);
        assert_eq!(quantity_value(&q("-1")), None);
        assert_eq!(quantity_value(&Quantity { string: None }), None);
    }

    fn container(cpu: &str, memory: &str, restart: Option<&str>) -> core::Container {
        core::Container {
            resources: Some(core::ResourceRequirements {
                requests: BTreeMap::from([("cpu".into(), q(cpu)), ("memory".into(), q(memory))]),
                ..core::ResourceRequirements::default()
            }),
            restart_policy: restart.map(str::to_owned),
            ..core::Container::default()
        }
    }

    #[test]
    fn pod_requests_sum_containers_take_the_init_peak_and_add_overhead() {
        let pod = core::Pod {
            spec: Some(core::PodSpec {
                containers: vec![
                    container("250m", "256Mi", None),
                    container("250m", "256Mi", None),
                ],
                init_containers: vec![container("2", "64Mi", None)],
                overhead: BTreeMap::from([("cpu".into(), q("100m")), ("memory".into(), q("1Mi"))]),
                ..core::PodSpec::default()
            }),
            ..core::Pod::default()
        };
        // CPU: init container (2000m) beats the sum (500m); memory: the sum (512Mi) wins.
        assert_eq!(
            pod_requests(&pod),
            PodRequests {
                cpu_millis: 2100,
                memory_bytes: (513 << 20),
            }
        );
        // A sidecar keeps running next to the containers.
        let with_sidecar = core::Pod {
            spec: Some(core::PodSpec {
                containers: vec![container("500m", "100Mi", None)],
                init_containers: vec![container("100m", "10Mi", Some("Always"))],
                ..core::PodSpec::default()
            }),
            ..core::Pod::default()
        };
        assert_eq!(
            pod_requests(&with_sidecar),
            PodRequests {
                cpu_millis: 600,
                memory_bytes: 110 << 20,
            }
        );
        assert_eq!(pod_requests(&core::Pod::default()), PodRequests::default());
        let no_requests = core::Pod {
            spec: Some(core::PodSpec {
                containers: vec![core::Container::default()],
                ..core::PodSpec::default()
            }),
            ..core::Pod::default()
        };
        assert_eq!(pod_requests(&no_requests), PodRequests::default());
    }
}
