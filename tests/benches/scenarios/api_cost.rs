//! Scenario 2: Kamatera requests per reconcile pass in steady state.
//!
//! Counted by the simulator (it counts every API request by method and path), so
//! anything the engine sends is seen, not only what the engine reports about itself.

use std::time::Duration;

use kamatera_nodegroups::{Engine, EngineOptions, Reconciler};
use kamatera_sim::SimHandle;
use serde::Serialize;

use super::{config, count, group_name, seed_members, start_sim, total_requests};

const LIST: &str = "GET /service/servers";
const TAGS: &str = "POST /server/tags";
const QUEUE: &str = "GET /service/queue";

/// Sizes of the scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    /// Node groups.
    pub groups: usize,
    /// Existing member servers.
    pub servers: usize,
    /// Creates left in flight (pending commands) for the second half.
    pub in_flight: usize,
    /// Passes measured in each state.
    pub passes: usize,
}

/// Requests of one pass, by kind.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PassCost {
    /// `GET /service/servers`.
    pub list: u64,
    /// `POST /server/tags`.
    pub tags: u64,
    /// `GET /service/queue`.
    pub queue: u64,
    /// Every API request of the pass.
    pub total: u64,
    /// Commands the pass polled (engine's report).
    pub commands_polled: usize,
}

/// What the scenario found: the worst pass in each state (every pass is listed in JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The sizes used.
    pub params: Params,
    /// Requests of the first (cold) pass, for context.
    pub cold_pass: PassCost,
    /// Each steady pass with nothing changing.
    pub idle: Vec<PassCost>,
    /// Each pass with `in_flight` commands pending.
    pub in_flight: Vec<PassCost>,
    /// Each pass once every server's tags are older than `tag_refresh_interval`
    /// (simulated by setting that interval to zero; the budget is the default).
    pub tags_aged: Vec<PassCost>,
    /// The default per-pass budget of tag re-reads.
    pub tag_refresh_budget: usize,
    /// The default queue batch size.
    pub queue_batch: usize,
}

impl Report {
    /// The worst idle pass.
    pub fn idle_worst(&self) -> PassCost {
        worst(&self.idle)
    }
    /// The worst pass with commands in flight.
    pub fn in_flight_worst(&self) -> PassCost {
        worst(&self.in_flight)
    }
    /// The worst pass once tags have aged.
    pub fn tags_aged_worst(&self) -> PassCost {
        worst(&self.tags_aged)
    }
}

fn worst(passes: &[PassCost]) -> PassCost {
    passes
        .iter()
        .max_by_key(|p| (p.total, p.queue, p.tags))
        .cloned()
        .unwrap_or_default()
}

/// One pass plus every call it started, with the requests it made.
async fn measured_pass(sim: &SimHandle, engine: &Engine, reconciler: &mut Reconciler) -> PassCost {
    // CA calls Refresh every loop; it keeps the engine active (it acts only then).
    let _ = engine.refresh();
    let before = (
        count(sim, LIST),
        count(sim, TAGS),
        count(sim, QUEUE),
        total_requests(sim),
    );
    let report = reconciler.run_pass().await.expect("pass succeeds");
    reconciler.settle().await;
    PassCost {
        list: count(sim, LIST) - before.0,
        tags: count(sim, TAGS) - before.1,
        queue: count(sim, QUEUE) - before.2,
        total: total_requests(sim) - before.3,
        commands_polled: report.commands_polled,
    }
}

/// Runs the scenario.
pub async fn run(params: Params) -> Report {
    let sim = start_sim().await;
    seed_members(&sim, params.groups, params.servers);
    let max_size = params.servers / params.groups.max(1) + params.in_flight + 1;
    let config = config(sim.url().as_str(), params.groups, max_size);
    let defaults = EngineOptions::default();
    let (engine, mut reconciler) = Engine::new(
        config.clone(),
        super::client(sim.url().as_str()),
        defaults.clone(),
    )
    .expect("engine builds");

    let cold_pass = measured_pass(&sim, &engine, &mut reconciler).await;
    // The members' prices are read a few per pass after the start (server info, within
    // the engine's budget); steady state begins once none is due.
    let budget = defaults.price_read_budget.max(1);
    let warm_up = params.servers.div_ceil(budget) + 1;
    for pass in 0.. {
        let report = reconciler.run_pass().await.expect("pass succeeds");
        reconciler.settle().await;
        if report.price_reads == 0 {
            break;
        }
        assert!(
            pass < warm_up,
            "prices still being read after {pass} passes"
        );
    }
    let mut idle = Vec::with_capacity(params.passes);
    for _ in 0..params.passes {
        idle.push(measured_pass(&sim, &engine, &mut reconciler).await);
    }

    // Creates spread over the groups; the simulator's clock does not move, so their
    // commands stay pending and every pass polls all of them.
    let _ = engine.refresh();
    for i in 0..params.in_flight {
        engine
            .increase_size(&group_name(i % params.groups.max(1)), 1)
            .expect("increase size");
    }
    reconciler.dispatch();
    reconciler.settle().await;
    assert_eq!(
        engine.stats().commands_in_flight,
        params.in_flight,
        "every create was accepted"
    );
    let mut in_flight = Vec::with_capacity(params.passes);
    for _ in 0..params.passes {
        in_flight.push(measured_pass(&sim, &engine, &mut reconciler).await);
    }

    // A second provider on the same cloud whose tags are always due for a re-read: what
    // every pass costs once `tag_refresh_interval` (10 min) has passed since the reads.
    let aged = EngineOptions {
        tag_refresh_interval: Duration::ZERO,
        ..defaults.clone()
    };
    let (engine2, mut reconciler2) =
        Engine::new(config, super::client(sim.url().as_str()), aged).expect("engine builds");
    measured_pass(&sim, &engine2, &mut reconciler2).await;
    let mut tags_aged = Vec::with_capacity(params.passes);
    for _ in 0..params.passes {
        tags_aged.push(measured_pass(&sim, &engine2, &mut reconciler2).await);
    }
    sim.shutdown().await.expect("simulator stops");
    Report {
        params,
        cold_pass,
        idle,
        in_flight,
        tags_aged,
        tag_refresh_budget: defaults.tag_refresh_budget,
        queue_batch: defaults.queue_batch,
    }
}
