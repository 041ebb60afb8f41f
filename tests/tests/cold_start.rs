//! Cold start, end to end over gRPC against `kamatera-sim`: one empty tag answer for a
//! member at start-up never makes the provider ready with that member missing; two empty
//! answers a pass apart do settle a server with a fitting name as a non-member. The rule
//! is in docs/engine-robustness.md ("One empty tag answer at cold start").

use std::time::Duration;

use kamatera_provider_grpc::pb;
use kamatera_sim::{FaultRule, SeedServer, SimConfig, SimHandle, Simulator};

use crate::grpc_support::{CLUSTER_TAG, Ca, Running, Setup, node, nodes, target};
use crate::support::{CLIENT_ID, SECRET};

/// One group, `ng1`, named `k8s-ng1-…`.
pub(crate) const ONE_GROUP: &str = "[nodegroup \"ng1\"]
min-size = 0
max-size = 5
name-prefix = k8s-ng1
";

/// How long the provider is watched after it first turns ready.
const WATCH: Duration = Duration::from_millis(300);

/// A simulator with `seeds` already in it (as a starting provider finds its cloud), and
/// their ids in the same order.
pub(crate) async fn cloud_with(seeds: Vec<SeedServer>) -> (SimHandle, Vec<String>) {
    let (_, sim) = Simulator::start(SimConfig::default().with_credentials(CLIENT_ID, SECRET))
        .await
        .expect("simulator starts");
    let ids = seeds
        .into_iter()
        .map(|seed| sim.seed_server(seed).unwrap())
        .collect();
    (sim, ids)
}

/// A running server carrying the membership tags of `group`.
pub(crate) fn member(name: &str, group: &str) -> SeedServer {
    SeedServer::new(name).tags([CLUSTER_TAG.to_owned(), format!("k8scang-{group}")])
}

/// The provider for `groups`, with its engine's defaults for tags (re-read after 10
/// minutes), so that a wrong first belief would last.
pub(crate) fn setup(groups: &str) -> Setup {
    let mut setup = Setup {
        groups: groups.to_owned(),
        ..Setup::default()
    };
    setup.engine.delete_retry_min = Duration::from_millis(100);
    setup.engine.delete_retry_max = Duration::from_millis(500);
    setup
}

/// The group `NodeGroupForNode` answers for the registered node of server `name` (empty:
/// none).
pub(crate) async fn group_for(ca: &mut Ca, name: &str) -> String {
    ca.node_group_for_node(pb::NodeGroupForNodeRequest {
        node: Some(node(&format!("kamatera://{name}"), name)),
    })
    .await
    .unwrap()
    .into_inner()
    .node_group
    .map(|group| group.id)
    .unwrap_or_default()
}

/// Tag reads the provider made of the server with id `id`.
pub(crate) fn tag_reads_of(sim: &SimHandle, id: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/server/tags")
        .filter(|r| r.params.get("id").and_then(serde_json::Value::as_str) == Some(id))
        .count()
}

/// Calls `Refresh` as cluster-autoscaler's loop does until it has succeeded for
/// [`WATCH`]; every time it succeeds, `check` must hold. Returns how many reads were
/// ready.
async fn whenever_ready<F, Fut>(provider: &Running, ca: &mut Ca, mut check: F) -> usize
where
    F: FnMut(Ca) -> Fut,
    Fut: Future<Output = ()>,
{
    let started = tokio::time::Instant::now();
    let mut ready_since = None;
    let mut ready_reads = 0;
    loop {
        if ca.refresh(pb::RefreshRequest {}).await.is_ok() {
            ready_reads += 1;
            check(ca.clone()).await;
            let since = *ready_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() > WATCH {
                return ready_reads;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never ready; commands {:?}",
            provider.sim.commands()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn one_empty_tag_answer_at_start_never_makes_the_provider_ready_without_the_member() {
    let names = ["k8s-ng1-aaaaaaaaaa1", "k8s-ng1-aaaaaaaaaa2"];
    let (sim, ids) = cloud_with(names.iter().map(|n| member(n, "ng1")).collect()).await;
    // The first tag read of the second member answers `200 []`: the server exists, the
    // answer is empty.
    sim.add_fault(FaultRule::tags_missing(&ids[1]).times(1));
    let provider = setup(ONE_GROUP).start_on(sim).await;
    let mut ca = provider.client().await;
    let ready_reads = whenever_ready(&provider, &mut ca, |mut ca| async move {
        assert_eq!(
            target(&mut ca, "ng1").await,
            2,
            "ready with a member missing"
        );
        let mut listed: Vec<String> = nodes(&mut ca, "ng1")
            .await
            .into_iter()
            .map(|i| i.id)
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            names.map(|n| format!("kamatera://{n}")),
            "NodeGroupNodes"
        );
        for name in names {
            assert_eq!(
                group_for(&mut ca, name).await,
                "ng1",
                "NodeGroupForNode {name}"
            );
        }
    })
    .await;
    assert!(ready_reads > 0);
    assert_eq!(
        tag_reads_of(&provider.sim, &ids[1]),
        2,
        "the empty answer was read again once, at the next pass"
    );
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn two_empty_tag_answers_a_pass_apart_make_a_server_with_a_fitting_name_a_non_member() {
    let (sim, ids) = cloud_with(vec![
        member("k8s-ng1-aaaaaaaaaa1", "ng1"),
        // Fits the group's name prefix but carries no tags at all: every read is empty.
        SeedServer::new("k8s-ng1-bbbbbbbbbb1"),
        // Fits no group's name prefix: one empty answer is enough.
        SeedServer::new("k8s-other-1"),
    ])
    .await;
    let provider = setup(ONE_GROUP).start_on(sim).await;
    let mut ca = provider.client().await;
    let mut reads_when_ready = None;
    whenever_ready(&provider, &mut ca, |mut ca| {
        let reads = reads_when_ready
            .get_or_insert_with(|| tag_reads_of(&provider.sim, &ids[1]))
            .to_owned();
        async move {
            assert!(
                reads >= 2,
                "ready after {reads} read(s) of the untagged server"
            );
            assert_eq!(target(&mut ca, "ng1").await, 1);
            assert_eq!(nodes(&mut ca, "ng1").await.len(), 1);
            assert_eq!(group_for(&mut ca, "k8s-ng1-aaaaaaaaaa1").await, "ng1");
            assert_eq!(group_for(&mut ca, "k8s-ng1-bbbbbbbbbb1").await, "");
        }
    })
    .await;
    assert_eq!(
        tag_reads_of(&provider.sim, &ids[1]),
        2,
        "read twice, no more"
    );
    assert_eq!(
        tag_reads_of(&provider.sim, &ids[2]),
        1,
        "no doubt without a fitting name"
    );
    assert_eq!(tag_reads_of(&provider.sim, &ids[0]), 1);
    provider.stop().await.unwrap();
}
