//! A full scale-up and scale-down driven over gRPC as cluster-autoscaler does it.

use k8s_pb::api::core::v1::Node;
use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::instance_status::InstanceState::{
    InstanceCreating, InstanceDeleting, InstanceRunning,
};
use kamatera_sim::SeedServer;
use prost::Message as _;

use crate::grpc_support::{
    all_in, eventually, fake_node, http_get, node, nodes, start, state, target,
};

#[tokio::test]
async fn scale_up_and_down_like_cluster_autoscaler() {
    let provider = start().await;
    // A server that is not in any group, like a control-plane node.
    provider
        .sim
        .seed_server(SeedServer::new("control-plane-1"))
        .unwrap();
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;

    // The loop starts with Refresh, then NodeGroups.
    let groups = ca
        .node_groups(pb::NodeGroupsRequest {})
        .await
        .unwrap()
        .into_inner()
        .node_groups;
    let summary: Vec<(&str, i32, i32)> = groups
        .iter()
        .map(|g| (g.id.as_str(), g.min_size, g.max_size))
        .collect();
    assert_eq!(summary, [("ng1", 0, 5), ("ng2", 0, 3), ("small", 1, 2)]);
    assert!(groups.iter().all(|g| !g.debug.is_empty()));
    assert_eq!(target(&mut ca, "ng1").await, 0);
    assert!(nodes(&mut ca, "ng1").await.is_empty());

    // Scale from zero: the template tells CA what a node will look like.
    let template = ca
        .node_group_template_node_info(pb::NodeGroupTemplateNodeInfoRequest { id: "ng1".into() })
        .await
        .unwrap()
        .into_inner();
    let node_of_template = Node::decode(template.node_bytes.as_slice()).unwrap();
    let meta = node_of_template.metadata.clone().unwrap();
    assert!(meta.name.unwrap().starts_with("k8s-ng1-"));
    assert_eq!(meta.labels["role"], "worker");
    assert_eq!(meta.labels["kubernetes.io/os"], "linux");
    assert_eq!(meta.labels["node.kubernetes.io/instance-type"], "2A-4096");
    assert_eq!(meta.labels["topology.kubernetes.io/region"], "IL");
    let spec = node_of_template.spec.clone().unwrap();
    assert_eq!(spec.taints.len(), 1);
    assert_eq!(spec.taints[0].effect.as_deref(), Some("NoSchedule"));
    let status = node_of_template.status.clone().unwrap();
    let q = |m: &std::collections::BTreeMap<
        String,
        k8s_pb::apimachinery::pkg::api::resource::Quantity,
    >,
             k: &str| m[k].string.clone().unwrap();
    assert_eq!(q(&status.capacity, "cpu"), "2");
    assert_eq!(q(&status.allocatable, "cpu"), "1900m");
    assert_eq!(q(&status.capacity, "memory"), (4_u64 << 30).to_string());
    assert_eq!(
        q(&status.allocatable, "memory"),
        ((4_u64 << 30) - (256 << 20)).to_string()
    );
    assert_eq!(
        q(&status.capacity, "ephemeral-storage"),
        (50_u64 << 30).to_string()
    );
    assert_eq!(q(&status.capacity, "pods"), "110");
    assert_eq!(status.conditions[0].r#type.as_deref(), Some("Ready"));
    assert_eq!(status.conditions[0].status.as_deref(), Some("True"));

    // Scale up: the target reflects the request at once.
    ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
        delta: 3,
        id: "ng1".into(),
    })
    .await
    .unwrap();
    assert_eq!(target(&mut ca, "ng1").await, 3);
    let creating = nodes(&mut ca, "ng1").await;
    assert!(all_in(&creating, 3, InstanceCreating), "{creating:?}");
    assert!(
        creating
            .iter()
            .all(|i| i.id.starts_with("kamatera://k8s-ng1-"))
    );

    let running = provider
        .drive_until(&mut ca, "ng1", "three running instances", |i| {
            all_in(i, 3, InstanceRunning)
        })
        .await;
    assert!(
        running
            .iter()
            .all(|i| i.status.as_ref().unwrap().error_info.is_none())
    );
    assert_eq!(target(&mut ca, "ng1").await, 3);

    // CA maps every node to its group: by provider id, and by name when a node has none.
    for instance in &running {
        let name = instance.id.trim_start_matches("kamatera://");
        for asked in [node(&instance.id, name), node("", name)] {
            let group = ca
                .node_group_for_node(pb::NodeGroupForNodeRequest { node: Some(asked) })
                .await
                .unwrap()
                .into_inner()
                .node_group
                .unwrap();
            assert_eq!(
                (group.id.as_str(), group.min_size, group.max_size),
                ("ng1", 0, 5)
            );
        }
    }
    let unmanaged = ca
        .node_group_for_node(pb::NodeGroupForNodeRequest {
            node: Some(node("kamatera://control-plane-1", "control-plane-1")),
        })
        .await
        .unwrap()
        .into_inner()
        .node_group
        .unwrap();
    assert_eq!(unmanaged.id, "", "an unmanaged node has the empty group");

    // Scale down two: one registered node, one FakeNode (instance id as name).
    let (first, second) = (&running[0], &running[1]);
    let first_name = first.id.trim_start_matches("kamatera://").to_owned();
    ca.node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
        nodes: vec![node(&first.id, &first_name), fake_node(&second.id)],
        id: "ng1".into(),
    })
    .await
    .unwrap();
    assert_eq!(target(&mut ca, "ng1").await, 1);
    let after = nodes(&mut ca, "ng1").await;
    let deleting = after
        .iter()
        .filter(|i| state(i) == InstanceDeleting)
        .count();
    assert_eq!(deleting, 2, "{after:?}");

    let left = provider
        .drive_until(&mut ca, "ng1", "two servers removed", |i| {
            all_in(i, 1, InstanceRunning)
        })
        .await;
    assert_eq!(left[0].id, running[2].id);
    let survivor = left[0].id.trim_start_matches("kamatera://").to_owned();
    eventually("the two servers are gone from the cloud", || {
        let servers = provider.sim.servers();
        let survivor = survivor.clone();
        async move {
            let ours: Vec<_> = servers
                .iter()
                .filter(|s| s.name.starts_with("k8s-ng1-"))
                .collect();
            ours.len() == 1 && ours[0].name == survivor
        }
    })
    .await;

    // Down to zero (min-size 0 allows it).
    ca.node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
        nodes: vec![node(&left[0].id, &survivor)],
        id: "ng1".into(),
    })
    .await
    .unwrap();
    assert_eq!(target(&mut ca, "ng1").await, 0);
    provider
        .drive_until(&mut ca, "ng1", "an empty group", <[pb::Instance]>::is_empty)
        .await;
    assert_eq!(target(&mut ca, "ng1").await, 0);
    // Another group was never touched, and the unmanaged server survived.
    assert!(nodes(&mut ca, "ng2").await.is_empty());
    assert!(
        provider
            .sim
            .servers()
            .iter()
            .any(|s| s.name == "control-plane-1")
    );

    // The scale counters saw three up and three down in ng1, nothing in ng2.
    let (_, metrics) = http_get(provider.url("/metrics")).await;
    for series in [
        r#"kamatera_scale_up_instances_total{node_group="ng1"} 3"#,
        r#"kamatera_scale_down_instances_total{node_group="ng1"} 3"#,
        r#"kamatera_scale_up_instances_total{node_group="ng2"} 0"#,
        r#"kamatera_scale_down_instances_total{node_group="ng2"} 0"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == series),
            "{series} missing from\n{metrics}"
        );
    }

    provider.stop().await.unwrap();
}

#[tokio::test]
async fn decrease_target_size_drops_creates_not_sent_yet() {
    // Without Refresh calls the engine stays passive (a standby replica), so requested
    // creates wait unsent and can be taken back.
    let provider = start().await;
    let mut ca = provider.client().await;
    eventually("the first list", || {
        let url = provider.url("/readyz");
        async move { http_get(url).await.0 == 200 }
    })
    .await;
    ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
        delta: 3,
        id: "ng2".into(),
    })
    .await
    .unwrap();
    assert_eq!(target(&mut ca, "ng2").await, 3);
    ca.node_group_decrease_target_size(pb::NodeGroupDecreaseTargetSizeRequest {
        delta: -2,
        id: "ng2".into(),
    })
    .await
    .unwrap();
    assert_eq!(target(&mut ca, "ng2").await, 1);
    let error = ca
        .node_group_decrease_target_size(pb::NodeGroupDecreaseTargetSizeRequest {
            delta: -2,
            id: "ng2".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::FailedPrecondition, "{error:?}");
    assert_eq!(target(&mut ca, "ng2").await, 1);
    assert_eq!(
        provider
            .sim
            .counters()
            .get("POST /service/server")
            .copied()
            .unwrap_or(0),
        0,
        "a passive provider sends nothing"
    );
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn cleanup_suspends_changes_until_refresh_and_keeps_watching_the_cloud() {
    // Cleanup used to stop the reconciler and the next Refresh built a new
    // engine from the cloud alone, losing creates in flight. Now it only suspends
    // changes; the engine keeps listing, so the next CA gets a fresh snapshot at once.
    let provider = start().await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;
    ca.cleanup(pb::CleanupRequest {}).await.unwrap();
    // Still ready: the Service must keep routing to us for the next Refresh to arrive.
    assert_eq!(http_get(provider.url("/readyz")).await.0, 200);
    let (_, metrics) = http_get(provider.url("/metrics")).await;
    assert!(
        metrics.contains("kamatera_background_running 0.0"),
        "{metrics}"
    );
    // Scale requests wait for the next cluster-autoscaler's Refresh.
    let refused = ca
        .node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
            delta: 1,
            id: "ng1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable);
    let count = |p: &crate::grpc_support::Running, key: &str| {
        p.sim.counters().get(key).copied().unwrap_or(0)
    };
    let lists = count(&provider, "GET /service/servers");
    eventually("the servers are listed after Cleanup", || {
        let now = count(&provider, "GET /service/servers");
        async move { now > lists }
    })
    .await;
    assert_eq!(
        count(&provider, "POST /service/server"),
        0,
        "nothing created"
    );

    // The next cluster-autoscaler starts with Refresh, which succeeds at once.
    ca.refresh(pb::RefreshRequest {}).await.unwrap();
    let (_, metrics) = http_get(provider.url("/metrics")).await;
    assert!(
        metrics.contains("kamatera_background_running 1.0"),
        "{metrics}"
    );
    ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
        delta: 1,
        id: "ng1".into(),
    })
    .await
    .unwrap();
    provider
        .drive_until(&mut ca, "ng1", "a node after the new Refresh", |i| {
            all_in(i, 1, InstanceRunning)
        })
        .await;
    provider.stop().await.unwrap();
}
