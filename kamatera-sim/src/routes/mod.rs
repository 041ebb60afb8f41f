//! The Kamatera API surface: one entry point that logs, injects faults, authenticates and dispatches.

mod clone;
mod configure;
mod create;
mod disks;
mod hdlib;
mod networks;
mod nics;
mod ops;
mod options;
pub(crate) mod params;
mod queue;
mod recent;
mod resource_ops;
mod server_admin;
mod server_details;
mod servers;
mod snapshots;
mod streams;
mod usage;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State as AxState;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SimMillis};
use crate::config::AuthErrorMode;
use crate::faults::{self, FaultAction};
use crate::state::State;
use params::Params;

/// Shared between the server and every `SimHandle`.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) state: Mutex<State>,
    pub(crate) clock: Clock,
    pub(crate) shutdown: CancellationToken,
}

impl App {
    /// Locks the state. A panic elsewhere must not wedge the simulator, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks the state after applying every command that finished by now.
    pub(crate) fn settled(&self) -> (MutexGuard<'_, State>, SimMillis) {
        let now = self.clock.now();
        let mut st = self.lock();
        st.settle(now);
        (st, now)
    }
}

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new().fallback(entry).with_state(app)
}

async fn entry(
    AxState(app): AxState<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if path == "/__sim" || path.starts_with("/__sim/") {
        return crate::control::handle(&app, &method, path, uri.query(), &body);
    }
    let params = params::merge(uri.query(), &headers, &body);
    tracing::debug!(%method, path, "api request");
    let (seq, verdict) = {
        let (mut guard, now) = app.settled();
        let st = &mut *guard;
        let seq = st.log_request(
            method.as_str(),
            path,
            uri.query().map(str::to_owned),
            Value::Object(params.clone()),
            now,
        );
        (
            seq,
            faults::evaluate(&mut st.faults, &mut st.rng, method.as_str(), path, &params),
        )
    };
    if verdict.delay_ms > 0 {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(verdict.delay_ms)) => {}
            () = app.shutdown.cancelled() => {}
        }
    }
    let mut edit = None;
    let drop_after = match verdict.action {
        Some(action) if action.edits_rows() => {
            edit = Some(action);
            false
        }
        Some(FaultAction::Respond {
            status,
            json,
            text,
            headers: extra,
            content_type,
        }) => {
            let response = fault_response(status, json, text, &extra, content_type.as_deref());
            app.lock()
                .set_request_status(seq, response.status().as_u16());
            return wrap_if_requested(&headers, response).await;
        }
        // Streamed answers are never wrapped: that would mean holding them whole.
        Some(FaultAction::HugeBody {
            bytes,
            declare_length,
        }) => {
            app.lock().set_request_status(seq, 200);
            return streams::huge_body(bytes, declare_length, app.shutdown.clone());
        }
        Some(FaultAction::Trickle { interval_ms }) => {
            app.lock().set_request_status(seq, 200);
            return streams::trickle(Duration::from_millis(interval_ms), app.shutdown.clone());
        }
        Some(FaultAction::DropBeforeApply) => return dropped_connection(),
        Some(FaultAction::DropAfterApply) => true,
        _ => false,
    };
    let response = {
        let (mut st, now) = app.settled();
        st.set_client(
            headers
                .get("AuthClientId")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default(),
        );
        let response = match check_auth(&st, &method, path, &headers) {
            Some(denied) => denied,
            None => dispatch(&mut st, &method, path, &params, now),
        };
        st.set_request_status(
            seq,
            if drop_after {
                0
            } else {
                response.status().as_u16()
            },
        );
        response
    };
    if drop_after {
        dropped_connection()
    } else if let Some(edit) = edit {
        wrap_if_requested(&headers, edit_response(&edit, response).await).await
    } else {
        wrap_if_requested(&headers, response).await
    }
}

/// Applies a row-editing fault to a successful JSON answer.
async fn edit_response(edit: &FaultAction, response: Response) -> Response {
    if !response.status().is_success() {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Every body built here is already in memory, so collecting it cannot block on the network.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(value) => json_response(parts.status, &edit.edit_rows(value)),
        Err(_) => Response::from_parts(parts, Body::from(bytes)),
    }
}

/// Honours `X-CLOUDCLI-STATUSINJSON: true`: HTTP 200 with `{"response": <body>, "status": <code>}`.
async fn wrap_if_requested(headers: &HeaderMap, response: Response) -> Response {
    let wanted = headers
        .get("X-CLOUDCLI-STATUSINJSON")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !wanted {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Every body built here is already in memory, so collecting it cannot block on the network.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let inner = serde_json::from_slice::<Value>(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    json_response(
        StatusCode::OK,
        &json!({"response": inner, "status": parts.status.as_u16()}),
    )
}

fn dispatch(st: &mut State, method: &Method, path: &str, p: &Params, now: SimMillis) -> Response {
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    match path {
        "/" if get => json_response(StatusCode::OK, &json!({"ready": true})),
        "/service/servers" if get => servers::list(st),
        "/service/server/info" if post => servers::info(st, p),
        "/service/server/ssh" if post => servers::ssh(st, p),
        "/server/tags" if post => servers::tags(st, p, now),
        "/service/server" if post => create::create(st, p, now),
        "/service/server" if get => options::options(p),
        "/service/server/terminate" if post => ops::terminate(st, p, now),
        "/service/server/poweron" if post => ops::power(st, p, now, crate::model::OpKind::PowerOn),
        "/service/server/poweroff" if post => {
            ops::power(st, p, now, crate::model::OpKind::PowerOff)
        }
        "/service/server/reboot" if post => ops::power(st, p, now, crate::model::OpKind::Reboot),
        "/service/queue" if get || post => queue::queue(st, p, now),
        "/service/server/suspend" if post => {
            server_admin::suspend_resume(st, p, now, crate::model::OpKind::Suspend)
        }
        "/service/server/resume" if post => {
            server_admin::suspend_resume(st, p, now, crate::model::OpKind::Resume)
        }
        "/service/server/rename" if post => server_admin::rename(st, p, now),
        "/service/server/password" if post => server_admin::password(st, p, now),
        "/server/configure" if post => configure::configure(st, p, now),
        "/server/description" if post => server_details::description(st, p, now),
        "/server/history" if post => server_details::history(st, p),
        "/service/server/sshkey" if post => server_details::sshkey(st, p),
        "/server/report" if post => usage::report(st, p, now),
        "/server/statistics" if post => usage::statistics(st, p, now),
        "/service/cloneServer" if post => clone::clone_server(st, p, now),
        "/svc/queue" if get => recent::recent(st, now),
        // Server resources and private networks (resource_ops::Answer: errors are responses too).
        "/server/disk" if post => answered(disks::disk(st, p, now)),
        "/server/network" if post => answered(nics::network(st, p, now)),
        "/server/snapshot" if post => answered(snapshots::snapshot(st, p, now)),
        "/server/hdlib" if post => answered(hdlib::hdlib(st, p, now)),
        "/service/networks" if get => answered(networks::list(st, p)),
        "/service/network/create" if post => answered(networks::create(st, p)),
        "/service/network/delete" if post => answered(networks::delete(st, p)),
        "/service/network/subnets" if get => answered(networks::subnets(st, p)),
        "/service/network/subnet/create" if post => answered(networks::subnet_create(st, p)),
        "/service/network/subnet/edit" if post => answered(networks::subnet_edit(st, p)),
        "/service/network/subnet/delete" if post => answered(networks::subnet_delete(st, p)),
        "/"
        | "/service/servers"
        | "/service/server/info"
        | "/service/server/ssh"
        | "/server/tags"
        | "/service/server"
        | "/service/server/terminate"
        | "/service/server/poweron"
        | "/service/server/poweroff"
        | "/service/server/reboot"
        | "/service/queue"
        | "/service/server/suspend"
        | "/service/server/resume"
        | "/service/server/rename"
        | "/service/server/password"
        | "/server/configure"
        | "/server/description"
        | "/server/history"
        | "/service/server/sshkey"
        | "/server/report"
        | "/server/statistics"
        | "/service/cloneServer"
        | "/svc/queue"
        | "/server/disk"
        | "/server/network"
        | "/server/snapshot"
        | "/server/hdlib"
        | "/service/networks"
        | "/service/network/create"
        | "/service/network/delete"
        | "/service/network/subnets"
        | "/service/network/subnet/create"
        | "/service/network/subnet/edit"
        | "/service/network/subnet/delete" => json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"message": "Method Not Allowed"}),
        ),
        _ => json_response(StatusCode::NOT_FOUND, &json!({"message": "Not Found"})),
    }
}

fn answered(answer: resource_ops::Answer) -> Response {
    answer.unwrap_or_else(|e| *e)
}

const NOT_LOGGED_IN: &str = r#"{"errors":[{"code":1,"info":"you are not logged in"}]}"#;

fn check_auth(st: &State, method: &Method, path: &str, headers: &HeaderMap) -> Option<Response> {
    if path == "/" {
        return None;
    }
    let b = &st.behaviour;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let ok = !b.auth_failure
        && b.credentials.as_ref().is_none_or(|c| {
            header("AuthClientId") == c.client_id && header("AuthSecret") == c.secret
        });
    if ok {
        return None;
    }
    if b.auth_error_mode == AuthErrorMode::OkWithErrorsOnGet && *method == Method::GET {
        return Some(raw_json(StatusCode::OK, NOT_LOGGED_IN.to_owned()));
    }
    let status = if b.auth_error_mode == AuthErrorMode::Forbidden {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNAUTHORIZED
    };
    Some(json_response(status, &json!({ "message": NOT_LOGGED_IN })))
}

fn fault_response(
    status: u16,
    json: Option<Value>,
    text: Option<String>,
    extra: &BTreeMap<String, String>,
    content_type: Option<&str>,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match (json, text) {
        (Some(v), _) => json_response(status, &v),
        (None, Some(t)) => {
            let ct = if serde_json::from_str::<Value>(&t).is_ok() {
                "application/json"
            } else {
                "text/plain"
            };
            let mut r = (status, t).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            r
        }
        (None, None) => status.into_response(),
    };
    let headers = response.headers_mut();
    // The control API refuses invalid names and values (`FaultRule::check`); a rule added
    // from Rust with one sends the answer without it.
    if let Some(ct) = content_type.and_then(|ct| HeaderValue::from_str(ct).ok()) {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    for (name, value) in extra {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                headers.insert(name, value);
            }
            _ => tracing::warn!(name, "fault rule header is not valid HTTP; left out"),
        }
    }
    response
}

/// A response whose body fails immediately, which makes hyper abort the connection before the
/// client sees a complete answer.
fn dropped_connection() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "fault: dropped",
        ))
    });
    Body::from_stream(failing).into_response()
}

pub(crate) fn raw_json(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = (status, body.into()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response {
    raw_json(status, serde_json::to_vec(value).unwrap_or_default())
}

/// HTTP 500 `{"message": ...}`.
pub(crate) fn error_500(message: impl Into<String>) -> Response {
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &json!({ "message": message.into() }),
    )
}

/// HTTP 500 `Failed to run command method (<method>)`: the proxy's catch-all for exceptions.
pub(crate) fn method_failed(method: &str) -> Response {
    error_500(format!("Failed to run command method ({method})"))
}
