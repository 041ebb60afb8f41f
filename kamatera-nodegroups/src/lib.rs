//! Node groups of the Kamatera cluster-autoscaler provider.
//!
//! This crate is the domain layer: it knows nothing about protobuf, gRPC or the command
//! line. Today it holds the cloud-config reader ([`config`]); the scaling engine builds on
//! the resolved [`CloudConfig`] it produces.

pub mod config;
pub mod cost;
pub mod engine;
pub mod log_gate;
pub mod naming;
pub mod pricing;
pub mod template;

pub use config::{
    AutoscalingOptions, CloudConfig, ConfigProblem, Credentials, NodeGroupConfig,
    NodeTemplateConfig, ServerTemplate, Taint, TaintEffect,
};
pub use engine::{Engine, EngineOptions, NodeRef, Reconciler};
pub use pricing::{PodRequests, PriceRates};
pub use template::NodeTemplate;
