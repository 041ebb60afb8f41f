//! A small fake Kubernetes API for scenario 9 (node sync at scale): `/api/v1/nodes` list
//! and streaming watch, get and merge patch of one Node, each answered after an injected
//! latency, and counters of the requests by kind. It holds the Nodes as JSON text so the
//! fake itself stays cheap at thousands of Nodes.
//!
//! `GET /_bench/counts` answers the counters as JSON, so a provider in a child process can
//! tell how many requests it made.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// Requests the fake answered, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// `GET /api/v1/nodes` without `watch`.
    pub lists: u64,
    /// `GET /api/v1/nodes?watch=true`.
    pub watches: u64,
    /// `GET /api/v1/nodes/<name>`.
    pub gets: u64,
    /// `PATCH /api/v1/nodes/<name>`.
    pub patches: u64,
    /// Anything else (`DELETE` included).
    pub other: u64,
}

impl Counts {
    /// Requests about one Node (get, patch, delete, anything else).
    pub fn per_node(&self) -> u64 {
        self.gets + self.patches + self.other
    }
}

struct Inner {
    /// Node name → the stored object.
    nodes: BTreeMap<String, Value>,
    resource_version: u64,
    /// Watch event lines after the initial Nodes, with their resource version.
    history: Vec<(u64, String)>,
    counts: Counts,
}

struct Shared {
    inner: Mutex<Inner>,
    events: broadcast::Sender<(u64, String)>,
    latency: Duration,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running fake; stops when dropped.
pub struct FakeKube {
    url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeKube {
    /// Starts the fake on a free loopback port with `nodes` stored; every list, get and
    /// patch is answered `latency` after it arrived.
    pub async fn start(nodes: Vec<Value>, latency: Duration) -> Self {
        let mut stored = BTreeMap::new();
        let mut resource_version = 100;
        for (i, mut node) in nodes.into_iter().enumerate() {
            resource_version += 1;
            node["metadata"]["uid"] = json!(format!("uid-{i}"));
            node["metadata"]["resourceVersion"] = json!(resource_version.to_string());
            let name = node["metadata"]["name"]
                .as_str()
                .expect("a node has a name")
                .to_owned();
            stored.insert(name, node);
        }
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                nodes: stored,
                resource_version,
                history: Vec::new(),
                counts: Counts::default(),
            }),
            // Larger than any burst of the scenario, so no watcher lags and re-watches.
            events: broadcast::channel(16_384).0,
            latency,
        });
        let app = Router::new()
            .route("/api/v1/nodes", get(list_or_watch))
            .route(
                "/api/v1/nodes/{name}",
                get(get_node).patch(patch_node).delete(unexpected),
            )
            .route("/_bench/counts", get(counts))
            .fallback(unexpected)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Kubernetes API");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake API serves");
        });
        Self {
            url,
            shared,
            server,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The requests answered so far.
    pub fn counts(&self) -> Counts {
        self.shared.lock().counts
    }

    /// The Node as stored now.
    pub fn node(&self, name: &str) -> Option<Value> {
        self.shared.lock().nodes.get(name).cloned()
    }
}

/// A client of the fake at `url` without auth, as node sync would get from a kubeconfig.
pub fn client(url: &str) -> kube::Client {
    let config = kube::Config::new(url.parse().expect("fake URL"));
    kube::Client::try_from(config).expect("kube client")
}

/// The fake's counters, read over HTTP (from another process).
pub async fn remote_counts(url: &str) -> Counts {
    reqwest::get(format!("{url}/_bench/counts"))
        .await
        .expect("counts answer")
        .json()
        .await
        .expect("counts decode")
}

/// A Ready Node as a kubelet registers it, with `labels` and, when given, a provider id.
pub fn node(name: &str, provider_id: Option<&str>, labels: &BTreeMap<String, String>) -> Value {
    let mut all = labels.clone();
    all.insert("kubernetes.io/hostname".to_owned(), name.to_owned());
    let mut spec = json!({});
    if let Some(id) = provider_id {
        spec["providerID"] = json!(id);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all},
        "spec": spec,
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    })
}

fn json_response(code: StatusCode, body: String) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    json_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body.to_string(),
    )
}

async fn counts(State(shared): State<Arc<Shared>>) -> Response {
    let counts = shared.lock().counts;
    json_response(StatusCode::OK, json!(counts).to_string())
}

async fn list_or_watch(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let param = |key: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_owned())
    };
    let is_watch = matches!(param("watch").as_deref(), Some("true" | "1"));
    if !is_watch {
        shared.lock().counts.lists += 1;
        tokio::time::sleep(shared.latency).await;
        let inner = shared.lock();
        let items: Vec<&Value> = inner.nodes.values().collect();
        let body = json!({
            "kind": "NodeList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": inner.resource_version.to_string()},
            "items": items,
        });
        return json_response(StatusCode::OK, body.to_string());
    }
    let since: u64 = param("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (replay, mut live) = {
        let mut inner = shared.lock();
        inner.counts.watches += 1;
        let replay: Vec<String> = inner
            .history
            .iter()
            .filter(|(rv, _)| *rv > since)
            .map(|(_, line)| line.clone())
            .collect();
        (replay, shared.events.subscribe())
    };
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<String, Infallible>>();
    tokio::spawn(async move {
        for line in replay {
            if tx.unbounded_send(Ok(line)).is_err() {
                return;
            }
        }
        // Ends when the client goes away or (lagging) the channel drops events: the
        // client then watches again from its last version.
        while let Ok((rv, line)) = live.recv().await {
            if rv > since && tx.unbounded_send(Ok(line)).is_err() {
                return;
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(rx))
        .unwrap_or_else(|_| status(500, "Internal", "response"))
}

async fn get_node(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    shared.lock().counts.gets += 1;
    tokio::time::sleep(shared.latency).await;
    match shared.lock().nodes.get(&name) {
        Some(node) => json_response(StatusCode::OK, node.to_string()),
        None => status(404, "NotFound", &format!("nodes \"{name}\" not found")),
    }
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Some(object) = target.as_object_mut() {
        for (key, value) in fields {
            if value.is_null() {
                object.remove(key);
            } else {
                merge(object.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

async fn patch_node(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    shared.lock().counts.patches += 1;
    tokio::time::sleep(shared.latency).await;
    let Ok(mut patch) = serde_json::from_slice::<Value>(&body) else {
        return status(400, "BadRequest", "invalid JSON");
    };
    let mut inner = shared.lock();
    let Some(mut node) = inner.nodes.get(&name).cloned() else {
        return status(404, "NotFound", &format!("nodes \"{name}\" not found"));
    };
    if let Some(wanted) = patch["metadata"]["resourceVersion"].as_str()
        && node["metadata"]["resourceVersion"].as_str() != Some(wanted)
    {
        return status(409, "Conflict", "the object has been modified");
    }
    if let Some(metadata) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("resourceVersion");
    }
    merge(&mut node, &patch);
    inner.resource_version += 1;
    let rv = inner.resource_version;
    node["metadata"]["resourceVersion"] = json!(rv.to_string());
    let line = format!("{}\n", json!({"type": "MODIFIED", "object": node}));
    inner.history.push((rv, line.clone()));
    let body = node.to_string();
    inner.nodes.insert(name, node);
    let _ = shared.events.send((rv, line));
    json_response(StatusCode::OK, body)
}

async fn unexpected(State(shared): State<Arc<Shared>>, uri: axum::http::Uri) -> Response {
    shared.lock().counts.other += 1;
    status(404, "NotFound", &format!("{} is not served", uri.path()))
}
