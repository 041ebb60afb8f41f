//! Reliability, bad gRPC input beyond `grpc_wire`'s status-code table: garbage provider ids,
//! thousands of nodes in one `DeleteNodes`, a bad node next to a good one, extreme deltas
//! on every group and empty ids on the remaining RPCs. Each call fails with a status, and
//! nothing changes: target sizes, instances and the simulator's state-changing counters
//! are the same before and after, even once the engine has run more passes.

use std::collections::BTreeMap;
use std::time::Duration;

use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::instance_status::InstanceState::InstanceRunning;
use tonic::Code;

use crate::grpc_support::{Running, Setup, all_in, counter, node, nodes, server_name, target};

const GROUP_IDS: [&str; 3] = ["ng1", "ng2", "small"];

/// What must not move: targets, instances and every state-changing API call.
async fn snapshot(
    provider: &Running,
    ca: &mut pb::cloud_provider_client::CloudProviderClient<tonic::transport::Channel>,
) -> (Vec<i32>, Vec<pb::Instance>, BTreeMap<&'static str, u64>) {
    let mut targets = Vec::new();
    let mut instances = Vec::new();
    for group in GROUP_IDS {
        targets.push(target(ca, group).await);
        instances.extend(nodes(ca, group).await);
    }
    let counters = [
        "POST /service/server",
        "POST /service/server/poweroff",
        "POST /service/server/poweron",
        "POST /service/server/terminate",
    ]
    .into_iter()
    .map(|key| (key, counter(&provider.sim, key)))
    .collect();
    (targets, instances, counters)
}

#[tokio::test]
async fn garbage_and_oversized_requests_get_a_status_and_change_nothing() {
    let provider = Setup::default().start().await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;
    ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
        delta: 2,
        id: "ng1".into(),
    })
    .await
    .unwrap();
    let running = provider
        .drive_until(&mut ca, "ng1", "two running", |i| {
            all_in(i, 2, InstanceRunning)
        })
        .await;
    let real = node(&running[0].id, server_name(&running[0]));
    let before = snapshot(&provider, &mut ca).await;

    let delete = |id: &str, nodes: Vec<pb::ExternalGrpcNode>| pb::NodeGroupDeleteNodesRequest {
        nodes,
        id: id.to_owned(),
    };
    // Far longer than an HTTP/2 trailer can carry: the status message quoting it must be
    // cut, or the connection (and every call on it) would be torn down.
    let long = "k".repeat(100_000);
    let garbage = [
        node("kamatera://", "kamatera://"),
        node("kamatera:///../../etc/passwd", "x"),
        node("aws:///us-east-1a/i-0123456789", "ip-10-0-0-1"),
        node(&format!("kamatera://{long}"), &long),
        node("kamatera://k8s-ng1-\u{0}\u{202e}évil", "\u{1f4a5}"),
        node(
            &format!("{}x", real.provider_id),
            &format!("{}x", real.name),
        ),
        node(&real.provider_id.to_uppercase(), ""),
        node("", &format!(" {}", real.name)),
    ];
    let mut c = ca.clone();
    for bad in &garbage {
        let status = c
            .node_group_delete_nodes(delete("ng1", vec![bad.clone()]))
            .await
            .unwrap_err();
        assert!(
            matches!(status.code(), Code::NotFound | Code::InvalidArgument),
            "{status:?}"
        );
        assert!(!status.message().is_empty());
    }
    // One bad node spoils the whole request: the good one next to it is not deleted.
    for nodes in [
        vec![real.clone(), garbage[2].clone()],
        vec![garbage[0].clone(), real.clone()],
        vec![real.clone(), node("", "")],
    ] {
        let status = c
            .node_group_delete_nodes(delete("ng1", nodes))
            .await
            .unwrap_err();
        assert_ne!(status.code(), Code::Ok);
    }
    // Thousands of nodes in one call, unknown ones and the real one repeated.
    let mut many: Vec<_> = (0..5_000)
        .map(|n| {
            node(
                &format!("kamatera://k8s-ng1-nosuch{n:05}"),
                &format!("n{n}"),
            )
        })
        .collect();
    many.push(real.clone());
    let status = c
        .node_group_delete_nodes(delete("ng1", many))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{}", status.message());

    // Extreme deltas on every group, both RPCs.
    for group in GROUP_IDS {
        for delta in [i32::MAX, i32::MIN, -1, 0] {
            let increase = c
                .node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
                    delta,
                    id: group.to_owned(),
                })
                .await;
            assert!(increase.is_err(), "IncreaseSize({group}, {delta})");
        }
        for delta in [i32::MIN, i32::MIN + 1, i32::MAX, -100, 1, 0] {
            let decrease = c
                .node_group_decrease_target_size(pb::NodeGroupDecreaseTargetSizeRequest {
                    delta,
                    id: group.to_owned(),
                })
                .await;
            assert!(decrease.is_err(), "DecreaseTargetSize({group}, {delta})");
        }
    }
    // Empty and unknown ids on the RPCs `grpc_wire` does not cover.
    for id in ["", "nope", " ng1", "NG1", &long] {
        let code = c
            .node_group_decrease_target_size(pb::NodeGroupDecreaseTargetSizeRequest {
                delta: -1,
                id: id.to_owned(),
            })
            .await
            .unwrap_err()
            .code();
        assert!(
            matches!(code, Code::NotFound | Code::InvalidArgument),
            "{id:?}: {code:?}"
        );
        let code = c
            .node_group_template_node_info(pb::NodeGroupTemplateNodeInfoRequest {
                id: id.to_owned(),
            })
            .await
            .unwrap_err()
            .code();
        assert!(
            matches!(code, Code::NotFound | Code::InvalidArgument),
            "{id:?}: {code:?}"
        );
        let code = c
            .node_group_get_options(pb::NodeGroupAutoscalingOptionsRequest {
                id: id.to_owned(),
                defaults: None,
            })
            .await
            .unwrap_err()
            .code();
        assert!(
            matches!(code, Code::NotFound | Code::InvalidArgument),
            "{id:?}: {code:?}"
        );
    }

    // Nothing moved, not even after more passes of the engine.
    for _ in 0..5 {
        let _ = ca.refresh(pb::RefreshRequest {}).await;
        provider.sim.advance(Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(snapshot(&provider, &mut ca).await, before);
    provider.stop().await.unwrap();
}
