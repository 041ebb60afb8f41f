//! Lets a repeated log line through once per interval per key, counting what it held
//! back: a failure that repeats at every pass or call (revoked keys, an API that is
//! down) is logged once a minute with the count, not twice a second.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

/// Admits one event per `every` for each key.
#[derive(Debug)]
pub struct LogGate<K> {
    every: Duration,
    last: HashMap<K, (Instant, u64)>,
}

impl<K: Eq + Hash> LogGate<K> {
    /// A gate that admits each key at most once per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last: HashMap::new(),
        }
    }

    /// `Some(held back)` when an event for `key` at `now` should be logged (with the
    /// number of events held back since the last one logged); `None` when it should not.
    pub fn admit(&mut self, key: K, now: Instant) -> Option<u64> {
        match self.last.get_mut(&key) {
            Some((at, held)) if now.saturating_duration_since(*at) < self.every => {
                *held += 1;
                None
            }
            Some((at, held)) => {
                let count = *held;
                *at = now;
                *held = 0;
                Some(count)
            }
            None => {
                self.last.insert(key, (now, 0));
                Some(0)
            }
        }
    }

    /// Forgets every key (the condition ended), so the next event is logged at once.
    pub fn reset(&mut self) {
        self.last.clear();
    }

    /// Forgets one key.
    pub fn forget(&mut self, key: &K) {
        self.last.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_line_per_interval_with_the_count_held_back() {
        let mut gate = LogGate::new(Duration::from_secs(60));
        assert_eq!(gate.admit("auth", Instant::now()), Some(0));
        for _ in 0..119 {
            tokio::time::advance(Duration::from_millis(500)).await;
            assert_eq!(gate.admit("auth", Instant::now()), None);
        }
        assert_eq!(
            gate.admit("other", Instant::now()),
            Some(0),
            "keys are apart"
        );
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(gate.admit("auth", Instant::now()), Some(119));
        gate.reset();
        assert_eq!(gate.admit("auth", Instant::now()), Some(0));
    }
}
