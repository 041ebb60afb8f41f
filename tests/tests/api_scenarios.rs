use std::time::Duration;

use kamatera_api::{
    CommandOutcome, CommandStatus, CreateServerRequest, Error, ServerId, ServerSelector, Tag,
};
use kamatera_sim::{
    FaultAction, FaultRule, OpKind, Outcome, OutcomeRule, SeedServer, TimingRule, faults,
};

use crate::support::{SETTLE, client_for, start};

fn request(name: &str) -> CreateServerRequest {
    CreateServerRequest::builder(name, "IL", "ubuntu_server_24.04_64-bit")
        .tag(Tag::new("k8sca-c1").unwrap())
        .build()
        .unwrap()
}

fn quick_wait() -> kamatera_api::WaitOptions {
    kamatera_api::WaitOptions {
        poll_interval: Duration::from_millis(2),
        deadline: tokio::time::Instant::now() + Duration::from_secs(10),
    }
}

#[tokio::test]
async fn transient_errors_are_recovered_by_retries_and_permanent_ones_surface() {
    let (sim, client) = start().await;
    sim.add_fault(
        FaultRule::respond_text("GET", "/service/servers", 504, "Gateway Timeout").times(4),
    );
    assert!(client.list_servers().await.unwrap().is_empty());
    assert_eq!(
        sim.counters()["GET /service/servers"],
        5,
        "four failures, then success"
    );

    sim.add_fault(
        FaultRule::respond_text("GET", "/service/servers", 504, "Gateway Timeout").times(5),
    );
    let err = client.list_servers().await.unwrap_err();
    assert_eq!(err.status(), Some(504));
    assert_eq!(sim.counters()["GET /service/servers"], 10);

    sim.seed_server(SeedServer::new("web-0001")).unwrap();
    sim.add_fault(FaultRule::info_transient().times(2));
    assert_eq!(
        client
            .server_info(&ServerSelector::name("web-0001"))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_rejected_create_does_not_stop_the_others() {
    let (sim, client) = start().await;
    sim.add_fault(
        FaultRule::respond_json(
            "POST",
            "/service/server",
            500,
            serde_json::json!({"message": "Failed to run command method (createServer)"}),
        )
        .when("name", "k8s-ng1-reject00002"),
    );
    let mut accepted = 0;
    for name in [
        "k8s-ng1-reject00001",
        "k8s-ng1-reject00002",
        "k8s-ng1-reject00003",
    ] {
        match client.create_server(&request(name)).await {
            Ok(_) => accepted += 1,
            Err(err) => assert!(err.to_string().contains("createServer"), "{err}"),
        }
    }
    assert_eq!(accepted, 2);
    assert_eq!(sim.counters()["POST /service/server"], 3, "never resent");
}

#[tokio::test]
async fn a_failed_create_reports_its_log_and_leaves_no_server() {
    let (sim, client) = start().await;
    sim.add_outcome_rule(
        OutcomeRule::new(Outcome::Error {
            log: "Insufficient resources in datacenter".into(),
        })
        .kind(OpKind::Create),
    )
    .unwrap();
    let created = client
        .create_server(&request("k8s-ng1-failed00001"))
        .await
        .unwrap();
    sim.advance(SETTLE);
    match client
        .wait_for_command_with(&created.command_id, quick_wait())
        .await
        .unwrap()
    {
        CommandOutcome::Failed(item) => {
            assert!(
                item.log
                    .unwrap_or_default()
                    .contains("Insufficient resources")
            )
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(client.list_servers().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_slow_create_stays_in_progress_until_it_finishes() {
    let (sim, client) = start().await;
    sim.add_timing_rule(
        TimingRule::new(Duration::from_secs(5), Duration::from_secs(600)).kind(OpKind::Create),
    )
    .unwrap();
    let created = client
        .create_server(&request("k8s-ng1-slowcr00001"))
        .await
        .unwrap();
    sim.advance(Duration::from_secs(60));
    let item = client.command_status(&created.command_id).await.unwrap();
    assert_eq!(item.status, Some(CommandStatus::Progress));
    let short = kamatera_api::WaitOptions {
        poll_interval: Duration::from_millis(2),
        deadline: tokio::time::Instant::now() + Duration::from_millis(20),
    };
    assert!(matches!(
        client
            .wait_for_command_with(&created.command_id, short)
            .await
            .unwrap(),
        CommandOutcome::DeadlineExceeded { last: Some(_) }
    ));
    sim.advance(Duration::from_secs(600));
    assert!(
        client
            .wait_for_command_with(&created.command_id, quick_wait())
            .await
            .unwrap()
            .is_complete()
    );
}

#[tokio::test]
async fn a_cancelled_command_is_a_terminal_failure() {
    let (sim, client) = start().await;
    sim.seed_server(SeedServer::new("web-0001")).unwrap();
    sim.add_outcome_rule(
        OutcomeRule::new(Outcome::Cancelled {
            log: "cancelled by operator".into(),
        })
        .kind(OpKind::PowerOff),
    )
    .unwrap();
    let ids = client
        .power_off(&ServerSelector::name("web-0001"))
        .await
        .unwrap();
    sim.advance(SETTLE);
    assert!(matches!(
        client
            .wait_for_command_with(&ids[0], quick_wait())
            .await
            .unwrap(),
        CommandOutcome::Cancelled(_)
    ));
}

#[tokio::test]
async fn a_lost_create_response_is_not_resent_and_the_server_can_be_found_by_name() {
    let (sim, client) = start().await;
    sim.add_fault(FaultRule::new("POST", "/service/server", FaultAction::DropAfterApply).times(1));
    let err = client
        .create_server(&request("k8s-ng1-lostre00001"))
        .await
        .unwrap_err();
    assert!(err.outcome_unknown(), "{err}");
    assert_eq!(sim.counters()["POST /service/server"], 1);
    let found = client
        .find_server_info(&ServerSelector::name("k8s-ng1-lostre00001"))
        .await
        .unwrap();
    assert_eq!(
        found.len(),
        1,
        "the create happened although its answer was lost"
    );
}

#[tokio::test]
async fn an_auth_failure_fails_every_call_cleanly() {
    let (sim, _client) = start().await;
    let wrong = client_for(sim.url().as_str(), "e2e-client", "wrong-secret");
    assert!(wrong.list_servers().await.unwrap_err().is_authentication());
    assert!(
        wrong
            .create_server(&request("k8s-ng1-noauth00001"))
            .await
            .unwrap_err()
            .is_authentication()
    );
    assert!(
        wrong
            .server_tags(&ServerSelector::id(ServerId::new("x")))
            .await
            .unwrap_err()
            .is_authentication()
    );
    assert!(sim.servers().is_empty(), "nothing was created");

    // The whole-account failure mode rejects even the right credentials.
    let (sim, client) = start().await;
    sim.update_behaviour(|b| b.auth_failure = true);
    let err = client.list_servers().await.unwrap_err();
    assert!(err.is_authentication(), "{err}");
}

#[tokio::test]
async fn every_malformed_payload_from_the_simulator_is_an_invalid_response() {
    let (sim, client) = start().await;
    sim.seed_server(SeedServer::new("web-0001")).unwrap();
    let check = |err: Error, what: &str| {
        assert!(
            matches!(err, Error::InvalidResponse { .. }),
            "{what}: {err:?}"
        );
    };
    for body in faults::MALFORMED_LIST {
        sim.add_fault(FaultRule::respond_text("GET", "/service/servers", 200, *body).times(1));
        check(client.list_servers().await.unwrap_err(), body);
    }
    // `[1]` is in the autoscaler's list, but a numeric command id is valid (the API
    // sends numbers in queue items and some tools' fixtures use them in POST answers).
    for body in faults::MALFORMED_COMMAND_IDS
        .iter()
        .filter(|b| **b != "[1]")
    {
        sim.add_fault(
            FaultRule::respond_text("POST", "/service/server/poweron", 200, *body).times(1),
        );
        let selector = ServerSelector::id(ServerId::new("any-id"));
        check(client.power_on(&selector).await.unwrap_err(), body);
        sim.add_fault(FaultRule::respond_text("POST", "/service/server", 200, *body).times(1));
        check(
            client
                .create_server(&request("k8s-ng1-malfrm00001"))
                .await
                .unwrap_err(),
            body,
        );
    }
    for body in faults::MALFORMED_TAGS {
        sim.add_fault(FaultRule::respond_text("POST", "/server/tags", 200, *body).times(1));
        check(
            client
                .server_tags(&ServerSelector::name("web-0001"))
                .await
                .unwrap_err(),
            body,
        );
    }
    for body in faults::MALFORMED_QUEUE {
        sim.add_fault(FaultRule::respond_text("GET", "/service/queue", 200, *body).times(1));
        check(
            client
                .command_status(&kamatera_api::CommandId::new("1"))
                .await
                .unwrap_err(),
            body,
        );
    }
}
