use kamatera_api::{
    BillingCycle, ChosenPassword, CommandId, ConfigChange, Error, RamMb, ServerId, ServerName,
    ServerSelector,
};
use serde_json::json;
use wiremock::ResponseTemplate;
use wiremock::matchers::body_json;

use crate::support::{api_post, invalid_path, ok_json, refused_field, setup};

fn ids(ids: &[&str]) -> Vec<CommandId> {
    ids.iter().map(|id| CommandId::new(*id)).collect()
}

fn password() -> ChosenPassword {
    ChosenPassword::new("Abcdefgh12".to_owned().into()).unwrap()
}

#[tokio::test]
async fn should_suspend_and_resume_every_matched_server_once() {
    let (server, client) = setup().await;
    api_post("/service/server/suspend")
        .and(body_json(json!({"name": "web-.*"})))
        .respond_with(ok_json(json!(["11", 12])))
        .expect(1)
        .mount(&server)
        .await;
    api_post("/service/server/resume")
        .and(body_json(json!({"id": "uuid-1"})))
        .respond_with(ok_json(json!(["13"])))
        .expect(1)
        .mount(&server)
        .await;
    let suspended = client
        .suspend(&ServerSelector::name_pattern("web-.*"))
        .await
        .unwrap();
    assert_eq!(suspended, ids(&["11", "12"]));
    let resumed = client
        .resume(&ServerSelector::id(ServerId::new("uuid-1")))
        .await
        .unwrap();
    assert_eq!(resumed, ids(&["13"]));
}

#[tokio::test]
async fn should_reset_the_password_once() {
    let (server, client) = setup().await;
    api_post("/service/server/password")
        .and(body_json(
            json!({"name": r"web\.0001", "password": "Abcdefgh12"}),
        ))
        .respond_with(ok_json(json!(["21"])))
        .expect(1)
        .mount(&server)
        .await;
    let commands = client
        .reset_password(&ServerSelector::name("web.0001"), &password())
        .await
        .unwrap();
    assert_eq!(commands, ids(&["21"]));
}

#[tokio::test]
async fn should_rename_one_server_once() {
    let (server, client) = setup().await;
    api_post("/service/server/rename")
        .and(body_json(
            json!({"name": "web-0001", "new-name": "web-0001-old"}),
        ))
        .respond_with(ok_json(json!([31])))
        .expect(1)
        .mount(&server)
        .await;
    let command = client
        .server(ServerSelector::name("web-0001"))
        .rename(&ServerName::new("web-0001-old").unwrap())
        .await
        .unwrap();
    assert_eq!(command.as_str(), "31");
}

#[tokio::test]
async fn should_send_each_configuration_change_alone() {
    let (server, client) = setup().await;
    let changes = [
        (
            ConfigChange::Cpu("4B".parse().unwrap()),
            json!({"cpu": "4B"}),
        ),
        (
            ConfigChange::Ram(RamMb::new(8192).unwrap()),
            json!({"ram": "8192"}),
        ),
        (
            ConfigChange::DailyBackup(true),
            json!({"dailybackup": "yes"}),
        ),
        (ConfigChange::Managed(false), json!({"managed": "no"})),
        (
            ConfigChange::Billing(BillingCycle::Hourly),
            json!({"billingcycle": "hourly"}),
        ),
        (
            ConfigChange::Billing(BillingCycle::monthly("t5000").unwrap()),
            json!({"billingcycle": "monthly", "monthlypackage": "t5000"}),
        ),
    ];
    for (index, (_, fields)) in changes.iter().enumerate() {
        let mut body = fields.clone();
        body["id"] = json!("uuid-1");
        api_post("/server/configure")
            .and(body_json(body))
            .respond_with(ok_json(json!([format!("{}", 40 + index)])))
            .expect(1)
            .mount(&server)
            .await;
    }
    let handle = client.server(ServerId::new("uuid-1"));
    for (index, (change, _)) in changes.iter().enumerate() {
        let command = handle.configure(change).await.unwrap();
        assert_eq!(command.as_str(), format!("{}", 40 + index), "{change:?}");
    }
}

#[tokio::test]
async fn should_report_api_errors_and_never_resend_a_change() {
    let (server, client) = setup().await;
    api_post("/server/configure")
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"message": "--monthlypackage flag is required, valid values for your server: b50 / t5000"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    api_post("/service/server/suspend")
        .respond_with(ResponseTemplate::new(504).set_body_string("Gateway Timeout"))
        .expect(1)
        .mount(&server)
        .await;
    api_post("/service/server/rename")
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "Too many matching servers (name='web')"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client
        .server(ServerId::new("uuid-1"))
        .configure(&ConfigChange::Managed(true))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(
        err.to_string()
            .contains("--monthlypackage flag is required"),
        "{err}"
    );
    let err = client
        .suspend(&ServerSelector::name("web-0001"))
        .await
        .unwrap_err();
    match &err {
        Error::Api { error, .. } => {
            assert_eq!((error.status, error.message.as_deref()), (504, None));
            assert_eq!(error.body, "Gateway Timeout");
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    let err = client
        .server(ServerSelector::name("web"))
        .rename(&ServerName::new("web-0002").unwrap())
        .await
        .unwrap_err();
    assert!(err.is_too_many_matches(), "{err}");
}

#[tokio::test]
async fn should_reject_malformed_answers_with_their_path() {
    let (server, client) = setup().await;
    for (route, body) in [
        ("/service/server/suspend", json!({"invalid": "response"})),
        ("/service/server/resume", json!([])),
        ("/service/server/password", json!([null])),
        ("/service/server/rename", json!(["1", "2"])),
        ("/server/configure", json!([""])),
    ] {
        api_post(route)
            .respond_with(ok_json(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    let by_id = ServerSelector::id(ServerId::new("uuid-1"));
    assert_eq!(invalid_path(client.suspend(&by_id).await), "$");
    assert_eq!(invalid_path(client.resume(&by_id).await), "$");
    assert_eq!(
        invalid_path(client.reset_password(&by_id, &password()).await),
        "$[0]"
    );
    let handle = client.server(by_id.clone());
    assert_eq!(
        invalid_path(handle.rename(&ServerName::new("web-0002").unwrap()).await),
        "$"
    );
    assert_eq!(
        invalid_path(handle.configure(&ConfigChange::DailyBackup(false)).await),
        "$[0]"
    );
}

#[tokio::test]
async fn should_refuse_bad_input_before_sending() {
    // The catch-all fails the test if anything is sent.
    let (_server, client) = setup().await;
    let pattern = client.server(ServerSelector::name_pattern("web-.*"));
    let name = ServerName::new("web-0002").unwrap();
    assert_eq!(refused_field(pattern.rename(&name).await), "name");
    assert_eq!(
        refused_field(pattern.configure(&ConfigChange::Managed(true)).await),
        "name"
    );
    let one = client.server(ServerSelector::name("web-0001"));
    let dotted = ServerName::new("web.0002").unwrap();
    assert_eq!(refused_field(one.rename(&dotted).await), "new-name");
    let hand_built = ConfigChange::Billing(BillingCycle::Monthly {
        traffic_package: "t 5000".into(),
    });
    assert_eq!(
        refused_field(one.configure(&hand_built).await),
        "monthlypackage"
    );
    assert_eq!(
        refused_field(client.suspend(&ServerSelector::name_pattern("(")).await),
        "name"
    );
    assert_eq!(
        refused_field(client.resume(&ServerSelector::name("")).await),
        "name"
    );
    assert_eq!(
        refused_field(
            client
                .reset_password(&ServerSelector::id(ServerId::new("")), &password())
                .await
        ),
        "id"
    );
    assert_eq!(
        refused_field(ChosenPassword::new("password1".to_owned().into())),
        "password"
    );
    assert_eq!(refused_field(RamMb::new(5000)), "ram");
}
