use kamatera_sim::{FaultRule, OpKind, Power, SeedServer};
use serde_json::json;

use crate::support::{SETTLE, keys, start, start_instant};

#[tokio::test]
async fn list_prints_a_table_and_json_with_stable_fields() {
    let sim = start().await;
    sim.handle
        .seed_server(SeedServer::new("web-0001").id("srv-1"))
        .unwrap();
    sim.handle
        .seed_server(
            SeedServer::new("db-0001")
                .id("srv-2")
                .datacenter("EU")
                .power(Power::Off),
        )
        .unwrap();

    let table = sim.run(&["server", "list"]).await;
    table.success();
    assert_eq!(
        table.rows(),
        [
            "ID NAME DATACENTER POWER",
            "srv-1 web-0001 IL on",
            "srv-2 db-0001 EU off"
        ]
    );

    let run = sim.run(&["server", "list", "--output", "json"]).await;
    run.success();
    assert_eq!(
        run.json(),
        json!([
            {"id": "srv-1", "name": "web-0001", "datacenter": "IL", "power": "on"},
            {"id": "srv-2", "name": "db-0001", "datacenter": "EU", "power": "off"}
        ])
    );
    assert_eq!(
        sim.calls(),
        ["GET /service/servers", "GET /service/servers"]
    );
}

#[tokio::test]
async fn list_warns_on_stderr_about_a_row_it_cannot_read() {
    let sim = start().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    sim.handle.add_fault(FaultRule::list_with_extra_rows(vec![
        json!({"id": "x", "name": "odd", "datacenter": null, "power": "on"}),
    ]));

    let run = sim.run(&["server", "list", "-o", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json().as_array().unwrap().len(), 1);
    assert!(
        run.stderr
            .starts_with("kamatera: warning: skipped server row $[1].datacenter (name odd)"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn info_shows_each_selected_server_in_full() {
    let sim = start().await;
    for name in ["web-0001", "web-0002"] {
        sim.handle
            .seed_server(
                SeedServer::new(name)
                    .cpu("4B")
                    .ram_mb(8192)
                    .disks_gb(vec![40, 100]),
            )
            .unwrap();
    }

    let run = sim.run(&["server", "info", "--name", "web-0001"]).await;
    run.success();
    let rows = run.rows();
    assert_eq!(rows[0], "FIELD VALUE");
    assert!(rows.contains(&"name web-0001".to_owned()), "{rows:?}");
    assert!(rows.contains(&"cpu 4B".to_owned()), "{rows:?}");
    assert!(rows.contains(&"ram 8192 MB".to_owned()), "{rows:?}");
    assert!(rows.contains(&"disks 40 GB, 100 GB".to_owned()), "{rows:?}");
    assert!(rows.contains(&"daily backup no".to_owned()), "{rows:?}");

    let run = sim
        .run(&["server", "info", "--name-pattern", "web-.*", "-o", "json"])
        .await;
    run.success();
    let servers = run.json();
    let servers = servers.as_array().unwrap();
    assert_eq!(servers.len(), 2);
    assert_eq!(
        keys(&servers[0]),
        [
            "billing",
            "cpu",
            "daily_backup",
            "datacenter",
            "disk_sizes_gb",
            "id",
            "managed",
            "name",
            "networks",
            "power",
            "price_hourly_on",
            "price_monthly_on",
            "ram_mb",
            "traffic"
        ]
    );
    assert_eq!(servers[1]["name"], "web-0002");
    assert_eq!(servers[1]["ram_mb"], 8192);
    assert_eq!(servers[1]["disk_sizes_gb"], json!([40, 100]));
    let info = sim.handle.requests();
    assert_eq!(info[1].params["name"], "web-.*");
}

#[tokio::test]
async fn create_with_wait_sends_the_checked_request_and_reports_the_new_server() {
    let sim = start_instant().await;

    let run = sim
        .run_waiting(&[
            "server",
            "create",
            "--name",
            "web-0001",
            "--datacenter",
            "IL",
            "--image",
            "ubuntu_server_24.04_64-bit",
            "--cpu",
            "2A",
            "--ram",
            "4096",
            "--disk",
            "size=50",
            "--disk",
            "size=100",
            "--network",
            "name=wan,ip=auto",
            "--tag",
            "web",
            "--tag",
            "frontend",
            "-o",
            "json",
        ])
        .await;
    run.success();
    let out = run.json();
    assert_eq!(keys(&out), ["command", "generated_password", "server_name"]);
    assert_eq!(out["command"]["status"], "complete");
    assert_eq!(out["command"]["description"], "Create Server");
    assert_eq!(out["server_name"], "web-0001");
    assert!(out["generated_password"].as_str().unwrap().len() >= 10);

    let server = sim.server("web-0001");
    assert_eq!((server.cpu.as_str(), server.ram_mb), ("2A", 4096));
    assert_eq!(server.disks_gb, [50, 100]);
    assert_eq!(server.tags, ["web", "frontend"]);
    assert_eq!(server.power, Power::On);
    let body = server.creation_request.unwrap();
    assert_eq!(body["disk"], "size=50 size=100");
    assert_eq!(body["billingcycle"], "hourly");
    // The queue hid the command for two polls: the CLI kept polling until it showed.
    let polls = sim
        .calls()
        .iter()
        .filter(|c| *c == "GET /service/queue")
        .count();
    assert_eq!(polls, 3, "{:?}", sim.calls());
}

#[tokio::test]
async fn create_without_wait_prints_the_command_and_reads_secrets_from_files() {
    let sim = start().await;
    let dir = std::env::temp_dir().join(format!("kamatera-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let password = dir.join("password");
    std::fs::write(&password, "Secr3tPassw0rd\n").unwrap();
    let script = dir.join("init.sh");
    std::fs::write(&script, "#!/bin/bash\necho hello\n").unwrap();

    let run = sim
        .run(&[
            "server",
            "create",
            "--name",
            "db-0001",
            "--datacenter",
            "IL",
            "--image",
            "ubuntu_server_24.04_64-bit",
            "--password-file",
            password.to_str().unwrap(),
            "--script-file",
            script.to_str().unwrap(),
            "--billing",
            "monthly",
            "--traffic",
            "t5000",
            "--no-power-on",
        ])
        .await;
    run.success();
    let command = sim.handle.commands().pop().unwrap();
    assert_eq!(command.kind, OpKind::Create);
    assert_eq!(
        run.rows(),
        [
            "FIELD VALUE".to_owned(),
            format!("command {}", command.id),
            "status submitted".to_owned(),
            "server -".to_owned(),
        ]
    );
    assert!(!run.stdout.contains("Secr3tPassw0rd"));
    let body = sim.server("db-0001").creation_request.unwrap();
    assert_eq!(body["password"], "Secr3tPassw0rd");
    assert_eq!(body["script-file"], "#!/bin/bash\necho hello\n");
    assert_eq!(body["billingcycle"], "monthly");
    assert_eq!(body["monthlypackage"], "t5000");
    assert_eq!(body["poweronaftercreate"], "no");

    sim.handle.advance(SETTLE);
    assert_eq!(sim.server("db-0001").power, Power::Off);
    std::fs::remove_dir_all(dir).unwrap();
}
