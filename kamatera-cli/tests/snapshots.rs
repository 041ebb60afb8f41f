use kamatera_sim::SeedServer;
use serde_json::{Value, json};

use crate::support::{Sim, keys, start_instant};

/// The snapshot rows the simulator holds for its only server.
fn sim_snapshots(sim: &Sim) -> Vec<Value> {
    let dump = sim.handle.dump();
    let by_server = dump["resources"]["snapshots_by_server_seq"]
        .as_object()
        .unwrap();
    by_server
        .values()
        .next()
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The id of the simulator's snapshot named `name`, as text.
fn snapshot_id(sim: &Sim, name: &str) -> String {
    let row = sim_snapshots(sim)
        .into_iter()
        .find(|row| row["name"] == name)
        .unwrap_or_else(|| panic!("no snapshot {name:?}"));
    match &row["id"] {
        Value::String(id) => id.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn snapshots_are_created_listed_reverted_and_deleted() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    let id = sim.id_of("web-0001");

    let run = sim
        .run_waiting(&["server", "snapshot", "create", "--name", "web-0001", "base"])
        .await;
    run.success();
    assert!(
        run.rows()[1].contains(" complete web-0001 "),
        "{:?}",
        run.rows()
    );
    let base = snapshot_id(&sim, "base");
    sim.run_waiting(&[
        "server",
        "snapshot",
        "create",
        "--id",
        &id,
        "before upgrade",
    ])
    .await
    .success();
    let upgrade = snapshot_id(&sim, "before upgrade");
    // Back to `base`, then a new snapshot: a second child of `base`, so the list is a
    // tree, not a line.
    sim.run_waiting(&["server", "snapshot", "revert", "--id", &id, &base])
        .await
        .success();
    let revert = sim
        .handle
        .requests()
        .into_iter()
        .find(|r| r.params.get("revert").is_some());
    assert_eq!(revert.unwrap().params["revert"], json!(base));
    sim.run_waiting(&["server", "snapshot", "create", "--id", &id, "retry"])
        .await
        .success();
    let retry = snapshot_id(&sim, "retry");

    let run = sim
        .run(&[
            "server", "snapshot", "list", "--name", "web-0001", "-o", "json",
        ])
        .await;
    run.success();
    let listed = run.json();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{listed}");
    assert_eq!(
        keys(&rows[0]),
        ["active", "date", "depth", "id", "name", "parent"]
    );
    let row = |id: &str| {
        rows.iter()
            .find(|row| row["id"] == json!(id))
            .unwrap_or_else(|| panic!("{id} not listed: {listed}"))
    };
    assert_eq!(row(&base)["parent"], Value::Null);
    assert_eq!(row(&base)["depth"], 0);
    assert_eq!(row(&upgrade)["parent"], json!(base));
    assert_eq!(row(&retry)["parent"], json!(base));
    assert_eq!(row(&retry)["depth"], 1);
    assert_eq!(row(&retry)["active"], true);
    assert_eq!(row(&upgrade)["active"], false);

    let run = sim
        .run(&["server", "snapshot", "list", "--name", "web-0001"])
        .await;
    run.success();
    assert_eq!(run.rows()[0], "ID NAME DATE ACTIVE PARENT");
    assert!(
        run.rows()
            .iter()
            .any(|line| line.starts_with(&format!("{retry} retry 2026-"))),
        "{:?}",
        run.rows()
    );

    sim.run_waiting(&[
        "server", "snapshot", "delete", "--name", "web-0001", &upgrade,
    ])
    .await
    .success();
    let names: Vec<Value> = sim_snapshots(&sim)
        .iter()
        .map(|row| row["name"].clone())
        .collect();
    assert!(!names.contains(&json!("before upgrade")), "{names:?}");
    assert_eq!(names.len(), 2);
}

#[tokio::test]
async fn snapshot_values_are_checked_before_sending() {
    let sim = start_instant().await;
    let run = sim
        .run(&["server", "snapshot", "create", "--name", "web-0001", ""])
        .await;
    run.failure(2, r#"invalid create "": a snapshot name must not be empty"#);
    let run = sim
        .run(&["server", "snapshot", "delete", "--name", "web-0001", "1 2"])
        .await;
    run.failure(2, r#"invalid snapshotId "1 2""#);
    // Snapshots belong to one server: a pattern is not offered.
    let run = sim
        .run(&["server", "snapshot", "list", "--name-pattern", "web-.*"])
        .await;
    run.failure(2, "--name-pattern");
    assert!(sim.calls().is_empty());
}
