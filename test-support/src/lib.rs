//! Shared test support for the workspace's test binaries and benches.
//!
//! - [`CloudConfigFixture`] writes a cloud-config file: a complete `[global]` section with
//!   the usual server defaults, and node groups, so that tests state only what matters to
//!   them instead of copying INI text.
//! - [`LogCapture`] collects what `tracing` logs, for tests that check log lines.

mod fixture;
mod logs;

pub use fixture::{CloudConfigFixture, GroupFixture};
pub use logs::LogCapture;
