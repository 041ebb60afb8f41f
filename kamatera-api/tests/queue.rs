use std::time::Duration;

use kamatera_api::{CommandId, CommandOutcome, CommandStatus, Error, WaitOptions};
use serde_json::json;
use wiremock::matchers::query_param;
use wiremock::{Mock, ResponseTemplate};

use crate::support::{api, ok_json, setup};

fn item(id: u64, status: &str) -> serde_json::Value {
    json!({"id": id, "status": status, "server": "k8s-ng1-abc", "description": "Create Server",
           "added": "2025-01-24 15:24:26", "executed": "2025-01-24 15:24:28",
           "completed": "2025-01-24 15:27:01", "log": "Name: k8s-ng1-abc-1\nZone: IL\n"})
}

fn queue(ids: &str) -> wiremock::MockBuilder {
    api("GET", "/service/queue").and(query_param("id", ids))
}

fn fast_wait() -> WaitOptions {
    WaitOptions {
        poll_interval: Duration::from_millis(5),
        deadline: tokio::time::Instant::now() + Duration::from_secs(10),
    }
}

#[tokio::test]
async fn should_read_one_command_status() {
    let (server, client) = setup().await;
    queue("123")
        .respond_with(ok_json(json!([item(123, "complete")])))
        .expect(1)
        .mount(&server)
        .await;
    let status = client.command_status(&CommandId::new("123")).await.unwrap();
    assert_eq!(status.status, Some(CommandStatus::Complete));
    assert_eq!(status.created_server_name(), Some("k8s-ng1-abc-1"));
    assert_eq!(status.completed.as_deref(), Some("2025-01-24 15:27:01"));
}

#[tokio::test]
async fn should_batch_several_ids_in_one_request() {
    let (server, client) = setup().await;
    // wiremock decodes `%20` to a space before matching.
    queue("1 2 3")
        .respond_with(ok_json(json!([item(1, "complete"), item(2, "progress")])))
        .expect(1)
        .mount(&server)
        .await;
    let ids: Vec<CommandId> = ["1", "2", "3"].into_iter().map(CommandId::new).collect();
    let statuses = client.command_statuses(&ids).await.unwrap();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.get(&ids[0]).unwrap().is_terminal());
    assert_eq!(
        statuses.get(&ids[1]).unwrap().status,
        Some(CommandStatus::Progress)
    );
    assert!(statuses.get(&ids[2]).is_none(), "not visible yet");
}

#[tokio::test]
async fn should_send_ids_space_separated_as_percent_20() {
    let (server, client) = setup().await;
    queue("7 8")
        .respond_with(ok_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    client
        .command_statuses(&[CommandId::new("7"), CommandId::new("8")])
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].url.query(), Some("id=7%208"));
}

#[tokio::test]
async fn strict_status_rejects_an_empty_answer() {
    let (server, client) = setup().await;
    queue("5")
        .respond_with(ok_json(json!([])))
        .mount(&server)
        .await;
    let err = client
        .command_status(&CommandId::new("5"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse { ref path, .. } if path == "$"),
        "{err}"
    );
}

#[tokio::test]
async fn should_wait_through_empty_answers_and_progress_to_completion() {
    let (server, client) = setup().await;
    queue("9")
        .respond_with(ok_json(json!([])))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    queue("9")
        .respond_with(ok_json(json!([{"id": 9}]))) // no status: still running
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    queue("9")
        .respond_with(ok_json(json!([item(9, "progress")])))
        .up_to_n_times(1)
        .with_priority(3)
        .mount(&server)
        .await;
    queue("9")
        .respond_with(ok_json(json!([item(9, "complete")])))
        .with_priority(4)
        .mount(&server)
        .await;
    let outcome = client
        .wait_for_command_with(&CommandId::new("9"), fast_wait())
        .await
        .unwrap();
    match outcome {
        CommandOutcome::Complete(item) => {
            assert_eq!(item.created_server_name(), Some("k8s-ng1-abc-1"))
        }
        other => panic!("expected completion, got {other:?}"),
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 5);
}

#[tokio::test]
async fn should_end_waiting_on_error_and_on_cancelled() {
    let (server, client) = setup().await;
    queue("10")
        .respond_with(ok_json(
            json!([{"id": 10, "status": "error", "log": "Insufficient resources"}]),
        ))
        .mount(&server)
        .await;
    queue("11")
        .respond_with(ok_json(json!([{"id": "11", "status": "cancelled"}])))
        .mount(&server)
        .await;
    match client
        .wait_for_command_with(&CommandId::new("10"), fast_wait())
        .await
        .unwrap()
    {
        CommandOutcome::Failed(item) => {
            assert_eq!(item.log.as_deref(), Some("Insufficient resources"))
        }
        other => panic!("expected failure, got {other:?}"),
    }
    assert!(matches!(
        client
            .wait_for_command_with(&CommandId::new("11"), fast_wait())
            .await
            .unwrap(),
        CommandOutcome::Cancelled(_)
    ));
}

#[tokio::test]
async fn should_stop_waiting_at_the_deadline() {
    let (server, client) = setup().await;
    queue("12")
        .respond_with(ok_json(json!([item(12, "progress")])))
        .mount(&server)
        .await;
    let options = WaitOptions {
        poll_interval: Duration::from_millis(5),
        deadline: tokio::time::Instant::now() + Duration::from_millis(30),
    };
    match client
        .wait_for_command_with(&CommandId::new("12"), options)
        .await
        .unwrap()
    {
        CommandOutcome::DeadlineExceeded { last: Some(last) } => {
            assert_eq!(last.status, Some(CommandStatus::Progress))
        }
        other => panic!("expected the deadline, got {other:?}"),
    }
}

#[tokio::test]
async fn should_keep_waiting_through_transient_poll_failures() {
    let (server, client) = setup().await;
    // More failures than one call's retries: the wait itself must carry on.
    Mock::given(wiremock::matchers::path("/service/queue"))
        .respond_with(ResponseTemplate::new(504).set_body_string("Gateway Timeout"))
        .up_to_n_times(7)
        .with_priority(1)
        .mount(&server)
        .await;
    queue("13")
        .respond_with(ok_json(json!([item(13, "complete")])))
        .with_priority(2)
        .mount(&server)
        .await;
    let outcome = client
        .wait_for_command_with(&CommandId::new("13"), fast_wait())
        .await
        .unwrap();
    assert!(outcome.is_complete());
}

#[tokio::test]
async fn should_end_waiting_on_a_permanent_error() {
    let (server, client) = setup().await;
    queue("14")
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "unauthorized"})))
        .expect(1)
        .mount(&server)
        .await;
    let err = client
        .wait_for_command_with(&CommandId::new("14"), fast_wait())
        .await
        .unwrap_err();
    assert!(err.is_authentication(), "{err}");
}
