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
        value(r#"kamatera_grpc_requests_total{method="NodeGroups",code="OK"}"#),
        1.0
    );
    assert_eq!(
        value(r#"kamatera_grpc_requests_total{method="NodeGroupIncreaseSize",code="OK"}"#),
        1.0
    );
    assert_eq!(
        value(r#"kamatera_grpc_requests_total{method="NodeGroupTargetSize",code="NOT_FOUND"}"#),
        1.0
    );
    assert!(value(r#"kamatera_grpc_requests_total{method="Refresh",code="UNAVAILABLE"}"#) >= 1.0);
    assert!(
        value(r#"kamatera_grpc_request_duration_seconds_count{method="NodeGroups",code="OK"}"#)
            >= 1.0
    );
    assert!(
        value(r#"kamatera_cloud_api_requests_total{endpoint="GET /service/servers",outcome="ok"}"#)
            >= 1.0
    );
    assert!(
        value(
            r#"kamatera_cloud_api_requests_total{endpoint="GET /service/servers",outcome="auth"}"#
        ) >= 1.0
    );
    assert_eq!(
        value(r#"kamatera_cloud_api_requests_total{endpoint="POST /service/server",outcome="ok"}"#),
        2.0,
        "one create per node"
    );
    assert!(
        value(
            r#"kamatera_cloud_api_request_duration_seconds_count{endpoint="POST /service/server",outcome="ok"}"#
        ) >= 2.0
    );
    assert_eq!(
        value(r#"kamatera_node_group_min_size{node_group="small"}"#),
        1.0
    );
    assert_eq!(
        value(r#"kamatera_node_group_max_size{node_group="ng1"}"#),
        5.0
    );
    assert_eq!(
        value(r#"kamatera_node_group_target_size{node_group="ng1"}"#),
        2.0
    );
    assert_eq!(
        value(r#"kamatera_node_group_target_size{node_group="ng2"}"#),
        0.0
    );
    assert_eq!(
        value(r#"kamatera_node_group_instances{node_group="ng1",state="running"}"#),
        2.0
    );
    assert_eq!(
        value(r#"kamatera_node_group_instances{node_group="ng1",state="creating"}"#),
        0.0
    );
    assert_eq!(
        value(r#"kamatera_node_group_instances{node_group="ng1",state="parked"}"#),
        0.0
    );
    assert!(value("kamatera_cloud_commands_in_flight") >= 0.0);
    assert!(value(r#"kamatera_reconcile_passes_total{result="ok"}"#) >= 1.0);
    assert!(value(r#"kamatera_reconcile_passes_total{result="failed"}"#) >= 1.0);
    assert!(value("kamatera_reconcile_last_duration_seconds") >= 0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last_success = value("kamatera_reconcile_last_success_timestamp_seconds");
    assert!(
        last_success <= now + 1.0 && now - last_success < 10.0,
        "{last_success} vs now {now}"
    );
    assert_eq!(value("kamatera_ready"), 1.0);
    assert_eq!(
        value(r#"kamatera_scale_up_instances_total{node_group="ng1"}"#),
        2.0
    );
    let build_info = metrics
        .iter()
        .find(|(series, _)| series.starts_with("kamatera_build_info{"))
        .unwrap_or_else(|| panic!("no build info in\n{text}"));
    assert_eq!(*build_info.1, 1.0);
    assert!(build_info.0.contains(&format!(
        "version=\"{}\"",
        kamatera_provider_grpc::build_info::VERSION
    )));
    assert!(value("kamatera_process_resident_memory_bytes") > 0.0);
    assert!(value("kamatera_process_open_fds") > 0.0);
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
    assert!(
        names.contains(&pb::status::SERVICE_NAME.to_owned()),
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

/// The metric names `/metrics` declares (`# TYPE` lines), as Prometheus shows them
/// (counters with `_total`).
fn declared_metrics(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| {
            let (name, kind) = rest.split_once(' ')?;
            Some(if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_owned()
            })
        })
        .collect()
}

/// The metric names in the README's list (first column of its metrics table).
fn readme_metrics() -> std::collections::BTreeSet<String> {
    let readme = include_str!("../../README.md");
    readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `kamatera_"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| format!("kamatera_{name}"))
        .collect()
}

#[tokio::test]
async fn readme_lists_exactly_the_metrics_served() {
    let provider = start().await;
    let mut ca = provider.client().await;
    eventually("the first list", || {
        let url = provider.url("/readyz");
        async move { http_get(url).await.0 == 200 }
    })
    .await;
    ca.refresh(pb::RefreshRequest {}).await.unwrap();
    let (status, text) = http_get(provider.url("/metrics")).await;
    assert_eq!(status, 200);
    let served = declared_metrics(&text);
    let listed = readme_metrics();
    assert!(
        served.iter().all(|name| name.starts_with("kamatera_")),
        "{served:?}"
    );
    let missing: Vec<_> = served.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&served).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "served but not in the README: {missing:?}; in the README but not served: {stale:?}"
    );
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn status_service_shows_groups_and_instances_with_age() {
    use kamatera_provider_grpc::inspect;

    let provider = start().await;
    let mut ca = provider.client().await;
    eventually("the first list", || {
        let url = provider.url("/readyz");
        async move { http_get(url).await.0 == 200 }
    })
    .await;
    ca.refresh(pb::RefreshRequest {}).await.unwrap();
    ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
        id: "ng1".into(),
        delta: 2,
    })
    .await
    .unwrap();
    let target = inspect::Target {
        address: provider.grpc.to_string(),
        tls: None,
        timeout: Duration::from_secs(5),
    };
    let status = inspect::fetch(&target).await.unwrap();
    assert!(status.ready && status.background_running);
    assert_eq!(status.version, kamatera_provider_grpc::build_info::VERSION);
    let ids: Vec<&str> = status.node_groups.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, ["ng1", "ng2", "small"]);
    let ng1 = &status.node_groups[0];
    assert_eq!((ng1.min_size, ng1.max_size, ng1.target_size), (0, 5, 2));
    assert_eq!(ng1.instances.len(), 2);
    // What NodeGroupNodes reports, plus the age.
    let nodes = ca
        .node_group_nodes(pb::NodeGroupNodesRequest { id: "ng1".into() })
        .await
        .unwrap()
        .into_inner()
        .instances;
    for instance in &ng1.instances {
        assert!(nodes.iter().any(|n| n.id == instance.id), "{instance:?}");
        assert!(instance.state == "creating" || instance.state == "running");
        let age = instance.age.as_ref().unwrap();
        assert!((0..60).contains(&age.seconds), "{age:?}");
        assert!(instance.error_code.is_empty());
    }
    let text = inspect::to_text(&status);
    for instance in &ng1.instances {
        assert!(text.contains(&instance.name), "{text}");
    }
    let json = inspect::to_json(&status);
    assert_eq!(
        json["node_groups"][0]["instances"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A provider that is not there is a clear error, not a hang.
    let stopped = provider.grpc;
    provider.stop().await.unwrap();
    let error = inspect::fetch(&inspect::Target {
        address: stopped.to_string(),
        tls: None,
        timeout: Duration::from_secs(2),
    })
    .await
    .unwrap_err();
    assert!(error.to_string().contains(&stopped.to_string()), "{error}");
}

#[tokio::test]
async fn a_stalled_client_on_either_port_does_not_hold_up_the_others() {
    use tokio::io::AsyncWriteExt as _;

    let provider = start().await;
    // One client sends half a request head to the HTTP port and stops; another opens
    // the gRPC port and sends half of the HTTP/2 preface.
    let mut http_stalled = tokio::net::TcpStream::connect(provider.http).await.unwrap();
    http_stalled
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut grpc_stalled = tokio::net::TcpStream::connect(provider.grpc).await.unwrap();
    grpc_stalled.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();

    let started = std::time::Instant::now();
    let (status, _) = http_get(provider.url("/healthz")).await;
    assert_eq!(status, 200);
    let mut ca = provider.client().await;
    ca.node_groups(pb::NodeGroupsRequest {}).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "others waited {:?}",
        started.elapsed()
    );

    // A request head over the size limit is refused, not buffered.
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let mut big = tokio::net::TcpStream::connect(provider.http).await.unwrap();
    let _ = big.write_all(huge.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::io::AsyncReadExt::read_to_end(&mut big, &mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    drop((http_stalled, grpc_stalled));
    provider.stop().await.unwrap();
}
