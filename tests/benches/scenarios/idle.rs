//! Scenario 8: what an idle provider costs. An engine with `servers` members runs its
//! reconciler (`Reconciler::run`, as the serve command does) for three reconcile
//! intervals, nothing changing; the CPU time the process used meanwhile (user plus
//! system, from `/proc/self/stat`) over the wall time is its share of one core. The bench
//! runs it in a child process at the default interval (10 s), so the figure is the
//! provider's alone.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::{client, config, ms};

/// One measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// Member servers.
    pub servers: usize,
    /// Node groups.
    pub groups: usize,
    /// The reconcile interval the engine ran with.
    pub interval_ms: f64,
    /// The measured window (three intervals: three passes).
    pub window_ms: f64,
    /// CPU time the process used in the window.
    pub cpu_ms: f64,
    /// Passes in the window.
    pub passes: u64,
}

impl Sample {
    /// CPU time over wall time, in percent of one core.
    pub fn core_share_percent(&self) -> f64 {
        self.cpu_ms / self.window_ms * 100.0
    }

    /// CPU time per minute at this rate.
    pub fn cpu_ms_per_minute(&self) -> f64 {
        self.cpu_ms / self.window_ms * 60_000.0
    }
}

/// CPU time (user plus system) of this process so far, from `/proc/self/stat`.
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when that is unavailable).
fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

/// Runs the engine against the cloud at `url` with `interval` between passes: one cold
/// pass first (not measured), then three intervals of the reconciler's own loop.
pub async fn measure(url: &str, groups: usize, servers: usize, interval: Duration) -> Sample {
    let options = kamatera_nodegroups::EngineOptions {
        reconcile_interval: interval,
        ..kamatera_nodegroups::EngineOptions::default()
    };
    let (engine, mut reconciler) =
        kamatera_nodegroups::Engine::new(config(url, groups, servers), client(url), options)
            .expect("engine builds");
    reconciler.run_pass().await.expect("cold pass");
    reconciler.settle().await;
    let passes_before = engine.stats().passes_ok;
    // Read once before the window, so the `getconf` child is not counted.
    let _ = clock_ticks();
    let cancel = CancellationToken::new();
    let window = interval * 3;
    let cpu_before = process_cpu().expect("CPU time readable");
    let started = Instant::now();
    // The loop passes at once, then after every interval: three passes in the window.
    let task = tokio::spawn(reconciler.run(cancel.clone()));
    tokio::time::sleep(window).await;
    let elapsed = started.elapsed();
    let cpu = process_cpu().expect("CPU time readable") - cpu_before;
    cancel.cancel();
    task.await.expect("reconciler stops");
    let stats = engine.stats();
    assert_eq!(stats.passes_failed, 0, "no pass failed");
    Sample {
        servers,
        groups,
        interval_ms: ms(interval),
        window_ms: ms(elapsed),
        cpu_ms: ms(cpu),
        passes: stats.passes_ok - passes_before,
    }
}

/// A tiny in-process run, for the smoke test (CPU is then the whole test process).
pub async fn in_process(groups: usize, servers: usize, interval: Duration) -> Sample {
    let sim = super::growth::cloud(groups, servers, 0, 0).await;
    let sample = measure(sim.url().as_str(), groups, servers, interval).await;
    sim.shutdown().await.expect("simulator stops");
    sample
}
