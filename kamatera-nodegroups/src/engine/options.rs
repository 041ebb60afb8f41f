//! Tuning knobs of the engine.

use std::time::Duration;

/// How the engine paces itself. The defaults suit a production cluster; tests shorten
/// them.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Time between two reconcile passes (default 10 s).
    pub reconcile_interval: Duration,
    /// `refresh()` reports the snapshot stale once the last successful list is older than
    /// this (default 3 × the interval), so cluster-autoscaler does not act on old data.
    pub stale_after: Duration,
    /// Tag reads in flight at once (default 16).
    pub tag_concurrency: usize,
    /// Tags are read again after this long (default 10 min), so tag changes are noticed.
    pub tag_refresh_interval: Duration,
    /// At most this many tag re-reads per pass (default 50); first reads are not limited.
    pub tag_refresh_budget: usize,
    /// A member's prices (server info) are read again after this long (default 6 h); a
    /// failed price lookup is retried after `tag_refresh_interval`.
    pub price_refresh_interval: Duration,
    /// At most this many server-info reads for prices per pass (default 4), first reads
    /// included: prices are slow to read and never needed for a decision.
    pub price_read_budget: usize,
    /// Command ids per queue request (default 50).
    pub queue_batch: usize,
    /// Create, power and delete calls in flight at once (default 8).
    pub mutation_concurrency: usize,
    /// Creation deadline when neither the group's `max-node-provision-time` nor
    /// cluster-autoscaler's own (sent with `GetOptions`) is known (default 30 min).
    pub default_max_node_provision_time: Duration,
    /// Deadline of a power-off or terminate command before the step is retried
    /// (default 10 min).
    pub command_timeout: Duration,
    /// After a lost create answer, how long to look for the server by name (default 5 min).
    pub lost_create_grace: Duration,
    /// First and longest back-off between retries of a failed scale-down step
    /// (default 10 s and 5 min).
    pub delete_retry_min: Duration,
    /// See [`EngineOptions::delete_retry_min`].
    pub delete_retry_max: Duration,
    /// Only change anything while a cluster-autoscaler calls `refresh()` (default true),
    /// so that a standby replica stays passive.
    pub require_active_caller: bool,
    /// How recent the last `refresh()` must be to count as active (default 2 min).
    pub active_window: Duration,
    /// Seed for generated server names (tests); `None` uses the OS's randomness.
    pub name_seed: Option<u64>,
    /// Start as a standby (leader election decides; default false: a single replica
    /// leads from the start). See [`Engine::take_leadership`](super::Engine::take_leadership).
    pub start_as_standby: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        let interval = Duration::from_secs(10);
        Self {
            reconcile_interval: interval,
            stale_after: interval * 3,
            tag_concurrency: 16,
            tag_refresh_interval: Duration::from_secs(600),
            tag_refresh_budget: 50,
            price_refresh_interval: Duration::from_secs(6 * 3600),
            price_read_budget: 4,
            queue_batch: 50,
            mutation_concurrency: 8,
            default_max_node_provision_time: Duration::from_secs(30 * 60),
            command_timeout: Duration::from_secs(600),
            lost_create_grace: Duration::from_secs(300),
            delete_retry_min: Duration::from_secs(10),
            delete_retry_max: Duration::from_secs(300),
            require_active_caller: true,
            active_window: Duration::from_secs(120),
            name_seed: None,
            start_as_standby: false,
        }
    }
}

impl EngineOptions {
    /// Back-off before retry number `attempts + 1` of a scale-down step: doubling from
    /// `delete_retry_min`, capped at `delete_retry_max`.
    pub(crate) fn delete_backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32.checked_shl(attempts.min(16)).unwrap_or(u32::MAX);
        self.delete_retry_min
            .saturating_mul(factor)
            .min(self.delete_retry_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_backoff_doubles_and_is_capped() {
        let options = EngineOptions::default();
        assert_eq!(options.delete_backoff(0), Duration::from_secs(10));
        assert_eq!(options.delete_backoff(1), Duration::from_secs(20));
        assert_eq!(options.delete_backoff(3), Duration::from_secs(80));
        assert_eq!(options.delete_backoff(10), Duration::from_secs(300));
        assert_eq!(options.delete_backoff(u32::MAX), Duration::from_secs(300));
    }
}
