use serde_json::json;
use wiremock::ResponseTemplate;

use crate::support::{api, api_error, invalid_path, ok_json, setup};

#[tokio::test]
async fn should_list_recent_commands_typed() {
    let (server, client) = setup().await;
    api("GET", "/svc/queue")
        .respond_with(ok_json(json!([
            {"id": 9001, "commandInfo": "Create Server", "dtComplete": "2026-11-30 10:15:00",
             "dtCreate": "2026-11-30 10:10:00", "dtExecute": "2026-11-30 10:11:00",
             "exitCode": 0, "progress": 100, "serviceName": "web-0001"},
            {"id": "9002", "commandInfo": "Power Off", "dtCreate": "2026-11-30 10:20:00",
             "dtComplete": "", "progress": "40"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let commands = client.recent_commands().await.unwrap();
    assert_eq!(commands.len(), 2);
    let done = &commands[0];
    assert_eq!(
        (
            done.id.as_str(),
            done.info.as_deref(),
            done.completed.as_deref(),
            done.exit_code,
            done.progress,
            done.service_name.as_deref()
        ),
        (
            "9001",
            Some("Create Server"),
            Some("2026-11-30 10:15:00"),
            Some(0),
            Some(100.0),
            Some("web-0001")
        )
    );
    let running = &commands[1];
    assert_eq!(
        (
            running.id.as_str(),
            running.completed.as_deref(),
            running.exit_code,
            running.progress,
            running.executed.as_deref()
        ),
        ("9002", None, None, Some(40.0), None)
    );
}

#[tokio::test]
async fn should_retry_errors_and_report_them() {
    let (server, client) = setup().await;
    api("GET", "/svc/queue")
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"message": "queue unavailable"})),
        )
        .expect(5)
        .mount(&server)
        .await;
    let (status, message, _) = api_error(client.recent_commands().await);
    assert_eq!(
        (status, message.as_deref()),
        (500, Some("queue unavailable"))
    );
    let (server, client) = setup().await;
    api("GET", "/svc/queue")
        .respond_with(ResponseTemplate::new(404).set_body_string("Not Found"))
        .expect(1) // not retryable
        .mount(&server)
        .await;
    let (status, message, body) = api_error(client.recent_commands().await);
    assert_eq!((status, message, body.as_str()), (404, None, "Not Found"));
}

#[tokio::test]
async fn should_reject_malformed_answers_with_their_path() {
    let (server, client) = setup().await;
    api("GET", "/svc/queue")
        .respond_with(ok_json(json!([{"id": 1}, {"id": 2, "progress": "half"}])))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        invalid_path(client.recent_commands().await),
        "$[1].progress"
    );
}
