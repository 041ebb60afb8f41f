use kamatera_api::{CloneableDiskId, ImageName, ServerId, ServerSelector};
use serde_json::json;
use wiremock::ResponseTemplate;
use wiremock::matchers::body_json;

use crate::support::{api_error, api_post, invalid_path, ok_json, refused_field, setup};

#[tokio::test]
async fn should_list_cloneable_disks() {
    let (server, client) = setup().await;
    api_post("/server/hdlib")
        .and(body_json(json!({"id": "s1"})))
        .respond_with(ok_json(json!([
            {"uuid": "6000C29a", "name": "web-0001 disk 0", "sizeGB": 20, "child": null},
            {"uuid": "6000C29b", "name": "web-0001 disk 1", "sizeGB": "100", "child": null}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let disks = client
        .server(ServerId::new("s1"))
        .disk_library()
        .list()
        .await
        .unwrap();
    let rows: Vec<(&str, Option<&str>, Option<u64>)> = disks
        .iter()
        .map(|d| (d.uuid.as_str(), d.name.as_deref(), d.size_gb))
        .collect();
    assert_eq!(
        rows,
        [
            ("6000C29a", Some("web-0001 disk 0"), Some(20)),
            ("6000C29b", Some("web-0001 disk 1"), Some(100))
        ]
    );
}

#[tokio::test]
async fn should_clone_a_disk_exactly_once() {
    let (server, client) = setup().await;
    api_post("/server/hdlib")
        .and(body_json(
            json!({"name": "web-0001", "clone": "6000C29a", "image-name": "web base"}),
        ))
        .respond_with(ok_json(json!(9101)))
        .expect(1)
        .mount(&server)
        .await;
    let command = client
        .server(ServerSelector::name("web-0001"))
        .disk_library()
        .clone_disk(
            &CloneableDiskId::new("6000C29a").unwrap(),
            &ImageName::new("web base").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(command.as_str(), "9101");
}

#[tokio::test]
async fn should_refuse_bad_input_before_sending() {
    let (_server, client) = setup().await;
    assert_eq!(refused_field(CloneableDiskId::new("6000 C29a")), "clone");
    assert_eq!(refused_field(ImageName::new("")), "image-name");
    assert_eq!(refused_field(ImageName::new("x".repeat(101))), "image-name");
    let library = client
        .server(ServerSelector::name_pattern("web-.*"))
        .disk_library();
    assert_eq!(refused_field(library.list().await), "name");
}

#[tokio::test]
async fn should_report_api_errors_and_never_resend_a_change() {
    let (server, client) = setup().await;
    api_post("/server/hdlib")
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "No servers found (name='gone')"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client
        .server(ServerSelector::name("gone"))
        .disk_library()
        .clone_disk(
            &CloneableDiskId::new("6000C29a").unwrap(),
            &ImageName::new("img").unwrap(),
        )
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let (server, client) = setup().await;
    api_post("/server/hdlib")
        .respond_with(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
        .expect(1)
        .mount(&server)
        .await;
    let (status, message, body) = api_error(
        client
            .server(ServerId::new("s1"))
            .disk_library()
            .clone_disk(
                &CloneableDiskId::new("6000C29a").unwrap(),
                &ImageName::new("img").unwrap(),
            )
            .await,
    );
    assert_eq!(
        (status, message, body.as_str()),
        (503, None, "Service Unavailable")
    );
}

#[tokio::test]
async fn should_reject_malformed_answers_with_their_path() {
    let (server, client) = setup().await;
    api_post("/server/hdlib")
        .and(body_json(json!({"id": "s1"})))
        .respond_with(ok_json(json!([{"uuid": "6000C29a", "sizeGB": "big"}])))
        .expect(1)
        .mount(&server)
        .await;
    let library = client.server(ServerId::new("s1")).disk_library();
    assert_eq!(invalid_path(library.list().await), "$[0].sizeGB");
}
