use kamatera_sim::{Outcome, OutcomeRule, SeedServer};
use serde_json::json;

use crate::support::{SETTLE, start, start_instant};

#[tokio::test]
async fn queue_list_shows_the_statuses_of_the_commands_asked_for() {
    let sim = start().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    sim.run(&["server", "power", "off", "--name", "web-0001"])
        .await
        .success();
    let id = sim.handle.commands()[0].id.to_string();

    let run = sim.run(&["queue", "list", "--id", &id]).await;
    run.success();
    assert_eq!(
        run.rows(),
        [
            "COMMAND STATUS SERVER DESCRIPTION".to_owned(),
            format!("{id} pending web-0001 Power Off Server"),
        ]
    );

    sim.handle.advance(SETTLE);
    let run = sim.run(&["queue", "list", "--id", &id, "-o", "json"]).await;
    run.success();
    let items = run.json();
    assert_eq!(items[0]["id"], json!(id));
    assert_eq!(items[0]["status"], "complete");
    assert!(items[0]["completed"].is_string());
    let query = sim.handle.requests().pop().unwrap().query.unwrap();
    assert_eq!(query, format!("id={id}"));
}

#[tokio::test]
async fn queue_wait_follows_commands_to_their_end() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    sim.handle.seed_server(SeedServer::new("web-0002")).unwrap();
    sim.run(&["server", "power", "off", "--name-pattern", "web-.*"])
        .await
        .success();
    let ids: Vec<String> = sim
        .handle
        .commands()
        .iter()
        .map(|c| c.id.to_string())
        .collect();

    let run = sim
        .run(&[
            "queue",
            "wait",
            &ids[0],
            &ids[1],
            "--poll-interval",
            "10ms",
            "-o",
            "json",
        ])
        .await;
    run.success();
    let items = run.json();
    assert_eq!(items[0]["id"], json!(ids[0]));
    assert_eq!(items[1]["id"], json!(ids[1]));
    assert_eq!(items[0]["status"], "complete");
    assert_eq!(items[1]["status"], "complete");
}

#[tokio::test]
async fn queue_wait_fails_with_the_last_log_line_of_a_failed_command() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    sim.handle
        .add_outcome_rule(OutcomeRule::new(Outcome::Error {
            log: "Starting\nServer is locked by another task".into(),
        }))
        .unwrap();
    sim.run(&["server", "power", "reboot", "--name", "web-0001"])
        .await
        .success();
    let id = sim.handle.commands()[0].id.to_string();

    let run = sim
        .run(&["queue", "wait", &id, "--poll-interval", "10ms"])
        .await;
    let line = run.failure(4, "Server is locked by another task");
    assert_eq!(
        line,
        format!(
            "kamatera: command {id} (Reboot Server web-0001) ended in error: Server is locked by another task"
        )
    );
    assert_eq!(run.rows()[1], format!("{id} error web-0001 Reboot Server"));
}

#[tokio::test]
async fn queue_list_without_ids_shows_the_recent_commands() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    sim.run_waiting(&["server", "power", "off", "--name", "web-0001"])
        .await
        .success();
    let id = sim.handle.commands()[0].id.to_string();

    let run = sim.run(&["queue", "list", "-o", "json"]).await;
    run.success();
    let recent = run.json();
    assert_eq!(recent[0]["id"], json!(id));
    assert_eq!(
        crate::support::keys(&recent[0]),
        [
            "completed",
            "created",
            "executed",
            "exit_code",
            "id",
            "info",
            "progress",
            "service_name"
        ]
    );
    let run = sim.run(&["queue", "list"]).await;
    run.success();
    assert_eq!(run.rows()[0], "COMMAND CREATED COMPLETED EXIT INFO");
    assert!(run.rows()[1].starts_with(&id), "{:?}", run.rows());
    assert_eq!(sim.calls().last().unwrap(), "GET /svc/queue");
}
