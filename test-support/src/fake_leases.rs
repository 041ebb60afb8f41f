//! Leases (coordination.k8s.io/v1) for the fake Kubernetes API: get, create and replace
//! with optimistic concurrency (a replace must carry the stored resource version, or it
//! is answered `409 Conflict`, as the real API server does), and an outage switch that
//! answers every lease call with an error, for leader-election tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The leases of the fake, shared with the test that drives it.
#[derive(Clone, Default)]
pub struct Leases {
    inner: Arc<Mutex<LeaseStore>>,
}

#[derive(Default)]
struct LeaseStore {
    /// (namespace, name) → the stored Lease.
    leases: BTreeMap<(String, String), Value>,
    resource_version: u64,
    /// When set, every lease call is answered with this status (an unreachable or failing
    /// API server).
    outage: Option<u16>,
    /// Writes accepted, and writes refused for a stale resource version.
    writes: u64,
    conflicts: u64,
}

impl LeaseStore {
    /// A new resource version, as every accepted write gets.
    fn next_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// What a write request meets before it is looked at: the outage, or a body that is
    /// not JSON.
    fn writable(&self, body: &[u8]) -> Result<Value, Box<Response>> {
        if let Some(code) = self.outage {
            return Err(Box::new(status(code, "InternalError", "injected outage")));
        }
        serde_json::from_slice(body)
            .map_err(|_| Box::new(status(400, "BadRequest", "the body is not JSON")))
    }
}

impl Leases {
    fn lock(&self) -> std::sync::MutexGuard<'_, LeaseStore> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The stored Lease `name` in `namespace`.
    #[must_use]
    pub fn get(&self, namespace: &str, name: &str) -> Option<Value> {
        self.lock()
            .leases
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// The holder of Lease `name` in `namespace` (`None` when absent or released).
    #[must_use]
    pub fn holder(&self, namespace: &str, name: &str) -> Option<String> {
        self.get(namespace, name)
            .and_then(|lease| lease["spec"]["holderIdentity"].as_str().map(str::to_owned))
            .filter(|holder| !holder.is_empty())
    }

    /// Answers every lease call with `code` until [`Leases::heal`].
    pub fn outage(&self, code: u16) {
        self.lock().outage = Some(code);
    }

    /// Ends an [`Leases::outage`].
    pub fn heal(&self) {
        self.lock().outage = None;
    }

    /// Makes `identity` the holder of the existing Lease `name` in `namespace`, with a new
    /// resource version: as another replica's write while the old holder was paused or
    /// cut off. Returns false when there is no such Lease.
    pub fn set_holder(&self, namespace: &str, name: &str, identity: &str) -> bool {
        let mut store = self.lock();
        let key = (namespace.to_owned(), name.to_owned());
        if !store.leases.contains_key(&key) {
            return false;
        }
        let version = store.next_version();
        if let Some(lease) = store.leases.get_mut(&key) {
            lease["spec"]["holderIdentity"] = json!(identity);
            lease["metadata"]["resourceVersion"] = json!(version);
        }
        true
    }

    /// Writes accepted and writes refused with `409 Conflict`.
    #[must_use]
    pub fn writes_and_conflicts(&self) -> (u64, u64) {
        let store = self.lock();
        (store.writes, store.conflicts)
    }
}

/// The lease routes, to merge into the fake's router.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(leases: Leases) -> Router<S> {
    Router::new()
        .route(
            "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
            post(create),
        )
        .route(
            "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}",
            get(read).put(replace),
        )
        .with_state(leases)
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn json_answer(code: StatusCode, value: &Value) -> Response {
    (
        code,
        [("content-type", "application/json")],
        value.to_string(),
    )
        .into_response()
}

async fn read(
    State(leases): State<Leases>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let store = leases.lock();
    if let Some(code) = store.outage {
        return status(code, "InternalError", "injected outage");
    }
    match store.leases.get(&(namespace, name.clone())) {
        Some(lease) => json_answer(StatusCode::OK, lease),
        None => status(404, "NotFound", &format!("leases \"{name}\" not found")),
    }
}

async fn create(
    State(leases): State<Leases>,
    Path(namespace): Path<String>,
    body: Bytes,
) -> Response {
    let mut store = leases.lock();
    let mut lease = match store.writable(&body) {
        Ok(lease) => lease,
        Err(refused) => return *refused,
    };
    let Some(name) = lease["metadata"]["name"].as_str().map(str::to_owned) else {
        return status(422, "Invalid", "metadata.name is required");
    };
    let key = (namespace.clone(), name.clone());
    if store.leases.contains_key(&key) {
        return status(
            409,
            "AlreadyExists",
            &format!("leases \"{name}\" already exists"),
        );
    }
    let version = store.next_version();
    store.writes += 1;
    lease["metadata"]["namespace"] = json!(namespace);
    lease["metadata"]["uid"] = json!(format!("lease-uid-{version}"));
    lease["metadata"]["resourceVersion"] = json!(version);
    store.leases.insert(key, lease.clone());
    json_answer(StatusCode::CREATED, &lease)
}

async fn replace(
    State(leases): State<Leases>,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut store = leases.lock();
    let mut lease = match store.writable(&body) {
        Ok(lease) => lease,
        Err(refused) => return *refused,
    };
    let key = (namespace.clone(), name.clone());
    let Some(stored) = store.leases.get(&key) else {
        return status(404, "NotFound", &format!("leases \"{name}\" not found"));
    };
    let sent = lease["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default();
    if sent
        != stored["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
    {
        store.conflicts += 1;
        return status(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on leases.coordination.k8s.io \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
        );
    }
    let version = store.next_version();
    store.writes += 1;
    lease["metadata"]["namespace"] = json!(namespace);
    lease["metadata"]["resourceVersion"] = json!(version);
    store.leases.insert(key, lease.clone());
    json_answer(StatusCode::OK, &lease)
}
