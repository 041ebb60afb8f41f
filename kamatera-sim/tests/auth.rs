//! Authentication.

use kamatera_sim::AuthErrorMode;
use serde_json::{Value, json};

use crate::common::Sim;

const NOT_LOGGED_IN: &str = r#"{"errors":[{"code":1,"info":"you are not logged in"}]}"#;

async fn call(
    sim: &Sim,
    method: reqwest::Method,
    path: &str,
    id: &str,
    secret: &str,
) -> (u16, Value) {
    let resp = sim
        .http
        .request(method, sim.at(path))
        .header("AuthClientId", id)
        .header("AuthSecret", secret)
        .json(&json!({"name": "a1"}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_401_with_the_upstream_message() {
    let sim = Sim::start().await;
    sim.seed("a1");
    let (status, body) = call(
        &sim,
        reqwest::Method::GET,
        "/service/servers",
        "test-id",
        "wrong",
    )
    .await;
    assert_eq!((status, body), (401, json!({ "message": NOT_LOGGED_IN })));
    let resp = sim
        .http
        .post(sim.at("/server/tags"))
        .json(&json!({"name": "a1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // The right credentials still work, and every attempt was counted.
    assert_eq!(sim.get("/service/servers").await.0, 200);
    assert_eq!(sim.handle.counters()["GET /service/servers"], 2);
}

#[tokio::test]
async fn get_lists_can_answer_200_with_an_errors_object() {
    let sim = Sim::start().await;
    sim.handle
        .update_behaviour(|b| b.auth_error_mode = AuthErrorMode::OkWithErrorsOnGet);
    let (status, body) = call(&sim, reqwest::Method::GET, "/service/servers", "x", "y").await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::from_str::<Value>(NOT_LOGGED_IN).unwrap());
    let (status, _) = call(&sim, reqwest::Method::POST, "/server/tags", "x", "y").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn auth_failure_mode_fails_every_call() {
    let sim = Sim::start().await;
    sim.seed("a1");
    sim.handle.update_behaviour(|b| b.auth_failure = true);
    for (method, path) in [
        (reqwest::Method::GET, "/service/servers"),
        (reqwest::Method::POST, "/server/tags"),
        (reqwest::Method::POST, "/service/server"),
        (reqwest::Method::GET, "/service/queue"),
    ] {
        let (status, body) = call(&sim, method, path, "test-id", "test-secret").await;
        assert_eq!(
            (status, body["message"].as_str()),
            (401, Some(NOT_LOGGED_IN)),
            "{path}"
        );
    }
    assert!(sim.handle.servers().iter().all(|s| s.tags.is_empty()));
}
