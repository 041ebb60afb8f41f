//! Scenario 9: what the SDK adds to one call, against the same request made bare.
//!
//! A typed `kamatera-api` call through a [`Client`](kamatera_api::Client) with its default
//! settings (timeout, retry policy, no observer, no rate limit) against `kamatera-sim` on
//! loopback without injected latency, in turns with the same request made by
//! [`bare`](super::bare) (same URL, headers and body, the answer decoded into a plain
//! struct). The simulator's and the HTTP stack's time is in both sides alike, so the ratio
//! is the SDK's own work per call.

use kamatera_api::{Endpoint, ServerSelector};
use serde::{Deserialize, Serialize};

use super::bare::{self, ById, PlainServer, PlainTagRow};
use super::paired::{Comparison, Turns, compare};
use super::{client, seed_members, start_sim};

/// Scenario 9's size.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Params {
    /// Servers of the account (each with two tags).
    pub servers: usize,
    /// Turns of each comparison.
    pub turns: Turns,
}

/// Scenario 9, measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub params: Params,
    /// `Client::list_servers()` / a bare GET of `/service/servers`.
    pub list_servers: Comparison,
    /// `Client::server_tags(id)` / a bare POST of `/server/tags` with `{"id": …}`.
    pub server_tags: Comparison,
    /// Tags of the server whose tags are read.
    pub tags: usize,
}

/// Seeds a small account, then times both calls of the SDK against their bare twins.
pub async fn run(params: Params) -> Report {
    let sim = start_sim().await;
    seed_members(&sim, 1, params.servers);
    let base = sim.url().as_str().to_owned();
    let sdk = client(&base);
    let http = bare::client();

    let list_url = bare::url(&base, Endpoint::ListServers);
    let servers = params.servers;
    let list_servers = compare(
        params.turns,
        async || {
            let rows = sdk.list_servers().await.expect("SDK list");
            assert_eq!(rows.len(), servers);
        },
        async || {
            let rows: Vec<PlainServer> = bare::get(&http, &list_url).await;
            assert_eq!(rows.len(), servers);
        },
    )
    .await;

    let first = sdk.list_servers().await.expect("SDK list");
    let id = first.first().expect("a server").id.clone();
    let selector = ServerSelector::id(id.clone());
    let tags_url = bare::url(&base, Endpoint::ServerTags);
    let tags = sdk.server_tags(&selector).await.expect("SDK tags").len();
    assert!(tags > 0, "the server has tags to read");
    let server_tags = compare(
        params.turns,
        async || {
            let read = sdk.server_tags(&selector).await.expect("SDK tags");
            assert_eq!(read.len(), tags);
        },
        async || {
            let body = ById { id: id.as_str() };
            let rows: Vec<PlainTagRow> = bare::post(&http, &tags_url, &body).await;
            assert_eq!(rows.len(), tags);
        },
    )
    .await;

    sim.shutdown().await.expect("simulator stops");
    Report {
        params,
        list_servers,
        server_tags,
        tags,
    }
}
