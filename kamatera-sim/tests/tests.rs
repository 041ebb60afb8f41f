//! Integration tests: raw HTTP + JSON against a simulator on loopback.

// Panicking on unexpected results is how these tests fail.
#![expect(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod auth;
mod control;
mod create;
mod faults;
/// The fault modes of a failing API.
mod hostile;
/// Fixes found by judging the simulator against Apache Libcloud's recorded answers.
mod libcloud_fidelity;
mod lifecycle;
mod networks;
mod resources;
mod scale;
mod server_ops;
mod servers;
