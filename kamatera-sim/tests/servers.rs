//! Read endpoints: health, list, info, ssh, tags and options.

use std::collections::BTreeSet;

use kamatera_sim::{Power, PriceAnswer, SeedServer};
use serde_json::{Value, json};

use crate::common::{Sim, message};

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn health_needs_no_credentials() {
    let sim = Sim::start().await;
    let resp = sim.http.get(sim.url.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"ready": true}));
}

#[tokio::test]
async fn list_has_exactly_the_brief_keys() {
    let sim = Sim::start().await;
    assert_eq!(sim.list().await, Vec::<Value>::new());
    sim.handle
        .seed_server(SeedServer::new("a").datacenter("EU").power(Power::Off))
        .unwrap();
    let list = sim.list().await;
    assert_eq!(list.len(), 1);
    assert_eq!(
        keys(&list[0]),
        BTreeSet::from(["id", "name", "datacenter", "power"])
    );
    assert_eq!(list[0]["power"], "off");
    assert_eq!(list[0]["datacenter"], "EU");
    assert!(list[0]["id"].as_str().unwrap().len() > 10);
}

#[tokio::test]
async fn info_by_name_regex_and_id() {
    let sim = Sim::start().await;
    let id = sim.seed("alpha");
    sim.seed("beta");
    let (status, body) = sim
        .post("/service/server/info", json!({"name": "alpha"}))
        .await;
    assert_eq!(status, 200);
    let row = &body[0];
    let expected = [
        "id",
        "name",
        "datacenter",
        "power",
        "cpu",
        "ram",
        "diskSizes",
        "networks",
        "billing",
        "traffic",
        "managed",
        "backup",
        "priceMonthlyOn",
        "priceHourlyOn",
        "priceHourlyOff",
    ];
    assert_eq!(keys(row), BTreeSet::from(expected));
    assert_eq!(row["ram"], 2048);
    assert_eq!(row["managed"], "0");
    assert_eq!(row["priceHourlyOff"], row["priceHourlyOn"]);
    assert!(
        row["networks"][0]["network"]
            .as_str()
            .unwrap()
            .starts_with("wan-il")
    );

    let (_, body) = sim.post("/service/server/info", json!({"id": id})).await;
    assert_eq!(body[0]["name"], "alpha");
    let (_, body) = sim
        .post("/service/server/info", json!({"name": "alpha|beta"}))
        .await;
    assert_eq!(body.as_array().unwrap().len(), 2);
    // The anchor is implicit: a prefix does not match.
    let (status, body) = sim
        .post("/service/server/info", json!({"name": "alp"}))
        .await;
    assert_eq!(
        (status, message(&body)),
        (500, "No servers found (name='alp')")
    );
    let (status, body) = sim
        .post(
            "/service/server/info",
            json!({"name": "zzz", "allow-no-servers": "yes"}),
        )
        .await;
    assert_eq!((status, body), (200, json!([])));
}

#[tokio::test]
async fn selection_needs_exactly_one_of_name_and_id() {
    let sim = Sim::start().await;
    sim.seed("alpha");
    for (path, method) in [
        ("/service/server/info", "serversInfo"),
        ("/service/server/terminate", "terminateServer"),
        ("/service/server/poweroff", "poweroffServer"),
        ("/server/tags", "serverTags"),
    ] {
        let expected = format!("Failed to run command method ({method})");
        let (status, body) = sim.post(path, json!({"name": "alpha", "id": "x"})).await;
        assert_eq!((status, message(&body)), (500, expected.as_str()));
        let (status, body) = sim.post(path, json!({})).await;
        assert_eq!((status, message(&body)), (500, expected.as_str()));
    }
}

#[tokio::test]
async fn tags_add_remove_and_list_on_exactly_one_server() {
    let sim = Sim::start().await;
    let id = sim.seed("alpha");
    sim.seed("beta");
    let (status, body) = sim.post("/server/tags", json!({"name": "alpha"})).await;
    assert_eq!((status, body), (200, json!([])));
    sim.post("/server/tags", json!({"name": "alpha", "add": "k8sca-c1"}))
        .await;
    let (_, body) = sim
        .post("/server/tags", json!({"id": id, "add": "k8scang-ng1"}))
        .await;
    assert_eq!(
        body,
        json!([{"id": id, "tagName": "k8sca-c1"}, {"id": id, "tagName": "k8scang-ng1"}])
    );
    let (_, body) = sim
        .post(
            "/server/tags",
            json!({"name": "alpha", "add": "x-new", "remove": "k8sca-c1"}),
        )
        .await;
    assert_eq!(
        body,
        json!([{"id": id, "tagName": "k8scang-ng1"}, {"id": id, "tagName": "x-new"}])
    );

    let (status, body) = sim
        .post("/server/tags", json!({"name": "alpha|beta"}))
        .await;
    assert_eq!(
        (status, message(&body)),
        (500, "Too many matching servers (name='alpha|beta')")
    );
    let (status, body) = sim.post("/server/tags", json!({"name": "gamma"})).await;
    assert_eq!(
        (status, message(&body)),
        (500, "No servers found (name='gamma')")
    );

    sim.handle.update_behaviour(|b| b.legacy_tag_rows = true);
    let (_, body) = sim.post("/server/tags", json!({"name": "alpha"})).await;
    assert_eq!(body[0], json!({"server id": id, "tag name": "k8scang-ng1"}));
}

#[tokio::test]
async fn ssh_returns_the_external_ip() {
    let sim = Sim::start().await;
    let id = sim.seed("alpha");
    let (status, body) = sim
        .post("/service/server/ssh", json!({"name": "alpha"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(keys(&body[0]), BTreeSet::from(["id", "name", "externalIp"]));
    assert_eq!(body[0]["id"], id);
    let ip = body[0]["externalIp"].as_str().unwrap();
    assert_eq!(ip.split('.').count(), 4);
}

#[tokio::test]
async fn options_endpoints_cover_il_and_eu() {
    let sim = Sim::start().await;
    let (status, all) = sim.get("/service/server").await;
    assert_eq!(status, 200);
    let expected = [
        "datacenters",
        "cpu",
        "ram",
        "disk",
        "diskImages",
        "traffic",
        "networks",
        "billing",
    ];
    assert_eq!(keys(&all), BTreeSet::from(expected));
    assert!(all["datacenters"]["IL"].is_string() && all["datacenters"]["EU"].is_string());
    assert!(all["ram"]["B"].as_array().unwrap().contains(&json!(1024)));

    let (_, dcs) = sim.get("/service/server?datacenter=1").await;
    let ids: Vec<&str> = dcs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert!(ids.contains(&"IL") && ids.contains(&"EU"));
    assert_eq!(
        keys(&dcs[0]),
        BTreeSet::from(["id", "name", "category", "subCategory"])
    );

    let (_, images) = sim.get("/service/server?images=1&datacenter=IL").await;
    assert_eq!(images[0]["datacenter"], "IL");
    assert!(images[0]["id"].as_str().unwrap().starts_with("IL:"));
    let (_, default_dc) = sim.get("/service/server?images=1").await;
    assert_eq!(default_dc[0]["datacenter"], "EU");

    let (_, caps) = sim
        .get("/service/server?capabilities=1&datacenter=EU")
        .await;
    assert_eq!(caps["defaultMonthlyTrafficPackage"], "t5000");
    assert!(
        caps["cpuTypes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "B")
    );
    let (_, sizes) = sim.get("/service/server?sizes=1&datacenter=EU").await;
    let names: Vec<&str> = sizes
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(names, ["small", "medium", "large"]);
}

#[tokio::test]
async fn unknown_paths_and_methods_are_json_errors() {
    let sim = Sim::start().await;
    assert_eq!(sim.get("/service/nothing").await.0, 404);
    assert_eq!(sim.get("/server/tags").await.0, 405);
}

#[tokio::test]
async fn status_in_json_header_wraps_every_answer() {
    let sim = Sim::start().await;
    let resp = sim
        .http
        .post(sim.at("/service/server/info"))
        .header("AuthClientId", crate::common::CLIENT_ID)
        .header("AuthSecret", crate::common::SECRET)
        .header("X-CLOUDCLI-STATUSINJSON", "true")
        .json(&json!({"name": "nothing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"response": {"message": "No servers found (name='nothing')"}, "status": 500})
    );
}

#[tokio::test]
async fn seeded_servers_carry_their_configuration_into_info() {
    let sim = Sim::start().await;
    let seed = SeedServer::new("big")
        .cpu("8D")
        .ram_mb(16384)
        .disks_gb([100, 200])
        .billing("monthly")
        .id("fixed-id-123");
    assert_eq!(
        sim.handle.seed_server(seed.clone()).unwrap(),
        "fixed-id-123"
    );
    assert!(
        sim.handle.seed_server(seed).is_err(),
        "duplicate ids are rejected"
    );
    let (_, info) = sim
        .post("/service/server/info", json!({"id": "fixed-id-123"}))
        .await;
    let row = &info[0];
    assert_eq!(
        (row["cpu"].as_str(), row["ram"].as_u64()),
        (Some("8D"), Some(16384))
    );
    assert_eq!(row["diskSizes"], json!([100, 200]));
    assert_eq!(
        (row["billing"].as_str(), row["traffic"].as_str()),
        (Some("monthly"), Some("t5000"))
    );
}

#[tokio::test]
async fn info_answers_the_prices_a_test_sets_by_name_prefix() {
    let sim = Sim::start().await;
    for name in ["k8s-a-1", "k8s-a-broken", "other"] {
        sim.handle.seed_server(SeedServer::new(name)).unwrap();
    }
    sim.handle.update_behaviour(|b| {
        b.prices.insert(
            "k8s-a-".into(),
            PriceAnswer::Fixed {
                monthly_on: "30.00".into(),
                hourly_on: "0.041".into(),
                hourly_off: "0.006".into(),
            },
        );
        b.prices
            .insert("k8s-a-broken".into(), PriceAnswer::LookupFails);
    });
    let price = |row: &Value| {
        [
            row["priceMonthlyOn"].clone(),
            row["priceHourlyOn"].clone(),
            row["priceHourlyOff"].clone(),
        ]
    };
    let (_, info) = sim
        .post("/service/server/info", json!({"name": "k8s-a-1"}))
        .await;
    assert_eq!(
        price(&info[0]),
        [json!("30.00"), json!("0.041"), json!("0.006")]
    );
    // The longest prefix wins: the lookup fails for this one server only.
    let (_, info) = sim
        .post("/service/server/info", json!({"name": "k8s-a-broken"}))
        .await;
    assert_eq!(price(&info[0]), [json!(""), json!(""), json!("")]);
    // Unmatched servers keep the shape-derived price, with the proxy's off-price bug.
    let (_, info) = sim
        .post("/service/server/info", json!({"name": "other"}))
        .await;
    let [_, on, off] = price(&info[0]);
    assert!(!on.as_str().unwrap().is_empty());
    assert_eq!(on, off);
}
