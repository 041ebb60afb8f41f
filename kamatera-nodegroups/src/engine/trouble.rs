//! What is wrong with the Kamatera API right now, as the server list sees it: kept while
//! lists fail, so that `Refresh`, `/readyz` and `status` can say why the snapshot is old,
//! and so that the same failure is logged once a minute rather than at every pass
//! (docs/engine-robustness.md, "Rate limits and revoked keys").

use std::time::Duration;

use tokio::time::Instant;

use crate::log_gate::LogGate;

/// The kind of failure, for people and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiTroubleKind {
    /// The API rejects the credentials (revoked, rotated, or mistyped).
    Credentials,
    /// The API (or a proxy before it) answers 429 Too Many Requests.
    RateLimited,
    /// The API answers, but not with an answer that decodes (an HTML page, garbage, a
    /// body over the size cap).
    BadAnswers,
    /// The API cannot be reached or does not answer in time.
    Unreachable,
    /// Any other error answer (5xx, unexpected 4xx).
    ErrorAnswers,
}

impl ApiTroubleKind {
    /// Classifies one failed call.
    pub fn of(error: &kamatera_api::Error) -> Self {
        if error.is_authentication() {
            ApiTroubleKind::Credentials
        } else if error.is_rate_limited() {
            ApiTroubleKind::RateLimited
        } else if error.outcome_unknown() {
            ApiTroubleKind::Unreachable
        } else if error.status().is_some() {
            ApiTroubleKind::ErrorAnswers
        } else {
            ApiTroubleKind::BadAnswers
        }
    }

    /// A stable label for metrics and JSON: `credentials`, `rate_limited`,
    /// `bad_answers`, `unreachable` or `error_answers`.
    pub fn label(self) -> &'static str {
        match self {
            ApiTroubleKind::Credentials => "credentials",
            ApiTroubleKind::RateLimited => "rate_limited",
            ApiTroubleKind::BadAnswers => "bad_answers",
            ApiTroubleKind::Unreachable => "unreachable",
            ApiTroubleKind::ErrorAnswers => "error_answers",
        }
    }

    /// Every kind, for metrics that show each one.
    pub const ALL: [ApiTroubleKind; 5] = [
        ApiTroubleKind::Credentials,
        ApiTroubleKind::RateLimited,
        ApiTroubleKind::BadAnswers,
        ApiTroubleKind::Unreachable,
        ApiTroubleKind::ErrorAnswers,
    ];

    /// What an operator should do about it.
    pub fn advice(self) -> &'static str {
        match self {
            ApiTroubleKind::Credentials => {
                "the Kamatera API rejects the client id and secret: put valid keys in the cloud config (picked up without a restart) or in KAMATERA_API_CLIENT_ID / KAMATERA_API_SECRET (needs a rollout)"
            }
            ApiTroubleKind::RateLimited => {
                "the Kamatera API asks this client to slow down (HTTP 429); requests are spaced out and refused changes are sent again"
            }
            ApiTroubleKind::BadAnswers => {
                "the Kamatera API's answers do not decode (a proxy's error page, a cut or oversized body); check the API URL and any proxy in between"
            }
            ApiTroubleKind::Unreachable => {
                "the Kamatera API cannot be reached or does not answer in time"
            }
            ApiTroubleKind::ErrorAnswers => "the Kamatera API answers with errors",
        }
    }
}

/// The failure the server lists have been meeting, from the first failed list after a
/// good one until the next good one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTrouble {
    /// The kind of the last failure.
    pub kind: ApiTroubleKind,
    /// When lists began to fail.
    pub since: Instant,
    /// Failed lists since then.
    pub failures: u64,
    /// The last error, as text.
    pub message: String,
}

impl ApiTrouble {
    /// How long lists have been failing.
    pub fn duration(&self) -> Duration {
        self.since.elapsed()
    }
}

/// How often the same kind of list failure is logged as a warning.
const REPEAT_LOG_EVERY: Duration = Duration::from_secs(60);

/// Follows list failures and recoveries, and logs them without repeating itself.
#[derive(Debug)]
pub(crate) struct TroubleLog {
    current: Option<ApiTrouble>,
    gate: LogGate<ApiTroubleKind>,
}

impl Default for TroubleLog {
    fn default() -> Self {
        Self {
            current: None,
            gate: LogGate::new(REPEAT_LOG_EVERY),
        }
    }
}

impl TroubleLog {
    /// Records a failed list; logs it when it is new or has not been logged for a minute.
    pub(crate) fn failed(&mut self, error: &kamatera_api::Error, now: Instant) {
        let kind = ApiTroubleKind::of(error);
        let message = error.to_string();
        let trouble = self.current.get_or_insert_with(|| ApiTrouble {
            kind,
            since: now,
            failures: 0,
            message: String::new(),
        });
        trouble.kind = kind;
        trouble.failures += 1;
        trouble.message = message;
        if let Some(suppressed) = self.gate.admit(kind, now) {
            tracing::warn!(
                kind = kind.label(),
                failing_for = ?now.saturating_duration_since(trouble.since),
                failed_passes = trouble.failures,
                not_logged_since_last = suppressed,
                error = %trouble.message,
                advice = kind.advice(),
                "listing Kamatera servers failed"
            );
        }
    }

    /// Records a good list; logs the recovery when lists had been failing.
    pub(crate) fn recovered(&mut self, now: Instant) {
        if let Some(trouble) = self.current.take() {
            self.gate.reset();
            tracing::info!(
                kind = trouble.kind.label(),
                failed_for = ?now.saturating_duration_since(trouble.since),
                failed_passes = trouble.failures,
                "the Kamatera API answers the server list again"
            );
        }
    }

    /// The failure lists are meeting now, if any.
    pub(crate) fn current(&self) -> Option<&ApiTrouble> {
        self.current.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use kamatera_api::Endpoint;

    use super::*;

    fn auth() -> kamatera_api::Error {
        kamatera_api::Error::Authentication {
            endpoint: Endpoint::ListServers,
            message: "you are not logged in".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_is_kept_until_a_good_list_and_counted() {
        let mut log = TroubleLog::default();
        let start = Instant::now();
        log.failed(&auth(), start);
        tokio::time::advance(Duration::from_secs(5)).await;
        log.failed(&auth(), Instant::now());
        let trouble = log.current().expect("failing");
        assert_eq!(trouble.kind, ApiTroubleKind::Credentials);
        assert_eq!(trouble.failures, 2);
        assert_eq!(trouble.since, start);
        assert!(trouble.message.contains("not logged in"));
        log.recovered(Instant::now());
        assert!(log.current().is_none());
    }

    #[test]
    fn kinds_are_told_apart() {
        assert_eq!(ApiTroubleKind::of(&auth()), ApiTroubleKind::Credentials);
        let garbage = kamatera_api::Error::InvalidResponse {
            endpoint: Endpoint::ListServers,
            path: "$".into(),
            reason: "body is not JSON".into(),
        };
        assert_eq!(ApiTroubleKind::of(&garbage), ApiTroubleKind::BadAnswers);
        let labels: std::collections::HashSet<_> =
            ApiTroubleKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(labels.len(), ApiTroubleKind::ALL.len());
    }
}
