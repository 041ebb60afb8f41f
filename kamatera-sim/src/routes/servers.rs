//! Read-mostly server endpoints: list, info, ssh and tags.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::params::{self, Params};
use super::{error_500, json_response, method_failed, raw_json};
use crate::clock::SimMillis;
use crate::config::{Behaviour, PriceAnswer};
use crate::model::SimServer;
use crate::state::{Selector, State};

/// Resolves the selection or produces the proxy's error response.
pub(super) fn select(
    st: &State,
    p: &Params,
    method: &str,
) -> Result<(Selector, Vec<u64>), Box<Response>> {
    select_or(st, p, || method_failed(method))
}

/// Like `select`, with the caller's answer for a bad selection (both or neither of
/// `name`/`id`, or a pattern that does not compile).
pub(super) fn select_or(
    st: &State,
    p: &Params,
    failed: impl Fn() -> Response,
) -> Result<(Selector, Vec<u64>), Box<Response>> {
    let selector = params::selector(p).ok_or_else(|| Box::new(failed()))?;
    let found = st.select(&selector).map_err(|_| Box::new(failed()))?;
    Ok((selector, found))
}

pub(super) fn no_servers(selector: &Selector) -> Response {
    error_500(format!("No servers found ({})", selector.describe()))
}

/// Like `select`, but exactly one server must match.
pub(super) fn select_one(st: &State, p: &Params, method: &str) -> Result<u64, Box<Response>> {
    select_one_or(st, p, || method_failed(method))
}

/// Like `select_or`, but exactly one server must match.
pub(super) fn select_one_or(
    st: &State,
    p: &Params,
    failed: impl Fn() -> Response,
) -> Result<u64, Box<Response>> {
    let (selector, found) = select_or(st, p, failed)?;
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Box::new(no_servers(&selector))),
        _ => Err(Box::new(error_500(format!(
            "Too many matching servers ({})",
            selector.describe()
        )))),
    }
}

pub(super) fn list(st: &mut State) -> Response {
    raw_json(StatusCode::OK, st.list_body())
}

/// `priceMonthlyOn`, `priceHourlyOn` and `priceHourlyOff`: what the test set for the
/// server's name prefix, else derived from its shape with the proxy's bug (the off-price is
/// the on-price).
fn prices(behaviour: &Behaviour, s: &SimServer) -> [String; 3] {
    let set = behaviour
        .prices
        .iter()
        .filter(|(prefix, _)| s.name.starts_with(prefix.as_str()))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, answer)| answer);
    match set {
        Some(PriceAnswer::Fixed {
            monthly_on,
            hourly_on,
            hourly_off,
        }) => [monthly_on.clone(), hourly_on.clone(), hourly_off.clone()],
        Some(PriceAnswer::LookupFails) => Default::default(),
        None => {
            let (monthly, hourly) = price(s);
            [monthly, hourly.clone(), hourly]
        }
    }
}

fn price(s: &SimServer) -> (String, String) {
    let cores: f64 = s
        .cpu
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .unwrap_or(1.0);
    let disk: f64 = s.disks_gb.iter().map(|d| f64::from(*d)).sum();
    let monthly = cores * 4.0 + f64::from(s.ram_mb) / 1024.0 * 2.0 + disk * 0.05;
    (format!("{monthly:.2}"), format!("{:.3}", monthly / 720.0))
}

/// Info lists each NIC's network and addresses only; MAC and link state are in
/// `POST /server/network`.
fn info_networks(s: &SimServer) -> Vec<Value> {
    s.networks
        .iter()
        .map(|n| json!({"network": n.network, "ips": n.ips}))
        .collect()
}

fn info_row(behaviour: &Behaviour, s: &SimServer) -> Value {
    let [monthly, hourly_on, hourly_off] = prices(behaviour, s);
    json!({
        "id": s.id, "name": s.name, "datacenter": s.datacenter, "power": s.power.as_str(),
        "cpu": s.cpu, "ram": s.ram_mb, "diskSizes": s.disks_gb, "networks": info_networks(s),
        "billing": s.billing, "traffic": s.traffic,
        "managed": if s.managed { "1" } else { "0" }, "backup": if s.backup { "1" } else { "0" },
        "priceMonthlyOn": monthly, "priceHourlyOn": hourly_on, "priceHourlyOff": hourly_off,
    })
}

pub(super) fn info(st: &mut State, p: &Params) -> Response {
    let (selector, found) = match select(st, p, "serversInfo") {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if found.is_empty() && !params::truthy(p, "allow-no-servers") {
        return no_servers(&selector);
    }
    let rows: Vec<Value> = found
        .iter()
        .filter_map(|seq| st.server(*seq))
        .map(|s| info_row(&st.behaviour, s))
        .collect();
    json_response(StatusCode::OK, &Value::Array(rows))
}

pub(super) fn ssh(st: &mut State, p: &Params) -> Response {
    let seq = match select_one(st, p, "sshServer") {
        Ok(seq) => seq,
        Err(e) => return *e,
    };
    let Some(s) = st.server(seq) else {
        return method_failed("sshServer");
    };
    let ip = s
        .networks
        .iter()
        .find(|n| n.network.starts_with("wan-"))
        .and_then(|n| n.ips.first())
        .cloned()
        .unwrap_or_default();
    json_response(
        StatusCode::OK,
        &json!([{"id": s.id, "name": s.name, "externalIp": ip}]),
    )
}

pub(super) fn tags(st: &mut State, p: &Params, now: SimMillis) -> Response {
    let seq = match select_one(st, p, "serverTags") {
        Ok(seq) => seq,
        Err(e) => return *e,
    };
    let legacy = st.behaviour.legacy_tag_rows;
    let add = params::non_empty(p, "add");
    let remove = params::non_empty(p, "remove");
    let Some(server) = st.server_mut(seq) else {
        return method_failed("serverTags");
    };
    let mut actions = Vec::new();
    if let Some(tag) = add
        && !server.tags.contains(&tag)
    {
        server.tags.push(tag);
        actions.push("Add Tag");
    }
    if let Some(tag) = remove {
        let before = server.tags.len();
        server.tags.retain(|t| *t != tag);
        if server.tags.len() != before {
            actions.push("Remove Tag");
        }
    }
    for action in actions {
        st.record_action(seq, action, now);
    }
    let Some(server) = st.server(seq) else {
        return method_failed("serverTags");
    };
    let rows: Vec<Value> = server
        .tags
        .iter()
        .map(|t| {
            if legacy {
                json!({"server id": server.id, "tag name": t})
            } else {
                json!({"id": server.id, "tagName": t})
            }
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(rows))
}
