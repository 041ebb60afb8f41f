//! Prometheus metrics, served as text on `/metrics`.
//!
//! Every name starts with `kamatera_`, then the part of the provider it is about
//! (`grpc`, `cloud_api`, `node_group`, `reconcile`, `scale`, `node_sync`, `process`);
//! the node group label is `node_group`, as in cluster-autoscaler's own metrics, so
//! queries join. The README lists every metric (a test checks the list).
//!
//! The node-group and reconcile values are read from the engine at scrape time, the
//! process values from `/proc/self` (Linux only; absent elsewhere).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kamatera_api::{RequestEvent, RequestObserver};
use kamatera_nodegroups::engine::{ApiTroubleKind, InstanceState};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::node_sync::NodeSyncMetrics;
use tonic::Code;

use crate::build_info;
use crate::running_engine::RunningEngine;
use crate::status::code_label;

type PairLabels = [(&'static str, String); 2];
type GroupLabel = [(&'static str, String); 1];
type HistogramFamily = Family<PairLabels, Histogram, fn() -> Histogram>;

/// Latency buckets from 100 µs to about 26 s: RPCs answer in microseconds, API calls in
/// tenths of a second to seconds.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

/// Counters of the gRPC calls and of the scale requests they accepted, shared by every
/// request.
#[derive(Clone, Debug)]
pub struct GrpcMetrics {
    requests: Family<PairLabels, Counter>,
    durations: HistogramFamily,
    scale_up: Family<GroupLabel, Counter>,
    scale_down: Family<GroupLabel, Counter>,
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

    /// Creates the scale counters of `groups` at zero, so that they are on `/metrics`
    /// (and `rate()` works) before the first scale request.
    pub fn start_groups<'a>(&self, groups: impl IntoIterator<Item = &'a String>) {
        for group in groups {
            let labels = [("node_group", group.clone())];
            drop(self.scale_up.get_or_create(&labels));
            drop(self.scale_down.get_or_create(&labels));
        }
    }

    /// Records an accepted scale-up of `instances` in `group`.
    pub fn scaled_up(&self, group: &str, instances: u64) {
        self.scale_up
            .get_or_create(&[("node_group", group.to_owned())])
            .inc_by(instances);
    }

    /// Records an accepted scale-down of `instances` in `group`.
    pub fn scaled_down(&self, group: &str, instances: u64) {
        self.scale_down
            .get_or_create(&[("node_group", group.to_owned())])
            .inc_by(instances);
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
            scale_up: Family::default(),
            scale_down: Family::default(),
        };
        let api = ApiMetrics {
            requests: Family::default(),
            durations: Family::new_with_constructor(latency_histogram),
        };
        registry.register(
            "kamatera_grpc_requests",
            "gRPC calls answered, by method and status code",
            grpc.requests.clone(),
        );
        registry.register(
            "kamatera_grpc_request_duration_seconds",
            "Time to answer a gRPC call, by method and status code",
            grpc.durations.clone(),
        );
        registry.register(
            "kamatera_scale_up_instances",
            "Instances added by scale-ups cluster-autoscaler asked for and the provider accepted",
            grpc.scale_up.clone(),
        );
        registry.register(
            "kamatera_scale_down_instances",
            "Instances removed by scale-downs cluster-autoscaler asked for and the provider accepted",
            grpc.scale_down.clone(),
        );
        registry.register(
            "kamatera_cloud_api_requests",
            "Kamatera API request attempts, by endpoint and outcome",
            api.requests.clone(),
        );
        registry.register(
            "kamatera_cloud_api_request_duration_seconds",
            "Kamatera API request attempt latency, by endpoint and outcome",
            api.durations.clone(),
        );
        let build = Family::<PairLabels, Gauge>::default();
        build
            .get_or_create(&[
                ("version", build_info::VERSION.to_owned()),
                ("commit", build_info::COMMIT.to_owned()),
            ])
            .set(1);
        registry.register(
            "kamatera_build_info",
            "Always 1; the labels tell the version and commit of the running provider",
            build,
        );
        registry.register_collector(Box::new(ProcessCollector));
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
    pub fn attach_engine(&mut self, background: Arc<RunningEngine>) {
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
    background: Arc<RunningEngine>,
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
                .map(move |g| (vec![("node_group", g.name.clone())], f64::from(pick(g))))
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
                    vec![
                        ("node_group", group.name.clone()),
                        ("state", state.to_owned()),
                    ],
                    as_f64(u64::try_from(count).unwrap_or(u64::MAX)),
                ));
            }
            instances.push((
                vec![
                    ("node_group", group.name.clone()),
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

        gauge_family(
            &mut encoder,
            "kamatera_node_group_parked_cap",
            "How many parked servers the node group may keep (0 outside power-off mode; no series when poweroff-on-scale-down-max-servers is 0, no limit)",
            groups.iter().filter_map(|g| {
                let config = engine.group_config(&g.name).ok()?;
                let cap = if !config.poweroff_on_scale_down {
                    0
                } else if config.poweroff_on_scale_down_max_servers == 0 {
                    return None;
                } else {
                    config.poweroff_on_scale_down_max_servers
                };
                Some((vec![("node_group", g.name.clone())], f64::from(cap)))
            }),
        )?;
        encode_costs(&mut encoder, &groups)?;

        let stats = engine.stats();
        gauge_family(
            &mut encoder,
            "kamatera_cloud_commands_in_flight",
            "Kamatera commands being polled",
            [(
                Vec::new(),
                as_f64(u64::try_from(stats.commands_in_flight).unwrap_or(u64::MAX)),
            )],
        )?;
        // Why the snapshot may be getting old (docs/engine-robustness.md): one series per
        // kind, 1 for the kind the lists fail with now, so an alert can name it.
        let trouble = engine.api_trouble();
        gauge_family(
            &mut encoder,
            "kamatera_api_trouble",
            "1 for the kind of failure the server lists meet now (credentials, rate_limited, bad_answers, unreachable, error_answers), 0 for the others",
            ApiTroubleKind::ALL.iter().map(|kind| {
                let now = trouble.as_ref().is_some_and(|t| t.kind == *kind);
                (
                    vec![("kind", kind.label().to_owned())],
                    f64::from(u8::from(now)),
                )
            }),
        )?;
        gauge_family(
            &mut encoder,
            "kamatera_api_trouble_seconds",
            "How long the server lists have been failing (0 while they succeed)",
            [(
                Vec::new(),
                trouble.map_or(0.0, |t| t.duration().as_secs_f64()),
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
        // Odd answers and parked-pool trimming (docs/engine-robustness.md).
        ConstCounter::new(stats.list_rows_skipped).encode(encoder.encode_descriptor(
            "kamatera_reconcile_list_rows_skipped",
            "Server list rows that did not decode and were skipped",
            None,
            counter_type,
        )?)?;
        ConstCounter::new(stats.suspect_lists).encode(encoder.encode_descriptor(
            "kamatera_reconcile_suspect_lists",
            "Server lists that lacked most known servers at once and were not believed",
            None,
            counter_type,
        )?)?;
        let mut trimmed = encoder.encode_descriptor(
            "kamatera_node_group_parked_trimmed",
            "Parked servers terminated because the node group's parked pool was over its cap",
            None,
            counter_type,
        )?;
        // Every group from the start (zero until a trim), so rates work from the first scrape.
        for group in &groups {
            let value = stats.parked_trimmed.get(&group.name).copied().unwrap_or(0);
            ConstCounter::new(value)
                .encode(trimmed.encode_family(&[("node_group", group.name.as_str())])?)?;
        }
        gauge_family(
            &mut encoder,
            "kamatera_reconcile_last_duration_seconds",
            "Duration of the last reconcile pass",
            [(Vec::new(), stats.last_pass_duration.as_secs_f64())],
        )?;
        // 0 until the first success, so that alerts on `time() - x > ...` fire for a
        // provider that never listed the servers too.
        let last_success = stats.since_last_success.map_or(0.0, |since| {
            unix_now().map_or(0.0, |now| now.saturating_sub(since).as_secs_f64())
        });
        gauge_family(
            &mut encoder,
            "kamatera_reconcile_last_success_timestamp_seconds",
            "Unix time the servers were last listed successfully (0 before the first success)",
            [(Vec::new(), last_success)],
        )?;
        let mut failed = encoder.encode_descriptor(
            "kamatera_scale_up_failed_instances",
            "Instances whose creation (or power-on for reuse) failed, by node group, error class and code",
            None,
            counter_type,
        )?;
        for ((group, class, code), count) in &stats.failed_creates {
            ConstCounter::new(*count).encode(failed.encode_family(&[
                ("node_group", group.as_str()),
                ("error_class", *class),
                ("error_code", *code),
            ])?)?;
        }
        gauge_family(
            &mut encoder,
            "kamatera_ready",
            "1 once the servers have been listed",
            [(
                Vec::new(),
                if self.background.is_ready() { 1.0 } else { 0.0 },
            )],
        )?;
        gauge_family(
            &mut encoder,
            "kamatera_background_running",
            "1 while changes are carried out (0 after Cleanup until the next Refresh; the cloud is still watched)",
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

/// The node groups' prices and costs (kamatera_nodegroups::cost).
fn encode_costs(
    encoder: &mut DescriptorEncoder<'_>,
    groups: &[kamatera_nodegroups::engine::GroupView],
) -> Result<(), fmt::Error> {
    let group = |g: &kamatera_nodegroups::engine::GroupView| vec![("node_group", g.name.clone())];
    gauge_family(
        encoder,
        "kamatera_node_group_node_hourly_price",
        "Hourly price of one node of the node group (PricingNodePrice of its template node), by source: api (a member's own price from server info), configured (hourly-price), rates (derived from cpu, ram and disks)",
        groups.iter().map(|g| {
            let mut labels = group(g);
            labels.push(("source", g.cost.source.as_str().to_owned()));
            (labels, g.cost.node_hourly)
        }),
    )?;
    gauge_family(
        encoder,
        "kamatera_node_group_hourly_cost",
        "What the node group's member servers cost per hour now: powered on at their on-price, parked at their off-price (the account's other servers are not counted)",
        groups.iter().map(|g| (group(g), g.cost.hourly)),
    )?;
    let now = SystemTime::now();
    gauge_family(
        encoder,
        "kamatera_node_group_month_to_date_cost",
        "Estimate of what the node group's current member servers cost since the start of the month (UTC), from their creation hours and current prices (the account's other servers, and servers deleted this month, are not counted)",
        groups.iter().map(|g| (group(g), g.cost.month_to_date(now))),
    )?;
    gauge_family(
        encoder,
        "kamatera_node_group_members_priced_by_api",
        "Member servers of the node group priced at their own price from the API's server info (the others are priced from the configuration)",
        groups.iter().map(|g| {
            let priced = g.cost.members.iter().filter(|m| m.from_api).count();
            (group(g), as_f64(u64::try_from(priced).unwrap_or(u64::MAX)))
        }),
    )?;
    Ok(())
}

fn unix_now() -> Option<Duration> {
    SystemTime::now().duration_since(UNIX_EPOCH).ok()
}

/// The process's own figures, read from `/proc/self` at scrape time (small reads of a
/// memory-backed filesystem). Nothing is written where `/proc` does not exist.
#[derive(Debug)]
struct ProcessCollector;

/// Figures of this process.
#[derive(Debug, Default, PartialEq)]
struct ProcessStats {
    cpu_seconds: Option<f64>,
    resident_bytes: Option<f64>,
    open_fds: Option<f64>,
    max_fds: Option<f64>,
    start_time_seconds: Option<f64>,
}

/// `/proc` reports times in USER_HZ, which Linux fixes at 100 for every architecture's
/// user-space interface.
const USER_HZ: f64 = 100.0;

/// Fields of `/proc/self/stat` after the command name (which may contain spaces), as
/// numbered by proc(5) minus 3: utime is field 14, stime 15, starttime 22.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().collect())
}

fn read_process_stats() -> ProcessStats {
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    let fields = stat.as_deref().and_then(stat_fields);
    let field = |n: usize| -> Option<f64> {
        fields
            .as_ref()
            .and_then(|f| f.get(n - 3))
            .and_then(|v| v.parse::<f64>().ok())
    };
    let cpu_seconds = match (field(14), field(15)) {
        (Some(user), Some(system)) => Some((user + system) / USER_HZ),
        _ => None,
    };
    let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|text| {
        text.lines()
            .find_map(|line| line.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    let start_time_seconds = match (boot_time, field(22)) {
        (Some(boot), Some(ticks)) => Some(boot + ticks / USER_HZ),
        _ => None,
    };
    let resident_bytes = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kib| kib * 1024.0);
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|dir| as_f64(u64::try_from(dir.count()).unwrap_or(u64::MAX)));
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("Max open files"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|soft| soft.parse::<f64>().ok())
        });
    ProcessStats {
        cpu_seconds,
        resident_bytes,
        open_fds,
        max_fds,
        start_time_seconds,
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let stats = read_process_stats();
        if let Some(seconds) = stats.cpu_seconds {
            let counter_type = ConstCounter::new(0.0_f64).metric_type();
            let metric = encoder.encode_descriptor(
                "kamatera_process_cpu_seconds",
                "User and system CPU time of the process",
                None,
                counter_type,
            )?;
            ConstCounter::new(seconds).encode(metric)?;
        }
        for (name, help, value) in [
            (
                "kamatera_process_resident_memory_bytes",
                "Resident memory of the process",
                stats.resident_bytes,
            ),
            (
                "kamatera_process_open_fds",
                "Open file descriptors of the process",
                stats.open_fds,
            ),
            (
                "kamatera_process_max_fds",
                "Limit of open file descriptors of the process",
                stats.max_fds,
            ),
            (
                "kamatera_process_start_time_seconds",
                "Unix time the process started",
                stats.start_time_seconds,
            ),
        ] {
            if let Some(value) = value {
                gauge_family(&mut encoder, name, help, [(Vec::new(), value)])?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_a_command_name_with_spaces_and_parens() {
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 12345 1000 200";
        let fields = stat_fields(stat).unwrap();
        // Field 14 (utime) and 15 (stime) of proc(5).
        assert_eq!(fields[14 - 3], "250");
        assert_eq!(fields[15 - 3], "50");
        assert_eq!(fields[22 - 3], "12345");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn process_figures_are_read_on_linux() {
        let stats = read_process_stats();
        assert!(stats.cpu_seconds.is_some_and(|s| s >= 0.0), "{stats:?}");
        assert!(
            stats.resident_bytes.is_some_and(|b| b > 1024.0 * 1024.0),
            "{stats:?}"
        );
        assert!(stats.open_fds.is_some_and(|n| n >= 3.0), "{stats:?}");
        assert!(stats.max_fds.is_some_and(|n| n >= 3.0), "{stats:?}");
        let now = unix_now().unwrap().as_secs_f64();
        assert!(
            stats
                .start_time_seconds
                .is_some_and(|t| t <= now + 1.0 && t > now - 86_400.0 * 365.0),
            "{stats:?}"
        );
    }
}
