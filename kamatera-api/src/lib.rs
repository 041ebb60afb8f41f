//! Typed async client for the Kamatera cloud server API (work in progress).

pub mod endpoint;
pub mod error;
pub mod spec;

pub use endpoint::Endpoint;
pub use error::{ApiError, Error};
pub use spec::{BillingCycle, Cpu, CpuType, DiskSpec, NetworkSpec, Password, ServerName, Tag};
