//! The controller loop: watches Nodes, and for each Node event (and every resync interval,
//! for every Node) plans a change with [`decide::plan`] and carries it out with retries.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use backon::BackoffBuilder;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, NodeSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kamatera_nodegroups::Engine;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::decide::{self, Plan, ServerFacts};
use super::metrics::NodeSyncMetrics;
use super::settings::NodeSyncSettings;

/// Seconds the API server keeps one watch request open before the watcher re-watches from
/// the last resource version (no re-list). Short enough that a silently dead connection is
/// noticed within about a minute and a half (the watcher adds its own idle margin).
pub(crate) const WATCH_TIMEOUT_SECS: u32 = 60;

/// Field manager recorded on every patch, so `kubectl get node -o yaml --show-managed-fields`
/// tells who changed the Node.
const FIELD_MANAGER: &str = "kamatera-node-sync";

/// Where the controller gets the engine from. It asks again for every plan, because the
/// serve command may replace its engine (after cluster-autoscaler's `Cleanup`): a handle kept
/// for ever would read a stopped engine's frozen snapshot, and new servers would never get
/// their provider ids.
///
/// Implemented for [`Engine`] itself (a fixed engine) and for closures returning the current
/// one, e.g. `move || background.engine()`.
pub trait EngineSource: Send + Sync + 'static {
    /// The engine to read now.
    fn current(&self) -> Engine;
}

impl EngineSource for Engine {
    fn current(&self) -> Engine {
        self.clone()
    }
}

impl<F> EngineSource for F
where
    F: Fn() -> Engine + Send + Sync + 'static,
{
    fn current(&self) -> Engine {
        self()
    }
}

/// Runs the node-sync controller until `cancel` is cancelled.
///
/// Spawn it on its own task next to the gRPC server: it only reads the engine's snapshot (as
/// the RPCs do), never holds anything the RPCs wait for, and returns promptly once `cancel`
/// fires, even in the middle of a retry. Failures of the Kubernetes API are counted, logged
/// and retried; nothing makes it return early.
pub async fn run(
    engine: impl EngineSource,
    client: kube::Client,
    settings: NodeSyncSettings,
    metrics: NodeSyncMetrics,
    cancel: CancellationToken,
) {
    let api: Api<Node> = Api::all(client);
    let (store, writer) = reflector::store();
    let events = watcher::watcher(
        api.clone(),
        watcher::Config::default().timeout(WATCH_TIMEOUT_SECS),
    )
    .default_backoff()
    .reflect(writer);
    let mut events = pin!(events);

    let mut resync = tokio::time::interval(settings.resync_interval.max(Duration::from_millis(1)));
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut worker = Worker {
        api,
        engine: Box::new(engine),
        settings,
        metrics,
        reported: HashSet::new(),
        superseded: HashMap::new(),
    };
    // The store only holds every Node once the first list finished; resyncing before that
    // would see a partial picture (harmless, but pointless).
    let mut listed = false;
    info!(
        parked_node_action = %worker.settings.parked_node_action,
        resync_interval = ?worker.settings.resync_interval,
        "node sync started"
    );

    loop {
        let step = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            event = events.next() => Step::Event(event.map(|e| e.map(Box::new))),
            _ = resync.tick() => Step::Resync,
        };
        let work = async {
            match step {
                Step::Event(Some(Ok(event))) => worker.on_event(*event, &mut listed).await,
                Step::Event(Some(Err(error))) => {
                    // The watcher backs off (jittered, growing) and then lists or watches
                    // again on its own; a closed stream is not an error, so this is real.
                    worker.metrics.api_errors.inc();
                    warn!(%error, "watching nodes failed; retrying with backoff");
                }
                Step::Event(None) => {
                    // A watcher stream never ends by itself; treat it as shutdown.
                    warn!("node watch ended unexpectedly; node sync stops");
                    return false;
                }
                Step::Resync if listed => worker.resync(&store).await,
                Step::Resync => {}
            }
            true
        };
        match cancel.run_until_cancelled(work).await {
            Some(true) => {}
            Some(false) | None => break,
        }
    }
    info!("node sync stopped");
}

enum Step {
    // Boxed: a Node is large, and most loop turns carry none.
    Event(Option<Result<Box<Event<Node>>, watcher::Error>>),
    Resync,
}

/// Carries out plans; the only writer of Node objects in the process.
struct Worker {
    api: Api<Node>,
    engine: Box<dyn EngineSource>,
    settings: NodeSyncSettings,
    metrics: NodeSyncMetrics,
    /// `(node name, provider id)` pairs already reported as mismatches, so the warning and
    /// the counter fire once per node and value rather than on every event.
    reported: HashSet<(String, String)>,
    /// Node name → the resource version a successful write of ours replaced. Until the
    /// watch delivers the result, the store still holds that old version; planning from it
    /// again would only earn a 409.
    superseded: HashMap<String, String>,
}

/// How one attempt at a Node's change ended.
enum Attempt {
    /// Finished (changed, nothing to do, Node gone, or a failure retrying cannot fix).
    Done,
    /// Read the Node again and plan again after a backoff delay.
    Retry,
}

impl Worker {
    async fn on_event(&mut self, event: Event<Node>, listed: &mut bool) {
        match event {
            Event::Apply(node) | Event::InitApply(node) => self.sync(node).await,
            Event::Delete(node) => {
                if let Some(name) = node.metadata.name.as_deref() {
                    self.reported.retain(|(n, _)| n != name);
                    self.superseded.remove(name);
                }
            }
            Event::Init => {}
            Event::InitDone => *listed = true,
        }
    }

    /// Checks every Node in the store: parking and new engine instances happen without any
    /// Node event, and a change that gave up earlier is tried again.
    async fn resync(&mut self, store: &Store<Node>) {
        let nodes = store.state();
        let names: HashSet<&str> = nodes
            .iter()
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        // Forget reports about Nodes that are gone (a Delete event may have been missed
        // during a re-list).
        self.reported.retain(|(n, _)| names.contains(n.as_str()));
        self.superseded.retain(|n, _| names.contains(n.as_str()));
        for node in nodes {
            self.sync(Node::clone(&node)).await;
        }
        self.metrics.resyncs.inc();
    }

    /// Brings one Node in line with the engine's view, retrying conflicts and transient
    /// failures with a bounded, jittered backoff; each retry reads the Node again and plans
    /// again, since whatever caused the failure may have changed it.
    async fn sync(&mut self, observed: Node) {
        let Some(name) = observed.metadata.name.clone() else {
            return;
        };
        match self.superseded.get(&name) {
            Some(old) if observed.metadata.resource_version.as_ref() == Some(old) => return,
            // A newer version arrived: our write is visible (or overtaken) now.
            Some(_) => {
                self.superseded.remove(&name);
            }
            None => {}
        }
        let mut backoff = self.settings.backoff().build();
        let mut current = Some(observed);
        loop {
            let attempt = match current.take() {
                Some(node) => self.attempt(&name, &node).await,
                None => match self.read(&name).await {
                    Ok(Some(node)) => self.attempt(&name, &node).await,
                    Ok(None) => Attempt::Done,
                    Err(()) => Attempt::Retry,
                },
            };
            if let Attempt::Done = attempt {
                return;
            }
            let Some(delay) = backoff.next() else {
                warn!(node = %name, "node sync gives up on this node until the next resync");
                return;
            };
            tokio::time::sleep(delay).await;
        }
    }

    /// The engine's view of the server named like the Node, at this moment.
    fn facts(&self, name: &str) -> OwnedFacts {
        let engine = self.engine.current();
        if !engine.is_ready() {
            // Nothing listed yet: every server would look unknown anyway; say so plainly.
            return OwnedFacts::Unknown;
        }
        if let Some(expected) = engine.expected_provider_id(name) {
            return OwnedFacts::Managed(expected);
        }
        if engine.parked_servers().iter().any(|n| n == name) {
            let prefix = &engine.config().provider_id_prefix;
            return OwnedFacts::Parked(kamatera_nodegroups::naming::provider_id(prefix, name));
        }
        OwnedFacts::Unknown
    }

    async fn attempt(&mut self, name: &str, node: &Node) -> Attempt {
        let facts = self.facts(name);
        match decide::plan(node, facts.borrow(), self.settings.parked_node_action) {
            Plan::Nothing => Attempt::Done,
            Plan::WaitUntilNotReady => {
                debug!(node = %name, "server is parked but its node is still Ready; waiting");
                Attempt::Done
            }
            Plan::Mismatch { expected, actual } => {
                if self.reported.insert((name.to_owned(), actual.clone())) {
                    self.metrics.provider_id_mismatches.inc();
                    warn!(
                        node = %name,
                        provider_id = %actual,
                        expected = %expected,
                        "node has another provider id than the server's instance id; it is \
                         left as is (cluster-autoscaler will not count it as registered unless \
                         provider-id-prefix matches)"
                    );
                }
                Attempt::Done
            }
            Plan::SetProviderId { provider_id } => {
                let patch = Node {
                    metadata: precondition(node),
                    spec: Some(NodeSpec {
                        provider_id: Some(provider_id.clone()),
                        ..NodeSpec::default()
                    }),
                    status: None,
                };
                let result = self.patch(name, &patch).await;
                self.finish(node, "set provider id", result, |metrics| {
                    metrics.provider_ids_patched.inc();
                    info!(node = %name, %provider_id, "set the node's provider id");
                })
            }
            Plan::DeleteParked => {
                let params = DeleteParams {
                    // Only the Node as planned: if it changed (the server came back and the
                    // kubelet reported Ready, or it was re-registered) the answer is 409 and
                    // the plan is made again from the fresh object.
                    preconditions: Some(Preconditions {
                        resource_version: node.metadata.resource_version.clone(),
                        uid: node.metadata.uid.clone(),
                    }),
                    ..DeleteParams::default()
                };
                let result = self.timed(self.api.delete(name, &params)).await.map(|_| ());
                self.finish(node, "delete parked node", result, |metrics| {
                    metrics.parked_nodes_deleted.inc();
                    info!(node = %name, "deleted the node of a parked server");
                })
            }
            Plan::ClearAutoscalerMarks { taints } => {
                // A merge patch replaces the taint list as a whole; the resource-version
                // precondition makes sure no taint added meanwhile is lost.
                let patch = Node {
                    metadata: precondition(node),
                    spec: Some(NodeSpec {
                        unschedulable: Some(false),
                        taints: Some(taints),
                        ..NodeSpec::default()
                    }),
                    status: None,
                };
                let result = self.patch(name, &patch).await;
                self.finish(node, "clear autoscaler marks", result, |metrics| {
                    metrics.parked_nodes_cleared.inc();
                    info!(
                        node = %name,
                        "made the parked server's node schedulable and removed the \
                         autoscaler's taints"
                    );
                })
            }
        }
    }

    async fn patch(&self, name: &str, patch: &Node) -> Result<(), Failure> {
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        self.timed(self.api.patch(name, &params, &Patch::Merge(patch)))
            .await
            .map(|_| ())
    }

    /// Reads the Node afresh; `Ok(None)` when it is gone.
    async fn read(&self, name: &str) -> Result<Option<Node>, ()> {
        match self.timed(self.api.get_opt(name)).await {
            Ok(node) => Ok(node),
            Err(failure) => {
                self.metrics.api_errors.inc();
                debug!(node = %name, error = %failure, "reading node failed; will retry");
                Err(())
            }
        }
    }

    /// Runs one API call with the request timeout.
    async fn timed<T>(
        &self,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.settings.request_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(Failure::Api(error)),
            Err(_) => Err(Failure::Timeout(self.settings.request_timeout)),
        }
    }

    /// Counts and logs the end of a write and says whether to retry.
    fn finish(
        &mut self,
        node: &Node,
        action: &'static str,
        result: Result<(), Failure>,
        on_success: impl FnOnce(&NodeSyncMetrics),
    ) -> Attempt {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let failure = match result {
            Ok(()) => {
                on_success(&self.metrics);
                if let Some(version) = &node.metadata.resource_version {
                    self.superseded.insert(name.to_owned(), version.clone());
                }
                return Attempt::Done;
            }
            Err(failure) => failure,
        };
        match failure.class() {
            FailureClass::NotFound => {
                debug!(node = %name, action, "node is gone");
                Attempt::Done
            }
            FailureClass::Conflict => {
                self.metrics.conflicts.inc();
                debug!(node = %name, action, "node changed meanwhile; planning again");
                Attempt::Retry
            }
            FailureClass::Transient => {
                self.metrics.api_errors.inc();
                warn!(node = %name, action, error = %failure, "node write failed; will retry");
                Attempt::Retry
            }
            FailureClass::Permanent => {
                self.metrics.api_errors.inc();
                warn!(
                    node = %name,
                    action,
                    error = %failure,
                    "node write rejected; trying again at the next resync"
                );
                Attempt::Done
            }
        }
    }
}

/// Metadata for a patch that only applies to the Node version it was planned from.
fn precondition(node: &Node) -> ObjectMeta {
    ObjectMeta {
        resource_version: node.metadata.resource_version.clone(),
        ..ObjectMeta::default()
    }
}

/// [`ServerFacts`] with owned strings, so the engine's snapshot is not borrowed across
/// awaits.
enum OwnedFacts {
    Unknown,
    Managed(String),
    Parked(String),
}

impl OwnedFacts {
    fn borrow(&self) -> ServerFacts<'_> {
        match self {
            OwnedFacts::Unknown => ServerFacts::Unknown,
            OwnedFacts::Managed(expected) => ServerFacts::Managed {
                expected_provider_id: expected,
            },
            OwnedFacts::Parked(id) => ServerFacts::Parked { provider_id: id },
        }
    }
}

/// A failed call to the Kubernetes API.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// The API server or the transport reported an error.
    #[error(transparent)]
    Api(kube::Error),
    /// No answer within the request timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// What a failure means for the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureClass {
    /// The Node does not exist (any more): nothing left to do.
    NotFound,
    /// The Node changed since it was read (409): read it again and plan again.
    Conflict,
    /// Worth retrying: timeouts, transport errors, 429 and 5xx.
    Transient,
    /// Retrying the same request cannot help (403 without RBAC, 422 invalid, …).
    Permanent,
}

impl Failure {
    pub(crate) fn class(&self) -> FailureClass {
        match self {
            Failure::Timeout(_) => FailureClass::Transient,
            Failure::Api(kube::Error::Api(status)) => match status.code {
                404 => FailureClass::NotFound,
                409 => FailureClass::Conflict,
                408 | 429 | 500..=599 => FailureClass::Transient,
                _ => FailureClass::Permanent,
            },
            // Transport, TLS, decoding of a half-received body, …: another try may work.
            Failure::Api(_) => FailureClass::Transient,
        }
    }
}

#[cfg(test)]
mod tests {
    use kube::core::Status;

    use super::*;

    fn api(code: u16) -> Failure {
        Failure::Api(kube::Error::Api(Box::new(
            Status::failure("test", "Test").with_code(code),
        )))
    }

    #[test]
    fn failures_are_classified_for_retrying() {
        assert_eq!(api(404).class(), FailureClass::NotFound);
        assert_eq!(api(409).class(), FailureClass::Conflict);
        for code in [408, 429, 500, 502, 503, 504] {
            assert_eq!(api(code).class(), FailureClass::Transient, "{code}");
        }
        for code in [400, 401, 403, 422] {
            assert_eq!(api(code).class(), FailureClass::Permanent, "{code}");
        }
        assert_eq!(
            Failure::Timeout(Duration::from_secs(1)).class(),
            FailureClass::Transient
        );
    }

    #[test]
    fn patches_carry_only_the_resource_version_precondition() {
        let node = Node {
            metadata: ObjectMeta {
                name: Some("n".to_owned()),
                resource_version: Some("42".to_owned()),
                uid: Some("u".to_owned()),
                labels: Some([("a".to_owned(), "b".to_owned())].into()),
                ..ObjectMeta::default()
            },
            ..Node::default()
        };
        let patch = Node {
            metadata: precondition(&node),
            spec: Some(NodeSpec {
                provider_id: Some("kamatera://n".to_owned()),
                ..NodeSpec::default()
            }),
            status: None,
        };
        let json = serde_json::to_value(&patch).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"resourceVersion": "42"},
                "spec": {"providerID": "kamatera://n"},
            })
        );
    }
}
