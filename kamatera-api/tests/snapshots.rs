use kamatera_api::{Error, ServerId, ServerSelector, SnapshotId, SnapshotName};
use serde_json::json;
use wiremock::ResponseTemplate;
use wiremock::matchers::body_json;

use crate::support::{api_post, ok_json, setup};

#[tokio::test]
async fn should_list_snapshots_as_a_tree() {
    let (server, client) = setup().await;
    api_post("/server/snapshot")
        .and(body_json(json!({"id": "s1"})))
        .respond_with(ok_json(json!([
            {"id": 11, "name": "base", "date": "2026-11-01 10:00:00", "depth": 0, "active": false},
            {"id": 12, "name": "after-upgrade", "date": "2026-11-02 10:00:00", "depth": 1, "active": true}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let tree = client
        .server(ServerId::new("s1"))
        .snapshots()
        .list()
        .await
        .unwrap();
    assert_eq!(tree.len(), 2);
    let active = tree.active().unwrap();
    assert_eq!(
        (active.id.as_str(), active.name.as_str()),
        ("12", "after-upgrade")
    );
    assert_eq!(active.parent.as_ref().map(SnapshotId::as_str), Some("11"));
    assert_eq!(active.date.as_deref(), Some("2026-11-02 10:00:00"));
}

#[tokio::test]
async fn should_create_delete_and_revert_exactly_once() {
    let (server, client) = setup().await;
    for (field, value, id) in [
        ("create", "before upgrade", "101"),
        ("delete", "11", "102"),
        ("revert", "12", "103"),
    ] {
        // The proxy may hand the console's id on bare: both shapes must decode.
        let answer = if field == "delete" {
            json!(102)
        } else {
            json!([id])
        };
        api_post("/server/snapshot")
            .and(body_json(json!({"name": "web-0001", field: value})))
            .respond_with(ok_json(answer))
            .expect(1)
            .mount(&server)
            .await;
    }
    let snapshots = client.server(ServerSelector::name("web-0001")).snapshots();
    let created = snapshots
        .create(&SnapshotName::new("before upgrade").unwrap())
        .await
        .unwrap();
    assert_eq!(created.as_str(), "101");
    let deleted = snapshots
        .delete(&SnapshotId::new("11").unwrap())
        .await
        .unwrap();
    assert_eq!(deleted.as_str(), "102");
    let reverted = snapshots
        .revert(&SnapshotId::new("12").unwrap())
        .await
        .unwrap();
    assert_eq!(reverted.as_str(), "103");
}

#[tokio::test]
async fn should_refuse_a_pattern_before_sending() {
    // The catch-all fails the test if anything is sent.
    let (_server, client) = setup().await;
    let err = client
        .server(ServerSelector::name_pattern("web-.*"))
        .snapshots()
        .list()
        .await
        .unwrap_err();
    match err {
        Error::InvalidRequest { field, .. } => assert_eq!(field, "name"),
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

#[tokio::test]
async fn should_report_api_errors_and_never_resend_a_change() {
    let (server, client) = setup().await;
    api_post("/server/snapshot")
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "Too many matching servers (name='web')"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client
        .server(ServerSelector::name("web"))
        .snapshots()
        .create(&SnapshotName::new("x").unwrap())
        .await
        .unwrap_err();
    assert!(err.is_too_many_matches(), "{err}");
}

#[tokio::test]
async fn should_reject_malformed_answers_with_their_path() {
    let (server, client) = setup().await;
    api_post("/server/snapshot")
        .and(body_json(json!({"id": "s1"})))
        .respond_with(ok_json(json!([{"id": 1, "name": "x", "depth": "deep"}])))
        .mount(&server)
        .await;
    api_post("/server/snapshot")
        .and(body_json(json!({"id": "s1", "create": "x"})))
        .respond_with(ok_json(json!({"invalid": "response"})))
        .expect(1)
        .mount(&server)
        .await;
    let snapshots = client.server(ServerId::new("s1")).snapshots();
    match snapshots.list().await {
        Err(Error::InvalidResponse { path, .. }) => assert_eq!(path, "$[0].depth"),
        other => panic!("expected an invalid response, got {other:?}"),
    }
    match snapshots.create(&SnapshotName::new("x").unwrap()).await {
        Err(Error::InvalidResponse { path, .. }) => assert_eq!(path, "$"),
        other => panic!("expected an invalid response, got {other:?}"),
    }
}
