//! `NodeGroupGetOptions`: CA's defaults with a group's overrides on top.

use std::time::Duration;

use kamatera_nodegroups::AutoscalingOptions;

use super::duration::{
    from_legacy_duration, from_proto_duration, to_legacy_duration, to_proto_duration,
};
use crate::pb;

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

#[cfg(test)]
mod tests {

    use super::*;

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
}
