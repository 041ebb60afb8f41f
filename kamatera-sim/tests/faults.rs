//! Fault injection and command outcome rules.

use std::time::{Duration, Instant};

use kamatera_sim::faults::{
    MALFORMED_COMMAND_IDS, MALFORMED_LIST, MALFORMED_QUEUE, MALFORMED_TAGS,
};
use kamatera_sim::{
    FaultAction, FaultRule, OpKind, Outcome, OutcomeRule, QueueHiddenMode, TimingRule,
};
use serde_json::{Value, json};

use crate::common::{Sim, message, one_id};

#[tokio::test]
async fn respond_rules_fire_for_the_next_n_calls() {
    let sim = Sim::start().await;
    sim.handle.add_fault(
        FaultRule::respond_text("GET", "/service/servers", 504, "Gateway Timeout").times(4),
    );
    for _ in 0..4 {
        assert_eq!(
            sim.get("/service/servers").await,
            (504, Value::String("Gateway Timeout".into()))
        );
    }
    assert_eq!(sim.get("/service/servers").await, (200, json!([])));
    assert_eq!(sim.handle.counters()["GET /service/servers"], 5);
    let statuses: Vec<u16> = sim.handle.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [504, 504, 504, 504, 200]);
}

#[tokio::test]
async fn rules_can_match_on_body_fields_and_probability() {
    let sim = Sim::start().await;
    let rule = FaultRule::respond_json("POST", "/service/server", 500, json!({"message": "quota"}))
        .when("name", "bad-1");
    sim.handle.add_fault(rule);
    let (status, body) = sim.create(json!({"name": "bad-1"})).await;
    assert_eq!((status, message(&body)), (500, "quota"));
    assert_eq!(sim.create(json!({"name": "good-1"})).await.0, 200);
    assert_eq!(sim.handle.servers().len(), 1);

    sim.handle
        .add_fault(FaultRule::info_transient().probability(1.0));
    sim.seed("x1");
    let (status, body) = sim
        .post("/service/server/info", json!({"name": "x1"}))
        .await;
    assert_eq!(
        (status, message(&body)),
        (500, "Failed to run command method (serversInfo)")
    );
}

#[tokio::test]
async fn delay_rules_add_latency() {
    let sim = Sim::start().await;
    sim.handle.add_fault(
        FaultRule::new("GET", "/service/servers", FaultAction::Delay { ms: 150 }).times(1),
    );
    let started = Instant::now();
    assert_eq!(sim.get("/service/servers").await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn drop_after_apply_creates_the_server_but_loses_the_answer() {
    let sim = Sim::start().await;
    sim.handle
        .add_fault(FaultRule::new("POST", "/service/server", FaultAction::DropAfterApply).times(1));
    let body = json!({"name": "lost-1", "password": "Passw0rd123", "datacenter": "IL", "image": "ubuntu_server_18.04_64-bit"});
    let result = async {
        let resp = sim
            .http
            .post(sim.at("/service/server"))
            .header("AuthClientId", crate::common::CLIENT_ID)
            .header("AuthSecret", crate::common::SECRET)
            .json(&body)
            .send()
            .await?;
        resp.bytes().await
    }
    .await;
    assert!(
        result.is_err(),
        "expected a transport error, got {result:?}"
    );
    assert!(sim.listed("lost-1").await.is_some());
    assert_eq!(sim.handle.counters()["POST /service/server"], 1);

    sim.handle.add_fault(
        FaultRule::new("GET", "/service/servers", FaultAction::DropBeforeApply).times(1),
    );
    assert!(
        sim.http
            .get(sim.at("/service/servers"))
            .send()
            .await
            .is_err()
    );
}

async fn raw(sim: &Sim, method: reqwest::Method, path: &str, body: Value) -> (u16, String) {
    let resp = sim
        .http
        .request(method, sim.at(path))
        .header("AuthClientId", crate::common::CLIENT_ID)
        .header("AuthSecret", crate::common::SECRET)
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn malformed_payload_vectors_are_served_verbatim() {
    let sim = Sim::start().await;
    sim.seed("a1");
    let groups: [(&str, &str, &[&str]); 4] = [
        ("GET", "/service/servers", MALFORMED_LIST),
        ("POST", "/service/server/poweroff", MALFORMED_COMMAND_IDS),
        ("POST", "/server/tags", MALFORMED_TAGS),
        ("GET", "/service/queue", MALFORMED_QUEUE),
    ];
    for (method, path, vectors) in groups {
        for vector in vectors {
            let id = sim
                .handle
                .add_fault(FaultRule::respond_text(method, path, 200, *vector).times(1));
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let (status, text) = raw(&sim, m, path, json!({"name": "a1"})).await;
            assert_eq!((status, text.as_str()), (200, *vector), "{method} {path}");
            // Spent after one call, but still listed until removed.
            assert!(sim.handle.remove_rule(id));
        }
    }
}

#[tokio::test]
async fn queue_hides_new_commands_for_n_polls() {
    let sim = Sim::start().await;
    sim.handle.update_behaviour(|b| b.queue_hidden_polls = 2);
    let id = one_id(&sim.create(json!({})).await.1);
    assert_eq!(sim.queue(&id).await, json!([]));
    assert_eq!(sim.queue(&id).await, json!([]));
    assert_eq!(sim.queue_status(&id).await.as_deref(), Some("pending"));

    sim.handle
        .update_behaviour(|b| b.queue_hidden_mode = QueueHiddenMode::NotFound);
    let id = one_id(&sim.create(json!({"name": "node-2"})).await.1);
    let answer = sim.get(&format!("/service/queue?id={id}")).await;
    assert_eq!(answer, (404, json!({"json_decode_error": null})));
}

#[tokio::test]
async fn outcome_rules_pick_error_cancelled_missing_status_and_stuck() {
    let sim = Sim::start().await;
    let insufficient = Outcome::Error {
        log: "Insufficient resources".into(),
    };
    sim.handle
        .add_outcome_rule(
            OutcomeRule::new(insufficient)
                .kind(OpKind::Create)
                .name("big-.*")
                .times(1),
        )
        .unwrap();
    sim.handle
        .add_outcome_rule(
            OutcomeRule::new(Outcome::Cancelled {
                log: "Cancelled by admin".into(),
            })
            .name("cxl"),
        )
        .unwrap();
    sim.handle
        .add_outcome_rule(OutcomeRule::new(Outcome::MissingStatus).name("nostatus"))
        .unwrap();
    sim.handle
        .add_outcome_rule(OutcomeRule::new(Outcome::Stuck).name("stuck"))
        .unwrap();

    let big = one_id(&sim.create(json!({"name": "big-1"})).await.1);
    let big2 = one_id(&sim.create(json!({"name": "big-2"})).await.1);
    let cxl = one_id(&sim.create(json!({"name": "cxl"})).await.1);
    let nostatus = one_id(&sim.create(json!({"name": "nostatus"})).await.1);
    let stuck = one_id(&sim.create(json!({"name": "stuck"})).await.1);
    assert!(sim.listed("big-1").await.is_some());
    sim.handle.advance(Duration::from_secs(3600));

    let item = sim.queue(&big).await;
    assert_eq!(
        (item[0]["status"].as_str(), item[0]["log"].as_str()),
        (Some("error"), Some("Insufficient resources"))
    );
    assert!(
        sim.listed("big-1").await.is_none(),
        "a failed create leaves no server"
    );
    assert_eq!(
        sim.queue_status(&big2).await.as_deref(),
        Some("complete"),
        "times(1) expired"
    );
    let item = sim.queue(&cxl).await;
    assert_eq!(
        (item[0]["status"].as_str(), item[0]["log"].as_str()),
        (Some("cancelled"), Some("Cancelled by admin"))
    );
    let item = sim.queue(&nostatus).await;
    assert!(item[0].get("status").is_none());
    assert!(
        item[0]["log"]
            .as_str()
            .unwrap()
            .starts_with("Name: nostatus")
    );
    assert_eq!(sim.listed("nostatus").await.unwrap()["power"], "on");
    assert_eq!(sim.queue_status(&stuck).await.as_deref(), Some("progress"));
    assert_eq!(sim.queue(&stuck).await[0]["completed"], Value::Null);
    assert_eq!(sim.listed("stuck").await.unwrap()["power"], "off");
}

#[tokio::test]
async fn timing_rules_override_durations_by_name() {
    let sim = Sim::start().await;
    sim.handle
        .add_timing_rule(
            TimingRule::new(Duration::from_secs(10), Duration::from_secs(50))
                .kind(OpKind::Create)
                .name("slow-.*"),
        )
        .unwrap();
    let slow = one_id(&sim.create(json!({"name": "slow-1"})).await.1);
    let fast = one_id(&sim.create(json!({"name": "fast-1"})).await.1);
    sim.advance_secs(5);
    assert_eq!(sim.queue_status(&fast).await.as_deref(), Some("complete"));
    assert_eq!(sim.queue_status(&slow).await.as_deref(), Some("pending"));
    sim.advance_secs(10);
    assert_eq!(sim.queue_status(&slow).await.as_deref(), Some("progress"));
    sim.advance_secs(45);
    assert_eq!(sim.queue_status(&slow).await.as_deref(), Some("complete"));
}

#[tokio::test]
async fn row_edit_rules_shorten_extend_and_patch_the_list_over_http() {
    let sim = Sim::start().await;
    sim.seed("keep-1");
    sim.seed("gone-1");
    let rules = json!([
        {"method": "GET", "path": "/service/servers", "times": 1,
         "action": {"type": "omit_rows", "name": "gone-.*"}},
        {"method": "GET", "path": "/service/servers", "times": 1,
         "action": {"type": "add_rows", "rows": [{"id": "x", "name": "odd", "datacenter": null, "power": "on"}]}},
        {"method": "GET", "path": "/service/servers", "times": 1,
         "action": {"type": "patch_rows", "name": "keep-1", "set": {"datacenter": null}}}
    ]);
    let (status, body) = sim
        .control(reqwest::Method::POST, "/__sim/faults", Some(rules))
        .await;
    assert_eq!(status, 200, "{body}");
    let names = |rows: &[Value]| -> Vec<String> {
        rows.iter()
            .filter_map(|r| r["name"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(names(&sim.list().await), ["keep-1"]);
    let extended = sim.list().await;
    assert_eq!(names(&extended), ["keep-1", "gone-1", "odd"]);
    assert_eq!(extended[2]["datacenter"], Value::Null);
    let patched = sim.list().await;
    assert_eq!(patched[0]["datacenter"], Value::Null);
    assert!(patched[1]["datacenter"].is_string());
    assert_eq!(names(&sim.list().await), ["keep-1", "gone-1"]);
}

#[tokio::test]
async fn shorthand_rules_give_an_empty_list_and_a_tag_answer_without_tags() {
    let sim = Sim::start().await;
    let id = sim
        .handle
        .seed_server(kamatera_sim::SeedServer::new("tagged").tags(["t1"]))
        .unwrap();
    sim.handle.add_fault(FaultRule::empty_list().times(1));
    sim.handle.add_fault(FaultRule::tags_missing(&id).times(1));
    assert!(sim.list().await.is_empty());
    assert_eq!(sim.list().await.len(), 1);
    let (_, empty) = sim.post("/server/tags", json!({"id": id})).await;
    assert_eq!(empty, json!([]));
    let (_, tags) = sim.post("/server/tags", json!({"id": id})).await;
    assert_eq!(tags.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_create_can_fail_and_leave_its_server_and_a_terminate_can_leave_it_listed() {
    let sim = Sim::start().await;
    sim.handle
        .add_outcome_rule(
            OutcomeRule::new(Outcome::ErrorKeepsServer {
                log: "Failed half-way".into(),
            })
            .kind(OpKind::Create)
            .times(1),
        )
        .unwrap();
    let (status, body) = sim
        .create(json!({"name": "half", "poweronaftercreate": "yes"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let command = one_id(&body);
    sim.advance_secs(60);
    assert_eq!(sim.queue_status(&command).await.as_deref(), Some("error"));
    let half = sim
        .listed("half")
        .await
        .expect("the failed create left its server");
    assert_eq!(half["power"], "off");

    sim.handle
        .add_outcome_rule(
            OutcomeRule::new(Outcome::CompleteKeepsServer)
                .kind(OpKind::Terminate)
                .times(1),
        )
        .unwrap();
    let first = terminate_half(&sim).await;
    sim.advance_secs(60);
    assert_eq!(sim.queue_status(&first).await.as_deref(), Some("complete"));
    assert!(sim.listed("half").await.is_some(), "still listed");
    let second = terminate_half(&sim).await;
    sim.advance_secs(60);
    assert_eq!(sim.queue_status(&second).await.as_deref(), Some("complete"));
    assert!(sim.listed("half").await.is_none());
}

async fn terminate_half(sim: &Sim) -> String {
    let (status, body) = sim
        .post(
            "/service/server/terminate",
            json!({"name": "half", "force": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    one_id(&body)
}
