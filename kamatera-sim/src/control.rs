//! The `/__sim/` control API (JSON). Not authenticated, not logged, never subject to faults.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::config::Behaviour;
use crate::faults::FaultRule;
use crate::model::{OutcomeRule, SeedNetwork, SeedServer, TimingRule};
use crate::routes::{App, json_response};

fn ok(value: &Value) -> Response {
    json_response(StatusCode::OK, value)
}

fn bad_request(message: impl std::fmt::Display) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "message": message.to_string() }),
    )
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body)
        .map_err(|e| Box::new(bad_request(format!("invalid JSON body: {e}"))))
}

/// One object or an array of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    Many(Vec<T>),
    One(T),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            Self::Many(v) => v,
            Self::One(t) => vec![t],
        }
    }
}

#[derive(Deserialize)]
struct Advance {
    #[serde(default)]
    ms: u64,
    #[serde(default)]
    seconds: u64,
}

pub(crate) fn state_dump(app: &App) -> Value {
    let (st, now) = app.settled();
    let servers: Vec<_> = st.servers().cloned().collect();
    json!({
        "now_ms": now,
        "now": app.clock.format(now),
        "servers": servers,
        "commands": st.command_views(now),
        "counters": st.counters(),
        "resources": st.resources.dump(st.initial.epoch_unix),
    })
}

fn clock(app: &App) -> Value {
    let now = app.clock.now();
    json!({"now_ms": now, "now": app.clock.format(now)})
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p,
    }
}

fn patch_behaviour(app: &App, body: &[u8], replace: bool) -> Response {
    let patch: Value = match parse(body) {
        Ok(v) => v,
        Err(e) => return *e,
    };
    let mut st = app.lock();
    let mut current = if replace {
        json!({})
    } else {
        serde_json::to_value(&st.behaviour).unwrap_or_default()
    };
    merge(&mut current, patch);
    match serde_json::from_value::<Behaviour>(current) {
        Ok(b) => {
            st.behaviour = b;
            ok(&serde_json::to_value(&st.behaviour).unwrap_or_default())
        }
        Err(e) => bad_request(format!("invalid behaviour: {e}")),
    }
}

fn rules(app: &App) -> Value {
    let st = app.lock();
    json!({
        "faults": st.faults.iter().map(|(id, r)| json!({"id": id, "rule": r})).collect::<Vec<_>>(),
        "outcomes": st.outcomes.iter().map(|c| json!({"id": c.id, "rule": c.rule})).collect::<Vec<_>>(),
        "timings": st.timings.iter().map(|c| json!({"id": c.id, "rule": c.rule})).collect::<Vec<_>>(),
    })
}

fn add_rules<T: DeserializeOwned>(
    body: &[u8],
    mut add: impl FnMut(T) -> Result<u64, crate::SimError>,
) -> Response {
    let rules: OneOrMany<T> = match parse(body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let mut ids = Vec::new();
    for rule in rules.into_vec() {
        match add(rule) {
            Ok(id) => ids.push(id),
            Err(e) => return bad_request(e),
        }
    }
    ok(&json!({ "ids": ids }))
}

/// Fault rules are checked all before any is added, so a bad batch adds nothing.
fn add_faults(app: &App, body: &[u8]) -> Response {
    let rules: OneOrMany<FaultRule> = match parse(body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let rules = rules.into_vec();
    if let Some((index, reason)) = rules
        .iter()
        .enumerate()
        .find_map(|(i, r)| r.check().err().map(|e| (i, e)))
    {
        return bad_request(format!("invalid fault rule {index}: {reason}"));
    }
    let ids: Vec<u64> = rules.into_iter().map(|r| app.add_fault(r)).collect();
    ok(&json!({ "ids": ids }))
}

/// Seeds are applied in order; the first invalid one stops the batch with HTTP 400.
fn seed_servers(app: &App, body: &[u8]) -> Response {
    let seeds: OneOrMany<SeedServer> = match parse(body) {
        Ok(s) => s,
        Err(e) => return *e,
    };
    let mut ids = Vec::new();
    for seed in seeds.into_vec() {
        match app.seed(seed) {
            Ok(id) => ids.push(id),
            Err(e) => return bad_request(e),
        }
    }
    ok(&json!({ "ids": ids }))
}

/// Seeds private networks in order; the first invalid one stops the batch with HTTP 400.
fn seed_networks(app: &App, body: &[u8]) -> Response {
    let seeds: OneOrMany<SeedNetwork> = match parse(body) {
        Ok(s) => s,
        Err(e) => return *e,
    };
    let mut names = Vec::new();
    for seed in seeds.into_vec() {
        match app.seed_network(&seed) {
            Ok(name) => names.push(name),
            Err(e) => return bad_request(e),
        }
    }
    ok(&json!({ "names": names }))
}

fn clear(app: &App, which: &str) -> Response {
    let mut st = app.lock();
    match which {
        "faults" => st.faults.clear(),
        "outcomes" => st.outcomes.clear(),
        _ => st.timings.clear(),
    }
    ok(&json!({"cleared": which}))
}

pub(crate) fn handle(
    app: &App,
    method: &Method,
    path: &str,
    _query: Option<&str>,
    body: &[u8],
) -> Response {
    let route = path.trim_start_matches("/__sim").trim_end_matches('/');
    let m = method.as_str();
    match (m, route) {
        ("GET", "" | "/state") => ok(&state_dump(app)),
        ("GET", "/servers") => ok(&json!(app.servers())),
        ("POST", "/servers") => seed_servers(app, body),
        ("POST", "/networks") => seed_networks(app, body),
        ("GET", "/commands") => ok(&json!(app.commands())),
        ("GET", "/requests") => ok(&json!(app.lock().requests())),
        ("GET", "/counters") => ok(&json!(app.lock().counters())),
        ("POST", "/reset") => {
            app.lock().reset();
            ok(&json!({"reset": true}))
        }
        ("GET", "/clock") => ok(&clock(app)),
        ("POST", "/clock/advance") => match parse::<Advance>(body) {
            Ok(a) => {
                app.advance(Duration::from_millis(
                    a.ms.saturating_add(a.seconds.saturating_mul(1000)),
                ));
                ok(&clock(app))
            }
            Err(e) => *e,
        },
        ("GET", "/behaviour") => {
            ok(&serde_json::to_value(&app.lock().behaviour).unwrap_or_default())
        }
        ("PATCH", "/behaviour") => patch_behaviour(app, body, false),
        ("PUT", "/behaviour") => patch_behaviour(app, body, true),
        ("GET", "/rules" | "/faults" | "/outcomes" | "/timings") => ok(&rules(app)),
        ("POST", "/faults") => add_faults(app, body),
        ("POST", "/outcomes") => add_rules::<OutcomeRule>(body, |r| app.add_outcome(r)),
        ("POST", "/timings") => add_rules::<TimingRule>(body, |r| app.add_timing(r)),
        ("DELETE", "/faults" | "/outcomes" | "/timings") => {
            clear(app, route.trim_start_matches('/'))
        }
        ("DELETE", r) if r.starts_with("/rules/") => {
            match r.trim_start_matches("/rules/").parse::<u64>() {
                Ok(id) if app.remove_rule(id) => ok(&json!({"removed": id})),
                _ => json_response(StatusCode::NOT_FOUND, &json!({"message": "no such rule"})),
            }
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"message": format!("unknown control endpoint {m} {path}")}),
        ),
    }
}
