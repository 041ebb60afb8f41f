//! Where Apache Libcloud's recorded Kamatera answers (and the proxy's source) showed the
//! simulator wrong: one regression test per fix (docs/kamatera-api.md, docs/testing.md
//! "Judged by Libcloud").

use std::collections::BTreeSet;

use serde_json::json;

use crate::common::{Sim, one_id};

#[tokio::test]
async fn a_running_create_already_shows_its_name_line() {
    let sim = Sim::start().await;
    let id = one_id(&sim.create(json!({})).await.1);
    let item = sim.queue(&id).await;
    assert_eq!(
        (item[0]["status"].as_str(), item[0]["log"].as_str()),
        (Some("pending"), Some(""))
    );

    sim.advance_secs(2);
    let item = sim.queue(&id).await;
    assert_eq!(item[0]["status"], "progress");
    let so_far = item[0]["log"].as_str().unwrap().to_owned();
    assert!(so_far.starts_with("Name: node-1\nZone: IL\n"), "{so_far}");
    assert!(!so_far.contains("Server created successfully"), "{so_far}");

    sim.advance_secs(3);
    let item = sim.queue(&id).await;
    assert_eq!(item[0]["status"], "complete");
    let log = item[0]["log"].as_str().unwrap();
    assert_eq!(log, format!("{so_far}\nServer created successfully"));
}

#[tokio::test]
async fn datacenters_are_spelt_as_recorded() {
    let sim = Sim::start().await;
    let (status, body) = sim.get("/service/server?datacenter=1").await;
    assert_eq!(status, 200);
    let il_pt = body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "IL-PT")
        .unwrap();
    assert_eq!(
        il_pt,
        &json!({"id": "IL-PT", "name": "Israel", "category": "Middle East", "subCategory": "Petach Tikva"})
    );
}

#[tokio::test]
async fn capabilities_list_cpu_types_in_the_recorded_order_and_words() {
    let sim = Sim::start().await;
    let (status, body) = sim
        .get("/service/server?capabilities=1&datacenter=EU")
        .await;
    assert_eq!(status, 200);
    let types = body["cpuTypes"].as_array().unwrap();
    let ids: Vec<&str> = types.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["B", "D", "T", "A"]);
    assert_eq!(types[0]["name"], "Type B - General Purpose");
    assert_eq!(
        types[0]["description"],
        "Server CPUs are assigned to a dedicated physical CPU Thread with reserved resources guaranteed."
    );
    assert_eq!(
        types[3]["description"],
        "Server CPUs are assigned to a non-dedicated physical CPU thread with no resources guaranteed."
    );
}

#[tokio::test]
async fn image_ids_have_32_hex_digits_like_the_recorded_ones() {
    let sim = Sim::start().await;
    for dc in ["IL", "IL-PT", "EU", "US-NY2"] {
        let (status, body) = sim
            .get(&format!("/service/server?images=1&datacenter={dc}"))
            .await;
        assert_eq!(status, 200);
        for image in body.as_array().unwrap() {
            let id = image["id"].as_str().unwrap();
            let (prefix, hex) = id.split_once(':').unwrap();
            assert_eq!(prefix, dc, "{id}");
            assert!(
                hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()),
                "{id}"
            );
            // Usable as the image of a create in its datacenter.
            let (status, answer) = sim
                .create(json!({"name": "img-check", "datacenter": dc, "image": id}))
                .await;
            assert_eq!(status, 200, "{id}: {answer}");
        }
    }
}

#[tokio::test]
async fn generated_passwords_have_the_proxys_shape() {
    let sim = Sim::start().await;
    for n in 0..20 {
        let (status, body) = sim
            .create(json!({"name": format!("pw-{n}"), "password": "__generate__"}))
            .await;
        assert_eq!(status, 200, "{body}");
        let password: Vec<char> = body["password"].as_str().unwrap().chars().collect();
        assert_eq!(password.len(), 20);
        let groups: [(&[char], &str); 4] = [
            (&password[..7], "abcdefghjklmnopqrstuvwxyz"),
            (&password[7..14], "ABCDEFGHJKLMNOPQRSTUVWXYZ"),
            (&password[14..18], "1234567890"),
            (&password[18..], "!@#$^&*()~"),
        ];
        for (group, set) in groups {
            assert!(group.iter().all(|c| set.contains(*c)), "{password:?}");
            let distinct: BTreeSet<&char> = group.iter().collect();
            assert_eq!(distinct.len(), group.len(), "{password:?}");
        }
    }
}
