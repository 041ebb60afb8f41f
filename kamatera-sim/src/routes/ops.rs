//! Terminate and power operations: one command per matched server.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::params::{self, Params};
use super::servers::select;
use super::{error_500, json_response};
use crate::clock::SimMillis;
use crate::commands::NewCommand;
use crate::config::TerminateVisibility;
use crate::model::{OpKind, Outcome, Power};
use crate::state::{Selector, State};

fn no_servers(selector: &Selector) -> Response {
    error_500(format!("No servers found ({})", selector.describe()))
}

pub(super) fn terminate(st: &mut State, p: &Params, now: SimMillis) -> Response {
    let (selector, found) = match select(st, p, "terminateServer") {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if found.is_empty() {
        return no_servers(&selector);
    }
    if params::truthy(p, "dryrun") {
        let names: Vec<String> = match selector {
            Selector::Name(_) => found
                .iter()
                .filter_map(|s| st.server(*s))
                .map(|s| s.name.clone())
                .collect(),
            Selector::Id(_) => Vec::new(),
        };
        return json_response(
            StatusCode::OK,
            &json!({"dryrun": true, "server-names": names}),
        );
    }
    let force = params::is_true(p, "force");
    let remove_now = st.behaviour.terminate_visibility == TerminateVisibility::RemovedAtSubmission;
    let mut ids = Vec::with_capacity(found.len());
    for seq in found {
        let Some(server) = st.server(seq) else {
            continue;
        };
        let refused = !force && server.power == Power::On;
        let log = format!("Terminating server {}\nServer terminated", server.name);
        let forced_outcome = refused.then(|| Outcome::Error {
            log: "Server is powered on".to_owned(),
        });
        let new = NewCommand {
            kind: OpKind::Terminate,
            server_seq: seq,
            success_log: log,
            power_on_after: false,
            forced_outcome,
        };
        ids.push(Value::String(st.schedule(now, new).to_string()));
        if remove_now && !refused {
            st.remove_server(seq);
        }
    }
    json_response(StatusCode::OK, &Value::Array(ids))
}

pub(super) fn power(st: &mut State, p: &Params, now: SimMillis, kind: OpKind) -> Response {
    let method = match kind {
        OpKind::PowerOn => "poweronServer",
        OpKind::PowerOff => "poweroffServer",
        _ => "rebootServer",
    };
    let (selector, found) = match select(st, p, method) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if found.is_empty() {
        return no_servers(&selector);
    }
    let verb = match kind {
        OpKind::PowerOn => "Powering on",
        OpKind::PowerOff => "Powering off",
        _ => "Rebooting",
    };
    let ids: Vec<Value> = found
        .into_iter()
        .map(|seq| {
            let name = st.server(seq).map(|s| s.name.clone()).unwrap_or_default();
            let log = format!("{verb} server {name}\nDone");
            let new = NewCommand {
                kind,
                server_seq: seq,
                success_log: log,
                power_on_after: false,
                forced_outcome: None,
            };
            Value::String(st.schedule(now, new).to_string())
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(ids))
}
