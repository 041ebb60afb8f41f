//! One-server read endpoints with little logic: description, history and the SSH-key target.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::params::{self, Params};
use super::server_admin::{Handler, select_single};
use super::{error_500, json_response};
use crate::clock::SimMillis;
use crate::state::State;

/// `POST /server/description`: the proxy answers `[{name, description}]` from the server
/// overview, after first storing `set` (any text but `""`) when it is given. The change is
/// immediate, not a queued command.
pub(super) fn description(st: &mut State, p: &Params, now: SimMillis) -> Response {
    let handler = Handler::Method("serverDescription");
    let seq = match select_single(st, p, handler) {
        Ok(seq) => seq,
        Err(e) => return *e,
    };
    if let Some(text) = params::text(p, "set").filter(|t| !t.is_empty()) {
        if let Some(server) = st.server_mut(seq) {
            server.description = text;
        }
        st.record_action(seq, "Set Description", now);
    }
    let Some(server) = st.server(seq) else {
        return handler.failed();
    };
    json_response(
        StatusCode::OK,
        &json!([{"name": server.name, "description": server.description}]),
    )
}

/// `POST /server/history`: rows `action,date,user`, oldest first.
pub(super) fn history(st: &mut State, p: &Params) -> Response {
    let handler = Handler::Method("serverHistory");
    let seq = match select_single(st, p, handler) {
        Ok(seq) => seq,
        Err(e) => return *e,
    };
    let Some(server) = st.server(seq) else {
        return handler.failed();
    };
    let rows: Vec<Value> = server
        .history
        .iter()
        .map(|h| json!({"action": h.action, "date": h.date, "user": h.user}))
        .collect();
    json_response(StatusCode::OK, &Value::Array(rows))
}

/// `POST /service/server/sshkey`: where the CLI should install a key. The proxy reads only the
/// selection (the CLI uses `password` and `public-key` itself, over SSH).
pub(super) fn sshkey(st: &mut State, p: &Params) -> Response {
    let handler = Handler::Method("sshServerKey");
    let seq = match select_single(st, p, handler) {
        Ok(seq) => seq,
        Err(e) => return *e,
    };
    let Some(server) = st.server(seq) else {
        return handler.failed();
    };
    let ip = server
        .networks
        .iter()
        .filter(|n| n.network.starts_with("wan-"))
        .flat_map(|n| n.ips.iter())
        .find(|ip| !ip.is_empty());
    match ip {
        Some(ip) => json_response(
            StatusCode::OK,
            &json!([{"id": server.id, "name": server.name, "externalIp": ip}]),
        ),
        // The proxy quotes the `name` flag here, empty when selecting by id.
        None => error_500(format!(
            "No external IP for server name {}",
            params::non_empty(p, "name").unwrap_or_default()
        )),
    }
}
