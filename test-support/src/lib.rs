//! Shared test support for the workspace's test binaries and benches.
//!
//! - [`CloudConfigFixture`] writes a cloud-config file: a complete `[global]` section with
//!   the usual server defaults, and node groups, so that tests state only what matters to
//!   them instead of copying INI text.
//! - [`LogCapture`] collects what `tracing` logs, for tests that check log lines.
//! - `fake_kube` (feature `fake-kube`): a fake Kubernetes API for node sync, shared by the
//!   node-sync tests and the node-sync bench, with Leases (`fake_leases`) for leader
//!   election.

#[cfg(feature = "fake-kube")]
pub mod fake_kube;
#[cfg(feature = "fake-kube")]
pub mod fake_leases;
mod fixture;
mod logs;

pub use fixture::{CloudConfigFixture, GroupFixture};
pub use logs::LogCapture;
