use kamatera_sim::SeedServer;
use serde_json::json;

use crate::support::start;

#[tokio::test]
async fn tags_are_listed_added_and_removed() {
    let sim = start().await;
    sim.handle
        .seed_server(SeedServer::new("web-0001").tags(["web"]))
        .unwrap();

    let run = sim
        .run(&["server", "tags", "list", "--name", "web-0001"])
        .await;
    run.success();
    assert_eq!(run.rows(), ["TAG", "web"]);

    let run = sim
        .run(&[
            "server", "tags", "add", "--name", "web-0001", "frontend", "-o", "json",
        ])
        .await;
    run.success();
    assert_eq!(run.json(), json!(["web", "frontend"]));
    assert_eq!(sim.server("web-0001").tags, ["web", "frontend"]);

    let id = sim.id_of("web-0001");
    let run = sim
        .run(&["server", "tags", "remove", "--id", &id, "web"])
        .await;
    run.success();
    assert_eq!(run.rows(), ["TAG", "frontend"]);
    assert_eq!(sim.server("web-0001").tags, ["frontend"]);
}

#[tokio::test]
async fn a_bad_tag_is_refused_before_sending() {
    let sim = start().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    let run = sim
        .run(&["server", "tags", "add", "--name", "web-0001", "no spaces"])
        .await;
    run.failure(2, r#"invalid tag "no spaces""#);
    assert!(sim.calls().is_empty());
}
