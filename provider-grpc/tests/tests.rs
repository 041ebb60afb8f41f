//! Integration tests of the `kamatera-provider-grpc` binary.

#![expect(clippy::unwrap_used, clippy::expect_used)]

mod check_config;
mod node_sync;
/// `serve` run as a real process.
mod serve_process;
