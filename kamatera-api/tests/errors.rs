use kamatera_api::{CommandId, Error, ServerId, ServerSelector};
use serde_json::json;
use wiremock::ResponseTemplate;

use crate::support::{api, api_post, ok_json, setup};

fn invalid_path(err: &Error) -> &str {
    match err {
        Error::InvalidResponse { path, .. } => path,
        other => panic!("expected an invalid response, got {other:?}"),
    }
}

#[tokio::test]
async fn every_malformed_list_is_an_invalid_response_with_its_path() {
    for (body, path) in [
        (r#"{"invalid":"response"}"#, "$"),
        ("[1,2]", "$[0]"),
        (r#"[{"foo":"bar"}]"#, "$[0]"),
        (r#"[{"name":123}]"#, "$[0].name"),
        (
            r#"[{"id":"x","name":"foo","datacenter":"IL","power":123}]"#,
            "$[0].power",
        ),
    ] {
        let (server, client) = setup().await;
        api("GET", "/service/servers")
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .expect(1) // a wrong shape is not retried
            .mount(&server)
            .await;
        let err = client.list_servers().await.unwrap_err();
        assert_eq!(invalid_path(&err), path, "{body}: {err}");
        assert!(err.to_string().contains("GET /service/servers"), "{err}");
    }
}

#[tokio::test]
async fn every_malformed_command_id_answer_is_an_invalid_response() {
    for (body, path) in [
        (r#"{"invalid":"response"}"#, "$"),
        ("[1,2]", "$"),
        ("[]", "$"),
        ("[null]", "$[0]"),
        (r#"[""]"#, "$[0]"),
    ] {
        let (server, client) = setup().await;
        api_post("/service/server/poweron")
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .expect(1)
            .mount(&server)
            .await;
        let err = client
            .power_on(&ServerSelector::id(ServerId::new("uuid-1")))
            .await
            .unwrap_err();
        assert_eq!(invalid_path(&err), path, "{body}: {err}");
    }
    // `[1]` is a valid answer: a numeric command id.
    let (server, client) = setup().await;
    api_post("/service/server/poweron")
        .respond_with(ResponseTemplate::new(200).set_body_string("[1]"))
        .mount(&server)
        .await;
    let ids = client
        .power_on(&ServerSelector::id(ServerId::new("uuid-1")))
        .await
        .unwrap();
    assert_eq!(ids, vec![CommandId::new("1")]);
}

#[tokio::test]
async fn every_malformed_tags_answer_is_an_invalid_response() {
    for (body, path) in [
        (r#"{"invalid":"response"}"#, "$"),
        ("[1,2]", "$[0]"),
        (r#"[{"foo":1}]"#, "$[0]"),
        (r#"[{"foo":"bar"}]"#, "$[0]"),
    ] {
        let (server, client) = setup().await;
        api_post("/server/tags")
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .mount(&server)
            .await;
        let err = client
            .server_tags(&ServerSelector::name("web1"))
            .await
            .unwrap_err();
        assert_eq!(invalid_path(&err), path, "{body}: {err}");
    }
}

#[tokio::test]
async fn every_malformed_queue_answer_is_an_invalid_response() {
    for (body, path) in [
        (r#"{"invalid":"response"}"#, "$"),
        ("[]", "$"),
        ("[1,2]", "$[0]"),
        (r#"[{"status":123}]"#, "$[0].status"),
    ] {
        let (server, client) = setup().await;
        api("GET", "/service/queue")
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .mount(&server)
            .await;
        let err = client
            .command_status(&CommandId::new("1"))
            .await
            .unwrap_err();
        assert_eq!(invalid_path(&err), path, "{body}: {err}");
    }
}

#[tokio::test]
async fn http_errors_keep_status_and_message() {
    for (status, body, message) in [
        (
            400,
            json!({"message": "missing required flag (name)"}).to_string(),
            Some("missing required flag (name)"),
        ),
        (
            500,
            json!({"message": "No servers found (name='x')"}).to_string(),
            Some("No servers found (name='x')"),
        ),
        (500, json!({"json_decode_error": null}).to_string(), None),
        (504, "Gateway Timeout".to_owned(), None),
    ] {
        let (server, client) = setup().await;
        api_post("/service/server/terminate")
            .respond_with(ResponseTemplate::new(status).set_body_string(body.clone()))
            .expect(1)
            .mount(&server)
            .await;
        let err = client
            .terminate(&ServerSelector::name("x"), Default::default())
            .await
            .unwrap_err();
        match &err {
            Error::Api { error, .. } => {
                assert_eq!(error.status, status);
                assert_eq!(error.message.as_deref(), message);
                if status == 504 {
                    assert_eq!(error.body, "Gateway Timeout");
                    assert!(err.to_string().contains("504: Gateway Timeout"), "{err}");
                }
            }
            other => panic!("expected an API error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn authentication_failures_are_recognised() {
    // The simulator-style 401 with an upstream error as JSON text inside `message`.
    let (server, client) = setup().await;
    api("GET", "/service/servers")
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "{\"errors\":[{\"code\":1,\"info\":\"you are not logged in\"}]}"
        })))
        .expect(1) // credentials do not get better by retrying
        .mount(&server)
        .await;
    let err = client.list_servers().await.unwrap_err();
    assert!(err.is_authentication(), "{err}");
    assert!(!err.to_string().contains(crate::support::SECRET));

    // The proxy quirk: HTTP 200 with an upstream error object.
    let (server, client) = setup().await;
    api("GET", "/service/servers")
        .respond_with(ok_json(
            json!({"errors": [{"code": 1, "info": "you are not logged in"}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = client.list_servers().await.unwrap_err();
    assert!(err.is_authentication(), "{err}");
}
