//! 429 Too Many Requests (docs/kamatera-api.md, "Rate limits, hostile answers and rotated
//! keys"): the wait `Retry-After` asks for is kept by every request of the client, reads
//! are retried, and a change refused with 429 (not carried out) is sent again, one copy at
//! a time, within the retry policy.

use std::time::{Duration, Instant};

use kamatera_api::{Client, CreateServerRequest, Error, RequestOutcome, ServerId, ServerSelector};
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, ResponseTemplate};

use crate::support::{
    CLIENT_ID, SECRET, api, api_post, client, fast_retries, mock_server, ok_json,
};

fn too_many(retry_after: Option<&str>) -> ResponseTemplate {
    let answer = ResponseTemplate::new(429).set_body_json(json!({"message": "Too Many Attempts."}));
    match retry_after {
        Some(value) => answer.insert_header("Retry-After", value),
        None => answer,
    }
}

/// A client for `server` that never retries, with `configure` applied to its builder.
fn single_shot(
    server: &wiremock::MockServer,
    configure: impl FnOnce(kamatera_api::ClientBuilder) -> kamatera_api::ClientBuilder,
) -> Client {
    configure(
        Client::builder()
            .base_url(server.uri())
            .credentials(CLIENT_ID, SECRET)
            .retry_policy(kamatera_api::RetryPolicy::none()),
    )
    .build()
    .unwrap()
}

fn create_request() -> CreateServerRequest {
    CreateServerRequest::builder("k8s-ng1-a1", "IL", "ubuntu")
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_create_answered_429_is_sent_again_after_the_wait_and_once_accepted_no_more() {
    let server = mock_server().await;
    api_post("/service/server")
        .respond_with(too_many(Some("1")))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    api_post("/service/server")
        .respond_with(ok_json(json!(["42"])))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let started = Instant::now();
    let created = client(&server)
        .create_server(&create_request())
        .await
        .unwrap();
    assert_eq!(created.command_id.as_str(), "42");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_change_refused_429_every_time_gives_rate_limited_after_the_policy_attempts() {
    let server = mock_server().await;
    api_post("/service/server/terminate")
        .respond_with(too_many(Some("0")))
        .expect(u64::from(fast_retries().max_attempts))
        .mount(&server)
        .await;
    let err = client(&server)
        .terminate(
            &ServerSelector::id(ServerId::new("uuid-1")),
            kamatera_api::TerminateOptions { force: true },
        )
        .await
        .unwrap_err();
    assert!(err.is_rate_limited(), "{err}");
    assert!(err.not_carried_out());
    assert_eq!(err.retry_after(), Some(Duration::ZERO));
    assert_eq!(
        err.to_string(),
        "POST /service/server/terminate: rate limited by the Kamatera API (HTTP 429), retry after 0ns: Too Many Attempts."
    );
}

#[tokio::test]
async fn other_change_errors_are_never_sent_again() {
    for status in [500, 502, 503] {
        let server = mock_server().await;
        api_post("/service/server/poweroff")
            .respond_with(ResponseTemplate::new(status).set_body_string("upstream trouble"))
            .expect(1)
            .mount(&server)
            .await;
        let err = client(&server)
            .power_off(&ServerSelector::id(ServerId::new("uuid-1")))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert!(!err.not_carried_out(), "{err}");
    }
}

#[tokio::test]
async fn a_read_answered_429_is_retried_after_the_wait() {
    let server = mock_server().await;
    api("GET", "/service/servers")
        .respond_with(too_many(Some("1")))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    api("GET", "/service/servers")
        .respond_with(ok_json(json!([])))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let started = Instant::now();
    client(&server).list_servers_compact().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// The pause is the client's, not the call's: a clone sending something else waits too.
#[tokio::test]
async fn after_a_429_every_request_of_every_clone_waits_out_the_pause() {
    let server = mock_server().await;
    Mock::given(path("/server/tags"))
        .respond_with(too_many(Some("1")))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    api("GET", "/service/servers")
        .respond_with(ok_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let no_retries = single_shot(&server, |b| b);
    let refused = no_retries
        .server_tags(&ServerSelector::id(ServerId::new("uuid-1")))
        .await
        .unwrap_err();
    assert!(refused.is_rate_limited());
    let started = Instant::now();
    no_retries.clone().list_servers_compact().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the clone did not wait: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_bound_is_cut_to_the_bound() {
    let server = mock_server().await;
    api("GET", "/service/servers")
        .respond_with(too_many(Some("3600")))
        .expect(1)
        .mount(&server)
        .await;
    let client = single_shot(&server, |b| b.max_retry_after(Duration::from_millis(200)));
    let err = client.list_servers_compact().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_millis(200)));
}

#[tokio::test]
async fn a_429_is_its_own_outcome_for_metrics() {
    struct Seen(std::sync::Mutex<Vec<&'static str>>);
    impl kamatera_api::RequestObserver for Seen {
        fn observe(&self, event: &kamatera_api::RequestEvent) {
            self.0.lock().unwrap().push(event.outcome.label());
        }
    }
    let seen = std::sync::Arc::new(Seen(std::sync::Mutex::new(Vec::new())));
    let server = mock_server().await;
    api("GET", "/service/servers")
        .respond_with(too_many(None))
        .expect(1)
        .mount(&server)
        .await;
    let client = single_shot(&server, |b| b.observer(seen.clone()));
    let err: Error = client.list_servers_compact().await.unwrap_err();
    assert_eq!(err.retry_after(), None, "no header, no wait asked for");
    assert_eq!(*seen.0.lock().unwrap(), ["rate_limited"]);
    assert_eq!(RequestOutcome::RateLimited.label(), "rate_limited");
}

#[tokio::test]
async fn rotated_credentials_are_used_by_every_clone_from_the_next_request() {
    let server = mock_server().await;
    Mock::given(path("/service/servers"))
        .and(wiremock::matchers::header("AuthClientId", "new-id"))
        .and(wiremock::matchers::header("AuthSecret", "new-secret"))
        .respond_with(ok_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let clone = client.clone();
    client
        .set_credentials("new-id".into(), "new-secret".into())
        .unwrap();
    clone.list_servers_compact().await.unwrap();
    let err = client.set_credentials("".into(), "x".into()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config {
                setting: "credentials",
                ..
            }
        ),
        "{err}"
    );
}
