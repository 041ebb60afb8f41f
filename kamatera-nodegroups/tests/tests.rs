//! Integration tests of the cloud-config reader (one test binary; see the modules).

#![expect(clippy::unwrap_used, clippy::expect_used)]

mod config_compat;
mod config_fixed_bugs;
mod config_invalid;
mod config_new_keys;
mod config_props;
mod config_support;

// The node-group engine against the simulated cloud.
mod engine_bugs;
mod engine_concurrency;
mod engine_flow;
mod engine_prices;
mod engine_restart;
mod engine_safety;
mod engine_scaling;
mod engine_support;
