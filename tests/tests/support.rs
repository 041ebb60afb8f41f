//! Shared set-up: a simulator with a virtual clock and a client pointed at it.

use std::time::Duration;

use kamatera_api::{Client, RetryPolicy};
use kamatera_sim::{SimConfig, SimHandle, Simulator};

/// Client id the simulator accepts.
pub const CLIENT_ID: &str = "e2e-client";
/// Secret the simulator accepts.
pub const SECRET: &str = "e2e-secret-value";

/// Long enough for any simulated command with the default timings to finish.
pub const SETTLE: Duration = Duration::from_secs(120);

/// Starts a simulator (virtual clock, credentials required) and a client for it.
pub async fn start() -> (SimHandle, Client) {
    let (url, sim) = Simulator::start(SimConfig::default().with_credentials(CLIENT_ID, SECRET))
        .await
        .expect("simulator starts");
    let client = client_for(url.as_str(), CLIENT_ID, SECRET);
    (sim, client)
}

/// A client with fast retries for the simulator at `url`.
pub fn client_for(url: &str, client_id: &str, secret: &str) -> Client {
    Client::builder()
        .base_url(url)
        .credentials(client_id.to_owned(), secret.to_owned())
        .timeout(Duration::from_secs(5))
        .retry_policy(RetryPolicy {
            max_attempts: 5,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_elapsed: Duration::from_secs(10),
            jitter: false,
        })
        .build()
        .expect("client builds")
}
