//! Prometheus metrics, served as text on `/metrics`.
//!
//! | name | type | labels |
//! |---|---|---|
//! | `kamatera_provider_grpc_requests_total` | counter | `method`, `code` |
//! | `kamatera_provider_grpc_request_duration_seconds` | histogram | `method`, `code` |
//! | `kamatera_api_requests_total` | counter | `endpoint`, `outcome` |
//! | `kamatera_api_request_duration_seconds` | histogram | `endpoint`, `outcome` |
//! | `kamatera_node_group_min_size` | gauge | `group` |
//! | `kamatera_node_group_max_size` | gauge | `group` |
//! | `kamatera_node_group_target_size` | gauge | `group` |
//! | `kamatera_node_group_instances` | gauge | `group`, `state` (`creating`, `running`, `deleting`, `parked`) |
//! | `kamatera_commands_in_flight` | gauge | |
//! | `kamatera_reconcile_passes_total` | counter | `result` (`ok`, `failed`) |
//! | `kamatera_reconcile_last_duration_seconds` | gauge | |
//! | `kamatera_reconcile_seconds_since_last_success` | gauge (absent before the first success) | |
//! | `kamatera_provider_ready` | gauge (1 or 0) | |
//! | `kamatera_provider_background_running` | gauge (1, or 0 after `Cleanup`) | |
//!
//! The node-group and reconcile values are read from the engine at scrape time.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kamatera_api::{RequestEvent, RequestObserver};
use kamatera_nodegroups::engine::InstanceState;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::node_sync::NodeSyncMetrics;
use tonic::Code;

use crate::background::Background;
use crate::status::code_label;

type PairLabels = [(&'static str, String); 2];
type HistogramFamily = Family<PairLabels, Histogram, fn() -> Histogram>;

/// Latency buckets from 100 µs to about 26 s: RPCs answer in microseconds, API calls in
/// tenths of a second to seconds.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

/// Counters of the gRPC calls, shared by every request.
#[derive(Clone, Debug)]
pub struct GrpcMetrics {
    requests: Family<PairLabels, Counter>,
    durations: HistogramFamily,
}

impl GrpcMetrics {
    /// Records one finished call.
    pub fn observe(&self, method: &'static str, code: Code, elapsed: Duration) {
        let labels = [
            ("method", method.to_owned()),
            ("code", code_label(code).to_owned()),
        ];
        self.requests.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }
}

/// Counts Kamatera API request attempts; handed to the API client as its observer.
#[derive(Clone, Debug)]
pub struct ApiMetrics {
    requests: Family<PairLabels, Counter>,
    durations: HistogramFamily,
}

impl RequestObserver for ApiMetrics {
    fn observe(&self, event: &RequestEvent) {
        let endpoint = format!("{} {}", event.endpoint.method(), event.endpoint.path());
        let labels = [
            ("endpoint", endpoint),
            ("outcome", event.outcome.label().to_owned()),
        ];
        self.requests.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&labels)
            .observe(event.elapsed.as_secs_f64());
    }
}

/// The registry and the metric handles the rest of the server records into.
pub struct Metrics {
    registry: Registry,
    /// gRPC call metrics.
    pub grpc: GrpcMetrics,
    /// Kamatera API call metrics.
    pub api: Arc<ApiMetrics>,
    /// Node sync counters (registered even when node sync is off, so dashboards see zeros).
    pub node_sync: NodeSyncMetrics,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Registers every metric. The engine collector is attached later, once the engine
    /// exists (the API client needs [`Metrics::api`] first).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let grpc = GrpcMetrics {
            requests: Family::default(),
            durations: Family::new_with_constructor(latency_histogram),
        };
        let api = ApiMetrics {
            requests: Family::default(),
            durations: Family::new_with_constructor(latency_histogram),
        };
        registry.register(
            "kamatera_provider_grpc_requests",
            "gRPC calls answered, by method and status code",
            grpc.requests.clone(),
        );
        registry.register(
            "kamatera_provider_grpc_request_duration_seconds",
            "Time to answer a gRPC call, by method and status code",
            grpc.durations.clone(),
        );
        registry.register(
            "kamatera_api_requests",
            "Kamatera API request attempts, by endpoint and outcome",
            api.requests.clone(),
        );
        registry.register(
            "kamatera_api_request_duration_seconds",
            "Kamatera API request attempt latency, by endpoint and outcome",
            api.durations.clone(),
        );
        let node_sync = NodeSyncMetrics::default();
        node_sync.register(&mut registry);
        Self {
            registry,
            grpc,
            api: Arc::new(api),
            node_sync,
        }
    }

    /// Adds the metrics read from the engine at scrape time.
    pub fn attach_engine(&mut self, background: Arc<Background>) {
        self.registry
            .register_collector(Box::new(EngineCollector { background }));
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug)]
struct EngineCollector {
    background: Arc<Background>,
}

fn gauge_family(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (Vec<(&'static str, String)>, f64)>,
) -> Result<(), fmt::Error> {
    let gauge_type = ConstGauge::new(0.0_f64).metric_type();
    let mut metric = encoder.encode_descriptor(name, help, None, gauge_type)?;
    for (labels, value) in values {
        ConstGauge::new(value).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Gauge values are small counts and sizes; f64 holds them exactly.
#[expect(clippy::cast_precision_loss)]
fn as_f64(value: u64) -> f64 {
    value as f64
}

impl Collector for EngineCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let engine = self.background.engine();
        let groups = engine.node_groups();
        let per_group = |pick: fn(&kamatera_nodegroups::engine::GroupView) -> u32| {
            groups
                .iter()
                .map(move |g| (vec![("group", g.name.clone())], f64::from(pick(g))))
                .collect::<Vec<_>>()
        };
        gauge_family(
            &mut encoder,
            "kamatera_node_group_min_size",
            "Configured minimum size of the node group",
            per_group(|g| g.min_size),
        )?;
        gauge_family(
            &mut encoder,
            "kamatera_node_group_max_size",
            "Configured maximum size of the node group",
            per_group(|g| g.max_size),
        )?;
        gauge_family(
            &mut encoder,
            "kamatera_node_group_target_size",
            "Target size of the node group (instances creating or running)",
            per_group(|g| g.target_size),
        )?;
        let mut instances = Vec::new();
        for group in &groups {
            for (state, wanted) in [
                ("creating", InstanceState::Creating),
                ("running", InstanceState::Running),
                ("deleting", InstanceState::Deleting),
            ] {
                let count = group.instances.iter().filter(|i| i.state == wanted).count();
                instances.push((
                    vec![("group", group.name.clone()), ("state", state.to_owned())],
                    as_f64(u64::try_from(count).unwrap_or(u64::MAX)),
                ));
            }
            instances.push((
                vec![
                    ("group", group.name.clone()),
                    ("state", "parked".to_owned()),
                ],
                f64::from(group.parked),
            ));
        }
        gauge_family(
            &mut encoder,
            "kamatera_node_group_instances",
            "Instances of the node group by state (parked servers are powered off for reuse)",
            instances,
        )?;

        let stats = engine.stats();
        gauge_family(
            &mut encoder,
            "kamatera_commands_in_flight",
            "Kamatera commands being polled",
            [(
                Vec::new(),
                as_f64(u64::try_from(stats.commands_in_flight).unwrap_or(u64::MAX)),
            )],
        )?;
        let counter_type = ConstCounter::new(0_u64).metric_type();
        let mut passes = encoder.encode_descriptor(
            "kamatera_reconcile_passes",
            "Reconcile passes, by result",
            None,
            counter_type,
        )?;
        for (result, value) in [("ok", stats.passes_ok), ("failed", stats.passes_failed)] {
            ConstCounter::new(value).encode(passes.encode_family(&[("result", result)])?)?;
        }
        gauge_family(
            &mut encoder,
            "kamatera_reconcile_last_duration_seconds",
            "Duration of the last reconcile pass",
            [(Vec::new(), stats.last_pass_duration.as_secs_f64())],
        )?;
        if let Some(since) = stats.since_last_success {
            gauge_family(
                &mut encoder,
                "kamatera_reconcile_seconds_since_last_success",
                "Seconds since the servers were last listed successfully",
                [(Vec::new(), since.as_secs_f64())],
            )?;
        }
        gauge_family(
            &mut encoder,
            "kamatera_provider_ready",
            "1 once the servers have been listed",
            [(
                Vec::new(),
                if self.background.is_ready() { 1.0 } else { 0.0 },
            )],
        )?;
        gauge_family(
            &mut encoder,
            "kamatera_provider_background_running",
            "1 while the reconciler runs (0 after Cleanup until the next Refresh)",
            [(
                Vec::new(),
                if self.background.is_running() {
                    1.0
                } else {
                    0.0
                },
            )],
        )?;
        Ok(())
    }
}
