//! Every benchmark scenario at a tiny size, so the suite cannot rot between the runs of
//! `cargo bench -p tests`. Checks that each scenario completes and reports sane figures;
//! speed is not asserted here (that is the bench's job).

#[path = "../benches/scenarios/mod.rs"]
#[expect(clippy::expect_used)]
mod scenarios;

use std::time::Duration;

use scenarios::paired::{Comparison, Turns};
use scenarios::{
    api_cost, big_list, cold_start, growth, grpc, idle, node_sync, scale_up, sdk_overhead,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_loop_compares_provider_and_echo() {
    let report = grpc::run(grpc::Params {
        groups: 2,
        per_group: 3,
        runs: 2,
    })
    .await;
    // Refresh, NodeGroups, 3 per group, one per node.
    assert_eq!(report.calls_per_loop, 2 + 2 * 3 + 6);
    assert!(report.ratio() > 0.0 && report.ratio_same_sockets() > 0.0);
    let methods: Vec<_> = report.provider.iter().map(|s| s.method).collect();
    assert_eq!(methods.len(), 6, "{methods:?}");
    assert_eq!(report.echo.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_cost_is_counted_per_pass() {
    let report = api_cost::run(api_cost::Params {
        groups: 3,
        servers: 12,
        in_flight: 4,
        passes: 2,
    })
    .await;
    let idle = report.idle_worst();
    assert_eq!((idle.list, idle.tags, idle.total), (1, 0, 1));
    let busy = report.in_flight_worst();
    assert_eq!((busy.queue, busy.commands_polled), (1, 4));
    // Every server is due, the 4 being created too; the budget (50) is not reached.
    assert_eq!(report.tags_aged_worst().tags, 12 + 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_reports_against_its_floor() {
    let report = cold_start::run(cold_start::Params {
        servers: 20,
        groups: 2,
        latency_ms: 5,
        runs: 1,
    })
    .await;
    assert!(report.floor_ms >= 10.0, "{report:?}");
    assert!(report.sequential_ms > report.floor_ms);
    assert!(report.ready_ms > 0.0 && report.ratio() > 0.5, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_up_accepts_every_create() {
    let report = scale_up::run(scale_up::Params {
        nodes: 10,
        existing: 4,
        groups: 2,
        latency_ms: 5,
        runs: 1,
    })
    .await;
    assert!(
        report.all_accepted_ms >= report.floor_ms * 0.9,
        "{report:?}"
    );
    assert!(report.increase_size_ms < 1_000.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn growth_measures_loop_pass_and_memory() {
    let sample = growth::in_process(growth::Shape::members(2, 30), 2).await;
    assert_eq!((sample.servers, sample.listed), (30, 30));
    assert!(sample.loop_calls >= 30 + 2 * 3 + 2);
    assert!(sample.peak_rss_kib.is_some_and(|k| k > 0));
    assert!(sample.list_ms > 0.0 && sample.pass_ms > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_account_filters_foreign_servers() {
    let shape = growth::Shape {
        groups: 2,
        members: 20,
        foreign_by_prefix: 15,
        foreign_by_tags: 5,
    };
    let sample = growth::in_process(shape, 2).await;
    // Every member adopted (the loop asserts each node has a group), foreign ones not.
    assert_eq!((sample.servers, sample.listed), (20, 40));
    assert_eq!(sample.loop_calls, 2 + 2 * 3 + 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_cost_is_measured_over_three_intervals() {
    let sample = idle::in_process(2, 20, Duration::from_millis(100)).await;
    assert!(sample.window_ms >= 300.0, "{sample:?}");
    // A pass at once, then one per interval (the third may fall just past the window).
    assert!((2..=4).contains(&sample.passes), "{sample:?}");
    assert!(sample.cpu_ms >= 0.0 && sample.core_share_percent().is_finite());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_sync_patches_every_missing_provider_id_and_idles_quietly() {
    let params = node_sync::Params {
        groups: 2,
        nodes: 20,
        missing: 4,
        latency_ms: 2,
        resync_ms: 200,
    };
    let report = node_sync::run(params, |sim_url, kube_url| async move {
        node_sync::measure(&sim_url, &kube_url, params).await
    })
    .await;
    let m = &report.measured;
    assert_eq!(m.patches, 4, "{report:?}");
    assert_eq!(
        (m.idle_per_node_requests, m.idle_lists),
        (0, 0),
        "{report:?}"
    );
    assert!(report.floor_ms > 0.0 && report.ratio() > 0.0, "{report:?}");
    assert!(m.rss_after_kib.is_some_and(|k| k > 0));
}

/// Both sides of a comparison were timed, every pair.
fn assert_sane(c: &Comparison, pairs: usize) {
    assert_eq!(c.pairs, pairs, "{c:?}");
    assert!(c.sdk_p50_us > 0.0 && c.bare_p50_us > 0.0, "{c:?}");
    assert!(c.ratio().is_finite() && c.ratio() > 0.0, "{c:?}");
    assert!(
        c.pair_ratio_p50.is_finite() && c.pair_ratio_p50 > 0.0,
        "{c:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_overhead_compares_typed_calls_with_bare_ones() {
    let turns = Turns {
        warmup: 1,
        pairs: 5,
    };
    let report = sdk_overhead::run(sdk_overhead::Params { servers: 3, turns }).await;
    assert_sane(&report.list_servers, 5);
    assert_sane(&report.server_tags, 5);
    // The seeded members carry their cluster's and their group's tag.
    assert_eq!(report.tags, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_list_compares_sdk_decoding_with_plain_serde() {
    let turns = Turns {
        warmup: 1,
        pairs: 3,
    };
    let report = big_list::run(big_list::Params {
        servers: 100,
        http_turns: turns,
        decode_turns: turns,
    })
    .await;
    // Four fields of a hundred rows at least.
    assert!(report.body_bytes > 100 * 40, "{report:?}");
    assert_sane(&report.list_servers, 3);
    assert_sane(&report.list_servers_compact, 3);
    assert_sane(&report.decode_only, 3);
}
