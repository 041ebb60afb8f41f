//! Robustness, end to end over gRPC against `kamatera-sim`: one odd answer from the API (an
//! empty or short list, an odd row, a tag answer without the tags, failed tag reads at
//! start) changes nothing the provider reports, and no billed server is left behind (a
//! terminate that leaves its server listed, a failed create that leaves a server, a parked
//! pool over its cap, a parked server re-tagged out of its group before its reuse).
//! The rules are in docs/engine-robustness.md.

use std::time::Duration;

use kamatera_api::{ServerId, ServerSelector, Tag};
use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::instance_status::InstanceState::{
    InstanceCreating, InstanceDeleting,
};
use kamatera_sim::{
    CreateVisibility, FaultAction, FaultRule, OpKind, Outcome, OutcomeRule, Power, SeedServer,
    SimConfig, SimHandle, Simulator, TimingRule,
};
use serde_json::json;

use crate::grpc_support::{
    CLUSTER_TAG, Ca, PARKED_TAG, Running, SETTLE, Setup, converge, counter, creates, delete,
    eventually, fake_node, http_get, increase, nodes, server_name, state, target, targets_of,
};
use crate::support::{CLIENT_ID, SECRET, client_for};

const ONE_GROUP: &str = "[nodegroup \"ng1\"]
min-size = 0
max-size = 5
name-prefix = k8s-ng1
";

/// The wall time a one-off odd answer stays in effect when the engine believes it: the
/// list after it is delayed this long.
const GLITCH_WINDOW_MS: u64 = 300;

fn setup(groups: &str) -> Setup {
    let mut setup = Setup {
        groups: groups.to_owned(),
        ..Setup::default()
    };
    setup.engine.delete_retry_min = Duration::from_millis(100);
    setup.engine.delete_retry_max = Duration::from_millis(500);
    setup.engine.lost_create_grace = Duration::from_secs(1);
    setup
}

/// As [`setup`], without the members' price reads: they use `server/info` too, and the
/// tests that count or delay `server/info` calls are about the look-ups and the park.
fn setup_without_price_reads(groups: &str) -> Setup {
    let mut setup = setup(groups);
    setup.engine.price_read_budget = 0;
    setup
}

/// Delays the next two list answers, so that whatever the engine makes of the first
/// (the odd one) stays visible for [`GLITCH_WINDOW_MS`] at least.
fn hold_the_next_lists(sim: &SimHandle) {
    sim.add_fault(
        FaultRule::new(
            "GET",
            "/service/servers",
            FaultAction::Delay {
                ms: GLITCH_WINDOW_MS,
            },
        )
        .times(2),
    );
}

/// What cluster-autoscaler saw of a group while it was watched.
#[derive(Debug)]
struct Watched {
    min_target: i32,
    min_live: usize,
    max_live: usize,
    any_error: bool,
}

/// Reads the group as cluster-autoscaler does, every few milliseconds for `window`.
async fn watch(ca: &mut Ca, group: &str, window: Duration) -> Watched {
    let mut seen = Watched {
        min_target: i32::MAX,
        min_live: usize::MAX,
        max_live: 0,
        any_error: false,
    };
    let until = tokio::time::Instant::now() + window;
    while tokio::time::Instant::now() < until {
        let _ = ca.refresh(pb::RefreshRequest {}).await;
        let instances = nodes(ca, group).await;
        let live = instances
            .iter()
            .filter(|i| state(i) != InstanceDeleting)
            .count();
        seen.min_target = seen.min_target.min(target(ca, group).await);
        seen.min_live = seen.min_live.min(live);
        seen.max_live = seen.max_live.max(live);
        seen.any_error |= instances
            .iter()
            .any(|i| i.status.as_ref().is_some_and(|s| s.error_info.is_some()));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    seen
}

/// The value of an unlabelled (or exactly labelled) sample on `/metrics`.
async fn metric(provider: &Running, sample: &str) -> f64 {
    let (status, text) = http_get(provider.url("/metrics")).await;
    assert_eq!(status, 200);
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn sim_id(sim: &SimHandle, name: &str) -> String {
    sim.servers()
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| s.id)
        .expect("server exists")
}

#[tokio::test]
async fn an_empty_list_once_drops_no_member_and_no_target() {
    let (provider, mut ca) = setup(ONE_GROUP).started().await;
    increase(&mut ca, "ng1", 3).await;
    converge(&provider.sim, &mut ca, &[("ng1", 3)]).await;
    hold_the_next_lists(&provider.sim);
    provider.sim.add_fault(FaultRule::empty_list().times(1));
    let seen = watch(&mut ca, "ng1", Duration::from_millis(900)).await;
    assert_eq!((seen.min_target, seen.min_live), (3, 3), "{seen:?}");
    converge(&provider.sim, &mut ca, &[("ng1", 3)]).await;
    assert_eq!(creates(&provider.sim), 3, "nothing re-created");
    assert!(targets_of(&provider.sim, OpKind::Terminate).is_empty());
    assert!(metric(&provider, "kamatera_reconcile_suspect_lists_total").await >= 1.0);
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_list_missing_one_running_member_once_keeps_it() {
    let (provider, mut ca) = setup_without_price_reads(ONE_GROUP).started().await;
    increase(&mut ca, "ng1", 3).await;
    let three = converge(&provider.sim, &mut ca, &[("ng1", 3)]).await;
    let lookups = counter(&provider.sim, "POST /service/server/info");
    hold_the_next_lists(&provider.sim);
    provider
        .sim
        .add_fault(FaultRule::list_without(server_name(&three[0])).times(1));
    let seen = watch(&mut ca, "ng1", Duration::from_millis(900)).await;
    assert_eq!((seen.min_target, seen.min_live), (3, 3), "{seen:?}");
    assert_eq!(
        counter(&provider.sim, "POST /service/server/info"),
        lookups + 1,
        "one direct look-up of the missing server"
    );
    assert_eq!(creates(&provider.sim), 3);
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_creating_instance_missing_from_one_list_is_not_failed() {
    let (provider, mut ca) = setup(ONE_GROUP).started().await;
    provider
        .sim
        .add_timing_rule(
            TimingRule::new(Duration::from_secs(1), Duration::from_secs(600)).kind(OpKind::Create),
        )
        .unwrap();
    increase(&mut ca, "ng1", 1).await;
    let lists = counter(&provider.sim, "GET /service/servers");
    eventually("the new server was listed twice", || {
        let sim = provider.sim.clone();
        async move { creates(&sim) == 1 && counter(&sim, "GET /service/servers") >= lists + 3 }
    })
    .await;
    let name = targets_of(&provider.sim, OpKind::Create).remove(0);
    hold_the_next_lists(&provider.sim);
    provider
        .sim
        .add_fault(FaultRule::list_without(&name).times(1));
    let seen = watch(&mut ca, "ng1", Duration::from_millis(900)).await;
    assert!(!seen.any_error, "the create was failed: {seen:?}");
    assert_eq!(seen.min_target, 1, "{seen:?}");
    converge(&provider.sim, &mut ca, &[("ng1", 1)]).await;
    assert_eq!(creates(&provider.sim), 1, "one create for one increase");
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_tag_answer_without_the_tags_drops_no_member() {
    let mut setup = setup(ONE_GROUP);
    // Tags are re-read often, so that one bad answer would show for a while.
    setup.engine.tag_refresh_interval = Duration::from_millis(GLITCH_WINDOW_MS);
    let (provider, mut ca) = setup.started().await;
    increase(&mut ca, "ng1", 2).await;
    let two = converge(&provider.sim, &mut ca, &[("ng1", 2)]).await;
    let id = sim_id(&provider.sim, server_name(&two[0]));
    let reads = counter(&provider.sim, "POST /server/tags");
    provider
        .sim
        .add_fault(FaultRule::tags_missing(&id).times(1));
    let seen = watch(&mut ca, "ng1", Duration::from_millis(1200)).await;
    assert!(
        counter(&provider.sim, "POST /server/tags") > reads,
        "tags were re-read"
    );
    assert_eq!((seen.min_target, seen.min_live), (2, 2), "{seen:?}");
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_deletion_goes_on_after_one_tag_answer_without_the_tags() {
    let (provider, mut ca) = setup(ONE_GROUP).started().await;
    increase(&mut ca, "ng1", 2).await;
    let two = converge(&provider.sim, &mut ca, &[("ng1", 2)]).await;
    let victim = server_name(&two[0]).to_owned();
    provider
        .sim
        .add_fault(FaultRule::tags_missing(&sim_id(&provider.sim, &victim)).times(1));
    delete(&mut ca, "ng1", &two[..1]).await;
    converge(&provider.sim, &mut ca, &[("ng1", 1)]).await;
    assert_eq!(targets_of(&provider.sim, OpKind::Terminate), vec![victim]);
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn odd_rows_do_not_stop_refresh_and_a_member_behind_one_keeps_its_state() {
    let (provider, mut ca) = setup(ONE_GROUP).started().await;
    // A foreign server with an unexpected value, in every list from now on.
    provider
        .sim
        .add_fault(FaultRule::list_with_extra_rows(vec![json!({
            "id": "foreign-1", "name": "k8s-foreign", "datacenter": null, "power": "on"
        })]));
    increase(&mut ca, "ng1", 2).await;
    let two = converge(&provider.sim, &mut ca, &[("ng1", 2)]).await;
    assert!(ca.refresh(pb::RefreshRequest {}).await.is_ok());
    assert!(metric(&provider, "kamatera_reconcile_list_rows_skipped_total").await >= 1.0);

    // One of ours turns odd for two lists: it keeps its last known state.
    hold_the_next_lists(&provider.sim);
    let mut set = serde_json::Map::new();
    set.insert("datacenter".into(), serde_json::Value::Null);
    provider.sim.add_fault(
        FaultRule::new(
            "GET",
            "/service/servers",
            FaultAction::PatchRows {
                name: server_name(&two[0]).to_owned(),
                set,
            },
        )
        .times(2),
    );
    let seen = watch(&mut ca, "ng1", Duration::from_millis(900)).await;
    assert_eq!((seen.min_target, seen.min_live), (2, 2), "{seen:?}");
    assert_eq!(creates(&provider.sim), 2);
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_list_requested_before_a_park_does_not_unpark_the_server() {
    let groups = "[nodegroup \"ng1\"]
min-size = 0
max-size = 5
name-prefix = k8s-ng1
poweroff-on-scale-down = true
";
    let (provider, mut ca) = setup_without_price_reads(groups).started().await;
    let sim = provider.sim.clone();
    increase(&mut ca, "ng1", 2).await;
    let two = converge(&sim, &mut ca, &[("ng1", 2)]).await;
    let victim = server_name(&two[0]).to_owned();
    // The park checks the power state with server/info: that answer is slow, so a pass
    // lists the servers while the park is under way.
    let infos = counter(&sim, "POST /service/server/info");
    sim.add_fault(
        FaultRule::new(
            "POST",
            "/service/server/info",
            FaultAction::Delay { ms: 300 },
        )
        .times(1),
    );
    delete(&mut ca, "ng1", &two[..1]).await;
    eventually("the park checks the power state", || {
        let sim = sim.clone();
        let mut ca = ca.clone();
        async move {
            let _ = ca.refresh(pb::RefreshRequest {}).await;
            sim.advance(SETTLE);
            counter(&sim, "POST /service/server/info") > infos
        }
    })
    .await;
    // The list requested now answers late, from before the power-off: the victim "on".
    let mut on = serde_json::Map::new();
    on.insert("power".into(), json!("on"));
    sim.add_fault(
        FaultRule::new("GET", "/service/servers", FaultAction::Delay { ms: 600 }).times(1),
    );
    sim.add_fault(
        FaultRule::new(
            "GET",
            "/service/servers",
            FaultAction::PatchRows {
                name: victim.clone(),
                set: on,
            },
        )
        .times(1),
    );
    let seen = watch(&mut ca, "ng1", Duration::from_millis(1200)).await;
    assert_eq!(
        seen.max_live, 1,
        "the parked server was counted again: {seen:?}"
    );
    let parked = sim
        .servers()
        .into_iter()
        .find(|s| s.name == victim)
        .unwrap();
    assert!(parked.tags.contains(&PARKED_TAG.to_owned()), "{parked:?}");
    assert_eq!(target(&mut ca, "ng1").await, 1);
    provider.stop().await.unwrap();
}

/// A simulator with `seeds` already in it, as a restarted provider finds its cloud.
async fn cloud_with(seeds: Vec<SeedServer>) -> SimHandle {
    let (_, sim) = Simulator::start(SimConfig::default().with_credentials(CLIENT_ID, SECRET))
        .await
        .expect("simulator starts");
    for seed in seeds {
        sim.seed_server(seed).unwrap();
    }
    sim
}

fn member(name: &str, group: &str) -> SeedServer {
    SeedServer::new(name).tags([CLUSTER_TAG.to_owned(), format!("k8scang-{group}")])
}

fn parked(name: &str, group: &str) -> SeedServer {
    SeedServer::new(name).power(Power::Off).tags([
        CLUSTER_TAG.to_owned(),
        format!("k8scang-{group}"),
        PARKED_TAG.to_owned(),
    ])
}

#[tokio::test]
async fn cold_start_is_ready_only_once_every_member_is_known() {
    let sim = cloud_with(vec![
        member("k8s-ng1-aaaaaaaaaa1", "ng1"),
        member("k8s-ng1-aaaaaaaaaa2", "ng1"),
    ])
    .await;
    // Answered at once (not retried by the client), so that many passes fail their tag reads.
    let failing = sim.add_fault(FaultRule::respond_json(
        "POST",
        "/server/tags",
        400,
        json!({"message": "Failed to run command method (serverTags)"}),
    ));
    let provider = setup(ONE_GROUP).start_on(sim).await;
    let mut ca = provider.client().await;
    let mut ready_reads = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(400);
    while tokio::time::Instant::now() < until {
        if ca.refresh(pb::RefreshRequest {}).await.is_ok() {
            ready_reads += 1;
            assert_eq!(
                target(&mut ca, "ng1").await,
                2,
                "ready with members missing"
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(ready_reads, 0, "ready although no tag read succeeded");
    assert!(counter(&provider.sim, "POST /server/tags") > 0);
    provider.sim.remove_rule(failing);
    provider.ready(&mut ca).await;
    assert_eq!(target(&mut ca, "ng1").await, 2);
    assert_eq!(nodes(&mut ca, "ng1").await.len(), 2);
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_terminate_that_leaves_its_server_listed_is_sent_again() {
    let mut setup = setup(ONE_GROUP);
    setup.engine.command_timeout = Duration::from_millis(300);
    let (provider, mut ca) = setup.started().await;
    increase(&mut ca, "ng1", 2).await;
    let two = converge(&provider.sim, &mut ca, &[("ng1", 2)]).await;
    provider
        .sim
        .add_outcome_rule(
            OutcomeRule::new(Outcome::CompleteKeepsServer)
                .kind(OpKind::Terminate)
                .times(1),
        )
        .unwrap();
    delete(&mut ca, "ng1", &two[..1]).await;
    converge(&provider.sim, &mut ca, &[("ng1", 1)]).await;
    let victim = server_name(&two[0]).to_owned();
    assert_eq!(
        targets_of(&provider.sim, OpKind::Terminate),
        vec![victim.clone(), victim],
        "terminated twice: the first one left the server"
    );
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_failed_create_that_leaves_a_server_is_found_and_terminated() {
    let mut setup = setup(ONE_GROUP);
    setup.sim.behaviour.create_visibility = CreateVisibility::AtCompletion;
    let (provider, mut ca) = setup.started().await;
    let sim = provider.sim.clone();
    sim.add_timing_rule(
        TimingRule::new(Duration::from_secs(1), Duration::from_secs(60)).kind(OpKind::Create),
    )
    .unwrap();
    sim.add_outcome_rule(
        OutcomeRule::new(Outcome::ErrorKeepsServer {
            log: "Failed: disk allocation".into(),
        })
        .kind(OpKind::Create)
        .times(1),
    )
    .unwrap();
    increase(&mut ca, "ng1", 1).await;
    eventually("the create was sent", || {
        let sim = sim.clone();
        async move { creates(&sim) == 1 }
    })
    .await;
    // CA gives up on the node while its create runs.
    let creating = nodes(&mut ca, "ng1").await;
    assert!(creating.iter().all(|i| state(i) == InstanceCreating));
    ca.node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
        nodes: vec![fake_node(&creating[0].id)],
        id: "ng1".to_owned(),
    })
    .await
    .unwrap();
    let name = server_name(&creating[0]).to_owned();
    // The create fails and leaves its server behind: it must be terminated.
    eventually("the half-created server is terminated", || {
        let sim = sim.clone();
        let mut ca = ca.clone();
        async move {
            let _ = ca.refresh(pb::RefreshRequest {}).await;
            sim.advance(SETTLE);
            sim.servers().is_empty()
        }
    })
    .await;
    assert_eq!(targets_of(&sim, OpKind::Terminate), vec![name]);
    converge(&sim, &mut ca, &[("ng1", 0)]).await;
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn parked_servers_beyond_the_cap_or_outside_power_off_mode_are_terminated() {
    let groups = "[nodegroup \"ng1\"]
min-size = 0
max-size = 5
name-prefix = k8s-ng1
poweroff-on-scale-down = true
poweroff-on-scale-down-max-servers = 1

[nodegroup \"ng2\"]
min-size = 0
max-size = 5
name-prefix = k8s-ng2
";
    let sim = cloud_with(vec![
        parked("k8s-ng1-aaaaaaaaaa1", "ng1"),
        parked("k8s-ng1-aaaaaaaaaa2", "ng1"),
        parked("k8s-ng1-aaaaaaaaaa3", "ng1"),
        parked("k8s-ng2-aaaaaaaaaa1", "ng2"),
        parked("k8s-ng2-aaaaaaaaaa2", "ng2"),
    ])
    .await;
    let provider = setup(groups).start_on(sim).await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;
    eventually("the surplus parked servers are terminated", || {
        let sim = provider.sim.clone();
        let mut ca = ca.clone();
        async move {
            let _ = ca.refresh(pb::RefreshRequest {}).await;
            sim.advance(SETTLE);
            sim.servers().len() == 1
        }
    })
    .await;
    let left: Vec<String> = provider.sim.servers().into_iter().map(|s| s.name).collect();
    // Adopted at the same moment, the oldest are taken in name order: the last one stays.
    assert_eq!(left, vec!["k8s-ng1-aaaaaaaaaa3".to_owned()]);
    converge(&provider.sim, &mut ca, &[("ng1", 0), ("ng2", 0)]).await;
    assert_eq!(
        metric(
            &provider,
            "kamatera_node_group_parked_trimmed_total{node_group=\"ng1\"}"
        )
        .await,
        2.0
    );
    assert_eq!(
        metric(
            &provider,
            "kamatera_node_group_parked_trimmed_total{node_group=\"ng2\"}"
        )
        .await,
        2.0
    );
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_parked_server_retagged_before_its_reuse_is_not_powered_on() {
    let groups = "[nodegroup \"ng1\"]
min-size = 0
max-size = 5
name-prefix = k8s-ng1
poweroff-on-scale-down = true
poweron-on-scale-up = true
";
    let sim = cloud_with(vec![parked("k8s-ng1-aaaaaaaaaa1", "ng1")]).await;
    let provider = setup(groups).start_on(sim).await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;
    // Someone takes the server out of the group; the engine's tag cache still has it.
    let api = client_for(provider.sim.url().as_str(), CLIENT_ID, SECRET);
    let id = ServerId::new(sim_id(&provider.sim, "k8s-ng1-aaaaaaaaaa1"));
    api.remove_server_tag(&ServerSelector::id(id), &Tag::new("k8scang-ng1").unwrap())
        .await
        .unwrap();
    increase(&mut ca, "ng1", 1).await;
    converge(&provider.sim, &mut ca, &[("ng1", 1)]).await;
    assert!(
        targets_of(&provider.sim, OpKind::PowerOn).is_empty(),
        "a server outside the group was powered on"
    );
    assert_eq!(creates(&provider.sim), 1, "a new server instead");
    provider.stop().await.unwrap();
}

const MIXED_GROUPS: &str = "[nodegroup \"ng1\"]
min-size = 0
max-size = 5
name-prefix = k8s-ng1
poweroff-on-scale-down = true
poweroff-on-scale-down-max-servers = 1
poweron-on-scale-up = true

[nodegroup \"ng2\"]
min-size = 0
max-size = 3
name-prefix = k8s-ng2
";

/// Every odd answer of this module at once, each at a random moment (the simulator's
/// seeded draws) and with random extra latency, while two groups scale up and down; with
/// them the faults of `api_refusals` and `hostile_bodies` (429 on changes, revoked keys for
/// a moment, an HTML page and cut JSON on reads).
/// One small seed in CI; `KAMATERA_SOAK=1` plays twenty.
#[tokio::test]
async fn mixed_odd_answers_under_random_timing_keep_the_invariants() {
    let seeds = if std::env::var_os("KAMATERA_SOAK").is_some() {
        1..21
    } else {
        1..2
    };
    for seed in seeds {
        mixed_run(seed).await;
    }
}

async fn mixed_run(seed: u64) {
    let mut setup = setup(MIXED_GROUPS);
    setup.sim.seed = seed;
    setup.engine.name_seed = Some(seed);
    setup.engine.command_timeout = Duration::from_millis(300);
    setup.engine.tag_refresh_interval = Duration::from_millis(200);
    let (provider, mut ca) = setup.started().await;
    let sim = provider.sim.clone();
    let mut random_delay =
        FaultRule::new("GET", "*", FaultAction::Delay { ms: 15 }).probability(0.2);
    random_delay.method = None;
    sim.add_fault(random_delay);
    sim.add_fault(FaultRule::list_with_extra_rows(vec![json!({
        "id": "foreign-1", "name": "k8s-foreign", "datacenter": null, "power": "on"
    })]));
    sim.add_fault(FaultRule::empty_list().probability(0.05).times(2));
    // Leaves out about half of the group's servers.
    sim.add_fault(
        FaultRule::list_without("k8s-ng.-.*[02468ace]")
            .probability(0.05)
            .times(2),
    );
    let mut patch = serde_json::Map::new();
    patch.insert("power".into(), json!(7));
    sim.add_fault(
        FaultRule::new(
            "GET",
            "/service/servers",
            FaultAction::PatchRows {
                name: "k8s-ng.-.*[13579bdf]".into(),
                set: patch,
            },
        )
        .probability(0.05)
        .times(2),
    );
    sim.add_fault(
        FaultRule::respond_json("POST", "/server/tags", 200, json!([]))
            .probability(0.05)
            .times(1),
    );
    // Issue 23's faults: rate limits on changes, revoked keys for a moment, hostile bodies.
    for path in [
        "/service/server",
        "/service/server/terminate",
        "/server/tags",
    ] {
        sim.add_fault(
            FaultRule::respond_json("POST", path, 429, json!({"message": "Too Many Attempts."}))
                .probability(0.1)
                .times(3),
        );
    }
    let not_logged_in =
        json!({"message": "{\"errors\":[{\"code\":1,\"info\":\"you are not logged in\"}]}"});
    let mut revoked = FaultRule::respond_json("GET", "*", 401, not_logged_in)
        .probability(0.03)
        .times(4);
    revoked.method = None;
    sim.add_fault(revoked);
    sim.add_fault(
        FaultRule::respond_text(
            "GET",
            "/service/servers",
            200,
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
        .probability(0.05)
        .times(2),
    );
    for (method, path) in [
        ("GET", "/service/servers"),
        ("POST", "/service/queue"),
        ("POST", "/server/tags"),
    ] {
        sim.add_fault(
            FaultRule::respond_text(method, path, 200, "[{\"id\":")
                .probability(0.03)
                .times(2),
        );
    }
    sim.add_outcome_rule(
        OutcomeRule::new(Outcome::CompleteKeepsServer)
            .kind(OpKind::Terminate)
            .times(2),
    )
    .unwrap();
    sim.add_outcome_rule(
        OutcomeRule::new(Outcome::ErrorKeepsServer {
            log: "Failed half-way".into(),
        })
        .kind(OpKind::Create)
        .times(1),
    )
    .unwrap();

    increase(&mut ca, "ng1", 3).await;
    increase(&mut ca, "ng2", 2).await;
    let all = checked_converge(&sim, &mut ca, &[("ng1", 3), ("ng2", 2)]).await;
    let (ng1, ng2): (Vec<_>, Vec<_>) = all.into_iter().partition(|i| i.id.contains("-ng1-"));
    delete(&mut ca, "ng1", &ng1[..2]).await;
    delete(&mut ca, "ng2", &ng2[..1]).await;
    checked_converge(&sim, &mut ca, &[("ng1", 1), ("ng2", 1)]).await;
    increase(&mut ca, "ng1", 2).await;
    let all = checked_converge(&sim, &mut ca, &[("ng1", 3), ("ng2", 1)]).await;
    let (ng1, ng2): (Vec<_>, Vec<_>) = all.into_iter().partition(|i| i.id.contains("-ng1-"));
    delete(&mut ca, "ng1", &ng1).await;
    delete(&mut ca, "ng2", &ng2).await;
    checked_converge(&sim, &mut ca, &[("ng1", 0), ("ng2", 0)]).await;

    // The deterministic odd answers did happen: a create failed leaving its server, and
    // terminates that left their servers were sent again.
    assert!(
        sim.commands()
            .iter()
            .any(|c| matches!(c.outcome, Outcome::ErrorKeepsServer { .. })),
        "seed {seed}: no create left a server"
    );
    let mut terminated = targets_of(&sim, OpKind::Terminate);
    let sent = terminated.len();
    terminated.sort();
    terminated.dedup();
    assert!(
        terminated.len() < sent,
        "seed {seed}: no terminate was sent again"
    );

    // Nothing outside the target is left running, nor parked beyond the cap.
    eventually("only the parked pool of ng1 is left", || {
        let sim = sim.clone();
        let mut ca = ca.clone();
        async move {
            let _ = ca.refresh(pb::RefreshRequest {}).await;
            sim.advance(SETTLE);
            let servers = sim.servers();
            let ng1 = servers
                .iter()
                .filter(|s| s.name.starts_with("k8s-ng1-"))
                .count();
            let ng2 = servers
                .iter()
                .filter(|s| s.name.starts_with("k8s-ng2-"))
                .count();
            servers.iter().all(|s| s.power == Power::Off) && ng1 <= 1 && ng2 == 0
        }
    })
    .await;
    provider.stop().await.unwrap();
}

/// [`converge`], then the robustness invariants (docs/engine-robustness.md): every server with our tags is counted
/// by exactly one instance (or parked, which `converge` audits), and no create was ever
/// sent twice (every create names a new server).
async fn checked_converge(
    sim: &SimHandle,
    ca: &mut Ca,
    want: &[(&str, usize)],
) -> Vec<pb::Instance> {
    let all = converge(sim, ca, want).await;
    let mut ids: Vec<&str> = all.iter().map(|i| i.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "a server counted twice: {all:?}");
    let mut created = targets_of(sim, OpKind::Create);
    let sent = created.len();
    created.sort();
    created.dedup();
    assert_eq!(created.len(), sent, "a create was sent twice");
    all
}
