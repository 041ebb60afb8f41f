//! The plaintext HTTP port: `/healthz`, `/readyz` and `/metrics`.
//!
//! It is separate from the gRPC port because kubelet probes and Prometheus cannot present
//! the client certificate that mTLS requires there.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::background::Background;
use crate::metrics::Metrics;

/// The OpenMetrics text content type that prometheus-client produces.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone)]
struct AppState {
    background: Arc<Background>,
    metrics: Arc<Metrics>,
}

/// The router of the HTTP port.
pub fn router(background: Arc<Background>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AppState {
            background,
            metrics,
        })
}

/// The process answers: it is alive.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready once the servers have been listed (see [`Background::is_ready`]).
async fn readyz(State(state): State<AppState>) -> Response {
    if state.background.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the Kamatera servers have not been listed yet\n",
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
