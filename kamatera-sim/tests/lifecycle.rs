//! Command lifecycle against the virtual clock.

use std::collections::BTreeSet;

use kamatera_sim::{
    CreateVisibility, NameCollision, OpKind, Power, SeedServer, SimConfig, TerminateVisibility,
};
use serde_json::{Value, json};

use crate::common::{Sim, one_id};

#[tokio::test]
async fn create_moves_through_pending_progress_complete() {
    let sim = Sim::start().await;
    let (_, body) = sim.create(json!({"tag": "k8sca-c1"})).await;
    let id = one_id(&body);

    let item = sim.queue(&id).await;
    let item = &item[0];
    let keys: BTreeSet<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "id",
            "status",
            "server",
            "description",
            "added",
            "executed",
            "completed",
            "log"
        ])
    );
    assert_eq!(item["id"], json!(id.parse::<u64>().unwrap()));
    assert_eq!(
        (item["status"].as_str(), item["server"].as_str()),
        (Some("pending"), Some("node-1"))
    );
    assert_eq!(item["description"], "Create Server");
    assert_eq!(item["added"], "2026-01-01 00:00:00");
    // Visible from submission: powered off, tags already attached.
    assert_eq!(sim.listed("node-1").await.unwrap()["power"], "off");
    assert_eq!(
        sim.post("/server/tags", json!({"name": "node-1"})).await.1[0]["tagName"],
        "k8sca-c1"
    );

    sim.advance_secs(2);
    assert_eq!(sim.queue_status(&id).await.as_deref(), Some("progress"));
    assert_eq!(sim.listed("node-1").await.unwrap()["power"], "off");

    sim.advance_secs(3);
    let item = sim.queue(&id).await;
    let item = &item[0];
    assert_eq!(item["status"], "complete");
    assert_eq!(item["executed"], "2026-01-01 00:00:01");
    assert_eq!(item["completed"], "2026-01-01 00:00:05");
    let log = item["log"].as_str().unwrap();
    assert!(log.contains("Name: node-1\n"), "{log}");
    assert!(
        log.contains("Zone: IL\n")
            && log.contains("Disk #1: 20GB")
            && log.contains("Billing: Hourly")
    );
    let net = log.lines().find(|l| l.starts_with("Network #1: ")).unwrap();
    let ip = net
        .split(" - ")
        .nth(1)
        .unwrap()
        .split(" @ ")
        .next()
        .unwrap();
    assert!(net.starts_with("Network #1: wan-il - "));
    let (_, ssh) = sim
        .post("/service/server/ssh", json!({"name": "node-1"}))
        .await;
    assert_eq!(ssh[0]["externalIp"], ip);
    assert_eq!(sim.listed("node-1").await.unwrap()["power"], "on");

    let cmd = sim.handle.commands().into_iter().next().unwrap();
    let history: Vec<&str> = cmd.history.iter().map(|h| h.status.as_str()).collect();
    assert_eq!(history, ["pending", "progress", "complete"]);
    assert_eq!(cmd.history[2].at_ms, 5000);
}

#[tokio::test]
async fn poweronaftercreate_no_leaves_the_server_off() {
    let sim = Sim::start().await;
    let (_, body) = sim.create(json!({"poweronaftercreate": "no"})).await;
    let id = one_id(&body);
    sim.advance_secs(60);
    assert_eq!(sim.queue_status(&id).await.as_deref(), Some("complete"));
    assert_eq!(sim.listed("node-1").await.unwrap()["power"], "off");
}

#[tokio::test]
async fn hidden_creates_appear_only_at_completion() {
    let mut config = SimConfig::default();
    config.behaviour.create_visibility = CreateVisibility::AtCompletion;
    let sim = Sim::start_with(config).await;
    let (_, body) = sim.create(json!({"tag": "k8sca-c1"})).await;
    let id = one_id(&body);
    assert!(sim.listed("node-1").await.is_none());
    assert_eq!(
        sim.post("/server/tags", json!({"name": "node-1"})).await.0,
        500
    );
    sim.advance_secs(5);
    assert_eq!(sim.queue_status(&id).await.as_deref(), Some("complete"));
    assert_eq!(sim.listed("node-1").await.unwrap()["power"], "on");
    assert_eq!(
        sim.post("/server/tags", json!({"name": "node-1"})).await.1[0]["tagName"],
        "k8sca-c1"
    );
}

#[tokio::test]
async fn name_collisions_get_suffixes_or_duplicates() {
    let mut config = SimConfig::default();
    config.behaviour.name_collision = NameCollision::Suffix;
    let sim = Sim::start_with(config).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(one_id(&sim.create(json!({})).await.1));
    }
    sim.advance_secs(5);
    let names: BTreeSet<String> = sim
        .list()
        .await
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["node-1".into(), "node-1-1".into(), "node-1-2".into()])
    );
    let last = sim.queue(&ids[2]).await;
    assert!(
        last[0]["log"]
            .as_str()
            .unwrap()
            .starts_with("Name: node-1-2\n")
    );
    assert_eq!(last[0]["server"], "node-1-2");

    // Default: duplicates as requested.
    let sim = Sim::start().await;
    sim.create(json!({})).await;
    sim.create(json!({})).await;
    assert_eq!(
        sim.list()
            .await
            .iter()
            .filter(|s| s["name"] == "node-1")
            .count(),
        2
    );
}

#[tokio::test]
async fn terminate_removes_at_completion_and_honours_force() {
    let sim = Sim::start().await;
    sim.seed("doomed");
    sim.handle.seed_server(SeedServer::new("running")).unwrap();
    let (status, body) = sim
        .post(
            "/service/server/terminate",
            json!({"name": "doomed", "force": true}),
        )
        .await;
    assert_eq!(status, 200);
    let id = one_id(&body);
    assert!(sim.listed("doomed").await.is_some());
    sim.advance_secs(2);
    assert_eq!(sim.queue(&id).await[0]["description"], "Terminate Server");
    assert_eq!(sim.queue_status(&id).await.as_deref(), Some("complete"));
    assert!(sim.listed("doomed").await.is_none());
    let (status, _) = sim
        .post(
            "/service/server/terminate",
            json!({"name": "doomed", "force": true}),
        )
        .await;
    assert_eq!(status, 500);

    // force=false ("1" is not true either) on a running server ends in error.
    let (_, body) = sim
        .post(
            "/service/server/terminate",
            json!({"name": "running", "force": "1"}),
        )
        .await;
    let id = one_id(&body);
    sim.advance_secs(2);
    let item = sim.queue(&id).await;
    assert_eq!(
        (item[0]["status"].as_str(), item[0]["log"].as_str()),
        (Some("error"), Some("Server is powered on"))
    );
    assert!(sim.listed("running").await.is_some());
}

#[tokio::test]
async fn terminate_dry_run_and_removal_at_submission() {
    let mut config = SimConfig::default();
    config.behaviour.terminate_visibility = TerminateVisibility::RemovedAtSubmission;
    let sim = Sim::start_with(config).await;
    let id_a = sim.seed("a1");
    sim.seed("a2");
    let (status, body) = sim
        .post(
            "/service/server/terminate",
            json!({"name": "a.", "dryrun": true}),
        )
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"dryrun": true, "server-names": ["a1", "a2"]}))
    );
    let (_, body) = sim
        .post(
            "/service/server/terminate",
            json!({"id": id_a, "dryrun": "yes"}),
        )
        .await;
    assert_eq!(body, json!({"dryrun": true, "server-names": []}));
    assert_eq!(sim.list().await.len(), 2);

    let (_, body) = sim
        .post(
            "/service/server/terminate",
            json!({"name": "a.", "force": true}),
        )
        .await;
    assert_eq!(body.as_array().unwrap().len(), 2);
    assert!(sim.list().await.is_empty());
}

#[tokio::test]
async fn power_flips_at_completion() {
    let sim = Sim::start().await;
    sim.seed("a");
    sim.handle
        .seed_server(SeedServer::new("b").power(Power::Off))
        .unwrap();
    let (_, body) = sim
        .post("/service/server/poweroff", json!({"name": "a|b"}))
        .await;
    let ids: Vec<String> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(sim.listed("a").await.unwrap()["power"], "on");
    sim.advance_secs(2);
    let both = sim.queue(&ids.join("%20")).await;
    let statuses: Vec<&str> = both
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["status"].as_str())
        .collect();
    assert_eq!(statuses, ["complete", "complete"]);
    assert_eq!(both[0]["description"], "Power Off Server");
    assert_eq!(sim.listed("a").await.unwrap()["power"], "off");
    assert_eq!(sim.listed("b").await.unwrap()["power"], "off");

    let (_, body) = sim
        .post("/service/server/poweron", json!({"name": "b"}))
        .await;
    let id = one_id(&body);
    sim.advance_secs(1);
    assert_eq!(sim.listed("b").await.unwrap()["power"], "off");
    sim.advance_secs(1);
    assert_eq!(sim.listed("b").await.unwrap()["power"], "on");
    let logs = sim.get(&format!("/service/queue?id={id}&log=true")).await.1;
    assert_eq!(logs.as_array().unwrap().len(), 1);
    assert_eq!(logs[0].as_object().unwrap().len(), 1);
    assert!(
        logs[0]["log"]
            .as_str()
            .unwrap()
            .contains("Powering on server b")
    );

    let (status, body) = sim
        .post("/service/server/reboot", json!({"name": "b"}))
        .await;
    assert_eq!(status, 200);
    sim.advance_secs(2);
    assert_eq!(sim.queue(&one_id(&body)).await[0]["status"], "complete");
    let kinds: Vec<OpKind> = sim.handle.commands().iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            OpKind::PowerOff,
            OpKind::PowerOff,
            OpKind::PowerOn,
            OpKind::Reboot
        ]
    );
}

#[tokio::test]
async fn unknown_command_ids_give_an_empty_queue_answer() {
    let sim = Sim::start().await;
    assert_eq!(sim.queue("999").await, Value::Array(vec![]));
    assert_eq!(sim.queue("abc").await, Value::Array(vec![]));
}

#[tokio::test]
async fn real_clock_mode_completes_commands_in_scaled_wall_time() {
    // 5 s of simulated create time at 1000x is 5 ms of wall time.
    let config = SimConfig::default().with_clock(kamatera_sim::ClockMode::Real { scale: 1000.0 });
    let sim = Sim::start_with(config).await;
    let id = one_id(&sim.create(json!({})).await.1);
    let mut status = None;
    for _ in 0..200 {
        status = sim.queue_status(&id).await;
        if status.as_deref() == Some("complete") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(status.as_deref(), Some("complete"));
    assert_eq!(sim.listed("node-1").await.unwrap()["power"], "on");
}
