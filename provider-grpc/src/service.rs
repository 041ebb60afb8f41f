//! The `CloudProvider` gRPC service: each RPC checks its input, calls the engine and
//! converts the answer. Reads come from the engine's in-memory snapshot and mutations only
//! record intent, so every call returns in microseconds, far inside CA's 5 s deadline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kamatera_nodegroups::engine::Role;
use kamatera_nodegroups::log_gate::LogGate;
use kamatera_nodegroups::{NodeRef, pricing};
use prost::Message as _;
use tokio::time::Instant;
use tonic::{Code, Request, Response, Status};

use crate::convert;
use crate::leader_election::LeaderElection;
use crate::metrics::GrpcMetrics;
use crate::pb;
use crate::pb::cloud_provider_server::CloudProvider;
use crate::running_engine::RunningEngine;
use crate::status::to_status;

/// An engine error as the status for cluster-autoscaler.
fn engine_status(error: kamatera_nodegroups::engine::Error) -> Status {
    to_status(&error)
}

/// The label `GPULabel` reports. Kamatera servers of this provider have no GPUs, so no
/// node carries it and CA treats every node as GPU-less; a fixed name keeps CA's cache
/// (it keeps the first answer for ever) harmless.
pub const GPU_LABEL: &str = "kamatera.com/gpu";

/// How often the same failing RPC (method and code) is logged as a warning: under
/// cluster-autoscaler's loop a failing `Refresh` repeats every few seconds.
const REPEAT_LOG_EVERY: Duration = Duration::from_secs(60);

/// The `CloudProvider` service over the engine.
#[derive(Debug, Clone)]
pub struct Provider {
    background: Arc<RunningEngine>,
    metrics: GrpcMetrics,
    failures: Arc<Mutex<LogGate<(&'static str, Code)>>>,
    /// With leader election: where accepted scale requests are recorded before the
    /// answer (docs/high-availability.md).
    election: Option<Arc<LeaderElection>>,
}

impl Provider {
    /// A service answering from `background`'s engine and recording into `metrics`.
    pub fn new(background: Arc<RunningEngine>, metrics: GrpcMetrics) -> Self {
        Self {
            background,
            metrics,
            failures: Arc::new(Mutex::new(LogGate::new(REPEAT_LOG_EVERY))),
            election: None,
        }
    }

    /// Records every accepted scale request in `election`'s lease before answering.
    #[must_use]
    pub fn with_leader_election(mut self, election: Arc<LeaderElection>) -> Self {
        self.election = Some(election);
        self
    }

    /// A scale request: `call` records it in the engine; with leader election the work
    /// in flight is then written into the lease before the answer, so that a successor
    /// knows of it. A request the lease cannot record fails (UNAVAILABLE).
    async fn scale<T>(
        &self,
        method: &'static str,
        call: impl FnOnce() -> Result<T, Status>,
    ) -> Result<Response<T>, Status> {
        let started = Instant::now();
        let mut result = call();
        if result.is_ok()
            && let Some(election) = &self.election
            && let Err(error) = election.persist().await
        {
            result = Err(Status::unavailable(format!(
                "the request was not recorded in the leader lease: {error}"
            )));
        }
        self.finish(method, started, result)
    }

    /// Runs one RPC: times `call`, and records its outcome in metrics and logs failures.
    /// Every RPC goes through here, so all are measured and bounded the same way.
    fn answer<T>(
        &self,
        method: &'static str,
        call: impl FnOnce() -> Result<T, Status>,
    ) -> Result<Response<T>, Status> {
        let started = Instant::now();
        self.finish(method, started, call())
    }

    /// Records an RPC's outcome in metrics and logs (failures at most once a minute per
    /// method and code).
    fn finish<T>(
        &self,
        method: &'static str,
        started: Instant,
        result: Result<T, Status>,
    ) -> Result<Response<T>, Status> {
        // Messages can quote caller input (node names, provider ids); a huge one would not
        // fit in the HTTP/2 trailer and would tear down the connection with every call on it.
        let result = result.map_err(crate::status::bounded);
        let code = match &result {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        };
        self.metrics.observe(method, code, started.elapsed());
        match &result {
            Ok(_) => tracing::trace!(method, "answered"),
            // Part of the protocol, asked on every loop: not worth more than debug.
            Err(status) if matches!(code, Code::Unimplemented) => {
                tracing::debug!(method, message = status.message(), "not implemented");
            }
            Err(status) => {
                let admitted = self
                    .failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .admit((method, code), Instant::now());
                match admitted {
                    Some(held_back) => tracing::warn!(
                        method,
                        code = ?code,
                        message = status.message(),
                        same_failures_not_logged = held_back,
                        "call failed"
                    ),
                    None => {
                        tracing::debug!(method, code = ?code, message = status.message(), "call failed")
                    }
                }
            }
        }
        result.map(Response::new)
    }
}

/// An id CA must always send.
fn required_id(id: &str) -> Result<&str, Status> {
    if id.is_empty() {
        Err(Status::invalid_argument("the node group id is empty"))
    } else {
        Ok(id)
    }
}

fn node_ref(node: &pb::ExternalGrpcNode) -> Result<NodeRef, Status> {
    if node.provider_id.is_empty() && node.name.is_empty() {
        return Err(Status::invalid_argument(
            "a node has neither a provider id nor a name",
        ));
    }
    Ok(NodeRef {
        provider_id: node.provider_id.clone(),
        name: node.name.clone(),
    })
}

/// What a standby answers to `Refresh` and to scale requests.
const STANDBY_REFUSAL: &str = "this replica is a standby (leader election): the leader answers; reconnect through the Service";

impl Provider {
    fn refresh(&self) -> Result<pb::RefreshResponse, Status> {
        // Refresh is the first call of cluster-autoscaler's loop, and a failed Refresh ends
        // the loop before any decision. A standby reached over a connection made while it
        // led refuses it, so CA sends it no scale-up: a refused IncreaseSize would back the
        // group off for minutes (docs/high-availability.md).
        if self.background.engine().role() == Role::Standby {
            return Err(Status::unavailable(STANDBY_REFUSAL));
        }
        // Also ends a suspension by `Cleanup`: this is the next cluster-autoscaler.
        self.background.engine().refresh().map_err(engine_status)?;
        Ok(pb::RefreshResponse {})
    }

    /// Scale requests wait for `Refresh` after `Cleanup`: the cluster-autoscaler that
    /// sent `Cleanup` is going away, and the next one starts with `Refresh`.
    fn active(&self) -> Result<(), Status> {
        if self.background.engine().role() == Role::Standby {
            return Err(Status::unavailable(STANDBY_REFUSAL));
        }
        if self.background.is_running() {
            Ok(())
        } else {
            Err(Status::unavailable(
                "changes are suspended after Cleanup; call Refresh first",
            ))
        }
    }

    fn node_groups(&self) -> pb::NodeGroupsResponse {
        pb::NodeGroupsResponse {
            node_groups: self
                .background
                .engine()
                .node_groups()
                .iter()
                .map(convert::node_group)
                .collect(),
        }
    }

    fn node_group_for_node(
        &self,
        request: &pb::NodeGroupForNodeRequest,
    ) -> Result<pb::NodeGroupForNodeResponse, Status> {
        let node = request
            .node
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("the node is missing"))?;
        let engine = self.background.engine();
        let group = engine
            .node_group_for_node(&node.provider_id, &node.name)
            .and_then(|name| engine.node_group(&name).ok());
        // An empty group id is the protocol's "not managed here".
        Ok(pb::NodeGroupForNodeResponse {
            node_group: Some(group.as_ref().map(convert::node_group).unwrap_or_default()),
        })
    }

    fn node_price(&self, request: &pb::PricingNodePriceRequest) -> Result<f64, Status> {
        let node = request
            .node
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("the node is missing"))?;
        let engine = self.background.engine();
        // A real node by provider id or name; a template node by the annotation
        // `TemplateNodeInfo` put on it.
        let group = engine
            .node_group_for_node(&node.provider_id, &node.name)
            .or_else(|| {
                node.annotations
                    .get(convert::NODE_GROUP_ANNOTATION)
                    .filter(|g| engine.node_group(g).is_ok())
                    .cloned()
            })
            .ok_or_else(|| {
                Status::not_found(format!(
                    "node {:?} (provider id {:?}) is not in a Kamatera node group",
                    node.name, node.provider_id
                ))
            })?;
        // A real node at its server's own price from the API; a template node (or a node
        // whose price is not known yet) at a member's price, else the configured or
        // rate-derived one (docs/pricing.md).
        let view = engine.node_group(&group).map_err(engine_status)?;
        let own = view
            .instances
            .iter()
            .find(|i| {
                (!node.provider_id.is_empty() && i.provider_id == node.provider_id)
                    || i.name == node.name
            })
            .and_then(|i| i.hourly_price);
        let hourly = own.unwrap_or(view.cost.node_hourly);
        // CA 1.34.2 and newer send fields 4/5; older ones 2/3.
        let seconds = window_seconds(
            [
                request.start_timestamp.as_ref(),
                request.start_time.as_ref(),
            ],
            [request.end_timestamp.as_ref(), request.end_time.as_ref()],
        )?;
        Ok(pricing::price_for(hourly, seconds))
    }

    /// What the pod's requests cost at the rates that price nodes (see `docs/pricing.md`).
    fn pod_price(&self, request: &pb::PricingPodPriceRequest) -> Result<f64, Status> {
        // CA 1.34.2 and newer send the pod in field 4 and the span in 5/6; older ones the
        // pod in field 1 and the span in 2/3. Empty bytes are an empty pod (no requests).
        let bytes = if request.pod_bytes.is_empty() {
            &request.pod
        } else {
            &request.pod_bytes
        };
        let pod = k8s_pb::api::core::v1::Pod::decode(bytes.as_slice()).map_err(|error| {
            Status::invalid_argument(format!("the pod is not a protobuf v1.Pod: {error}"))
        })?;
        let seconds = window_seconds(
            [
                request.start_timestamp.as_ref(),
                request.start_time.as_ref(),
            ],
            [request.end_timestamp.as_ref(), request.end_time.as_ref()],
        )?;
        let rates = self.background.engine().config().price_rates;
        let hourly = rates.pod_hourly(convert::pod_requests(&pod));
        Ok(pricing::price_for(hourly, seconds))
    }

    fn nodes(&self, id: &str) -> Result<pb::NodeGroupNodesResponse, Status> {
        let instances = self
            .background
            .engine()
            .nodes(required_id(id)?)
            .map_err(engine_status)?;
        Ok(pb::NodeGroupNodesResponse {
            instances: instances.iter().map(convert::instance).collect(),
        })
    }

    fn template(&self, id: &str) -> Result<pb::NodeGroupTemplateNodeInfoResponse, Status> {
        let group = required_id(id)?;
        let template = self
            .background
            .engine()
            .template(group)
            .map_err(engine_status)?;
        Ok(convert::template_response(&convert::template_node(
            group, &template,
        )))
    }

    fn options(
        &self,
        request: &pb::NodeGroupAutoscalingOptionsRequest,
    ) -> Result<pb::NodeGroupAutoscalingOptionsResponse, Status> {
        let group = required_id(&request.id)?;
        let engine = self.background.engine();
        let config = engine.group_config(group).map_err(engine_status)?;
        // CA's own max-node-provision-time is the provision deadline of groups that set
        // none (it comes with every call, whatever the answer).
        if let Some(defaults) = &request.defaults {
            engine
                .set_autoscaler_max_node_provision_time(convert::max_node_provision_time(defaults));
        }
        if !convert::has_overrides(&config.autoscaling) {
            // CA then uses its own flags, including the options this protocol cannot carry.
            return Err(Status::unimplemented(format!(
                "node group {group:?} overrides no autoscaling option"
            )));
        }
        let defaults = request.defaults.as_ref().ok_or_else(|| {
            Status::invalid_argument("the defaults are missing; they are needed to answer")
        })?;
        Ok(pb::NodeGroupAutoscalingOptionsResponse {
            node_group_autoscaling_options: Some(convert::merge_options(
                defaults,
                &config.autoscaling,
            )),
        })
    }
}

#[tonic::async_trait]
impl CloudProvider for Provider {
    async fn node_groups(
        &self,
        _request: Request<pb::NodeGroupsRequest>,
    ) -> Result<Response<pb::NodeGroupsResponse>, Status> {
        self.answer("NodeGroups", || Ok(self.node_groups()))
    }

    async fn node_group_for_node(
        &self,
        request: Request<pb::NodeGroupForNodeRequest>,
    ) -> Result<Response<pb::NodeGroupForNodeResponse>, Status> {
        self.answer("NodeGroupForNode", || {
            self.node_group_for_node(request.get_ref())
        })
    }

    async fn pricing_node_price(
        &self,
        request: Request<pb::PricingNodePriceRequest>,
    ) -> Result<Response<pb::PricingNodePriceResponse>, Status> {
        self.answer("PricingNodePrice", || {
            self.node_price(request.get_ref())
                .map(|price| pb::PricingNodePriceResponse { price })
        })
    }

    async fn pricing_pod_price(
        &self,
        request: Request<pb::PricingPodPriceRequest>,
    ) -> Result<Response<pb::PricingPodPriceResponse>, Status> {
        self.answer("PricingPodPrice", || {
            self.pod_price(request.get_ref())
                .map(|price| pb::PricingPodPriceResponse { price })
        })
    }

    async fn gpu_label(
        &self,
        _request: Request<pb::GpuLabelRequest>,
    ) -> Result<Response<pb::GpuLabelResponse>, Status> {
        self.answer("GPULabel", || {
            Ok(pb::GpuLabelResponse {
                label: GPU_LABEL.to_owned(),
            })
        })
    }

    async fn get_available_gpu_types(
        &self,
        _request: Request<pb::GetAvailableGpuTypesRequest>,
    ) -> Result<Response<pb::GetAvailableGpuTypesResponse>, Status> {
        self.answer("GetAvailableGPUTypes", || {
            Ok(pb::GetAvailableGpuTypesResponse {
                gpu_types: HashMap::new(),
            })
        })
    }

    async fn cleanup(
        &self,
        _request: Request<pb::CleanupRequest>,
    ) -> Result<Response<pb::CleanupResponse>, Status> {
        self.answer("Cleanup", || {
            tracing::info!(
                "Cleanup: cluster-autoscaler is shutting down; changes wait for the next Refresh"
            );
            self.background.suspend();
            Ok(pb::CleanupResponse {})
        })
    }

    async fn refresh(
        &self,
        _request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        self.answer("Refresh", || self.refresh())
    }

    async fn node_group_target_size(
        &self,
        request: Request<pb::NodeGroupTargetSizeRequest>,
    ) -> Result<Response<pb::NodeGroupTargetSizeResponse>, Status> {
        self.answer("NodeGroupTargetSize", || {
            required_id(&request.get_ref().id).and_then(|id| {
                self.background
                    .engine()
                    .target_size(id)
                    .map(|target| pb::NodeGroupTargetSizeResponse {
                        target_size: convert::target_size(target),
                    })
                    .map_err(engine_status)
            })
        })
    }

    async fn node_group_increase_size(
        &self,
        request: Request<pb::NodeGroupIncreaseSizeRequest>,
    ) -> Result<Response<pb::NodeGroupIncreaseSizeResponse>, Status> {
        let request = request.get_ref();
        self.scale("NodeGroupIncreaseSize", || {
            required_id(&request.id).and_then(|id| {
                self.active()?;
                self.background
                    .engine()
                    .increase_size(id, i64::from(request.delta))
                    .map_err(engine_status)?;
                self.metrics
                    .scaled_up(id, u64::try_from(request.delta).unwrap_or(0));
                Ok(pb::NodeGroupIncreaseSizeResponse {})
            })
        })
        .await
    }

    async fn node_group_delete_nodes(
        &self,
        request: Request<pb::NodeGroupDeleteNodesRequest>,
    ) -> Result<Response<pb::NodeGroupDeleteNodesResponse>, Status> {
        let request = request.get_ref();
        self.scale("NodeGroupDeleteNodes", || {
            required_id(&request.id).and_then(|id| {
                let nodes = request
                    .nodes
                    .iter()
                    .map(node_ref)
                    .collect::<Result<Vec<_>, _>>()?;
                self.active()?;
                self.background
                    .engine()
                    .delete_nodes(id, &nodes)
                    .map_err(engine_status)?;
                self.metrics
                    .scaled_down(id, u64::try_from(nodes.len()).unwrap_or(u64::MAX));
                Ok(pb::NodeGroupDeleteNodesResponse {})
            })
        })
        .await
    }

    async fn node_group_decrease_target_size(
        &self,
        request: Request<pb::NodeGroupDecreaseTargetSizeRequest>,
    ) -> Result<Response<pb::NodeGroupDecreaseTargetSizeResponse>, Status> {
        let request = request.get_ref();
        self.scale("NodeGroupDecreaseTargetSize", || {
            required_id(&request.id).and_then(|id| {
                self.active()?;
                self.background
                    .engine()
                    .decrease_target_size(id, i64::from(request.delta))
                    .map(|()| pb::NodeGroupDecreaseTargetSizeResponse {})
                    .map_err(engine_status)
            })
        })
        .await
    }

    async fn node_group_nodes(
        &self,
        request: Request<pb::NodeGroupNodesRequest>,
    ) -> Result<Response<pb::NodeGroupNodesResponse>, Status> {
        self.answer("NodeGroupNodes", || self.nodes(&request.get_ref().id))
    }

    async fn node_group_template_node_info(
        &self,
        request: Request<pb::NodeGroupTemplateNodeInfoRequest>,
    ) -> Result<Response<pb::NodeGroupTemplateNodeInfoResponse>, Status> {
        self.answer("NodeGroupTemplateNodeInfo", || {
            self.template(&request.get_ref().id)
        })
    }

    async fn node_group_get_options(
        &self,
        request: Request<pb::NodeGroupAutoscalingOptionsRequest>,
    ) -> Result<Response<pb::NodeGroupAutoscalingOptionsResponse>, Status> {
        self.answer("NodeGroupGetOptions", || self.options(request.get_ref()))
    }
}

/// The pricing window in seconds. Each bound is given as `[new field, legacy field]`: the
/// first one set wins, so both wire generations are read (docs/cluster-autoscaler.md).
fn window_seconds(
    start: [Option<&prost_types::Timestamp>; 2],
    end: [Option<&prost_types::Timestamp>; 2],
) -> Result<f64, Status> {
    let [start_new, start_legacy] = start;
    let [end_new, end_legacy] = end;
    convert::span_seconds(start_new.or(start_legacy), end_new.or(end_legacy))
        .map_err(|e| Status::invalid_argument(e.to_string()))
}
