//! Simulation time: either a virtual clock that only moves when told to, or scaled wall time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::macros::format_description;

use crate::config::ClockMode;

/// Milliseconds since the simulator started, in simulated time.
pub(crate) type SimMillis = u64;

#[derive(Debug)]
pub(crate) struct Clock {
    epoch_unix: i64,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Virtual {
        offset_ms: AtomicU64,
    },
    Real {
        start: Instant,
        scale: f64,
        offset_ms: AtomicU64,
    },
}

impl Clock {
    pub(crate) fn new(mode: &ClockMode, epoch_unix: i64) -> Self {
        let kind = match mode {
            ClockMode::Virtual => Kind::Virtual {
                offset_ms: AtomicU64::new(0),
            },
            ClockMode::Real { scale } => Kind::Real {
                start: Instant::now(),
                // A non-positive or NaN scale would freeze or reverse time; fall back to 1.
                scale: if scale.is_finite() && *scale > 0.0 {
                    *scale
                } else {
                    1.0
                },
                offset_ms: AtomicU64::new(0),
            },
        };
        Self { epoch_unix, kind }
    }

    pub(crate) fn now(&self) -> SimMillis {
        match &self.kind {
            Kind::Virtual { offset_ms } => offset_ms.load(Ordering::SeqCst),
            Kind::Real {
                start,
                scale,
                offset_ms,
            } => {
                let real = start.elapsed().as_secs_f64() * 1000.0 * scale;
                // `as` saturates for floats, which is what we want for absurd scales.
                (real as u64).saturating_add(offset_ms.load(Ordering::SeqCst))
            }
        }
    }

    /// Moves time forward. With a real clock this adds a fixed skip on top of wall time.
    pub(crate) fn advance(&self, by: Duration) -> SimMillis {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let offset = match &self.kind {
            Kind::Virtual { offset_ms } | Kind::Real { offset_ms, .. } => offset_ms,
        };
        // Saturating, so that advancing by `Duration::MAX` parks time at the end instead of
        // wrapping it back to the start.
        let _ = offset.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |at| {
            Some(at.saturating_add(ms))
        });
        self.now()
    }

    /// Formats a simulated instant the way the queue endpoint does (`YYYY-MM-DD HH:MM:SS`).
    pub(crate) fn format(&self, at: SimMillis) -> String {
        format_timestamp(self.epoch_unix, at)
    }
}

pub(crate) fn format_timestamp(epoch_unix: i64, at: SimMillis) -> String {
    let secs = epoch_unix.saturating_add(i64::try_from(at / 1000).unwrap_or(i64::MAX));
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_when_advanced() {
        let clock = Clock::new(&ClockMode::Virtual, 1_767_225_600);
        assert_eq!(clock.now(), 0);
        assert_eq!(clock.advance(Duration::from_millis(1500)), 1500);
        assert_eq!(clock.format(1500), "2026-01-01 00:00:01");
    }

    #[test]
    fn advancing_by_the_longest_duration_saturates() {
        let clock = Clock::new(&ClockMode::Virtual, 0);
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.advance(Duration::MAX), u64::MAX);
        assert_eq!(clock.advance(Duration::from_secs(1)), u64::MAX);
    }

    #[test]
    fn scaled_real_clock_runs_faster() {
        let clock = Clock::new(&ClockMode::Real { scale: 1000.0 }, 0);
        std::thread::sleep(Duration::from_millis(5));
        assert!(clock.now() >= 5000);
    }
}
