//! Hooks for metrics: one event per request attempt.

use std::time::Duration;

use crate::endpoint::Endpoint;
use crate::error::Error;

/// How one request attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestOutcome {
    /// HTTP 200 (the body may still fail to decode).
    Ok,
    /// A non-200 answer other than an authentication failure.
    HttpError(u16),
    /// Credentials were rejected.
    AuthFailed,
    /// HTTP 429 Too Many Requests.
    RateLimited,
    /// The request or its answer was lost.
    Transport,
    /// No answer within the timeout.
    Timeout,
}

impl RequestOutcome {
    pub(crate) fn of<T>(result: &Result<T, Error>) -> Self {
        match result {
            Ok(_) => RequestOutcome::Ok,
            Err(Error::Timeout { .. }) => RequestOutcome::Timeout,
            Err(Error::Authentication { .. }) => RequestOutcome::AuthFailed,
            Err(Error::RateLimited { .. }) => RequestOutcome::RateLimited,
            // A 200 whose body was refused: the exchange itself worked.
            Err(Error::ResponseTooLarge { .. } | Error::InvalidResponse { .. }) => {
                RequestOutcome::Ok
            }
            Err(Error::Api { error, .. }) => RequestOutcome::HttpError(error.status),
            Err(_) => RequestOutcome::Transport,
        }
    }

    /// A short stable label for metrics: `ok`, `http_4xx`, `http_5xx`, `rate_limited`,
    /// `auth`, `transport` or `timeout`.
    pub fn label(&self) -> &'static str {
        match self {
            RequestOutcome::Ok => "ok",
            RequestOutcome::HttpError(status) if *status < 500 => "http_4xx",
            RequestOutcome::HttpError(_) => "http_5xx",
            RequestOutcome::AuthFailed => "auth",
            RequestOutcome::RateLimited => "rate_limited",
            RequestOutcome::Transport => "transport",
            RequestOutcome::Timeout => "timeout",
        }
    }
}

/// What happened on one request attempt.
#[derive(Debug, Clone)]
pub struct RequestEvent {
    /// The endpoint called.
    pub endpoint: Endpoint,
    /// How it ended.
    pub outcome: RequestOutcome,
    /// Time from sending to the end of the answer (or the failure).
    pub elapsed: Duration,
    /// 1 for the first attempt, 2 for the first retry, and so on.
    pub attempt: u32,
}

/// Receives [`RequestEvent`]s, for example to feed Prometheus counters.
///
/// Called on the request's task right after each attempt: keep it cheap and non-blocking.
pub trait RequestObserver: Send + Sync + 'static {
    /// Records one attempt.
    fn observe(&self, event: &RequestEvent);
}
