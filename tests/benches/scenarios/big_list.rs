//! Scenario 10: decoding a big server list, the SDK against plain `serde_json`.
//!
//! The list answer of an account of many servers is taken once from `kamatera-sim` (so it
//! has the simulator's, and the API's, shape), then served as a prebuilt body by a local
//! HTTP server that does nothing else, so that a call's time is HTTP and decoding only.
//! Three comparisons, each in turns with its reference:
//!
//! - `Client::list_servers()` (what a user of the SDK gets: HTTP, the error-object check,
//!   the strict decode into `ServerSummary`s) / a bare reqwest GET of the same URL decoded
//!   by `serde_json::from_slice` into a plain struct of four `String`s;
//! - `Client::list_servers_compact()` (the provider's path) / the same bare call;
//! - the decode alone, no HTTP: `serde_json::from_slice::<Vec<ServerSummary>>` / the
//!   plain struct, of the same bytes. `CompactServerList` has no public decoding entry
//!   point (only `Client::list_servers_compact`), so it is measured over HTTP only.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use kamatera_api::{Endpoint, ServerSummary};
use serde::{Deserialize, Serialize};

use super::bare::{self, PlainServer};
use super::paired::{Comparison, Turns, compare};
use super::{client, seed_members, start_sim};

/// Scenario 10's size.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Params {
    /// Rows of the list answer.
    pub servers: usize,
    /// Turns of the comparisons over HTTP.
    pub http_turns: Turns,
    /// Turns of the decode-only comparison.
    pub decode_turns: Turns,
}

/// Scenario 10, measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub params: Params,
    /// Bytes of the list answer.
    pub body_bytes: usize,
    /// `Client::list_servers()` / bare reqwest + `serde_json` plain struct, HTTP included.
    pub list_servers: Comparison,
    /// `Client::list_servers_compact()` / the same bare call, HTTP included.
    pub list_servers_compact: Comparison,
    /// `serde_json::from_slice::<Vec<ServerSummary>>` / the plain struct, decode only.
    pub decode_only: Comparison,
}

/// Builds the answer, serves it, and runs the three comparisons.
pub async fn run(params: Params) -> Report {
    let body = list_answer(params.servers).await;
    let (addr, server) = serve(body.clone()).await;
    let base = format!("http://{addr}");
    let sdk = client(&base);
    let http = bare::client();
    let url = bare::url(&base, Endpoint::ListServers);
    let servers = params.servers;

    let bare_list = async || {
        let rows: Vec<PlainServer> = bare::get(&http, &url).await;
        assert_eq!(rows.len(), servers);
    };
    let list_servers = compare(
        params.http_turns,
        async || {
            let rows = sdk.list_servers().await.expect("SDK list");
            assert_eq!(rows.len(), servers);
        },
        bare_list,
    )
    .await;
    let list_servers_compact = compare(
        params.http_turns,
        async || {
            let list = sdk.list_servers_compact().await.expect("SDK compact list");
            assert_eq!((list.len(), list.skipped().len()), (servers, 0));
        },
        bare_list,
    )
    .await;
    let decode_only = compare(
        params.decode_turns,
        async || {
            let rows: Vec<ServerSummary> = serde_json::from_slice(&body).expect("SDK rows");
            assert_eq!(rows.len(), servers);
        },
        async || {
            let rows: Vec<PlainServer> = serde_json::from_slice(&body).expect("plain rows");
            assert_eq!(rows.len(), servers);
        },
    )
    .await;

    server.abort();
    Report {
        params,
        body_bytes: body.len(),
        list_servers,
        list_servers_compact,
        decode_only,
    }
}

/// The simulator's answer to `GET /service/servers` for an account of `servers` servers.
async fn list_answer(servers: usize) -> Bytes {
    let sim = start_sim().await;
    seed_members(&sim, 50, servers);
    let http = bare::client();
    let url = bare::url(sim.url().as_str(), Endpoint::ListServers);
    let response = http
        .get(&url)
        .header("AuthClientId", super::CLIENT_ID)
        .header("AuthSecret", super::SECRET)
        .send()
        .await
        .expect("list from the simulator");
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.expect("list body");
    sim.shutdown().await.expect("simulator stops");
    body
}

/// Serves `body` at `GET /service/servers` on loopback until the task is aborted.
async fn serve(body: Bytes) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let app = Router::new().route(
        Endpoint::ListServers.path(),
        get(move || {
            let body = body.clone();
            async move { ([(CONTENT_TYPE, "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the list server");
    let addr = listener.local_addr().expect("its address");
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the list server serves");
    });
    (addr, task)
}
