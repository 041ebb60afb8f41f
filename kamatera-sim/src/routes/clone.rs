//! `POST /service/cloneServer`: a create whose datacenter, image and (unless given) size,
//! disks, networks and billing come from a source server.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::create;
use super::json_response;
use super::params::{self, Params};
use super::server_admin::Handler;
use crate::clock::SimMillis;
use crate::model::SimServer;
use crate::state::{Selector, State};

fn bad_request(message: &str) -> Box<Response> {
    Box::new(json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "message": message }),
    ))
}

/// The proxy's source lookup: `source-id` or `source-name` (a pattern matching one server).
fn source(st: &State, p: &Params) -> Result<u64, Box<Response>> {
    let failed = || Box::new(Handler::Generic("clone").failed());
    match (
        params::non_empty(p, "source-id"),
        params::non_empty(p, "source-name"),
    ) {
        (Some(_), Some(_)) => Err(bad_request(
            "Please specify either source-id or source-name but not both",
        )),
        (None, None) => Err(bad_request(
            "Please specify the source server to clone using either source-id or source-name flags",
        )),
        (None, Some(name)) => match st.select(&Selector::Name(name)).map_err(|_| failed())?[..] {
            [one] => Ok(one),
            [] => Err(bad_request("source-name did not match any servers")),
            _ => Err(bad_request(
                "source-name matched multiple servers, please ensure regular expression matches only a single server",
            )),
        },
        // (sim) upstream's answer for an unknown source id is not known.
        (Some(id), None) => st
            .select(&Selector::Id(id))
            .map_err(|_| failed())?
            .first()
            .copied()
            .ok_or_else(|| bad_request("source-id did not match any servers")),
    }
}

/// The create request a clone amounts to: the caller's fields, the rest from the source.
fn create_request(p: &Params, source: &SimServer) -> Params {
    let yes_no = |on: bool| if on { "yes" } else { "no" };
    let disks: Vec<String> = source
        .disks_gb
        .iter()
        .map(|gb| format!("size={gb}"))
        .collect();
    // (sim) the clone gets new addresses on the source's networks.
    let networks: Vec<String> = source
        .networks
        .iter()
        .map(|n| {
            let name = if n.network.starts_with("wan-") {
                "wan"
            } else {
                &n.network
            };
            format!("name={name},ip=auto")
        })
        .collect();
    // A source without a recorded image (a seeded one) is cloned from its own disks.
    let image = if source.image.is_empty() {
        format!("{}:{}", source.datacenter, source.id)
    } else {
        source.image.clone()
    };
    let defaults = [
        ("cpu", source.cpu.clone()),
        ("ram", source.ram_mb.to_string()),
        ("disk", disks.join(" ")),
        ("network", networks.join(" ")),
        ("dailybackup", yes_no(source.backup).to_owned()),
        ("managed", yes_no(source.managed).to_owned()),
        ("billingcycle", source.billing.clone()),
    ];
    let mut request = p.clone();
    request.insert(
        "datacenter".into(),
        Value::String(source.datacenter.clone()),
    );
    request.insert("image".into(), Value::String(image));
    for (key, value) in defaults {
        if params::non_empty(p, key).is_none() {
            request.insert(key.into(), Value::String(value));
        }
    }
    let monthly =
        params::text(&request, "billingcycle").is_some_and(|b| b.eq_ignore_ascii_case("monthly"));
    if monthly && params::non_empty(p, "monthlypackage").is_none() && !source.traffic.is_empty() {
        request.insert(
            "monthlypackage".into(),
            Value::String(source.traffic.clone()),
        );
    }
    request
}

pub(super) fn clone_server(st: &mut State, p: &Params, now: SimMillis) -> Response {
    let request = match source(st, p) {
        Ok(seq) => match st.server(seq) {
            Some(server) => create_request(p, server),
            None => return Handler::Generic("clone").failed(),
        },
        Err(response) => return *response,
    };
    let response = create::create(st, &request, now);
    // Every 500 of the create route is its catch-all, which the proxy words by command here.
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        return Handler::Generic("clone").failed();
    }
    response
}
