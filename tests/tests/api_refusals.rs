//! Refused, not failed (docs/engine-robustness.md, "Rate limits and revoked keys"), end to
//! end over gRPC against `kamatera-sim`: a create the API refuses without carrying it out
//! (HTTP 429, revoked keys) stays pending and is sent once the API takes it, never twice;
//! revoked keys are logged once, named by `/readyz`, `status` and the metrics, and keys
//! rotated in the mounted cloud-config file are picked up without a restart.

use std::time::Duration;

use kamatera_provider_grpc::inspect;
use kamatera_provider_grpc::pb;
use kamatera_sim::{FaultRule, OpKind, SimHandle, Simulator};
use serde_json::json;

use crate::grpc_support::{
    Ca, Running, Setup, capture_trace_logs, converge, creates, delete, eventually, http_get,
    increase, nodes, serve_on, target, targets_of,
};
use crate::support::{CLIENT_ID, SECRET};

const ONE_GROUP: &str = "[nodegroup \"ng1\"]
min-size = 0
max-size = 5
name-prefix = k8s-ng1
";

fn setup(groups: &str) -> Setup {
    let mut setup = Setup {
        groups: groups.to_owned(),
        ..Setup::default()
    };
    // Refused calls are offered again after this back-off (doubling).
    setup.engine.delete_retry_min = Duration::from_millis(50);
    setup.engine.delete_retry_max = Duration::from_millis(200);
    setup
}

/// Create requests the simulator received (accepted or refused).
fn create_requests(sim: &SimHandle) -> Vec<u16> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/service/server")
        .map(|r| r.status)
        .collect()
}

fn revoke_keys(sim: &SimHandle, revoked: bool) {
    sim.update_behaviour(|b| b.auth_failure = revoked);
}

/// No instance of the group carries an error (cluster-autoscaler would delete it and
/// back the group off).
async fn no_instance_failed(ca: &mut Ca, group: &str) -> bool {
    nodes(ca, group)
        .await
        .iter()
        .all(|i| i.status.as_ref().is_none_or(|s| s.error_info.is_none()))
}

async fn status_of(provider: &Running) -> pb::status::StatusResponse {
    inspect::fetch(&inspect::Target {
        address: provider.grpc.to_string(),
        tls: None,
        timeout: Duration::from_secs(5),
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_create_refused_for_revoked_keys_is_sent_once_the_keys_work_again() {
    let (provider, mut ca) = setup(ONE_GROUP).started().await;
    revoke_keys(&provider.sim, true);
    increase(&mut ca, "ng1", 1).await;
    eventually("the create was refused twice", || {
        let sim = provider.sim.clone();
        async move { create_requests(&sim).iter().filter(|s| **s == 401).count() >= 1 }
    })
    .await;
    // A few more passes with the keys refused: the instance waits, it has not failed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(target(&mut ca, "ng1").await, 1);
    assert!(no_instance_failed(&mut ca, "ng1").await);
    let status = status_of(&provider).await;
    let waiting = &status.node_groups[0].instances[0].waiting;
    assert!(waiting.contains("refused the create"), "{waiting:?}");
    assert!(waiting.contains("authentication"), "{waiting:?}");
    assert_eq!(creates(&provider.sim), 0);

    revoke_keys(&provider.sim, false);
    converge(&provider.sim, &mut ca, &[("ng1", 1)]).await;
    assert_eq!(creates(&provider.sim), 1, "one server for one increase");
    let accepted = create_requests(&provider.sim)
        .into_iter()
        .filter(|s| *s == 200)
        .count();
    assert_eq!(accepted, 1, "never sent again once accepted");
    assert!(
        status_of(&provider).await.node_groups[0].instances[0]
            .waiting
            .is_empty()
    );
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_create_answered_429_is_sent_again_and_never_twice() {
    let (provider, mut ca) = setup(ONE_GROUP).started().await;
    provider.sim.add_fault(
        FaultRule::respond_json(
            "POST",
            "/service/server",
            429,
            json!({"message": "Too Many Attempts."}),
        )
        .times(6),
    );
    increase(&mut ca, "ng1", 1).await;
    let mut failed_seen = false;
    for _ in 0..40 {
        failed_seen |= !no_instance_failed(&mut ca, "ng1").await;
        if create_requests(&provider.sim).contains(&200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(!failed_seen, "a refused create was reported failed to CA");
    converge(&provider.sim, &mut ca, &[("ng1", 1)]).await;
    let requests = create_requests(&provider.sim);
    assert_eq!(
        requests.iter().filter(|s| **s == 429).count(),
        6,
        "{requests:?}"
    );
    assert_eq!(requests.last(), Some(&200), "{requests:?}");
    assert_eq!(creates(&provider.sim), 1, "one server for one increase");
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_create_refused_past_the_provision_time_fails_and_leaves_nothing() {
    let groups = format!("{ONE_GROUP}max-node-provision-time = 1s\n");
    let (provider, mut ca) = setup(&groups).started().await;
    revoke_keys(&provider.sim, true);
    increase(&mut ca, "ng1", 1).await;
    eventually("the refused create is given up", || {
        let mut ca = ca.clone();
        async move { !no_instance_failed(&mut ca, "ng1").await }
    })
    .await;
    let failed = nodes(&mut ca, "ng1").await;
    let error = failed[0]
        .status
        .as_ref()
        .and_then(|s| s.error_info.as_ref())
        .unwrap();
    assert!(error.error_message.contains("not carried out"), "{error:?}");
    // cluster-autoscaler deletes the failed instance; there is no server to terminate.
    revoke_keys(&provider.sim, false);
    delete(&mut ca, "ng1", &failed).await;
    eventually("the instance is gone", || {
        let mut ca = ca.clone();
        async move { nodes(&mut ca, "ng1").await.is_empty() }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(creates(&provider.sim), 0, "nothing created after giving up");
    assert!(targets_of(&provider.sim, OpKind::Terminate).is_empty());
    provider.stop().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn revoked_keys_are_logged_once_and_named_by_readyz_status_and_metrics() {
    let (captured, _guard) = capture_trace_logs();
    let mut setup = setup(ONE_GROUP);
    // Stale at once, so that every Refresh fails while the keys are refused.
    setup.engine.stale_after = Duration::from_millis(100);
    let (provider, mut ca) = setup.started().await;
    revoke_keys(&provider.sim, true);
    // cluster-autoscaler's loop, much faster than its 10 s: 100 failing Refresh calls.
    let mut failures = 0;
    for _ in 0..100 {
        if ca.refresh(pb::RefreshRequest {}).await.is_err() {
            failures += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(failures >= 80, "{failures} Refresh calls failed");
    let text = captured.text();
    let warned = |needle: &str| {
        text.lines()
            .filter(|l| l.contains(" WARN ") && l.contains(needle))
            .count()
    };
    assert_eq!(warned("call failed"), 1, "{text}");
    assert_eq!(warned("listing Kamatera servers failed"), 1, "{text}");

    let (code, body) = http_get(provider.url("/readyz")).await;
    assert_eq!(code, 200, "stays ready, so CA keeps reaching the provider");
    assert!(body.contains("(credentials)"), "{body}");
    let status = status_of(&provider).await;
    assert_eq!(status.api_trouble, "credentials");
    assert!(status.api_trouble_advice.contains("cloud config"));
    let (_, metrics) = http_get(provider.url("/metrics")).await;
    assert!(
        metrics.contains("kamatera_api_trouble{kind=\"credentials\"} 1"),
        "{metrics}"
    );

    revoke_keys(&provider.sim, false);
    eventually("Refresh works again by itself", || {
        let mut ca = ca.clone();
        async move { ca.refresh(pb::RefreshRequest {}).await.is_ok() }
    })
    .await;
    assert!(status_of(&provider).await.api_trouble.is_empty());
    assert!(
        captured
            .text()
            .contains("the Kamatera API answers the server list again"),
    );
    provider.stop().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn keys_rotated_in_the_cloud_config_file_are_used_without_a_restart() {
    let (captured, _guard) = capture_trace_logs();
    let dir = std::env::temp_dir().join(format!("api-refusals-rotate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cloud-config.ini");
    let (_, sim) =
        Simulator::start(kamatera_sim::SimConfig::default().with_credentials(CLIENT_ID, SECRET))
            .await
            .unwrap();
    let config_text = |id: &str, secret: &str| {
        test_support::CloudConfigFixture::new("e2e")
            .credentials(id, secret)
            .api_url(sim.url().as_str())
            .global_key("default-password", crate::grpc_support::PASSWORD)
            .global_key("default-script-base64", crate::grpc_support::SCRIPT_B64)
            .raw(ONE_GROUP)
            .render()
    };
    std::fs::write(&path, config_text(CLIENT_ID, SECRET)).unwrap();
    let mut serve = setup(ONE_GROUP).serve_config(&sim);
    serve.credentials_reload = Some(
        kamatera_provider_grpc::credentials_reload::CredentialsReload {
            path: path.clone(),
            interval: Duration::from_millis(50),
        },
    );
    let provider = serve_on(sim.clone(), serve).await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;

    // The keys are rotated: the old ones are refused from now on.
    sim.update_behaviour(|b| {
        b.credentials = Some(kamatera_sim::Credentials {
            client_id: "rotated-id".into(),
            secret: "rotated-secret".into(),
        });
    });
    eventually("the old keys are refused", || {
        let provider_status = status_of(&provider);
        async move { provider_status.await.api_trouble == "credentials" }
    })
    .await;
    // The Secret is updated in place, as Kubernetes does.
    let staged = dir.join("staged.ini");
    std::fs::write(&staged, config_text("rotated-id", "rotated-secret")).unwrap();
    std::fs::rename(&staged, &path).unwrap();
    eventually("the new keys are used", || {
        let provider_status = status_of(&provider);
        async move { provider_status.await.api_trouble.is_empty() }
    })
    .await;
    assert!(
        captured
            .text()
            .contains("new Kamatera API keys in the cloud config")
    );
    increase(&mut ca, "ng1", 1).await;
    converge(&sim, &mut ca, &[("ng1", 1)]).await;
    assert_eq!(creates(&sim), 1);
    provider.stop().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
