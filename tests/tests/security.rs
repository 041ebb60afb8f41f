//! Security end to end (`docs/testing.md`).
//!
//! * Secrets: a full scenario (scale-up, a failed create, malformed answers, an auth
//!   outage, scale-down and refused calls) runs under a TRACE subscriber installed for the
//!   whole provider run; the logs, `/metrics`, every gRPC error message and the
//!   `check-config` renderings are searched for each secret value.
//! * Safety interlock: a server's tags are swapped underneath the provider after
//!   `DeleteNodes` was accepted, before the power-off, and between the power-off and the
//!   terminate; the server is never powered off (resp. terminated) once it is not ours.
//!
//! mTLS (plaintext, certificate-less and foreign-CA clients refused; partial TLS
//! configuration fails at start-up) is covered by `grpc_tls`.

use std::time::Duration;

use kamatera_api::{ServerSelector, Tag};
use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::instance_status::InstanceState::InstanceRunning;
use kamatera_sim::faults::MALFORMED_LIST;
use kamatera_sim::{FaultRule, OpKind, Outcome, OutcomeRule, Power, TimingRule};

use crate::grpc_support::{
    GROUPS, PASSWORD, Running, SCRIPT_B64, SCRIPT_TOKEN, Setup, all_in, capture_trace_logs,
    cloud_config, converge, http_get, node, server_name, targets_of,
};
use crate::support::{CLIENT_ID, SECRET, client_for};

/// The decoded init script: its content is as secret as the token inside it.
const SCRIPT_TEXT: &str = "kubeadm join --token";

/// Every secret value of the test cloud.
const SECRETS: [&str; 6] = [
    SECRET,
    CLIENT_ID,
    PASSWORD,
    SCRIPT_B64,
    SCRIPT_TOKEN,
    SCRIPT_TEXT,
];

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        let line = text.lines().find(|l| l.contains(secret));
        assert!(line.is_none(), "{secret:?} leaked into {what}: {line:?}");
    }
}

#[tokio::test]
async fn no_secret_in_trace_logs_metrics_errors_or_check_config() {
    // Kept until the provider stopped, so everything it logs is captured.
    let (captured, _guard) = capture_trace_logs();

    let mut setup = Setup::default();
    setup.engine.lost_create_grace = Duration::from_secs(1);
    let provider = setup.start().await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;
    let mut errors = Vec::new();

    // Error paths log the most: a failed create, garbage answers, an auth outage.
    provider
        .sim
        .add_outcome_rule(
            OutcomeRule::new(Outcome::Error {
                log: "Insufficient resources".into(),
            })
            .kind(OpKind::Create)
            .times(1),
        )
        .unwrap();
    for body in MALFORMED_LIST {
        provider
            .sim
            .add_fault(FaultRule::respond_text("GET", "/service/servers", 200, *body).times(1));
    }
    ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
        delta: 2,
        id: "ng1".into(),
    })
    .await
    .unwrap();
    let two = converge(&provider.sim, &mut ca, &[("ng1", 2)]).await;

    provider.sim.update_behaviour(|b| b.auth_failure = true);
    for _ in 0..10 {
        if let Err(status) = ca.refresh(pb::RefreshRequest {}).await {
            errors.push(status.message().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    provider.sim.update_behaviour(|b| b.auth_failure = false);

    // Refused calls of every kind.
    let refused = [
        ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
            delta: 100,
            id: "ng1".into(),
        })
        .await
        .err(),
        ca.node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
            nodes: vec![node("kamatera://k8s-ng1-unknown", "k8s-ng1-unknown")],
            id: "ng1".into(),
        })
        .await
        .err(),
        ca.node_group_target_size(pb::NodeGroupTargetSizeRequest { id: "nope".into() })
            .await
            .err(),
    ];
    for status in refused.into_iter().flatten() {
        errors.push(status.message().to_owned());
    }

    ca.node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
        nodes: vec![node(&two[0].id, server_name(&two[0]))],
        id: "ng1".into(),
    })
    .await
    .unwrap();
    let left = converge(&provider.sim, &mut ca, &[("ng1", 1)]).await;
    assert!(all_in(&left, 1, InstanceRunning));
    let (_, metrics) = http_get(provider.url("/metrics")).await;
    let config = cloud_config(provider.sim.url().as_str(), GROUPS);
    provider.stop().await.unwrap();

    let logs = captured.text();
    // The capture saw the whole run, down to TRACE, including the failures...
    assert!(logs.contains("TRACE"), "nothing at trace level captured");
    assert!(logs.contains("Insufficient resources"), "{logs}");
    assert!(logs.contains(server_name(&two[0])));
    // ...and the error messages are real ones.
    assert!(errors.len() >= 3, "{errors:?}");
    assert_no_secret("the logs", &logs);
    assert_no_secret("/metrics", &metrics);
    for message in &errors {
        assert_no_secret("a gRPC error message", message);
    }
    assert_no_secret("check-config JSON", &config.to_json().to_string());
    assert_no_secret("check-config JSON", &config.to_json_pretty());
    assert_no_secret("check-config text", &config.to_text());
    assert!(config.to_text().contains("ng1"));
}

/// Starts the standard cloud with two running `ng1` nodes.
async fn two_nodes(
    setup: Setup,
) -> (
    Running,
    pb::cloud_provider_client::CloudProviderClient<tonic::transport::Channel>,
    Vec<pb::Instance>,
) {
    let provider = setup.start().await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;
    ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
        delta: 2,
        id: "ng1".into(),
    })
    .await
    .unwrap();
    let two = converge(&provider.sim, &mut ca, &[("ng1", 2)]).await;
    (provider, ca, two)
}

/// Makes `name` someone else's server, as another tool or a person would, through the API.
async fn take_away(provider: &Running, name: &str, tag: &str, foreign: &str) {
    let api = client_for(provider.sim.url().as_str(), CLIENT_ID, SECRET);
    let server = ServerSelector::name(name);
    api.add_server_tag(&server, &Tag::new(foreign).unwrap())
        .await
        .unwrap();
    api.remove_server_tag(&server, &Tag::new(tag).unwrap())
        .await
        .unwrap();
}

/// Passes of the engine with simulated time moving on.
async fn passes(
    provider: &Running,
    ca: &mut pb::cloud_provider_client::CloudProviderClient<tonic::transport::Channel>,
    n: usize,
    step: Duration,
) {
    for _ in 0..n {
        let _ = ca.refresh(pb::RefreshRequest {}).await;
        provider.sim.advance(step);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_server_whose_tags_changed_after_delete_nodes_is_never_powered_off() {
    // Both membership tags, each taken away in its own run.
    for (tag, foreign) in [
        ("k8scang-ng1", "k8scang-other"),
        ("k8sca-e2e", "k8sca-other"),
    ] {
        let (provider, mut ca, two) = two_nodes(Setup::default()).await;
        let name = server_name(&two[0]).to_owned();
        // The provider's snapshot still shows the tags (they are re-read every 10 min), so
        // DeleteNodes may be accepted: only the fresh read before the power-off stops it.
        take_away(&provider, &name, tag, foreign).await;
        let _ = ca
            .node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
                nodes: vec![node(&two[0].id, &name)],
                id: "ng1".into(),
            })
            .await;
        passes(&provider, &mut ca, 40, Duration::from_secs(30)).await;
        assert!(
            !targets_of(&provider.sim, OpKind::PowerOff).contains(&name),
            "{tag}: powered off after it lost the tag"
        );
        assert!(!targets_of(&provider.sim, OpKind::Terminate).contains(&name));
        let server = provider.sim.servers().into_iter().find(|s| s.name == name);
        assert_eq!(server.map(|s| s.power), Some(Power::On), "{tag}");
        provider.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_server_whose_tags_changed_during_its_power_off_is_never_terminated() {
    let (provider, mut ca, two) = two_nodes(Setup::default()).await;
    // A slow power-off leaves time to change the tags between the two destructive calls.
    provider
        .sim
        .add_timing_rule(
            TimingRule::new(Duration::from_secs(1), Duration::from_secs(600))
                .kind(OpKind::PowerOff),
        )
        .unwrap();
    let name = server_name(&two[0]).to_owned();
    ca.node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
        nodes: vec![node(&two[0].id, &name)],
        id: "ng1".into(),
    })
    .await
    .unwrap();
    let started = tokio::time::Instant::now();
    while !targets_of(&provider.sim, OpKind::PowerOff).contains(&name) {
        assert!(started.elapsed() < Duration::from_secs(20), "no power-off");
        passes(&provider, &mut ca, 1, Duration::from_secs(1)).await;
    }
    take_away(&provider, &name, "k8scang-ng1", "k8scang-other").await;
    passes(&provider, &mut ca, 40, Duration::from_secs(60)).await;
    assert!(
        !targets_of(&provider.sim, OpKind::Terminate).contains(&name),
        "terminated after it lost the tag"
    );
    assert!(provider.sim.servers().iter().any(|s| s.name == name));
    provider.stop().await.unwrap();
}
