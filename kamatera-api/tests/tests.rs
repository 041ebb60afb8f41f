//! Integration tests of the Kamatera API client against wiremock.
//!
//! Every test mounts a catch-all that fails on any request no other mock expects, and
//! mutating calls are mounted with `.expect(n)` so a resend fails the test.

// Tests fail loudly on the first unexpected value; that is what unwrap is for here.
#![expect(clippy::unwrap_used, clippy::expect_used)]

mod support;

/// Clone a server.
mod clone;
/// Create, terminate, power on / off, reboot.
mod commands;
/// A server's disk library: list, clone into an image.
mod disk_library;
/// A server's disks: list, add, remove, resize.
mod disks;
/// Error mapping, authentication, malformed payloads.
mod errors;
/// HTML pages, cut JSON, oversized and trickling bodies on every autoscaler call.
mod hostile_answers;
/// A server's network interfaces: list, add, connect, disconnect.
mod interfaces;
/// Apache Libcloud's recorded Kamatera answers, decoded.
mod libcloud_fixtures;
/// Private networks and their subnets.
mod networks;
/// Options endpoints.
mod options;
/// Queue status, batching and waiting.
mod queue;
/// 429 answers: waits, the client-wide pause, changes sent again.
mod rate_limits;
/// The account's recent commands (`/svc/queue`).
mod recent_commands;
/// Retries and timeouts.
mod resilience;
/// Description, history, monthly reports, statistics, SSH-key target.
mod server_records;
/// Suspend, resume, password reset, rename, configure.
mod server_state;
/// List, info, SSH and health.
mod servers;
/// A server's snapshot tree, create, delete, revert.
mod snapshots;
/// Tag list / add / remove.
mod tags;
