use serde_json::Value;

use crate::support::{Sim, start};

/// The simulator's private networks with their subnets.
fn sim_networks(sim: &Sim) -> Vec<Value> {
    sim.handle.dump()["resources"]["networks"]
        .as_array()
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn private_networks_and_subnets_are_managed_end_to_end() {
    let sim = start().await;

    let run = sim
        .run(&[
            "network",
            "create",
            "--datacenter",
            "IL",
            "--name",
            "backend",
            "--subnet",
            "172.16.0.0/23",
            "--gateway",
            "172.16.0.100",
            "--dns1",
            "1.1.1.1",
        ])
        .await;
    run.success();
    assert_eq!(run.rows()[1], "message Network created successfully");
    let networks = sim_networks(&sim);
    assert_eq!(networks.len(), 1);
    assert_eq!(networks[0]["subnets"][0]["gateway"], "172.16.0.100");

    let run = sim
        .run(&["network", "list", "--datacenter", "IL", "-o", "json"])
        .await;
    run.success();
    let listed = run.json();
    let vlan = listed[0]["vlan_id"].to_string();
    let network_id = listed[0]["ids"][0].to_string();
    assert!(
        listed[0]["names"][0]
            .as_str()
            .unwrap()
            .ends_with("-backend")
    );

    sim.run(&[
        "network",
        "subnet",
        "create",
        "--datacenter",
        "IL",
        "--vlan-id",
        &vlan,
        "--subnet",
        "172.16.8.0/24",
    ])
    .await
    .success();
    let run = sim
        .run(&[
            "network",
            "subnet",
            "list",
            "--datacenter",
            "IL",
            "--vlan-id",
            &vlan,
            "-o",
            "json",
        ])
        .await;
    run.success();
    let subnets = run.json();
    assert_eq!(subnets.as_array().unwrap().len(), 2);
    assert_eq!(subnets[1]["subnet"], "172.16.8.0/24");
    let second = subnets[1]["id"].to_string();

    sim.run(&[
        "network",
        "subnet",
        "edit",
        "--datacenter",
        "IL",
        "--vlan-id",
        &vlan,
        "--subnet-id",
        &second,
        "--subnet",
        "172.16.8.0/25",
        "--description",
        "narrowed",
    ])
    .await
    .success();
    let edited = &sim_networks(&sim)[0]["subnets"][1];
    assert_eq!(
        (edited["bits"].as_u64(), edited["description"].as_str()),
        (Some(25), Some("narrowed"))
    );
    let run = sim
        .run(&[
            "network",
            "subnet",
            "list",
            "--datacenter",
            "IL",
            "--vlan-id",
            &vlan,
        ])
        .await;
    run.success();
    assert_eq!(
        run.rows()[0],
        "ID SUBNET GATEWAY DNS IN USE TOTAL DESCRIPTION"
    );

    for subnet in subnets.as_array().unwrap() {
        let id = subnet["id"].to_string();
        sim.run(&[
            "network",
            "subnet",
            "delete",
            "--datacenter",
            "IL",
            "--vlan-id",
            &vlan,
            "--subnet-id",
            &id,
        ])
        .await
        .success();
    }
    assert_eq!(sim_networks(&sim)[0]["subnets"], serde_json::json!([]));
    sim.run(&[
        "network",
        "delete",
        "--datacenter",
        "IL",
        "--id",
        &network_id,
        "-o",
        "json",
    ])
    .await
    .success();
    assert!(sim_networks(&sim).is_empty());
}

#[tokio::test]
async fn network_values_are_checked_before_sending() {
    let sim = start().await;
    let run = sim
        .run(&[
            "network",
            "create",
            "--datacenter",
            "IL",
            "--name",
            "Backend",
            "--subnet",
            "172.16.0.0/23",
        ])
        .await;
    run.failure(2, r#"invalid name "Backend""#);
    let run = sim
        .run(&[
            "network",
            "create",
            "--datacenter",
            "IL",
            "--name",
            "backend",
            "--subnet",
            "172.16.0.5/23",
        ])
        .await;
    run.failure(2, "subnetIp");
    let run = sim
        .run(&[
            "network",
            "subnet",
            "list",
            "--datacenter",
            "IL",
            "--vlan-id",
            "x",
        ])
        .await;
    run.failure(2, r#"invalid vlanId "x""#);
    assert!(sim.calls().is_empty());
}
