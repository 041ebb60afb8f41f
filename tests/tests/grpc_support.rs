//! The provider served in-process on loopback, over a simulated cloud, with a tonic client
//! that calls it as cluster-autoscaler does.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use kamatera_nodegroups::config::empty_env;
use kamatera_nodegroups::{CloudConfig, EngineOptions};
use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::cloud_provider_client::CloudProviderClient;
use kamatera_provider_grpc::serve::{
    self, LeaderElectionSettings, Listeners, ServeConfig, ServeError,
};
use kamatera_provider_grpc::tls::TlsSettings;
use kamatera_sim::{Power, SimConfig, SimHandle, Simulator};
use test_support::{CloudConfigFixture, LogCapture};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};

use crate::support::{CLIENT_ID, SECRET};

/// Simulated time that lets every command with default timings finish.
pub const SETTLE: Duration = Duration::from_secs(120);

/// The longest any condition is waited for; generous for a loaded 2-core machine.
const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// `#!/bin/bash\nkubeadm join --token SECRETJOINTOKEN\n` in base64.
pub const SCRIPT_B64: &str = "IyEvYmluL2Jhc2gKa3ViZWFkbSBqb2luIC0tdG9rZW4gU0VDUkVUSk9JTlRPS0VOCg==";
/// The join token inside [`SCRIPT_B64`]: must never be logged.
pub const SCRIPT_TOKEN: &str = "SECRETJOINTOKEN";
/// The servers' root password: must never be logged.
pub const PASSWORD: &str = "Passw0rdNeverLogged";

/// Groups of the standard test cloud:
/// * `ng1`: 0 to 5, labels, a taint, an hourly price and two option overrides;
/// * `ng2`: 0 to 3, nothing else (no price, no overrides);
/// * `small`: 1 to 2 (for min-size violations).
pub const GROUPS: &str = "[nodegroup \"ng1\"]
min-size = 0
max-size = 5
name-prefix = k8s-ng1
template-label = role=worker
template-taint = dedicated=batch:NoSchedule
kube-reserved-cpu = 100m
kube-reserved-memory = 256Mi
hourly-price = 0.5
scale-down-unneeded-time = 5m
max-node-provision-time = 20m

[nodegroup \"ng2\"]
min-size = 0
max-size = 3
name-prefix = k8s-ng2

[nodegroup \"small\"]
min-size = 1
max-size = 2
name-prefix = k8s-small
";

/// The cloud config of the test cloud, pointed at the simulator at `url`.
pub fn cloud_config(url: &str, groups: &str) -> CloudConfig {
    cloud_config_with(url, groups, &[])
}

/// [`cloud_config`] with more `[global]` keys.
pub fn cloud_config_with(url: &str, groups: &str, global: &[(&str, String)]) -> CloudConfig {
    let mut fixture = CloudConfigFixture::new("e2e")
        .credentials(CLIENT_ID, SECRET)
        .api_url(url)
        .global_key("default-password", PASSWORD)
        .global_key("default-script-base64", SCRIPT_B64);
    for (key, value) in global {
        fixture = fixture.global_key(key, value);
    }
    let text = fixture.raw(groups).render();
    CloudConfig::parse(&text, "e2e.ini", &empty_env).expect("test config parses")
}

/// Engine options for tests: fast passes, so progress only waits for the simulated clock.
pub fn engine_options() -> EngineOptions {
    EngineOptions {
        reconcile_interval: Duration::from_millis(20),
        stale_after: Duration::from_secs(30),
        name_seed: Some(7),
        ..EngineOptions::default()
    }
}

/// A running provider and its simulated cloud.
pub struct Running {
    /// The simulated Kamatera API.
    pub sim: SimHandle,
    /// The gRPC address.
    pub grpc: SocketAddr,
    /// The HTTP address.
    pub http: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), ServeError>>,
}

/// How to start a provider.
pub struct Setup {
    /// Node-group sections.
    pub groups: String,
    /// TLS of the gRPC port.
    pub tls: TlsSettings,
    /// Engine options.
    pub engine: EngineOptions,
    /// Simulator configuration (credentials are added).
    pub sim: SimConfig,
    /// Timeout of one Kamatera API request (`--api-timeout`).
    pub api_timeout: Duration,
    /// More `[global]` keys of the cloud config.
    pub global: Vec<(&'static str, String)>,
    /// Leader election, when the test runs several replicas.
    pub leader_election: Option<LeaderElectionSettings>,
    /// `--grpc-max-connection-age` (`None`: never, the default here).
    pub grpc_max_connection_age: Option<Duration>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            groups: GROUPS.to_owned(),
            tls: TlsSettings::Plaintext,
            engine: engine_options(),
            sim: SimConfig::default(),
            api_timeout: Duration::from_secs(5),
            global: Vec::new(),
            leader_election: None,
            grpc_max_connection_age: None,
        }
    }
}

impl Setup {
    /// Binds both ports on 127.0.0.1:0 and serves in a task.
    pub async fn start(self) -> Running {
        let (_, sim) = Simulator::start(self.sim.clone().with_credentials(CLIENT_ID, SECRET))
            .await
            .expect("simulator starts");
        self.start_on(sim).await
    }

    /// Starts the provider and waits until it answers `Refresh`: a provider as
    /// cluster-autoscaler finds it, with a client connected.
    pub async fn started(self) -> (Running, Ca) {
        let provider = self.start().await;
        let mut ca = provider.client().await;
        provider.ready(&mut ca).await;
        (provider, ca)
    }

    /// Serves a provider over an already running simulator (`self.sim` is ignored), as a
    /// restarted process finds the cloud its predecessor left.
    pub async fn start_on(self, sim: SimHandle) -> Running {
        let config = self.serve_config(&sim);
        serve_on(sim, config).await
    }

    /// The provider's configuration for the simulator behind `sim`.
    pub fn serve_config(self, sim: &SimHandle) -> ServeConfig {
        ServeConfig {
            cloud_config: cloud_config_with(sim.url().as_str(), &self.groups, &self.global),
            tls: self.tls,
            engine: self.engine,
            api_timeout: self.api_timeout,
            simulate: false,
            shutdown_grace: Duration::from_secs(5),
            node_sync: None,
            credentials_reload: None,
            leader_election: self.leader_election,
            grpc_max_connection_age: self.grpc_max_connection_age,
        }
    }

    /// Serves a provider over `sim` in a runtime of its own, so that [`Process::kill`] can
    /// end it like `kill -9`: every task of it (gRPC, HTTP, reconciler, API calls in
    /// flight) is dropped at its next await, and nothing runs a shutdown path.
    pub fn spawn_process(self, sim: &SimHandle) -> Process {
        let grpc = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        grpc.set_nonblocking(true).unwrap();
        http.set_nonblocking(true).unwrap();
        let grpc_addr = grpc.local_addr().unwrap();
        let config = self.serve_config(sim);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("provider runtime");
        // Cancelled only by `Process::terminate` (SIGTERM); a killed process gets no
        // chance to shut down.
        let shutdown = CancellationToken::new();
        let sigterm = shutdown.clone();
        let served = runtime.spawn(async move {
            // The sockets must be registered with this runtime's reactor, so they are
            // converted here rather than in the caller's runtime.
            let listeners = Listeners {
                grpc: TcpListener::from_std(grpc).unwrap(),
                http: TcpListener::from_std(http).unwrap(),
            };
            serve::run(config, listeners, shutdown).await
        });
        Process {
            runtime: Some(runtime),
            grpc: grpc_addr,
            sigterm,
            served: Some(served),
        }
    }
}

/// Serves `config` over an already running simulator, with both ports on 127.0.0.1:0.
pub async fn serve_on(sim: SimHandle, config: ServeConfig) -> Running {
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_addr = grpc.local_addr().unwrap();
    let http_addr = http.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve::run(
        config,
        Listeners { grpc, http },
        shutdown.clone(),
    ));
    Running {
        sim,
        grpc: grpc_addr,
        http: http_addr,
        shutdown,
        task,
    }
}

/// A provider in its own runtime, to be killed without any shutdown or `Cleanup`.
pub struct Process {
    runtime: Option<tokio::runtime::Runtime>,
    /// The gRPC address.
    pub grpc: SocketAddr,
    sigterm: CancellationToken,
    served: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Process {
    /// A plaintext client for this process.
    pub async fn client(&self) -> CloudProviderClient<Channel> {
        CloudProviderClient::new(plaintext_channel(self.grpc).await)
    }

    /// Shuts the process down as SIGTERM does and waits until `serve` has returned (it
    /// waits, bounded, for the API calls in flight); returns how long that took.
    pub async fn terminate(mut self) -> Duration {
        let started = tokio::time::Instant::now();
        self.sigterm.cancel();
        if let Some(served) = self.served.take() {
            tokio::time::timeout(Duration::from_secs(30), served)
                .await
                .expect("serve returns after SIGTERM")
                .expect("serve task")
                .expect("serve ends cleanly");
        }
        let took = started.elapsed();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        took
    }

    /// Drops every task of the process at once, mid-call if need be.
    pub fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A failing test must not leave a provider running against the next test's cloud;
        // `shutdown_background` is the only way to drop a runtime from async code.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A plaintext channel to a gRPC port.
pub async fn plaintext_channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connects")
}

/// Starts the standard test cloud in plaintext.
pub async fn start() -> Running {
    Setup::default().start().await
}

impl Running {
    /// A plaintext client, as cluster-autoscaler with no `cert` in its config.
    pub async fn client(&self) -> CloudProviderClient<Channel> {
        CloudProviderClient::new(self.channel().await)
    }

    /// A plaintext channel to the gRPC port.
    pub async fn channel(&self) -> Channel {
        plaintext_channel(self.grpc).await
    }

    /// The URL of `path` on the HTTP port.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Stops the server as SIGTERM would and returns how `serve::run` ended.
    pub async fn stop(self) -> Result<(), ServeError> {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("serve stops within its grace period")
            .expect("serve task does not panic");
        self.sim.shutdown().await.unwrap();
        result
    }

    /// Calls `Refresh` until it succeeds (the first list has happened).
    pub async fn ready(&self, client: &mut CloudProviderClient<Channel>) {
        eventually("Refresh succeeds", || {
            let mut client = client.clone();
            async move { client.refresh(pb::RefreshRequest {}).await.is_ok() }
        })
        .await;
    }

    /// Refreshes, moves simulated time on and reads the group's instances, until `done`.
    pub async fn drive_until(
        &self,
        client: &mut CloudProviderClient<Channel>,
        group: &str,
        what: &str,
        done: impl Fn(&[pb::Instance]) -> bool,
    ) -> Vec<pb::Instance> {
        let started = tokio::time::Instant::now();
        loop {
            // As cluster-autoscaler does at the start of every loop (it keeps the engine active).
            let _ = client.refresh(pb::RefreshRequest {}).await;
            let instances = nodes(client, group).await;
            if done(&instances) {
                return instances;
            }
            assert!(
                started.elapsed() < WAIT_LIMIT,
                "timed out waiting for {what}; last instances: {instances:?}"
            );
            self.sim.advance(SETTLE);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Polls `check` every 10 ms until it holds; fails the test after [`WAIT_LIMIT`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = tokio::time::Instant::now();
    while !check().await {
        assert!(started.elapsed() < WAIT_LIMIT, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `NodeGroupNodes` of a group that must exist.
pub async fn nodes(client: &mut CloudProviderClient<Channel>, group: &str) -> Vec<pb::Instance> {
    client
        .node_group_nodes(pb::NodeGroupNodesRequest {
            id: group.to_owned(),
        })
        .await
        .expect("NodeGroupNodes")
        .into_inner()
        .instances
}

/// `NodeGroupTargetSize` of a group that must exist.
pub async fn target(client: &mut CloudProviderClient<Channel>, group: &str) -> i32 {
    client
        .node_group_target_size(pb::NodeGroupTargetSizeRequest {
            id: group.to_owned(),
        })
        .await
        .expect("NodeGroupTargetSize")
        .into_inner()
        .target_size
}

/// The state of an instance.
pub fn state(instance: &pb::Instance) -> pb::instance_status::InstanceState {
    instance
        .status
        .as_ref()
        .map_or(pb::instance_status::InstanceState::Unspecified, |s| {
            s.instance_state()
        })
}

/// True when every instance is in `wanted` and there are `count` of them.
pub fn all_in(
    instances: &[pb::Instance],
    count: usize,
    wanted: pb::instance_status::InstanceState,
) -> bool {
    instances.len() == count && instances.iter().all(|i| state(i) == wanted)
}

/// A gRPC client speaking to the provider as cluster-autoscaler does.
pub type Ca = CloudProviderClient<Channel>;

/// `NodeGroupIncreaseSize` as CA sends it when it scales `group` up by `delta`.
pub async fn increase(ca: &mut Ca, group: &str, delta: i32) {
    ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
        delta,
        id: group.to_owned(),
    })
    .await
    .unwrap();
}

/// `NodeGroupDeleteNodes` for `instances` of `group`, as CA sends it for registered nodes.
pub async fn delete(ca: &mut Ca, group: &str, instances: &[pb::Instance]) {
    ca.node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
        nodes: instances
            .iter()
            .map(|i| node(&i.id, server_name(i)))
            .collect(),
        id: group.to_owned(),
    })
    .await
    .unwrap();
}

/// A node as cluster-autoscaler describes a registered one.
pub fn node(provider_id: &str, name: &str) -> pb::ExternalGrpcNode {
    pb::ExternalGrpcNode {
        provider_id: provider_id.to_owned(),
        name: name.to_owned(),
        ..pb::ExternalGrpcNode::default()
    }
}

/// A FakeNode: name and provider id are both the instance id.
pub fn fake_node(instance_id: &str) -> pb::ExternalGrpcNode {
    pb::ExternalGrpcNode {
        provider_id: instance_id.to_owned(),
        name: instance_id.to_owned(),
        annotations: [(
            "k8s.io/cluster-autoscaler/fake-node-reason".to_owned(),
            "unregistered".to_owned(),
        )]
        .into(),
        ..pb::ExternalGrpcNode::default()
    }
}

/// GET with a timeout: the status code and body.
pub async fn http_get(url: String) -> (u16, String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The cluster tag every server of the test cloud carries (`k8sca-<cluster-name>`).
pub const CLUSTER_TAG: &str = "k8sca-e2e";
/// The tag of a server parked by a power-off scale-down.
pub const PARKED_TAG: &str = "k8scam-parked";

/// The server name behind an instance id (`kamatera://<name>`).
pub fn server_name(instance: &pb::Instance) -> &str {
    instance.id.trim_start_matches("kamatera://")
}

/// Checks the cloud against what the provider reports (the promises in `docs/testing.md`):
/// no two of our servers share a name (no duplicate creates), every server with our
/// cluster tag is either reported by `NodeGroupNodes` or parked powered off (no orphan,
/// nothing powered off outside the accounting), and every reported instance exists.
pub fn audit(sim: &SimHandle, reported: &[pb::Instance]) -> Result<(), String> {
    let ours: Vec<_> = sim
        .servers()
        .into_iter()
        .filter(|s| s.visible && s.tags.iter().any(|t| t == CLUSTER_TAG))
        .collect();
    let mut names: Vec<&str> = ours.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("duplicate server {:?}", pair[0]));
    }
    let reported_names: Vec<&str> = reported.iter().map(server_name).collect();
    for server in &ours {
        let is_reported = reported_names.contains(&server.name.as_str());
        let parked = server.power == Power::Off && server.tags.iter().any(|t| t == PARKED_TAG);
        if !is_reported && !parked {
            return Err(format!(
                "orphan: {} ({:?}, tags {:?}) is neither reported nor parked",
                server.name, server.power, server.tags
            ));
        }
    }
    for name in &reported_names {
        if !names.contains(name) {
            return Err(format!("{name} is reported but not in the cloud"));
        }
    }
    Ok(())
}

/// Drives the provider as cluster-autoscaler's loop does (Refresh, then read every group)
/// while moving simulated time on, until each `(group, n)` has a target of `n` and `n`
/// running instances and [`audit`] passes. Returns the instances of every group.
pub async fn converge(
    sim: &SimHandle,
    ca: &mut CloudProviderClient<Channel>,
    want: &[(&str, usize)],
) -> Vec<pb::Instance> {
    let started = tokio::time::Instant::now();
    loop {
        let _ = ca.refresh(pb::RefreshRequest {}).await;
        let mut all = Vec::new();
        let mut done = true;
        for (group, count) in want {
            let read = ca
                .node_group_nodes(pb::NodeGroupNodesRequest {
                    id: (*group).to_owned(),
                })
                .await;
            let size = ca
                .node_group_target_size(pb::NodeGroupTargetSizeRequest {
                    id: (*group).to_owned(),
                })
                .await;
            match (read, size) {
                (Ok(read), Ok(size)) => {
                    let instances = read.into_inner().instances;
                    if replace_failed_creates(ca, group, &instances).await {
                        done = false;
                        continue;
                    }
                    done &= all_in(
                        &instances,
                        *count,
                        pb::instance_status::InstanceState::InstanceRunning,
                    ) && usize::try_from(size.into_inner().target_size).ok()
                        == Some(*count);
                    all.extend(instances);
                }
                // A provider still starting (or a stale snapshot) answers again later.
                _ => done = false,
            }
        }
        let audited = audit(sim, &all);
        if done && audited.is_ok() {
            return all;
        }
        assert!(
            started.elapsed() < WAIT_LIMIT,
            "no convergence to {want:?}: {audited:?}; instances {all:#?}; cloud {:#?}; commands {:#?}",
            sim.servers(),
            sim.commands()
                .iter()
                .map(|c| (c.kind, c.server_name.as_str(), c.status.as_deref()))
                .collect::<Vec<_>>()
        );
        sim.advance(SETTLE);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What cluster-autoscaler does with instances whose create failed (state creating, with
/// error info): deletes them through FakeNodes and, its pods still pending, asks for as
/// many new nodes. Returns whether there were any.
async fn replace_failed_creates(
    ca: &mut CloudProviderClient<Channel>,
    group: &str,
    instances: &[pb::Instance],
) -> bool {
    let failed: Vec<_> = instances
        .iter()
        .filter(|i| {
            state(i) == pb::instance_status::InstanceState::InstanceCreating
                && i.status.as_ref().is_some_and(|s| s.error_info.is_some())
        })
        .map(|i| fake_node(&i.id))
        .collect();
    if failed.is_empty() {
        return false;
    }
    let deleted = ca
        .node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
            nodes: failed.clone(),
            id: group.to_owned(),
        })
        .await
        .is_ok();
    if deleted {
        // The deletion may leave nothing to replace (a stale read); CA's next loop would
        // then ask again, as this loop does.
        let _ = ca
            .node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
                delta: i32::try_from(failed.len()).unwrap_or(i32::MAX),
                id: group.to_owned(),
            })
            .await;
    }
    true
}

/// Creates the simulator accepted (each one made a server), whatever was refused.
pub fn creates(sim: &SimHandle) -> usize {
    targets_of(sim, kamatera_sim::OpKind::Create).len()
}

/// One request counter of the simulator (0 when never called).
pub fn counter(sim: &SimHandle, key: &str) -> u64 {
    sim.counters().get(key).copied().unwrap_or(0)
}

/// Names of the servers that a command of `kind` targeted.
pub fn targets_of(sim: &SimHandle, kind: kamatera_sim::OpKind) -> Vec<String> {
    sim.commands()
        .into_iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.server_name)
        .collect()
}

/// Captures every log line of this thread until the guard is dropped. The test runtime has
/// one thread, so every task of an in-process provider logs here.
pub fn capture_trace_logs() -> (LogCapture, tracing::subscriber::DefaultGuard) {
    LogCapture::start(kamatera_provider_grpc::logging::filter_from("trace"))
}
