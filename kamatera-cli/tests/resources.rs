use kamatera_sim::{SeedNetwork, SeedServer};
use serde_json::json;

use crate::support::{keys, start_instant};

#[tokio::test]
async fn disks_are_listed_added_resized_and_removed() {
    let sim = start_instant().await;
    sim.handle
        .seed_server(SeedServer::new("web-0001").disks_gb(vec![20]))
        .unwrap();

    let run = sim
        .run(&["server", "disk", "list", "--name", "web-0001"])
        .await;
    run.success();
    assert_eq!(run.rows(), ["INDEX SIZE GB", "0 20"]);

    sim.run_waiting(&[
        "server", "disk", "add", "--name", "web-0001", "--size", "50",
    ])
    .await
    .success();
    assert_eq!(sim.server("web-0001").disks_gb, [20, 50]);
    sim.run_waiting(&[
        "server", "disk", "resize", "--name", "web-0001", "--index", "1", "--size", "100gb",
    ])
    .await
    .success();
    assert_eq!(sim.server("web-0001").disks_gb, [20, 100]);
    let run = sim
        .run(&["server", "disk", "list", "--name", "web-0001", "-o", "json"])
        .await;
    run.success();
    assert_eq!(
        run.json(),
        json!([{"index": 0, "size_gb": 20}, {"index": 1, "size_gb": 100}])
    );
    sim.run_waiting(&[
        "server", "disk", "remove", "--name", "web-0001", "--index", "1",
    ])
    .await
    .success();
    assert_eq!(sim.server("web-0001").disks_gb, [20]);

    let before = sim.calls().len();
    let run = sim
        .run(&[
            "server", "disk", "remove", "--name", "web-0001", "--index", "0",
        ])
        .await;
    run.failure(2, r#"invalid remove "0": disk 0 is the boot disk"#);
    let run = sim
        .run(&[
            "server", "disk", "add", "--name", "web-0001", "--size", "lots",
        ])
        .await;
    run.failure(2, r#"invalid size "lots""#);
    assert_eq!(sim.calls().len(), before, "refused values are not sent");
}

#[tokio::test]
async fn network_interfaces_are_listed_added_and_disconnected() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    let lan = SeedNetwork::new("IL", "backend", "172.16.0.0", 24);
    let full_name = sim.handle.seed_network(&lan).unwrap();
    let before = sim.server("web-0001").networks.len();

    let add = [
        "server",
        "network",
        "add",
        "--name",
        "web-0001",
        "--network",
        &full_name,
        "--ip",
        "172.16.0.20",
    ];
    sim.run_waiting(&add).await.success();
    let nics = sim.server("web-0001").networks;
    assert_eq!(nics.len(), before + 1);
    let added = nics.last().unwrap().clone();
    assert_eq!(added.network, full_name);
    assert_eq!(added.ips, ["172.16.0.20"]);
    assert!(added.connected);

    let run = sim
        .run(&[
            "server", "network", "list", "--name", "web-0001", "-o", "json",
        ])
        .await;
    run.success();
    let listed = run.json();
    let last = listed.as_array().unwrap().last().unwrap().clone();
    assert_eq!(keys(&last), ["connected", "ips", "mac", "network"]);
    assert_eq!(last["mac"], added.mac.as_str());

    sim.run_waiting(&[
        "server",
        "network",
        "disconnect",
        "--name",
        "web-0001",
        "--mac",
        &added.mac,
    ])
    .await
    .success();
    assert!(!sim.server("web-0001").networks.last().unwrap().connected);
    let run = sim
        .run(&["server", "network", "list", "--name", "web-0001"])
        .await;
    run.success();
    assert_eq!(run.rows()[0], "NETWORK IPS CONNECTED MAC");
    assert!(
        run.rows().last().unwrap().contains(" no "),
        "{:?}",
        run.rows()
    );
    sim.run_waiting(&[
        "server", "network", "connect", "--name", "web-0001", "--mac", &added.mac,
    ])
    .await
    .success();
    assert!(sim.server("web-0001").networks.last().unwrap().connected);

    let run = sim
        .run(&[
            "server", "network", "connect", "--name", "web-0001", "--mac", "nope",
        ])
        .await;
    run.failure(2, r#""nope""#);
    let run = sim
        .run(&[
            "server",
            "network",
            "add",
            "--name",
            "web-0001",
            "--network",
            "backend",
        ])
        .await;
    run.failure(2, r#"invalid add "backend""#);
}
