//! A cluster-autoscaler restart (`Cleanup`, then a new CA's calls) and a
//! provider restart in the middle of a scale-up lose nothing: the target the new CA sees
//! is unchanged, no server is created twice, none is powered on, and every server ends
//! Running once.

use std::time::Duration;

use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::instance_status::InstanceState::{
    InstanceCreating, InstanceRunning,
};
use kamatera_sim::{CreateVisibility, Power, SimConfig, SimHandle, Simulator};

use crate::grpc_support::{
    Ca, Setup, all_in, converge, counter, creates, eventually, increase, nodes, target,
};
use crate::support::{CLIENT_ID, SECRET};

const POWER_ON: &str = "POST /service/server/poweron";
const CREATE: &str = "POST /service/server";

fn groups(poweroff: bool) -> String {
    format!(
        "[nodegroup \"ng1\"]
min-size = 0
max-size = 5
name-prefix = k8s-ng1
poweroff-on-scale-down = {poweroff}
poweron-on-scale-up = {poweroff}
"
    )
}

async fn new_cloud(visibility: CreateVisibility) -> SimHandle {
    let (_, sim) = Simulator::start(SimConfig::default().with_credentials(CLIENT_ID, SECRET))
        .await
        .expect("simulator starts");
    sim.update_behaviour(|b| b.create_visibility = visibility);
    sim
}

/// Refreshes like CA's loop (without moving simulated time, so creates stay in flight)
/// until the provider has sent `n` creates.
async fn until_creates_sent(sim: &SimHandle, ca: &mut Ca, n: u64) {
    eventually("the creates are sent", || {
        let mut ca = ca.clone();
        let sent = counter(sim, CREATE);
        async move {
            let _ = ca.refresh(pb::RefreshRequest {}).await;
            sent >= n
        }
    })
    .await;
}

/// The calls a new cluster-autoscaler makes on start, then its view of ng1: the target
/// and the instances.
async fn new_ca_view(ca: &mut Ca) -> (i32, Vec<pb::Instance>) {
    eventually("the new CA's Refresh succeeds", || {
        let mut ca = ca.clone();
        async move { ca.refresh(pb::RefreshRequest {}).await.is_ok() }
    })
    .await;
    let groups = ca
        .node_groups(pb::NodeGroupsRequest {})
        .await
        .unwrap()
        .into_inner()
        .node_groups;
    assert_eq!(groups.len(), 1);
    (target(ca, "ng1").await, nodes(ca, "ng1").await)
}

async fn cleanup_during_scale_up(poweroff: bool, visibility: CreateVisibility) {
    let what = format!("power-off mode {poweroff}, {visibility:?}");
    let sim = new_cloud(visibility).await;
    let provider = Setup {
        groups: groups(poweroff),
        ..Setup::default()
    }
    .start_on(sim.clone())
    .await;
    let mut old_ca = provider.client().await;
    provider.ready(&mut old_ca).await;
    increase(&mut old_ca, "ng1", 3).await;
    until_creates_sent(&sim, &mut old_ca, 3).await;
    old_ca.cleanup(pb::CleanupRequest {}).await.unwrap();
    drop(old_ca);

    // The creates are still running; several reconcile passes go by without a CA.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut ca = provider.client().await;
    let (target_now, instances) = new_ca_view(&mut ca).await;
    assert_eq!(target_now, 3, "{what}: the new CA sees the same target");
    assert!(
        all_in(&instances, 3, InstanceCreating),
        "{what}: still creating: {instances:?}"
    );
    // A few loops of the new CA while the creates run: nothing more is asked of the cloud.
    for _ in 0..5 {
        ca.refresh(pb::RefreshRequest {}).await.unwrap();
        assert_eq!(target(&mut ca, "ng1").await, 3, "{what}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(counter(&sim, CREATE), 3, "{what}: no second create");
    assert_eq!(counter(&sim, POWER_ON), 0, "{what}: no power-on");

    let running = converge(&sim, &mut ca, &[("ng1", 3)]).await;
    assert!(all_in(&running, 3, InstanceRunning), "{what}");
    assert_eq!(creates(&sim), 3, "{what}: three servers created, once each");
    assert_eq!(counter(&sim, POWER_ON), 0, "{what}: no power-on");
    let on = sim
        .servers()
        .into_iter()
        .filter(|s| s.power == Power::On)
        .count();
    assert_eq!(on, 3, "{what}");
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn cleanup_during_a_scale_up_in_terminate_mode_keeps_the_target() {
    for visibility in [
        CreateVisibility::FromSubmission,
        CreateVisibility::AtCompletion,
    ] {
        cleanup_during_scale_up(false, visibility).await;
    }
}

#[tokio::test]
async fn cleanup_during_a_scale_up_in_power_off_mode_keeps_the_target() {
    for visibility in [
        CreateVisibility::FromSubmission,
        CreateVisibility::AtCompletion,
    ] {
        cleanup_during_scale_up(true, visibility).await;
    }
}

#[tokio::test]
async fn a_provider_restart_during_a_scale_up_in_power_off_mode_parks_nothing() {
    // The servers being created are listed powered off, with the group tags and no
    // marker. A restarted provider must count them as creating, not as parked servers.
    let sim = new_cloud(CreateVisibility::FromSubmission).await;
    let setup = || Setup {
        groups: groups(true),
        ..Setup::default()
    };
    let first = setup().spawn_process(&sim);
    let mut ca = first.client().await;
    eventually("the first provider lists", || {
        let mut ca = ca.clone();
        async move { ca.refresh(pb::RefreshRequest {}).await.is_ok() }
    })
    .await;
    increase(&mut ca, "ng1", 3).await;
    until_creates_sent(&sim, &mut ca, 3).await;
    first.kill();
    let listed_off = sim
        .servers()
        .into_iter()
        .filter(|s| s.visible && s.power == Power::Off)
        .count();
    assert_eq!(listed_off, 3, "the creates are still running");

    let mut second = setup();
    second.engine.name_seed = Some(99);
    let provider = second.start_on(sim.clone()).await;
    let mut ca = provider.client().await;
    let (target_now, instances) = new_ca_view(&mut ca).await;
    assert_eq!(target_now, 3, "the servers being created are counted");
    assert!(all_in(&instances, 3, InstanceCreating), "{instances:?}");
    let parked = ca
        .node_groups(pb::NodeGroupsRequest {})
        .await
        .unwrap()
        .into_inner()
        .node_groups[0]
        .debug
        .clone();
    assert!(parked.contains("parked 0"), "{parked}");

    let running = converge(&sim, &mut ca, &[("ng1", 3)]).await;
    assert!(all_in(&running, 3, InstanceRunning));
    assert_eq!(creates(&sim), 3, "no second create");
    assert_eq!(counter(&sim, POWER_ON), 0, "no power-on");
    provider.stop().await.unwrap();
}

async fn cleanup_during_scale_down(poweroff: bool) {
    let what = format!("power-off mode {poweroff}");
    let sim = new_cloud(CreateVisibility::FromSubmission).await;
    let provider = Setup {
        groups: groups(poweroff),
        ..Setup::default()
    }
    .start_on(sim.clone())
    .await;
    let mut old_ca = provider.client().await;
    provider.ready(&mut old_ca).await;
    increase(&mut old_ca, "ng1", 2).await;
    let running = converge(&sim, &mut old_ca, &[("ng1", 2)]).await;
    let victim = running[0].clone();
    old_ca
        .node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
            nodes: vec![crate::grpc_support::node(
                &victim.id,
                crate::grpc_support::server_name(&victim),
            )],
            id: "ng1".into(),
        })
        .await
        .unwrap();
    old_ca.cleanup(pb::CleanupRequest {}).await.unwrap();
    drop(old_ca);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut ca = provider.client().await;
    let (target_now, instances) = new_ca_view(&mut ca).await;
    assert_eq!(target_now, 1, "{what}: the deletion is not lost");
    assert_eq!(instances.len(), 2, "{what}: {instances:?}");
    converge(&sim, &mut ca, &[("ng1", 1)]).await;
    assert_eq!(creates(&sim), 2, "{what}: nothing created again");
    let servers = sim.servers();
    let victim_name = crate::grpc_support::server_name(&victim);
    let left = servers.iter().find(|s| s.name == victim_name);
    if poweroff {
        let parked = left.expect("kept powered off");
        assert_eq!(parked.power, Power::Off, "{what}");
        assert!(
            parked
                .tags
                .iter()
                .any(|t| t == crate::grpc_support::PARKED_TAG),
            "{what}: {:?}",
            parked.tags
        );
    } else {
        assert!(left.is_none(), "{what}: terminated");
    }
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn cleanup_during_a_scale_down_loses_no_deletion_in_either_mode() {
    cleanup_during_scale_down(false).await;
    cleanup_during_scale_down(true).await;
}
