//! End-to-end tests across the workspace's crates, in one test binary.

// Tests fail loudly on the first unexpected value; that is what unwrap is for here.
#![expect(clippy::unwrap_used, clippy::expect_used)]

mod support;

/// The end-to-end scenarios of `docs/testing.md` at the API level, with the simulator's faults.
mod api_scenarios;
/// The `kamatera-api` client against `kamatera-sim`: every endpoint and lifecycle.
mod api_vs_sim;
/// Every benchmark scenario at a tiny size, so the suite cannot rot.
mod bench_smoke;
/// The shipped examples: cloud config, Kubernetes manifests, init scripts, Dockerfile.
mod examples;

/// The provider served in-process for the gRPC tests.
mod grpc_support;

/// Scale-up and scale-down over gRPC, as cluster-autoscaler drives them.
mod grpc_flow;
/// The HTTP port, gRPC health and reflection, metrics and secret-free logs.
mod grpc_http;
/// TLS and mutual TLS of the gRPC port.
mod grpc_tls;
/// Both CA wire generations, the optional RPCs and status codes.
mod grpc_wire;

/// Reliability (`docs/testing.md`): 32 concurrent gRPC clients with invariants checked throughout.
mod reliability_concurrency;
/// Reliability: the faults of `docs/testing.md` and more, end to end with a virtual clock.
mod reliability_faults;
/// Reliability: garbage and oversized gRPC requests change nothing.
mod reliability_input;
/// Reliability: the provider killed at every step of a scale-up and a scale-down.
mod reliability_restarts;
/// Security: secrets never printed; the safety interlock with tags swapped underneath.
mod security;
