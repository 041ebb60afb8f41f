//! Human hands, end to end over gRPC against `kamatera-sim`: people change the group's
//! servers in the console (here: the simulator's own HTTP API, called as the console
//! would, with plain HTTP) while the provider runs. For each change: what
//! cluster-autoscaler then sees (target size, nodes, `NodeGroupForNode`), that the provider
//! never terminates or powers anything on its own, and that it says what it found, in its
//! log and in `status`. The rules are in docs/engine-robustness.md ("Human hands").

use std::time::Duration;

use kamatera_provider_grpc::inspect::{self, Target};
use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::instance_status::InstanceState::InstanceRunning;
use kamatera_sim::{Power, SeedServer, SimHandle};
use serde_json::{Value, json};

use crate::cold_start::{ONE_GROUP, cloud_with, group_for, member, setup};
use crate::grpc_support::{
    CLUSTER_TAG, Ca, PARKED_TAG, Running, SETTLE, all_in, capture_trace_logs, converge, counter,
    creates, delete, nodes, target, targets_of,
};
use crate::support::{CLIENT_ID, SECRET};

const FIRST: &str = "k8s-ng1-aaaaaaaaaa1";
const SECOND: &str = "k8s-ng1-aaaaaaaaaa2";

/// What someone does in the console: one call to the simulator's HTTP API.
async fn console(sim: &SimHandle, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(sim.url().join(path).unwrap())
        .header("AuthClientId", CLIENT_ID)
        .header("AuthSecret", SECRET)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "console call {path} {body}: {}",
        response.text().await.unwrap()
    );
}

/// Requests the provider (the console's calls are counted too) sent to `path`.
fn calls(sim: &SimHandle, path: &str) -> u64 {
    counter(sim, &format!("POST {path}"))
}

/// Two running members of `ng1`, found by a starting provider whose tags are re-read
/// every 200 ms (so a tag change is noticed within a few passes).
async fn two_members(extra: Vec<SeedServer>) -> (Running, Ca, Vec<String>) {
    let mut seeds = vec![member(FIRST, "ng1"), member(SECOND, "ng1")];
    seeds.extend(extra);
    let (sim, ids) = cloud_with(seeds).await;
    let mut setup = setup(ONE_GROUP);
    setup.engine.tag_refresh_interval = Duration::from_millis(200);
    let provider = setup.start_on(sim).await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;
    (provider, ca, ids)
}

/// Runs cluster-autoscaler's loop (Refresh, then reads) with simulated time moving on,
/// until `done` holds of the group's instances and the status shows a finding `kind` of
/// server `server`. Returns that finding.
async fn until_found(
    provider: &Running,
    ca: &mut Ca,
    kind: &str,
    server: &str,
    done: impl Fn(&[pb::Instance]) -> bool,
) -> pb::status::Finding {
    let started = tokio::time::Instant::now();
    loop {
        let _ = ca.refresh(pb::RefreshRequest {}).await;
        let instances = nodes(ca, "ng1").await;
        let found = findings(provider)
            .await
            .into_iter()
            .find(|f| f.kind == kind && f.server == server);
        if let Some(found) = found.filter(|_| done(&instances)) {
            return found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no {kind} finding for {server}: instances {instances:?}, findings {:?}",
            findings(provider).await
        );
        provider.sim.advance(SETTLE);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// More of cluster-autoscaler's loop (with time moving on), checking `check` every time.
async fn for_a_while(provider: &Running, ca: &mut Ca, check: impl Fn(&[pb::Instance], i32)) {
    for _ in 0..30 {
        let _ = ca.refresh(pb::RefreshRequest {}).await;
        let instances = nodes(ca, "ng1").await;
        check(&instances, target(ca, "ng1").await);
        provider.sim.advance(SETTLE);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The findings of `ng1` in the `status` answer.
async fn findings(provider: &Running) -> Vec<pb::status::Finding> {
    let status = inspect::fetch(&Target {
        address: provider.grpc.to_string(),
        tls: None,
        timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    let group = status
        .node_groups
        .into_iter()
        .find(|g| g.id == "ng1")
        .unwrap();
    group.findings
}

/// The one log line of a finding names its group, server, id and kind.
fn logged_once(logs: &str, kind: &str, server: &str, id: &str) {
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(&format!("finding=\"{kind}\"")) && l.contains(id))
        .collect();
    assert_eq!(lines.len(), 1, "{kind} of {server} logged once: {lines:#?}");
    assert!(
        lines[0].contains("group=\"ng1\"") && lines[0].contains(server),
        "{}",
        lines[0]
    );
}

fn server_of<'a>(sim: &'a [kamatera_sim::SimServer], id: &str) -> &'a kamatera_sim::SimServer {
    sim.iter().find(|s| s.id == id).unwrap()
}

fn ids_of(instances: &[pb::Instance]) -> Vec<&str> {
    let mut ids: Vec<&str> = instances.iter().map(|i| i.id.as_str()).collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn a_member_terminated_in_the_console_is_no_longer_counted() {
    let (logs, _guard) = capture_trace_logs();
    let (provider, mut ca, ids) = two_members(Vec::new()).await;
    console(
        &provider.sim,
        "/service/server/terminate",
        json!({"id": ids[0], "force": true}),
    )
    .await;
    let found = until_found(&provider, &mut ca, "gone", FIRST, |i| i.len() == 1).await;
    assert!(found.detail.contains("target drops by one"), "{found:?}");
    assert_eq!(found.server_id, ids[0]);
    assert_eq!(target(&mut ca, "ng1").await, 1);
    assert_eq!(
        ids_of(&nodes(&mut ca, "ng1").await),
        [format!("kamatera://{SECOND}")]
    );
    assert_eq!(
        group_for(&mut ca, FIRST).await,
        "",
        "its Node belongs to no group"
    );
    assert_eq!(group_for(&mut ca, SECOND).await, "ng1");
    assert_eq!(
        calls(&provider.sim, "/service/server/terminate"),
        1,
        "the console's terminate only"
    );
    assert_eq!(creates(&provider.sim), 0, "no scale-up of its own");
    logged_once(&logs.text(), "gone", FIRST, &ids[0]);
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_member_whose_tags_are_removed_is_let_go_and_never_touched() {
    let (logs, _guard) = capture_trace_logs();
    let (provider, mut ca, ids) = two_members(Vec::new()).await;
    console(
        &provider.sim,
        "/server/tags",
        json!({"id": ids[0], "remove": "k8scang-ng1"}),
    )
    .await;
    let found = until_found(&provider, &mut ca, "tags_removed", FIRST, |i| i.len() == 1).await;
    assert!(
        found.detail.contains("never powered off or terminated"),
        "{found:?}"
    );
    for_a_while(&provider, &mut ca, |instances, target| {
        assert_eq!(target, 1);
        assert_eq!(ids_of(instances), [format!("kamatera://{SECOND}")]);
    })
    .await;
    assert_eq!(group_for(&mut ca, FIRST).await, "");
    for path in [
        "/service/server/terminate",
        "/service/server/poweroff",
        "/service/server/poweron",
    ] {
        assert_eq!(calls(&provider.sim, path), 0, "{path} sent");
    }
    let servers = provider.sim.servers();
    let let_go = server_of(&servers, &ids[0]);
    assert_eq!(let_go.power, Power::On, "left as it was");
    assert_eq!(let_go.tags, [CLUSTER_TAG.to_owned()]);
    logged_once(&logs.text(), "tags_removed", FIRST, &ids[0]);
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_renamed_member_keeps_its_instance_id_and_is_deleted_by_it() {
    const NEW: &str = "db-renamed-by-hand";
    let (logs, _guard) = capture_trace_logs();
    let (provider, mut ca, ids) = two_members(Vec::new()).await;
    console(
        &provider.sim,
        "/service/server/rename",
        json!({"id": ids[0], "new-name": NEW}),
    )
    .await;
    let found = until_found(&provider, &mut ca, "renamed", NEW, |i| i.len() == 2).await;
    assert!(
        found
            .detail
            .contains(&format!("still reported as kamatera://{FIRST}")),
        "{found:?}"
    );
    let before = [
        format!("kamatera://{FIRST}"),
        format!("kamatera://{SECOND}"),
    ];
    for_a_while(&provider, &mut ca, |instances, target| {
        assert_eq!(target, 2, "counted once");
        assert_eq!(ids_of(instances), before, "the ids CA and the Nodes know");
        assert!(all_in(instances, 2, InstanceRunning));
    })
    .await;
    assert_eq!(
        group_for(&mut ca, FIRST).await,
        "ng1",
        "its Node still maps"
    );
    assert_eq!(group_for(&mut ca, NEW).await, "");
    // cluster-autoscaler scales it down by the id it knows: the renamed server goes.
    let instances = nodes(&mut ca, "ng1").await;
    let renamed: Vec<_> = instances
        .into_iter()
        .filter(|i| i.id.ends_with(FIRST))
        .collect();
    delete(&mut ca, "ng1", &renamed).await;
    converge(&provider.sim, &mut ca, &[("ng1", 1)]).await;
    assert_eq!(
        targets_of(&provider.sim, kamatera_sim::OpKind::Terminate),
        [NEW]
    );
    assert_eq!(creates(&provider.sim), 0);
    logged_once(&logs.text(), "renamed", NEW, &ids[0]);
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_member_powered_off_in_the_console_stays_counted_and_is_left_off() {
    let (logs, _guard) = capture_trace_logs();
    let (provider, mut ca, ids) = two_members(Vec::new()).await;
    console(
        &provider.sim,
        "/service/server/poweroff",
        json!({"id": ids[0]}),
    )
    .await;
    let found = until_found(&provider, &mut ca, "powered_off", FIRST, |i| i.len() == 2).await;
    assert!(
        found.detail.contains("not powered on again nor parked"),
        "{found:?}"
    );
    for_a_while(&provider, &mut ca, |instances, target| {
        assert_eq!(target, 2);
        assert!(all_in(instances, 2, InstanceRunning), "{instances:?}");
    })
    .await;
    assert_eq!(group_for(&mut ca, FIRST).await, "ng1");
    for path in ["/service/server/terminate", "/service/server/poweron"] {
        assert_eq!(calls(&provider.sim, path), 0, "{path} sent");
    }
    assert_eq!(
        calls(&provider.sim, "/service/server/poweroff"),
        1,
        "the console's"
    );
    let servers = provider.sim.servers();
    let off = server_of(&servers, &ids[0]);
    assert_eq!(off.power, Power::Off);
    assert!(!off.tags.contains(&PARKED_TAG.to_owned()), "not parked");
    logged_once(&logs.text(), "powered_off", FIRST, &ids[0]);
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_foreign_server_given_our_tags_is_adopted_once() {
    const FOREIGN: &str = "web-1";
    let (logs, _guard) = capture_trace_logs();
    let (provider, mut ca, ids) = two_members(vec![SeedServer::new(FOREIGN)]).await;
    assert_eq!(target(&mut ca, "ng1").await, 2);
    for tag in [CLUSTER_TAG, "k8scang-ng1"] {
        console(
            &provider.sim,
            "/server/tags",
            json!({"id": ids[2], "add": tag}),
        )
        .await;
    }
    let found = until_found(&provider, &mut ca, "adopted", FOREIGN, |i| i.len() == 3).await;
    assert!(found.detail.contains("did not create it"), "{found:?}");
    for_a_while(&provider, &mut ca, |instances, target| {
        assert_eq!(target, 3, "counted once");
        let ids = ids_of(instances);
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(ids.len(), 3);
        assert_eq!(unique, ids, "never twice");
        assert!(ids.contains(&"kamatera://web-1"));
    })
    .await;
    assert_eq!(group_for(&mut ca, FOREIGN).await, "ng1");
    assert_eq!(creates(&provider.sim), 0);
    assert_eq!(calls(&provider.sim, "/service/server/terminate"), 0);
    logged_once(&logs.text(), "adopted", FOREIGN, &ids[2]);
    provider.stop().await.unwrap();
}
