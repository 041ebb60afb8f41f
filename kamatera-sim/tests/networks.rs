//! Private networks and subnets: `/service/networks`, `/service/network/...`.

use kamatera_sim::{SeedNetwork, SeedServer};
use serde_json::{Value, json};

use crate::common::{Sim, message};

async fn ok_message(sim: &Sim, path: &str, body: Value) -> String {
    let (status, answer) = sim.post(path, body.clone()).await;
    assert_eq!(status, 200, "{path} {body}: {answer}");
    assert_eq!(answer["res"], "[]");
    message(&answer).to_owned()
}

async fn refusal(sim: &Sim, path: &str, body: Value) -> String {
    let (status, answer) = sim.post(path, body.clone()).await;
    assert_eq!(status, 500, "{path} {body}: {answer}");
    message(&answer).to_owned()
}

/// The `info` of the upstream error the proxy passes on as JSON text.
fn info(message: &str) -> String {
    let inner: Value = serde_json::from_str(message).expect("upstream JSON");
    inner["errors"][0]["info"]
        .as_str()
        .expect("info")
        .to_owned()
}

async fn rows(sim: &Sim, path: &str) -> Vec<Value> {
    let (status, answer) = sim.get(path).await;
    assert_eq!(status, 200, "{path}: {answer}");
    answer.as_array().cloned().expect("rows")
}

#[tokio::test]
async fn network_and_subnet_lifecycle() {
    let sim = Sim::start().await;
    assert_eq!(
        rows(&sim, "/service/networks?datacenter=IL").await,
        Vec::<Value>::new()
    );
    let created = ok_message(
        &sim,
        "/service/network/create",
        json!({"datacenter": "il", "name": "backend", "subnetIp": "172.16.0.0", "subnetBit": 23,
               "gateway": "172.16.0.100", "dns1": "1.1.1.1", "subnetDescription": "first"}),
    )
    .await;
    assert_eq!(created, "Network created successfully");
    ok_message(
        &sim,
        "/service/network/create",
        json!({"datacenter": "IL", "name": "front", "subnetIp": "10.0.0.0", "subnetBit": "24"}),
    )
    .await;
    ok_message(
        &sim,
        "/service/network/create",
        json!({"datacenter": "EU", "name": "backend", "subnetIp": "10.0.0.0", "subnetBit": 24}),
    )
    .await;

    let list = rows(&sim, "/service/networks?datacenter=IL").await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["names"], json!(["lan-100200-backend"]));
    assert_eq!(
        (list[0]["vlanId"].as_u64(), list[1]["vlanId"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(list[0]["datacenter"], "IL");
    let network_id = list[0]["ids"][0].as_u64().unwrap();
    let eu = rows(&sim, "/service/networks?datacenter=EU").await;
    assert_eq!(eu[0]["vlanId"], 2, "VLAN ids are counted per datacenter");

    let subnets = rows(&sim, "/service/network/subnets?datacenter=IL&vlanId=2").await;
    assert_eq!(
        subnets[0],
        json!({"datacenter": "IL", "vlanId": 2, "subnetId": subnets[0]["subnetId"], "total": 510,
               "startRange": "172.16.0.1", "endRange": "172.16.1.254", "subnetIp": "172.16.0.0",
               "subnetBit": 23, "subnetMask": "255.255.254.0", "subnetDescription": "first",
               "dns1": "1.1.1.1", "dns2": "", "gateway": "172.16.0.100", "inUse": 0})
    );

    assert_eq!(
        ok_message(
            &sim,
            "/service/network/subnet/create",
            json!({"datacenter": "IL", "vlanId": 2, "subnetIp": "172.16.8.0", "subnetBit": 24}),
        )
        .await,
        "Subnet created successfully"
    );
    let subnets = rows(&sim, "/service/network/subnets?datacenter=IL&vlanId=2").await;
    assert_eq!(subnets.len(), 2);
    let second = subnets[1]["subnetId"].as_u64().unwrap();
    assert_eq!(
        ok_message(
            &sim,
            "/service/network/subnet/edit",
            json!({"datacenter": "IL", "subnetId": second, "vlanId": 2, "subnetIp": "172.16.8.0",
                   "subnetBit": 25, "subnetDescription": "narrowed"}),
        )
        .await,
        "Subnet updated successfully"
    );
    let subnets = rows(&sim, "/service/network/subnets?datacenter=IL&vlanId=2").await;
    assert_eq!(
        (
            &subnets[1]["subnetBit"],
            &subnets[1]["endRange"],
            &subnets[1]["subnetDescription"]
        ),
        (&json!(25), &json!("172.16.8.126"), &json!("narrowed"))
    );
    assert_eq!(
        subnets[0]["subnetDescription"], "first",
        "other subnets are untouched"
    );

    let deleted = |id: u64| json!({"subnetId": id});
    let first = subnets[0]["subnetId"].as_u64().unwrap();
    assert_eq!(
        ok_message(&sim, "/service/network/subnet/delete", deleted(second)).await,
        "Subnet deleted successfully"
    );
    // A network with subnets left cannot go.
    let text = refusal(
        &sim,
        "/service/network/delete",
        json!({"datacenter": "IL", "id": network_id}),
    )
    .await;
    assert!(info(&text).contains("still has 1 subnet(s)"), "{text}");
    ok_message(&sim, "/service/network/subnet/delete", deleted(first)).await;
    assert_eq!(
        ok_message(
            &sim,
            "/service/network/delete",
            json!({"datacenter": "IL", "id": network_id})
        )
        .await,
        "Network deleted successfully"
    );
    let list = rows(&sim, "/service/networks?datacenter=IL").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["names"], json!(["lan-100200-front"]));
}

#[tokio::test]
async fn addresses_in_use_protect_subnets_and_networks() {
    let sim = Sim::start().await;
    let lan = sim
        .handle
        .seed_network(&SeedNetwork::new("IL", "db", "10.5.0.0", 24))
        .unwrap();
    sim.handle
        .seed_server(
            SeedServer::new("db-1")
                .network("wan", "auto")
                .network(&lan, "10.5.0.200"),
        )
        .unwrap();
    let subnets = rows(&sim, "/service/network/subnets?datacenter=IL&vlanId=2").await;
    assert_eq!(subnets[0]["inUse"], 1);
    let id = subnets[0]["subnetId"].as_u64().unwrap();

    let text = refusal(
        &sim,
        "/service/network/subnet/delete",
        json!({"subnetId": id}),
    )
    .await;
    assert_eq!(info(&text), format!("subnet {id} has 1 address(es) in use"));
    let text = refusal(
        &sim,
        "/service/network/subnet/edit",
        json!({"datacenter": "IL", "subnetId": id, "vlanId": 2, "subnetIp": "10.5.0.0", "subnetBit": 25}),
    )
    .await;
    assert_eq!(
        info(&text),
        "address 10.5.0.200 is in use and would fall outside 10.5.0.0/25"
    );
    let (_, list) = sim.get("/service/networks?datacenter=IL").await;
    let network_id = &list[0]["ids"][0];
    let seeded = sim.handle.servers();
    assert_eq!(seeded[0].networks[1].ips, ["10.5.0.200"]);
    let text = refusal(
        &sim,
        "/service/network/delete",
        json!({"datacenter": "IL", "id": network_id}),
    )
    .await;
    assert!(info(&text).contains("still has 1 subnet(s)"), "{text}");

    // A NIC holding an address outside every subnet still keeps its network alive.
    sim.handle
        .seed_server(SeedServer::new("odd").network("lan-100200-late", "192.168.0.9"))
        .unwrap();
    sim.handle
        .seed_network(&SeedNetwork::new("IL", "late", "10.6.0.0", 24))
        .unwrap();
    let subnets = rows(&sim, "/service/network/subnets?datacenter=IL&vlanId=3").await;
    assert_eq!(subnets[0]["inUse"], 0);
    ok_message(
        &sim,
        "/service/network/subnet/delete",
        json!({"subnetId": subnets[0]["subnetId"]}),
    )
    .await;
    let (_, list) = sim.get("/service/networks?datacenter=IL").await;
    let late = &list[1]["ids"][0];
    let text = refusal(
        &sim,
        "/service/network/delete",
        json!({"datacenter": "IL", "id": late}),
    )
    .await;
    assert_eq!(
        info(&text),
        format!("network {late} is in use by 1 network interface(s)")
    );
}

#[tokio::test]
async fn flag_errors_follow_the_proxy() {
    let sim = Sim::start().await;
    let text = refusal(&sim, "/service/network/create", json!({"subnetBit": "x"})).await;
    assert_eq!(
        text,
        "datacenter: required\nname: required\nsubnetIp: required\nsubnetBit: invalid value ('x'), must be an integer"
    );
    let (status, answer) = sim.get("/service/networks").await;
    assert_eq!((status, message(&answer)), (500, "datacenter: required"));
    let (status, answer) = sim.get("/service/network/subnets?datacenter=IL").await;
    assert_eq!((status, message(&answer)), (500, "vlanId: required"));
    let text = refusal(
        &sim,
        "/service/network/subnet/delete",
        json!({"subnetId": "one"}),
    )
    .await;
    assert_eq!(text, "subnetId: invalid value ('one'), must be an integer");
    let text = refusal(&sim, "/service/network/delete", json!({"id": 3})).await;
    assert_eq!(text, "datacenter: required");
}

#[tokio::test]
async fn invalid_values_and_unknown_ids_are_refused() {
    let sim = Sim::start().await;
    let create = |name: &str, ip: &str, bits: Value| json!({"datacenter": "IL", "name": name, "subnetIp": ip, "subnetBit": bits});
    ok_message(
        &sim,
        "/service/network/create",
        create("a", "10.0.0.0", json!(24)),
    )
    .await;
    for (body, expected) in [
        (
            create("a", "10.1.0.0", json!(24)),
            "name: a network named \"a\" already exists in IL",
        ),
        (
            create("b c", "10.1.0.0", json!(24)),
            "name: \"b c\" may only hold letters, digits, '-' and '_'",
        ),
        (
            create("b", "10.1.0", json!(24)),
            "subnetIp: \"10.1.0\" is not an IPv4 address",
        ),
        (
            create("b", "10.1.0.0", json!(31)),
            "subnetBit: 31 is not a prefix length from 16 to 30",
        ),
        (
            create("b", "10.1.0.0", json!(8)),
            "subnetBit: 8 is not a prefix length from 16 to 30",
        ),
        (
            create("b", "10.1.0.5", json!(24)),
            "subnetIp: 10.1.0.5 is not the network address of a /24 subnet",
        ),
        (
            json!({"datacenter": "IL", "name": "b", "subnetIp": "10.1.0.0", "subnetBit": 24, "gateway": "10.2.0.1"}),
            "gateway: 10.2.0.1 is outside the subnet 10.1.0.0/24",
        ),
        (
            json!({"datacenter": "IL", "name": "b", "subnetIp": "10.1.0.0", "subnetBit": 24, "dns1": "dns"}),
            "dns1: \"dns\" is not an IPv4 address",
        ),
        (
            create("b", "10.1.0.0", json!(24))
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("datacenter".into(), json!("MARS"));
                    Value::Object(o)
                })
                .unwrap(),
            "datacenter: unknown datacenter \"MARS\"",
        ),
    ] {
        let text = refusal(&sim, "/service/network/create", body.clone()).await;
        assert_eq!(info(&text), expected, "{body}");
    }
    let subnet = |vlan: Value, ip: &str| json!({"datacenter": "IL", "vlanId": vlan, "subnetIp": ip, "subnetBit": 25});
    let text = refusal(
        &sim,
        "/service/network/subnet/create",
        subnet(json!(9), "10.9.0.0"),
    )
    .await;
    assert_eq!(info(&text), "vlanId: no network with VLAN 9 in IL");
    let text = refusal(
        &sim,
        "/service/network/subnet/create",
        subnet(json!(2), "10.0.0.128"),
    )
    .await;
    assert!(
        info(&text).starts_with("subnetIp: 10.0.0.128/25 overlaps subnet"),
        "{text}"
    );
    let (status, answer) = sim
        .get("/service/network/subnets?datacenter=IL&vlanId=7")
        .await;
    assert_eq!(status, 500);
    assert_eq!(
        info(message(&answer)),
        "vlanId: no network with VLAN 7 in IL"
    );
    let text = refusal(
        &sim,
        "/service/network/subnet/edit",
        json!({"datacenter": "IL", "subnetId": 999, "vlanId": 2, "subnetIp": "10.0.0.0", "subnetBit": 24}),
    )
    .await;
    assert_eq!(info(&text), "subnetId: no subnet 999 in VLAN 2 of IL");
    let text = refusal(
        &sim,
        "/service/network/subnet/delete",
        json!({"subnetId": 999}),
    )
    .await;
    assert_eq!(info(&text), "subnetId: no subnet 999");
    let text = refusal(
        &sim,
        "/service/network/delete",
        json!({"datacenter": "IL", "id": 5}),
    )
    .await;
    assert_eq!(info(&text), "id: no network 5 in IL");
    let (status, answer) = sim.get("/service/networks?datacenter=il").await;
    assert_eq!(status, 500, "list does not upper-case the datacenter");
    assert_eq!(
        info(message(&answer)),
        "datacenter: unknown datacenter \"il\""
    );
}

#[tokio::test]
async fn networks_can_be_seeded_through_the_control_api() {
    let sim = Sim::start().await;
    let (status, body) = sim
        .control(
            reqwest::Method::POST,
            "/__sim/networks",
            Some(
                json!([{"datacenter": "EU", "name": "x", "subnet_ip": "10.0.0.0", "subnet_bit": 24},
                        {"datacenter": "EU", "name": "x"}]),
            ),
        )
        .await;
    assert_eq!(status, 400, "the duplicate stops the batch: {body}");
    assert!(message(&body).contains("already exists"), "{body}");
    let list = rows(&sim, "/service/networks?datacenter=EU").await;
    assert_eq!(list.len(), 1);
    let (_, state) = sim
        .control(reqwest::Method::GET, "/__sim/state", None)
        .await;
    let network = &state["resources"]["networks"][0];
    assert_eq!(network["network"]["full_name"], "lan-100200-x");
    assert_eq!(network["subnets"][0]["bits"], 24);
}
