//! Safety and restart behaviour: foreign servers, the tag interlock, several groups,
//! restarts at each step, staleness and passive standby.

use std::time::Duration;

use kamatera_nodegroups::engine::Error;
use kamatera_nodegroups::engine::InstanceState::{Creating, Deleting, Running};
use kamatera_nodegroups::{EngineOptions, NodeRef};
use kamatera_sim::{FaultRule, Power, SeedServer};

use crate::engine_support::{Harness, SETTLE, one_group, test_options};

fn two_groups() -> String {
    "[nodegroup \"ng1\"]\nmin-size = 0\nmax-size = 5\nname-prefix = k8s-ng1\n\
     [nodegroup \"ng2\"]\nmin-size = 0\nmax-size = 5\nname-prefix = k8s-ng2\n"
        .to_owned()
}

#[tokio::test]
async fn foreign_servers_are_never_touched() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.sim.seed_server(SeedServer::new("db-0001")).unwrap();
    h.sim
        .seed_server(SeedServer::new("other-cluster-node").tags(["k8sca-c2", "k8scang-ng1"]))
        .unwrap();
    h.sim
        .seed_server(SeedServer::new("half-tagged").tags(["k8sca-c1"]))
        .unwrap();
    h.pass().await;
    assert!(h.nodes("ng1").is_empty());
    h.engine.increase_size("ng1", 1).unwrap();
    h.pass().await;
    h.converge(|h| h.count("ng1", Running) == 1).await;
    let node = h.nodes("ng1")[0].clone();
    h.engine.delete_nodes("ng1", &[h.node(&node)]).unwrap();
    h.converge(|h| h.nodes("ng1").is_empty()).await;
    let mut left: Vec<String> = h.cloud().into_iter().map(|s| s.name).collect();
    left.sort();
    assert_eq!(left, vec!["db-0001", "half-tagged", "other-cluster-node"]);
    for request in h.sim.requests() {
        let tag_read = request.path == "/server/tags"
            && request.params.get("add").is_none()
            && request.params.get("remove").is_none();
        if request.method == "POST" && request.path != "/service/server" && !tag_read {
            let id = request.params["id"].as_str().unwrap_or_default();
            let touched = h.cloud().into_iter().find(|s| s.id == id);
            assert!(touched.is_none(), "touched a foreign server: {request:?}");
        }
    }
}

#[tokio::test]
async fn a_server_whose_tags_changed_is_not_terminated() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    let id = h
        .sim
        .seed_server(SeedServer::new("k8s-ng1-ccccccccccc").tags(["k8sca-c1", "k8scang-ng1"]))
        .unwrap();
    h.pass().await;
    let node = h.nodes("ng1")[0].clone();
    h.engine.delete_nodes("ng1", &[h.node(&node)]).unwrap();
    // Someone re-tags the server before the provider acts on it.
    let client = crate::engine_support::client(h.sim.url().as_str());
    let selector = kamatera_api::ServerSelector::id(kamatera_api::ServerId::new(id.clone()));
    client
        .remove_server_tag(&selector, &kamatera_api::Tag::new("k8scang-ng1").unwrap())
        .await
        .unwrap();
    h.step(SETTLE).await;
    h.step(SETTLE).await;
    assert_eq!(h.requests("POST /service/server/poweroff"), 0);
    assert_eq!(h.requests("POST /service/server/terminate"), 0);
    let server = h.cloud().into_iter().find(|s| s.id == id).unwrap();
    assert_eq!(server.power, Power::On);
    assert!(h.nodes("ng1").is_empty(), "no longer managed");
}

#[tokio::test]
async fn completions_are_routed_to_the_owning_group() {
    let mut h = Harness::start(&two_groups(), test_options()).await;
    h.pass().await;
    h.engine.increase_size("ng1", 2).unwrap();
    h.engine.increase_size("ng2", 2).unwrap();
    h.pass().await;
    h.converge(|h| h.count("ng1", Running) == 2 && h.count("ng2", Running) == 2)
        .await;
    let a = h.nodes("ng1")[0].clone();
    let b = h.nodes("ng2")[1].clone();
    h.engine.delete_nodes("ng1", &[h.node(&a)]).unwrap();
    h.engine.delete_nodes("ng2", &[h.node(&b)]).unwrap();
    h.converge(|h| h.nodes("ng1").len() == 1 && h.nodes("ng2").len() == 1)
        .await;
    assert_eq!(
        h.cloud().len(),
        2,
        "both scale-downs finished with a terminate"
    );
    assert!(h.cloud().iter().all(|s| s.power == Power::On));
    assert_eq!(
        h.engine
            .node_group_for_node(&h.nodes("ng2")[0].provider_id, ""),
        Some("ng2".into())
    );
}

#[tokio::test]
async fn a_restart_mid_scale_down_finishes_the_deletion() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.pass().await;
    h.engine.increase_size("ng1", 2).unwrap();
    h.pass().await;
    h.converge(|h| h.count("ng1", Running) == 2).await;
    let doomed = h.nodes("ng1")[0].clone();
    h.engine.delete_nodes("ng1", &[h.node(&doomed)]).unwrap();
    h.pass().await; // marker written, power-off started
    assert_eq!(h.cloud_with_tag("k8scam-deleting").len(), 1);

    let mut h = h.restart();
    h.pass().await;
    assert_eq!(
        h.count("ng1", Deleting),
        1,
        "the marker tells the new provider"
    );
    assert_eq!(h.count("ng1", Running), 1);
    h.converge(|h| h.nodes("ng1").len() == 1).await;
    assert_eq!(h.cloud().len(), 1);
    assert_ne!(h.cloud()[0].name, doomed.name);
}

#[tokio::test]
async fn a_restart_after_power_off_terminates_instead_of_adopting_as_parked() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.pass().await;
    h.engine.increase_size("ng1", 1).unwrap();
    h.pass().await;
    h.converge(|h| h.count("ng1", Running) == 1).await;
    let node = h.nodes("ng1")[0].clone();
    h.engine.delete_nodes("ng1", &[h.node(&node)]).unwrap();
    h.pass().await;
    h.sim.advance(SETTLE); // the power-off completes while no provider runs
    let mut h = h.restart();
    h.converge(|h| h.cloud().is_empty()).await;
    assert!(h.nodes("ng1").is_empty());
}

#[tokio::test]
async fn a_restart_keeps_parked_servers_parked() {
    let groups = one_group("poweroff-on-scale-down = true");
    let mut h = Harness::start(&groups, test_options()).await;
    h.pass().await;
    h.engine.increase_size("ng1", 2).unwrap();
    h.pass().await;
    h.converge(|h| h.count("ng1", Running) == 2).await;
    let node = h.nodes("ng1")[0].clone();
    h.engine.delete_nodes("ng1", &[h.node(&node)]).unwrap();
    h.converge(|h| h.nodes("ng1").len() == 1).await;
    let mut h = h.restart();
    h.pass().await;
    h.step(SETTLE).await;
    assert_eq!(h.engine.node_group("ng1").unwrap().parked, 1);
    assert_eq!(h.engine.target_size("ng1").unwrap(), 1);
    assert_eq!(h.requests("POST /service/server/terminate"), 0);
}

#[tokio::test]
async fn a_restart_mid_create_adopts_the_new_server() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.pass().await;
    h.engine.increase_size("ng1", 2).unwrap();
    h.pass().await; // creates sent, servers listed powered off
    let mut h = h.restart();
    h.pass().await;
    assert_eq!(
        h.count("ng1", Creating),
        2,
        "powered-off new servers count as creating"
    );
    h.converge(|h| h.count("ng1", Running) == 2).await;
    assert_eq!(
        h.requests("POST /service/server"),
        2,
        "nothing created twice"
    );
}

#[tokio::test]
async fn refresh_reports_a_stale_snapshot_and_recovers() {
    let options = EngineOptions {
        stale_after: Duration::ZERO,
        ..test_options()
    };
    let mut h = Harness::start(&one_group(""), options).await;
    assert!(matches!(h.engine.refresh(), Err(Error::NotReady { .. })));
    assert!(!h.engine.is_ready());
    h.pass().await;
    assert!(h.engine.is_ready());
    h.sim.add_fault(
        FaultRule::respond_text("GET", "/service/servers", 503, "Service Unavailable").times(9),
    );
    assert!(h.reconciler.run_pass().await.is_err());
    let err = h.engine.refresh().unwrap_err();
    assert!(matches!(err, Error::StaleSnapshot { .. }), "{err}");
    assert!(err.to_string().contains("503"), "{err}");
}

#[tokio::test]
async fn a_fresh_snapshot_refreshes_fine() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.pass().await;
    h.engine.refresh().unwrap();
    assert_eq!(h.engine.stats().passes_ok, 1);
}

#[tokio::test]
async fn a_standby_without_refresh_calls_changes_nothing() {
    let options = EngineOptions {
        require_active_caller: true,
        ..test_options()
    };
    let mut h = Harness::start(&one_group(""), options).await;
    h.sim
        .seed_server(SeedServer::new("k8s-ng1-ddddddddddd").tags([
            "k8sca-c1",
            "k8scang-ng1",
            "k8scam-deleting",
        ]))
        .unwrap();
    h.pass().await;
    h.step(SETTLE).await;
    assert_eq!(
        h.requests("POST /service/server/poweroff"),
        0,
        "passive until CA calls"
    );
    h.engine.refresh().unwrap();
    h.converge(|h| h.cloud().is_empty()).await;
}

#[tokio::test]
async fn steady_state_costs_one_list_call_per_pass() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    for i in 0..20 {
        h.sim
            .seed_server(
                SeedServer::new(format!("k8s-ng1-{i:011x}")).tags(["k8sca-c1", "k8scang-ng1"]),
            )
            .unwrap();
    }
    h.pass().await;
    assert_eq!(
        h.requests("POST /server/tags"),
        20,
        "first sight reads tags once"
    );
    let before = h.sim.counters();
    h.pass().await;
    h.pass().await;
    let after = h.sim.counters();
    let delta =
        |key: &str| after.get(key).copied().unwrap_or(0) - before.get(key).copied().unwrap_or(0);
    assert_eq!(delta("GET /service/servers"), 2);
    assert_eq!(delta("POST /server/tags"), 0);
    assert_eq!(delta("GET /service/queue"), 0);
}

#[tokio::test]
async fn outstanding_commands_are_polled_in_one_batch() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.pass().await;
    h.engine.increase_size("ng1", 4).unwrap();
    h.pass().await;
    let before = h.requests("GET /service/queue");
    let report = h.reconciler.run_pass().await.unwrap();
    assert_eq!(report.commands_polled, 4);
    assert_eq!(report.queue_requests, 1);
    assert_eq!(h.requests("GET /service/queue") - before, 1);
}

#[tokio::test]
async fn node_lookup_uses_provider_id_then_name() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.sim
        .seed_server(SeedServer::new("k8s-ng1-eeeeeeeeeee").tags(["k8sca-c1", "k8scang-ng1"]))
        .unwrap();
    h.pass().await;
    let e = &h.engine;
    assert_eq!(
        e.node_group_for_node("kamatera://k8s-ng1-eeeeeeeeeee", "whatever"),
        Some("ng1".into())
    );
    assert_eq!(
        e.node_group_for_node("", "k8s-ng1-eeeeeeeeeee"),
        Some("ng1".into())
    );
    assert_eq!(
        e.node_group_for_node("rke2://k8s-ng1-eeeeeeeeeee", "k8s-ng1-eeeeeeeeeee"),
        None
    );
    assert_eq!(e.node_group_for_node("", "control-plane-1"), None);
    let fake = NodeRef {
        provider_id: "kamatera://k8s-ng1-eeeeeeeeeee".into(),
        name: "kamatera://k8s-ng1-eeeeeeeeeee".into(),
    };
    assert!(
        e.delete_nodes("ng1", &[fake]).is_ok(),
        "FakeNodes are found by provider id"
    );
}

#[tokio::test]
async fn refresh_succeeds_only_once_the_listed_servers_are_adopted() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    for i in 0..20 {
        h.sim
            .seed_server(
                SeedServer::new(format!("k8s-ng1-{i:011x}")).tags(["k8sca-c1", "k8scang-ng1"]),
            )
            .unwrap();
    }
    // Slow tag reads stretch the first pass, so readers can look in the middle of it.
    h.sim.add_fault(FaultRule::new(
        "POST",
        "/server/tags",
        kamatera_sim::FaultAction::Delay { ms: 20 },
    ));
    let engine = h.engine.clone();
    let pass = tokio::spawn(async move {
        h.reconciler.run_pass().await.unwrap();
        h
    });
    let mut looked = 0;
    while !pass.is_finished() {
        if engine.refresh().is_ok() {
            assert_eq!(
                engine.target_size("ng1").unwrap(),
                20,
                "ready before adoption"
            );
        }
        looked += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _h = pass.await.unwrap();
    assert!(looked > 0);
    engine.refresh().unwrap();
    assert_eq!(engine.target_size("ng1").unwrap(), 20);
}
