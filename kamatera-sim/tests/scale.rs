//! A 10,000-server state stays correct (timing belongs in benchmarks).

use std::collections::HashSet;

use kamatera_sim::{Power, SeedServer};
use serde_json::json;

use crate::common::Sim;

#[tokio::test]
async fn ten_thousand_servers_list_and_select() {
    let sim = Sim::start().await;
    for i in 0..10_000 {
        let power = if i % 2 == 0 { Power::On } else { Power::Off };
        sim.handle
            .seed_server(SeedServer::new(format!("n-{i:05}")).power(power))
            .unwrap();
    }
    let list = sim.list().await;
    assert_eq!(list.len(), 10_000);
    let ids: HashSet<&str> = list.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids.len(), 10_000);
    assert_eq!(list.iter().filter(|s| s["power"] == "off").count(), 5_000);
    assert_eq!(list[1234]["name"], "n-01234");

    let (_, info) = sim
        .post("/service/server/info", json!({"name": "n-09999"}))
        .await;
    assert_eq!(info.as_array().unwrap().len(), 1);
    let (_, info) = sim
        .post("/service/server/info", json!({"name": "n-0999."}))
        .await;
    assert_eq!(info.as_array().unwrap().len(), 10);

    // A change invalidates the cached list body.
    let (_, ids) = sim
        .post(
            "/service/server/terminate",
            json!({"name": "n-0000.", "force": true}),
        )
        .await;
    assert_eq!(ids.as_array().unwrap().len(), 10);
    sim.advance_secs(2);
    assert_eq!(sim.list().await.len(), 9_990);
}
