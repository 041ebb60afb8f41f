//! Scenario 5: how loop time, pass time and memory grow with the number of servers.
//!
//! The bench runs [`measure`] in a child process (the bench binary re-executed with an
//! argument) against a simulator in the parent, so the child's peak RSS (`VmHWM`) is the
//! provider's alone. The smoke test runs it in-process at a tiny size.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::loop_replay::{known_nodes, replay_in_process};
use super::{config_filtered, engine, median, ms, seed_foreign, seed_members, start_sim};

/// The cloud of one measurement: members, and servers that are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Node groups the members are spread over.
    pub groups: usize,
    /// Member servers.
    pub members: usize,
    /// Foreign servers outside `filter-name-prefix` (set to `k8s-` when there are any).
    pub foreign_by_prefix: usize,
    /// Foreign servers inside the prefix but with another cluster's tags.
    pub foreign_by_tags: usize,
}

impl Shape {
    /// Members only, no `filter-name-prefix`.
    pub fn members(groups: usize, members: usize) -> Self {
        Self {
            groups,
            members,
            foreign_by_prefix: 0,
            foreign_by_tags: 0,
        }
    }

    /// Every server the list returns.
    pub fn listed(&self) -> usize {
        self.members + self.foreign_by_prefix + self.foreign_by_tags
    }

    fn filter(&self) -> Option<&'static str> {
        (self.foreign_by_prefix > 0).then_some("k8s-")
    }
}

/// One size, measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// Member servers in the cloud.
    pub servers: usize,
    /// Servers the list returns (members and foreign ones).
    #[serde(default)]
    pub listed: usize,
    /// Node groups they are spread over.
    pub groups: usize,
    /// The first pass (list plus every tag read), no injected latency.
    pub cold_pass_ms: f64,
    /// Median steady pass (list, nothing changed).
    pub pass_ms: f64,
    /// Median of one bare `list_servers` call (HTTP plus JSON decode): the part of a
    /// steady pass that is not the engine's own work.
    pub list_ms: f64,
    /// Median in-process CA loop (every read RPC's engine call).
    pub loop_ms: f64,
    /// The part of the loop spent in `node_group_for_node` (one call per node).
    pub loop_for_node_ms: f64,
    /// Calls in one loop.
    pub loop_calls: usize,
    /// Peak resident set of the measuring process, KiB (`VmHWM`), read after the passes
    /// and loops and before the bare list calls; `None` off Linux.
    pub peak_rss_kib: Option<u64>,
}

/// A simulated cloud with `servers` members over `groups` groups and the foreign servers.
pub async fn cloud(
    groups: usize,
    servers: usize,
    foreign_by_prefix: usize,
    foreign_by_tags: usize,
) -> kamatera_sim::SimHandle {
    let sim = start_sim().await;
    seed_members(&sim, groups, servers);
    seed_foreign(&sim, foreign_by_prefix, foreign_by_tags);
    sim
}

/// The peak resident set of this process so far, from `/proc/self/status`.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs a provider engine against the cloud at `url`: one cold pass, then `runs` steady
/// passes and `runs` CA loops.
pub async fn measure(url: &str, shape: Shape, runs: usize) -> Sample {
    let (groups, servers) = (shape.groups, shape.members);
    let (engine, mut reconciler) =
        engine(url, config_filtered(url, groups, servers, shape.filter()));
    let _ = engine.refresh();
    let started = Instant::now();
    reconciler.run_pass().await.expect("cold pass");
    reconciler.settle().await;
    let cold = started.elapsed();

    let mut passes = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let report = reconciler.run_pass().await.expect("pass");
        reconciler.settle().await;
        passes.push(started.elapsed());
        assert_eq!(report.tag_reads, 0, "a steady pass reads no tags");
    }
    let nodes = known_nodes(&engine);
    assert_eq!(nodes.len(), servers, "every server adopted");
    let (mut loops, mut for_node) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    let mut calls = 0;
    for _ in 0..runs {
        let (took, per_node, n) = replay_in_process(&engine, &nodes);
        loops.push(took);
        for_node.push(per_node);
        calls = n;
    }
    // Read before the bare list calls below: those are the benchmark's floor, a call
    // the provider never makes, and their rows would count as the provider's memory.
    let peak_rss_kib = peak_rss_kib();
    let probe = super::client(url);
    let mut lists = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let listed = probe.list_servers().await.expect("list");
        lists.push(started.elapsed());
        assert_eq!(listed.len(), shape.listed());
    }
    Sample {
        servers,
        listed: shape.listed(),
        groups,
        cold_pass_ms: ms(cold),
        pass_ms: ms(median(&passes)),
        list_ms: ms(median(&lists)),
        loop_ms: ms(median(&loops)),
        loop_for_node_ms: ms(median(&for_node)),
        loop_calls: calls,
        peak_rss_kib,
    }
}

/// One sample from several children at the same shape: the median of each time, the
/// highest peak RSS. A child's times move with where it and the simulator run (its
/// cores, its caches), so one child alone can land high or low as a whole.
pub fn combine(samples: &[Sample]) -> Option<Sample> {
    let first = samples.first()?;
    let median = |field: fn(&Sample) -> f64| {
        super::median_f64(&samples.iter().map(field).collect::<Vec<_>>())
    };
    Some(Sample {
        cold_pass_ms: median(|s| s.cold_pass_ms),
        pass_ms: median(|s| s.pass_ms),
        list_ms: median(|s| s.list_ms),
        loop_ms: median(|s| s.loop_ms),
        loop_for_node_ms: median(|s| s.loop_for_node_ms),
        peak_rss_kib: samples.iter().filter_map(|s| s.peak_rss_kib).max(),
        ..first.clone()
    })
}

/// How long a child may run before the parent gives up on it.
pub fn child_limit(shape: Shape) -> Duration {
    Duration::from_secs(60) + Duration::from_millis(shape.listed() as u64 * 10)
}

/// A tiny in-process run, for the smoke test (RSS is then the whole test process).
pub async fn in_process(shape: Shape, runs: usize) -> Sample {
    let sim = cloud(
        shape.groups,
        shape.members,
        shape.foreign_by_prefix,
        shape.foreign_by_tags,
    )
    .await;
    let sample = measure(sim.url().as_str(), shape, runs).await;
    sim.shutdown().await.expect("simulator stops");
    sample
}
