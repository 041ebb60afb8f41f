//! Per-server resources: `POST /server/disk`, `/server/network`, `/server/snapshot` and
//! `/server/hdlib`. Changes show only once their command completes (virtual clock).

use kamatera_sim::{FaultRule, OpKind, Outcome, OutcomeRule, SeedNetwork, SeedServer};
use serde_json::{Value, json};

use crate::common::{Sim, message, one_id};

/// Long enough for any resource command with the default timings.
const SETTLE_SECS: u64 = 10;

impl Sim {
    /// Posts, expects one command id, lets it complete and checks it ended `complete`.
    async fn change(&self, path: &str, body: Value) {
        let (status, answer) = self.post(path, body.clone()).await;
        assert_eq!(status, 200, "{path} {body}: {answer}");
        let id = one_id(&answer);
        assert_eq!(self.queue_status(&id).await.as_deref(), Some("pending"));
        self.advance_secs(SETTLE_SECS);
        assert_eq!(self.queue_status(&id).await.as_deref(), Some("complete"));
    }

    /// Posts and returns the rows of a list answer.
    async fn rows(&self, path: &str, body: Value) -> Vec<Value> {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, 200, "{answer}");
        answer.as_array().cloned().expect("rows")
    }

    async fn refused(&self, path: &str, body: Value) -> (u16, String) {
        let (status, answer) = self.post(path, body).await;
        (status, message(&answer).to_owned())
    }

    async fn disk_sizes(&self, name: &str) -> Value {
        let (_, info) = self
            .post("/service/server/info", json!({"name": name}))
            .await;
        info[0]["diskSizes"].clone()
    }
}

/// The upstream refusal wrapped in a proxy message: `{"errors":[{"code":4,"info":...}]}`.
fn upstream_info(message: &str) -> String {
    let inner: Value = serde_json::from_str(message).expect("message holds upstream JSON");
    inner["errors"][0]["info"]
        .as_str()
        .expect("info")
        .to_owned()
}

#[tokio::test]
async fn disks_add_resize_and_remove_when_their_commands_complete() {
    let sim = Sim::start().await;
    sim.seed("db");
    let list = sim.rows("/server/disk", json!({"name": "db"})).await;
    assert_eq!(list, [json!({"id": 0, "size": "20gb"})]);

    let (_, answer) = sim
        .post("/server/disk", json!({"name": "db", "add": "50gb"}))
        .await;
    let id = one_id(&answer);
    assert_eq!(
        sim.disk_sizes("db").await,
        json!([20]),
        "not before completion"
    );
    sim.advance_secs(SETTLE_SECS);
    assert_eq!(sim.queue_status(&id).await.as_deref(), Some("complete"));
    assert_eq!(sim.queue(&id).await[0]["description"], "Add Disk");
    assert_eq!(sim.disk_sizes("db").await, json!([20, 50]));

    sim.change("/server/disk", json!({"name": "db", "add": 100}))
        .await;
    sim.change(
        "/server/disk",
        json!({"name": "db", "resize": "1", "size": "80gb"}),
    )
    .await;
    assert_eq!(sim.disk_sizes("db").await, json!([20, 80, 100]));
    sim.change(
        "/server/disk",
        json!({"name": "db", "resize": 0, "size": 30}),
    )
    .await;
    sim.change("/server/disk", json!({"name": "db", "remove": "1"}))
        .await;
    assert_eq!(sim.disk_sizes("db").await, json!([30, 100]));
    let list = sim.rows("/server/disk", json!({"name": "db"})).await;
    assert_eq!(
        list,
        [
            json!({"id": 0, "size": "30gb"}),
            json!({"id": 1, "size": "100gb"})
        ]
    );
    assert_eq!(sim.handle.servers()[0].disks_gb, [30, 100]);
}

#[tokio::test]
async fn disk_errors_name_the_problem() {
    let sim = Sim::start().await;
    sim.handle
        .seed_server(SeedServer::new("full").disks_gb(vec![20, 10, 10, 10]))
        .unwrap();
    sim.seed("one");
    for (body, info) in [
        (
            json!({"name": "full", "add": 10}),
            "add: the server already has 4 disks",
        ),
        (
            json!({"name": "one", "add": "7gb"}),
            "add: 7GB is not an allowed disk size",
        ),
        (
            json!({"name": "one", "add": "big"}),
            "add: \"big\" is not a size in GB",
        ),
        (
            json!({"name": "one", "remove": "0"}),
            "remove: disk 0 is the boot disk",
        ),
        (
            json!({"name": "one", "remove": "3"}),
            "remove: no disk with index \"3\"",
        ),
        (
            json!({"name": "one", "resize": "x", "size": 30}),
            "resize: no disk with index \"x\"",
        ),
        (
            json!({"name": "one", "resize": 0, "size": 10}),
            "size: disk 0 is 20GB and can only grow",
        ),
        (
            json!({"name": "one", "resize": 0, "size": 20}),
            "size: disk 0 is 20GB and can only grow",
        ),
        (
            json!({"name": "one", "resize": 0, "size": 33}),
            "size: 33GB is not an allowed disk size",
        ),
    ] {
        let (status, text) = sim.refused("/server/disk", body.clone()).await;
        assert_eq!(status, 500, "{body}");
        assert!(upstream_info(&text).starts_with(info), "{body}: {text}");
    }
    let (status, text) = sim
        .refused("/server/disk", json!({"name": "one", "resize": 0}))
        .await;
    assert_eq!(
        (status, text.as_str()),
        (400, "missing required flag (size)")
    );
    assert!(
        sim.handle.commands().is_empty(),
        "no refused change was scheduled"
    );
}

#[tokio::test]
async fn one_server_selection_errors() {
    let sim = Sim::start().await;
    sim.seed("web-1");
    sim.seed("web-2");
    for path in ["/server/disk", "/server/network", "/server/snapshot"] {
        let (status, text) = sim.refused(path, json!({"name": "web-.*"})).await;
        assert_eq!(
            (status, text.as_str()),
            (500, "Too many matching servers (name='web-.*')"),
            "{path}"
        );
        let (status, text) = sim.refused(path, json!({"name": "nope"})).await;
        assert_eq!(
            (status, text.as_str()),
            (500, "No servers found (name='nope')")
        );
        let (status, text) = sim.refused(path, json!({"id": "no-such-id"})).await;
        assert_eq!(
            (status, text.as_str()),
            (500, "No servers found (id='no-such-id')")
        );
        let (status, text) = sim.refused(path, json!({})).await;
        assert_eq!(status, 500);
        assert!(
            text.starts_with("Failed to run command method (server"),
            "{text}"
        );
    }
    let (status, text) = sim
        .refused("/server/hdlib", json!({"name": "web-1", "id": "x"}))
        .await;
    assert_eq!(
        (status, text.as_str()),
        (500, "Failed to run command (hdlib)")
    );
    let (_, text) = sim
        .refused("/server/hdlib", json!({"name": "web-[12]"}))
        .await;
    assert_eq!(text, "Too many matching servers (name='web-[12]')");
}

#[tokio::test]
async fn a_second_change_waits_for_the_first() {
    let sim = Sim::start().await;
    sim.seed("db");
    let (status, _) = sim
        .post("/server/disk", json!({"name": "db", "add": 10}))
        .await;
    assert_eq!(status, 200);
    let (status, text) = sim
        .refused("/server/snapshot", json!({"name": "db", "create": "s"}))
        .await;
    assert_eq!(status, 500);
    assert!(upstream_info(&text).contains("task in progress"), "{text}");
    // Reading is always allowed.
    assert_eq!(
        sim.rows("/server/snapshot", json!({"name": "db"})).await,
        Vec::<Value>::new()
    );
    sim.advance_secs(SETTLE_SECS);
    sim.change("/server/snapshot", json!({"name": "db", "create": "s"}))
        .await;
}

#[tokio::test]
async fn a_failed_command_changes_nothing() {
    let sim = Sim::start().await;
    sim.seed("db");
    sim.handle
        .add_outcome_rule(
            OutcomeRule::new(Outcome::Error {
                log: "Disk quota exceeded".into(),
            })
            .kind(OpKind::DiskAdd)
            .times(1),
        )
        .unwrap();
    let (_, answer) = sim
        .post("/server/disk", json!({"name": "db", "add": 10}))
        .await;
    sim.advance_secs(SETTLE_SECS);
    let item = &sim.queue(&one_id(&answer)).await[0];
    assert_eq!(
        (item["status"].as_str(), item["log"].as_str()),
        (Some("error"), Some("Disk quota exceeded"))
    );
    assert_eq!(sim.disk_sizes("db").await, json!([20]));
    sim.change("/server/disk", json!({"name": "db", "add": 10}))
        .await;
    assert_eq!(sim.disk_sizes("db").await, json!([20, 10]));
}

#[tokio::test]
async fn nics_get_macs_addresses_and_link_state() {
    let sim = Sim::start().await;
    let lan = sim
        .handle
        .seed_network(&SeedNetwork::new("IL", "backend", "10.20.0.0", 24).gateway("10.20.0.1"))
        .unwrap();
    assert_eq!(lan, "lan-100200-backend");
    sim.handle
        .seed_server(
            SeedServer::new("app")
                .network("wan", "auto")
                .network(&lan, "auto"),
        )
        .unwrap();
    let nics = sim.rows("/server/network", json!({"name": "app"})).await;
    assert_eq!(nics.len(), 2);
    assert_eq!(nics[0]["network"], "wan-il");
    assert_eq!(nics[1]["network"], lan.as_str());
    assert_eq!(
        nics[1]["ips"],
        json!(["10.20.0.2"]),
        "the gateway is skipped"
    );
    assert_eq!(nics[1]["connected"], true);
    let macs: Vec<&str> = nics.iter().map(|n| n["mac"].as_str().unwrap()).collect();
    assert_ne!(macs[0], macs[1]);
    assert!(
        macs.iter()
            .all(|m| m.len() == 17 && m.starts_with("00:50:56:"))
    );

    // The short name gets the account prefix; the address is checked against the subnet.
    sim.change(
        "/server/network",
        json!({"name": "app", "add": "backend", "ip": "10.20.0.77"}),
    )
    .await;
    sim.change(
        "/server/network",
        json!({"name": "app", "add": lan, "ip": ""}),
    )
    .await;
    let nics = sim.rows("/server/network", json!({"name": "app"})).await;
    assert_eq!(nics[2]["ips"], json!(["10.20.0.77"]));
    assert_eq!(nics[3]["ips"], json!(["10.20.0.3"]));
    let (_, subnets) = sim
        .get("/service/network/subnets?datacenter=IL&vlanId=2")
        .await;
    assert_eq!(subnets[0]["inUse"], 3);

    let mac = nics[2]["mac"].as_str().unwrap().to_owned();
    sim.change("/server/network", json!({"name": "app", "disconnect": mac}))
        .await;
    let nics = sim.rows("/server/network", json!({"name": "app"})).await;
    assert_eq!(
        (
            nics[2]["connected"].as_bool(),
            nics[1]["connected"].as_bool()
        ),
        (Some(false), Some(true))
    );
    sim.change(
        "/server/network",
        json!({"name": "app", "connect": mac.to_uppercase()}),
    )
    .await;
    let nics = sim.rows("/server/network", json!({"name": "app"})).await;
    assert_eq!(nics[2]["connected"], true);

    // Info keeps its two NIC fields.
    let (_, info) = sim
        .post("/service/server/info", json!({"name": "app"}))
        .await;
    assert_eq!(
        info[0]["networks"][2],
        json!({"network": lan, "ips": ["10.20.0.77"]})
    );
}

#[tokio::test]
async fn nic_add_creates_a_missing_vlan_from_subnet_and_bits() {
    let sim = Sim::start().await;
    sim.seed("app");
    let (status, text) = sim
        .refused("/server/network", json!({"name": "app", "add": "fresh"}))
        .await;
    assert_eq!(status, 500);
    assert!(
        text.starts_with("Failed to create VLAN network, please check the bits and subnet flags"),
        "{text}"
    );
    sim.change(
        "/server/network",
        json!({"name": "app", "add": "fresh", "subnet": "192.168.5.0", "bits": 24, "ip": "192.168.5.9"}),
    )
    .await;
    let (_, list) = sim.get("/service/networks?datacenter=IL").await;
    assert_eq!(list[0]["names"], json!(["lan-100200-fresh"]));
    let nics = sim.rows("/server/network", json!({"name": "app"})).await;
    assert_eq!(nics[1]["ips"], json!(["192.168.5.9"]));
}

#[tokio::test]
async fn nic_errors_name_the_problem() {
    let sim = Sim::start().await;
    let lan = sim
        .handle
        .seed_network(&SeedNetwork::new("IL", "small", "10.9.0.0", 30))
        .unwrap();
    sim.handle
        .seed_server(
            SeedServer::new("a")
                .network("wan", "auto")
                .network(&lan, "10.9.0.1"),
        )
        .unwrap();
    sim.handle
        .seed_server(
            SeedServer::new("b")
                .network("wan", "auto")
                .network(&lan, "auto")
                .network("wan", "auto")
                .network("wan", "auto"),
        )
        .unwrap();
    for (body, info) in [
        (
            json!({"name": "a", "add": "small", "ip": "10.9.0.2"}),
            "ip: 10.9.0.2 is already in use",
        ),
        (
            json!({"name": "a", "add": "small", "ip": "10.9.0.3"}),
            "ip: 10.9.0.3 is not inside a subnet",
        ),
        (
            json!({"name": "a", "add": "small", "ip": "10.9.0.999"}),
            "ip: \"10.9.0.999\" is not an IPv4",
        ),
        (
            json!({"name": "a", "add": "small"}),
            "no free address left on lan-100200-small",
        ),
        (
            json!({"name": "b", "add": "small"}),
            "add: server b already has 4 network interfaces",
        ),
        (
            json!({"name": "a", "disconnect": "00:11:22:33:44:55"}),
            "disconnect: server a has no network interface with MAC",
        ),
        (
            json!({"name": "a", "connect": "nope"}),
            "connect: server a has no network interface with MAC",
        ),
    ] {
        let (status, text) = sim.refused("/server/network", body.clone()).await;
        assert_eq!(status, 500, "{body}");
        assert!(upstream_info(&text).starts_with(info), "{body}: {text}");
    }
    let (_, text) = sim
        .refused(
            "/server/network",
            json!({"name": "a", "add": "new", "subnet": "10.1.0.0", "bits": 33}),
        )
        .await;
    assert!(
        text.contains("subnetBit: 33 is not a prefix length"),
        "{text}"
    );
    assert!(sim.handle.commands().is_empty());
}

#[tokio::test]
async fn creates_take_lan_addresses_from_the_subnet() {
    let sim = Sim::start().await;
    let lan = sim
        .handle
        .seed_network(&SeedNetwork::new("IL", "k8s", "172.20.0.0", 24))
        .unwrap();
    let network = format!("name=wan,ip=auto name={lan},ip=auto name={lan},ip=172.20.0.50");
    let (status, body) = sim.create(json!({"name": "n1", "network": network})).await;
    assert_eq!(status, 200, "{body}");
    let nics = &sim.handle.servers()[0].networks;
    assert_eq!(nics[1].ips, ["172.20.0.1"]);
    assert_eq!(nics[2].ips, ["172.20.0.50"]);
    assert!(nics.iter().all(|n| n.connected && !n.mac.is_empty()));

    let taken = format!("name=wan,ip=auto name={lan},ip=172.20.0.50");
    let (status, body) = sim.create(json!({"name": "n2", "network": taken})).await;
    assert_eq!(status, 500);
    assert!(
        message(&body).starts_with("ip: 172.20.0.50 is already in use"),
        "{body}"
    );
    let outside = format!("name={lan},ip=10.0.0.1");
    let (status, body) = sim.create(json!({"name": "n3", "network": outside})).await;
    assert_eq!(status, 500);
    assert!(message(&body).contains("is not inside a subnet"), "{body}");
    assert_eq!(sim.handle.servers().len(), 1);
    let (_, subnets) = sim
        .get("/service/network/subnets?datacenter=IL&vlanId=2")
        .await;
    assert_eq!(subnets[0]["inUse"], 2);
}

fn snapshot_rows(rows: &[Value]) -> Vec<(String, u64, bool)> {
    rows.iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["depth"].as_u64().unwrap(),
                r["active"].as_bool().unwrap(),
            )
        })
        .collect()
}

async fn snapshot_list(sim: &Sim) -> Vec<Value> {
    sim.rows("/server/snapshot", json!({"name": "vm"})).await
}

fn snapshot_id(rows: &[Value], name: &str) -> u64 {
    rows.iter()
        .find(|r| r["name"] == name)
        .and_then(|r| r["id"].as_u64())
        .expect("snapshot listed")
}

#[tokio::test]
async fn snapshots_form_a_tree_after_a_revert() {
    let sim = Sim::start().await;
    sim.seed("vm");
    sim.change("/server/snapshot", json!({"name": "vm", "create": "base"}))
        .await;
    sim.change("/server/snapshot", json!({"name": "vm", "create": "v1"}))
        .await;
    let rows = snapshot_list(&sim).await;
    assert_eq!(
        snapshot_rows(&rows),
        [("v1".into(), 1, true), ("base".into(), 0, false)]
    );
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["active", "child", "date", "depth", "id", "name"]);
    assert_eq!(
        rows[1]["date"], "2026-01-01 00:00:02",
        "the time the first create completed"
    );

    let base = snapshot_id(&rows, "base");
    sim.change(
        "/server/snapshot",
        json!({"name": "vm", "revert": base.to_string()}),
    )
    .await;
    assert_eq!(
        snapshot_rows(&snapshot_list(&sim).await),
        [("v1".into(), 1, false), ("base".into(), 0, true)]
    );
    sim.change("/server/snapshot", json!({"name": "vm", "create": "v2"}))
        .await;
    sim.change("/server/snapshot", json!({"name": "vm", "create": "v2a"}))
        .await;
    let rows = snapshot_list(&sim).await;
    assert_eq!(
        snapshot_rows(&rows),
        [
            ("v1".into(), 1, false),
            ("v2a".into(), 2, true),
            ("v2".into(), 1, false),
            ("base".into(), 0, false)
        ]
    );

    // Deleting a snapshot hands its children to its parent; deleting the active one moves
    // the server to its parent.
    let v2 = snapshot_id(&rows, "v2");
    sim.change("/server/snapshot", json!({"name": "vm", "delete": v2}))
        .await;
    assert_eq!(
        snapshot_rows(&snapshot_list(&sim).await),
        [
            ("v1".into(), 1, false),
            ("v2a".into(), 1, true),
            ("base".into(), 0, false)
        ]
    );
    let v2a = snapshot_id(&rows, "v2a");
    sim.change("/server/snapshot", json!({"name": "vm", "delete": v2a}))
        .await;
    assert_eq!(
        snapshot_rows(&snapshot_list(&sim).await),
        [("v1".into(), 1, false), ("base".into(), 0, true)]
    );

    for (body, info) in [
        (
            json!({"name": "vm", "delete": v2}),
            "delete: server vm has no snapshot with id",
        ),
        (
            json!({"name": "vm", "revert": "abc"}),
            "revert: server vm has no snapshot with id \"abc\"",
        ),
    ] {
        let (status, text) = sim.refused("/server/snapshot", body.clone()).await;
        assert_eq!(status, 500, "{body}");
        assert!(upstream_info(&text).starts_with(info), "{body}: {text}");
    }
}

#[tokio::test]
async fn a_cloned_disk_becomes_an_image_that_create_accepts() {
    let sim = Sim::start().await;
    sim.handle
        .seed_server(SeedServer::new("golden").disks_gb(vec![30, 10]))
        .unwrap();
    let disks = sim.rows("/server/hdlib", json!({"name": "golden"})).await;
    assert_eq!(disks.len(), 2);
    assert_eq!(disks[0]["sizeGB"], 30);
    assert_eq!(disks[1]["name"], "golden disk 1");
    let boot = disks[0]["uuid"].as_str().unwrap().to_owned();
    assert_eq!(
        sim.rows("/server/hdlib", json!({"name": "golden"})).await[0]["uuid"],
        boot.as_str(),
        "disk ids are stable"
    );

    let (status, text) = sim
        .refused("/server/hdlib", json!({"name": "golden", "clone": boot}))
        .await;
    assert_eq!(
        (status, text.as_str()),
        (400, "missing required flag (image-name)")
    );
    let (status, text) = sim
        .refused(
            "/server/hdlib",
            json!({"name": "golden", "clone": "nope", "image-name": "x"}),
        )
        .await;
    assert_eq!(status, 500);
    assert!(upstream_info(&text).starts_with("clone: server golden has no disk \"nope\""));

    let (_, answer) = sim
        .post(
            "/server/hdlib",
            json!({"name": "golden", "clone": boot, "image-name": "golden-image"}),
        )
        .await;
    let id = one_id(&answer);
    sim.advance_secs(SETTLE_SECS);
    let item = &sim.queue(&id).await[0];
    assert_eq!(item["status"], "complete");
    let log = item["log"].as_str().unwrap();
    let image = log
        .rsplit("Image created: ")
        .next()
        .unwrap()
        .trim()
        .to_owned();
    assert!(image.starts_with("IL:") && image.len() == 35, "{log}");

    let (status, body) = sim
        .create(json!({"name": "from-image", "image": image}))
        .await;
    assert_eq!(status, 200, "{body}");
    sim.advance_secs(SETTLE_SECS);
    let log = sim.queue(&one_id(&body)).await[0]["log"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(log.contains("Image Name: golden-image"), "{log}");
    let (_, state) = sim
        .control(reqwest::Method::GET, "/__sim/state", None)
        .await;
    assert_eq!(
        state["resources"]["private_images"][0]["id"],
        image.as_str()
    );
    assert_eq!(state["resources"]["private_images"][0]["size_gb"], 30);
    // The image belongs to IL: another datacenter refuses it.
    let (status, _) = sim
        .create(json!({"name": "elsewhere", "datacenter": "EU", "image": image}))
        .await;
    assert_eq!(status, 500);
}

#[tokio::test]
async fn faults_apply_to_the_resource_paths() {
    let sim = Sim::start().await;
    sim.seed("db");
    sim.handle.add_fault(
        FaultRule::respond_text("POST", "/server/disk", 504, "Gateway Timeout").times(1),
    );
    let (status, body) = sim
        .post("/server/disk", json!({"name": "db", "add": 10}))
        .await;
    assert_eq!(
        (status, body),
        (504, Value::String("Gateway Timeout".into()))
    );
    assert!(sim.handle.commands().is_empty());
    sim.change("/server/disk", json!({"name": "db", "add": 10}))
        .await;
    assert_eq!(sim.handle.counters()["POST /server/disk"], 2);
}

#[tokio::test]
async fn wrong_methods_are_refused() {
    let sim = Sim::start().await;
    for path in ["/server/disk", "/server/hdlib", "/service/network/create"] {
        let (status, _) = sim.get(path).await;
        assert_eq!(status, 405, "{path}");
    }
    let (status, _) = sim
        .post("/service/networks", json!({"datacenter": "IL"}))
        .await;
    assert_eq!(status, 405);
}
