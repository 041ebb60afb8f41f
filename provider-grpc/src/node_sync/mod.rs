//! Kubernetes node sync: an optional controller that keeps Node objects in line with the
//! servers the provider manages.
//!
//! * cluster-autoscaler counts a server as registered only when some Node has
//!   `spec.providerID` equal to the instance id the provider reports. Nodes joined by
//!   Rancher or kubeadm often have none, so CA would delete every new server after
//!   `max-node-provision-time`. When a Node is named like a server of a managed node group
//!   and has no provider id, the controller sets it to `<provider-id-prefix><server name>`.
//!   A different, non-empty provider id is never overwritten (Kubernetes forbids it); it is
//!   logged once and counted, and such a Node is not changed at all.
//! * The same patch adds the labels the group's scale-from-zero template advertises and a
//!   kubelet does not set (instance type, region, `template-label`s; see
//!   [`node_sync_labels`](kamatera_nodegroups::template::node_sync_labels)) when
//!   the Node lacks them, as a cloud controller manager would. A label the Node has with
//!   another value is never changed; it is logged once and counted per node group.
//! * A parked server (powered off for reuse) leaves a NotReady Node behind that counts
//!   against CA's cluster-health thresholds. Once it is NotReady the controller deletes it
//!   (the kubelet registers it again on power-on), or, with [`ParkedNodeAction::ClearMarks`],
//!   keeps it and clears CA's scale-down marks as the in-tree provider does.
//!
//! The controller is the only writer of Node objects: the RPCs (`NodeGroupForNode` and the
//! rest) only read the engine. It runs on kube-rs's `Controller`: a watch keeps every Node
//! in a cache, and each Node is checked on its own (several side by side, never one Node
//! twice at once) when it changes and every [`NodeSyncSettings::resync_interval`], because
//! parking happens without any Node event. A check reads the cache and calls the API only
//! when the Node needs a change. Every write carries the Node's resource version as a
//! precondition; a conflict reads the Node afresh and plans once more. A Node whose change
//! failed is tried again after its own growing, jittered delay (until it succeeds, the Node
//! changes, or it is gone) while the other Nodes go on. The behaviour is described for
//! operators in `docs/node-sync.md`.
//!
//! The engine is read through an [`EngineSource`] for every plan, so the controller follows
//! the serve command when it replaces its engine after `Cleanup`.
//!
//! Required RBAC: `nodes: get, list, watch, patch, delete` (cluster scope).
//!
//! ```no_run
//! # async fn wire(engine: kamatera_nodegroups::Engine) -> Result<(), Box<dyn std::error::Error>> {
//! use kamatera_provider_grpc::node_sync::{self, NodeSyncMetrics, NodeSyncSettings};
//! use tokio_util::sync::CancellationToken;
//!
//! let cancel = CancellationToken::new();
//! let mut registry = prometheus_client::registry::Registry::default();
//! let metrics = NodeSyncMetrics::default();
//! metrics.register(&mut registry);
//! let client = node_sync::kube_client(None).await?; // in-cluster
//! let task = tokio::spawn(node_sync::run(
//!     engine,
//!     client,
//!     NodeSyncSettings::default(),
//!     metrics,
//!     cancel.clone(),
//! ));
//! // … serve; on shutdown:
//! cancel.cancel();
//! task.await?;
//! # Ok(())
//! # }
//! ```

mod controller;
mod decide;
mod metrics;
mod settings;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{InClusterError, KubeConfigOptions, Kubeconfig, KubeconfigError};

pub use controller::{EngineSource, MAX_CONCURRENT_RECONCILES, run};
pub use metrics::NodeSyncMetrics;
pub use settings::{NodeSyncSettings, ParkedNodeAction};

/// Time allowed to open a connection to the API server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed to send a request.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the next bytes of a response. It must exceed the watch timeout, since a
/// quiet watch sends nothing until the API server ends it; it bounds a hung list or read.
const READ_TIMEOUT: Duration = Duration::from_secs(controller::WATCH_TIMEOUT_SECS as u64 + 30);

/// Why a Kubernetes client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeSyncError {
    /// The kubeconfig file could not be read or used.
    #[error("cannot use kubeconfig {}", path.display())]
    Kubeconfig {
        /// The file given with `--kubeconfig`.
        path: PathBuf,
        /// What was wrong with it.
        #[source]
        source: KubeconfigError,
    },
    /// No kubeconfig was given and the in-cluster configuration (service-account token and
    /// `KUBERNETES_SERVICE_HOST`) is not available.
    #[error("no in-cluster Kubernetes configuration (outside a cluster, pass --kubeconfig)")]
    InCluster(#[source] InClusterError),
    /// The client could not be built from the configuration (TLS setup, for example).
    #[error("cannot build the Kubernetes client")]
    Client(#[source] kube::Error),
}

/// A Kubernetes client from the kubeconfig file at `kubeconfig` (its current context), or
/// from the in-cluster service account when `None`.
///
/// Connecting, sending and each wait for response bytes are bounded; the controller adds
/// an overall timeout to every single-object call.
pub async fn kube_client(kubeconfig: Option<&Path>) -> Result<kube::Client, NodeSyncError> {
    let mut config = match kubeconfig {
        Some(path) => {
            let kubeconfig_error = |source| NodeSyncError::Kubeconfig {
                path: path.to_owned(),
                source,
            };
            let file = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(kubeconfig_error)?
        }
        None => kube::Config::incluster().map_err(NodeSyncError::InCluster)?,
    };
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.write_timeout = Some(WRITE_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    kube::Client::try_from(config).map_err(NodeSyncError::Client)
}
