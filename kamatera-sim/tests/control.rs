//! The `/__sim/` control API: seeding, inspection, clock, behaviour, rules and reset.

use reqwest::Method;
use serde_json::json;

use crate::common::{Sim, one_id};

#[tokio::test]
async fn seed_inspect_and_reset_over_http() {
    let sim = Sim::start().await;
    let seeds = json!([
        {"name": "ours-1", "power": "off", "tags": ["k8sca-c1", "k8scang-ng1"]},
        {"name": "foreign", "datacenter": "EU"}
    ]);
    let (status, body) = sim
        .control(Method::POST, "/__sim/servers", Some(seeds))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ids"].as_array().unwrap().len(), 2);
    let list = sim.list().await;
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0]["name"].as_str(), list[0]["power"].as_str()),
        (Some("ours-1"), Some("off"))
    );
    let (_, tags) = sim.post("/server/tags", json!({"name": "foreign"})).await;
    assert_eq!(tags, json!([]));

    let (status, _) = sim
        .control(Method::POST, "/__sim/servers", Some(json!({"name": ""})))
        .await;
    assert_eq!(status, 400);

    let before_reset = one_id(&sim.create(json!({})).await.1)
        .parse::<u64>()
        .unwrap();
    let (_, state) = sim.control(Method::GET, "/__sim/state", None).await;
    assert_eq!(state["servers"].as_array().unwrap().len(), 3);
    assert_eq!(state["servers"][2]["creation_request"]["name"], "node-1");
    assert_eq!(state["commands"][0]["kind"], "create");
    assert_eq!(state["commands"][0]["history"][0]["status"], "pending");
    assert_eq!(state["counters"]["POST /service/server"], 1);
    let (_, requests) = sim.control(Method::GET, "/__sim/requests", None).await;
    assert_eq!(requests.as_array().unwrap().len(), 3);
    assert_eq!(requests[2]["params"]["image"], "ubuntu_server_18.04_64-bit");

    let (status, _) = sim.control(Method::POST, "/__sim/reset", None).await;
    assert_eq!(status, 200);
    assert!(sim.list().await.is_empty());
    let (_, counters) = sim.control(Method::GET, "/__sim/counters", None).await;
    assert_eq!(counters, json!({"GET /service/servers": 1}));
    assert!(sim.handle.commands().is_empty());
    let after_reset = one_id(&sim.create(json!({})).await.1)
        .parse::<u64>()
        .unwrap();
    assert!(after_reset > before_reset, "command ids are never reused");
}

#[tokio::test]
async fn clock_behaviour_and_rules_over_http() {
    let sim = Sim::start().await;
    let id = one_id(&sim.create(json!({})).await.1);
    let (_, clock) = sim
        .control(
            Method::POST,
            "/__sim/clock/advance",
            Some(json!({"seconds": 4, "ms": 1000})),
        )
        .await;
    assert_eq!(
        (clock["now_ms"].as_u64(), clock["now"].as_str()),
        (Some(5000), Some("2026-01-01 00:00:05"))
    );
    assert_eq!(sim.queue_status(&id).await.as_deref(), Some("complete"));

    let patch = json!({"legacy_tag_rows": true, "timings": {"terminate": {"progress_ms": 60000}}});
    let (status, behaviour) = sim
        .control(Method::PATCH, "/__sim/behaviour", Some(patch))
        .await;
    assert_eq!(status, 200, "{behaviour}");
    assert_eq!(
        behaviour["timings"]["terminate"],
        json!({"pending_ms": 500, "progress_ms": 60000})
    );
    assert!(sim.handle.behaviour().legacy_tag_rows);
    let (status, _) = sim
        .control(
            Method::PATCH,
            "/__sim/behaviour",
            Some(json!({"name_collision": "bogus"})),
        )
        .await;
    assert_eq!(status, 400);

    let fault = json!({"method": "GET", "path": "/service/servers",
                       "action": {"type": "respond", "status": 504, "text": "Gateway Timeout"}, "times": 1});
    let (_, ids) = sim
        .control(Method::POST, "/__sim/faults", Some(fault))
        .await;
    let outcome =
        json!({"kind": "terminate", "outcome": {"type": "error", "log": "Insufficient resources"}});
    sim.control(Method::POST, "/__sim/outcomes", Some(outcome))
        .await;
    let timing = json!({"name": "node-.*", "durations": {"pending_ms": 0, "progress_ms": 10}});
    let (status, _) = sim
        .control(Method::POST, "/__sim/timings", Some(timing))
        .await;
    assert_eq!(status, 200);
    let (_, rules) = sim.control(Method::GET, "/__sim/rules", None).await;
    assert_eq!(rules["faults"].as_array().unwrap().len(), 1);
    assert_eq!(rules["outcomes"][0]["rule"]["kind"], "terminate");
    assert_eq!(rules["timings"].as_array().unwrap().len(), 1);

    assert_eq!(sim.get("/service/servers").await.0, 504);
    let term = one_id(
        &sim.post(
            "/service/server/terminate",
            json!({"name": "node-1", "force": true}),
        )
        .await
        .1,
    );
    sim.control(
        Method::POST,
        "/__sim/clock/advance",
        Some(json!({"ms": 10})),
    )
    .await;
    assert_eq!(sim.queue(&term).await[0]["log"], "Insufficient resources");

    let fault_id = ids["ids"][0].as_u64().unwrap();
    let (status, _) = sim
        .control(Method::DELETE, &format!("/__sim/rules/{fault_id}"), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = sim.control(Method::DELETE, "/__sim/outcomes", None).await;
    assert_eq!(status, 200);
    let (_, rules) = sim.control(Method::GET, "/__sim/rules", None).await;
    assert!(
        rules["faults"].as_array().unwrap().is_empty()
            && rules["outcomes"].as_array().unwrap().is_empty()
    );
    assert_eq!(sim.control(Method::GET, "/__sim/nope", None).await.0, 404);
}

#[tokio::test]
async fn shutdown_is_graceful_and_idempotent() {
    let sim = Sim::start().await;
    let other = sim.handle.clone();
    sim.handle.shutdown().await.unwrap();
    other.shutdown().await.unwrap();
    assert!(sim.http.get(sim.url.clone()).send().await.is_err());
}
