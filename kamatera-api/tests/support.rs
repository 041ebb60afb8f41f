//! Shared set-up: a mock server with a catch-all and a client pointed at it.

use std::time::Duration;

use kamatera_api::{Client, RetryPolicy};
use wiremock::matchers::{any, header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

/// Client id the mocks expect.
pub const CLIENT_ID: &str = "test-client-id";
/// Secret the mocks expect.
pub const SECRET: &str = "test-secret-value";

/// A retry policy fast enough for tests: 5 attempts a few milliseconds apart.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
        max_elapsed: Duration::from_secs(10),
        jitter: false,
    }
}

/// Starts a mock server whose catch-all fails the test on any unexpected request.
pub async fn mock_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599).set_body_string("unexpected request"))
        .with_priority(u8::MAX)
        .expect(0)
        .named("catch-all: no unexpected requests")
        .mount(&server)
        .await;
    server
}

/// A client for `server` with fast retries.
pub fn client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.uri())
        .credentials(CLIENT_ID, SECRET)
        .retry_policy(fast_retries())
        .build()
        .expect("client builds")
}

/// Starts a mock server and a client for it.
pub async fn setup() -> (MockServer, Client) {
    let server = mock_server().await;
    let client = client(&server);
    (server, client)
}

/// A mock matching `verb path` with the auth headers and the user agent.
pub fn api(verb: &str, route: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(route))
        .and(header("AuthClientId", CLIENT_ID))
        .and(header("AuthSecret", SECRET))
        .and(header("accept", "application/json"))
        .and(header(
            "user-agent",
            concat!("kamatera-api/", env!("CARGO_PKG_VERSION")),
        ))
}

/// Like [`api`] for a POST, also requiring a JSON content type.
pub fn api_post(route: &str) -> MockBuilder {
    api("POST", route).and(header("content-type", "application/json"))
}

/// A 200 answer with a JSON body.
pub fn ok_json(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// The JSON path of an invalid-response error; panics on any other result.
pub fn invalid_path<T: std::fmt::Debug>(result: Result<T, kamatera_api::Error>) -> String {
    match result {
        Err(kamatera_api::Error::InvalidResponse { path, .. }) => path,
        other => panic!("expected an invalid response, got {other:?}"),
    }
}

/// The field of an invalid-request error; panics on any other result.
pub fn refused_field<T: std::fmt::Debug>(result: Result<T, kamatera_api::Error>) -> &'static str {
    match result {
        Err(kamatera_api::Error::InvalidRequest { field, .. }) => field,
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

/// The status and message of an API error; panics on any other result.
pub fn api_error<T: std::fmt::Debug>(
    result: Result<T, kamatera_api::Error>,
) -> (u16, Option<String>, String) {
    match result {
        Err(kamatera_api::Error::Api { error, .. }) => (error.status, error.message, error.body),
        other => panic!("expected an API error, got {other:?}"),
    }
}
