//! `GET /svc/queue`: the account's recent commands, newest first.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::json_response;
use crate::clock::SimMillis;
use crate::state::State;

/// How many commands the list shows *(sim)*.
pub(crate) const RECENT_COMMANDS: usize = 100;

pub(super) fn recent(st: &State, now: SimMillis) -> Response {
    json_response(
        StatusCode::OK,
        &Value::Array(st.recent_rows(now, RECENT_COMMANDS)),
    )
}
