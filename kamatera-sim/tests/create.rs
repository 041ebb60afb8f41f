//! `POST /service/server`: shapes, defaults and validation.

use serde_json::{Value, json};

use crate::common::{Sim, message, one_id};

#[tokio::test]
async fn create_returns_a_string_id_and_records_the_request() {
    let sim = Sim::start().await;
    let (status, body) = sim
        .create(json!({"tag": "k8sca-c1 k8scang-ng1", "billingCycle": "monthly"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let id = one_id(&body);
    assert!(id.parse::<u64>().is_ok());
    let servers = sim.handle.servers();
    let s = &servers[0];
    assert_eq!(s.name, "node-1");
    assert_eq!(
        (s.cpu.as_str(), s.ram_mb, s.disks_gb.clone()),
        ("1B", 1024, vec![20])
    );
    assert_eq!(s.networks[0].network, "wan-il");
    // `billingCycle` (capital C) is not the proxy's key, so billing stays hourly.
    assert_eq!(s.billing, "hourly");
    assert_eq!(s.tags, ["k8sca-c1", "k8scang-ng1"]);
    let request = s.creation_request.clone().unwrap();
    assert_eq!(request["billingCycle"], "monthly");
    assert_eq!(request["tag"], "k8sca-c1 k8scang-ng1");
}

#[tokio::test]
async fn explicit_values_and_slot_order_are_applied() {
    let sim = Sim::start().await;
    let extra = json!({"cpu": "4D", "ram": 4096, "billingcycle": "MONTHLY", "dailybackup": "YES",
        "disk": "id=3,size=20 size=10 id=0,size=30 id=1,size=60",
        "network": "name=wan,ip=auto name=lan-1-x,ip=172.16.0.9"});
    let (status, body) = sim.create(extra).await;
    assert_eq!(status, 200, "{body}");
    let s = &sim.handle.servers()[0];
    assert_eq!(s.disks_gb, [30, 60, 10, 20]);
    assert_eq!(
        (s.cpu.as_str(), s.ram_mb, s.billing.as_str(), s.backup),
        ("4D", 4096, "monthly", true)
    );
    assert_eq!(s.traffic, "t5000");
    assert_eq!(s.networks[1].ips, ["172.16.0.9"]);
}

#[tokio::test]
async fn generated_password_changes_the_response_shape() {
    let sim = Sim::start().await;
    let (status, body) = sim.create(json!({"password": "__generate__"})).await;
    assert_eq!(status, 200);
    assert_eq!(body["commandIds"].as_array().map(Vec::len), Some(1));
    assert!(body["commandIds"][0].is_string());
    let password = body["password"].as_str().unwrap();
    assert_eq!(password.len(), 20);
    assert_eq!(password.chars().filter(char::is_ascii_digit).count(), 4);

    let (status, body) = sim
        .create(json!({"password": "", "ssh-key": "ssh-ed25519 AAAA test"}))
        .await;
    assert_eq!(status, 200);
    one_id(&body);
}

#[tokio::test]
async fn missing_required_flags_are_400() {
    let sim = Sim::start().await;
    for flag in ["name", "datacenter", "image", "password"] {
        let (status, body) = sim.create(json!({ flag: "" })).await;
        assert_eq!(
            (status, message(&body)),
            (400, format!("missing required flag ({flag})").as_str())
        );
    }
    assert_eq!(sim.handle.servers().len(), 0);
}

#[tokio::test]
async fn bad_disk_and_network_specs_use_the_reference_messages() {
    let sim = Sim::start().await;
    let cases = [
        (
            "disk",
            "size=10,foo",
            400,
            "invalid flag value (disk=size=10,foo)",
        ),
        (
            "disk",
            "id=5,size=10",
            400,
            "invalid item id: 5 (disk=id=5,size=10)",
        ),
        (
            "disk",
            "id=0,size=10 id=0,size=30",
            400,
            "duplicate item id: 0 (disk=id=0,size=30)",
        ),
        (
            "disk",
            "size=1 size=2 size=3 size=4 size=5",
            400,
            "invalid item ids (disk=size=1 size=2 size=3 size=4 size=5)",
        ),
        (
            "network",
            "name=wan,ip",
            400,
            "invalid flag value (network=name=wan,ip)",
        ),
        (
            "disk",
            "id=0",
            500,
            "Failed to run command method (createServer)",
        ),
        (
            "network",
            "ip=auto",
            500,
            "Failed to run command method (createServer)",
        ),
    ];
    for (flag, value, want_status, want) in cases {
        let (status, body) = sim.create(json!({ flag: value })).await;
        assert_eq!(
            (status, message(&body)),
            (want_status, want),
            "{flag}={value}"
        );
    }
}

#[tokio::test]
async fn bad_yes_no_billing_and_image_are_500() {
    let sim = Sim::start().await;
    for extra in [
        json!({"dailybackup": "maybe"}),
        json!({"managed": "true"}),
        json!({"poweronaftercreate": "1"}),
        json!({"billingcycle": "weekly"}),
        json!({"image": "no_such_image"}),
        json!({"image": "EU:6000C29abc"}),
        json!({"datacenter": "XX"}),
        json!({"cpu": "2Q"}),
        json!({"ram": "lots"}),
    ] {
        let (status, body) = sim.create(extra.clone()).await;
        assert_eq!(
            (status, message(&body)),
            (500, "Failed to run command method (createServer)"),
            "{extra}"
        );
    }
    assert!(sim.handle.servers().is_empty());
}

#[tokio::test]
async fn form_bodies_and_query_parameters_are_accepted() {
    let sim = Sim::start().await;
    let resp = sim
        .http
        .post(sim.at("/service/server?datacenter=EU"))
        .header("AuthClientId", crate::common::CLIENT_ID)
        .header("AuthSecret", crate::common::SECRET)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("name=form-node&password=Passw0rd123&image=ubuntu_server_22.04_64-bit&tag=a1x%20b2y")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ids: Value = resp.json().await.unwrap();
    one_id(&ids);
    let s = &sim.handle.servers()[0];
    assert_eq!(
        (s.name.as_str(), s.datacenter.as_str()),
        ("form-node", "EU")
    );
    assert_eq!(s.tags, ["a1x", "b2y"]);
}
