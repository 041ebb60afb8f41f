//! Shared pieces of the one-server resource endpoints (`/server/disk`, `/server/network`,
//! `/server/snapshot`, `/server/hdlib`) and the private-network endpoints.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::params::{self, Params};
use super::{error_500, json_response};
use crate::clock::SimMillis;
use crate::commands::NewCommand;
use crate::model::OpKind;
use crate::resources::ResourceOp;
use crate::state::State;

/// A handler's answer: the response, or an error response (boxed: responses are large).
pub(super) type Answer = Result<Response, Box<Response>>;

/// Error code in the upstream error objects the simulator makes up *(sim)*.
const UPSTREAM_CODE: u32 = 4;

/// HTTP 500 whose `message` is the upstream error object as JSON text, the way the proxy
/// passes on a refusal from the console API.
pub(super) fn upstream_error(info: impl Into<String>) -> Response {
    let upstream = json!({"errors": [{"code": UPSTREAM_CODE, "info": info.into()}]});
    error_500(upstream.to_string())
}

/// HTTP 500 `<info> (<code>)`: how the proxy reports a create that upstream refused.
pub(super) fn upstream_rejected(info: &str) -> Response {
    error_500(format!("{info} ({UPSTREAM_CODE})"))
}

/// HTTP 400 `missing required flag (<flag>)`.
pub(super) fn missing_flag(flag: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "message": format!("missing required flag ({flag})") }),
    )
}

/// The field as the proxy's `runIfNotEmpty` sees it: present unless empty (`"0"` counts).
pub(super) fn given(p: &Params, key: &str) -> Option<String> {
    params::text(p, key).filter(|s| !s.trim().is_empty())
}

/// A size in GB: `50`, `50gb` or `50GB` (Terraform sends the suffix).
pub(super) fn parse_gb(value: &str) -> Option<u32> {
    let v = value.trim();
    let digits = v
        .strip_suffix("gb")
        .or_else(|| v.strip_suffix("GB"))
        .or_else(|| v.strip_suffix("Gb"))
        .unwrap_or(v);
    digits.trim().parse::<u32>().ok().filter(|n| *n > 0)
}

/// A non-negative integer index or id.
pub(super) fn parse_index(value: &str) -> Option<u64> {
    value.trim().parse::<u64>().ok()
}

/// Refuses a second resource change while one is still running on the server *(sim)*.
pub(super) fn refuse_if_busy(st: &State, seq: u64) -> Result<(), Box<Response>> {
    if st.resources.busy(seq) {
        let name = st.server(seq).map(|s| s.name.as_str()).unwrap_or_default();
        return Err(Box::new(upstream_error(format!(
            "server {name} has a disk, network, snapshot or disk library task in progress"
        ))));
    }
    Ok(())
}

/// Schedules a resource command whose payload is applied when it completes; answers
/// `["<command id>"]`.
pub(super) fn submit(
    st: &mut State,
    now: SimMillis,
    seq: u64,
    kind: OpKind,
    op: ResourceOp,
    success_log: String,
) -> Response {
    let new = NewCommand {
        kind,
        server_seq: seq,
        success_log,
        power_on_after: false,
        forced_outcome: None,
    };
    let id = st.schedule(now, new);
    st.resources.record(id, seq, op);
    json_response(StatusCode::OK, &json!([id.to_string()]))
}

/// HTTP 200 with a JSON array of rows.
pub(super) fn rows(rows: Vec<Value>) -> Response {
    json_response(StatusCode::OK, &Value::Array(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_the_gb_suffix() {
        assert_eq!(parse_gb("50"), Some(50));
        assert_eq!(parse_gb("50gb"), Some(50));
        assert_eq!(parse_gb(" 20GB "), Some(20));
        assert_eq!(parse_gb("0"), None);
        assert_eq!(parse_gb("ten"), None);
        assert_eq!(parse_gb("10.5gb"), None);
    }
}
