//! Node sync against a fake Kubernetes API server (`test_support::fake_kube`) and an engine
//! on a simulated cloud: provider ids, parked servers' Nodes, watch restarts, API errors and
//! cancellation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use kamatera_api::{Client as KamateraClient, RetryPolicy};
use kamatera_nodegroups::config::empty_env;
use kamatera_nodegroups::{CloudConfig, Engine, EngineOptions, NodeRef, Reconciler};
use kamatera_provider_grpc::node_sync::{
    self, EngineSource, NodeSyncError, NodeSyncMetrics, NodeSyncSettings, ParkedNodeAction,
};
use kamatera_sim::{Power, SeedServer, SimConfig, SimHandle, Simulator};
use prometheus_client::metrics::counter::Counter;
use serde_json::{Value, json};
use test_support::CloudConfigFixture;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use test_support::fake_kube::{Call, FakeKube, node};

const CLUSTER_TAGS: [&str; 2] = ["k8sca-c1", "k8scang-ng1"];
const MANAGED: &str = "k8s-ng1-aaaaaaaaaa1";
const MANAGED_2: &str = "k8s-ng1-aaaaaaaaaa2";
const MANAGED_3: &str = "k8s-ng1-aaaaaaaaaa3";
const PARKED: &str = "k8s-ng1-ppppppppp01";
const PARKED_2: &str = "k8s-ng1-ppppppppp02";

/// The labels node sync adds for group `ng1` (instance type `<cpu>-<ram>`, region = the
/// datacenter), as its template advertises them.
const TEMPLATE_LABELS: [(&str, &str); 2] = [
    ("node.kubernetes.io/instance-type", "2A-4096"),
    ("topology.kubernetes.io/region", "IL"),
];

fn id(name: &str) -> String {
    format!("kamatera://{name}")
}

/// [`TEMPLATE_LABELS`] as a JSON object.
fn template_labels() -> Value {
    TEMPLATE_LABELS
        .iter()
        .map(|(key, value)| ((*key).to_owned(), json!(value)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A Ready Node of a managed server with its provider id and the template's labels set:
/// nothing for node sync to do.
fn complete_node(name: &str) -> Value {
    let mut complete = node(name, Some(&id(name)), "True");
    for (key, value) in TEMPLATE_LABELS {
        complete["metadata"]["labels"][key] = json!(value);
    }
    complete
}

/// Polls `done` every few milliseconds for up to five seconds.
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// [`wait_for`] on paused time: polls every `step` of simulated time, for up to ten
/// seconds of wall time. Paused time moves on to the next timer whenever the runtime waits
/// for the loopback sockets, so a round trip costs simulated time in steps of the poll's:
/// a wait that is measured polls in small steps.
async fn wait_paused(what: &str, step: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(step).await;
    }
}

/// Fast settings for tests: resync every 50 ms, retries within milliseconds.
fn settings(action: ParkedNodeAction) -> NodeSyncSettings {
    NodeSyncSettings {
        parked_node_action: action,
        resync_interval: Duration::from_millis(50),
        request_timeout: Duration::from_secs(2),
        retry_min_delay: Duration::from_millis(5),
        retry_max_delay: Duration::from_millis(20),
    }
}

/// An engine and its reconciler on the simulated cloud, with fast API retries.
fn engine_for(sim: &SimHandle, config: Arc<CloudConfig>) -> (Engine, Reconciler) {
    let client = KamateraClient::builder()
        .base_url(sim.url().as_str())
        .credentials("sim-id", "sim-secret")
        .timeout(Duration::from_secs(5))
        .retry_policy(RetryPolicy {
            max_attempts: 3,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            max_elapsed: Duration::from_secs(5),
            jitter: false,
        })
        .build()
        .unwrap();
    let options = EngineOptions {
        require_active_caller: false,
        name_seed: Some(42),
        ..EngineOptions::default()
    };
    Engine::new(config, client, options).unwrap()
}

/// A simulated cloud with one group `ng1` (power-off scale-down), its engine, a fake
/// Kubernetes API, and the controller once started.
struct World {
    sim: SimHandle,
    engine: Engine,
    reconciler: Reconciler,
    config: Arc<CloudConfig>,
    kube: FakeKube,
    metrics: NodeSyncMetrics,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl World {
    async fn new() -> Self {
        Self::with_group_keys("").await
    }

    /// A world whose group `ng1` has these extra keys.
    async fn with_group_keys(extra: &str) -> Self {
        let (url, sim) =
            Simulator::start(SimConfig::default().with_credentials("sim-id", "sim-secret"))
                .await
                .unwrap();
        let text = CloudConfigFixture::new("c1")
            .credentials("sim-id", "sim-secret")
            .api_url(&url)
            .global_key("default-script-base64", "IyEvYmluL2Jhc2gKZWNobyBqb2lu")
            .group("ng1", |g| {
                g.min(0)
                    .max(5)
                    .key("name-prefix", "k8s-ng1")
                    .key("poweroff-on-scale-down", true)
            })
            .raw(extra)
            .render();
        let config = Arc::new(CloudConfig::parse(&text, "test.ini", &empty_env).unwrap());
        let (engine, reconciler) = engine_for(&sim, config.clone());
        Self {
            sim,
            engine,
            reconciler,
            config,
            kube: FakeKube::start().await,
            metrics: NodeSyncMetrics::default(),
            cancel: CancellationToken::new(),
            task: None,
        }
    }

    /// Another engine on the same cloud, as the serve command builds after `Cleanup`.
    fn replacement_engine(&self) -> (Engine, Reconciler) {
        engine_for(&self.sim, self.config.clone())
    }

    /// A running server of group `ng1`.
    fn seed_managed(&self, name: &str) {
        self.sim
            .seed_server(SeedServer::new(name).tags(CLUSTER_TAGS))
            .unwrap();
    }

    /// A parked server of group `ng1`: powered off and marked parked.
    fn seed_parked(&self, name: &str) {
        let tags = CLUSTER_TAGS.into_iter().chain(["k8scam-parked"]);
        self.sim
            .seed_server(SeedServer::new(name).power(Power::Off).tags(tags))
            .unwrap();
    }

    /// One reconcile pass plus every call it started.
    async fn pass(&mut self) {
        self.reconciler.run_pass().await.unwrap();
        self.reconciler.settle().await;
        while self.reconciler.dispatch() > 0 {
            self.reconciler.settle().await;
        }
    }

    fn start(&mut self, settings: NodeSyncSettings) {
        let client = self.kube.client();
        self.start_with(client, settings);
    }

    fn start_with(&mut self, client: kube::Client, settings: NodeSyncSettings) {
        self.start_source(self.engine.clone(), client, settings);
    }

    fn start_source(
        &mut self,
        engine: impl EngineSource,
        client: kube::Client,
        settings: NodeSyncSettings,
    ) {
        self.task = Some(tokio::spawn(node_sync::run(
            engine,
            client,
            settings,
            self.metrics.clone(),
            self.cancel.clone(),
        )));
    }

    /// Cancels the controller and checks it stops promptly.
    async fn stop(&mut self) {
        self.cancel.cancel();
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .expect("node sync stops within a second of cancellation")
            .unwrap();
    }

    fn provider_id(&self, name: &str) -> Option<String> {
        self.kube.node(name)?["spec"]["providerID"]
            .as_str()
            .map(str::to_owned)
    }

    fn writes_to(&self, name: &str) -> usize {
        let path = format!("/api/v1/nodes/{name}");
        self.kube.writes().iter().filter(|w| w.path == path).count()
    }
}

/// A kubeconfig file pointing at the fake API server; returns its folder and path.
fn write_kubeconfig(kube: &FakeKube) -> (std::path::PathBuf, std::path::PathBuf) {
    let port = kube.url().rsplit(':').next().unwrap();
    let dir = std::env::temp_dir().join(format!("node-sync-{}-{port}", std::process::id()));
    let path = kube.write_kubeconfig(&dir);
    (dir, path)
}

fn count(counter: &Counter) -> u64 {
    counter.get()
}

#[tokio::test]
async fn should_set_the_provider_id_of_a_managed_node_without_one() {
    let mut w = World::new().await;
    w.seed_managed(MANAGED);
    w.seed_managed(MANAGED_2);
    w.seed_managed(MANAGED_3);
    w.pass().await;
    w.kube.add_node(node(MANAGED, None, "True"));
    // Complete already: provider id and the template's labels.
    w.kube.add_node(complete_node(MANAGED_2));
    w.start(settings(ParkedNodeAction::Delete));

    wait_for("the provider id patch", || {
        w.provider_id(MANAGED) == Some(id(MANAGED))
    })
    .await;
    let writes = w.kube.writes();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    let patch = &writes[0];
    assert_eq!(patch.method, Method::PATCH);
    assert_eq!(patch.path, format!("/api/v1/nodes/{MANAGED}"));
    assert_eq!(patch.content_type, "application/merge-patch+json");
    assert!(
        patch.query.contains("fieldManager=kamatera-node-sync"),
        "{}",
        patch.query
    );
    assert_eq!(patch.body["spec"], json!({"providerID": id(MANAGED)}));
    // The same patch brings the labels the group's template advertises.
    assert_eq!(patch.body["metadata"]["labels"], template_labels());
    // The patch only applies to the Node version it was planned from.
    assert!(patch.body["metadata"]["resourceVersion"].is_string());
    wait_for("the counter", || {
        count(&w.metrics.provider_ids_patched) == 1
    })
    .await;

    // A Node that registers later (a new server joining) is patched from its watch event.
    w.kube.add_node(node(MANAGED_3, None, "True"));
    wait_for("the second patch", || {
        w.provider_id(MANAGED_3) == Some(id(MANAGED_3))
    })
    .await;
    wait_for("the counter", || {
        count(&w.metrics.provider_ids_patched) == 2
    })
    .await;
    assert_eq!(count(&w.metrics.api_errors), 0);
    w.stop().await;
}

#[tokio::test]
async fn should_patch_servers_the_engine_learns_about_later_and_leave_others_alone() {
    let mut w = World::new().await;
    w.pass().await;
    // Nodes of servers that are not ours: another cluster's, an untagged server's, and one
    // with no server at all. None is ever written.
    w.sim
        .seed_server(SeedServer::new("k8s-other-0000000001").tags(["k8sca-c2", "k8scang-ng1"]))
        .unwrap();
    w.sim.seed_server(SeedServer::new("db-0001")).unwrap();
    w.kube.add_node(node("k8s-other-0000000001", None, "False"));
    w.kube.add_node(node("db-0001", None, "False"));
    w.kube.add_node(node("control-plane-1", None, "True"));
    // The Node registers before the engine has listed its server.
    w.kube.add_node(node(MANAGED, None, "True"));
    w.start(settings(ParkedNodeAction::Delete));
    wait_for("the initial list and watch", || w.kube.watches() >= 1).await;
    assert!(w.kube.writes().is_empty());

    // No Node event follows; the periodic resync picks the new instance up.
    w.seed_managed(MANAGED);
    w.pass().await;
    wait_for("the resync patch", || {
        w.provider_id(MANAGED) == Some(id(MANAGED))
    })
    .await;
    // A resync visits every Node, so by now the others were checked at least once more.
    let writes = w.kube.writes();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    for other in ["k8s-other-0000000001", "db-0001", "control-plane-1"] {
        assert_eq!(w.provider_id(other), None);
        assert_eq!(w.writes_to(other), 0);
    }
    w.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_standby_writes_no_node_until_it_leads() {
    const COARSE: Duration = Duration::from_millis(50);
    let mut w = World::new().await;
    w.seed_managed(MANAGED);
    w.pass().await;
    // Another replica leads: this one keeps its snapshot but changes nothing, Nodes
    // included (two replicas would patch the same Nodes).
    w.engine.step_down();
    w.kube.add_node(node(MANAGED, None, "True"));
    w.start(settings(ParkedNodeAction::Delete));
    wait_paused("the initial list and watch", COARSE, || {
        w.kube.watches() >= 1
    })
    .await;
    // Simulated time: twenty resyncs (every 50 ms) visit the Node and leave it alone.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(w.kube.writes().is_empty(), "{:#?}", w.kube.writes());

    // Once it leads, a resync patches the Node.
    w.engine
        .take_leadership(&kamatera_nodegroups::engine::InFlight::default());
    w.pass().await;
    wait_paused("the patch as leader", COARSE, || {
        w.provider_id(MANAGED) == Some(id(MANAGED))
    })
    .await;
    assert_eq!(w.kube.writes().len(), 1);
    w.stop().await;
}

#[tokio::test]
async fn should_never_overwrite_a_different_provider_id_and_report_it_once() {
    let mut w = World::new().await;
    w.seed_managed(MANAGED);
    w.seed_managed(MANAGED_2);
    w.pass().await;
    w.kube
        .add_node(node(MANAGED, Some("rke2://k8s-ng1-aaaaaaaaaa1"), "True"));
    // A marker that proves the controller has processed the initial list.
    w.kube.add_node(node(MANAGED_2, None, "True"));
    w.start(settings(ParkedNodeAction::Delete));
    wait_for("the marker patch", || w.provider_id(MANAGED_2).is_some()).await;
    wait_for("the mismatch", || {
        count(&w.metrics.provider_id_mismatches) == 1
    })
    .await;

    // More events and several resyncs later, it is still reported once and never written.
    for i in 0..3 {
        w.kube.modify_node(MANAGED, |n| {
            n["metadata"]["labels"]["touch"] = json!(i.to_string())
        });
    }
    let resynced_at = w.kube.requests().len();
    w.kube.add_node(node(MANAGED_3, None, "True"));
    w.seed_managed(MANAGED_3);
    w.pass().await;
    wait_for("a resync after the events", || {
        w.provider_id(MANAGED_3).is_some()
    })
    .await;
    assert!(w.kube.requests().len() > resynced_at);
    assert_eq!(
        w.provider_id(MANAGED).as_deref(),
        Some("rke2://k8s-ng1-aaaaaaaaaa1")
    );
    assert_eq!(w.writes_to(MANAGED), 0);
    assert_eq!(count(&w.metrics.provider_id_mismatches), 1);

    // A new value is a new report.
    w.kube
        .add_node(node("k8s-ng1-aaaaaaaaaa4", Some("rke2://x"), "True"));
    w.seed_managed("k8s-ng1-aaaaaaaaaa4");
    w.pass().await;
    wait_for("the second mismatch", || {
        count(&w.metrics.provider_id_mismatches) == 2
    })
    .await;
    w.stop().await;
}

#[tokio::test]
async fn should_delete_the_node_of_a_parked_server_once_it_is_not_ready() {
    let mut w = World::new().await;
    w.seed_parked(PARKED);
    w.seed_parked(PARKED_2);
    w.pass().await;
    let mut parked = w.engine.parked_servers();
    parked.sort();
    assert_eq!(parked, [PARKED, PARKED_2], "the engine sees both as parked");
    w.kube.add_node(node(PARKED, Some(&id(PARKED)), "Unknown"));
    // Just powered off: the node controller has not noticed yet.
    w.kube.add_node(node(PARKED_2, Some(&id(PARKED_2)), "True"));
    w.start(settings(ParkedNodeAction::Delete));

    wait_for("the parked node's deletion", || {
        w.kube.node(PARKED).is_none()
    })
    .await;
    let delete = w
        .kube
        .writes()
        .into_iter()
        .find(|r| r.method == Method::DELETE)
        .unwrap();
    assert_eq!(delete.path, format!("/api/v1/nodes/{PARKED}"));
    // Only the object as planned: same uid and resource version.
    assert_eq!(delete.body["preconditions"]["uid"], json!("uid-1"));
    assert!(delete.body["preconditions"]["resourceVersion"].is_string());
    wait_for("the counter", || {
        count(&w.metrics.parked_nodes_deleted) == 1
    })
    .await;

    // The still-Ready one is kept, through several resyncs, until it turns NotReady.
    let seen = count(&w.metrics.resyncs);
    wait_for("some resyncs", || count(&w.metrics.resyncs) >= seen + 2).await;
    assert!(w.kube.node(PARKED_2).is_some());
    assert_eq!(w.writes_to(PARKED_2), 0);
    w.kube.modify_node(PARKED_2, |n| {
        n["status"]["conditions"][0]["status"] = json!("Unknown");
    });
    wait_for("the second deletion", || {
        count(&w.metrics.parked_nodes_deleted) == 2
    })
    .await;
    assert!(w.kube.node(PARKED_2).is_none());
    w.stop().await;
}

#[tokio::test]
async fn should_clear_the_autoscaler_marks_of_a_parked_node_in_clear_marks_mode() {
    let mut w = World::new().await;
    w.seed_parked(PARKED);
    w.pass().await;
    let mut marked = node(PARKED, Some(&id(PARKED)), "Unknown");
    marked["spec"]["unschedulable"] = json!(true);
    marked["spec"]["taints"] = json!([
        {"key": "dedicated", "value": "ci", "effect": "NoSchedule"},
        {"key": "ToBeDeletedByClusterAutoscaler", "value": "1700000000", "effect": "NoSchedule"},
        {"key": "DeletionCandidateOfClusterAutoscaler", "value": "1700000000", "effect": "PreferNoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
    ]);
    w.kube.add_node(marked);
    w.start(settings(ParkedNodeAction::ClearMarks));

    wait_for("the marks to be cleared", || {
        w.kube
            .node(PARKED)
            .is_some_and(|n| n["spec"]["unschedulable"] == json!(false))
    })
    .await;
    let stored = w.kube.node(PARKED).unwrap();
    assert_eq!(
        stored["spec"]["taints"],
        json!([
            {"key": "dedicated", "value": "ci", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
        ])
    );
    assert_eq!(stored["spec"]["providerID"], json!(id(PARKED)));
    wait_for("the counter", || {
        count(&w.metrics.parked_nodes_cleared) == 1
    })
    .await;

    // Once clear, resyncs leave it alone.
    let seen = count(&w.metrics.resyncs);
    wait_for("some resyncs", || count(&w.metrics.resyncs) >= seen + 2).await;
    assert_eq!(w.writes_to(PARKED), 1);
    assert!(w.kube.writes().iter().all(|r| r.method == Method::PATCH));
    w.stop().await;
}

#[tokio::test]
async fn should_handle_a_server_parked_while_running() {
    let mut w = World::new().await;
    w.seed_managed(MANAGED);
    w.pass().await;
    w.kube.add_node(node(MANAGED, None, "True"));
    w.start(settings(ParkedNodeAction::Delete));
    wait_for("the provider id patch", || w.provider_id(MANAGED).is_some()).await;

    // cluster-autoscaler scales the group down; in power-off mode the server is parked.
    w.engine
        .delete_nodes(
            "ng1",
            &[NodeRef {
                provider_id: id(MANAGED),
                name: MANAGED.to_owned(),
            }],
        )
        .unwrap();
    for _ in 0..10 {
        if !w.engine.parked_servers().is_empty() {
            break;
        }
        w.sim.advance(Duration::from_secs(120));
        w.pass().await;
    }
    assert_eq!(w.engine.parked_servers(), [MANAGED]);
    // The node controller marks the powered-off node NotReady; the controller deletes it.
    w.kube.modify_node(MANAGED, |n| {
        n["status"]["conditions"][0]["status"] = json!("Unknown");
    });
    wait_for("the deletion", || {
        count(&w.metrics.parked_nodes_deleted) == 1
    })
    .await;
    assert!(w.kube.node(MANAGED).is_none());
    w.stop().await;
}

#[tokio::test]
async fn should_follow_the_engine_the_server_currently_uses() {
    let mut w = World::new().await;
    w.seed_managed(MANAGED);
    w.kube.add_node(node(MANAGED, None, "True"));
    // The first engine never lists (its reconciler is stopped, as after `Cleanup`).
    let current = Arc::new(std::sync::Mutex::new(w.engine.clone()));
    let source = {
        let current = current.clone();
        move || current.lock().unwrap().clone()
    };
    let client = w.kube.client();
    w.start_source(source, client, settings(ParkedNodeAction::Delete));
    let seen = count(&w.metrics.resyncs);
    wait_for("some resyncs", || count(&w.metrics.resyncs) >= seen + 2).await;
    assert!(
        w.kube.writes().is_empty(),
        "an engine that never listed knows no server"
    );

    // The server starts a fresh engine; the controller reads it from then on.
    let (engine, mut reconciler) = w.replacement_engine();
    reconciler.run_pass().await.unwrap();
    reconciler.settle().await;
    *current.lock().unwrap() = engine;
    wait_for("the patch", || w.provider_id(MANAGED) == Some(id(MANAGED))).await;
    w.stop().await;
}

#[tokio::test]
async fn should_recover_when_the_watch_stream_closes() {
    let mut w = World::new().await;
    w.seed_managed(MANAGED);
    w.seed_managed(MANAGED_2);
    w.pass().await;
    w.kube.add_node(node(MANAGED, None, "True"));
    w.start(settings(ParkedNodeAction::Delete));
    wait_for("the first patch", || w.provider_id(MANAGED).is_some()).await;
    wait_for("the watch", || w.kube.watches() >= 1).await;

    w.kube.close_watches();
    wait_for("a new watch", || w.kube.watches() >= 2).await;
    // A Node that appears after the restart is seen through the new watch.
    w.kube.add_node(node(MANAGED_2, None, "True"));
    wait_for("the patch after the restart", || {
        w.provider_id(MANAGED_2).is_some()
    })
    .await;

    // The re-watch resumes from the last version instead of listing everything again.
    let lists = w
        .kube
        .requests()
        .iter()
        .filter(|r| {
            r.method == Method::GET && r.path == "/api/v1/nodes" && !r.query.contains("watch")
        })
        .count();
    assert_eq!(lists, 1);
    w.stop().await;
}

#[tokio::test]
async fn should_retry_conflicts_and_server_errors() {
    let mut w = World::new().await;
    w.seed_managed(MANAGED);
    w.seed_parked(PARKED);
    w.pass().await;
    w.kube.fail_next(Call::List, 500, 1);
    w.kube.fail_next(Call::Patch, 409, 2);
    w.kube.fail_next(Call::Patch, 500, 1);
    w.kube.fail_next(Call::Patch, 429, 1);
    w.kube.fail_next(Call::Delete, 409, 1);
    w.kube.fail_next(Call::Delete, 502, 1);
    w.kube.fail_next(Call::Get, 500, 1);
    w.kube.add_node(node(MANAGED, None, "True"));
    w.kube.add_node(node(PARKED, Some(&id(PARKED)), "False"));
    w.start(settings(ParkedNodeAction::Delete));

    wait_for("the patch despite errors", || {
        w.provider_id(MANAGED).is_some()
    })
    .await;
    wait_for("the deletion despite errors", || {
        w.kube.node(PARKED).is_none()
    })
    .await;
    assert_eq!(w.kube.pending_faults(Call::Patch), 0);
    assert_eq!(w.kube.pending_faults(Call::Delete), 0);
    // The store changes before the answer reaches the controller; wait for the counters.
    wait_for("the counters", || {
        count(&w.metrics.provider_ids_patched) == 1 && count(&w.metrics.parked_nodes_deleted) == 1
    })
    .await;
    assert!(count(&w.metrics.conflicts) >= 3);
    // The failed list, get, two patches and the delete (kube-rs itself may retry the 429
    // and 502 once more before reporting them).
    assert!(
        count(&w.metrics.api_errors) >= 3,
        "{}",
        count(&w.metrics.api_errors)
    );
    w.stop().await;
}

#[tokio::test]
async fn should_stop_promptly_when_cancelled_mid_retry() {
    let mut w = World::new().await;
    w.seed_managed(MANAGED);
    w.pass().await;
    w.kube.fail_next(Call::Patch, 500, 1000);
    w.kube.add_node(node(MANAGED, None, "True"));
    let slow = NodeSyncSettings {
        retry_min_delay: Duration::from_secs(30),
        retry_max_delay: Duration::from_secs(60),
        ..settings(ParkedNodeAction::Delete)
    };
    w.start(slow);
    wait_for("the first failed patch", || !w.kube.writes().is_empty()).await;
    // The controller now sleeps for half a minute before retrying; cancellation ends it.
    let started = Instant::now();
    w.stop().await;
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn should_build_a_client_from_a_kubeconfig_file() {
    let mut w = World::new().await;
    w.seed_managed(MANAGED);
    w.pass().await;
    w.kube.add_node(node(MANAGED, None, "True"));
    let (dir, path) = write_kubeconfig(&w.kube);
    let client = node_sync::kube_client(Some(&path)).await.unwrap();
    std::fs::remove_file(&path).unwrap();
    w.start_with(client, settings(ParkedNodeAction::Delete));
    wait_for("the patch", || w.provider_id(MANAGED).is_some()).await;
    w.stop().await;

    let missing = node_sync::kube_client(Some(&dir.join("does-not-exist"))).await;
    let Err(error) = missing else {
        panic!("a missing kubeconfig is an error");
    };
    assert!(
        matches!(error, NodeSyncError::Kubeconfig { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("does-not-exist"), "{error}");
}

/// The watch events the fake sends are what kube-rs expects; a sanity check of the fake.
#[tokio::test]
async fn the_fake_applies_merge_patches_and_preconditions() {
    let kube = FakeKube::start().await;
    kube.add_node(node("n1", None, "True"));
    let api: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(kube.client());
    let stale = json!({"metadata": {"resourceVersion": "1"}, "spec": {"providerID": "x://n1"}});
    let error = api
        .patch("n1", &Default::default(), &kube::api::Patch::Merge(&stale))
        .await
        .unwrap_err();
    assert!(
        matches!(error, kube::Error::Api(ref s) if s.code == 409),
        "{error:?}"
    );
    let fresh: Value = json!({"spec": {"providerID": "x://n1"}});
    let node = api
        .patch("n1", &Default::default(), &kube::api::Patch::Merge(&fresh))
        .await
        .unwrap();
    assert_eq!(node.spec.unwrap().provider_id.as_deref(), Some("x://n1"));
    let change: Value = json!({"spec": {"providerID": "y://n1"}});
    let error = api
        .patch("n1", &Default::default(), &kube::api::Patch::Merge(&change))
        .await
        .unwrap_err();
    assert!(
        matches!(error, kube::Error::Api(ref s) if s.code == 422),
        "{error:?}"
    );
}

#[tokio::test]
async fn should_explain_a_missing_in_cluster_configuration() {
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return; // running inside a cluster: the in-cluster configuration may well work
    }
    let Err(error) = node_sync::kube_client(None).await else {
        panic!("no in-cluster configuration outside a cluster");
    };
    assert!(matches!(error, NodeSyncError::InCluster(_)), "{error:?}");
    assert!(error.to_string().contains("--kubeconfig"), "{error}");
}

/// `serve` with node sync on: the controller runs beside the gRPC server, patches the Node
/// of a managed server, counts it in `/metrics`, and stops with the server.
#[tokio::test]
async fn serve_runs_node_sync_and_exports_its_metrics() {
    use kamatera_provider_grpc::serve::{self, Listeners, NodeSyncConfig, ServeConfig};
    use kamatera_provider_grpc::tls::TlsSettings;

    let w = World::new().await;
    w.seed_managed(MANAGED);
    w.kube.add_node(node(MANAGED, None, "True"));
    let (_dir, kubeconfig) = write_kubeconfig(&w.kube);
    let config = ServeConfig {
        cloud_config: (*w.config).clone(),
        tls: TlsSettings::Plaintext,
        engine: EngineOptions {
            reconcile_interval: Duration::from_millis(50),
            ..EngineOptions::default()
        },
        api_timeout: Duration::from_secs(5),
        simulate: false,
        shutdown_grace: Duration::from_secs(2),
        node_sync: Some(NodeSyncConfig {
            kubeconfig: Some(kubeconfig.clone()),
            parked_node_action: ParkedNodeAction::Delete,
        }),
        credentials_reload: None,
        leader_election: None,
        grpc_max_connection_age: None,
    };
    let listeners = Listeners {
        grpc: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        http: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    };
    let http = listeners.http.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve::run(config, listeners, shutdown.clone()));

    wait_for("the provider id patch", || w.provider_id(MANAGED).is_some()).await;
    assert_eq!(
        w.provider_id(MANAGED).as_deref(),
        Some(id(MANAGED).as_str())
    );
    let metrics = reqwest::get(format!("http://{http}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("kamatera_node_sync_provider_ids_patched_total 1"),
        "{metrics}"
    );
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve stops")
        .unwrap()
        .unwrap();
    std::fs::remove_file(&kubeconfig).unwrap();
}

/// Requests other than watches (lists, reads and writes).
fn non_watch_requests(kube: &FakeKube) -> usize {
    kube.requests()
        .iter()
        .filter(|r| {
            !r.query
                .split('&')
                .any(|p| p == "watch=true" || p == "watch=1")
        })
        .count()
}

// On paused time: the delays compared below are tokio's simulated ones, which a loaded
// machine cannot stretch.
#[tokio::test(start_paused = true)]
async fn should_not_let_a_failing_node_delay_another_nodes_patch() {
    // Waits whose length is not measured poll in coarse steps, so they take little wall time.
    const COARSE: Duration = Duration::from_millis(50);
    let mut w = World::new().await;
    for name in [MANAGED, MANAGED_2, MANAGED_3] {
        w.seed_managed(name);
    }
    w.pass().await;
    // One Node's patches keep failing, another's never answer.
    w.kube.fail_writes_to(MANAGED, 500);
    w.kube.hang_patches_of(MANAGED_3);
    w.kube.add_node(node(MANAGED, None, "True"));
    w.kube.add_node(node(MANAGED_3, None, "True"));
    // Simulated time costs nothing, so the delays are long: a patch that waited for the
    // failing Node's retries or the hanging request could not pass for a prompt one.
    let min_delay = Duration::from_secs(5);
    let request_timeout = Duration::from_secs(20);
    w.start(NodeSyncSettings {
        retry_min_delay: min_delay,
        retry_max_delay: Duration::from_secs(8),
        request_timeout,
        // Resyncs far more often than the failing Node's backoff allows a retry.
        ..settings(ParkedNodeAction::Delete)
    });
    wait_paused("the failing and the hanging patch", COARSE, || {
        !w.kube.requests_to(MANAGED).is_empty() && !w.kube.requests_to(MANAGED_3).is_empty()
    })
    .await;

    // A Node that registers now is patched at once: it waits neither for the failing
    // Node's retries nor for the hanging request.
    let added = tokio::time::Instant::now();
    w.kube.add_node(node(MANAGED_2, None, "True"));
    wait_paused("the other node's patch", Duration::from_millis(1), || {
        w.provider_id(MANAGED_2) == Some(id(MANAGED_2))
    })
    .await;
    let took = added.elapsed();
    assert!(
        took < min_delay && took < request_timeout,
        "the patch took {took:?}"
    );
    assert_eq!(w.writes_to(MANAGED_2), 1);

    // The failing Node is tried again and again, each time after its own growing delay,
    // not at every resync.
    wait_paused("three tries of the failing node", COARSE, || {
        w.kube.requests_to(MANAGED).len() >= 3
    })
    .await;
    let tries = w.kube.requests_to(MANAGED);
    assert!(
        tries.iter().all(|r| r.method == Method::PATCH),
        "{tries:#?}"
    );
    for pair in tries.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= min_delay, "retried after {gap:?}");
    }
    assert!(count(&w.metrics.api_errors) >= 3);
    assert_eq!(w.provider_id(MANAGED), None);

    // Once the API accepts it, the next try succeeds.
    w.kube.heal(MANAGED);
    wait_paused("the patch after healing", COARSE, || {
        w.provider_id(MANAGED) == Some(id(MANAGED))
    })
    .await;
    // Shutdown is prompt even with a request still hanging.
    assert_eq!(w.provider_id(MANAGED_3), None);
    let stopping = tokio::time::Instant::now();
    w.stop().await;
    assert!(stopping.elapsed() < Duration::from_millis(800));
}

#[tokio::test]
async fn should_make_no_request_while_nothing_changes() {
    let mut w = World::new().await;
    w.seed_managed(MANAGED);
    w.seed_managed(MANAGED_2);
    w.seed_managed(MANAGED_3);
    w.seed_parked(PARKED);
    w.pass().await;
    // A Node to complete, a complete one, one with a foreign provider id, a parked
    // server's Node that is still Ready, and a Node that is not ours.
    w.kube.add_node(node(MANAGED, None, "True"));
    w.kube.add_node(complete_node(MANAGED_2));
    w.kube.add_node(node(MANAGED_3, Some("rke2://x"), "True"));
    w.kube.add_node(node(PARKED, Some(&id(PARKED)), "True"));
    w.kube.add_node(node("control-plane-1", None, "True"));
    w.start(settings(ParkedNodeAction::Delete));
    wait_for("the patch", || w.provider_id(MANAGED).is_some()).await;
    wait_for("the patch's own watch event", || {
        count(&w.metrics.resyncs) >= 2
    })
    .await;
    let before = non_watch_requests(&w.kube);
    let seen = count(&w.metrics.resyncs);
    wait_for("ten more resyncs", || {
        count(&w.metrics.resyncs) >= seen + 10
    })
    .await;
    assert_eq!(
        non_watch_requests(&w.kube),
        before,
        "{:#?}",
        &w.kube.requests()[before..]
    );
    assert_eq!(
        before,
        2,
        "one list and one patch: {:#?}",
        w.kube.requests()
    );
    assert_eq!(count(&w.metrics.provider_id_mismatches), 1);
    w.stop().await;
}

#[tokio::test]
async fn should_give_managed_nodes_the_labels_their_template_advertises() {
    let mut w = World::with_group_keys(
        "template-label = pool=web\ntemplate-label = example.com/tier=frontend",
    )
    .await;
    let registry = {
        let mut registry = prometheus_client::registry::Registry::default();
        w.metrics.register(&mut registry);
        registry
    };
    w.seed_managed(MANAGED);
    w.seed_managed(MANAGED_2);
    w.seed_managed(MANAGED_3);
    w.pass().await;
    // As a kubelet registers it: its own labels only.
    let mut fresh = node(MANAGED, None, "True");
    fresh["metadata"]["labels"]["kubernetes.io/os"] = json!("linux");
    fresh["metadata"]["labels"]["kubernetes.io/arch"] = json!("amd64");
    w.kube.add_node(fresh);
    // Provider id set by the kubelet; the region and a template label set by hand to
    // other values, which must stay.
    let mut odd = node(MANAGED_2, Some(&id(MANAGED_2)), "True");
    odd["metadata"]["labels"]["topology.kubernetes.io/region"] = json!("EU");
    odd["metadata"]["labels"]["pool"] = json!("batch");
    w.kube.add_node(odd);
    w.start(settings(ParkedNodeAction::Delete));

    // The fresh Node now carries every label the template advertises (its host name is
    // its own).
    wait_for("the fresh node's labels", || {
        w.kube
            .node(MANAGED)
            .is_some_and(|n| n["metadata"]["labels"]["pool"] == json!("web"))
    })
    .await;
    let template = w.engine.template("ng1").unwrap();
    let stored = w.kube.node(MANAGED).unwrap();
    for (key, value) in &template.labels {
        if key == "kubernetes.io/hostname" {
            assert_eq!(stored["metadata"]["labels"][key], json!(MANAGED));
        } else {
            assert_eq!(stored["metadata"]["labels"][key], json!(value), "{key}");
        }
    }
    assert_eq!(stored["spec"]["providerID"], json!(id(MANAGED)));
    // In one patch with the provider id.
    assert_eq!(w.writes_to(MANAGED), 1);

    // The other Node gets the missing labels only; the different values stay.
    wait_for("the other node's labels", || {
        w.kube.node(MANAGED_2).is_some_and(|n| {
            n["metadata"]["labels"]["node.kubernetes.io/instance-type"] == json!("2A-4096")
        })
    })
    .await;
    let other = w.kube.node(MANAGED_2).unwrap();
    assert_eq!(
        other["metadata"]["labels"]["topology.kubernetes.io/region"],
        json!("EU")
    );
    assert_eq!(other["metadata"]["labels"]["pool"], json!("batch"));
    assert_eq!(
        other["metadata"]["labels"]["example.com/tier"],
        json!("frontend")
    );
    let patches = w.kube.requests_to(MANAGED_2);
    assert_eq!(patches.len(), 1, "{patches:#?}");
    assert_eq!(
        patches[0].body["metadata"]["labels"],
        json!({"node.kubernetes.io/instance-type": "2A-4096", "example.com/tier": "frontend"})
    );
    assert!(
        patches[0].body.get("spec").is_none(),
        "{:#?}",
        patches[0].body
    );

    // Two conflicts, each counted (and logged) once however often the Node is checked.
    let seen = count(&w.metrics.resyncs);
    wait_for("some resyncs", || count(&w.metrics.resyncs) >= seen + 3).await;
    let conflicts = w
        .metrics
        .label_conflicts
        .get_or_create(&[("node_group", "ng1".to_owned())])
        .get();
    assert_eq!(conflicts, 2);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains("kamatera_node_sync_label_conflicts_total{node_group=\"ng1\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("kamatera_node_sync_labels_patched_total{node_group=\"ng1\"} 2"),
        "{text}"
    );
    assert_eq!(w.writes_to(MANAGED_2), 1);

    // A Node registering later, with a foreign provider id, is not touched at all.
    w.kube
        .add_node(node(MANAGED_3, Some("rke2://k8s-ng1-aaaaaaaaaa3"), "True"));
    wait_for("the mismatch", || {
        count(&w.metrics.provider_id_mismatches) == 1
    })
    .await;
    assert_eq!(w.writes_to(MANAGED_3), 0);
    w.stop().await;
}

#[tokio::test]
async fn should_stop_promptly_when_the_nodes_were_never_listed() {
    let mut w = World::new().await;
    w.kube.fail_next(Call::List, 500, 10_000);
    w.start(settings(ParkedNodeAction::Delete));
    wait_for("a failed list", || {
        count(&w.metrics.api_errors) >= 1 && w.kube.pending_faults(Call::List) < 10_000
    })
    .await;
    let stopping = Instant::now();
    w.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(1));
    assert!(w.kube.writes().is_empty());
}
