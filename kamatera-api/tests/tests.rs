//! Integration tests of the Kamatera API client against wiremock.
//!
//! Every test mounts a catch-all that fails on any request no other mock expects, and
//! mutating calls are mounted with `.expect(n)` so a resend fails the test.

// Tests fail loudly on the first unexpected value; that is what unwrap is for here.
#![expect(clippy::unwrap_used, clippy::expect_used)]

mod support;

/// Create, terminate, power on / off, reboot.
mod commands;
/// Error mapping, authentication, malformed payloads.
mod errors;
/// Apache Libcloud's recorded Kamatera answers, decoded.
mod libcloud_fixtures;
/// Options endpoints.
mod options;
/// Queue status, batching and waiting.
mod queue;
/// Retries and timeouts.
mod resilience;
/// List, info, SSH and health.
mod servers;
/// Tag list / add / remove.
mod tags;
