//! Node groups and instances as `NodeGroups`, `NodeGroupNodes` and `NodeGroupForNode`
//! report them.

use kamatera_nodegroups::engine::{ErrorClass, GroupView, InstanceState, InstanceView};

use crate::pb;

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
        error_code: error.code.as_str().to_owned(),
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

#[cfg(test)]
mod tests {
    use kamatera_nodegroups::engine::{ErrorCode, InstanceError};

    use super::*;

    fn view(state: InstanceState, error: Option<InstanceError>) -> InstanceView {
        InstanceView {
            provider_id: "kamatera://ng1-abc".into(),
            name: "ng1-abc".into(),
            state,
            error,
            since: tokio::time::Instant::now(),
            waiting: None,
            hourly_price: None,
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
                code: ErrorCode::CreateFailed,
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
                code: ErrorCode::CreateTimeout,
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
            findings: std::sync::Arc::from([]),
            cost: Default::default(),
        });
        assert_eq!(group.id, "ng1");
        assert_eq!(group.min_size, 0);
        assert_eq!(group.max_size, i32::MAX);
        assert!(group.debug.contains("target 2"), "{}", group.debug);
        assert_eq!(target_size(7), 7);
    }
}
