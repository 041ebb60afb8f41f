//! The provider served in-process on loopback, over a simulated cloud, with a tonic client
//! that calls it as cluster-autoscaler does.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use kamatera_nodegroups::config::empty_env;
use kamatera_nodegroups::{CloudConfig, EngineOptions};
use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::cloud_provider_client::CloudProviderClient;
use kamatera_provider_grpc::serve::{self, Listeners, ServeConfig, ServeError};
use kamatera_provider_grpc::tls::TlsSettings;
use kamatera_sim::{SimConfig, SimHandle, Simulator};
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
    let text = format!(
        "[global]
kamatera-api-client-id = {CLIENT_ID}
kamatera-api-secret = {SECRET}
kamatera-api-url = {url}
cluster-name = e2e
default-datacenter = IL
default-image = ubuntu_server_24.04_64-bit
default-cpu = 2A
default-ram = 4096
default-disk = size=50
default-network = name=wan,ip=auto
default-password = {PASSWORD}
default-script-base64 = {SCRIPT_B64}

{groups}"
    );
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
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            groups: GROUPS.to_owned(),
            tls: TlsSettings::Plaintext,
            engine: engine_options(),
            sim: SimConfig::default(),
        }
    }
}

impl Setup {
    /// Binds both ports on 127.0.0.1:0 and serves in a task.
    pub async fn start(self) -> Running {
        let (url, sim) = Simulator::start(self.sim.with_credentials(CLIENT_ID, SECRET))
            .await
            .expect("simulator starts");
        let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc_addr = grpc.local_addr().unwrap();
        let http_addr = http.local_addr().unwrap();
        let config = ServeConfig {
            cloud_config: cloud_config(url.as_str(), &self.groups),
            tls: self.tls,
            engine: self.engine,
            api_timeout: Duration::from_secs(5),
            simulate: false,
            shutdown_grace: Duration::from_secs(5),
            node_sync: None,
        };
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
        Endpoint::from_shared(format!("http://{}", self.grpc))
            .unwrap()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("connects")
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
