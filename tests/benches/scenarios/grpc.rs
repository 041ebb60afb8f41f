//! Scenario 1: cluster-autoscaler's loop over real gRPC on loopback, against the provider
//! (`kamatera-provider-grpc` served in-process by its `serve::run`) and against a bare
//! tonic service that answers the same messages from memory. The ratio of the two loop
//! times is what the provider costs on top of gRPC itself.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kamatera_nodegroups::{CloudConfig, EngineOptions};
use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::cloud_provider_client::CloudProviderClient;
use kamatera_provider_grpc::pb::cloud_provider_server::{CloudProvider, CloudProviderServer};
use kamatera_provider_grpc::serve::{self, Listeners, ServeConfig};
use kamatera_provider_grpc::tls::TlsSettings;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status};

use super::{config, median, ms, percentile, seed_members, start_sim};

/// A server running in a task of this process.
pub struct Served {
    /// The gRPC address.
    pub grpc: SocketAddr,
    /// The HTTP address (health, metrics); the echo service has none.
    pub http: Option<SocketAddr>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Served {
    /// Stops the server and waits for it (bounded).
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(20), self.task).await;
    }

    /// A plaintext client, as cluster-autoscaler without `cert` in its config.
    pub async fn client(&self) -> CloudProviderClient<Channel> {
        let channel = Endpoint::from_shared(format!("http://{}", self.grpc))
            .expect("endpoint")
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("connects");
        // Node lists of big groups exceed tonic's 4 MiB default only far beyond the sizes
        // here, so the defaults stay.
        CloudProviderClient::new(channel)
    }
}

/// Serves the provider as the binary does, plaintext, with the documented engine defaults.
pub async fn serve_provider(cloud_config: &CloudConfig) -> Served {
    let grpc = TcpListener::bind("127.0.0.1:0").await.expect("bind gRPC");
    let http = TcpListener::bind("127.0.0.1:0").await.expect("bind HTTP");
    let (grpc_addr, http_addr) = (
        grpc.local_addr().expect("addr"),
        http.local_addr().expect("addr"),
    );
    let config = ServeConfig {
        cloud_config: cloud_config.clone(),
        tls: TlsSettings::Plaintext,
        engine: EngineOptions::default(),
        api_timeout: Duration::from_secs(30),
        simulate: false,
        shutdown_grace: Duration::from_secs(5),
        node_sync: None,
        credentials_reload: None,
        leader_election: None,
        grpc_max_connection_age: None,
    };
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        serve::run(config, Listeners { grpc, http }, token)
            .await
            .expect("the provider serves");
    });
    Served {
        grpc: grpc_addr,
        http: Some(http_addr),
        shutdown,
        task,
    }
}

/// The bare service: answers recorded from the provider, served from memory.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    groups: pb::NodeGroupsResponse,
    for_node: pb::NodeGroupForNodeResponse,
    target: HashMap<String, pb::NodeGroupTargetSizeResponse>,
    nodes: HashMap<String, pb::NodeGroupNodesResponse>,
    options: HashMap<String, pb::NodeGroupAutoscalingOptionsResponse>,
}

fn by_id<T: Clone>(map: &HashMap<String, T>, id: &str) -> Result<Response<T>, Status> {
    map.get(id)
        .cloned()
        .map(Response::new)
        .ok_or_else(|| Status::not_found(id.to_owned()))
}

#[tonic::async_trait]
impl CloudProvider for Echo {
    async fn node_groups(
        &self,
        _: Request<pb::NodeGroupsRequest>,
    ) -> Result<Response<pb::NodeGroupsResponse>, Status> {
        Ok(Response::new(self.groups.clone()))
    }
    async fn node_group_for_node(
        &self,
        _: Request<pb::NodeGroupForNodeRequest>,
    ) -> Result<Response<pb::NodeGroupForNodeResponse>, Status> {
        Ok(Response::new(self.for_node.clone()))
    }
    async fn pricing_node_price(
        &self,
        _: Request<pb::PricingNodePriceRequest>,
    ) -> Result<Response<pb::PricingNodePriceResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn pricing_pod_price(
        &self,
        _: Request<pb::PricingPodPriceRequest>,
    ) -> Result<Response<pb::PricingPodPriceResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn gpu_label(
        &self,
        _: Request<pb::GpuLabelRequest>,
    ) -> Result<Response<pb::GpuLabelResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn get_available_gpu_types(
        &self,
        _: Request<pb::GetAvailableGpuTypesRequest>,
    ) -> Result<Response<pb::GetAvailableGpuTypesResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn cleanup(
        &self,
        _: Request<pb::CleanupRequest>,
    ) -> Result<Response<pb::CleanupResponse>, Status> {
        Ok(Response::new(pb::CleanupResponse {}))
    }
    async fn refresh(
        &self,
        _: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        Ok(Response::new(pb::RefreshResponse {}))
    }
    async fn node_group_target_size(
        &self,
        request: Request<pb::NodeGroupTargetSizeRequest>,
    ) -> Result<Response<pb::NodeGroupTargetSizeResponse>, Status> {
        by_id(&self.target, &request.get_ref().id)
    }
    async fn node_group_increase_size(
        &self,
        _: Request<pb::NodeGroupIncreaseSizeRequest>,
    ) -> Result<Response<pb::NodeGroupIncreaseSizeResponse>, Status> {
        Ok(Response::new(pb::NodeGroupIncreaseSizeResponse {}))
    }
    async fn node_group_delete_nodes(
        &self,
        _: Request<pb::NodeGroupDeleteNodesRequest>,
    ) -> Result<Response<pb::NodeGroupDeleteNodesResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn node_group_decrease_target_size(
        &self,
        _: Request<pb::NodeGroupDecreaseTargetSizeRequest>,
    ) -> Result<Response<pb::NodeGroupDecreaseTargetSizeResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn node_group_nodes(
        &self,
        request: Request<pb::NodeGroupNodesRequest>,
    ) -> Result<Response<pb::NodeGroupNodesResponse>, Status> {
        by_id(&self.nodes, &request.get_ref().id)
    }
    async fn node_group_template_node_info(
        &self,
        _: Request<pb::NodeGroupTemplateNodeInfoRequest>,
    ) -> Result<Response<pb::NodeGroupTemplateNodeInfoResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn node_group_get_options(
        &self,
        request: Request<pb::NodeGroupAutoscalingOptionsRequest>,
    ) -> Result<Response<pb::NodeGroupAutoscalingOptionsResponse>, Status> {
        by_id(&self.options, &request.get_ref().id)
    }
}

/// Serves `echo` on loopback. With `nodelay` the accepted sockets get `TCP_NODELAY`, as
/// tonic's own `Server::serve(addr)` sets by default (`tcp_nodelay: true`); without it they
/// are left as `TcpIncoming::from(listener)` leaves them (Nagle's algorithm on), which
/// shows what that costs: the provider's `serve::run` once accepted connections that way.
pub async fn serve_echo(echo: Echo, nodelay: bool) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
    let grpc = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        Server::builder()
            .add_service(CloudProviderServer::new(echo))
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(nodelay)),
                token.cancelled_owned(),
            )
            .await
            .expect("the echo service serves");
    });
    Served {
        grpc,
        http: None,
        shutdown,
        task,
    }
}

/// CA's defaults for a group, as it sends them with `GetOptions`.
fn ca_defaults() -> pb::NodeGroupAutoscalingOptions {
    pb::NodeGroupAutoscalingOptions {
        scale_down_utilization_threshold: 0.5,
        scale_down_gpu_utilization_threshold: 0.5,
        scale_down_unneeded_time: Some(pb::LegacyDuration {
            duration: 600_000_000_000,
        }),
        scale_down_unready_time: Some(pb::LegacyDuration {
            duration: 1_200_000_000_000,
        }),
        max_node_provision_time: Some(pb::LegacyDuration {
            duration: 900_000_000_000,
        }),
        ..Default::default()
    }
}

/// A node as CA sends it: provider id and name (the server name after `://`).
fn node_of(provider_id: &str) -> pb::ExternalGrpcNode {
    pb::ExternalGrpcNode {
        provider_id: provider_id.to_owned(),
        name: provider_id
            .rsplit('/')
            .next()
            .unwrap_or(provider_id)
            .to_owned(),
        ..Default::default()
    }
}

/// Per-RPC latencies of some loops.
#[derive(Debug, Default)]
pub struct Calls {
    by_method: BTreeMap<&'static str, Vec<Duration>>,
}

impl Calls {
    fn record(&mut self, method: &'static str, took: Duration) {
        self.by_method.entry(method).or_default().push(took);
    }

    /// p50 / p99 / max per method.
    pub fn stats(&self) -> Vec<RpcStats> {
        self.by_method
            .iter()
            .map(|(method, values)| {
                let mut sorted = values.clone();
                sorted.sort_unstable();
                RpcStats {
                    method,
                    calls: sorted.len(),
                    p50_ms: ms(percentile(&sorted, 50.0)),
                    p99_ms: ms(percentile(&sorted, 99.0)),
                    max_ms: ms(sorted.last().copied().unwrap_or_default()),
                }
            })
            .collect()
    }
}

/// Latency figures of one RPC.
#[derive(Debug, Clone, Serialize)]
pub struct RpcStats {
    /// The RPC.
    pub method: &'static str,
    /// Calls measured (over all runs).
    pub calls: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest call.
    pub max_ms: f64,
}

/// Times one call into `calls`.
macro_rules! timed {
    ($calls:expr, $method:literal, $call:expr) => {{
        let started = Instant::now();
        let answer = $call.await.expect($method).into_inner();
        $calls.record($method, started.elapsed());
        answer
    }};
}

/// One CA loop over gRPC; returns its time and call count. `nodes` are provider ids.
pub async fn ca_loop(
    client: &mut CloudProviderClient<Channel>,
    nodes: &[String],
    calls: &mut Calls,
) -> (Duration, usize) {
    let started = Instant::now();
    let mut count = 0;
    timed!(calls, "Refresh", client.refresh(pb::RefreshRequest {}));
    let groups = timed!(
        calls,
        "NodeGroups",
        client.node_groups(pb::NodeGroupsRequest {})
    );
    count += 2;
    for group in &groups.node_groups {
        let id = group.id.clone();
        timed!(
            calls,
            "NodeGroupTargetSize",
            client.node_group_target_size(pb::NodeGroupTargetSizeRequest { id: id.clone() })
        );
        timed!(
            calls,
            "NodeGroupNodes",
            client.node_group_nodes(pb::NodeGroupNodesRequest { id: id.clone() })
        );
        timed!(
            calls,
            "NodeGroupGetOptions",
            client.node_group_get_options(pb::NodeGroupAutoscalingOptionsRequest {
                id,
                defaults: Some(ca_defaults()),
            })
        );
        count += 3;
    }
    for node in nodes {
        let answer = timed!(
            calls,
            "NodeGroupForNode",
            client.node_group_for_node(pb::NodeGroupForNodeRequest {
                node: Some(node_of(node)),
            })
        );
        assert!(
            answer.node_group.is_some_and(|g| !g.id.is_empty()),
            "{node} is managed"
        );
        count += 1;
    }
    (started.elapsed(), count)
}

/// Every instance id the provider reports.
pub async fn instance_ids(client: &mut CloudProviderClient<Channel>) -> Vec<String> {
    let groups = client
        .node_groups(pb::NodeGroupsRequest {})
        .await
        .expect("NodeGroups")
        .into_inner();
    let mut ids = Vec::new();
    for group in groups.node_groups {
        let nodes = client
            .node_group_nodes(pb::NodeGroupNodesRequest { id: group.id })
            .await
            .expect("NodeGroupNodes")
            .into_inner();
        ids.extend(nodes.instances.into_iter().map(|i| i.id));
    }
    ids
}

/// Waits (bounded) until `Refresh` succeeds and `servers` instances are reported.
pub async fn wait_ready(client: &CloudProviderClient<Channel>, servers: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let mut c = client.clone();
        if c.refresh(pb::RefreshRequest {}).await.is_ok()
            && instance_ids(&mut c).await.len() == servers
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the provider did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Records the provider's answers so the echo service can give the same ones.
async fn record(client: &mut CloudProviderClient<Channel>, some_node: &str) -> Echo {
    let mut echo = Echo {
        groups: client
            .node_groups(pb::NodeGroupsRequest {})
            .await
            .expect("NodeGroups")
            .into_inner(),
        for_node: client
            .node_group_for_node(pb::NodeGroupForNodeRequest {
                node: Some(node_of(some_node)),
            })
            .await
            .expect("NodeGroupForNode")
            .into_inner(),
        ..Echo::default()
    };
    for group in echo.groups.node_groups.clone() {
        let id = group.id;
        let target = client
            .node_group_target_size(pb::NodeGroupTargetSizeRequest { id: id.clone() })
            .await
            .expect("NodeGroupTargetSize")
            .into_inner();
        let nodes = client
            .node_group_nodes(pb::NodeGroupNodesRequest { id: id.clone() })
            .await
            .expect("NodeGroupNodes")
            .into_inner();
        let options = client
            .node_group_get_options(pb::NodeGroupAutoscalingOptionsRequest {
                id: id.clone(),
                defaults: Some(ca_defaults()),
            })
            .await
            .expect("NodeGroupGetOptions")
            .into_inner();
        echo.target.insert(id.clone(), target);
        echo.nodes.insert(id.clone(), nodes);
        echo.options.insert(id, options);
    }
    echo
}

/// Sizes of the scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    /// Node groups.
    pub groups: usize,
    /// Servers per group.
    pub per_group: usize,
    /// Loops per server; figures are medians (loop time) or percentiles over all calls.
    pub runs: usize,
}

/// What the scenario found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The sizes used.
    pub params: Params,
    /// Calls in one loop.
    pub calls_per_loop: usize,
    /// Median loop against the provider.
    pub provider_loop_ms: f64,
    /// Median loop against the echo service (tonic's default socket options).
    pub echo_loop_ms: f64,
    /// Median loop against the echo service without `TCP_NODELAY` on accepted
    /// connections (what Nagle's algorithm costs).
    pub echo_same_sockets_loop_ms: f64,
    /// Per-RPC figures, provider.
    pub provider: Vec<RpcStats>,
    /// Per-RPC figures, echo.
    pub echo: Vec<RpcStats>,
    /// Per-RPC figures, echo without `TCP_NODELAY`.
    pub echo_same_sockets: Vec<RpcStats>,
}

impl Report {
    /// Provider loop over echo loop.
    pub fn ratio(&self) -> f64 {
        self.provider_loop_ms / self.echo_loop_ms
    }

    /// Provider loop over the loop of an echo without `TCP_NODELAY`: when the provider's
    /// sockets lack it too, this is its own cost without the socket configuration's.
    pub fn ratio_same_sockets(&self) -> f64 {
        self.provider_loop_ms / self.echo_same_sockets_loop_ms
    }

    /// The slowest p99 of any read RPC against the provider.
    pub fn worst_read_p99(&self) -> Option<&RpcStats> {
        self.provider
            .iter()
            .max_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms))
    }
}

/// Runs the scenario. Loops alternate between provider and echo, so that noise from the
/// shared machine hits both alike.
pub async fn run(params: Params) -> Report {
    let servers = params.groups * params.per_group;
    let sim = start_sim().await;
    seed_members(&sim, params.groups, servers);
    let cloud = config(sim.url().as_str(), params.groups, params.per_group * 2);
    let provider = serve_provider(&cloud).await;
    let mut client = provider.client().await;
    wait_ready(&client, servers, Duration::from_secs(120)).await;
    let nodes = instance_ids(&mut client).await;
    let recorded = record(&mut client, &nodes[0]).await;
    let echo_server = serve_echo(recorded.clone(), true).await;
    let mut echo = echo_server.client().await;
    let same_server = serve_echo(recorded, false).await;
    let mut same = same_server.client().await;

    // Warm-up: connections, allocator, caches.
    let mut discard = Calls::default();
    ca_loop(&mut client, &nodes, &mut discard).await;
    ca_loop(&mut echo, &nodes, &mut discard).await;
    ca_loop(&mut same, &nodes, &mut discard).await;

    let (mut provider_calls, mut echo_calls, mut same_calls) =
        (Calls::default(), Calls::default(), Calls::default());
    let (mut provider_loops, mut echo_loops, mut same_loops) = (Vec::new(), Vec::new(), Vec::new());
    let mut calls_per_loop = 0;
    for _ in 0..params.runs {
        let (took, n) = ca_loop(&mut client, &nodes, &mut provider_calls).await;
        provider_loops.push(took);
        calls_per_loop = n;
        let (took, n) = ca_loop(&mut echo, &nodes, &mut echo_calls).await;
        assert_eq!(n, calls_per_loop, "the same calls");
        echo_loops.push(took);
        let (took, _) = ca_loop(&mut same, &nodes, &mut same_calls).await;
        same_loops.push(took);
    }
    echo_server.stop().await;
    same_server.stop().await;
    provider.stop().await;
    sim.shutdown().await.expect("simulator stops");
    Report {
        params,
        calls_per_loop,
        provider_loop_ms: ms(median(&provider_loops)),
        echo_loop_ms: ms(median(&echo_loops)),
        echo_same_sockets_loop_ms: ms(median(&same_loops)),
        provider: provider_calls.stats(),
        echo: echo_calls.stats(),
        echo_same_sockets: same_calls.stats(),
    }
}

/// Reads one gauge from the provider's `/metrics` (plain text exposition).
pub async fn gauge(http: &reqwest::Client, addr: SocketAddr, name: &str) -> Option<f64> {
    let text = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}
