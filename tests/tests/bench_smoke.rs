//! Every benchmark scenario at a tiny size, so the suite cannot rot between the runs of
//! `cargo bench -p tests`. Checks that each scenario completes and reports sane figures;
//! speed is not asserted here (that is the bench's job).

#[path = "../benches/scenarios/mod.rs"]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod scenarios;

use scenarios::{api_cost, cold_start, growth, scale_up};

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
    assert_eq!(report.tags_aged_worst().tags, 12);
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
    let sample = growth::in_process(2, 30, 2).await;
    assert_eq!(sample.servers, 30);
    assert!(sample.loop_calls >= 30 + 2 * 3 + 2);
    assert!(sample.peak_rss_kib.is_some_and(|k| k > 0));
}
