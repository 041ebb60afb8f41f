//! The library error type.

use std::net::SocketAddr;

/// Everything that can go wrong when starting or driving the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("failed to bind the simulator to {addr}")]
    Bind {
        /// The address that was requested.
        addr: SocketAddr,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket did not report its local address.
    #[error("failed to read the local address of the simulator socket")]
    LocalAddr {
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The base URL could not be built from the bound address.
    #[error("failed to build the base URL from {addr}")]
    Url {
        /// The bound address.
        addr: SocketAddr,
        /// The parse error.
        #[source]
        source: url::ParseError,
    },
    /// The server task failed or panicked while shutting down.
    #[error("the simulator server task failed")]
    Serve {
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The server task could not be joined.
    #[error("the simulator server task could not be joined")]
    Join {
        /// The join error.
        #[source]
        source: tokio::task::JoinError,
    },
    /// A rule or seed carried a regular expression that does not compile.
    #[error("invalid regular expression {pattern:?}")]
    Regex {
        /// The offending pattern.
        pattern: String,
        /// The compile error.
        #[source]
        source: Box<regex::Error>,
    },
    /// A seeded server was rejected (for example its id is already taken).
    #[error("invalid seed server {name:?}: {reason}")]
    Seed {
        /// The name of the seed server.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
}
