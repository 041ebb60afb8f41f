use kamatera_api::secrecy::{ExposeSecret, SecretString};
use kamatera_api::{
    BillingCycle, CloneServerRequest, DiskSpec, Error, NetworkSpec, Password, RamMb, ServerId,
    ServerSelector, Tag,
};
use serde_json::json;
use wiremock::ResponseTemplate;
use wiremock::matchers::body_json;

use crate::support::{api_post, invalid_path, ok_json, refused_field, setup};

fn password() -> Password {
    Password::set(SecretString::from("Abcdefgh12")).unwrap()
}

fn request() -> CloneServerRequest {
    CloneServerRequest::builder(ServerId::new("uuid-1"), "web-0002", password())
        .build()
        .unwrap()
}

#[tokio::test]
async fn should_clone_with_the_settings_given_and_nothing_else() {
    let (server, client) = setup().await;
    api_post("/service/cloneServer")
        .and(body_json(json!({
            "source-id": "uuid-1", "name": "web-0002",
            "password": "Abcdefgh12", "passwordValidate": "Abcdefgh12",
            "cpu": "2A", "ram": "4096", "disk": "size=50",
            "network": "name=wan,ip=auto", "billingcycle": "monthly",
            "monthlypackage": "b50", "tag": "web"
        })))
        .respond_with(ok_json(json!(["41"])))
        .expect(1)
        .mount(&server)
        .await;
    let request = CloneServerRequest::builder(ServerId::new("uuid-1"), "web-0002", password())
        .cpu("2A".parse().unwrap())
        .ram_mb(RamMb::new(4096).unwrap())
        .disk(DiskSpec::new(50).unwrap())
        .network(NetworkSpec::wan())
        .billing(BillingCycle::monthly("b50").unwrap())
        .tag(Tag::new("web").unwrap())
        .build()
        .unwrap();
    let created = client.clone_server(&request).await.unwrap();
    assert_eq!(created.command_id.as_str(), "41");
    assert!(created.generated_password.is_none());
}

#[tokio::test]
async fn should_return_a_generated_password_once() {
    let (server, client) = setup().await;
    api_post("/service/cloneServer")
        .and(body_json(json!({
            "source-name": r"web\.0001", "name": "web-0002",
            "password": "__generate__", "passwordValidate": "__generate__",
            "dailybackup": "no", "managed": "yes", "poweronaftercreate": "no"
        })))
        .respond_with(ok_json(
            json!({"commandIds": [42], "password": "abcdefgHIJKLMN1234!@"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let request = CloneServerRequest::builder(
        ServerSelector::name("web.0001"),
        "web-0002",
        Password::Generate,
    )
    .daily_backup(false)
    .managed(true)
    .power_on_after_create(false)
    .build()
    .unwrap();
    let created = client.clone_server(&request).await.unwrap();
    assert_eq!(created.command_id.as_str(), "42");
    let generated = created.generated_password.unwrap();
    assert_eq!(generated.expose_secret(), "abcdefgHIJKLMN1234!@");
}

#[tokio::test]
async fn should_report_api_errors_and_never_resend() {
    let (server, client) = setup().await;
    api_post("/service/cloneServer")
        .and(body_json(json!({
            "source-id": "uuid-1", "name": "web-0002",
            "password": "Abcdefgh12", "passwordValidate": "Abcdefgh12"
        })))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"message": "source-id did not match any servers"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    api_post("/service/cloneServer")
        .and(body_json(json!({
            "source-id": "uuid-9", "name": "web-0002",
            "password": "Abcdefgh12", "passwordValidate": "Abcdefgh12"
        })))
        .respond_with(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client.clone_server(&request()).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(
        err.to_string().contains("did not match any servers"),
        "{err}"
    );
    let other = CloneServerRequest::builder(ServerId::new("uuid-9"), "web-0002", password())
        .build()
        .unwrap();
    match client.clone_server(&other).await.unwrap_err() {
        Error::Api { error, .. } => {
            assert_eq!(
                (error.status, error.body.as_str()),
                (500, "Internal Server Error")
            );
        }
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn should_reject_malformed_answers_with_their_path() {
    for (body, path) in [
        (json!({"commandIds": [], "password": "x"}), "$.commandIds"),
        (json!({"commandIds": ["1"]}), "$"),
        (json!(["1", "2"]), "$"),
        (json!([null]), "$[0]"),
    ] {
        let (server, client) = setup().await;
        api_post("/service/cloneServer")
            .respond_with(ok_json(body.clone()))
            .expect(1)
            .mount(&server)
            .await;
        assert_eq!(
            invalid_path(client.clone_server(&request()).await),
            path,
            "{body}"
        );
    }
}

#[test]
fn should_refuse_bad_requests_before_anything_is_sent() {
    // `clone_server` takes only a built request, so a refused one can never be sent.
    let pattern = CloneServerRequest::builder(
        ServerSelector::name_pattern("web-.*"),
        "web-0002",
        password(),
    );
    assert_eq!(refused_field(pattern.build()), "source-name");
    let bad_name = CloneServerRequest::builder(ServerId::new("uuid-1"), "a b", password());
    assert_eq!(refused_field(bad_name.build()), "name");
    let five_networks =
        CloneServerRequest::builder(ServerId::new("uuid-1"), "web-0002", password())
            .networks((0..5).map(|_| NetworkSpec::wan()));
    assert_eq!(refused_field(five_networks.build()), "network");
}
