//! `serve`: wires the engine, the gRPC service, health, reflection, the HTTP port and
//! shutdown together.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kamatera_api::Client;
use kamatera_nodegroups::{CloudConfig, EngineOptions};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::credentials_reload::CredentialsReload;
use crate::inspect::StatusService;
use crate::leader_election::{LeaderElection, LeaderElectionConfig};
use crate::metrics::Metrics;
use crate::node_sync::{self, NodeSyncError, NodeSyncSettings, ParkedNodeAction};
use crate::pb::cloud_provider_server::CloudProviderServer;
use crate::pb::status::provider_status_server::ProviderStatusServer;
use crate::running_engine::RunningEngine;
use crate::service::Provider;
use crate::tls::TlsSettings;
use crate::{http_port, pb, tls};
use futures::FutureExt as _;

/// Server-side limit of one gRPC call.
const RPC_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2 keep-alive ping interval and timeout of the gRPC port.
const KEEPALIVE: Duration = Duration::from_secs(20);
/// Largest gRPC message read or written. cluster-autoscaler's Go client refuses answers
/// over 4 MiB, so a larger one fails here with a clear status instead; requests of this
/// protocol are far smaller.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// Calls served at once on one connection (cluster-autoscaler uses one connection and
/// makes a handful of calls at a time); more wait their turn.
pub const MAX_CALLS_PER_CONNECTION: usize = 64;
/// HTTP/2 streams one connection may open at once.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 128;

/// How often the gRPC health status follows readiness.
const HEALTH_POLL: Duration = Duration::from_secs(1);

/// Everything `serve` needs besides its sockets.
#[derive(Debug)]
pub struct ServeConfig {
    /// The validated cloud config.
    pub cloud_config: CloudConfig,
    /// TLS of the gRPC port.
    pub tls: TlsSettings,
    /// Engine tuning (reconcile interval, staleness, ...).
    pub engine: EngineOptions,
    /// Timeout of one Kamatera API request.
    pub api_timeout: Duration,
    /// Start a simulated Kamatera API in-process and use it instead of the real one.
    pub simulate: bool,
    /// How long in-flight calls may take to finish after shutdown starts.
    pub shutdown_grace: Duration,
    /// Keep Kubernetes Nodes in step with the servers, when set.
    pub node_sync: Option<NodeSyncConfig>,
    /// Read the cloud-config file again for rotated API keys, when set (never with
    /// `simulate`).
    pub credentials_reload: Option<CredentialsReload>,
    /// Run as one of several replicas, the leader chosen on a Kubernetes Lease, when set.
    pub leader_election: Option<LeaderElectionSettings>,
    /// Age after which a gRPC connection is closed gracefully (`GOAWAY`; calls in flight
    /// finish) and the client opens a new one, through the Service, to whichever replica
    /// is ready: so that a cluster-autoscaler connected to a leader that stepped down
    /// reaches the new leader (docs/high-availability.md). `None`: never.
    pub grpc_max_connection_age: Option<Duration>,
}

/// Settings of leader election in `serve`.
#[derive(Debug, Clone)]
pub struct LeaderElectionSettings {
    /// Kubeconfig file; `None` uses the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// The Lease and its timings.
    pub election: LeaderElectionConfig,
}

/// Settings of node sync in `serve`.
#[derive(Debug, Clone)]
pub struct NodeSyncConfig {
    /// Kubeconfig file; `None` uses the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// What to do with parked servers' Nodes.
    pub parked_node_action: ParkedNodeAction,
}

/// The bound sockets.
#[derive(Debug)]
pub struct Listeners {
    /// The gRPC port.
    pub grpc: TcpListener,
    /// The plaintext HTTP port (health, readiness, metrics).
    pub http: TcpListener,
}

/// Why `serve` could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The cloud config gives no API credentials.
    #[error(
        "no Kamatera API credentials: set kamatera-api-client-id and kamatera-api-secret, or KAMATERA_API_CLIENT_ID and KAMATERA_API_SECRET (or use --simulate)"
    )]
    NoCredentials,
    /// The API client could not be built.
    #[error("cannot build the Kamatera API client")]
    Client(#[source] kamatera_api::Error),
    /// The engine could not be built.
    #[error("cannot start the node-group engine")]
    Engine(#[source] kamatera_nodegroups::engine::Error),
    /// Node sync could not reach Kubernetes.
    #[error("node sync")]
    NodeSync(#[source] NodeSyncError),
    /// Leader election could not build its Kubernetes client.
    #[error("leader election")]
    LeaderElection(#[source] NodeSyncError),
    /// The simulator could not be started.
    #[cfg(feature = "simulate")]
    #[error("cannot start the simulated Kamatera API")]
    Simulator(#[source] kamatera_sim::SimError),
    /// `--simulate` was asked of a binary built without the simulator.
    #[error(
        "--simulate is not available: this binary was built without the simulator (cargo feature `simulate`); use a build with default features, e.g. `cargo run -p kamatera-provider-grpc -- serve --simulate ...`"
    )]
    SimulatorNotBuilt,
    /// The gRPC server failed.
    #[error("gRPC server")]
    Grpc(#[source] tonic::transport::Error),
    /// The TLS certificate, key or client CA cannot be used.
    #[error("TLS")]
    Tls(#[source] crate::tls::TlsError),
    /// Reflection could not be set up.
    #[error("gRPC reflection")]
    Reflection(#[source] tonic_reflection::server::Error),
    /// The HTTP server failed.
    #[error("HTTP server")]
    Http(#[source] std::io::Error),
    /// A server task panicked or was aborted.
    #[error("a server task ended abnormally")]
    Task(#[source] tokio::task::JoinError),
}

/// Whether this build contains the in-process simulator (cargo feature `simulate`, on by
/// default; release images are built without it).
pub const SIMULATOR_BUILT: bool = cfg!(feature = "simulate");

/// Decides whether `--simulate` (`requested`) can be honoured by a build with or without
/// the simulator (`built`, normally [`SIMULATOR_BUILT`]): asking a build without it is an
/// error that says so, instead of silently talking to the real API.
pub fn check_simulate(requested: bool, built: bool) -> Result<(), ServeError> {
    if requested && !built {
        Err(ServeError::SimulatorNotBuilt)
    } else {
        Ok(())
    }
}

/// The in-process simulator behind `--simulate`.
#[cfg(feature = "simulate")]
mod simulator {
    use kamatera_nodegroups::{CloudConfig, Credentials};
    use kamatera_sim::{ClockMode, SimConfig, Simulator};
    use secrecy::SecretString;

    use super::ServeError;

    /// A running simulator.
    pub(super) type Handle = kamatera_sim::SimHandle;

    /// Credentials of the in-process simulator; not secret, it is local.
    const CLIENT_ID: &str = "simulate";
    const SECRET: &str = "simulate-secret";

    /// Starts the simulator and points `config` at it.
    pub(super) async fn start(config: &mut CloudConfig) -> Result<Handle, ServeError> {
        let (url, sim) = Simulator::start(
            SimConfig::default()
                .with_clock(ClockMode::Real { scale: 1.0 })
                .with_credentials(CLIENT_ID, SECRET),
        )
        .await
        .map_err(ServeError::Simulator)?;
        config.api_url = url.to_string();
        config.credentials = Some(Credentials {
            client_id: SecretString::from(CLIENT_ID),
            secret: SecretString::from(SECRET),
        });
        tracing::warn!(
            api_url = %url,
            "SIMULATION MODE: the Kamatera API is simulated in this process; no real server is created, changed or deleted, and nothing is billed"
        );
        Ok(sim)
    }

    /// Stops the simulator after the engine has stopped using it.
    pub(super) async fn stop(sim: Handle) {
        if let Err(error) = sim.shutdown().await {
            let error = crate::error_chain::ErrorChain(&error);
            tracing::warn!(%error, "the simulator did not stop cleanly");
        }
    }
}

/// Stand-in for a build without the simulator: [`check_simulate`] refuses `--simulate`
/// before anything would start it.
#[cfg(not(feature = "simulate"))]
mod simulator {
    use kamatera_nodegroups::CloudConfig;

    use super::ServeError;

    /// No simulator can exist in this build.
    pub(super) enum Handle {}

    /// Always refuses: this build has no simulator.
    pub(super) async fn start(_config: &mut CloudConfig) -> Result<Handle, ServeError> {
        Err(ServeError::SimulatorNotBuilt)
    }

    /// Nothing to stop: no value of [`Handle`] exists.
    pub(super) async fn stop(sim: Handle) {
        match sim {}
    }
}

fn api_client(
    config: &CloudConfig,
    timeout: Duration,
    metrics: &Metrics,
) -> Result<Client, ServeError> {
    client_builder(config, timeout)?
        .observer(metrics.api.clone())
        .build()
        .map_err(ServeError::Client)
}

/// A Kamatera API client builder for `config` (credentials, URL, timeout, user agent).
pub fn client_builder(
    config: &CloudConfig,
    timeout: Duration,
) -> Result<kamatera_api::ClientBuilder, ServeError> {
    let credentials = config
        .credentials
        .as_ref()
        .ok_or(ServeError::NoCredentials)?;
    Ok(Client::builder()
        .base_url(config.api_url.clone())
        .credentials(credentials.client_id.clone(), credentials.secret.clone())
        .timeout(timeout)
        .max_response_bytes(config.api_max_response_bytes)
        .user_agent(concat!(
            "kamatera-provider-grpc/",
            env!("CARGO_PKG_VERSION")
        )))
}

/// Keeps the gRPC health status of the service in step with readiness.
async fn follow_readiness(
    reporter: tonic_health::server::HealthReporter,
    background: Arc<RunningEngine>,
    shutdown: CancellationToken,
) {
    let mut last = None;
    loop {
        let status = if shutdown.is_cancelled() || !background.is_ready() {
            ServingStatus::NotServing
        } else {
            ServingStatus::Serving
        };
        if last != Some(status) {
            reporter.set_service_status(pb::SERVICE_NAME, status).await;
            last = Some(status);
        }
        tokio::select! {
            () = shutdown.cancelled() => {
                reporter.set_service_status(pb::SERVICE_NAME, ServingStatus::NotServing).await;
                return;
            }
            () = tokio::time::sleep(HEALTH_POLL) => {}
        }
    }
}

/// Serves until `shutdown` is cancelled: then stops accepting, lets in-flight calls finish
/// (up to `shutdown_grace`), stops the background work and returns.
pub async fn run(
    mut config: ServeConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    // Everything that can fail at start-up is checked before any background work starts.
    check_simulate(config.simulate, SIMULATOR_BUILT)?;
    let mut builder = Server::builder()
        // Every call answers at once (Cleanup waits at most ~15 s for the reconciler); a
        // call still open after this is a stuck client or a bug.
        .timeout(RPC_TIMEOUT)
        // Finds connections of clients that went away without closing them.
        .http2_keepalive_interval(Some(KEEPALIVE))
        .http2_keepalive_timeout(Some(KEEPALIVE))
        .concurrency_limit_per_connection(MAX_CALLS_PER_CONNECTION)
        .max_concurrent_streams(Some(MAX_STREAMS_PER_CONNECTION));
    if let Some(age) = config.grpc_max_connection_age {
        // Without `max_connection_age_grace`: with it, tonic 0.14 skips the graceful
        // GOAWAY at `age` and closes the connection only at `age` + grace. Calls open past
        // the age end by RPC_TIMEOUT anyway.
        builder = builder.max_connection_age(age);
    }
    let tls_config = config.tls.server_config().map_err(ServeError::Tls)?;
    if config.tls.describe() == "tls" {
        tracing::warn!(
            "TLS without --tls-client-ca: any client that reaches the gRPC port may scale the cluster (create and delete servers); add --tls-client-ca for mutual TLS"
        );
    }
    let grpc_addr = listeners.grpc.local_addr().map_err(ServeError::Http)?;
    let http_addr = listeners.http.local_addr().map_err(ServeError::Http)?;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(ServeError::Reflection)?;
    // grpcurl and older tools still ask the v1alpha service.
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(ServeError::Reflection)?;

    // A Kubernetes client that cannot be configured is a start-up error, not a silent
    // "no node sync".
    let kube = match &config.node_sync {
        Some(sync) => Some(
            node_sync::kube_client(sync.kubeconfig.as_deref())
                .await
                .map_err(ServeError::NodeSync)?,
        ),
        None => None,
    };
    let election_kube = match &config.leader_election {
        Some(settings) => Some(
            node_sync::kube_client(settings.kubeconfig.as_deref())
                .await
                .map_err(ServeError::LeaderElection)?,
        ),
        None => None,
    };
    // With leader election every replica starts as a standby: none changes the cloud
    // before it holds the lease.
    config.engine.start_as_standby = config.leader_election.is_some();
    let sim = if config.simulate {
        Some(simulator::start(&mut config.cloud_config).await?)
    } else {
        None
    };
    let reconcile_interval = config.engine.reconcile_interval;
    let mut metrics = Metrics::new();
    metrics
        .grpc
        .start_groups(config.cloud_config.node_groups.keys());
    // Per-group node sync counters at zero too, so every documented metric is on
    // /metrics from the start (node sync on or off).
    for group in config.cloud_config.node_groups.keys() {
        let labels = [("node_group", group.clone())];
        drop(metrics.node_sync.labels_patched.get_or_create(&labels));
        drop(metrics.node_sync.label_conflicts.get_or_create(&labels));
    }
    let client = api_client(&config.cloud_config, config.api_timeout, &metrics)?;
    if let Some(reload) = config.credentials_reload.clone()
        && !config.simulate
    {
        tokio::spawn(crate::credentials_reload::follow(
            reload,
            client.clone(),
            config.cloud_config.credentials.clone(),
            kamatera_nodegroups::config::process_env,
            shutdown.child_token(),
        ));
    }
    let groups = config.cloud_config.node_groups.len();
    let background = RunningEngine::start(
        Arc::new(config.cloud_config),
        client,
        config.engine,
        shutdown.child_token(),
    )
    .map_err(ServeError::Engine)?;
    metrics.attach_engine(background.clone());
    let metrics = Arc::new(metrics);
    let node_sync_task = match (kube, &config.node_sync) {
        (Some(client), Some(sync)) => {
            let settings = NodeSyncSettings {
                parked_node_action: sync.parked_node_action,
                // Parking and adoption happen between Node events; a resync reads the
                // local store (no API call unless a Node needs a write), so it can follow
                // the engine's cadence.
                resync_interval: reconcile_interval,
                ..NodeSyncSettings::default()
            };
            let source = background.clone();
            tracing::info!(parked_node_action = %sync.parked_node_action, "node sync on");
            Some(tokio::spawn(node_sync::run(
                move || source.engine(),
                client,
                settings,
                metrics.node_sync.clone(),
                shutdown.child_token(),
            )))
        }
        _ => None,
    };

    // Stopped after the reconciler, so that the lease is released with the last work in
    // flight once nothing more is sent.
    let election_stop = CancellationToken::new();
    let election = match (election_kube, &config.leader_election) {
        (Some(client), Some(settings)) => {
            let election =
                LeaderElection::new(settings.election.clone(), client, background.engine());
            tracing::info!(
                lease = %settings.election.lease_name,
                namespace = %settings.election.namespace,
                identity = %settings.election.identity,
                "leader election on; starting as a standby"
            );
            let task = tokio::spawn(election.clone().run(election_stop.clone()));
            Some((election, task))
        }
        _ => None,
    };
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let mut provider = Provider::new(background.clone(), metrics.grpc.clone());
    let mut status_service = StatusService::new(background.clone());
    if let Some((election, _)) = &election {
        provider = provider.with_leader_election(election.clone());
        status_service = status_service.with_leader_election(election.clone());
    }
    let grpc_shutdown = shutdown.clone();
    let router = builder
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(ProviderStatusServer::new(status_service))
        .add_service(
            CloudProviderServer::new(provider)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        );
    let grpc: JoinHandle<Result<(), ServeError>> = match tls_config {
        None => tokio::spawn(async move {
            router
                .serve_with_incoming_shutdown(
                    // Answers of a few KiB would otherwise wait for the client's delayed
                    // ACK (Nagle): tonic sets this only on sockets it binds itself.
                    TcpIncoming::from(listeners.grpc).with_nodelay(Some(true)),
                    grpc_shutdown.cancelled_owned(),
                )
                .await
                .map_err(ServeError::Grpc)
        }),
        Some(server_config) => {
            let current = tls::CurrentConfig::new(server_config);
            if let TlsSettings::Tls {
                reload: Some(reload),
                ..
            } = &config.tls
            {
                tokio::spawn(tls::watch(
                    reload.clone(),
                    config.tls.clone(),
                    current.clone(),
                    shutdown.child_token(),
                ));
            }
            let incoming = tls::incoming(listeners.grpc, current, shutdown.child_token());
            tokio::spawn(async move {
                router
                    .serve_with_incoming_shutdown(incoming, grpc_shutdown.cancelled_owned())
                    .await
                    .map_err(ServeError::Grpc)
            })
        }
    };
    let app = http_port::router(background.clone(), metrics.clone());
    let http: JoinHandle<Result<(), ServeError>> =
        tokio::spawn(http_port::serve(listeners.http, app, shutdown.clone()).map(Ok));
    let health = tokio::spawn(follow_readiness(
        reporter,
        background.clone(),
        shutdown.clone(),
    ));
    tracing::info!(
        version = crate::build_info::VERSION,
        commit = crate::build_info::COMMIT,
        grpc = %grpc_addr,
        http = %http_addr,
        tls = config.tls.describe(),
        groups,
        "serving cluster-autoscaler externalgrpc"
    );

    let result = wait(grpc, http, &shutdown, config.shutdown_grace).await;
    if let Some(task) = node_sync_task
        && let Err(error) = task.await
    {
        tracing::warn!(%error, "node sync did not stop cleanly");
    }
    background.stop().await;
    election_stop.cancel();
    if let Some((_, task)) = election
        && let Err(error) = task.await
    {
        tracing::warn!(%error, "leader election did not stop cleanly");
    }
    health.abort();
    if let Some(sim) = sim {
        simulator::stop(sim).await;
    }
    tracing::info!("stopped");
    result
}

/// Waits for shutdown (or a server failing, which starts the shutdown), then for both
/// servers to drain within `grace`.
async fn wait(
    mut grpc: JoinHandle<Result<(), ServeError>>,
    mut http: JoinHandle<Result<(), ServeError>>,
    shutdown: &CancellationToken,
    grace: Duration,
) -> Result<(), ServeError> {
    let mut first = Ok(());
    let mut grpc_done = false;
    let mut http_done = false;
    tokio::select! {
        () = shutdown.cancelled() => {}
        joined = &mut grpc => {
            grpc_done = true;
            first = flatten(joined);
        }
        joined = &mut http => {
            http_done = true;
            first = flatten(joined);
        }
    }
    shutdown.cancel();
    tracing::info!("shutting down: no new connections; finishing calls in flight");
    let drain = async {
        let grpc_result = if grpc_done {
            Ok(())
        } else {
            flatten((&mut grpc).await)
        };
        let http_result = if http_done {
            Ok(())
        } else {
            flatten((&mut http).await)
        };
        grpc_result.and(http_result)
    };
    let rest = match tokio::time::timeout(grace, drain).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                ?grace,
                "calls still in flight after the grace period were dropped"
            );
            grpc.abort();
            http.abort();
            Ok(())
        }
    };
    first.and(rest)
}

fn flatten(
    joined: Result<Result<(), ServeError>, tokio::task::JoinError>,
) -> Result<(), ServeError> {
    joined.map_err(ServeError::Task)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulate_in_a_build_without_the_simulator_is_a_clear_error() {
        let error = check_simulate(true, false).expect_err("must refuse");
        assert!(matches!(error, ServeError::SimulatorNotBuilt), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains("--simulate")
                && message.contains("built without the simulator")
                && message.contains("`simulate`"),
            "{message}"
        );
    }

    #[test]
    fn simulate_is_accepted_when_built_in_and_not_needed_when_not_asked() {
        assert!(check_simulate(true, true).is_ok());
        assert!(check_simulate(false, false).is_ok());
        assert!(check_simulate(false, true).is_ok());
    }
}
