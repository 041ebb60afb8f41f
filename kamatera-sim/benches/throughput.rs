//! Rough throughput numbers: `cargo bench -p kamatera-sim`. Prints, asserts nothing about speed.

#![expect(clippy::expect_used)] // a failed setup should abort the bench loudly

use std::time::{Duration, Instant};

use kamatera_sim::{SeedServer, SimConfig, Simulator};
use serde_json::{Value, json};

const SERVERS: usize = 10_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (url, sim) = Simulator::start(SimConfig::default()).await.expect("start");
    for i in 0..SERVERS {
        sim.seed_server(SeedServer::new(format!("bench-{i:05}")).tags(["k8sca-bench"]))
            .expect("seed");
    }
    let http = reqwest::Client::new();
    let list_url = url.join("service/servers").expect("url");

    let fetch = |http: reqwest::Client, u: url::Url| async move {
        let body: Value = http
            .get(u)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        body.as_array().map_or(0, Vec::len)
    };
    let started = Instant::now();
    for i in 0..20 {
        // Seeding invalidates the cached body, so every iteration serialises the full list.
        sim.seed_server(SeedServer::new(format!("extra-{i}")))
            .expect("seed");
        assert!(fetch(http.clone(), list_url.clone()).await > SERVERS);
    }
    println!(
        "list of {SERVERS} servers, cold cache: {:?} per call (incl. client decode)",
        started.elapsed() / 20
    );
    let started = Instant::now();
    for _ in 0..50 {
        fetch(http.clone(), list_url.clone()).await;
    }
    println!(
        "list of {SERVERS} servers, warm cache: {:?} per call (incl. client decode)",
        started.elapsed() / 50
    );

    let deadline = Instant::now() + Duration::from_secs(3);
    let workers: Vec<_> = (0..16)
        .map(|w| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                let mut done = 0u64;
                let mut i = 0;
                while Instant::now() < deadline {
                    let name = format!("bench-{:05}", (w * 613 + i * 31) % SERVERS);
                    let (path, body) = match i % 4 {
                        0 => ("server/tags", json!({"name": name})),
                        1 => ("service/server/info", json!({"name": name})),
                        2 => ("service/server/poweroff", json!({"name": name})),
                        _ => ("service/server", json!({"name": format!("new-{w}-{i}"), "password": "Passw0rd123",
                                                       "datacenter": "IL", "image": "ubuntu_server_18.04_64-bit"})),
                    };
                    let resp = http.post(url.join(path).expect("url")).json(&body).send().await.expect("send");
                    assert_eq!(resp.status(), 200, "{path}");
                    resp.bytes().await.expect("body");
                    done += 1;
                    i += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.await.expect("worker");
    }
    println!(
        "mixed tags/info/poweroff/create, 16 clients: {:.0} requests/s",
        total as f64 / 3.0
    );
    sim.shutdown().await.expect("shutdown");
}
