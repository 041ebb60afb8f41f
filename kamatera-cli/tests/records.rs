use kamatera_sim::SeedServer;
use serde_json::json;

use crate::support::{keys, start_instant};

#[tokio::test]
async fn password_reset_reads_the_file_and_never_prints_it() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    let dir = std::env::temp_dir().join(format!("kamatera-cli-pw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("password");
    std::fs::write(&file, "Rotated2026Pass\n").unwrap();
    let path = file.to_str().unwrap();

    let run = sim
        .run_waiting(&[
            "server",
            "password",
            "--name",
            "web-0001",
            "--password-file",
            path,
        ])
        .await;
    run.success();
    assert!(
        run.rows()[1].contains(" complete web-0001 "),
        "{:?}",
        run.rows()
    );
    assert!(!run.stdout.contains("Rotated2026Pass") && !run.stderr.contains("Rotated2026Pass"));
    let reset = sim
        .handle
        .requests()
        .into_iter()
        .find(|r| r.path == "/service/server/password")
        .unwrap();
    assert_eq!(reset.params["password"], "Rotated2026Pass");

    // A weak password is refused before anything is sent, and not echoed either.
    std::fs::write(&file, "weak\n").unwrap();
    let before = sim.calls().len();
    let run = sim
        .run(&[
            "server",
            "password",
            "--name",
            "web-0001",
            "--password-file",
            path,
        ])
        .await;
    run.failure(2, "password");
    assert!(!run.stderr.contains("weak"), "{}", run.stderr);
    assert_eq!(sim.calls().len(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn description_is_set_and_read_back() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    let run = sim
        .run(&[
            "server",
            "description",
            "--name",
            "web-0001",
            "--set",
            "front end",
            "-o",
            "json",
        ])
        .await;
    run.success();
    assert_eq!(run.json(), json!({"description": "front end"}));
    assert_eq!(sim.server("web-0001").description, "front end");

    let run = sim
        .run(&["server", "description", "--name", "web-0001"])
        .await;
    run.success();
    assert_eq!(run.rows(), ["FIELD VALUE", "description front end"]);

    let before = sim.calls().len();
    sim.run(&["server", "description", "--name", "web-0001", "--set", " "])
        .await
        .failure(2, "description");
    assert_eq!(sim.calls().len(), before);
}

#[tokio::test]
async fn reports_and_the_ssh_key_target_are_shown() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    let run = sim
        .run(&["server", "reports", "--name", "web-0001", "-o", "json"])
        .await;
    run.success();
    let reports = run.json();
    let reports = reports.as_array().unwrap();
    assert!(!reports.is_empty());
    assert_eq!(
        keys(&reports[0]),
        [
            "cpu",
            "disk",
            "disk_traffic",
            "lan_received",
            "lan_transmitted",
            "month",
            "ram",
            "wan_received",
            "wan_transmitted",
            "year"
        ]
    );
    let table = sim.run(&["server", "reports", "--name", "web-0001"]).await;
    table.success();
    assert_eq!(table.rows()[0], "MONTH CPU RAM DISK WAN IN WAN OUT");
    assert_eq!(table.rows().len(), reports.len() + 1);

    let run = sim
        .run(&["server", "sshkey", "--name", "web-0001", "-o", "json"])
        .await;
    run.success();
    let target = run.json();
    assert_eq!(keys(&target), ["external_ip", "id", "name"]);
    assert_eq!(target["id"], json!(sim.id_of("web-0001")));
    assert_eq!(target["name"], "web-0001");
    assert!(!target["external_ip"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn a_disk_is_cloned_into_a_private_image() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    let run = sim
        .run(&[
            "server",
            "disk-library",
            "list",
            "--name",
            "web-0001",
            "-o",
            "json",
        ])
        .await;
    run.success();
    let disks = run.json();
    let disk = &disks.as_array().unwrap()[0];
    assert_eq!(keys(disk), ["name", "size_gb", "uuid"]);
    let uuid = disk["uuid"].as_str().unwrap().to_owned();

    let run = sim
        .run_waiting(&[
            "server",
            "disk-library",
            "clone",
            "--name",
            "web-0001",
            "--disk",
            &uuid,
            "--image-name",
            "golden",
        ])
        .await;
    run.success();
    assert!(
        run.rows()[1].contains(" complete web-0001 "),
        "{:?}",
        run.rows()
    );
    assert!(
        sim.handle.dump()["resources"]
            .to_string()
            .contains("golden"),
        "the simulator holds no image named golden"
    );

    let before = sim.calls().len();
    sim.run(&[
        "server",
        "disk-library",
        "clone",
        "--name",
        "web-0001",
        "--disk",
        &uuid,
        "--image-name",
        "",
    ])
    .await
    .failure(2, "image-name");
    assert_eq!(sim.calls().len(), before);
}
