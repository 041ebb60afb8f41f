//! The controller: kube-rs's [`Controller`] watches Nodes into a cache and calls
//! [`reconcile`] for one Node at a time (never twice at once for the same Node, several
//! Nodes side by side), on every change of the Node and once per resync interval for every
//! Node. A reconcile plans with [`decide::plan`] from the cached Node and the engine's view,
//! and makes at most one write (plus one fresh read after a conflict). A Node whose write
//! failed is tried again after its own growing delay; other Nodes do not wait for it.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, NodeSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kamatera_nodegroups::Engine;
use kamatera_nodegroups::engine::Role;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::decide::{self, Plan, ServerFacts};
use super::metrics::{NodeSyncMetrics, node_group};
use super::settings::NodeSyncSettings;

/// Seconds the API server keeps one watch request open before the watcher re-watches from
/// the last resource version (no re-list). Short enough that a silently dead connection is
/// noticed within about a minute and a half (the watcher adds its own idle margin).
pub(crate) const WATCH_TIMEOUT_SECS: u32 = 60;

/// Field manager recorded on every patch, so `kubectl get node -o yaml --show-managed-fields`
/// tells who changed the Node.
const FIELD_MANAGER: &str = "kamatera-node-sync";

/// Nodes reconciled at the same time at most: enough that a few slow or hanging Nodes do
/// not hold up the rest, few enough not to flood the API server after a start with many
/// Nodes to patch.
pub const MAX_CONCURRENT_RECONCILES: u16 = 16;

/// How long [`run`] waits after cancellation for the controller to wind down. Reconciles
/// end at once on cancellation; this bounds the case of a watch that never listed (the
/// controller holds its queue until the first list completes).
const SHUTDOWN_BOUND: Duration = Duration::from_millis(500);

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
/// fires, even in the middle of a request or a retry delay. Failures of the Kubernetes API
/// are counted, logged and retried; nothing makes it return early.
pub async fn run(
    engine: impl EngineSource,
    client: kube::Client,
    settings: NodeSyncSettings,
    metrics: NodeSyncMetrics,
    cancel: CancellationToken,
) {
    let api: Api<Node> = Api::all(client);
    info!(
        parked_node_action = %settings.parked_node_action,
        resync_interval = ?settings.resync_interval,
        "node sync started"
    );
    let resync_interval = settings.resync_interval.max(Duration::from_millis(1));
    let context = Arc::new(Context {
        api: api.clone(),
        engine: Box::new(engine),
        settings,
        metrics,
        cancel: cancel.clone(),
        memory: Mutex::default(),
    });
    let controller = Controller::new(api, watcher::Config::default().timeout(WATCH_TIMEOUT_SECS))
        .with_config(controller::Config::default().concurrency(MAX_CONCURRENT_RECONCILES));
    let resyncs = resync_ticks(resync_interval, controller.store(), context.clone());
    let shutdown = {
        let cancel = cancel.clone();
        async move { cancel.cancelled().await }
    };
    let results = controller
        .reconcile_all_on(resyncs)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context.clone())
        .for_each(|result| {
            context.on_result(result);
            std::future::ready(())
        });
    tokio::select! {
        () = results => {}
        () = async {
            cancel.cancelled().await;
            tokio::time::sleep(SHUTDOWN_BOUND).await;
        } => debug!("node sync did not wind down in time; dropping it"),
    }
    info!("node sync stopped");
}

/// One tick per resync interval (the first after one interval), each asking for a check of
/// every cached Node. A tick also forgets what the controller remembered about Nodes that
/// are gone.
fn resync_ticks(
    every: Duration,
    store: Store<Node>,
    context: Arc<Context>,
) -> impl Stream<Item = ()> + Send + Sync + 'static {
    let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    futures::stream::unfold(
        (ticks, store, context),
        |(mut ticks, store, context)| async move {
            ticks.tick().await;
            let names: HashSet<String> = store
                .state()
                .iter()
                .filter_map(|node| node.metadata.name.clone())
                .collect();
            context.memory().retain_nodes(&names);
            context.metrics.resyncs.inc();
            Some(((), (ticks, store, context)))
        },
    )
}

/// What every reconcile shares.
struct Context {
    api: Api<Node>,
    engine: Box<dyn EngineSource>,
    settings: NodeSyncSettings,
    metrics: NodeSyncMetrics,
    cancel: CancellationToken,
    memory: Mutex<Memory>,
}

/// What the controller remembers between reconciles, per Node name.
#[derive(Default)]
struct Memory {
    /// `(node, what, value)` already reported (a provider id, or a label key, with the
    /// value found), so the warning and the counter fire once per Node and value rather
    /// than on every check.
    reported: HashSet<(String, String, String)>,
    /// Resource versions a successful write of ours replaced. Until the watch delivers the
    /// result, the cache still holds such a version; planning from it again would only earn
    /// a 409.
    superseded: HashMap<String, Vec<String>>,
    /// Nodes whose last try failed, with their backoff.
    failing: HashMap<String, Failing>,
}

/// A Node whose change failed: not tried again before `retry_at` unless it changes.
struct Failing {
    backoff: ExponentialBackoff,
    retry_at: Instant,
    /// The version the failed try was planned from.
    resource_version: Option<String>,
}

impl Memory {
    fn retain_nodes(&mut self, names: &HashSet<String>) {
        self.reported.retain(|(node, _, _)| names.contains(node));
        self.superseded.retain(|node, _| names.contains(node));
        self.failing.retain(|node, _| names.contains(node));
    }

    fn forget(&mut self, name: &str) {
        self.reported.retain(|(node, _, _)| node != name);
        self.superseded.remove(name);
        self.failing.remove(name);
    }

    /// True the first time `(node, what, value)` is seen.
    fn first_report(&mut self, node: &str, what: &str, value: &str) -> bool {
        self.reported
            .insert((node.to_owned(), what.to_owned(), value.to_owned()))
    }
}

/// Why one reconcile of a Node failed; it is tried again after its backoff delay.
#[derive(Debug, thiserror::Error)]
#[error("{action} on node {node} failed: {failure}")]
pub(crate) struct ReconcileError {
    node: String,
    action: &'static str,
    failure: Failure,
}

/// The reconcile of one Node: plan from the cached object, carry the plan out.
async fn reconcile(node: Arc<Node>, context: Arc<Context>) -> Result<Action, ReconcileError> {
    let Some(name) = node.metadata.name.clone() else {
        return Ok(Action::await_change());
    };
    if let Some(action) = context.hold(&name, &node) {
        return Ok(action);
    }
    match context
        .cancel
        .run_until_cancelled(context.sync(&name, &node))
        .await
    {
        Some(Ok(())) => {
            context.memory().failing.remove(&name);
            Ok(Action::await_change())
        }
        Some(Err(error)) => Err(error),
        // Shutting down: nothing more to do for this Node.
        None => Ok(Action::await_change()),
    }
}

/// After a failed reconcile: try the Node again after its next backoff delay.
fn error_policy(node: Arc<Node>, error: &ReconcileError, context: Arc<Context>) -> Action {
    let delay = {
        let mut memory = context.memory();
        let failing = memory
            .failing
            .entry(error.node.clone())
            .or_insert_with(|| Failing {
                backoff: context.settings.backoff().build(),
                retry_at: Instant::now(),
                resource_version: None,
            });
        let delay = failing
            .backoff
            .next()
            .unwrap_or(context.settings.retry_max_delay);
        failing.retry_at = Instant::now() + delay;
        failing.resource_version = node.metadata.resource_version.clone();
        delay
    };
    match error.failure.class() {
        FailureClass::Conflict => debug!(%error, retry_in = ?delay, "node keeps changing"),
        _ => warn!(%error, retry_in = ?delay, "node sync will try this node again"),
    }
    Action::requeue(delay)
}

impl Context {
    fn memory(&self) -> MutexGuard<'_, Memory> {
        // The memory is only a cache of reports and delays; a panic elsewhere cannot leave
        // it in a state worse than stale.
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Handles one item of the controller's output.
    fn on_result(
        &self,
        result: Result<
            (kube::runtime::reflector::ObjectRef<Node>, Action),
            controller::Error<ReconcileError, watcher::Error>,
        >,
    ) {
        match result {
            Ok(_) => {}
            // Logged and counted where it happened; the error policy scheduled the retry.
            Err(controller::Error::ReconcilerFailed(..)) => {}
            Err(controller::Error::QueueError(error)) => {
                // The watcher backs off (jittered, growing) and then lists or watches again
                // on its own.
                self.metrics.api_errors.inc();
                warn!(%error, "watching nodes failed; retrying with backoff");
            }
            Err(controller::Error::ObjectNotFound(object)) => {
                // A retry or check of a Node deleted meanwhile.
                debug!(node = %object.name, "node is gone");
                self.memory().forget(&object.name);
            }
            Err(error) => warn!(%error, "node sync controller error"),
        }
    }

    /// Whether to skip this check of `node` without any API call: when the cached version
    /// is one our own write already replaced, or when the Node failed recently, has not
    /// changed since, and its retry time has not come.
    fn hold(&self, name: &str, node: &Node) -> Option<Action> {
        let version = node.metadata.resource_version.as_ref();
        let mut memory = self.memory();
        if let Some(old) = memory.superseded.get(name) {
            if version.is_some_and(|v| old.contains(v)) {
                return Some(Action::await_change());
            }
            // A newer version arrived: our write is visible (or overtaken) now.
            memory.superseded.remove(name);
        }
        let failing = memory.failing.get(name)?;
        let now = Instant::now();
        (failing.resource_version.as_ref() == version && failing.retry_at > now)
            .then(|| Action::requeue(failing.retry_at - now))
    }

    /// Brings one Node in line with the engine's view. A conflict means the Node changed
    /// since it was cached: it is read afresh and planned once more.
    async fn sync(&self, name: &str, cached: &Node) -> Result<(), ReconcileError> {
        let mut node = Cow::Borrowed(cached);
        let mut read_afresh = false;
        loop {
            let Err((action, failure)) = self.attempt(name, &node).await else {
                if read_afresh && let Some(version) = &cached.metadata.resource_version {
                    // The cache may still hold the version from before the conflict.
                    self.memory()
                        .superseded
                        .entry(name.to_owned())
                        .or_default()
                        .push(version.clone());
                }
                return Ok(());
            };
            self.count(name, action, &failure);
            if failure.class() != FailureClass::Conflict || read_afresh {
                return Err(ReconcileError {
                    node: name.to_owned(),
                    action,
                    failure,
                });
            }
            read_afresh = true;
            let read = self.timed(self.api.get_opt(name)).await;
            match read {
                Ok(Some(fresh)) => node = Cow::Owned(fresh),
                Ok(None) => return Ok(()),
                Err(failure) => {
                    self.count(name, "read node", &failure);
                    return Err(ReconcileError {
                        node: name.to_owned(),
                        action: "read node",
                        failure,
                    });
                }
            }
        }
    }

    /// Counts a failed call.
    fn count(&self, name: &str, action: &'static str, failure: &Failure) {
        match failure.class() {
            FailureClass::NotFound => {}
            FailureClass::Conflict => {
                self.metrics.conflicts.inc();
                debug!(node = %name, action, "node changed meanwhile");
            }
            FailureClass::Transient | FailureClass::Permanent => {
                self.metrics.api_errors.inc();
                debug!(node = %name, action, error = %failure, "node call failed");
            }
        }
    }

    /// The engine's view of the server named like the Node, at this moment.
    fn facts(&self, name: &str) -> OwnedFacts {
        let engine = self.engine.current();
        if !engine.is_ready() {
            // Nothing listed yet: every server would look unknown anyway; say so plainly.
            return OwnedFacts::Unknown;
        }
        if engine.role() == Role::Standby {
            // Only the leader writes, to the cluster as to the cloud: two replicas patching
            // the same Nodes would conflict. The periodic resync catches up once this
            // replica leads.
            return OwnedFacts::Unknown;
        }
        let prefix = &engine.config().provider_id_prefix;
        if let Some(group) = engine.node_group_for_node("", name) {
            let labels = engine
                .group_config(&group)
                .map(kamatera_nodegroups::template::node_sync_labels)
                .unwrap_or_default();
            return OwnedFacts::Managed {
                provider_id: kamatera_nodegroups::naming::provider_id(prefix, name),
                group,
                labels,
            };
        }
        if engine.parked_servers().iter().any(|n| n == name) {
            return OwnedFacts::Parked(kamatera_nodegroups::naming::provider_id(prefix, name));
        }
        OwnedFacts::Unknown
    }

    /// Plans and carries out one change. `Ok` when done (changed, nothing to do, or the Node
    /// is gone); otherwise the failed action and why.
    async fn attempt(&self, name: &str, node: &Node) -> Result<(), (&'static str, Failure)> {
        let facts = self.facts(name);
        let plan = decide::plan(node, facts.borrow(), self.settings.parked_node_action);
        if let Plan::Mismatch { expected, actual } = &plan {
            if self.memory().first_report(name, "spec.providerID", actual) {
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
        } else if let OwnedFacts::Managed { group, labels, .. } = &facts {
            self.report_label_conflicts(name, group, node, labels);
        }
        let (action, result) = match plan {
            Plan::Nothing | Plan::Mismatch { .. } => return Ok(()),
            Plan::WaitUntilNotReady => {
                debug!(node = %name, "server is parked but its node is still Ready; waiting");
                return Ok(());
            }
            Plan::Complete {
                provider_id,
                labels,
            } => {
                let patch = Node {
                    metadata: ObjectMeta {
                        labels: (!labels.is_empty()).then(|| labels.clone()),
                        ..precondition(node)
                    },
                    spec: provider_id.as_ref().map(|id| NodeSpec {
                        provider_id: Some(id.clone()),
                        ..NodeSpec::default()
                    }),
                    status: None,
                };
                let result = self.patch(name, &patch).await;
                if result.is_ok() {
                    self.completed(name, &facts, provider_id.as_deref(), &labels);
                }
                ("complete node", result)
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
                if result.is_ok() {
                    self.metrics.parked_nodes_deleted.inc();
                    info!(node = %name, "deleted the node of a parked server");
                }
                ("delete parked node", result)
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
                if result.is_ok() {
                    self.metrics.parked_nodes_cleared.inc();
                    info!(
                        node = %name,
                        "made the parked server's node schedulable and removed the \
                         autoscaler's taints"
                    );
                }
                ("clear autoscaler marks", result)
            }
        };
        match result {
            Ok(()) => {
                if let Some(version) = &node.metadata.resource_version {
                    self.memory()
                        .superseded
                        .entry(name.to_owned())
                        .or_default()
                        .push(version.clone());
                }
                Ok(())
            }
            Err(failure) if failure.class() == FailureClass::NotFound => {
                debug!(node = %name, action, "node is gone");
                Ok(())
            }
            Err(failure) => Err((action, failure)),
        }
    }

    /// Counts and logs a successful [`Plan::Complete`].
    fn completed(
        &self,
        name: &str,
        facts: &OwnedFacts,
        provider_id: Option<&str>,
        labels: &BTreeMap<String, String>,
    ) {
        if provider_id.is_some() {
            self.metrics.provider_ids_patched.inc();
        }
        if !labels.is_empty()
            && let OwnedFacts::Managed { group, .. } = facts
        {
            self.metrics
                .labels_patched
                .get_or_create(&node_group(group))
                .inc();
        }
        let added: Vec<&str> = labels.keys().map(String::as_str).collect();
        info!(
            node = %name,
            provider_id = provider_id.unwrap_or("(already set)"),
            labels = ?added,
            "completed the node of a managed server"
        );
    }

    /// Warns once and counts every template label the Node has with another value.
    fn report_label_conflicts(
        &self,
        name: &str,
        group: &str,
        node: &Node,
        wanted: &BTreeMap<String, String>,
    ) {
        for conflict in decide::label_conflicts(node, wanted) {
            if !self
                .memory()
                .first_report(name, conflict.key, conflict.actual)
            {
                continue;
            }
            self.metrics
                .label_conflicts
                .get_or_create(&node_group(group))
                .inc();
            warn!(
                node = %name,
                node_group = %group,
                label = %conflict.key,
                value = %conflict.actual,
                template_value = %conflict.wanted,
                "node has another value of a label the group's template advertises; it is \
                 left as is (pods that select the template's value will not fit this node, \
                 and cluster-autoscaler may scale up for them again)"
            );
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
}

/// Metadata for a patch that only applies to the Node version it was planned from.
fn precondition(node: &Node) -> ObjectMeta {
    ObjectMeta {
        resource_version: node.metadata.resource_version.clone(),
        ..ObjectMeta::default()
    }
}

/// [`ServerFacts`] with owned data, so the engine's snapshot is not borrowed across
/// awaits.
enum OwnedFacts {
    Unknown,
    Managed {
        provider_id: String,
        group: String,
        labels: BTreeMap<String, String>,
    },
    Parked(String),
}

impl OwnedFacts {
    fn borrow(&self) -> ServerFacts<'_> {
        match self {
            OwnedFacts::Unknown => ServerFacts::Unknown,
            OwnedFacts::Managed {
                provider_id,
                labels,
                ..
            } => ServerFacts::Managed {
                expected_provider_id: provider_id,
                labels,
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
        // Labels only: no spec at all, so nothing else of the Node is touched.
        let labels_only = Node {
            metadata: ObjectMeta {
                labels: Some([("pool".to_owned(), "web".to_owned())].into()),
                ..precondition(&node)
            },
            spec: None,
            status: None,
        };
        assert_eq!(
            serde_json::to_value(&labels_only).unwrap(),
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"resourceVersion": "42", "labels": {"pool": "web"}},
            })
        );
    }
}
