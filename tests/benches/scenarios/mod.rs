//! The benchmark scenarios, shared by the bench binary (`benches/bench.rs`, full size) and
//! the smoke test (`tests/bench_smoke.rs`, tiny size) so that neither can rot.
//!
//! Everything talks to `kamatera-sim` on loopback only. Latency is injected by the
//! simulator's `delay` fault rule (real time), so figures against a floor are real waits.

// Each binary that includes this module uses a different subset of it, so what is dead
// differs per binary: `allow`, because an `expect` would be unfulfilled in one of them.
#![allow(dead_code)]

pub mod api_cost;
pub mod bare;
pub mod big_list;
pub mod cold_start;
pub mod growth;
pub mod grpc;
pub mod idle;
pub mod loop_replay;
pub mod node_sync;
pub mod paired;
pub mod scale_up;
pub mod sdk_overhead;

use std::sync::Arc;
use std::time::Duration;

use kamatera_api::Client;
use kamatera_nodegroups::config::empty_env;
use kamatera_nodegroups::{CloudConfig, Engine, EngineOptions, Reconciler};
use kamatera_sim::{FaultAction, FaultRule, SeedServer, SimConfig, SimHandle, Simulator};
use test_support::CloudConfigFixture;

/// Credentials the simulator checks and the provider sends.
const CLIENT_ID: &str = "bench-id";
const SECRET: &str = "bench-secret";

/// `#!/bin/bash\necho join` in base64: groups need a script to create servers.
const SCRIPT_B64: &str = "IyEvYmluL2Jhc2gKZWNobyBqb2lu";

/// Starts a simulator on loopback (virtual clock: commands stay pending until advanced,
/// which is what "commands in flight" needs).
pub async fn start_sim() -> SimHandle {
    let (_url, sim) = Simulator::start(SimConfig::default().with_credentials(CLIENT_ID, SECRET))
        .await
        .expect("simulator starts");
    sim
}

/// Group `index`'s name: `g00`, `g01`, ...
pub fn group_name(index: usize) -> String {
    format!("g{index:02}")
}

/// Seeds `servers` powered-on members spread round-robin over `groups` groups of cluster
/// `c1`, named as the engine would name them (`k8s-<group>-<n>`).
pub fn seed_members(sim: &SimHandle, groups: usize, servers: usize) {
    for i in 0..servers {
        let group = group_name(i % groups.max(1));
        let seed = SeedServer::new(format!("k8s-{group}-{i:06}"))
            .tags(["k8sca-c1".to_owned(), format!("k8scang-{group}")]);
        sim.seed_server(seed).expect("seed server");
    }
}

/// Seeds servers that are not members: `by_prefix` named `web-<n>` (outside
/// `filter-name-prefix = k8s-`, so never even considered) and `by_tags` named
/// `k8s-other-<n>` with another cluster's tags (their tags are read once, then they are
/// known foreign).
pub fn seed_foreign(sim: &SimHandle, by_prefix: usize, by_tags: usize) {
    for i in 0..by_prefix {
        sim.seed_server(SeedServer::new(format!("web-{i:06}")))
            .expect("seed server");
    }
    for i in 0..by_tags {
        let seed = SeedServer::new(format!("k8s-other-{i:06}"))
            .tags(["k8sca-c2".to_owned(), "k8scang-other".to_owned()]);
        sim.seed_server(seed).expect("seed server");
    }
}

/// Adds `ms` of real latency to every API request (not to the control API).
pub fn add_latency(sim: &SimHandle, ms: u64) -> u64 {
    let mut rule = FaultRule::new("GET", "*", FaultAction::Delay { ms });
    // Every method, not only GET.
    rule.method = None;
    sim.add_fault(rule)
}

/// The cloud config: cluster `c1`, `groups` groups `g00..` with `max_size` each. Every
/// group overrides one autoscaling option, so `GetOptions` has a real answer to give.
pub fn config(url: &str, groups: usize, max_size: usize) -> Arc<CloudConfig> {
    config_filtered(url, groups, max_size, None)
}

/// [`config`] with `filter-name-prefix` set when `filter` is given.
pub fn config_filtered(
    url: &str,
    groups: usize,
    max_size: usize,
    filter: Option<&str>,
) -> Arc<CloudConfig> {
    let mut fixture = CloudConfigFixture::new("c1")
        .credentials(CLIENT_ID, SECRET)
        .api_url(url)
        .global_key("default-script-base64", SCRIPT_B64);
    if let Some(filter) = filter {
        fixture = fixture.global_key("filter-name-prefix", filter);
    }
    for g in 0..groups {
        let name = group_name(g);
        fixture = fixture.group(&name, |g| {
            g.min(0)
                .key("max-size", max_size)
                .key("name-prefix", format!("k8s-{name}"))
                .key("scale-down-unneeded-time", "5m")
        });
    }
    let text = fixture.render();
    Arc::new(CloudConfig::parse(&text, "bench.ini", &empty_env).expect("config parses"))
}

/// A client as production builds it: the library's default timeout and retry policy.
pub fn client(url: &str) -> Client {
    Client::builder()
        .base_url(url)
        .credentials(CLIENT_ID, SECRET)
        .build()
        .expect("client builds")
}

/// An engine with the documented default options (the figures are about the defaults).
pub fn engine(url: &str, config: Arc<CloudConfig>) -> (Engine, Reconciler) {
    Engine::new(config, client(url), EngineOptions::default()).expect("engine builds")
}

/// Requests of one kind counted by the simulator so far.
pub fn count(sim: &SimHandle, key: &str) -> u64 {
    sim.counters().get(key).copied().unwrap_or(0)
}

/// Every API request counted so far (the control API is not counted).
pub fn total_requests(sim: &SimHandle) -> u64 {
    sim.counters().values().sum()
}

/// Milliseconds as a float, for reports.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median of some durations (mean of the middle two for an even count).
pub fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

/// Median of floats.
pub fn median_f64(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The `p`-th percentile (0–100) of `sorted`, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Polls `done` every millisecond until it holds or `limit` passes; returns whether it held.
/// Every wait in the suite goes through here, so none is unbounded.
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
