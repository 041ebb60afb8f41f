//! `GET /service/queue?id=A%20B[&log=true]`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::json_response;
use super::params::{self, Params};
use crate::clock::SimMillis;
use crate::config::QueueHiddenMode;
use crate::state::State;

pub(super) fn queue(st: &mut State, p: &Params, now: SimMillis) -> Response {
    // Non-numeric ids can never name a command; they simply produce no item, like unknown ids.
    let ids: Vec<u64> = params::text(p, "id")
        .unwrap_or_default()
        .split([' ', '+', ','])
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let log_only = params::truthy(p, "log") && params::text(p, "log").as_deref() != Some("false");
    let (items, any_hidden) = st.queue_items(&ids, now, log_only);
    if items.is_empty() && any_hidden && st.behaviour.queue_hidden_mode == QueueHiddenMode::NotFound
    {
        return json_response(StatusCode::NOT_FOUND, &json!({"json_decode_error": null}));
    }
    json_response(StatusCode::OK, &Value::Array(items))
}
