//! Scenario 9: node sync at cluster scale. A fake Kubernetes API holds `nodes` Ready Nodes
//! of member servers, `missing` of them without `spec.providerID`; every Node already has
//! its group's template labels, so exactly the `missing` Nodes need a patch. Every list,
//! get and patch is answered after the injected latency.
//!
//! Measured: the time from the start of `node_sync::run` until every missing provider id
//! is patched, against the floor the controller's reconcile concurrency and the latency
//! set (one bare list of the Nodes, measured in the same run, plus
//! ⌈missing / concurrency⌉ patch round trips); the requests about single Nodes made over
//! an idle window that spans two resyncs (goal: none); and the peak RSS of the process
//! before and after node sync ran. The bench runs the provider side in a child process
//! (the fake in the parent), so the RSS is the provider's alone.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kamatera_nodegroups::CloudConfig;
use kamatera_provider_grpc::node_sync::{self, NodeSyncMetrics, NodeSyncSettings};
use kube::api::{Api, ListParams};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::growth::peak_rss_kib;
use super::{config, engine, ms, seed_members, start_sim};
use test_support::fake_kube::{self, Counts, FakeKube};

/// The scenario's shape.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Params {
    /// Node groups.
    pub groups: usize,
    /// Nodes (each of a member server).
    pub nodes: usize,
    /// Nodes without a provider id.
    pub missing: usize,
    /// Latency of every list, get and patch.
    pub latency_ms: u64,
    /// Resync interval of the controller (the idle window spans two).
    pub resync_ms: u64,
}

/// What the provider side measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    /// From the start of node sync until every missing provider id was patched.
    pub all_patched_ms: f64,
    /// Patches, lists and watches the fake answered until then.
    pub patches: u64,
    /// Requests about single Nodes in the idle window after that.
    pub idle_per_node_requests: u64,
    /// Lists in the idle window (a re-list would be a full read of every Node).
    pub idle_lists: u64,
    /// Length of the idle window.
    pub idle_window_ms: f64,
    /// Peak RSS before node sync started (engine ready), KiB.
    pub rss_before_kib: Option<u64>,
    /// Peak RSS after the idle window, KiB.
    pub rss_after_kib: Option<u64>,
}

/// The scenario's report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub params: Params,
    /// One bare list of every Node (latency plus transfer and decode), in the same run.
    pub list_ms: f64,
    /// The controller's reconcile concurrency.
    pub concurrency: usize,
    /// `list_ms + ⌈missing / concurrency⌉ × latency`.
    pub floor_ms: f64,
    /// One patch after another: `list_ms + missing × latency`.
    pub sequential_ms: f64,
    pub measured: Measured,
}

impl Report {
    /// Time to patch everything against its floor.
    pub fn ratio(&self) -> f64 {
        self.measured.all_patched_ms / self.floor_ms
    }
}

/// Server (and Node) `i`'s name, as [`seed_members`] names it.
fn node_name(groups: usize, i: usize) -> String {
    format!("k8s-{}-{i:06}", super::group_name(i % groups.max(1)))
}

/// The Nodes: every `nodes / missing`-th one lacks its provider id.
fn nodes(config: &CloudConfig, params: &Params) -> Vec<serde_json::Value> {
    let labels: BTreeMap<String, BTreeMap<String, String>> = config
        .node_groups
        .iter()
        .map(|(name, group)| {
            (
                name.clone(),
                kamatera_nodegroups::template::node_sync_labels(group),
            )
        })
        .collect();
    let stride = params.nodes / params.missing.max(1);
    (0..params.nodes)
        .map(|i| {
            let name = node_name(params.groups, i);
            let group = super::group_name(i % params.groups.max(1));
            let without =
                params.missing > 0 && i % stride.max(1) == 0 && i / stride < params.missing;
            let id = kamatera_nodegroups::naming::provider_id(&config.provider_id_prefix, &name);
            fake_kube::node_with_labels(&name, (!without).then_some(id.as_str()), &labels[&group])
        })
        .collect()
}

/// The parent side: a simulator with the member servers, the fake API with the Nodes, a
/// bare list for the floor, then `provider` (in a child process for the bench, in-process
/// for the smoke test) given the two URLs.
pub async fn run<F, Fut>(params: Params, provider: F) -> Report
where
    F: FnOnce(String, String) -> Fut,
    Fut: std::future::Future<Output = Measured>,
{
    let sim = start_sim().await;
    seed_members(&sim, params.groups, params.nodes);
    let sim_url = sim.url().as_str().to_owned();
    let config = config(&sim_url, params.groups, params.nodes);
    let kube = FakeKube::start_with(
        nodes(&config, &params),
        Duration::from_millis(params.latency_ms),
    )
    .await;
    let api: Api<Node> = Api::all(fake_kube::client(kube.url()));
    let mut lists = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let listed = api.list(&ListParams::default()).await.expect("bare list");
        lists.push(started.elapsed());
        assert_eq!(listed.items.len(), params.nodes);
    }
    let list_ms = ms(super::median(&lists));
    let before = kube.counts();
    let mut measured = provider(sim_url, kube.url().to_owned()).await;
    measured.patches = kube.counts().patches - before.patches;
    // Every Node that lacked a provider id has the expected one now.
    for i in 0..params.nodes {
        let name = node_name(params.groups, i);
        let stored = kube.node(&name).expect("node kept");
        assert_eq!(
            stored["spec"]["providerID"].as_str(),
            Some(
                kamatera_nodegroups::naming::provider_id(&config.provider_id_prefix, &name)
                    .as_str()
            ),
            "{name}"
        );
    }
    sim.shutdown().await.expect("simulator stops");
    let concurrency = usize::from(node_sync::MAX_CONCURRENT_RECONCILES);
    let latency = params.latency_ms as f64;
    Report {
        params,
        list_ms,
        concurrency,
        floor_ms: list_ms + params.missing.div_ceil(concurrency) as f64 * latency,
        sequential_ms: list_ms + params.missing as f64 * latency,
        measured,
    }
}

/// The provider side: an engine that has listed the members, then node sync against the
/// fake at `kube_url` until every missing provider id is patched, then an idle window.
pub async fn measure(sim_url: &str, kube_url: &str, params: Params) -> Measured {
    let (engine, mut reconciler) = engine(sim_url, config(sim_url, params.groups, params.nodes));
    reconciler.run_pass().await.expect("cold pass");
    reconciler.settle().await;
    assert!(engine.is_ready(), "the engine knows the servers");
    let rss_before_kib = peak_rss_kib();

    let metrics = NodeSyncMetrics::default();
    let settings = NodeSyncSettings {
        resync_interval: Duration::from_millis(params.resync_ms),
        ..NodeSyncSettings::default()
    };
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(node_sync::run(
        engine.clone(),
        fake_kube::client(kube_url),
        settings,
        metrics.clone(),
        cancel.clone(),
    ));
    let limit =
        Duration::from_secs(60) + Duration::from_millis(params.missing as u64 * params.latency_ms);
    let patched = super::wait_until(limit, || {
        metrics.provider_ids_patched.get() >= params.missing as u64
    })
    .await;
    let all_patched = started.elapsed();
    assert!(
        patched,
        "only {} of {} provider ids patched",
        metrics.provider_ids_patched.get(),
        params.missing
    );

    // Idle: the watch delivers our own changes, then two resyncs check every Node again.
    let window = Duration::from_millis(params.resync_ms * 2 + params.resync_ms / 2);
    let before = remote_counts(kube_url).await;
    tokio::time::sleep(window).await;
    let after = remote_counts(kube_url).await;
    assert!(
        metrics.resyncs.get() >= 2,
        "the idle window spans two resyncs"
    );
    cancel.cancel();
    task.await.expect("node sync stops");
    Measured {
        all_patched_ms: ms(all_patched),
        patches: 0,
        idle_per_node_requests: after.per_node() - before.per_node(),
        idle_lists: after.lists - before.lists,
        idle_window_ms: ms(window),
        rss_before_kib,
        rss_after_kib: peak_rss_kib(),
    }
}

/// The fake's counters, read over HTTP (the provider runs in a child process).
async fn remote_counts(url: &str) -> Counts {
    reqwest::get(format!("{url}/_fake/counts"))
        .await
        .expect("counts answer")
        .json()
        .await
        .expect("counts decode")
}
