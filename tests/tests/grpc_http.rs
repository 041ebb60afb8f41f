//! The HTTP port (health, readiness, metrics), gRPC health and reflection, and logs that
//! never contain secrets.

use std::collections::BTreeMap;
use std::time::Duration;

use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::instance_status::InstanceState::InstanceRunning;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::grpc_support::{
    PASSWORD, SCRIPT_B64, SCRIPT_TOKEN, Setup, all_in, capture_trace_logs, eventually, http_get,
    start,
};
use crate::support::{CLIENT_ID, SECRET};

/// Parsed metrics text: `name{labels}` → value.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let mut setup = Setup::default();
    setup.sim.behaviour.auth_failure = true;
    let provider = setup.start().await;
    let (status, body) = http_get(provider.url("/healthz")).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _) = http_get(provider.url("/readyz")).await;
    assert_eq!(status, 503, "not ready before the first successful list");

    let mut ca = provider.client().await;
    let mut health = HealthClient::new(provider.channel().await);
    let check = |service: &str| HealthCheckRequest {
        service: service.to_owned(),
    };
    let not_yet = health
        .check(check(pb::SERVICE_NAME))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(not_yet.status(), ServingStatus::NotServing);
    let refused = ca.refresh(pb::RefreshRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable);

    provider.sim.update_behaviour(|b| b.auth_failure = false);
    provider.ready(&mut ca).await;
    let (status, body) = http_get(provider.url("/readyz")).await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    eventually("gRPC health follows readiness", || {
        let mut health = health.clone();
        async move {
            health
                .check(HealthCheckRequest {
                    service: pb::SERVICE_NAME.to_owned(),
                })
                .await
                .is_ok_and(|r| r.into_inner().status() == ServingStatus::Serving)
        }
    })
    .await;
    let overall = health.check(check("")).await.unwrap().into_inner();
    assert_eq!(overall.status(), ServingStatus::Serving);

    // Some traffic: a scale-up to two running nodes and a failing call.
    ca.node_groups(pb::NodeGroupsRequest {}).await.unwrap();
    ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
        delta: 2,
        id: "ng1".into(),
    })
    .await
    .unwrap();
    provider
        .drive_until(&mut ca, "ng1", "two running", |i| {
            all_in(i, 2, InstanceRunning)
        })
        .await;
    let _ = ca
        .node_group_target_size(pb::NodeGroupTargetSizeRequest { id: "nope".into() })
        .await
        .unwrap_err();

    let response = http().get(provider.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    assert!(text.trim_end().ends_with("# EOF"));
    let metrics = parse_metrics(&text);
    let value = |series: &str| -> f64 {
        *metrics
            .get(series)
            .unwrap_or_else(|| panic!("{series} missing from\n{text}"))
    };
    assert_eq!(
        value(r#"kamatera_provider_grpc_requests_total{method="NodeGroups",code="OK"}"#),
        1.0
    );
    assert_eq!(
        value(r#"kamatera_provider_grpc_requests_total{method="NodeGroupIncreaseSize",code="OK"}"#),
        1.0
    );
    assert_eq!(
        value(
            r#"kamatera_provider_grpc_requests_total{method="NodeGroupTargetSize",code="NOT_FOUND"}"#
        ),
        1.0
    );
    assert!(
        value(r#"kamatera_provider_grpc_requests_total{method="Refresh",code="UNAVAILABLE"}"#)
            >= 1.0
    );
    assert!(
        value(
            r#"kamatera_provider_grpc_request_duration_seconds_count{method="NodeGroups",code="OK"}"#
        ) >= 1.0
    );
    assert!(
        value(r#"kamatera_api_requests_total{endpoint="GET /service/servers",outcome="ok"}"#)
            >= 1.0
    );
    assert!(
        value(r#"kamatera_api_requests_total{endpoint="GET /service/servers",outcome="auth"}"#)
            >= 1.0
    );
    assert_eq!(
        value(r#"kamatera_api_requests_total{endpoint="POST /service/server",outcome="ok"}"#),
        2.0,
        "one create per node"
    );
    assert!(
        value(
            r#"kamatera_api_request_duration_seconds_count{endpoint="POST /service/server",outcome="ok"}"#
        ) >= 2.0
    );
    assert_eq!(value(r#"kamatera_node_group_min_size{group="small"}"#), 1.0);
    assert_eq!(value(r#"kamatera_node_group_max_size{group="ng1"}"#), 5.0);
    assert_eq!(
        value(r#"kamatera_node_group_target_size{group="ng1"}"#),
        2.0
    );
    assert_eq!(
        value(r#"kamatera_node_group_target_size{group="ng2"}"#),
        0.0
    );
    assert_eq!(
        value(r#"kamatera_node_group_instances{group="ng1",state="running"}"#),
        2.0
    );
    assert_eq!(
        value(r#"kamatera_node_group_instances{group="ng1",state="creating"}"#),
        0.0
    );
    assert_eq!(
        value(r#"kamatera_node_group_instances{group="ng1",state="parked"}"#),
        0.0
    );
    assert!(value("kamatera_commands_in_flight") >= 0.0);
    assert!(value(r#"kamatera_reconcile_passes_total{result="ok"}"#) >= 1.0);
    assert!(value(r#"kamatera_reconcile_passes_total{result="failed"}"#) >= 1.0);
    assert!(value("kamatera_reconcile_last_duration_seconds") >= 0.0);
    assert!(value("kamatera_reconcile_seconds_since_last_success") < 10.0);
    assert_eq!(value("kamatera_provider_ready"), 1.0);
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn reflection_lists_the_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let provider = start().await;
    let mut reflection = ServerReflectionClient::new(provider.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(futures::stream::iter(std::iter::once(request)))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("unexpected answer {answer:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&pb::SERVICE_NAME.to_owned()), "{names:?}");
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );

    // The older v1alpha service answers too (grpcurl falls back to it).
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as Alpha;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    let mut alpha = Alpha::new(provider.channel().await);
    let mut answers = alpha
        .server_reflection_info(futures::stream::iter(std::iter::once(
            tonic_reflection::pb::v1alpha::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(AlphaRequest::FileContainingSymbol(
                    pb::SERVICE_NAME.to_owned(),
                )),
            },
        )))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaResponse;
    match answer.message_response {
        Some(AlphaResponse::FileDescriptorResponse(files)) => {
            assert!(!files.file_descriptor_proto.is_empty());
        }
        other => panic!("unexpected answer {other:?}"),
    }
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn logs_at_trace_level_never_contain_secrets() {
    // Kept until the provider stopped, so everything it logs is captured.
    let (captured, _guard) = capture_trace_logs();

    let provider = start().await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;
    ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
        delta: 2,
        id: "ng1".into(),
    })
    .await
    .unwrap();
    let running = provider
        .drive_until(&mut ca, "ng1", "two running", |i| {
            all_in(i, 2, InstanceRunning)
        })
        .await;
    let name = running[0].id.trim_start_matches("kamatera://").to_owned();
    ca.node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
        nodes: vec![crate::grpc_support::node(&running[0].id, &name)],
        id: "ng1".into(),
    })
    .await
    .unwrap();
    provider
        .drive_until(&mut ca, "ng1", "one left", |i| {
            all_in(i, 1, InstanceRunning)
        })
        .await;
    provider.stop().await.unwrap();

    let logs = captured.text();
    // The logs did see the scale decisions and the API calls...
    assert!(logs.contains("ng1"), "{logs}");
    assert!(
        logs.contains(&name),
        "the deleted server is named in the logs"
    );
    // ...but no secret, in any form.
    for secret in [SECRET, CLIENT_ID, PASSWORD, SCRIPT_B64, SCRIPT_TOKEN] {
        assert!(!logs.contains(secret), "{secret:?} leaked into the logs");
    }
}
