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
/// The Kubernetes deploy kit, built as kustomize builds it and cross-checked.
mod deploy_kit;
/// The shipped examples: cloud config and init scripts.
mod examples;
/// The example values for the official cluster-autoscaler Helm chart.
mod helm_values;
/// Apache Libcloud's Kamatera driver drives the simulator through a node lifecycle.
mod libcloud_driver;
/// The kit's Grafana dashboard and PrometheusRule against the provider's real metrics.
mod monitoring;
/// Containerfile, `.ci/image`, release and CI workflows, LICENSE and CHANGELOG.
mod release;

/// The provider served in-process for the gRPC tests.
mod grpc_support;

/// Members' own prices from server info, through PricingNodePrice, metrics and status.
mod grpc_cost;
/// Scale-up and scale-down over gRPC, as cluster-autoscaler drives them.
mod grpc_flow;
/// grpc-go (cluster-autoscaler's gRPC) dials again after the connection age, no call lost.
mod grpc_go_client;
/// The HTTP port, gRPC health and reflection, metrics and secret-free logs.
mod grpc_http;
/// Pricing for cluster-autoscaler's price expander, in both wire generations.
mod grpc_pricing;
/// Cleanup and provider restarts in the middle of a scale-up.
mod grpc_restarts;
/// TLS and mutual TLS of the gRPC port.
mod grpc_tls;
/// Both CA wire generations, the optional RPCs and status codes.
mod grpc_wire;

/// Every label the template advertises is set by the init scripts or node sync.
mod node_labels;

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

/// Refused, not failed: 429 and revoked or rotated keys, end to end (docs/engine-robustness.md).
mod api_refusals;

/// Stuck work: a create that never completes is given up and cleaned up once.
mod stuck_work;

/// `migrate-plan` run as a process against simulated in-tree clusters and a fake Kubernetes API.
mod migrate_plan;

/// Hostile bodies from every endpoint: HTML, text, truncated, huge, trickling.
mod hostile_bodies;

/// Robustness (docs/engine-robustness.md): one odd API answer changes nothing; no billed server is left behind.
mod robustness;

/// Cold start (docs/engine-robustness.md): one empty tag answer never makes the provider ready with a member missing.
mod cold_start;
/// Human hands (docs/engine-robustness.md): members terminated, untagged, renamed or powered off in the console, and a foreign server tagged.
mod human_hands;

/// Two replicas, one leader (docs/high-availability.md): the leader killed mid scale-up and mid scale-down, SIGTERM handover, a leader cut off from the API server.
mod leader_failover;
