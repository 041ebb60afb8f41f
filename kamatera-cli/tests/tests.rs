//! End-to-end tests of the `kamatera` binary: each test starts kamatera-sim in-process on
//! 127.0.0.1:0, runs the real binary against it, and checks stdout (table and JSON),
//! stderr, the exit code and the state change the simulator saw.

// Tests fail loudly on the first unexpected value; that is what unwrap is for here.
#![expect(clippy::unwrap_used, clippy::expect_used)]

mod support;

/// `server rename|configure|history|statistics|clone`, `server power suspend|resume`.
mod admin;
/// Exit codes 2, 3 and 4 and their one-line messages.
mod failures;
/// `server terminate` and `server power`.
mod lifecycle;
/// `network …` and `network subnet …`.
mod networks;
/// `queue list` and `queue wait`.
mod queue;
/// Password reset, description, monthly reports, the SSH-key target, the disk library.
mod records;
/// `server disk` and `server network`.
mod resources;
/// `server list`, `server info`, `server create`.
mod servers;
/// `server snapshot`.
mod snapshots;
/// `server tags`.
mod tags;
