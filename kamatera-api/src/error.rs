//! The crate's error type.

use std::fmt;
use std::time::Duration;

use crate::endpoint::Endpoint;

/// An error answer from the Kamatera API: any HTTP status other than 200, or a 200 whose
/// body is an upstream error object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// The `message` field of a JSON error body, or the upstream `info`, when present.
    pub message: Option<String>,
    /// The raw response body (at most 1 KiB of it), for bodies that are not JSON such as a
    /// `504 Gateway Timeout` text page.
    pub body: String,
}

impl ApiError {
    /// Longest body kept in an error, so a large HTML error page does not flood logs.
    pub(crate) const MAX_BODY: usize = 1024;

    /// True when the API said the selection matched no server.
    pub fn is_not_found(&self) -> bool {
        self.message
            .as_deref()
            .is_some_and(|m| m.starts_with("No servers found"))
    }

    /// True when the API said the selection matched more than one server.
    pub fn is_too_many_matches(&self) -> bool {
        self.message
            .as_deref()
            .is_some_and(|m| m.starts_with("Too many matching servers"))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(message) => write!(f, "HTTP {}: {message}", self.status),
            None if self.body.is_empty() => write!(f, "HTTP {} with an empty body", self.status),
            None => write!(f, "HTTP {}: {}", self.status, self.body),
        }
    }
}

impl std::error::Error for ApiError {}

/// Everything that can go wrong when talking to the Kamatera API.
///
/// Each variant names the endpoint it happened on. Use the predicates
/// ([`is_retryable`](Error::is_retryable), [`is_not_found`](Error::is_not_found), …) rather
/// than matching on messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request could not be sent or its answer could not be read (DNS, connection
    /// refused or reset, TLS, a dropped connection).
    // The cause is in the text rather than `source`: callers log this message on its own.
    #[error("{endpoint}: transport error: {error}")]
    Transport {
        /// The endpoint that was called (for messages and metrics).
        endpoint: Endpoint,
        /// The underlying HTTP client error.
        error: reqwest::Error,
    },

    /// No complete answer arrived within the per-request timeout.
    #[error("{endpoint}: no answer within {after:?}")]
    Timeout {
        /// The endpoint that was called (for messages and metrics).
        endpoint: Endpoint,
        /// The timeout that expired.
        after: Duration,
    },

    /// The API answered with an error.
    #[error("{endpoint}: Kamatera API error: {error}")]
    Api {
        /// The endpoint that was called (for messages and metrics).
        endpoint: Endpoint,
        /// Status, message and body.
        error: Box<ApiError>,
    },

    /// The API rejected the credentials.
    #[error("{endpoint}: authentication failed (check the client id and secret): {message}")]
    Authentication {
        /// The endpoint that was called (for messages and metrics).
        endpoint: Endpoint,
        /// What the API said.
        message: String,
    },

    /// The API (or a proxy in front of it) answered 429 Too Many Requests: the request
    /// was refused before it was carried out. The client has already waited and resent it
    /// as far as its retry policy allows (changes included: see
    /// [`RetryPolicy`](crate::RetryPolicy)).
    #[error("{endpoint}: rate limited by the Kamatera API (HTTP 429){}: {message}", retry_after.map(|d| format!(", retry after {d:?}")).unwrap_or_default())]
    RateLimited {
        /// The endpoint that was called (for messages and metrics).
        endpoint: Endpoint,
        /// The wait the answer asked for (`Retry-After`), bounded by the client's
        /// [`max_retry_after`](crate::ClientBuilder::max_retry_after).
        retry_after: Option<Duration>,
        /// The answer's `message`, or its body (at most 1 KiB).
        message: String,
    },

    /// The answer was larger than the client's
    /// [`max_response_bytes`](crate::ClientBuilder::max_response_bytes); it was cut off
    /// unread (a runaway proxy, or the wrong URL).
    #[error("{endpoint}: the answer is larger than {limit} bytes; not read")]
    ResponseTooLarge {
        /// The endpoint that was called (for messages and metrics).
        endpoint: Endpoint,
        /// The cap that was passed, in bytes.
        limit: usize,
    },

    /// The API answered 200 with a body of an unexpected shape.
    #[error("{endpoint}: invalid response from the Kamatera API at {path}: {reason}")]
    InvalidResponse {
        /// The endpoint that was called (for messages and metrics).
        endpoint: Endpoint,
        /// JSON path of the part that failed, e.g. `$[0].status` (`$` is the whole body).
        path: String,
        /// What was wrong.
        reason: String,
    },

    /// A request value failed validation before anything was sent.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidRequest {
        /// The request field (API key name), e.g. `disk`.
        field: &'static str,
        /// The rejected value (`<redacted>` for secrets).
        value: String,
        /// What is accepted instead.
        reason: String,
    },

    /// The client configuration is invalid (for example a base URL that cannot be used).
    #[error("invalid client configuration: {setting}: {reason}")]
    Config {
        /// The builder setting at fault.
        setting: &'static str,
        /// What was wrong.
        reason: String,
    },
}

impl Error {
    /// True when trying the same idempotent request again may succeed: transport failures,
    /// timeouts, 5xx answers other than the API's deterministic selection errors, 429
    /// ([`Error::RateLimited`]), and bodies that were cut or garbled (HTTP 200 that is not
    /// JSON, or an HTML page).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Timeout { .. } => true,
            Error::Api { error, .. } => {
                let deterministic = error.is_not_found() || error.is_too_many_matches();
                !deterministic && (error.status >= 500 || error.status == 429)
            }
            Error::InvalidResponse { path, reason, .. } => {
                path == "$" && reason.starts_with(NOT_JSON)
            }
            Error::RateLimited { .. } => true,
            Error::Authentication { .. }
            | Error::ResponseTooLarge { .. }
            | Error::InvalidRequest { .. }
            | Error::Config { .. } => false,
        }
    }

    /// True for a 429 Too Many Requests answer.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Error::RateLimited { .. })
    }

    /// The wait a 429 answer asked for with `Retry-After` (bounded).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True when the request was certainly not carried out: it was refused for the rate
    /// limit or the credentials, or never sent (invalid request or configuration). Such
    /// a change may be sent again without the risk of doing it twice. False when the
    /// outcome is unknown (see [`outcome_unknown`](Error::outcome_unknown)) and for other
    /// error answers.
    pub fn not_carried_out(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. }
                | Error::Authentication { .. }
                | Error::InvalidRequest { .. }
                | Error::Config { .. }
        )
    }

    /// True when the API said the selection matched no server.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api { error, .. } if error.is_not_found())
    }

    /// True when the API said the selection matched more than one server.
    pub fn is_too_many_matches(&self) -> bool {
        matches!(self, Error::Api { error, .. } if error.is_too_many_matches())
    }

    /// True for credential failures.
    pub fn is_authentication(&self) -> bool {
        matches!(self, Error::Authentication { .. })
    }

    /// True for timeouts.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// True when the request may have reached the API and been carried out even though no
    /// answer was read (a timeout or a broken connection). After such an error on a
    /// mutating call, look the result up instead of sending the call again.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Error::Transport { .. } | Error::Timeout { .. })
    }

    /// The HTTP status of an API error answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { error, .. } => Some(error.status),
            _ => None,
        }
    }

    /// The endpoint the error happened on, when it came from a call.
    pub fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Error::Transport { endpoint, .. }
            | Error::Timeout { endpoint, .. }
            | Error::Api { endpoint, .. }
            | Error::Authentication { endpoint, .. }
            | Error::RateLimited { endpoint, .. }
            | Error::ResponseTooLarge { endpoint, .. }
            | Error::InvalidResponse { endpoint, .. } => Some(*endpoint),
            Error::InvalidRequest { .. } | Error::Config { .. } => None,
        }
    }
}

/// Prefix of the reason given for a 200 answer that is not JSON at all.
pub(crate) const NOT_JSON: &str = "body is not JSON";

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, message: Option<&str>) -> Error {
        Error::Api {
            endpoint: Endpoint::ListServers,
            error: Box::new(ApiError {
                status,
                message: message.map(str::to_owned),
                body: String::new(),
            }),
        }
    }

    #[test]
    fn retryable_is_transient_only() {
        assert!(api(500, Some("Failed to run command method (serversInfo)")).is_retryable());
        assert!(api(504, None).is_retryable());
        assert!(!api(400, Some("missing required flag (name)")).is_retryable());
        assert!(!api(500, Some("No servers found (name='x')")).is_retryable());
        assert!(!api(500, Some("Too many matching servers (name='a|b')")).is_retryable());
        assert!(api(500, Some("No servers found (name='x')")).is_not_found());
    }

    #[test]
    fn api_error_display_handles_text_bodies() {
        let err = ApiError {
            status: 504,
            message: None,
            body: "Gateway Timeout".into(),
        };
        assert_eq!(err.to_string(), "HTTP 504: Gateway Timeout");
    }
}
