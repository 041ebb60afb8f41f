//! Scenario 4: a scale-up of many nodes with real per-request latency.
//!
//! Driven over gRPC against the provider served in-process (`serve::run`), as CA drives
//! it. `NodeGroupIncreaseSize` only records intent and wakes the reconciler, so it must
//! answer at once; the creates then go out at the engine's mutation concurrency. A create
//! counts as accepted when the engine holds its command id, read from the provider's
//! `kamatera_cloud_commands_in_flight` gauge on `/metrics`. The floor is
//! `ceil(nodes / mutation_concurrency) × latency`, the sequential figure `nodes × latency`.

use std::time::{Duration, Instant};

use kamatera_nodegroups::EngineOptions;
use kamatera_provider_grpc::pb;
use serde::Serialize;

use super::grpc::{gauge, serve_provider, wait_ready};
use super::{add_latency, config, count, median, ms, seed_members, start_sim};

const CREATE: &str = "POST /service/server";

/// Sizes of the scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    /// Nodes added in one `increase_size`.
    pub nodes: usize,
    /// Existing member servers (spread over `groups`), so the engine is not empty.
    pub existing: usize,
    /// Node groups.
    pub groups: usize,
    /// Latency added to every API request.
    pub latency_ms: u64,
    /// Runs; figures are medians.
    pub runs: usize,
}

/// One run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// How long `NodeGroupIncreaseSize` took, over gRPC.
    pub increase_size_ms: f64,
    /// From the call until every create was answered with a command id.
    pub all_accepted_ms: f64,
}

/// What the scenario found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The sizes used.
    pub params: Params,
    /// The default mutation concurrency (what the floor is computed with).
    pub mutation_concurrency: usize,
    /// `ceil(nodes / mutation_concurrency) × latency`.
    pub floor_ms: f64,
    /// `nodes × latency`.
    pub sequential_ms: f64,
    /// Median `NodeGroupIncreaseSize` latency over gRPC.
    pub increase_size_ms: f64,
    /// Median time until all creates were accepted.
    pub all_accepted_ms: f64,
    /// Each run.
    pub runs: Vec<Run>,
}

impl Report {
    /// Acceptance time over the floor.
    pub fn ratio(&self) -> f64 {
        self.all_accepted_ms / self.floor_ms
    }
}

/// Runs the scenario; a fresh cloud per run so every run starts from the same state.
pub async fn run(params: Params) -> Report {
    let mutation_concurrency = EngineOptions::default().mutation_concurrency;
    let latency = Duration::from_millis(params.latency_ms);
    let floor = latency * params.nodes.div_ceil(mutation_concurrency.max(1)) as u32;
    let sequential = latency * params.nodes as u32;
    let mut runs = Vec::with_capacity(params.runs);
    for _ in 0..params.runs {
        let sim = start_sim().await;
        seed_members(&sim, params.groups, params.existing);
        add_latency(&sim, params.latency_ms);
        let per_group = params.existing.div_ceil(params.groups.max(1));
        let config = config(sim.url().as_str(), params.groups, per_group + params.nodes);
        let provider = serve_provider(&config).await;
        let client = provider.client().await;
        let http = reqwest::Client::new();
        let metrics = provider.http.expect("the provider serves HTTP");
        let limit = latency * (params.existing as u32 + 10) + Duration::from_secs(30);
        // CA's first Refresh succeeds once the first pass has adopted the servers.
        wait_ready(&client, params.existing, limit).await;

        let mut client = client;
        let started = Instant::now();
        client
            .node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
                id: super::group_name(0),
                delta: i32::try_from(params.nodes).expect("delta fits"),
            })
            .await
            .expect("NodeGroupIncreaseSize");
        let increase = started.elapsed();
        let deadline = started + sequential * 2 + Duration::from_secs(30);
        let want = params.nodes as f64;
        let mut accepted = false;
        while Instant::now() < deadline {
            if gauge(&http, metrics, "kamatera_cloud_commands_in_flight").await == Some(want) {
                accepted = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let all_accepted = started.elapsed();
        assert!(accepted, "every create was accepted");
        assert_eq!(
            count(&sim, CREATE),
            params.nodes as u64,
            "one create per node"
        );
        runs.push(Run {
            increase_size_ms: ms(increase),
            all_accepted_ms: ms(all_accepted),
        });
        provider.stop().await;
        sim.shutdown().await.expect("simulator stops");
    }
    let increase: Vec<Duration> = runs
        .iter()
        .map(|r| Duration::from_secs_f64(r.increase_size_ms / 1e3))
        .collect();
    let accepted: Vec<Duration> = runs
        .iter()
        .map(|r| Duration::from_secs_f64(r.all_accepted_ms / 1e3))
        .collect();
    Report {
        params,
        mutation_concurrency,
        floor_ms: ms(floor),
        sequential_ms: ms(sequential),
        increase_size_ms: ms(median(&increase)),
        all_accepted_ms: ms(median(&accepted)),
        runs,
    }
}
