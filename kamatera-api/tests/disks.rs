use kamatera_api::{DiskIndex, DiskSize, ServerId, ServerSelector};
use serde_json::json;
use wiremock::ResponseTemplate;
use wiremock::matchers::body_json;

use crate::support::{api_error, api_post, invalid_path, ok_json, refused_field, setup};

#[tokio::test]
async fn should_list_disks_with_index_and_size() {
    let (server, client) = setup().await;
    api_post("/server/disk")
        .and(body_json(json!({"id": "s1"})))
        .respond_with(ok_json(
            json!([{"id": 0, "size": "20gb"}, {"id": 1, "size": "100gb"}]),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let disks = client
        .server(ServerId::new("s1"))
        .disks()
        .list()
        .await
        .unwrap();
    let rows: Vec<(u8, u32)> = disks.iter().map(|d| (d.index.get(), d.size_gb)).collect();
    assert_eq!(rows, [(0, 20), (1, 100)]);
    assert!(disks[0].index.is_boot());
}

#[tokio::test]
async fn should_add_remove_and_resize_exactly_once_with_text_values() {
    let (server, client) = setup().await;
    for (fields, answer) in [
        (json!({"name": "web-0001", "add": "100"}), json!(7001)),
        (json!({"name": "web-0001", "remove": "2"}), json!("7002")),
        (
            json!({"name": "web-0001", "resize": "0", "size": "50"}),
            json!(["7003"]),
        ),
    ] {
        api_post("/server/disk")
            .and(body_json(fields))
            .respond_with(ok_json(answer))
            .expect(1)
            .mount(&server)
            .await;
    }
    let disks = client.server(ServerSelector::name("web-0001")).disks();
    let added = disks.add(DiskSize::new(100).unwrap()).await.unwrap();
    let removed = disks.remove(DiskIndex::new(2).unwrap()).await.unwrap();
    let resized = disks
        .resize(DiskIndex::BOOT, DiskSize::new(50).unwrap())
        .await
        .unwrap();
    assert_eq!(
        [added.as_str(), removed.as_str(), resized.as_str()],
        ["7001", "7002", "7003"]
    );
}

#[tokio::test]
async fn should_refuse_bad_input_before_sending() {
    // The catch-all fails the test if anything is sent.
    let (_server, client) = setup().await;
    let disks = client.server(ServerSelector::name("web-0001")).disks();
    assert_eq!(refused_field(disks.remove(DiskIndex::BOOT).await), "remove");
    assert_eq!(refused_field(DiskIndex::new(4)), "index");
    assert_eq!(refused_field(DiskSize::new(0)), "size");
    assert_eq!(
        refused_field(DiskSize::new(70).unwrap().offered_in(&[50, 100])),
        "size"
    );
    let pattern = client
        .server(ServerSelector::name_pattern("web-.*"))
        .disks();
    assert_eq!(refused_field(pattern.list().await), "name");
    assert_eq!(
        refused_field(pattern.add(DiskSize::new(10).unwrap()).await),
        "name"
    );
}

#[tokio::test]
async fn should_report_api_errors_and_never_resend_a_change() {
    let (server, client) = setup().await;
    api_post("/server/disk")
        .and(body_json(json!({"name": "web", "add": "20"})))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "Too many matching servers (name='web')"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    api_post("/server/disk")
        .and(body_json(json!({"name": "web", "remove": "1"})))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .expect(1)
        .mount(&server)
        .await;
    let disks = client.server(ServerSelector::name("web")).disks();
    let err = disks.add(DiskSize::new(20).unwrap()).await.unwrap_err();
    assert!(err.is_too_many_matches(), "{err}");
    let (status, message, body) = api_error(disks.remove(DiskIndex::new(1).unwrap()).await);
    assert_eq!((status, message, body.as_str()), (502, None, "Bad Gateway"));
}

#[tokio::test]
async fn should_retry_a_failed_list_and_report_the_message() {
    let (server, client) = setup().await;
    api_post("/server/disk")
        .and(body_json(json!({"id": "s1"})))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "Failed to run command method (serverDisk)"})),
        )
        .expect(5) // a read is retried up to the policy's 5 attempts
        .mount(&server)
        .await;
    let (status, message, _) = api_error(client.server(ServerId::new("s1")).disks().list().await);
    assert_eq!(
        (status, message.as_deref()),
        (500, Some("Failed to run command method (serverDisk)"))
    );
}

#[tokio::test]
async fn should_reject_malformed_answers_with_their_path() {
    let (server, client) = setup().await;
    api_post("/server/disk")
        .and(body_json(json!({"id": "s1"})))
        .respond_with(ok_json(
            json!([{"id": 0, "size": "20gb"}, {"id": 9, "size": "5gb"}]),
        ))
        .expect(1)
        .mount(&server)
        .await;
    api_post("/server/disk")
        .and(body_json(json!({"id": "s1", "add": "20"})))
        .respond_with(ok_json(json!({"cmdId": "x"})))
        .expect(1)
        .mount(&server)
        .await;
    let disks = client.server(ServerId::new("s1")).disks();
    assert_eq!(invalid_path(disks.list().await), "$[1].id");
    assert_eq!(
        invalid_path(disks.add(DiskSize::new(20).unwrap()).await),
        "$"
    );
}
