//! A fake Kubernetes API server with just enough of `/api/v1/nodes` for node sync: list
//! (with a resource version), streaming watch, get, merge patch and delete (with
//! preconditions), injected failures (the next few calls of a kind, or every write to one
//! Node, or patches of one Node that never answer), an injected latency, a log of every
//! request and counters by kind. One fake for the node-sync tests and the node-sync bench.
//!
//! `GET /_fake/counts` answers the counters as JSON ([`Counts`]), so a provider in a child
//! process can be measured by its parent.

// A fixture that cannot start or is misused fails the test using it, at once.
#![expect(clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// HTTP method.
    pub method: Method,
    /// Path without the query.
    pub path: String,
    /// Raw query string (empty when none).
    pub query: String,
    /// The request's `Content-Type` (empty when none).
    pub content_type: String,
    /// The body as JSON (`null` when empty or not JSON).
    pub body: Value,
    /// When it arrived, on tokio's clock (so paused-time tests can measure gaps).
    pub at: Instant,
}

impl Recorded {
    fn is_watch(&self) -> bool {
        self.query
            .split('&')
            .any(|p| p == "watch=true" || p == "watch=1")
    }
}

/// A kind of call failures can be injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// `GET /api/v1/nodes`.
    List,
    /// `GET /api/v1/nodes?watch=true`.
    Watch,
    /// `GET /api/v1/nodes/<name>`.
    Get,
    /// `PATCH /api/v1/nodes/<name>`.
    Patch,
    /// `DELETE /api/v1/nodes/<name>`.
    Delete,
}

/// Requests the fake received, by kind.
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
    /// `DELETE /api/v1/nodes/<name>`.
    pub deletes: u64,
    /// Anything the fake does not serve.
    pub other: u64,
}

impl Counts {
    /// Requests about one Node (get, patch, delete, anything else).
    #[must_use]
    pub fn per_node(&self) -> u64 {
        self.gets + self.patches + self.deletes + self.other
    }

    fn count(&mut self, call: Option<Call>) {
        let counter = match call {
            Some(Call::List) => &mut self.lists,
            Some(Call::Watch) => &mut self.watches,
            Some(Call::Get) => &mut self.gets,
            Some(Call::Patch) => &mut self.patches,
            Some(Call::Delete) => &mut self.deletes,
            None => &mut self.other,
        };
        *counter += 1;
    }
}

#[derive(Default)]
struct Inner {
    nodes: BTreeMap<String, Value>,
    resource_version: u64,
    history: Vec<(u64, String)>,
    requests: Vec<Recorded>,
    faults: HashMap<Call, VecDeque<u16>>,
    /// Node name → the status every patch and delete of it is answered with.
    failing_nodes: HashMap<String, u16>,
    /// Nodes whose patches are never answered.
    hanging_nodes: HashSet<String>,
    next_uid: u64,
    counts: Counts,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Watch event lines as they happen, with their resource version.
    events: broadcast::Sender<(u64, String)>,
    /// Bumped to end every open watch stream.
    closer: watch::Sender<u64>,
    /// How long lists, gets and patches take to be answered.
    latency: Duration,
}

impl Shared {
    /// Waits the injected latency (nothing, not even a yield, when there is none).
    async fn answer_delay(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The running fake; stops when dropped.
pub struct FakeKube {
    url: String,
    shared: Arc<Shared>,
    leases: crate::fake_leases::Leases,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeKube {
    /// Starts an empty fake on a free loopback port, answering at once.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start() -> Self {
        Self::start_with(Vec::new(), Duration::ZERO).await
    }

    /// Starts the fake with `nodes` stored (uids and resource versions assigned, no watch
    /// events: as if they had been there before any client came); every list, get and
    /// patch is answered `latency` after it arrived.
    ///
    /// # Panics
    /// When a Node has no name or no loopback port can be bound.
    pub async fn start_with(nodes: Vec<Value>, latency: Duration) -> Self {
        let mut inner = Inner {
            resource_version: 100,
            ..Inner::default()
        };
        for mut node in nodes {
            inner.next_uid += 1;
            inner.resource_version += 1;
            node["metadata"]["uid"] = json!(format!("uid-{}", inner.next_uid));
            node["metadata"]["resourceVersion"] = json!(inner.resource_version.to_string());
            let name = node["metadata"]["name"]
                .as_str()
                .expect("a Node has a name")
                .to_owned();
            inner.nodes.insert(name, node);
        }
        let shared = Arc::new(Shared {
            inner: Mutex::new(inner),
            // Larger than any burst of the bench, so that no watcher lags and re-watches.
            events: broadcast::channel(16_384).0,
            closer: watch::channel(0).0,
            latency,
        });
        let leases = crate::fake_leases::Leases::default();
        let app = Router::new()
            .route("/api/v1/nodes", get(list_or_watch))
            .route(
                "/api/v1/nodes/{name}",
                get(get_node).patch(patch_node).delete(delete_node),
            )
            .route("/_fake/counts", get(counts))
            .merge(crate::fake_leases::router(leases.clone()))
            .fallback(unexpected)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Kubernetes API");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the fake's local address")
        );
        let server = tokio::spawn(async move {
            // Ends only when aborted (on drop) or when the listener fails.
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            shared,
            leases,
            server,
        }
    }

    /// The fake's Leases (coordination.k8s.io/v1).
    #[must_use]
    pub fn leases(&self) -> &crate::fake_leases::Leases {
        &self.leases
    }

    /// A kubeconfig (YAML) whose current context is this fake, without auth: for a
    /// provider started as a process with `--kubeconfig`.
    #[must_use]
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\ncurrent-context: fake\nusers:\n- name: fake\n  user: {{}}\n",
            url = self.url
        )
    }

    /// Writes [`Self::kubeconfig`] into `dir` and returns its path.
    ///
    /// # Panics
    /// When the file cannot be written.
    #[must_use]
    pub fn write_kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let text = self.kubeconfig();
        std::fs::create_dir_all(dir).expect("the kubeconfig's folder");
        let path = dir.join("kubeconfig");
        std::fs::write(&path, text).expect("write the kubeconfig");
        path
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A client without auth over plain HTTP, as node sync gets from a kubeconfig.
    #[must_use]
    pub fn client(&self) -> kube::Client {
        client(&self.url)
    }

    /// Adds a Node (uid and resource version assigned) and sends `ADDED`.
    ///
    /// # Panics
    /// When the Node has no name.
    pub fn add_node(&self, mut node: Value) {
        let mut inner = self.shared.lock();
        inner.next_uid += 1;
        node["metadata"]["uid"] = json!(format!("uid-{}", inner.next_uid));
        let name = node["metadata"]["name"]
            .as_str()
            .expect("a Node has a name")
            .to_owned();
        self.commit(&mut inner, "ADDED", name, node);
    }

    /// Changes a Node as the kubelet or a user would, and sends `MODIFIED`.
    ///
    /// # Panics
    /// When there is no such Node.
    pub fn modify_node(&self, name: &str, change: impl FnOnce(&mut Value)) {
        let mut inner = self.shared.lock();
        let mut node = inner.nodes.get(name).cloned().expect("the Node exists");
        change(&mut node);
        self.commit(&mut inner, "MODIFIED", name.to_owned(), node);
    }

    /// The requests received so far, by kind.
    #[must_use]
    pub fn counts(&self) -> Counts {
        self.shared.lock().counts
    }

    /// The Node as stored now.
    #[must_use]
    pub fn node(&self, name: &str) -> Option<Value> {
        self.shared.lock().nodes.get(name).cloned()
    }

    /// Every request so far.
    #[must_use]
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// Writes (PATCH and DELETE) so far, in order.
    #[must_use]
    pub fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == Method::PATCH || r.method == Method::DELETE)
            .collect()
    }

    /// Watch requests so far.
    #[must_use]
    pub fn watches(&self) -> usize {
        self.requests().iter().filter(|r| r.is_watch()).count()
    }

    /// The next `times` calls of kind `call` are answered with `code`.
    pub fn fail_next(&self, call: Call, code: u16, times: usize) {
        let mut inner = self.shared.lock();
        let queue = inner.faults.entry(call).or_default();
        queue.extend(std::iter::repeat_n(code, times));
    }

    /// Every patch and delete of Node `name` is answered with `code`, until
    /// [`heal`](Self::heal).
    pub fn fail_writes_to(&self, name: &str, code: u16) {
        self.shared
            .lock()
            .failing_nodes
            .insert(name.to_owned(), code);
    }

    /// Patches of Node `name` are recorded but never answered, until [`heal`](Self::heal).
    pub fn hang_patches_of(&self, name: &str) {
        self.shared.lock().hanging_nodes.insert(name.to_owned());
    }

    /// Ends [`fail_writes_to`](Self::fail_writes_to) and
    /// [`hang_patches_of`](Self::hang_patches_of) for `name`.
    pub fn heal(&self, name: &str) {
        let mut inner = self.shared.lock();
        inner.failing_nodes.remove(name);
        inner.hanging_nodes.remove(name);
    }

    /// Requests to `/api/v1/nodes/<name>` so far, in order.
    #[must_use]
    pub fn requests_to(&self, name: &str) -> Vec<Recorded> {
        let path = format!("/api/v1/nodes/{name}");
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Injected failures not used yet.
    #[must_use]
    pub fn pending_faults(&self, call: Call) -> usize {
        self.shared
            .lock()
            .faults
            .get(&call)
            .map_or(0, VecDeque::len)
    }

    /// Ends every open watch stream, as an API server restart or a load balancer would.
    pub fn close_watches(&self) {
        self.shared
            .closer
            .send_modify(|generation| *generation += 1);
    }

    fn commit(&self, inner: &mut Inner, kind: &str, name: String, node: Value) {
        commit(&self.shared, inner, kind, name, node);
    }
}

/// A client of the fake at `url` without auth, over plain HTTP.
///
/// # Panics
/// When `url` is not a URL.
#[must_use]
pub fn client(url: &str) -> kube::Client {
    let config = kube::Config::new(url.parse().expect("the fake's URL"));
    kube::Client::try_from(config).expect("a kube client for the fake")
}

/// Stores (or, for `DELETED`, removes) a Node under a new resource version and sends the
/// watch event. Runs under the state lock, so a watch that snapshots history and subscribes
/// under the same lock sees every event exactly once.
fn commit(shared: &Shared, inner: &mut Inner, kind: &str, name: String, mut node: Value) {
    inner.resource_version += 1;
    let rv = inner.resource_version;
    node["metadata"]["resourceVersion"] = json!(rv.to_string());
    let line = format!("{}\n", json!({"type": kind, "object": node}));
    if kind == "DELETED" {
        inner.nodes.remove(&name);
    } else {
        inner.nodes.insert(name, node);
    }
    inner.history.push((rv, line.clone()));
    let _ = shared.events.send((rv, line));
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn counts(State(shared): State<Arc<Shared>>) -> Response {
    let counts = shared.lock().counts;
    object(&json!(counts))
}

fn object(value: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// Records the request and returns the injected failure for `call`, if any.
fn record(
    inner: &mut Inner,
    call: Call,
    method: Method,
    path: String,
    query: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<Response> {
    inner.counts.count(Some(call));
    inner.requests.push(Recorded {
        method,
        path,
        query: query.to_owned(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
        at: Instant::now(),
    });
    if matches!(call, Call::Patch | Call::Delete)
        && let Some(name) = inner
            .requests
            .last()
            .and_then(|r| r.path.strip_prefix("/api/v1/nodes/").map(str::to_owned))
        && let Some(code) = inner.failing_nodes.get(&name)
    {
        return Some(status(*code, "Injected", "injected failure of this node"));
    }
    let code = inner.faults.get_mut(&call)?.pop_front()?;
    Some(status(code, "Injected", "injected failure"))
}

async fn list_or_watch(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    let is_watch = matches!(query_param(&query, "watch"), Some("true" | "1"));
    let call = if is_watch { Call::Watch } else { Call::List };
    if !is_watch {
        shared.answer_delay().await;
    }
    let mut inner = shared.lock();
    let path = "/api/v1/nodes".to_owned();
    if let Some(failure) = record(
        &mut inner,
        call,
        Method::GET,
        path,
        &query,
        &headers,
        &Bytes::new(),
    ) {
        return failure;
    }
    if !is_watch {
        let items: Vec<Value> = inner.nodes.values().cloned().collect();
        return object(&json!({
            "kind": "NodeList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": inner.resource_version.to_string()},
            "items": items,
        }));
    }
    let since: u64 = query_param(&query, "resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let replay: Vec<String> = inner
        .history
        .iter()
        .filter(|(rv, _)| *rv > since)
        .map(|(_, line)| line.clone())
        .collect();
    let mut live = shared.events.subscribe();
    let mut closed = shared.closer.subscribe();
    drop(inner);

    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<String, Infallible>>();
    tokio::spawn(async move {
        for line in replay {
            if tx.unbounded_send(Ok(line)).is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                event = live.recv() => match event {
                    Ok((rv, line)) if rv > since => {
                        if tx.unbounded_send(Ok(line)).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    // Ending the stream makes the client watch again from its last version.
                    Err(_) => return,
                },
                _ = closed.changed() => return,
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(rx))
        .unwrap_or_else(|_| status(500, "InternalError", "the watch response"))
}

async fn get_node(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    shared.answer_delay().await;
    let mut inner = shared.lock();
    let path = format!("/api/v1/nodes/{name}");
    let query = query.unwrap_or_default();
    if let Some(failure) = record(
        &mut inner,
        Call::Get,
        Method::GET,
        path,
        &query,
        &headers,
        &Bytes::new(),
    ) {
        return failure;
    }
    match inner.nodes.get(&name) {
        Some(node) => object(node),
        None => not_found(&name),
    }
}

fn not_found(name: &str) -> Response {
    status(404, "NotFound", &format!("nodes \"{name}\" not found"))
}

fn conflict(name: &str) -> Response {
    status(
        409,
        "Conflict",
        &format!("Operation cannot be fulfilled on nodes \"{name}\": the object has been modified"),
    )
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
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.answer_delay().await;
    match patch_locked(&shared, name, query, &headers, &body) {
        Some(response) => response,
        // A hanging patch: the client gives up (its request timeout) and drops it.
        None => std::future::pending().await,
    }
}

/// The patch under the state lock; `None` for a Node whose patches hang.
fn patch_locked(
    shared: &Arc<Shared>,
    name: String,
    query: Option<String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<Response> {
    let mut inner = shared.lock();
    if inner.hanging_nodes.contains(&name) {
        inner.counts.count(Some(Call::Patch));
        inner.requests.push(Recorded {
            method: Method::PATCH,
            path: format!("/api/v1/nodes/{name}"),
            query: query.unwrap_or_default(),
            content_type: String::new(),
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
            at: Instant::now(),
        });
        return None;
    }
    Some(patch_stored(shared, &mut inner, name, query, headers, body))
}

fn patch_stored(
    shared: &Arc<Shared>,
    inner: &mut Inner,
    name: String,
    query: Option<String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let path = format!("/api/v1/nodes/{name}");
    let query = query.unwrap_or_default();
    if let Some(failure) = record(
        inner,
        Call::Patch,
        Method::PATCH,
        path,
        &query,
        headers,
        body,
    ) {
        return failure;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type != "application/merge-patch+json" {
        return status(415, "UnsupportedMediaType", "only merge patches here");
    }
    let Ok(mut patch) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "invalid JSON");
    };
    let Some(mut node) = inner.nodes.get(&name).cloned() else {
        return not_found(&name);
    };
    if let Some(wanted) = patch["metadata"]["resourceVersion"].as_str()
        && node["metadata"]["resourceVersion"].as_str() != Some(wanted)
    {
        return conflict(&name);
    }
    // Like the API server: a provider id may go from empty to a value, never change.
    let old_id = node["spec"]["providerID"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if let Some(metadata) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("resourceVersion");
    }
    merge(&mut node, &patch);
    let new_id = node["spec"]["providerID"].as_str().unwrap_or_default();
    if !old_id.is_empty() && new_id != old_id {
        return status(
            422,
            "Invalid",
            "spec.providerID: Forbidden: node updates may not change providerID except from \"\" to valid",
        );
    }
    commit(shared, inner, "MODIFIED", name.clone(), node);
    let stored = inner.nodes.get(&name).cloned().unwrap_or_default();
    object(&stored)
}

async fn delete_node(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = shared.lock();
    let path = format!("/api/v1/nodes/{name}");
    let query = query.unwrap_or_default();
    if let Some(failure) = record(
        &mut inner,
        Call::Delete,
        Method::DELETE,
        path,
        &query,
        &headers,
        &body,
    ) {
        return failure;
    }
    let Some(node) = inner.nodes.get(&name).cloned() else {
        return not_found(&name);
    };
    let options: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let preconditions = &options["preconditions"];
    for (field, current) in [
        ("resourceVersion", &node["metadata"]["resourceVersion"]),
        ("uid", &node["metadata"]["uid"]),
    ] {
        if let Some(wanted) = preconditions[field].as_str()
            && current.as_str() != Some(wanted)
        {
            return conflict(&name);
        }
    }
    commit(&shared, &mut inner, "DELETED", name, node.clone());
    object(&node)
}

async fn unexpected(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = shared.lock();
    inner.counts.count(None);
    inner.requests.push(Recorded {
        method: method.clone(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: Instant::now(),
    });
    status(
        404,
        "NotFound",
        &format!("{method} {} is not served by the fake", uri.path()),
    )
}

/// A Node as the kubelet registers it: a name, an optional provider id, and a Ready
/// condition with the given status (`"True"`, `"False"`, `"Unknown"`).
#[must_use]
pub fn node(name: &str, provider_id: Option<&str>, ready: &str) -> Value {
    let mut spec = json!({});
    if let Some(id) = provider_id {
        spec["providerID"] = json!(id);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": spec,
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    })
}

/// A Ready Node with `labels` besides its hostname label, and a provider id when given.
#[must_use]
pub fn node_with_labels(
    name: &str,
    provider_id: Option<&str>,
    labels: &BTreeMap<String, String>,
) -> Value {
    let mut node = node(name, provider_id, "True");
    for (key, value) in labels {
        node["metadata"]["labels"][key] = json!(value);
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patches_set_replace_and_remove() {
        let mut target = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge(&mut target, &json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(target, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }

    #[test]
    fn labelled_nodes_keep_the_hostname_label() {
        let labels = BTreeMap::from([("role".to_owned(), "worker".to_owned())]);
        let node = node_with_labels("n1", Some("kamatera://n1"), &labels);
        assert_eq!(node["metadata"]["labels"]["kubernetes.io/hostname"], "n1");
        assert_eq!(node["metadata"]["labels"]["role"], "worker");
        assert_eq!(node["spec"]["providerID"], "kamatera://n1");
    }

    #[test]
    fn counts_sum_the_requests_about_one_node() {
        let mut counts = Counts::default();
        for call in [
            Some(Call::List),
            Some(Call::Get),
            Some(Call::Patch),
            Some(Call::Delete),
            None,
        ] {
            counts.count(call);
        }
        assert_eq!((counts.lists, counts.per_node()), (1, 4));
    }
}
