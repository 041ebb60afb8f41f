//! The Kamatera cloud provider for the Kubernetes cluster-autoscaler, served over
//! cluster-autoscaler's `externalgrpc` protocol.
//!
//! This crate is the adapter between the protocol and the domain crate
//! `kamatera-nodegroups`: it maps RPCs to engine calls and engine errors to gRPC status
//! codes, and owns the process concerns (TLS, health, metrics, logs, shutdown). The
//! binary `kamatera-provider-grpc` is a thin command line over [`serve::run`].
//!
//! | module | job |
//! |---|---|
//! | [`pb`] | code generated from `proto/externalgrpc.proto` |
//! | [`service`] | the `CloudProvider` service |
//! | [`convert`] | domain values as protobuf messages; durations, options, prices |
//! | [`status`] | engine errors as gRPC statuses |
//! | [`error_chain`] | an error with its causes, for log lines |
//! | [`build_info`] | version and commit of this build |
//! | [`running_engine`] | the engine and its reconciler task (changes suspended by `Cleanup` until the next `Refresh`) |
//! | [`tls`] | plaintext, TLS or mTLS |
//! | [`inspect`] | the read-only status service and the `status` command's rendering |
//! | [`migrate_plan`] | `migrate-plan`: what switching from the in-tree provider would do |
//! | [`online_check`] | `check-config --online`: the config against the API's server options |
//! | [`http_port`] | `/healthz`, `/readyz`, `/metrics` |
//! | [`metrics`] | Prometheus metrics |
//! | [`logging`] | text or JSON logs |
//! | [`serve`] | wiring and shutdown |

pub mod build_info;
pub mod convert;
pub mod credentials_reload;
pub mod error_chain;
pub mod http_port;
pub mod inspect;
pub mod leader_election;
pub mod logging;
pub mod metrics;
pub mod migrate_plan;
pub mod node_sync;
pub mod online_check;
pub mod pb;
pub mod running_engine;
pub mod serve;
pub mod service;
pub mod status;
pub mod tls;
pub mod tls_accept;
