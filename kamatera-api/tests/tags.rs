use kamatera_api::{ServerId, ServerSelector, Tag};
use serde_json::json;
use wiremock::ResponseTemplate;
use wiremock::matchers::body_json;

use crate::support::{api_post, ok_json, setup};

#[tokio::test]
async fn should_list_tags_in_both_row_spellings() {
    let (server, client) = setup().await;
    api_post("/server/tags")
        .and(body_json(json!({"id": "s1"})))
        .respond_with(ok_json(json!([
            {"id": "s1", "tagName": "k8sca-c1"},
            {"server id": "s1", "tag name": "k8scang-ng1"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let tags = client
        .server_tags(&ServerSelector::id(ServerId::new("s1")))
        .await
        .unwrap();
    let names: Vec<&str> = tags.iter().map(Tag::as_str).collect();
    assert_eq!(names, vec!["k8sca-c1", "k8scang-ng1"]);
}

#[tokio::test]
async fn should_add_and_remove_a_tag_exactly_once() {
    let (server, client) = setup().await;
    let tag = Tag::new("k8sca-deleting").unwrap();
    api_post("/server/tags")
        .and(body_json(json!({"id": "s1", "add": "k8sca-deleting"})))
        .respond_with(ok_json(json!([{"id": "s1", "tagName": "k8sca-deleting"}])))
        .expect(1)
        .mount(&server)
        .await;
    api_post("/server/tags")
        .and(body_json(json!({"id": "s1", "remove": "k8sca-deleting"})))
        .respond_with(ok_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let selector = ServerSelector::id(ServerId::new("s1"));
    assert_eq!(
        client.add_server_tag(&selector, &tag).await.unwrap(),
        vec![tag.clone()]
    );
    assert!(
        client
            .remove_server_tag(&selector, &tag)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn should_not_retry_a_failed_tag_change() {
    let (server, client) = setup().await;
    api_post("/server/tags")
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "Failed to run command method (serverTags)"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client
        .add_server_tag(&ServerSelector::name("web1"), &Tag::new("abc").unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("serverTags"), "{err}");
}

#[tokio::test]
async fn should_report_too_many_matching_servers() {
    let (server, client) = setup().await;
    api_post("/server/tags")
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "Too many matching servers (name='a|b')"})),
        )
        .expect(1) // deterministic: not retried even though reading tags is idempotent
        .mount(&server)
        .await;
    let err = client
        .server_tags(&ServerSelector::name_pattern("a|b"))
        .await
        .unwrap_err();
    assert!(err.is_too_many_matches(), "{err}");
}
