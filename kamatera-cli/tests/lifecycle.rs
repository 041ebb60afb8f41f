use kamatera_sim::{OpKind, Power, SeedServer};
use serde_json::json;

use crate::support::{SETTLE, keys, start, start_instant};

#[tokio::test]
async fn terminate_dry_run_names_the_servers_and_changes_nothing() {
    let sim = start().await;
    for name in ["web-0001", "web-0002", "db-0001"] {
        sim.handle.seed_server(SeedServer::new(name)).unwrap();
    }

    let run = sim
        .run(&[
            "server",
            "terminate",
            "--name-pattern",
            "web-.*",
            "--dry-run",
        ])
        .await;
    run.success();
    assert_eq!(run.rows(), ["WOULD TERMINATE", "web-0001", "web-0002"]);

    // By id the API names nothing; the CLI names the server from its details.
    let id = sim.id_of("db-0001");
    let run = sim
        .run(&[
            "server",
            "terminate",
            "--id",
            &id,
            "--dry-run",
            "-o",
            "json",
        ])
        .await;
    run.success();
    assert_eq!(
        run.json(),
        json!({"dry_run": true, "would_terminate": ["db-0001"]})
    );

    sim.handle.advance(SETTLE);
    assert_eq!(sim.handle.servers().len(), 3);
    assert!(sim.handle.commands().is_empty());
    let dry: Vec<_> = sim
        .handle
        .requests()
        .into_iter()
        .filter(|r| r.path == "/service/server/terminate")
        .collect();
    assert_eq!(dry.len(), 2);
    assert!(dry.iter().all(|r| r.params["dryrun"] == true));
}

#[tokio::test]
async fn terminate_needs_yes_and_sends_nothing_without_it() {
    let sim = start().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    let run = sim
        .run(&["server", "terminate", "--name", "web-0001"])
        .await;
    run.failure(2, "--yes");
    assert!(sim.calls().is_empty());
}

#[tokio::test]
async fn terminate_with_wait_removes_the_server() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    sim.handle.seed_server(SeedServer::new("web-0002")).unwrap();

    let run = sim
        .run_waiting(&["server", "terminate", "--name", "web-0001", "--yes"])
        .await;
    run.success();
    let command = &sim.handle.commands()[0];
    assert_eq!(
        run.rows(),
        [
            "COMMAND STATUS SERVER DESCRIPTION".to_owned(),
            format!("{} complete web-0001 Terminate Server", command.id),
        ]
    );
    let names: Vec<String> = sim.handle.servers().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["web-0002"]);
    let terminate = sim
        .handle
        .requests()
        .into_iter()
        .find(|r| r.path == "/service/server/terminate")
        .unwrap();
    assert_eq!(terminate.params["force"], true);
}

#[tokio::test]
async fn power_off_and_on_follow_their_commands() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();

    let run = sim
        .run_waiting(&["server", "power", "off", "--name", "web-0001", "-o", "json"])
        .await;
    run.success();
    let commands = run.json();
    assert_eq!(commands.as_array().unwrap().len(), 1);
    assert_eq!(
        keys(&commands[0]),
        [
            "added",
            "completed",
            "description",
            "executed",
            "id",
            "log",
            "server",
            "status"
        ]
    );
    assert_eq!(commands[0]["status"], "complete");
    assert_eq!(commands[0]["server"], "web-0001");
    assert_eq!(sim.server("web-0001").power, Power::Off);

    let id = sim.id_of("web-0001");
    let run = sim
        .run_waiting(&["server", "power", "on", "--id", &id])
        .await;
    run.success();
    assert_eq!(sim.server("web-0001").power, Power::On);
}

#[tokio::test]
async fn power_by_pattern_starts_one_command_per_server() {
    let sim = start().await;
    for name in ["web-0001", "web-0002", "db-0001"] {
        sim.handle.seed_server(SeedServer::new(name)).unwrap();
    }

    let run = sim
        .run(&[
            "server",
            "power",
            "reboot",
            "--name-pattern",
            "web-.*",
            "-o",
            "json",
        ])
        .await;
    run.success();
    let printed = run.json();
    let commands = sim.handle.commands();
    assert_eq!(commands.len(), 2);
    assert!(commands.iter().all(|c| c.kind == OpKind::Reboot));
    let printed_ids: Vec<String> = printed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            // Not followed: only the id is known.
            assert_eq!(c["status"], serde_json::Value::Null);
            c["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let sim_ids: Vec<String> = commands.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(printed_ids, sim_ids);

    let run = sim
        .run(&["server", "power", "off", "--name", "db-0001"])
        .await;
    run.success();
    assert_eq!(run.rows()[0], "COMMAND STATUS SERVER DESCRIPTION");
    assert!(
        run.rows()[1].ends_with(" submitted - -"),
        "{:?}",
        run.rows()
    );
    assert_eq!(sim.server("db-0001").power, Power::On);
    sim.handle.advance(SETTLE);
    assert_eq!(sim.server("db-0001").power, Power::Off);
}
