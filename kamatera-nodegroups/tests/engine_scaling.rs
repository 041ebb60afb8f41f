//! Scale-up and scale-down flows against the simulated cloud, in both power modes.

use std::time::Duration;

use kamatera_nodegroups::engine::Error;
use kamatera_nodegroups::engine::ErrorCode;
use kamatera_nodegroups::engine::InstanceState::{Creating, Deleting, Running};
use kamatera_nodegroups::{EngineOptions, NodeRef};
use kamatera_sim::{Power, SeedServer};

use crate::engine_support::{Harness, SETTLE, one_group, test_options};

#[tokio::test]
async fn scale_up_is_recorded_at_once_and_created_in_the_background() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.pass().await;
    assert_eq!(h.engine.target_size("ng1").unwrap(), 0);

    h.engine.increase_size("ng1", 3).unwrap();
    assert_eq!(
        h.engine.target_size("ng1").unwrap(),
        3,
        "target reflects the request at once"
    );
    assert_eq!(h.count("ng1", Creating), 3);
    assert_eq!(
        h.requests("POST /service/server"),
        0,
        "nothing sent inside the call"
    );

    h.pass().await;
    assert_eq!(h.requests("POST /service/server"), 3, "one POST per server");
    let created = h.cloud();
    assert_eq!(created.len(), 3);
    for server in &created {
        assert!(server.name.starts_with("k8s-ng1-"));
        assert_eq!(server.name.len(), "k8s-ng1-".len() + 11);
        let body = server.creation_request.as_ref().unwrap();
        // The membership tags, then the creation hour (UTC) for the month-to-date cost.
        let tags: Vec<&str> = body["tag"].as_str().unwrap().split(' ').collect();
        assert_eq!(tags[..2], ["k8sca-c1", "k8scang-ng1"]);
        assert_eq!(tags.len(), 3, "{tags:?}");
        let created = kamatera_nodegroups::cost::parse_created_tag(tags[2]).unwrap();
        let age = std::time::SystemTime::now()
            .duration_since(created)
            .unwrap();
        assert!(age < std::time::Duration::from_secs(3600 + 60), "{tags:?}");
        assert_eq!(body["billingcycle"], "hourly");
        assert_eq!(body["poweronaftercreate"], "yes");
        assert_eq!(body["script-file"], "#!/bin/bash\necho join");
    }

    h.converge(|h| h.count("ng1", Running) == 3).await;
    assert_eq!(h.engine.target_size("ng1").unwrap(), 3);
    let names: Vec<String> = h.nodes("ng1").iter().map(|n| n.name.clone()).collect();
    for view in h.nodes("ng1") {
        assert_eq!(view.provider_id, format!("kamatera://{}", view.name));
        assert!(view.error.is_none());
    }
    assert_eq!(h.requests("POST /service/server"), 3, "never resent");
    assert_eq!(
        h.requests("POST /server/tags"),
        0,
        "tags of our own servers are known"
    );
    assert!(names.iter().all(|n| h.cloud().iter().any(|s| &s.name == n)));
}

#[tokio::test]
async fn scale_down_terminates_after_power_off_in_terminate_mode() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.pass().await;
    h.engine.increase_size("ng1", 3).unwrap();
    h.pass().await;
    h.converge(|h| h.count("ng1", Running) == 3).await;

    let nodes = h.nodes("ng1");
    let doomed: Vec<NodeRef> = nodes[..2].iter().map(|n| h.node(n)).collect();
    h.engine.delete_nodes("ng1", &doomed).unwrap();
    assert_eq!(
        h.engine.target_size("ng1").unwrap(),
        1,
        "deleting instances leave the target"
    );
    assert_eq!(h.count("ng1", Deleting), 2);

    h.pass().await;
    assert_eq!(h.requests("POST /service/server/poweroff"), 2);
    assert_eq!(
        h.cloud_with_tag("k8scam-deleting").len(),
        2,
        "marker written before acting"
    );
    h.converge(|h| h.nodes("ng1").len() == 1).await;
    assert_eq!(h.requests("POST /service/server/terminate"), 2);
    let cloud = h.cloud();
    assert_eq!(cloud.len(), 1);
    assert_eq!(cloud[0].name, nodes[2].name, "the right server survived");
    assert_eq!(h.count("ng1", Running), 1);
}

#[tokio::test]
async fn scale_down_parks_and_scale_up_reuses_in_power_off_mode() {
    let groups = one_group("poweroff-on-scale-down = true\npoweron-on-scale-up = true");
    let mut h = Harness::start(&groups, test_options()).await;
    h.pass().await;
    h.engine.increase_size("ng1", 2).unwrap();
    h.pass().await;
    h.converge(|h| h.count("ng1", Running) == 2).await;

    let first = h.nodes("ng1")[0].clone();
    h.engine.delete_nodes("ng1", &[h.node(&first)]).unwrap();
    h.converge(|h| h.nodes("ng1").len() == 1).await;
    assert_eq!(
        h.requests("POST /service/server/terminate"),
        0,
        "parked, not terminated"
    );
    let parked = h.cloud_with_tag("k8scam-parked");
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].name, first.name);
    assert_eq!(parked[0].power, Power::Off);
    assert!(h.cloud_with_tag("k8scam-deleting").is_empty());
    assert_eq!(h.engine.node_group("ng1").unwrap().parked, 1);
    assert_eq!(
        h.engine
            .node_group_for_node(&first.provider_id, &first.name),
        None,
        "parked is not managed"
    );

    h.engine.increase_size("ng1", 2).unwrap();
    assert_eq!(h.engine.target_size("ng1").unwrap(), 3);
    h.pass().await;
    assert_eq!(
        h.requests("POST /service/server/poweron"),
        1,
        "the parked server is reused"
    );
    assert_eq!(h.requests("POST /service/server"), 3, "only one new server");
    h.converge(|h| h.count("ng1", Running) == 3).await;
    assert!(
        h.cloud_with_tag("k8scam-parked").is_empty(),
        "marker cleared on reuse"
    );
    assert!(h.nodes("ng1").iter().any(|n| n.name == first.name));
}

#[tokio::test]
async fn the_parked_cap_terminates_beyond_it() {
    let groups = one_group("poweroff-on-scale-down = true\npoweroff-on-scale-down-max-servers = 1");
    let mut h = Harness::start(&groups, test_options()).await;
    h.pass().await;
    h.engine.increase_size("ng1", 3).unwrap();
    h.pass().await;
    h.converge(|h| h.count("ng1", Running) == 3).await;
    let doomed: Vec<NodeRef> = h.nodes("ng1")[..2].iter().map(|n| h.node(n)).collect();
    h.engine.delete_nodes("ng1", &doomed).unwrap();
    h.converge(|h| h.nodes("ng1").len() == 1 && h.cloud().len() == 2)
        .await;
    assert_eq!(h.cloud_with_tag("k8scam-parked").len(), 1);
    assert_eq!(h.requests("POST /service/server/terminate"), 1);
}

#[tokio::test]
async fn scale_requests_are_checked_before_anything_changes() {
    let mut h = Harness::start(&one_group("min-size = 1"), test_options()).await;
    h.sim
        .seed_server(SeedServer::new("k8s-ng1-aaaaaaaaaaa").tags(["k8sca-c1", "k8scang-ng1"]))
        .unwrap();
    h.pass().await;
    assert_eq!(h.count("ng1", Running), 1, "existing member adopted");

    assert!(matches!(
        h.engine.increase_size("ng1", 0),
        Err(Error::InvalidDelta { .. })
    ));
    assert!(matches!(
        h.engine.increase_size("ng1", -1),
        Err(Error::InvalidDelta { .. })
    ));
    let err = h.engine.increase_size("ng1", 5).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MaxSizeExceeded {
                target: 1,
                max: 5,
                ..
            }
        ),
        "{err}"
    );
    assert!(matches!(
        h.engine.increase_size("ng9", 1),
        Err(Error::UnknownNodeGroup { .. })
    ));
    assert!(matches!(
        h.engine.increase_size("ng1", i64::MAX),
        Err(Error::MaxSizeExceeded { .. })
    ));

    let member = h.nodes("ng1")[0].clone();
    let err = h
        .engine
        .delete_nodes("ng1", &[h.node(&member)])
        .unwrap_err();
    assert!(
        matches!(err, Error::MinSizeViolated { min: 1, .. }),
        "{err}"
    );
    let stranger = NodeRef {
        provider_id: "kamatera://other".into(),
        name: "other".into(),
    };
    let err = h.engine.delete_nodes("ng1", &[stranger]).unwrap_err();
    assert!(matches!(err, Error::NodeNotInGroup { .. }), "{err}");
    assert_eq!(h.count("ng1", Running), 1, "nothing changed");
    assert!(matches!(
        h.engine.decrease_target_size("ng1", 1),
        Err(Error::InvalidDelta { .. })
    ));
    assert!(matches!(
        h.engine.decrease_target_size("ng1", -1),
        Err(Error::DecreaseTooLarge { unsent: 0, .. })
    ));
    h.pass().await;
    assert_eq!(h.requests("POST /service/server/poweroff"), 0);
}

#[tokio::test]
async fn decrease_target_size_drops_only_unsent_creates() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.pass().await;
    h.engine.increase_size("ng1", 3).unwrap();
    h.engine.decrease_target_size("ng1", -2).unwrap();
    assert_eq!(h.engine.target_size("ng1").unwrap(), 1);
    h.pass().await;
    assert_eq!(h.requests("POST /service/server"), 1);
    assert!(matches!(
        h.engine.decrease_target_size("ng1", -1),
        Err(Error::DecreaseTooLarge { .. })
    ));
}

#[tokio::test]
async fn a_failed_create_carries_error_info_and_can_be_deleted() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.sim
        .add_outcome_rule(
            kamatera_sim::OutcomeRule::new(kamatera_sim::Outcome::Error {
                log: "Insufficient resources in datacenter IL".into(),
            })
            .kind(kamatera_sim::OpKind::Create)
            .times(1),
        )
        .unwrap();
    h.pass().await;
    h.engine.increase_size("ng1", 2).unwrap();
    h.pass().await;
    h.step(SETTLE).await;
    let nodes = h.nodes("ng1");
    let failed: Vec<_> = nodes.iter().filter(|n| n.error.is_some()).collect();
    assert_eq!(failed.len(), 1);
    let error = failed[0].error.as_ref().unwrap();
    assert_eq!(error.code, ErrorCode::CreateFailed);
    assert_eq!(
        error.class,
        kamatera_nodegroups::engine::ErrorClass::OutOfResources
    );
    assert!(error.message.contains("Insufficient resources"));
    assert_eq!(
        failed[0].state, Creating,
        "CA acts on errors of creating instances"
    );

    // CA deletes it with a FakeNode (name == provider id == instance id).
    let fake = NodeRef {
        provider_id: failed[0].provider_id.clone(),
        name: failed[0].provider_id.clone(),
    };
    h.engine.delete_nodes("ng1", &[fake]).unwrap();
    h.pass().await;
    assert_eq!(h.nodes("ng1").len(), 1);
    assert_eq!(h.count("ng1", Running), 1);
}

#[tokio::test]
async fn a_rejected_create_fails_only_that_instance() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.sim.add_fault(
        kamatera_sim::FaultRule::respond_json(
            "POST",
            "/service/server",
            500,
            serde_json::json!({"message": "Failed to run command method (createServer)"}),
        )
        .times(1),
    );
    h.pass().await;
    h.engine.increase_size("ng1", 3).unwrap();
    h.pass().await;
    assert_eq!(h.requests("POST /service/server"), 3);
    let rejected: Vec<_> = h
        .nodes("ng1")
        .into_iter()
        .filter(|n| n.error.is_some())
        .collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        rejected[0].error.as_ref().unwrap().code,
        ErrorCode::CreateRejected
    );
    h.converge(|h| h.count("ng1", Running) == 2).await;
}

#[tokio::test]
async fn a_lost_create_answer_is_never_resent_and_the_server_is_adopted() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.sim.add_fault(
        kamatera_sim::FaultRule::new(
            "POST",
            "/service/server",
            kamatera_sim::FaultAction::DropAfterApply,
        )
        .times(1),
    );
    h.pass().await;
    h.engine.increase_size("ng1", 1).unwrap();
    h.pass().await;
    assert_eq!(h.count("ng1", Creating), 1);
    h.converge(|h| h.count("ng1", Running) == 1).await;
    assert_eq!(h.requests("POST /service/server"), 1, "no second POST");
    assert_eq!(h.cloud().len(), 1, "no duplicate");
}

#[tokio::test]
async fn transient_poll_failures_never_fail_a_creating_instance() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.pass().await;
    h.engine.increase_size("ng1", 1).unwrap();
    h.pass().await;
    h.sim.add_fault(
        kamatera_sim::FaultRule::respond_text("GET", "/service/queue", 504, "Gateway Timeout")
            .times(9),
    );
    h.sim.update_behaviour(|b| b.queue_hidden_polls = 2);
    for _ in 0..3 {
        h.pass().await;
        assert!(
            h.nodes("ng1")[0].error.is_none(),
            "a failed poll is not a failed create"
        );
    }
    h.converge(|h| h.count("ng1", Running) == 1).await;
}

#[tokio::test]
async fn a_cancelled_create_is_a_failure() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.sim
        .add_outcome_rule(
            kamatera_sim::OutcomeRule::new(kamatera_sim::Outcome::Cancelled {
                log: "cancelled".into(),
            })
            .kind(kamatera_sim::OpKind::Create),
        )
        .unwrap();
    h.pass().await;
    h.engine.increase_size("ng1", 1).unwrap();
    h.pass().await;
    h.step(SETTLE).await;
    let node = &h.nodes("ng1")[0];
    assert_eq!(
        node.error.as_ref().unwrap().code,
        ErrorCode::CreateCancelled
    );
}

#[tokio::test]
async fn powered_off_members_without_marker_may_still_be_booting() {
    // After a restart, a member listed off without a marker may be a create still
    // running (docs/design.md): in power-off mode it is reported Creating until the provision
    // time has passed, and only then parked; it is never parked at once.
    let options = EngineOptions {
        default_max_node_provision_time: Duration::from_millis(50),
        ..test_options()
    };
    let mut h = Harness::start(&one_group("poweroff-on-scale-down = true"), options).await;
    h.sim
        .seed_server(
            SeedServer::new("k8s-ng1-bbbbbbbbbbb")
                .tags(["k8sca-c1", "k8scang-ng1"])
                .power(Power::Off),
        )
        .unwrap();
    h.pass().await;
    assert_eq!(
        h.engine.target_size("ng1").unwrap(),
        1,
        "may still be booting"
    );
    assert_eq!(h.engine.node_group("ng1").unwrap().parked, 0);
    assert_eq!(h.nodes("ng1")[0].state, Creating);
    tokio::time::sleep(Duration::from_millis(60)).await;
    h.pass().await;
    assert_eq!(h.engine.target_size("ng1").unwrap(), 0);
    assert_eq!(h.engine.node_group("ng1").unwrap().parked, 1);
    assert!(h.nodes("ng1").is_empty());
}

#[tokio::test]
async fn the_provision_deadline_follows_the_group_then_the_autoscaler_then_the_default() {
    let options = EngineOptions {
        default_max_node_provision_time: Duration::from_secs(1800),
        ..test_options()
    };
    let groups = format!(
        "{}\n[nodegroup \"ng2\"]\nname-prefix = k8s-ng2\nmax-node-provision-time = 25m\n",
        one_group("")
    );
    let h = Harness::start(&groups, options).await;
    assert_eq!(
        h.engine.provision_time("ng1").unwrap(),
        Duration::from_secs(1800)
    );
    // Zero is what an autoscaler that sends no defaults amounts to: ignored.
    h.engine
        .set_autoscaler_max_node_provision_time(Duration::ZERO);
    assert_eq!(
        h.engine.provision_time("ng1").unwrap(),
        Duration::from_secs(1800)
    );
    h.engine
        .set_autoscaler_max_node_provision_time(Duration::from_secs(900));
    assert_eq!(
        h.engine.provision_time("ng1").unwrap(),
        Duration::from_secs(900)
    );
    assert_eq!(
        h.engine.provision_time("ng2").unwrap(),
        Duration::from_secs(1500)
    );
    assert!(h.engine.provision_time("nope").is_err());
}

#[tokio::test]
async fn the_autoscalers_provision_time_fails_a_slow_create() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.sim
        .add_outcome_rule(
            kamatera_sim::OutcomeRule::new(kamatera_sim::Outcome::Stuck)
                .kind(kamatera_sim::OpKind::Create),
        )
        .unwrap();
    h.engine
        .set_autoscaler_max_node_provision_time(Duration::from_millis(1));
    h.pass().await;
    h.engine.increase_size("ng1", 1).unwrap();
    h.pass().await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    h.step(SETTLE).await;
    let node = h.nodes("ng1")[0].clone();
    assert_eq!(
        node.error.expect("timed out").code,
        ErrorCode::CreateTimeout
    );
}

#[tokio::test]
async fn suspended_engine_changes_nothing_until_refresh_and_keeps_its_instances() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.pass().await;
    h.engine.increase_size("ng1", 2).unwrap();
    h.engine.suspend();
    assert!(h.engine.is_suspended());
    h.pass().await;
    assert_eq!(
        h.requests("POST /service/server"),
        0,
        "nothing sent while suspended"
    );
    assert_eq!(
        h.engine.target_size("ng1").unwrap(),
        2,
        "the target is kept"
    );
    h.engine.refresh().unwrap();
    assert!(!h.engine.is_suspended());
    h.pass().await;
    assert_eq!(h.requests("POST /service/server"), 2);
}

#[tokio::test]
async fn failed_creates_are_counted_once_per_instance_by_group_class_and_code() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.sim
        .add_outcome_rule(
            kamatera_sim::OutcomeRule::new(kamatera_sim::Outcome::Error {
                log: "Insufficient resources in datacenter IL".into(),
            })
            .kind(kamatera_sim::OpKind::Create)
            .times(1),
        )
        .unwrap();
    h.pass().await;
    assert!(h.engine.stats().failed_creates.is_empty());
    h.engine.increase_size("ng1", 2).unwrap();
    h.pass().await;
    h.step(SETTLE).await;
    let expected = std::collections::BTreeMap::from([(
        (
            "ng1".to_owned(),
            "out_of_resources",
            ErrorCode::CreateFailed.as_str(),
        ),
        1,
    )]);
    assert_eq!(h.engine.stats().failed_creates, expected);
    // More passes and the deletion of the failed instance do not count it again.
    h.pass().await;
    h.pass().await;
    let failed = h
        .nodes("ng1")
        .into_iter()
        .find(|n| n.error.is_some())
        .unwrap();
    let fake = NodeRef {
        provider_id: failed.provider_id.clone(),
        name: failed.provider_id.clone(),
    };
    h.engine.delete_nodes("ng1", &[fake]).unwrap();
    h.pass().await;
    assert_eq!(h.engine.stats().failed_creates, expected);
}
