use std::sync::{Arc, Mutex};
use std::time::Duration;

use kamatera_api::{Client, Endpoint, RequestEvent, RequestObserver, RequestOutcome, RetryPolicy};
use serde_json::json;
use wiremock::ResponseTemplate;

use crate::support::{CLIENT_ID, SECRET, api, mock_server, ok_json, setup};

#[tokio::test]
async fn idempotent_calls_are_retried_until_they_succeed() {
    let (server, client) = setup().await;
    api("GET", "/service/servers")
        .respond_with(ResponseTemplate::new(504).set_body_string("Gateway Timeout"))
        .up_to_n_times(4)
        .with_priority(1)
        .expect(4)
        .mount(&server)
        .await;
    api("GET", "/service/servers")
        .respond_with(ok_json(json!([])))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    assert!(client.list_servers().await.unwrap().is_empty());
}

#[tokio::test]
async fn idempotent_calls_give_up_after_the_configured_attempts() {
    let (server, client) = setup().await;
    api("GET", "/service/servers")
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "Failed to run command method (serversList)"})),
        )
        .expect(5)
        .mount(&server)
        .await;
    let err = client.list_servers().await.unwrap_err();
    assert_eq!(err.status(), Some(500));
}

#[tokio::test]
async fn garbled_bodies_are_retried_as_transient() {
    let (server, client) = setup().await;
    api("GET", "/service/servers")
        .respond_with(ResponseTemplate::new(200).set_body_string("[{\"id\":"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    api("GET", "/service/servers")
        .respond_with(ok_json(json!([])))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    assert!(client.list_servers().await.is_ok());
}

#[tokio::test]
async fn retries_can_be_switched_off() {
    let server = mock_server().await;
    let client = Client::builder()
        .base_url(server.uri())
        .credentials(CLIENT_ID, SECRET)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    api("GET", "/service/servers")
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    assert!(client.list_servers().await.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_slow_answer_times_out_after_the_configured_timeout() {
    let server = mock_server().await;
    let client = Client::builder()
        .base_url(server.uri())
        .credentials(CLIENT_ID, SECRET)
        .timeout(Duration::from_secs(30))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    api_slow_create(&server).await;
    let started = tokio::time::Instant::now();
    let request = kamatera_api::CreateServerRequest::builder("web-0001", "IL", "img")
        .build()
        .unwrap();
    let call = tokio::spawn(async move { client.create_server(&request).await });
    // Paused time jumps ahead whenever the runtime is idle, even while a socket is still
    // connecting; keep a task runnable until the request has reached the server, so that
    // the timeout measures the wait for the answer.
    while server
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        tokio::task::yield_now().await;
    }
    let err = call.await.unwrap().unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(
        err.outcome_unknown(),
        "a timed-out create may still have happened"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(30), "virtual time");
}

async fn api_slow_create(server: &wiremock::MockServer) {
    crate::support::api_post("/service/server")
        .respond_with(ok_json(json!(["1"])).set_delay(Duration::from_secs(3600)))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener); // nothing listens there any more
    let client = Client::builder()
        .base_url(format!("http://{address}"))
        .credentials(CLIENT_ID, SECRET)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.list_servers().await.unwrap_err();
    assert!(err.outcome_unknown() && err.is_retryable(), "{err}");
}

#[derive(Default)]
struct Recorder(Mutex<Vec<RequestEvent>>);

impl RequestObserver for Recorder {
    fn observe(&self, event: &RequestEvent) {
        if let Ok(mut events) = self.0.lock() {
            events.push(event.clone());
        }
    }
}

#[tokio::test]
async fn the_observer_sees_every_attempt() {
    let server = mock_server().await;
    let recorder = Arc::new(Recorder::default());
    let client = Client::builder()
        .base_url(server.uri())
        .credentials(CLIENT_ID, SECRET)
        .retry_policy(crate::support::fast_retries())
        .observer(recorder.clone())
        .build()
        .unwrap();
    api("GET", "/service/servers")
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    api("GET", "/service/servers")
        .respond_with(ok_json(json!([])))
        .with_priority(2)
        .mount(&server)
        .await;
    client.list_servers().await.unwrap();
    let events = recorder.0.lock().unwrap();
    let seen: Vec<(Endpoint, RequestOutcome, u32)> = events
        .iter()
        .map(|e| (e.endpoint, e.outcome, e.attempt))
        .collect();
    assert_eq!(
        seen,
        vec![
            (Endpoint::ListServers, RequestOutcome::HttpError(502), 1),
            (Endpoint::ListServers, RequestOutcome::Ok, 2),
        ]
    );
    assert_eq!(events[0].outcome.label(), "http_5xx");
}

#[tokio::test]
async fn a_base_path_prefix_is_kept() {
    let server = mock_server().await;
    let client = Client::builder()
        .base_url(format!("{}/kamatera/", server.uri()))
        .credentials(CLIENT_ID, SECRET)
        .build()
        .unwrap();
    api("GET", "/kamatera/service/servers")
        .respond_with(ok_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    assert!(client.list_servers().await.unwrap().is_empty());
}
