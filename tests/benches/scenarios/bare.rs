//! The reference of scenarios 9 and 10: the same requests as the SDK's, made with a bare
//! `reqwest` client and decoded with `serde_json` into plain structs of `String`s.
//!
//! The client is built like the SDK's (rustls, its user agent, its timeouts), and each
//! request carries the SDK's URL, headers and body, so that what differs is the SDK's own
//! work per call: request building, auth headers from secrets, the upstream error-object
//! check, decoding into its types, the retry wrapper and tracing.

use reqwest::header::ACCEPT;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{CLIENT_ID, SECRET};

/// One row of `GET /service/servers`, as a user without the SDK would decode it.
#[derive(Debug, Deserialize)]
pub struct PlainServer {
    pub id: String,
    pub name: String,
    pub datacenter: String,
    pub power: String,
}

/// One row of the `POST /server/tags` answer.
#[derive(Debug, Deserialize)]
pub struct PlainTagRow {
    #[serde(rename = "tagName")]
    pub tag_name: String,
}

/// The body selecting one server by id, as the SDK sends it for `ServerSelector::id`.
#[derive(Debug, Serialize)]
pub struct ById<'a> {
    pub id: &'a str,
}

/// A reqwest client built like the SDK's: rustls (the workspace's only TLS), the SDK's
/// user agent, its connect timeout and a total timeout of the same length (the SDK wraps
/// each exchange in `tokio::time::timeout` instead).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("kamatera-api/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(kamatera_api::DEFAULT_TIMEOUT)
        .timeout(kamatera_api::DEFAULT_TIMEOUT)
        .build()
        .expect("bare client builds")
}

/// `base` (with or without a trailing slash) joined with `endpoint`'s path.
pub fn url(base: &str, endpoint: kamatera_api::Endpoint) -> String {
    format!("{}{}", base.trim_end_matches('/'), endpoint.path())
}

/// A GET with the SDK's headers, its 200 body decoded as `T`.
pub async fn get<T: DeserializeOwned>(http: &reqwest::Client, url: &str) -> T {
    send(http.get(url)).await
}

/// A POST of `body` as JSON with the SDK's headers, its 200 body decoded as `T`.
pub async fn post<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    body: &impl Serialize,
) -> T {
    send(http.post(url).json(body)).await
}

async fn send<T: DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    let response = request
        .header("AuthClientId", CLIENT_ID)
        .header("AuthSecret", SECRET)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .expect("bare request");
    assert_eq!(response.status(), 200, "bare request answered");
    let body = response.bytes().await.expect("bare body");
    serde_json::from_slice(&body).expect("bare decode")
}
