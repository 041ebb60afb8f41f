//! Two ways of doing the same thing timed in turns (scenarios 9 and 10), so that a slow or
//! fast spell of a shared machine falls on both alike.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::median;

/// How many turns to take.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Turns {
    /// Untimed pairs first (connections opened, caches and allocator warm).
    pub warmup: usize,
    /// Timed pairs.
    pub pairs: usize,
}

/// The medians of both sides of one comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    /// Timed pairs.
    pub pairs: usize,
    /// Median of the measured side (the SDK), microseconds.
    pub sdk_p50_us: f64,
    /// Median of the reference side (bare reqwest + serde_json), microseconds.
    pub bare_p50_us: f64,
    /// Median over the pairs of each pair's SDK / bare: a second view of the same ratio,
    /// less exposed to a drift of the machine between the start and the end of the run.
    pub pair_ratio_p50: f64,
}

impl Comparison {
    /// SDK p50 / bare p50: the figure against the goal.
    pub fn ratio(&self) -> f64 {
        self.sdk_p50_us / self.bare_p50_us
    }
}

/// Runs `sdk` and `bare` in turns, `turns.pairs` timed pairs after `turns.warmup` untimed
/// ones. Which side goes first swaps every pair (A B, B A, A B, …), so that neither always
/// runs right after the other.
pub async fn compare(
    turns: Turns,
    mut sdk: impl AsyncFnMut(),
    mut bare: impl AsyncFnMut(),
) -> Comparison {
    for _ in 0..turns.warmup {
        sdk().await;
        bare().await;
    }
    let mut sdk_times = Vec::with_capacity(turns.pairs);
    let mut bare_times = Vec::with_capacity(turns.pairs);
    for pair in 0..turns.pairs {
        if pair % 2 == 0 {
            sdk_times.push(timed(&mut sdk).await);
            bare_times.push(timed(&mut bare).await);
        } else {
            bare_times.push(timed(&mut bare).await);
            sdk_times.push(timed(&mut sdk).await);
        }
    }
    let pair_ratios: Vec<f64> = sdk_times
        .iter()
        .zip(&bare_times)
        .map(|(s, b)| s.as_secs_f64() / b.as_secs_f64().max(1e-9))
        .collect();
    Comparison {
        pairs: turns.pairs,
        sdk_p50_us: us(median(&sdk_times)),
        bare_p50_us: us(median(&bare_times)),
        pair_ratio_p50: super::median_f64(&pair_ratios),
    }
}

async fn timed(f: &mut impl AsyncFnMut()) -> Duration {
    let started = Instant::now();
    f().await;
    started.elapsed()
}

/// Microseconds as a float, for reports.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
