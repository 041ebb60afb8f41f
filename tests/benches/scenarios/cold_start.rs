//! Scenario 3: cold start against a cloud that already has many member servers, with
//! real per-request latency.
//!
//! The first pass must list once and read every server's tags (membership is only in
//! tags). The floor is one list plus the tag reads at the engine's tag concurrency; the
//! sequential figure is what one read after another would cost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kamatera_nodegroups::EngineOptions;
use serde::Serialize;

use super::{add_latency, client, config, engine, median, ms, seed_members, start_sim, wait_until};

/// Sizes of the scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    /// Existing member servers.
    pub servers: usize,
    /// Node groups they are spread over.
    pub groups: usize,
    /// Latency added to every API request.
    pub latency_ms: u64,
    /// Runs; figures are medians.
    pub runs: usize,
}

/// One run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Time until `refresh()` first succeeded (the snapshot claims to be ready).
    pub refresh_ok_ms: f64,
    /// Node count the snapshot reported at that moment.
    pub nodes_when_refresh_ok: usize,
    /// Time until every server was reported in its group.
    pub all_nodes_ms: f64,
    /// Time until the first pass returned.
    pub pass_ms: f64,
}

/// What the scenario found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The sizes used.
    pub params: Params,
    /// The default tag concurrency (what the floor is computed with).
    pub tag_concurrency: usize,
    /// Median time of one list call with the latency (part of the floor).
    pub list_ms: f64,
    /// `list + ceil(servers / tag_concurrency) × latency`.
    pub floor_ms: f64,
    /// `list + servers × latency`.
    pub sequential_ms: f64,
    /// Median time to a ready snapshot with every server in its group.
    pub ready_ms: f64,
    /// Median time until `refresh()` first succeeded.
    pub refresh_ok_ms: f64,
    /// Each run.
    pub runs: Vec<Run>,
}

impl Report {
    /// Ready time over the floor.
    pub fn ratio(&self) -> f64 {
        self.ready_ms / self.floor_ms
    }
}

fn total_nodes(engine: &kamatera_nodegroups::Engine) -> usize {
    engine.node_groups().iter().map(|g| g.instances.len()).sum()
}

/// Runs the scenario.
pub async fn run(params: Params) -> Report {
    let sim = start_sim().await;
    seed_members(&sim, params.groups, params.servers);
    add_latency(&sim, params.latency_ms);
    let url = sim.url().as_str().to_owned();
    let config = config(&url, params.groups, params.servers);

    let probe = client(&url);
    let mut lists = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let listed = probe.list_servers().await.expect("list");
        assert_eq!(listed.len(), params.servers);
        lists.push(started.elapsed());
    }
    let list = median(&lists);
    let tag_concurrency = EngineOptions::default().tag_concurrency;
    let latency = Duration::from_millis(params.latency_ms);
    let rounds = params.servers.div_ceil(tag_concurrency.max(1)) as u32;
    let floor = list + latency * rounds;
    let sequential = list + latency * params.servers as u32;

    let mut runs = Vec::with_capacity(params.runs);
    for _ in 0..params.runs {
        let (engine, mut reconciler) = engine(&url, config.clone());
        let started = Instant::now();
        // A watcher samples what a CA calling in meanwhile would see: when `refresh()`
        // first succeeds and how many nodes the snapshot has then.
        let done = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (engine, done) = (engine.clone(), done.clone());
            let limit = latency * params.servers as u32 * 2 + Duration::from_secs(30);
            tokio::spawn(async move {
                let mut refresh_ok = None;
                let _ = wait_until(limit, || {
                    if engine.refresh().is_ok() {
                        refresh_ok = Some((started.elapsed(), total_nodes(&engine)));
                    }
                    refresh_ok.is_some() || done.load(Ordering::Relaxed)
                })
                .await;
                refresh_ok
            })
        };
        let report = reconciler.run_pass().await.expect("cold pass succeeds");
        // Adoption happens at the end of the pass, so this is when every node is there.
        let pass = started.elapsed();
        done.store(true, Ordering::Relaxed);
        let refresh_ok = watcher.await.expect("watcher");
        assert_eq!(report.tag_reads, params.servers, "every tag read once");
        assert_eq!(total_nodes(&engine), params.servers, "every server adopted");
        let (refresh_at, nodes_then) = refresh_ok.unwrap_or((pass, params.servers));
        runs.push(Run {
            refresh_ok_ms: ms(refresh_at),
            nodes_when_refresh_ok: nodes_then,
            all_nodes_ms: ms(pass),
            pass_ms: ms(pass),
        });
        reconciler.settle().await;
    }
    sim.shutdown().await.expect("simulator stops");
    let ready: Vec<Duration> = runs
        .iter()
        .map(|r| Duration::from_secs_f64(r.all_nodes_ms / 1e3))
        .collect();
    let refresh: Vec<Duration> = runs
        .iter()
        .map(|r| Duration::from_secs_f64(r.refresh_ok_ms / 1e3))
        .collect();
    Report {
        params,
        tag_concurrency,
        list_ms: ms(list),
        floor_ms: ms(floor),
        sequential_ms: ms(sequential),
        ready_ms: ms(median(&ready)),
        refresh_ok_ms: ms(median(&refresh)),
        runs,
    }
}
