use kamatera_sim::{OpKind, Power, SeedServer};

use crate::support::{keys, start_instant};

#[tokio::test]
async fn rename_changes_the_name_the_simulator_holds() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    let id = sim.id_of("web-0001");

    let run = sim
        .run_waiting(&[
            "server",
            "rename",
            "--name",
            "web-0001",
            "--new-name",
            "web-0009",
        ])
        .await;
    run.success();
    assert!(run.rows()[1].contains(" complete "), "{:?}", run.rows());
    let server = sim.server("web-0009");
    assert_eq!(server.id, id);

    let run = sim
        .run(&["server", "rename", "--id", &id, "--new-name", "web.0009"])
        .await;
    run.failure(2, r#"invalid new-name "web.0009""#);
}

#[tokio::test]
async fn configure_makes_exactly_one_change_and_checks_it_first() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();

    let run = sim
        .run(&["server", "configure", "--name", "web-0001", "--ram", "3000"])
        .await;
    run.failure(
        2,
        r#"kamatera: invalid ram "3000": not a memory size Kamatera offers"#,
    );
    let run = sim
        .run(&[
            "server",
            "configure",
            "--name",
            "web-0001",
            "--cpu",
            "4B",
            "--ram",
            "4096",
        ])
        .await;
    run.failure(2, "cannot be used with");
    let run = sim
        .run(&["server", "configure", "--name", "web-0001"])
        .await;
    run.failure(2, "--cpu");
    assert!(sim.calls().is_empty(), "{:?}", sim.calls());

    sim.run_waiting(&["server", "configure", "--name", "web-0001", "--cpu", "4B"])
        .await
        .success();
    sim.run_waiting(&["server", "configure", "--name", "web-0001", "--ram", "4096"])
        .await
        .success();
    sim.run_waiting(&[
        "server",
        "configure",
        "--name",
        "web-0001",
        "--daily-backup",
        "on",
    ])
    .await
    .success();
    let server = sim.server("web-0001");
    assert_eq!(
        (server.cpu.as_str(), server.ram_mb, server.backup),
        ("4B", 4096, true)
    );
    let configure: Vec<_> = sim
        .handle
        .requests()
        .into_iter()
        .filter(|r| r.path == "/server/configure")
        .map(|r| r.params)
        .collect();
    assert_eq!(configure[2]["dailybackup"], "yes");
}

#[tokio::test]
async fn suspend_and_resume_follow_their_commands() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();

    sim.run_waiting(&["server", "power", "suspend", "--name", "web-0001"])
        .await
        .success();
    let server = sim.server("web-0001");
    assert!(server.suspended);
    assert_eq!(server.power, Power::Off);

    let run = sim
        .run_waiting(&[
            "server",
            "power",
            "resume",
            "--name-pattern",
            "web-.*",
            "-o",
            "json",
        ])
        .await;
    run.success();
    assert_eq!(run.json()[0]["status"], "complete");
    assert!(!sim.server("web-0001").suspended);
    let kinds: Vec<OpKind> = sim.handle.commands().iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [OpKind::Suspend, OpKind::Resume]);
}

#[tokio::test]
async fn history_lists_what_was_done() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    sim.run_waiting(&["server", "power", "off", "--name", "web-0001"])
        .await
        .success();

    let run = sim
        .run(&["server", "history", "--name", "web-0001", "-o", "json"])
        .await;
    run.success();
    let rows = run.json();
    let rows = rows.as_array().unwrap();
    let expected = sim.server("web-0001").history;
    assert_eq!(rows.len(), expected.len());
    let last = rows.last().unwrap();
    assert_eq!(keys(last), ["action", "date", "user"]);
    let last_seen = expected.last().unwrap();
    assert_eq!(last["action"], last_seen.action.as_str());
    assert_eq!(last["user"], last_seen.user.as_str());

    let run = sim.run(&["server", "history", "--name", "web-0001"]).await;
    run.success();
    assert_eq!(run.rows()[0], "DATE ACTION USER");
    assert_eq!(run.rows().len(), expected.len() + 1);
}

#[tokio::test]
async fn statistics_fetch_samples_for_a_period_or_days() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();

    let run = sim
        .run(&[
            "server",
            "statistics",
            "--name",
            "web-0001",
            "--metric",
            "cpu",
            "-o",
            "json",
        ])
        .await;
    run.success();
    let points = run.json();
    let points = points.as_array().unwrap();
    assert!(!points.is_empty());
    assert_eq!(keys(&points[0]), ["date", "metric", "value"]);
    let request = sim.handle.requests().pop().unwrap();
    assert_eq!(request.params["cpu"], true);
    assert_eq!(request.params["period"], "1h");

    let run = sim
        .run(&[
            "server",
            "statistics",
            "--name",
            "web-0001",
            "--from",
            "20260101",
            "--to",
            "20260102",
        ])
        .await;
    run.success();
    assert_eq!(run.rows()[0], "DATE METRIC VALUE");
    let request = sim.handle.requests().pop().unwrap();
    assert_eq!(request.params["startdate"], "20260101");

    let run = sim
        .run(&[
            "server",
            "statistics",
            "--name",
            "web-0001",
            "--period",
            "2d",
        ])
        .await;
    run.failure(2, r#"invalid period "2d""#);
}

#[tokio::test]
async fn clone_creates_a_server_from_the_source() {
    let sim = start_instant().await;
    sim.handle
        .seed_server(SeedServer::new("web-0001").cpu("4B").ram_mb(8192))
        .unwrap();

    let run = sim
        .run_waiting(&[
            "server",
            "clone",
            "--name",
            "web-0001",
            "--new-name",
            "web-0002",
            "--tag",
            "copy",
            "-o",
            "json",
        ])
        .await;
    run.success();
    let out = run.json();
    assert_eq!(out["command"]["status"], "complete");
    assert_eq!(out["server_name"], "web-0002");
    assert!(out["generated_password"].is_string());
    let clone = sim.server("web-0002");
    assert_eq!((clone.cpu.as_str(), clone.ram_mb), ("4B", 8192));
    assert_eq!(clone.tags, ["copy"]);
    let request = sim
        .handle
        .requests()
        .into_iter()
        .find(|r| r.path == "/service/cloneServer")
        .unwrap();
    assert_eq!(request.params["source-name"], "web-0001");
}
