//! How the node-sync controller behaves: what it does with parked servers' Nodes, how often
//! it re-checks, and how long it waits and retries.

use std::fmt;
use std::time::Duration;

use backon::ExponentialBuilder;

/// What to do with the Node object of a parked server (a server kept powered off for reuse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ParkedNodeAction {
    /// Delete the Node object. A powered-off server's Node is NotReady and would count
    /// against cluster-autoscaler's unready thresholds; the kubelet registers the Node again
    /// when the server is powered on for reuse.
    #[default]
    Delete,
    /// Keep the Node object and clear what cluster-autoscaler's scale-down left on it, as the
    /// in-tree Kamatera provider does: make it schedulable again and remove the taints
    /// `ToBeDeletedByClusterAutoscaler` and `DeletionCandidateOfClusterAutoscaler` (other
    /// taints are kept), so the server is usable as soon as it is powered on again.
    ClearMarks,
}

// Parsing comes from `clap::ValueEnum` only; `as_str` is for log lines and must spell the
// values as clap does (checked by a test).
impl ParkedNodeAction {
    /// The value as written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ParkedNodeAction::Delete => "delete",
            ParkedNodeAction::ClearMarks => "clear-marks",
        }
    }
}

impl fmt::Display for ParkedNodeAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings of the node-sync controller. Start from [`NodeSyncSettings::default`] and set
/// the fields that come from flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSyncSettings {
    /// What to do with the Node of a parked server.
    pub parked_node_action: ParkedNodeAction,
    /// How often every known Node is checked again, besides reacting to Node events. Needed
    /// because servers are parked, and become known to the engine, without any Node event.
    /// A check reads the watch cache only; it calls the API only for a Node that needs a
    /// change. Default 30 s.
    pub resync_interval: Duration,
    /// Upper bound on each write or read of one Node (the watch has its own idle timeout).
    /// Default 30 s.
    pub request_timeout: Duration,
    /// Delay before a Node whose change failed is tried again; it doubles (with jitter) on
    /// every further failure of that Node. Default 250 ms.
    pub retry_min_delay: Duration,
    /// Largest delay between two tries of one Node. A Node is retried until its change
    /// succeeds, it changes, or it is gone. Default 60 s.
    pub retry_max_delay: Duration,
}

impl Default for NodeSyncSettings {
    fn default() -> Self {
        Self {
            parked_node_action: ParkedNodeAction::Delete,
            resync_interval: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            retry_min_delay: Duration::from_millis(250),
            retry_max_delay: Duration::from_secs(60),
        }
    }
}

impl NodeSyncSettings {
    /// The jittered exponential backoff of one Node's retries: endless, each delay at most
    /// about twice [`retry_max_delay`](Self::retry_max_delay) (jitter included).
    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.retry_min_delay)
            .with_max_delay(self.retry_max_delay.max(self.retry_min_delay))
            .without_max_times()
            .with_jitter()
    }
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;

    use super::*;

    #[test]
    fn parked_node_action_parses_and_prints() {
        // Parsing is clap's (`ValueEnum`), as on the command line and in the environment.
        use clap::ValueEnum;
        let parse = |s: &str| ParkedNodeAction::from_str(s, false);
        assert_eq!(parse("delete"), Ok(ParkedNodeAction::Delete));
        assert_eq!(parse("clear-marks"), Ok(ParkedNodeAction::ClearMarks));
        assert!(parse("drain").is_err());
        assert_eq!(ParkedNodeAction::ClearMarks.to_string(), "clear-marks");
        assert_eq!(ParkedNodeAction::default(), ParkedNodeAction::Delete);
    }

    #[test]
    fn clap_spells_the_values_like_the_flag() {
        use clap::ValueEnum;
        let names: Vec<String> = ParkedNodeAction::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|v| v.get_name().to_owned())
            .collect();
        assert_eq!(names, ["delete", "clear-marks"]);
    }

    #[test]
    fn backoff_grows_and_is_bounded_and_never_ends() {
        let settings = NodeSyncSettings {
            retry_min_delay: Duration::from_millis(10),
            retry_max_delay: Duration::from_millis(40),
            ..NodeSyncSettings::default()
        };
        let delays: Vec<Duration> = settings.backoff().build().take(50).collect();
        assert_eq!(delays.len(), 50);
        // Jitter adds up to one more delay on top of the capped value, never less.
        assert!(
            delays.iter().all(|d| *d >= Duration::from_millis(10)),
            "{delays:?}"
        );
        assert!(
            delays.iter().all(|d| *d <= Duration::from_millis(80)),
            "{delays:?}"
        );
        assert!(delays[49] >= Duration::from_millis(40), "{delays:?}");
    }
}
