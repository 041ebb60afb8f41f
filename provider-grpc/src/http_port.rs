//! The plaintext HTTP port: `/healthz`, `/readyz` and `/metrics`.
//!
//! It is separate from the gRPC port because kubelet probes and Prometheus cannot present
//! the client certificate that mTLS requires there.
//!
//! Its clients are kubelet and Prometheus, so the limits are tight: HTTP/1.1 only, the
//! request head must arrive within [`HEADER_READ_TIMEOUT`] and fit in [`MAX_HEAD_BYTES`]
//! with at most [`MAX_HEADERS`] headers, an answer must be ready within
//! [`REQUEST_TIMEOUT`], and no handler reads a request body. Every connection is served in
//! its own task, so a slow client holds up only itself.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use kamatera_nodegroups::engine::Role;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::running_engine::RunningEngine;

/// The OpenMetrics text content type that prometheus-client produces.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone)]
struct AppState {
    background: Arc<RunningEngine>,
    metrics: Arc<Metrics>,
}

/// Longest time an answer may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time the request line and headers may take to arrive.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request head (hyper's smallest allowed read buffer).
pub const MAX_HEAD_BYTES: usize = 8192;
/// Most headers in one request.
pub const MAX_HEADERS: usize = 32;
/// Connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 128;

/// The router of the HTTP port.
pub fn router(background: Arc<RunningEngine>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .layer(middleware::from_fn(answer_in_time))
        .with_state(AppState {
            background,
            metrics,
        })
}

async fn answer_in_time(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the answer took too long\n",
        )
            .into_response(),
    }
}

/// Serves `app` on `listener` with the limits above until `shutdown` fires; then lets
/// the requests in progress finish (the caller bounds how long).
pub async fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken) {
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "cannot accept an HTTP connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "too many HTTP connections; connection closed");
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(MAX_HEAD_BYTES)
                .max_headers(MAX_HEADERS);
            let connection = builder.serve_connection(TokioIo::new(tcp), service);
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "HTTP connection ended with an error");
            }
            drop(permit);
        });
        // Finished connections are reaped as we go, so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// The process answers: it is alive.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready once the servers have been listed (see [`RunningEngine::is_ready`]).
///
/// The body says why when the server lists fail: before the first list the provider is
/// not ready; after it, it stays ready (see [`RunningEngine::is_ready`]) and the body
/// names the trouble, so that a probe's log or `curl` tells an operator what is wrong.
async fn readyz(State(state): State<AppState>) -> Response {
    let trouble = state.background.engine().api_trouble().map(|trouble| {
        format!(
            "the Kamatera API fails ({}) for {}s: {}; last error: {}",
            trouble.kind.label(),
            trouble.duration().as_secs(),
            trouble.kind.advice(),
            trouble.message
        )
    });
    if state.background.is_ready() {
        let body = match trouble {
            Some(trouble) => {
                let listed = state
                    .background
                    .engine()
                    .stats()
                    .since_last_success
                    .map_or(0, |age| age.as_secs());
                format!("ready, last good list {listed}s ago; {trouble}\n")
            }
            None => "ready\n".to_owned(),
        };
        (StatusCode::OK, body).into_response()
    } else if state.background.engine().role() == Role::Standby {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: a standby (leader election); another replica leads\n",
        )
            .into_response()
    } else {
        let why =
            trouble.unwrap_or_else(|| "the Kamatera servers have not been listed yet".to_owned());
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response()
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    match state.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response(),
    }
}
